// Production: the expanded order's generations (filter chips, keyed rows, "show more").

/**
 * @typedef {import("./state.js").Gen} Gen
 * @typedef {import("./orders.js").App} App
 */

import { html, cx, useNow, useRef, useEffect } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { fmtClock, fmtSeconds } from "../lib/format.js";
import { FILTERS, genError } from "./state.js";

const GLYPH = { queued: "○", running: "◐", failed: "✕", cancelled: "–", complete: "✓" };

function GenState({ g }) {
  if (g.status === "running") {
    return html`<div class="inb-production-gstate">
      <div class=${cx("inb-progress inb-production-gbar", !g.total && "inb-production-indeterminate")}>
        <span style=${{ width: g.total ? `${(100 * g.step / g.total).toFixed(1)}%` : "30%" }}></span></div>
      <span class="inb-production-step">${g.total ? `step ${g.step}/${g.total}` : "starting"}</span>
    </div>`;
  }
  if (g.status === "queued") {
    const pos = g.position;
    return html`<div class="inb-production-gstate"><span class="inb-status inb-status-queued">queued</span>
      ${pos !== null && pos !== undefined ? html`<span class="inb-production-pos" title="Place in the queue of this model's workers">
        ${pos === 0 ? "next" : `#${(pos + 1).toLocaleString()} in line`}</span>` : null}</div>`;
  }
  return html`<div class="inb-production-gstate"><span class=${`inb-status inb-status-${g.status}`}>${g.status}</span>
    ${g.attempts > 1 ? html`<span class="inb-faint">attempt ${g.attempts}</span>` : null}</div>`;
}

function GenTime({ g, skew }) {
  const running = g.status === "running" && !!g.started;
  const now = useNow(1000, running) + skew;
  const text = running ? fmtClock(now - g.started) : (g.duration !== null && g.duration !== undefined ? fmtSeconds(g.duration) : "");
  return html`<span class="inb-production-gtime">${text}</span>`;
}

/** One generation: number, thumbnail or glyph, label, its error message, state, time, actions. */
export function GenRow({ app, id, orderId }) {
  const { store, actions } = app;
  const g = useStore(store, (s) => s.gens[id]);
  const thumb = useStore(store, (s) => { const x = s.gens[id]; return x && x.product_id ? s.thumbs[x.product_id] || null : null; });
  const skew = useStore(store, (s) => s.skew);
  const ref = useRef(null);
  const wantsThumb = g && g.product_id && !thumb;
  useEffect(() => (wantsThumb ? actions.watchThumb(ref.current, g.product_id) : undefined), [wantsThumb, g && g.product_id]);
  if (!g) return null;
  const error = genError(g);
  return html`
    <div ref=${ref} class="inb-production-gen" role="listitem" tabindex="0" data-id=${id} data-status=${g.status} title="Details"
      onClick=${(e) => { if (!e.target.closest("button")) actions.openDetails(id); }}
      onKeyDown=${(e) => { if (e.key === "Enter" && e.target === e.currentTarget) { e.preventDefault(); actions.openDetails(id); } }}>
      <span class="inb-production-seq">#${(g.seq + 1).toLocaleString()}</span>
      ${thumb ? html`<span class="inb-production-gthumb inb-thumb"><img src=${thumb} alt="" draggable="false" /></span>`
        : html`<span class=${cx("inb-production-gthumb inb-thumb", !g.product_id && `inb-production-glyph inb-status-${g.status}`)}>
          ${g.product_id ? "" : GLYPH[g.status] || ""}</span>`}
      <div class="inb-production-gmain">
        <div class="inb-production-glabel" title=${g.label || ""}>${g.label || "—"}</div>
        ${error ? html`<div class="inb-production-gerror" title=${error}>${error}</div>` : null}
      </div>
      <${GenState} g=${g} />
      <${GenTime} g=${g} skew=${skew} />
      <div class="inb-production-gactions">
        ${g.status === "queued" || g.status === "running" ? html`<button class="inb-btn inb-btn-sm inb-btn-danger"
          title="Cancel this generation" onClick=${() => actions.cancel({ generation_id: id }, "Generation")}>Cancel</button>` : null}
        ${g.status === "failed" || g.status === "cancelled" ? html`<button class="inb-btn inb-btn-sm"
          title="Run this generation again with its parameters" onClick=${() => actions.retry(orderId, [id])}>Retry</button>` : null}
      </div>
    </div>`;
}

/** The expanded order's generations: chips per status with counts, the rows, "show more". */
export function Generations({ app, order }) {
  const { store, actions } = app;
  const ex = useStore(store, (s) => s.expanded);
  if (!ex) return null;
  const n = { "": order.total, ...order.counts };
  const chips = FILTERS.filter(([key]) => key === "" || n[key] || ex.status === key);
  let rows;
  if (ex.loading && !ex.ids.length) rows = html`<div class="inb-production-gloading inb-faint">Loading generations…</div>`;
  else if (!ex.ids.length) {
    rows = html`<div class="inb-production-gloading inb-faint">
      ${ex.status ? `No ${ex.status} generations.` : "This order has no generations."}</div>`;
  } else rows = ex.ids.map((id) => html`<${GenRow} key=${id} app=${app} id=${id} orderId=${order.id} />`);
  return html`
    <div class="inb-production-gens">
      <div class="inb-production-gtools">
        <div class="inb-production-filters" role="tablist" aria-label="Show generations">
          ${chips.map(([key, label]) => html`<button key=${key} role="tab" data-key=${key}
            class=${cx("inb-production-filter", ex.status === key && "inb-production-filter-on")}
            aria-selected=${String(ex.status === key)} onClick=${() => actions.filter(key)}>
            ${label}<span class="inb-production-filter-n">${(n[key] || 0).toLocaleString()}</span></button>`)}
        </div>
      </div>
      <div class="inb-production-glist" role="list">${rows}</div>
      ${ex.hasMore ? html`<button class="inb-btn inb-btn-sm inb-production-gmore" disabled=${ex.loading}
        onClick=${() => actions.loadGens(false)}>Show more</button>` : null}
    </div>`;
}
