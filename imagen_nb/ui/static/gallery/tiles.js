// Gallery: the scrolling body: one section when flat, one per group otherwise; keyed tiles;
// pointer and keyboard on the grid; "new products" pill; empty states.

/**
 * @typedef {import("./toolbar.js").App} App
 */

import { html, cx, memo, useEffect, useRef } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { KIND_ICON, KIND_LABEL, SCORE_LABEL, filtering, footText, orderedIds, scoreText } from "./state.js";
import { GridView } from "./compare.js";

/** One product: thumbnail (or its type's icon), check, badge, stars, caption on hover. A list of
 * hundreds re-renders only the tiles whose data changed (memo: its props are stable). */
export const Tile = memo(function Tile({ app, id }) {
  const { store } = app;
  const it = useStore(store, (s) => s.items[id]);
  const url = useStore(store, (s) => s.thumbs[id]);
  const selected = useStore(store, (s) => s.selection.has(id));
  const fresh = useStore(store, (s) => s.fresh.has(id));
  const sort = useStore(store, (s) => s.sort);
  if (!it) return null;
  const meta = [it.width && it.height ? `${it.width}×${it.height}` : null, it.model].filter(Boolean).join(" · ");
  return html`<div class=${cx("inb-gallery-tile", `inb-gallery-kind-${it.kind}`, selected && "inb-gallery-selected", fresh && "inb-gallery-fresh")}
    tabindex="0" role="gridcell" data-id=${id} title=${it.prompt || it.name || ""} aria-selected=${String(selected)}>
    <div class="inb-gallery-media inb-thumb">${url
      ? html`<img src=${url} alt=${it.prompt || it.name || "product"} loading="lazy" decoding="async" draggable="false" />`
      : html`<div class="inb-gallery-placeholder"><span class="inb-gallery-placeholder-icon">${KIND_ICON[it.kind] || "◆"}</span>${it.media_type || it.kind}</div>`}</div>
    <span class="inb-gallery-check" role="checkbox" aria-checked=${String(selected)} aria-label="Select" title="Select (shift-click: a range)"></span>
    ${it.kind !== "image" ? html`<span class="inb-gallery-badge">${KIND_ICON[it.kind] || ""} ${it.kind}</span>` : null}
    ${sort ? html`<span class="inb-gallery-score" title=${SCORE_LABEL[sort]}>${scoreText(it[sort])}</span>` : null}
    <span class="inb-gallery-stars" hidden=${!it.rating}>${it.rating ? "★".repeat(it.rating) : ""}</span>
    <div class="inb-gallery-caption"><div class="inb-gallery-caption-text">${it.prompt || it.name || "untitled"}</div>
      <div class="inb-gallery-caption-meta">${meta}</div></div>
  </div>`;
});

const skeletons = (n) => Array.from({ length: n }, (_, i) => html`<div key=${`sk${i}`} class="inb-gallery-skeleton"></div>`);

function Section({ app, sec }) {
  const { actions } = app;
  const ref = useRef(null);
  const end = useRef(null);
  useEffect(() => (sec.group ? actions.watchSection(ref.current, sec.key) : actions.watchEnd(end.current)), [sec.key]);
  const grid = html`<div class="inb-gallery-grid" role="grid" aria-label=${sec.group ? sec.group.label : "Products"}>
    ${sec.group && !sec.loaded ? skeletons(Math.min(sec.group.count, 6)) : sec.ids.map((id) => html`<${Tile} key=${id} app=${app} id=${id} />`)}</div>`;
  if (!sec.group) {
    const foot = footText(sec);
    return html`<section ref=${ref} class="inb-gallery-section">${grid}
      <div class="inb-gallery-foot">${foot ? html`<span class="inb-faint">${foot}</span>` : null}</div>
      <div ref=${end} class="inb-gallery-sentinel" aria-hidden="true"></div></section>`;
  }
  const g = sec.group;
  const left = (sec.total || 0) - sec.ids.length;
  const label = app.store.get().groupBy === "kind" ? KIND_LABEL[g.key] || g.label : g.label;
  return html`<section ref=${ref} class=${cx("inb-gallery-section inb-gallery-grouped", sec.collapsed && "inb-gallery-collapsed")}>
    <div class="inb-gallery-section-head">
      <button class="inb-gallery-section-toggle" aria-expanded=${String(!sec.collapsed)} onClick=${() => actions.toggleCollapsed(sec.key)}>
        <span class="inb-gallery-caret">▾</span><span class="inb-gallery-section-label">${label}</span></button>
      <span class="inb-chip">${Math.max(0, g.count).toLocaleString()}</span>
      <span class="inb-gallery-grow"></span>
      <button class="inb-btn inb-btn-link inb-btn-sm" onClick=${() => actions.focusGroup(g)}>Show only these</button>
    </div>
    ${grid}
    <div class="inb-gallery-foot">${sec.loaded && left > 0 ? html`<button class="inb-btn inb-btn-sm" disabled=${sec.loading}
      onClick=${() => actions.loadSection(sec.key, app.store.get().pageSize)}>
      ${sec.loading ? "Loading…" : `Show ${Math.min(left, app.store.get().pageSize)} more · ${left.toLocaleString()} left`}</button>` : null}</div>
  </section>`;
}

