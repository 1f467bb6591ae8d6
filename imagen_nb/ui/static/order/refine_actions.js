// Order: the Refine card's requests (issue 15): its choices, and studio.refine started from the form.

import { currentValues, labelOf, refineBlocked } from "./state.js";

/** The Refine actions over `store` (merged into the panel's actions); `h` lends errorAt, clearErrors, notice. */
export function refineActions(ctx, store, h) {
  const { set, get } = store;
  const patch = (fn) => set((s) => ({ refine: { ...s.refine, ...fn(s.refine) } }));
  let asking = null;

  async function loadChoices() {
    if (asking) return asking;
    asking = (async () => {
      try {
        const { result } = await ctx.call("refine_choices");
        patch(() => ({ choices: result, loadError: null }));
      } catch (err) {
        patch(() => ({ loadError: (err.info && err.info.message) || String(err) }));
      } finally {
        asking = null;
      }
    })();
    return asking;
  }

  return {
    /** Open or close the Refine card; its choices are asked for the first time it opens. */
    openRefine(open) {
      patch(() => ({ open }));
      if (open && !get().refine.choices) loadChoices();
      if (open) ctx.focus("refine_judge");
    },
    setRefineValue(name, text) {
      set((s) => {
        const errors = { ...s.errors };
        delete errors[`refine_${name}`];
        const note = s.note && s.note.kind === "refused" && s.note.field === `refine_${name}` ? null : s.note;
        return { refine: { ...s.refine, values: { ...s.refine.values, [name]: text } }, errors, note };
      });
    },
    /** Start studio.refine with the form's prompt and parameters and the card's options. */
    async startRefine() {
      const s = get();
      if (s.refine.busy) return;
      const blocked = refineBlocked(s);
      if (blocked) { h.notice(blocked); return; }
      patch(() => ({ busy: true }));
      try {
        const { result } = await ctx.call("refine", {
          model: s.form.id, values: currentValues(s), project_id: s.projectId || null, options: s.refine.values,
        });
        h.clearErrors();
        patch(() => ({ last: result }));
        set({ note: { kind: "refined", result } });
      } catch (err) {
        const info = err.info || { message: String(err) };
        if (!h.errorAt(info, "refine")) set({ note: { kind: "error", text: info.message } });
        else {
          set({ note: { kind: "refused", field: info.field, text: `Not started: see ${labelOf(get(), info.field)}.` } });
          ctx.focus(info.field);
        }
      } finally {
        patch(() => ({ busy: false }));
      }
    },
    loadRefineChoices: loadChoices,
  };
}
