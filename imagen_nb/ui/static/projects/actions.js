// Projects: what the panel asks the kernel, and how each answer changes the store.

/**
 * @typedef {{ call(method: string, args?: object): Promise<{result: any, buffers: any[]}>,
 *             toast(message: string, opts?: object): void, error(err: Error): void,
 *             blobUrl(buffer: any, type: string): string, focusCard(id: string): void }} Ctx
 */

import { fromList, reconciled, withCard } from "./state.js";

const fieldOf = (err) => (err.info && err.info.field === "description" ? "description" : "name");

/** The panel's actions over `store`, talking to the controller through `ctx`. */
export function createActions(ctx, store) {
  const { get, set } = store;
  const flash = (id) => {
    set({ flash: id });
    ctx.focusCard(id);
    setTimeout(() => set((s) => (s.flash === id ? { flash: null } : null)), 1200);
  };

  const actions = {
    async init() {
      try {
        const { result, buffers } = await ctx.call("init");
        set((s) => ({ ...fromList(s, result, buffers, ctx.blobUrl), loaded: true, loadError: null }));
      } catch (err) {
        set({ loadError: err.message });
      }
    },
    /** The kernel answers again (common.js): an init that met a busy kernel is asked again. */
    askAgain() {
      return get().loadError ? actions.init() : null;
    },
    async load() {
      try {
        const { result, buffers } = await ctx.call("list", { include_archived: get().showArchived });
        set((s) => ({ ...fromList(s, result, buffers, ctx.blobUrl), loaded: true }));
      } catch (err) {
        ctx.error(err);
      }
    },
    /** A push or a refresh when the tab is shown: cards keep their places. */
    reconcile(result, buffers) {
      if (get().loaded) set((s) => reconciled(s, result, buffers, ctx.blobUrl));
    },
    async refresh() {
      if (!get().loaded) return;
      try {
        const { result, buffers } = await ctx.call("list", { include_archived: get().showArchived });
        actions.reconcile(result, buffers);
      } catch (err) { /* the next push brings the numbers */ }
    },
    setFilter(filter) { set({ filter }); },
    setShowArchived(on) { set({ showArchived: on }); actions.load(); },
    openCreate() { set({ creating: true, createError: null }); },
    closeCreate() { set({ creating: false, createError: null }); },
    clearCreateError(field) { set((s) => (s.createError && s.createError.field === field ? { createError: null } : null)); },
    async create(name, description) {
      set({ saving: true, createError: null });
      try {
        const { result, buffers } = await ctx.call("create", { name, description });
        set((s) => ({ ...withCard(s, result, buffers, ctx.blobUrl, { first: true }), creating: false }));
        flash(result.id);
        ctx.toast(`Project “${result.name}” created`);
        return true;
      } catch (err) {
        set({ createError: { field: fieldOf(err), message: (err.info && err.info.message) || err.message } });
        return false;
      } finally {
        set({ saving: false });
      }
    },
    toggleMenu(id) { set((s) => ({ menuFor: s.menuFor === id ? null : id })); },
    closeMenu() { if (get().menuFor) set({ menuFor: null }); },
    edit(id, what) { set({ editing: { id, what }, editError: null, menuFor: null }); },
    cancelEdit() { set({ editing: null, editError: null }); },
    clearEditError() { if (get().editError) set({ editError: null }); },
    async save(id, what, value) {
      const card = get().cards[id];
      if (what === "name" && value.trim() === card.name) return actions.cancelEdit();
      set({ saving: true, editError: null });
      try {
        const { result, buffers } = await ctx.call(what === "name" ? "rename" : "describe",
          what === "name" ? { project_id: id, name: value.trim() } : { project_id: id, description: value });
        set((s) => ({ ...withCard(s, result, buffers, ctx.blobUrl), editing: null }));
        flash(id);
      } catch (err) {
        set({ editError: (err.info && err.info.message) || err.message });
      } finally {
        set({ saving: false });
      }
      return undefined;
    },
    async setStatus(id, method) {
      const card = get().cards[id];
      set({ menuFor: null });
      try {
        const { result, buffers } = await ctx.call(method, { project_id: id });
        set((s) => withCard(s, result, buffers, ctx.blobUrl));
        if (method === "archive") {
          ctx.toast(`“${card.name}” archived`, { action: "Undo", onAction: () => actions.setStatus(id, "unarchive") });
        } else if (get().cards[id]) flash(id);
        else ctx.toast(`“${card.name}” is active again`);
      } catch (err) {
        ctx.error(err);
      }
    },
    flash,
  };
  return actions;
}
