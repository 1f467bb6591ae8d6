// The Gallery's derived texts for scores, lineage, Upscale and Train LoRA (issues 15-17), in node.
// Run by tests/ui/test_js.py.
import assert from "node:assert/strict";
import * as g from "../../../imagen_nb/ui/static/gallery/state.js";

// Scores: three significant digits; a missing one is a dash.
assert.deepEqual([36.34464, 7.25, 0.5, 100, -8.866196, null, undefined].map(g.scoreText), ["36.3", "7.25", "0.5", "100", "-8.87", "–", "–"]);

// The lowest score travels as min_<score>; an empty or non-numeric box sends nothing.
const f = g.blankFilters();
assert.deepEqual(g.requestFilters({ ...f, min_score: "20" }), { min_clip_score: 20 });
assert.deepEqual(g.requestFilters({ ...f, score_kind: "judge_score", min_score: "7.5" }), { min_judge_score: 7.5 });
assert.deepEqual(g.requestFilters({ ...f, score_kind: "judge_score" }), {});
assert.deepEqual(g.requestFilters({ ...f, min_score: "abc" }), {});
assert.ok(g.filtering({ ...f, min_score: "0" }) && !g.filtering({ ...f, score_kind: "aesthetic_score" }));

// The sort: the request's name and the status line's words.
assert.equal(g.requestSort(""), "newest");
assert.equal(g.requestSort("aesthetic_score"), "aesthetic_score");
const flat = { ...g.makeSection(null, {}), ids: ["a"], next: null, total: 1, loaded: true };
const s = { ...g.initialState(), started: true, sections: [flat], total: 1 };
assert.equal(g.statusText(s), "Newest first · all 1 loaded");
assert.equal(g.statusText({ ...s, sort: "clip_score" }), "Highest CLIP score first · all 1 loaded");

// Lineage: the round that made this product is marked; the heading says where it came from.
const lineage = { title: "fox", rounds: [
  { round: 1, product_id: "p1", score: 4, next_product_id: "p2", current: false },
  { round: 2, product_id: "p2", score: 6.5, next_product_id: "p3", current: true },
  { round: 3, product_id: "p3", score: null, next_product_id: null, current: false }] };
const steps = g.lineageSteps(lineage, "p2");
assert.deepEqual(steps.map((r) => r.here), [false, true, false]);
assert.deepEqual(steps.map((r) => r.label), ["Round 1 of 3 · score 4", "Round 2 of 3 · score 6.5", "Round 3 of 3"]);
assert.equal(g.lineageTitle(lineage, "p2"), "Refined from round 1");
assert.equal(g.lineageTitle({ rounds: lineage.rounds.map((r) => ({ ...r, current: false })) }, "p1"), "Refined into 2 more rounds");
assert.equal(g.lineageTitle({ rounds: [{ round: 1, product_id: "j", current: false }] }, "x"), "From a refinement");
assert.deepEqual(g.lineageSteps(null, "p"), []);

// Upscalers: the label, and the scales of the spec (a wanted scale kept only when offered).
const esrgan = { id: "diffusers:tiny-esrgan", upscale_factor: 4, local: true, default: false,
  scale: { minimum: 1, maximum: 4, default: 4, choices: [1.5, 2, 3, 4] } };
assert.equal(g.upscalerLabel(esrgan), "diffusers:tiny-esrgan · ×4 · local");
assert.equal(g.upscalerLabel({ ...esrgan, local: false, default: true }), "diffusers:tiny-esrgan · ×4 · remote (default)");
assert.deepEqual(g.scaleChoices(esrgan), { choices: [1.5, 2, 3, 4], value: 4 });
assert.deepEqual(g.scaleChoices(esrgan, 2), { choices: [1.5, 2, 3, 4], value: 2 });
assert.equal(g.scaleChoices(esrgan, 8).value, 4);
assert.deepEqual(g.scaleChoices(null), { choices: [], value: null });
assert.equal(g.upscaleMessage({ generations: 3, scale: 2, model: "m" }), "Ordered 3 upscales ×2 with m");
assert.equal(g.upscaleMessage({ generations: 1, scale: 4, model: "m" }), "Ordered an upscale ×4 with m");

// Training: the preview's line and a proposed LoRA name.
assert.equal(g.trainPreviewText({ count: 4, shown: 4 }, "prompt"), "4 images · captions from prompt");
assert.equal(g.trainPreviewText({ count: 80, shown: 50 }, "negative_prompt"), "80 images · captions from negative_prompt (first 50 shown)");
assert.equal(g.trainPreviewText(null, "prompt"), "");
// The preview says the sizes the images train at: one square when cropped, each bucket with its count.
const row = (w, h, tw, th) => ({ product_id: "p", width: w, height: h, target_width: tw, target_height: th, caption: "c" });
const cropped = { count: 2, shown: 2, aspect: "crop", dataset: [row(128, 64, 128, 128), row(64, 128, 128, 128)] };
assert.equal(g.trainPreviewText(cropped, "prompt"), "2 images · captions from prompt · cropped to 128×128");
const bucketed = { count: 3, shown: 3, aspect: "bucket", dataset: [row(128, 64, 192, 64), row(64, 128, 64, 192), row(120, 60, 192, 64)] };
assert.equal(g.trainPreviewText(bucketed, "prompt"), "3 images · captions from prompt · buckets: 192×64 ×2, 64×192 ×1");
assert.deepEqual(g.trainSizes([row(1, 1, null, null)]), []);
assert.equal(g.trainSizeText(row(128, 64, 192, 64)), "128×64 → 192×64");
assert.equal(g.trainSizeText(row(64, 64, 64, 64)), "64×64");
assert.equal(g.trainSizeText(row(null, null, 64, 64)), "64×64");
assert.equal(g.trainSizeText(row(null, null, null, null)), "");
// The aspect choices are TrainingConfig's, each with its line of help.
assert.deepEqual(g.TRAIN_ASPECTS.map((a) => a.value), ["crop", "bucket"]);
assert.deepEqual(g.TRAIN_ASPECTS.map((a) => a.label), ["Crop to square", "Buckets by aspect ratio"]);
assert.ok(g.TRAIN_ASPECTS.every((a) => a.hint.length > 20 && !a.hint.includes("\n")));
// Numbers as typed: a Number when they read as one, null when empty, else the text (the Studio names the field).
assert.deepEqual(["5e-5", " 0.0001 ", "1E-4", ".5", "", "  ", "fast", "1e-", "2"].map(g.typedNumber), [5e-5, 1e-4, 1e-4, 0.5, null, null, "fast", "1e-", 2]);
assert.deepEqual(["512", "", "12.5", "big"].map(g.typedWhole), [512, null, "12.5", "big"]);
assert.equal(g.suggestLoraName([{ project: "Tarot Cards" }]), "tarot-cards-lora");
assert.equal(g.suggestLoraName([undefined, { prompt: "1 red fox!" }]), "red-fox-lora");
assert.equal(g.suggestLoraName([]), "my-lora");
console.log("gallery jobs: ok");
