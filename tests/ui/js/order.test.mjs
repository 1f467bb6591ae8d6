// The Order panel's store and derived texts (static/order/state.js), run by node: the model
// search while the models load, preview columns, the order line and ETA, number steps, LoRAs.
import assert from "node:assert/strict";

const here = new URL(".", import.meta.url);
const s = await import(new URL("../../../imagen_nb/ui/static/order/state.js", here));

const models = [
  { id: "diffusers:tiny", provider: "diffusers", type: "text-to-image", family: "stable-diffusion-1", description: "Tiny SD" },
  { id: "instant:swatch", provider: "instant", type: "text-to-image", family: "swatch", description: "a tiny swatch" },
  { id: "fal:fal-ai/flux/dev", provider: "fal", type: "text-to-image", family: "flux", description: "FLUX dev" },
];

// The model search: nothing while the models load (the list says "Loading", not "No model matches"),
// every word must match, the provider filter, and the form's own id at rest filters nothing.
{
  const base = s.initialState();
  assert.deepEqual(s.filterModels({ ...base, query: "diffusers:tiny" }), []);
  const st = { ...base, models, form: { id: "instant:swatch" } };
  assert.deepEqual(s.filterModels({ ...st, query: "diffusers:tiny" }).map((m) => m.id), ["diffusers:tiny"]);
  assert.deepEqual(s.filterModels({ ...st, query: "tiny sd" }).map((m) => m.id), ["diffusers:tiny"]);
  assert.equal(s.filterModels({ ...st, query: null }).length, 3);
  assert.equal(s.filterModels({ ...st, query: "instant:swatch" }).length, 3);
  assert.deepEqual(s.filterModels({ ...st, query: null, provider: "fal" }).map((m) => m.id), ["fal:fal-ai/flux/dev"]);
}

// Values sent are the non-blank ones of the form's own fields; labels for notes.
{
  const form = { id: "m", fields: [{ name: "prompt", label: "Prompt", kind: "prompt" }, { name: "seed", label: "Seed", kind: "integer" }] };
  const st = { ...s.initialState(), form, values: { prompt: "a [red,blue] kite", seed: "", stale: "x" } };
  assert.deepEqual(s.currentValues(st), { prompt: "a [red,blue] kite" });
  assert.equal(s.labelOf(st, "seed"), "Seed");
  assert.equal(s.labelOf(st, "model"), "the model");
  assert.equal(s.fieldMessage("parameter 'prompt', column 3: unclosed ["), "unclosed [");
  // The preview table shows the columns that vary; one plain generation shows none.
  const preview = { count: 2, images: 2, limit: 1000, rows: [{ prompt: "a red kite" }, { prompt: "a blue kite" }],
    columns: ["prompt"], missing: [], key_missing: null, too_large: null };
  assert.deepEqual(s.previewColumns({ ...st, preview }), ["prompt"]);
  assert.deepEqual(s.previewColumns({ ...st, values: { prompt: "plain" }, preview: { ...preview, count: 1, rows: [{ prompt: "plain" }] } }), []);
  assert.equal(s.orderLabel({ ...st, preview }), "Order 2 generations");
  assert.equal(s.orderLabel({ ...st, preview: { ...preview, too_large: "too many" } }), "Order");
  assert.equal(s.orderLabel({ ...st, preview, previewError: { message: "x" } }), "Order");
}

// The latest order's line adds up; a cancelled order never reads "done"; the ETA from its pace.
{
  const o = { order_id: "o", model: "m", count: 10, products: 4, complete: 3, failed: 1, cancelled: 0, status: "running", placed: 100 };
  assert.equal(s.orderLine(o).state, "· 4/10 done");
  assert.equal(s.orderLine(o).failed, " · 1 failed");
  assert.equal(s.orderEta(o, 120), 30);            // 20 s for 4, 6 left
  assert.equal(s.etaText(30), "about 30 s left");
  assert.equal(s.etaText(0.2), "about 1 s left");
  assert.equal(s.etaText(125), "about 3 min left");
  assert.equal(s.orderEta({ ...o, complete: 0, failed: 0 }, 120), null);
  const cancelled = { ...o, status: "cancelled", complete: 3, failed: 0, cancelled: 7 };
  assert.equal(s.orderLine(cancelled).state, "· cancelled");
  assert.equal(s.orderEta(cancelled, 120), null);
}

// Number fields step within their range; text that is not a number is left alone.
{
  const steps = { kind: "integer", minimum: 1, maximum: 150, step: null, default: "4" };
  assert.equal(s.stepValue(steps, "", true, false), "5");
  assert.equal(s.stepValue(steps, "149", true, true), "150");
  assert.equal(s.stepValue(steps, "[1..4]", true, false), null);
  assert.equal(s.stepValue({ kind: "number", minimum: 0, maximum: 30, step: 0.5, default: "7.5" }, "", false, false), "7.0");
}

