// Order: "Get from civitai…" (issue 17), opened from the model picker: the missing token said up
// front, search (type, base model), what a result or a pasted reference would download, import
// with live progress and a Cancel (the partial file kept for a resume); the new checkpoint or LoRA
// lands in the pickers. Texts from state.js.

import { html, cx } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { civitaiBlocked, importFraction, importLine, importRunning, resolvedLines } from "./state.js";

function FieldError({ app, name }) {
  const error = useStore(app.store, (s) => s.errors[name]);
  return error ? html`<div class="inb-field-error" role="alert">${error.message}</div>` : null;
}

function Search({ app, c }) {
  const a = app.actions;
  const bad = useStore(app.store, (s) => !!(s.errors.civitai_query || s.errors.civitai_type || s.errors.civitai_base));
  const st = c.state || { types: [], base_models: [] };
  return html`<div class=${cx("inb-field inb-civitai-search", bad && "inb-invalid")} data-field="civitai_query">
    <div class="inb-civitai-row">
      <input class="inb-input" aria-label="Search civitai" placeholder="Search civitai: tarot, watercolor, anime…"
        value=${c.query} onInput=${(e) => a.setCivitai("query", e.target.value)}
        onKeyDown=${(e) => { if (e.key === "Enter") { e.preventDefault(); e.stopPropagation(); a.civitaiSearch(); } }} />
      <select class="inb-select" aria-label="civitai type" data-field="civitai_type" value=${c.type}
        onChange=${(e) => a.setCivitai("type", e.target.value)}>
        <option value="">Checkpoints and LoRAs</option>${st.types.map((t) => html`<option key=${t} value=${t}>${t}</option>`)}</select>
      <select class="inb-select" aria-label="Base model" data-field="civitai_base" value=${c.base}
        onChange=${(e) => a.setCivitai("base", e.target.value)}>
        <option value="">Any base model</option>${st.base_models.map((b) => html`<option key=${b} value=${b}>${b}</option>`)}</select>
      <button class="inb-btn" type="button" disabled=${c.searching} onClick=${() => a.civitaiSearch()}>
        ${c.searching ? "Searching…" : "Search"}</button>
    </div>
    <${FieldError} app=${app} name="civitai_query" /><${FieldError} app=${app} name="civitai_type" /><${FieldError} app=${app} name="civitai_base" />
  </div>`;
}

function Results({ app, c }) {
  if (c.results === null) return null;
  if (!c.results.length) return html`<div class="inb-empty inb-civitai-none"><strong>Nothing found</strong>Try other words, or any type and base model.</div>`;
  return html`<div class="inb-civitai-results" role="list" aria-label="civitai results">
    ${c.results.map((r) => html`<button key=${r.air || r.model_id} type="button" role="listitem"
        class=${cx("inb-civitai-result", c.info && c.info.air === r.air && "inb-civitai-picked")}
        disabled=${!r.air} title=${r.url || ""} onClick=${() => app.actions.civitaiResolve(r.air)}>
      <span class="inb-civitai-name">${r.name}</span>
      <span class="inb-chip">${r.type}</span>${r.base_model ? html`<span class="inb-chip">${r.base_model}</span>` : null}
      <span class="inb-faint">${[r.version, r.creator && `by ${r.creator}`, r.size_mb !== null && r.size_mb !== undefined ? `${r.size_mb} MB` : null,
        r.downloads !== null && r.downloads !== undefined ? `${Number(r.downloads).toLocaleString("en-US")} downloads` : null].filter(Boolean).join(" · ")}</span>
    </button>`)}
  </div>`;
}

