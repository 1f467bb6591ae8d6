// The Production panel's state and every text derived from it (pure: node can test it).

/**
 * Mirrors imagen_nb/ui/production.py (times are seconds since the epoch):
 * @typedef {{ queued: number, running: number, complete: number, failed: number, cancelled: number }} Counts
 * @typedef {{ id: string, model: string, project_id: string|null, project: string|null,
 *             status: "pending"|"processing"|"underway"|"fulfilled"|"cancelled"|"failed",
 *             prompt: string|null, total: number, counts: Counts, progress: number,
 *             created: number|null, started: number|null, finished: number|null }} Order
 * @typedef {{ id: string, seq?: number, status?: "queued"|"running"|"complete"|"failed"|"cancelled",
 *             label?: string, started?: number|null, finished?: number|null, duration?: number|null,
 *             attempts?: number, error_type?: string|null, error_message?: string|null,
 *             product_id?: string|null, products?: number, step?: number|null, total?: number|null,
 *             position?: number|null }} Gen   (a push may carry only some fields)
 * @typedef {{ id: string, status: string, ids: string[], offset: number, hasMore: boolean,
 *             loading: boolean }} Expanded
 * @typedef {{ loaded: boolean, loadError: string|null, orders: Object<string, Order>, orderIds: string[],
 *             hasMore: boolean, loadingMore: boolean, active: number, paused: string|null,
 *             cluster: {workers: number, gpus: number, dashboard: string|null}|null, skew: number,
 *             expanded: Expanded|null, gens: Object<string, Gen>, thumbs: Object<string, string>,
 *             details: object|null, flash: string|null, runs: Object<string, Run>, runIds: string[],
 *             refinements: Object<string, import("./refinements.js").Refinement>, refinementIds: string[] }} State
 * @typedef {{ id: string, name: string, base_model: string,
 *             status: "pending"|"training"|"completed"|"cancelled"|"interrupted"|"failed",
 *             step: number, total: number, images: number, loss: number|null, lr: number|null,
 *             images_per_second: number|null, eta: number|null, losses: number[], error: string|null,
 *             lora: string|null, created: number|null, finished: number|null }} Run   (a LoRA training run)
 */

import { plural, fmtSeconds } from "../lib/format.js";

export const LIVE = new Set(["pending", "processing", "underway"]);
export const ORDER_LOOK = { pending: "queued", processing: "queued", underway: "running", fulfilled: "complete",
  failed: "failed", cancelled: "cancelled" };
export const ORDER_WORD = { pending: "pending", processing: "queued", underway: "running", fulfilled: "fulfilled",
  failed: "failed", cancelled: "cancelled" };
export const FILTERS = [["", "All"], ["running", "Running"], ["queued", "Queued"], ["complete", "Complete"],
  ["failed", "Failed"], ["cancelled", "Cancelled"]];

/** @returns {State} */
export function initialState() {
  return { loaded: false, loadError: null, orders: {}, orderIds: [], hasMore: false, loadingMore: false,
    active: 0, paused: null, cluster: null, skew: 0, expanded: null, gens: {}, thumbs: {}, details: null, flash: null,
    runs: {}, runIds: [], refinements: {}, refinementIds: [], grid: null, runPage: null };
}

/** The kernel's clock minus ours, from a message's `now`. */
export function clockPatch(s, now) {
  return now ? { skew: now - Date.now() / 1000 } : {};
}

/** Orders merged in, newest first (ids are time-ordered). `onlyKnown`: drop ones not listed yet
 * unless newer than the newest shown or every order is shown (a live update). */
export function withOrders(s, list, { onlyKnown = false } = {}) {
  if (!list || !list.length) return {};
  const orders = { ...s.orders };
  let ids = s.orderIds;
  const newest = ids[0] || "";
  let added = false;
  for (const o of list) {
    if (!orders[o.id]) {
      if (onlyKnown && !(o.id > newest || !s.hasMore)) continue;
      added = true;
    }
    orders[o.id] = o;
  }
  if (added) ids = Object.keys(orders).sort().reverse();
  return { orders, orderIds: ids };
}

