// The Projects panel: project cards with a sample thumbnail, counts and last activity;
// create, rename, describe, archive and unarchive; jump to Order or Gallery from a card.

/**
 * Messages (mirrors imagen_nb/ui/projects.py):
 * @typedef {{ id: string, name: string, description: string, status: "active"|"archived",
 *             orders: number, products: number, last_activity: number|null,
 *             sample_product_id: string|null, thumb: number|null, thumb_type: string|null }} ProjectCard
 *   `thumb` indexes the reply's (or push's) buffers; null in a push means "unchanged" when
 *   sample_product_id is the same as before.
 * @typedef {{ products: number, unassigned: number, last_activity: number|null,
 *             sample_product_id: string|null, thumb: number|null, thumb_type: string|null }} AllCard
 * @typedef {{ projects: ProjectCard[], all: AllCard }} CardList
 * Requests: init() -> CardList; list({include_archived}) -> CardList;
 *   create({name, description}) -> ProjectCard; rename({project_id, name}) -> ProjectCard;
 *   describe({project_id, description}) -> ProjectCard; archive({project_id}) / unarchive({project_id}) -> ProjectCard
 * Pushes: "cards" CardList (counts changed; at most every two seconds)
 */

INB.panels.projects = (ctx) => {
  const { h, fill, fmtAgo, showError, clearError, toast } = INB;
  const nav = ctx.nav;

  /** @type {Map<string, ProjectCard & {url?: string}>} */
  const cards = new Map();
  /** @type {Map<string, HTMLElement>} */
  const els = new Map();
  let allCard = null;
  let allUrl = "";
  let showArchived = false;
  let filterText = "";
  let openMenu = null;
  let loaded = false;

  // ---- layout ---------------------------------------------------------------------------
  const count = h("span", { class: "inb-chip" }, "…");
  const search = h("input", {
    class: "inb-input inb-projects-search", type: "search", placeholder: "Filter projects…",
    "aria-label": "Filter projects by name or description",
    oninput: () => { filterText = search.value.trim().toLowerCase(); applyFilter(); },
  });
  const archivedToggle = h("input", { type: "checkbox", onchange: () => { showArchived = archivedToggle.checked; load(); } });
  const newBtn = h("button", { class: "inb-btn inb-btn-primary", onclick: () => openCreate() }, "+ New project");
  const head = h("div", { class: "inb-panel-head" },
    h("div", { class: "inb-panel-title" }, "Projects ", count),
    search,
    h("label", { class: "inb-projects-toggle", title: "Archived projects keep their orders and products" },
      archivedToggle, "Show archived"),
    newBtn);
  const grid = h("div", { class: "inb-projects-grid", role: "list" });
  const empty = h("div", { class: "inb-empty", hidden: true });
  const body = h("div", { class: "inb-panel-body" }, grid, empty);
  const root = h("div", { class: "inb-panel inb-projects" }, head, body);
  ctx.el.append(root);

  // ---- create form ----------------------------------------------------------------------
  const nameField = h("div", { class: "inb-field" },
    h("label", { class: "inb-label" }, "Name"));
  const nameInput = h("input", { class: "inb-input", placeholder: "e.g. Book covers", maxlength: 120, "aria-label": "Project name" });
  nameField.append(nameInput);
  const descField = h("div", { class: "inb-field" }, h("label", { class: "inb-label" }, "Description ",
    h("span", { class: "inb-faint" }, "(optional)")));
  const descInput = h("textarea", { class: "inb-textarea", rows: 2, placeholder: "What is this project for?", "aria-label": "Project description" });
  descField.append(descInput);
  const createBtn = h("button", { class: "inb-btn inb-btn-primary", type: "submit" }, "Create project");
  const form = h("form", { class: "inb-projects-card inb-projects-form", hidden: true, onsubmit: (e) => { e.preventDefault(); create(); } },
    h("div", { class: "inb-projects-form-title" }, "New project"),
    nameField, descField,
    h("div", { class: "inb-projects-actions" }, createBtn,
      h("button", { class: "inb-btn", type: "button", onclick: () => closeCreate() }, "Cancel")));
  form.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); closeCreate(); }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); create(); }
  });
  nameInput.addEventListener("input", () => clearError(nameField));

  function openCreate() {
    form.hidden = false;
    grid.prepend(form);
    empty.hidden = true;
    nameInput.focus();
  }

  function closeCreate() {
    form.hidden = true;
    nameInput.value = "";
    descInput.value = "";
    clearError(nameField);
    clearError(descField);
    render();
  }

  async function create() {
    clearError(nameField);
    clearError(descField);
    createBtn.disabled = true;
    try {
      const { result, buffers } = await ctx.call("create", { name: nameInput.value, description: descInput.value });
      closeCreate();
      upsert(result, buffers, { prepend: true });
      flash(result.id);
      toast(ctx.root, `Project “${result.name}” created`);
    } catch (err) {
      const field = err.info && err.info.field === "description" ? descField : nameField;
      showError(ctx.root, err, field);
      (field === descField ? descInput : nameInput).focus();
    } finally {
      createBtn.disabled = false;
    }
  }

  // ---- cards ----------------------------------------------------------------------------
  function hue(text) {
    let n = 0;
    for (const c of text) n = (n * 31 + c.codePointAt(0)) % 360;
    return n;
  }

  function thumbUrl(card, buffers, prev) {
    if (card.thumb !== null && card.thumb !== undefined && buffers[card.thumb]) {
      return INB.blobUrl(buffers[card.thumb], card.thumb_type || "image/webp");
    }
    if (prev && prev.sample_product_id === card.sample_product_id) return prev.url || "";
    return "";
  }

  function meta(card) {
    const parts = [`${card.orders.toLocaleString()} ${card.orders === 1 ? "order" : "orders"}`,
      `${card.products.toLocaleString()} ${card.products === 1 ? "product" : "products"}`];
    if (card.last_activity) parts.push(fmtAgo(card.last_activity));
    return parts.join(" · ");
  }

  function cover(name, url, archived) {
    const el = h("div", { class: "inb-projects-cover inb-thumb" });
    if (url) el.append(h("img", { src: url, alt: "", loading: "lazy", draggable: false }));
    else {
      el.classList.add("inb-projects-cover-empty");
      el.style.setProperty("--inb-projects-hue", String(hue(name)));
      el.append(h("span", { class: "inb-projects-initial", "aria-hidden": "true" }, (name.trim()[0] || "?").toUpperCase()));
    }
    if (archived) el.append(h("span", { class: "inb-chip inb-projects-badge" }, "Archived"));
    return el;
  }

  function cardEl(card) {
    const archived = card.status === "archived";
    const menuBtn = h("button", {
      class: "inb-btn inb-btn-icon inb-projects-more", title: "More actions", "aria-label": `More actions for ${card.name}`,
      "aria-haspopup": "menu", onclick: (e) => { e.stopPropagation(); toggleMenu(card.id, menuBtn); },
    }, "⋯");
    const desc = card.description
      ? h("p", { class: "inb-projects-desc", title: card.description }, card.description)
      : h("p", { class: "inb-projects-desc inb-projects-desc-empty" },
        h("button", { class: "inb-btn inb-btn-link inb-projects-add-desc", onclick: () => editDescription(card.id) }, "Add a description"));
    const actions = h("div", { class: "inb-projects-actions" });
    if (archived) {
      actions.append(h("button", { class: "inb-btn inb-btn-sm", onclick: () => setStatus(card.id, "unarchive") }, "Unarchive"));
    } else if (nav) {
      actions.append(
        h("button", { class: "inb-btn inb-btn-sm", title: "Open the Order panel with this project selected",
          onclick: () => nav.go("order", { project_id: card.id }) }, "New order"),
        h("button", { class: "inb-btn inb-btn-sm", title: "Show this project's products in the Gallery",
          onclick: () => nav.go("gallery", { project_id: card.id }) }, "Gallery →"));
    }
    const el = h("article", { class: "inb-projects-card" + (archived ? " inb-projects-archived" : ""), role: "listitem",
      dataset: { id: card.id }, "aria-label": card.name },
      cover(card.name, card.url, archived),
      h("div", { class: "inb-projects-info" },
        h("div", { class: "inb-projects-name-row" },
          h("h3", { class: "inb-projects-name", title: card.name }, card.name), menuBtn),
        desc,
        h("div", { class: "inb-projects-meta" }, meta(card))),
      actions.childElementCount ? actions : null);
    return el;
  }

  function allEl() {
    const a = allCard;
    const actions = nav ? h("div", { class: "inb-projects-actions" },
      h("button", { class: "inb-btn inb-btn-sm", onclick: () => nav.go("order", {}) }, "New order"),
      h("button", { class: "inb-btn inb-btn-sm", title: "Every product, whatever its project",
        onclick: () => nav.go("gallery", { project_id: null }) }, "Gallery →")) : null;
    const parts = [`${a.products.toLocaleString()} ${a.products === 1 ? "product" : "products"}`];
    if (a.unassigned) parts.push(`${a.unassigned.toLocaleString()} without a project`);
    if (a.last_activity) parts.push(fmtAgo(a.last_activity));
    return h("article", { class: "inb-projects-card inb-projects-all", role: "listitem", "aria-label": "All products" },
      cover("All products", allUrl, false),
      h("div", { class: "inb-projects-info" },
        h("div", { class: "inb-projects-name-row" }, h("h3", { class: "inb-projects-name" }, "All products")),
        h("p", { class: "inb-projects-desc inb-muted" }, "Everything in this studio, in or out of a project."),
        h("div", { class: "inb-projects-meta" }, parts.join(" · "))),
      actions);
  }

  function upsert(card, buffers, { prepend = false } = {}) {
    const prev = cards.get(card.id);
    card.url = thumbUrl(card, buffers, prev);
    cards.set(card.id, card);
    if (card.status === "archived" && !showArchived) {
      const old = els.get(card.id);
      if (old) old.remove();
      els.delete(card.id);
      cards.delete(card.id);
      updateCount();
      return;
    }
    const el = cardEl(card);
    const old = els.get(card.id);
    if (old) old.replaceWith(el);
    else if (prepend) {
      const anchor = grid.querySelector(":scope > .inb-projects-all");
      if (anchor) anchor.after(el); else grid.prepend(el);
    } else grid.append(el);
    els.set(card.id, el);
    empty.hidden = true;
    updateCount();
    applyFilter();
  }

  function updateCount() {
    const active = [...cards.values()].filter((c) => c.status === "active").length;
    count.textContent = showArchived ? `${active} active · ${cards.size - active} archived` : String(active);
  }

  function render() {
    closeMenu();
    const keep = form.hidden ? [] : [form];
    fill(grid, keep);
    els.clear();
    if (allCard && (allCard.products || cards.size)) grid.append(allEl());
    for (const card of cards.values()) {
      const el = cardEl(card);
      els.set(card.id, el);
      grid.append(el);
    }
    updateCount();
    if (!cards.size && form.hidden) {
      fill(empty,
        h("strong", {}, showArchived ? "No projects yet" : "No active projects"),
        h("div", {}, "Projects group orders by intent — a book cover, a card deck, a mood board."),
        h("div", { style: { marginTop: "12px" } },
          h("button", { class: "inb-btn inb-btn-primary", onclick: () => openCreate() }, "+ Create your first project")));
      empty.hidden = false;
    } else empty.hidden = true;
    applyFilter();
  }

  function applyFilter() {
    let shown = 0;
    for (const [id, el] of els) {
      const c = cards.get(id);
      const match = !filterText || c.name.toLowerCase().includes(filterText) || (c.description || "").toLowerCase().includes(filterText);
      el.hidden = !match;
      if (match) shown++;
    }
    let none = body.querySelector(":scope > .inb-projects-nomatch");
    if (filterText && !shown && cards.size) {
      if (!none) body.append(h("div", { class: "inb-empty inb-projects-nomatch" }, h("strong", {}, "No project matches"),
        "Clear the filter to see every project."));
    } else if (none) none.remove();
  }

  function flash(id) {
    const el = els.get(id);
    if (!el) return;
    el.classList.add("inb-projects-flash");
    el.scrollIntoView({ block: "nearest", behavior: "smooth" });
    setTimeout(() => el.classList.remove("inb-projects-flash"), 1200);
  }

  function applyList(result, buffers) {
    const prev = new Map(cards);
    cards.clear();
    for (const card of result.projects) {
      card.url = thumbUrl(card, buffers, prev.get(card.id));
      cards.set(card.id, card);
    }
    if (result.all) {
      if (result.all.thumb !== null && buffers[result.all.thumb]) allUrl = INB.blobUrl(buffers[result.all.thumb], result.all.thumb_type || "image/webp");
      else if (!result.all.sample_product_id) allUrl = "";
      allCard = result.all;
    }
  }

  async function load() {
    try {
      const { result, buffers } = await ctx.call("list", { include_archived: showArchived });
      applyList(result, buffers);
      loaded = true;
      render();
    } catch (err) {
      showError(ctx.root, err);
    }
  }

  /** A card with an open menu or an inline editor: only its numbers may change under the user. */
  function busy(el) {
    return !!el.querySelector(".inb-projects-inline") || (openMenu && el.contains(openMenu));
  }

  // Live counts and refreshes: patch cards in place, in their current order (no re-sorting
  // while data arrives, no layout jumps, an open menu or editor survives).
  function reconcile(result, buffers) {
    const seen = new Set();
    for (const card of result.projects) {
      seen.add(card.id);
      const prev = cards.get(card.id);
      if (!prev) { upsert(card, buffers, { prepend: true }); continue; }
      card.url = thumbUrl(card, buffers, prev);
      const el = els.get(card.id);
      const same = ["name", "description", "status", "url"].every((k) => prev[k] === card[k]);
      cards.set(card.id, card);
      if (!el) continue;
      if (same || busy(el)) {
        const metaEl = el.querySelector(".inb-projects-meta");
        if (metaEl) metaEl.textContent = meta(card);
        if (!same && prev.url !== card.url) el.querySelector(".inb-projects-cover").replaceWith(cover(card.name, card.url, card.status === "archived"));
      } else {
        const fresh = cardEl(card);
        el.replaceWith(fresh);
        els.set(card.id, fresh);
      }
    }
    for (const id of [...cards.keys()]) {
      if (seen.has(id)) continue;
      const el = els.get(id);
      if (el && busy(el)) continue;
      if (el) el.remove();
      els.delete(id);
      cards.delete(id);
    }
    if (result.all) {
      const changed = result.all.thumb !== null && result.all.thumb !== undefined && buffers[result.all.thumb];
      if (changed) allUrl = INB.blobUrl(buffers[result.all.thumb], result.all.thumb_type || "image/webp");
      else if (!result.all.sample_product_id) allUrl = "";
      allCard = result.all;
      const old = grid.querySelector(":scope > .inb-projects-all");
      if (old) old.replaceWith(allEl());
      else if (allCard.products) {
        const anchor = form.hidden ? null : form;
        if (anchor) anchor.after(allEl()); else grid.prepend(allEl());
      }
    }
    updateCount();
    applyFilter();
    if (cards.size || allCard && allCard.products) empty.hidden = true;
  }

  ctx.on("cards", (data, buffers) => { if (loaded) reconcile(data, buffers); });

  // ---- menu, rename, describe, archive ---------------------------------------------------
  function closeMenu() {
    if (openMenu) { openMenu.remove(); openMenu = null; }
  }

  function toggleMenu(id, anchor) {
    const wasOpen = openMenu && openMenu.dataset.for === id;
    closeMenu();
    if (wasOpen) return;
    const card = cards.get(id);
    const archived = card.status === "archived";
    const item = (label, fn, cls = "") => h("button", { class: "inb-projects-menu-item " + cls, role: "menuitem",
      onclick: (e) => { e.stopPropagation(); closeMenu(); fn(); } }, label);
    openMenu = h("div", { class: "inb-projects-menu", role: "menu", dataset: { for: id } },
      item("Rename", () => rename(id)),
      item(card.description ? "Edit description" : "Add description", () => editDescription(id)),
      archived ? item("Unarchive", () => setStatus(id, "unarchive"))
        : item("Archive", () => setStatus(id, "archive"), "inb-projects-menu-danger"));
    openMenu.addEventListener("keydown", (e) => {
      const items = [...openMenu.querySelectorAll("button")];
      const i = items.indexOf(document.activeElement);
      if (e.key === "Escape") { e.preventDefault(); closeMenu(); anchor.focus(); }
      else if (e.key === "ArrowDown") { e.preventDefault(); items[(i + 1) % items.length].focus(); }
      else if (e.key === "ArrowUp") { e.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
    });
    anchor.closest(".inb-projects-card").append(openMenu);
    openMenu.querySelector("button").focus();
  }
  const onDocClick = (e) => { if (openMenu && !openMenu.contains(e.target)) closeMenu(); };
  document.addEventListener("click", onDocClick);

  function rename(id) {
    const el = els.get(id);
    const card = cards.get(id);
    const title = el.querySelector(".inb-projects-name-row");
    const input = h("input", { class: "inb-input", value: card.name, maxlength: 120, "aria-label": "New project name" });
    const field = h("div", { class: "inb-field inb-projects-inline" }, input,
      h("div", { class: "inb-help" }, "Enter to save · Esc to cancel"));
    title.replaceWith(field);
    input.focus();
    input.select();
    let done = false;
    const cancel = () => { if (done) return; done = true; field.replaceWith(title); };
    const save = async () => {
      const name = input.value.trim();
      if (name === card.name) return cancel();
      clearError(field);
      input.disabled = true;
      try {
        const { result, buffers } = await ctx.call("rename", { project_id: id, name });
        done = true;
        upsert(result, buffers);
        flash(id);
      } catch (err) {
        input.disabled = false;
        showError(ctx.root, err, field);
        input.focus();
      }
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); save(); }
      if (e.key === "Escape") { e.preventDefault(); cancel(); }
    });
    input.addEventListener("input", () => clearError(field));
  }

  function editDescription(id) {
    const el = els.get(id);
    const card = cards.get(id);
    const desc = el.querySelector(".inb-projects-desc");
    const area = h("textarea", { class: "inb-textarea", rows: 3, placeholder: "What is this project for?",
      "aria-label": "Project description" });
    area.value = card.description || "";
    const saveBtn = h("button", { class: "inb-btn inb-btn-sm inb-btn-primary" }, "Save");
    const field = h("div", { class: "inb-field inb-projects-inline" }, area,
      h("div", { class: "inb-projects-inline-actions" }, saveBtn,
        h("button", { class: "inb-btn inb-btn-sm", onclick: () => field.replaceWith(desc) }, "Cancel"),
        h("span", { class: "inb-help" }, "Ctrl+Enter to save")));
    desc.replaceWith(field);
    area.focus();
    const save = async () => {
      clearError(field);
      saveBtn.disabled = true;
      try {
        const { result, buffers } = await ctx.call("describe", { project_id: id, description: area.value });
        upsert(result, buffers);
      } catch (err) {
        saveBtn.disabled = false;
        showError(ctx.root, err, field);
      }
    };
    saveBtn.addEventListener("click", save);
    area.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); }
      if (e.key === "Escape") { e.preventDefault(); field.replaceWith(desc); }
    });
  }

  async function setStatus(id, method) {
    const card = cards.get(id);
    try {
      const { result, buffers } = await ctx.call(method, { project_id: id });
      upsert(result, buffers);
      if (method === "archive") {
        toast(ctx.root, `“${card.name}” archived`, { action: "Undo", onAction: () => setStatus(id, "unarchive") });
      } else {
        flash(id);
        if (!els.has(id)) toast(ctx.root, `“${card.name}” is active again`);
      }
    } catch (err) {
      showError(ctx.root, err);
    }
  }

  // ---- start ----------------------------------------------------------------------------
  ctx.call("init").then(({ result, buffers }) => {
    applyList(result, buffers);
    loaded = true;
    render();
  }).catch((err) => {
    fill(empty, h("strong", {}, "Could not load the projects"), err.message);
    empty.hidden = false;
  });

  return {
    navigate(payload) {
      if (payload && payload.create) openCreate();
      if (payload && payload.project_id) flash(payload.project_id);
    },
    shown() {
      if (!loaded) return;
      ctx.call("list", { include_archived: showArchived })
        .then(({ result, buffers }) => reconcile(result, buffers)).catch(() => {});
    },
    destroy() { document.removeEventListener("click", onDocClick); closeMenu(); },
  };
};
