// Gallery: the selection bar's "Add to collection" menu (existing collections, or a new one).

import { html, useEffect, useRef, useState } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { Field } from "./toolbar.js";

/** The menu, shown while the store holds `menu` (its position in the panel). */
export function CollectionMenu({ app }) {
  const { store, actions } = app;
  const pos = useStore(store, (s) => s.menu);
  const collections = useStore(store, (s) => (s.options && s.options.collections) || []);
  const [name, setName] = useState("");
  const box = useRef(null);
  useEffect(() => {
    if (!pos || !box.current) return undefined;
    setName("");
    const first = box.current.querySelector(collections.length ? "button" : "input");
    if (first) first.focus();
    // A press outside the menu (but not on its own button) closes it.
    const outside = (e) => { if (box.current && !box.current.contains(e.target) && !e.target.closest(".inb-gallery-menubtn")) close(); };
    document.addEventListener("pointerdown", outside, true);
    return () => document.removeEventListener("pointerdown", outside, true);
  }, [!!pos]);
  if (!pos) return null;
  function close() {
    const hadFocus = box.current && box.current.contains(box.current.getRootNode().activeElement);
    actions.closeMenu();
    const button = app.dom.panel && app.dom.panel.querySelector(".inb-gallery-menubtn");
    if (hadFocus && button && !button.closest("[hidden]")) button.focus();
    else if (hadFocus && app.dom.body) app.dom.body.focus({ preventScroll: true });
  }
  const ids = () => [...store.get().selection];
  const create = async () => { if (await actions.collect(ids(), name.trim(), "menu")) close(); };
  return html`<div ref=${box} class="inb-gallery-menu" role="menu" style=${{ left: `${pos.left}px`, top: `${pos.top}px` }}
    onKeyDown=${(e) => { if (e.key === "Escape") { e.stopPropagation(); close(); } }}>
    ${collections.length ? collections.map((c) => html`<button key=${c.id} class="inb-gallery-menu-item" role="menuitem"
      onClick=${async () => { if (await actions.collect(ids(), c.name)) close(); }}><span>${c.name}</span><span class="inb-faint">${String(c.products)}</span></button>`)
      : html`<div class="inb-faint inb-gallery-menu-empty">No collections yet: name one below.</div>`}
    <${Field} app=${app} name="menu" cls="inb-gallery-menu-new"><input class="inb-input" placeholder="New collection…" aria-label="New collection name"
      value=${name} onInput=${(e) => setName(e.currentTarget.value)} onKeyDown=${(e) => { if (e.key === "Enter") create(); }} /></${Field}>
    <button class="inb-btn inb-btn-sm inb-btn-primary" onClick=${create}>Create and add</button>
  </div>`;
}
