// The Production panel: recent orders and their generations, live, on the component base.
// One store holds what the kernel said; components derive every text from it; order and
// generation rows are keyed lists, so a live update never replaces the element in focus.
// Files: state.js (store shape, derived texts), actions.js (requests), orders.js,
// generations.js, details.js (components). Python side: imagen_nb/ui/production.py.

/**
 * Requests: init() -> {orders, has_more, active, paused: string|null, now,
 *   cluster: {workers, gpus, dashboard}|null (a Dask cluster serves the studio; null on threads)}; orders({limit, before, ids}) -> {orders, has_more, now};
 *   generations({order_id, offset, limit, status}) -> {order_id, offset, items: Gen[], has_more, now};
 *   unwatch({order_id}); generation({generation_id}) -> GenDetail (+ thumbnail buffer);
 *   thumbs({product_ids}) -> {items: {id: {buf, type}}}; cancel({order_id} | {generation_id}) -> {dropped};
 *   retry({order_id, generation_ids?}) -> {retried, order: Order}; code({order_id}) -> {code};
 *   cancel_training({run_id}) -> {cancelled}; resume_training({run_id}) -> {run: Run}
 *   (init's reply and "update" pushes carry training: Run[], the LoRA training runs)
 *   refinements({limit}) -> {refinements: Refinement[]}; cancel_refinement({refinement_id}) -> {refinement}
 *   training_page({run_id}) -> {run, config, curve, steps, checkpoints, samples (+ buffers: thumbs), lora}
 *   grid({order_id, x?, y?, z?}) -> {title, axes, choices, fixed, cells, total, shown} (studio.views.grid_layout; errors at grid_x/y/z)
 * Pushes: "update" {now, orders?: Order[], gens?: Gen[], positions?: {id: number|null}};
 *   "activity" {active} (also the Studio tab's badge); "notice" {paused: string|null} (the queue
 *   paused, e.g. the disk is full, or resumed: null); "refinements" {refinements: Refinement[]} (ones that moved)
 * @typedef {import("./state.js").State} State
 */

import { html, render } from "../lib/view.js";
import { createStore, useStore } from "../lib/store.js";
import { plural } from "../lib/format.js";
import { initialState } from "./state.js";
import { createActions } from "./actions.js";
import { OrderList } from "./orders.js";
import { RefinementList } from "./refinements.js";
import { Details } from "./details.js";
import { TrainingList } from "./training.js";
import { OrderGrid } from "./grid.js";
import { RunPage } from "./run.js";

function Summary({ app }) {
  const active = useStore(app.store, (s) => s.active);
  return html`<span class="inb-production-summary inb-muted">
    ${active ? html`<span class="inb-production-pulse" aria-hidden="true"></span>${plural(active, "active generation")}`
      : "Idle — every order is done"}</span>`;
}

// The Dask cluster serving the studio, when one does: workers, GPUs, the dashboard link.
function Cluster({ app }) {
  const cluster = useStore(app.store, (s) => s.cluster);
  if (!cluster) return null;
  return html`<span class="inb-production-cluster inb-muted">
    Dask: ${plural(cluster.workers, "worker")}, ${plural(cluster.gpus, "GPU")}${cluster.dashboard
      ? html` · <a href=${cluster.dashboard} target="_blank" rel="noopener">dashboard</a>` : null}</span>`;
}

// Why no new generation starts (the home's disk is full…), until the queue resumes.
function Paused({ app }) {
  const paused = useStore(app.store, (s) => s.paused);
  return paused ? html`<div class="inb-production-notice" role="status"><strong>Paused. </strong>${paused}</div>` : null;
}

function Production({ app }) {
  return html`
    <div class="inb-panel-head"><div class="inb-panel-title">Production</div><${Summary} app=${app} /><${Cluster} app=${app} /></div>
    <${Paused} app=${app} />
    <div class="inb-panel-body inb-production-body"><${TrainingList} app=${app} /><${RefinementList} app=${app} /><${OrderList} app=${app} /></div>
    <${OrderGrid} app=${app} />
    <${RunPage} app=${app} />
    <${Details} app=${app} />`;
}

function mount(ctx) {
  const el = document.createElement("div");
  el.className = "inb-panel inb-production";
  ctx.el.append(el);
  const store = createStore(initialState());
  const actions = createActions({
    call: ctx.call,
    toast: (message, opts) => INB.toast(ctx.root, message, opts),
    error: (err) => INB.showError(ctx.root, err),
    blobUrl: INB.blobUrl,
    release: INB.release,
    copy: (text) => INB.copyText(ctx.root, text),
    activeElement: () => el.getRootNode().activeElement || document.activeElement,
    scrollTo: (id, kind = ".inb-production-order") => requestAnimationFrame(() => {
      const row = el.querySelector(`${kind}[data-id="${CSS.escape(id)}"]`);
      if (!row) return;
      row.scrollIntoView({ block: "start", behavior: "smooth" });
      const head = row.querySelector(".inb-production-orow");
      if (head) head.focus({ preventScroll: true });
    }),
  }, store);
  const app = { store, actions, nav: ctx.nav };
  render(html`<${Production} app=${app} />`, el);
  ctx.on("update", (data) => actions.update(data));
  ctx.on("activity", (data) => actions.activity(data && data.active));
  ctx.on("notice", (data) => actions.paused(data && data.paused));
  ctx.on("refinements", (data) => actions.refinements(data));
  let ready = actions.init();
  // An order to show waits for the orders; when their init failed, for the one asked again.
  let pendingReveal = null;
  const revealPending = () => {
    if (!pendingReveal || !store.get().loaded) return;
    const id = pendingReveal;
    pendingReveal = null;
    actions.reveal(id);
  };
  return {
    navigate(payload) {
      if (payload && payload.refinement_id) ready.then(() => actions.revealRefinement(payload.refinement_id));
      if (payload && payload.order_id) {
        pendingReveal = payload.order_id;
        ready.then(revealPending);
      }
    },
    shown() { if (store.get().loaded) actions.refresh(); },
    reconnected() {
      const again = actions.askAgain();
      if (again) ready = again.then(revealPending);
    },
    destroy() {
      actions.destroy();
      render(null, el);
      for (const url of Object.values(store.get().thumbs)) INB.release(url);
    },
  };
}

INB.panels.production = mount;
