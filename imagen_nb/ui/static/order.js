// The Order panel: pick a model, fill in its form (SmartParameters in any field) with a live
// preview of the expansion, order, and watch this session's products arrive in the strip.
// Python side: imagen_nb/ui/order.py (OrderController). Keyboard: Ctrl/Cmd+Enter orders; in
// number fields ArrowUp/ArrowDown step the value (Shift: ×10); the model search takes
// ArrowUp/ArrowDown/Enter/Escape. After an order the prompt is cleared for the next one (every
// other field stays); "Edit again" in the confirmation line puts it back.

/**
 * Requests (ctx.call(method, args) → result):
 *   init() → InitState (+ buffers: session thumbnails)          state() → State
 *   model({model_id}) → Form                                   preview({model, values, limit?}) → Preview
 *   order({model, values, project_id?, limit?}) → {order_id, model, count, project_id}
 *   reorder({product_id, scope, use, model}) → Prefill & {scope, use, imported, unmapped}
 *                                                            preset_apply({name}) → Prefill & {name}
 *   preset_save({name, model, values}) → Preset[]              preset_delete({name}) → Preset[]
 *   tokens() → Token[]   token_set({name, values, old_name?}) → Token[]   token_delete({name}) → Token[]
 *   projects() → Project[]                                     create_project({name}) → Project & {projects}
 *   product({product_id}) → ProductView (+ buffer: the file)   recent({offset, limit, text}) → {items: PickItem[], more, offset}
 *   upload({name, field}, [file]) → Upload (+ buffer: thumb)   image_thumb({value}) → ImageThumb (+ buffer)
 * Push "session": SessionPush (+ buffers: thumbnails), at most 10 per second.
 * Errors reject with err.info = { type, message, field, column }.
 *
 * @typedef {{ id: string, provider: string, type: string, family: string, description: string, key_missing: boolean }} ModelRow
 * @typedef {{ name: string, label: string, kind: "prompt"|"text"|"integer"|"number"|"enum"|"boolean"|"image"|"json",
 *             required: boolean, advanced: boolean, description: string, range: string|null, minimum: number|null,
 *             maximum: number|null, step: number|null, choices: string[]|null, default: string|null }} Field
 * @typedef {{ id: string, provider: string, name: string, type: string, family: string, description: string,
 *             title: string, key_missing: string|null, image_to_image: boolean, fields: Field[] }} Form
 * @typedef {{ id: string, name: string }} Project
 * @typedef {{ name: string, model: string|null, params: Object<string, any> }} Preset
 * @typedef {{ name: string, values: string[] }} Token
 * @typedef {{ projects: Project[], presets: Preset[], tokens: Token[], limit: number }} State
 * @typedef {State & { models: ModelRow[], providers: string[], types: string[], model: string|null, form: Form|null,
 *             session: SessionPush, home: string }} InitState
 * @typedef {{ count: number, images: number, limit: number, rows: Object<string, any>[], columns: string[],
 *             missing: string[], key_missing: string|null, too_large: string|null }} Preview
 * @typedef {{ model: string|null, form: Form|null, values: Object<string, string>, project_id?: string|null,
 *             product_id?: string }} Prefill
 * @typedef {{ id: string, order_id: string, width: number, height: number, media_type: string, prompt: string|null,
 *             created_at: string, thumb: number|null, mime: string|null }} SessionProduct
 * @typedef {{ order_id: string, model: string, count: number, products: number, complete: number, failed: number,
 *             cancelled: number, status: string, error: string|null, prompt: string|null }} SessionOrder
 * @typedef {{ products: SessionProduct[], orders: SessionOrder[] }} SessionPush
 * @typedef {{ id: string, image: number|null, mime: string, media_type: string, width: number, height: number,
 *             size: number, model: string|null, order_id: string|null, project_id: string|null,
 *             params: Object<string, any>, created_at: string, path: string, rating: number|null }} ProductView
 * @typedef {{ id: string, prompt: string|null, width: number, height: number, model: string|null,
 *             thumb: number|null, mime: string|null }} PickItem
 * @typedef {{ path: string, name: string, width: number, height: number, size: number, thumb: number, mime: string }} Upload
 * @typedef {{ kind: "product"|"file"|"url"|"missing"|"outside", label: string, thumb: number|null, mime: string|null }} ImageThumb
 */

