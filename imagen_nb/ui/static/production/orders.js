// Production: the list of orders, one keyed row each, with the expanded one's generations.

/**
 * @typedef {import("./state.js").Order} Order
 * @typedef {{ store: import("../lib/store.js").Store<import("./state.js").State>,
 *             actions: object, nav: { go(tab: string, payload: object): void } | null }} App
 */

import { html, cx, useNow } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { fmtAgo, plural } from "../lib/format.js";
import { LIVE, ORDER_LOOK, ORDER_WORD, gridOffered, orderCounts, orderTiming, retryLabel } from "./state.js";
import { Generations } from "./generations.js";

const pct = (n, total) => (total ? `${(100 * n / total).toFixed(3)}%` : "0%");

function moveFocus(row, step) {
  const rows = [...row.closest(".inb-production-list").querySelectorAll(".inb-production-orow")];
  const next = rows[rows.indexOf(row) + step];
  if (next) next.focus();
}

/** One order: status, prompt, model, project, progress, counts that add up, ETA, actions. */
export function OrderRow({ app, id }) {
  const { store, actions, nav } = app;
  const o = useStore(store, (s) => s.orders[id]);
  const expanded = useStore(store, (s) => !!s.expanded && s.expanded.id === id);
  const flash = useStore(store, (s) => s.flash === id);
  const skew = useStore(store, (s) => s.skew);
  const live = LIVE.has(o.status);
  const now = useNow(live ? 1000 : 20000) + skew;
  const c = o.counts;
  const prompt = typeof o.prompt === "string" ? o.prompt : (o.prompt ? JSON.stringify(o.prompt) : "");
  const partialRunning = Math.max(0, o.progress * o.total - c.complete - c.failed - c.cancelled);
  const retry = retryLabel(o);
  const timing = orderTiming(o, now);
  const onKeyDown = (e) => {
    if ((e.key === "Enter" || e.key === " ") && e.target === e.currentTarget) { e.preventDefault(); actions.toggle(id); }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); moveFocus(e.currentTarget, e.key === "ArrowDown" ? 1 : -1); }
  };
  return html`
    <div class=${cx("inb-production-order", live && "inb-production-live", expanded && "inb-production-expanded",
      flash && "inb-production-flash")} role="listitem" data-id=${id} data-status=${o.status}>
      <div class="inb-production-orow" tabindex="0" role="button" aria-expanded=${String(expanded)}
        onClick=${(e) => { if (!e.target.closest("button")) actions.toggle(id); }} onKeyDown=${onKeyDown}>
        <span class="inb-production-chev" aria-hidden="true">▸</span>
        <span class=${`inb-production-state inb-status inb-status-${ORDER_LOOK[o.status] || "queued"}`}>
          ${ORDER_WORD[o.status] || o.status}</span>
        <div class="inb-production-what">
          <div class=${cx("inb-production-prompt", !prompt && "inb-faint")} title=${prompt}>${prompt || "(no prompt)"}</div>
          <div class="inb-production-sub">
            <span class="inb-production-model" title=${o.model}>${o.model}</span>
            ${o.project ? html`<span class="inb-chip" title=${`Project ${o.project}`}>${o.project}</span>` : null}
            <span class="inb-production-ago">${fmtAgo(o.created, now)}</span>
            <span class="inb-production-gcount">${plural(o.total, "generation")}</span>
          </div>
        </div>
        <div class="inb-production-progress">
          <div class="inb-production-stack" role="progressbar" aria-valuemin="0" aria-valuemax="100"
            aria-valuenow=${String(Math.round(100 * o.progress))} aria-label=${`${c.complete} of ${o.total} complete`}>
            <span class="inb-production-seg-complete" style=${{ width: pct(c.complete, o.total) }}></span>
            <span class="inb-production-seg-failed" style=${{ width: pct(c.failed, o.total) }}></span>
            <span class="inb-production-seg-cancelled" style=${{ width: pct(c.cancelled, o.total) }}></span>
            <span class="inb-production-seg-running" style=${{ width: pct(partialRunning, o.total) }}></span>
          </div>
          <div class="inb-production-counts">
            ${orderCounts(o).map((p) => html`<span key=${p.cls} class=${p.cls}>${p.text}</span>`)}
            ${timing ? html`<span class="inb-faint inb-production-eta">${timing}</span>` : null}
          </div>
        </div>
        <div class="inb-production-actions">
          ${retry ? html`<button class="inb-btn inb-btn-sm" title=${retry.title}
            onClick=${() => actions.retry(id)}>${retry.label}</button>` : null}
          ${live ? html`<button class="inb-btn inb-btn-sm inb-btn-danger"
            title="Cancel the queued generations now and the running ones at their next step"
            onClick=${() => actions.cancel({ order_id: id }, "Order")}>Cancel</button>` : null}
          <button class="inb-btn inb-btn-sm" title="Copy the studio.order(...) call that places this order again"
            onClick=${() => actions.copyCode(id)}>Copy as code</button>
          ${nav && c.complete ? html`<button class="inb-btn inb-btn-sm" title="Show this order's products in the Gallery"
            onClick=${() => nav.go("gallery", { order_id: id })}>Gallery →</button>` : null}
          ${gridOffered(o) ? html`<button class="inb-btn inb-btn-sm inb-production-grid" title="A comparison grid along the parameters that vary in this order"
            onClick=${() => (nav ? nav.go("gallery", { order_id: id, view: "grid" }) : actions.openGrid(id))}>Grid</button>` : null}
        </div>
      </div>
      ${expanded ? html`<${Generations} app=${app} order=${o} />` : null}
    </div>`;
}

/** Every order shown, newest first; "Load older orders"; the empty state. */
export function OrderList({ app }) {
  const { store, actions, nav } = app;
  const ids = useStore(store, (s) => s.orderIds);
  const hasMore = useStore(store, (s) => s.hasMore);
  const loadingMore = useStore(store, (s) => s.loadingMore);
  const loaded = useStore(store, (s) => s.loaded);
  const loadError = useStore(store, (s) => s.loadError);
  if (loadError) {
    return html`<div class="inb-empty"><strong>Could not load the orders</strong>${loadError}</div>`;
  }
  if (loaded && !ids.length) {
    return html`<div class="inb-empty"><strong>No orders yet</strong>
      <div>Orders you place show up here with their generations, live.</div>
      ${nav ? html`<div style=${{ marginTop: "12px" }}><button class="inb-btn inb-btn-primary"
        onClick=${() => nav.go("order", {})}>Place an order</button></div>`
        : html`<div class="inb-mono" style=${{ marginTop: "10px" }}>studio.order("instant:swatch", prompt="a [red,blue] kite")</div>`}
    </div>`;
  }
  return html`
    <div class="inb-production-list" role="list">
      ${ids.map((id) => html`<${OrderRow} key=${id} app=${app} id=${id} />`)}
    </div>
    ${hasMore ? html`<button class="inb-btn inb-production-more" disabled=${loadingMore}
      onClick=${() => actions.loadMore()}>Load older orders</button>` : null}`;
}
