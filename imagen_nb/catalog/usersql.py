"""User SQL: one read-only SELECT, a time limit and a row cap (after datasette)."""

from __future__ import annotations

import copy
import json
import re
import threading
from typing import Any, Sequence

import duckdb
import pandas as pd
import pyarrow as pa

from ..core import notices
from ..core.errors import SqlError, SqlRefused, SqlTimeout

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}

MAX_BYTES = 256 * 2**20
"""Default cap on the bytes of a user query's result (``max_bytes=``)."""

# Rows fetched per Arrow batch: the byte cap is checked after each, so a result is refused after
# reading at most max_bytes plus one batch (DuckDB itself computes 2,048 rows at a time).
_BATCH_ROWS = 256

_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]+")

# Functions a read-only SELECT can still call to change the database's settings, end the process
# or read files (a database's own files stay readable with external access disabled).
_REFUSED_FUNCTIONS = frozenset({
    "enable_logging", "disable_logging", "enable_profiling", "disable_profiling", "glob", "sniff_csv",
    "parquet_metadata", "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata", "parquet_bloom_probe",
})
_REFUSED_PREFIXES = ("read_", "parquet_scan", "http_", "install", "load_")
_REFUSED_SUFFIXES = ("_scan",)
_EXPLAIN = re.compile(r"\AEXPLAIN(?:\s+ANALYZE)?\s+", re.IGNORECASE)

_ADVICE = ("studio.sql runs one read-only SELECT over the catalog (tables projects, orders, generations, "
           "products, collections, collection_products, smart_tokens, presets, sets, models, training_runs, "
           "training_metrics, training_checkpoints and the views "
           "gallery and set_products); change data through the Studio's methods instead")


def statement_name(text: str, kind: duckdb.StatementType) -> str:
    """What the user wrote, e.g. ``INSTALL`` or ``IMPORT DATABASE`` (DuckDB files INSTALL under LOAD
    and IMPORT DATABASE under PRAGMA, which would name a statement the user never typed)."""
    kind_name = str(kind).rsplit(".", 1)[-1]
    words = _WORD.findall(_LEADING_COMMENTS.sub("", text, count=1)[:200])
    if not words or words[0].upper() == "WITH":
        return kind_name
    name = words[0].upper()
    if name in ("IMPORT", "EXPORT", "FORCE") and len(words) > 1:
        name += " " + words[1].upper()
    return name


