// Gallery: the sticky header: title and count, search, grouping, import, the selection bar in
// the toolbar's place while products are selected, the filter menus, and the status line.

/**
 * @typedef {import("./state.js").State} State
 * @typedef {{ store: import("../lib/store.js").Store<State>, actions: object,
 *             nav: { go(tab: string, payload: object): void } | null }} App
 */

import { html, cx, useEffect, useRef, useState } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { countText, statusText, filtering, GROUP_LABEL, KIND_LABEL, NONE, SCORE_LABEL, SORT_LABEL } from "./state.js";
import { ImportButtons } from "./importer.js";

/** A control with the error the controller gave for it (shown under it until the next try). */
export function Field({ app, name, cls, children }) {
  const error = useStore(app.store, (s) => s.fieldErrors[name]);
  return html`<div class=${cx("inb-gallery-field", cls, error && "inb-invalid")} data-field=${name}>
    ${children}${error ? html`<div class="inb-field-error" role="alert">${error}</div>` : null}</div>`;
}

function Select({ app, name, label, value, entries, onChange }) {
  // A value the menu does not list (an id from navigation) still shows, as itself.
  const listed = entries.some(([v]) => v === value);
  return html`<${Field} app=${app} name=${name}>
    <select class=${cx("inb-select", value && "inb-gallery-active")} aria-label=${label} value=${value}
      onChange=${(e) => onChange(e.currentTarget.value)}>
      ${entries.map(([v, l]) => html`<option key=${v} value=${v}>${l}</option>`)}
      ${value && !listed ? html`<option value=${value}>${`${label} …${value.slice(-6)}`}</option>` : null}
    </select></${Field}>`;
}

// What the person types is theirs: a refresh never overwrites it, and it applies 250 ms after
// the last key (Enter at once; Escape clears it).
function Search({ app }) {
  const { store, actions } = app;
  const applied = useStore(store, (s) => s.filters.text);
  const [text, setText] = useState(applied);
  const pending = useRef(null);
  const input = useRef(null);
  useEffect(() => { if (!pending.current) setText(applied); }, [applied]);
  useEffect(() => { app.dom.search = input.current; return () => clearTimeout(pending.current); }, []);
  const apply = (value) => { clearTimeout(pending.current); pending.current = null; actions.setFilter("text", value); };
  return html`<${Field} app=${app} name="text" cls="inb-gallery-search-field">
    <input ref=${input} class="inb-input inb-gallery-search" type="search" placeholder="Search prompts…  ( / )"
      aria-label="Search prompts" spellcheck="false" value=${text}
      onInput=${(e) => { const v = e.currentTarget.value; setText(v); clearTimeout(pending.current); pending.current = setTimeout(() => apply(v), 250); }}
      onKeyDown=${(e) => {
        if (e.key === "Enter") apply(e.currentTarget.value);
        if (e.key === "Escape" && e.currentTarget.value) { e.stopPropagation(); setText(""); apply(""); }
      }} /></${Field}>`;
}

function Toolbar({ app }) {
  const { store, actions } = app;
  const count = useStore(store, countText);
  const groupBy = useStore(store, (s) => s.groupBy);
  const sort = useStore(store, (s) => s.sort);
  const orderId = useStore(store, (s) => s.filters.order_id);
  const inGrid = useStore(store, (s) => !!s.compare);
  return html`<div class="inb-gallery-row inb-gallery-toolbar">
    <div class="inb-panel-title">Gallery <span class="inb-chip inb-gallery-count">${count}</span></div>
    <${Search} app=${app} />
    <${Select} app=${app} name="group" label="Group by" value=${groupBy}
      entries=${Object.entries(GROUP_LABEL).map(([v, l]) => [v, v ? `Group: ${l}` : l])} onChange=${(v) => actions.setGroup(v)} />
    <${Select} app=${app} name="sort" label="Sort" value=${sort}
      entries=${Object.entries(SORT_LABEL)} onChange=${(v) => actions.setSort(v)} />
    ${orderId && !inGrid ? html`<button class="inb-btn inb-gallery-gridbtn" title="Lay this order's products out on the parameters that vary in it"
      onClick=${() => actions.openGrid({ order_id: orderId })}>▦ Grid view</button>` : null}
    <${ImportButtons} app=${app} />
  </div>`;
}

