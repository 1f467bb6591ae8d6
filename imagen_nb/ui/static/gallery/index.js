// The Gallery panel: a paged grid of thumbnails with search, filters, grouping, a details view,
// rating, collections, delete with undo, downloads, variations, multi-select, import by drop,
// and the grid view (comparison grid) of an order or a selection — on the component base.
// One store holds what the kernel said; components derive every text from it; tiles are a keyed
// list, so a live update never replaces the element in focus or the search being typed.
// Files: state.js (store shape, derived texts), actions.js (requests; gridview.js those of the
// grid view), toolbar.js (header,
// filters, selection bar, status line), tiles.js (sections and tiles), details.js, menu.js,
// importer.js, compare.js (grid view), jobs.js (Upscale and Train LoRA…). Python side: imagen_nb/ui/gallery.py.

/**
 * Requests (ctx.call):
 *   init({filters?, limit?})          -> { options, page: {items, offset, total, next_offset}, page_size, kinds, group_by }
 *   page({filters, offset, limit, total}) -> page (thumbnails as buffers)
 *   groups({by, filters}) -> { by, total, groups }     options() -> { projects, collections, models, kinds, total }
 *   details({product_id}) -> { product, generation, order, model, can_vary, truncated } (thumbnail as a buffer)
 *   original({product_id}) -> { id, name, media_type, size, buf }
 *   rate({ids, rating}); collect({ids, collection, create}); uncollect({ids, collection})
 *   delete({ids}) -> { deleted, ids }  restore({ids}) -> { restored, ids }
 *   vary({product_id, n, strength}) -> { order_id, generations, model }
 *   select({ids}) -> { selected }  (Python: widget.selected)   code({product_id}) -> { code }
 *   import({names}, files as buffers) -> { imported, refused, warnings }
 *   grid({order_id} | {ids}, x?, y?, z?) -> { title, order_id, axes: {x, y, z: {name, labels}|null}, choices, fixed, cells }
 *   thumbs({product_ids}) -> { items: {id: {buf, type}} }
 *   (init and page also take sort: "newest" | "clip_score" | "aesthetic_score" | "judge_score"; filters min_<score>)
 *   upscalers() -> { models: [{id, upscale_factor, local, default, description, scale}], default, chosen }
 *   upscale({ids, model, scale}) -> { order_id, generations, model, scale }
 *   train_options({ids}) -> { bases: [{id, description, resolution}], base, columns,
 *                              defaults: {steps, rank, aspect, train_text_encoder, learning_rate} }
 *   train_check({ids, name, base, steps, rank, captions, resolution?, aspect?, train_text_encoder?, text_encoder_learning_rate?})
 *     -> { count, shown, aspect, resolution, dataset: [{product_id, width, height, target_width, target_height, caption}] }
 *   train({...the same}) -> { run_id, name, steps, images }
 * Pushes (ctx.on):
 *   new_products { ids: string[], count: number }  newest first, at most ten a second
 * @typedef {import("./state.js").State} State
 */

import { html, render, cx, useMemo } from "../lib/view.js";
import { createStore, useStore } from "../lib/store.js";
import { initialState } from "./state.js";
import { createActions } from "./actions.js";
import { Head } from "./toolbar.js";
import { Body } from "./tiles.js";
import { Details } from "./details.js";
import { CollectionMenu } from "./menu.js";
import { DropHint, dropHandlers } from "./importer.js";
import { JobDialog } from "./jobs.js";

function Gallery({ app }) {
  const { store, actions } = app;
  const drop = useMemo(() => dropHandlers(actions), []);
  const selecting = useStore(store, (s) => s.selection.size > 0);
  const onKeyDown = (e) => {
    const s = store.get();
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
    if (e.key === "Escape" && s.dialog) {
      e.stopPropagation();
      actions.closeDialog();
    } else if (e.key === "Escape" && !s.details) {
      if (actions.closeMenu()) { e.stopPropagation(); return; }
      if (s.selection.size) { e.stopPropagation(); actions.clearSelection(); return; }
      if (s.compare && !typing) { e.stopPropagation(); actions.closeGrid(); }
    } else if (e.key === "/" && !typing && !s.details) {
      e.preventDefault();
      if (app.dom.search) { app.dom.search.focus(); app.dom.search.select(); }
    } else if ((e.key === "a" || e.key === "A") && (e.metaKey || e.ctrlKey) && !typing && !s.details) {
      e.preventDefault();
      actions.selectAllOnPage();
    }
  };
  return html`<div class=${cx("inb-gallery-frame", selecting && "inb-gallery-selecting")} onKeyDown=${onKeyDown} onDragEnter=${drop.onDragEnter} onDragOver=${drop.onDragOver}
      onDragLeave=${drop.onDragLeave} onDrop=${drop.onDrop}>
    <${Head} app=${app} />
    <${Body} app=${app} />
    <${CollectionMenu} app=${app} />
    <${DropHint} app=${app} />
    <${Details} app=${app} />
    <${JobDialog} app=${app} />
  </div>`;
}

function mount(ctx) {
  const el = document.createElement("div");
  el.className = "inb-panel inb-gallery";
  ctx.el.append(el);
  const store = createStore(initialState());
  const dom = { panel: el, body: null, sentinel: null, modal: null, search: null };
  const actions = createActions({
    call: ctx.call,
    root: ctx.root,
    nav: ctx.nav,
    toast: (message, opts) => INB.toast(ctx.root, message, opts),
    error: (err) => INB.showError(ctx.root, err),
    // a URL per thumbnail (not INB.blobUrl's cache): each is revoked when its page goes
    blobUrl: (data, type) => URL.createObjectURL(new Blob([data], { type })),
    release: INB.release,
    copy: (text) => INB.copyText(ctx.root, text),
    download: (blob, name) => {
      const url = URL.createObjectURL(blob);
      const a = INB.h("a", { href: url, download: name, hidden: true });
      ctx.root.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 4000);
    },
  }, store, dom);
  const app = { store, actions, nav: ctx.nav, dom };
  render(html`<${Gallery} app=${app} />`, el);
  ctx.on("new_products", (data) => actions.newProducts(data));
  actions.init();
  return {
    /** {project_id} | {order_id} | {collection_id} (| {product_id}: open its details; view: "grid") */
    navigate(payload) { actions.navigate(payload); },
    shown() { actions.shown(); },
    reconnected() { actions.askAgain(); },
    destroy() {
      actions.destroy();
      render(null, el);
    },
  };
}

INB.panels.gallery = mount;
