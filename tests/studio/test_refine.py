"""studio.refine offline, end to end: tiny diffusers + tiny judge + tiny rewriter + tiny CLIP.

Rows, lineage, best pick, early stop on stop_at, a failing prompt beside working ones, cancel,
and a real SIGKILL mid-loop followed by a resume in which no round is lost or run twice.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import imagen_nb as inb
from imagen_nb.core.errors import UnknownModelError, ValidationError

SMALL = {"judge_params": {"max_new_tokens": 6}, "rewriter_params": {"max_new_tokens": 6}}
PROMPTS = ["a red fox in snow", "a lighthouse at dusk", "a bowl of ramen"]


def test_three_prompts_three_rounds_on_tiny_models(studio):
    ref = studio.refine(PROMPTS, "diffusers:tiny", iterations=3, n=2, scorer="clip:tiny-clip",
                        num_inference_steps=2, width=64, height=64, goal=None, stop_at=1e9, **SMALL)
    assert isinstance(ref, inb.studio.refinements.Refinement)
    ref.wait(600)
    assert ref.status == "done"
    assert ref.progress == {"status": "done", "prompts": 3, "prompts_finished": 3, "rounds_done": 9, "rounds_max": 9}

    summary = ref.summary
    assert len(summary) == 9
    assert sorted(zip(summary["item"], summary["round"])) == [(i, r) for i in range(3) for r in (1, 2, 3)]
    for item, rows in summary.groupby("item"):
        rows = rows.sort_values("round")
        assert rows["prompt"].iloc[0] == PROMPTS[item]
        # each round's prompt is the rewriter's answer of the round before: the lineage chain
        assert rows["prompt"].iloc[1:].tolist() == rows["next_prompt"].iloc[:-1].tolist()
        assert rows["next_product_id"].iloc[:-1].tolist() == rows["product_id"].iloc[1:].tolist()
        assert rows["next_prompt"].isna().iloc[-1]  # no rewrite after the last round
        assert rows["judgement"].map(lambda t: isinstance(t, str)).all()

    # every image made was judged (a text product naming it) and scored; the round's best has the top score
    for row in summary.to_dict("records"):
        images = studio.get_order(row["image_order_id"]).products
        assert len(images) == 2
        scores = studio.scores(images, scorer="clip:tiny-clip")
        assert len(scores) == 2
        top = scores.sort_values("value", ascending=False).iloc[0]
        assert row["product_id"] == top["product_id"] and row["score"] == pytest.approx(top["value"])
        judged = studio.sql("select image_product_id from texts where order_id = ?", [row["judge_order_id"]])
        assert sorted(judged["image_product_id"]) == sorted(p.id for p in images)
        rewrite = studio.generation(studio.get_order(row["rewriter_order_id"]).generations["id"][0]) \
            if isinstance(row["rewriter_order_id"], str) else None
        if rewrite is not None:  # the rewriter's exact input and output are stored
            assert row["judgement"] in rewrite["params"]["prompt"]
            assert rewrite["return_params"]["text"].strip()

    best = ref.best
    assert best["status"].tolist() == ["done"] * 3
    for row in best.to_dict("records"):
        rounds = summary[summary["item"] == row["item"]]
        assert row["best_score"] == pytest.approx(rounds["score"].max())
        assert row["best_product_id"] == rounds.loc[rounds["score"].idxmax(), "product_id"]
    assert [p.id for p in ref.best_products()] == best["best_product_id"].tolist()

    # lineage of any product in a chain is its prompt's whole chain
    middle = summary[(summary["item"] == 1) & (summary["round"] == 2)].iloc[0]
    chain = studio.lineage(middle["product_id"])
    assert chain["round"].tolist() == [1, 2, 3] and set(chain["item"]) == {1}
    judgement_chain = studio.lineage(middle["judgement_product_id"])
    assert judgement_chain["product_id"].tolist() == chain["product_id"].tolist()
    assert studio.lineage(studio.order("diffusers:tiny", prompt="alone", num_inference_steps=1).wait().products[0]).empty

    # text products stay out of the gallery; the gallery has score columns, sortable and filterable
    gallery = studio.gallery(limit=1000)
    assert set(gallery["kind"]) == {"image"}
    assert gallery["clip_score"].notna().sum() == 18
    ranked = studio.gallery(limit=3, sort="clip_score")
    assert ranked["clip_score"].tolist() == sorted(gallery["clip_score"].dropna(), reverse=True)[:3]
    floor = float(gallery["clip_score"].median())
    assert (studio.gallery(limit=1000, min_clip_score=floor)["clip_score"] >= floor).all()
    listed = studio.refinements()
    assert listed.loc[0, "id"] == ref.id and listed.loc[0, "rounds_done"] == 9


def test_stop_at_ends_a_prompt_in_the_round_that_reaches_it(studio):
    ref = studio.refine(PROMPTS[:2], "instant:swatch", iterations=3, n=2, scorer="clip:tiny-clip",
                        stop_at=-1e9, **SMALL).wait(300)
    summary = ref.summary
    assert summary["round"].tolist() == [1, 1]
    assert summary["rewriter_order_id"].isna().all()  # nothing rewritten after the goal was met
    assert all(r.startswith("reached stop_at") for r in ref.best["reason"])


def test_a_prompt_whose_images_fail_ends_with_the_reason_and_the_others_go_on(faulty_studio):
    # one round: a rewritten prompt is gibberish and may hold an 'x' too
    ref = faulty_studio.refine(["x marks the spot", "a calm sea"], "faulty:swatch", iterations=1,
                               scorer="clip:tiny-clip", **SMALL).wait(300)
    best = ref.best.set_index("item")
    assert best.loc[0, "status"] == "failed"
    assert "no image was made" in best.loc[0, "reason"] and "provider down" in best.loc[0, "reason"]
    assert best.loc[1, "status"] == "done" and best.loc[1, "reason"] == "ran 1 round"
    assert ref.status == "done"


def test_cancel_stops_every_prompt_and_places_no_more_orders(studio):
    ref = studio.refine(PROMPTS, "instant:swatch", iterations=3, scorer="clip:tiny-clip",
                        num_inference_steps=50, step_seconds=0.05, **SMALL)
    deadline = time.monotonic() + 60
    while studio.refinement_rounds(ref.id)["image_order_id"].isna().all() and time.monotonic() < deadline:
        time.sleep(0.05)
    ref.cancel()
    assert ref.status == "cancelled"
    assert ref.best["status"].tolist() == ["cancelled"] * 3
    orders = studio.orders()
    assert (orders["status"] == "cancelled").any()
    time.sleep(1.0)
    assert len(studio.orders()) == len(orders)  # nothing ordered after the cancel
    assert ref.wait(1).done


def test_bad_arguments_are_refused_before_anything_is_stored(studio):
    with pytest.raises(ValidationError, match="image-to-text"):
        studio.refine("a cat", "instant:swatch", judge="transformers:tiny-rewriter")
    with pytest.raises(ValidationError, match="iterations"):
        studio.refine("a cat", "instant:swatch", iterations=0)
    with pytest.raises(ValidationError, match="set by the loop"):
        studio.refine("a cat", "instant:swatch", judge_params={"prompt": "x"})
    with pytest.raises(ValidationError, match="has no parameter 'max_tokens'"):
        studio.refine("a cat", "instant:swatch", rewriter_params={"max_tokens": 3})
    with pytest.raises(ValidationError, match="unknown scorer"):
        studio.refine("a cat", "instant:swatch", scorer="vibes")
    with pytest.raises(ValidationError, match="width"):
        studio.refine("a cat", "instant:swatch", width=7)
    with pytest.raises(UnknownModelError):
        studio.refine("a cat", "instant:nope")
    with pytest.raises(ValidationError, match="prompts"):
        studio.refine(["fine", ""], "instant:swatch")
    assert studio.refinements().empty and studio.orders().empty


def test_prompts_json_in_the_seeds_format(studio, tmp_path):
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps([{"title": "Fox", "scene": "a fox in snow", "mood": "quiet", "prompt": "a red fox"},
                                {"title": "Sea", "scene": "a calm sea", "mood": "blue"}]))
    ref = studio.refine(path, "instant:swatch", iterations=1, scorer="clip:tiny-clip", **SMALL).wait(300)
    best = ref.best
    assert best["title"].tolist() == ["Fox", "Sea"]
    assert best["prompt"].tolist() == ["a red fox", "a calm sea, blue"]


CHILD = textwrap.dedent("""
    import sys, imagen_nb as inb
    s = inb.Studio(sys.argv[1], serve=False)
    r = s.refine(["a red fox", "a lighthouse", "a bowl of ramen"], "instant:swatch", iterations=3,
                 scorer="clip:tiny-clip", num_inference_steps=4, step_seconds=0.05,
                 judge_params={"max_new_tokens": 6}, rewriter_params={"max_new_tokens": 6})
    print(r.id, flush=True)
    r.wait()
