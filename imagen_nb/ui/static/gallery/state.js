// The Gallery panel's state and every text derived from it (pure: node can test it).

/**
 * Mirrors imagen_nb/ui/gallery.py:
 * @typedef {{ id: string, kind: string, media_type: string, prompt: string|null, model: string|null,
 *   project: string|null, project_id: string|null, order_id: string|null, rating: number|null,
 *   collections: string[], width: number|null, height: number|null, size: number, created_at: string,
 *   source: string, name: string|null, thumb: number|null, thumb_type: string|null }} Item
 * @typedef {{ text: string, kind: string, project: string, collection: string, model: string,
 *   min_rating: string, since: string, until: string, order_id: string }} Filters  (the controls' values)
 * @typedef {{ key: string|null, label: string, count: number, filter: object, newest: string }} Group
 * @typedef {{ key: string, group: Group|null, base: object, filter: object, ids: string[], next: number|null,
 *   total: number|null, loading: boolean, loaded: boolean, error: string|null, collapsed: boolean }} Section
 * @typedef {{ source: {order_id?: string, ids?: string[]}, x: string|null, y: string|null, z: string|null,
 *   zi: number, loading: boolean, error: string|null, data: object|null }} Compare  (the grid view)
 * @typedef {{ started: boolean, loadError: string|null, filters: Filters, groupBy: string, options: object|null,
 *   pageSize: number, total: number|null, sections: Section[], items: Object<string, Item>,
 *   thumbs: Object<string, string|null>, selection: Set<string>, anchor: string|null, busy: number,
 *   pendingNew: number, fresh: Set<string>, fieldErrors: Object<string, string>, details: object|null,
 *   menu: boolean, dragging: boolean, compare: Compare|null, gridThumbs: Object<string, string> }} State
 */

export const NONE = "__none__";
export const PAGE_SIZE = 60;
/** a grouped section first shows at least this many tiles (two rows of its grid) */
export const FIRST_IN_SECTION = 6;
export const KIND_ICON = { image: "▣", video: "▶", audio: "♪" };
export const KIND_LABEL = { image: "Images", video: "Videos", audio: "Audio" };
export const GROUP_LABEL = { "": "No grouping", project: "Project", collection: "Collection", model: "Model", kind: "Type" };

/** @returns {Filters} */
export function blankFilters() {
  return { text: "", kind: "", project: "", collection: "", model: "", min_rating: "", since: "", until: "", order_id: "",
    score_kind: "clip_score", min_score: "" };
}

/** The scores of the `gallery` view (issue 15): what a page may be sorted by, highest first. */
export const SCORE_LABEL = { clip_score: "CLIP score", aesthetic_score: "Aesthetic score", judge_score: "Judge score" };
export const SORT_LABEL = { "": "Newest first", ...Object.fromEntries(Object.entries(SCORE_LABEL).map(([k, v]) => [k, `Highest ${v.replace(" score", "")} score first`])) };

/** A score as shown: three significant digits ("36.3", "7.25", "0.5"), "–" when there is none. */
export function scoreText(v) {
  if (v === null || v === undefined || Number.isNaN(Number(v))) return "–";
  const n = Number(v);
  return String(Number(n.toPrecision(3)));
}

/** @returns {State} */
export function initialState() {
  return { started: false, loadError: null, filters: blankFilters(), groupBy: "", options: null, pageSize: PAGE_SIZE,
    total: null, sections: [], items: {}, thumbs: {}, selection: new Set(), anchor: null, busy: 0, pendingNew: 0,
    fresh: new Set(), fieldErrors: {}, details: null, menu: false, dragging: false, compare: null, gridThumbs: {},
    sort: "", upscalers: null, dialog: null };
}

