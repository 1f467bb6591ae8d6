// Gallery: the details view of one product: the full image (or video/audio), recall into the
// Order form (Re-order, whole order, use seed/prompt/all), variations, rating, collections,
// facts and the parameter sets. Keys: Esc closes, ←/→ step, 1–5 rate.

/**
 * @typedef {import("./toolbar.js").App} App
 */

import { html, useEffect, useRef, useState } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { fmtAgo, fmtSeconds, fmtValue } from "../lib/format.js";
import { statusClass, scoreText, SCORE_LABEL, lineageSteps, lineageTitle } from "./state.js";
import { Field } from "./toolbar.js";
import { UpscaleForm } from "./jobs.js";

const typing = (el) => /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);

function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function Stage({ details }) {
  const { data, thumbUrl, originalUrl, stageError } = details;
  if (!data) return html`<div class="inb-gallery-stage">${details.error ? null : html`<div class="inb-gallery-spinner" aria-label="Loading"></div>`}</div>`;
  const p = data.product;
  const kind = (p.media_type || "").split("/")[0];
  const spinner = !originalUrl && !stageError ? html`<div class="inb-gallery-spinner"></div>` : null;
  let media;
  if (kind === "video") {
    media = originalUrl ? html`<video class="inb-gallery-full" src=${originalUrl} controls playsinline poster=${thumbUrl || undefined} preload="metadata"></video>`
      : (thumbUrl ? html`<img class="inb-gallery-full inb-gallery-pending" src=${thumbUrl} alt="" />` : null);
  } else if (kind === "audio") {
    media = html`<div class="inb-gallery-audio">${thumbUrl ? html`<img src=${thumbUrl} alt="waveform" />` : html`<div class="inb-gallery-placeholder-icon">♪</div>`}
      ${originalUrl ? html`<audio src=${originalUrl} controls preload="metadata"></audio>` : null}</div>`;
  } else if (kind === "image") {
    media = html`<img class=${`inb-gallery-full${originalUrl ? "" : " inb-gallery-pending"}`} src=${originalUrl || thumbUrl || ""} alt=${p.prompt || p.name || ""} />`;
  } else {
    media = html`<div class="inb-gallery-placeholder"><span class="inb-gallery-placeholder-icon">◆</span>${p.media_type}
      ${originalUrl ? html`<div class="inb-faint">No preview for this type: download it to open.</div>` : null}</div>`;
  }
  return html`<div class="inb-gallery-stage">${media}${kind === "audio" || kind === "image" || kind === "video" ? spinner : null}
    ${stageError ? html`<div class="inb-gallery-stage-error">${stageError}</div>` : null}</div>`;
}

function CopyLink({ text, label }) {
  const [done, setDone] = useState(false);
  return html`<button class="inb-btn inb-btn-link inb-btn-sm" onClick=${async (e) => {
    e.preventDefault();
    try { await navigator.clipboard.writeText(text); setDone(true); setTimeout(() => setDone(false), 1200); } catch (err) { setDone(false); }
  }}>${done ? "copied" : label}</button>`;
}

function KV({ values }) {
  return html`<table class="inb-kv"><tbody>${Object.entries(values).map(([k, v]) =>
    html`<tr key=${k}><th>${k}</th><td>${v === null ? "null" : fmtValue(v)}</td></tr>`)}</tbody></table>`;
}

function Vary({ app, p, onDone }) {
  const [n, setN] = useState("4");
  const [strength, setStrength] = useState(0.6);
  const [busy, setBusy] = useState(false);
  const first = useRef(null);
  useEffect(() => { if (first.current) first.current.focus(); }, []);
  return html`<${Field} app=${app} name="vary" cls="inb-gallery-vary">
    <div class="inb-gallery-vary-row">
      <${Field} app=${app} name="vary_n"><label class="inb-label">Variations</label>
        <input ref=${first} class="inb-input" type="number" min="1" max="16" step="1" value=${n} aria-label="Number of variations"
          onInput=${(e) => setN(e.currentTarget.value)} /></${Field}>
      <${Field} app=${app} name="vary_strength" cls="inb-gallery-grow"><label class="inb-label">Strength <span class="inb-mono">${Number(strength).toFixed(2)}</span></label>
        <input type="range" min="0.05" max="1" step="0.05" value=${strength} aria-label="Strength" onInput=${(e) => setStrength(Number(e.currentTarget.value))} />
        <div class="inb-help">How much is redrawn: low keeps the image, high changes it.</div></${Field}>
    </div>
    <button class="inb-btn inb-btn-primary" disabled=${busy} onClick=${async () => {
      setBusy(true);
      const ok = await app.actions.vary(p.id, Number(n), Number(strength));
      setBusy(false);
      if (ok) onDone();
    }}>Order variations</button></${Field}>`;
}

