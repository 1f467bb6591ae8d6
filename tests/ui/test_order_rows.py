"""The Order panel's tables (issue 13): attach a CSV/TSV/JSON/JSONL/Parquet file, a set or a
DataFrame from Python; the preview fills ``{column}`` placeholders per row; errors name the row
and column; an order makes one generation per row (a set's products record the set and row)."""

from __future__ import annotations

import io
import json

import pytest

from imagen_nb.ui.order import OrderController

CARDS = "value,suit\nAce,Spades\nTwo,Hearts\nThree,Clubs\n"


@pytest.fixture
def order_page(studio, page):
    return page(OrderController(studio))


def _parquet() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"value": ["Ace", "Two"], "suit": ["Spades", "Hearts"]}), buf)
    return buf.getvalue()


@pytest.mark.parametrize("name,data", [
    ("cards.csv", CARDS.encode()),
    ("cards.tsv", CARDS.replace(",", "\t").encode()),
    ("cards.json", json.dumps([{"value": "Ace", "suit": "Spades"}, {"value": "Two", "suit": "Hearts"}]).encode()),
    ("cards.jsonl", b'{"value": "Ace", "suit": "Spades"}\n{"value": "Two", "suit": "Hearts"}\n'),
    ("cards.parquet", None),
])
def test_an_attached_file_shows_its_columns_and_fills_the_preview_per_row(order_page, name, data):
    data = _parquet() if data is None else data
    table = order_page.call("attach_file", buffers=[data], name=name)["table"]
    assert table["columns"] == ["value", "suit"] and table["source"] == "file" and table["name"] == name
    assert table["head"][0] == {"value": "Ace", "suit": "Spades"}
    preview = order_page.call("preview", model="instant:swatch", values={"prompt": "the {value} of {suit}", "seed": "[1,2]"})
    assert preview["table_count"] == table["count"]
    assert preview["count"] == 2 * table["count"]                # rows × SmartParameters
    assert preview["rows"][0]["prompt"] == "the Ace of Spades"
    assert "prompt" in preview["columns"]
    # The state a reopened view gets keeps the table.
    assert order_page.call("state")["table"]["count"] == table["count"]


def test_table_errors_name_the_row_and_column(order_page):
    order_page.call("attach_file", buffers=[b"value,suit\nAce,Spades\nTwo,\n"], name="cards.csv")
    err = order_page.error("preview", model="instant:swatch", values={"prompt": "the {value} of {suit}"})
    assert err["field"] == "prompt" and err["row"] == 2 and err["column_name"] == "suit"
    assert "row 2" in err["message"] and "'suit'" in err["message"]
    err = order_page.error("preview", model="instant:swatch", values={"prompt": "a {colour} card"})
    assert err["field"] == "prompt" and "colour" in err["message"]
    err = order_page.error("order", model="instant:swatch", values={"prompt": "a {colour} card"})
    assert err["field"] == "prompt"
    # Files that are not tables are refused at the table, naming the file.
    err = order_page.error("attach_file", buffers=[b"x"], name="cards.xlsx")
    assert err["field"] == "rows" and "cards.xlsx" in err["message"] and ".csv" in err["message"]
    err = order_page.error("attach_file", buffers=[b"[not json"], name="cards.json")
    assert err["field"] == "rows" and "cards.json" in err["message"] and "inb-table-" not in err["message"]


def test_an_order_from_an_attached_table_makes_one_generation_per_row(order_page, studio):
    order_page.call("attach_file", buffers=[CARDS.encode()], name="cards.csv")
    placed = order_page.call("order", model="instant:swatch", values={"prompt": "the {value} of {suit}"})
    assert placed["count"] == 3
    order = studio.get_order(placed["order_id"]).wait(30)
    prompts = sorted(p.prompt for p in order.products)
    assert prompts == ["the Ace of Spades", "the Three of Clubs", "the Two of Hearts"]
    # Detached: plain orders again.
    assert order_page.call("detach") == {"table": None}
    assert order_page.call("preview", model="instant:swatch", values={"prompt": "the {value}"})["count"] == 1


def test_a_set_fills_the_form_and_its_order_records_set_and_row(order_page, studio):
    sets = {s["name"]: s for s in order_page.call("sets")}
    assert {"card_deck", "tarot", "zodiac"} <= set(sets) and sets["card_deck"]["rows"] == 54
    out = order_page.call("attach_set", name="zodiac", model="instant:swatch")
    assert out["table"]["count"] == 12 and out["table"]["set"] == "zodiac" and out["model"] == "instant:swatch"
    assert "{" in out["values"]["prompt"]                        # the template, placeholders and all
    values = {k: v for k, v in out["values"].items() if k in {f["name"] for f in out["form"]["fields"]}}
    preview = order_page.call("preview", model="instant:swatch", values={**values, "width": "32", "height": "32"})
    assert preview["count"] == 12 and "{" not in preview["rows"][0]["prompt"]
    placed = order_page.call("order", model="instant:swatch", values={**values, "width": "32", "height": "32"})
    studio.get_order(placed["order_id"]).wait(60)
    rows = studio.sql("select set_name, set_row from set_products where order_id = ? order by set_row", [placed["order_id"]])
    assert list(rows["set_name"].unique()) == ["zodiac"] and list(rows["set_row"]) == list(range(1, 13))
    err = order_page.error("attach_set", name="tarrot")
    assert err["field"] == "rows" and "tarot" in err["message"]   # did you mean


def test_a_dataframe_from_python_is_pushed_to_the_panel(order_page, studio):
    import pandas as pd

    controller = order_page.controller
    table = controller.attach_rows(pd.DataFrame({"animal": ["cat", "dog"]}))
    assert table["count"] == 2 and table["source"] == "python"
    assert order_page.pushes("table")[-1]["table"]["columns"] == ["animal"]
    preview = order_page.call("preview", model="instant:swatch", values={"prompt": "a {animal}"})
    assert [r["prompt"] for r in preview["rows"]] == ["a cat", "a dog"]
    from imagen_nb.core.rows import RowsError

    with pytest.raises(RowsError):
        controller.attach_rows([{"animal": "cat"}, "not a row"])


def test_the_studio_widget_shows_a_dataframe_in_the_order_panel(studio):
    import pandas as pd

    from imagen_nb.ui.widgets import OrderPanel, StudioWidget

    widget = StudioWidget(studio)
    try:
        widget.show(rows=pd.DataFrame({"sign": ["Aries", "Taurus", "Gemini"]}))
        assert widget.controllers["order"].rpc_state()["table"]["count"] == 3
    finally:
        widget.close()
    panel = OrderPanel(studio)
    try:
        assert panel.attach_rows([{"a": 1}, {"a": 2}])["columns"] == ["a"]
    finally:
        panel.close()
