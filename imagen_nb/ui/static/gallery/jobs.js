// Gallery: work started on products: Upscale (one product in the details view, or a selection)
// and Train LoRA… (a selection), as a form and a dialog. Errors show at the field they name.

/**
 * @typedef {import("./toolbar.js").App} App
 */

import { html, cx, useEffect, useRef, useState } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { scaleChoices, upscalerLabel, trainPreviewText, trainSizeText, suggestLoraName, TRAIN_ASPECTS, typedNumber, typedWhole } from "./state.js";
import { Field } from "./toolbar.js";

/** The upscale model and scale, and the button that orders it (`ids`: one product or several). */
export function UpscaleForm({ app, ids, onDone }) {
  const { store, actions } = app;
  const menu = useStore(store, (s) => s.upscalers);
  const [model, setModel] = useState(null);
  const [scale, setScale] = useState(null);
  const [busy, setBusy] = useState(false);
  const first = useRef(null);
  useEffect(() => { actions.loadUpscalers(); }, []);
  useEffect(() => { if (menu && model === null && menu.chosen) setModel(menu.chosen); }, [menu]);
  useEffect(() => { if (first.current) first.current.focus(); }, [!!menu]);
  if (!menu) return html`<div class="inb-gallery-upscale inb-faint">Loading the upscalers…</div>`;
  if (menu.error) return html`<div class="inb-gallery-upscale"><div class="inb-field-error" role="alert">${menu.error}</div></div>`;
  if (!menu.models.length) {
    return html`<div class="inb-gallery-upscale"><div class="inb-field-error" role="alert">No upscale models here: put a Real-ESRGAN
      .pth or .safetensors file in the diffusers model folder, or set a fal or Replicate key (studio.upscalers() lists them).</div></div>`;
  }
  const m = menu.models.find((x) => x.id === model) || null;
  const { choices, value } = scaleChoices(m, scale);
  const go = async () => {
    setBusy(true);
    const result = await actions.upscale(ids, model, value);
    setBusy(false);
    if (result && onDone) onDone(result);
  };
  return html`<${Field} app=${app} name="upscale" cls="inb-gallery-upscale">
    <div class="inb-gallery-vary-row">
      <${Field} app=${app} name="upscale_model" cls="inb-gallery-grow"><label class="inb-label">Upscaler</label>
        <select ref=${first} class="inb-select" aria-label="Upscale model" value=${model || ""}
          onChange=${(e) => { setModel(e.currentTarget.value); setScale(null); }}>
          ${menu.models.map((x) => html`<option key=${x.id} value=${x.id}>${upscalerLabel(x)}</option>`)}</select>
        ${m ? html`<div class="inb-help">${m.description}</div>` : null}</${Field}>
      <${Field} app=${app} name="upscale_scale"><label class="inb-label">Scale</label>
        <select class="inb-select" aria-label="Scale" value=${String(value)} onChange=${(e) => setScale(Number(e.currentTarget.value))}>
          ${choices.map((v) => html`<option key=${v} value=${String(v)}>×${v}</option>`)}</select></${Field}>
    </div>
    <button class="inb-btn inb-btn-primary" disabled=${busy || !model} onClick=${go}>
      ${ids.length === 1 ? "Upscale" : `Upscale ${ids.length} products`}</button></${Field}>`;
}

function UpscaleDialog({ app, dialog }) {
  return html`<div class="inb-modal-body"><div class="inb-help">One order, one generation per product; each upscaled copy is a new product.</div>
    <${UpscaleForm} app=${app} ids=${dialog.ids} onDone=${() => app.actions.closeDialog()} /></div>`;
}