function Empty({ app }) {
  const { store, actions, nav } = app;
  const filtered = useStore(store, (s) => filtering(s.filters));
  if (filtered) {
    return html`<div class="inb-empty"><strong>Nothing matches these filters</strong>
      <div>Try fewer words in the search, or widen the filters.</div>
      <button class="inb-btn inb-gallery-empty-btn" onClick=${() => actions.clearFilters()}>Clear filters</button></div>`;
  }
  return html`<div class="inb-empty"><strong>No products yet</strong>
    <div>Products appear here as orders finish. Place one in the Order panel, or from Python — or drop images here to import them:</div>
    <code class="inb-mono inb-gallery-code">studio.order("instant:swatch", prompt="a [red,blue] fox")</code>
    ${nav ? html`<button class="inb-btn inb-btn-primary inb-gallery-empty-btn" onClick=${() => nav.go("order", {})}>Open Order</button>` : null}</div>`;
}

function Sections({ app }) {
  const { store } = app;
  const sections = useStore(store, (s) => s.sections);
  const total = useStore(store, (s) => s.total);
  const started = useStore(store, (s) => s.started);
  const loadError = useStore(store, (s) => s.loadError);
  if (loadError) return html`<div class="inb-empty"><strong>Could not open the gallery</strong>${loadError}</div>`;
  if (!started || (!sections.length && total === null)) return html`<div class="inb-gallery-grid">${skeletons(18)}</div>`;
  if (total === 0) return html`<${Empty} app=${app} />`;
  return html`<div class="inb-gallery-sections">${sections.map((sec) => html`<${Section} key=${sec.key} app=${app} sec=${sec} />`)}</div>`;
}

function columnsOf(grid) {
  return Math.max(1, getComputedStyle(grid).gridTemplateColumns.split(" ").filter(Boolean).length);
}

function moveFocus(panel, tile, key) {
  const tiles = [...panel.querySelectorAll(".inb-gallery-tile")];
  const i = tiles.indexOf(tile);
  const columns = columnsOf(tile.parentElement);
  const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns }[key];
  const next = tiles[Math.min(tiles.length - 1, Math.max(0, i + step))];
  if (next) { next.focus(); next.scrollIntoView({ block: "nearest" }); }
}

function NewPill({ app }) {
  const n = useStore(app.store, (s) => s.pendingNew);
  return n ? html`<button class="inb-gallery-newpill" onClick=${() => app.actions.showNew()}>↑ ${n} new product${n === 1 ? "" : "s"}</button>` : null;
}

/** The scrolling area: the grid view when open, else the sections; clicks and keys on tiles. */
export function Body({ app }) {
  const { store, actions } = app;
  const body = useRef(null);
  const busy = useStore(store, (s) => s.busy > 0);
  const compare = useStore(store, (s) => !!s.compare);
  useEffect(() => { actions.attachBody(body.current); }, []);
  const onClick = (e) => {
    const tile = e.target.closest(".inb-gallery-tile");
    if (!tile) return;
    const id = tile.dataset.id;
    const s = store.get();
    if (e.target.closest(".inb-gallery-check") || e.metaKey || e.ctrlKey || (e.shiftKey && s.anchor) || s.selection.size) {
      e.preventDefault();
      actions.toggleSelect(id, e.shiftKey);
      return;
    }
    actions.openDetails(id);
  };
  const onKeyDown = (e) => {
    const tile = e.target.closest && e.target.closest(".inb-gallery-tile");
    if (!tile) return;
    const id = tile.dataset.id;
    const sel = store.get().selection;
    if (e.key === "Enter") { e.preventDefault(); actions.openDetails(id); }
    else if (e.key === " ") { e.preventDefault(); actions.toggleSelect(id, e.shiftKey); }
    else if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); actions.remove(sel.size ? [...sel] : [id]); }
    else if (e.key.startsWith("Arrow")) { e.preventDefault(); moveFocus(app.dom.panel, tile, e.key); }
  };
  return html`<div class="inb-gallery-viewport">
    <div ref=${body} class="inb-panel-body inb-gallery-body" tabindex="-1" onClick=${onClick} onKeyDown=${onKeyDown}
      onScroll=${() => actions.onScroll()} onPointerOver=${(e) => actions.pointer(!!e.target.closest(".inb-gallery-grid"))}
      onPointerLeave=${() => actions.pointer(false)}>
      <div class="inb-gallery-content">${compare ? html`<${GridView} app=${app} />` : html`<${Sections} app=${app} />`}</div>
    </div>
    <div class="inb-gallery-loading" hidden=${!busy}><span></span></div>
    <${NewPill} app=${app} />
  </div>`;
}

export { orderedIds };
