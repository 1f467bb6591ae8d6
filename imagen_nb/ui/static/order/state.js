// The Order panel's state and every text derived from it (pure: node can test it).

/**
 * Mirrors imagen_nb/ui/order.py (see index.js for the requests):
 * @typedef {{ id: string, provider: string, type: string, family: string, description: string, key_missing: boolean }} ModelRow
 * @typedef {{ name: string, label: string, kind: "prompt"|"text"|"integer"|"number"|"enum"|"boolean"|"image"|"json",
 *             required: boolean, advanced: boolean, description: string, range: string|null, minimum: number|null,
 *             maximum: number|null, step: number|null, choices: string[]|null, default: string|null }} Field
 * @typedef {{ id: string, provider: string, name: string, type: string, family: string, description: string,
 *             title: string, key_missing: string|null, image_to_image: boolean, fields: Field[] }} Form
 * @typedef {{ count: number, images: number, limit: number, rows: Object<string, any>[], columns: string[],
 *             missing: string[], key_missing: string|null, too_large: string|null }} Preview
 * @typedef {{ order_id: string, model: string, count: number, products: number, complete: number, failed: number,
 *             cancelled: number, status: string, error: string|null, placed?: number }} SessionOrder
 * @typedef {{ message: string, column?: number|null, source: "preview"|"action"|"order" }} FieldError
 * @typedef {{ kind: "notice"|"recall"|"refused"|"error", text?: string, field?: string, recall?: object }} Note
 * @typedef {{ loaded: boolean, loadError: string|null, models: ModelRow[]|null, providers: string[], types: string[],
 *             provider: string, type: string, query: string|null, listOpen: boolean, active: number, pendingPick: string|null,
 *             form: Form|null, values: Object<string, string>, errors: Object<string, FieldError>, advancedOpen: boolean,
 *             projects: {id: string, name: string}[], projectId: string, presets: object[], tokens: {name: string, values: string[]}[],
 *             limit: number, preview: Preview|null, previewError: object|null, stale: boolean, placing: boolean,
 *             lastOrder: SessionOrder|null, cleared: Object<string, string>|null, note: Note|null,
 *             strip: object[], thumbs: Object<string, string>, shown: object|null, follow: boolean,
 *             editingToken: string|null, picker: string|null,
 *             table: Table|null, sets: SetRow[], tableBusy: boolean }} State
 * @typedef {{ name: string, source: "file"|"set"|"python", set: string|null, count: number, columns: string[],
 *             head: Object<string, any>[] }} Table
 * @typedef {{ name: string, rows: number, columns: string, description: string, model: string|null, example: boolean }} SetRow
 */

