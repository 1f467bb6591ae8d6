// The Production panel's training rows (issue 16), run by node: the sparkline path, the figures
// a row shows, and the order of runs (live ones first). Run by tests/ui/test_js.py.
import assert from "node:assert/strict";

const here = new URL(".", import.meta.url);
const state = await import(new URL("../../../imagen_nb/ui/static/production/state.js", here));

// The sparkline: the highest loss at the top, the lowest at the bottom, one point per step.
{
  assert.equal(state.sparkPath([], 100, 20), "");
  assert.equal(state.sparkPath([0.5], 100, 20), "");  // one point draws no line
  assert.equal(state.sparkPath([1, 0.5, 0], 100, 20), "M0.0,1.0L50.0,10.0L100.0,19.0");
  assert.equal(state.sparkPath([0.3, 0.3], 10, 10), "M0.0,9.0L10.0,9.0");  // flat: no division by zero
  assert.equal(state.sparkPath([1, NaN, 0], 10, 10), "M0.0,1.0L10.0,9.0");  // a NaN loss is skipped
}

// A live run shows step, loss, lr, images/s and time left; a finished one step and loss only.
{
  const live = { status: "training", step: 30, total: 120, loss: 0.123456, lr: 0.0001, images_per_second: 12.34, eta: 90 };
  const fig = state.runFigures(live);
  assert.deepEqual(fig.parts.map((p) => p.text), ["step 30 / 120", "loss 0.1235", "lr 1.0e-4", "12.3 img/s", "about 1 min 30 s left"]);
  assert.equal(fig.pct, "25.000%");
  assert.equal(fig.look, "running");
  const done = state.runFigures({ ...live, status: "completed", step: 120 });
  assert.deepEqual(done.parts.map((p) => p.text), ["step 120 / 120", "loss 0.1235"]);
  assert.equal(state.runFigures({ ...live, status: "interrupted", loss: null }).parts.length, 1);
}

// Runs merge by id, live ones first, then the newest.
{
  const s = state.initialState();
  const a = { id: "01a", status: "completed" };
  const b = { id: "01b", status: "training" };
  const c = { id: "01c", status: "failed" };
  const merged = state.withRuns(s, [a, b, c]);
  assert.deepEqual(merged.runIds, ["01b", "01c", "01a"]);
  const next = state.withRuns({ ...s, ...merged }, [{ ...b, status: "completed" }]);
  assert.deepEqual(next.runIds, ["01c", "01b", "01a"]);
  assert.deepEqual(state.withRuns(s, []), {});
}
console.log("training js tests passed");