// The Train LoRA dialog: name, base model, steps, rank, captions (prompt or another gallery column),
// resolution, aspect (crop to a square or aspect-ratio buckets) and an optional text-encoder LoRA with
// its own learning rate. "Check" runs every check of studio.train_lora without starting and shows the
// captions it would learn and the size each image trains at; changing the aspect checks again.
function TrainDialog({ app, dialog }) {
  const { store, actions } = app;
  const [options, setOptions] = useState(null);
  const [form, setForm] = useState(() => ({ name: suggestLoraName(dialog.ids.map((id) => store.get().items[id])), base: "",
    steps: "", rank: "", captions: "prompt", resolution: "", aspect: "crop", tenc: false, tencRate: "" }));
  const [check, setCheck] = useState(null);
  const [busy, setBusy] = useState("");
  const first = useRef(null);
  const latest = useRef(0);   // the newest request: it alone clears "busy"
  const version = useRef(0);  // bumped by every edit: a check of older values never shows
  useEffect(() => {
    let live = true;
    actions.trainOptions(dialog.ids).then((o) => {
      if (!live || !o) return;
      setOptions(o);
      setForm((f) => ({ ...f, base: f.base || o.base || "", steps: f.steps || String(o.defaults.steps), rank: f.rank || String(o.defaults.rank) }));
    });
    if (first.current) first.current.focus();
    return () => { live = false; };
  }, []);
  const edit = (key) => (e) => { const v = e.currentTarget.value; version.current++; setForm((f) => ({ ...f, [key]: v })); setCheck(null); };
  const whole = (v) => (/^\d+$/.test(String(v).trim()) ? Number(v) : v);
  const args = (f) => ({ ids: dialog.ids, name: f.name.trim(), base: f.base, steps: whole(f.steps), rank: whole(f.rank),
    captions: f.captions.trim(), resolution: typedWhole(f.resolution), aspect: f.aspect, train_text_encoder: f.tenc,
    text_encoder_learning_rate: f.tenc ? typedNumber(f.tencRate) : null });
  const send = async (what, f = form) => {
    const mine = ++latest.current;
    const seen = version.current;
    setBusy(what);
    const result = what === "check" ? await actions.trainCheck(args(f)) : await actions.train(args(f));
    if (what === "check" && seen === version.current) setCheck(result);
    if (mine === latest.current) setBusy("");
  };
  // The preview shows the sizes of one aspect: a new aspect checks again (when a preview is up or on its way).
  const chooseAspect = (aspect) => {
    const next = { ...form, aspect };
    version.current++;
    setForm(next);
    if (check || busy === "check") send("check", next);
  };
  const base = options && options.bases.find((b) => b.id === form.base);
  const columnsId = "inb-gallery-train-columns";
  const unetRate = options ? options.defaults.learning_rate : null;
  return html`<div class="inb-modal-body inb-gallery-train">
    <${Field} app=${app} name="train_products"><div class="inb-help">${dialog.ids.length} selected product${dialog.ids.length === 1 ? "" : "s"} to learn from.
      The run trains in the background and shows live in the Production panel.</div></${Field}>
    <div class="inb-gallery-train-grid">
      <${Field} app=${app} name="train_name"><label class="inb-label">Name</label>
        <input ref=${first} class="inb-input" aria-label="LoRA name" value=${form.name} onInput=${edit("name")} />
        <div class="inb-help">Order with it as loras="${form.name || "name"}:0.8".</div></${Field}>
      <${Field} app=${app} name="train_base"><label class="inb-label">Base model</label>
        <select class="inb-select" aria-label="Base model" value=${form.base} onChange=${edit("base")}>
          ${((options && options.bases) || []).map((b) => html`<option key=${b.id} value=${b.id} title=${b.description}>${b.id}</option>`)}
          ${form.base && options && !options.bases.some((b) => b.id === form.base) ? html`<option value=${form.base}>${form.base}</option>` : null}</select></${Field}>
      <${Field} app=${app} name="train_steps"><label class="inb-label">Steps</label>
        <input class="inb-input" type="number" min="1" step="1" aria-label="Steps" value=${form.steps} onInput=${edit("steps")} /></${Field}>
      <${Field} app=${app} name="train_rank"><label class="inb-label">Rank</label>
        <input class="inb-input" type="number" min="1" step="1" aria-label="Rank" value=${form.rank} onInput=${edit("rank")} /></${Field}>
      <${Field} app=${app} name="train_captions"><label class="inb-label">Captions from</label>
        <input class="inb-input" aria-label="Captions from" list=${columnsId} value=${form.captions} onInput=${edit("captions")} />
        <datalist id=${columnsId}>${((options && options.columns) || []).map((c) => html`<option key=${c} value=${c}></option>`)}</datalist>
        <div class="inb-help">"prompt" (each product's own), or another gallery column.</div></${Field}>
      <${Field} app=${app} name="train_resolution"><label class="inb-label">Resolution</label>
        <input class="inb-input" type="number" min="8" step="8" aria-label="Resolution" placeholder=${base ? String(base.resolution) : ""}
          value=${form.resolution} onInput=${edit("resolution")} />
        <div class="inb-help">Pixels a side${base ? `; empty: ${base.resolution}, the base model's` : ""}.</div></${Field}>
    </div>
    <${Field} app=${app} name="train_aspect" cls="inb-gallery-train-aspect">
      <div class="inb-label" id="inb-gallery-train-aspect">Aspect</div>
      <div role="radiogroup" aria-labelledby="inb-gallery-train-aspect" class="inb-gallery-train-choices">
        ${TRAIN_ASPECTS.map((a) => html`<label key=${a.value} class=${cx("inb-gallery-train-choice", form.aspect === a.value && "inb-gallery-active")}>
          <input type="radio" name="inb-gallery-train-aspect" value=${a.value} checked=${form.aspect === a.value}
            aria-label=${a.label} aria-describedby=${`inb-gallery-train-aspect-${a.value}`} onChange=${() => chooseAspect(a.value)} />
          <span><span class="inb-gallery-train-choice-label">${a.label}</span>
            <span class="inb-help" id=${`inb-gallery-train-aspect-${a.value}`}>${a.hint}</span></span></label>`)}
      </div></${Field}>
    <${Field} app=${app} name="train_text_encoder" cls="inb-gallery-train-tenc">
      <label class="inb-gallery-train-check"><input type="checkbox" checked=${form.tenc}
        onChange=${(e) => { const v = e.currentTarget.checked; setForm((f) => ({ ...f, tenc: v }));
          actions.clearFields(["train_text_encoder", "train_text_encoder_learning_rate"]); }} />
        <span>Also train the text encoder</span></label>
      <div class="inb-help">A LoRA on the text encoder too, so the words of the captions learn the style; slower (captions are encoded at every step).</div>
    </${Field}>
    ${form.tenc ? html`<${Field} app=${app} name="train_text_encoder_learning_rate" cls="inb-gallery-train-tenc-rate">
      <label class="inb-label">Text encoder learning rate</label>
      <input class="inb-input" inputmode="decimal" aria-label="Text encoder learning rate" placeholder=${unetRate !== null ? String(unetRate) : ""}
        value=${form.tencRate} onInput=${(e) => { const v = e.currentTarget.value; setForm((f) => ({ ...f, tencRate: v })); }} />
      <div class="inb-help">e.g. 5e-5; empty: the UNet's${unetRate !== null ? ` (${unetRate})` : ""}.</div></${Field}>` : null}
    ${check ? html`<div class="inb-gallery-train-preview" aria-label="Captions preview">
      <div class="inb-label">${trainPreviewText(check, form.captions)}</div>
      <table class="inb-kv"><tbody>${check.dataset.map((r) => html`<tr key=${r.product_id}>
        <th class="inb-mono" title=${r.product_id}>…${r.product_id.slice(-6)}<div class="inb-faint inb-gallery-train-size">${trainSizeText(r)}</div></th>
        <td>${r.caption}</td></tr>`)}</tbody></table></div>` : null}
    <${Field} app=${app} name="train"><div class="inb-gallery-actions">
      <button class="inb-btn" disabled=${!!busy || !options} onClick=${() => send("check")}>${busy === "check" ? "Checking…" : "Check captions"}</button>
      <button class="inb-btn inb-btn-primary" disabled=${!!busy || !options} onClick=${() => send("train")}>${busy === "train" ? "Starting…" : "Start training"}</button>
    </div></${Field}>
  </div>`;
}

const TITLE = { upscale: (n) => `Upscale ${n} product${n === 1 ? "" : "s"}`, train: (n) => `Train a LoRA on ${n} product${n === 1 ? "" : "s"}` };

/** The dialog the store's `dialog` names (Upscale or Train LoRA), over the grid. */
export function JobDialog({ app }) {
  const dialog = useStore(app.store, (s) => s.dialog);
  const box = useRef(null);
  useEffect(() => { if (dialog && box.current && !box.current.contains(box.current.getRootNode().activeElement)) box.current.focus(); }, [dialog && dialog.kind]);
  if (!dialog) return null;
  const close = () => app.actions.closeDialog();
  return html`<div class="inb-modal-backdrop inb-gallery-backdrop" onPointerDown=${(e) => { if (e.target === e.currentTarget) close(); }}>
    <div ref=${box} class="inb-modal inb-gallery-job" role="dialog" aria-modal="true" aria-label=${dialog.kind === "train" ? "Train LoRA" : "Upscale"} tabindex="-1"
      onKeyDown=${(e) => { if (e.key === "Escape") { e.stopPropagation(); close(); } }}>
      <div class="inb-modal-head"><strong>${TITLE[dialog.kind](dialog.ids.length)}</strong><span class="inb-gallery-grow"></span>
        <button class="inb-btn inb-btn-icon" title="Close (Esc)" aria-label="Close" onClick=${close}>×</button></div>
      ${dialog.kind === "train" ? html`<${TrainDialog} app=${app} dialog=${dialog} />` : html`<${UpscaleDialog} app=${app} dialog=${dialog} />`}
    </div></div>`;
}
