// Order: this session's products (the strip, newest first) and the large view of one of them.

import { html, cx } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { plural, STRIP_MAX } from "./state.js";

const RANK = { prompt: 0, negative_prompt: 1, seed: 2, width: 3, height: 4, num_inference_steps: 5, guidance_scale: 6 };
const rank = (k) => RANK[k] ?? 10;

function Strip({ app }) {
  const strip = useStore(app.store, (s) => s.strip);
  const thumbs = useStore(app.store, (s) => s.thumbs);
  const selected = useStore(app.store, (s) => s.selected);
  if (!strip.length) return null;
  const onKeyDown = (e) => {
    const btn = e.currentTarget;
    const to = e.key === "ArrowRight" ? btn.nextElementSibling : e.key === "ArrowLeft" ? btn.previousElementSibling : null;
    if (to) { e.preventDefault(); to.focus(); to.click(); }
  };
  return html`<div class="inb-order-strip" role="list" aria-label="Products of this session">
    ${strip.map((item, i) => html`<button key=${item.id} class=${cx("inb-order-strip-item", selected === item.id && "inb-order-strip-on")}
        role="listitem" data-id=${item.id} title=${`${item.prompt || ""}\n${item.width || "?"}×${item.height || "?"}`.trim()}
        aria-label=${item.prompt || "product"} onKeyDown=${onKeyDown}
        onClick=${() => app.actions.showProduct(item.id, i === 0)}>
      <div class="inb-thumb">${thumbs[item.id] ? html`<img src=${thumbs[item.id]} alt="" />`
        : html`<span class="inb-order-nothumb">${(item.media_type || "").split("/")[0]}</span>`}</div>
    </button>`)}
  </div>`;
}

function Large({ app, shortcut }) {
  const p = useStore(app.store, (s) => s.shown);
  const imageField = useStore(app.store, (s) => (s.form ? s.form.fields.find((f) => f.kind === "image") : null));
  if (!p) {
    return html`<div class="inb-order-large"><div class="inb-empty inb-order-empty"><strong>Your products appear here</strong>
      Write a prompt and press Order (${shortcut}). Each finished image lands in this strip, newest first.</div></div>`;
  }
  const params = p.params || {};
  const keys = Object.keys(params).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return html`<div class="inb-order-large">
    <div class="inb-order-large-img">${p.url ? html`<img src=${p.url} alt=${params.prompt || "product"} title=${p.path}
        onLoad=${(e) => e.target.classList.toggle("inb-order-pixels", e.target.naturalWidth < 160)} />`
      : html`<div class="inb-empty">${p.media_type}</div>`}</div>
    <div class="inb-order-large-meta">
      <span>${p.width || "?"}×${p.height || "?"}</span><span>${INB.fmtBytes(p.size)}</span>
      ${p.model ? html`<span class="inb-chip">${p.model}</span>` : null}
      <span class="inb-faint" title=${p.created_at}>${INB.fmtAgo(p.created_at)}</span></div>
    <div class="inb-order-row inb-order-large-actions">
      <button class="inb-btn inb-btn-sm" type="button" title="Fill the form with this product's own parameters"
        onClick=${() => app.actions.useParams(p)}>Use these parameters</button>
      ${imageField ? html`<button class="inb-btn inb-btn-sm" type="button" title=${`Set ${imageField.label} to this product`}
        onClick=${() => app.actions.setValue(imageField.name, p.id)}>Use as image</button>` : null}
      ${app.nav && p.order_id ? html`<button class="inb-btn inb-btn-link" type="button"
        onClick=${() => app.nav.go("gallery", { order_id: p.order_id })}>Gallery →</button>` : null}</div>
    <table class="inb-kv inb-order-params"><tbody>
      ${keys.map((k) => html`<tr key=${k}><th>${k}</th><td>${typeof params[k] === "string" ? params[k] : JSON.stringify(params[k])}</td></tr>`)}
    </tbody></table>
  </div>`;
}

export function Session({ app, shortcut }) {
  const n = useStore(app.store, (s) => s.strip.length);
  return html`<div class="inb-order-card inb-order-session">
    <div class="inb-order-card-head"><span>This session</span>
      <span class="inb-faint">${n ? plural(n, "product") + (n >= STRIP_MAX ? " (latest)" : "") : ""}</span></div>
    <${Strip} app=${app} />
    <${Large} app=${app} shortcut=${shortcut} />
  </div>`;
}
