// What the Production and Projects panels ask again when the kernel answers after a busy spell
// (actions.askAgain(), called through the panel's `reconnected()` by common.js), run by node: a
// first request that met the busy kernel is asked again and the panel loads; what loaded is not
// asked again. Run by tests/ui/test_js.py.
import assert from "node:assert/strict";

const here = new URL(".", import.meta.url);
const load = (path) => import(new URL(`../../../imagen_nb/ui/static/${path}`, here));

// A plain store (lib/store.js imports preact for its hook; the actions need only get and set).
function createStore(initial) {
  let state = initial;
  return { get: () => state, set(patch) { const next = typeof patch === "function" ? patch(state) : patch; if (next) state = { ...state, ...next }; } };
}

/** A kernel that times out every request while `busy`, else answers from `answers`; it logs what was asked. */
function kernel(answers) {
  const k = { busy: true, asked: [] };
  k.call = (method, args = {}) => {
    k.asked.push(method);
    if (k.busy) {
      const err = new Error("The kernel did not answer in 30 s: it is busy running a cell");
      err.info = { type: "KernelDisconnected", message: err.message, field: null, column: null };
      return Promise.reject(err);
    }
    return Promise.resolve({ result: answers[method](args), buffers: [] });
  };
  return k;
}
const quiet = { toast() {}, error() {}, blobUrl: () => "blob:x", release() {}, copy: async () => {},
  activeElement: () => null, scrollTo() {}, focusCard() {} };

// Production: the orders, an open grid and an open run page that met the busy kernel come back.
{
  const state = await load("production/state.js");
  const { createActions } = await load("production/actions.js");
  const order = { id: "o1", status: "complete", total: 4, progress: 1, started: 1, finished: 2, model: "instant:swatch",
    counts: { queued: 0, running: 0, complete: 4, failed: 0, cancelled: 0 } };
  const layout = { title: "order o1", axes: { x: { name: "seed", labels: ["1", "2"] }, y: null, z: null }, choices: ["seed"],
    fixed: {}, cells: [], total: 2, shown: 2 };
  const k = kernel({
    init: () => ({ orders: [order], has_more: false, active: 0, paused: null, now: 100, cluster: null, training: [] }),
    refinements: () => ({ refinements: [] }),
    grid: () => layout,
    training_page: () => ({ run: { id: "r1" }, config: {}, curve: [], steps: 10, checkpoints: [], samples: [], lora: null }),
  });
  const store = createStore(state.initialState());
  const actions = createActions({ ...quiet, call: k.call }, store);
  await actions.init();
  await actions.openGrid("o1");
  await actions.openRun("r1");
  assert.match(store.get().loadError, /did not answer/);
  assert.equal(store.get().loaded, false);
  assert.match(store.get().grid.error, /did not answer/);
  assert.match(store.get().runPage.error, /did not answer/);

  k.busy = false;
  await actions.askAgain();
  await new Promise((r) => setTimeout(r, 0));
  const s = store.get();
  assert.equal(s.loadError, null);
  assert.equal(s.loaded, true);
  assert.deepEqual(s.orderIds, ["o1"]);
  assert.equal(s.grid.error, null);
  assert.equal(s.grid.layout.title, "order o1");
  assert.equal(s.runPage.error, null);
  assert.equal(s.runPage.data.run.id, "r1");

  // Everything loaded: another reconnect asks nothing.
  k.asked.length = 0;
  assert.equal(actions.askAgain(), null);
  assert.deepEqual(k.asked, []);
  // A grid whose axis choice was refused keeps its layout: not asked again either.
  store.set((st) => ({ grid: { ...st.grid, error: "no axis 'nope'" } }));
  actions.askAgain();
  assert.deepEqual(k.asked, []);
  actions.destroy();
}

// Projects: the cards that met the busy kernel come back; loaded cards are not asked again.
{
  const state = await load("projects/state.js");
  const { createActions } = await load("projects/actions.js");
  const card = { id: "p1", name: "Cards", description: "", archived: false, orders: 1, products: 2, last_activity: null, thumb: null };
  const k = kernel({ init: () => ({ projects: [card], all: { products: 2, thumb: null } }) });
  const store = createStore(state.initialState());
  const actions = createActions({ ...quiet, call: k.call }, store);
  await actions.init();
  assert.match(store.get().loadError, /did not answer/);
  k.busy = false;
  await actions.askAgain();
  assert.equal(store.get().loadError, null);
  assert.equal(store.get().loaded, true);
  assert.deepEqual(store.get().ids, ["p1"]);
  k.asked.length = 0;
  assert.equal(actions.askAgain(), null);
  assert.deepEqual(k.asked, []);
}
// Order: the Refine card's judges and rewriters, first asked while the kernel was busy, come back.
{
  const state = await load("order/state.js");
  const { createActions } = await load("order/actions.js");
  const choices = { judges: ["transformers:tiny-judge"], rewriters: ["transformers:tiny-writer"], scorers: [],
    defaults: {}, iterations_max: 10, n_max: 8, key_missing: {}, model_types: {} };
  const k = kernel({ refine_choices: () => choices });
  const store = createStore(state.initialState());
  const actions = createActions({ ...quiet, call: k.call, focus() {} }, store);
  actions.openRefine(true);
  await new Promise((r) => setTimeout(r, 0));
  assert.match(store.get().refine.loadError, /did not answer/);
  k.busy = false;
  k.asked.length = 0;
  actions.askAgain();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(k.asked, ["refine_choices"]);
  assert.deepEqual(store.get().refine.choices.judges, ["transformers:tiny-judge"]);
  k.asked.length = 0;
  actions.askAgain();                                  // loaded: nothing asked again
  assert.deepEqual(k.asked, []);
}
console.log("retry js tests passed");
