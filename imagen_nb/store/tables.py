"""Tables for orders from rows: a DataFrame, a .csv/.tsv/.json/.parquet file or a list of dicts,
read into a list of dicts with plain Python values (issue 13)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..core.rows import RowsError, check_rows

#: File types :func:`read_rows` reads, by suffix.
SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet")


def read_rows(source: Any) -> list[dict[str, Any]]:
    """The rows of ``source`` as dicts of plain values (NaN and empty cells become None).

    A CSV or TSV file is read as text exactly as written (``"07"`` stays ``"07"``; a parameter
    column is converted by the model's type later). JSON is a list of objects (or
    ``{"rows": [...]}``), JSON Lines one object per line; Parquet keeps its column types.

    Raises RowsError naming the file for a missing file, an unknown suffix or a file that does
    not parse.
    """
    if isinstance(source, (str, os.PathLike)):
        return check_rows(_read_file(Path(source)))
    if hasattr(source, "to_dict") and hasattr(source, "columns"):  # a pandas DataFrame
        return check_rows([_plain_row(r) for r in source.to_dict("records")])
    return check_rows(source)


def _read_file(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise RowsError("rows", f"{path}: read rows from a {', '.join(SUFFIXES)} file, a DataFrame or a list "
                                "of dicts (convert other files with pandas first)")
    if not path.is_file():
        where = "" if path.is_absolute() else f" (relative paths start at {Path.cwd()})"
        raise RowsError("rows", f"{path}: no such file{where}")
    try:
        if suffix in (".csv", ".tsv"):
            import pandas as pd

            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False,
                                encoding="utf-8-sig")
            return [_plain_row(r) for r in frame.to_dict("records")]
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return [_plain_row(r) for r in pq.read_table(path).to_pylist()]
        text = path.read_text(encoding="utf-8-sig")
        if suffix == ".jsonl":
            data: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
            if isinstance(data, dict) and isinstance(data.get("rows"), list):
                data = data["rows"]
    except (ValueError, OSError) as exc:
        raise RowsError("rows", f"{path}: cannot read it as {suffix[1:].upper()} ({exc}); check the file") from exc
    except Exception as exc:  # pandas/pyarrow parser errors have their own classes
        raise RowsError("rows", f"{path}: cannot read it as {suffix[1:].upper()} ({exc}); check the file") from exc
    if not isinstance(data, list):
        raise RowsError("rows", f"{path}: a JSON rows file holds a list of objects, e.g. "
                                '[{"value": "Ace", "suit": "Spades"}]')
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    item = getattr(value, "item", None)  # numpy scalars
    if item is not None and not isinstance(value, (str, bytes)) and getattr(value, "ndim", 1) == 0:
        return _plain(item())
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays in a cell
        return value.tolist()
    if value.__class__.__name__ in ("NAType", "NaTType"):
        return None
    return value


def _plain_row(row: dict) -> dict[str, Any]:
    return {str(k): _plain(v) for k, v in row.items()}