// LoRAs: JSON and the text form become rows; paths and smart syntax need the text form.
{
  assert.deepEqual(s.parseLoras('[{"name":"ink","weight":0.6}]'), [{ name: "ink", weight: 0.6 }]);
  assert.deepEqual(s.parseLoras("ink:0.6, watercolor"), [{ name: "ink", weight: 0.6 }, { name: "watercolor", weight: 1 }]);
  assert.equal(s.parseLoras('[{"path":"/x.safetensors"}]'), null);
  assert.equal(s.parseLoras("[ink,watercolor]"), null);
  assert.equal(s.lorasText([{ name: "ink", weight: "0.6" }, { name: "", weight: 1 }]), '[{"name":"ink","weight":0.6}]');
  assert.equal(s.lorasText([{ name: "", weight: 1 }]), "");
}
// The race behind "No model matches" for diffusers:tiny in the served app: a model typed and
// entered before init answers is picked once the models come, not replaced by the default one.
{
  // lib/store.js's contract (it imports preact for its hook, which node cannot resolve by name).
  const createStore = (initial) => {
    let state = initial;
    return { get: () => state, set(patch) { const next = typeof patch === "function" ? patch(state) : patch; if (next) state = { ...state, ...next }; } };
  };
  const { createActions } = await import(new URL("../../../imagen_nb/ui/static/order/actions.js", here));
  const form = (id) => ({ id, provider: id.split(":")[0], type: "text-to-image", family: "f", description: "", key_missing: null,
    fields: [{ name: "prompt", label: "Prompt", kind: "prompt" }] });
  let answerInit = null;
  const asked = [];
  const call = (method, args) => {
    asked.push([method, args]);
    if (method === "init") return new Promise((resolve) => { answerInit = resolve; });
    if (method === "model") return Promise.resolve({ result: form(args.model_id), buffers: [] });
    if (method === "preview") return Promise.resolve({ result: { count: 1, images: 1, limit: 1000, rows: [], columns: [], missing: [], key_missing: null, too_large: null }, buffers: [] });
    return Promise.resolve({ result: null, buffers: [] });
  };
  const store = createStore(s.initialState());
  const actions = createActions({ call, toast() {}, error(e) { throw e; }, blobUrl: () => "blob:", release() {}, focus() {} }, store);
  const ready = actions.init();
  actions.search("diffusers:tiny");
  assert.equal(store.get().listOpen, true);
  assert.equal(store.get().models, null);          // the list says "Loading models…"
  actions.move(1);
  actions.enter();
  assert.equal(store.get().pendingPick, "diffusers:tiny");
  answerInit({ result: { models, providers: ["diffusers", "fal", "instant"], types: ["text-to-image"], model: "instant:swatch",
    form: form("instant:swatch"), projects: [], presets: [], tokens: [], limit: 1000, session: { products: [], orders: [] }, home: "/h" },
  buffers: [] });
  await ready;
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(store.get().form.id, "diffusers:tiny");
  assert.equal(store.get().pendingPick, null);
  assert.ok(asked.some(([m, a]) => m === "model" && a.model_id === "diffusers:tiny"));
  actions.destroy();
}
// An init that met a busy kernel leaves loadError; asked again (when the kernel answers), it starts.
{
  const createStore = (initial) => {
    let state = initial;
    return { get: () => state, set(patch) { const next = typeof patch === "function" ? patch(state) : patch; if (next) state = { ...state, ...next }; } };
  };
  const { createActions } = await import(new URL("../../../imagen_nb/ui/static/order/actions.js", here));
  let busy = true;
  const form = { id: "instant:swatch", provider: "instant", type: "t", family: "f", description: "", key_missing: null,
    fields: [{ name: "prompt", label: "Prompt", kind: "prompt" }] };
  const call = (method) => {
    if (method === "init" && busy) {
      const err = new Error("The kernel did not answer in 30 s");
      err.info = { type: "KernelDisconnected", message: err.message };
      return Promise.reject(err);
    }
    if (method === "init") {
      return Promise.resolve({ result: { models, providers: [], types: [], model: form.id, form, projects: [], presets: [],
        tokens: [], limit: 1000, sets: [], table: null, session: { products: [], orders: [] }, home: "/h" }, buffers: [] });
    }
    return Promise.resolve({ result: { count: 1, images: 1, limit: 1000, rows: [], columns: [], missing: [], key_missing: null, too_large: null }, buffers: [] });
  };
  const store = createStore(s.initialState());
  const actions = createActions({ call, toast() {}, error(e) { throw e; }, blobUrl: () => "blob:", release() {}, focus() {} }, store);
  const navigated = actions.navigate({ project_id: "" });   // a navigation before init waits for it
  await actions.init();
  assert.match(store.get().loadError, /did not answer/);
  busy = false;
  await actions.init();
  await navigated;
  assert.equal(store.get().loadError, null);
  assert.equal(store.get().form.id, "instant:swatch");
  actions.destroy();
}
console.log("order js tests passed");

// A prompt's {column} placeholders while a table is attached: columns of the table, names it lacks,
// and {{ }} kept as literal text.
{
  const spans = s.placeholderSpans("{value} of {suit}, {{braces}} and {nope}!", ["value", "suit"]);
  assert.deepEqual(spans, [
    { text: "{value}", kind: "column" }, { text: " of ", kind: "text" }, { text: "{suit}", kind: "column" },
    { text: ", {{braces}} and ", kind: "text" }, { text: "{nope}", kind: "unknown" }, { text: "!", kind: "text" },
  ]);
  assert.deepEqual(s.placeholderSpans("no placeholders", ["a"]), [{ text: "no placeholders", kind: "text" }]);
  assert.deepEqual(s.placeholderSpans("{ suit }", ["suit"]), [{ text: "{ suit }", kind: "column" }]);
}
