// Order: image inputs (a product id, a file path or a URL; from the gallery picker, an upload or
// a drop) and the gallery picker dialog.

import { html, cx, useState, useEffect, useRef } from "../lib/view.js";
import { useStore } from "../lib/store.js";

/** A small picture of the value, looked up (debounced) when it changes; uploads show theirs at once. */
function useThumb(app, value) {
  const [thumb, setThumb] = useState({ url: null, title: "" });
  const uploaded = useRef(null);
  useEffect(() => () => { if (thumb.url) INB.release(thumb.url); }, [thumb.url]);
  useEffect(() => {
    const v = value.trim();
    if (!v) { setThumb({ url: null, title: "" }); return undefined; }
    if (uploaded.current && uploaded.current.path === v) { setThumb(uploaded.current); return undefined; }
    let live = true;
    const t = setTimeout(() => {
      app.actions.imageThumb(v).then((r) => { if (live) setThumb(r); else if (r.url) INB.release(r.url); }).catch(() => {});
    }, 350);
    return () => { live = false; clearTimeout(t); };
  }, [value]);
  return [thumb, (t) => { uploaded.current = t; }];
}

/** An image input: the text, its thumbnail, clear, "Gallery…", "Upload…", and drop onto it. */
export function ImageField({ app, f, id, value }) {
  const [thumb, setUploaded] = useThumb(app, value);
  const [busy, setBusy] = useState(false);
  const [over, setOver] = useState(false);
  const file = useRef(null);
  const upload = async (blob, name) => {
    setBusy(true);
    try {
      setUploaded(await app.actions.upload(f.name, blob, name));
    } catch (err) {
      app.actions.failed(err);
    } finally {
      setBusy(false);
    }
  };
  const onDrop = (e) => {
    e.preventDefault();
    setOver(false);
    const dropped = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (dropped) upload(dropped, dropped.name);
  };
  return html`<div class=${cx("inb-order-image", busy && "inb-order-busy", over && "inb-order-drop")}
      onDragOver=${(e) => { e.preventDefault(); setOver(true); }} onDragLeave=${() => setOver(false)} onDrop=${onDrop}>
    <div class=${cx("inb-thumb inb-order-imgthumb", !thumb.url && "inb-order-imgthumb-empty")} title=${thumb.title}>
      ${thumb.url ? html`<img src=${thumb.url} alt="" />` : null}</div>
    <input class="inb-input" id=${id} placeholder="product id, file path or URL — or pick / drop an image" spellcheck="false"
      autocomplete="off" value=${value} onInput=${(e) => app.actions.setValue(f.name, e.target.value)} />
    ${value ? html`<button class="inb-btn inb-btn-icon" type="button" title="Clear" aria-label="Clear the image"
      onClick=${(e) => { app.actions.setValue(f.name, ""); const i = e.currentTarget.parentNode.querySelector("input.inb-input"); if (i) i.focus(); }}>×</button>` : null}
    <button class="inb-btn inb-btn-sm" type="button" onClick=${() => app.actions.openPicker(f.name)}>Gallery…</button>
    <button class="inb-btn inb-btn-sm" type="button" onClick=${() => file.current.click()}>Upload…</button>
    <input type="file" accept="image/*" hidden ref=${file}
      onChange=${(e) => { const x = e.target.files && e.target.files[0]; if (x) upload(x, x.name); e.target.value = ""; }} />
  </div>`;
}

/** Pick an image from the studio's recent products (search, load more); Escape closes. */
export function Picker({ app }) {
  const field = useStore(app.store, (s) => s.picker);
  const [items, setItems] = useState([]);
  const [more, setMore] = useState(false);
  const [text, setText] = useState("");
  const [loaded, setLoaded] = useState(false);
  const seq = useRef(0);
  const search = useRef(null);
  const urls = useRef([]);
  const load = async (reset, q) => {
    const mine = ++seq.current;
    try {
      const r = await app.actions.recent(reset ? 0 : items.length, q);
      if (mine !== seq.current) { r.items.forEach((it) => it.url && INB.release(it.url)); return; }
      urls.current.push(...r.items.map((it) => it.url).filter(Boolean));
      setItems((old) => (reset ? r.items : [...old, ...r.items]));
      setMore(r.more);
      setLoaded(true);
    } catch (err) { app.actions.failed(err); }
  };
  useEffect(() => {
    if (!field) return undefined;
    setItems([]); setText(""); setLoaded(false);
    load(true, "");
    if (search.current) search.current.focus();
    return () => {
      seq.current++;
      urls.current.splice(0).forEach((u) => INB.release(u));
    };
  }, [field]);
  useEffect(() => {
    if (!field) return undefined;
    const t = setTimeout(() => load(true, text), 250);
    return () => clearTimeout(t);
  }, [text]);
  if (!field) return null;
  const close = () => app.actions.closePicker();
  const pick = (it) => { app.actions.setValue(field, it.id); close(); };
  return html`<div class="inb-modal-backdrop" onClick=${(e) => { if (e.target === e.currentTarget) close(); }}
      onKeyDown=${(e) => { if (e.key === "Escape") { e.stopPropagation(); close(); } }}>
    <div class="inb-modal inb-order-picker" role="dialog" aria-label="Pick an image">
      <div class="inb-modal-head"><strong>Pick an image</strong>
        <input class="inb-input" ref=${search} placeholder="Search prompts…" aria-label="Search prompts" value=${text}
          onInput=${(e) => setText(e.target.value)} />
        <button class="inb-btn inb-btn-icon" type="button" title="Close" aria-label="Close" onClick=${close}>×</button></div>
      <div class="inb-modal-body">
        <div class="inb-order-pick-grid">
          ${items.map((it) => html`<button key=${it.id} class="inb-order-pick" type="button" onClick=${() => pick(it)}
              title=${`${it.prompt || it.id}\n${it.width}×${it.height} · ${it.model || "imported"}`}>
            <div class="inb-thumb">${it.url ? html`<img src=${it.url} alt=${it.prompt || ""} />` : null}</div></button>`)}
          ${loaded && !items.length ? html`<div class="inb-empty"><strong>${text ? "No image matches" : "No images yet"}</strong>
            ${text ? "Try other words." : "Order some, or import files with studio.import_products(…)."}</div>` : null}
        </div>
        <div class="inb-order-pick-more"><button class="inb-btn" type="button" hidden=${!more} onClick=${() => load(false, text)}>Load more</button></div>
      </div>
    </div>
  </div>`;
}
