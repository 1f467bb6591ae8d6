"""Schema migrations: an ordered list of named functions, each applied once and recorded.

Never edit a migration that has shipped; append a new one.
"""

from __future__ import annotations

from typing import Callable

import duckdb

from ..core.errors import CatalogMigrationError

_COMMON = """
    created_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    deleted_at TIMESTAMPTZ
"""


def m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    """The tables of DESIGN.md §2, each with id, created_at, updated_at, deleted_at."""
    con.execute(f"""
    CREATE TABLE projects (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        description VARCHAR NOT NULL DEFAULT '',
        status VARCHAR NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE models (
        id VARCHAR PRIMARY KEY,
        provider VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        family VARCHAR NOT NULL,
        description VARCHAR NOT NULL DEFAULT '',
        spec JSON,
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE orders (
        id VARCHAR PRIMARY KEY,
        project_id VARCHAR,
        model_id VARCHAR NOT NULL,
        base_params JSON NOT NULL,
        rng_seed BIGINT NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN
            ('pending', 'processing', 'underway', 'fulfilled', 'cancelled', 'failed')),
        generation_count INTEGER NOT NULL,
        complete_count INTEGER NOT NULL DEFAULT 0,
        failed_count INTEGER NOT NULL DEFAULT 0,
        cancelled_count INTEGER NOT NULL DEFAULT 0,
        finished_at TIMESTAMPTZ,
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE generations (
        id VARCHAR PRIMARY KEY,
        order_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        model_id VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN
            ('pending', 'generating', 'complete', 'failed', 'cancelled')),
        params JSON NOT NULL,
        actual_params JSON,
        return_params JSON,
        error_type VARCHAR,
        error_message VARCHAR,
        traceback VARCHAR,
        attempts INTEGER NOT NULL DEFAULT 0,
        started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ,
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE products (
        id VARCHAR PRIMARY KEY,
        generation_id VARCHAR,
        order_id VARCHAR,
        project_id VARCHAR,
        model_id VARCHAR,
        source VARCHAR NOT NULL CHECK (source IN ('generated', 'imported')),
        kind VARCHAR NOT NULL DEFAULT 'image',
        media_type VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        thumb_path VARCHAR,
        size BIGINT NOT NULL,
        width INTEGER,
        height INTEGER,
        sha256 VARCHAR NOT NULL,
        rating TINYINT CHECK (rating BETWEEN 1 AND 5),
        prompt VARCHAR,
        negative_prompt VARCHAR,
        seed BIGINT,
        num_inference_steps INTEGER,
        guidance_scale DOUBLE,
        params JSON,
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE collections (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        description VARCHAR NOT NULL DEFAULT '',
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE collection_products (
        id VARCHAR PRIMARY KEY,
        collection_id VARCHAR NOT NULL,
        product_id VARCHAR NOT NULL,
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE smart_tokens (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        "values" JSON NOT NULL,
        {_COMMON}
    )""")
    con.execute("CREATE INDEX generations_order ON generations (order_id)")
    con.execute("CREATE INDEX products_order ON products (order_id)")
    con.execute("CREATE INDEX products_created ON products (created_at)")


def m002_gallery_view(con: duckdb.DuckDBPyConnection) -> None:
    """The ``gallery`` view: one row per live product with the common parameters as columns."""
    con.execute("""
    CREATE VIEW gallery AS
    WITH product_collections AS (
        SELECT cp.product_id, list(c.name ORDER BY c.name) AS collections
        FROM collection_products cp JOIN collections c ON c.id = cp.collection_id
        WHERE cp.deleted_at IS NULL AND c.deleted_at IS NULL
        GROUP BY cp.product_id
    )
    SELECT
        p.id AS product_id,
        p.prompt, p.negative_prompt, p.seed, p.num_inference_steps, p.guidance_scale,
        p.width, p.height,
        p.model_id AS model,
        coalesce(m.provider, split_part(p.model_id, ':', 1)) AS provider,
        m.family, m.type AS model_type,
        p.rating,
        coalesce(pc.collections, []::VARCHAR[]) AS collections,
        pr.name AS project,
        p.project_id, p.order_id, p.generation_id,
        p.kind, p.media_type, p.source, p.path, p.thumb_path, p.size, p.sha256,
        p.params,
        p.created_at
    FROM products p
    LEFT JOIN projects pr ON pr.id = p.project_id
    LEFT JOIN models m ON m.id = p.model_id
    LEFT JOIN product_collections pc ON pc.product_id = p.id
    WHERE p.deleted_at IS NULL
    """)


