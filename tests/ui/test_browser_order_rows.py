"""Rows in the Order panel, in the served app (issue 13): attach a CSV by the file picker and
order it; pick a set; an error names the row and column and goes once fixed."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_attach_a_csv_preview_and_order_it(studio, served, tab, open_studio, tmp_path):
    cards = tmp_path / "cards.csv"
    cards.write_text("value,suit\nAce,Spades\nTwo,Hearts\nThree,Clubs\n")
    order = open_studio(tab, served, "order")
    rows = order.locator("[data-field=rows]")
    rows.get_by_role("button", name="Attach table…").wait_for()
    rows.get_by_label("Table file").set_input_files(str(cards))
    rows.locator(".inb-order-rows-count", has_text="3 rows").wait_for(timeout=20_000)
    assert rows.locator(".inb-order-colname").all_inner_texts() == ["{value}", "{suit}"]
    prompt = order.locator("[data-field=prompt] textarea")
    prompt.fill("the {value} of {sut}")                          # a typo: not a column
    rows.locator(".inb-order-rows-unknown", has_text="{sut}").wait_for(timeout=15_000)
    # the prompt's placeholders are highlighted under it: a column, and (red) a name the table lacks
    holders = order.locator("[data-field=prompt] .inb-order-holders")
    holders.locator(".inb-order-holder-bad", has_text="{sut}").wait_for(timeout=15_000)
    assert holders.locator(".inb-order-holder:not(.inb-order-holder-bad)").all_inner_texts() == ["{value}"]
    order.locator("[data-field=prompt] .inb-field-error", has_text="sut").wait_for(timeout=15_000)
    prompt.fill("the {value} of {suit}")
    order.locator(".inb-order-count", has_text="3 generations").wait_for(timeout=15_000)
    order.locator("[data-field=prompt] .inb-field-error").wait_for(state="detached", timeout=5_000)
    assert rows.locator(".inb-order-col-used").all_inner_texts() == ["{value}", "{suit}"]
    assert order.locator(".inb-order-count-rows").inner_text() == "from 3 rows"
    assert "the Ace of Spades" in order.locator(".inb-order-preview .inb-order-table").inner_text()
    tab.shot("rows", order)
    order.locator(".inb-order-go").click()
    order.locator(".inb-order-note", has_text="fulfilled").wait_for(timeout=60_000)
    prompts = sorted(studio.sql("select prompt from gallery")["prompt"])
    assert prompts == ["the Ace of Spades", "the Three of Clubs", "the Two of Hearts"]
    rows.get_by_role("button", name="Detach the table").click()
    order.locator(".inb-order-count", has_text="1 generation").wait_for(timeout=15_000)
    assert order.locator("[data-field=prompt] .inb-order-holders").count() == 0  # no table, no highlighting
    assert not tab.errors, tab.errors


def test_pick_a_set_and_an_empty_cell_is_named_by_row_and_column(studio, served, tab, open_studio, tmp_path):
    order = open_studio(tab, served, "order")
    rows = order.locator("[data-field=rows]")
    rows.get_by_label("Card set").select_option("zodiac")
    rows.locator(".inb-order-rows-count", has_text="12 rows").wait_for(timeout=20_000)
    order.locator(".inb-order-count", has_text="12 generations").wait_for(timeout=20_000)
    assert "{" in order.locator("[data-field=prompt] textarea").input_value()
    tab.shot("set", order)
    rows.get_by_role("button", name="Detach the table").click()
    bad = tmp_path / "bad.csv"
    bad.write_text("value,suit\nAce,Spades\nTwo,\n")
    rows.get_by_label("Table file").set_input_files(str(bad))
    rows.locator(".inb-order-rows-count", has_text="2 rows").wait_for(timeout=20_000)
    order.locator("[data-field=prompt] textarea").fill("the {value} of {suit}")
    error = order.locator("[data-field=prompt] .inb-field-error", has_text="row 2")
    error.wait_for(timeout=15_000)
    assert "suit" in error.inner_text()
    rows.locator(".inb-order-col-bad", has_text="{suit}").wait_for()
    rows.locator("tr.inb-order-row-bad").wait_for()
    tab.shot("rows-error", order)
    assert not tab.errors, tab.errors
