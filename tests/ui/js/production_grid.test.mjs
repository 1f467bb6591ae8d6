// The Production panel's inline grid (static/production/state.js), run by node: when an order
// offers a grid, the table of cells for a z layer (missing combinations empty), the caption and
// a cell's hover text.
import assert from "node:assert/strict";

const here = new URL(".", import.meta.url);
const s = await import(new URL("../../../imagen_nb/ui/static/production/state.js", here));

const counts = (complete) => ({ queued: 0, running: 0, complete, failed: 0, cancelled: 0 });
assert.equal(s.gridOffered({ total: 6, counts: counts(1) }), true);
assert.equal(s.gridOffered({ total: 6, counts: counts(0) }), false);   // nothing to show yet
assert.equal(s.gridOffered({ total: 1, counts: counts(1) }), false);   // one generation is no grid

const layout = {
  title: "order X", axes: { x: { name: "seed", labels: ["1", "2"] }, y: { name: "prompt", labels: ["red", "blue"] },
    z: { name: "steps", labels: ["4", "8"] } },
  choices: ["seed", "prompt", "steps"], fixed: { width: "64" }, total: 7, shown: 5,
  cells: [
    { z: 0, y: 0, x: 0, product_id: "a", status: "complete", note: "", count: 1 },
    { z: 0, y: 1, x: 1, product_id: "b", status: "failed", note: "boom", count: 1 },
    { z: 1, y: 0, x: 1, product_id: "c", status: "complete", note: "", count: 2 },
  ],
};
{
  const m = s.gridMatrix(layout, 0);
  assert.deepEqual(m.cols, ["1", "2"]);
  assert.deepEqual(m.rows.map((r) => r.label), ["red", "blue"]);
  assert.deepEqual(m.rows.map((r) => r.cells.map((c) => (c ? c.product_id : null))), [["a", null], [null, "b"]]);
  const m1 = s.gridMatrix(layout, 1);
  assert.deepEqual(m1.rows.map((r) => r.cells.map((c) => (c ? c.product_id : null))), [[null, "c"], [null, null]]);
  // One axis only: one unlabelled row.
  const flat = s.gridMatrix({ ...layout, axes: { x: layout.axes.x, y: null, z: null }, cells: [{ x: 1, product_id: "d", status: "running" }] });
  assert.deepEqual(flat.rows.map((r) => [r.label, r.cells.map((c) => (c ? c.product_id : null))]), [["", [null, "d"]]]);
}
assert.equal(s.gridCaption(layout), "x: seed · y: prompt · z: steps — fixed: width = 64 — showing 5 cells of 7");
assert.equal(s.gridCaption({ ...layout, axes: { x: null, y: null, z: null }, fixed: {}, total: 1, shown: 1 }), "nothing varies in this order");
assert.equal(s.gridCellTitle(layout, layout.cells[1]), "seed = 2\nprompt = blue\nsteps = 4\nfailed\nboom");
assert.equal(s.gridCellTitle(layout, layout.cells[2]), "seed = 2\nprompt = red\nsteps = 8\ncomplete (2 products)");
// Picking an axis another one has swaps them; "none" frees one.
assert.deepEqual(s.pickAxis({ x: "prompt", y: "seed", z: "" }, "x", "seed"), { x: "seed", y: "prompt", z: "" });
assert.deepEqual(s.pickAxis({ x: "seed", y: "prompt", z: "" }, "z", "prompt"), { x: "seed", y: "", z: "prompt" });
assert.deepEqual(s.pickAxis({ x: "seed", y: "prompt", z: "" }, "y", ""), { x: "seed", y: "", z: "" });
console.log("ok");
