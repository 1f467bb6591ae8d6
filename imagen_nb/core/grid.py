"""Comparison grids (X/Y/Z plots): which products go in which cell, and the axes' labels.

Pure: items come in as plain records (the studio reads them from the catalog); drawing is
``store/grids.py``'s job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .errors import ValidationError, did_you_mean

#: How an item's status is drawn, most useful first (a cell shows its first item in this order).
STATUS_ORDER = ("complete", "generating", "pending", "failed", "cancelled")


@dataclass(frozen=True)
class GridItem:
    """One product (or generation without a product yet) to place in a grid.

    Args:
        values: what each possible axis reads: parameters, row cells, gallery columns.
        product_id: the product shown (None while running, or when it failed).
        status: ``complete``, ``pending``, ``generating``, ``failed`` or ``cancelled``.
        image: the file to draw (a thumbnail when there is one), or None.
        note: a short text for a cell without an image (the error type of a failure).
        generation_id: the generation that made it (an order's grid), for its details.
    """

    values: Mapping[str, Any]
    product_id: str | None = None
    status: str = "complete"
    image: str | None = None
    note: str = ""
    generation_id: str | None = None


@dataclass(frozen=True)
class Axis:
    """One axis of a grid: the name it reads and its values in display order, with labels."""

    name: str
    values: tuple
    labels: tuple[str, ...]


@dataclass(frozen=True)
class GridLayout:
    """Items placed in cells: ``cells[(zi, yi, xi)]`` lists the items there (best status first).

    An axis that is not used is None and counts as one position (index 0). A cell without
    items is a combination nothing was made for (drawn as missing).
    """

    x: Axis | None
    y: Axis | None
    z: Axis | None
    cells: dict[tuple[int, int, int], list[GridItem]]
    fixed: dict[str, Any] = field(default_factory=dict)

    def size(self) -> tuple[int, int, int]:
        """How many positions on x, y and z (1 for an unused axis)."""
        return tuple(len(a.values) if a else 1 for a in (self.x, self.y, self.z))  # type: ignore[return-value]

    def cell(self, x: Any = None, y: Any = None, z: Any = None) -> list[GridItem]:
        """The items at these axis values (an unused axis takes None)."""
        def index(axis: Axis | None, value: Any) -> int:
            if axis is None:
                return 0
            keys = [_key(v) for v in axis.values]
            if _key(value) not in keys:
                raise KeyError(f"{value!r} is not a value of axis {axis.name!r} ({', '.join(axis.labels)})")
            return keys.index(_key(value))
        return self.cells.get((index(self.z, z), index(self.y, y), index(self.x, x)), [])


def _key(value: Any) -> Any:
    """A hashable stand-in for a value (lists and dicts, e.g. LoRA entries, by their JSON)."""
    if isinstance(value, (list, dict, tuple)):
        return ("json", json.dumps(value, sort_keys=True, default=str))
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 7 and 7.0 are one column
    return value


def label(value: Any, width: int = 60) -> str:
    """A short text for an axis value: lists and dicts as compact JSON, long text cut with …."""
    if value is None:
        text = "—"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, default=str)
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (2, 0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, label(value, 10_000))


def distinct(items: Sequence[GridItem], name: str) -> list:
    """The distinct values of ``name`` over ``items``, in order of first appearance."""
    seen: dict = {}
    for item in items:
        value = item.values.get(name)
        seen.setdefault(_key(value), value)
    return list(seen.values())


def varying(items: Sequence[GridItem], names: Sequence[str]) -> list[str]:
    """Of ``names``, those that take more than one value over ``items``, most values first
    (ties keep the order of ``names``)."""
    counts = {name: len(distinct(items, name)) for name in names}
    return sorted((n for n in names if counts[n] > 1), key=lambda n: -counts[n])


def fixed_values(items: Sequence[GridItem], names: Sequence[str]) -> dict[str, Any]:
    """Of ``names``, those with one value over every item, with that value (the grid's legend)."""
    out = {}
    for name in names:
        values = distinct(items, name)
        if len(values) == 1 and values[0] is not None:
            out[name] = values[0]
    return out


def _axis(items: Sequence[GridItem], name: str, *, sort: bool, labeller) -> Axis:
    values = distinct(items, name)
    if sort:
        values.sort(key=_sort_key)
    return Axis(name, tuple(values), tuple(labeller(name, v) for v in values))


def layout(items: Sequence[GridItem], x: str | None, y: str | None = None, z: str | None = None, *,
           known: Sequence[str] = (), legend: Sequence[str] = (), sort: bool = False,
           labeller=None) -> GridLayout:
    """Place ``items`` on the axes ``x``, ``y``, ``z`` (names of their ``values``).

    Args:
        known: every axis name that may be asked for (for the error and its did-you-mean).
        legend: the names whose single value is shown as fixed (those that vary are left out).
        sort: sort each axis's values (numbers, then text, then missing); default: the order
            in which the items first show them (an order's expansion order).
        labeller: ``f(axis, value) -> str``; default :func:`label`.

    Raises ValidationError for an axis no item has, or one axis named twice.
    """
    labeller = labeller or (lambda _name, value: label(value))
    axes = [a for a in (x, y, z) if a is not None]
    if len(set(axes)) != len(axes):
        raise ValidationError("x", f"each axis reads a different name; got x={x!r}, y={y!r}, z={z!r}")
    names = list(dict.fromkeys(list(known) + [k for item in items for k in item.values]))
    for which, name in (("x", x), ("y", y), ("z", z)):
        if name is not None and name not in names:
            raise ValidationError(which, f"no product here has {name!r} to lay out on {which}; "
                                         f"axes can be: {', '.join(names[:40])}.{did_you_mean(name, names)}")
    built = {which: (_axis(items, name, sort=sort, labeller=labeller) if name is not None else None)
             for which, name in (("x", x), ("y", y), ("z", z))}
    index = {which: ({_key(v): i for i, v in enumerate(a.values)} if a else None) for which, a in built.items()}
    cells: dict[tuple[int, int, int], list[GridItem]] = {}
    for item in items:
        pos = tuple(0 if index[w] is None
                    else index[w][_key(item.values.get(built[w].name))]  # type: ignore[index,union-attr]
                    for w in ("z", "y", "x"))
        cells.setdefault(pos, []).append(item)  # type: ignore[arg-type]
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    for pos in cells:
        cells[pos].sort(key=lambda it: rank.get(it.status, len(rank)))
    fixed = fixed_values(items, [n for n in legend if n not in axes])
    return GridLayout(built["x"], built["y"], built["z"], cells, fixed)


class GridTooLarge(ValidationError):
    """A grid would be larger than its size cap even with the smallest cells; nothing was drawn."""


#: Smallest cell a grid shrinks to (px) before it refuses to draw (GridTooLarge).
MIN_CELL = 32
#: Default cap of a grid image's longer side (px): 16,384 px × 16,384 px is ~800 MB in RGB at most,
#: so the default keeps to 8,192 px (~200 MB at most, usually far less).
MAX_SIDE = 8192


def fit_cell(columns: int, rows: int, *, cell: int, max_side: int, margin_x: int, margin_y: int) -> int:
    """The largest cell size ≤ ``cell`` (and ≥ :data:`MIN_CELL`) with which ``columns`` × ``rows``
    cells plus margins fit in ``max_side``; raises GridTooLarge when even the smallest does not."""
    room = min((max_side - margin_x) // max(columns, 1), (max_side - margin_y) // max(rows, 1))
    if room >= cell:
        return cell
    if room < MIN_CELL:
        need_w = margin_x + columns * MIN_CELL
        need_h = margin_y + rows * MIN_CELL
        raise GridTooLarge("size", f"this grid has {columns:,} columns × {rows:,} rows of cells; even at "
                                   f"{MIN_CELL} px a cell it would be {need_w:,} × {need_h:,} px, over the cap of "
                                   f"{max_side:,} px a side. Pick axes with fewer values, grid fewer products "
                                   "(a SQL filter), or raise the cap: max_side=…")
    return room
