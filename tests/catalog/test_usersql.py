"""studio.sql: one read-only SELECT, time limit, row cap, no file system."""

from __future__ import annotations

import pandas as pd
import pytest

import imagen_nb as inb


@pytest.fixture
def filled(studio):
    studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1,2]", width=64, height=64).wait(30)
    return studio


def test_gallery_view_answers_the_readme_query(filled):
    frame = filled.sql("select prompt, seed from gallery where width = 64 order by prompt, seed")
    assert isinstance(frame, pd.DataFrame)
    assert frame.to_dict("records") == [
        {"prompt": "a blue fox", "seed": 1}, {"prompt": "a blue fox", "seed": 2},
        {"prompt": "a red fox", "seed": 1}, {"prompt": "a red fox", "seed": 2}]


def test_gallery_has_model_provider_rating_and_collections(filled):
    pid = filled.sql("select product_id from gallery limit 1").product_id[0]
    filled.rate(pid, 5)
    filled.collection("best").add(pid)
    row = filled.sql("select model, provider, rating, collections from gallery where product_id = ?", [pid])
    assert row.to_dict("records")[0] | {"collections": list(row.collections[0])} == {
        "model": "instant:swatch", "provider": "instant", "rating": 5, "collections": ["best"]}


@pytest.mark.parametrize("query, word", [
    ("copy products to '/tmp/out.csv'", "COPY"),
    ("attach '/tmp/other.duckdb'", "ATTACH"),
    ("install httpfs", "INSTALL statements"),  # DuckDB files it under LOAD: name what the user wrote
    ("force install httpfs", "FORCE INSTALL statements"),
    ("load httpfs", "LOAD statements"),
    ("import database '/tmp/x'", "IMPORT DATABASE statements"),  # DuckDB: PRAGMA
    ("/* hidden */ export database '/tmp/x'", "EXPORT DATABASE statements"),
    ("with x as (select 1) delete from products", "DELETE statements"),
    ("delete from products", "DELETE"),
    ("update products set rating = 1", "UPDATE"),
    ("create table t (a int)", "CREATE"),
    ("drop view gallery", "DROP"),
    ("select 1; select 2", "exactly one statement"),
])
def test_non_select_statements_are_refused_with_advice(filled, query, word):
    with pytest.raises(inb.SqlRefused, match=word) as info:
        filled.sql(query)
    assert "read-only SELECT" in str(info.value) or "one statement" in str(info.value)
    assert filled.sql("select count(*) as n from products").n[0] == 4


@pytest.mark.parametrize("query", [
    "select * from read_csv('/etc/passwd')",
    "select * from read_text('/etc/hostname')",
    "select * from glob('/etc/*')",
])
def test_file_readers_are_refused(filled, query):
    with pytest.raises(inb.SqlRefused, match="file or network access"):
        filled.sql(query)


def test_time_limit_interrupts_and_the_studio_keeps_working(filled):
    with pytest.raises(inb.SqlTimeout, match="time limit of 0.3 s"):
        filled.sql("select count(*) from range(1000000000000) a, range(1000) b", timeout=0.3)
    assert filled.sql("select count(*) as n from gallery").n[0] == 4
    filled.order("instant:swatch", prompt="after").wait(30)
    assert filled.sql("select count(*) as n from gallery").n[0] == 5


def test_row_cap_cuts_with_a_warning(filled):
    with pytest.warns(UserWarning, match="cut to 10 rows"):
        frame = filled.sql("select * from range(1000)", max_rows=10)
    assert len(frame) == 10 and frame.attrs["truncated"] is True
    assert filled.sql("select * from range(10)", max_rows=10).attrs["truncated"] is False


def test_invalid_sql_is_a_clear_error(filled):
    with pytest.raises(inb.SqlError, match="nonexistent"):
        filled.sql("select * from nonexistent")


def test_bound_parameters(filled):
    frame = filled.sql("select count(*) as n from gallery where prompt = ?", ["a red fox"])
    assert frame.n[0] == 2


def test_a_timeout_while_the_result_is_read_is_a_timeout(filled):
    """DuckDB reports an interrupt during the Arrow read as an untyped error: still SqlTimeout."""
    with pytest.raises(inb.SqlTimeout, match="time limit of 0.2 s") as info:
        filled.sql("select i from range(10000000000) t(i) where hash(i) % 5000 = 0", timeout=0.2)
    assert info.value.timeout == 0.2
