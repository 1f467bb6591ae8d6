// Gallery: work started on products: Upscale (one product in the details view, or a selection)
// and Train LoRA… (a selection), as a form and a dialog. Errors show at the field they name.

/**
 * @typedef {import("./toolbar.js").App} App
 */

import { html, useEffect, useRef, useState } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { scaleChoices, upscalerLabel, trainPreviewText, suggestLoraName } from "./state.js";
import { Field } from "./toolbar.js";

/** The upscale model and scale, and the button that orders it (`ids`: one product or several). */
export function UpscaleForm({ app, ids, onDone }) {
  const { store, actions } = app;
  const menu = useStore(store, (s) => s.upscalers);
  const [model, setModel] = useState(null);
  const [scale, setScale] = useState(null);
  const [busy, setBusy] = useState(false);
  const first = useRef(null);
  useEffect(() => { actions.loadUpscalers(); }, []);
  useEffect(() => { if (menu && model === null && menu.chosen) setModel(menu.chosen); }, [menu]);
  useEffect(() => { if (first.current) first.current.focus(); }, [!!menu]);
  if (!menu) return html`<div class="inb-gallery-upscale inb-faint">Loading the upscalers…</div>`;
  if (menu.error) return html`<div class="inb-gallery-upscale"><div class="inb-field-error" role="alert">${menu.error}</div></div>`;
  if (!menu.models.length) {
    return html`<div class="inb-gallery-upscale"><div class="inb-field-error" role="alert">No upscale models here: put a Real-ESRGAN
      .pth or .safetensors file in the diffusers model folder, or set a fal or Replicate key (studio.upscalers() lists them).</div></div>`;
  }
  const m = menu.models.find((x) => x.id === model) || null;
  const { choices, value } = scaleChoices(m, scale);
  const go = async () => {
    setBusy(true);
    const result = await actions.upscale(ids, model, value);
    setBusy(false);
    if (result && onDone) onDone(result);
  };
  return html`<${Field} app=${app} name="upscale" cls="inb-gallery-upscale">
    <div class="inb-gallery-vary-row">
      <${Field} app=${app} name="upscale_model" cls="inb-gallery-grow"><label class="inb-label">Upscaler</label>
        <select ref=${first} class="inb-select" aria-label="Upscale model" value=${model || ""}
          onChange=${(e) => { setModel(e.currentTarget.value); setScale(null); }}>
          ${menu.models.map((x) => html`<option key=${x.id} value=${x.id}>${upscalerLabel(x)}</option>`)}</select>
        ${m ? html`<div class="inb-help">${m.description}</div>` : null}</${Field}>
      <${Field} app=${app} name="upscale_scale"><label class="inb-label">Scale</label>
        <select class="inb-select" aria-label="Scale" value=${String(value)} onChange=${(e) => setScale(Number(e.currentTarget.value))}>
          ${choices.map((v) => html`<option key=${v} value=${String(v)}>×${v}</option>`)}</select></${Field}>
    </div>
    <button class="inb-btn inb-btn-primary" disabled=${busy || !model} onClick=${go}>
      ${ids.length === 1 ? "Upscale" : `Upscale ${ids.length} products`}</button></${Field}>`;
}

function UpscaleDialog({ app, dialog }) {
  return html`<div class="inb-modal-body"><div class="inb-help">One order, one generation per product; each upscaled copy is a new product.</div>
    <${UpscaleForm} app=${app} ids=${dialog.ids} onDone=${() => app.actions.closeDialog()} /></div>`;
}

