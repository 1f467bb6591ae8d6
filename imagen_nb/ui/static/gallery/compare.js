// Gallery: the grid view (issue 13): an order's products, or a selection's, laid out on the
// parameters that vary (A1111's X/Y/Z plot, live): axes from menus, swap, z as tabs, a cell
// opens its product's details; cells of generations still running fill in as they finish.

/**
 * @typedef {import("./toolbar.js").App} App
 * @typedef {{ x: number, y: number, z: number, product_id: string|null, status: string, note: string, count: number }} Cell
 */

import { html, cx, memo, useEffect, useRef, useState } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { gridRows } from "./state.js";

/** cells a grid view draws at first; more rows come as its end scrolls near (a 1,000-product grid pages) */
const FIRST_CELLS = 240;
const STATUS_WORD = { pending: "queued", generating: "running", failed: "failed", cancelled: "cancelled", missing: "missing" };

const GridCell = memo(function GridCell({ app, cell, xLabel, yLabel }) {
  const { store, actions } = app;
  const ref = useRef(null);
  const id = cell && cell.product_id;
  const url = useStore(store, (s) => (id ? s.gridThumbs[id] : undefined));
  useEffect(() => (id ? actions.watchCell(ref.current, id) : undefined), [id]);
  const where = [xLabel, yLabel].filter((v) => v !== null && v !== undefined).join(", ");
  if (!cell) return html`<td class="inb-gallery-gcell inb-gallery-gcell-missing" data-status="missing" title=${`${where}: nothing was made for this combination`}><span>—</span></td>`;
  if (!id) {
    const word = STATUS_WORD[cell.status] || cell.status;
    return html`<td class=${`inb-gallery-gcell inb-gallery-gcell-${cell.status}`} data-status=${cell.status} title=${`${where}: ${word}${cell.note ? ` (${cell.note})` : ""}`}>
      <span class=${cx("inb-gallery-gstate", (cell.status === "pending" || cell.status === "generating") && "inb-gallery-glive")}>${word}</span>
      ${cell.note ? html`<span class="inb-faint inb-gallery-gnote">${cell.note}</span>` : null}</td>`;
  }
  return html`<td class="inb-gallery-gcell" data-status=${cell.status}>
    <button ref=${ref} class="inb-gallery-gbtn inb-thumb" data-id=${id} title=${`${where}${cell.count > 1 ? ` · ${cell.count} products` : ""}: open its details`}
      aria-label=${`Open the product at ${where}`} onClick=${() => actions.openDetails(id)}>
      ${url ? html`<img src=${url} alt=${where} draggable="false" />` : html`<span class="inb-gallery-gwait"></span>`}
      ${cell.count > 1 ? html`<span class="inb-gallery-gcount">${cell.count}</span>` : null}</button></td>`;
});

function AxisMenu({ app, which, label, value, choices, optional }) {
  return html`<label class="inb-gallery-axis"><span class="inb-label">${label}</span>
    <select class="inb-select" aria-label=${`${label} axis`} value=${value || ""} onChange=${(e) => app.actions.setAxis(which, e.currentTarget.value)}>
      ${optional ? html`<option value="">none</option>` : null}
      ${choices.map((name) => html`<option key=${name} value=${name}>${name}</option>`)}</select></label>`;
}

// The end of the rows drawn so far: when it comes near, more rows are drawn.
function MoreRows({ left, onMore }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current || typeof IntersectionObserver !== "function") return undefined;
    const seen = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) onMore(); }, { rootMargin: "600px" });
    seen.observe(ref.current);
    return () => seen.disconnect();
  }, [left]);
  return html`<button ref=${ref} class="inb-btn inb-btn-sm inb-gallery-gmore" onClick=${onMore}>Show more rows · ${left.toLocaleString()} left</button>`;
}

