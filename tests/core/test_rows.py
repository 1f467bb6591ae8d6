"""Orders from rows: placeholders, parameter columns, rows × SmartParameter groups, errors (issue 13)."""

from __future__ import annotations

import pickle

import pytest

from imagen_nb.core.errors import OrderTooLarge, SmartParameterError, ValidationError
from imagen_nb.core.rows import RowsError, expand_rows, placeholders

CARDS = [{"value": "Ace", "suit": "Spades", "lora": "cards.safetensors"},
         {"value": "Two", "suit": "Hearts", "lora": "tarot.safetensors"}]


def test_one_generation_per_row_with_placeholders_in_every_string_parameter():
    out = expand_rows({"prompt": "{value} of {suit}", "negative_prompt": "no {suit} missing",
                       "loras": [[{"path": "{lora}", "weight": 0.6}]], "width": 64}, CARDS)
    assert out.generations == [
        {"prompt": "Ace of Spades", "negative_prompt": "no Spades missing",
         "loras": [{"path": "cards.safetensors", "weight": 0.6}], "width": 64},
        {"prompt": "Two of Hearts", "negative_prompt": "no Hearts missing",
         "loras": [{"path": "tarot.safetensors", "weight": 0.6}], "width": 64},
    ]
    assert out.rows == [1, 2]


def test_rows_times_smart_parameter_groups_row_slowest():
    out = expand_rows({"prompt": "{value}, [red,blue]", "seed": "[1,2]"}, CARDS)
    assert len(out.generations) == 2 * 2 * 2
    assert [(g["prompt"], g["seed"]) for g in out.generations] == [
        ("Ace, red", 1), ("Ace, red", 2), ("Ace, blue", 1), ("Ace, blue", 2),
        ("Two, red", 1), ("Two, red", 2), ("Two, blue", 1), ("Two, blue", 2)]
    assert out.rows == [1, 1, 1, 1, 2, 2, 2, 2]


def test_a_column_named_like_a_parameter_sets_it_per_row_typed_by_the_spec():
    rows = [{"value": "Ace", "seed": "7", "width": "512", "loras": '[{"path": "a.safetensors", "weight": 0.5}]'},
            {"value": "Two", "seed": 8, "width": 768, "loras": [{"path": "b.safetensors", "weight": 1}]}]
    out = expand_rows({"prompt": "{value}", "seed": 1, "width": 64}, rows, parameters=["loras"],
                      types={"seed": "integer", "width": "integer", "loras": "array"})
    assert out.generations == [
        {"prompt": "Ace", "seed": 7, "width": 512, "loras": [{"path": "a.safetensors", "weight": 0.5}]},
        {"prompt": "Two", "seed": 8, "width": 768, "loras": [{"path": "b.safetensors", "weight": 1}]},
    ]


def test_a_lone_placeholder_keeps_the_cell_typed():
    out = expand_rows({"prompt": "p", "guidance_scale": "{cfg}"}, [{"cfg": "7.5"}, {"cfg": 3}],
                      types={"guidance_scale": "number"})
    assert [g["guidance_scale"] for g in out.generations] == [7.5, 3]


def test_doubled_braces_are_literal_and_cells_with_brackets_stay_text():
    out = expand_rows({"prompt": "{{{value}}} [masterpiece-free] {{x}}".replace("[masterpiece-free]", r"\[ok\]")},
                      [{"value": "[not a group]"}])
    assert out.generations == [{"prompt": "{[not a group]} [ok] {x}"}]


def test_random_picks_are_drawn_per_row_and_reproducible():
    rows = [{"v": str(i)} for i in range(40)]
    a = expand_rows({"prompt": "{v} [a|b]"}, rows, rng_seed=5).generations
    assert a == expand_rows({"prompt": "{v} [a|b]"}, rows, rng_seed=5).generations
    assert {g["prompt"].split()[1] for g in a} == {"a", "b"}


def test_the_limit_counts_rows_times_groups_before_anything_is_built():
    with pytest.raises(OrderTooLarge, match=r"60 generations \(rows ×20, ×3 per row.*limit is 50"):
        expand_rows({"prompt": "{v}", "seed": "[1..3]"}, [{"v": str(i)} for i in range(20)], limit=50)


@pytest.mark.parametrize("params, rows, row, column, words", [
    ({"prompt": "{valu} of {suit}"}, CARDS, None, "valu", "names no column of the rows (columns: value, suit, lora). "
                                                          "Did you mean 'value'?"),
    ({"prompt": "{suit}"}, [{"suit": "a"}, {"suit": "  "}], 2, "suit", "the cell is empty"),
    ({"prompt": "{suit}"}, [{"suit": "a"}, {"suit": None}], 2, "suit", "the cell is empty"),
    ({"prompt": "{suit}"}, [{"suit": "a"}, {"suit": float("nan")}], 2, "suit", "the cell is empty"),
    ({"prompt": "{suit}"}, [{"suit": "a"}, {"value": "b"}], 2, "suit", "the row has no such column"),
    ({"negative_prompt": "no {suit}", "prompt": "p"}, [{"suit": ""}], 1, "suit", "negative_prompt uses it"),
    ({"prompt": "p", "seed": 1}, [{"seed": "seven"}], 1, "seed", "'seven' is not an integer"),
])
def test_errors_name_the_row_and_the_column(params, rows, row, column, words):
    with pytest.raises(RowsError) as info:
        expand_rows(params, rows, types={"seed": "integer"})
    err = info.value
    assert (err.row, err.column_name) == (row, column)
    assert words in str(err)
    assert (f"row {row}" in str(err)) == (row is not None) and f"column {column!r}" in str(err)
    assert isinstance(err, ValidationError) and isinstance(err, ValueError)
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


@pytest.mark.parametrize("prompt, words", [
    ("{value", "'{' at character 1 is never closed"),
    ("value}", "'}' at character 6 has no matching '{'"),
    ("{} of {suit}", "empty placeholder {}"),
])
def test_stray_braces_say_how_to_write_literal_ones(prompt, words):
    with pytest.raises(RowsError, match="literal brace") as info:
        expand_rows({"prompt": prompt}, CARDS)
    assert words in str(info.value)


def test_an_empty_cell_in_a_column_nothing_uses_is_fine():
    out = expand_rows({"prompt": "{value}"}, [{"value": "Ace", "note": ""}])
    assert out.generations == [{"prompt": "Ace"}]


def test_a_parameter_column_against_a_grouped_parameter_is_refused():
    with pytest.raises(RowsError, match="both a column of the rows and a parameter with SmartParameter groups"):
        expand_rows({"prompt": "p", "seed": "[1,2]"}, [{"seed": 3}])


def test_bad_tables_are_refused():
    with pytest.raises(RowsError, match="no rows"):
        expand_rows({"prompt": "p"}, [])
    with pytest.raises(RowsError, match="row 2: a row is a dict"):
        expand_rows({"prompt": "p"}, [{"a": 1}, "b"])
    with pytest.raises(RowsError, match="give rows as a DataFrame"):
        expand_rows({"prompt": "p"}, "cards.csv")  # paths are read by the studio, not here


def test_smart_errors_still_come_through():
    with pytest.raises(SmartParameterError, match="mixes"):
        expand_rows({"prompt": "{value} [a,b|c]"}, CARDS)


def test_placeholders_lists_each_parameters_columns():
    assert placeholders({"prompt": "{a} {b} {a}", "loras": [{"path": "{c}"}], "seed": 1, "n": "{{x}}"}) == {
        "prompt": ["a", "b"], "loras": ["c"]}
