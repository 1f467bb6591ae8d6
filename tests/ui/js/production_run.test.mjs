// A training run's page (static/production/state.js), run by node: the loss curve's path and
// ranges, samples grouped by step, checkpoint labels and what "Use this checkpoint" asks for.
import assert from "node:assert/strict";

const here = new URL(".", import.meta.url);
const s = await import(new URL("../../../imagen_nb/ui/static/production/state.js", here));

{
  assert.equal(s.lossCurve([], 100, 50).path, "");
  assert.equal(s.lossCurve([{ step: 1, loss: 0.5 }], 100, 50).path, "");
  const c = s.lossCurve([{ step: 10, loss: 1.0 }, { step: 20, loss: 0.5 }, { step: 30, loss: 0.0 }], 100, 50);
  assert.deepEqual([c.lo, c.hi, c.first, c.last], [0, 1, 10, 30]);
  // First step at the left and the highest loss at the top; the last at the right and the lowest at the bottom.
  assert.equal(c.path, "M0.0,1.0L50.0,25.0L100.0,49.0");
  // Steps keep their own spacing (a thinned curve): x follows the step, not the index.
  const t = s.lossCurve([{ step: 1, loss: 1 }, { step: 2, loss: 1 }, { step: 101, loss: 0 }], 100, 50);
  assert.equal(t.path.split("L")[1], "1.0,1.0");
  // A flat curve still draws (no division by zero).
  assert.match(s.lossCurve([{ step: 1, loss: 2 }, { step: 2, loss: 2 }], 10, 10).path, /^M0\.0,9\.0L10\.0,9\.0$/);
}
{
  const groups = s.samplesByStep([{ id: "a", step: 4 }, { id: "b", step: 4 }, { id: "c", step: 8 }]);
  assert.deepEqual(groups.map((g) => [g.step, g.items.map((i) => i.id)]), [[4, ["a", "b"]], [8, ["c"]]]);
  assert.equal(s.checkpointLabel({ step: 1000 }), "step 1,000");
  assert.equal(s.checkpointLabel({ step: 200, final: true }), "step 200 · final LoRA");
  assert.deepEqual(s.checkpointPayload({ base_model: "diffusers:tiny" }, { lora: "cards/step-000100" }),
    { model: "diffusers:tiny", lora: "cards/step-000100" });
}
console.log("ok");