/** The grid view in the panel's body, in place of the tiles. */
export function GridView({ app }) {
  const { store, actions } = app;
  const c = useStore(store, (s) => s.compare);
  const [shown, setShown] = useState(0);
  const data0 = c && c.data;
  const columns = data0 && data0.axes.x ? data0.axes.x.labels.length : 1;
  const page = Math.max(8, Math.ceil(FIRST_CELLS / columns));
  useEffect(() => setShown(page), [data0, page]);
  if (!c) return null;
  const data = c.data;
  const choices = data ? data.choices : [];
  const head = html`<div class="inb-gallery-ghead">
    <button class="inb-btn inb-btn-sm" onClick=${() => actions.closeGrid()}>← Products</button>
    <strong class="inb-gallery-gtitle" title=${data ? data.title : ""}>${data ? data.title : "Grid view"}</strong>
    <span class="inb-gallery-grow"></span>
    ${data ? html`
      <${AxisMenu} app=${app} which="x" label="X" value=${c.x} choices=${choices} />
      <button class="inb-btn inb-btn-sm inb-gallery-swap" title="Swap the X and Y axes" disabled=${!c.y || c.loading}
        onClick=${() => actions.swapAxes()}>⇄ Swap</button>
      <${AxisMenu} app=${app} which="y" label="Y" value=${c.y} choices=${choices} optional />
      <${AxisMenu} app=${app} which="z" label="Z" value=${c.z} choices=${choices} optional />` : null}
  </div>`;
  if (c.error && !data) return html`<div class="inb-gallery-compare">${head}<div class="inb-empty" role="alert"><strong>No grid</strong>${c.error}</div></div>`;
  if (!data) return html`<div class="inb-gallery-compare">${head}<div class="inb-gallery-spinner" aria-label="Loading"></div></div>`;
  let ax = data.axes;
  let rows = gridRows(data, c.zi);
  // One long axis goes down the rows (a tall grid scrolls; a wide one would be a strip).
  if (ax.x && !ax.y && ax.x.labels.length > 8) {
    rows = rows[0].map((cell) => [cell]);
    ax = { ...ax, x: null, y: ax.x };
  }
  const xs = ax.x ? ax.x.labels : [null];
  const ys = ax.y ? ax.y.labels : [null];
  const fixed = Object.entries(data.fixed || {});
  return html`<div class=${cx("inb-gallery-compare", c.loading && "inb-gallery-relaying")} data-x=${c.x || ""} data-y=${c.y || ""}>
    ${head}
    ${c.error ? html`<div class="inb-field-error" role="alert">${c.error}</div>` : null}
    ${ax.z ? html`<div class="inb-gallery-ztabs" role="tablist" aria-label=${ax.z.name}>${ax.z.labels.map((l, zi) =>
      html`<button key=${zi} role="tab" class=${cx("inb-gallery-ztab", zi === c.zi && "inb-gallery-on")} aria-selected=${String(zi === c.zi)}
        onClick=${() => actions.setLayer(zi)}>${ax.z.name} = ${l}</button>`)}</div>` : null}
    <div class="inb-gallery-gwrap">
      <table class="inb-gallery-gtable" role="grid" aria-label=${data.title}>
        <thead><tr><th class="inb-gallery-gcorner">${ax.y ? html`<span>${ax.y.name} ↓</span>` : null}${ax.x ? html`<span>${ax.x.name} →</span>` : null}</th>
          ${xs.map((l, xi) => html`<th key=${xi} scope="col" class="inb-gallery-gx" title=${l || ""}>${l}</th>`)}</tr></thead>
        <tbody>${rows.slice(0, Math.max(shown, page)).map((row, yi) => html`<tr key=${yi}><th scope="row" class="inb-gallery-gy" title=${ys[yi] || ""}>${ys[yi]}</th>
          ${row.map((cell, xi) => html`<${GridCell} key=${`${yi}:${xi}:${cell ? cell.product_id || cell.status : "none"}`} app=${app} cell=${cell}
            xLabel=${ax.x ? `${ax.x.name} ${xs[xi]}` : null} yLabel=${ax.y ? `${ax.y.name} ${ys[yi]}` : null} />`)}</tr>`)}</tbody>
      </table>
      ${rows.length > Math.max(shown, page) ? html`<${MoreRows} left=${rows.length - Math.max(shown, page)}
        onMore=${() => setShown((n) => Math.max(n, page) + page)} />` : null}
    </div>
    ${fixed.length ? html`<div class="inb-gallery-glegend"><span class="inb-label">Same in every cell</span>
      ${fixed.map(([k, v]) => html`<span key=${k} class="inb-chip" title=${`${k}: ${v}`}><span class="inb-faint">${k}</span> ${v}</span>`)}</div>` : null}
  </div>`;
}