/** Fields whose value is cleared after an order (every other field stays for the next one). */
export const CLEAR_AFTER_ORDER = ["prompt"];
/** Products the session strip keeps. */
export const STRIP_MAX = 60;
/** An unescaped "[" starts SmartParameter syntax. */
export const SMART = /(^|[^\\])\[/;
export const FINISHED = new Set(["fulfilled", "failed", "cancelled"]);

/** @returns {State} */
export function initialState() {
  return {
    loaded: false, loadError: null, models: null, providers: [], types: [], provider: "", type: "",
    query: null, listOpen: false, active: 0, pendingPick: null,
    form: null, values: {}, errors: {}, advancedOpen: false,
    projects: [], projectId: "", presets: [], tokens: [], limit: 1000,
    preview: null, previewError: null, stale: false, placing: false,
    lastOrder: null, cleared: null, note: null,
    strip: [], thumbs: {}, shown: null, selected: null, follow: true,
    editingToken: null, picker: null,
    table: null, sets: [], tableBusy: false,
    refine: initialRefine(),
    capability: "", civitai: initialCivitai(), lorasVersion: 0,
  };
}

/** The civitai dialog's part of the store: closed, nothing searched yet. */
export function initialCivitai() {
  return { open: false, state: null, query: "", type: "", base: "", results: null, searching: false,
    ref: "", info: null, resolving: false, name: "", forModel: "", imports: [] };
}

/** The Refine card's own part of the store: closed, its choices not asked for yet. */
export function initialRefine() {
  return { open: false, choices: null, loadError: null, busy: false, last: null,
    values: { judge: "", rewriter: "", scorer: "", iterations: "", n: "", stop_at: "", goal: "" } };
}

const fmtN = (n) => Number(n).toLocaleString("en-US");
/** "1 generation", "1,000 generations" (en-US digits whatever the browser's locale). */
export const plural = (n, word) => `${fmtN(n)} ${word}${n === 1 ? "" : "s"}`;

/** A value cut for a table cell or a summary. */
export function short(v, n = 60) {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s === undefined ? "" : (s.length > n ? `${s.slice(0, n - 1)}…` : s);
}

/** The models the search shows: provider and type filters, then every word of the query.
 *  The form's own id as the query (the input at rest) filters nothing. */
export function filterModels(s) {
  if (!s.models) return [];
  const text = (s.query ?? "").trim();
  const exact = s.query === null || (s.form && text === s.form.id);
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  const can = CAPABILITIES[s.capability || ""];
  return s.models.filter((m) => (!s.provider || m.provider === s.provider)
    && (!s.type || m.type === s.type) && (!can || can.test(m))
    && (exact || words.every((w) => `${m.id} ${m.family} ${m.type} ${m.description}`.toLowerCase().includes(w))));
}

/** The form's fields in the order they show: prompts, images, the short ones (a grid), long
 *  structured ones; advanced ones apart. The spec's order holds within each group. */
export function fieldGroups(form) {
  const groups = { prompt: [], image: [], grid: [], json: [], advanced: [] };
  for (const f of (form ? form.fields : [])) {
    if (f.advanced) groups.advanced.push(f);
    else (groups[f.kind] || groups.grid).push(f);
  }
  return groups;
}

/** A field's hover text: its friendly label, the parameter name studio.order() takes, range, help. */
export function hoverText(f) {
  return [`${f.label} — ${f.name}=`, f.range, f.description].filter(Boolean).join("\n");
}

/** The form's non-blank values, as sent to the kernel. */
export function currentValues(s) {
  const out = {};
  for (const f of (s.form ? s.form.fields : [])) {
    const v = s.values[f.name];
    if (v !== undefined && v !== "") out[f.name] = v;
  }
  return out;
}

/** An error message without the "parameter 'x', column 3: " the field already says. */
export function fieldMessage(message) {
  return String(message || "").replace(/^parameter '[^']*'(, column \d+)?: /, "");
}

/** The label a field goes by in notes ("see Prompt"). */
export function labelOf(s, name) {
  if (name === "model") return "the model";
  if (name === "project") return "the project";
  if (REFINE_LABELS[name]) return REFINE_LABELS[name];
  const f = s.form && s.form.fields.find((x) => x.name === name);
  return f ? f.label : name;
}

/** The Order button's label. */
export function orderLabel(s) {
  const p = s.preview;
  return p && !p.too_large && !s.previewError ? `Order ${plural(p.count, "generation")}` : "Order";
}

/** Seconds left for the latest order, from its pace since it was placed; null before the first finishes. */
export function orderEta(o, now) {
  if (!o || FINISHED.has(o.status) || !o.placed) return null;
  const done = o.complete + o.failed + o.cancelled;
  const left = o.count - done;
  if (!done || left <= 0) return null;
  return ((now - o.placed) / done) * left;
}

/** "about 12 s left" / "about 2 min left" (rounded up, never "0 s"). */
export function etaText(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return `about ${Math.max(1, Math.ceil(seconds))} s left`;
  const m = Math.ceil(seconds / 60);
  return m < 60 ? `about ${m} min left` : `about ${Math.floor(m / 60)} h ${m % 60} min left`;
}

/** The latest order's line: counts that add up to its total, and its state. */
export function orderLine(o) {
  const done = o.complete + o.failed + o.cancelled;
  const finished = FINISHED.has(o.status);
  return {
    finished,
    mark: finished ? (o.status === "fulfilled" ? "✓" : "!") : "●",
    ok: !finished || o.status === "fulfilled",
    text: `${plural(o.count, "generation")} `,
    state: finished ? `· ${o.status}` : `· ${fmtN(done)}/${fmtN(o.count)} done`,
    failed: o.failed ? ` · ${fmtN(o.failed)} failed` : "",
  };
}

/** The recall note: what a re-order filled. */
export function recallText(r) {
  return r.use === "seed" ? "Seed filled from the product."
    : r.use === "prompt" ? "Prompt filled from the product."
      : r.scope === "order" ? "Filled from the product's whole order: change what you like and order again."
        : r.imported ? `Filled from the imported product's parameters, mapped onto ${r.model}.`
          : "Filled from this product: one generation with its seed.";
}

/** A product's parameter as form text. */
export function asText(v) {
  return typeof v === "string" ? v : typeof v === "boolean" ? String(v) : JSON.stringify(v);
}

/** The preview table's columns: those that vary and that the rows hold; none for one plain generation. */
export function previewColumns(s) {
  const p = s.preview;
  if (!p || !p.rows.length) return [];
  const cols = p.columns.filter((c) => p.rows.some((r) => c in r));
  const values = currentValues(s);
  return p.count > 1 || cols.some((c) => SMART.test(String(values[c] || ""))) ? cols : [];
}

/** A number field's value one step up or down (Shift: ×10), clamped to its range; null when the
 *  text is not a plain number. */
export function stepValue(f, text, up, big) {
  const raw = (text || "").trim() || (f.default ?? "");
  if (!/^[+-]?\d+(\.\d+)?$/.test(raw)) return null;
  const step = (f.step || (f.kind === "integer" ? 1 : 0.1)) * (big ? 10 : 1);
  let v = Number(raw) + (up ? step : -step);
  if (f.minimum !== null && f.minimum !== undefined) v = Math.max(f.minimum, v);
  if (f.maximum !== null && f.maximum !== undefined) v = Math.min(f.maximum, v);
  if (f.kind === "integer") return String(Math.round(v));
  const decimals = Math.max((String(step).split(".")[1] || "").length, (raw.split(".")[1] || "").length);
  return v.toFixed(decimals);
}

const SIMPLE_LORAS = /^\s*[^,:[\]{}"/\\]+(:\s*-?\d+(\.\d+)?)?(\s*,\s*[^,:[\]{}"/\\]+(:\s*-?\d+(\.\d+)?)?)*\s*$/;