def m003_api_calls(con: duckdb.DuckDBPyConnection) -> None:
    """Remote providers' HTTP calls per generation, and when each model's spec was fetched."""
    con.execute(f"""
    CREATE TABLE api_calls (
        id VARCHAR PRIMARY KEY,
        generation_id VARCHAR,
        order_id VARCHAR,
        provider VARCHAR NOT NULL,
        method VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        status_code INTEGER,
        duration_ms DOUBLE NOT NULL,
        request_id VARCHAR,
        attempt INTEGER NOT NULL DEFAULT 1,
        error VARCHAR,
        {_COMMON}
    )""")
    con.execute("CREATE INDEX api_calls_generation ON api_calls (generation_id)")
    con.execute("ALTER TABLE models ADD COLUMN spec_fetched_at TIMESTAMPTZ")


def m004_presets(con: duckdb.DuckDBPyConnection) -> None:
    """Presets: named parameter sets (with the model they were saved for) saved from the Order panel."""
    con.execute(f"""
    CREATE TABLE presets (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        model_id VARCHAR,
        params JSON NOT NULL,
        {_COMMON}
    )""")


def m005_bound_prompt_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Cut stored prompts to 32,768 characters (``core.limits.MAX_PROMPT_CHARS`` when written).

    Before issue 10 an imported file could store a 200 MB prompt (a zTXt bomb), after which
    every Gallery page read it. The prompt columns are cut, and so are the prompts inside the
    parameters of imported products; a generation's parameters keep what the user typed.
    """
    limit = 32_768  # a literal: a shipped migration must not change when the constant does
    for column in ("prompt", "negative_prompt"):
        con.execute(f"UPDATE products SET {column} = left({column}, ?) WHERE length({column}) > ?",
                    [limit, limit])
        con.execute(f"""UPDATE products SET params = json_merge_patch(params,
                            json_object('{column}', left(params->>'{column}', ?)))
                        WHERE source = 'imported' AND length(params->>'{column}') > ?""", [limit, limit])


_LAYOUT_TAIL = r"[/\\]((products|thumbs)[/\\][0-9]{4}[/\\][0-9]{2}[/\\][^/\\]+)$"


def _relative(column: str) -> str:
    # The part from products/ or thumbs/ on, with / separators, of an absolute path in the
    # store's layout; anything else (already relative, or outside the layout) is kept.
    return (f"CASE WHEN regexp_matches({column}, '{_LAYOUT_TAIL}') "
            f"THEN replace(regexp_extract({column}, '{_LAYOUT_TAIL}', 1), '\\', '/') ELSE {column} END")


def m006_relative_paths(con: duckdb.DuckDBPyConnection) -> None:
    """Product and thumbnail paths relative to the home (DESIGN §6), so a home can be moved.

    Rows written before stored absolute paths under the home they were made in, which may not
    be where the catalog lies now (the bug this fixes: a moved home lost its gallery). Every
    path in the store's layout, ``<somewhere>/products/<yyyy>/<mm>/<file>`` (or ``thumbs/``),
    becomes ``products/<yyyy>/<mm>/<file>``, whichever home it was under. The ``home`` table
    holds where the catalog is open now (written at each open), and the ``gallery`` view
    shows absolute paths from it.
    """
    con.execute("CREATE TABLE IF NOT EXISTS home (path VARCHAR NOT NULL)")
    con.execute(f"UPDATE products SET path = {_relative('path')}, "
                f"thumb_path = {_relative('thumb_path')} WHERE path IS NOT NULL")
    absolute = r"regexp_matches({0}, '^([/\\]|[A-Za-z]:)')"
    resolved = ("CASE WHEN {0} IS NULL OR " + absolute + " THEN {0} "
                "ELSE (SELECT any_value(path) FROM home) || '/' || {0} END")
    con.execute(f"""
    CREATE OR REPLACE VIEW gallery AS
    WITH product_collections AS (
        SELECT cp.product_id, list(c.name ORDER BY c.name) AS collections
        FROM collection_products cp JOIN collections c ON c.id = cp.collection_id
        WHERE cp.deleted_at IS NULL AND c.deleted_at IS NULL
        GROUP BY cp.product_id
    )
    SELECT
        p.id AS product_id,
        p.prompt, p.negative_prompt, p.seed, p.num_inference_steps, p.guidance_scale,
        p.width, p.height,
        p.model_id AS model,
        coalesce(m.provider, split_part(p.model_id, ':', 1)) AS provider,
        m.family, m.type AS model_type,
        p.rating,
        coalesce(pc.collections, []::VARCHAR[]) AS collections,
        pr.name AS project,
        p.project_id, p.order_id, p.generation_id,
        p.kind, p.media_type, p.source,
        {resolved.format('p.path')} AS path,
        {resolved.format('p.thumb_path')} AS thumb_path,
        p.size, p.sha256,
        p.params,
        p.created_at
    FROM products p
    LEFT JOIN projects pr ON pr.id = p.project_id
    LEFT JOIN models m ON m.id = p.model_id
    LEFT JOIN product_collections pc ON pc.product_id = p.id
    WHERE p.deleted_at IS NULL
    """)


def m011_sets(con: duckdb.DuckDBPyConnection) -> None:
    """Sets (issue 13): saved recipes of rows + templates, and the set and row of each generation.

    ``sets`` holds a recipe (template, base, theme, style, params, model) and its rows (``table_rows``)
    as JSON. An order from rows records its set's name (NULL for rows given inline) and how many
    rows it had; each generation records its row number (1-based) and the row's cells. The view
    ``set_products`` is the gallery of the products of orders from rows, with ``set_name``,
    ``set_row`` and ``row_values`` (a view of its own: joining generations into ``gallery`` itself
    made every gallery page ~50% slower on a 100,000-product catalog).
    """
    con.execute(f"""
    CREATE TABLE sets (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        description VARCHAR NOT NULL DEFAULT '',
        model_id VARCHAR,
        recipe JSON NOT NULL,
        table_rows JSON NOT NULL,
        {_COMMON}
    )""")
    con.execute("ALTER TABLE orders ADD COLUMN set_name VARCHAR")
    con.execute("ALTER TABLE orders ADD COLUMN row_count INTEGER")
    con.execute("ALTER TABLE generations ADD COLUMN set_row INTEGER")
    con.execute("ALTER TABLE generations ADD COLUMN row_values JSON")
    con.execute("""
    CREATE VIEW set_products AS
    SELECT gl.*, o.set_name, g.set_row, g.row_values
    FROM gallery gl
    JOIN generations g ON g.id = gl.generation_id
    JOIN orders o ON o.id = g.order_id
    WHERE g.set_row IS NOT NULL
    """)


def m016_process_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Which process did what (issue 12): ``orders.ordered_by_pid`` is the process that placed
    the order (the host itself, a Python client of it, NULL for a REST call), and
    ``generations.pid`` the process that ran the generation's latest attempt (the host, or a Dask
    worker). Rows from before are NULL: not known."""
    con.execute("ALTER TABLE orders ADD COLUMN IF NOT EXISTS ordered_by_pid INTEGER")
    con.execute("ALTER TABLE generations ADD COLUMN IF NOT EXISTS pid INTEGER")


