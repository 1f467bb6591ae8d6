"""Reading the tables of orders from rows: CSV, TSV, JSON, JSON Lines, Parquet, DataFrame, list."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imagen_nb.core.rows import RowsError
from imagen_nb.store.examples import example_sets
from imagen_nb.store.tables import read_rows

ROWS = [{"value": "Ace", "suit": "Spades", "seed": 7}, {"value": "Two", "suit": "Hearts", "seed": 8}]


def test_csv_and_tsv_are_read_as_written(tmp_path):
    (tmp_path / "cards.csv").write_text("value,suit,seed\nAce,Spades,07\n\"Two, red\",Hearts,\n", encoding="utf-8")
    (tmp_path / "cards.tsv").write_text("value\tsuit\tseed\nAce\tSpades\t07\nTwo, red\tHearts\t\n", encoding="utf-8")
    expected = [{"value": "Ace", "suit": "Spades", "seed": "07"}, {"value": "Two, red", "suit": "Hearts", "seed": ""}]
    assert read_rows(tmp_path / "cards.csv") == expected
    assert read_rows(str(tmp_path / "cards.tsv")) == expected


def test_json_jsonl_parquet_dataframe_and_lists_keep_their_types(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(ROWS))
    (tmp_path / "b.json").write_text(json.dumps({"rows": ROWS}))
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "d.parquet")
    for source in (tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.jsonl", tmp_path / "d.parquet",
                   pd.DataFrame(ROWS), ROWS):
        rows = read_rows(source)
        assert rows == ROWS, source
        assert type(rows[0]["seed"]) is int  # no numpy scalars reach the catalog


def test_dataframe_gaps_become_none():
    rows = read_rows(pd.DataFrame({"value": ["Ace", None], "weight": [0.5, float("nan")]}))
    assert rows == [{"value": "Ace", "weight": 0.5}, {"value": None, "weight": None}]


@pytest.mark.parametrize("name, content, words", [
    ("cards.xlsx", b"", "read rows from a .csv"),
    ("missing.csv", None, "no such file"),
    ("bad.json", b"{not json", "cannot read it as JSON"),
    ("obj.json", b'{"a": 1}', "holds a list of objects"),
])
def test_bad_files_are_named(tmp_path, name, content, words):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RowsError, match=words) as info:
        read_rows(path)
    assert name in str(info.value)


def test_the_example_sets_have_54_22_and_12_rows():
    sets = example_sets()
    assert {name: len(s.rows) for name, s in sets.items()} == {"card_deck": 54, "tarot": 22, "zodiac": 12}
    assert sets["card_deck"].columns == ["value", "suit", "personality", "visual_layout"]
    assert len({(r["value"], r["suit"]) for r in sets["card_deck"].rows}) == 54
    assert all(all(str(v).strip() for v in r.values()) for s in sets.values() for r in s.rows)  # no empty cells