function Resolved({ app, c }) {
  const a = app.actions;
  const models = useStore(app.store, (s) => s.models || []);
  const blocked = civitaiBlocked(c);
  const info = c.info;
  const running = info && c.imports.some((j) => j.ref === info.ref && (j.state === "starting" || j.state === "downloading"));
  return html`<div class="inb-civitai-ref">
    <div class="inb-field" data-field="civitai_ref">
      <label class="inb-label" for="inb-civitai-ref">Reference</label>
      <div class="inb-civitai-row">
        <input class="inb-input" id="inb-civitai-ref" placeholder="urn:air:sd1:lora:civitai:328553@368189, a civitai URL, or civitai:<version id>"
          spellcheck="false" autocomplete="off" value=${c.ref} onInput=${(e) => a.setCivitai("ref", e.target.value)}
          onKeyDown=${(e) => { if (e.key === "Enter") { e.preventDefault(); e.stopPropagation(); a.civitaiResolve(c.ref); } }} />
        <button class="inb-btn" type="button" disabled=${c.resolving} onClick=${() => a.civitaiResolve(c.ref)}>
          ${c.resolving ? "Checking…" : "Check"}</button>
      </div>
      <${FieldError} app=${app} name="civitai_ref" />
    </div>
    ${info ? html`<dl class="inb-civitai-info">${resolvedLines(info).map(([k, v]) => html`<dt key=${`k-${k}`}>${k}</dt><dd key=${`v-${k}`}>${v}</dd>`)}</dl>
      <div class="inb-order-grid inb-civitai-opts">
        <div class="inb-field" data-field="civitai_name">
          <label class="inb-label" for="inb-civitai-name" title="The name it goes by here: letters, digits and . _ + -">Name here</label>
          <input class="inb-input" id="inb-civitai-name" placeholder=${(info.file_name || "").replace(/\.[^.]+$/, "")}
            value=${c.name} onInput=${(e) => a.setCivitai("name", e.target.value)} />
          <${FieldError} app=${app} name="civitai_name" />
        </div>
        ${info.kind === "lora" ? html`<div class="inb-field" data-field="civitai_for_model">
          <label class="inb-label" for="inb-civitai-for" title="A LoRA of another family is refused before the download">For model</label>
          <select class="inb-select" id="inb-civitai-for" value=${c.forModel} onChange=${(e) => a.setCivitai("forModel", e.target.value)}>
            <option value="">Any (no family check)</option>
            ${models.filter((m) => m.loras).map((m) => html`<option key=${m.id} value=${m.id}>${m.id} (${m.family})</option>`)}</select>
          <${FieldError} app=${app} name="civitai_for_model" />
        </div>` : null}
      </div>` : null}
    <div class="inb-civitai-foot">
      <button class="inb-btn inb-btn-primary inb-civitai-import" type="button" disabled=${!!blocked}
        title=${blocked || "Download it (resumable, SHA-256 checked) into the model or LoRA folder"}
        onClick=${() => a.civitaiImport()}>${running ? "Importing…" : "Import"}</button>
      ${blocked && info && !running ? html`<span class="inb-faint">${blocked}</span>` : null}
    </div>
  </div>`;
}

function Imports({ app, c }) {
  if (!c.imports.length) return null;
  return html`<div class="inb-civitai-imports" role="list" aria-label="Imports">
    ${c.imports.map((j) => {
      const f = importFraction(j);
      const running = importRunning(j);
      return html`<div key=${j.ref} role="listitem" class=${cx("inb-civitai-import-row", `inb-civitai-${j.state}`)} data-ref=${j.ref}>
        <span class=${cx("inb-civitai-import-line", j.state === "failed" && "inb-status-failed")}>${importLine(j)}</span>
        ${j.state !== "failed" && j.state !== "cancelled" ? html`<progress max="1" value=${f === null ? undefined : f} aria-label="Download progress"></progress>` : null}
        ${running ? html`<button class="inb-btn inb-civitai-cancel" type="button" disabled=${!!j.cancelling}
            title="Stop the download; the partial file is kept and importing it again resumes it"
            onClick=${() => app.actions.civitaiCancel(j.ref)}>${j.cancelling ? "Cancelling…" : "Cancel"}</button>` : null}
      </div>`;
    })}
  </div>`;
}

/** The dialog (a modal over the panel); Escape or × closes it, imports go on. */
export function Civitai({ app }) {
  const c = useStore(app.store, (s) => s.civitai);
  if (!c.open) return null;
  const close = () => app.actions.openCivitai(false);
  return html`<div class="inb-modal-backdrop" onClick=${(e) => { if (e.target === e.currentTarget) close(); }}
      onKeyDown=${(e) => { if (e.key === "Escape") { e.stopPropagation(); close(); } }}>
    <div class="inb-modal inb-civitai" role="dialog" aria-label="Get from civitai">
      <div class="inb-modal-head"><strong>Get from civitai</strong>
        <span class="inb-muted">checkpoints and LoRAs, downloaded into this studio's folders</span>
        <button class="inb-btn inb-btn-icon" type="button" title="Close" aria-label="Close" style="margin-left:auto" onClick=${close}>×</button></div>
      <div class="inb-modal-body">
        ${c.state && c.state.key_missing ? html`<div class="inb-order-warn inb-civitai-key" role="note">
          <strong>civitai token needed to download. </strong>${c.state.key_missing} Searching works without one.</div>` : null}
        <${Search} app=${app} c=${c} />
        <${Results} app=${app} c=${c} />
        <${Resolved} app=${app} c=${c} />
        <${Imports} app=${app} c=${c} />
      </div>
    </div>
  </div>`;
}