/** Generation deltas merged into the rows shown (others are ignored). */
export function withGens(s, list, positions) {
  let gens = null;
  for (const g of list || []) {
    if (!s.gens[g.id]) continue;
    gens = gens || { ...s.gens };
    gens[g.id] = { ...gens[g.id], ...g };
  }
  for (const [id, pos] of Object.entries(positions || {})) {
    if (!s.gens[id]) continue;
    gens = gens || { ...s.gens };
    gens[id] = { ...gens[id], position: pos };
  }
  return gens ? { gens } : {};
}

/** Counts that add up to the total: done = complete + failed + cancelled. */
export function orderCounts(o) {
  const c = o.counts;
  const live = LIVE.has(o.status);
  const parts = [];
  parts.push({ cls: "inb-production-frac", text: `${c.complete.toLocaleString()} / ${o.total.toLocaleString()} done` });
  if (c.running) parts.push({ cls: "inb-status-running", text: `${c.running.toLocaleString()} running` });
  if (c.queued && live) parts.push({ cls: "inb-status-queued", text: `${c.queued.toLocaleString()} queued` });
  if (c.failed) parts.push({ cls: "inb-status-failed", text: `${c.failed.toLocaleString()} failed` });
  if (c.cancelled) parts.push({ cls: "inb-status-cancelled", text: `${c.cancelled.toLocaleString()} cancelled` });
  return parts;
}

/** Seconds left for a live order, from its pace so far; null before the first finishes. */
export function orderEta(o, now) {
  if (!LIVE.has(o.status) || !o.started) return null;
  const c = o.counts;
  const done = c.complete + c.failed;
  const left = c.running + c.queued;
  if (!done || !left) return null;
  return ((now - o.started) / done) * left;
}

/** "took 5.0 s" for a finished order, "about 2 min left" for a live one, "" otherwise. */
export function orderTiming(o, now) {
  if (!LIVE.has(o.status)) return o.finished && o.started ? `took ${fmtSeconds(o.finished - o.started)}` : "";
  const eta = orderEta(o, now);
  return eta === null ? "" : `about ${fmtSeconds(eta)} left`;
}

/** The Retry button's label and hover text, or null when nothing can be retried. */
export function retryLabel(o) {
  const { failed, cancelled } = o.counts;
  if (!failed && !cancelled) return null;
  const label = failed && !cancelled ? `Retry ${failed} failed` : !failed ? `Retry ${cancelled} cancelled` : `Retry ${failed + cancelled}`;
  const title = `Run the ${[failed ? `${failed} failed` : "", cancelled ? `${cancelled} cancelled` : ""].filter(Boolean).join(" and ")} `
    + `${failed + cancelled === 1 ? "generation" : "generations"} again`;
  return { label, title };
}

/** What a toast says after cancelling. */
export function cancelMessage(what, dropped) {
  if (!dropped) return `Cancelling: ${what === "Order" ? "its running generations stop" : "it stops"} at the next step`;
  return what === "Order"
    ? `Order cancelled: ${plural(dropped, "queued generation")} dropped — running ones stop at their next step`
    : "Generation cancelled";
}

/** A generation's error as one line: "ValueError: the message". */
export function genError(g) {
  if (g.status !== "failed") return "";
  if (!g.error_message && !g.error_type) return "failed (no message recorded)";
  return `${g.error_type || "Error"}: ${g.error_message || ""}`;
}

export const RUN_LIVE = new Set(["pending", "training"]);
export const RUN_RESUMABLE = new Set(["cancelled", "interrupted", "failed"]);
const RUN_LOOK = { pending: "queued", training: "running", completed: "complete", cancelled: "cancelled",
  interrupted: "cancelled", failed: "failed" };

