"""The migrated schema is pinned: a change to it must be a new migration and a change here."""

from __future__ import annotations

import json

from imagen_nb.catalog import Catalog
from imagen_nb.catalog.migrations import MIGRATIONS

COMMON = ["created_at", "updated_at", "deleted_at"]

PINNED = {
    "projects": ["id", "name", "description", "status", *COMMON],
    "models": ["id", "provider", "name", "type", "family", "description", "spec", *COMMON, "spec_fetched_at"],
    "api_calls": ["id", "generation_id", "order_id", "provider", "method", "endpoint", "status_code",
                  "duration_ms", "request_id", "attempt", "error", *COMMON],
    "orders": ["id", "project_id", "model_id", "base_params", "rng_seed", "status", "generation_count",
               "complete_count", "failed_count", "cancelled_count", "finished_at", *COMMON, "set_name", "row_count",
               "ordered_by_pid"],
    "generations": ["id", "order_id", "seq", "model_id", "status", "params", "actual_params", "return_params",
                    "error_type", "error_message", "traceback", "attempts", "started_at", "finished_at",
                    *COMMON, "set_row", "row_values", "pid"],
    "products": ["id", "generation_id", "order_id", "project_id", "model_id", "source", "kind", "media_type",
                 "path", "thumb_path", "size", "width", "height", "sha256", "rating", "prompt",
                 "negative_prompt", "seed", "num_inference_steps", "guidance_scale", "params", *COMMON],
    "collections": ["id", "name", "description", *COMMON],
    "collection_products": ["id", "collection_id", "product_id", *COMMON],
    "smart_tokens": ["id", "name", "values", *COMMON],
    "presets": ["id", "name", "model_id", "params", *COMMON],
    "sets": ["id", "name", "description", "model_id", "recipe", "table_rows", *COMMON],
    "civitai_files": ["id", "path", "kind", "local_name", "sha256", "origin", "source", "air", "model_id",
                      "version_id", "file_id", "model_name", "version_name", "model_type", "base_model", "family",
                      "trigger_words", "licence", "size", *COMMON],
    "civitai_hashes": ["sha256", "found", "version", "fetched_at"],
    "schema_migrations": ["name", "applied_at"],
    "home": ["path"],
    "gallery": ["product_id", "prompt", "negative_prompt", "seed", "num_inference_steps", "guidance_scale",
                "width", "height", "model", "provider", "family", "model_type", "rating", "collections",
                "project", "project_id", "order_id", "generation_id", "kind", "media_type", "source", "path",
                "thumb_path", "size", "sha256", "params", "created_at", "clip_score", "aesthetic_score",
                "judge_score"],
    "scores": ["id", "product_id", "scorer", "value", "details", *COMMON],
    "refinements": ["id", "status", "model_id", "judge_id", "rewriter_id", "scorer", "iterations", "n", "goal",
                    "stop_at", "project_id", "params", "error", "finished_at", *COMMON],
    "refinement_items": ["id", "refinement_id", "idx", "title", "prompt", "extra", "status", "reason",
                         "best_product_id", "best_score", "finished_at", *COMMON],
    "refinement_rounds": ["id", "refinement_id", "item_id", "round", "prompt", "image_order_id", "judge_order_id",
                          "rewriter_order_id", "best_product_id", "best_score", "judgement_product_id", "judgement",
                          "next_prompt", "status", *COMMON],
    "texts": ["product_id", "model", "model_type", "text", "prompt", "image_product_id", "order_id",
              "generation_id", "project_id", "path", "created_at"],
    "lineage": ["refinement_id", "item_id", "item", "title", "round", "prompt", "product_id", "score",
                "judgement_product_id", "judgement", "next_prompt", "next_product_id", "image_order_id",
                "judge_order_id", "rewriter_order_id", "status"],
}
PINNED["training_runs"] = ["id", "name", "base_model", "base_hash", "project_id", "collection_id", "status", "step",
                           "total_steps", "config", "dataset", "image_count", "captions", "lora_path", "lora_sha256",
                           "error_type", "error_message", "pid", "started_at", "finished_at", *COMMON]
PINNED["training_metrics"] = ["run_id", "step", "loss", "lr", "images_per_second", *COMMON]
PINNED["training_checkpoints"] = ["id", "run_id", "step", "lora_path", "sha256", "state_path", *COMMON]
PINNED["set_products"] = [*PINNED["gallery"], "set_name", "set_row", "row_values"]


def columns(catalog: Catalog) -> dict[str, list[str]]:
    rows = catalog.cursor().execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def test_blank_catalog_migrates_to_the_pinned_schema(tmp_path):
    catalog = Catalog(tmp_path)
    try:
        assert catalog.applied_migrations == [m.__name__ for m in MIGRATIONS]
        assert columns(catalog) == PINNED
        recorded = [r[0] for r in catalog.cursor().execute(
            "SELECT name FROM schema_migrations ORDER BY applied_at, name").fetchall()]
        assert recorded == [m.__name__ for m in MIGRATIONS]
    finally:
        catalog.close()


