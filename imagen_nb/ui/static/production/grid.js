// Production: an order's comparison grid (issue 13), inline when the panel stands alone (inside
// the Studio widget an order's "Grid" opens the Gallery's grid view). Axes from menus, swap,
// z as tabs, thumbnails as cells come into view, cells still running as placeholders that fill
// in as the order moves. Texts from state.js.

import { html, cx, useEffect } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { gridCaption, gridCellTitle, gridMatrix, LIVE, pickAxis } from "./state.js";

function Cell({ app, layout, cell }) {
  const url = useStore(app.store, (s) => (cell && cell.product_id ? s.thumbs[cell.product_id] : null));
  useEffect(() => { if (cell && cell.product_id && !url) app.actions.wantThumb(cell.product_id); }, [cell && cell.product_id]);
  if (!cell) return html`<td class="inb-pgrid-cell inb-pgrid-empty" title="nothing made for this combination">—</td>`;
  // a click opens the generation's details (parameters, error, product), over the grid
  const open = cell.generation_id ? () => app.actions.openDetails(cell.generation_id) : undefined;
  return html`<td class=${cx("inb-pgrid-cell", `inb-status-${cell.status}`, open && "inb-pgrid-open")}
      title=${gridCellTitle(layout, cell)} data-product=${cell.product_id || ""} data-status=${cell.status}
      tabindex=${open ? 0 : undefined} onClick=${open}
      onKeyDown=${open ? (e) => { if (e.key === "Enter") { e.stopPropagation(); open(); } } : undefined}>
    ${url ? html`<img src=${url} alt="" />` : html`<span class="inb-pgrid-ph">${cell.status}</span>`}</td>`;
}

function AxisMenu({ app, g, axis }) {
  const layout = g.layout;
  const current = layout.axes[axis] ? layout.axes[axis].name : "";
  return html`<label class="inb-pgrid-axis">${axis}
    <select class="inb-select" aria-label=${`Grid ${axis} axis`} value=${current}
      onChange=${(e) => app.actions.gridAxes(pickAxis(axesOf(layout), axis, e.target.value))}>
      ${axis !== "x" ? html`<option value="">none</option>` : null}
      ${layout.choices.map((c) => html`<option key=${c} value=${c}>${c}</option>`)}
    </select></label>`;
}

const axesOf = (layout) => ({ x: layout.axes.x ? layout.axes.x.name : "", y: layout.axes.y ? layout.axes.y.name : "",
  z: layout.axes.z ? layout.axes.z.name : "" });

/** The grid of the order whose "Grid" was pressed (a modal over the panel; Escape closes it). */
export function OrderGrid({ app }) {
  const g = useStore(app.store, (s) => s.grid);
  const order = useStore(app.store, (s) => (s.grid ? s.orders[s.grid.order_id] : null));
  const moved = order ? `${order.status}:${order.counts.complete}:${order.counts.failed}:${order.counts.cancelled}` : "";
  useEffect(() => { if (g && g.layout && order && moved) app.actions.gridRefresh(); }, [moved]);  // live: cells fill in
  if (!g) return null;
  const close = () => app.actions.closeGrid();
  const layout = g.layout;
  let body;
  if (g.error) body = html`<div class="inb-field-error" role="alert">${g.error}</div>`;
  else if (!layout) body = html`<div class="inb-faint">Laying out the grid…</div>`;
  else {
    const m = gridMatrix(layout, g.z);
    const a = axesOf(layout);
    body = html`
      <div class="inb-pgrid-tools">
        <${AxisMenu} app=${app} g=${g} axis="x" /><${AxisMenu} app=${app} g=${g} axis="y" /><${AxisMenu} app=${app} g=${g} axis="z" />
        <button class="inb-btn inb-btn-sm" type="button" disabled=${!a.y} title="Swap the x and y axes"
          onClick=${() => app.actions.gridAxes({ ...a, x: a.y, y: a.x })}>Swap x ↔ y</button>
      </div>
      <div class="inb-faint inb-pgrid-caption">${gridCaption(layout)}</div>
      ${layout.axes.z ? html`<div class="inb-pgrid-tabs" role="tablist">${layout.axes.z.labels.map((l, i) => html`
        <button key=${i} role="tab" type="button" aria-selected=${String(i === g.z)} class=${cx("inb-btn inb-btn-sm", i === g.z && "inb-btn-primary")}
          onClick=${() => app.actions.gridLayer(i)}>${l}</button>`)}</div>` : null}
      <div class="inb-pgrid-wrap"><table class="inb-pgrid">
        <thead><tr><th></th>${m.cols.map((c, i) => html`<th key=${i} scope="col">${c}</th>`)}</tr></thead>
        <tbody>${m.rows.map((r, yi) => html`<tr key=${yi}><th scope="row">${r.label}</th>
          ${r.cells.map((cell, xi) => html`<${Cell} key=${xi} app=${app} layout=${layout} cell=${cell} />`)}</tr>`)}</tbody>
      </table></div>`;
  }
  const live = order && LIVE.has(order.status);
  return html`<div class="inb-modal-backdrop" onClick=${(e) => { if (e.target === e.currentTarget) close(); }}
      onKeyDown=${(e) => { if (e.key === "Escape") { e.stopPropagation(); close(); } }}>
    <div class="inb-modal inb-pgrid-modal" role="dialog" aria-label="Order grid">
      <div class="inb-modal-head"><strong>Grid</strong><span class="inb-muted">${layout ? layout.title : g.order_id}</span>
        ${live ? html`<span class="inb-status inb-status-running">running: cells fill in</span>` : null}
        <button class="inb-btn inb-btn-icon" type="button" title="Close" aria-label="Close" style="margin-left:auto" onClick=${close}>×</button></div>
      <div class="inb-modal-body">${body}</div>
    </div></div>`;
}
