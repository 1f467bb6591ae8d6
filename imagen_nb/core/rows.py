"""Orders from rows: one generation per row of a table, ``{column}`` placeholders filled in.

Pure: rows come in as a list of dicts (reading files is the studio's and the store's job).
The grammar and the rules are in docs/smart-parameters.md, "Rows".
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .errors import OrderTooLarge, ValidationError, did_you_mean
from .smart import DEFAULT_LIMIT, count, expand, has_random, has_smart_syntax

#: ``{name}`` (a column), ``{{`` and ``}}`` (literal braces), or a stray brace.
_FIELD_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_ROW_KEY = "\x00row"  # the rows' place in the expansion; never a parameter name (check_params_text refuses NUL)


class RowsError(ValidationError):
    """A row, a column or a placeholder of an order from rows is wrong; nothing was queued.

    Args:
        param: the parameter concerned (``prompt``…), or ``"rows"``.
        message: what is wrong and how to fix it.
        row: the row number (1 = the first row of the table, header not counted), or None.
        column: the table column concerned, or None.
    """

    def __init__(self, param: str, message: str, row: int | None = None, column: str | None = None):
        self.row = row
        self.column_name = column
        where = ", ".join(x for x in (f"row {row}" if row is not None else "",
                                      f"column {column!r}" if column is not None else "") if x)
        super().__init__(param, f"{where}: {message}" if where else message)

    def __reduce__(self):
        return (_rebuild_rows_error, (self.param, self.message, self.row, self.column_name))


def _rebuild_rows_error(param, message, row, column):
    err = RowsError.__new__(RowsError)
    ValidationError.__init__(err, param, message)
    err.row, err.column_name = row, column
    return err


@dataclass(frozen=True)
class RowsExpansion:
    """What :func:`expand_rows` made: the generations and, for each, the 1-based row it came from."""

    generations: list[dict[str, Any]]
    rows: list[int]


def is_empty(value: Any) -> bool:
    """A missing cell: None, NaN, or text that is empty or only spaces."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _compile_text(param: str, text: str) -> tuple:
    """``text`` as parts: str (literal) or a 1-tuple (column name). Raises for a stray brace."""
    parts: list = []
    pos = 0
    for m in _FIELD_RE.finditer(text):
        if m.start() > pos:
            parts.append(text[pos:m.start()])
        token = m.group(0)
        if token == "{{":
            parts.append("{")
        elif token == "}}":
            parts.append("}")
        elif m.group(1) is not None:
            name = m.group(1)
            if not name.strip():
                raise RowsError(param, f"empty placeholder {{}} at character {m.start() + 1}; name a column, "
                                       "e.g. {suit}, or write {{}} for literal braces")
            parts.append((name,))
        else:
            what = "is never closed; add '}'" if token == "{" else "has no matching '{'"
            raise RowsError(param, f"'{token}' at character {m.start() + 1} {what}, or write "
                                   f"{token}{token} for a literal brace")
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    merged: list = []
    for part in parts:  # join neighbouring literals so filling is one join
        if merged and isinstance(part, str) and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return tuple(merged)