/** The filters as the controller's request keys (only those set). */
export function requestFilters(f) {
  const out = {};
  if (f.text.trim()) out.text = f.text.trim();
  if (f.kind) out.kind = f.kind;
  if (f.project === NONE) out.no_project = true; else if (f.project) out.project_id = f.project;
  if (f.collection === NONE) out.no_collection = true; else if (f.collection) out.collection_id = f.collection;
  if (f.model) out.model = f.model;
  if (f.min_rating) out.min_rating = Number(f.min_rating);
  if (f.since) out.since = f.since;
  if (f.until) out.until = f.until;
  if (f.order_id) out.order_id = f.order_id;
  if (f.min_score !== "" && f.min_score !== undefined && f.score_kind && Number.isFinite(Number(f.min_score))) {
    out[`min_${f.score_kind}`] = Number(f.min_score);
  }
  return out;
}

export const filtering = (f) => Object.keys(requestFilters(f)).length > 0;

/** A new section: the flat one (group null) or one per group; `run` tells the results of one
 * reload from the next (a new key: the grid is a new list, not the old one patched). */
export function makeSection(group, base, run = 0) {
  return { key: `${group ? `g:${group.key}` : "flat"}:${run}`, group, base, filter: group ? group.filter : {}, ids: [], next: 0,
    total: group ? group.count : null, loading: false, loaded: false, error: null, collapsed: false };
}

/** The count chip: "…", "8 products", "3 of 8". */
export function countText(s) {
  const all = s.options ? s.options.total : null;
  if (s.total === null || s.total === undefined) return "…";
  if (filtering(s.filters) && all !== null && all !== s.total) return `${s.total.toLocaleString()} of ${all.toLocaleString()}`;
  return `${s.total.toLocaleString()} product${s.total === 1 ? "" : "s"}`;
}

/** The status line under the header, derived from the state (never left over). */
export function statusText(s) {
  if (s.loadError) return "Could not open the gallery";
  if (!s.started) return "Loading…";
  if (s.compare) {
    const c = s.compare;
    if (c.loading) return "Laying out the grid…";
    if (c.error || !c.data) return "";
    const n = c.data.cells.length;
    return `Grid view · ${n.toLocaleString()} cell${n === 1 ? "" : "s"} · ${c.data.title}`;
  }
  const parts = [];
  if (s.busy > 0) parts.push("Loading…");
  const flat = flatSection(s);
  if (flat && flat.total) {
    parts.push(`${SORT_LABEL[s.sort || ""]} · ${flat.next === null ? `all ${flat.total.toLocaleString()}` : `${flat.ids.length.toLocaleString()} of ${flat.total.toLocaleString()}`} loaded`);
  } else if (s.groupBy && s.sections.length) {
    parts.push(`${s.sections.length} group${s.sections.length === 1 ? "" : "s"} by ${GROUP_LABEL[s.groupBy].toLowerCase()}`);
  }
  if (s.selection.size) parts.push(`${s.selection.size} selected`);
  if (s.pendingNew) parts.push(`${s.pendingNew} new`);
  return parts.join(" · ");
}

/** The flat section when the grid is not grouped. */
export function flatSection(s) {
  return !s.groupBy && s.sections.length === 1 && !s.sections[0].group ? s.sections[0] : null;
}

/** A section's footer text ("12 of 150", "All 150 shown", "Loading…"). */
export function footText(sec) {
  if (!sec.total) return "";
  if (sec.loading) return "Loading…";
  return sec.next === null ? `All ${sec.total.toLocaleString()} shown` : `${sec.ids.length.toLocaleString()} of ${sec.total.toLocaleString()}`;
}

/** Every product id shown, in order (sections in order; collapsed ones too: they are loaded). */
export function orderedIds(s) {
  const seen = new Set();
  for (const sec of s.sections) for (const id of sec.ids) seen.add(id);
  return [...seen];
}

// Items are kept newest first (created_at, then id, descending): where a restored item goes.
// ISO times from Python drop ".000000" when the microseconds are zero: pad them to compare as text.
const timeKey = (iso) => (iso || "").replace(/(T\d{2}:\d{2}:\d{2})(?!\.)/, "$1.000000");
/** Whether item a sorts before item b (newer). */
export function before(a, b) {
  const ta = timeKey(a.created_at);
  const tb = timeKey(b.created_at);
  return ta > tb || (ta === tb && a.id > b.id);
}

