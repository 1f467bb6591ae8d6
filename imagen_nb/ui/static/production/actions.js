// Production: what the panel asks the kernel, and how each answer changes the store.

/**
 * @typedef {{ call(method: string, args?: object, buffers?: ArrayBuffer[], opts?: object): Promise<{result: any, buffers: any[]}>,
 *             toast(message: string, opts?: object): void, error(err: Error): void,
 *             blobUrl(buffer: any, type: string): string, activeElement(): Element|null,
 *             copy(text: string): Promise<void>, scrollTo(orderId: string): void }} Ctx
 */

import { clockPatch, withOrders, withRuns, withRefinements, cancelMessage } from "./state.js";
import { plural } from "../lib/format.js";

const GEN_PAGE = 100;

/** The panel's actions over `store`, talking to the controller through `ctx`. */
export function createActions(ctx, store) {
  const set = store.set;
  const get = store.get;

  async function loadGens(fresh) {
    const ex = get().expanded;
    if (!ex || (ex.loading && !fresh)) return;
    const offset = fresh ? 0 : ex.offset;
    set({ expanded: { ...ex, loading: true } });
    try {
      const { result } = await ctx.call("generations", { order_id: ex.id, offset, limit: GEN_PAGE, status: ex.status || null });
      set((s) => {
        if (!s.expanded || s.expanded.id !== ex.id || s.expanded.status !== ex.status) return null;
        const gens = fresh ? {} : { ...s.gens };
        for (const g of result.items) gens[g.id] = g;
        const ids = [...(fresh ? [] : s.expanded.ids), ...result.items.map((g) => g.id)];
        return { ...clockPatch(s, result.now), gens,
          expanded: { ...s.expanded, ids, offset: offset + result.items.length, hasMore: result.has_more, loading: false } };
      });
    } catch (err) {
      set((s) => (s.expanded ? { expanded: { ...s.expanded, loading: false } } : null));
      ctx.error(err);
    }
  }

  function collapse() {
    const ex = get().expanded;
    if (!ex) return;
    set({ expanded: null, gens: {} });
    ctx.call("unwatch", { order_id: ex.id }).catch(() => {});
  }

  // Thumbnails load when their row scrolls into view, 100 at most per request.
  let wanted = new Set();
  let gridSeq = 0;
  let runSeq = 0;
  let timer = null;
  const watched = new Map();
  async function fetchThumbs() {
    timer = null;
    const have = get().thumbs;
    const ids = [...wanted].filter((id) => !have[id]).slice(0, 100);
    wanted = new Set();
    if (!ids.length) return;
    try {
      const { result, buffers } = await ctx.call("thumbs", { product_ids: ids });
      set((s) => {
        const thumbs = { ...s.thumbs };
        for (const [id, t] of Object.entries(result.items)) thumbs[id] = ctx.blobUrl(buffers[t.buf], t.type);
        return { thumbs };
      });
    } catch (err) { /* thumbnails are decoration: the rows stay usable */ }
  }
  function want(productId) {
    wanted.add(productId);
    if (!timer) timer = setTimeout(fetchThumbs, 60);
  }
  const observer = typeof IntersectionObserver === "function"
    ? new IntersectionObserver((items) => {
      for (const item of items) {
        if (!item.isIntersecting) continue;
        const productId = watched.get(item.target);
        observer.unobserve(item.target);
        watched.delete(item.target);
        if (productId) want(productId);
      }
    }, { rootMargin: "200px" })
    : null;

  const actions = {
    async init() {
      try {
        const { result } = await ctx.call("init");
        set((s) => ({ ...clockPatch(s, result.now), ...withOrders({ ...s, hasMore: result.has_more }, result.orders),
          hasMore: result.has_more, active: result.active, paused: result.paused || null, cluster: result.cluster || null, loaded: true,
          loadError: null, ...withRuns(s, result.training) }));
      } catch (err) {
        set({ loadError: err.message });
      }
      await actions.loadRefinements();
    },
    /**
     * The kernel answers again (common.js): what met a busy kernel first is asked again (the
     * orders, an open grid, an open run page). Returns the init's promise when it asks again.
     */
    askAgain() {
      const s = get();
      if (s.grid && s.grid.error && !s.grid.layout) actions.gridAxes(s.grid.axes);
      if (s.runPage && s.runPage.error && !s.runPage.data) actions.openRun(s.runPage.run_id);
      return s.loadError ? actions.init() : null;
    },
    async loadRefinements() {
      try {
        const { result } = await ctx.call("refinements", { limit: 20 });
        set((s) => withRefinements(s, result.refinements));
      } catch (err) { /* the orders stay usable without the refinement rows */ }
    },
    /** A push: refinements that moved. */
    refinements(data) { set((s) => withRefinements(s, data && data.refinements)); },
    async cancelRefinement(id) {
      try {
        const { result } = await ctx.call("cancel_refinement", { refinement_id: id });
        set((s) => withRefinements(s, [result.refinement]));
        ctx.toast("Refinement cancelled: its running orders stop, what is done stays");
      } catch (err) {
        ctx.error(err);
      }
    },
    async refresh() {
      try {
        const n = get().orderIds.length;
        const { result } = await ctx.call("orders", { limit: Math.max(50, Math.min(500, n)) });
        set((s) => ({ ...clockPatch(s, result.now), ...withOrders(s, result.orders) }));
      } catch (err) { /* the live updates keep the rows right meanwhile */ }
      await actions.loadRefinements();
    },
    async loadMore() {
      const ids = get().orderIds;
      set({ loadingMore: true });
      try {
        const { result } = await ctx.call("orders", { limit: 50, before: ids[ids.length - 1] || null });
        set((s) => ({ ...clockPatch(s, result.now), ...withOrders(s, result.orders), hasMore: result.has_more }));
      } catch (err) {
        ctx.error(err);
      } finally {
        set({ loadingMore: false });
      }
    },
    /** A live update: changed orders, generation deltas, queue positions. */
    update(data) {
      if (!get().loaded) return; // the init reply is newer than anything before it
      set((s) => {
        const patch = { ...clockPatch(s, data.now), ...withOrders(s, data.orders, { onlyKnown: true }), ...withRuns(s, data.training) };
        let gens = s.gens;
        for (const g of data.gens || []) if (gens[g.id]) { gens = gens === s.gens ? { ...gens } : gens; gens[g.id] = { ...gens[g.id], ...g }; }
        for (const [id, pos] of Object.entries(data.positions || {})) {
          if (gens[id]) { gens = gens === s.gens ? { ...gens } : gens; gens[id] = { ...gens[id], position: pos }; }
        }
        if (gens !== s.gens) patch.gens = gens;
        return patch;
      });
    },
    activity(active) { set({ active: active || 0 }); },
    paused(message) { set({ paused: message || null }); },
    async toggle(id) {
      const ex = get().expanded;
      if (ex && ex.id === id) return collapse();
      if (ex) collapse();
      set({ expanded: { id, status: "", ids: [], offset: 0, hasMore: false, loading: true }, gens: {} });
      await loadGens(true);
      return undefined;
    },
    filter(status) {
      const ex = get().expanded;
      if (!ex || ex.status === status) return;
      set({ expanded: { ...ex, status, ids: [], offset: 0, hasMore: false }, gens: {} });
      loadGens(true);
    },
    loadGens,
    watchThumb(el, productId) {
      if (!el) return undefined;
      if (!observer) { want(productId); return undefined; }
      watched.set(el, productId);
      observer.observe(el);
      return () => { observer.unobserve(el); watched.delete(el); };
    },
    async cancel(target, what) {
      try {
        const { result } = await ctx.call("cancel", target);
        ctx.toast(cancelMessage(what, result.dropped));
      } catch (err) {
        ctx.error(err);
      }
    },
    async retry(orderId, generationIds = null) {
      try {
        const { result } = await ctx.call("retry", { order_id: orderId, generation_ids: generationIds });
        if (result.order) set((s) => withOrders(s, [result.order]));
        ctx.toast(`${plural(result.retried, "generation")} queued again`);
      } catch (err) {
        ctx.error(err);
      }
    },
    async cancelTraining(runId) {
      try {
        const { result } = await ctx.call("cancel_training", { run_id: runId });
        ctx.toast(result.cancelled ? "Training stops after this step; a checkpoint is saved there" : "This run is not training");
      } catch (err) {
        ctx.error(err);
      }
    },
    async resumeTraining(runId) {
      try {
        const { result } = await ctx.call("resume_training", { run_id: runId });
        if (result.run) set((s) => withRuns(s, [result.run]));
        ctx.toast("Training resumes from its last checkpoint");
      } catch (err) {
        ctx.error(err);
      }
    },
    async copyCode(orderId) {
      try {
        const { result } = await ctx.call("code", { order_id: orderId });
        await ctx.copy(result.code);
      } catch (err) {
        ctx.error(err);
      }
    },
    async openDetails(id) {
      const back = ctx.activeElement();
      try {
        const { result: d, buffers } = await ctx.call("generation", { generation_id: id });
        const thumb = d.thumb !== null && d.thumb !== undefined ? ctx.blobUrl(buffers[d.thumb], d.thumb_type || "image/webp") : "";
        set({ details: { d, thumb, back } });
      } catch (err) {
        ctx.error(err);
      }
    },
    closeDetails() {
      const details = get().details;
      set({ details: null });
      if (details && details.back && details.back.isConnected) details.back.focus();
    },
    /** Show an order: fetch it when it is not listed, expand it, scroll to it, flash it. */
    async reveal(orderId) {
      if (!get().orders[orderId]) {
        try {
          const { result } = await ctx.call("orders", { ids: [orderId] });
          set((s) => withOrders(s, result.orders));
        } catch (err) {
          ctx.error(err);
          return;
        }
      }
      const ex = get().expanded;
      if (!ex || ex.id !== orderId) await actions.toggle(orderId);
      set({ flash: orderId });
      setTimeout(() => set((s) => (s.flash === orderId ? { flash: null } : null)), 1400);
      ctx.scrollTo(orderId);
    },
    // -- a training run's page (issue 16)
    async openRun(runId) {
      const old = get().runPage;
      const mine = (runSeq += 1);
      if (!old || old.run_id !== runId) set({ runPage: { run_id: runId, data: null, error: null, urls: {} } });
      try {
        const { result, buffers } = await ctx.call("training_page", { run_id: runId });
        if (mine !== runSeq || !get().runPage) return;
        const urls = {};
        for (const s of result.samples) if (s.thumb !== null && s.thumb !== undefined) urls[s.id] = ctx.blobUrl(buffers[s.thumb], s.mime || "image/webp");
        const prev = get().runPage.urls;
        set({ runPage: { run_id: runId, data: result, error: null, urls } });
        for (const u of Object.values(prev)) ctx.release(u);
      } catch (err) {
        if (mine === runSeq && get().runPage) set((s) => ({ runPage: { ...s.runPage, error: (err.info && err.info.message) || String(err) } }));
      }
    },
    closeRun() {
      runSeq += 1;
      const p = get().runPage;
      if (p) for (const u of Object.values(p.urls)) ctx.release(u);
      set({ runPage: null });
    },

    // -- an order's grid (issue 13), when the panel stands alone
    wantThumb: (id) => want(id),
    async openGrid(orderId) {
      set({ grid: { order_id: orderId, layout: null, error: null, z: 0, axes: {} } });
      await actions.gridAxes({});
    },
    async gridAxes(axes) {
      const g = get().grid;
      if (!g) return;
      const mine = (gridSeq += 1);
      try {
        const { result } = await ctx.call("grid", { order_id: g.order_id, x: axes.x || null, y: axes.y || null, z: axes.z || null });
        if (mine !== gridSeq || !get().grid) return;
        set((s) => ({ grid: { ...s.grid, layout: result, error: null, axes,
          z: result.axes.z && s.grid.z < result.axes.z.labels.length ? s.grid.z : 0 } }));
      } catch (err) {
        if (mine === gridSeq && get().grid) set((s) => ({ grid: { ...s.grid, error: (err.info && err.info.message) || String(err) } }));
      }
    },
    gridRefresh() { const g = get().grid; if (g) actions.gridAxes(g.axes); },
    gridLayer(z) { set((s) => (s.grid ? { grid: { ...s.grid, z } } : null)); },
    closeGrid() { gridSeq += 1; set({ grid: null }); },
    /** Show a refinement (one started from the Order panel): load the rows, scroll to it, flash it. */
    async revealRefinement(id) {
      if (!get().refinements[id]) await actions.loadRefinements();
      if (!get().refinements[id]) return;
      set({ flash: id });
      setTimeout(() => set((s) => (s.flash === id ? { flash: null } : null)), 1400);
      ctx.scrollTo(id, ".inb-refine");
    },
    destroy() {
      if (observer) observer.disconnect();
      clearTimeout(timer);
      const ex = get().expanded;
      if (ex) ctx.call("unwatch", { order_id: ex.id }).catch(() => {});
    },
  };
  return actions;
}
