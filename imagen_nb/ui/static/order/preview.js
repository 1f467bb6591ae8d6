// Order: the live preview (how many generations, the parameter sets that vary) and the order
// bar (the button, the latest order's status and ETA, notes). Every text derives from the store.

import { html, cx, useNow } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import {
  FINISHED, etaText, orderEta, orderLabel, orderLine, plural, previewColumns, recallText, refineStartedText, short,
} from "./state.js";

const fmtN = (n) => Number(n).toLocaleString("en-US");

export function Preview({ app }) {
  // Only what the preview shows: a live update of the session strip does not redraw it.
  const preview = useStore(app.store, (st) => st.preview);
  const previewError = useStore(app.store, (st) => st.previewError);
  const form = useStore(app.store, (st) => st.form);
  const values = useStore(app.store, (st) => st.values);
  const stale = useStore(app.store, (st) => st.stale);
  const s = { preview, previewError, form, values, stale };
  const p = s.preview;
  const error = s.previewError;
  const label = (name) => {
    const f = s.form && s.form.fields.find((x) => x.name === name);
    return f ? f.label : name;
  };
  let body = null;
  if (error) {
    const f = error.field && s.form && s.form.fields.find((x) => x.name === error.field);
    body = html`<div class="inb-order-preview-err">
      <strong>${f ? `Fix ${f.label}` : error.field === "model" ? "Model" : error.field === "rows" ? "Fix the table" : "Cannot expand"}</strong>
      <span>${f || error.field === "rows" ? " — see the field." : ` — ${error.message}`}</span></div>`;
  } else if (p) {
    const cols = previewColumns(s);
    body = html`
      <div class="inb-order-preview-head">
        <span class="inb-order-count">${plural(p.count, "generation")}</span>
        ${p.table_count !== undefined ? html`<span class="inb-muted inb-order-count-rows">from ${plural(p.table_count, "row")}</span>` : null}
        ${p.images !== p.count ? html`<span class="inb-muted">→ ${plural(p.images, "image")}</span>` : null}
        <span class="inb-faint">limit ${fmtN(p.limit)} per order</span></div>
      ${p.too_large ? html`<div class="inb-order-warn">${p.too_large}</div>` : null}
      ${p.missing.length ? html`<div class="inb-faint">Fill in ${p.missing.map(label).join(", ")} to order.</div>` : null}
      ${cols.length ? html`<div class="inb-order-table-wrap"><table class="inb-order-table">
          <thead><tr><th>#</th>${cols.map((c) => html`<th key=${c} title=${c}>${label(c)}</th>`)}</tr></thead>
          <tbody>${p.rows.map((r, i) => html`<tr key=${i}><td class="inb-faint">${i + 1}</td>
            ${cols.map((c) => html`<td key=${c} title=${typeof r[c] === "string" ? r[c] : JSON.stringify(r[c])}>${short(r[c], 80)}</td>`)}</tr>`)}
          </tbody></table></div>
        ${p.count > p.rows.length ? html`<div class="inb-faint">and ${fmtN(p.count - p.rows.length)} more</div>` : null}` : null}`;
  }
  return html`<div class=${cx("inb-order-preview", s.stale && "inb-order-stale")} aria-live="polite">${body}</div>`;
}

/** The latest order: counts that add up, its state, the ETA while it runs. */
function LastOrder({ app, shortcut }) {
  const o = useStore(app.store, (s) => s.lastOrder);
  const cleared = useStore(app.store, (s) => s.cleared);
  const live = !!o && !FINISHED.has(o.status);
  const now = useNow(1000, live);
  if (!o) return html`<span class="inb-faint">${shortcut} orders from anywhere in the form</span>`;
  const line = orderLine(o);
  const eta = etaText(orderEta(o, now));
  return html`
    <span class=${line.ok ? "inb-order-ok" : "inb-status inb-status-failed"}>${line.mark}</span>
    <span class="inb-order-note-text">${line.text}<span class="inb-faint">${line.state}</span>
      ${line.failed ? html`<span class="inb-status inb-status-failed" title=${o.error || ""}>${line.failed}</span>` : null}
      ${eta ? html`<span class="inb-faint inb-order-eta"> · ${eta}</span>` : null}</span>
    ${cleared && Object.keys(cleared).length ? html`<button class="inb-btn inb-btn-link" type="button"
      title="Put the prompt of that order back" onClick=${() => app.actions.editAgain()}>Edit again</button>` : null}
    ${app.nav ? html`<button class="inb-btn inb-btn-link" type="button"
      onClick=${() => app.nav.go("production", { order_id: o.order_id })}>Production →</button>` : null}`;
}

/** What a re-order filled, the other scope as a button, and what did not map. */
function Recall({ app, r }) {
  const other = r.use === "all" && !r.imported;
  return html`<span class="inb-order-note-text inb-muted">${recallText(r)}</span>
    ${other ? html`<button class="inb-btn inb-btn-link inb-order-recall-other" type="button"
      onClick=${() => app.actions.reorder(r.product_id, { scope: r.scope === "order" ? "product" : "order" })}>
      ${r.scope === "order" ? "This product only" : "Whole order instead"}</button>` : null}
    ${(r.unmapped || []).length ? html`<div class="inb-order-recall-unmapped" title=${r.unmapped.map((u) => `${u.name}: ${u.why}`).join("\n")}>
      Not mapped: ${r.unmapped.map((u) => u.name).join(", ")}</div>` : null}`;
}

function Note({ app, shortcut }) {
  const note = useStore(app.store, (s) => s.note);
  if (!note) return html`<${LastOrder} app=${app} shortcut=${shortcut} />`;
  if (note.kind === "recall") return html`<${Recall} app=${app} r=${note.recall} />`;
  if (note.kind === "notice") return html`<span class="inb-order-note-text inb-muted">${note.text}</span>`;
  if (note.kind === "refined") {
    return html`<span class="inb-order-ok">✓</span><span class="inb-order-note-text inb-order-refined" title=${refineStartedText(note.result)}>${refineStartedText(note.result)}</span>
      ${app.nav ? html`<button class="inb-btn inb-btn-link" type="button"
        onClick=${() => app.nav.go("production", { refinement_id: note.result.refinement_id })}>Production →</button>` : null}`;
  }
  return html`<span class="inb-order-note-err">${note.text}</span>`;
}

/** The Order button and the note beside it. */
export function OrderBar({ app, shortcut }) {
  const label = useStore(app.store, orderLabel);
  const placing = useStore(app.store, (s) => s.placing);
  const refining = useStore(app.store, (s) => s.refine.open);
  return html`<div class="inb-order-bar">
    <button class="inb-btn inb-btn-primary inb-order-go" type="button" title=${`Order (${shortcut})`} disabled=${placing}
      onClick=${() => app.actions.placeOrder()}>${label}</button>
    <button class="inb-btn inb-order-refine-toggle" type="button" aria-pressed=${refining ? "true" : "false"}
      title="Refine: order, have a judge rate the images and a rewriter improve the prompt, over rounds"
      onClick=${() => app.actions.openRefine(!refining)}>Refine…</button>
    <div class="inb-order-note" role="status"><${Note} app=${app} shortcut=${shortcut} /></div>
  </div>`;
}
