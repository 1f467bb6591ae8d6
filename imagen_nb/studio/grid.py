"""Comparison grids from the Studio (issue 13): an order's own axes, or any products by any
gallery column. Returns a :class:`Grid`, which shows in a notebook and saves as PNG or product."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from ..catalog import sets as q_sets
from ..core.errors import ValidationError
from ..core.grid import MAX_SIDE, GridItem, GridLayout, distinct, label, layout, varying
from ..core.inputs import check_count
from ..store import pngmeta
from ..store.grids import WRAP, render

if TYPE_CHECKING:
    from PIL.Image import Image

    from .handles import Product
    from .local import LocalStudio
    from .surface import Studio

#: gallery columns that are bookkeeping, never an axis or a legend entry
_NOT_AXES = {"product_id", "path", "thumb_path", "sha256", "size", "created_at", "params", "row_values",
             "generation_id", "collections", "media_type", "source", "kind", "project_id", "order_id"}


class Grid:
    """A labelled comparison grid: ``.image`` (PIL), the axes, and which product is in each cell.

    Shows as a PNG in a notebook; ``save(path)`` writes the PNG; ``save_product()`` keeps it in
    the gallery with an infotext naming its axes and values; ``cells`` lists each cell's product.
    """

    def __init__(self, studio: "Studio", grid: GridLayout, image: "Image", *, title: str,
                 order_id: str | None = None):
        self._studio = studio
        self.layout = grid
        self.image = image
        self.title = title
        self.order_id = order_id

    @property
    def axes(self) -> dict[str, str | None]:
        """The names on x, y and z (None for an axis not used)."""
        return {w: (a.name if a else None) for w, a in (("x", self.layout.x), ("y", self.layout.y),
                                                        ("z", self.layout.z))}

    @property
    def cells(self) -> pd.DataFrame:
        """One row per cell: x, y, z (values), product_id (the one drawn, or None), status
        (``complete``, ``pending``, ``generating``, ``failed``, ``cancelled`` or ``missing``), count."""
        g = self.layout
        nx, ny, nz = g.size()
        out = []
        for zi in range(nz):
            for yi in range(ny):
                for xi in range(nx):
                    items = g.cells.get((zi, yi, xi), [])
                    out.append({"x": g.x.values[xi] if g.x else None, "y": g.y.values[yi] if g.y else None,
                                "z": g.z.values[zi] if g.z else None,
                                "product_id": items[0].product_id if items else None,
                                "status": items[0].status if items else "missing", "count": len(items)})
        return pd.DataFrame(out, columns=["x", "y", "z", "product_id", "status", "count"])

    def png(self) -> bytes:
        """The grid as PNG bytes, with the infotext and ``imagen_nb`` JSON naming its axes."""
        buf = io.BytesIO()
        self.image.save(buf, format="PNG")
        return pngmeta.embed(buf.getvalue(), self._infotext_params(), "imagen-nb:grid",
                             extra={"grid": self.recipe()})

    def recipe(self) -> dict[str, Any]:
        """What reproduces the grid: the order (if any), the axes with their values, the products."""
        g = self.layout
        axes = {w: ({"name": a.name, "values": [label(v, 10_000) for v in a.values]} if a else None)
                for w, a in (("x", g.x), ("y", g.y), ("z", g.z))}
        ids = [it.product_id for items in g.cells.values() for it in items if it.product_id]
        return {"order_id": self.order_id, "axes": axes, "fixed": {k: label(v, 10_000) for k, v in g.fixed.items()},
                "product_ids": ids}

    def _infotext_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"prompt": self.title}
        for w, a in (("x", self.layout.x), ("y", self.layout.y), ("z", self.layout.z)):
            if a is not None:
                params[f"{w}_type"] = a.name
                params[f"{w}_values"] = ", ".join(a.labels)
        if self.order_id:
            params["order"] = self.order_id
        return params

    def save(self, path: str | os.PathLike) -> Path:
        """Write the grid as a PNG file (with its infotext); return the path."""
        path = Path(path)
        if path.suffix.lower() != ".png":
            raise ValidationError("path", f"a grid is saved as PNG; give a path ending in .png, not {path.name!r}")
        path.write_bytes(self.png())
        return path

    def save_product(self, *, project=None) -> "Product":
        """Keep the grid in the gallery as a product (its infotext names the axes and values)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = self.save(Path(tmp) / "grid.png")
            return self._studio.import_products([path], project=project)[0]

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.image.save(buf, format="PNG")
        return buf.getvalue()

    def __repr__(self) -> str:
        nx, ny, nz = self.layout.size()
        axes = ", ".join(f"{w}={n!r}" for w, n in self.axes.items() if n)
        return f"<Grid {self.title!r}: {axes}; {nx}×{ny}×{nz} cells, {self.image.width}×{self.image.height} px>"


