// The Order panel on the component base: pick a model, fill in its form (SmartParameters in any
// field) with a live preview of the expansion, order, and watch this session's products arrive.
// One store holds what the kernel said and what the person typed; components derive every text
// from it. Files: state.js (store shape, derived texts), actions.js (requests), models.js (model
// picker and card), form.js (fields from the spec), loras.js, images.js (image inputs, gallery
// picker), table.js (rows: a table or a set), preview.js (preview, order bar, ETA), session.js
// (strip, large view), side.js (presets, tokens). Python side: imagen_nb/ui/order.py (OrderController).
// Keyboard: Ctrl/Cmd+Enter orders from anywhere in the panel (never runs the cell); in number
// fields ArrowUp/ArrowDown step the value (Shift: ×10); the model search takes
// ArrowUp/ArrowDown/Enter/Escape. After an order the prompt is cleared for the next one (every
// other field stays); "Edit again" puts it back.

/**
 * Requests (ctx.call(method, args) → result):
 *   init() → InitState (+ buffers: session thumbnails)          state() → State
 *   model({model_id}) → Form                                   preview({model, values, limit?}) → Preview
 *   order({model, values, project_id?, limit?}) → {order_id, model, count, project_id}
 *   reorder({product_id, scope, use, model}) → Prefill & {scope, use, imported, unmapped}
 *   loras({model}) → string[]                                  preset_apply({name}) → Prefill & {name}
 *   preset_save({name, model, values}) → Preset[]              preset_delete({name}) → Preset[]
 *   tokens() → Token[]   token_set({name, values, old_name?}) → Token[]   token_delete({name}) → Token[]
 *   projects() → Project[]                                     create_project({name}) → Project & {projects}
 *   product({product_id}) → ProductView (+ buffer: the file)   recent({offset, limit, text}) → {items: PickItem[], more, offset}
 *   upload({name, field}, [file]) → Upload (+ buffer: thumb)   image_thumb({value}) → ImageThumb (+ buffer)
 *   sets() → SetRow[]   attach_file({name}, [file]) → {table}   attach_set({name, model}) → Prefill & {table}   detach() → {table: null}
 *   refine_choices() → {judges, rewriters, scorers, defaults, iterations_max, n_max, key_missing, model_types}
 *   refine({model, values, project_id?, options: {judge, rewriter, scorer, iterations, n, stop_at, goal}})
 *     → {refinement_id, prompts, iterations, n, model, judge, rewriter} (errors at refine_<option> or a form field)
 * Push "session": {products: SessionProduct[], orders: SessionOrder[]} (+ buffers: thumbnails), at most 10 per second.
 * civitai_state() → {key_missing, types, base_models, imports}   civitai_search({query, type, base_model}) → {items}
 *   civitai_resolve({ref}) → Resolved   civitai_add({ref, name?, for_model?}) → {ref, imports} (errors at civitai_<field>)
 * Push "table": {table} (a table attached from Python).
 * Push "civitai": {imports: Import[], models?, providers?, types?} (models when an import finished: the picker's list).
 * Errors reject with err.info = { type, message, field, column } (+ row, column_name for an order from rows).
 * The store's shape and the records are typed in state.js.
 * @typedef {import("./state.js").State} State
 */

import { html, render, cx, useState } from "../lib/view.js";
import { createStore, useStore } from "../lib/store.js";
import { initialState } from "./state.js";
import { createActions } from "./actions.js";
import { ModelPicker, ModelCard } from "./models.js";
import { Form } from "./form.js";
import { Picker } from "./images.js";
import { Preview, OrderBar } from "./preview.js";
import { Session } from "./session.js";
import { Presets, Tokens } from "./side.js";
import { Rows } from "./table.js";
import { RefineCard } from "./refine.js";
import { Civitai } from "./civitai.js";

const NEW = "\u0000new";

