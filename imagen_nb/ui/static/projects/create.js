// Projects: the "New project" form (its errors sit at the field that caused them).

/**
 * @typedef {import("./state.js").State} State
 */

import { html, cx, useRef, useEffect } from "../lib/view.js";
import { useStore } from "../lib/store.js";

function FieldError({ error, field }) {
  return error && error.field === field ? html`<div class="inb-field-error" role="alert">${error.message}</div>` : null;
}

/** The form; Ctrl+Enter creates, Esc closes. */
export function CreateForm({ app }) {
  const { store, actions } = app;
  const error = useStore(store, (s) => s.createError);
  const saving = useStore(store, (s) => s.saving);
  const name = useRef(null);
  const desc = useRef(null);
  useEffect(() => { if (name.current) name.current.focus(); }, []);
  useEffect(() => {
    if (!error) return;
    (error.field === "description" ? desc : name).current.focus();
  }, [error]);
  const submit = (e) => { if (e) e.preventDefault(); actions.create(name.current.value, desc.current.value); };
  return html`
    <form class="inb-projects-card inb-projects-form" onSubmit=${submit}
      onKeyDown=${(e) => {
        if (e.key === "Escape") { e.preventDefault(); actions.closeCreate(); }
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit(e);
      }}>
      <div class="inb-projects-form-title">New project</div>
      <div class=${cx("inb-field", error && error.field === "name" && "inb-invalid")}>
        <label class="inb-label">Name</label>
        <input ref=${name} class="inb-input" placeholder="e.g. Book covers" maxlength="120" aria-label="Project name"
          onInput=${() => actions.clearCreateError("name")} />
        <${FieldError} error=${error} field="name" />
      </div>
      <div class=${cx("inb-field", error && error.field === "description" && "inb-invalid")}>
        <label class="inb-label">Description <span class="inb-faint">(optional)</span></label>
        <textarea ref=${desc} class="inb-textarea" rows="2" placeholder="What is this project for?"
          aria-label="Project description" onInput=${() => actions.clearCreateError("description")}></textarea>
        <${FieldError} error=${error} field="description" />
      </div>
      <div class="inb-projects-actions">
        <button class="inb-btn inb-btn-primary" type="submit" disabled=${saving}>Create project</button>
        <button class="inb-btn" type="button" onClick=${() => actions.closeCreate()}>Cancel</button>
      </div>
    </form>`;
}