def _options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - {"cell", "max_side", "title"})
    if unknown:
        raise ValidationError(unknown[0], "grid options are cell (px), max_side (px) and title")
    out: dict[str, Any] = {"cell": check_count("cell", options.get("cell", 160), minimum=16),
           "max_side": check_count("max_side", options.get("max_side", MAX_SIDE), minimum=64)}
    if "title" in options:
        out["title"] = str(options["title"])
    return out


def _row_label(number: int | None, values: dict | None) -> str:
    if number is None:
        return "—"
    # The first two cells with a letter or digit: a lone symbol (♈) is often not in the font.
    cells = [str(v) for v in (values or {}).values() if v is not None and any(c.isalnum() for c in str(v))][:2]
    return f"{number}. {' '.join(cells)}".strip()


def order_grid(studio: "LocalStudio", order_id: str, *, x: str | None, y: str | None, z: str | None,
               **options: Any) -> Grid:
    """The grid of one order (see :meth:`Studio.grid`); axes inferred when none are named."""
    opts = _options(options)
    grid, title, _choices = order_layout(studio, order_id, x=x, y=y, z=z, title=opts.get("title"))
    return Grid(studio, grid, render(grid, cell=opts["cell"], max_side=opts["max_side"], title=title),
                title=title, order_id=order_id)


def order_layout(studio: "LocalStudio", order_id: str, *, x: str | None, y: str | None, z: str | None,
                 title: str | None = None) -> tuple[GridLayout, str, list[str]]:
    """Which of an order's products goes in which cell, with no image drawn (the panels' grid
    view): the layout, its title and the names an axis may take (the order's parameters)."""
    row = studio.order_record(order_id)
    if row is None:
        raise LookupError(f"no order {order_id!r} in {studio.home}")
    studio.recorder.flush()
    gens = q_sets.grid_generations(studio.catalog.cursor(), order_id)
    items = []
    for g in gens:
        values = dict(g["params"])
        if g["set_row"] is not None:
            values.update(g["row_values"] or {})
            values["row"] = g["set_row"]
        thumb = g["thumb_path"] or g["path"]
        status, note = g["status"], g["error_type"] or ""
        if status == "complete" and g["product_id"] is None:
            status, note = "missing", "deleted"  # made, then its product was deleted
        items.append(GridItem(values, g["product_id"], status, str(studio.home / thumb) if thumb else None, note,
                              generation_id=g["id"]))
    params = list(dict.fromkeys(k for g in gens for k in g["params"]))
    if x is None and y is None and z is None:
        x, y, z = (_inferred(items, gens, params) + [None, None, None])[:3]
    row_labels = {g["set_row"]: _row_label(g["set_row"], g["row_values"]) for g in gens}

    def labeller(name: str, value: Any) -> str:
        return row_labels.get(value, label(value)) if name == "row" else label(value)

    grid = layout(items, x, y, z, known=params, legend=params, labeller=labeller)
    title = title or f"order {order_id}" + (f" (set {row['set_name']})" if row.get("set_name") else "")
    choices = varying(items, params)
    if gens and gens[0]["set_row"] is not None:
        # an order from rows: the row itself, then each column of the table that varies
        columns = list(dict.fromkeys(k for g in gens for k in (g["row_values"] or {})))
        choices += ["row"] + [c for c in varying(items, columns) if c not in choices]
    return grid, title, choices