INB.panels.order = (ctx) => {
  const { h, fill } = INB;
  const STRIP_MAX = 60;
  const CLEAR_AFTER_ORDER = ["prompt"];
  const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || "");
  const shortcut = isMac ? "⌘↵" : "Ctrl+↵";
  const SMART = /(^|[^\\])\[/;

  /** @type {ModelRow[]|null} */ let models = null;  // null until init answers
  let pendingPick = null;  // what was typed and entered in the model search before the models came
  /** @type {Form|null} */ let form = null;
  /** @type {Map<string, any>} */ const fields = new Map();
  /** @type {Project[]} */ let projects = [];
  /** @type {Preset[]} */ let presets = [];
  /** @type {Token[]} */ let tokens = [];
  let limit = 1000;
  let projectId = "";
  let lastPreview = null;
  let previewSeq = 0;
  let lastOrder = null;      // SessionOrder of the latest order placed here
  let clearedPrompt = null;  // what "Edit again" restores
  let follow = true;         // the large view follows the newest product
  let shownId = null;
  let largeUrl = null;
  let lastTextField = null;  // where a token chip inserts "[name]"
  let destroyed = false;
  const timers = new Set();

  // ---- skeleton ---------------------------------------------------------------------------
  const providerSel = h("select", { class: "inb-select inb-order-filter", title: "Provider", "aria-label": "Provider" });
  const typeSel = h("select", { class: "inb-select inb-order-filter", title: "Model type", "aria-label": "Model type" });
  const modelInput = h("input", {
    class: "inb-input inb-order-model-input", role: "combobox", "aria-expanded": "false", "aria-autocomplete": "list",
    "aria-label": "Model", placeholder: "Search models…", spellcheck: "false", autocomplete: "off",
  });
  const modelList = h("div", { class: "inb-order-model-list", role: "listbox", hidden: true });
  const modelBox = h("div", { class: "inb-order-model", dataset: { field: "model" } }, modelInput, modelList);
  const projectSel = h("select", { class: "inb-select", "aria-label": "Project", title: "Project" });
  const projectNew = h("input", { class: "inb-input inb-order-project-new", placeholder: "New project name", hidden: true });
  const projectBox = h("div", { class: "inb-order-project", dataset: { field: "project" } }, projectSel, projectNew);
  const head = h("div", { class: "inb-panel-head" },
    h("div", { class: "inb-panel-title" }, "Order"),
    providerSel, typeSel, modelBox, h("span", { class: "inb-order-head-sep" }), projectBox);

  const modelCard = h("div", { class: "inb-order-modelcard", dataset: { field: "model" } });
  const formMain = h("div", { class: "inb-order-form" });
  const advancedBody = h("div", { class: "inb-order-form inb-order-grid" });
  const advancedSummary = h("summary", {}, "Advanced");
  const advanced = h("details", { class: "inb-order-advanced", hidden: true }, advancedSummary, advancedBody);
  const previewBox = h("div", { class: "inb-order-preview", "aria-live": "polite" });
  const orderBtn = h("button", { class: "inb-btn inb-btn-primary inb-order-go", title: `Order (${shortcut})` }, "Order");
  const orderNote = h("div", { class: "inb-order-note", role: "status" });
  const bar = h("div", { class: "inb-order-bar" }, orderBtn, orderNote);
  const formCol = h("div", { class: "inb-order-col inb-order-left" },
    h("div", { class: "inb-order-scroll" }, modelCard, formMain, advanced, previewBox), bar);

  const large = h("div", { class: "inb-order-large" });
  const strip = h("div", { class: "inb-order-strip", role: "list", "aria-label": "Products of this session" });
  const stripHead = h("div", { class: "inb-order-card-head" }, h("span", {}, "This session"), h("span", { class: "inb-faint" }));
  const presetList = h("div", { class: "inb-order-list" });
  const presetName = h("input", { class: "inb-input", placeholder: "Name, e.g. small squares", "aria-label": "Preset name" });
  const presetSave = h("button", { class: "inb-btn inb-btn-sm" }, "Save form");
  const presetField = h("div", { class: "inb-order-inline", dataset: { field: "preset_name" } },
    h("div", { class: "inb-order-row" }, presetName, presetSave));
  const presetCount = h("span", { class: "inb-chip" }, "0");
  const presetsCard = h("details", { class: "inb-order-card", open: true },
    h("summary", { class: "inb-order-card-head" }, h("span", {}, "Presets"), presetCount), presetList, presetField);
  const tokenList = h("div", { class: "inb-order-list" });
  const tokenCount = h("span", { class: "inb-chip" }, "0");
  const tokenNew = h("button", { class: "inb-btn inb-btn-sm" }, "+ Token");
  const tokensCard = h("details", { class: "inb-order-card", open: true },
    h("summary", { class: "inb-order-card-head" }, h("span", {}, "Smart tokens"), tokenCount), tokenList,
    h("div", { class: "inb-order-row inb-order-card-foot" },
      h("span", { class: "inb-faint" }, "Use as ", h("code", {}, "[name]"), " (each value) or ", h("code", {}, "[?name]"), " (one at random)."),
      tokenNew));
  const sideCol = h("div", { class: "inb-order-col inb-order-right" },
    h("div", { class: "inb-order-card inb-order-session" }, stripHead, strip, large), presetsCard, tokensCard);

  const body = h("div", { class: "inb-panel-body inb-order-body" }, formCol, sideCol);
  const panel = h("div", { class: "inb-panel inb-order", dataset: { lmSuppressShortcuts: "true" } }, head, body);
  ctx.el.append(panel);
  fill(modelCard, h("div", { class: "inb-faint" }, "Loading models…"));
  renderLarge(null);

  // ---- small helpers --------------------------------------------------------------------
  function later(fn, ms) {
    const t = setTimeout(() => { timers.delete(t); if (!destroyed) fn(); }, ms);
    timers.add(t);
    return t;
  }
  const fmtN = (n) => Number(n).toLocaleString("en-US");
  const plural = (n, word) => `${fmtN(n)} ${word}${n === 1 ? "" : "s"}`;
  function short(v, n = 60) {
    const s = typeof v === "string" ? v : JSON.stringify(v);
    return s === undefined ? "" : (s.length > n ? s.slice(0, n - 1) + "…" : s);
  }
  function fieldWrap(name) {
    if (name === "model") return modelCard;
    if (name === "project") return projectBox;
    const f = fields.get(name);
    return f ? f.wrap : null;
  }
  /** Show an error at its field: a SmartParameter error gets its column marked in the value.
   *  `source` ("preview" or "order") says who may clear it: a preview clears its own errors only. */
  function errorAt(info, source = "preview") {
    const wrap = info && fieldWrap(info.field);
    if (!wrap) return false;
    clearAt(wrap);
    wrap.dataset.errSource = source;
    const f = fields.get(info.field);
    if (f && f.f.advanced) advanced.open = true;
    const message = String(info.message || "").replace(/^parameter '[^']*'(, column \d+)?: /, "");
    if (wrap === modelCard && form && form.key_missing && message === form.key_missing) {
      wrap.classList.add("inb-invalid");  // the card says it already: make that notice stand out
      return true;
    }
    const slot = h("div", { class: "inb-field-error", role: "alert" });
    if (info.column && f) {
      const text = f.get();
      const i = Math.max(0, Math.min(text.length, info.column - 1));
      const from = Math.max(0, i - 24);
      slot.append(h("span", {}, `Column ${info.column}: ${message}`),
        h("div", { class: "inb-order-caret inb-mono" }, from ? "…" : "", text.slice(from, i),
          h("mark", {}, text.slice(i, i + 1) || " "), text.slice(i + 1, i + 24), i + 24 < text.length ? "…" : ""));
    } else {
      slot.textContent = message;
    }
    wrap.append(slot);
    wrap.classList.add("inb-invalid");
    return true;
  }
  function clearAt(wrap, source = null) {
    if (!wrap || (source && wrap.dataset.errSource && wrap.dataset.errSource !== source)) return;
    delete wrap.dataset.errSource;
    wrap.classList.remove("inb-invalid");
    for (const el of wrap.querySelectorAll(":scope > .inb-field-error")) el.remove();
  }
  function clearAllErrors() {
    for (const f of fields.values()) clearAt(f.wrap);
    clearAt(modelCard);
    clearAt(projectBox);
  }
  function failed(err, where = null) {
    if (!errorAt(err && err.info, "action")) INB.showError(ctx.root, err, where);
  }

  // ---- models: provider → type → model ------------------------------------------------------
  let activeIdx = -1;
  let shownModels = [];

  function optionsOf(sel, values, allLabel) {
    const keep = sel.value;
    fill(sel, h("option", { value: "" }, allLabel), values.map((v) => h("option", { value: v }, v)));
    sel.value = values.includes(keep) ? keep : "";
  }

  function filtered() {
    if (!models) return [];
    const q = modelInput.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const exact = form && modelInput.value.trim() === form.id;
    return models.filter((m) => (!providerSel.value || m.provider === providerSel.value)
      && (!typeSel.value || m.type === typeSel.value)
      && (exact || q.every((w) => `${m.id} ${m.family} ${m.type} ${m.description}`.toLowerCase().includes(w))));
  }

  function openList() {
    shownModels = filtered();
    activeIdx = Math.max(0, shownModels.findIndex((m) => form && m.id === form.id));
    const rows = [];
    let group = null;
    shownModels.forEach((m, i) => {
      if (m.provider !== group && !providerSel.value) {
        group = m.provider;
        rows.push(h("div", { class: "inb-order-model-group" }, group));
      }
      const name = m.id.slice(m.provider.length + 1);
      rows.push(h("div", {
        class: "inb-order-model-opt", role: "option", id: `inb-order-opt-${i}`, dataset: { idx: String(i) },
        "aria-selected": String(i === activeIdx),
        onmousedown: (e) => { e.preventDefault(); pickModel(m.id); },
        onmousemove: () => setActive(i),
      },
      h("div", { class: "inb-order-model-line" },
        h("span", { class: "inb-order-model-name" }, name),
        h("span", { class: "inb-chip" }, m.type),
        h("span", { class: "inb-chip" }, m.family),
        m.key_missing ? h("span", { class: "inb-chip inb-order-chip-warn", title: `No API key for ${m.provider} yet` }, "needs key") : null),
      h("div", { class: "inb-order-model-desc" }, m.description)));
    });
    if (!models) rows.push(h("div", { class: "inb-order-model-none inb-order-model-loading" }, "Loading models…"));
    else if (!shownModels.length) rows.push(h("div", { class: "inb-order-model-none" }, "No model matches. Clear the filters or the search."));
    fill(modelList, rows);
    modelList.hidden = false;
    modelInput.setAttribute("aria-expanded", "true");
    setActive(activeIdx);
  }

  function closeList() {
    modelList.hidden = true;
    modelInput.setAttribute("aria-expanded", "false");
    modelInput.removeAttribute("aria-activedescendant");
  }

  function setActive(i) {
    activeIdx = i;
    for (const el of modelList.querySelectorAll("[role=option]")) {
      const on = Number(el.dataset.idx) === i;
      el.setAttribute("aria-selected", String(on));
      if (on) {
        modelInput.setAttribute("aria-activedescendant", el.id);
        el.scrollIntoView({ block: "nearest" });
      }
    }
  }

  modelInput.addEventListener("focus", () => { modelInput.select(); openList(); });
  modelInput.addEventListener("input", () => openList());
  modelInput.addEventListener("blur", () => { closeList(); if (form) modelInput.value = form.id; });
  modelInput.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (modelList.hidden) openList();
      const n = shownModels.length;
      if (n) setActive((activeIdx + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
    } else if (e.key === "Enter" && !(e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      const m = shownModels[activeIdx];
      if (m) pickModel(m.id);
      else if (!models && modelInput.value.trim()) pendingPick = modelInput.value.trim();  // picked once they come
    } else if (e.key === "Escape") {
      e.preventDefault();
      closeList();
      if (form) modelInput.value = form.id;
      modelInput.select();
    }
  });
  for (const sel of [providerSel, typeSel]) {
    sel.addEventListener("change", () => {
      const list = filtered();
      if (form && !list.some((m) => m.id === form.id) && list.length) pickModel(list[0].id);
      else modelInput.focus();
    });
  }

  function pickModel(id) {
    closeList();
    modelInput.blur();
    if (form && id === form.id) { modelInput.value = id; return; }
    loadModel(id, { carry: true });
  }

  /** Draw `id`'s form; carry over what the user typed into fields of the same name. */
  async function loadModel(id, { carry = true, values = null, formDesc = null } = {}) {
    const kept = carry ? currentValues() : {};
    let next = formDesc;
    if (!next) {
      try {
        next = (await ctx.call("model", { model_id: id })).result;
      } catch (err) {
        modelInput.value = form ? form.id : id;
        clearAt(modelCard);
        failed(err);
        return false;
      }
    }
    renderForm(next, { ...kept, ...(values || {}) });
    return true;
  }

  function renderModelCard() {
    if (!form) { fill(modelCard); return; }
    const row = models.find((m) => m.id === form.id);
    fill(modelCard,
      h("div", { class: "inb-order-model-title" },
        h("strong", {}, form.id),
        h("span", { class: "inb-chip inb-chip-accent" }, form.type),
        h("span", { class: "inb-chip" }, form.family)),
      h("div", { class: "inb-muted inb-order-model-about" }, form.description || (row && row.description) || ""),
      form.key_missing ? h("div", { class: "inb-order-warn" }, h("strong", {}, "API key needed. "), form.key_missing) : null);
  }

  // ---- the form ---------------------------------------------------------------------------
  function currentValues() {
    const out = {};
    for (const [name, f] of fields) {
      const v = f.get();
      if (v !== "") out[name] = v;
    }
    return out;
  }

  function renderForm(next, values = {}) {
    form = next;
    clearAt(modelCard);  // an error about the previous model is history once another one is drawn
    modelInput.value = form.id;
    if (providerSel.value && providerSel.value !== form.provider) providerSel.value = "";
    if (typeSel.value && typeSel.value !== form.type) typeSel.value = "";
    fields.clear();
    lastTextField = null;
    // Prompts, then image inputs, then the short fields in a grid, then long structured ones;
    // the spec's order (x-order) holds within each group.
    const groups = { prompt: [], image: [], grid: [], json: [] };
    const adv = [];
    for (const f of form.fields) {
      const field = makeField(f);
      fields.set(f.name, field);
      if (values[f.name] !== undefined) field.set(values[f.name]);
      if (f.advanced) adv.push(field.wrap);
      else (groups[f.kind] || groups.grid).push(field.wrap);
    }
    fill(formMain, groups.prompt, groups.image,
      groups.grid.length ? h("div", { class: "inb-order-grid" }, groups.grid) : null, groups.json);
    fill(advancedBody, adv);
    advanced.hidden = !adv.length;
    advancedSummary.textContent = `Advanced · ${adv.length}`;
    // Advanced fields that hold a value are not hidden away.
    if (adv.length && Object.keys(values).some((n) => fields.get(n) && fields.get(n).f.advanced)) advanced.open = true;
    renderModelCard();
    lastPreview = null;
    renderPresets();
    schedulePreview(0);
  }

  function makeField(f) {
    const id = `inb-order-${f.name}-${Math.random().toString(36).slice(2, 8)}`;
    const wrap = h("div", { class: `inb-field inb-order-field inb-order-k-${f.kind}`, dataset: { field: f.name } });
    // A short label; the parameter's own name (what studio.order() takes) and the full help on hover.
    const hover = [`${f.label} — ${f.name}=`, f.range, f.description].filter(Boolean).join("\n");
    const label = h("label", { class: "inb-label", for: id, title: hover },
      h("span", { class: "inb-order-ltext" }, f.label), f.required ? h("span", { class: "inb-order-req", title: "required" }, " *") : null);
    const helpBits = [];
    if (f.range) helpBits.push(h("span", { class: "inb-order-range" }, f.range));
    if (f.description) helpBits.push(h("span", {}, f.description));
    const help = helpBits.length ? h("div", { class: "inb-help", title: f.description || "" }, helpBits) : null;
    let field;
    if (f.kind === "prompt") field = textField(f, id, true);
    else if (f.kind === "enum" || f.kind === "boolean") field = choiceField(f, id);
    else if (f.kind === "image") field = imageField(f, id, wrap);
    else if (f.name === "loras" && f.kind === "json") field = loraField(f, id);
    else field = textField(f, id, false);
    field.f = f;
    field.wrap = wrap;
    wrap.append(label, field.el);
    if (help) wrap.append(help);
    const changed = () => {
      clearAt(wrap);
      wrap.classList.toggle("inb-order-smart", field.smart ? field.smart() : SMART.test(field.get()));
      if (field.changed) field.changed();
      schedulePreview();
    };
    field.el.addEventListener("input", changed);
    // Text fields also fire "change" when they lose focus: only selects need it.
    field.el.addEventListener("change", (e) => { if (e.target.tagName === "SELECT" || e.target === field.el) changed(); });
    const set = field.set;
    field.set = (v) => { set(v == null ? "" : String(v)); wrap.classList.toggle("inb-order-smart", SMART.test(field.get())); if (field.changed) field.changed(); };
    return field;
  }

  function textField(f, id, area) {
    const def = f.default !== null && f.default !== undefined && f.default !== "" ? f.default : "";
    let placeholder = def ? `${def}` : "";
    if (f.name === "prompt") placeholder = "a [red,blue] kite over the sea — [a,b] each, [1..4] range, [a|b] one at random, [token]";
    else if (f.kind === "integer" || f.kind === "number") placeholder = def ? `${def}` : (f.name === "seed" ? "random" : "");
    else if (f.kind === "json") placeholder = def || "JSON, or the provider's text form";
    const input = area
      ? h("textarea", { class: "inb-textarea", id, rows: f.name === "prompt" ? 3 : 2, placeholder, spellcheck: "true" })
      : h("input", {
        class: "inb-input", id, placeholder, spellcheck: "false", autocomplete: "off",
        inputmode: f.kind === "integer" || f.kind === "number" ? "decimal" : undefined,
      });
    input.addEventListener("focus", () => { lastTextField = input; });
    if (f.kind === "integer" || f.kind === "number") {
      input.addEventListener("keydown", (e) => {
        if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
        const raw = input.value.trim() || def;
        if (!/^[+-]?\d+(\.\d+)?$/.test(raw)) return;
        e.preventDefault();
        const step = (f.step || (f.kind === "integer" ? 1 : 0.1)) * (e.shiftKey ? 10 : 1);
        let v = Number(raw) + (e.key === "ArrowUp" ? step : -step);
        if (f.minimum !== null && f.minimum !== undefined) v = Math.max(f.minimum, v);
        if (f.maximum !== null && f.maximum !== undefined) v = Math.min(f.maximum, v);
        const decimals = f.kind === "integer" ? 0 : Math.max(((String(step).split(".")[1]) || "").length, ((raw.split(".")[1]) || "").length);
        input.value = f.kind === "integer" ? String(Math.round(v)) : v.toFixed(decimals);
        input.dispatchEvent(new Event("input"));
      });
    }
    return { el: input, input, get: () => input.value, set: (v) => { input.value = v; }, focus: () => input.focus() };
  }

  /**
   * LoRAs: one row per LoRA (a name from the model's LoRA folder, a weight slider, remove) and
   * "+ Add LoRA"; the value sent is JSON [{name, weight}]. "Edit as text" shows the text form
   * (paths, "style-a:0.6", smart syntax), which the rows cannot always show.
   */
  function loraField(f, id) {
    const text = textField(f, id, false);
    text.input.hidden = true;
    const rows = h("div", { class: "inb-order-loras" });
    let names = [];
    let rowsMode = true;
    const simple = /^\s*[^,:[\]{}"/\\]+(:\s*-?\d+(\.\d+)?)?(\s*,\s*[^,:[\]{}"/\\]+(:\s*-?\d+(\.\d+)?)?)*\s*$/;
    const addBtn = h("button", { class: "inb-btn inb-btn-sm", type: "button", onclick: () => { addRow("", 1); changed(); } }, "+ Add LoRA");
    const modeBtn = h("button", { class: "inb-btn inb-btn-link inb-btn-sm", type: "button", onclick: () => setMode(!rowsMode) }, "Edit as text");
    const el = h("div", { class: "inb-order-lorabox" }, rows, h("div", { class: "inb-order-lora-tools" }, addBtn, modeBtn), text.input);
    const changed = () => { text.input.dispatchEvent(new Event("input", { bubbles: true })); };

    function addRow(name, weight) {
      const sel = h("select", { class: "inb-select", "aria-label": "LoRA" },
        h("option", { value: "" }, names.length ? "Choose a LoRA…" : "No LoRAs in the LoRA folder"),
        [...new Set([...names, name].filter(Boolean))].map((n) => h("option", { value: n }, n)));
      sel.value = name;
      const num = h("input", { class: "inb-input inb-order-lora-w", type: "number", min: -2, max: 2, step: 0.05, value: String(weight), "aria-label": "LoRA weight" });
      const slider = h("input", { type: "range", min: -2, max: 2, step: 0.05, value: String(weight), "aria-label": "LoRA weight slider" });
      slider.addEventListener("input", () => { num.value = slider.value; changed(); });
      num.addEventListener("input", () => { slider.value = num.value; changed(); });
      sel.addEventListener("change", changed);
      const row = h("div", { class: "inb-order-lora" }, sel, slider, num,
        h("button", { class: "inb-btn inb-btn-icon", type: "button", title: "Remove this LoRA", "aria-label": "Remove LoRA",
          onclick: () => { row.remove(); changed(); } }, "×"));
      rows.append(row);
    }
    /** The rows as the value the form sends: JSON [{name, weight}], "" for none. */
    function rowsText() {
      const list = [...rows.children].map((r) => {
        const [sel, , num] = r.children;
        return sel.value ? { name: sel.value, weight: Number(num.value || 1) } : null;
      }).filter(Boolean);
      return list.length ? JSON.stringify(list) : "";
    }
    /** Rows from a value: JSON [{name, weight}] or the text form "a:0.6, b"; null when rows cannot show it. */
    function parse(v) {
      const raw = String(v || "").trim();
      if (!raw) return [];
      try {
        const list = JSON.parse(raw);
        const items = Array.isArray(list) ? list : [list];
        if (items.every((x) => x && typeof x === "object" && typeof x.name === "string" && !("path" in x))) {
          return items.map((x) => [x.name, x.weight === undefined ? 1 : Number(x.weight)]);
        }
        return null;
      } catch (e) { /* not JSON: maybe the text form */ }
      if (!simple.test(raw)) return null;
      return raw.split(",").map((x) => x.trim()).filter(Boolean).map((part) => {
        const i = part.lastIndexOf(":");
        const weighted = i > 0 && /^-?\d+(\.\d+)?$/.test(part.slice(i + 1).trim());
        return weighted ? [part.slice(0, i).trim(), Number(part.slice(i + 1))] : [part, 1];
      });
    }
    function fromText(v) {
      rows.replaceChildren();
      for (const [name, weight] of parse(v) || []) addRow(name, weight);
    }
    function setMode(rowsWanted) {
      if (rowsWanted && parse(text.input.value) === null) { INB.toast(ctx.root, "This value needs the text form (paths or smart syntax)."); return; }
      if (!rowsWanted) text.input.value = rowsText();
      else fromText(text.input.value);
      rowsMode = rowsWanted;
      rows.hidden = !rowsMode;
      addBtn.hidden = !rowsMode;
      text.input.hidden = rowsMode;
      modeBtn.textContent = rowsMode ? "Edit as text" : "Use the picker";
    }
    const model = form && form.id;
    ctx.call("loras", { model }).then(({ result }) => {
      names = result;
      const value = rowsMode ? rowsText() : null;
      if (value !== null) fromText(value);
    }).catch(() => {});
    return {
      el, input: text.input,
      get: () => (rowsMode ? rowsText() : text.input.value),
      // JSON's brackets are not SmartParameter groups: only the text form can hold those.
      smart: () => !rowsMode && parse(text.input.value) === null && SMART.test(text.input.value),
      set: (v) => { text.input.value = v || ""; setMode(parse(text.input.value) !== null); },
      focus: () => (rowsMode && rows.querySelector("select") ? rows.querySelector("select").focus() : addBtn.focus()),
    };
  }

  /** An enum or boolean: a select, or free text for smart syntax ("Several…"). */
  function choiceField(f, id) {
    const CUSTOM = "\u0000custom";
    const sel = h("select", { class: "inb-select", id },
      h("option", { value: "" }, f.default !== null && f.default !== undefined ? `Default (${f.default})` : "—"),
      (f.choices || []).map((c) => h("option", { value: c }, c)),
      h("option", { value: CUSTOM }, "Several… (smart syntax)"));
    const text = h("input", { class: "inb-input", placeholder: `[${(f.choices || []).slice(0, 2).join(",")}]`, hidden: true, spellcheck: "false" });
    const back = h("button", { class: "inb-btn inb-btn-icon", title: "Back to the list", "aria-label": "Back to the list", hidden: true }, "≡");
    const el = h("div", { class: "inb-order-choice" }, sel, text, back);
    const mode = (custom) => {
      sel.hidden = custom;
      text.hidden = !custom;
      back.hidden = !custom;
    };
    sel.addEventListener("change", () => {
      if (sel.value === CUSTOM) { mode(true); text.value = ""; text.focus(); sel.value = ""; }
    });
    back.addEventListener("click", () => {
      const v = text.value.trim();
      mode(false);
      sel.value = (f.choices || []).includes(v) ? v : "";
      el.dispatchEvent(new Event("change", { bubbles: true }));
      sel.focus();
    });
    text.addEventListener("focus", () => { lastTextField = text; });
    return {
      el, input: sel,
      get: () => (text.hidden ? sel.value : text.value),
      set: (v) => {
        if (v === "" || (f.choices || []).includes(v)) { mode(false); sel.value = v; text.value = ""; }
        else { mode(true); text.value = v; }
      },
      focus: () => (text.hidden ? sel : text).focus(),
    };
  }

  /** An image input: a product id, a file path or a URL; from the gallery picker or an upload. */
  function imageField(f, id, wrap) {
    const input = h("input", { class: "inb-input", id, placeholder: "product id, file path or URL — or pick / drop an image", spellcheck: "false", autocomplete: "off" });
    const thumb = h("div", { class: "inb-thumb inb-order-imgthumb", title: "" });
    const file = h("input", { type: "file", accept: "image/*", hidden: true });
    const clear = h("button", { class: "inb-btn inb-btn-icon", title: "Clear", "aria-label": "Clear the image", hidden: true }, "×");
    const el = h("div", { class: "inb-order-image" }, thumb, input, clear,
      h("button", { class: "inb-btn inb-btn-sm", onclick: () => openPicker(f.name) }, "Gallery…"),
      h("button", { class: "inb-btn inb-btn-sm", onclick: () => file.click() }, "Upload…"), file);
    let thumbUrl = null;
    let seq = 0;
    const showThumb = (buf, mime, title) => {
      if (thumbUrl) URL.revokeObjectURL(thumbUrl);
      thumbUrl = buf ? URL.createObjectURL(new Blob([buf], { type: mime || "image/png" })) : null;
      fill(thumb, thumbUrl ? h("img", { src: thumbUrl, alt: "" }) : null);
      thumb.classList.toggle("inb-order-imgthumb-empty", !thumbUrl);
      thumb.title = title || "";
    };
    const lookup = INB.debounce(async () => {
      const value = input.value.trim();
      const mine = ++seq;
      if (!value) { showThumb(null); return; }
      try {
        const { result, buffers } = await ctx.call("image_thumb", { value });
        if (mine !== seq) return;
        showThumb(result.thumb !== null ? buffers[result.thumb] : null, result.mime, `${result.kind}: ${result.label}`);
      } catch (e) { /* a preview only */ }
    }, 350);
    const upload = async (blob, name) => {
      clearAt(wrap);
      wrap.classList.add("inb-order-busy");
      try {
        const data = await blob.arrayBuffer();
        const { result, buffers } = await ctx.call("upload", { name, field: f.name }, [data]);
        field.set(result.path);
        showThumb(buffers[result.thumb], result.mime, `${result.name} · ${result.width}×${result.height} · ${INB.fmtBytes(result.size)}`);
        seq++;
        schedulePreview();
      } catch (err) {
        failed(err);
      } finally {
        wrap.classList.remove("inb-order-busy");
      }
    };
    file.addEventListener("change", () => { if (file.files && file.files[0]) upload(file.files[0], file.files[0].name); file.value = ""; });
    wrap.addEventListener("dragover", (e) => { e.preventDefault(); wrap.classList.add("inb-order-drop"); });
    wrap.addEventListener("dragleave", () => wrap.classList.remove("inb-order-drop"));
    wrap.addEventListener("drop", (e) => {
      e.preventDefault();
      wrap.classList.remove("inb-order-drop");
      const dropped = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
      if (dropped) upload(dropped, dropped.name);
    });
    clear.addEventListener("click", () => { field.set(""); schedulePreview(); input.focus(); });
    const field = {
      el, input,
      get: () => input.value,
      set: (v) => { input.value = v; },
      focus: () => input.focus(),
      changed: () => { clear.hidden = !input.value; lookup(); },
      destroy: () => { if (thumbUrl) URL.revokeObjectURL(thumbUrl); },
    };
    showThumb(null);
    return field;
  }

  // ---- the gallery picker (image inputs) ----------------------------------------------------
  function openPicker(fieldName) {
    const grid = h("div", { class: "inb-order-pick-grid" });
    const search = h("input", { class: "inb-input", placeholder: "Search prompts…", "aria-label": "Search prompts" });
    const more = h("button", { class: "inb-btn", hidden: true }, "Load more");
    const urls = [];
    let offset = 0;
    let seq = 0;
    const close = () => { backdrop.remove(); urls.forEach((u) => URL.revokeObjectURL(u)); const f = fields.get(fieldName); if (f) f.focus(); };
    const load = async (reset) => {
      const mine = ++seq;
      if (reset) { offset = 0; }
      try {
        const { result, buffers } = await ctx.call("recent", { offset, limit: 24, text: search.value });
        if (mine !== seq) return;
        if (reset) fill(grid);
        for (const item of result.items) {
          const url = item.thumb !== null ? URL.createObjectURL(new Blob([buffers[item.thumb]], { type: item.mime || "image/webp" })) : "";
          if (url) urls.push(url);
          grid.append(h("button", {
            class: "inb-order-pick", title: `${item.prompt || item.id}\n${item.width}×${item.height} · ${item.model || "imported"}`,
            onclick: () => {
              const f = fields.get(fieldName);
              if (f) { f.set(item.id); clearAt(f.wrap); schedulePreview(); }
              close();
            },
          }, h("div", { class: "inb-thumb" }, url ? h("img", { src: url, alt: item.prompt || "" }) : null)));
        }
        offset += result.items.length;
        more.hidden = !result.more;
        if (!grid.children.length) {
          grid.append(h("div", { class: "inb-empty" }, h("strong", {}, search.value ? "No image matches" : "No images yet"),
            search.value ? "Try other words." : "Order some, or import files with studio.import_products(…)."));
        }
      } catch (err) { failed(err); }
    };
    search.addEventListener("input", INB.debounce(() => load(true), 250));
    more.addEventListener("click", () => load(false));
    const modal = h("div", { class: "inb-modal inb-order-picker", role: "dialog", "aria-label": "Pick an image" },
      h("div", { class: "inb-modal-head" }, h("strong", {}, "Pick an image"), search,
        h("button", { class: "inb-btn inb-btn-icon", title: "Close", "aria-label": "Close", onclick: close }, "×")),
      h("div", { class: "inb-modal-body" }, grid, h("div", { class: "inb-order-pick-more" }, more)));
    const backdrop = h("div", { class: "inb-modal-backdrop", onclick: (e) => { if (e.target === backdrop) close(); } }, modal);
    backdrop.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.stopPropagation(); close(); } });
    panel.append(backdrop);
    search.focus();
    load(true);
  }

  // ---- live preview ---------------------------------------------------------------------------
  let previewTimer = null;
  function schedulePreview(ms = 250) {
    clearTimeout(previewTimer);
    timers.delete(previewTimer);
    previewBox.classList.add("inb-order-stale");
    previewTimer = later(runPreview, ms);
  }

  async function runPreview() {
    if (!form) return;
    const mine = ++previewSeq;
    try {
      const { result } = await ctx.call("preview", { model: form.id, values: currentValues() });
      if (mine !== previewSeq) return;
      for (const f of fields.values()) clearAt(f.wrap, "preview");
      clearAt(modelCard, "preview");
      lastPreview = result;
      renderPreview(result, null);
      if (notOrderedAt !== null) { notOrderedAt = null; renderNote(); }  // fixed: the refusal is history
    } catch (err) {
      if (mine !== previewSeq) return;
      for (const f of fields.values()) clearAt(f.wrap, "preview");
      clearAt(modelCard, "preview");
      lastPreview = null;
      errorAt(err.info);
      renderPreview(null, err.info || { message: String(err) });
    }
  }

  function renderPreview(p, error) {
    previewBox.classList.remove("inb-order-stale");
    if (error) {
      const f = error.field && fields.get(error.field);
      fill(previewBox, h("div", { class: "inb-order-preview-err" },
        h("strong", {}, f ? `Fix ${f.f.label}` : error.field === "model" ? "Model" : "Cannot expand"),
        h("span", {}, f ? " — see the field." : ` — ${error.message}`)));
      orderBtn.textContent = "Order";
      return;
    }
    const head = h("div", { class: "inb-order-preview-head" },
      h("span", { class: "inb-order-count" }, plural(p.count, "generation")),
      p.images !== p.count ? h("span", { class: "inb-muted" }, `→ ${plural(p.images, "image")}`) : null,
      h("span", { class: "inb-faint" }, `limit ${fmtN(p.limit)} per order`));
    const parts = [head];
    if (p.too_large) parts.push(h("div", { class: "inb-order-warn" }, p.too_large));
    if (p.missing.length) {
      const labels = p.missing.map((n) => (fields.get(n) ? fields.get(n).f.label : n));
      parts.push(h("div", { class: "inb-faint" }, `Fill in ${labels.join(", ")} to order.`));
    }
    const cols = p.columns.filter((c) => p.rows.some((r) => c in r));
    if (p.rows.length && cols.length && (p.count > 1 || cols.some((c) => SMART.test(String(currentValues()[c] || ""))))) {
      parts.push(h("div", { class: "inb-order-table-wrap" }, h("table", { class: "inb-order-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "#"), cols.map((c) => h("th", {}, fields.get(c) ? fields.get(c).f.label : c)))),
        h("tbody", {}, p.rows.map((r, i) => h("tr", {}, h("td", { class: "inb-faint" }, String(i + 1)),
          cols.map((c) => h("td", { title: typeof r[c] === "string" ? r[c] : JSON.stringify(r[c]) }, short(r[c], 80)))))))));
      if (p.count > p.rows.length) parts.push(h("div", { class: "inb-faint" }, `and ${fmtN(p.count - p.rows.length)} more`));
    }
    fill(previewBox, parts);
    orderBtn.textContent = p.too_large ? "Order" : `Order ${plural(p.count, "generation")}`;
  }

  // ---- ordering -------------------------------------------------------------------------------
  let placing = false;
  let notOrderedAt = null; // the field the last refused order named, until the preview passes
  async function placeOrder() {
    if (!form || placing) return;
    placing = true;
    orderBtn.disabled = true;
    const values = currentValues();
    try {
      const { result } = await ctx.call("order", { model: form.id, values, project_id: projectId || null });
      clearAllErrors();
      lastOrder = { order_id: result.order_id, model: result.model, count: result.count, products: 0, complete: 0,
        failed: 0, cancelled: 0, status: "queued", error: null };
      clearedPrompt = {};
      for (const name of CLEAR_AFTER_ORDER) {
        const f = fields.get(name);
        if (f && f.get()) { clearedPrompt[name] = f.get(); f.set(""); }
      }
      renderNote();
      follow = true;
      schedulePreview(0);
      const prompt = fields.get("prompt");
      if (prompt) prompt.focus();
    } catch (err) {
      const info = err.info || { message: String(err) };
      if (!errorAt(info, "order")) {
        fill(orderNote, h("span", { class: "inb-order-note-err" }, info.message));
      } else {
        const label = info.field === "model" ? "the model" : info.field === "project" ? "the project"
          : fields.get(info.field) ? fields.get(info.field).f.label : info.field;
        fill(orderNote, h("span", { class: "inb-order-note-err" }, `Not ordered: see ${label}.`));
        notOrderedAt = info.field;
        const wrap = fieldWrap(info.field);
        if (wrap && wrap.scrollIntoView) wrap.scrollIntoView({ block: "nearest" });
        const f = fields.get(info.field);
        if (f) f.focus();
      }
    } finally {
      placing = false;
      orderBtn.disabled = false;
    }
  }
  orderBtn.addEventListener("click", placeOrder);

  /** A passing message in the order bar (the latest order's line comes back after a while). */
  let noticeTimer = null;
  function notice(text) {
    fill(orderNote, h("span", { class: "inb-order-note-text inb-muted" }, text));
    clearTimeout(noticeTimer);
    timers.delete(noticeTimer);
    noticeTimer = later(renderNote, 4000);
  }

  function renderNote() {
    clearTimeout(noticeTimer);
    if (!lastOrder) { fill(orderNote, h("span", { class: "inb-faint" }, `${shortcut} orders from anywhere in the form`)); return; }
    const o = lastOrder;
    const done = o.complete + o.failed + o.cancelled;
    const finished = ["fulfilled", "failed", "cancelled"].includes(o.status);
    const bits = [
      h("span", { class: finished && o.status !== "fulfilled" ? "inb-status inb-status-failed" : "inb-order-ok" }, finished ? (o.status === "fulfilled" ? "✓" : "!") : "●"),
      h("span", { class: "inb-order-note-text" },
        `${plural(o.count, "generation")} `,
        h("span", { class: "inb-faint" }, finished ? `· ${o.status}` : `· ${fmtN(done)}/${fmtN(o.count)} done`),
        o.failed ? h("span", { class: "inb-status inb-status-failed", title: o.error || "" }, ` · ${fmtN(o.failed)} failed`) : null),
    ];
    if (clearedPrompt && Object.keys(clearedPrompt).length) {
      bits.push(h("button", {
        class: "inb-btn inb-btn-link", title: "Put the prompt of that order back",
        onclick: () => { for (const [n, v] of Object.entries(clearedPrompt)) { const f = fields.get(n); if (f) f.set(v); } clearedPrompt = null; renderNote(); schedulePreview(0); },
      }, "Edit again"));
    }
    if (ctx.nav) bits.push(h("button", { class: "inb-btn inb-btn-link", onclick: () => ctx.nav.go("production", { order_id: o.order_id }) }, "Production →"));
    fill(orderNote, bits);
  }

  // ---- the session: strip and large view --------------------------------------------------------
  const thumbUrls = new Map(); // product id → blob URL

  function addToStrip(item, buffers, atEnd = false) {
    if (strip.querySelector(`[data-id="${item.id}"]`)) return;
    const buf = item.thumb !== null && item.thumb !== undefined ? buffers[item.thumb] : null;
    const url = buf ? URL.createObjectURL(new Blob([buf], { type: item.mime || "image/webp" })) : "";
    if (url) thumbUrls.set(item.id, url);
    const btn = h("button", {
      class: "inb-order-strip-item", role: "listitem", dataset: { id: item.id },
      title: `${item.prompt || ""}\n${item.width || "?"}×${item.height || "?"}`.trim(),
      "aria-label": item.prompt || "product",
      onclick: () => { follow = strip.firstElementChild === btn; showProduct(item.id); },
      onkeydown: (e) => {
        const to = e.key === "ArrowRight" ? btn.nextElementSibling : e.key === "ArrowLeft" ? btn.previousElementSibling : null;
        if (to) { e.preventDefault(); to.focus(); to.click(); }
      },
    }, h("div", { class: "inb-thumb" }, url ? h("img", { src: url, alt: "" }) : h("span", { class: "inb-order-nothumb" }, (item.media_type || "").split("/")[0])));
    if (atEnd) strip.append(btn); else strip.prepend(btn);
    while (strip.children.length > STRIP_MAX) {
      const old = strip.lastElementChild;
      const u = thumbUrls.get(old.dataset.id);
      if (u) URL.revokeObjectURL(u);
      thumbUrls.delete(old.dataset.id);
      old.remove();
    }
  }

  function updateStripHead() {
    const n = strip.children.length;
    stripHead.lastElementChild.textContent = n ? plural(n, "product") + (n >= STRIP_MAX ? " (latest)" : "") : "";
    strip.hidden = !n;
  }

  function onSession(data, buffers) {
    if (!data) return;
    const items = data.products || [];
    for (const item of items.slice().reverse()) addToStrip(item, buffers || []);
    for (const o of data.orders || []) {
      if (lastOrder && o.order_id === lastOrder.order_id) { lastOrder = o; renderNote(); }
    }
    updateStripHead();
    if (items.length && (follow || !shownId)) showProduct(items[0].id);
  }

  let loading = null;   // the product id being fetched
  let wanted = null;    // the one to show once that fetch ends
  async function showProduct(id) {
    wanted = id;
    for (const el of strip.children) el.classList.toggle("inb-order-strip-on", el.dataset.id === id);
    if (loading) return;
    while (wanted && wanted !== shownId) {
      loading = wanted;
      try {
        const { result, buffers } = await ctx.call("product", { product_id: loading });
        if (destroyed) return;
        if (wanted === loading) renderLarge(result, buffers);
        else shownId = null;
      } catch (err) {
        failed(err);
        wanted = null;
      } finally {
        loading = null;
      }
    }
  }

  function renderLarge(p, buffers) {
    if (largeUrl) { URL.revokeObjectURL(largeUrl); largeUrl = null; }
    if (!p) {
      shownId = null;
      fill(large, h("div", { class: "inb-empty inb-order-empty" },
        h("strong", {}, "Your products appear here"),
        `Write a prompt and press Order (${shortcut}). Each finished image lands in this strip, newest first.`));
      return;
    }
    shownId = p.id;
    if (p.image !== null) largeUrl = URL.createObjectURL(new Blob([buffers[p.image]], { type: p.mime }));
    const params = p.params || {};
    const keys = Object.keys(params).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const imageField = form && form.fields.find((f) => f.kind === "image");
    fill(large,
      h("div", { class: "inb-order-large-img" },
        largeUrl ? h("img", {
          src: largeUrl, alt: params.prompt || "product", title: p.path,
          // Small images are scaled up: show their pixels rather than a blur.
          onload: (e) => e.target.classList.toggle("inb-order-pixels", e.target.naturalWidth < 160),
        }) : h("div", { class: "inb-empty" }, p.media_type)),
      h("div", { class: "inb-order-large-meta" },
        h("span", {}, `${p.width || "?"}×${p.height || "?"}`),
        h("span", {}, INB.fmtBytes(p.size)),
        p.model ? h("span", { class: "inb-chip" }, p.model) : null,
        h("span", { class: "inb-faint", title: p.created_at }, INB.fmtAgo(p.created_at))),
      h("div", { class: "inb-order-row inb-order-large-actions" },
        h("button", { class: "inb-btn inb-btn-sm", title: "Fill the form with this product's own parameters", onclick: () => useParams(p) }, "Use these parameters"),
        imageField ? h("button", { class: "inb-btn inb-btn-sm", title: `Set ${imageField.label} to this product`, onclick: () => { const f = fields.get(imageField.name); f.set(p.id); clearAt(f.wrap); schedulePreview(); } }, "Use as image") : null,
        ctx.nav && p.order_id ? h("button", { class: "inb-btn inb-btn-link", onclick: () => ctx.nav.go("gallery", { order_id: p.order_id }) }, "Gallery →") : null),
      h("table", { class: "inb-kv inb-order-params" },
        h("tbody", {}, keys.map((k) => h("tr", {}, h("th", {}, k), h("td", {}, typeof params[k] === "string" ? params[k] : JSON.stringify(params[k])))))));
  }
  const rank = (k) => ({ prompt: 0, negative_prompt: 1, seed: 2, width: 3, height: 4, num_inference_steps: 5, guidance_scale: 6 })[k] ?? 10;

  function useParams(p) {
    const values = {};
    const known = new Set(form ? form.fields.map((f) => f.name) : []);
    for (const [k, v] of Object.entries(p.params || {})) {
      if (!known.has(k) || v === null || v === undefined) continue;
      values[k] = typeof v === "string" ? v : typeof v === "boolean" ? String(v) : JSON.stringify(v);
    }
    const apply = () => { for (const [k, v] of Object.entries(values)) fields.get(k).set(v); clearAllErrors(); schedulePreview(0); };
    if (p.model && form && p.model !== form.id) {
      loadModel(p.model, { carry: false }).then((ok) => {
        if (!ok) return;
        const again = new Set(form.fields.map((f) => f.name));
        for (const [k, v] of Object.entries(p.params || {})) {
          if (again.has(k) && v !== null && v !== undefined) fields.get(k).set(typeof v === "string" ? v : typeof v === "boolean" ? String(v) : JSON.stringify(v));
        }
        schedulePreview(0);
      });
    } else apply();
  }

  // ---- prefill: re-order and presets ----------------------------------------------------------
  /** Fill the form from a Prefill: "replace" blanks every other field; "merge" keeps them. */
  async function prefill(pre, mode) {
    const base = mode === "merge" ? currentValues() : {};
    const values = { ...base, ...(pre.values || {}) };
    if (pre.form && (!form || pre.form.id !== form.id || mode === "replace")) renderForm(pre.form, values);
    else if (form) {
      for (const [name, f] of fields) f.set(values[name] !== undefined ? values[name] : "");
      const unknown = Object.keys(pre.values || {}).filter((n) => !fields.has(n));
      if (unknown.length) notice(`Not parameters of ${form.id}, left out: ${unknown.join(", ")}.`);
      schedulePreview(0);
    }
    clearAllErrors();
  }

  /**
   * Recall a product into the form. scope "product": its own parameter set (one generation, its
   * seed); "order": its whole order. use "seed" / "prompt" fill only those fields of the form as
   * it is. An import maps onto the model in the form, and the note names what did not map.
   */
  async function reorder(productId, { scope = "product", use = "all" } = {}) {
    try {
      const { result } = await ctx.call("reorder", { product_id: productId, scope, use, model: form ? form.id : null });
      if (!result.form && !form) { notice("Choose a model first: the product's parameters fill its form."); return; }
      await prefill(use === "all" ? result : { ...result, form: null }, use === "all" ? "replace" : "merge");
      if (use === "all" && result.project_id !== undefined) setProject(result.project_id || "");
      const prompt = fields.get("prompt");
      if (prompt) prompt.focus();  // ready to edit, and Ctrl+Enter orders from there
      recallNote(result);
    } catch (err) { failed(err); }
  }

  function recallNote(r) {
    clearTimeout(noticeTimer);
    const what = r.use === "seed" ? "Seed filled from the product."
      : r.use === "prompt" ? "Prompt filled from the product."
        : r.scope === "order" ? "Filled from the product's whole order: change what you like and order again."
          : r.imported ? `Filled from the imported product's parameters, mapped onto ${r.model}.`
            : "Filled from this product: one generation with its seed.";
    const other = r.use === "all" && !r.imported
      ? h("button", { class: "inb-btn inb-btn-link inb-order-recall-other",
        onclick: () => reorder(r.product_id, { scope: r.scope === "order" ? "product" : "order" }) },
      r.scope === "order" ? "This product only" : "Whole order instead") : null;
    const unmapped = (r.unmapped || []).length
      ? h("div", { class: "inb-order-recall-unmapped", title: r.unmapped.map((u) => `${u.name}: ${u.why}`).join("\n") },
        `Not mapped: ${r.unmapped.map((u) => u.name).join(", ")}`) : null;
    fill(orderNote, h("span", { class: "inb-order-note-text inb-muted" }, what), other, unmapped);
  }

  function summary(params) {
    return Object.entries(params || {}).map(([k, v]) => `${k} ${short(v, 24)}`).join(" · ");
  }

  function renderPresets() {
    presetCount.textContent = String(presets.length);
    if (!presets.length) {
      fill(presetList, h("div", { class: "inb-faint inb-order-list-empty" }, "No presets yet: fill in the form, name it below and save. Apply it to any later order."));
      return;
    }
    fill(presetList, presets.map((p) => h("div", { class: "inb-order-item" },
      h("button", { class: "inb-order-item-main", title: `Apply ${p.name}\n${summary(p.params)}`, onclick: () => applyPreset(p.name) },
        h("span", { class: "inb-order-item-name" }, p.name,
          p.model ? h("span", { class: "inb-chip" + (form && p.model === form.id ? " inb-chip-accent" : "") }, p.model) : null),
        h("span", { class: "inb-order-item-sub" }, summary(p.params))),
      h("button", { class: "inb-btn inb-btn-icon", title: `Delete ${p.name}`, "aria-label": `Delete preset ${p.name}`, onclick: () => deletePreset(p) }, "×"))));
  }

  async function applyPreset(name) {
    try {
      const { result } = await ctx.call("preset_apply", { name });
      await prefill(result, "merge");
      notice(`Preset “${name}” applied.`);
    } catch (err) { failed(err); }
  }

  async function savePreset() {
    clearAt(presetField);
    try {
      const { result } = await ctx.call("preset_save", { name: presetName.value, model: form ? form.id : null, values: currentValues() });
      const saved = presetName.value.trim();
      presets = result;
      presetName.value = "";
      renderPresets();
      notice(`Preset “${saved}” saved.`);
    } catch (err) {
      if (err.info && err.info.field === "preset_name") INB.showError(ctx.root, err, presetField);
      else failed(err);
    }
  }
  presetSave.addEventListener("click", savePreset);
  presetName.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); savePreset(); } });
  presetName.addEventListener("input", () => clearAt(presetField));

  async function deletePreset(p) {
    try {
      presets = (await ctx.call("preset_delete", { name: p.name })).result;
      renderPresets();
      INB.toast(ctx.root, `Preset “${p.name}” deleted.`, {
        action: "Undo",
        onAction: async () => {
          try {
            presets = (await ctx.call("preset_save", { name: p.name, model: p.model, values: p.params })).result;
            renderPresets();
          } catch (err) { failed(err); }
        },
      });
    } catch (err) { failed(err); }
  }

  // ---- smart tokens ---------------------------------------------------------------------------
  let editing = null; // name of the token being edited, "" for a new one

  function renderTokens() {
    tokenCount.textContent = String(tokens.length);
    const rows = tokens.map((t) => (editing === t.name ? tokenEditor(t) : h("div", { class: "inb-order-item" },
      h("button", { class: "inb-order-item-main", title: `Edit [${t.name}]`, onclick: () => { editing = t.name; renderTokens(); } },
        h("span", { class: "inb-order-item-name inb-mono" }, `[${t.name}]`),
        h("span", { class: "inb-order-item-sub" }, `${t.values.length} · ${t.values.join(" · ")}`)),
      h("button", { class: "inb-btn inb-btn-icon", title: `Insert [${t.name}] into the prompt`, "aria-label": `Insert ${t.name}`, onclick: () => insertToken(t.name) }, "↳"))));
    if (editing === "") rows.push(tokenEditor({ name: "", values: [] }));
    if (!rows.length) rows.push(h("div", { class: "inb-faint inb-order-list-empty" }, "No tokens yet. A token is a named list, e.g. animal → cat, dog, fox; write [animal] in a prompt for one generation per value."));
    fill(tokenList, rows);
    const first = tokenList.querySelector(".inb-order-token-edit input");
    if (first && editing !== null) first.focus();
  }

  function tokenEditor(t) {
    const name = h("input", { class: "inb-input inb-mono", placeholder: "name", "aria-label": "Token name", spellcheck: "false" });
    name.value = t.name;
    const values = h("textarea", { class: "inb-textarea", rows: Math.min(6, Math.max(3, t.values.length + 1)), placeholder: "one value per line", "aria-label": "Token values" });
    values.value = t.values.join("\n");
    const nameField = h("div", { class: "inb-order-inline", dataset: { field: "token_name" } }, name);
    const valuesField = h("div", { class: "inb-order-inline", dataset: { field: "token_values" } }, values);
    const save = async () => {
      clearAt(nameField); clearAt(valuesField);
      try {
        tokens = (await ctx.call("token_set", { name: name.value, values: values.value, old_name: t.name || null })).result;
        editing = null;
        renderTokens();
        schedulePreview(0);
      } catch (err) {
        const f = err.info && err.info.field;
        INB.showError(ctx.root, err, f === "token_name" ? nameField : f === "token_values" ? valuesField : null);
      }
    };
    const remove = async () => {
      try {
        tokens = (await ctx.call("token_delete", { name: t.name })).result;
        editing = null;
        renderTokens();
        schedulePreview(0);
        INB.toast(ctx.root, `Token [${t.name}] deleted.`, {
          action: "Undo",
          onAction: async () => {
            try { tokens = (await ctx.call("token_set", { name: t.name, values: t.values })).result; renderTokens(); schedulePreview(0); } catch (err) { failed(err); }
          },
        });
      } catch (err) { failed(err); }
    };
    const keys = (e) => {
      if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); editing = null; renderTokens(); }
      else if (e.key === "Enter" && (e.ctrlKey || e.metaKey || e.target === name)) { e.preventDefault(); e.stopPropagation(); save(); }
    };
    name.addEventListener("keydown", keys);
    values.addEventListener("keydown", keys);
    return h("div", { class: "inb-order-token-edit" }, nameField, valuesField,
      h("div", { class: "inb-order-row" },
        h("button", { class: "inb-btn inb-btn-sm inb-btn-primary", onclick: save }, "Save"),
        h("button", { class: "inb-btn inb-btn-sm", onclick: () => { editing = null; renderTokens(); } }, "Cancel"),
        t.name ? h("button", { class: "inb-btn inb-btn-sm inb-btn-danger", onclick: remove }, "Delete") : null));
  }
  tokenNew.addEventListener("click", () => { editing = ""; tokensCard.open = true; renderTokens(); });

  function insertToken(name) {
    const target = (lastTextField && lastTextField.isConnected ? lastTextField : null)
      || (fields.get("prompt") && fields.get("prompt").input);
    if (!target) return;
    const text = `[${name}]`;
    const start = target.selectionStart ?? target.value.length;
    const end = target.selectionEnd ?? target.value.length;
    const before = target.value.slice(0, start);
    const pad = before && !/\s$/.test(before) ? " " : "";
    target.value = before + pad + text + target.value.slice(end);
    target.focus();
    const at = start + pad.length + text.length;
    target.setSelectionRange(at, at);
    target.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // ---- projects -------------------------------------------------------------------------------
  const NEW = "\u0000new";
  function renderProjects() {
    fill(projectSel,
      h("option", { value: "" }, "No project"),
      projects.map((p) => h("option", { value: p.id }, p.name)),
      h("option", { value: NEW }, "+ New project…"));
    projectSel.value = projects.some((p) => p.id === projectId) ? projectId : "";
    if (projectSel.value !== projectId) projectId = projectSel.value;
  }
  async function setProject(id) {
    if (id && !projects.some((p) => p.id === id)) {
      try { projects = (await ctx.call("projects")).result; } catch (e) { /* keep the list */ }
    }
    projectId = projects.some((p) => p.id === id) ? id : "";
    renderProjects();
  }
  projectSel.addEventListener("change", () => {
    clearAt(projectBox);
    if (projectSel.value === NEW) {
      projectSel.hidden = true;
      projectNew.hidden = false;
      projectNew.value = "";
      projectNew.focus();
      return;
    }
    projectId = projectSel.value;
  });
  const endNew = () => { projectNew.hidden = true; projectSel.hidden = false; renderProjects(); };
  projectNew.addEventListener("keydown", async (e) => {
    if (e.key === "Escape") { e.preventDefault(); endNew(); projectSel.focus(); }
    if (e.key !== "Enter") return;
    e.preventDefault();
    try {
      const { result } = await ctx.call("create_project", { name: projectNew.value });
      projects = result.projects;
      projectId = result.id;
      endNew();
      notice(`New orders go to project “${result.name}”.`);
    } catch (err) {
      INB.showError(ctx.root, err, projectBox);
    }
  });
  projectNew.addEventListener("blur", () => later(() => { if (!projectNew.hidden && !projectBox.classList.contains("inb-invalid")) endNew(); }, 150));

  // ---- keyboard, lifecycle ------------------------------------------------------------------
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      e.stopPropagation();  // JupyterLab would run the cell
      placeOrder();
    }
  });

  function applyState(s) {
    projects = s.projects; presets = s.presets; tokens = s.tokens; limit = s.limit;
    renderProjects(); renderPresets(); renderTokens();
  }

  let pendingNav = [];
  let ready = false;
  async function navigate(payload) {
    if (!ready) { pendingNav.push(payload); return; }
    if (!payload) return;
    if (payload.project_id !== undefined) await setProject(payload.project_id);
    if (payload.product_id) await reorder(payload.product_id, { scope: payload.scope || "product", use: payload.use || "all" });
  }

  ctx.on("session", onSession);
  ctx.call("init").then(async ({ result, buffers }) => {
    if (destroyed) return;
    models = result.models;
    optionsOf(providerSel, result.providers, "All providers");
    optionsOf(typeSel, result.types, "All types");
    applyState(result);
    // What the person typed into the model search while the models were loading wins over the
    // default model: an entered search picks its first match, one still being typed stays.
    const typed = modelInput.value;
    const searching = !modelList.hidden;
    if (result.form) renderForm(result.form, {});
    else fill(modelCard, h("div", { class: "inb-empty" }, h("strong", {}, "No models"), "No provider offers a model here. See `imagen-nb models`."));
    if (pendingPick !== null) {
      modelInput.value = pendingPick;
      const match = filtered()[0];
      pendingPick = null;
      if (match) pickModel(match.id);
      else { modelInput.value = form ? form.id : ""; notice(`No model matches “${typed.trim()}”.`); }
    } else if (searching) {
      modelInput.value = typed;
      openList();
    }
    for (const item of result.session.products) addToStrip(item, buffers, true);
    updateStripHead();
    const orders = result.session.orders;
    if (orders.length) lastOrder = orders[orders.length - 1];
    renderNote();
    if (result.session.products.length) showProduct(result.session.products[0].id);
    ready = true;
    for (const p of pendingNav.splice(0)) await navigate(p);
  }).catch((err) => {
    fill(modelCard, h("div", { class: "inb-order-warn" }, `The Order panel could not start: ${(err.info && err.info.message) || err}`));
  });
  renderNote();
  updateStripHead();

  return {
    navigate,
    shown() {
      if (!ready) return;
      ctx.call("state").then(({ result }) => { if (editing === null) applyState(result); else { projects = result.projects; renderProjects(); } }).catch(() => {});
    },
    destroy() {
      destroyed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const u of thumbUrls.values()) URL.revokeObjectURL(u);
      thumbUrls.clear();
      for (const f of fields.values()) if (f.destroy) f.destroy();
      if (largeUrl) URL.revokeObjectURL(largeUrl);
    },
  };
};