function Stars({ onRate, label, sm }) {
  return html`<div class=${cx("inb-gallery-rate", sm && "inb-gallery-rate-sm")} role="group" aria-label=${label}>
    ${[1, 2, 3, 4, 5].map((n) => html`<button key=${n} class="inb-gallery-star" title=${`Rate ${n}`} aria-label=${`Rate ${n}`}
      onClick=${() => onRate(n)}>★</button>`)}
    <button class="inb-btn inb-btn-link inb-btn-sm" title="Clear rating" onClick=${() => onRate(null)}>clear</button></div>`;
}

function SelectionBar({ app }) {
  const { store, actions } = app;
  const n = useStore(store, (s) => s.selection.size);
  const onPage = useStore(store, (s) => s.sections.reduce((a, sec) => a + sec.ids.length, 0));
  const inGrid = useStore(store, (s) => !!s.compare);
  const menu = useRef(null);
  const ids = () => [...store.get().selection];
  return html`<div class="inb-gallery-row inb-gallery-selbar" role="toolbar" aria-label="Selected products">
    <strong>${n} selected</strong>
    <button class="inb-btn inb-btn-sm" disabled=${n >= onPage} onClick=${() => actions.selectAllOnPage()}>Select all on page (${onPage})</button>
    <span class="inb-gallery-sep"></span>
    <button ref=${menu} class="inb-btn inb-btn-sm inb-gallery-menubtn" onClick=${(e) => {
      if (actions.closeMenu()) return;
      const box = e.currentTarget.getBoundingClientRect();
      const host = app.dom.panel.getBoundingClientRect();
      actions.openMenu({ left: Math.max(8, box.left - host.left), top: box.bottom - host.top + 4 });
    }}>Add to collection ▾</button>
    <span class="inb-faint">Rate</span>
    <${Stars} sm label="Rate selected" onRate=${(r) => actions.rate(ids(), r)} />
    ${n >= 2 && !inGrid ? html`<button class="inb-btn inb-btn-sm" title="Lay the selected products out on what varies among them"
      onClick=${() => actions.openGrid({ ids: ids() })}>▦ Compare as grid</button>` : null}
    <button class="inb-btn inb-btn-sm" title="Order upscaled copies of the selected images" onClick=${() => actions.openDialog("upscale", ids())}>⤢ Upscale…</button>
    <button class="inb-btn inb-btn-sm" title="Train a LoRA on the selected images" onClick=${() => actions.openDialog("train", ids())}>Train LoRA…</button>
    <button class="inb-btn inb-btn-sm inb-btn-danger" onClick=${() => actions.remove(ids())}>Delete</button>
    <span class="inb-gallery-grow"></span>
    <button class="inb-btn inb-btn-icon" title="Clear selection (Esc)" aria-label="Clear selection" onClick=${() => actions.clearSelection()}>×</button>
  </div>`;
}

function DateField({ app, name, label }) {
  const value = useStore(app.store, (s) => s.filters[name]);
  return html`<${Field} app=${app} name=${name}>
    <input class=${cx("inb-input inb-gallery-date", value && "inb-gallery-active")} type="date" aria-label=${label} title=${label}
      value=${value} onChange=${(e) => app.actions.setFilter(name, e.currentTarget.value)} /></${Field}>`;
}

// The lowest score (issue 15): which score, and the number (applied on change: Enter or leaving the field).
function MinScore({ app }) {
  const { store, actions } = app;
  const kind = useStore(store, (s) => s.filters.score_kind);
  const value = useStore(store, (s) => s.filters.min_score);
  return html`<${Field} app=${app} name="min_score" cls="inb-gallery-minscore">
    <span class="inb-gallery-minscore-row"><select class=${cx("inb-select", value !== "" && "inb-gallery-active")} aria-label="Score to filter by" value=${kind}
      onChange=${(e) => actions.setFilter("score_kind", e.currentTarget.value)}>
      ${Object.entries(SCORE_LABEL).map(([k, l]) => html`<option key=${k} value=${k}>${l} ≥</option>`)}</select>
    <input class=${cx("inb-input inb-gallery-minscore-input", value !== "" && "inb-gallery-active")} type="number" step="any" placeholder="any"
      aria-label="Lowest score" value=${value} onChange=${(e) => actions.setFilter("min_score", e.currentTarget.value.trim())} /></span></${Field}>`;
}

