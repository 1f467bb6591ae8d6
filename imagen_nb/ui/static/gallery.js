// imagen-nb Gallery panel: a paged grid of thumbnails with search, filters, grouping, a details
// view, rating, collections, delete with undo, downloads, variations and multi-select.
// Python half: imagen_nb/ui/gallery.py (GalleryController).

/**
 * @typedef {{ id: string, kind: string, media_type: string, prompt: string|null, model: string|null,
 *   project: string|null, project_id: string|null, order_id: string|null, rating: number|null,
 *   collections: string[], width: number|null, height: number|null, size: number, created_at: string,
 *   source: string, name: string|null, thumb: number|null, thumb_type: string|null }} GalleryItem
 *   `thumb` is the index of the reply buffer holding the thumbnail (null: no thumbnail, show an icon).
 * @typedef {{ items: GalleryItem[], offset: number, total: number|null, next_offset: number|null }} GalleryPage
 * @typedef {{ text?: string, kind?: "image"|"video"|"audio", project_id?: string, no_project?: boolean,
 *   collection_id?: string, collection?: string, no_collection?: boolean, model?: string,
 *   min_rating?: number, since?: string, until?: string, order_id?: string, ids?: string[] }} GalleryFilters
 *   since/until: "YYYY-MM-DD" (until includes that day) or an ISO datetime.
 * @typedef {{ projects: {id: string, name: string, status: string, products: number}[],
 *   collections: {id: string, name: string, products: number}[], models: {id: string, products: number}[],
 *   kinds: {id: string, products: number}[], total: number }} GalleryOptions
 * @typedef {{ key: string|null, label: string, count: number, filter: GalleryFilters, newest: string }} GalleryGroup
 * @typedef {{ product: GalleryItem & { negative_prompt: string|null, seed: number|null, path: string,
 *     sha256: string, params: object|null, generation_id: string|null, provider: string|null },
 *   generation: { id: string, seq: number, status: string, params: object, actual: object|null,
 *     returned: object|null, started_at: string|null, finished_at: string|null }|null,
 *   order: { id: string, model: string, status: string, base_params: object }|null,
 *   model: { id: string|null, known: boolean, type: string|null, supports_image_to_image: boolean },
 *   can_vary: boolean, truncated: boolean }} GalleryDetails   (truncated: a long text ends in "…")
 *
 * Requests (ctx.call):
 *   init({filters?, limit?})          -> { options: GalleryOptions, page: GalleryPage, page_size, kinds, group_by }
 *   page({filters, offset, limit, total}) -> GalleryPage (thumbnails as buffers)
 *   groups({by, filters})             -> { by, total, groups: GalleryGroup[] }
 *   options()                         -> GalleryOptions
 *   details({product_id})             -> GalleryDetails (thumbnail as a buffer)
 *   original({product_id})            -> { id, name, media_type, size, buf }  (the file as a buffer)
 *   rate({ids, rating})               -> { rated, rating, ids }
 *   collect({ids, collection, create}) -> { collection: {id, name}, added, created, ids }
 *   uncollect({ids, collection})      -> { collection: {id, name}, removed, ids }
 *   delete({ids}) -> { deleted, ids }  restore({ids}) -> { restored, ids }
 *   vary({product_id, n, strength})   -> { order_id, generations, model }
 *   select({ids}) -> { selected }  (Python: widget.selected)   code({product_id}) -> { code }
 *   import({names}, files as buffers) -> { imported: {id, name, params}[], refused: {name, message}[], warnings }
 * Pushes (ctx.on):
 *   new_products { ids: string[], count: number }  newest first, at most ten a second
 */