""")


def test_resume_after_sigkill_loses_no_round_and_runs_none_twice(home):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(home)], stdout=subprocess.PIPE, text=True)
    try:
        refinement_id = child.stdout.readline().strip()
        assert refinement_id, "the child did not start its refinement"
        deadline = time.time() + 240
        while time.time() < deadline:  # kill once some rounds are judged and rewritten, not all
            texts = list((home / "products").rglob("*.txt")) if (home / "products").exists() else []
            if len(texts) >= 5:
                break
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    with inb.Studio(home, serve=False) as studio:
        ref = studio.get_refinement(refinement_id).wait(600)
        assert ref.status == "done"
        summary = ref.summary
        assert sorted(zip(summary["item"], summary["round"])) == [(i, r) for i in range(3) for r in (1, 2, 3)]
        placed = [o for c in ("image_order_id", "judge_order_id", "rewriter_order_id")
                  for o in summary[c].dropna()]
        assert len(placed) == 3 * 3 + 3 * 3 + 3 * 2 == len(set(placed))
        orders = studio.orders(limit=1000)
        assert sorted(orders["id"]) == sorted(placed)  # no order placed twice, none outside the rounds
        assert (orders["status"] == "fulfilled").all()
        assert studio.sql("select count(*) as n from texts")["n"][0] == 3 * 3 + 3 * 2
        assert ref.best["best_product_id"].notna().all()


def test_refine_through_a_client_of_the_host(home):
    """A second Studio on the home is a client: refine and the handle work through the host."""
    host = inb.Studio(home)
    try:
        script = textwrap.dedent("""
            import sys, imagen_nb as inb
            s = inb.Studio(sys.argv[1])
            assert not s.is_host
            r = s.refine("a kite", "instant:swatch", iterations=2, scorer="clip:tiny-clip",
                         judge_params={"max_new_tokens": 4}, rewriter_params={"max_new_tokens": 4})
            r.wait(300)
            choices = s.views.refine_choices()  # what an Order panel's "Refine" option offers, in a client too
            assert "transformers:tiny-judge" in choices["judges"] and "gemini:gemini-2.5-flash" in choices["rewriters"]
            print(r.status, len(r.summary), len(s.lineage(r.best["best_product_id"][0])), flush=True)
            s.close()
        """)
        out = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=400)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.split() == ["done", "2", "2"]
    finally:
        host.close()
    assert Path(home, "catalog.duckdb").exists() or any(Path(home).glob("*.duckdb"))


def test_every_order_of_a_refinement_goes_to_its_project(studio):
    ref = studio.refine("a kite", "instant:swatch", iterations=2, scorer="clip:tiny-clip", project="kites",
                        **SMALL).wait(300)
    assert ref.status == "done"
    assert studio.projects()["name"].tolist() == ["kites"]
    orders = studio.sql("select o.id, p.name from orders o left join projects p on p.id = o.project_id")
    assert len(orders) == 5 and set(orders["name"]) == {"kites"}
    assert studio.gallery_count(project="kites") == 2


def test_a_prompt_whose_last_round_was_recorded_but_not_its_end_finishes_on_resume(home):
    """The process died between a prompt's last round and the prompt's own row: resuming ends it
    with the right reason and places no order."""
    with inb.Studio(home, serve=False) as studio:
        ref = studio.refine("a kite", "instant:swatch", iterations=1, scorer="clip:tiny-clip", **SMALL).wait(300)
        item = ref.best.iloc[0]
        orders = len(studio.orders())
        cur = studio.catalog.cursor()  # the state a kill at that moment leaves
        cur.execute("UPDATE refinement_items SET status = 'running', reason = NULL WHERE refinement_id = ?", [ref.id])
        cur.execute("UPDATE refinements SET status = 'running', finished_at = NULL WHERE id = ?", [ref.id])
    with inb.Studio(home, serve=False) as studio:
        again = studio.get_refinement(ref.id).wait(120)
        assert again.status == "done"
        assert again.best.iloc[0]["reason"] == "ran 1 round"
        assert again.best.iloc[0]["best_product_id"] == item["best_product_id"]
        assert len(studio.orders()) == orders
