// Gallery: what the panel asks the kernel, and how each answer changes the store.

/**
 * @typedef {{ call(method: string, args?: object, buffers?: ArrayBuffer[], opts?: object): Promise<{result: any, buffers: any[]}>,
 *             toast(message: string, opts?: object): any, error(err: Error): void, blobUrl(buffer: any, type: string): string,
 *             release(url: string): void, copy(text: string): Promise<void>, download(blob: Blob, name: string): void,
 *             nav: { go(tab: string, payload: object): void } | null }} Ctx
 * @typedef {{ panel: HTMLElement|null, body: HTMLElement|null, sentinel: HTMLElement|null, modal: HTMLElement|null,
 *             search: HTMLInputElement|null }} Dom   (elements the components hand over as they mount)
 */

import {
  blankFilters, requestFilters, makeSection, flatSection, orderedIds, insertSorted, importSummary, collectMessage,
  gridIds, NONE, FIRST_IN_SECTION, requestSort, upscaleMessage,
} from "./state.js";
import { createGridActions } from "./gridview.js";

/** The control a request field names (the error shows there). */
const FIELD_OF = { text: "text", kind: "kind", project_id: "project", no_project: "project", collection: "collection",
  collection_id: "collection", model: "model", min_rating: "min_rating", since: "since", until: "until", group: "group",
  min_clip_score: "min_score", min_aesthetic_score: "min_score", min_judge_score: "min_score", sort: "sort" };
const FILTER_FIELDS = ["text", "kind", "project", "collection", "model", "min_rating", "since", "until", "group", "min_score", "sort"];
/** The Upscale and Train LoRA dialogs' fields (a request's field → the control that shows its error). */
const UPSCALE_FIELDS = ["upscale", "upscale_model", "upscale_scale"];
const TRAIN_FIELDS = ["train", "train_name", "train_base", "train_steps", "train_rank", "train_captions", "train_products",
  "train_resolution", "train_aspect", "train_text_encoder", "train_text_encoder_learning_rate"];
const TRAIN_FIELD_OF = { name: "train_name", base: "train_base", steps: "train_steps", rank: "train_rank", captions: "train_captions",
  products: "train_products", ids: "train_products", sql: "train_products", resolution: "train_resolution", aspect: "train_aspect",
  train_text_encoder: "train_text_encoder", text_encoder_learning_rate: "train_text_encoder_learning_rate" };
const IMAGE_FILE = /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i;
const errText = (err) => { const i = (err && err.info) || { message: String((err && err.message) || err) }; return i.column ? `${i.message} (column ${i.column})` : i.message; };