/** LoRA rows from a value: JSON [{name, weight}] or the text form "a:0.6, b"; null when rows
 *  cannot show it (paths, smart syntax). */
export function parseLoras(v) {
  const raw = String(v || "").trim();
  if (!raw) return [];
  try {
    const list = JSON.parse(raw);
    const items = Array.isArray(list) ? list : [list];
    if (items.every((x) => x && typeof x === "object" && typeof x.name === "string" && !("path" in x))) {
      return items.map((x) => ({ name: x.name, weight: x.weight === undefined ? 1 : Number(x.weight) }));
    }
    return null;
  } catch (e) { /* not JSON: maybe the text form */ }
  if (!SIMPLE_LORAS.test(raw)) return null;
  return raw.split(",").map((x) => x.trim()).filter(Boolean).map((part) => {
    const i = part.lastIndexOf(":");
    const weighted = i > 0 && /^-?\d+(\.\d+)?$/.test(part.slice(i + 1).trim());
    return weighted ? { name: part.slice(0, i).trim(), weight: Number(part.slice(i + 1)) } : { name: part, weight: 1 };
  });
}

/** LoRA rows as the value the form sends: JSON [{name, weight}], "" for none (rows without a name are left out). */
export function lorasText(rows) {
  const list = rows.filter((r) => r.name).map((r) => ({ name: r.name, weight: Number(r.weight === "" ? 1 : r.weight) }));
  return list.length ? JSON.stringify(list) : "";
}

/** The {column} placeholders the form's values use ({{ and }} are literal braces), in order, once each. */
export function placeholders(s) {
  const seen = new Set();
  for (const v of Object.values(currentValues(s))) {
    const text = String(v).replace(/\{\{|\}\}/g, "");
    for (const m of text.matchAll(/\{([^{}]+)\}/g)) seen.add(m[1].trim());
  }
  return [...seen];
}

/** A field's text cut at its {column} placeholders, for showing them highlighted while a table is
 * attached: [{text, kind: "text" | "column" | "unknown"}] ({{ and }} are literal braces, kept as text). */
