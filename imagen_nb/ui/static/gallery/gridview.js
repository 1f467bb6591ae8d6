// Gallery: the grid view's requests (issue 13): lay an order or a selection out on axes, change
// and swap the axes, fetch the visible cells' thumbnails in batches, follow an order live.

/**
 * @typedef {import("./actions.js").Ctx} Ctx
 */

const errText = (err) => { const i = (err && err.info) || { message: String((err && err.message) || err) }; return i.message; };

/**
 * The grid view's actions over `store`; `leave()` closes what the grid view replaces (the
 * details view, the menu). Returns {actions, newProducts(), destroy()}.
 */
export function createGridActions(ctx, store, leave) {
  const { get, set } = store;
  let wanted = new Set();
  let timer = null;
  let refresh = null;
  const watched = new Map();

  function release(s) {
    for (const url of Object.values(s.gridThumbs || {})) if (url) ctx.release(url);
  }

  async function fetchThumbs() {
    timer = null;
    const have = get().gridThumbs;
    const ids = [...wanted].filter((id) => !(id in have)).slice(0, 100);
    const rest = [...wanted].filter((id) => !ids.includes(id) && !(id in have));
    wanted = new Set(rest);
    if (rest.length) timer = setTimeout(fetchThumbs, 0);
    if (!ids.length) return;
    try {
      const { result, buffers } = await ctx.call("thumbs", { product_ids: ids });
      set((s) => {
        if (!s.compare) return null;
        const gridThumbs = { ...s.gridThumbs };
        for (const id of ids) gridThumbs[id] = result.items[id] ? ctx.blobUrl(buffers[result.items[id].buf], result.items[id].type) : null;
        return { gridThumbs };
      });
    } catch (err) { /* thumbnails are decoration: the cells stay usable */ }
  }
  function want(id) {
    wanted.add(id);
    if (!timer) timer = setTimeout(fetchThumbs, 30);
  }
  // A cell asks for its thumbnail when it comes within 300 px of the view.
  const observer = typeof IntersectionObserver === "function"
    ? new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const id = watched.get(entry.target);
        observer.unobserve(entry.target);
        watched.delete(entry.target);
        if (id) want(id);
      }
    }, { rootMargin: "300px" })
    : null;

  /** Ask for the layout with the axes patched in; a refusal keeps the grid shown and says why. */
  async function lay(patch = {}) {
    const c0 = get().compare;
    if (!c0) return;
    const c = { ...c0, ...patch, loading: true, error: null };
    set({ compare: c });
    try {
      const { result } = await ctx.call("grid", { ...c.source, x: c.x, y: c.y, z: c.z });
      set((s) => {
        if (s.compare !== c && (!s.compare || s.compare.source !== c.source)) return null;
        const ax = result.axes;
        const zi = ax.z ? Math.min(s.compare.zi, ax.z.labels.length - 1) : 0;
        return { compare: { ...s.compare, loading: false, error: null, data: result, zi,
          x: ax.x ? ax.x.name : null, y: ax.y ? ax.y.name : null, z: ax.z ? ax.z.name : null } };
      });
    } catch (err) {
      set((s) => (s.compare && s.compare.source === c.source
        ? { compare: { ...s.compare, loading: false, error: errText(err), x: c0.x, y: c0.y, z: c0.z } } : null));
    }
  }

  const actions = {
    /** Open the grid view of an order ({order_id}) or of products ({ids}). */
    openGrid(source) {
      leave();
      set((s) => { release(s); return { compare: { source, x: null, y: null, z: null, zi: 0, loading: true, error: null, data: null }, gridThumbs: {} }; });
      lay();
    },
    /** Ask again for a grid whose first request failed (a busy kernel): nothing when it is shown. */
    retryGrid() {
      const c = get().compare;
      if (c && c.error && !c.data && !c.loading) lay();
    },
    /** Put `name` on axis `which` ("x", "y", "z"; "" takes it off): an axis already showing it swaps. */
    setAxis(which, name) {
      const c = get().compare;
      if (!c) return;
      const patch = { [which]: name || null };
      for (const other of ["x", "y", "z"]) if (other !== which && name && c[other] === name) patch[other] = c[which];
      if (!patch.x && !(which === "x" ? name : c.x)) return;
      lay(patch);
    },
    swapAxes() {
      const c = get().compare;
      if (c && c.data) lay({ x: c.y, y: c.x });
    },
    setLayer(zi) { set((s) => (s.compare ? { compare: { ...s.compare, zi } } : null)); },
    closeGrid() {
      set((s) => (s.compare || Object.keys(s.gridThumbs).length ? (release(s), { compare: null, gridThumbs: {} }) : null));
      wanted = new Set();
    },
    watchCell(el, productId) {
      if (!el || !productId) return undefined;
      if (!observer) { want(productId); return undefined; }
      watched.set(el, productId);
      observer.observe(el);
      return () => { observer.unobserve(el); watched.delete(el); };
    },
  };
  return {
    actions,
    /** New products were made: an order's grid lays itself out again (its placeholders fill in). */
    newProducts() {
      const c = get().compare;
      if (!c || !c.source.order_id) return;
      clearTimeout(refresh);
      refresh = setTimeout(() => { if (get().compare && !get().compare.loading) lay(); }, 400);
    },
    destroy() {
      if (observer) observer.disconnect();
      clearTimeout(timer);
      clearTimeout(refresh);
      release(get());
    },
  };
}
