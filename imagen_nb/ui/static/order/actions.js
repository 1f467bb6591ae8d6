// Order: what the panel asks the kernel, and how each answer changes the store.

/**
 * @typedef {{ call(method: string, args?: object, buffers?: ArrayBuffer[], opts?: object): Promise<{result: any, buffers: any[]}>,
 *             toast(message: string, opts?: object): void, error(err: Error): void,
 *             blobUrl(buffer: any, type: string): string, release(url: string): void,
 *             focus(name: string): void }} Ctx
 */

import {
  CLEAR_AFTER_ORDER, STRIP_MAX, asText, currentValues, fieldMessage, filterModels, labelOf, lorasText, parseLoras,
} from "./state.js";
import { refineActions } from "./refine_actions.js";
import { civitaiActions } from "./civitai_actions.js";

/** The panel's actions over `store`, talking to the controller through `ctx`. */
export function createActions(ctx, store) {
  const { set, get } = store;
  const timers = new Set();
  let destroyed = false;
  function later(fn, ms) {
    const t = setTimeout(() => { timers.delete(t); if (!destroyed) fn(); }, ms);
    timers.add(t);
    return t;
  }
  function cancel(t) { clearTimeout(t); timers.delete(t); }

  // ---- errors at their field ----------------------------------------------------------------
  const isFormField = (s, name) => !!(s.form && s.form.fields.some((f) => f.name === name));
  /** Show an error at its field (form fields, the model, the project); false when no field matches.
   *  `source` says who may clear it: a preview clears its own errors only. */
  function errorAt(info, source) {
    const s = get();
    if (!info || !(["model", "project", "rows"].includes(info.field) || isFormField(s, info.field)
      || String(info.field || "").startsWith("refine_"))) return false;
    const message = fieldMessage(info.message);
    const keyMissing = info.field === "model" && s.form && s.form.key_missing && message === s.form.key_missing;
    const f = s.form && s.form.fields.find((x) => x.name === info.field);
    set((st) => ({
      errors: { ...st.errors, [info.field]: { message, column: info.column || null, source, keyMissing,
        row: info.row || null, columnName: info.column_name || null } },
      advancedOpen: st.advancedOpen || !!(f && f.advanced),
    }));
    return true;
  }
  function clearErrors(source = null) {
    set((s) => {
      const errors = {};
      for (const [k, e] of Object.entries(s.errors)) if (source && e.source !== source) errors[k] = e;
      return { errors };
    });
  }
  function failed(err) {
    if (!errorAt(err && err.info, "action")) ctx.error(err);
  }

  // ---- notes under the Order button ---------------------------------------------------------
  let noticeTimer = null;
  function notice(text) {
    cancel(noticeTimer);
    const note = { kind: "notice", text };
    set({ note });
    noticeTimer = later(() => set((s) => (s.note === note ? { note: null } : null)), 4000);
  }

  // ---- the model search ---------------------------------------------------------------------
  function activeIndex(s) {
    const shown = filterModels(s);
    return Math.max(0, shown.findIndex((m) => s.form && m.id === s.form.id));
  }

  /** Draw `form` with `values`; an error about the previous model is history. */
  function showForm(form, values = {}) {
    set((s) => {
      const advanced = form.fields.some((f) => f.advanced && values[f.name] !== undefined && values[f.name] !== "");
      const errors = { ...s.errors };
      delete errors.model;
      for (const k of Object.keys(errors)) {
        if (k !== "project" && k !== "rows" && !k.startsWith("refine_") && !form.fields.some((f) => f.name === k)) delete errors[k];
      }
      return {
        form, values: { ...values }, errors, query: null, preview: null, previewError: null,
        advancedOpen: s.advancedOpen || advanced,
        provider: s.provider && s.provider !== form.provider ? "" : s.provider,
        type: s.type && s.type !== form.type ? "" : s.type,
      };
    });
    schedulePreview(0);
  }

  /** Load `id`'s form; carry over what the user typed into fields of the same name. */
  async function loadModel(id, { carry = true, values = null } = {}) {
    const kept = carry ? currentValues(get()) : {};
    try {
      const { result } = await ctx.call("model", { model_id: id });
      showForm(result, { ...kept, ...(values || {}) });
      return true;
    } catch (err) {
      set((s) => { const errors = { ...s.errors }; delete errors.model; return { errors, query: null }; });
      failed(err);
      return false;
    }
  }

  // ---- the preview --------------------------------------------------------------------------
  let previewTimer = null;
  let previewSeq = 0;
  function schedulePreview(ms = 250) {
    cancel(previewTimer);
    set({ stale: true });
    previewTimer = later(runPreview, ms);
  }
  async function runPreview() {
    const s = get();
    if (!s.form) return;
    const mine = ++previewSeq;
    try {
      const { result } = await ctx.call("preview", { model: s.form.id, values: currentValues(s) });
      if (mine !== previewSeq) return;
      clearErrors("preview");
      // Fixed: a refused order's "Not ordered: see …" is history.
      set((st) => ({ preview: result, previewError: null, stale: false, note: st.note && st.note.kind === "refused" ? null : st.note }));
    } catch (err) {
      if (mine !== previewSeq) return;
      clearErrors("preview");
      errorAt(err.info, "preview");
      set({ preview: null, previewError: err.info || { message: String(err) }, stale: false });
    }
  }

  // ---- prefill: re-order, presets, a product's parameters -------------------------------------
  /** Fill the form from a Prefill: "replace" blanks every other field; "merge" keeps them. */
  function prefill(pre, mode) {
    const s = get();
    const base = mode === "merge" ? currentValues(s) : {};
    const values = { ...base, ...(pre.values || {}) };
    if (pre.form && (!s.form || pre.form.id !== s.form.id || mode === "replace")) showForm(pre.form, values);
    else if (s.form) {
      const known = new Set(s.form.fields.map((f) => f.name));
      const unknown = Object.keys(pre.values || {}).filter((n) => !known.has(n));
      set({ values: Object.fromEntries(Object.entries(values).filter(([k]) => known.has(k))) });
      if (unknown.length) notice(`Not parameters of ${s.form.id}, left out: ${unknown.join(", ")}.`);
      schedulePreview(0);
    }
    clearErrors();
  }

  async function setProject(id) {
    if (id && !get().projects.some((p) => p.id === id)) {
      try { set({ projects: (await ctx.call("projects")).result }); } catch (e) { /* keep the list */ }
    }
    set((s) => ({ projectId: s.projects.some((p) => p.id === id) ? id : "" }));
  }

  // ---- the session strip ----------------------------------------------------------------------
  function stripItems(items, buffers, atEnd) {
    set((s) => {
      const have = new Set(s.strip.map((p) => p.id));
      const thumbs = { ...s.thumbs };
      const fresh = [];
      for (const item of items) {
        if (have.has(item.id)) continue;
        have.add(item.id);
        const buf = item.thumb !== null && item.thumb !== undefined ? buffers[item.thumb] : null;
        if (buf) thumbs[item.id] = ctx.blobUrl(buf, item.mime || "image/webp");
        fresh.push(item);
      }
      let strip = atEnd ? [...s.strip, ...fresh] : [...fresh, ...s.strip];
      for (const old of strip.slice(STRIP_MAX)) {
        if (thumbs[old.id]) ctx.release(thumbs[old.id]);
        delete thumbs[old.id];
      }
      strip = strip.slice(0, STRIP_MAX);
      return { strip, thumbs };
    });
  }

  let loading = null;
  let wanted = null;
  async function showProduct(id) {
    wanted = id;
    set({ selected: id });
    if (loading) return;
    while (wanted && wanted !== (get().shown && get().shown.id)) {
      loading = wanted;
      try {
        const { result, buffers } = await ctx.call("product", { product_id: loading });
        if (destroyed) return;
        if (wanted === loading) {
          const old = get().shown;
          if (old && old.url) ctx.release(old.url);
          const url = result.image !== null ? ctx.blobUrl(buffers[result.image], result.mime) : null;
          set({ shown: { ...result, url } });
        }
      } catch (err) {
        failed(err);
        wanted = null;
      } finally {
        loading = null;
      }
    }
  }

  let pendingNav = [];
  let initializing = false;
  const actions = {
    notice,
    failed,
    errorAt,
    schedulePreview,

    async init() {
      if (initializing) return;
      initializing = true;
      try {
        const { result, buffers } = await ctx.call("init");
        if (destroyed) return;
        set({ models: result.models, providers: result.providers, types: result.types, loaded: true, loadError: null });
        actions.applyState(result);
        // What was typed into the model search while the models loaded wins over the default
        // model: an entered search picks its first match, one still being typed stays.
        const s = get();
        const pending = s.pendingPick;
        if (result.form) showForm(result.form, {});
        if (pending !== null) {
          set({ pendingPick: null, query: pending });
          const match = filterModels(get())[0];
          set({ query: null });
          if (match) actions.pickModel(match.id);
          else notice(`No model matches “${pending}”.`);
        } else if (s.listOpen && s.query !== null) {
          set((st) => ({ query: s.query, active: activeIndex({ ...st, query: s.query }) }));
        }
        stripItems(result.session.products, buffers, true);
        const orders = result.session.orders;
        if (orders.length) set({ lastOrder: orders[orders.length - 1] });
        if (result.session.products.length) showProduct(result.session.products[0].id);
        const waiting = pendingNav || [];
        pendingNav = null;
        for (const p of waiting) await actions.navigate(p);
      } catch (err) {
        set({ loadError: (err.info && err.info.message) || String(err) });
      } finally {
        initializing = false;
      }
    },
    /** The kernel answers again (common.js): an init that met a busy kernel is asked again. */
    askAgain() {
      if (get().loadError) actions.init();
      const r = get().refine;  // the Refine card's judges and rewriters, when their first ask met the busy kernel
      if (r && r.open && !r.choices && r.loadError) actions.loadRefineChoices();
    },
    applyState(r) {
      set((s) => ({ projects: r.projects, presets: r.presets, tokens: r.tokens, limit: r.limit,
        sets: r.sets || s.sets, table: r.table !== undefined ? r.table : s.table,
        projectId: r.projects.some((p) => p.id === s.projectId) ? s.projectId : "" }));
    },
    async refresh() {
      if (get().loadError) { actions.init(); return; }  // shown again after a failed start: try now
      if (!get().loaded) return;
      try {
        const { result } = await ctx.call("state");
        if (get().editingToken === null) actions.applyState(result);
        else set({ projects: result.projects });
      } catch (e) { /* the lists stay as they were */ }
    },
    async navigate(payload) {
      if (pendingNav) { pendingNav.push(payload); return; }
      if (!payload) return;
      if (payload.project_id !== undefined) await setProject(payload.project_id);
      if (payload.product_id) await actions.reorder(payload.product_id, { scope: payload.scope || "product", use: payload.use || "all" });
      if (payload.lora) await actions.useLora(payload.lora, payload.model || null);
    },
    /** Put LoRA `name` (a training checkpoint "<run>/step-000100", say) into the form of `model`
     *  (kept when none is given), beside the LoRAs already there. */
    async useLora(name, model) {
      if (model && (!get().form || get().form.id !== model)) {
        if (!(await loadModel(model, { carry: true }))) return;
      }
      const s = get();
      const field = s.form && s.form.fields.find((f) => f.name === "loras");
      if (!field) { notice(`${s.form ? s.form.id : "This model"} takes no LoRAs: pick one that does.`); return; }
      const rows = parseLoras(s.values.loras);
      if (rows === null) { notice(`The LoRA field holds text rows cannot show: add ${name} there by hand.`); return; }
      if (!rows.some((r) => r.name === name)) rows.push({ name, weight: 1 });
      actions.setValue("loras", lorasText(rows));
      if (field.advanced) set({ advancedOpen: true });
      notice(`LoRA ${name} is in the form: write a prompt and order.`);
      ctx.focus("prompt");
    },

    // -- model search
    search(query) {
      set((s) => ({ query, listOpen: true, active: activeIndex({ ...s, query }) }));
    },
    openList() { set((s) => ({ listOpen: true, active: activeIndex(s) })); },
    closeList() { set({ listOpen: false, query: null }); },
    move(step) {
      set((s) => {
        const n = filterModels(s).length;
        return n ? { listOpen: true, active: (s.active + step + n) % n } : { listOpen: true };
      });
    },
    setActive(i) { set({ active: i }); },
    enter() {
      const s = get();
      const m = filterModels(s)[s.active];
      if (m) actions.pickModel(m.id);
      else if (!s.models && (s.query || "").trim()) set({ pendingPick: s.query.trim() });  // picked once they come
    },
    filter(kind, value) {
      set({ [kind]: value });
      const s = get();
      const list = filterModels({ ...s, query: null });
      if (s.form && !list.some((m) => m.id === s.form.id) && list.length) actions.pickModel(list[0].id);
    },
    pickModel(id) {
      const s = get();
      set({ listOpen: false, query: null });
      if (s.form && id === s.form.id) return;
      loadModel(id, { carry: true });
    },

    // -- the form
    setValue(name, text, { preview = true } = {}) {
      set((s) => {
        const errors = { ...s.errors };
        delete errors[name];
        return { values: { ...s.values, [name]: text }, errors };
      });
      if (preview) schedulePreview();
    },
    toggleAdvanced(open) { set({ advancedOpen: open }); },

    async placeOrder() {
      const s = get();
      if (!s.form || s.placing) return;
      set({ placing: true });
      try {
        const { result } = await ctx.call("order", { model: s.form.id, values: currentValues(s), project_id: s.projectId || null });
        clearErrors();
        const cleared = {};
        const values = { ...get().values };
        for (const name of CLEAR_AFTER_ORDER) if (values[name]) { cleared[name] = values[name]; values[name] = ""; }
        set({ values, cleared, note: null, follow: true,
          lastOrder: { order_id: result.order_id, model: result.model, count: result.count, products: 0, complete: 0,
            failed: 0, cancelled: 0, status: "queued", error: null, placed: Date.now() / 1000 } });
        schedulePreview(0);
        ctx.focus("prompt");
      } catch (err) {
        const info = err.info || { message: String(err) };
        if (!errorAt(info, "order")) set({ note: { kind: "error", text: info.message } });
        else {
          set({ note: { kind: "refused", field: info.field, text: `Not ordered: see ${labelOf(get(), info.field)}.` } });
          ctx.focus(info.field);
        }
      } finally {
        set({ placing: false });
      }
    },
    editAgain() {
      const cleared = get().cleared || {};
      set((s) => ({ values: { ...s.values, ...cleared }, cleared: null }));
      schedulePreview(0);
    },

    /**
     * Recall a product into the form. scope "product": its own parameter set (one generation,
     * its seed); "order": its whole order. use "seed" / "prompt" fill only those fields of the
     * form as it is. An import maps onto the model in the form; the note names what did not map.
     */
    async reorder(productId, { scope = "product", use = "all" } = {}) {
      try {
        const form = get().form;
        const { result } = await ctx.call("reorder", { product_id: productId, scope, use, model: form ? form.id : null });
        if (!result.form && !get().form) { notice("Choose a model first: the product's parameters fill its form."); return; }
        prefill(use === "all" ? result : { ...result, form: null }, use === "all" ? "replace" : "merge");
        if (use === "all" && result.project_id !== undefined) await setProject(result.project_id || "");
        ctx.focus("prompt");  // ready to edit, and Ctrl+Enter orders from there
        cancel(noticeTimer);
        set({ note: { kind: "recall", recall: result } });
      } catch (err) { failed(err); }
    },
    /** "Use these parameters" of the product in the large view. */
    async useParams(p) {
      const s = get();
      const values = {};
      const apply = (form) => {
        const known = new Set(form ? form.fields.map((f) => f.name) : []);
        for (const [k, v] of Object.entries(p.params || {})) {
          if (known.has(k) && v !== null && v !== undefined) values[k] = asText(v);
        }
        return values;
      };
      if (p.model && s.form && p.model !== s.form.id) {
        try {
          const { result } = await ctx.call("model", { model_id: p.model });
          showForm(result, apply(result));
        } catch (err) { failed(err); }
      } else {
        set((st) => ({ values: { ...st.values, ...apply(st.form) } }));
        clearErrors();
        schedulePreview(0);
      }
    },

    // -- presets
    async applyPreset(name) {
      try {
        const { result } = await ctx.call("preset_apply", { name });
        prefill(result, "merge");
        notice(`Preset “${name}” applied.`);
      } catch (err) { failed(err); }
    },
    /** Save the form as preset `name`; resolves to null or the error's message (shown at the name). */
    async savePreset(name) {
      const s = get();
      try {
        const { result } = await ctx.call("preset_save", { name, model: s.form ? s.form.id : null, values: currentValues(s) });
        set({ presets: result });
        notice(`Preset “${name.trim()}” saved.`);
        return null;
      } catch (err) {
        if (err.info && err.info.field === "preset_name") return err.info.message;
        failed(err);
        return null;
      }
    },
    async deletePreset(p) {
      try {
        set({ presets: (await ctx.call("preset_delete", { name: p.name })).result });
        ctx.toast(`Preset “${p.name}” deleted.`, {
          action: "Undo",
          onAction: async () => {
            try { set({ presets: (await ctx.call("preset_save", { name: p.name, model: p.model, values: p.params })).result }); } catch (err) { failed(err); }
          },
        });
      } catch (err) { failed(err); }
    },

    // -- smart tokens
    editToken(name) { set({ editingToken: name }); },
    /** Save a token; resolves to null or {field, message} for the editor. */
    async saveToken(name, values, oldName) {
      try {
        set({ tokens: (await ctx.call("token_set", { name, values, old_name: oldName || null })).result, editingToken: null });
        schedulePreview(0);
        return null;
      } catch (err) {
        const f = err.info && err.info.field;
        if (f === "token_name" || f === "token_values") return { field: f, message: err.info.message };
        failed(err);
        return null;
      }
    },
    async deleteToken(t) {
      try {
        set({ tokens: (await ctx.call("token_delete", { name: t.name })).result, editingToken: null });
        schedulePreview(0);
        ctx.toast(`Token [${t.name}] deleted.`, {
          action: "Undo",
          onAction: async () => {
            try { set({ tokens: (await ctx.call("token_set", { name: t.name, values: t.values })).result }); schedulePreview(0); } catch (err) { failed(err); }
          },
        });
      } catch (err) { failed(err); }
    },

    // -- projects
    chooseProject(id) {
      set((s) => { const errors = { ...s.errors }; delete errors.project; return { projectId: id, errors }; });
    },
    /** Create (or take) a project and choose it; resolves to null or the error's message. */
    async createProject(name) {
      try {
        const { result } = await ctx.call("create_project", { name });
        set({ projects: result.projects, projectId: result.id });
        notice(`New orders go to project “${result.name}”.`);
        return null;
      } catch (err) {
        return (err.info && err.info.message) || String(err);
      }
    },

    // -- images
    async upload(field, blob, name) {
      const data = await blob.arrayBuffer();
      const { result, buffers } = await ctx.call("upload", { name, field }, [data]);
      actions.setValue(field, result.path);
      return { path: result.path, url: ctx.blobUrl(buffers[result.thumb], result.mime),
        title: `${result.name} · ${result.width}×${result.height} · ${INB.fmtBytes(result.size)}` };
    },
    async imageThumb(value) {
      const { result, buffers } = await ctx.call("image_thumb", { value });
      return { url: result.thumb !== null ? ctx.blobUrl(buffers[result.thumb], result.mime) : null, title: `${result.kind}: ${result.label}` };
    },
    async recent(offset, text) {
      const { result, buffers } = await ctx.call("recent", { offset, limit: 24, text });
      return { ...result, items: result.items.map((it) => ({ ...it, url: it.thumb !== null ? ctx.blobUrl(buffers[it.thumb], it.mime || "image/webp") : "" })) };
    },
    openPicker(field) { set({ picker: field }); },
    closePicker() { const f = get().picker; set({ picker: null }); if (f) ctx.focus(f); },
    async loras(model) {
      return (await ctx.call("loras", { model })).result;
    },

    // -- a table: one generation per row
    tableChanged(table) {
      set((s) => { const errors = { ...s.errors }; delete errors.rows; return { table, errors }; });
      schedulePreview(0);
    },
    async attachFile(blob, name) {
      set({ tableBusy: true });
      try {
        const data = await blob.arrayBuffer();
        const { result } = await ctx.call("attach_file", { name }, [data]);
        actions.tableChanged(result.table);
        notice(`${name}: ${result.table.count.toLocaleString("en-US")} rows attached, one generation each.`);
      } catch (err) { failed(err); } finally { set({ tableBusy: false }); }
    },
    async attachSet(name) {
      set({ tableBusy: true });
      try {
        const form = get().form;
        const { result } = await ctx.call("attach_set", { name, model: form ? form.id : null });
        set({ table: result.table });
        if (result.form || get().form) prefill(result, "merge");
        actions.tableChanged(result.table);
      } catch (err) { failed(err); } finally { set({ tableBusy: false }); }
    },
    async detach() {
      try {
        await ctx.call("detach");
        actions.tableChanged(null);
      } catch (err) { failed(err); }
    },

    ...refineActions(ctx, store, { errorAt, clearErrors, notice }),
    ...civitaiActions(ctx, store, { notice, pickModel: (id) => actions.pickModel(id) }),

    // -- the session (live)
    session(data, buffers) {
      if (!data) return;
      const items = data.products || [];
      stripItems(items, buffers || [], false);
      set((s) => {
        let lastOrder = s.lastOrder;
        for (const o of data.orders || []) {
          if (lastOrder && o.order_id === lastOrder.order_id) lastOrder = { ...o, placed: lastOrder.placed };
        }
        return lastOrder !== s.lastOrder ? { lastOrder } : null;
      });
      const s = get();
      if (items.length && (s.follow || !s.shown)) showProduct(items[0].id);
    },
    showProduct(id, follow) { if (follow !== undefined) set({ follow }); showProduct(id); },

    destroy() {
      destroyed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const s = get();
      for (const u of Object.values(s.thumbs)) ctx.release(u);
      if (s.shown && s.shown.url) ctx.release(s.shown.url);
    },
  };
  return actions;
}
