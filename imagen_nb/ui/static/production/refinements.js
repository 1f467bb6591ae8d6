// Production: refinements (studio.refine), one row each with its prompts and their rounds.

/**
 * Mirrors imagen_nb/ui/refinement_rows.py:
 * @typedef {{ round: number, status: "running"|"done"|"failed"|"cancelled", score: number|null,
 *             prompt: string, next_prompt: string|null, product_id: string|null }} Round
 * @typedef {{ item: number, title: string|null, prompt: string, status: string, reason: string|null,
 *             best_score: number|null, best_product_id: string|null, rounds: Round[] }} RefineItem
 * @typedef {{ id: string, status: "running"|"done"|"cancelled"|"failed", model: string, judge: string,
 *             rewriter: string, scorer: string, iterations: number, stop_at: number|null, created: number|null,
 *             rounds_done: number, rounds_max: number, error: string|null, items: RefineItem[] }} Refinement
 */

import { html, cx } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { plural } from "../lib/format.js";
import { roundTitle, refinementLine, scoreText } from "./state.js";

const LOOK = { running: "running", done: "complete", failed: "failed", cancelled: "cancelled", stopped: "complete" };

/** One prompt of a refinement: its label, a cell per round (score, status), its outcome. */
function ItemRow({ item, iterations }) {
  const cells = [];
  for (let n = 1; n <= iterations; n += 1) {
    const r = item.rounds.find((x) => x.round === n);
    cells.push(r
      ? html`<span key=${n} class=${cx("inb-refine-round", `inb-status-${LOOK[r.status] || "queued"}`,
          r.product_id && r.product_id === item.best_product_id && "inb-refine-best")} title=${roundTitle(r)}>
          ${scoreText(r.score, r.status)}</span>`
      : html`<span key=${n} class="inb-refine-round inb-refine-later" title=${`Round ${n}: not run`}>·</span>`);
  }
  const label = item.title || item.prompt;
  return html`<div class="inb-refine-item" role="listitem" data-item=${item.item}>
    <span class="inb-refine-label" title=${item.prompt}>${label}</span>
    <span class="inb-refine-rounds">${cells}</span>
    <span class=${`inb-refine-outcome inb-status-${LOOK[item.status] || "queued"}`} title=${item.reason || ""}>
      ${item.status}${item.best_score !== null ? ` · best ${scoreText(item.best_score)}` : ""}</span>
  </div>`;
}

/** One refinement: status, models, rounds done of the most, cancel; its prompts below. */
export function RefinementRow({ app, id }) {
  const { store, actions } = app;
  const f = useStore(store, (s) => s.refinements[id]);
  const flash = useStore(store, (s) => s.flash === id);
  const live = f.status === "running";
  return html`<div class=${cx("inb-refine", live && "inb-production-live", flash && "inb-production-flash")} role="listitem" data-id=${id}
      data-status=${f.status}>
    <div class="inb-refine-head">
      <span class=${`inb-production-state inb-status inb-status-${LOOK[f.status] || "queued"}`}>
        ${f.status === "done" ? "refined" : f.status}</span>
      <span class="inb-refine-what" title=${refinementLine(f)}>${refinementLine(f)}</span>
      <span class="inb-production-counts inb-muted">${f.rounds_done} / ${plural(f.rounds_max, "round")}</span>
      ${live ? html`<button class="inb-btn inb-btn-sm inb-btn-danger"
        title="Stop every prompt of this refinement now (what is done stays)"
        onClick=${() => actions.cancelRefinement(id)}>Cancel</button>` : null}
    </div>
    ${f.error ? html`<div class="inb-refine-error inb-status-failed">${f.error}</div>` : null}
    <div class="inb-refine-items" role="list">
      ${f.items.map((item) => html`<${ItemRow} key=${item.item} item=${item} iterations=${f.iterations} />`)}
    </div>
  </div>`;
}

/** Every refinement listed, newest first (nothing at all when there is none). */
export function RefinementList({ app }) {
  const ids = useStore(app.store, (s) => s.refinementIds);
  if (!ids.length) return null;
  return html`<section class="inb-refine-list" aria-label="Refinements">
    <div class="inb-refine-caption inb-muted">Refinements</div>
    <div role="list">${ids.map((id) => html`<${RefinementRow} key=${id} app=${app} id=${id} />`)}</div>
  </section>`;
}