/** `sec` with `id` put back in its place (by time); a product of a page not loaded yet only moves `next`. */
export function insertSorted(sec, id, items) {
  if (sec.ids.includes(id)) return sec;
  const item = items[id];
  let index = sec.ids.findIndex((other) => items[other] && before(item, items[other]));
  const next = sec.next === null ? null : sec.next + 1;
  if (index < 0) {
    if (sec.next !== null) return { ...sec, next };
    index = sec.ids.length;
  }
  const ids = [...sec.ids];
  ids.splice(index, 0, id);
  return { ...sec, ids, next };
}

export function statusClass(status) {
  return { fulfilled: "complete", complete: "complete", failed: "failed", cancelled: "cancelled", generating: "running",
    underway: "running", processing: "running", missing: "cancelled" }[status] || "queued";
}

/** What a toast says after an import of several requests. */
export function importSummary(done, skipped) {
  const bits = [`Imported ${done.imported === 1 ? "1 image" : `${done.imported} images`}`];
  if (done.imported) bits.push(`${done.withParams} with parameters`);
  if (done.refused.length) bits.push(`refused ${done.refused.length}: ${done.refused.slice(0, 3).map((r) => r.message).join("; ")}`);
  if (skipped) bits.push(`${skipped} other ${skipped === 1 ? "file" : "files"} left out`);
  return bits.join(" · ");
}

/** The message after collecting products. */
export function collectMessage(result, n) {
  const what = n === 1 ? "1 product" : `${n} products`;
  if (result.created) return `Created “${result.collection.name}” with ${what}`;
  if (result.added) return `Added ${result.added === n ? what : `${result.added} of ${what}`} to “${result.collection.name}”`;
  return `Already in “${result.collection.name}”`;
}

/** The grid view's rows: for each y, for each x, the cell (or null where nothing was made). */
export function gridRows(data, zi = 0) {
  const nx = data.axes.x ? data.axes.x.labels.length : 1;
  const ny = data.axes.y ? data.axes.y.labels.length : 1;
  const at = new Map();
  for (const c of data.cells) if (c.z === zi) at.set(`${c.y}:${c.x}`, c);
  return Array.from({ length: ny }, (_, yi) => Array.from({ length: nx }, (_, xi) => at.get(`${yi}:${xi}`) || null));
}

/** The products of the grid view in reading order (the details view steps through them). */
export function gridIds(data, zi = 0) {
  return gridRows(data, zi).flat().filter((c) => c && c.product_id).map((c) => c.product_id);
}

/** The page request's sort ("newest" or a score column). */
export const requestSort = (sort) => sort || "newest";

/** "Refined from …": where the product stands in its refinement's chain. `lineage` is the details
 * reply's (rounds in order); the round that made or judged this product is marked `here`. */
export function lineageSteps(lineage, id) {
  if (!lineage || !lineage.rounds || !lineage.rounds.length) return [];
  const n = lineage.rounds.length;
  return lineage.rounds.map((r) => ({ ...r, here: r.current || r.product_id === id,
    label: `Round ${r.round}${n > 1 ? ` of ${n}` : ""}${r.score !== null && r.score !== undefined ? ` · score ${scoreText(r.score)}` : ""}` }));
}

/** The heading of the lineage block: "Refined from round 1" for a later round, else what it led to. */
export function lineageTitle(lineage, id) {
  const steps = lineageSteps(lineage, id);
  const at = steps.findIndex((r) => r.here);
  if (at > 0) return `Refined from round ${steps[at - 1].round}`;
  if (at === 0 && steps.length > 1) return `Refined into ${steps.length - 1} more round${steps.length > 2 ? "s" : ""}`;
  return "From a refinement";
}

