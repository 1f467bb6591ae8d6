// Order: the LoRA picker. One row per LoRA (a name from the model's LoRA folder, a weight
// slider, remove) and "+ Add LoRA"; the value sent is JSON [{name, weight}]. "Edit as text"
// shows the text form (paths, "style-a:0.6", smart syntax), which rows cannot always show.

import { html, useState, useEffect, useRef } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { lorasText, parseLoras } from "./state.js";

let rowKey = 0;
const keyed = (list) => list.map((r) => ({ ...r, key: ++rowKey }));

function LoraRow({ row, names, onChange, onRemove }) {
  const options = [...new Set([...names, row.name].filter(Boolean))];
  return html`<div class="inb-order-lora">
    <select class="inb-select" aria-label="LoRA" value=${row.name} onChange=${(e) => onChange({ name: e.target.value })}>
      <option value="">${names.length ? "Choose a LoRA…" : "No LoRAs in the LoRA folder"}</option>
      ${options.map((n) => html`<option key=${n} value=${n}>${n}</option>`)}
    </select>
    <input type="range" min="-2" max="2" step="0.05" value=${String(row.weight)} aria-label="LoRA weight slider"
      onInput=${(e) => onChange({ weight: e.target.value })} />
    <input class="inb-input inb-order-lora-w" type="number" min="-2" max="2" step="0.05" value=${String(row.weight)}
      aria-label="LoRA weight" onInput=${(e) => onChange({ weight: e.target.value })} />
    <button class="inb-btn inb-btn-icon" type="button" title="Remove this LoRA" aria-label="Remove LoRA" onClick=${onRemove}>×</button>
  </div>`;
}

/** The LoRA field: rows, or the text form; its value in the store is always the text sent. */
export function LoraField({ app, f, id, value }) {
  const model = useStore(app.store, (s) => (s.form ? s.form.id : null));
  const version = useStore(app.store, (s) => s.lorasVersion);  // a LoRA came in (civitai): ask again
  const [names, setNames] = useState([]);
  const [rows, setRows] = useState(() => keyed(parseLoras(value) || []));
  const [rowsMode, setRowsMode] = useState(() => parseLoras(value) !== null);
  const emitted = useRef(value);
  // A value from elsewhere (a preset, a re-order): rows when they can show it, else the text form.
  if (value !== emitted.current) {
    emitted.current = value;
    const parsed = parseLoras(value);
    setRows(keyed(parsed || []));
    setRowsMode(parsed !== null);
  }
  useEffect(() => {
    let live = true;
    app.actions.loras(model).then((list) => { if (live) setNames(list); }).catch(() => {});
    return () => { live = false; };
  }, [model, version]);
  const emit = (next) => {
    setRows(next);
    const text = lorasText(next);
    emitted.current = text;
    app.actions.setValue(f.name, text);
  };
  const setMode = (wanted) => {
    if (wanted) {
      const parsed = parseLoras(value);
      if (parsed === null) { app.actions.notice("This value needs the text form (paths or smart syntax)."); return; }
      setRows(keyed(parsed));
    }
    setRowsMode(wanted);
  };
  const onText = (e) => { emitted.current = e.target.value; app.actions.setValue(f.name, e.target.value); };
  return html`<div class="inb-order-lorabox">
    <div class="inb-order-loras" hidden=${!rowsMode}>
      ${rows.map((r) => html`<${LoraRow} key=${r.key} row=${r} names=${names}
        onChange=${(patch) => emit(rows.map((x) => (x.key === r.key ? { ...x, ...patch } : x)))}
        onRemove=${() => emit(rows.filter((x) => x.key !== r.key))} />`)}
    </div>
    <div class="inb-order-lora-tools">
      ${rowsMode ? html`<button class="inb-btn inb-btn-sm" type="button"
        onClick=${() => setRows([...rows, ...keyed([{ name: "", weight: 1 }])])}>+ Add LoRA</button>` : null}
      <button class="inb-btn inb-btn-link inb-btn-sm" type="button" onClick=${() => setMode(!rowsMode)}>
        ${rowsMode ? "Edit as text" : "Use the picker"}</button>
    </div>
    <input id=${id} hidden=${rowsMode} placeholder=${f.default || "JSON, or the provider's text form"}
      spellcheck="false" autocomplete="off" value=${value} onInput=${onText}
      class="inb-input"
      onFocus=${(e) => { app.lastText = { el: e.target, name: f.name }; }} />
  </div>`;
}
