"""What travels between a host and its clients: values as JSON, with tags for what JSON lacks.

A tagged value is a one-key object whose key starts with ``$``: ``{"$df": …}`` a pandas
DataFrame (column dtypes kept), ``{"$dt": "…"}`` a timestamp, ``{"$path": …}``, ``{"$model": …}``
a :class:`~imagen_nb.core.records.ModelInfo`, ``{"$event": [type, fields]}`` an event,
``{"$product": …}``, ``{"$order": id}``, ``{"$project": id}``, ``{"$collection": [id, name]}``,
``{"$download": ref}`` handles (bound again to the receiving studio), ``{"$obj": ["module:Class", fields]}`` one of our
records (a ``BackupReport``…), ``{"$map": {...}}`` a mapping whose keys would look like a tag, ``{"$grid": {...}}`` a
:class:`~imagen_nb.studio.grid.Grid` (its layout, and its image as PNG in base64). Product bytes never travel here: a client reads the files of the home it
shares with the host, and the REST API serves them as raw bytes.

:func:`plain` is the untagged form the REST API answers with (DataFrames as lists of records,
timestamps as ISO 8601 text).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ..core import errors as _errors
from ..core import records as _records
from ..core import training as _training
from .grid import Grid
from .handles import Collection, Order, Product, Project
from .downloads import ModelImport
from .training import TrainingRun
from .refinements import Refinement


def encode(value: Any, home: Path | None = None) -> Any:
    """``value`` as JSON-ready data with tags (see the module docstring)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float) and not isinstance(value, np.floating):
        return value if math.isfinite(value) else None
    if isinstance(value, int) and not isinstance(value, np.integer):
        return value
    if isinstance(value, np.generic):
        item = value.item()
        return encode(item, home) if not isinstance(item, np.generic) else str(item)
    if isinstance(value, pd.DataFrame):
        return {"$df": _frame(value, home)}
    if value is pd.NaT:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return {"$dt": value.isoformat()}
    if isinstance(value, Path):
        return {"$path": str(value)}
    if isinstance(value, Product):
        return {"$product": _product(value, home)}
    if isinstance(value, Grid):
        return {"$grid": _grid(value, home)}
    if isinstance(value, Order):
        return {"$order": value.id}
    if isinstance(value, TrainingRun):
        return {"$training": value.id}
    if isinstance(value, ModelImport):
        return {"$download": value.ref}
    if isinstance(value, Project):
        return {"$project": value.id}
    if isinstance(value, Refinement):
        return {"$refinement": value.id}
    if isinstance(value, Collection):
        # a new collection is stored with its first products: say so, and with what description
        return {"$collection": [value.id, value.name] if value._stored else [value.id, value.name, value._description]}
    if isinstance(value, _records.ModelInfo):
        return {"$model": encode(dataclasses.asdict(value), home)}
    if isinstance(value, _records.Event):
        return {"$event": [type(value).__name__, encode(dataclasses.asdict(value), home)]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # a report (BackupReport…)
        cls = type(value)
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
        return {"$obj": [f"{cls.__module__}:{cls.__qualname__}", encode(fields, home)]}
    if isinstance(value, Mapping):
        out = {str(k): encode(v, home) for k, v in value.items()}
        return {"$map": out} if len(out) == 1 and next(iter(out)).startswith("$") else out
    if isinstance(value, (list, tuple, set, frozenset, range, np.ndarray, pd.Series)):
        return [encode(v, home) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} between a studio host and its clients")


def _frame(frame: pd.DataFrame, home: Path | None) -> dict:
    # Column by column: whole columns of numbers, text and timestamps go as they are (fast);
    # only object columns (dicts, lists, mixed) are encoded cell by cell.
    columns = [str(c) for c in frame.columns]
    dtypes = [str(t) for t in frame.dtypes]
    data = []
    for i, (_, col) in enumerate(frame.items()):
        kind = col.dtype.kind
        if kind == "M":
            data.append([None if v is pd.NaT else v.isoformat() for v in col])
        elif kind in "iub":
            data.append([None if v is pd.NA else v for v in col.tolist()] if col.hasnans else col.tolist())
        elif kind == "f":
            data.append([None if v != v or v in (math.inf, -math.inf) else v for v in col.tolist()])
        elif dtypes[i] in ("str", "string") or (kind == "O" and _plain_text(col)):
            data.append([None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v
                         for v in col.tolist()])
        else:
            data.append([encode(_cell(v), home) for v in col.tolist()])
    return {"columns": columns, "dtypes": dtypes, "data": data, "rows": len(frame)}


def _plain_text(col: pd.Series) -> bool:
    return all(v is None or isinstance(v, str) for v in col.tolist())


def _cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _product(product: Product, home: Path | None) -> dict:
    fields = {f.name: getattr(product, f.name) for f in dataclasses.fields(product) if not f.name.startswith("_")}
    for key in ("path", "thumb_path"):  # relative to the home: the client may name it differently
        path = fields[key]
        if path is not None and home is not None and Path(path).is_relative_to(home):
            fields[key] = str(Path(path).relative_to(home))
        elif path is not None:
            fields[key] = str(path)
    return encode(fields, home)


def decode(value: Any, studio: Any = None) -> Any:
    """The Python value of :func:`encode`'s output; handles are bound to ``studio``."""
    if isinstance(value, list):
        return [decode(v, studio) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        key, inner = next(iter(value.items()))
        tag = _TAGS.get(key)
        if tag is not None:
            return tag(inner, studio)
    return {k: decode(v, studio) for k, v in value.items()}


def _decode_frame(data: dict, studio: Any) -> pd.DataFrame:
    columns, dtypes = data["columns"], data["dtypes"]
    if not columns:
        return pd.DataFrame(index=range(data.get("rows", 0)))
    # Each column made at once with the dtype it had on the host (no inference, then no cast).
    frame = pd.DataFrame({i: _decode_column(dtype, col, studio) for i, (dtype, col)
                          in enumerate(zip(dtypes, data["data"]))})
    frame.columns = columns  # by position: user SQL may repeat a name
    return frame


def _decode_column(dtype: str, col: list, studio: Any) -> Any:
    # Arrays rather than Series: the frame is then built without aligning 30 indexes.
    try:
        if dtype.startswith("datetime64"):
            return pd.to_datetime(col, utc="UTC" in dtype or "+" in dtype, format="ISO8601").astype(dtype)
        if dtype == "object":
            cells = np.empty(len(col), dtype=object)
            has_tags = any(isinstance(v, dict) for v in col)
            for i, v in enumerate(col):  # one by one: a cell may itself be a list
                cells[i] = decode(v, studio) if has_tags else v
            return cells
        return pd.array(col, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        return pd.Series(col).array  # keep what pandas makes of it rather than fail the call


def _decode_product(data: dict, studio: Any) -> Product:
    fields = decode(data, studio)
    home = Path(studio.home) if studio is not None else Path()
    fields["path"] = home / fields["path"]
    if fields.get("thumb_path"):
        fields["thumb_path"] = home / fields["thumb_path"]
    return Product(**fields, _studio=studio)


def _decode_event(data: list, studio: Any) -> Any:
    name, fields = data
    cls = getattr(_records, name, None) or getattr(_training, name, None)
    if not (isinstance(cls, type) and issubclass(cls, _records.Event)):
        return None
    return cls(**decode(fields, studio))


def _decode_obj(data: list, studio: Any) -> Any:
    import importlib
    from types import SimpleNamespace

    where, fields = data
    fields = decode(fields, studio)
    module, _, name = str(where).partition(":")
    if module.split(".")[0] == "imagen_nb":  # only our own records are rebuilt as their class
        try:
            cls = importlib.import_module(module)
            for part in name.split("."):
                cls = getattr(cls, part)
            if dataclasses.is_dataclass(cls):
                return cls(**fields)
        except (ImportError, AttributeError, TypeError):
            pass
    return SimpleNamespace(**fields)


def _grid(grid: Grid, home: Path | None) -> dict:
    import base64

    g = grid.layout

    def axis(a: Any) -> Any:
        return None if a is None else {"name": a.name, "values": encode(list(a.values), home), "labels": list(a.labels)}

    cells = [[list(key), [encode({"values": dict(it.values), "product_id": it.product_id, "status": it.status,
                                  "image": it.image, "note": it.note}, home) for it in items]]
             for key, items in g.cells.items()]
    return {"title": grid.title, "order_id": grid.order_id, "x": axis(g.x), "y": axis(g.y), "z": axis(g.z),
            "cells": cells, "fixed": encode(dict(g.fixed), home),
            "png": base64.b64encode(grid._repr_png_()).decode("ascii")}


def _decode_grid(data: dict, studio: Any) -> Grid:
    import base64
    import io

    from PIL import Image

    from ..core.grid import Axis, GridItem, GridLayout

    def axis(a: Any) -> Any:
        return None if a is None else Axis(a["name"], tuple(decode(a["values"], studio)), tuple(a["labels"]))

    cells = {tuple(key): [GridItem(**decode(it, studio)) for it in items] for key, items in data["cells"]}
    layout = GridLayout(axis(data["x"]), axis(data["y"]), axis(data["z"]), cells, decode(data["fixed"], studio))
    image = Image.open(io.BytesIO(base64.b64decode(data["png"])))
    image.load()
    return Grid(studio, layout, image, title=data["title"], order_id=data["order_id"])


def _decode_dt(text: str, studio: Any) -> Any:
    if "T" not in text and len(text) == 10:
        return dt.date.fromisoformat(text)
    return pd.Timestamp(text)


_TAGS: dict[str, Callable[[Any, Any], Any]] = {
    "$df": _decode_frame,
    "$dt": _decode_dt,
    "$path": lambda v, s: Path(v),
    "$product": _decode_product,
    "$order": lambda v, s: Order(s, v),
    "$training": lambda v, s: TrainingRun(s, v),
    "$download": lambda v, s: ModelImport(s, v),
    "$project": lambda v, s: Project(s, v),
    "$refinement": lambda v, s: Refinement(s, v),
    "$collection": lambda v, s: (Collection(s, v[0], v[1]) if len(v) == 2
                                 else Collection(s, v[0], v[1], description=v[2], stored=False)),
    "$model": lambda v, s: _records.ModelInfo(**decode(v, s)),
    "$event": _decode_event,
    "$map": lambda v, s: {k: decode(x, s) for k, x in v.items()},
    "$obj": _decode_obj,
    "$grid": _decode_grid,
}


# -- errors ------------------------------------------------------------------------------------
_BUILTIN = {e.__name__: e for e in (ValueError, LookupError, KeyError, IndexError, TypeError, TimeoutError,
                                    RuntimeError, PermissionError, FileNotFoundError, FileExistsError, OSError,
                                    NotImplementedError)}


def encode_error(exc: BaseException) -> dict:
    """An error as ``{"type", "message", "args"}`` (args when they can be sent back)."""
    out: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    try:
        reduced = exc.__reduce__()
        out["args"] = encode(list(reduced[1]))
    except Exception:  # not every error's arguments travel; the message always does
        pass
    for key in ("param", "column", "field"):
        if isinstance(getattr(exc, key, None), (str, int)):
            out[key] = getattr(exc, key)
    return out


def decode_error(data: Mapping[str, Any]) -> BaseException:
    """The exception :func:`encode_error` described: the same class when it is ours or a builtin."""
    name, message = str(data.get("type")), str(data.get("message", ""))
    cls = getattr(_errors, name, None) or _BUILTIN.get(name)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        if "args" in data:
            try:
                return cls(*decode(data["args"]))
            except Exception:  # its constructor wants something else: the message is enough
                pass
        try:
            return cls(message)
        except Exception:
            pass
    return _errors.ImagenError(f"{name}: {message}")


# -- the REST API's plain JSON -------------------------------------------------------------------
def plain(value: Any) -> Any:
    """``value`` as plain JSON data for the REST API: DataFrames as lists of records, no tags."""
    if isinstance(value, pd.DataFrame):
        return [{str(k): plain(_cell(v)) for k, v in row.items()} for row in value.to_dict("records")]
    if isinstance(value, Product):
        return {k: plain(v) for k, v in _product(value, None).items()}
    if isinstance(value, (Order, Project, TrainingRun, Refinement)):
        return {"id": value.id}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.generic,)):
        return plain(value.item())
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    return value


def dumps(value: Any) -> str:
    """JSON text (NaN and infinities are not JSON: they are sent as null)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