def m015_civitai(con: duckdb.DuckDBPyConnection) -> None:
    """civitai (issue 17): where model and LoRA files came from, and what civitai said of their hashes.

    ``civitai_files`` has one row per local file civitai knows (downloaded by ``add_model``, or
    identified by ``identify``): its path and sha256, the AIR, model, version and file ids, names,
    base model, trigger words and licence. ``civitai_hashes`` caches by-hash lookups (``found``
    false for files civitai does not know), so ``identify`` asks once per file.
    """
    con.execute(f"""
    CREATE TABLE civitai_files (
        id VARCHAR PRIMARY KEY,
        path VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        local_name VARCHAR,
        sha256 VARCHAR NOT NULL,
        origin VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        air VARCHAR,
        model_id BIGINT,
        version_id BIGINT,
        file_id BIGINT,
        model_name VARCHAR,
        version_name VARCHAR,
        model_type VARCHAR,
        base_model VARCHAR,
        family VARCHAR,
        trigger_words JSON,
        licence JSON,
        size BIGINT,
        {_COMMON}
    )""")
    con.execute("""
    CREATE TABLE civitai_hashes (
        sha256 VARCHAR PRIMARY KEY,
        found BOOLEAN NOT NULL,
        version JSON,
        fetched_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""")


def _gallery_select(where: str) -> str:
    # The m006 gallery, with the score columns of m012 (a literal copy: shipped migrations never change).
    absolute = r"regexp_matches({0}, '^([/\\]|[A-Za-z]:)')"
    resolved = ("CASE WHEN {0} IS NULL OR " + absolute + " THEN {0} "
                "ELSE (SELECT any_value(path) FROM home) || '/' || {0} END")
    return f"""
    WITH product_collections AS (
        SELECT cp.product_id, list(c.name ORDER BY c.name) AS collections
        FROM collection_products cp JOIN collections c ON c.id = cp.collection_id
        WHERE cp.deleted_at IS NULL AND c.deleted_at IS NULL
        GROUP BY cp.product_id
    ), product_scores AS (
        SELECT product_id,
            arg_max(value, updated_at) FILTER (WHERE kind = 'clip') AS clip_score,
            arg_max(value, updated_at) FILTER (WHERE kind = 'aesthetic') AS aesthetic_score,
            arg_max(value, updated_at) FILTER (WHERE kind = 'judge') AS judge_score
        FROM (SELECT product_id, value, updated_at, split_part(scorer, ':', 1) AS kind
              FROM scores WHERE deleted_at IS NULL)
        GROUP BY product_id
    )
    SELECT
        p.id AS product_id,
        p.prompt, p.negative_prompt, p.seed, p.num_inference_steps, p.guidance_scale,
        p.width, p.height,
        p.model_id AS model,
        coalesce(m.provider, split_part(p.model_id, ':', 1)) AS provider,
        m.family, m.type AS model_type,
        p.rating,
        coalesce(pc.collections, []::VARCHAR[]) AS collections,
        pr.name AS project,
        p.project_id, p.order_id, p.generation_id,
        p.kind, p.media_type, p.source,
        {resolved.format('p.path')} AS path,
        {resolved.format('p.thumb_path')} AS thumb_path,
        p.size, p.sha256,
        p.params,
        p.created_at,
        ps.clip_score, ps.aesthetic_score, ps.judge_score
    FROM products p
    LEFT JOIN projects pr ON pr.id = p.project_id
    LEFT JOIN models m ON m.id = p.model_id
    LEFT JOIN product_collections pc ON pc.product_id = p.id
    LEFT JOIN product_scores ps ON ps.product_id = p.id
    WHERE {where}
    """