def _inferred(items: list[GridItem], gens: list[dict], params: list[str]) -> list[str | None]:
    """An order's varying parameters, largest first; for an order from rows, the parameters the
    rows decide are one axis, ``row``."""
    names = varying(items, params)
    if gens and gens[0]["set_row"] is not None:
        by_row: dict = {}
        for item in items:
            by_row.setdefault(item.values["row"], []).append(item)
        from_rows = [n for n in names if all(len(varying(group, [n])) == 0 for group in by_row.values())]
        names = [n for n in names if n not in from_rows]
        if len(by_row) > 1:
            names = sorted(names + ["row"], key=lambda n: -len(by_row) if n == "row" else
                           -len({json.dumps(i.values.get(n), sort_keys=True, default=str) for i in items}))
    if len(names) > 1 and len(distinct(items, names[0])) > WRAP:
        # A long axis goes down the rows: a tall grid scrolls, a wide one shrinks to nothing.
        names[0], names[1] = names[1], names[0]
    if not names:
        raise ValidationError("x", "nothing varies in this order, so there is no axis to lay it out on; "
                                   "name one: order.grid(x='seed')")
    return names[:3]  # type: ignore[return-value]


def products_grid(studio: "LocalStudio", products: "Iterable[Product | str] | str", *, x: str | None,
                  y: str | None, z: str | None, **options: Any) -> Grid:
    """A grid of any products by gallery columns, parameters or row cells (see :meth:`Studio.grid`)."""
    opts = _options(options)
    if x is None:
        raise ValidationError("x", "name the axes of a grid of products, e.g. studio.grid(ids, x='seed', "
                                   "y='model'); an Order's grid can infer them: order.grid()")
    grid, title, _choices = products_layout(studio, products, x=x, y=y, z=z, title=opts.get("title"))
    return Grid(studio, grid, render(grid, cell=opts["cell"], max_side=opts["max_side"], title=title), title=title)


def products_layout(studio: "LocalStudio", products: "Iterable[Product | str] | str", *, x: str | None,
                    y: str | None, z: str | None, title: str | None = None) -> tuple[GridLayout, str, list[str]]:
    """Which product goes in which cell, with no image drawn (the panels' grid view): the layout,
    its title and the names an axis may take that vary among the products. With no ``x``, the
    two names that vary most are the axes (an error when nothing varies)."""
    if isinstance(products, str) and products.lstrip().lower().startswith(("select", "with", "from")):
        frame = studio.sql(products)
        if "product_id" not in frame.columns:
            raise ValidationError("sql", "the query must return a product_id column, e.g. "
                                         "select product_id from set_products where set_name = 'tarot'")
        ids = [str(i) for i in frame["product_id"]]
    else:
        ids = studio._ids(products)
    if not ids:
        raise ValidationError("products", "there are no products to lay out; check the ids or the query")
    studio.recorder.flush()
    found = q_sets.grid_products(studio.catalog.cursor(), ids)
    missing = sorted(set(ids) - set(found["product_id"]))
    if missing:
        raise LookupError(f"no product {missing[0]} in this studio's gallery (deleted, or from another home)")
    items = []
    columns = [c for c in found.columns if c not in _NOT_AXES]
    param_names: list[str] = []
    for rec in found.to_dict("records"):
        params, rows = rec.get("params"), rec.get("row_values")
        values = {**(rows or {}), **(params or {}), **{c: _plain(rec.get(c)) for c in columns}}
        param_names.extend(k for k in (params or {}) if k not in param_names)
        thumb = rec.get("thumb_path") or rec.get("path")
        items.append(GridItem(values, rec["product_id"], "complete", str(thumb) if thumb else None))
    known = columns + [p for p in param_names if p not in columns]
    choices = varying(items, known)
    if x is None and y is None and z is None:
        if not choices:
            raise ValidationError("x", "nothing varies among these products, so there is no axis to lay them "
                                       "out on; name one, e.g. x='seed'")
        x, y = (choices + [None])[:2]
    grid = layout(items, x, y, z, known=known, legend=param_names, sort=True)
    return grid, title or f"{len(items)} products", choices


def _plain(value: Any) -> Any:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, str) else value
