"""User-SQL attacks on ``studio.sql`` (issue 10: "104 attacks on the user-SQL sandbox, keep them").

Every attack of ``ATTACKS`` runs against one studio with real rows (an order, products on disk,
a collection, a smart token, a preset) and must hold:

* ``refused``: it raises our ``SqlRefused`` or ``SqlError`` (never a raw DuckDB error);
* ``stopped``: it raises ``SqlTimeout`` (or ``SqlError``) within the time limit plus a margin;
* ``answered``: a query that only looks dangerous answers with a DataFrame;
* ``bounded``: it answers or is stopped, either way within the time limit plus the margin;

and in every case the catalog (every table's rows, the schema objects, the global settings),
the home's files and the folders outside it (the working directory, a folder of bait files)
are exactly as they were. No bait file's secret may come back in a result or a message.

An attack that does not hold is not hidden: it is marked ``xfail(strict=True)`` with the
reason, so it shows in every run (and fails the run once it is fixed, to be unmarked).
The counts go to ``test-artifacts/reliability/sql_attacks.json`` for RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

import imagen_nb as inb

ARTIFACTS = Path(os.environ.get("IMAGEN_NB_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))

TIMEOUT = 1.0  # the time limit each attack runs under (studio.sql's timeout=)
MARGIN = 3.0  # how far past the limit a stopped attack may return (2 shared cores)
SECRET = f"TOPSECRET-{uuid.uuid4().hex}"  # written into every bait file; must never come back


@dataclass(frozen=True)
class Attack:
    """One user-SQL attack.

    Args:
        name: a short id (the test id).
        sql: the query; ``{out}`` is a folder outside the home holding bait files (secret.csv,
            secret.parquet, secret.json, secret.txt, other.duckdb), ``{home}`` the home.
        expect: ``"refused"``, ``"stopped"``, ``"answered"`` or ``"bounded"`` (see the module's docstring).
        params: bound parameters, when the attack goes through them.
        hole: why the attack is not held today; it is then an xfail(strict=True).
    """

    name: str
    sql: str
    expect: str = "refused"
    params: tuple = ()
    hole: str = ""
    isolate: bool = False  # run in a child process: the attack may end the process
    strict: bool = True  # False where the hole shows only on a slow enough machine (timing)


OWN_FILE = ("DuckDB keeps the database's own file readable with external access off: read_blob returns the "
            "raw bytes of catalog.duckdb (and of its WAL)")
SURROGATE = "a lone surrogate gives a raw TypeError from duckdb's extract_statements, not SqlRefused"
R, S, A, B = "refused", "stopped", "answered", "bounded"
BIG = "select count(*) from range(1000000000) a, range(1000000000) b"

ATTACKS: list[Attack] = [
    # ---- writes of every kind
    Attack("insert", "insert into projects (id, name) values ('p-evil', 'evil')"),
    Attack("insert-select", "insert into products select * from products"),
    Attack("insert-or-replace", "insert or replace into smart_tokens select * from smart_tokens"),
    Attack("insert-on-conflict", "insert into smart_tokens select * from smart_tokens on conflict do nothing"),
    Attack("insert-returning", "insert into projects (id, name) values ('p2', 'x') returning *"),
    Attack("update", "update products set prompt = 'pwned'"),
    Attack("update-returning", "update products set rating = 5 returning id"),
    Attack("update-from", "update products set prompt = o.id from orders o"),
    Attack("delete", "delete from products"),
    Attack("delete-where-true", "delete from generations where true"),
    Attack("delete-returning", "delete from smart_tokens returning *"),
    Attack("delete-using", "delete from products using orders where true"),
    Attack("truncate", "truncate products"),
    Attack("merge", "merge into products p using (select 1 as x) s on true when matched then delete"),
    Attack("drop-table", "drop table products"),
    Attack("drop-table-cascade", "drop table if exists generations cascade"),
    Attack("drop-view", "drop view gallery"),
    Attack("drop-schema", "drop schema main cascade"),
    Attack("create-table", "create table evil as select 1 as x"),
    Attack("create-or-replace-table", "create or replace table products as select 1 as x"),
    Attack("create-temp-table", "create temp table t as select 1 as x"),
    Attack("create-view", "create view v as select 1 as x"),
    Attack("replace-gallery-view", "create or replace view gallery as select 1 as x"),
    Attack("create-temp-view", "create temp view tv as select * from products"),
    Attack("create-sequence", "create sequence s"),
    Attack("create-index", "create index i on products(prompt)"),
    Attack("create-schema", "create schema evil"),
    Attack("create-type", "create type mood as enum ('a', 'b')"),
    Attack("alter-add-column", "alter table products add column x integer"),
    Attack("alter-rename-table", "alter table products rename to p2"),
    Attack("alter-rename-view", "alter view gallery rename to g2"),
    Attack("alter-drop-column", "alter table products drop column prompt"),
    Attack("comment-on", "comment on table products is 'pwned'"),
    Attack("nextval-missing", "select nextval('evil_seq')"),
    # ---- writes hidden in EXPLAIN (EXPLAIN is allowed; EXPLAIN ANALYZE runs its statement)
    Attack("explain-analyze-delete", "explain analyze delete from products"),
    Attack("explain-analyze-insert", "explain analyze insert into projects (id, name) values ('p3', 'x')"),
    Attack("explain-analyze-update", "explain analyze update products set prompt = 'pwned'"),
    Attack("explain-analyze-create", "explain analyze create table evil as select 1"),
    Attack("explain-analyze-copy", "explain analyze copy products to '{out}/exp.csv'"),
    Attack("explain-analyze-read-csv", "explain analyze select * from read_csv('{out}/secret.csv')"),
    Attack("explain-delete", "explain delete from products"),
    Attack("explain-json-drop", "explain (format json) drop table products"),
    # ---- CTE-wrapped writes
    Attack("cte-delete", "with x as (select 1) delete from products"),
    Attack("cte-insert", "with x as (select 'p4' as id) insert into projects (id, name) select id, id from x"),
    Attack("cte-update", "with x as (select 1) update products set prompt = 'pwned'"),
    Attack("cte-containing-delete", "with x as (delete from products returning *) select * from x"),
    Attack("subquery-delete", "select * from (delete from products returning *)"),
    Attack("lateral-delete", "select * from products, lateral (delete from generations returning *)"),
    Attack("recursive-cte-delete", "with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) "
           "delete from products"),
    # ---- transaction control: break out of the READ ONLY transaction
    Attack("begin", "begin transaction"),
    Attack("commit", "commit"),
    Attack("rollback", "rollback"),
    Attack("abort", "abort"),
    Attack("rollback-then-delete", "rollback; delete from products"),
    Attack("commit-then-drop", "commit; drop table products"),
    Attack("begin-rw-delete-commit", "begin transaction read write; delete from products; commit"),
    # ---- several statements, and tricks to smuggle a second one
    Attack("two-statements", "select 1; delete from products"),
    Attack("drop-with-trailing-comment", "select 1; drop table products; --"),
    Attack("write-first", "delete from products; select 1"),
    Attack("block-comment-semicolon", "select 1 /* ; */ ; delete from products"),
    Attack("line-comment-newline", "select 1 -- hidden\n; delete from products"),
    Attack("nested-block-comment", "select 1 /* /* */ ; delete from products */", A),  # nested: all comment
    Attack("string-with-semicolon", "select ';' ; delete from products"),
    Attack("doubled-quote", "select 'it''s'; delete from products"),
    Attack("dollar-quoted", "select $$;$$; delete from products"),
    Attack("dollar-tag-quoted", "select $x$ '; $x$; delete from products"),
    Attack("escape-string", "select e'\\''; delete from products"),
    Attack("quoted-identifier-semicolon", 'select 1 as "x"; delete from products'),
    Attack("empty-statements", "; ; delete from products"),
    Attack("many-statements", "select 1;" * 500 + " delete from products"),
    Attack("semicolon-in-identifier", 'select 1 as "x; delete from products"', A),
    Attack("trailing-semicolon", "select count(*) from products;", A),
    Attack("bound-param-payload", "select ? as p", A, params=("1; delete from products",)),
    Attack("param-in-like", "select count(*) from products where prompt like ?", A,
           params=("%'; drop table products; --",)),
    Attack("prepare", "prepare p as delete from products"),
    Attack("execute", "execute p"),
    Attack("deallocate", "deallocate p"),
    Attack("prepare-then-execute", "prepare p as delete from products; execute p"),
    # ---- attach, copy, export and import
    Attack("attach-file", "attach '{out}/other.duckdb' as o"),
    Attack("attach-new-file", "attach '{out}/new.duckdb' as n"),
    Attack("attach-relative", "attach 'relative.duckdb' as r"),
    Attack("attach-memory", "attach ':memory:' as m"),
    Attack("attach-read-only", "attach '{out}/other.duckdb' as o (read_only)"),
    Attack("attach-own-catalog", "attach '{home}/catalog.duckdb' as again"),
    Attack("attach-sqlite", "attach '{out}/x.sqlite' as s (type sqlite)"),
    Attack("detach", "detach catalog"),
    Attack("use-memory", "use memory"),
    Attack("use-system", "use system.main"),
    Attack("copy-to", "copy products to '{out}/products.csv'"),
    Attack("copy-query-to-parquet", "copy (select * from products) to '{out}/p.parquet' (format parquet)"),
    Attack("copy-to-relative", "copy products to 'stolen.csv'"),
    Attack("copy-to-stdout", "copy products to '/dev/stdout'"),
    Attack("copy-from", "copy smart_tokens from '{out}/secret.csv'"),
    Attack("copy-from-database", "copy from database catalog to memory"),
    Attack("export-database", "export database '{out}/dump'"),
    Attack("import-database", "import database '{out}/dump'"),
    # ---- extensions
    Attack("install", "install httpfs"),
    Attack("force-install", "force install httpfs"),
    Attack("install-from-url", "install evil from 'http://127.0.0.1:9/'"),
    Attack("load", "load httpfs"),
    Attack("load-path", "load '{out}/evil.duckdb_extension'"),
    Attack("update-extensions", "update extensions"),  # once a raw ValueError: duckdb's enum lacks it
    Attack("extensions-list", "select * from duckdb_extensions()"),
    Attack("sqlite-scan-autoload", "select * from sqlite_scan('{out}/x.sqlite', 't')"),
    Attack("postgres-scan-autoload", "select * from postgres_scan('host=127.0.0.1', 'public', 't')"),
    Attack("iceberg-autoload", "select * from iceberg_scan('{out}/table')"),
    Attack("delta-autoload", "select * from delta_scan('{out}/table')"),
    Attack("excel-autoload", "select * from read_xlsx('{out}/book.xlsx')"),
    # ---- settings
    Attack("set-external-access", "set enable_external_access = true"),
    Attack("set-global", "set global memory_limit = '1MB'"),
    Attack("set-threads", "set threads = 1"),
    Attack("reset", "reset enable_external_access"),
    Attack("set-allowed-directories", "set allowed_directories = ['/']"),
    Attack("set-lock-configuration", "set lock_configuration = false"),
    Attack("set-search-path", "set search_path = 'memory'"),
    Attack("set-variable", "set variable x = 1"),
    Attack("set-profiling-output", "set profiling_output = '{out}/profile.json'"),
    Attack("pragma-enable-profiling", "pragma enable_profiling"),
    Attack("pragma-database-size", "pragma database_size"),
    Attack("pragma-threads", "pragma threads = 1"),
    Attack("pragma-memory-limit", "pragma memory_limit = '1MB'"),
    Attack("call-pragma", "call pragma_table_info('products')"),
    Attack("checkpoint", "checkpoint"),
    Attack("force-checkpoint", "force checkpoint"),
    Attack("force-checkpoint-function", "select * from force_checkpoint()"),
    Attack("checkpoint-function", "select * from checkpoint()", A),  # flushes the WAL; the rows stay the same
    Attack("vacuum", "vacuum"),
    Attack("analyze", "analyze"),
    # ---- secrets
    Attack("create-secret", "create secret s (type s3, key_id 'k', secret 'v')"),
    Attack("create-persistent-secret", "create persistent secret s (type s3, key_id 'k', secret 'v')"),
    Attack("drop-secret", "drop secret s"),
    Attack("list-secrets", "select * from duckdb_secrets()"),
    Attack("which-secret", "select * from which_secret('s3://bucket/x', 's3')"),
    # ---- macros and functions
    Attack("create-macro", "create macro evil(a) as a + 1"),
    Attack("create-table-macro", "create macro t_evil() as table select * from products"),
    Attack("create-function", "create function f(a) as a"),
    Attack("create-temp-macro", "create temp macro m(a) as a"),
    Attack("replace-builtin-macro", "create or replace macro lower(a) as 'pwned'"),
    Attack("drop-macro", "drop macro lower"),
    # ---- file readers (external access is off; bait files exist)
    Attack("read-csv", "select * from read_csv('{out}/secret.csv')"),
    Attack("read-csv-auto", "select * from read_csv_auto('{out}/secret.csv')"),
    Attack("replacement-scan", "select * from '{out}/secret.csv'"),
    Attack("replacement-scan-parquet", "from '{out}/secret.parquet'"),
    Attack("read-parquet", "select * from read_parquet('{out}/secret.parquet')"),
    Attack("parquet-metadata", "select * from parquet_metadata('{out}/secret.parquet')"),
    Attack("parquet-schema", "select * from parquet_schema('{out}/secret.parquet')"),
    Attack("read-json", "select * from read_json('{out}/secret.json')"),
    Attack("read-json-auto", "select * from read_json_auto('{out}/secret.json')"),
    Attack("read-ndjson", "select * from read_ndjson('{out}/secret.json')"),
    Attack("read-text", "select * from read_text('{out}/secret.txt')"),
    Attack("read-blob", "select * from read_blob('{out}/secret.txt')"),
    Attack("read-text-glob", "select * from read_text('{out}/*')"),
    Attack("read-text-list", "select * from read_text(['{out}/secret.txt', '/etc/hostname'])"),
    Attack("read-text-file-url", "select * from read_text('file://{out}/secret.txt')"),
    Attack("read-text-home-tilde", "select * from read_text('~/.ssh/id_rsa')"),
    Attack("read-blob-proc-environ", "select * from read_blob('/proc/self/environ')"),
    Attack("read-text-etc-passwd", "select * from read_text('/etc/passwd')"),
    Attack("read-blob-own-catalog", "select * from read_blob('{home}/catalog.duckdb')"),  # once: OWN_FILE
    Attack("read-blob-product-files", "select * from read_blob('{home}/products/**/*.png')"),
    Attack("read-csv-dev-zero", "select * from read_csv('/dev/zero')"),
    Attack("sniff-csv", "select * from sniff_csv('{out}/secret.csv')"),
    Attack("glob-root", "select * from glob('/*')"),
    Attack("glob-out", "select * from glob('{out}/*')"),
    Attack("query-table-path", "select * from query_table('{out}/secret.csv')"),
    Attack("read-csv-relative", "select * from read_csv('secret.csv')"),
    # ---- network (httpfs URLs)
    Attack("read-csv-http", "select * from read_csv('http://127.0.0.1:9/x.csv')"),
    Attack("read-parquet-https", "select * from read_parquet('https://example.com/x.parquet')"),
    Attack("replacement-scan-http", "select * from 'http://127.0.0.1:9/x.parquet'"),
    Attack("read-parquet-s3", "select * from read_parquet('s3://bucket/x.parquet')"),
    Attack("read-json-hf", "select * from read_json('hf://datasets/x/y/z.json')"),
    Attack("read-text-http", "select * from read_text('http://127.0.0.1:9/')"),
    # ---- a query string run from inside a SELECT
    Attack("query-function-delete", "select * from query('delete from products')"),
    Attack("query-function-read-csv", "select * from query('select * from read_csv(''{out}/secret.csv'')')"),
    Attack("query-table-products", "select count(*) from query_table('products')", A),
    # ---- table functions with side effects
    # Both once held nothing: a global setting changed from a SELECT; to a file, the next log write
    # threw a C++ exception nobody caught and the process aborted (SIGABRT).
    Attack("enable-logging", "select * from enable_logging(level := 'trace')"),
    Attack("enable-logging-quoted", 'select * from "enable_logging"(level := \'trace\')'),
    Attack("enable-logging-to-file", "select * from enable_logging(storage := 'file', storage_path := '{out}/log')",
           isolate=True),
    Attack("truncate-logs", "select * from truncate_duckdb_logs()", A),  # in-memory logs only
    Attack("call-checkpoint", "call checkpoint()"),
    Attack("pivot-creates-enum", "pivot products on prompt using count(*)"),  # several statements inside
    # ---- resource exhaustion: the time limit must stop them
    Attack("cross-join-range", BIG, S),
    Attack("cross-join-generate-series", "select count(*) from generate_series(1, 100000000) a, "
           "generate_series(1, 100000000) b, generate_series(1, 1000) c", S),
    Attack("cross-join-catalog", "select count(*) from products a, products b, range(1000000000) c", S),
    Attack("recursive-cte-forever", "with recursive r(n) as (select 1 union all select n + 1 from r) "
           "select count(*) from r", S),
    Attack("recursive-cte-doubling", "with recursive r(s) as (select 'x' union all select s || s from r) "
           "select max(length(s)) from r", S),
    Attack("order-by-random-huge", "select * from range(10000000000) order by random() limit 1", S),
    Attack("sum-hash-huge", "select sum(hash(i)) from range(1000000000000) t(i)", S),
    Attack("string-agg-huge", "select length(string_agg(i::varchar, ',')) from range(10000000000) t(i)", S),
    Attack("nested-loop-join", "select count(*) from range(100000000) a join range(100000000) b "
           "on a.range < b.range", S),
    # One scalar call runs to its end whatever the time limit (repeat() of 300 MB ran ~6 s past a
    # 1 s limit, range(100000000) 77 s): the size of every such call is checked before it runs.
    Attack("repeat-huge-string", "select length(repeat('x', 300000000))", R),
    Attack("repeat-4-gb", "select length(repeat('x', 4000000000))", R),
    Attack("repeat-size-from-a-cte", "with t as (select 300000000 as n) select length(repeat('x', n)) from t", R),
    Attack("repeat-size-from-a-subquery", "select length(repeat('x', (select 300000000)))", R),
    Attack("repeat-size-bound", "select length(repeat('x', ?))", R, params=(300000000,)),
    Attack("repeat-of-repeat", "select length(repeat(repeat('x', 10000), 10000))", R),
    Attack("repeat-list-huge", "select len(repeat([1], 100000000))", R),
    Attack("repeat-per-row", "select sum(length(repeat('x', 16384))) from range(1000000)", B),
    Attack("lpad-huge", "select length(lpad('x', 300000000, 'y'))", R),
    Attack("rpad-huge", "select length(rpad('x', 300000000, 'y'))", R),
    Attack("range-list-huge", "select len(range(100000000))", R),
    Attack("generate-series-list-huge", "select len(generate_series(1, 100000000))", R),
    Attack("range-list-huge-step", "select len(range(0, 1000000000000, 7))", R),
    Attack("range-timestamps-huge", "select len(range(timestamp '2000-01-01', timestamp '2030-01-01', "
           "interval 1 second))", R),
    Attack("list-resize-huge", "select len(list_resize([1], 100000000))", R),
    Attack("array-resize-huge", "select len(array_resize([1], 100000000))", R),
    Attack("printf-width-huge", "select length(printf('%300000000d', 1))", R),
    Attack("printf-star-width", "select length(printf('%*d', 300000000, 1))", R),
    Attack("format-width-huge", "select length(format('{{:>300000000}}', 1))", R),
    Attack("format-nested-width", "select length(format('{{:{{}}}}', 1, 300000000))", R),
    Attack("explain-of-a-checked-call", "explain select repeat('x', 300000000)", A),
    Attack("small-generators-answer", "select repeat('*', 3) as stars, lpad('7', 3, '0') as n, len(range(5)) as r, "
           "printf('%5.1f of 1000000', 2.5) as p", A),
    Attack("list-huge", "select len(list(i)) from range(10000000000) t(i)", S),
    Attack("row-cap-huge-result", "select * from range(1000000000)", A),
    # ---- very long and deeply nested text
    Attack("deep-parentheses", "select " + "(" * 20_000 + "1" + ")" * 20_000),
    Attack("deep-subqueries", "select " + "(select " * 3_000 + "1" + ")" * 3_000),
    Attack("long-expression", "select " + "1+" * 20_000 + "1"),  # past the parser's depth limit
    Attack("long-string-literal", "select length('" + "x" * 5_000_000 + "') as n", A),
    Attack("long-in-list", "select count(*) from products where prompt in ("
           + ",".join(f"'{i}'" for i in range(50_000)) + ")", B),
    Attack("long-comment-then-delete", "/*" + "x" * 1_000_000 + "*/ delete from products"),
    Attack("long-identifier", "select 1 as " + "a" * 100_000, A),
    # ---- unicode tricks
    Attack("fullwidth-semicolon", "select 1\uff1b delete from products"),
    Attack("greek-question-mark", "select 1\u037e delete from products"),
    Attack("zero-width-space", "select 1;\u200b delete from products"),
    Attack("bom-delete", "\ufeffdelete from products"),
    Attack("rtl-override", "select '\u202e' ; delete from products"),
    Attack("cyrillic-homoglyph", "ѕelect 1; delete from products"),
    Attack("nul-before-delete", "select 1\x00; delete from products"),
    Attack("nul-only-select", "select 1\x00 delete from products"),
    Attack("lone-surrogate", "select '\ud800'; delete from products"),  # once: SURROGATE
    Attack("lone-surrogate-alone", "select '\udc00' as x"),
    Attack("non-breaking-space", "select\u00a01;\u00a0delete\u00a0from\u00a0products"),
    Attack("unicode-escape-identifier", 'select * from u&"\\0070roducts"; delete from products'),
    # ---- not a query at all
    Attack("empty", ""),
    Attack("whitespace", " \n\t "),
    Attack("only-comment", "-- nothing"),
    Attack("only-semicolon", ";"),
    Attack("not-a-string", b"select 1"),  # type: ignore[arg-type]
]


# ---- the studio under attack -------------------------------------------------------------------


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """A studio with real rows and files, a folder of bait files outside its home, and the
    working directory set to that folder (relative paths in an attack land there)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("sqlattack")
    out = root / "outside"
    out.mkdir()
    (out / "secret.csv").write_text(f"secret\n{SECRET}\n")
    (out / "secret.txt").write_text(SECRET)
    (out / "secret.json").write_text(json.dumps({"secret": SECRET}))
    pq.write_table(pa.table({"secret": [SECRET]}), out / "secret.parquet")
    import duckdb

    with duckdb.connect(str(out / "other.duckdb")) as con:
        con.execute("create table t as select ? as secret", [SECRET])
    home = root / "home"
    studio = inb.Studio(home)
    order = studio.order("instant:swatch", prompt="bait [1..3]", seed=7).wait(60)
    assert order.status == "fulfilled"
    studio.tokens["animal"] = ["cat", "dog"]
    studio.presets["quick"] = {"num_inference_steps": 4}
    studio.collection("favourites").add([p.id for p in order.products])
    old = os.getcwd()
    os.chdir(out)
    try:
        yield studio, out, {"catalog": _catalog_state(studio), "files": _files(studio.home, out)}
    finally:
        os.chdir(old)
        studio.close()


def _catalog_state(studio) -> dict:
    """Everything a write could change: every table's rows, the schema objects, global settings."""
    cur = studio.catalog.new_cursor()
    try:
        tables = [r[0] for r in cur.execute("select table_name from duckdb_tables() order by all").fetchall()]
        state = {t: cur.execute(f'select * from "{t}" order by all').fetchall() for t in tables}
        for what in ("database_name, schema_name, view_name, sql from duckdb_views() where not internal",
                     "database_name, sequence_name from duckdb_sequences()",
                     "database_name, index_name, table_name from duckdb_indexes()",
                     "database_name, function_name, function_type from duckdb_functions() where not internal",
                     "database_name, type_name from duckdb_types() where not internal",
                     "database_name, schema_name from duckdb_schemas()",
                     "database_name, path, type, readonly from duckdb_databases()",
                     "name, value from duckdb_settings()"):
            state[what] = cur.execute(f"select {what} order by all").fetchall()
        return state
    finally:
        cur.close()


def _files(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under the folders: (size, mtime_ns). The catalog's own files are left out: a
    checkpoint may rewrite them (their contents are compared by :func:`_catalog_state`)."""
    seen = {}
    for folder in folders:
        for p in folder.rglob("*"):
            if p.name.startswith("catalog.duckdb") and p.parent == folder:
                continue
            if p.is_file() or p.is_symlink():
                st = p.lstat()
                seen[str(p)] = (st.st_size, st.st_mtime_ns)
    return seen


def _texts(frame) -> str:
    return frame.to_string() if hasattr(frame, "to_string") else str(frame)


#: {"attack": name, "expect": ..., "held": bool, "outcome": what happened} for every attack run
OUTCOMES: list[dict] = []


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    """Write the counts of attacks tried and held once the module is done."""
    yield
    held = sum(o["held"] for o in OUTCOMES)
    folder = ARTIFACTS / "reliability"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sql_attacks.json").write_text(json.dumps(
        {"tried": len(OUTCOMES), "held": held, "listed": len(ATTACKS), "timeout_s": TIMEOUT,
         "not_held": [o for o in OUTCOMES if not o["held"]], "attacks": OUTCOMES}, indent=1))
    print(f"\nSQL attacks: {len(OUTCOMES)} tried, {held} held")


def _param(a: Attack):
    marks = [pytest.mark.xfail(strict=a.strict, reason=a.hole)] if a.hole else []
    return pytest.param(a, id=a.name, marks=marks)


def _restore_settings(studio, before: dict) -> None:
    """Undo a global setting an attack changed, so the attacks after it meet the same studio."""
    key = "name, value from duckdb_settings()"
    cur = studio.catalog.new_cursor()
    try:
        now = dict(cur.execute(f"select {key}").fetchall())
        for name, value in before[key]:
            if now.get(name) != value:
                for undo in ("select * from disable_logging()", f'reset global "{name}"'):
                    try:
                        cur.execute(undo)
                    except Exception:
                        pass
    finally:
        cur.close()


@pytest.mark.parametrize("attack", [_param(a) for a in ATTACKS if not a.isolate])
def test_sql_attack_is_held(target, attack):
    studio, out, known = target  # known: the state after the previous attack (compared once per attack)
    entry = {"attack": attack.name, "expect": attack.expect, "held": False, "outcome": "?"}
    OUTCOMES.append(entry)
    query = attack.sql.format(out=out, home=studio.home) if isinstance(attack.sql, str) else attack.sql
    before_cat, before_files = known["catalog"], known["files"]

    start = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the row cap's warning: cutting is the point
            result = studio.sql(query, list(attack.params) or None, timeout=TIMEOUT, max_rows=1000)
    except (inb.SqlRefused, inb.SqlError, inb.SqlTimeout) as exc:
        result = exc
    except Exception as exc:  # a raw error: recorded, then the assertion below fails
        result = exc
    elapsed = time.monotonic() - start
    entry["outcome"] = f"{type(result).__name__}: {str(result)[:200]}" if isinstance(result, Exception) \
        else f"answered {len(result)} row(s)"
    entry["seconds"] = round(elapsed, 2)

    # nothing changed, whatever the query did
    after_cat, after_files = _catalog_state(studio), _files(studio.home, out)
    if after_cat != before_cat:
        _restore_settings(studio, before_cat)
        known["catalog"] = _catalog_state(studio)  # what the next attack starts from
    known["files"] = after_files
    assert after_cat == before_cat, f"{attack.name}: the catalog changed"
    assert after_files == before_files, f"{attack.name}: files changed in the home or outside it"
    assert SECRET not in (str(result) if isinstance(result, Exception) else _texts(result)), \
        f"{attack.name}: a bait file's secret came back"
    assert len(studio.sql("select id from products")) == 3  # the sandbox still answers afterwards

    if attack.expect == "refused":
        assert isinstance(result, (inb.SqlRefused, inb.SqlError)) and not isinstance(result, inb.SqlTimeout), \
            f"{attack.name}: expected a refusal, got {entry['outcome']}"
        assert elapsed < TIMEOUT + MARGIN
    elif attack.expect == "stopped":
        assert isinstance(result, (inb.SqlTimeout, inb.SqlError)), f"{attack.name}: not stopped: {entry['outcome']}"
        assert elapsed < TIMEOUT + MARGIN, f"{attack.name}: stopped only after {elapsed:.1f} s"
    elif attack.expect == "bounded":
        assert not isinstance(result, Exception) or isinstance(result, (inb.SqlTimeout, inb.SqlError)), \
            f"{attack.name}: {entry['outcome']}"
        assert elapsed < TIMEOUT + MARGIN, f"{attack.name}: returned only after {elapsed:.1f} s"
    else:
        assert not isinstance(result, Exception), f"{attack.name}: expected an answer, got {entry['outcome']}"
        assert elapsed < TIMEOUT + MARGIN
    entry["held"] = True


CHILD = """
import sys, imagen_nb as inb
studio = inb.Studio(sys.argv[1])
studio.order("instant:swatch", prompt="bait [1..2]").wait(60)
try:
    studio.sql(sys.argv[2], timeout=%r)
    print("answered", flush=True)
except (inb.SqlRefused, inb.SqlError, inb.SqlTimeout) as exc:
    print("refused", type(exc).__name__, flush=True)
studio.order("instant:swatch", prompt="after [1..2]").wait(60)  # the studio goes on working
assert len(studio.sql("select id from products")) == 4
studio.close()
print("survived", flush=True)
""" % TIMEOUT


@pytest.mark.parametrize("attack", [_param(a) for a in ATTACKS if a.isolate])
def test_sql_attack_does_not_end_the_process(tmp_path, attack):
    """Attacks that may end the process run in a child: it must survive, go on working and
    leave a catalog that reopens with nothing to recover; nothing is written outside the home."""
    entry = {"attack": attack.name, "expect": attack.expect, "held": False, "outcome": "?"}
    OUTCOMES.append(entry)
    out, home = tmp_path / "outside", tmp_path / "home"
    out.mkdir()
    query = attack.sql.format(out=out, home=home)
    child = subprocess.run([sys.executable, "-c", CHILD, str(home), query], capture_output=True, text=True,
                           timeout=120, cwd=out)
    entry["outcome"] = f"rc {child.returncode}: {(child.stdout + child.stderr).strip()[-300:]}"
    with inb.Studio(home) as again:  # whatever happened to the child, nothing is lost
        assert again.sql("select count(*) as n from products").n[0] in (2, 4)
        assert not again.recovery.orphan_files and not again.recovery.missing_files
    assert list(out.iterdir()) == [], f"{attack.name}: files written outside the home"
    assert child.returncode == 0 and "survived" in child.stdout, \
        f"{attack.name}: the process ended: {entry['outcome']}"
    entry["held"] = True


def test_the_studio_reopens_unchanged_after_every_attack(target):
    """After the whole list: close, reopen, nothing to recover and the rows are the same."""
    studio, out, known = target
    before = _catalog_state(studio)
    home = studio.home
    studio.close()
    again = inb.Studio(home)
    try:
        assert not again.recovery
        after = _catalog_state(again)
        assert {k: v for k, v in after.items() if "duckdb_settings" not in k} == \
            {k: v for k, v in before.items() if "duckdb_settings" not in k}
        assert len(again.gallery(limit=10)) == 3
    finally:
        again.close()
