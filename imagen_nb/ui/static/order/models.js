// Order: the head's model picker (provider → type → searchable model list) and the model card.

import { html, cx, useEffect, useRef } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { CAPABILITIES, capabilityChips, filterModels } from "./state.js";

function Options({ values, all }) {
  return html`<option value="">${all}</option>${values.map((v) => html`<option key=${v} value=${v}>${v}</option>`)}`;
}

/** The model list under the search box: grouped by provider, the active option kept in view. */
function ModelList({ app }) {
  const open = useStore(app.store, (st) => st.listOpen);
  return open ? html`<${ModelOptions} app=${app} />` : null;
}

function ModelOptions({ app }) {
  // Only what the list shows: a live update of the session strip does not redraw it.
  const models = useStore(app.store, (st) => st.models);
  const query = useStore(app.store, (st) => st.query);
  const provider = useStore(app.store, (st) => st.provider);
  const type = useStore(app.store, (st) => st.type);
  const capability = useStore(app.store, (st) => st.capability);
  const form = useStore(app.store, (st) => st.form);
  const active = useStore(app.store, (st) => st.active);
  const s = { models, query, provider, type, capability, form, active, listOpen: true };
  const listRef = useRef(null);
  const shown = filterModels(s);
  useEffect(() => {
    const el = listRef.current && listRef.current.querySelector("[aria-selected=true]");
    if (el && el.scrollIntoView) el.scrollIntoView({ block: "nearest" });
  }, [s.active]);
  const rows = [];
  let group = null;
  shown.forEach((m, i) => {
    if (m.provider !== group && !s.provider) {
      group = m.provider;
      rows.push(html`<div key=${`g-${group}`} class="inb-order-model-group">${group}</div>`);
    }
    rows.push(html`<div key=${m.id} class="inb-order-model-opt" role="option" id=${`inb-order-opt-${i}`}
      aria-selected=${String(i === s.active)}
      onMouseDown=${(e) => { e.preventDefault(); app.actions.pickModel(m.id); }}
      onMouseMove=${() => { if (s.active !== i) app.actions.setActive(i); }}>
      <div class="inb-order-model-line">
        <span class="inb-order-model-name">${m.id.slice(m.provider.length + 1)}</span>
        <span class="inb-chip">${m.type}</span><span class="inb-chip">${m.family}</span>
        ${m.key_missing ? html`<span class="inb-chip inb-order-chip-warn" title=${`No API key for ${m.provider} yet`}>needs key</span>` : null}
      </div>
      <div class="inb-order-model-desc">${m.description}</div>
      ${capabilityChips(m).length ? html`<div class="inb-order-model-caps">${capabilityChips(m).join(" · ")}</div>` : null}
    </div>`);
  });
  if (!s.models) rows.push(html`<div key="loading" class="inb-order-model-none inb-order-model-loading">Loading models…</div>`);
  else if (!shown.length) rows.push(html`<div key="none" class="inb-order-model-none">No model matches. Clear the filters or the search.</div>`);
  // Not in the list yet? Bring a checkpoint or LoRA in from civitai.
  if (s.models) {
    rows.push(html`<div key="civitai" class="inb-order-model-opt inb-order-model-civitai" role="option" aria-selected="false"
      onMouseDown=${(e) => { e.preventDefault(); app.actions.openCivitai(true); }}>Get from civitai…</div>`);
  }
  return html`<div class="inb-order-model-list" role="listbox" ref=${listRef}>${rows}</div>`;
}

/** Provider and type filters and the model search (a combobox: ArrowUp/Down, Enter, Escape). */
export function ModelPicker({ app }) {
  const { actions } = app;
  const providers = useStore(app.store, (s) => s.providers);
  const types = useStore(app.store, (s) => s.types);
  const provider = useStore(app.store, (s) => s.provider);
  const type = useStore(app.store, (s) => s.type);
  const capability = useStore(app.store, (s) => s.capability);
  const query = useStore(app.store, (s) => s.query);
  const formId = useStore(app.store, (s) => (s.form ? s.form.id : ""));
  const open = useStore(app.store, (s) => s.listOpen);
  const active = useStore(app.store, (s) => s.active);
  const input = useRef(null);
  const onKeyDown = (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); actions.move(e.key === "ArrowDown" ? 1 : -1); }
    else if (e.key === "Enter" && !(e.ctrlKey || e.metaKey)) { e.preventDefault(); actions.enter(); }
    else if (e.key === "Escape") { e.preventDefault(); actions.closeList(); requestAnimationFrame(() => input.current && input.current.select()); }
  };
  const onFilter = (kind) => (e) => {
    actions.filter(kind, e.target.value);
    if (input.current) input.current.focus();
  };
  return html`
    <select class="inb-select inb-order-filter" title="Provider" aria-label="Provider" value=${provider} onChange=${onFilter("provider")}>
      <${Options} values=${providers} all="All providers" /></select>
    <select class="inb-select inb-order-filter" title="Model type" aria-label="Model type" value=${type} onChange=${onFilter("type")}>
      <${Options} values=${types} all="All types" /></select>
    <select class="inb-select inb-order-filter" title="Capability" aria-label="Capability" value=${capability} onChange=${onFilter("capability")}>
      ${Object.entries(CAPABILITIES).map(([k, c]) => html`<option key=${k} value=${k}>${c ? c.label : "Any capability"}</option>`)}</select>
    <div class="inb-order-model" data-field="model">
      <input ref=${input} class="inb-input inb-order-model-input" role="combobox" aria-expanded=${String(open)}
        aria-autocomplete="list" aria-label="Model" placeholder="Search models…" spellcheck="false" autocomplete="off"
        aria-activedescendant=${open ? `inb-order-opt-${active}` : undefined}
        value=${query ?? formId}
        onFocus=${(e) => { e.target.select(); actions.openList(); }}
        onInput=${(e) => actions.search(e.target.value)}
        onBlur=${() => actions.closeList()}
        onKeyDown=${onKeyDown} />
      <${ModelList} app=${app} />
    </div>`;
}

/** The chosen model: id, type, family, description, and the key it still needs. */
export function ModelCard({ app }) {
  const form = useStore(app.store, (s) => s.form);
  const error = useStore(app.store, (s) => s.errors.model);
  const loaded = useStore(app.store, (s) => s.loaded);
  const loadError = useStore(app.store, (s) => s.loadError);
  const row = useStore(app.store, (s) => (s.form && s.models ? s.models.find((m) => m.id === s.form.id) : null));
  let body;
  if (loadError) body = html`<div class="inb-order-warn">The Order panel could not start: ${loadError}</div>`;
  else if (!loaded) body = html`<div class="inb-faint">Loading models…</div>`;
  else if (!form) body = html`<div class="inb-empty"><strong>No models</strong>No provider offers a model here. See \`imagen-nb models\`.</div>`;
  else {
    body = html`
      <div class="inb-order-model-title"><strong>${form.id}</strong>
        <span class="inb-chip inb-chip-accent">${form.type}</span><span class="inb-chip">${form.family}</span></div>
      <div class="inb-muted inb-order-model-about">${form.description || (row && row.description) || ""}</div>
      ${form.key_missing ? html`<div class="inb-order-warn"><strong>API key needed. </strong>${form.key_missing}</div>` : null}`;
  }
  return html`<div class=${cx("inb-order-modelcard", error && "inb-invalid")} data-field="model">
    ${body}
    ${error && !error.keyMissing ? html`<div class="inb-field-error" role="alert">${error.message}</div>` : null}
  </div>`;
}