def m012_refine(con: duckdb.DuckDBPyConnection) -> None:
    """Scores and refinements (issue 15): judges, rewriters and the generate → judge → rewrite loop.

    - ``scores``: one number per (product, scorer) — ``clip:<model>``, ``aesthetic:<model>``,
      ``judge:<model>`` — with ``details`` (what produced it: the prompt scored, the judgement…).
    - Text that an ``image-to-text`` or ``text-to-text`` model writes is a product of kind ``text``
      (a ``.txt`` file, its text also in the generation's ``return_params.text``), so judges and
      rewriters run as orders like any model. The ``gallery`` view keeps images, video and audio
      (text products are in the ``texts`` view) and gains ``clip_score``, ``aesthetic_score`` and
      ``judge_score`` (each the latest of its kind).
    - ``refinements`` (one per ``studio.refine`` call), ``refinement_items`` (one per prompt) and
      ``refinement_rounds`` (one per prompt and round: the orders placed, the best product, its
      judgement and score, the next prompt). Order ids are chosen and written here before the order
      is placed, so a refinement resumed after a crash waits for its orders instead of placing them
      again. The view ``lineage`` joins each round to the next: product → judgement → next prompt
      → next product.
    """
    con.execute(f"""
    CREATE TABLE scores (
        id VARCHAR PRIMARY KEY,
        product_id VARCHAR NOT NULL,
        scorer VARCHAR NOT NULL,
        value DOUBLE NOT NULL,
        details JSON,
        {_COMMON}
    )""")
    con.execute("CREATE INDEX scores_product ON scores (product_id)")
    con.execute(f"""
    CREATE TABLE refinements (
        id VARCHAR PRIMARY KEY,
        status VARCHAR NOT NULL CHECK (status IN ('running', 'done', 'cancelled', 'failed')),
        model_id VARCHAR NOT NULL,
        judge_id VARCHAR NOT NULL,
        rewriter_id VARCHAR NOT NULL,
        scorer VARCHAR NOT NULL,
        iterations INTEGER NOT NULL,
        n INTEGER NOT NULL,
        goal VARCHAR,
        stop_at DOUBLE,
        project_id VARCHAR,
        params JSON NOT NULL,
        error VARCHAR,
        finished_at TIMESTAMPTZ,
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE refinement_items (
        id VARCHAR PRIMARY KEY,
        refinement_id VARCHAR NOT NULL,
        idx INTEGER NOT NULL,
        title VARCHAR,
        prompt VARCHAR NOT NULL,
        extra JSON,
        status VARCHAR NOT NULL CHECK (status IN ('running', 'done', 'stopped', 'failed', 'cancelled')),
        reason VARCHAR,
        best_product_id VARCHAR,
        best_score DOUBLE,
        finished_at TIMESTAMPTZ,
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE refinement_rounds (
        id VARCHAR PRIMARY KEY,
        refinement_id VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        round INTEGER NOT NULL,
        prompt VARCHAR NOT NULL,
        image_order_id VARCHAR,
        judge_order_id VARCHAR,
        rewriter_order_id VARCHAR,
        best_product_id VARCHAR,
        best_score DOUBLE,
        judgement_product_id VARCHAR,
        judgement VARCHAR,
        next_prompt VARCHAR,
        status VARCHAR NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
        {_COMMON}
    )""")
    con.execute("CREATE INDEX refinement_rounds_item ON refinement_rounds (item_id)")
    where = "p.deleted_at IS NULL AND p.kind <> 'text'"
    con.execute(f"CREATE OR REPLACE VIEW gallery AS {_gallery_select(where)}")
    # made again so that its recorded columns include the gallery's new ones (m011's query, unchanged)
    con.execute("""
    CREATE OR REPLACE VIEW set_products AS
    SELECT gl.*, o.set_name, g.set_row, g.row_values
    FROM gallery gl
    JOIN generations g ON g.id = gl.generation_id
    JOIN orders o ON o.id = g.order_id
    WHERE g.set_row IS NOT NULL
    """)
    con.execute("""
    CREATE VIEW texts AS
    SELECT p.id AS product_id, p.model_id AS model, m.type AS model_type,
        g.return_params->>'text' AS text, p.prompt,
        g.params->>'image' AS image_product_id,
        p.order_id, p.generation_id, p.project_id, p.path, p.created_at
    FROM products p
    JOIN generations g ON g.id = p.generation_id
    LEFT JOIN models m ON m.id = p.model_id
    WHERE p.deleted_at IS NULL AND p.kind = 'text'
    """)
    con.execute("""
    CREATE VIEW lineage AS
    SELECT r.refinement_id, r.item_id, i.idx AS item, i.title, r.round, r.prompt,
        r.best_product_id AS product_id, r.best_score AS score,
        r.judgement_product_id, r.judgement, r.next_prompt,
        nx.best_product_id AS next_product_id,
        r.image_order_id, r.judge_order_id, r.rewriter_order_id, r.status
    FROM refinement_rounds r
    JOIN refinement_items i ON i.id = r.item_id
    LEFT JOIN refinement_rounds nx ON nx.item_id = r.item_id AND nx.round = r.round + 1
    """)