function Collections({ app, p }) {
  const { actions } = app;
  const options = useStore(app.store, (s) => s.options);
  const [name, setName] = useState("");
  const listId = useRef(`inb-gallery-cols-${Math.random().toString(36).slice(2)}`).current;
  const add = async () => { if (await actions.collect([p.id], name.trim(), "addcol")) setName(""); };
  return html`<div class="inb-gallery-collections">${p.collections.length ? p.collections.map((c) => html`<span key=${c} class="inb-chip inb-chip-accent">${c}
      <button class="inb-gallery-chip-x" title=${`Remove from ${c}`} aria-label=${`Remove from ${c}`} onClick=${() => actions.uncollect([p.id], c)}>×</button></span>`)
    : html`<span class="inb-faint">In no collection</span>`}</div>
    <${Field} app=${app} name="addcol" cls="inb-gallery-addcol">
      <div class="inb-gallery-addcol-row"><input class="inb-input" placeholder="Add to collection…" list=${listId} aria-label="Add to collection"
        value=${name} onInput=${(e) => setName(e.currentTarget.value)} onKeyDown=${(e) => { if (e.key === "Enter") add(); }} />
        <button class="inb-btn" onClick=${add}>Add</button></div>
      <datalist id=${listId}>${((options && options.collections) || []).map((c) => html`<option key=${c.id} value=${c.name}></option>`)}</datalist>
    </${Field}>`;
}

// "Refined from …" (issue 15): each round of the refinement loop this product belongs to: its best
// product (a thumbnail that opens it), the judgement and the next prompt the rewriter wrote.
function Lineage({ app, lineage, id, thumbs }) {
  const steps = lineageSteps(lineage, id);
  if (!steps.length) return null;
  return html`<div class="inb-gallery-block inb-gallery-lineage" aria-label="Lineage">
    <div class="inb-label">${lineageTitle(lineage, id)}${lineage.title ? html`<span class="inb-faint"> · ${lineage.title}</span>` : null}</div>
    <ol class="inb-gallery-chain">${steps.map((r) => html`<li key=${r.round} class=${r.here ? "inb-gallery-here" : ""} data-round=${r.round}>
      <div class="inb-gallery-chain-head">
        ${r.product_id && r.available && !r.here ? html`<button class="inb-gallery-chain-thumb" title="Open this round's product" data-id=${r.product_id}
          onClick=${() => app.actions.openDetails(r.product_id)}>${thumbs[r.round] ? html`<img src=${thumbs[r.round]} alt=${`round ${r.round}`} />` : "open"}</button>`
          : html`<span class="inb-gallery-chain-thumb inb-gallery-chain-self">${thumbs[r.round] ? html`<img src=${thumbs[r.round]} alt=${`round ${r.round}`} />` : "—"}</span>`}
        <div><div><strong>${r.label}</strong>${r.here ? html`<span class="inb-chip inb-chip-accent">${r.best === false ? "this product's round (a candidate)" : "this product"}</span>` : null}</div>
          <div class="inb-gallery-chain-prompt">${r.prompt || ""}</div></div></div>
      ${r.judgement ? html`<div class="inb-gallery-chain-judgement"><span class="inb-faint">Judge: </span>${r.judgement}</div>` : null}
      ${r.next_prompt ? html`<div class="inb-gallery-chain-next"><span class="inb-faint">Next prompt: </span>${r.next_prompt}
        ${r.next_product_id ? html` <button class="inb-btn inb-btn-link inb-btn-sm" onClick=${() => app.actions.openDetails(r.next_product_id)}>open round ${r.round + 1}’s product</button>` : null}</div>` : null}
    </li>`)}</ol></div>`;
}

