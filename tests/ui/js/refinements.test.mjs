// The Production panel's refinement texts (node --test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { scoreText, roundTitle, refinementLine, withRefinements } from "../../../imagen_nb/ui/static/production/state.js";

test("scores show three significant digits, statuses without one", () => {
  assert.deepEqual([7, 36.34464, 100, 10, 0.5, 7.25].map((v) => scoreText(v)), ["7", "36.3", "100", "10", "0.5", "7.25"]);
  assert.equal(scoreText(null, "running"), "…");
  assert.equal(scoreText(null, "done"), "–");
  assert.equal(scoreText(null, "failed"), "×");
});

test("a round's hover text and a refinement's line", () => {
  assert.equal(roundTitle({ round: 2, status: "done", score: 7, prompt: "a fox", next_prompt: "a red fox" }),
    "Round 2 (done): a fox — score 7 — next: a red fox");
  assert.equal(refinementLine({ model: "m", judge: "j", rewriter: "r", items: [{}, {}], iterations: 3, stop_at: 8 }),
    "m judged by j, rewritten by r; 2 prompts × 3 rounds, stop at 8");
});

test("refinements merge newest first", () => {
  const s = withRefinements({ refinements: { a: { id: "a", status: "running" } } }, [{ id: "b" }, { id: "a", status: "done" }]);
  assert.deepEqual(s.refinementIds, ["b", "a"]);
  assert.equal(s.refinements.a.status, "done");
  assert.deepEqual(withRefinements({ refinements: {} }, []), {});
});
