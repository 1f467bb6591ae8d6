// Production: LoRA training runs (issue 16), one keyed row each, live, with a loss sparkline.

/**
 * @typedef {import("./state.js").Run} Run
 * @typedef {{ store: import("../lib/store.js").Store<import("./state.js").State>, actions: object }} App
 */

import { html, cx } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { plural } from "../lib/format.js";
import { RUN_LIVE, RUN_RESUMABLE, runFigures, sparkPath } from "./state.js";

const SPARK_W = 160;
const SPARK_H = 32;

/** The loss curve of the last steps as a small SVG line (nothing before the first step). */
export function Sparkline({ losses }) {
  const d = sparkPath(losses, SPARK_W, SPARK_H);
  if (!d) return html`<span class="inb-training-spark inb-faint">no loss yet</span>`;
  const last = losses[losses.length - 1];
  return html`<svg class="inb-training-spark" width=${SPARK_W} height=${SPARK_H} viewBox=${`0 0 ${SPARK_W} ${SPARK_H}`}
    role="img" aria-label=${`loss over the last ${plural(losses.length, "step")}, now ${last.toFixed(4)}`}>
    <path d=${d} fill="none" stroke="currentColor" stroke-width="1.5" /></svg>`;
}

/** One run: status, name, base model, step i/n bar, loss / lr / images/s / ETA, sparkline, actions. */
export function TrainingRow({ app, id }) {
  const { store, actions } = app;
  const r = useStore(store, (s) => s.runs[id]);
  const live = RUN_LIVE.has(r.status);
  const fig = runFigures(r);
  return html`
    <div class=${cx("inb-training-row", live && "inb-production-live")} role="listitem" data-id=${id} data-status=${r.status}>
      <span class=${`inb-production-state inb-status inb-status-${fig.look}`}>${r.status}</span>
      <div class="inb-production-what">
        <div class="inb-training-name" title=${`LoRA ${r.name}`}>LoRA ${r.name}</div>
        <div class="inb-production-sub">
          <span class="inb-production-model" title=${r.base_model}>${r.base_model}</span>
          <span>${plural(r.images, "image")}</span>
          ${r.error ? html`<span class="inb-faint" title=${r.error}>${r.error}</span>` : null}
        </div>
      </div>
      <div class="inb-production-progress">
        <div class="inb-production-stack" role="progressbar" aria-valuemin="0" aria-valuemax=${String(r.total)}
          aria-valuenow=${String(r.step)} aria-label=${`step ${r.step} of ${r.total}`}>
          <span class="inb-production-seg-complete" style=${{ width: fig.pct }}></span>
        </div>
        <div class="inb-production-counts inb-training-figures">
          ${fig.parts.map((p) => html`<span key=${p.key} class=${p.cls || ""}>${p.text}</span>`)}
        </div>
      </div>
      <${Sparkline} losses=${r.losses || []} />
      <div class="inb-production-actions">
        ${live ? html`<button class="inb-btn inb-btn-sm inb-btn-danger" title="Stop after the current step (a checkpoint is saved there)"
          onClick=${() => actions.cancelTraining(id)}>Cancel</button>` : null}
        ${RUN_RESUMABLE.has(r.status) ? html`<button class="inb-btn inb-btn-sm"
          title="Continue from the last checkpoint" onClick=${() => actions.resumeTraining(id)}>Resume</button>` : null}
        <button class="inb-btn inb-btn-sm" title="The run's page: loss curve, samples by step, checkpoints"
          onClick=${() => actions.openRun(id)}>Details</button>
      </div>
    </div>`;
}

/** The training runs, live ones first; nothing at all when there are none. */
export function TrainingList({ app }) {
  const ids = useStore(app.store, (s) => s.runIds);
  if (!ids.length) return null;
  return html`<div class="inb-training-list" role="list" aria-label="LoRA training runs">
    ${ids.map((id) => html`<${TrainingRow} key=${id} app=${app} id=${id} />`)}
  </div>`;
}