export function placeholderSpans(text, columns) {
  const known = new Set(columns || []);
  const out = [];
  const push = (t, kind) => {
    if (!t) return;
    const last = out[out.length - 1];
    if (last && last.kind === "text" && kind === "text") last.text += t;
    else out.push({ text: t, kind });
  };
  const re = /\{\{|\}\}|\{([^{}]+)\}/g;
  let at = 0;
  for (const m of String(text).matchAll(re)) {
    push(String(text).slice(at, m.index), "text");
    if (m[1] === undefined) push(m[0], "text");
    else push(m[0], known.has(m[1].trim()) ? "column" : "unknown");
    at = m.index + m[0].length;
  }
  push(String(text).slice(at), "text");
  return out;
}

/** The table's row and column a RowsError named, from any field's error: {row, column} or null. */
export function tableFault(s) {
  for (const e of Object.values(s.errors)) if (e && (e.row || e.columnName)) return { row: e.row || null, column: e.columnName || null };
  const p = s.previewError;
  return p && (p.row || p.column_name) ? { row: p.row || null, column: p.column_name || null } : null;
}

// Refine (issue 15): studio.refine from the form.

/** The Refine card's fields as the page names them (errors come back at these). */
export const REFINE_LABELS = {
  refine_judge: "Judge", refine_rewriter: "Rewriter", refine_scorer: "Scorer", refine_iterations: "Rounds",
  refine_n: "Images per round", refine_stop_at: "Stop at", refine_goal: "Goal",
};
/** Image model types a refinement can order from. */
export const REFINE_TYPES = new Set(["text-to-image", "image-to-image"]);

/** The card's values with the choices' defaults where a field is blank (what the kernel will use). */
export function refineValues(r) {
  const d = (r.choices && r.choices.defaults) || {};
  const out = {};
  for (const [k, v] of Object.entries(r.values)) {
    const text = String(v ?? "").trim();
    out[k] = text !== "" ? text : (d[k] !== undefined && d[k] !== null ? String(d[k]) : "");
  }
  return out;
}

/** The card's line: how much a start runs, per prompt. */
export function refineSummary(r) {
  const v = refineValues(r);
  const rounds = Number(v.iterations) || 0;
  const n = Number(v.n) || 0;
  const parts = [`Up to ${plural(rounds, "round")} × ${plural(n, "image")} per prompt`];
  if (v.judge) parts.push(`judged by ${v.judge}${v.scorer && v.scorer !== "judge" ? `, scored by ${v.scorer}` : ""}`);
  if (v.rewriter) parts.push(`rewritten by ${v.rewriter}`);
  parts.push(v.stop_at !== "" ? `stops early at a score ≥ ${v.stop_at}` : "runs every round");
  return parts.join(" · ");
}

/** Why Start refining cannot be pressed now, or null. */
export function refineBlocked(s) {
  const r = s.refine;
  if (!s.form) return "Choose a model first.";
  if (!REFINE_TYPES.has(s.form.type)) return `${s.form.id} makes no images from a prompt: refining needs a text-to-image model.`;
  if (!r.choices) return r.loadError ? `Cannot list judges: ${r.loadError}` : "Loading judges and rewriters…";
  if (!r.choices.judges.length) return "No image-to-text model (judge) is listed.";
  if (!r.choices.rewriters.length) return "No text-to-text model (rewriter) is listed.";
  if (!String(s.values.prompt || "").trim()) return "Write the prompt to refine.";
  return null;
}

/** What the note says once a refinement started (and where it shows). */
export function refineStartedText(result) {
  const k = result.prompts.length;
  const what = k === 1 ? `“${short(result.prompts[0], 48)}”` : plural(k, "prompt");
  return `Refining ${what}, up to ${plural(result.iterations, "round")}${k === 1 ? "" : " each"}: `
    + "its rounds show in Production, as one refinement row.";
}

/** A judge's or rewriter's option label: the id, and "needs key" when its provider has none. */
export function refineOption(choices, id) {
  return choices && choices.key_missing && choices.key_missing[id] ? `${id} (needs key)` : id;
}

// The model picker's capability filter (issue 17): studio.models()' capability columns.

