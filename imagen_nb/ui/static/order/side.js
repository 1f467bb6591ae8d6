// Order: the side cards, presets (saved forms) and smart tokens (named lists for [name]).

import { html, cx, useState, useEffect, useRef } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { short } from "./state.js";

const summary = (params) => Object.entries(params || {}).map(([k, v]) => `${k} ${short(v, 24)}`).join(" · ");

export function Presets({ app }) {
  const presets = useStore(app.store, (s) => s.presets);
  const formId = useStore(app.store, (s) => (s.form ? s.form.id : null));
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const save = async () => {
    setError(null);
    const message = await app.actions.savePreset(name);
    if (message) setError(message);
    else setName("");
  };
  return html`<details class="inb-order-card" open>
    <summary class="inb-order-card-head"><span>Presets</span><span class="inb-chip">${presets.length}</span></summary>
    <div class="inb-order-list">
      ${presets.length ? presets.map((p) => html`<div key=${p.name} class="inb-order-item">
          <button class="inb-order-item-main" type="button" title=${`Apply ${p.name}\n${summary(p.params)}`}
            onClick=${() => app.actions.applyPreset(p.name)}>
            <span class="inb-order-item-name">${p.name}
              ${p.model ? html`<span class=${cx("inb-chip", p.model === formId && "inb-chip-accent")}>${p.model}</span>` : null}</span>
            <span class="inb-order-item-sub">${summary(p.params)}</span></button>
          <button class="inb-btn inb-btn-icon" type="button" title=${`Delete ${p.name}`} aria-label=${`Delete preset ${p.name}`}
            onClick=${() => app.actions.deletePreset(p)}>×</button></div>`)
        : html`<div class="inb-faint inb-order-list-empty">No presets yet: fill in the form, name it below and save. Apply it to any later order.</div>`}
    </div>
    <div class=${cx("inb-order-inline", error && "inb-invalid")} data-field="preset_name">
      <div class="inb-order-row">
        <input class="inb-input" placeholder="Name, e.g. small squares" aria-label="Preset name" value=${name}
          onInput=${(e) => { setName(e.target.value); setError(null); }}
          onKeyDown=${(e) => { if (e.key === "Enter") { e.preventDefault(); save(); } }} />
        <button class="inb-btn inb-btn-sm" type="button" onClick=${save}>Save form</button></div>
      ${error ? html`<div class="inb-field-error" role="alert">${error}</div>` : null}
    </div>
  </details>`;
}

function TokenEditor({ app, t }) {
  const [name, setName] = useState(t.name);
  const [values, setValues] = useState(t.values.join("\n"));
  const [error, setError] = useState(null);
  const first = useRef(null);
  useEffect(() => { if (first.current) first.current.focus(); }, []);
  const save = async () => {
    setError(null);
    const err = await app.actions.saveToken(name, values, t.name);
    if (err) setError(err);
  };
  const keys = (e) => {
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); app.actions.editToken(null); }
    else if (e.key === "Enter" && (e.ctrlKey || e.metaKey || e.target.tagName === "INPUT")) { e.preventDefault(); e.stopPropagation(); save(); }
  };
  const at = (field) => error && error.field === field;
  return html`<div class="inb-order-token-edit">
    <div class=${cx("inb-order-inline", at("token_name") && "inb-invalid")} data-field="token_name">
      <input class="inb-input inb-mono" ref=${first} placeholder="name" aria-label="Token name" spellcheck="false"
        value=${name} onInput=${(e) => setName(e.target.value)} onKeyDown=${keys} />
      ${at("token_name") ? html`<div class="inb-field-error" role="alert">${error.message}</div>` : null}</div>
    <div class=${cx("inb-order-inline", at("token_values") && "inb-invalid")} data-field="token_values">
      <textarea class="inb-textarea" rows=${Math.min(6, Math.max(3, t.values.length + 1))} placeholder="one value per line"
        aria-label="Token values" value=${values} onInput=${(e) => setValues(e.target.value)} onKeyDown=${keys} />
      ${at("token_values") ? html`<div class="inb-field-error" role="alert">${error.message}</div>` : null}</div>
    <div class="inb-order-row">
      <button class="inb-btn inb-btn-sm inb-btn-primary" type="button" onClick=${save}>Save</button>
      <button class="inb-btn inb-btn-sm" type="button" onClick=${() => app.actions.editToken(null)}>Cancel</button>
      ${t.name ? html`<button class="inb-btn inb-btn-sm inb-btn-danger" type="button" onClick=${() => app.actions.deleteToken(t)}>Delete</button>` : null}
    </div></div>`;
}

/** Put "[name]" at the caret of the last text field used (the prompt by default). */
function insertToken(app, name) {
  const last = app.lastText && app.lastText.el.isConnected ? app.lastText : null;
  const target = last || { el: app.el.querySelector("[data-field=prompt] textarea"), name: "prompt" };
  if (!target.el) return;
  const el = target.el;
  const text = `[${name}]`;
  const start = el.selectionStart ?? el.value.length;
  const end = el.selectionEnd ?? el.value.length;
  const before = el.value.slice(0, start);
  const pad = before && !/\s$/.test(before) ? " " : "";
  app.actions.setValue(target.name, before + pad + text + el.value.slice(end));
  const caret = start + pad.length + text.length;
  requestAnimationFrame(() => { el.focus(); el.setSelectionRange(caret, caret); });
}

export function Tokens({ app }) {
  const tokens = useStore(app.store, (s) => s.tokens);
  const editing = useStore(app.store, (s) => s.editingToken);
  const [open, setOpen] = useState(true);
  const rows = tokens.map((t) => (editing === t.name ? html`<${TokenEditor} key=${`edit-${t.name}`} app=${app} t=${t} />`
    : html`<div key=${t.name} class="inb-order-item">
        <button class="inb-order-item-main" type="button" title=${`Edit [${t.name}]`} onClick=${() => app.actions.editToken(t.name)}>
          <span class="inb-order-item-name inb-mono">[${t.name}]</span>
          <span class="inb-order-item-sub">${t.values.length} · ${t.values.join(" · ")}</span></button>
        <button class="inb-btn inb-btn-icon" type="button" title=${`Insert [${t.name}] into the prompt`} aria-label=${`Insert ${t.name}`}
          onMouseDown=${(e) => e.preventDefault()} onClick=${() => insertToken(app, t.name)}>↳</button></div>`));
  if (editing === "") rows.push(html`<${TokenEditor} key="new" app=${app} t=${{ name: "", values: [] }} />`);
  return html`<details class="inb-order-card" open=${open} onToggle=${(e) => setOpen(e.target.open)}>
    <summary class="inb-order-card-head"><span>Smart tokens</span><span class="inb-chip">${tokens.length}</span></summary>
    <div class="inb-order-list">${rows.length ? rows : html`<div class="inb-faint inb-order-list-empty">No tokens yet. A token is a named
      list, e.g. animal → cat, dog, fox; write [animal] in a prompt for one generation per value.</div>`}</div>
    <div class="inb-order-row inb-order-card-foot">
      <span class="inb-faint">Use as <code>[name]</code> (each value) or <code>[?name]</code> (one at random).</span>
      <button class="inb-btn inb-btn-sm" type="button" onClick=${() => { setOpen(true); app.actions.editToken(""); }}>+ Token</button>
    </div>
  </details>`;
}