def m013_training(con: duckdb.DuckDBPyConnection) -> None:
    """LoRA training runs (issue 16): ``training_runs``, one row of metrics per step, and checkpoints.

    ``training_runs`` holds a run's name (its LoRA's name), base model, hyperparameters
    (``config``), dataset (product ids, hashes and captions), status, step, and the LoRA file
    and hash once done. ``training_metrics`` has one row per step (loss, learning rate, images
    per second), so a loss curve is one query; ``training_checkpoints`` one row per checkpoint
    (the LoRA file, its hash, the folder with the optimizer state).
    """
    con.execute(f"""
    CREATE TABLE training_runs (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        base_model VARCHAR NOT NULL,
        base_hash VARCHAR,
        project_id VARCHAR,
        collection_id VARCHAR,
        status VARCHAR NOT NULL CHECK (status IN
            ('pending', 'training', 'completed', 'cancelled', 'interrupted', 'failed')),
        step INTEGER NOT NULL DEFAULT 0,
        total_steps INTEGER NOT NULL,
        config JSON NOT NULL,
        dataset JSON NOT NULL,
        image_count INTEGER NOT NULL,
        captions VARCHAR NOT NULL,
        lora_path VARCHAR,
        lora_sha256 VARCHAR,
        error_type VARCHAR,
        error_message VARCHAR,
        pid INTEGER,
        started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ,
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE training_metrics (
        run_id VARCHAR NOT NULL,
        step INTEGER NOT NULL,
        loss DOUBLE NOT NULL,
        lr DOUBLE NOT NULL,
        images_per_second DOUBLE,
        {_COMMON}
    )""")
    con.execute(f"""
    CREATE TABLE training_checkpoints (
        id VARCHAR PRIMARY KEY,
        run_id VARCHAR NOT NULL,
        step INTEGER NOT NULL,
        lora_path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        state_path VARCHAR,
        {_COMMON}
    )""")
    con.execute("CREATE INDEX training_metrics_run ON training_metrics (run_id, step)")
    con.execute("CREATE INDEX training_checkpoints_run ON training_checkpoints (run_id, step)")


