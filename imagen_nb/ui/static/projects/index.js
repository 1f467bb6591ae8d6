// The Projects panel on the component base: project cards with a sample thumbnail, counts and
// last activity; create, rename, describe, archive and unarchive; jump to Order or Gallery.
// Files: state.js (store shape, derived texts), actions.js (requests), create.js (the form),
// cards.js (cards, menu, inline editors). Python side: imagen_nb/ui/projects.py.

/**
 * Requests: init() -> CardList; list({include_archived}) -> CardList;
 *   create({name, description}) -> ProjectCard; rename({project_id, name}) -> ProjectCard;
 *   describe({project_id, description}) -> ProjectCard; archive({project_id}) / unarchive({project_id}) -> ProjectCard
 * Pushes: "cards" CardList (counts changed; at most every two seconds)
 * @typedef {import("./state.js").State} State
 */

import { html, render } from "../lib/view.js";
import { createStore, useStore } from "../lib/store.js";
import { initialState, visibleIds, countText } from "./state.js";
import { createActions } from "./actions.js";
import { CreateForm } from "./create.js";
import { Card, AllCard } from "./cards.js";

function Head({ app }) {
  const { store, actions } = app;
  const count = useStore(store, (s) => (s.loaded ? countText(s) : "…"));
  const filter = useStore(store, (s) => s.filter);
  const showArchived = useStore(store, (s) => s.showArchived);
  return html`<div class="inb-panel-head">
    <div class="inb-panel-title">Projects <span class="inb-chip">${count}</span></div>
    <input class="inb-input inb-projects-search" type="search" placeholder="Filter projects…"
      aria-label="Filter projects by name or description" value=${filter}
      onInput=${(e) => actions.setFilter(e.currentTarget.value)} />
    <label class="inb-projects-toggle" title="Archived projects keep their orders and products">
      <input type="checkbox" checked=${showArchived} onChange=${(e) => actions.setShowArchived(e.currentTarget.checked)} />
      Show archived</label>
    <button class="inb-btn inb-btn-primary" onClick=${() => actions.openCreate()}>+ New project</button>
  </div>`;
}

function Body({ app }) {
  const { store, actions } = app;
  const s = useStore(store);
  if (s.loadError) return html`<div class="inb-empty"><strong>Could not load the projects</strong>${s.loadError}</div>`;
  const ids = visibleIds(s);
  const none = s.loaded && !s.ids.length && !s.creating;
  return html`
    <div class="inb-projects-grid" role="list">
      ${s.creating ? html`<${CreateForm} key="create" app=${app} />` : null}
      ${s.all && (s.all.products || s.ids.length) ? html`<${AllCard} key="all" app=${app} />` : null}
      ${ids.map((id) => html`<${Card} key=${id} app=${app} id=${id} />`)}
    </div>
    ${none ? html`<div class="inb-empty">
      <strong>${s.showArchived ? "No projects yet" : "No active projects"}</strong>
      <div>Projects group orders by intent — a book cover, a card deck, a mood board.</div>
      <div style=${{ marginTop: "12px" }}><button class="inb-btn inb-btn-primary" onClick=${() => actions.openCreate()}>
        + Create your first project</button></div></div>` : null}
    ${s.filter.trim() && !ids.length && s.ids.length ? html`<div class="inb-empty inb-projects-nomatch">
      <strong>No project matches</strong>Clear the filter to see every project.</div>` : null}`;
}

function Projects({ app }) {
  return html`<${Head} app=${app} /><div class="inb-panel-body"><${Body} app=${app} /></div>`;
}

function mount(ctx) {
  const el = document.createElement("div");
  el.className = "inb-panel inb-projects";
  ctx.el.append(el);
  const store = createStore(initialState());
  const actions = createActions({
    call: ctx.call,
    toast: (message, opts) => INB.toast(ctx.root, message, opts),
    error: (err) => INB.showError(ctx.root, err),
    blobUrl: INB.blobUrl,
    focusCard: (id) => requestAnimationFrame(() => {
      const card = el.querySelector(`.inb-projects-card[data-id="${CSS.escape(id)}"]`);
      if (card) card.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }),
  }, store);
  const app = { store, actions, nav: ctx.nav };
  render(html`<${Projects} app=${app} />`, el);
  ctx.on("cards", (data, buffers) => actions.reconcile(data, buffers));
  // A click anywhere else closes an open menu.
  const onDocClick = (e) => { if (!e.target.closest || !e.target.closest(".inb-projects-menu")) actions.closeMenu(); };
  document.addEventListener("click", onDocClick);
  el.addEventListener("click", onDocClick);
  actions.init();
  return {
    navigate(payload) {
      if (payload && payload.create) actions.openCreate();
      if (payload && payload.project_id) actions.flash(payload.project_id);
    },
    shown() { actions.refresh(); },
    reconnected() { actions.askAgain(); },
    destroy() {
      document.removeEventListener("click", onDocClick);
      render(null, el);
    },
  };
}

INB.panels.projects = mount;
