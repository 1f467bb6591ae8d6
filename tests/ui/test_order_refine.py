"""The Order panel's Refine option (issue 15) through the controller: the choices it offers, a
refinement started from the form (its prompt, its parameters, the card's options), SmartParameter
prompts refined one by one, and every bad input answered at the field that caused it."""

from __future__ import annotations

import pytest

from imagen_nb.ui.order import OrderController


@pytest.fixture
def order_page(studio, page):
    return page(OrderController(studio))


def test_the_choices_list_judges_rewriters_scorers_and_the_defaults(order_page, studio):
    choices = order_page.call("refine_choices")
    models = studio.models()
    assert set(choices["judges"]) == set(models.loc[models["type"] == "image-to-text", "id"])
    assert "transformers:tiny-judge" in choices["judges"]
    assert "transformers:tiny-rewriter" in choices["rewriters"]
    assert choices["scorers"][0] == "judge"
    assert choices["defaults"]["iterations"] == 3 and choices["iterations_max"] == 20
    # A remote judge without its key says how to set it, before anyone picks it.
    remote = [j for j in choices["judges"] if not j.startswith("transformers:")]
    assert remote and all("keys set" in choices["key_missing"][j] for j in remote)
    assert "transformers:tiny-judge" not in choices["key_missing"]


def test_refine_from_the_form_starts_a_refinement_at_once(order_page, studio):
    project = order_page.call("create_project", name="refined")
    result = order_page.call("refine", model="instant:swatch", project_id=project["id"],
                             values={"prompt": "a [red,blue] fox in snow", "seed": "7", "width": "64", "height": "64"},
                             options={"iterations": "1", "n": "1", "stop_at": "-1000000000", "scorer": "judge",
                                      "goal": "  crisp  "})
    assert result["prompts"] == ["a red fox in snow", "a blue fox in snow"]  # each prompt refined on its own
    assert result["iterations"] == 1 and result["judge"] == "transformers:tiny-judge"
    ref = studio.get_refinement(result["refinement_id"])
    ref.wait(300)
    assert ref.status == "done"
    summary = ref.summary
    assert sorted(summary["prompt"]) == ["a blue fox in snow", "a red fox in snow"]
    products = studio.products(summary["product_id"].tolist())
    assert {(p.width, p.height) for p in products} == {(64, 64)}          # the form's parameters
    assert {p.project_id for p in products} == {project["id"]}
    row = studio.refinements()
    row = row[row["id"] == ref.id].iloc[0]
    assert row["goal"] == "crisp" and row["iterations"] == 1


@pytest.mark.parametrize("values,options,field,text", [
    ({"prompt": ""}, {}, "prompt", "prompt to refine"),
    ({"prompt": "a cat", "width": "[64,128]"}, {}, "width", "one value per field"),
    ({"prompt": "a cat"}, {"iterations": "three"}, "refine_iterations", "whole number"),
    ({"prompt": "a cat"}, {"iterations": "0"}, "refine_iterations", "at least 1"),
    ({"prompt": "a cat"}, {"n": "99"}, "refine_n", "at most 16"),
    ({"prompt": "a cat"}, {"stop_at": "high"}, "refine_stop_at", "score"),
    ({"prompt": "a cat"}, {"judge": "transformers:tiny-rewriter"}, "refine_judge", "image-to-text"),
    ({"prompt": "a cat"}, {"rewriter": "transformers:nope"}, "refine_rewriter", "nope"),
    ({"prompt": "a cat"}, {"scorer": "vibes"}, "refine_scorer", "unknown scorer"),
    ({"prompt": "a cat", "width": "7"}, {}, "width", ""),
])
def test_bad_input_comes_back_at_its_field_and_nothing_starts(order_page, studio, values, options, field, text):
    err = order_page.error("refine", model="instant:swatch", values=values, options=options)
    assert err["field"] == field, err
    assert text in err["message"]
    assert studio.refinements().empty


def test_a_model_that_makes_no_images_cannot_be_refined(order_page):
    err = order_page.error("refine", model="transformers:tiny-rewriter", values={"prompt": "a cat"})
    assert err["field"] == "model" and "text-to-image" in err["message"]


def test_a_remote_judge_without_its_key_is_refused_at_the_judge(order_page, studio):
    remote = next(j for j in order_page.call("refine_choices")["judges"] if not j.startswith("transformers:"))
    err = order_page.error("refine", model="instant:swatch", values={"prompt": "a cat"}, options={"judge": remote})
    assert err["field"] == "refine_judge" and "keys set" in err["message"]
    assert studio.refinements().empty