function Side({ app, details }) {
  const { actions, nav } = app;
  const [varying, setVarying] = useState(false);
  const [upscaling, setUpscaling] = useState(false);
  useEffect(() => { setVarying(false); setUpscaling(false); }, [details.id]);
  if (details.error) return html`<div class="inb-gallery-side"><div class="inb-field-error">${details.error}</div></div>`;
  if (!details.data) return html`<div class="inb-gallery-side"><div class="inb-faint">Loading…</div></div>`;
  const { product: p, generation: g, order: o, model } = details.data;
  const rating = p.rating;
  const created = p.created_at ? new Date(p.created_at) : null;
  const go = (tab, payload) => actions.go(tab, payload);
  const facts = [
    ["Model", p.model ? html`<span>${p.model}${model.type ? html`<span class="inb-faint"> · ${model.type}</span>` : null}</span>` : html`<span class="inb-faint">unknown (imported)</span>`],
    ["Project", p.project ? html`<span>${p.project} <button class="inb-btn inb-btn-link inb-btn-sm" onClick=${() => actions.filterTo({ project: p.project_id })}>show all</button></span>`
      : html`<span class="inb-faint">none</span>`],
    o ? ["Order", html`<span><span class="inb-mono">…${o.id.slice(-8)}</span> <span class=${`inb-status inb-status-${statusClass(o.status)}`}>${o.status}</span>
      <button class="inb-btn inb-btn-link inb-btn-sm" onClick=${() => actions.filterTo({ order_id: o.id })}>its products</button>
      <button class="inb-btn inb-btn-link inb-btn-sm" title="This order's products on the parameters that vary in it"
        onClick=${() => { actions.closeDetails(false); actions.openGrid({ order_id: o.id }); }}>grid view</button>
      ${nav ? html`<button class="inb-btn inb-btn-link inb-btn-sm" onClick=${() => go("production", { order_id: o.id })}>in Production</button>` : null}</span>`] : null,
    g ? ["Generation", html`<span>#${g.seq + 1} <span class=${`inb-status inb-status-${statusClass(g.status)}`}>${g.status}</span>
      ${g.started_at && g.finished_at ? html`<span class="inb-faint"> · ${fmtSeconds((Date.parse(g.finished_at) - Date.parse(g.started_at)) / 1000)}</span>` : null}</span>`] : null,
    ["Created", created ? html`<span title=${p.created_at}>${created.toLocaleString()}<span class="inb-faint"> · ${fmtAgo(p.created_at)}</span></span>` : "—"],
    ["Size", [p.width && p.height ? `${p.width} × ${p.height} px` : null, fmtBytes(p.size), p.media_type].filter(Boolean).join(" · ")],
    ["Seed", p.seed !== null && p.seed !== undefined ? html`<span class="inb-mono">${String(p.seed)}</span>` : "—"],
    ["File", html`<span class="inb-gallery-path"><span class="inb-mono">${p.path}</span> <${CopyLink} text=${p.path} label="copy path" /></span>`],
    ["Source", p.source],
    ...Object.entries(SCORE_LABEL).filter(([k]) => p[k] !== null && p[k] !== undefined).map(([k, label]) => [label,
      html`<span class="inb-mono" data-score=${k}>${scoreText(p[k])}</span>`]),
  ].filter(Boolean);
  const sets = [
    ["Generation parameters", g ? g.params : p.params, "what this product was asked for (one expansion of the order)"],
    ["Actual parameters", g && g.actual, "what was sent to the model: defaults filled in"],
    ["Returned", g && g.returned, "what the provider reports it used"],
    ["Order, as typed", o && o.base_params, "the base parameter set, SmartParameters included"],
  ].filter(([, v]) => v && Object.keys(v).length);
  const recall = [["seed", "Use seed", "Put this product's seed into the Order form, keeping the rest"],
    ["prompt", "Use prompt", "Put this product's prompt and negative prompt into the Order form, keeping the rest"],
    ["all", "Use all", "Fill the Order form with all of this product's parameters"]];
  return html`<div class="inb-gallery-side">
    ${p.prompt ? html`<div class="inb-gallery-prompt">${p.prompt}</div>` : null}
    ${p.negative_prompt ? html`<div class="inb-gallery-negative"><span class="inb-faint">Negative: </span>${p.negative_prompt}</div>` : null}
    <div class="inb-gallery-actions">
      ${nav ? html`<button class="inb-btn inb-btn-primary" title="Open Order with this product's own parameters: one generation, its seed"
        onClick=${() => go("order", { product_id: p.id })}>↻ Re-order</button>` : null}
      ${nav && p.order_id ? html`<button class="inb-btn" title="Open Order with the whole order this product came from"
        onClick=${() => go("order", { product_id: p.id, scope: "order" })}>Whole order</button>` : null}
      ${nav ? html`<span class="inb-gallery-recall" role="group" aria-label="Use in the order form">${recall.map(([use, label, title]) =>
        html`<button key=${use} class="inb-btn inb-btn-sm" title=${title} onClick=${() => go("order", { product_id: p.id, use })}>${label}</button>`)}</span>` : null}
      ${details.data.can_vary ? html`<button class="inb-btn" aria-expanded=${String(varying)} onClick=${() => setVarying(!varying)}>✦ Vary…</button>` : null}
      ${details.data.can_upscale ? html`<button class="inb-btn" aria-expanded=${String(upscaling)} title="Order an upscaled copy of this image"
        onClick=${() => setUpscaling(!upscaling)}>⤢ Upscale…</button>` : null}
      <button class="inb-btn" title="Download the original file" onClick=${() => actions.download(p.id, details.originalBlob)}>↓ Download</button>
      <button class="inb-btn" title="Copy the studio.order(...) call that makes this product again" onClick=${() => actions.copyCode(p.id)}>Copy as code</button>
      <button class="inb-btn inb-btn-danger" onClick=${() => actions.removeShown(p.id)}>Delete</button>
    </div>
    ${varying ? html`<${Vary} app=${app} p=${p} onDone=${() => setVarying(false)} />` : null}
    ${upscaling ? html`<${UpscaleForm} app=${app} ids=${[p.id]} onDone=${() => setUpscaling(false)} />` : null}
    <${Lineage} app=${app} lineage=${details.data.lineage} id=${p.id} thumbs=${details.lineageThumbs || {}} />
    <div class="inb-gallery-block"><div class="inb-label">Rating</div>
      <${Field} app=${app} name="rate"><div class="inb-gallery-rate" role="group" aria-label="Rating">
        ${[1, 2, 3, 4, 5].map((n) => html`<button key=${n} class=${`inb-gallery-star${rating && n <= rating ? " inb-gallery-on" : ""}`}
          title=${`${n} star${n > 1 ? "s" : ""} (key ${n})`} aria-label=${`Rate ${n}`} aria-pressed=${String(!!rating && n <= rating)}
          onClick=${() => actions.rate([p.id], rating === n ? null : n, "rate")}>★</button>`)}</div></${Field}></div>
    <div class="inb-gallery-block"><div class="inb-label">Collections</div><${Collections} app=${app} p=${p} /></div>
    <div class="inb-gallery-block"><table class="inb-kv inb-gallery-facts"><tbody>
      ${facts.map(([k, v]) => html`<tr key=${k}><th>${k}</th><td>${v}</td></tr>`)}</tbody></table></div>
    ${sets.map(([label, values, help], index) => html`<details key=${label} class="inb-gallery-params" open=${index === 0}>
      <summary>${label}<span class="inb-faint"> · ${Object.keys(values).length}</span>
        <${CopyLink} text=${JSON.stringify(values, null, 2)} label="copy JSON" /></summary>
      <div class="inb-help">${help}</div><${KV} values=${values} /></details>`)}
  </div>`;
}