/** Training runs merged in: live ones first, then newest first (ids are time-ordered). */
export function withRuns(s, list) {
  if (!list || !list.length) return {};
  const runs = { ...s.runs };
  for (const r of list) if (r) runs[r.id] = r;
  const runIds = Object.keys(runs).sort((a, b) => (RUN_LIVE.has(runs[b].status) - RUN_LIVE.has(runs[a].status))
    || (a < b ? 1 : a > b ? -1 : 0));
  return { runs, runIds };
}

/** What a training row shows: its look, the bar's width and the figures (step, loss, lr, images/s, ETA). */
export function runFigures(r) {
  const parts = [{ key: "step", cls: "inb-production-frac", text: `step ${r.step.toLocaleString()} / ${r.total.toLocaleString()}` }];
  if (typeof r.loss === "number") parts.push({ key: "loss", text: `loss ${r.loss.toFixed(4)}` });
  if (RUN_LIVE.has(r.status)) {
    if (typeof r.lr === "number") parts.push({ key: "lr", text: `lr ${r.lr.toExponential(1)}` });
    if (typeof r.images_per_second === "number") parts.push({ key: "ips", text: `${r.images_per_second.toFixed(1)} img/s` });
    if (typeof r.eta === "number") parts.push({ key: "eta", cls: "inb-faint", text: `about ${fmtSeconds(r.eta)} left` });
  }
  const pct = r.total ? `${(100 * Math.min(r.step, r.total) / r.total).toFixed(3)}%` : "0%";
  return { look: RUN_LOOK[r.status] || "queued", pct, parts };
}

/** An SVG path of `losses` scaled into w×h (lowest at the bottom); "" for fewer than two points. */
export function sparkPath(losses, w, h) {
  const ys = (losses || []).filter((x) => typeof x === "number" && Number.isFinite(x));
  if (ys.length < 2) return "";
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  const span = hi - lo || 1;
  const dx = w / (ys.length - 1);
  return ys.map((y, i) => `${i ? "L" : "M"}${(i * dx).toFixed(1)},${(h - 1 - ((y - lo) / span) * (h - 2)).toFixed(1)}`).join("");
}

/** Refinements merged in (a list or a push), newest first. */
export function withRefinements(s, list) {
  if (!list || !list.length) return {};
  const refinements = { ...s.refinements };
  for (const f of list) refinements[f.id] = f;
  return { refinements, refinementIds: Object.keys(refinements).sort().reverse() };
}

