"""User SQL: one read-only SELECT, a time limit and a row cap (after datasette)."""

from __future__ import annotations

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

# Rows fetched per Arrow batch: small enough that the byte cap is checked often.
_BATCH_ROWS = 2048

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
    _check_functions(cur, statements[0].query)

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
                        raise _too_large(max_bytes)
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


def _check_functions(cur: duckdb.DuckDBPyConnection, statement: str) -> None:
    """Refuse a statement that calls a function able to change settings, stop the process or read
    files, found in DuckDB's own parse of it (quoting or comments cannot hide a call)."""
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


def _too_large(max_bytes: int) -> SqlError:
    return SqlError(f"the result is larger than {max_bytes / 2**20:g} MB; select fewer or shorter columns "
                    "(left(col, 1000)), add a LIMIT, or pass max_bytes= to studio.sql")
