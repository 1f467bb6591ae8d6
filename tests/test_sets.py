"""Orders from rows and saved sets through the Studio (issue 13), on the instant provider."""

from __future__ import annotations

import pandas as pd
import pytest

from imagen_nb.core.rows import RowsError
from imagen_nb.core.sets import SetRecipe
from imagen_nb.core.errors import OrderTooLarge, ValidationError

CSV = "value,suit,seed\nAce,Spades,11\nTwo,Hearts,12\nThree,Clubs,13\n"


def test_an_order_from_a_csv_file_records_each_products_row(studio, tmp_path):
    path = tmp_path / "cards.csv"
    path.write_text(CSV)
    order = studio.order("instant:swatch", rows=path, prompt="{value} of {suit}, [ink,oil]").wait(30)
    assert order.status == "fulfilled"
    got = studio.sql("select prompt, seed, coalesce(set_name, '(none)') as set_name, set_row, "
                     "row_values->>'suit' as suit from set_products order by set_row, prompt")
    assert got.to_dict("records") == [
        {"prompt": "Ace of Spades, ink", "seed": 11, "set_name": "(none)", "set_row": 1, "suit": "Spades"},
        {"prompt": "Ace of Spades, oil", "seed": 11, "set_name": "(none)", "set_row": 1, "suit": "Spades"},
        {"prompt": "Two of Hearts, ink", "seed": 12, "set_name": "(none)", "set_row": 2, "suit": "Hearts"},
        {"prompt": "Two of Hearts, oil", "seed": 12, "set_name": "(none)", "set_row": 2, "suit": "Hearts"},
        {"prompt": "Three of Clubs, ink", "seed": 13, "set_name": "(none)", "set_row": 3, "suit": "Clubs"},
        {"prompt": "Three of Clubs, oil", "seed": 13, "set_name": "(none)", "set_row": 3, "suit": "Clubs"},
    ]
    assert studio.sql("select row_count from orders").iloc[0, 0] == 3


def test_dataframe_rows_times_seeds_and_the_preview(studio):
    frame = pd.DataFrame({"value": ["Ace", "Two"], "suit": ["Spades", "Hearts"]})
    preview = studio.expand("instant:swatch", rows=frame, prompt="{value} of {suit}", seed="[1,2]")
    assert [(g["prompt"], g["seed"]) for g in preview] == [
        ("Ace of Spades", 1), ("Ace of Spades", 2), ("Two of Hearts", 1), ("Two of Hearts", 2)]
    order = studio.order("instant:swatch", rows=frame, prompt="{value} of {suit}", seed="[1,2]").wait(30)
    assert [g["params"]["prompt"] for g in order.generations.to_dict("records")] == [g["prompt"] for g in preview]


def test_errors_come_before_anything_is_queued(studio):
    rows = [{"value": "Ace", "suit": "Spades"}, {"value": "Two", "suit": ""}]
    with pytest.raises(RowsError, match=r"prompt: row 2, column 'suit': the cell is empty"):
        studio.order("instant:swatch", rows=rows, prompt="{value} of {suit}")
    with pytest.raises(RowsError, match=r"column 'sut': \{sut\} names no column.*Did you mean 'suit'"):
        studio.order("instant:swatch", rows=rows, prompt="{value} of {sut}")
    with pytest.raises(RowsError, match=r"row 1, column 'seed': 'x' is not an integer"):
        studio.order("instant:swatch", rows=[{"seed": "x"}], prompt="p")
    with pytest.raises(ValidationError, match="width"):  # the model's own checks run on every row
        studio.order("instant:swatch", rows=[{"width": 64}, {"width": 65}], prompt="p")
    with pytest.raises(OrderTooLarge):
        studio.order("instant:swatch", rows=[{"v": i} for i in range(30)], prompt="{v}", seed="[1..40]")
    assert studio.sql("select count(*) from orders").iloc[0, 0] == 0


