// Order: the Refine card (issue 15): judge, rewriter, scorer, rounds, images per round, stop at
// and goal for studio.refine over the form's prompt; errors at their field. Texts from state.js.

import { html, cx } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { REFINE_LABELS, refineBlocked, refineOption, refineSummary } from "./state.js";

function Field({ app, name, help, children }) {
  const error = useStore(app.store, (s) => s.errors[`refine_${name}`]);
  const id = `inb-refine-${name}`;
  return html`<div class=${cx("inb-field inb-order-field", error && "inb-invalid")} data-field=${`refine_${name}`}>
    <label class="inb-label" for=${id} title=${help}><span class="inb-order-ltext">${REFINE_LABELS[`refine_${name}`]}</span></label>
    ${children(id)}
    ${error ? html`<div class="inb-field-error" role="alert">${error.message}</div>` : null}
  </div>`;
}

function Choice({ app, name, list, help }) {
  const r = useStore(app.store, (s) => s.refine);
  const value = r.values[name] || (r.choices && r.choices.defaults[name]) || "";
  const all = list.includes(value) || !value ? list : [value, ...list];
  return html`<${Field} app=${app} name=${name} help=${help}>${(id) => html`
    <select class="inb-select" id=${id} value=${value} onChange=${(e) => app.actions.setRefineValue(name, e.target.value)}>
      ${all.map((m) => html`<option key=${m} value=${m}>${refineOption(r.choices, m)}</option>`)}
    </select>`}<//>`;
}

function Text({ app, name, help, placeholder, multiline }) {
  const value = useStore(app.store, (s) => s.refine.values[name]);
  const onInput = (e) => app.actions.setRefineValue(name, e.target.value);
  return html`<${Field} app=${app} name=${name} help=${help}>${(id) => multiline
    ? html`<textarea class="inb-textarea" id=${id} rows="2" placeholder=${placeholder} value=${value} onInput=${onInput}></textarea>`
    : html`<input class="inb-input" id=${id} placeholder=${placeholder} spellcheck="false" autocomplete="off"
        value=${value} onInput=${onInput} />`}<//>`;
}

/** The card under the preview while Refine is open. */
export function RefineCard({ app }) {
  const r = useStore(app.store, (s) => s.refine);
  const blocked = useStore(app.store, refineBlocked);
  if (!r.open) return null;
  const c = r.choices;
  const d = (c && c.defaults) || {};
  const keyNote = c && [r.values.judge || d.judge, r.values.rewriter || d.rewriter]
    .map((m) => c.key_missing[m]).filter(Boolean)[0];
  return html`<section class="inb-order-refine" aria-label="Refine">
    <div class="inb-order-refine-head">
      <strong>Refine</strong>
      <span class="inb-muted">order → a judge rates each image → a rewriter improves the prompt → again</span>
      <button class="inb-btn inb-btn-icon" type="button" title="Close" aria-label="Close Refine"
        onClick=${() => app.actions.openRefine(false)}>×</button>
    </div>
    ${c ? html`<div class="inb-order-form inb-order-grid">
        <${Choice} app=${app} name="judge" list=${c.judges} help="An image-to-text model that describes and rates each image" />
        <${Choice} app=${app} name="rewriter" list=${c.rewriters} help="A text-to-text model that writes the next prompt" />
        <${Choice} app=${app} name="scorer" list=${c.scorers} help="What picks the best image of a round: the judge's own 1–10, or a CLIP score" />
        <${Text} app=${app} name="iterations" placeholder=${String(d.iterations ?? "")}
          help=${`Most rounds per prompt (1–${c.iterations_max})`} />
        <${Text} app=${app} name="n" placeholder=${String(d.n ?? "")} help=${`Images per round (1–${c.n_max}); the best is judged on`} />
        <${Text} app=${app} name="stop_at" placeholder="every round" help="A prompt stops once its best score reaches this" />
      </div>
      <div class="inb-order-form"><${Text} app=${app} name="goal" multiline=${true}
        placeholder="What the images should achieve (default: the prompt itself)" help="The rewriter aims at this goal" /></div>
      ${keyNote ? html`<div class="inb-order-warn" role="note">${keyNote}</div>` : null}
      <div class="inb-faint inb-order-refine-line">${refineSummary(r)}. The prompt field is the prompt to refine
        (a [a,b] list refines each); seed is set by each round.</div>`
      : html`<div class="inb-faint">${r.loadError ? `Cannot list judges: ${r.loadError}` : "Loading judges and rewriters…"}</div>`}
    <div class="inb-order-refine-foot">
      <button class="inb-btn inb-btn-primary inb-order-refine-go" type="button" disabled=${!!blocked || r.busy}
        title=${blocked || "Start the refinement (it runs in the background)"} onClick=${() => app.actions.startRefine()}>
        ${r.busy ? "Starting…" : "Start refining"}</button>
      ${blocked && c ? html`<span class="inb-faint">${blocked}</span>` : null}
    </div>
  </section>`;
}
