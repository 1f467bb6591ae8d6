"""The imagen-nb command for orders from rows and sets (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

from imagen_nb.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_order_with_rows_from_a_csv(capsys, home, tmp_path):
    cards = tmp_path / "cards.csv"
    cards.write_text("value,suit\nAce,Spades\nTwo,Hearts\n")
    code, out, err = run(capsys, "order", "instant:swatch", "--rows", str(cards), "--prompt", "{value} of {suit}",
                         "--seed", "[1,2]")
    assert code == 0, err
    assert len(out.split()) == 4 and all(Path(p).exists() for p in out.split())
    code, out, _ = run(capsys, "sql", "--json", "select prompt, seed, set_row from set_products order by set_row, seed")
    assert json.loads(out) == [{"prompt": "Ace of Spades", "seed": 1, "set_row": 1},
                               {"prompt": "Ace of Spades", "seed": 2, "set_row": 1},
                               {"prompt": "Two of Hearts", "seed": 1, "set_row": 2},
                               {"prompt": "Two of Hearts", "seed": 2, "set_row": 2}]


def test_a_bad_cell_is_one_line_naming_row_and_column(capsys, tmp_path):
    cards = tmp_path / "cards.csv"
    cards.write_text("value,suit\nAce,Spades\nTwo,\n")
    code, out, err = run(capsys, "order", "instant:swatch", "--rows", str(cards), "--prompt", "{value} of {suit}")
    assert code == 2 and out == ""
    assert err.strip() == ("imagen-nb: prompt: row 2, column 'suit': the cell is empty and prompt uses it; "
                           "fill it, or remove the row")


def test_sets_list_show_and_order(capsys, home):
    code, out, _ = run(capsys, "sets", "list")
    assert code == 0 and "card_deck" in out and "tarot" in out and "zodiac" in out and " 54 " in out
    code, out, _ = run(capsys, "sets", "show", "zodiac")
    assert code == 0 and "prompt: a zodiac card, celestial engraving, {sign}" in out and "rows: 12" in out
    assert "Pisces" in out
    code, out, err = run(capsys, "sets", "order", "zodiac", "instant:swatch", "--theme", "ink",
                         "--width", "64", "--height", "64")
    assert code == 0, err
    assert len(out.split()) == 12
    code, out, _ = run(capsys, "sql", "--json", "select distinct set_name from set_products")
    assert json.loads(out) == [{"set_name": "zodiac"}]


def test_sets_errors_are_one_line(capsys):
    code, _, err = run(capsys, "sets", "show", "tarrot")
    assert code == 2 and "no set 'tarrot'. Did you mean 'tarot'?" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "sets", "order", "zodiac")
    assert code == 2 and "set 'zodiac' names no model" in err
    code, _, err = run(capsys, "sets", "show")
    assert code == 2 and "needs a NAME" in err


def test_grid_writes_an_orders_grid(capsys, tmp_path):
    code, out, err = run(capsys, "order", "instant:swatch", "--prompt", "a [red,blue] fox", "--seed", "[1..3]",
                         "--no-wait")
    assert code == 0, err
    order_id = out.strip()
    from imagen_nb import Studio

    with Studio() as studio:
        studio.get_order(order_id).wait(30)
    target = tmp_path / "fox.png"
    code, out, err = run(capsys, "grid", order_id, "--out", str(target))
    assert code == 0, err
    assert out.startswith(f"{target} (x=seed, y=prompt; 3×2×1 cells, ") and target.is_file()
    code, _, err = run(capsys, "grid", order_id, "--x", "sed")
    assert code == 2 and "Did you mean 'seed'?" in err