/** Capability filters: label and the test on a model row (inputs, outputs, image_to_image,
 *  upscale_factor, loras, hires_fix, max_size). */
export const CAPABILITIES = {
  "": null,
  image_to_image: { label: "Image to image", test: (m) => !!m.image_to_image },
  loras: { label: "Takes LoRAs", test: (m) => !!m.loras },
  hires_fix: { label: "Hires fix", test: (m) => !!m.hires_fix },
  upscale: { label: "Upscales", test: (m) => Number(m.upscale_factor) > 1 },
  text_out: { label: "Writes text", test: (m) => String(m.outputs || "").includes("text") },
  large: { label: "2048 px or more", test: (m) => Number(m.max_size) >= 2048 },
};

/** A model row's capability chips: "img2img", "LoRAs", "×4", "≤ 1024 px". */
export function capabilityChips(m) {
  const out = [];
  if (m.image_to_image) out.push("img2img");
  if (m.loras) out.push("LoRAs");
  if (m.hires_fix) out.push("hires fix");
  if (Number(m.upscale_factor) > 1) out.push(`×${Number(m.upscale_factor)}`);
  if (Number(m.max_size) > 0) out.push(`≤ ${Number(m.max_size)} px`);
  return out;
}

// civitai (issue 17): "Get from civitai…" in the model picker.

/** "12.3 MB" (en-US digits); "size unknown" without one. */
export function sizeText(bytes) {
  if (bytes === null || bytes === undefined) return "size unknown";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = Number(bytes);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** An import's line: "tarotCards_v10.safetensors · 42% of 144.0 MB", "in: tarotCards_v10 (LoRA)", the error. */
export function importLine(j) {
  const file = j.file_name || j.ref;
  if (j.state === "failed") return `${file} · failed: ${j.error || "unknown error"}`;
  if (j.state === "cancelled") return `${file} · cancelled at ${j.total ? `${Math.floor((100 * j.done) / j.total)}%` : sizeText(j.done)}; import it again to resume`;
  if (j.state === "done") return `${file} · in: ${j.result || j.name || ""}${j.kind ? ` (${j.kind === "lora" ? "LoRA" : "model"})` : ""}`;
  if (j.state === "starting" || (!j.done && !j.total)) return `${file} · starting…`;
  if (!j.total) return `${file} · ${sizeText(j.done)} so far`;
  return `${file} · ${Math.floor((100 * j.done) / j.total)}% of ${sizeText(j.total)}`;
}

/** True while an import is checking or downloading (it can be cancelled). */
export function importRunning(j) {
  return j.state === "starting" || j.state === "downloading";
}

/** An import's progress from 0 to 1 (null when its size is unknown). */
export function importFraction(j) {
  if (j.state === "done") return 1;
  return j.total ? Math.min(1, j.done / j.total) : null;
}

/** Why Import cannot be pressed now, or null: no token, nothing resolved, one running. */
export function civitaiBlocked(c) {
  if (c.state && c.state.key_missing) return c.state.key_missing;
  if (!c.info) return "Pick a search result or paste a reference, then check what it downloads.";
  if (!c.info.kind) return `${c.info.model_name} is a ${c.info.model_type}: imagen-nb runs checkpoints and LoRAs.`;
  if (c.imports.some((j) => j.ref === c.info.ref && importRunning(j))) return "Importing…";
  return null;
}

/** What the resolved reference would bring: its parts as lines for the dialog. */
export function resolvedLines(info) {
  const lic = info.licence || {};
  const lines = [
    ["What", `${info.model_name} · ${info.version_name} (${info.kind === "lora" ? "LoRA" : info.kind === "checkpoint" ? "checkpoint" : info.model_type})`],
    ["Base model", `${info.base_model || "unknown"}${info.family ? ` → ${info.family}` : ""}`],
    ["File", `${info.file_name} · ${sizeText(info.size)}`],
    ["AIR", info.air],
  ];
  if ((info.trigger_words || []).length) lines.push(["Trigger words", info.trigger_words.join(", ")]);
  const terms = Object.entries(lic).filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join("/") || "none" : v}`);
  if (terms.length) lines.push(["Licence", terms.join(" · ")]);
  return lines;
}