/** An upscaler's menu entry: "tiny-esrgan · ×4 · local (default)". */
export function upscalerLabel(m) {
  return `${m.id} · ×${m.upscale_factor}${m.local ? " · local" : " · remote"}${m.default ? " (default)" : ""}`;
}

/** The scales an upscaler offers (its spec's choices within minimum..maximum), and the one to start with. */
export function scaleChoices(m, wanted = null) {
  if (!m) return { choices: [], value: null };
  const sc = m.scale || { choices: [2], default: 2, minimum: 1, maximum: m.upscale_factor || 4 };
  const choices = sc.choices.filter((v) => v >= sc.minimum && v <= sc.maximum);
  const value = wanted !== null && choices.includes(Number(wanted)) ? Number(wanted) : sc.default;
  return { choices, value };
}

/** What the toast says after an Upscale order. */
export function upscaleMessage(result) {
  const n = result.generations;
  return `Ordered ${n === 1 ? "an upscale" : `${n} upscales`} ×${result.scale} with ${result.model}`;
}

/** The training preview's line: "4 images · captions from prompt · buckets: 192×64 ×3, 128×128 ×1"
 * (the sizes the shown images train at, most common first; "cropped to 64×64" when all are one square). */
export function trainPreviewText(check, captions) {
  if (!check) return "";
  const shown = check.shown < check.count ? ` (first ${check.shown} shown)` : "";
  const sizes = trainSizes(check.dataset || []);
  let size = "";
  if (check.aspect === "bucket" && sizes.length) size = ` · buckets: ${sizes.map(([s, n]) => `${s} ×${n}`).join(", ")}`;
  else if (sizes.length) size = ` · cropped to ${sizes.map(([s]) => s).join(", ")}`;
  return `${check.count} image${check.count === 1 ? "" : "s"} · captions from ${captions}${size}${shown}`;
}

/** [["192×64", 3], ["128×128", 1]]: the target sizes of preview rows with their counts, most common first. */
export function trainSizes(rows) {
  const counts = new Map();
  for (const r of rows) {
    if (!r.target_width || !r.target_height) continue;
    const key = `${r.target_width}×${r.target_height}`;
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/** A preview row's sizes: "128×64 → 192×64" (its own, then the one it trains at), or either alone. */
export function trainSizeText(row) {
  const own = row.width && row.height ? `${row.width}×${row.height}` : "";
  const target = row.target_width && row.target_height ? `${row.target_width}×${row.target_height}` : "";
  if (own && target) return own === target ? own : `${own} → ${target}`;
  return own || target;
}

/** The Train LoRA dialog's Aspect choices (TrainingConfig.aspect) and the line that says what each does. */
export const TRAIN_ASPECTS = [
  { value: "crop", label: "Crop to square", hint: "Shorter side scaled to the resolution, the centre square kept: wide or tall images lose their edges." },
  { value: "bucket", label: "Buckets by aspect ratio", hint: "Each image trains at the bucket nearest its shape (about resolution² pixels, sides multiples of 64): edges kept." },
];

/** A number typed in a box as the request sends it: a Number when it reads as one, null when empty,
 * else the text itself (the Studio's check then names the field and says what it expects). */
export function typedNumber(text) {
  const t = String(text ?? "").trim();
  if (!t) return null;
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : t;
}

/** A whole number typed in a box: a Number when it is one, null when empty, else the text. */
export function typedWhole(text) {
  const t = String(text ?? "").trim();
  if (!t) return null;
  return /^\d+$/.test(t) ? Number(t) : t;
}

/** A LoRA name proposed from the products' project or prompt: letters, digits, '.', '_' or '-'. */
export function suggestLoraName(items) {
  const first = items.find((i) => i && (i.project || i.prompt));
  const base = first ? (first.project || first.prompt) : "";
  const slug = base.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z]+/, "").replace(/-+$/, "").slice(0, 40);
  return slug ? `${slug}-lora` : "my-lora";
}
