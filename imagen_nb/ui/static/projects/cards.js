// Projects: the cards (keyed by project id), their menu and their inline editors.

/**
 * @typedef {import("./state.js").ProjectCard} ProjectCard
 * @typedef {{ store: import("../lib/store.js").Store<import("./state.js").State>, actions: object,
 *             nav: { go(tab: string, payload: object): void } | null }} App
 */

import { html, cx, useRef, useEffect, useNow } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { metaText, allText, hue } from "./state.js";

function Cover({ name, url, archived }) {
  return html`
    <div class=${cx("inb-projects-cover inb-thumb", !url && "inb-projects-cover-empty")}
      style=${url ? null : { "--inb-projects-hue": String(hue(name)) }}>
      ${url ? html`<img src=${url} alt="" loading="lazy" draggable="false" />`
        : html`<span class="inb-projects-initial" aria-hidden="true">${(name.trim()[0] || "?").toUpperCase()}</span>`}
      ${archived ? html`<span class="inb-chip inb-projects-badge">Archived</span>` : null}
    </div>`;
}

function Menu({ app, card, anchor }) {
  const { actions } = app;
  const ref = useRef(null);
  useEffect(() => { const first = ref.current && ref.current.querySelector("button"); if (first) first.focus(); }, []);
  const archived = card.status === "archived";
  const item = (label, fn, cls = "") => html`<button class=${cx("inb-projects-menu-item", cls)} role="menuitem"
    onClick=${(e) => { e.stopPropagation(); actions.closeMenu(); fn(); }}>${label}</button>`;
  const onKeyDown = (e) => {
    const items = [...ref.current.querySelectorAll("button")];
    const i = items.indexOf(e.target);
    if (e.key === "Escape") { e.preventDefault(); actions.closeMenu(); if (anchor.current) anchor.current.focus(); }
    else if (e.key === "ArrowDown") { e.preventDefault(); items[(i + 1) % items.length].focus(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
  };
  return html`<div ref=${ref} class="inb-projects-menu" role="menu" data-for=${card.id} onKeyDown=${onKeyDown}>
    ${item("Rename", () => actions.edit(card.id, "name"))}
    ${item(card.description ? "Edit description" : "Add description", () => actions.edit(card.id, "description"))}
    ${archived ? item("Unarchive", () => actions.setStatus(card.id, "unarchive"))
      : item("Archive", () => actions.setStatus(card.id, "archive"), "inb-projects-menu-danger")}
  </div>`;
}

function Editor({ app, card, what }) {
  const { store, actions } = app;
  const error = useStore(store, (s) => s.editError);
  const saving = useStore(store, (s) => s.saving);
  const ref = useRef(null);
  useEffect(() => { ref.current.focus(); if (what === "name") ref.current.select(); }, []);
  const save = () => actions.save(card.id, what, ref.current.value);
  const onKeyDown = (e) => {
    if (e.key === "Escape") { e.preventDefault(); actions.cancelEdit(); }
    else if (e.key === "Enter" && (what === "name" || e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); }
  };
  return html`<div class=${cx("inb-field inb-projects-inline", error && "inb-invalid")}>
    ${what === "name"
      ? html`<input ref=${ref} class="inb-input" value=${card.name} maxlength="120" aria-label="New project name"
          disabled=${saving} onKeyDown=${onKeyDown} onInput=${() => actions.clearEditError()} />
        <div class="inb-help">Enter to save · Esc to cancel</div>`
      : html`<textarea ref=${ref} class="inb-textarea" rows="3" placeholder="What is this project for?"
          aria-label="Project description" onKeyDown=${onKeyDown} onInput=${() => actions.clearEditError()}>${card.description || ""}</textarea>
        <div class="inb-projects-inline-actions">
          <button class="inb-btn inb-btn-sm inb-btn-primary" disabled=${saving} onClick=${save}>Save</button>
          <button class="inb-btn inb-btn-sm" onClick=${() => actions.cancelEdit()}>Cancel</button>
          <span class="inb-help">Ctrl+Enter to save</span></div>`}
    ${error ? html`<div class="inb-field-error" role="alert">${error}</div>` : null}
  </div>`;
}

/** One project: cover, name with its menu, description, counts, the ways out of it. */
export function Card({ app, id }) {
  const { store, actions, nav } = app;
  const card = useStore(store, (s) => s.cards[id]);
  const menuOpen = useStore(store, (s) => s.menuFor === id);
  const editing = useStore(store, (s) => (s.editing && s.editing.id === id ? s.editing.what : null));
  const flash = useStore(store, (s) => s.flash === id);
  const now = useNow(20000);
  const menuBtn = useRef(null);
  if (!card) return null;
  const archived = card.status === "archived";
  return html`
    <article class=${cx("inb-projects-card", archived && "inb-projects-archived", flash && "inb-projects-flash")}
      role="listitem" data-id=${id} aria-label=${card.name}>
      <${Cover} name=${card.name} url=${card.url} archived=${archived} />
      <div class="inb-projects-info">
        ${editing === "name" ? html`<${Editor} app=${app} card=${card} what="name" />` : html`
          <div class="inb-projects-name-row">
            <h3 class="inb-projects-name" title=${card.name}>${card.name}</h3>
            <button ref=${menuBtn} class="inb-btn inb-btn-icon inb-projects-more" title="More actions"
              aria-label=${`More actions for ${card.name}`} aria-haspopup="menu" aria-expanded=${String(menuOpen)}
              onClick=${(e) => { e.stopPropagation(); actions.toggleMenu(id); }}>⋯</button>
          </div>`}
        ${editing === "description" ? html`<${Editor} app=${app} card=${card} what="description" />`
          : card.description ? html`<p class="inb-projects-desc" title=${card.description}>${card.description}</p>`
            : html`<p class="inb-projects-desc inb-projects-desc-empty"><button class="inb-btn inb-btn-link inb-projects-add-desc"
                onClick=${() => actions.edit(id, "description")}>Add a description</button></p>`}
        <div class="inb-projects-meta">${metaText(card, now)}</div>
      </div>
      ${archived ? html`<div class="inb-projects-actions"><button class="inb-btn inb-btn-sm"
          onClick=${() => actions.setStatus(id, "unarchive")}>Unarchive</button></div>`
        : nav ? html`<div class="inb-projects-actions">
          <button class="inb-btn inb-btn-sm" title="Open the Order panel with this project selected"
            onClick=${() => nav.go("order", { project_id: id })}>New order</button>
          <button class="inb-btn inb-btn-sm" title="Show this project's products in the Gallery"
            onClick=${() => nav.go("gallery", { project_id: id })}>Gallery →</button></div>` : null}
      ${menuOpen ? html`<${Menu} app=${app} card=${card} anchor=${menuBtn} />` : null}
    </article>`;
}

/** "All products": every product of the studio, in a project or not. */
export function AllCard({ app }) {
  const { store, nav } = app;
  const all = useStore(store, (s) => s.all);
  const url = useStore(store, (s) => s.allUrl);
  const now = useNow(20000);
  return html`
    <article class="inb-projects-card inb-projects-all" role="listitem" aria-label="All products">
      <${Cover} name="All products" url=${url} archived=${false} />
      <div class="inb-projects-info">
        <div class="inb-projects-name-row"><h3 class="inb-projects-name">All products</h3></div>
        <p class="inb-projects-desc inb-muted">Everything in this studio, in or out of a project.</p>
        <div class="inb-projects-meta">${allText(all, now)}</div>
      </div>
      ${nav ? html`<div class="inb-projects-actions">
        <button class="inb-btn inb-btn-sm" onClick=${() => nav.go("order", {})}>New order</button>
        <button class="inb-btn inb-btn-sm" title="Every product, whatever its project"
          onClick=${() => nav.go("gallery", { project_id: null })}>Gallery →</button></div>` : null}
    </article>`;
}