// The Train LoRA dialog: name, base model, steps, rank, captions (prompt or another gallery column);
// "Check" runs every check of studio.train_lora without starting and shows the captions it would learn.
function TrainDialog({ app, dialog }) {
  const { store, actions } = app;
  const [options, setOptions] = useState(null);
  const [form, setForm] = useState(() => ({ name: suggestLoraName(dialog.ids.map((id) => store.get().items[id])), base: "",
    steps: "", rank: "", captions: "prompt" }));
  const [check, setCheck] = useState(null);
  const [busy, setBusy] = useState("");
  const first = useRef(null);
  useEffect(() => {
    let live = true;
    actions.trainOptions(dialog.ids).then((o) => {
      if (!live || !o) return;
      setOptions(o);
      setForm((f) => ({ ...f, base: f.base || o.base || "", steps: f.steps || String(o.defaults.steps), rank: f.rank || String(o.defaults.rank) }));
    });
    if (first.current) first.current.focus();
    return () => { live = false; };
  }, []);
  const edit = (key) => (e) => { const v = e.currentTarget.value; setForm((f) => ({ ...f, [key]: v })); setCheck(null); };
  const args = () => ({ ids: dialog.ids, name: form.name.trim(), base: form.base, steps: Number(form.steps), rank: Number(form.rank),
    captions: form.captions.trim() });
  const whole = (v) => (/^\d+$/.test(String(v).trim()) ? Number(v) : v);
  const send = async (what) => {
    setBusy(what);
    const a = { ...args(), steps: whole(form.steps), rank: whole(form.rank) };
    if (what === "check") setCheck(await actions.trainCheck(a));
    else await actions.train(a);
    setBusy("");
  };
  const columnsId = "inb-gallery-train-columns";
  return html`<div class="inb-modal-body inb-gallery-train">
    <${Field} app=${app} name="train_products"><div class="inb-help">${dialog.ids.length} selected product${dialog.ids.length === 1 ? "" : "s"} to learn from.
      The run trains in the background and shows live in the Production panel.</div></${Field}>
    <div class="inb-gallery-train-grid">
      <${Field} app=${app} name="train_name"><label class="inb-label">Name</label>
        <input ref=${first} class="inb-input" aria-label="LoRA name" value=${form.name} onInput=${edit("name")} />
        <div class="inb-help">Order with it as loras="${form.name || "name"}:0.8".</div></${Field}>
      <${Field} app=${app} name="train_base"><label class="inb-label">Base model</label>
        <select class="inb-select" aria-label="Base model" value=${form.base} onChange=${edit("base")}>
          ${((options && options.bases) || []).map((b) => html`<option key=${b.id} value=${b.id} title=${b.description}>${b.id}</option>`)}
          ${form.base && options && !options.bases.some((b) => b.id === form.base) ? html`<option value=${form.base}>${form.base}</option>` : null}</select></${Field}>
      <${Field} app=${app} name="train_steps"><label class="inb-label">Steps</label>
        <input class="inb-input" type="number" min="1" step="1" aria-label="Steps" value=${form.steps} onInput=${edit("steps")} /></${Field}>
      <${Field} app=${app} name="train_rank"><label class="inb-label">Rank</label>
        <input class="inb-input" type="number" min="1" step="1" aria-label="Rank" value=${form.rank} onInput=${edit("rank")} /></${Field}>
      <${Field} app=${app} name="train_captions"><label class="inb-label">Captions from</label>
        <input class="inb-input" aria-label="Captions from" list=${columnsId} value=${form.captions} onInput=${edit("captions")} />
        <datalist id=${columnsId}>${((options && options.columns) || []).map((c) => html`<option key=${c} value=${c}></option>`)}</datalist>
        <div class="inb-help">"prompt" (each product's own), or another gallery column.</div></${Field}>
    </div>
    ${check ? html`<div class="inb-gallery-train-preview" aria-label="Captions preview">
      <div class="inb-label">${trainPreviewText(check, form.captions)}</div>
      <table class="inb-kv"><tbody>${check.dataset.map((r) => html`<tr key=${r.product_id}>
        <th class="inb-mono" title=${r.product_id}>…${r.product_id.slice(-6)}${r.width && r.height ? html`<div class="inb-faint">${r.width}×${r.height}</div>` : null}</th>
        <td>${r.caption}</td></tr>`)}</tbody></table></div>` : null}
    <${Field} app=${app} name="train"><div class="inb-gallery-actions">
      <button class="inb-btn" disabled=${!!busy || !options} onClick=${() => send("check")}>${busy === "check" ? "Checking…" : "Check captions"}</button>
      <button class="inb-btn inb-btn-primary" disabled=${!!busy || !options} onClick=${() => send("train")}>${busy === "train" ? "Starting…" : "Start training"}</button>
    </div></${Field}>
  </div>`;
}

const TITLE = { upscale: (n) => `Upscale ${n} product${n === 1 ? "" : "s"}`, train: (n) => `Train a LoRA on ${n} product${n === 1 ? "" : "s"}` };

/** The dialog the store's `dialog` names (Upscale or Train LoRA), over the grid. */
export function JobDialog({ app }) {
  const dialog = useStore(app.store, (s) => s.dialog);
  const box = useRef(null);
  useEffect(() => { if (dialog && box.current && !box.current.contains(box.current.getRootNode().activeElement)) box.current.focus(); }, [dialog && dialog.kind]);
  if (!dialog) return null;
  const close = () => app.actions.closeDialog();
  return html`<div class="inb-modal-backdrop inb-gallery-backdrop" onPointerDown=${(e) => { if (e.target === e.currentTarget) close(); }}>
    <div ref=${box} class="inb-modal inb-gallery-job" role="dialog" aria-modal="true" aria-label=${dialog.kind === "train" ? "Train LoRA" : "Upscale"} tabindex="-1"
      onKeyDown=${(e) => { if (e.key === "Escape") { e.stopPropagation(); close(); } }}>
      <div class="inb-modal-head"><strong>${TITLE[dialog.kind](dialog.ids.length)}</strong><span class="inb-gallery-grow"></span>
        <button class="inb-btn inb-btn-icon" title="Close (Esc)" aria-label="Close" onClick=${close}>×</button></div>
      ${dialog.kind === "train" ? html`<${TrainDialog} app=${app} dialog=${dialog} />` : html`<${UpscaleDialog} app=${app} dialog=${dialog} />`}
    </div></div>`;
}