/** The panel's actions over `store`, talking to the controller through `ctx`; `dom` holds elements. */
export function createActions(ctx, store, dom) {
  const { get, set } = store;
  let epoch = 0;
  let openAfterLoad = null;
  let pointerInGrid = false;
  let destroyed = false;

  // ---- helpers -----------------------------------------------------------------------------
  function busy(delta) { set((s) => ({ busy: s.busy + delta })); }
  function setField(name, message) { set((s) => ({ fieldErrors: { ...s.fieldErrors, [name]: message } })); }
  function clearFields(names) {
    set((s) => (names.some((n) => s.fieldErrors[n] !== undefined)
      ? { fieldErrors: Object.fromEntries(Object.entries(s.fieldErrors).filter(([k]) => !names.includes(k))) } : null));
  }
  /** An error at the control its field names, or a toast. */
  function reportError(err, fallback = null) {
    const field = err && err.info && err.info.field;
    const name = (field && FIELD_OF[field]) || fallback;
    if (name) setField(name, errText(err)); else ctx.error(err);
  }
  function updateSection(key, fn) {
    set((s) => ({ sections: s.sections.map((sec) => (sec.key === key ? fn(sec) : sec)) }));
  }
  /** Items and thumbnails of a page into the store; the ids in page order. */
  function register(list, buffers, s) {
    const items = { ...s.items };
    const thumbs = { ...s.thumbs };
    for (const item of list) {
      const had = items[item.id];
      items[item.id] = had ? { ...had, ...item, thumb: had.thumb } : item;
      if (!(item.id in thumbs)) {
        const data = item.thumb === null || item.thumb === undefined ? null : buffers[item.thumb];
        thumbs[item.id] = data ? ctx.blobUrl(data, item.thumb_type || "image/webp") : null;
      }
    }
    return { items, thumbs };
  }
  function releaseAll(thumbs, keep = {}) {
    for (const [id, url] of Object.entries(thumbs)) if (url && keep[id] !== url) ctx.release(url);
  }

  // ---- scrolling: one page first, more as the end comes near -------------------------------
  const scrolled = () => !!dom.body && dom.body.scrollTop > 0;
  const overflowing = () => !!dom.body && dom.body.scrollHeight > dom.body.clientHeight + 1;
  function nearEnd() {
    const flat = flatSection(get());
    const { body, sentinel } = dom;
    if (!flat || !body || !sentinel || flat.next === null || !sentinel.isConnected || body.clientHeight === 0) return false;
    return sentinel.getBoundingClientRect().top < body.getBoundingClientRect().bottom + 900;
  }
  // A first page that already fills the view waits for the user to scroll before the next one
  // is fetched: opening the panel or changing a filter then costs one page, not two.
  const wantMore = () => nearEnd() && (scrolled() || !overflowing());
  function moreIfWanted() {
    requestAnimationFrame(() => {
      const flat = flatSection(get());
      if (flat && !flat.loading && wantMore()) loadSection(flat.key, get().pageSize);
    });
  }
  let endWatcher = null;
  let sectionWatcher = null;
  const sectionEls = new Map();
  let scrollCheck = 0;

  // ---- loading -------------------------------------------------------------------------------
  async function loadSection(key, limit, at = epoch) {
    const sec = get().sections.find((x) => x.key === key);
    if (!sec || sec.loading || sec.next === null) return true;
    updateSection(key, (x) => ({ ...x, loading: true }));
    try {
      const { result, buffers } = await ctx.call("page", {
        filters: { ...sec.base, ...sec.filter }, offset: sec.next, limit, total: sec.total === null, sort: requestSort(get().sort),
      });
      if (at !== epoch) return false;
      set((s) => {
        const reg = register(result.items, buffers, s);
        return { ...reg, sections: s.sections.map((x) => {
          if (x.key !== key) return x;
          const ids = [...x.ids];
          for (const item of result.items) if (!ids.includes(item.id)) ids.push(item.id);
          return { ...x, ids, next: result.next_offset, total: result.total !== null ? result.total : x.total,
            loaded: true, loading: false, error: null };
        }) };
      });
      return true;
    } catch (err) {
      if (at === epoch) {
        updateSection(key, (x) => ({ ...x, loading: false, error: errText(err) }));
        if (sec.loaded || sec.group) reportError(err);
      }
      return false;
    } finally {
      if (at === epoch && !sec.group) moreIfWanted();
    }
  }

  async function reload() {
    const at = ++epoch;
    const s0 = get();
    const base = requestFilters(s0.filters);
    busy(1);
    set({ pendingNew: 0 });
    actions.clearSelection();
    try {
      if (!s0.groupBy) {
        const { result, buffers } = await ctx.call("page", { filters: base, offset: 0, limit: s0.pageSize, total: true, sort: requestSort(s0.sort) });
        if (at !== epoch) return;
        set((s) => {
          const reg = register(result.items, buffers, { items: {}, thumbs: {} });
          releaseAll(s.thumbs);
          const sec = { ...makeSection(null, base, at), ids: result.items.map((i) => i.id), next: result.next_offset,
            total: result.total, loaded: true };
          return { ...reg, sections: [sec], total: result.total, fresh: new Set() };
        });
      } else {
        const { result } = await ctx.call("groups", { by: s0.groupBy, filters: base });
        if (at !== epoch) return;
        set((s) => {
          releaseAll(s.thumbs);
          return { items: {}, thumbs: {}, sections: result.groups.map((g) => makeSection(g, base, at)), total: result.total, fresh: new Set() };
        });
      }
      clearFields(FILTER_FIELDS);
      if (dom.body) dom.body.scrollTop = 0;
      moreIfWanted();
      const want = openAfterLoad;
      openAfterLoad = null;
      if (want) actions.openDetails(want);
    } catch (err) {
      // Keep what is on screen; the error shows at the control that caused it.
      if (at === epoch) reportError(err);
    } finally {
      busy(-1);
    }
  }

  async function refreshOptions() {
    try {
      const { result } = await ctx.call("options");
      set({ options: result });
    } catch (err) { /* menus stay as they were; the next action reports real problems */ }
  }

  // ---- selection -------------------------------------------------------------------------------
  let sentSelection = "";
  let selTimer = null;
  function sendSelection() {
    clearTimeout(selTimer);
    selTimer = setTimeout(() => {
      const ids = [...get().selection];
      if (ids.join(",") === sentSelection) return;
      sentSelection = ids.join(",");
      ctx.call("select", { ids }).catch(() => { sentSelection = null; });
    }, 150);
  }
  store.subscribe((() => { let last = get().selection; return (s) => { if (s.selection !== last) { last = s.selection; sendSelection(); } }; })());

  // ---- new products, live --------------------------------------------------------------------
  const newQueue = [];
  let newBusy = false;
  function canPrepend() {
    const s = get();
    const flat = flatSection(s);
    // (sorted by a score, a new product's place is not the top: it waits in the "new" notice)
    return !!flat && flat.loaded && (!dom.body || dom.body.scrollTop < 4) && !pointerInGrid && !s.selection.size
      && !s.details && !s.menu && !s.compare && !s.dialog && !s.sort;
  }
  async function drainNew() {
    if (newBusy) return;
    newBusy = true;
    try {
      while (newQueue.length) {
        const ids = newQueue.splice(0, 200);
        const at = epoch;
        const s = get();
        const flat = flatSection(s);
        if (canPrepend()) {
          const { result, buffers } = await ctx.call("page", { filters: { ...flat.base, ids }, limit: ids.length, total: false });
          if (at !== epoch || !result.items.length) continue;
          set((st) => {
            const cur = flatSection(st);
            if (!cur) return null;
            const fresh = result.items.filter((item) => !cur.ids.includes(item.id));
            if (!fresh.length) return null;
            const reg = register(fresh, buffers, st);
            const n = fresh.length;
            const sec = { ...cur, ids: [...fresh.map((i) => i.id), ...cur.ids], next: cur.next === null ? null : cur.next + n,
              total: (cur.total || 0) + n };
            return { ...reg, sections: [sec], total: sec.total, fresh: new Set(fresh.map((i) => i.id)),
              options: st.options ? { ...st.options, total: st.options.total + n } : st.options };
          });
        } else {
          if (!s.sections.length) continue;
          const base = flat ? flat.base : s.sections[0].base;
          const { result } = await ctx.call("page", { filters: { ...base, ids }, limit: 0, total: true });
          if (at !== epoch || !result.total) continue;
          set((st) => ({ pendingNew: st.pendingNew + result.total }));
        }
      }
    } catch (err) {
      console.warn("imagen-nb gallery: could not fetch new products", err);
    } finally {
      newBusy = false;
    }
  }
  function flushNewWhenFree() {
    if (get().pendingNew && canPrepend()) reload();
  }

  const actions = {
    reportError,
    clearFields,
    // ---- start, filters, grouping ----
    async init() {
      const at = ++epoch;
      busy(1);
      try {
        const base = requestFilters(get().filters);
        const { result, buffers } = await ctx.call("init", { filters: base, limit: 60, sort: requestSort(get().sort) });
        set({ pageSize: result.page_size, options: result.options, started: true, loadError: null });
        if (at !== epoch) return; // navigate() asked for something else meanwhile
        if (get().groupBy) { reload(); return; }
        set((s) => {
          const reg = register(result.page.items, buffers, s);
          const sec = { ...makeSection(null, base), ids: result.page.items.map((i) => i.id), next: result.page.next_offset,
            total: result.page.total, loaded: true };
          return { ...reg, sections: [sec], total: result.page.total };
        });
        moreIfWanted();
      } catch (err) {
        set({ loadError: err.message });
      } finally {
        busy(-1);
      }
    },
    reload,
    refreshOptions,
    loadSection,
    setFilter(key, value) {
      set((s) => ({ filters: { ...s.filters, [key]: value } }));
      if (get().compare) actions.closeGrid(); // a filter asks for the products it matches
      clearFields(FILTER_FIELDS);
      reload();
    },
    setGroup(by) { actions.closeGrid(); set({ groupBy: by }); reload(); },
    /** Sort by a score (highest first, unscored last) or "" for newest first. */
    setSort(sort) { actions.closeGrid(); clearFields(["sort"]); set({ sort }); reload(); },
    clearFilters() { actions.closeGrid(); set({ filters: blankFilters() }); reload(); },
    /** Show only one group's products, ungrouped. */
    focusGroup(group) {
      const f = group.filter;
      set((s) => {
        const filters = { ...s.filters };
        if (f.project_id) filters.project = f.project_id;
        if (f.no_project) filters.project = NONE;
        if (f.collection_id) filters.collection = f.collection_id;
        if (f.no_collection) filters.collection = NONE;
        if (f.model) filters.model = f.model;
        if (f.kind) filters.kind = f.kind;
        return { filters, groupBy: "" };
      });
      reload();
    },
    /** Close the details and show the products matching `patch` (project, order…). */
    filterTo(patch) {
      actions.closeDetails(false);
      set({ filters: { ...blankFilters(), ...patch }, groupBy: "", compare: null });
      reload();
    },
    toggleCollapsed(key) { updateSection(key, (x) => ({ ...x, collapsed: !x.collapsed })); },
    /** The DOM the scrolling logic reads: the scroll body and the flat grid's end. */
    attachBody(body) {
      dom.body = body;
      if (!body || endWatcher) return;
      endWatcher = new IntersectionObserver((entries) => {
        for (const entry of entries) {
          const flat = flatSection(get());
          if (entry.isIntersecting && flat && flat.next !== null && (scrolled() || !overflowing())) loadSection(flat.key, get().pageSize);
        }
      }, { root: body, rootMargin: "0px 0px 900px 0px" });
      sectionWatcher = new IntersectionObserver((entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting) continue;
          const key = sectionEls.get(entry.target);
          const sec = get().sections.find((x) => x.key === key);
          if (sec && !sec.loaded && !sec.loading) {
            const grid = entry.target.querySelector(".inb-gallery-grid");
            const columns = grid ? Math.max(1, getComputedStyle(grid).gridTemplateColumns.split(" ").filter(Boolean).length) : 4;
            loadSection(key, Math.min(get().pageSize, Math.max(FIRST_IN_SECTION, 2 * columns)));
          }
          sectionWatcher.unobserve(entry.target);
          sectionEls.delete(entry.target);
        }
      }, { root: body, rootMargin: "400px 0px" });
    },
    watchEnd(el) {
      dom.sentinel = el;
      if (!el || !endWatcher) return undefined;
      endWatcher.observe(el);
      return () => endWatcher.unobserve(el);
    },
    watchSection(el, key) {
      if (!el || !sectionWatcher) return undefined;
      sectionEls.set(el, key);
      sectionWatcher.observe(el);
      return () => { sectionWatcher.unobserve(el); sectionEls.delete(el); };
    },
    onScroll() {
      if (scrollCheck) return;
      scrollCheck = requestAnimationFrame(() => {
        scrollCheck = 0;
        const flat = flatSection(get());
        if (flat && !flat.loading && wantMore()) loadSection(flat.key, get().pageSize);
        if (dom.body && dom.body.scrollTop < 4) flushNewWhenFree();
      });
    },
    pointer(inGrid) { pointerInGrid = inGrid; if (!inGrid) flushNewWhenFree(); },
    showNew() { if (dom.body) dom.body.scrollTop = 0; reload(); },
    newProducts(data) {
      if (destroyed) return;
      newQueue.push(...data.ids);
      drainNew();
      grid.newProducts();
    },
    flushNewWhenFree,

    // ---- selection ----
    toggleSelect(id, range) {
      set((s) => {
        const selection = new Set(s.selection);
        if (range && s.anchor && s.anchor !== id) {
          const ids = orderedIds(s);
          const [a, b] = [ids.indexOf(s.anchor), ids.indexOf(id)].sort((x, y) => x - y);
          if (a >= 0) for (const other of ids.slice(a, b + 1)) selection.add(other);
        } else if (selection.has(id)) selection.delete(id); else selection.add(id);
        return { selection, anchor: id };
      });
    },
    selectAllOnPage() { set((s) => ({ selection: new Set(orderedIds(s)) })); },
    clearSelection() { set((s) => (s.selection.size || s.anchor ? { selection: new Set(), anchor: null } : null)); },

    // ---- changes ----
    async rate(ids, rating, field = null) {
      if (!ids.length) return;
      try {
        await ctx.call("rate", { ids, rating });
        if (field) clearFields([field]);
        set((s) => {
          const items = { ...s.items };
          for (const id of ids) if (items[id]) items[id] = { ...items[id], rating };
          const details = s.details && ids.includes(s.details.id) && s.details.data
            ? { ...s.details, data: { ...s.details.data, product: { ...s.details.data.product, rating } } } : s.details;
          return { items, details };
        });
        if (ids.length > 1) ctx.toast(rating ? `Rated ${ids.length} products ${"★".repeat(rating)}` : `Cleared the rating of ${ids.length} products`);
      } catch (err) {
        if (field) setField(field, errText(err)); else ctx.error(err);
      }
    },
    async collect(ids, name, field = null) {
      if (!name) { if (field) setField(field, "name the collection"); return null; }
      try {
        const { result } = await ctx.call("collect", { ids, collection: name, create: true });
        if (field) clearFields([field]);
        const cname = result.collection.name;
        set((s) => {
          const items = { ...s.items };
          for (const id of ids) if (items[id] && !items[id].collections.includes(cname)) items[id] = { ...items[id], collections: [...items[id].collections, cname].sort() };
          const d = s.details;
          const details = d && d.data && ids.includes(d.id) && !d.data.product.collections.includes(cname)
            ? { ...d, data: { ...d.data, product: { ...d.data.product, collections: [...d.data.product.collections, cname].sort() } } } : d;
          return { items, details };
        });
        ctx.toast(collectMessage(result, ids.length));
        refreshOptions();
        return result;
      } catch (err) {
        if (field) setField(field, errText(err)); else ctx.error(err);
        return null;
      }
    },
    async uncollect(ids, name) {
      try {
        const { result } = await ctx.call("uncollect", { ids, collection: name });
        set((s) => {
          const items = { ...s.items };
          for (const id of ids) if (items[id]) items[id] = { ...items[id], collections: items[id].collections.filter((c) => c !== name) };
          const d = s.details;
          const details = d && d.data && ids.includes(d.id)
            ? { ...d, data: { ...d.data, product: { ...d.data.product, collections: d.data.product.collections.filter((c) => c !== name) } } } : d;
          return { items, details };
        });
        ctx.toast(`Removed from “${name}”`, { action: "Undo", onAction: () => actions.collect(ids, name) });
        refreshOptions();
        return result;
      } catch (err) {
        ctx.error(err);
        return null;
      }
    },
    /** Soft-delete products; their tiles leave at once and come back in place with Undo. */
    async remove(ids) {
      if (!ids.length) return;
      const at = epoch;
      let result;
      try {
        ({ result } = await ctx.call("delete", { ids }));
      } catch (err) {
        ctx.error(err);
        return;
      }
      set((s) => {
        const selection = new Set([...s.selection].filter((id) => !ids.includes(id)));
        const sections = s.sections.map((sec) => {
          const kept = sec.ids.filter((id) => !ids.includes(id));
          const gone = sec.ids.length - kept.length;
          if (!gone) return sec;
          return { ...sec, ids: kept, total: sec.total === null ? null : Math.max(0, sec.total - gone),
            next: sec.next === null ? null : sec.next - gone,
            group: sec.group ? { ...sec.group, count: Math.max(0, sec.group.count - gone) } : null };
        });
        return { selection, sections, total: s.total === null ? null : Math.max(0, s.total - result.deleted),
          options: s.options ? { ...s.options, total: s.options.total - result.deleted } : s.options };
      });
      const what = result.deleted === 1 ? "1 product" : `${result.deleted} products`;
      ctx.toast(`Deleted ${what}`, { action: "Undo", ms: 10000, onAction: () => actions.restore(ids, at) });
    },
    async restore(ids, at) {
      try {
        const { result } = await ctx.call("restore", { ids });
        const s = get();
        const flat = flatSection(s);
        if (flat && at === epoch && !s.sort && ids.every((id) => s.items[id])) {
          set((st) => {
            let sec = flatSection(st);
            for (const id of ids) sec = insertSorted(sec, id, st.items);
            sec = { ...sec, total: (sec.total || 0) + result.restored };
            return { sections: [sec], total: sec.total,
              options: st.options ? { ...st.options, total: st.options.total + result.restored } : st.options };
          });
        } else {
          set((st) => ({ options: st.options ? { ...st.options, total: st.options.total + result.restored } : st.options }));
          reload();
        }
        ctx.toast(`Restored ${result.restored === 1 ? "1 product" : `${result.restored} products`}`, { ms: 3000 });
        actions.refocus(ids);
      } catch (err) {
        ctx.error(err);
      }
    },
    /** Undo's button leaves with its toast: keyboard focus goes back to the open details view, or
     * to the first restored tile, so arrows, Esc and 1–5 keep working. */
    refocus(ids) {
      requestAnimationFrame(() => requestAnimationFrame(() => {
        const panel = dom.panel;
        if (!panel) return;
        const root = ctx.root;
        const active = panel.getRootNode().activeElement;
        // (the root itself holds focus only as the panel's fallback: move on from it)
        if (active && active !== document.body && active !== root && root.contains(active)) return;
        if (get().details && dom.modal) { dom.modal.focus(); return; }
        const tile = panel.querySelector(`.inb-gallery-tile[data-id="${CSS.escape(ids[0])}"]`);
        if (tile) tile.focus({ preventScroll: true }); else if (dom.body) dom.body.focus({ preventScroll: true });
      }));
    },
    async download(id, known = null) {
      try {
        let blob = known;
        let name = (get().items[id] && get().items[id].name) || `${id}`;
        if (!blob) {
          const { result, buffers } = await ctx.call("original", { product_id: id });
          blob = new Blob([buffers[result.buf]], { type: result.media_type });
          name = result.name;
        }
        ctx.download(blob, name);
      } catch (err) {
        ctx.error(err);
      }
    },
    async copyCode(productId) {
      try {
        const { result } = await ctx.call("code", { product_id: productId });
        await ctx.copy(result.code);
      } catch (err) {
        ctx.error(err);
      }
    },

    // ---- import (files picked or dropped) ----
    async importFiles(files) {
      const images = files.filter((f) => IMAGE_FILE.test(f.name) || (f.type || "").startsWith("image/"));
      const skipped = files.length - images.length;
      if (!images.length) { ctx.toast(skipped ? `No images among ${skipped} files` : "No files", { error: true }); return; }
      const done = { imported: 0, withParams: 0, refused: [] };
      busy(1);
      try {
        for (let i = 0; i < images.length; i += 20) {
          const part = images.slice(i, i + 20);
          const buffers = await Promise.all(part.map((f) => f.arrayBuffer()));
          const { result } = await ctx.call("import", { names: part.map((f) => f.name) }, buffers, { timeout: 120000 });
          done.imported += result.imported.length;
          done.withParams += result.imported.filter((p) => p.params).length;
          done.refused.push(...result.refused);
        }
      } catch (err) {
        ctx.error(err);
      } finally {
        busy(-1);
      }
      ctx.toast(importSummary(done, skipped), { error: !done.imported, ms: 10000 });
      if (done.imported) { refreshOptions(); reload(); }
    },
    dragging(on) { if (get().dragging !== on) set({ dragging: on }); },

    // ---- the collection menu of the selection bar ----
    openMenu(pos) { set({ menu: pos }); },
    closeMenu() { if (!get().menu) return false; set({ menu: false }); clearFields(["menu"]); return true; },

    // ---- details view ----
    async openDetails(id) {
      actions.closeDetails(false);
      actions.closeMenu();
      const token = { id };
      set({ details: { id, token, data: null, thumbUrl: null, originalUrl: null, originalBlob: null, error: null, stageError: null } });
      const mine = () => get().details && get().details.token === token;
      let data;
      let buffers;
      try {
        ({ result: data, buffers } = await ctx.call("details", { product_id: id }));
      } catch (err) {
        if (mine()) set((s) => ({ details: { ...s.details, error: err.message } }));
        return;
      }
      if (!mine()) return;
      const p = data.product;
      const thumbUrl = p.thumb !== null && p.thumb !== undefined ? ctx.blobUrl(buffers[p.thumb], p.thumb_type) : null;
      const lineageThumbs = {};
      for (const r of (data.lineage && data.lineage.rounds) || []) {
        if (r.thumb !== null && r.thumb !== undefined) lineageThumbs[r.round] = ctx.blobUrl(buffers[r.thumb], r.thumb_type);
      }
      set((s) => ({ details: { ...s.details, data, thumbUrl, lineageThumbs } }));
      // The original comes on demand: a large file must not hold up the rest of the view.
      try {
        const { result, buffers: bufs } = await ctx.call("original", { product_id: id });
        if (!mine()) return;
        const originalBlob = new Blob([bufs[result.buf]], { type: result.media_type });
        set((s) => ({ details: { ...s.details, originalBlob, originalUrl: URL.createObjectURL(originalBlob) } }));
      } catch (err) {
        if (mine()) set((s) => ({ details: { ...s.details, stageError: err.message } }));
      }
    },
    closeDetails(restoreFocus = true) {
      const d = get().details;
      if (!d) return;
      set({ details: null });
      clearFields(["rate", "addcol", "vary", "vary_n", "vary_strength", ...UPSCALE_FIELDS]);
      if (d.originalUrl) URL.revokeObjectURL(d.originalUrl);
      if (d.thumbUrl) ctx.release(d.thumbUrl);
      for (const url of Object.values(d.lineageThumbs || {})) ctx.release(url);
      if (restoreFocus && dom.panel) {
        requestAnimationFrame(() => {
          const tile = dom.panel.querySelector(`[data-id="${CSS.escape(d.id)}"]`);
          if (tile) tile.focus({ preventScroll: true });
        });
      }
    },
    /** The products the details view steps through: the grid view's cells, or the tiles. */
    stepIds() {
      const s = get();
      return s.compare && s.compare.data ? gridIds(s.compare.data, s.compare.zi) : orderedIds(s);
    },
    stepDetails(delta) {
      const d = get().details;
      if (!d) return;
      const ids = actions.stepIds();
      const i = ids.indexOf(d.id);
      const next = ids[i + delta];
      if (i >= 0 && next) actions.openDetails(next);
    },
    /** Delete the product shown in the details view and show its neighbour. */
    async removeShown(id) {
      const ids = actions.stepIds();
      const i = ids.indexOf(id);
      const nextId = ids[i + 1] || ids[i - 1] || null;
      actions.closeDetails(false);
      await actions.remove([id]);
      if (nextId) actions.openDetails(nextId);
    },
    async vary(productId, n, strength) {
      clearFields(["vary", "vary_n", "vary_strength"]);
      try {
        const { result } = await ctx.call("vary", { product_id: productId, n, strength });
        ctx.toast(`Ordered ${result.generations} variation${result.generations === 1 ? "" : "s"} with ${result.model}`,
          ctx.nav ? { action: "Open Production", onAction: () => { actions.closeDetails(false); ctx.nav.go("production", { order_id: result.order_id }); } } : {});
        return true;
      } catch (err) {
        const field = err.info && err.info.field;
        setField(field === "n" ? "vary_n" : field === "strength" ? "vary_strength" : "vary", errText(err));
        return false;
      }
    },
    // ---- Upscale (one product or a selection) and Train LoRA (a selection): dialogs ----
    /** The Upscale menu (studio.upscalers()), asked once per panel and kept. */
    async loadUpscalers() {
      if (get().upscalers && !get().upscalers.error) return get().upscalers;
      try {
        const { result } = await ctx.call("upscalers");
        set({ upscalers: result });
        return result;
      } catch (err) {
        const failed = { models: [], chosen: null, error: errText(err) };
        set({ upscalers: failed });
        return failed;
      }
    },
    openDialog(kind, ids) {
      actions.closeMenu();
      clearFields([...UPSCALE_FIELDS, ...TRAIN_FIELDS]);
      set({ dialog: { kind, ids: [...ids] } });
      if (kind === "upscale") actions.loadUpscalers();
    },
    closeDialog() {
      if (!get().dialog) return false;
      set({ dialog: null });
      clearFields([...UPSCALE_FIELDS, ...TRAIN_FIELDS]);
      flushNewWhenFree();
      return true;
    },
    /** Order upscaled copies; the error shows at the control it names. True when ordered. */
    async upscale(ids, model, scale) {
      clearFields(UPSCALE_FIELDS);
      try {
        const { result } = await ctx.call("upscale", { ids, model, scale });
        ctx.toast(upscaleMessage(result), ctx.nav ? { action: "Open Production", onAction: () => {
          actions.closeDetails(false); actions.closeDialog(); ctx.nav.go("production", { order_id: result.order_id }); } } : {});
        return result;
      } catch (err) {
        const field = err.info && err.info.field;
        setField(field === "model" ? "upscale_model" : field === "scale" ? "upscale_scale" : "upscale", errText(err));
        return null;
      }
    },
    async trainOptions(ids) {
      try {
        const { result } = await ctx.call("train_options", { ids });
        return result;
      } catch (err) {
        setField("train", errText(err));
        return null;
      }
    },
    /** A dry check of the run: its captions preview, or the errors at their fields. */
    async trainCheck(args) {
      clearFields(TRAIN_FIELDS);
      try {
        const { result } = await ctx.call("train_check", args, [], { timeout: 120000 });
        return result;
      } catch (err) {
        const field = err.info && err.info.field;
        setField(TRAIN_FIELD_OF[field] || "train", errText(err));
        return null;
      }
    },
    /** Start the run; the toast points to Production, where its live row is. */
    async train(args) {
      clearFields(TRAIN_FIELDS);
      try {
        const { result } = await ctx.call("train", args, [], { timeout: 120000 });
        const where = ctx.nav ? "" : " · see it in the Production panel";
        ctx.toast(`Training LoRA “${result.name}”: ${result.images} image${result.images === 1 ? "" : "s"}, ${result.steps} steps${where}`,
          ctx.nav ? { ms: 10000, action: "Open Production", onAction: () => { actions.closeDialog(); ctx.nav.go("production", { training_id: result.run_id }); } } : { ms: 10000 });
        actions.closeDialog();
        return result;
      } catch (err) {
        const field = err.info && err.info.field;
        setField(TRAIN_FIELD_OF[field] || "train", errText(err));
        return null;
      }
    },

    go(tab, payload) {
      actions.closeDetails(false);
      if (ctx.nav) ctx.nav.go(tab, payload);
    },

    /** {project_id} | {order_id} | {collection_id} (| {product_id}: open its details; view: "grid" with an order). */
    navigate(payload) {
      payload = payload || {};
      const patch = {};
      if (payload.project_id) patch.project = payload.project_id;
      if (payload.order_id) patch.order_id = payload.order_id;
      if (payload.collection_id) patch.collection = payload.collection_id;
      actions.closeDetails(false);
      actions.closeGrid();
      set({ filters: { ...blankFilters(), ...patch }, groupBy: "" });
      if (payload.product_id) openAfterLoad = payload.product_id;
      if (get().started && (payload.project_id || payload.collection_id)) refreshOptions();
      reload();
      if (payload.view === "grid" && payload.order_id) actions.openGrid({ order_id: payload.order_id });
    },
    /** The kernel answers again (common.js): a first page or a grid that met a busy kernel is asked again. */
    askAgain() {
      if (get().loadError) actions.init();
      actions.retryGrid();
    },
    shown() {
      if (get().started) refreshOptions();
      flushNewWhenFree();
    },
    destroy() {
      destroyed = true;
      epoch++;
      if (endWatcher) endWatcher.disconnect();
      if (sectionWatcher) sectionWatcher.disconnect();
      clearTimeout(selTimer);
      actions.closeDetails(false);
      grid.destroy();
      releaseAll(get().thumbs);
    },
  };

  // The grid view's own requests (gridview.js); opening it closes the details view and the menu.
  const grid = createGridActions(ctx, store, () => { actions.closeDetails(false); actions.closeMenu(); });
  Object.assign(actions, grid.actions);
  return actions;
}