def test_the_card_deck_set_orders_54_cards_each_with_its_row(studio):
    order = studio.order_set("card_deck", "instant:swatch", theme="gothic, ink", width=64, height=64).wait(60)
    assert order.status == "fulfilled" and order.set_name == "card_deck"
    got = studio.sql("select set_name, set_row, prompt, row_values->>'value' as value, row_values->>'suit' as suit "
                     "from set_products order by set_row")
    assert len(got) == 54 and list(got["set_row"]) == list(range(1, 55))
    assert set(got["set_name"]) == {"card_deck"}
    first = got.iloc[0]
    assert first["prompt"].startswith("a single playing card, front view, clean border, gothic, ink, Ace of Spades. ")
    assert first["prompt"].endswith("intricate linework, symmetrical, high detail, print quality")
    assert all(f"{r.value} of {r.suit}." in r.prompt for r in got.itertuples())


def test_sets_are_saved_listed_replaced_and_deleted(studio, tmp_path):
    assert {"card_deck", "tarot", "zodiac"} <= set(studio.sets)
    path = tmp_path / "animals.csv"
    path.write_text("animal,colour\nfox,red\nowl,grey\n")
    studio.sets["animals"] = {"rows": path, "template": "a {colour} {animal}", "base": "a sticker",
                              "theme": "flat", "style": "vector art", "params": {"seed": "[1,2]", "width": 64},
                              "model": "instant:swatch", "description": "two animals"}
    recipe = studio.sets["animals"]
    assert isinstance(recipe, SetRecipe) and recipe.prompt() == "a sticker, flat, a {colour} {animal}, vector art"
    assert recipe.rows == ({"animal": "fox", "colour": "red"}, {"animal": "owl", "colour": "grey"})
    listing = studio.sets.listing().set_index("name")
    assert listing.loc["animals", "rows"] == 2 and not listing.loc["animals", "example"]
    assert listing.loc["tarot", "rows"] == 22 and listing.loc["tarot", "example"]
    order = studio.order_set("animals", theme="[pastel,neon]").wait(30)  # a theme may vary too: 2 × 2 × 2
    prompts = [g["params"]["prompt"] for g in order.generations.to_dict("records")]
    assert len(prompts) == 8 and prompts[0] == "a sticker, pastel, a red fox, vector art"
    studio.sets["tarot"] = studio.sets["animals"]  # a saved set takes an example's name
    assert studio.sets["tarot"].template == "a {colour} {animal}"
    del studio.sets["tarot"]
    assert len(studio.sets["tarot"].rows) == 22  # the example is back
    with pytest.raises(KeyError, match="cannot be deleted"):
        del studio.sets["tarot"]
    with pytest.raises(KeyError, match="Did you mean 'animals'"):
        studio.sets["animal"]


def test_bad_sets_are_refused_with_the_fix(studio):
    with pytest.raises(ValidationError, match="a set has no key 'tempalte'.*Did you mean 'template'"):
        studio.sets["x"] = {"rows": [{"a": 1}], "tempalte": "{a}"}
    with pytest.raises(ValidationError, match="needs its table"):
        studio.sets["x"] = {"template": "{a}"}
    with pytest.raises(ValidationError, match="names no model"):
        studio.order_set("zodiac")
    assert "x" not in studio.sets


def test_placeholders_in_lora_entries_and_a_loras_column_reach_the_model(studio, tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.safetensors").write_bytes(b"x")
    rows = [{"card": "Ace", "lora": str(tmp_path / "a.safetensors")},
            {"card": "Two", "lora": str(tmp_path / "b.safetensors")}]
    gens = studio.expand("diffusers:tiny", rows=rows, prompt="{card}", loras=[{"path": "{lora}", "weight": 0.6}],
                         negative_prompt="not {card}")
    assert [(g["prompt"], g["negative_prompt"], g["loras"]) for g in gens] == [
        ("Ace", "not Ace", [{"path": str(tmp_path / "a.safetensors"), "weight": 0.6}]),
        ("Two", "not Two", [{"path": str(tmp_path / "b.safetensors"), "weight": 0.6}])]
    table = tmp_path / "cards.csv"  # a loras column: JSON in a CSV cell, or the text form
    table.write_text(f'card,loras\nAce,"[{{""path"": ""{tmp_path / "a.safetensors"}"", ""weight"": 0.3}}]"\n'
                     f'Two,{tmp_path / "b.safetensors"}:0.5\n')
    gens = studio.expand("diffusers:tiny", rows=table, prompt="{card}")
    assert gens[0]["loras"] == [{"path": str(tmp_path / "a.safetensors"), "weight": 0.3}]
    assert gens[1]["loras"] == f"{tmp_path / 'b.safetensors'}:0.5"
