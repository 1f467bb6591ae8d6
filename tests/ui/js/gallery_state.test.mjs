// The Gallery store's derived texts and list logic (imagen_nb/ui/static/gallery/state.js), run by
// node: filters as requests, counts, the status line, where a restored product goes, the grid
// view's rows. Run by tests/ui/test_js.py.
import assert from "node:assert/strict";
import * as g from "../../../imagen_nb/ui/static/gallery/state.js";

const s0 = g.initialState();
assert.equal(g.countText(s0), "…");
assert.equal(g.statusText(s0), "Loading…");

// Filters: only those set travel; "none" choices become flags.
const f = { ...g.blankFilters(), text: "  kite ", project: g.NONE, min_rating: "3", order_id: "o1" };
assert.deepEqual(g.requestFilters(f), { text: "kite", no_project: true, min_rating: 3, order_id: "o1" });
assert.ok(g.filtering(f) && !g.filtering(g.blankFilters()));

// Counts and the status line come from the state alone.
const items = {
  a: { id: "a", created_at: "2026-01-03T10:00:00" }, b: { id: "b", created_at: "2026-01-02T10:00:00.500000" },
  c: { id: "c", created_at: "2026-01-01T10:00:00" },
};
const flat = { ...g.makeSection(null, {}), ids: ["a", "c"], next: null, total: 2, loaded: true };
const s1 = { ...s0, started: true, sections: [flat], total: 2, options: { total: 9 }, items };
assert.equal(g.countText(s1), "2 products");
assert.equal(g.countText({ ...s1, filters: f }), "2 of 9");
assert.equal(g.statusText(s1), "Newest first · all 2 loaded");
assert.equal(g.statusText({ ...s1, busy: 1, selection: new Set(["a"]) }), "Loading… · Newest first · all 2 loaded · 1 selected");
assert.equal(g.footText({ ...flat, next: 2, total: 150 }), "2 of 150");

// A restored product goes back between its neighbours (by time; zero microseconds padded).
assert.deepEqual(g.insertSorted(flat, "b", items).ids, ["a", "b", "c"]);
// ...and one older than every loaded product only moves the next page's offset.
const paged = { ...flat, ids: ["a", "b"], next: 2 };
assert.deepEqual(g.insertSorted(paged, "c", items), { ...paged, next: 3 });

// The grid view: rows of cells by y then x; a combination nothing was made for is null.
const data = { axes: { x: { name: "seed", labels: ["1", "2"] }, y: { name: "prompt", labels: ["red", "blue"] }, z: null },
  cells: [{ x: 0, y: 0, z: 0, product_id: "p1" }, { x: 1, y: 0, z: 0, product_id: "p2" }, { x: 1, y: 1, z: 0, product_id: null, status: "failed" }] };
const rows = g.gridRows(data);
assert.equal(rows.length, 2);
assert.equal(rows[0][1].product_id, "p2");
assert.equal(rows[1][0], null);
assert.deepEqual(g.gridIds(data), ["p1", "p2"]);
assert.equal(g.statusText({ ...s1, compare: { loading: false, data: { ...data, title: "order x" } } }), "Grid view · 3 cells · order x");
console.log("gallery state: ok");