def placeholders(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """Column names each parameter's ``{column}`` placeholders use, nested lists and dicts included.

    Raises RowsError for a stray ``{`` or ``}`` (write ``{{``/``}}`` for literal braces).
    """
    found: dict[str, list[str]] = {}

    def walk(param: str, value: Any) -> None:
        if isinstance(value, str):
            if "{" in value or "}" in value:
                for part in _compile_text(param, value):
                    if isinstance(part, tuple) and part[0] not in found.setdefault(param, []):
                        found[param].append(part[0])
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(param, v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(param, v)

    for key, value in params.items():
        walk(str(key), value)
    return found


def _has_braces(value: Any) -> bool:
    if isinstance(value, str):
        return "{" in value or "}" in value
    if isinstance(value, Mapping):
        return any(_has_braces(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_braces(v) for v in value)
    return False


def coerce(param: str, value: Any, kind: str | None, row: int, column: str) -> Any:
    """A cell's value for a parameter of JSON Schema type ``kind`` (text from a CSV becomes a
    number, a boolean, or a list/object written as JSON). Other values are returned as they are."""
    if not isinstance(value, str) or kind in (None, "string"):
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)  # a parquet/pandas column with gaps reads as float
        return value
    text = value.strip()
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = float(text)
            return int(number) if re.fullmatch(r"[+-]?\d+", text) else number
        if kind == "boolean":
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError(text)
        if kind in ("array", "object"):
            # JSON when it looks like JSON; other text (LoRAs' "style-a:0.6") is the model's to read.
            return json.loads(text) if text[:1] in "[{" and text else value
    except ValueError:
        example = {"integer": "42", "number": "7.5", "boolean": "true",
                   "array": '[{"path": "cards.safetensors", "weight": 0.6}]', "object": '{"k": 1}'}[kind]
        raise RowsError(param, f"{value!r} is not {'an' if kind[0] in 'aeio' else 'a'} {kind} "
                               f"(parameter {param!r} needs one, e.g. {example})", row, column) from None
    return value


def _compile_fill(param: str, text: str) -> tuple:
    """``text`` ready to fill: ("cell", name) for exactly one placeholder, else ("format", fmt, names)."""
    parts = _compile_text(param, text)
    if len(parts) == 1 and isinstance(parts[0], tuple):
        return ("cell", parts[0][0])
    names: list[str] = []
    fmt = []
    for part in parts:
        if isinstance(part, str):
            fmt.append(part.replace("{", "{{").replace("}", "}}"))
        else:
            fmt.append(f"{{{len(names)}}}")
            names.append(part[0])
    return ("format", "".join(fmt), names)


def _fill(value: Any, row: Mapping[str, Any], cache: dict, param: str) -> Any:
    if isinstance(value, str):
        compiled = cache.get(value)
        if compiled is None:
            compiled = cache[value] = _compile_fill(param, value)
        if compiled[0] == "cell":
            return row[compiled[1]]  # exactly one placeholder: the cell as it is (a number stays a number)
        cells = [row[n] for n in compiled[2]]
        return compiled[1].format(*[c if type(c) is str else _text(c) for c in cells])
    if isinstance(value, Mapping):
        return {k: _fill(v, row, cache, param) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, row, cache, param) for v in value]
    if isinstance(value, tuple):
        return tuple(_fill(v, row, cache, param) for v in value)
    return value


def _text(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_rows(rows: Any) -> list[dict[str, Any]]:
    """Rows as a list of dicts with str keys; raises RowsError naming the first bad row."""
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence):
        raise RowsError("rows", "give rows as a DataFrame, a path to a .csv/.tsv/.json/.parquet file or a list "
                                f"of dicts, e.g. [{{'value': 'Ace', 'suit': 'Spades'}}]; got {type(rows).__name__}")
    out = list(rows)
    for i, row in enumerate(out, 1):
        if type(row) is not dict and not isinstance(row, Mapping):
            raise RowsError("rows", f"a row is a dict of column → value; got {type(row).__name__}", row=i)
    if not out:
        raise RowsError("rows", "the table has no rows; an order from rows makes one generation per row")
    if any(type(k) is not str for k in set().union(*out)):  # e.g. a DataFrame with numbered columns
        out = [{str(k): v for k, v in row.items()} for row in out]
    return out


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Column names: the first row's in order, then any others (sorted)."""
    first = list(rows[0])
    others = set().union(*rows) - set(first)
    return first + sorted(others)


def expand_rows(
    params: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    parameters: Sequence[str] = (),
    types: Mapping[str, str] | None = None,
    tokens: Mapping[str, Sequence[str]] | None = None,
    rng_seed: int | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> RowsExpansion:
    """Expand a base parameter set over the rows of a table: rows × SmartParameter groups.

    Each row fills the ``{column}`` placeholders of every string (lists and dicts included, so
    a LoRA entry ``{"path": "{lora}", "weight": 0.6}`` works); a column named like a parameter
    (a key of ``params`` or of ``parameters``) sets that parameter for its row. The row varies
    slowest: row 1 with each SmartParameter combination, then row 2, …

    Args:
        params: the base parameter set (SmartParameter syntax and placeholders allowed).
        rows: the table, one dict per row.
        parameters: the model's parameter names (a column with one of these names sets it).
        types: JSON Schema type per parameter, to read text cells (``"42"`` for an integer).
        tokens, rng_seed, limit: as for :func:`~imagen_nb.core.smart.expand`; the limit counts
            rows × combinations and is checked before anything is built.

    Raises:
        RowsError: a placeholder names no column, a used cell is empty or missing, a cell cannot
            be read as its parameter's type, a stray brace (names row and column).
        SmartParameterError, OrderTooLarge: as for ``expand``.
    """
    table = check_rows(rows)
    types = dict(types or {})
    columns = _columns(table)
    known = set(parameters) | set(params)
    param_columns = [c for c in columns if c in known]
    template = dict(params)
    for col in param_columns:
        if col in template and has_smart_syntax(template[col]):
            raise RowsError(col, f"it is both a column of the rows and a parameter with SmartParameter groups "
                                 f"({template[col]!r}); drop the column, or drop the parameter and let each "
                                 "row set it", column=col)
    used = placeholders({k: v for k, v in template.items() if k not in param_columns})
    for param, names in used.items():
        for name in names:
            if name not in columns:
                raise RowsError(param, f"{{{name}}} names no column of the rows (columns: {', '.join(columns)})."
                                       f"{did_you_mean(name, columns)} Write {{{{ and }}}} for literal braces.",
                                column=name)
    needed = list(dict.fromkeys([n for names in used.values() for n in names] + param_columns))
    missing = object()
    for i, row in enumerate(table, 1):
        for name in needed:
            value = row.get(name, missing)
            if value is None or value is missing or (type(value) is str and not value.strip()) or (
                    type(value) is not str and is_empty(value)):
                users = [p for p, ns in used.items() if name in ns] or [name]
                if value is missing:
                    raise RowsError(users[0], "the row has no such column; give every row a value there", i, name)
                raise RowsError(users[0], f"the cell is empty and {', '.join(users)} uses it; fill it, or remove "
                                          "the row", i, name)
    typed = [(col, col, types[col]) for col in param_columns if types.get(col) not in (None, "string")]
    for param, names in used.items():
        kind = types.get(param)
        value = template[param]
        if kind not in (None, "string") and isinstance(value, str) and len(names) == 1 and value == f"{{{names[0]}}}":
            typed.append((param, names[0], kind))
    if typed:
        table = [dict(row) for row in table]  # the caller's rows stay as given
        for param, col, kind in typed:
            for i, row in enumerate(table, 1):
                row[col] = coerce(param, row[col], kind, i, col)
    for col in param_columns:
        template[col] = None  # keeps the parameter's place; each row sets it below
    per_row = count(template, tokens=tokens)
    total = len(table) * per_row
    if limit is not None and total > limit:
        raise OrderTooLarge(f"this order would make {total:,} generations (rows ×{len(table):,}"
                            + (f", ×{per_row:,} per row from SmartParameter groups" if per_row > 1 else "")
                            + f"); the limit is {limit:,} — pass limit=… to raise it", count=total, limit=limit)
    fill_keys = [k for k, v in template.items() if _has_braces(v)]
    cache: dict[str, tuple] = {}
    generations = []
    row_numbers = []
    if not has_random(template, tokens=tokens):
        # The combinations are the same for every row: build them once, fill each row's cells in.
        combos = expand(template, tokens=tokens, limit=None)
        # Each fill key takes few distinct values over the combinations (the prompt is usually
        # one): fill those once per row and index them per combination.
        distinct: list[list] = []
        which: list[list[int]] = []
        for key in fill_keys:
            seen: dict = {}
            values: list = []
            picks = []
            for combo in combos:
                value = combo[key]
                mark = value if isinstance(value, str) else id(value)
                if mark not in seen:
                    seen[mark] = len(values)
                    values.append(value)
                picks.append(seen[mark])
            distinct.append(values)
            which.append(picks)
        keyed = list(zip(fill_keys, distinct, which))
        if all(len(values) == 1 for values in distinct):
            # The usual case (placeholders only in parameters without groups): one merge per generation.
            plans = [(key, _compile_fill(key, values[0]) if isinstance(values[0], str) else None, values[0])
                     for key, values, _ in keyed]
            for number, row in enumerate(table, 1):
                over = {}
                for key, plan, value in plans:
                    if plan is None:
                        over[key] = _fill(value, row, cache, key)
                    elif plan[0] == "cell":
                        over[key] = row[plan[1]]
                    else:
                        over[key] = plan[1].format(*[c if type(c) is str else _text(c)
                                                     for c in [row[n] for n in plan[2]]])
                for col in param_columns:
                    over[col] = row[col]
                generations.extend([{**combo, **over} for combo in combos])
            row_numbers = [n for n in range(1, len(table) + 1) for _ in combos]
            return RowsExpansion(generations, row_numbers)
        for number, row in enumerate(table, 1):
            filled = [(key, [_fill(v, row, cache, key) for v in values], picks) for key, values, picks in keyed]
            cells = {col: row[col] for col in param_columns}
            for j, combo in enumerate(combos):
                gen = combo.copy()
                for key, values, picks in filled:
                    gen[key] = values[picks[j]]
                if cells:
                    gen.update(cells)
                generations.append(gen)
            row_numbers.extend([number] * len(combos))
        return RowsExpansion(generations, row_numbers)
    # Random picks are drawn per generation, so each row gets its own.
    for gen in expand({_ROW_KEY: range(len(table)), **template}, tokens=tokens, rng_seed=rng_seed, limit=None):
        index = gen.pop(_ROW_KEY)
        row = table[index]
        for key in fill_keys:
            gen[key] = _fill(gen[key], row, cache, key)
        for col in param_columns:
            gen[col] = row[col]
        generations.append(gen)
        row_numbers.append(index + 1)
    return RowsExpansion(generations, row_numbers)
