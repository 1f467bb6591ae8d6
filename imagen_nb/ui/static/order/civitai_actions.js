// Order: the civitai dialog's requests (issue 17): its state, search, what a reference would
// download, import with live progress (push "civitai"), and the new model or LoRA in the picker.

/** The civitai actions over `store` (merged into the panel's actions); `h` lends errorAt-like
 *  helpers: notice, pickModel. */
export function civitaiActions(ctx, store, h) {
  const { set, get } = store;
  const patch = (fn) => set((s) => ({ civitai: { ...s.civitai, ...(typeof fn === "function" ? fn(s.civitai) : fn) } }));
  const fieldError = (info) => {
    const field = info && info.field && String(info.field).startsWith("civitai_") ? info.field : "civitai_ref";
    set((s) => ({ errors: { ...s.errors, [field]: { message: (info && info.message) || "failed", source: "civitai" } } }));
  };
  const clear = (...fields) => set((s) => {
    const errors = { ...s.errors };
    for (const f of fields) delete errors[f];
    return { errors };
  });
  let searchSeq = 0;
  let resolveSeq = 0;

  const actions = {
    /** Open (or close) the dialog; its state (the token, the filters, imports so far) comes at once. */
    async openCivitai(open = true) {
      patch({ open });
      set({ listOpen: false, query: null });
      if (!open) return;
      const s = get();
      const row = s.form && (s.models || []).find((m) => m.id === s.form.id);
      if (!s.civitai.forModel && row && row.loras) patch({ forModel: row.id });  // a LoRA for the model in the form
      try {
        const { result } = await ctx.call("civitai_state");
        patch({ state: result, imports: result.imports });
      } catch (err) { fieldError(err.info || { message: String(err) }); }
      ctx.focus("civitai_query");
    },
    setCivitai(key, value) {
      patch({ [key]: value });
      const field = { query: "civitai_query", type: "civitai_type", base: "civitai_base", ref: "civitai_ref",
        name: "civitai_name", forModel: "civitai_for_model" }[key];
      if (field) clear(field);
      if (key === "ref") patch({ info: null });
    },
    async civitaiSearch() {
      const c = get().civitai;
      const mine = ++searchSeq;
      patch({ searching: true });
      clear("civitai_query", "civitai_type", "civitai_base");
      try {
        const { result } = await ctx.call("civitai_search", { query: c.query, type: c.type, base_model: c.base }, [], { timeout: 60000 });
        if (mine === searchSeq) patch({ results: result.items });
      } catch (err) {
        if (mine === searchSeq) { patch({ results: null }); fieldError(err.info || { message: String(err) }); }
      } finally {
        if (mine === searchSeq) patch({ searching: false });
      }
    },
    /** What `ref` would download (a search result's AIR, or what was pasted). */
    async civitaiResolve(ref) {
      const mine = ++resolveSeq;
      patch({ ref, info: null, resolving: true });
      clear("civitai_ref", "civitai_name", "civitai_for_model");
      try {
        const { result } = await ctx.call("civitai_resolve", { ref }, [], { timeout: 60000 });
        if (mine === resolveSeq) patch((c) => ({ info: result, name: c.name }));
      } catch (err) {
        if (mine === resolveSeq) fieldError(err.info || { message: String(err) });
      } finally {
        if (mine === resolveSeq) patch({ resolving: false });
      }
    },
    async civitaiImport() {
      const c = get().civitai;
      if (!c.info) return;
      clear("civitai_ref", "civitai_name", "civitai_for_model");
      try {
        const { result } = await ctx.call("civitai_add", {
          ref: c.info.ref, name: c.name.trim() || null, for_model: c.info.kind === "lora" ? (c.forModel || null) : null,
        });
        patch({ imports: result.imports });
      } catch (err) { fieldError(err.info || { message: String(err) }); }
    },
    /** Stop a running import (the partial file is kept: importing it again resumes it). */
    async civitaiCancel(ref) {
      patch((c) => ({ imports: c.imports.map((j) => (j.ref === ref ? { ...j, cancelling: true } : j)) }));
      try {
        const { result } = await ctx.call("civitai_cancel", { ref });
        patch({ imports: result.imports });
      } catch (err) {
        patch((c) => ({ imports: c.imports.map((j) => (j.ref === ref ? { ...j, cancelling: false } : j)) }));
        fieldError(err.info || { message: String(err) });
      }
    },
    /** A push: imports moved; when one finished, the picker's list (and the LoRA picker) has it. */
    civitaiPushed(data) {
      if (!data) return;
      const before = new Map(get().civitai.imports.map((j) => [j.ref, j.state]));
      patch({ imports: data.imports || [] });
      if (data.models) set((s) => ({ models: data.models, providers: data.providers, types: data.types, lorasVersion: s.lorasVersion + 1 }));
      for (const j of data.imports || []) {
        const was = before.get(j.ref);
        if (was === j.state) continue;
        if (j.state === "cancelled") h.notice(`The download of ${j.file_name || j.ref} was cancelled; its partial file is kept and importing it again resumes it.`);
        if (j.state === "failed" && get().civitai.info && get().civitai.info.ref === j.ref) fieldError({ field: j.field, message: j.error });
        if (j.state === "done" && data.models) {
          if (j.kind === "checkpoint") {
            h.notice(`${j.result} is in the model picker: its form is open.`);
            h.pickModel(j.result);
          } else {
            h.notice(`LoRA ${j.result} is in the LoRA picker.`);
          }
        }
      }
    },
  };
  return actions;
}