INB.panels.gallery = (ctx) => {
  const { h, fill, toast, showError, clearError, debounce, fmtBytes, fmtAgo } = INB;
  const NONE = "__none__";
  const FIRST_IN_SECTION = 6; // at least; a section first shows two rows of its grid
  const KIND_ICON = { image: "▣", video: "▶", audio: "♪" };
  const KIND_LABEL = { image: "Images", video: "Videos", audio: "Audio" };
  const GROUP_LABEL = { "": "No grouping", project: "Project", collection: "Collection", model: "Model", kind: "Type" };

  const blank = () => ({ text: "", kind: "", project: "", collection: "", model: "", min_rating: "", since: "", until: "", order_id: "" });
  const state = {
    filters: blank(),
    groupBy: "",
    options: null,
    pageSize: 60,
    total: null,
    sections: [],
    /** @type {Map<string, {item: GalleryItem, url: string|null, els: Set<HTMLElement>}>} */
    tiles: new Map(),
    selection: new Set(),
    anchor: null,
    epoch: 0,
    pendingNew: 0,
    newQueue: [],
    newBusy: false,
    pointerInGrid: false,
    modal: null,
    destroyed: false,
    openAfterLoad: null,
  };

  // ---- layout ---------------------------------------------------------------------------
  const countChip = h("span", { class: "inb-chip inb-gallery-count" }, "…");
  const search = h("input", {
    class: "inb-input inb-gallery-search", type: "search", placeholder: "Search prompts…  ( / )",
    "aria-label": "Search prompts", spellcheck: false,
  });
  const searchField = h("div", { class: "inb-gallery-field inb-gallery-search-field" }, search);
  const groupSelect = select("Group by", Object.entries(GROUP_LABEL).map(([v, l]) => [v, v ? `Group: ${l}` : l]));
  // Import: pick files or a folder, or drop them on the panel (A1111's "PNG Info", our way).
  const filePick = h("input", { type: "file", multiple: true, accept: "image/*", hidden: true, "aria-label": "Import images" });
  const folderPick = h("input", { type: "file", multiple: true, webkitdirectory: true, hidden: true, "aria-label": "Import a folder" });
  const importBtn = h("button", { class: "inb-btn", title: "Import images with their parameters (or drop files and folders here)",
    onclick: () => filePick.click() }, "Import…");
  const folderBtn = h("button", { class: "inb-btn inb-btn-sm", title: "Import every image of a folder", onclick: () => folderPick.click() }, "Folder…");
  const toolbar = h("div", { class: "inb-gallery-row inb-gallery-toolbar" },
    h("div", { class: "inb-panel-title" }, "Gallery ", countChip), searchField, groupSelect.field, importBtn, folderBtn,
    filePick, folderPick);

  const selCount = h("strong", {}, "");
  const selAll = h("button", { class: "inb-btn inb-btn-sm", onclick: () => selectAllOnPage() }, "Select all on page");
  const selCollect = h("button", { class: "inb-btn inb-btn-sm", onclick: (e) => openCollectionMenu(e.currentTarget, [...state.selection]) }, "Add to collection ▾");
  const selRate = h("div", { class: "inb-gallery-rate inb-gallery-rate-sm", role: "group", "aria-label": "Rate selected" },
    [1, 2, 3, 4, 5].map((n) => h("button", { class: "inb-gallery-star", title: `Rate ${n}`, "aria-label": `Rate ${n}`, onclick: () => rate([...state.selection], n) }, "★")),
    h("button", { class: "inb-btn inb-btn-link inb-btn-sm", title: "Clear rating", onclick: () => rate([...state.selection], null) }, "clear"));
  const selDelete = h("button", { class: "inb-btn inb-btn-sm inb-btn-danger", onclick: () => remove([...state.selection]) }, "Delete");
  const selClear = h("button", { class: "inb-btn inb-btn-icon", title: "Clear selection (Esc)", "aria-label": "Clear selection", onclick: () => clearSelection() }, "×");
  const selectionBar = h("div", { class: "inb-gallery-row inb-gallery-selbar", hidden: true, role: "toolbar", "aria-label": "Selected products" },
    selCount, selAll, h("span", { class: "inb-gallery-sep" }), selCollect, h("span", { class: "inb-faint" }, "Rate"), selRate,
    selDelete, h("span", { class: "inb-gallery-grow" }), selClear);

  const kindSelect = select("Type", [["", "All types"], ["image", "Images"], ["video", "Videos"], ["audio", "Audio"]]);
  const projectSelect = select("Project", [["", "All projects"]]);
  const collectionSelect = select("Collection", [["", "All collections"]]);
  const modelSelect = select("Model", [["", "All models"]]);
  const ratingSelect = select("Rating", [["", "Any rating"], ...[1, 2, 3, 4, 5].map((n) => [String(n), `${"★".repeat(n)}${n < 5 ? " & up" : ""}`])]);
  const since = dateInput("From");
  const until = dateInput("To");
  const chips = h("div", { class: "inb-gallery-chips" });
  const clearBtn = h("button", { class: "inb-btn inb-btn-link inb-btn-sm", hidden: true, onclick: () => { state.filters = blank(); syncControls(); reload(); } }, "Clear filters");
  const filtersRow = h("div", { class: "inb-gallery-row inb-gallery-filters" },
    kindSelect.field, projectSelect.field, collectionSelect.field, modelSelect.field, ratingSelect.field,
    h("span", { class: "inb-gallery-dates" }, since.field, h("span", { class: "inb-faint" }, "–"), until.field), chips, clearBtn);

  const head = h("div", { class: "inb-panel-head inb-gallery-head" }, toolbar, selectionBar, filtersRow);
  const content = h("div", { class: "inb-gallery-content" });
  const body = h("div", { class: "inb-panel-body inb-gallery-body", tabindex: -1 }, content);
  const loadingBar = h("div", { class: "inb-gallery-loading", hidden: true }, h("span"));
  const newPill = h("button", { class: "inb-gallery-newpill", hidden: true, onclick: () => { body.scrollTop = 0; reload(); } });
  const viewport = h("div", { class: "inb-gallery-viewport" }, body, loadingBar, newPill);
  const panel = h("div", { class: "inb-panel inb-gallery" }, head, viewport);
  ctx.el.append(panel);

  const fieldOf = {
    text: searchField, kind: kindSelect.field, project_id: projectSelect.field, no_project: projectSelect.field,
    collection: collectionSelect.field, collection_id: collectionSelect.field, model: modelSelect.field,
    min_rating: ratingSelect.field, since: since.field, until: until.field, group: groupSelect.field,
  };

  function select(label, entries) {
    const el = h("select", { class: "inb-select", "aria-label": label });
    setOptions(el, entries);
    return { el, field: h("div", { class: "inb-gallery-field" }, el) };
  }

  function setOptions(el, entries) {
    const value = el.value;
    fill(el, entries.map(([v, l]) => h("option", { value: v }, l)));
    if (entries.some(([v]) => v === value)) el.value = value;
  }

  function dateInput(label) {
    const el = h("input", { class: "inb-input inb-gallery-date", type: "date", "aria-label": label, title: label });
    return { el, field: h("div", { class: "inb-gallery-field" }, el) };
  }

  // ---- import -------------------------------------------------------------------------
  const IMAGE_FILE = /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i;
  const dropHint = h("div", { class: "inb-gallery-drop", hidden: true, "aria-hidden": "true" },
    h("strong", {}, "Drop images or folders to import them"), h("span", {}, "Their A1111 or imagen-nb parameters come along."));
  panel.append(dropHint);
  let dragDepth = 0;
  const dragsFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
  panel.addEventListener("dragenter", (e) => { if (!dragsFiles(e)) return; e.preventDefault(); dragDepth++; dropHint.hidden = false; });
  panel.addEventListener("dragover", (e) => { if (dragsFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; } });
  panel.addEventListener("dragleave", () => { dragDepth = Math.max(0, dragDepth - 1); if (!dragDepth) dropHint.hidden = true; });
  panel.addEventListener("drop", async (e) => {
    if (!dragsFiles(e)) return;
    e.preventDefault();
    dragDepth = 0;
    dropHint.hidden = true;
    const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    const files = entries.length ? (await Promise.all(entries.map(filesOf))).flat() : [...e.dataTransfer.files];
    importFiles(files);
  });
  filePick.addEventListener("change", () => { importFiles([...filePick.files]); filePick.value = ""; });
  folderPick.addEventListener("change", () => { importFiles([...folderPick.files]); folderPick.value = ""; });

  /** Every file under a dropped entry (folders recursively). */
  async function filesOf(entry) {
    if (entry.isFile) return [await new Promise((ok, fail) => entry.file(ok, fail))];
    const reader = entry.createReader();
    const all = [];
    for (;;) {
      const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
      if (!batch.length) break;
      all.push(...batch);
    }
    return (await Promise.all(all.map(filesOf))).flat();
  }

  async function importFiles(files) {
    const images = files.filter((f) => IMAGE_FILE.test(f.name) || (f.type || "").startsWith("image/"));
    const skipped = files.length - images.length;
    if (!images.length) { toast(ctx.root, skipped ? `No images among ${skipped} files` : "No files", { error: true }); return; }
    const done = { imported: 0, withParams: 0, refused: [] };
    loading(1);
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
      reportError(err);
    } finally {
      loading(-1);
    }
    const bits = [`Imported ${done.imported === 1 ? "1 image" : `${done.imported} images`}`];
    if (done.imported) bits.push(`${done.withParams} with parameters`);
    if (done.refused.length) bits.push(`refused ${done.refused.length}: ${done.refused.slice(0, 3).map((r) => r.message).join("; ")}`);
    if (skipped) bits.push(`${skipped} other ${skipped === 1 ? "file" : "files"} left out`);
    toast(ctx.root, bits.join(" · "), { error: !done.imported, ms: 10000 });
    if (done.imported) { refreshOptions(); reload(); }
  }

  // ---- filters --------------------------------------------------------------------------
  /** @returns {GalleryFilters} */
  function requestFilters() {
    const f = state.filters;
    const out = {};
    if (f.text.trim()) out.text = f.text.trim();
    if (f.kind) out.kind = f.kind;
    if (f.project === NONE) out.no_project = true; else if (f.project) out.project_id = f.project;
    if (f.collection === NONE) out.no_collection = true; else if (f.collection) out.collection_id = f.collection;
    if (f.model) out.model = f.model;
    if (f.min_rating) out.min_rating = Number(f.min_rating);
    if (f.since) out.since = f.since;
    if (f.until) out.until = f.until;
    if (f.order_id) out.order_id = f.order_id;
    return out;
  }

  const filtering = () => Object.keys(requestFilters()).length > 0;

  let searchPending = false;
  function syncControls() {
    const f = state.filters;
    // What the user is typing (not yet applied: the box waits 250 ms) is never overwritten
    // by a refresh that happens to land meanwhile.
    if (!searchPending && search.value !== f.text) search.value = f.text;
    kindSelect.el.value = f.kind;
    ensureOption(projectSelect.el, f.project, "Project …" + f.project.slice(-6));
    ensureOption(collectionSelect.el, f.collection, "Collection …" + f.collection.slice(-6));
    ensureOption(modelSelect.el, f.model, f.model);
    ratingSelect.el.value = f.min_rating;
    since.el.value = f.since;
    until.el.value = f.until;
    groupSelect.el.value = state.groupBy;
    fill(chips, f.order_id ? h("span", { class: "inb-chip inb-chip-accent" }, `Order …${f.order_id.slice(-6)}`,
      h("button", { class: "inb-gallery-chip-x", "aria-label": "Remove the order filter", onclick: () => { f.order_id = ""; syncControls(); reload(); } }, "×")) : null);
    clearBtn.hidden = !filtering();
    for (const el of [kindSelect.el, projectSelect.el, collectionSelect.el, modelSelect.el, ratingSelect.el, since.el, until.el]) {
      el.classList.toggle("inb-gallery-active", !!el.value);
    }
  }

  function ensureOption(el, value, label) {
    if (value && ![...el.options].some((o) => o.value === value)) el.append(h("option", { value }, label));
    el.value = value;
  }

  function applyOptions(options) {
    state.options = options;
    const projects = [...options.projects].sort((a, b) => (a.status === "archived") - (b.status === "archived") || a.name.localeCompare(b.name));
    setOptions(projectSelect.el, [["", "All projects"],
      ...projects.map((p) => [p.id, `${p.name}${p.status === "archived" ? " (archived)" : ""} · ${p.products}`]), [NONE, "No project"]]);
    setOptions(collectionSelect.el, [["", "All collections"],
      ...options.collections.map((c) => [c.id, `${c.name} · ${c.products}`]), [NONE, "In no collection"]]);
    setOptions(modelSelect.el, [["", "All models"], ...options.models.map((m) => [m.id, `${m.id} · ${m.products}`])]);
    const kinds = new Map(options.kinds.map((k) => [k.id, k.products]));
    setOptions(kindSelect.el, [["", "All types"], ...["image", "video", "audio"].map((k) => [k, `${KIND_LABEL[k]}${kinds.has(k) ? ` · ${kinds.get(k)}` : ""}`])]);
    syncControls();
  }

  async function refreshOptions() {
    try {
      const { result } = await ctx.call("options");
      applyOptions(result);
    } catch (err) { /* menus stay as they were; the next action reports real problems */ }
  }

  function onFilterChange(key, value) {
    state.filters[key] = value;
    for (const el of Object.values(fieldOf)) clearError(el);
    syncControls();
    reload();
  }

  const searchLater = debounce(() => { searchPending = false; onFilterChange("text", search.value); }, 250);
  search.addEventListener("input", () => { searchPending = true; searchLater(); });
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { searchPending = false; onFilterChange("text", search.value); }
    if (e.key === "Escape" && search.value) { e.stopPropagation(); searchPending = false; search.value = ""; onFilterChange("text", ""); }
  });
  kindSelect.el.addEventListener("change", () => onFilterChange("kind", kindSelect.el.value));
  projectSelect.el.addEventListener("change", () => onFilterChange("project", projectSelect.el.value));
  collectionSelect.el.addEventListener("change", () => onFilterChange("collection", collectionSelect.el.value));
  modelSelect.el.addEventListener("change", () => onFilterChange("model", modelSelect.el.value));
  ratingSelect.el.addEventListener("change", () => onFilterChange("min_rating", ratingSelect.el.value));
  since.el.addEventListener("change", () => onFilterChange("since", since.el.value));
  until.el.addEventListener("change", () => onFilterChange("until", until.el.value));
  groupSelect.el.addEventListener("change", () => { state.groupBy = groupSelect.el.value; reload(); });

  function reportError(err) {
    const field = err && err.info && err.info.field;
    showError(ctx.root, err, field ? fieldOf[field] || null : null);
  }

  // ---- loading --------------------------------------------------------------------------
  let busy = 0;
  function loading(delta) {
    busy += delta;
    loadingBar.hidden = busy <= 0;
  }

  async function reload() {
    const epoch = ++state.epoch;
    const old = state.tiles;
    const oldSections = state.sections;
    const oldTotal = state.total;
    let failed = false;
    state.tiles = new Map();
    state.sections = [];
    state.pendingNew = 0;
    newPill.hidden = true;
    clearSelection();
    const container = h("div", { class: "inb-gallery-sections" });
    const base = requestFilters();
    loading(1);
    try {
      if (!state.groupBy) {
        const sec = makeSection(null, base);
        container.append(sec.el);
        const ok = await loadSection(sec, state.pageSize, epoch);
        if (epoch !== state.epoch) return;
        if (!ok) throw sec.error;
        state.total = sec.total;
        show(container, sec.total === 0 ? emptyState() : null);
        if (sec.total) watchEnd(sec);
      } else {
        const { result } = await ctx.call("groups", { by: state.groupBy, filters: base });
        if (epoch !== state.epoch) return;
        state.total = result.total;
        for (const group of result.groups) container.append(makeSection(group, base).el);
        show(container, result.total === 0 ? emptyState() : null);
        for (const sec of state.sections) sectionWatcher.observe(sec.el);
      }
    } catch (err) {
      if (epoch !== state.epoch) return;
      // Keep what is on screen; the error shows at the control that caused it.
      failed = true;
      for (const rec of state.tiles.values()) if (rec.url) URL.revokeObjectURL(rec.url);
      state.tiles = old;
      state.sections = oldSections;
      state.total = oldTotal;
      reportError(err);
    } finally {
      loading(-1);
      if (epoch === state.epoch && !failed) {
        for (const el of Object.values(fieldOf)) clearError(el);
        for (const rec of old.values()) if (rec.url) URL.revokeObjectURL(rec.url);
        updateCount();
        const want = state.openAfterLoad;
        state.openAfterLoad = null;
        if (want) openDetails(want);
      }
    }
  }

  function show(container, empty) {
    if (empty) fill(content, empty);
    else fill(content, container);
    body.scrollTop = 0;
  }

  function updateCount() {
    const all = state.options ? state.options.total : null;
    if (state.total === null || state.total === undefined) countChip.textContent = "…";
    else if (filtering() && all !== null && all !== state.total) countChip.textContent = `${state.total.toLocaleString()} of ${all.toLocaleString()}`;
    else countChip.textContent = `${state.total.toLocaleString()} product${state.total === 1 ? "" : "s"}`;
  }

  function emptyState() {
    if (filtering()) {
      return h("div", { class: "inb-empty" }, h("strong", {}, "Nothing matches these filters"),
        h("div", {}, "Try fewer words in the search, or widen the filters."),
        h("button", { class: "inb-btn inb-gallery-empty-btn", onclick: () => { state.filters = blank(); syncControls(); reload(); } }, "Clear filters"));
    }
    return h("div", { class: "inb-empty" }, h("strong", {}, "No products yet"),
      h("div", {}, "Products appear here as orders finish. Place one in the Order panel, or from Python:"),
      h("code", { class: "inb-mono inb-gallery-code" }, 'studio.order("instant:swatch", prompt="a [red,blue] fox")'),
      ctx.nav ? h("button", { class: "inb-btn inb-btn-primary inb-gallery-empty-btn", onclick: () => ctx.nav.go("order", {}) }, "Open Order") : null);
  }

  // ---- sections (one when flat; one per group otherwise) --------------------------------
  /**
   * @param {GalleryGroup|null} group
   * @param {GalleryFilters} base the filters the section was made with (later pages and live
   *   updates keep them, even while the controls hold a value the controller refused)
   */
  function makeSection(group, base) {
    const sec = {
      group, base, filter: group ? group.filter : {}, ids: [], next: 0, total: group ? group.count : null,
      loading: false, loaded: false, grid: h("div", { class: "inb-gallery-grid", role: "grid", "aria-label": group ? group.label : "Products" }),
      foot: h("div", { class: "inb-gallery-foot" }), sentinel: null, el: null,
    };
    if (!group) {
      sec.sentinel = h("div", { class: "inb-gallery-sentinel", "aria-hidden": "true" });
      sec.el = h("section", { class: "inb-gallery-section" }, sec.grid, sec.foot, sec.sentinel);
    } else {
      const toggle = h("button", { class: "inb-gallery-section-toggle", "aria-expanded": "true" }, h("span", { class: "inb-gallery-caret" }, "▾"),
        h("span", { class: "inb-gallery-section-label" }, groupLabel(group)));
      toggle.addEventListener("click", () => {
        const collapsed = sec.el.classList.toggle("inb-gallery-collapsed");
        toggle.setAttribute("aria-expanded", String(!collapsed));
      });
      const only = h("button", { class: "inb-btn inb-btn-link inb-btn-sm", onclick: () => focusGroup(group) }, "Show only these");
      sec.countChip = h("span", { class: "inb-chip" }, group.count.toLocaleString());
      sec.el = h("section", { class: "inb-gallery-section inb-gallery-grouped" },
        h("div", { class: "inb-gallery-section-head" }, toggle, sec.countChip, h("span", { class: "inb-gallery-grow" }), only),
        sec.grid, sec.foot);
      sec.grid.append(...Array.from({ length: Math.min(group.count, 6) }, () => h("div", { class: "inb-gallery-skeleton" })));
    }
    state.sections.push(sec);
    return sec;
  }

  function groupLabel(group) {
    if (state.groupBy === "kind") return KIND_LABEL[group.key] || group.label;
    return group.label;
  }

  function focusGroup(group) {
    const f = group.filter;
    state.groupBy = "";
    if (f.project_id) state.filters.project = f.project_id;
    if (f.no_project) state.filters.project = NONE;
    if (f.collection_id) state.filters.collection = f.collection_id;
    if (f.no_collection) state.filters.collection = NONE;
    if (f.model) state.filters.model = f.model;
    if (f.kind) state.filters.kind = f.kind;
    syncControls();
    reload();
  }

  async function loadSection(sec, limit, epoch = state.epoch) {
    if (sec.loading || sec.next === null) return true;
    sec.loading = true;
    paintFoot(sec);
    try {
      const { result, buffers } = await ctx.call("page", {
        filters: { ...sec.base, ...sec.filter }, offset: sec.next, limit, total: sec.total === null,
      });
      if (epoch !== state.epoch) return;
      if (!sec.loaded && sec.group) sec.grid.replaceChildren();
      if (result.total !== null) sec.total = result.total;
      const frag = document.createDocumentFragment();
      for (const item of result.items) {
        if (sec.ids.includes(item.id)) continue;
        sec.ids.push(item.id);
        frag.append(makeTile(register(item, buffers)));
      }
      sec.grid.append(frag);
      sec.next = result.next_offset;
      sec.loaded = true;
      sec.error = null;
      return true;
    } catch (err) {
      sec.error = err;
      // A failing first page of the flat view is reported by reload(); others here.
      if (epoch === state.epoch && (sec.loaded || sec.group)) reportError(err);
      return false;
    } finally {
      sec.loading = false;
      if (epoch === state.epoch) {
        paintFoot(sec);
        if (!sec.group) requestAnimationFrame(() => wantMore(sec) && loadSection(sec, state.pageSize));
      }
    }
  }

  function paintFoot(sec) {
    const shown = sec.ids.length;
    if (sec.group) {
      const left = (sec.total || 0) - shown;
      fill(sec.foot, sec.loaded && left > 0 ? h("button", { class: "inb-btn inb-btn-sm", disabled: sec.loading, onclick: () => loadSection(sec, state.pageSize) },
        sec.loading ? "Loading…" : `Show ${Math.min(left, state.pageSize)} more · ${left.toLocaleString()} left`) : null);
      return;
    }
    if (!sec.total) { fill(sec.foot); return; }
    fill(sec.foot, h("span", { class: "inb-faint" }, sec.loading ? "Loading…" :
      sec.next === null ? `All ${sec.total.toLocaleString()} shown` : `${shown.toLocaleString()} of ${sec.total.toLocaleString()}`));
  }

  // Infinite scroll: load the next page when the end of the grid comes within ~2 screens.
  const endWatcher = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const sec = state.sections.find((s) => s.sentinel === entry.target);
      if (entry.isIntersecting && sec && sec.next !== null && (scrolled() || !overflowing())) loadSection(sec, state.pageSize);
    }
  }, { root: body, rootMargin: "0px 0px 900px 0px" });
  function watchEnd(sec) { if (sec.sentinel) endWatcher.observe(sec.sentinel); }
  function nearEnd(sec) {
    if (!sec.sentinel || sec.next === null || !sec.sentinel.isConnected || body.clientHeight === 0) return false;
    return sec.sentinel.getBoundingClientRect().top < body.getBoundingClientRect().bottom + 900;
  }
  // A first page that already fills the view waits for the user to scroll before the next one
  // is fetched: opening the panel or changing a filter then costs one page, not two.
  const scrolled = () => body.scrollTop > 0;
  const overflowing = () => body.scrollHeight > body.clientHeight + 1;
  const wantMore = (sec) => nearEnd(sec) && (scrolled() || !overflowing());
  let scrollCheck = 0;
  body.addEventListener("scroll", () => {
    if (scrollCheck) return;
    scrollCheck = requestAnimationFrame(() => {
      scrollCheck = 0;
      for (const sec of state.sections) if (!sec.group && !sec.loading && wantMore(sec)) loadSection(sec, state.pageSize);
    });
  }, { passive: true });

  // Grouped view: a section loads its first thumbnails when it scrolls near.
  const sectionWatcher = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const sec = state.sections.find((s) => s.el === entry.target);
      if (sec && !sec.loaded && !sec.loading) loadSection(sec, Math.min(state.pageSize, Math.max(FIRST_IN_SECTION, 2 * columnsOf(sec.grid))));
      sectionWatcher.unobserve(entry.target);
    }
  }, { root: body, rootMargin: "400px 0px" });

  // ---- tiles ----------------------------------------------------------------------------
  function register(item, buffers) {
    let rec = state.tiles.get(item.id);
    if (!rec) {
      const data = item.thumb === null || item.thumb === undefined ? null : buffers[item.thumb];
      rec = { item, url: data ? URL.createObjectURL(new Blob([data], { type: item.thumb_type || "image/webp" })) : null, els: new Set() };
      state.tiles.set(item.id, rec);
    } else {
      rec.item = { ...rec.item, ...item, thumb: rec.item.thumb };
    }
    return rec;
  }

  function makeTile(rec) {
    const it = rec.item;
    const media = rec.url
      ? h("img", { src: rec.url, alt: it.prompt || it.name || "product", loading: "lazy", decoding: "async", draggable: false })
      : h("div", { class: "inb-gallery-placeholder" }, h("span", { class: "inb-gallery-placeholder-icon" }, KIND_ICON[it.kind] || "◆"), it.media_type || it.kind);
    const el = h("div", {
      class: `inb-gallery-tile inb-gallery-kind-${it.kind}`, tabindex: 0, role: "gridcell", dataset: { id: it.id },
      title: it.prompt || it.name || "",
    },
    h("div", { class: "inb-gallery-media inb-thumb" }, media),
    h("span", { class: "inb-gallery-check", role: "checkbox", "aria-checked": "false", "aria-label": "Select", title: "Select (shift-click: a range)" }),
    it.kind !== "image" ? h("span", { class: "inb-gallery-badge" }, `${KIND_ICON[it.kind] || ""} ${it.kind}`) : null,
    h("span", { class: "inb-gallery-stars" }),
    h("div", { class: "inb-gallery-caption" }, h("div", { class: "inb-gallery-caption-text" }, it.prompt || it.name || "untitled"),
      h("div", { class: "inb-gallery-caption-meta" }, [it.width && it.height ? `${it.width}×${it.height}` : null, it.model].filter(Boolean).join(" · "))));
    rec.els.add(el);
    paintTile(el, rec);
    return el;
  }

  function paintTile(el, rec) {
    const selected = state.selection.has(rec.item.id);
    el.classList.toggle("inb-gallery-selected", selected);
    el.setAttribute("aria-selected", String(selected));
    el.querySelector(".inb-gallery-check").setAttribute("aria-checked", String(selected));
    const stars = el.querySelector(".inb-gallery-stars");
    stars.textContent = rec.item.rating ? "★".repeat(rec.item.rating) : "";
    stars.hidden = !rec.item.rating;
  }

  function repaint(id) {
    const rec = state.tiles.get(id);
    if (rec) for (const el of rec.els) paintTile(el, rec);
  }

  const allTiles = () => [...content.querySelectorAll(".inb-gallery-tile")];
  const orderedIds = () => [...new Set(allTiles().map((el) => el.dataset.id))];

  // Items are kept newest first (created_at, then id, descending): where a restored item goes.
  // ISO times from Python drop ".000000" when the microseconds are zero: pad them to compare as text.
  const timeKey = (iso) => (iso || "").replace(/(T\d{2}:\d{2}:\d{2})(?!\.)/, "$1.000000");
  function before(a, b) {
    const ta = timeKey(a.created_at);
    const tb = timeKey(b.created_at);
    return ta > tb || (ta === tb && a.id > b.id);
  }

  function insertSorted(sec, rec) {
    if (sec.ids.includes(rec.item.id)) return;
    let index = sec.ids.findIndex((id) => { const other = state.tiles.get(id); return other && before(rec.item, other.item); });
    if (index < 0) {
      if (sec.next !== null) { sec.next += 1; return; } // it belongs to a page not loaded yet
      index = sec.ids.length;
    }
    const el = makeTile(rec);
    const ref = sec.grid.querySelector(`[data-id="${sec.ids[index]}"]`);
    sec.ids.splice(index, 0, rec.item.id);
    if (ref) sec.grid.insertBefore(el, ref); else sec.grid.append(el);
    if (sec.next !== null) sec.next += 1;
  }

  // ---- selection ------------------------------------------------------------------------
  function setSelected(id, on) {
    if (on) state.selection.add(id); else state.selection.delete(id);
    repaint(id);
  }

  function toggleSelect(id, range) {
    if (range && state.anchor && state.anchor !== id) {
      const ids = orderedIds();
      const [a, b] = [ids.indexOf(state.anchor), ids.indexOf(id)].sort((x, y) => x - y);
      if (a >= 0) for (const other of ids.slice(a, b + 1)) setSelected(other, true);
    } else {
      setSelected(id, !state.selection.has(id));
    }
    state.anchor = id;
    paintSelection();
  }

  function selectAllOnPage() {
    for (const id of orderedIds()) setSelected(id, true);
    paintSelection();
  }

  function clearSelection() {
    const ids = [...state.selection];
    state.selection.clear();
    state.anchor = null;
    for (const id of ids) repaint(id);
    paintSelection();
  }

  // Python reads the selection as `widget.selected`: tell the controller when it settles.
  let sentSelection = "";
  const sendSelection = debounce(() => {
    const ids = [...state.selection];
    if (ids.join(",") === sentSelection) return;
    sentSelection = ids.join(",");
    ctx.call("select", { ids }).catch(() => { sentSelection = null; });
  }, 150);
  function paintSelection() {
    sendSelection();
    const n = state.selection.size;
    selectionBar.hidden = n === 0;
    toolbar.hidden = n > 0;
    panel.classList.toggle("inb-gallery-selecting", n > 0);
    selCount.textContent = `${n} selected`;
    const onPage = orderedIds().length;
    selAll.textContent = `Select all on page (${onPage})`;
    selAll.disabled = n >= onPage;
  }

  // ---- pointer and keyboard on the grid -------------------------------------------------
  body.addEventListener("pointerover", (e) => { state.pointerInGrid = !!e.target.closest(".inb-gallery-grid"); });
  body.addEventListener("pointerleave", () => { state.pointerInGrid = false; flushNewWhenFree(); });
  body.addEventListener("scroll", () => { if (body.scrollTop < 4) flushNewWhenFree(); }, { passive: true });

  body.addEventListener("click", (e) => {
    const tile = e.target.closest(".inb-gallery-tile");
    if (!tile) return;
    const id = tile.dataset.id;
    if (e.target.closest(".inb-gallery-check") || e.metaKey || e.ctrlKey || (e.shiftKey && state.anchor) || state.selection.size) {
      e.preventDefault();
      toggleSelect(id, e.shiftKey);
      return;
    }
    openDetails(id);
  });

  body.addEventListener("keydown", (e) => {
    const tile = e.target.closest && e.target.closest(".inb-gallery-tile");
    if (!tile) return;
    const id = tile.dataset.id;
    if (e.key === "Enter") { e.preventDefault(); openDetails(id); }
    else if (e.key === " ") { e.preventDefault(); toggleSelect(id, e.shiftKey); }
    else if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); remove(state.selection.size ? [...state.selection] : [id]); }
    else if (e.key.startsWith("Arrow")) { e.preventDefault(); moveFocus(tile, e.key); }
  });

  function columnsOf(grid) {
    return Math.max(1, getComputedStyle(grid).gridTemplateColumns.split(" ").filter(Boolean).length);
  }

  function moveFocus(tile, key) {
    const tiles = allTiles();
    const i = tiles.indexOf(tile);
    const columns = columnsOf(tile.parentElement);
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns }[key];
    const next = tiles[Math.min(tiles.length - 1, Math.max(0, i + step))];
    if (next) { next.focus(); next.scrollIntoView({ block: "nearest" }); }
  }

  panel.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
    if (e.key === "Escape" && !state.modal) {
      if (closeMenu()) { e.stopPropagation(); return; }
      if (state.selection.size) { e.stopPropagation(); clearSelection(); }
    } else if (e.key === "/" && !typing && !state.modal) {
      e.preventDefault();
      search.focus();
      search.select();
    } else if ((e.key === "a" || e.key === "A") && (e.metaKey || e.ctrlKey) && !typing && !state.modal) {
      e.preventDefault();
      selectAllOnPage();
    }
  });

  // ---- actions --------------------------------------------------------------------------
  async function rate(ids, rating, fieldEl = null) {
    if (!ids.length) return;
    try {
      await ctx.call("rate", { ids, rating });
      if (fieldEl) clearError(fieldEl);
      for (const id of ids) {
        const rec = state.tiles.get(id);
        if (rec) { rec.item.rating = rating; repaint(id); }
      }
      if (state.modal && ids.includes(state.modal.id)) state.modal.setRating(rating);
      if (ids.length > 1) toast(ctx.root, rating ? `Rated ${ids.length} products ${"★".repeat(rating)}` : `Cleared the rating of ${ids.length} products`);
    } catch (err) {
      showError(ctx.root, err, fieldEl);
    }
  }

  async function collect(ids, name, fieldEl = null) {
    try {
      const { result } = await ctx.call("collect", { ids, collection: name, create: true });
      if (fieldEl) clearError(fieldEl);
      for (const id of ids) {
        const rec = state.tiles.get(id);
        if (rec && !rec.item.collections.includes(result.collection.name)) rec.item.collections = [...rec.item.collections, result.collection.name].sort();
      }
      const what = ids.length === 1 ? "1 product" : `${ids.length} products`;
      toast(ctx.root, result.created ? `Created “${result.collection.name}” with ${what}` :
        result.added ? `Added ${result.added === ids.length ? what : `${result.added} of ${what}`} to “${result.collection.name}”` :
          `Already in “${result.collection.name}”`);
      refreshOptions();
      return result;
    } catch (err) {
      showError(ctx.root, err, fieldEl);
      return null;
    }
  }

  async function uncollect(ids, name) {
    try {
      const { result } = await ctx.call("uncollect", { ids, collection: name });
      for (const id of ids) {
        const rec = state.tiles.get(id);
        if (rec) rec.item.collections = rec.item.collections.filter((c) => c !== name);
      }
      toast(ctx.root, `Removed from “${name}”`, { action: "Undo", onAction: () => collect(ids, name) });
      refreshOptions();
      return result;
    } catch (err) {
      showError(ctx.root, err);
      return null;
    }
  }

  /** Soft-delete products; their tiles leave at once and come back in place with Undo. */
  async function remove(ids) {
    if (!ids.length) return;
    let result;
    const epoch = state.epoch;
    try {
      ({ result } = await ctx.call("delete", { ids }));
    } catch (err) {
      showError(ctx.root, err);
      return;
    }
    const removed = [];
    for (const id of ids) {
      const rec = state.tiles.get(id);
      if (!rec) continue;
      removed.push(rec);
      for (const el of rec.els) el.remove();
      rec.els.clear();
      state.selection.delete(id);
    }
    for (const sec of state.sections) {
      const before = sec.ids.length;
      sec.ids = sec.ids.filter((id) => !ids.includes(id));
      const gone = before - sec.ids.length;
      if (sec.total !== null) sec.total -= gone;
      if (sec.next !== null) sec.next -= gone;
      if (sec.countChip) sec.countChip.textContent = Math.max(0, sec.total).toLocaleString();
      paintFoot(sec);
    }
    if (state.total !== null) state.total = Math.max(0, state.total - result.deleted);
    if (state.options) state.options.total -= result.deleted;
    updateCount();
    paintSelection();
    if (state.total === 0) fill(content, emptyState());
    const what = result.deleted === 1 ? "1 product" : `${result.deleted} products`;
    toast(ctx.root, `Deleted ${what}`, { action: "Undo", ms: 10000, onAction: () => restore(ids, removed, epoch) });
  }

  async function restore(ids, removed, epoch) {
    try {
      const { result } = await ctx.call("restore", { ids });
      if (state.options) state.options.total += result.restored;
      const flat = !state.groupBy && state.sections.length === 1 ? state.sections[0] : null;
      if (flat && removed.length && epoch === state.epoch && content.contains(flat.el)) {
        for (const rec of removed) { state.tiles.set(rec.item.id, rec); insertSorted(flat, rec); }
        flat.total = (flat.total || 0) + result.restored;
        state.total = flat.total;
        paintFoot(flat);
        updateCount();
        paintSelection();
      } else {
        reload();
      }
      toast(ctx.root, `Restored ${result.restored === 1 ? "1 product" : `${result.restored} products`}`, { ms: 3000 });
      refocus(ids);
    } catch (err) {
      showError(ctx.root, err);
    }
  }

  /** Undo's button leaves with its toast: keyboard focus goes back to the open details view, or
   * to the first restored tile, so arrows, Esc and 1–5 keep working. */
  function refocus(ids) {
    requestAnimationFrame(() => {
      const active = panel.getRootNode().activeElement;
      // (the root itself holds focus only as the panel's fallback: move on from it)
      if (active && active !== document.body && active !== ctx.root && ctx.root.contains(active)) return;
      if (state.modal) { state.modal.modal.focus(); return; }
      const tile = content.querySelector(`.inb-gallery-tile[data-id="${ids[0]}"]`);
      if (tile) tile.focus({ preventScroll: true }); else body.focus({ preventScroll: true });
    });
  }

  async function download(id, known = null) {
    try {
      let blob = known;
      let name = state.tiles.get(id)?.item.name || `${id}`;
      if (!blob) {
        const { result, buffers } = await ctx.call("original", { product_id: id });
        blob = new Blob([buffers[result.buf]], { type: result.media_type });
        name = result.name;
      }
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: name, hidden: true });
      ctx.root.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 4000);
    } catch (err) {
      showError(ctx.root, err);
    }
  }

  // ---- "add to collection" menu (bulk bar) ------------------------------------------------
  let menu = null;
  function closeMenu() {
    if (!menu) return false;
    const hadFocus = menu.contains(panel.getRootNode().activeElement);
    menu.remove();
    if (hadFocus && !selCollect.closest("[hidden]")) selCollect.focus();
    else if (hadFocus) body.focus({ preventScroll: true });
    menu = null;
    document.removeEventListener("pointerdown", outsideMenu, true);
    return true;
  }
  function outsideMenu(e) { if (menu && !menu.contains(e.target) && !selCollect.contains(e.target)) closeMenu(); }

  function openCollectionMenu(anchor, ids) {
    if (closeMenu()) return;
    const input = h("input", { class: "inb-input", placeholder: "New collection…", "aria-label": "New collection name" });
    const field = h("div", { class: "inb-gallery-menu-new" }, input);
    const create = async () => {
      const name = input.value.trim();
      if (!name) { showError(ctx.root, new Error("name the collection"), field); return; }
      if (await collect(ids, name, field)) closeMenu();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") create();
      if (e.key === "Escape") { e.stopPropagation(); closeMenu(); anchor.focus(); }
    });
    const collections = (state.options && state.options.collections) || [];
    menu = h("div", { class: "inb-gallery-menu", role: "menu" },
      collections.length ? collections.map((c) => h("button", {
        class: "inb-gallery-menu-item", role: "menuitem",
        onclick: async () => { if (await collect(ids, c.name)) closeMenu(); },
      }, h("span", {}, c.name), h("span", { class: "inb-faint" }, String(c.products))))
        : h("div", { class: "inb-faint inb-gallery-menu-empty" }, "No collections yet: name one below."),
      field, h("button", { class: "inb-btn inb-btn-sm inb-btn-primary", onclick: create }, "Create and add"));
    const box = anchor.getBoundingClientRect();
    const host = panel.getBoundingClientRect();
    menu.style.left = `${Math.max(8, box.left - host.left)}px`;
    menu.style.top = `${box.bottom - host.top + 4}px`;
    panel.append(menu);
    document.addEventListener("pointerdown", outsideMenu, true);
    (collections.length ? menu.querySelector("button") : input).focus();
  }

  // ---- live: new products ---------------------------------------------------------------
  ctx.on("new_products", (data) => {
    if (state.destroyed) return;
    state.newQueue.push(...data.ids);
    drainNew();
  });

  function canPrepend() {
    const flat = !state.groupBy && state.sections.length === 1 ? state.sections[0] : null;
    return flat && flat.loaded && body.scrollTop < 4 && !state.pointerInGrid && !state.selection.size && !state.modal && !menu;
  }

  function flushNewWhenFree() {
    if (state.pendingNew && canPrepend()) { state.pendingNew = 0; newPill.hidden = true; reload(); }
  }

  async function drainNew() {
    if (state.newBusy) return;
    state.newBusy = true;
    try {
      while (state.newQueue.length) {
        const ids = state.newQueue.splice(0, 200);
        const epoch = state.epoch;
        const flat = state.sections.length === 1 && !state.sections[0].group ? state.sections[0] : null;
        if (canPrepend()) {
          const { result, buffers } = await ctx.call("page", { filters: { ...flat.base, ids }, limit: ids.length, total: false });
          if (epoch !== state.epoch || !result.items.length) continue;
          const fresh = result.items.filter((item) => !flat.ids.includes(item.id));
          if (!fresh.length) continue;
          if (!content.contains(flat.el)) { fill(content, flat.el); watchEnd(flat); }
          const frag = document.createDocumentFragment();
          for (const item of fresh) {
            const el = makeTile(register(item, buffers));
            el.classList.add("inb-gallery-fresh");
            frag.append(el);
          }
          flat.grid.prepend(frag);
          flat.ids.unshift(...fresh.map((i) => i.id));
          if (flat.next !== null) flat.next += fresh.length;
          flat.total = (flat.total || 0) + fresh.length;
          state.total = flat.total;
          if (state.options) state.options.total += fresh.length;
          paintFoot(flat);
          updateCount();
        } else {
          if (!flat && !state.sections.length) continue;
          const base = flat ? flat.base : state.sections[0].base;
          const { result } = await ctx.call("page", { filters: { ...base, ids }, limit: 0, total: true });
          if (epoch !== state.epoch || !result.total) continue;
          state.pendingNew += result.total;
          newPill.textContent = `↑ ${state.pendingNew} new product${state.pendingNew === 1 ? "" : "s"}`;
          newPill.hidden = false;
        }
      }
    } catch (err) {
      console.warn("imagen-nb gallery: could not fetch new products", err);
    } finally {
      state.newBusy = false;
    }
  }

  // ---- details view ---------------------------------------------------------------------
  function closeDetails(restoreFocus = true) {
    const m = state.modal;
    if (!m) return;
    state.modal = null;
    m.backdrop.remove();
    if (m.originalUrl) URL.revokeObjectURL(m.originalUrl);
    if (m.thumbUrl) URL.revokeObjectURL(m.thumbUrl);
    if (restoreFocus) {
      const tile = content.querySelector(`.inb-gallery-tile[data-id="${m.id}"]`);
      if (tile) tile.focus({ preventScroll: true });
    }
  }

  function stepDetails(delta) {
    if (!state.modal) return;
    const ids = orderedIds();
    const i = ids.indexOf(state.modal.id);
    const next = ids[i + delta];
    if (i >= 0 && next) openDetails(next);
  }

  async function openDetails(id) {
    closeDetails(false);
    closeMenu();
    const media = h("div", { class: "inb-gallery-stage" }, h("div", { class: "inb-gallery-spinner", "aria-label": "Loading" }));
    const side = h("div", { class: "inb-gallery-side" }, h("div", { class: "inb-faint" }, "Loading…"));
    const title = h("div", { class: "inb-gallery-modal-title" }, "Product");
    const ids = orderedIds();
    const i = ids.indexOf(id);
    const prev = h("button", { class: "inb-btn inb-btn-icon", title: "Previous (←)", "aria-label": "Previous product", disabled: i <= 0, onclick: () => stepDetails(-1) }, "‹");
    const next = h("button", { class: "inb-btn inb-btn-icon", title: "Next (→)", "aria-label": "Next product", disabled: i < 0 || i >= ids.length - 1, onclick: () => stepDetails(1) }, "›");
    const close = h("button", { class: "inb-btn inb-btn-icon", title: "Close (Esc)", "aria-label": "Close", onclick: () => closeDetails() }, "×");
    const modal = h("div", { class: "inb-modal inb-gallery-modal", role: "dialog", "aria-modal": "true", "aria-label": "Product details", tabindex: -1 },
      h("div", { class: "inb-modal-head" }, title, h("span", { class: "inb-gallery-grow" }), prev, next, close),
      h("div", { class: "inb-gallery-modal-body" }, media, side));
    const backdrop = h("div", { class: "inb-modal-backdrop inb-gallery-backdrop" }, modal);
    backdrop.addEventListener("pointerdown", (e) => { if (e.target === backdrop) closeDetails(); });
    modal.addEventListener("keydown", (e) => {
      const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
      if (e.key === "Escape") { e.stopPropagation(); closeDetails(); }
      else if (typing) return;
      else if (e.key === "ArrowLeft") { e.preventDefault(); stepDetails(-1); }
      else if (e.key === "ArrowRight") { e.preventDefault(); stepDetails(1); }
      else if (/^[1-5]$/.test(e.key) && m.setRating) { const n = Number(e.key); rate([id], m.rating === n ? null : n, m.rateField); }
    });
    const m = { id, backdrop, modal, originalUrl: null, originalBlob: null, thumbUrl: null, setRating: null, rating: null, rateField: null };
    state.modal = m;
    ctx.root.append(backdrop);
    modal.focus();

    let details;
    let buffers;
    try {
      ({ result: details, buffers } = await ctx.call("details", { product_id: id }));
    } catch (err) {
      if (state.modal !== m) return;
      fill(media);
      fill(side, h("div", { class: "inb-field-error" }, err.message));
      return;
    }
    if (state.modal !== m) return;
    const p = details.product;
    title.textContent = p.prompt ? p.prompt : p.name || p.id;
    title.title = title.textContent;
    if (p.thumb !== null) m.thumbUrl = URL.createObjectURL(new Blob([buffers[p.thumb]], { type: p.thumb_type }));
    renderStage(m, media, p, null);
    renderSide(m, side, details);
    // The original comes on demand: a large file must not hold up the rest of the view.
    try {
      const { result, buffers: bufs } = await ctx.call("original", { product_id: id });
      if (state.modal !== m) return;
      m.originalBlob = new Blob([bufs[result.buf]], { type: result.media_type });
      m.originalUrl = URL.createObjectURL(m.originalBlob);
      renderStage(m, media, p, m.originalUrl);
    } catch (err) {
      if (state.modal !== m) return;
      media.append(h("div", { class: "inb-gallery-stage-error" }, err.message));
      media.querySelector(".inb-gallery-spinner")?.remove();
    }
  }

  function renderStage(m, stage, p, url) {
    const kind = (p.media_type || "").split("/")[0];
    if (kind === "video") {
      fill(stage, url ? h("video", { class: "inb-gallery-full", src: url, controls: true, playsinline: true, poster: m.thumbUrl || undefined, preload: "metadata" })
        : [m.thumbUrl ? h("img", { class: "inb-gallery-full inb-gallery-pending", src: m.thumbUrl, alt: "" }) : null, h("div", { class: "inb-gallery-spinner" })]);
    } else if (kind === "audio") {
      fill(stage, h("div", { class: "inb-gallery-audio" },
        m.thumbUrl ? h("img", { src: m.thumbUrl, alt: "waveform" }) : h("div", { class: "inb-gallery-placeholder-icon" }, "♪"),
        url ? h("audio", { src: url, controls: true, preload: "metadata" }) : h("div", { class: "inb-gallery-spinner" })));
    } else if (kind === "image") {
      const img = h("img", { class: "inb-gallery-full" + (url ? "" : " inb-gallery-pending"), src: url || m.thumbUrl || "", alt: p.prompt || p.name || "" });
      fill(stage, img, url ? null : h("div", { class: "inb-gallery-spinner" }));
    } else {
      fill(stage, h("div", { class: "inb-gallery-placeholder" }, h("span", { class: "inb-gallery-placeholder-icon" }, "◆"), p.media_type,
        url ? h("div", { class: "inb-faint" }, "No preview for this type: download it to open.") : null));
    }
  }

  function renderSide(m, side, details) {
    const p = details.product;
    const nav = ctx.nav;
    const actions = h("div", { class: "inb-gallery-actions" },
      nav ? h("button", { class: "inb-btn inb-btn-primary", title: "Open Order with this product's own parameters: one generation, its seed",
        onclick: () => { closeDetails(false); nav.go("order", { product_id: p.id }); } }, "↻ Re-order") : null,
      nav && p.order_id ? h("button", { class: "inb-btn", title: "Open Order with the whole order this product came from",
        onclick: () => { closeDetails(false); nav.go("order", { product_id: p.id, scope: "order" }); } }, "Whole order") : null,
      nav ? h("span", { class: "inb-gallery-recall", role: "group", "aria-label": "Use in the order form" },
        [["seed", "Use seed", "Put this product's seed into the Order form, keeping the rest"],
          ["prompt", "Use prompt", "Put this product's prompt and negative prompt into the Order form, keeping the rest"],
          ["all", "Use all", "Fill the Order form with all of this product's parameters"]].map(([use, label, title]) =>
          h("button", { class: "inb-btn inb-btn-sm", title, onclick: () => { closeDetails(false); nav.go("order", { product_id: p.id, use }); } }, label))) : null,
      details.can_vary ? h("button", { class: "inb-btn", "aria-expanded": "false", onclick: (e) => {
        varyBox.hidden = !varyBox.hidden;
        e.currentTarget.setAttribute("aria-expanded", String(!varyBox.hidden));
        if (!varyBox.hidden) varyN.focus();
      } }, "✦ Vary…") : null,
      h("button", { class: "inb-btn", title: "Download the original file", onclick: () => download(p.id, m.originalBlob) }, "↓ Download"),
      h("button", { class: "inb-btn", title: "Copy the studio.order(...) call that makes this product again",
        onclick: () => ctx.call("code", { product_id: p.id }).then(({ result }) => INB.copyText(ctx.root, result.code)).catch(reportError) }, "Copy as code"),
      h("button", { class: "inb-btn inb-btn-danger", onclick: () => { const nextId = neighbour(p.id); closeDetails(false); remove([p.id]).then(() => nextId && openDetails(nextId)); } }, "Delete"));

    // vary form
    const varyN = h("input", { class: "inb-input", type: "number", min: 1, max: 16, step: 1, value: "4", "aria-label": "Number of variations" });
    const varyS = h("input", { type: "range", min: 0.05, max: 1, step: 0.05, value: "0.6", "aria-label": "Strength" });
    const sLabel = h("span", { class: "inb-mono" }, "0.60");
    varyS.addEventListener("input", () => { sLabel.textContent = Number(varyS.value).toFixed(2); });
    const nField = h("div", { class: "inb-gallery-field" }, h("label", { class: "inb-label" }, "Variations"), varyN);
    const sField = h("div", { class: "inb-gallery-field inb-gallery-grow" }, h("label", { class: "inb-label" }, "Strength ", sLabel), varyS,
      h("div", { class: "inb-help" }, "How much is redrawn: low keeps the image, high changes it."));
    const varyGo = h("button", { class: "inb-btn inb-btn-primary" }, "Order variations");
    const varyBox = h("div", { class: "inb-gallery-vary", hidden: true }, h("div", { class: "inb-gallery-vary-row" }, nField, sField), varyGo);
    varyGo.addEventListener("click", async () => {
      for (const f of [nField, sField, varyBox]) clearError(f);
      varyGo.disabled = true;
      try {
        const { result } = await ctx.call("vary", { product_id: p.id, n: Number(varyN.value), strength: Number(varyS.value) });
        toast(ctx.root, `Ordered ${result.generations} variation${result.generations === 1 ? "" : "s"} with ${result.model}`,
          nav ? { action: "Open Production", onAction: () => { closeDetails(false); nav.go("production", { order_id: result.order_id }); } } : {});
        varyBox.hidden = true;
      } catch (err) {
        const field = err.info && err.info.field;
        showError(ctx.root, err, field === "n" ? nField : field === "strength" ? sField : varyBox);
      } finally {
        varyGo.disabled = false;
      }
    });

    // rating
    const stars = [1, 2, 3, 4, 5].map((n) => h("button", { class: "inb-gallery-star", title: `${n} star${n > 1 ? "s" : ""} (key ${n})`, "aria-label": `Rate ${n}`,
      onclick: () => rate([p.id], m.rating === n ? null : n, rateField) }, "★"));
    const rateField = h("div", { class: "inb-gallery-field" }, h("div", { class: "inb-gallery-rate", role: "group", "aria-label": "Rating" }, stars));
    m.rateField = rateField;
    m.setRating = (r) => {
      m.rating = r;
      stars.forEach((s, i) => { s.classList.toggle("inb-gallery-on", !!r && i < r); s.setAttribute("aria-pressed", String(!!r && i < r)); });
    };
    m.setRating(p.rating);

    // collections
    const chipsBox = h("div", { class: "inb-gallery-collections" });
    let current = [...p.collections];
    const paintChips = () => fill(chipsBox, current.length ? current.map((name) => h("span", { class: "inb-chip inb-chip-accent" }, name,
      h("button", { class: "inb-gallery-chip-x", title: `Remove from ${name}`, "aria-label": `Remove from ${name}`,
        onclick: async () => { if (await uncollect([p.id], name)) { current = current.filter((c) => c !== name); paintChips(); } } }, "×")))
      : h("span", { class: "inb-faint" }, "In no collection"));
    paintChips();
    const listId = `inb-gallery-cols-${Math.random().toString(36).slice(2)}`;
    const colInput = h("input", { class: "inb-input", placeholder: "Add to collection…", list: listId, "aria-label": "Add to collection" });
    const colField = h("div", { class: "inb-gallery-field inb-gallery-addcol" },
      h("div", { class: "inb-gallery-addcol-row" }, colInput, h("button", { class: "inb-btn", onclick: () => addTo() }, "Add")),
      h("datalist", { id: listId }, ((state.options && state.options.collections) || []).map((c) => h("option", { value: c.name }))));
    const addTo = async () => {
      const name = colInput.value.trim();
      if (!name) { showError(ctx.root, new Error("name the collection"), colField); return; }
      const result = await collect([p.id], name, colField);
      if (result) {
        colInput.value = "";
        if (!current.includes(result.collection.name)) current = [...current, result.collection.name].sort();
        paintChips();
      }
    };
    colInput.addEventListener("keydown", (e) => { if (e.key === "Enter") addTo(); });

    // facts
    const g = details.generation;
    const o = details.order;
    const created = p.created_at ? new Date(p.created_at) : null;
    const facts = [
      ["Model", p.model ? h("span", {}, p.model, details.model.type ? h("span", { class: "inb-faint" }, ` · ${details.model.type}`) : null) : h("span", { class: "inb-faint" }, "unknown (imported)")],
      ["Project", p.project ? h("span", {}, p.project, " ", h("button", { class: "inb-btn inb-btn-link inb-btn-sm", onclick: () => filterTo({ project: p.project_id }) }, "show all")) : h("span", { class: "inb-faint" }, "none")],
      o ? ["Order", h("span", {}, h("span", { class: "inb-mono" }, `…${o.id.slice(-8)}`), " ", h("span", { class: `inb-status inb-status-${statusClass(o.status)}` }, o.status), " ",
        h("button", { class: "inb-btn inb-btn-link inb-btn-sm", onclick: () => filterTo({ order_id: o.id }) }, "its products"),
        nav ? h("button", { class: "inb-btn inb-btn-link inb-btn-sm", onclick: () => { closeDetails(false); nav.go("production", { order_id: o.id }); } }, "in Production") : null)] : null,
      g ? ["Generation", h("span", {}, `#${g.seq + 1} `, h("span", { class: `inb-status inb-status-${statusClass(g.status)}` }, g.status),
        g.started_at && g.finished_at ? h("span", { class: "inb-faint" }, ` · ${INB.fmtSeconds((Date.parse(g.finished_at) - Date.parse(g.started_at)) / 1000)}`) : null)] : null,
      ["Created", created ? h("span", { title: p.created_at }, created.toLocaleString(), h("span", { class: "inb-faint" }, ` · ${fmtAgo(p.created_at)}`)) : "—"],
      ["Size", [p.width && p.height ? `${p.width} × ${p.height} px` : null, fmtBytes(p.size), p.media_type].filter(Boolean).join(" · ")],
      ["Seed", p.seed !== null && p.seed !== undefined ? h("span", { class: "inb-mono" }, String(p.seed)) : "—"],
      ["File", h("span", { class: "inb-gallery-path" }, h("span", { class: "inb-mono" }, p.path), " ",
        h("button", { class: "inb-btn inb-btn-link inb-btn-sm", onclick: (e) => copy(p.path, e.currentTarget) }, "copy path"))],
      ["Source", p.source],
    ].filter(Boolean);
    const factTable = h("table", { class: "inb-kv inb-gallery-facts" }, h("tbody", {}, facts.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))));

    const sets = [
      ["Generation parameters", g ? g.params : p.params, "what this product was asked for (one expansion of the order)"],
      ["Actual parameters", g && g.actual, "what was sent to the model: defaults filled in"],
      ["Returned", g && g.returned, "what the provider reports it used"],
      ["Order, as typed", o && o.base_params, "the base parameter set, SmartParameters included"],
    ].filter(([, v]) => v && Object.keys(v).length);

    fill(side,
      p.prompt ? h("div", { class: "inb-gallery-prompt" }, p.prompt) : null,
      p.negative_prompt ? h("div", { class: "inb-gallery-negative" }, h("span", { class: "inb-faint" }, "Negative: "), p.negative_prompt) : null,
      actions, varyBox,
      h("div", { class: "inb-gallery-block" }, h("div", { class: "inb-label" }, "Rating"), rateField),
      h("div", { class: "inb-gallery-block" }, h("div", { class: "inb-label" }, "Collections"), chipsBox, colField),
      h("div", { class: "inb-gallery-block" }, factTable),
      sets.map(([label, values, help], index) => h("details", { class: "inb-gallery-params", open: index === 0 },
        h("summary", {}, label, h("span", { class: "inb-faint" }, ` · ${Object.keys(values).length}`),
          h("button", { class: "inb-btn inb-btn-link inb-btn-sm", onclick: (e) => { e.preventDefault(); copy(JSON.stringify(values, null, 2), e.currentTarget); } }, "copy JSON")),
        h("div", { class: "inb-help" }, help), kvTable(values))));
  }

  function neighbour(id) {
    const ids = orderedIds();
    const i = ids.indexOf(id);
    return ids[i + 1] || ids[i - 1] || null;
  }

  function filterTo(patch) {
    closeDetails(false);
    state.filters = { ...blank(), ...patch };
    state.groupBy = "";
    syncControls();
    reload();
  }

  function statusClass(status) {
    return { fulfilled: "complete", complete: "complete", failed: "failed", cancelled: "cancelled", generating: "running", underway: "running", processing: "running" }[status] || "queued";
  }

  function kvTable(values) {
    return h("table", { class: "inb-kv" }, h("tbody", {}, Object.entries(values).map(([k, v]) =>
      h("tr", {}, h("th", {}, k), h("td", {}, v === null ? "null" : typeof v === "object" ? JSON.stringify(v)
        // a float is shown to the millisecond: "seconds 5.021", not 5.020830622000176
        : typeof v === "number" && !Number.isInteger(v) ? String(Math.round(v * 1000) / 1000) : String(v))))));
  }

  async function copy(text, button) {
    try {
      await navigator.clipboard.writeText(text);
      const label = button.textContent;
      button.textContent = "copied";
      setTimeout(() => { button.textContent = label; }, 1200);
    } catch (err) {
      toast(ctx.root, "The browser refused the clipboard; select the text instead.", { error: true });
    }
  }

  // ---- mount ----------------------------------------------------------------------------
  fill(content, h("div", { class: "inb-gallery-grid" }, Array.from({ length: 18 }, () => h("div", { class: "inb-gallery-skeleton" }))));
  paintSelection();
  syncControls();
  let started = false;
  (async () => {
    const epoch = ++state.epoch;
    loading(1);
    try {
      const base = requestFilters();
      const { result, buffers } = await ctx.call("init", { filters: base, limit: 60 });
      state.pageSize = result.page_size;
      applyOptions(result.options);
      started = true;
      if (epoch !== state.epoch) return; // navigate() asked for something else meanwhile
      if (state.groupBy) { reload(); return; }
      const sec = makeSection(null, base);
      const page = result.page;
      sec.total = page.total;
      for (const item of page.items) { sec.ids.push(item.id); sec.grid.append(makeTile(register(item, buffers))); }
      sec.next = page.next_offset;
      sec.loaded = true;
      state.total = page.total;
      paintFoot(sec);
      fill(content, page.total === 0 ? emptyState() : sec.el);
      if (page.total) { watchEnd(sec); requestAnimationFrame(() => wantMore(sec) && loadSection(sec, state.pageSize)); }
      updateCount();
      paintSelection();
    } catch (err) {
      fill(content, h("div", { class: "inb-empty" }, h("strong", {}, "Could not open the gallery"), err.message));
    } finally {
      loading(-1);
    }
  })();

  return {
    /** {project_id} | {order_id} | {collection_id} (| {product_id}: open its details) */
    navigate(payload) {
      payload = payload || {};
      const patch = {};
      if (payload.project_id) patch.project = payload.project_id;
      if (payload.order_id) patch.order_id = payload.order_id;
      if (payload.collection_id) patch.collection = payload.collection_id;
      closeDetails(false);
      state.filters = { ...blank(), ...patch };
      state.groupBy = "";
      if (payload.product_id) state.openAfterLoad = payload.product_id;
      syncControls();
      if (started && (payload.project_id || payload.collection_id)) refreshOptions();
      reload();
    },
    shown() {
      if (started) refreshOptions().then(updateCount);
      flushNewWhenFree();
    },
    destroy() {
      state.destroyed = true;
      state.epoch++;
      endWatcher.disconnect();
      sectionWatcher.disconnect();
      closeMenu();
      closeDetails(false);
      for (const rec of state.tiles.values()) if (rec.url) URL.revokeObjectURL(rec.url);
      state.tiles.clear();
    },
  };
};
