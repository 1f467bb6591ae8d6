// Production: a LoRA training run's page (issue 16), opened from its row: the loss curve, the
// samples by step, the checkpoints ("Use this checkpoint" fills the Order panel's LoRA with
// "<name>/step-000100"; standing alone, the call to copy). Texts from state.js.

import { html } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { checkpointLabel, checkpointPayload, lossCurve, samplesByStep } from "./state.js";

const W = 640;
const H = 160;

function Curve({ data }) {
  const c = lossCurve(data.curve, W, H);
  if (!c.path) return html`<div class="inb-faint">No loss recorded yet: the curve starts after two steps.</div>`;
  return html`<figure class="inb-run-curve">
    <svg viewBox=${`0 0 ${W} ${H}`} width="100%" height=${H} preserveAspectRatio="none" role="img"
      aria-label=${`Loss from step ${c.first} to ${c.last}: ${c.hi.toPrecision(3)} to ${c.lo.toPrecision(3)}`}>
      <path d=${c.path} fill="none" stroke="currentColor" stroke-width="1.5" vector-effect="non-scaling-stroke" /></svg>
    <figcaption class="inb-faint">${`loss ${c.lo.toPrecision(3)} – ${c.hi.toPrecision(3)} · steps ${c.first} – ${c.last} (`
      + `${data.steps.toLocaleString("en-US")} recorded${data.curve.length < data.steps ? `, ${data.curve.length} drawn` : ""})`}</figcaption>
  </figure>`;
}

function Checkpoints({ app, data }) {
  const { nav } = app;
  if (!data.checkpoints.length) return html`<div class="inb-faint">No checkpoint yet (one is saved every checkpoint_every steps).</div>`;
  return html`<ul class="inb-run-checkpoints">${data.checkpoints.map((c) => html`<li key=${c.lora} data-lora=${c.lora}>
    <span class="inb-run-ck-step">${checkpointLabel(c)}</span><code class="inb-mono">${c.lora}</code>
    ${nav ? html`<button class="inb-btn inb-btn-sm" type="button" title="Open the Order panel with the base model and this LoRA"
        onClick=${() => nav.go("order", checkpointPayload(data.run, c))}>Use this checkpoint</button>`
      : html`<input class="inb-input inb-run-ck-code" readonly aria-label=${`Code for ${c.lora}`}
        value=${`studio.order("${data.run.base_model}", prompt="…", loras="${c.lora}")`} onFocus=${(e) => e.target.select()} />`}
  </li>`)}</ul>`;
}

function Samples({ app, data }) {
  const thumbs = useStore(app.store, (s) => (s.runPage ? s.runPage.urls : {}));
  const groups = samplesByStep(data.samples);
  if (!groups.length) return html`<div class="inb-faint">No samples (train with sample_prompts and sample_every to see the style form).</div>`;
  return html`<div class="inb-run-samples">${groups.map((g) => html`<div key=${g.step} class="inb-run-sample-step">
    <div class="inb-run-sample-label">step ${g.step}</div>
    <div class="inb-run-sample-row">${g.items.map((s) => html`<div key=${s.id} class="inb-thumb" title=${s.prompt || ""} data-product=${s.id}>
      ${thumbs[s.id] ? html`<img src=${thumbs[s.id]} alt=${s.prompt || ""} />` : null}</div>`)}</div>
  </div>`)}</div>`;
}

/** The page of the run whose "Details" was pressed (a modal; Escape closes it). */
export function RunPage({ app }) {
  const p = useStore(app.store, (s) => s.runPage);
  if (!p) return null;
  const close = () => app.actions.closeRun();
  const d = p.data;
  return html`<div class="inb-modal-backdrop" onClick=${(e) => { if (e.target === e.currentTarget) close(); }}
      onKeyDown=${(e) => { if (e.key === "Escape") { e.stopPropagation(); close(); } }}>
    <div class="inb-modal inb-run-page" role="dialog" aria-label="Training run">
      <div class="inb-modal-head"><strong>LoRA ${d ? d.lora : ""}</strong>
        ${d && d.run ? html`<span class="inb-muted">${d.run.base_model} · ${d.run.status} · step ${d.run.step} / ${d.run.total}</span>` : null}
        <button class="inb-btn inb-btn-sm" type="button" title="Read the run again" onClick=${() => app.actions.openRun(p.run_id)}>Refresh</button>
        <button class="inb-btn inb-btn-icon" type="button" title="Close" aria-label="Close" style="margin-left:auto" onClick=${close}>×</button></div>
      <div class="inb-modal-body">
        ${p.error ? html`<div class="inb-field-error" role="alert">${p.error}</div>` : !d ? html`<div class="inb-faint">Loading the run…</div>` : html`
          <h4>Loss</h4><${Curve} data=${d} />
          <h4>Checkpoints</h4><${Checkpoints} app=${app} data=${d} />
          <h4>Samples</h4><${Samples} app=${app} data=${d} />`}
      </div>
    </div></div>`;
}