/** The dialog, shown while the store holds `details`. */
export function Details({ app }) {
  const { store, actions } = app;
  const details = useStore(store, (s) => s.details);
  const modal = useRef(null);
  const id = details && details.id;
  useEffect(() => {
    app.dom.modal = modal.current;
    if (modal.current) modal.current.focus();
  }, [id]);
  if (!details) return null;
  const ids = actions.stepIds();
  const i = ids.indexOf(details.id);
  const p = details.data && details.data.product;
  const title = p ? (p.prompt || p.name || p.id) : "Product";
  const onKeyDown = (e) => {
    if (e.key === "Escape") { e.stopPropagation(); actions.closeDetails(); return; }
    if (typing(e.target)) return;
    if (e.key === "ArrowLeft") { e.preventDefault(); actions.stepDetails(-1); }
    else if (e.key === "ArrowRight") { e.preventDefault(); actions.stepDetails(1); }
    else if (/^[1-5]$/.test(e.key) && p) { const n = Number(e.key); actions.rate([p.id], p.rating === n ? null : n, "rate"); }
  };
  return html`<div class="inb-modal-backdrop inb-gallery-backdrop" onPointerDown=${(e) => { if (e.target === e.currentTarget) actions.closeDetails(); }}>
    <div ref=${modal} class="inb-modal inb-gallery-modal" role="dialog" aria-modal="true" aria-label="Product details" tabindex="-1" onKeyDown=${onKeyDown}>
      <div class="inb-modal-head"><div class="inb-gallery-modal-title" title=${title}>${title}</div><span class="inb-gallery-grow"></span>
        <button class="inb-btn inb-btn-icon" title="Previous (←)" aria-label="Previous product" disabled=${i <= 0} onClick=${() => actions.stepDetails(-1)}>‹</button>
        <button class="inb-btn inb-btn-icon" title="Next (→)" aria-label="Next product" disabled=${i < 0 || i >= ids.length - 1} onClick=${() => actions.stepDetails(1)}>›</button>
        <button class="inb-btn inb-btn-icon" title="Close (Esc)" aria-label="Close" onClick=${() => actions.closeDetails()}>×</button></div>
      <div class="inb-gallery-modal-body"><${Stage} details=${details} /><${Side} key=${details.id} app=${app} details=${details} /></div>
    </div></div>`;
}
