// Production: the details dialog of one generation (parameter sets, error with traceback, timing).

/**
 * @typedef {import("./state.js").Gen & { order_id: string, model: string|null, params: object,
 *   actual_params: object|null, return_params: object|null, traceback: string|null }} GenDetail
 */

import { html, useEffect, useRef } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { fmtSeconds, fmtValue } from "../lib/format.js";

function KV({ obj }) {
  if (!obj || typeof obj !== "object" || !Object.keys(obj).length) return html`<div class="inb-faint">—</div>`;
  return html`<table class="inb-kv"><tbody>
    ${Object.entries(obj).map(([k, v]) => html`<tr key=${k}><th>${k}</th><td>${fmtValue(v)}</td></tr>`)}
  </tbody></table>`;
}

/** The dialog, shown while the store holds `details`; Escape or × closes it and focus goes back. */
export function Details({ app }) {
  const { store, actions, nav } = app;
  const details = useStore(store, (s) => s.details);
  const closeRef = useRef(null);
  useEffect(() => { if (details && closeRef.current) closeRef.current.focus(); }, [details && details.d.id]);
  if (!details) return null;
  const { d, thumb } = details;
  const time = {};
  if (d.started) time.started = new Date(d.started * 1000).toLocaleString();
  if (d.finished) time.finished = new Date(d.finished * 1000).toLocaleString();
  if (d.duration !== null && d.duration !== undefined) time.took = fmtSeconds(d.duration);
  time.attempts = String(d.attempts);
  if (d.status === "queued" && d.position !== null && d.position !== undefined) time.queue = `#${d.position + 1} in line`;
  const close = () => actions.closeDetails();
  return html`
    <div class="inb-modal-backdrop" onClick=${(e) => { if (e.target === e.currentTarget) close(); }}
      onKeyDown=${(e) => { if (e.key === "Escape") { e.preventDefault(); close(); } }}>
      <div class="inb-modal inb-production-detail" role="dialog" aria-modal="true" aria-label=${`Generation ${d.seq + 1}`}>
        <div class="inb-modal-head">
          <strong>Generation #${d.seq + 1}</strong>
          <span class=${`inb-status inb-status-${d.status}`}>${d.status}</span>
          <span class="inb-faint inb-mono">${d.model || ""}</span>
          <span style=${{ marginLeft: "auto" }}></span>
          <button ref=${closeRef} class="inb-btn inb-btn-icon" title="Close" aria-label="Close" onClick=${close}>×</button>
        </div>
        <div class="inb-modal-body">
          ${d.status === "failed" ? html`<div class="inb-production-derror">
            <div class="inb-production-derror-head">${d.error_type || "Error"}</div>
            <div class="inb-production-derror-msg">${d.error_message || "No message was recorded."}</div>
            ${d.traceback ? html`<details><summary>Traceback</summary><pre class="inb-mono">${d.traceback}</pre></details>` : null}
          </div>` : null}
          <div class="inb-production-dgrid">
            ${thumb ? html`<div class="inb-production-dthumb inb-thumb"><img src=${thumb} alt="product" /></div>` : null}
            <div>
              <div class="inb-production-dsec">Generation parameters</div><${KV} obj=${d.params} />
              ${d.actual_params ? html`<div class="inb-production-dsec">Sent to the model</div><${KV} obj=${d.actual_params} />` : null}
              ${d.return_params ? html`<div class="inb-production-dsec">Reported by the model</div><${KV} obj=${d.return_params} />` : null}
              <div class="inb-production-dsec">Timing</div><${KV} obj=${time} />
            </div>
          </div>
          <div class="inb-production-dactions">
            ${d.status === "failed" || d.status === "cancelled" ? html`<button class="inb-btn inb-btn-primary"
              onClick=${() => { close(); actions.retry(d.order_id, [d.id]); }}>Retry</button>` : null}
            ${d.status === "queued" || d.status === "running" ? html`<button class="inb-btn inb-btn-danger"
              onClick=${() => { close(); actions.cancel({ generation_id: d.id }, "Generation"); }}>Cancel</button>` : null}
            ${nav && d.product_id ? html`<button class="inb-btn"
              onClick=${() => { close(); nav.go("gallery", { order_id: d.order_id }); }}>Open the order in the Gallery →</button>` : null}
          </div>
        </div>
      </div>
    </div>`;
}