def set_home(con: duckdb.DuckDBPyConnection, home: str) -> None:
    """Record where the catalog is open now (the base of the ``gallery`` view's paths)."""
    row = con.execute("SELECT any_value(path), count(*) FROM home").fetchone()
    if row[1] == 1 and row[0] == home:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM home")
        con.execute("INSERT INTO home (path) VALUES (?)", [home])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


Migration = Callable[[duckdb.DuckDBPyConnection], None]

MIGRATIONS: list[Migration] = [m001_initial, m002_gallery_view, m003_api_calls, m004_presets,
                               m005_bound_prompt_columns, m006_relative_paths, m011_sets,
                               m012_refine, m013_training, m015_civitai, m016_process_ids]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration not yet recorded in ``schema_migrations``; return the names applied."""
    con.execute("""
    CREATE TABLE IF NOT EXISTS schema_migrations (
        name VARCHAR PRIMARY KEY,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""")
    done = {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            fn(con)
            con.execute("INSERT INTO schema_migrations (name) VALUES (?)", [fn.__name__])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise CatalogMigrationError(
                f"updating the catalog's tables ({fn.__name__}) failed: {str(exc).splitlines()[0]}. Nothing was"
                " changed (it ran in one transaction). Restore a backup (imagen-nb restore) or run"
                " imagen-nb rebuild, and report this with the message above."
            ) from exc
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(fn.__name__)
    return applied