function Filters({ app }) {
  const { store, actions } = app;
  const f = useStore(store, (s) => s.filters);
  const options = useStore(store, (s) => s.options);
  const o = options || { projects: [], collections: [], models: [], kinds: [] };
  const projects = [...o.projects].sort((a, b) => (a.status === "archived") - (b.status === "archived") || a.name.localeCompare(b.name));
  const kinds = new Map(o.kinds.map((k) => [k.id, k.products]));
  const set = (key) => (v) => actions.setFilter(key, v);
  return html`<div class="inb-gallery-row inb-gallery-filters">
    <${Select} app=${app} name="kind" label="Type" value=${f.kind} onChange=${set("kind")}
      entries=${[["", "All types"], ...["image", "video", "audio"].map((k) => [k, `${KIND_LABEL[k]}${kinds.has(k) ? ` · ${kinds.get(k)}` : ""}`])]} />
    <${Select} app=${app} name="project" label="Project" value=${f.project} onChange=${set("project")}
      entries=${[["", "All projects"], ...projects.map((p) => [p.id, `${p.name}${p.status === "archived" ? " (archived)" : ""} · ${p.products}`]), [NONE, "No project"]]} />
    <${Select} app=${app} name="collection" label="Collection" value=${f.collection} onChange=${set("collection")}
      entries=${[["", "All collections"], ...o.collections.map((c) => [c.id, `${c.name} · ${c.products}`]), [NONE, "In no collection"]]} />
    <${Select} app=${app} name="model" label="Model" value=${f.model} onChange=${set("model")}
      entries=${[["", "All models"], ...o.models.map((m) => [m.id, `${m.id} · ${m.products}`])]} />
    <${Select} app=${app} name="min_rating" label="Rating" value=${f.min_rating} onChange=${set("min_rating")}
      entries=${[["", "Any rating"], ...[1, 2, 3, 4, 5].map((n) => [String(n), `${"★".repeat(n)}${n < 5 ? " & up" : ""}`])]} />
    <${MinScore} app=${app} />
    <span class="inb-gallery-dates"><${DateField} app=${app} name="since" label="From" /><span class="inb-faint">–</span>
      <${DateField} app=${app} name="until" label="To" /></span>
    <div class="inb-gallery-chips">${f.order_id ? html`<span class="inb-chip inb-chip-accent">Order …${f.order_id.slice(-6)}
      <button class="inb-gallery-chip-x" aria-label="Remove the order filter" onClick=${() => actions.setFilter("order_id", "")}>×</button></span>` : null}</div>
    ${filtering(f) ? html`<button class="inb-btn inb-btn-link inb-btn-sm" onClick=${() => actions.clearFilters()}>Clear filters</button>` : null}
  </div>`;
}

/** One line saying what the panel shows now (derived from the state, never left over). */
function Status({ app }) {
  const text = useStore(app.store, statusText);
  const busy = useStore(app.store, (s) => s.busy > 0);
  return html`<div class=${cx("inb-gallery-status inb-muted", busy && "inb-gallery-busy")} role="status" aria-live="polite">${text}</div>`;
}

/** The header: it stays in place while the products scroll under it. */
export function Head({ app }) {
  const selecting = useStore(app.store, (s) => s.selection.size > 0);
  return html`<div class="inb-panel-head inb-gallery-head">
    <div class="inb-gallery-bars" data-selecting=${String(selecting)}>
      <div hidden=${selecting}><${Toolbar} app=${app} /></div>
      <div hidden=${!selecting}><${SelectionBar} app=${app} /></div>
    </div>
    <${Filters} app=${app} />
    <${Status} app=${app} />
  </div>`;
}

export { Stars };
