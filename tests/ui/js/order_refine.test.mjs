// The Order panel's Refine card (static/order/state.js), run by node: defaults fill blank options,
// the summary line, why Start cannot be pressed, the started note, labels of its fields.
import assert from "node:assert/strict";

const here = new URL(".", import.meta.url);
const s = await import(new URL("../../../imagen_nb/ui/static/order/state.js", here));

const choices = {
  judges: ["transformers:tiny-judge", "fal:openrouter/router/vision"], rewriters: ["transformers:tiny-rewriter"],
  scorers: ["judge", "clip:tiny-clip"], iterations_max: 20, n_max: 16,
  defaults: { judge: "transformers:tiny-judge", rewriter: "transformers:tiny-rewriter", iterations: 3, n: 1, scorer: "judge" },
  key_missing: { "fal:openrouter/router/vision": "fal needs an API key: run `imagen-nb keys set fal`" },
};
const form = { id: "instant:swatch", type: "text-to-image", fields: [{ name: "prompt", label: "Prompt", kind: "prompt" }] };

// Blank options take the defaults; what was typed wins (trimmed).
{
  const r = { ...s.initialRefine(), choices, values: { ...s.initialRefine().values, n: " 2 ", stop_at: "" } };
  const v = s.refineValues(r);
  assert.equal(v.judge, "transformers:tiny-judge");
  assert.equal(v.iterations, "3");
  assert.equal(v.n, "2");
  assert.equal(v.stop_at, "");
  assert.equal(s.refineSummary(r),
    "Up to 3 rounds × 2 images per prompt · judged by transformers:tiny-judge · rewritten by transformers:tiny-rewriter · runs every round");
  const r2 = { ...r, values: { ...r.values, iterations: "1", n: "1", stop_at: "8", scorer: "clip:tiny-clip" } };
  assert.equal(s.refineSummary(r2), "Up to 1 round × 1 image per prompt · judged by transformers:tiny-judge, "
    + "scored by clip:tiny-clip · rewritten by transformers:tiny-rewriter · stops early at a score ≥ 8");
}

// Start is blocked, with the reason, until a text-to-image model, the choices and a prompt are there.
{
  const base = s.initialState();
  assert.equal(s.refineBlocked(base), "Choose a model first.");
  const st = { ...base, form };
  assert.equal(s.refineBlocked(st), "Loading judges and rewriters…");
  assert.match(s.refineBlocked({ ...st, refine: { ...st.refine, loadError: "Kernel disconnected" } }), /Cannot list judges: Kernel/);
  const ready = { ...st, refine: { ...st.refine, choices } };
  assert.equal(s.refineBlocked(ready), "Write the prompt to refine.");
  assert.equal(s.refineBlocked({ ...ready, values: { prompt: "a fox" } }), null);
  assert.match(s.refineBlocked({ ...ready, form: { ...form, id: "transformers:tiny-rewriter", type: "text-to-text" }, values: { prompt: "x" } }),
    /needs a text-to-image model/);
  assert.equal(s.refineBlocked({ ...ready, values: { prompt: "x" }, refine: { ...ready.refine, choices: { ...choices, judges: [] } } }),
    "No image-to-text model (judge) is listed.");
}

// The started note says what runs and where it shows; option labels flag a missing key.
{
  assert.equal(s.refineStartedText({ prompts: ["a fox"], iterations: 3 }),
    "Refining “a fox”, up to 3 rounds: its rounds show in Production, as one refinement row.");
  assert.equal(s.refineStartedText({ prompts: ["a", "b"], iterations: 1 }),
    "Refining 2 prompts, up to 1 round each: its rounds show in Production, as one refinement row.");
  assert.equal(s.refineOption(choices, "fal:openrouter/router/vision"), "fal:openrouter/router/vision (needs key)");
  assert.equal(s.refineOption(choices, "transformers:tiny-judge"), "transformers:tiny-judge");
  assert.equal(s.labelOf({ form }, "refine_n"), "Images per round");
  assert.equal(s.labelOf({ form }, "prompt"), "Prompt");
}
console.log("ok");
