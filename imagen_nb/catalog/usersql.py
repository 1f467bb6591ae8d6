"""User SQL: one read-only SELECT, a time limit and a row cap (after datasette)."""

from __future__ import annotations

import threading
import warnings
from typing import Any, Sequence

import duckdb
import pandas as pd
import pyarrow as pa

from ..core.errors import SqlError, SqlRefused, SqlTimeout

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}

_ADVICE = ("studio.sql runs one read-only SELECT over the catalog (tables projects, orders, generations, "
           "products, collections, collection_products, smart_tokens, presets, models and the view gallery); "
           "change data through the Studio's methods instead")


def run_user_sql(cur: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] | None = None, *,
                 timeout: float = 10.0, max_rows: int = 100_000) -> pd.DataFrame:
    """Run a user's query on ``cur`` inside a READ ONLY transaction and return a DataFrame.

    The database was opened with external access disabled, so file readers, ATTACH, COPY and
    INSTALL fail there too; here they are refused up front with a message that says why.
    A result longer than ``max_rows`` is cut, with a warning and ``df.attrs["truncated"] = True``.
    """
    if not isinstance(query, str) or not query.strip():
        raise SqlRefused(f"give a SQL query as a string; {_ADVICE}")
    try:
        statements = cur.extract_statements(query)
    except duckdb.Error as exc:
        raise SqlRefused(f"cannot parse the query: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise SqlRefused(f"give exactly one statement, not {len(statements)}; {_ADVICE}")
    kind = statements[0].type
    if kind not in _ALLOWED:
        name = str(kind).rsplit(".", 1)[-1]
        raise SqlRefused(f"{name} statements are not allowed; {_ADVICE}")

    timer = threading.Timer(timeout, cur.interrupt)
    timed_out = False
    cur.execute("BEGIN TRANSACTION READ ONLY")
    try:
        timer.start()
        try:
            relation = cur.sql(query, params=list(params) if params else None)
            if relation is None:  # EXPLAIN and friends may give no relation
                return pd.DataFrame()
            reader = relation.to_arrow_reader(min(max_rows + 1, 100_000))
            batches, n = [], 0
            try:
                for batch in reader:
                    batches.append(batch)
                    n += batch.num_rows
                    if n > max_rows:
                        break
                table = pa.Table.from_batches(batches, schema=reader.schema)
            finally:
                reader.close()
                del relation
        except duckdb.InterruptException as exc:
            timed_out = True
            raise SqlTimeout(f"the query ran past its time limit of {timeout:g} s; "
                             "add a WHERE or LIMIT, or pass timeout= to studio.sql") from exc
        except duckdb.PermissionException as exc:
            raise SqlRefused(f"the query needs file or network access, which studio.sql never allows: "
                             f"{str(exc).splitlines()[0]}") from exc
        except (duckdb.TransactionException, duckdb.InvalidInputException) as exc:
            if "read-only" in str(exc):
                raise SqlRefused(f"the query tries to write; {_ADVICE}") from exc
            raise SqlError(str(exc)) from exc
        except duckdb.Error as exc:
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
        warnings.warn(f"studio.sql: result cut to {max_rows:,} rows; add a LIMIT or pass max_rows=",
                      stacklevel=3)
    return frame