/** A score as the rounds show it: 3 significant digits, or the round's status without one. */
export function scoreText(score, status = "done") {
  if (score === null || score === undefined) return status === "running" ? "…" : status === "done" ? "–" : "×";
  const text = Number(score).toPrecision(3);
  return text.includes(".") && !text.includes("e") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/** A round's hover text: its prompt, score and the next prompt the rewriter wrote. */
export function roundTitle(r) {
  const parts = [`Round ${r.round} (${r.status}): ${r.prompt}`];
  if (r.score !== null && r.score !== undefined) parts.push(`score ${scoreText(r.score)}`);
  if (r.next_prompt) parts.push(`next: ${r.next_prompt}`);
  return parts.join(" — ");
}

/** "instant:swatch judged by …, rewritten by …; 2 prompts × 3 rounds, stop at 8". */
export function refinementLine(f) {
  const stop = f.stop_at !== null && f.stop_at !== undefined ? `, stop at ${scoreText(f.stop_at)}` : "";
  return `${f.model} judged by ${f.judge}, rewritten by ${f.rewriter}; ${plural(f.items.length, "prompt")} × `
    + `${plural(f.iterations, "round")}${stop}`;
}

// An order's comparison grid (issue 13), shown inline when Production stands alone.

/** Whether an order row offers "Grid": more than one generation and a product to show. */
export function gridOffered(o) {
  return !!o && o.total > 1 && o.counts.complete > 0;
}

/** The grid's table for layer `z`: column labels, and rows of cells (null where nothing was made).
 *  An axis that is absent is one unlabelled column or row. */
export function gridMatrix(layout, z = 0) {
  const xs = layout.axes.x ? layout.axes.x.labels : [""];
  const ys = layout.axes.y ? layout.axes.y.labels : [""];
  const at = new Map();
  for (const c of layout.cells) if ((c.z || 0) === z) at.set(`${c.y || 0}:${c.x || 0}`, c);
  return { cols: xs, rows: ys.map((label, yi) => ({ label, cells: xs.map((_, xi) => at.get(`${yi}:${xi}`) || null) })) };
}

/** The grid's caption: its axes and the fixed parameters; and what was left out of a big grid. */
export function gridCaption(layout) {
  const a = layout.axes;
  const parts = [];
  if (a.x) parts.push(`x: ${a.x.name}`);
  if (a.y) parts.push(`y: ${a.y.name}`);
  if (a.z) parts.push(`z: ${a.z.name}`);
  const fixed = Object.entries(layout.fixed || {}).map(([k, v]) => `${k} = ${v}`);
  let text = parts.length ? parts.join(" · ") : "nothing varies in this order";
  if (fixed.length) text += ` — fixed: ${fixed.join(", ")}`;
  if (layout.total > layout.shown) text += ` — showing ${plural(layout.shown, "cell")} of ${layout.total.toLocaleString("en-US")}`;
  return text;
}

/** A cell's hover text: its coordinates by axis label, its status and note. */
export function gridCellTitle(layout, cell) {
  const a = layout.axes;
  const parts = [];
  for (const k of ["x", "y", "z"]) if (a[k]) parts.push(`${a[k].name} = ${a[k].labels[cell[k] || 0]}`);
  parts.push(cell.status + (cell.count > 1 ? ` (${cell.count} products)` : ""));
  if (cell.note) parts.push(cell.note);
  return parts.join("\n");
}

/** Axes with `axis` set to `name`; an axis that had `name` takes the old one (a swap, never twice). */
export function pickAxis(axes, axis, name) {
  const out = { ...axes, [axis]: name };
  for (const k of ["x", "y", "z"]) if (k !== axis && name && axes[k] === name) out[k] = axes[axis];
  return out;
}

// A training run's page (issue 16): its loss curve, samples by step, checkpoints.

/** The loss curve as an SVG path in w×h with its ranges: {path, lo, hi, first, last}; path ""
 *  for fewer than two points. Steps run left to right (their own spacing), the lowest loss at the bottom. */
export function lossCurve(curve, w, h) {
  const pts = (curve || []).filter((c) => Number.isFinite(c.loss));
  if (pts.length < 2) return { path: "", lo: null, hi: null, first: pts.length ? pts[0].step : null, last: pts.length ? pts[0].step : null };
  const lo = Math.min(...pts.map((c) => c.loss));
  const hi = Math.max(...pts.map((c) => c.loss));
  const first = pts[0].step;
  const last = pts[pts.length - 1].step;
  const span = hi - lo || 1;
  const steps = last - first || 1;
  const path = pts.map((c, i) => `${i ? "L" : "M"}${(((c.step - first) / steps) * w).toFixed(1)},`
    + `${(h - 1 - ((c.loss - lo) / span) * (h - 2)).toFixed(1)}`).join("");
  return { path, lo, hi, first, last };
}

/** Samples grouped by the step they were made at, in step order: [{step, items}]. */
export function samplesByStep(samples) {
  const groups = new Map();
  for (const s of samples || []) {
    const k = s.step === null || s.step === undefined ? "?" : s.step;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(s);
  }
  return [...groups.entries()].map(([step, items]) => ({ step, items }));
}

/** A checkpoint's label: "step 100" or "step 200 · final LoRA". */
export function checkpointLabel(c) {
  return `step ${Number(c.step).toLocaleString("en-US")}${c.final ? " · final LoRA" : ""}`;
}

/** What "Use this checkpoint" asks the Order panel for: the run's base model, and the LoRA by name. */
export function checkpointPayload(run, c) {
  return { model: run.base_model, lora: c.lora };
}