def test_reopening_applies_nothing_and_keeps_data(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.cursor().execute("INSERT INTO projects (id, name) VALUES ('p1', 'kept')")
    catalog.close()
    catalog = Catalog(tmp_path)
    try:
        assert catalog.applied_migrations == []
        assert catalog.cursor().execute("SELECT name FROM projects").fetchall() == [("kept",)]
    finally:
        catalog.close()


def test_statuses_are_checked_by_the_database(tmp_path):
    import duckdb
    import pytest

    catalog = Catalog(tmp_path)
    try:
        with pytest.raises(duckdb.ConstraintException):
            catalog.cursor().execute(
                "INSERT INTO orders (id, model_id, base_params, rng_seed, status, generation_count) "
                "VALUES ('o', 'm', '{}', 1, 'done', 1)")
    finally:
        catalog.close()


def test_prompts_stored_before_the_import_limits_are_cut_on_open(tmp_path):
    from imagen_nb.core.limits import MAX_PROMPT_CHARS

    catalog = Catalog(tmp_path)
    huge = "a bomb's prompt " * 200_000  # 3.2 MB, as a zTXt bomb once stored
    catalog.cursor().execute(
        "INSERT INTO products (id, source, media_type, path, size, sha256, prompt, negative_prompt, params) "
        "VALUES ('p1', 'imported', 'image/png', 'x.png', 1, 'h', ?, 'short', ?)",
        [huge, json.dumps({"prompt": huge, "seed": 7, "negative_prompt": "short"})])
    catalog.cursor().execute("DELETE FROM schema_migrations WHERE name = 'm005_bound_prompt_columns'")
    catalog.close()
    catalog = Catalog(tmp_path)
    try:
        assert catalog.applied_migrations == ["m005_bound_prompt_columns"]
        prompt, negative, params = catalog.cursor().execute(
            "SELECT prompt, negative_prompt, params FROM products").fetchone()
        assert prompt == huge[:MAX_PROMPT_CHARS] and negative == "short"
        assert json.loads(params) == {"prompt": huge[:MAX_PROMPT_CHARS], "seed": 7, "negative_prompt": "short"}
    finally:
        catalog.close()


def test_absolute_paths_of_an_old_catalog_become_relative_to_the_home(tmp_path):
    """A catalog from before m006 lists files under the home it was made in (here one since moved)."""
    import duckdb

    from imagen_nb.catalog import migrations

    old_home = "/somewhere/else/old-home"
    con = duckdb.connect(str(tmp_path / "catalog.duckdb"))
    con.execute("CREATE TABLE schema_migrations (name VARCHAR PRIMARY KEY, "
                "applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)")
    for fn in migrations.MIGRATIONS[:5]:
        fn(con)
        con.execute("INSERT INTO schema_migrations (name) VALUES (?)", [fn.__name__])
    rows = [("a" * 26, f"{old_home}/products/2025/01/{'a' * 26}.png", f"{old_home}/thumbs/2025/01/{'a' * 26}.webp"),
            ("b" * 26, f"{old_home}/products/2025/02/{'b' * 26}.png", f"{old_home}/products/2025/02/{'b' * 26}.png"),
            ("c" * 26, "/elsewhere/c.png", None)]
    for pid, path, thumb in rows:
        con.execute("INSERT INTO products (id, source, media_type, path, thumb_path, size, sha256) "
                    "VALUES (?, 'generated', 'image/png', ?, ?, 1, 'x')", [pid, path, thumb])
    con.close()

    catalog = Catalog(tmp_path)
    try:
        assert catalog.applied_migrations == [m.__name__ for m in migrations.MIGRATIONS[5:]]  # m006 and later
        cur = catalog.cursor()
        assert cur.execute("SELECT id, path, thumb_path FROM products ORDER BY id").fetchall() == [
            ("a" * 26, f"products/2025/01/{'a' * 26}.png", f"thumbs/2025/01/{'a' * 26}.webp"),
            ("b" * 26, f"products/2025/02/{'b' * 26}.png", f"products/2025/02/{'b' * 26}.png"),
            ("c" * 26, "/elsewhere/c.png", None),  # outside any home's layout: left as it was
        ]
        # The gallery shows where the files are now: under the home the catalog lies in.
        assert cur.execute("SELECT path, thumb_path FROM gallery ORDER BY product_id").fetchall() == [
            (f"{tmp_path}/products/2025/01/{'a' * 26}.png", f"{tmp_path}/thumbs/2025/01/{'a' * 26}.webp"),
            (f"{tmp_path}/products/2025/02/{'b' * 26}.png", f"{tmp_path}/products/2025/02/{'b' * 26}.png"),
            ("/elsewhere/c.png", None),
        ]
    finally:
        catalog.close()