/** The project new orders go to, or "+ New project…" (a name field: Enter creates, Escape goes back). */
function Project({ app }) {
  const projects = useStore(app.store, (s) => s.projects);
  const projectId = useStore(app.store, (s) => s.projectId);
  const storeError = useStore(app.store, (s) => s.errors.project);
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const shown = error || (storeError && storeError.message);
  const onKeyDown = async (e) => {
    if (e.key === "Escape") { e.preventDefault(); setCreating(false); setError(null); return; }
    if (e.key !== "Enter") return;
    e.preventDefault();
    const message = await app.actions.createProject(name);
    if (message) setError(message);
    else { setCreating(false); setError(null); }
  };
  return html`<div class=${cx("inb-order-project", shown && "inb-invalid")} data-field="project">
    ${creating ? html`<input class="inb-input inb-order-project-new" placeholder="New project name" aria-label="New project name"
        value=${name} ref=${(el) => { if (el && !el.dataset.focused) { el.dataset.focused = "1"; el.focus(); } }}
        onInput=${(e) => { setName(e.target.value); setError(null); }} onKeyDown=${onKeyDown}
        onBlur=${() => setTimeout(() => { if (!error) setCreating(false); }, 150)} />`
      : html`<select class="inb-select" aria-label="Project" title="Project" value=${projectId}
        onChange=${(e) => {
          if (e.target.value === NEW) { setName(""); setError(null); setCreating(true); e.target.value = projectId; }
          else app.actions.chooseProject(e.target.value);
        }}>
        <option value="">No project</option>
        ${projects.map((p) => html`<option key=${p.id} value=${p.id}>${p.name}</option>`)}
        <option value=${NEW}>+ New project…</option></select>`}
    ${shown ? html`<div class="inb-field-error" role="alert">${shown}</div>` : null}
  </div>`;
}

function Order({ app, shortcut }) {
  return html`
    <div class="inb-panel-head">
      <div class="inb-panel-title">Order</div>
      <${ModelPicker} app=${app} />
      <span class="inb-order-head-sep"></span>
      <${Project} app=${app} />
    </div>
    <div class="inb-panel-body inb-order-body">
      <div class="inb-order-col inb-order-left">
        <div class="inb-order-scroll">
          <${ModelCard} app=${app} />
          <${Form} app=${app} />
          <${Rows} app=${app} />
          <${Preview} app=${app} />
          <${RefineCard} app=${app} />
        </div>
        <${OrderBar} app=${app} shortcut=${shortcut} />
      </div>
      <div class="inb-order-col inb-order-right">
        <${Session} app=${app} shortcut=${shortcut} />
        <${Presets} app=${app} />
        <${Tokens} app=${app} />
      </div>
    </div>
    <${Picker} app=${app} />
    <${Civitai} app=${app} />`;
}

function mount(ctx) {
  const el = document.createElement("div");
  el.className = "inb-panel inb-order";
  el.dataset.lmSuppressShortcuts = "true";
  ctx.el.append(el);
  const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || "");
  const shortcut = isMac ? "⌘↵" : "Ctrl+↵";
  const store = createStore(initialState());
  const focus = (name) => requestAnimationFrame(() => {
    const wrap = el.querySelector(`.inb-civitai [data-field="${CSS.escape(name)}"]`)
      || el.querySelector(`.inb-order-left [data-field="${CSS.escape(name)}"], .inb-panel-head [data-field="${CSS.escape(name)}"]`);
    if (!wrap) return;
    if (wrap.scrollIntoView) wrap.scrollIntoView({ block: "nearest" });
    const control = wrap.querySelector("textarea:not([hidden]), input:not([hidden]):not([type=file]), select:not([hidden])");
    if (control) control.focus();
  });
  const actions = createActions({
    call: ctx.call,
    toast: (message, opts) => INB.toast(ctx.root, message, opts),
    error: (err) => INB.showError(ctx.root, err),
    blobUrl: INB.blobUrl,
    release: INB.release,
    focus,
  }, store);
  const app = { store, actions, nav: ctx.nav, el, lastText: null };
  // Ctrl/Cmd+Enter orders; it stops here, so JupyterLab never runs the cell.
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      e.stopPropagation();
      actions.placeOrder();
    }
  });
  render(html`<${Order} app=${app} shortcut=${shortcut} />`, el);
  ctx.on("session", (data, buffers) => actions.session(data, buffers));
  ctx.on("table", (data) => actions.tableChanged(data ? data.table : null));
  ctx.on("civitai", (data) => actions.civitaiPushed(data));
  actions.init();
  return {
    navigate: (payload) => actions.navigate(payload),
    shown: () => actions.refresh(),
    reconnected: () => actions.askAgain(),
    destroy() {
      actions.destroy();
      render(null, el);
    },
  };
}

INB.panels.order = mount;