def run_user_sql(cur: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] | None = None, *,
                 timeout: float = 10.0, max_rows: int = 100_000, max_bytes: int = MAX_BYTES) -> pd.DataFrame:
    """Run a user's query on ``cur`` inside a READ ONLY transaction and return a DataFrame.

    The database was opened with external access disabled, so file readers, ATTACH, COPY and
    INSTALL fail there too; here they are refused up front with a message that says why.
    A result longer than ``max_rows`` is cut, with a warning and ``df.attrs["truncated"] = True``;
    one larger than ``max_bytes`` is refused (:class:`SqlError`) before it fills the memory.
    ``timeout`` (seconds), ``max_rows`` and ``max_bytes`` are checked by the caller.
    """
    if not isinstance(query, str) or not query.strip():
        raise SqlRefused(f"give a SQL query as a string; {_ADVICE}")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SqlRefused(f"the query holds a character no UTF-8 text can (an unpaired surrogate at position "
                         f"{exc.start}); remove it") from exc
    try:
        statements = cur.extract_statements(query)
    except duckdb.Error as exc:
        raise SqlRefused(f"cannot parse the query: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise SqlRefused(f"give exactly one statement, not {len(statements)}; {_ADVICE}")
    try:
        kind = statements[0].type
    except ValueError as exc:  # a statement this duckdb module has no name for (UPDATE EXTENSIONS)
        name = statement_name(statements[0].query, duckdb.StatementType.INVALID)
        raise SqlRefused(f"{name} statements are not allowed; {_ADVICE}") from exc
    if kind not in _ALLOWED:
        name = statement_name(statements[0].query, kind)
        raise SqlRefused(f"{name} statements are not allowed; {_ADVICE}")
    tree = _check_functions(cur, statements[0].query)
    guarded = _guard_sizes(cur, tree)
    if guarded is not None:  # the parse checked had EXPLAIN [ANALYZE] taken off: put it back
        explain = _EXPLAIN.match(_LEADING_COMMENTS.sub("", statements[0].query, count=1))
        query = (explain.group(0) if explain else "") + guarded

    timer = threading.Timer(timeout, cur.interrupt)
    timed_out = False
    cur.execute("BEGIN TRANSACTION READ ONLY")
    try:
        timer.start()
        try:
            relation = cur.sql(query, params=list(params) if params else None)
            if relation is None:  # EXPLAIN and friends may give no relation
                return pd.DataFrame()
            reader = relation.to_arrow_reader(min(max_rows + 1, _BATCH_ROWS))
            batches, n, size = [], 0, 0
            try:
                for batch in reader:
                    batches.append(batch)
                    n += batch.num_rows
                    size += batch.nbytes
                    if size > max_bytes:
                        raise _too_large(max_bytes, size)
                    if n > max_rows:
                        break
                table = pa.Table.from_batches(batches, schema=reader.schema)
            finally:
                reader.close()
                del relation
        except duckdb.InterruptException as exc:
            timed_out = True
            raise _timeout(timeout) from exc
        except duckdb.PermissionException as exc:
            raise SqlRefused(f"the query needs file or network access, which studio.sql never allows: "
                             f"{str(exc).splitlines()[0]}") from exc
        except (duckdb.TransactionException, duckdb.InvalidInputException) as exc:
            if _GUARD_MARK in str(exc):  # a size guard of _guard_sizes
                raise SqlRefused(str(exc).split("Error: ", 1)[-1]) from exc
            if "read-only" in str(exc):
                raise SqlRefused(f"the query tries to write; {_ADVICE}") from exc
            raise SqlError(str(exc)) from exc
        except (duckdb.Error, OSError) as exc:
            # Arrow reports a result past its 2 GB string buffers as an OSError.
            if "maximum total string size" in str(exc) or isinstance(exc, duckdb.OutOfMemoryException):
                raise _too_large(max_bytes) from exc
            if "INTERRUPT Error" in str(exc):  # interrupted while Arrow read the result: not typed
                timed_out = True
                raise _timeout(timeout) from exc
            raise SqlError(str(exc)) from exc
    finally:
        timer.cancel()
        try:
            cur.execute("ROLLBACK")
        except duckdb.Error:
            if not timed_out:
                raise
    truncated = table.num_rows > max_rows
    frame = table.slice(0, max_rows).to_pandas()
    frame.attrs["truncated"] = truncated
    if truncated:
        notices.warn(f"studio.sql: result cut to {max_rows:,} rows; add a LIMIT or pass max_rows=",
                     stacklevel=3)
    return frame


def _check_functions(cur: duckdb.DuckDBPyConnection, statement: str) -> dict:
    """Refuse a statement that calls a function able to change settings, stop the process or read
    files, found in DuckDB's own parse of it (quoting or comments cannot hide a call); return the
    parse (DuckDB's ``json_serialize_sql``)."""
    text = _EXPLAIN.sub("", _LEADING_COMMENTS.sub("", statement, count=1), count=1)
    try:
        (serialized,) = cur.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
        tree = json.loads(serialized)
    except (duckdb.Error, ValueError, RecursionError) as exc:
        raise SqlRefused(f"cannot check this query: {str(exc).splitlines()[0]}; {_ADVICE}") from exc
    if tree.get("error"):
        raise SqlRefused(f"cannot check this query ({tree.get('error_message', 'not a plain SELECT')}); {_ADVICE}")
    for name in sorted(_function_names(tree)):
        low = name.lower()
        if low in _REFUSED_FUNCTIONS or low.startswith(_REFUSED_PREFIXES) or low.endswith(_REFUSED_SUFFIXES):
            raise SqlRefused(f"{name}() is not allowed: studio.sql never needs file or network access or a change "
                             f"of the database's settings; {_ADVICE}")
    return tree


MAX_CALL_SIZE = 16_384
"""Most characters (or list elements) one call of a function that makes a value from a count
(``repeat``, ``lpad``, ``range``, ``list_resize``, a ``printf`` width…) may produce in user SQL.
DuckDB runs a function over a vector of 2,048 rows at once, without a check for the time limit
inside, so one vector of such calls makes at most 2,048 × this (32 M characters, 256 MB as a list
of BIGINT)."""

# A single call of these runs to its end whatever the time limit (DuckDB checks for an interrupt
# between vectors, not inside a function): repeat('x', 300000000) ran 6 s past a 1 s limit,
# range(100000000) 77 s. Their size arguments are checked while the query runs, before the call
# (a CASE that raises error() when the size is over MAX_CALL_SIZE), wherever the size comes from.
_N = "coalesce(try_cast({p} AS DOUBLE), epoch(try_cast({p} AS TIMESTAMP)), epoch(try_cast({p} AS INTERVAL)))"
_UNIT = "greatest(coalesce(octet_length(try_cast(__p0 AS BLOB)), length(try_cast(__p0 AS VARCHAR)), 1), 1)"
_SIZE_GUARDS: dict[tuple[str, int], tuple[int, str]] = {
    # (function, number of arguments) → (argument guarded, the size it would make)
    ("repeat", 2): (1, f"try_cast(__p1 AS DOUBLE) * {_UNIT}"),
    ("lpad", 3): (1, "try_cast(__p1 AS DOUBLE)"),
    ("rpad", 3): (1, "try_cast(__p1 AS DOUBLE)"),
    ("list_resize", 2): (1, "try_cast(__p1 AS DOUBLE)"),
    ("list_resize", 3): (1, "try_cast(__p1 AS DOUBLE)"),
    ("array_resize", 2): (1, "try_cast(__p1 AS DOUBLE)"),
    ("array_resize", 3): (1, "try_cast(__p1 AS DOUBLE)"),
    ("range", 1): (0, _N.format(p="__p0")),
    ("generate_series", 1): (0, _N.format(p="__p0")),
    ("range", 2): (1, f"abs({_N.format(p='__p1')} - {_N.format(p='__p0')})"),
    ("generate_series", 2): (1, f"abs({_N.format(p='__p1')} - {_N.format(p='__p0')})"),
    ("range", 3): (1, f"abs(({_N.format(p='__p1')} - {_N.format(p='__p0')}) / nullif({_N.format(p='__p2')}, 0))"),
    ("generate_series", 3): (1, f"abs(({_N.format(p='__p1')} - {_N.format(p='__p0')}) / "
                                f"nullif({_N.format(p='__p2')}, 0))"),
}
_FORMATS = ("printf", "format", "sprintf")  # a width in the format string: '%300000000d', '{:>300000000}'
# a printf width or precision of 6 digits or more, or one taken from an argument ('%*d'); the same
# in a fmt replacement field ('{:>300000000}', '{:{}}')
_FORMAT_SIZE = ("CASE WHEN regexp_matches(CAST(__p0 AS VARCHAR), '%[^a-zA-Z%]*([0-9]{6,}|[*])|[{][^}]*([0-9]{6,}|[{])') "
                "THEN 1e18 ELSE 0 END")
_GUARD_MARK = "in one call, which studio.sql refuses"
_guard_cache: dict[tuple[str, int], dict] = {}


def _guard_template(cur: duckdb.DuckDBPyConnection, name: str, nargs: int, size: str, guarded: int) -> dict:
    """The parsed ``CASE WHEN <size> > MAX_CALL_SIZE THEN error(…) ELSE __p<guarded> END``."""
    key = (name, nargs)
    if key not in _guard_cache:
        message = (f"{name}() would make a value of more than {MAX_CALL_SIZE:,} characters or elements {_GUARD_MARK} "
                   "(such a call cannot be stopped by the time limit); make it smaller")
        sql = (f"SELECT CASE WHEN ({size}) > {MAX_CALL_SIZE} THEN error('{message}') "
               f"ELSE __p{guarded} END")
        (serialized,) = cur.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
        _guard_cache[key] = json.loads(serialized)["statements"][0]["node"]["select_list"][0]
    return _guard_cache[key]


def _with_arguments(template: Any, args: list) -> Any:
    """A deep copy of ``template`` with each column ``__p<i>`` replaced by argument ``i``."""
    if isinstance(template, dict):
        names = template.get("column_names")
        if template.get("class") == "COLUMN_REF" and isinstance(names, list) and len(names) == 1 \
                and isinstance(names[0], str) and names[0].startswith("__p"):
            return copy.deepcopy(args[int(names[0][3:])])
        return {k: _with_arguments(v, args) for k, v in template.items()}
    if isinstance(template, list):
        return [_with_arguments(v, args) for v in template]
    return template


def _guard_sizes(cur: duckdb.DuckDBPyConnection, tree: dict) -> str | None:
    """The query with a size check before every call of a function that makes a value from a count
    (:data:`_SIZE_GUARDS`), as SQL text; None when it calls none (it then runs as written)."""
    table_functions = set()
    calls = []
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "TABLE_FUNCTION" and isinstance(node.get("function"), dict):
                table_functions.add(id(node["function"]))  # FROM range(…) streams: interruptible
            if node.get("class") == "FUNCTION" and isinstance(node.get("function_name"), str):
                calls.append(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    changed = False
    for node in calls:
        if id(node) in table_functions:
            continue
        name = node["function_name"].lower()
        args = node.get("arguments") or node.get("children") or []
        exprs = [a["expression"] if isinstance(a, dict) and "expression" in a else a for a in args]
        if (name, len(exprs)) in _SIZE_GUARDS:
            guarded, size = _SIZE_GUARDS[(name, len(exprs))]
        elif name in _FORMATS and exprs:
            guarded, size = 0, _FORMAT_SIZE
        else:
            continue
        guard = _with_arguments(_guard_template(cur, name, len(exprs), size, guarded), exprs)
        if isinstance(args[guarded], dict) and "expression" in args[guarded]:
            args[guarded]["expression"] = guard
        else:
            args[guarded] = guard
        changed = True
    if not changed:
        return None
    try:
        (sql,) = cur.execute("SELECT json_deserialize_sql(?)", [json.dumps(tree)]).fetchone()
    except duckdb.Error as exc:
        raise SqlRefused(f"cannot check the sizes this query makes ({str(exc).splitlines()[0]}); {_ADVICE}") from exc
    return sql


def _function_names(node: Any) -> set[str]:
    names: set[str] = set()
    stack = [node]
    while stack:  # iterative: a deeply nested query must not exhaust Python's stack
        item = stack.pop()
        if isinstance(item, dict):
            name = item.get("function_name")
            if isinstance(name, str):
                names.add(name)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return names


def _timeout(timeout: float) -> SqlTimeout:
    return SqlTimeout(f"the query ran past its time limit of {timeout:g} s; "
                      "add a WHERE or LIMIT, or pass timeout= to studio.sql", timeout=timeout)


def _too_large(max_bytes: int, read: int | None = None) -> SqlError:
    when = f" (stopped after reading {read / 2**20:.1f} MB)" if read is not None else ""
    return SqlError(f"the result is larger than {max_bytes / 2**20:g} MB{when}; select fewer or shorter columns "
                    "(left(col, 1000)), add a LIMIT, or pass max_bytes= to studio.sql")
