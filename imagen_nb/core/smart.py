"""SmartParameters: expand the bracket groups of a base parameter set into generations.

``prompt="a [brown,black] [cat,dog]", seed="[1,2]"`` is one order of eight generations.
The grammar, with examples and the error messages, is in ``docs/smart-parameters.md``;
DESIGN.md §3 is the contract.

Each value is parsed once into a small tree of nodes. A node knows how many values it
stands for (``size``) and can hand out its i-th value without building the others, so an
order is counted before anything is built and a huge range costs nothing until it is used.
"""

from __future__ import annotations

import bisect
import itertools
import math
from random import Random
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from .errors import OrderTooLarge, SmartParameterError, did_you_mean

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_DEPTH",
    "count",
    "escape",
    "expand",
    "has_smart_syntax",
    "new_rng_seed",
]

DEFAULT_LIMIT = 1000
"""Most generations an order may make unless the caller passes another ``limit``."""

MAX_DEPTH = 32
"""Deepest nesting of groups; deeper is an error rather than a RecursionError."""

# Python refuses to convert ints of more than 4,300 digits to and from text, so numbers
# are capped well below that and a long digit string is our error, not a ValueError.
_MAX_NUMBER_LEN = 300

# Picks among at most this many values index a list built once (see _Pick).
_PICK_CACHE = 10_000

_NUMBER = r"[+-]?[0-9]+(?:\.[0-9]+)?"
_NUMBER_RE = re.compile(_NUMBER)
# The step is captured loosely so that "[1..5:x]" can say the step is wrong instead of
# silently becoming a token name.
_RANGE_RE = re.compile(rf"({_NUMBER})\s*\.\.\s*({_NUMBER})(?:\s*:(.*))?", re.DOTALL)
_SPECIAL_RE = re.compile(r"[\[\]\\]")
_ESCAPE_RE = re.compile(r"\\[\[\],|\\]")
_TO_ESCAPE_RE = re.compile(r"([\[\],|\\])")
_RUN_OUTSIDE = re.compile(r"[^\[\]\\]+")
_RUN_INSIDE = re.compile(r"[^\[\]\\,|]+")
_ESCAPABLE = frozenset("[],|\\")


# --------------------------------------------------------------------------- nodes
# typed=True asks for values as a whole-value group yields them (ints, floats, token
# values as given); typed=False asks for the text substituted into a longer string.


class _Node:
    size: int = 1
    random: bool = False

    def get(self, i: int, rng: Random | None, typed: bool) -> Any:
        raise NotImplementedError

    def values(self, typed: bool) -> list:
        """All values in order; only called on nodes without random picks."""
        return [self.get(i, None, typed) for i in range(self.size)]


class _Const(_Node):
    """One value: plain text, a number option (typed value and the text as written)."""

    def __init__(self, value: Any, text: str | None = None):
        self.value = value
        self.text = value if text is None else text

    def get(self, i, rng, typed):
        return self.value if typed else self.text

    def values(self, typed):
        return [self.value if typed else self.text]


class _Items(_Node):
    """A Python list/tuple/range value or a SmartToken's values, kept as given."""

    def __init__(self, items: Sequence):
        self.items = items
        self.size = len(items)

    def get(self, i, rng, typed):
        item = self.items[i]
        return item if typed else str(item)

    def values(self, typed):
        return list(self.items) if typed else [str(item) for item in self.items]


class _Range(_Node):
    """``[A..B:S]`` held as integers scaled by 10**decimals, so steps never drift."""

    def __init__(self, start: int, step: int, size: int, decimals: int):
        self.start, self.step, self.size, self.decimals = start, step, size, decimals
        self.scale = 10**decimals

    def get(self, i, rng, typed):
        v = self.start + i * self.step
        if not self.decimals:
            return v if typed else str(v)
        if typed:
            return v / self.scale  # int / int is correctly rounded
        digits = str(abs(v)).rjust(self.decimals + 1, "0")
        sign = "-" if v < 0 else ""
        return f"{sign}{digits[: -self.decimals]}.{digits[-self.decimals :]}"


class _Choice(_Node):
    """``[a,b,c]``: the values of each option, one after the other."""

    def __init__(self, options: list[_Node]):
        self.options = options
        self.offsets = list(itertools.accumulate((o.size for o in options), initial=0))
        self.size = self.offsets.pop()
        self.random = any(o.random for o in options)

    def get(self, i, rng, typed):
        k = bisect.bisect_right(self.offsets, i) - 1
        return self.options[k].get(i - self.offsets[k], rng, typed)

    def values(self, typed):
        return [v for o in self.options for v in o.values(typed)]


class _Pick(_Node):
    """``[a|b]`` or ``[?name]``: one value drawn uniformly from all that ``inner`` holds."""

    random = True

    def __init__(self, inner: _Node):
        self.inner = inner
        self.cache: dict[bool, list] = {}

    def get(self, i, rng, typed):
        n = self.inner.size
        if self.inner.random or n > _PICK_CACHE:
            return self.inner.get(rng.randrange(n), rng, typed)
        # A pick runs once per generation: index a built list instead of walking the tree.
        choices = self.cache.get(typed)
        if choices is None:
            choices = self.cache[typed] = self.inner.values(typed)
        return choices[rng.randrange(n)]


class _Concat(_Node):
    """Text with groups in it: the product of its parts, joined as strings."""

    def __init__(self, parts: list[_Node]):
        self.parts = parts
        self.size = math.prod(p.size for p in parts)
        self.random = any(p.random for p in parts)
        # Plain text is laid out once; only the groups are filled in per value.
        self.template = [p.text if type(p) is _Const else None for p in parts]
        self.slots = [(k, p) for k, p in enumerate(parts) if type(p) is not _Const]

    def get(self, i, rng, typed):
        out = self.template.copy()
        if self.size == 1:
            for k, part in self.slots:
                out[k] = part.get(0, rng, False)
            return "".join(out)
        # Mixed radix with the first part slowest, as itertools.product; indices are
        # worked out first so that random picks are drawn left to right.
        indices = [0] * len(self.slots)
        for s in range(len(self.slots) - 1, -1, -1):
            i, indices[s] = divmod(i, self.slots[s][1].size)
        for (k, part), j in zip(self.slots, indices):
            out[k] = part.get(j, rng, False)
        return "".join(out)

    def values(self, typed):
        return ["".join(c) for c in itertools.product(*(p.values(False) for p in self.parts))]


# -------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over one string value; see the EBNF in docs/smart-parameters.md."""

    def __init__(self, param: str, text: str, tokens: Mapping[str, Sequence] | None):
        self.param = param
        self.text = text
        self.tokens = tokens or {}

    def fail(self, index: int, reason: str) -> NoReturn:
        raise SmartParameterError(self.param, index + 1, reason)

    def parse(self) -> tuple[_Node, bool]:
        """Return the value's node and whether it yields typed values (exactly one group)."""
        parts, pos = self._pieces(0, 0, inside=False)
        if pos < len(self.text):  # _pieces stops outside a group only at a stray ']'
            self.fail(pos, "']' has no matching '['; remove it, or write \\] for a literal bracket")
        if len(parts) == 1 and isinstance(parts[0], _Node):
            return parts[0], True
        return _concat(parts), False

    def _pieces(self, pos: int, depth: int, inside: bool) -> tuple[list, int]:
        """Read text and groups up to a stop character; return the parts and where it stopped.

        Parts are unescaped strings and group nodes. Outside a group only ']' (or the end)
        stops; inside, ',' and '|' stop too.
        """
        text, n = self.text, len(self.text)
        run = _RUN_INSIDE if inside else _RUN_OUTSIDE
        parts: list = []
        buf: list[str] = []
        while pos < n:
            ch = text[pos]
            if ch == "\\":
                # Only the five special characters are escapes; any other backslash is
                # kept, so Windows paths and the like survive.
                nxt = text[pos + 1 : pos + 2]
                if nxt and nxt in _ESCAPABLE:
                    buf.append(nxt)
                    pos += 2
                else:
                    buf.append("\\")
                    pos += 1
            elif ch == "[":
                if buf:
                    parts.append("".join(buf))
                    buf = []
                node, pos = self._group(pos, depth + 1)
                parts.append(node)
            elif ch == "]" or (inside and ch in ",|"):
                break
            else:
                m = run.match(text, pos)
                assert m is not None  # the character at pos is none of the stops, so a run starts here
                buf.append(m.group())
                pos = m.end()
        if buf:
            parts.append("".join(buf))
        return parts, pos

    def _group(self, start: int, depth: int) -> tuple[_Node, int]:
        """Parse the group whose '[' is at ``start``; return its node and the index after ']'."""
        if depth > MAX_DEPTH:
            self.fail(start, f"groups nest more than {MAX_DEPTH} deep; flatten them")
        pos = start + 1
        options: list[tuple[int, list]] = []
        sep = None
        while True:
            option_start = pos
            parts, pos = self._pieces(pos, depth, inside=True)
            options.append((option_start, parts))
            if pos >= len(self.text):
                self.fail(start, "'[' is never closed; add ']', or write \\[ for a literal bracket")
            ch = self.text[pos]
            if ch == "]":
                break
            if sep is None:
                sep = ch
            elif ch != sep:
                self.fail(
                    pos,
                    "this group mixes ',' (one generation per option) and '|' (one random "
                    "pick); use one of them, or nest a group: [a,[b|c]]",
                )
            pos += 1
        return self._build(start, options, sep), pos + 1

    def _build(self, start: int, options: list[tuple[int, list]], sep: str | None) -> _Node:
        nodes: list[_Node] = []
        for option_start, raw in options:
            parts = _trim(raw)
            if not parts:
                if len(options) == 1:
                    self.fail(
                        start,
                        "empty group []; put options in it, e.g. [a,b], or write \\[\\] for literal brackets",
                    )
                self.fail(option_start, f"empty option; remove the extra {sep!r} or put a value there")
            if len(parts) > 1:
                nodes.append(_Concat([_Const(p) if isinstance(p, str) else p for p in parts]))
            elif isinstance(parts[0], _Node):
                nodes.append(parts[0])  # an option that is just a group keeps its typed values
            else:
                # A plain option was read as one string: its text starts after the spaces.
                text = parts[0]
                node = self._plain(text, option_start + len(raw[0]) - len(raw[0].lstrip()))
                if node is None:
                    if len(options) == 1:
                        return self._token(start, text)
                    node = _Const(text)
                nodes.append(node)
        if sep == "|":
            return _Pick(_Choice(nodes))
        return nodes[0] if len(nodes) == 1 else _Choice(nodes)

    def _plain(self, text: str, index: int) -> _Node | None:
        """A range or number option, or None for words."""
        m = _RANGE_RE.fullmatch(text)
        if m:
            return self._range(m, index)
        if _NUMBER_RE.fullmatch(text):
            self._check_length(text, index)
            return _Const(float(text) if "." in text else int(text), text)
        return None

    def _range(self, m: re.Match, index: int) -> _Range:
        a, b, step = m.group(1), m.group(2), m.group(3)
        numbers = [a, b]
        if step is not None:
            step = step.strip()
            if not _NUMBER_RE.fullmatch(step):
                self.fail(index, f"range step {step!r} is not a number; write [A..B:S] with S > 0, e.g. [0..1:0.25]")
            numbers.append(step)
        for number in numbers:
            self._check_length(number, index)
        decimals = max(len(t.partition(".")[2]) for t in numbers)
        lo, hi = _scaled(a, decimals), _scaled(b, decimals)
        s = _scaled(step, decimals) if step is not None else 10**decimals
        if s <= 0:
            self.fail(
                index,
                f"range step {step} must be greater than 0; the ends give the direction "
                f"([{b}..{a}] counts the other way)",
            )
        return _Range(lo, s if hi >= lo else -s, abs(hi - lo) // s + 1, decimals)

    def _check_length(self, number: str, index: int):
        if len(number) > _MAX_NUMBER_LEN:
            self.fail(index, f"number longer than {_MAX_NUMBER_LEN} characters")

    def _token(self, start: int, text: str) -> _Node:
        pick = text.startswith("?")
        name = text[1:].strip() if pick else text
        if not name:
            self.fail(start, "[?] needs a SmartToken name after '?', e.g. [?animal]")
        values = self.tokens.get(name)
        if values is None:
            known = [k for k in self.tokens if isinstance(k, str)]
            self.fail(
                start,
                f"[{text}] names no SmartToken"
                + (f" (known: {', '.join(sorted(known)[:10])}{', …' if len(known) > 10 else ''})." if known else ".")
                + did_you_mean(name, known)
                + f" To keep the brackets as text (as in A1111 emphasis), write \\[{text}\\];"
                " for options, separate them: [a,b] or [a|b].",
            )
        if isinstance(values, str):  # a lone string is one value, not a list of characters
            values = [values]
        if len(values) == 0:
            self.fail(start, f"SmartToken {name!r} has no values; give it some, or remove [{text}]")
        node = _Items(values)
        return _Pick(node) if pick else node


def _trim(parts: list) -> list:
    """Options are trimmed: strip the outer whitespace and drop what becomes empty."""
    parts = list(parts)
    if parts and isinstance(parts[0], str):
        parts[0] = parts[0].lstrip()
    if parts and isinstance(parts[-1], str):
        parts[-1] = parts[-1].rstrip()
    return [p for p in parts if not (isinstance(p, str) and not p)]


def _concat(parts: list) -> _Node:
    if not parts:
        return _Const("")
    if len(parts) == 1 and isinstance(parts[0], str):
        return _Const(parts[0])
    return _Concat([_Const(p) if isinstance(p, str) else p for p in parts])


def _scaled(number: str, decimals: int) -> int:
    """``"-1.5", 2`` → ``-150``: the number as an integer count of 10**-decimals."""
    sign = -1 if number.startswith("-") else 1
    whole, _, frac = number.lstrip("+-").partition(".")
    return sign * int(whole + frac.ljust(decimals, "0"))


# ------------------------------------------------------------------------ public API


def _compile(param: str, value: Any, tokens) -> tuple[_Node, bool]:
    if isinstance(value, str):
        if not _SPECIAL_RE.search(value):
            return _Const(value), True
        return _Parser(param, value, tokens).parse()
    if isinstance(value, (list, tuple, range)):
        if len(value) == 0:
            raise SmartParameterError(param, 0, "an empty list makes no generations; give at least one value")
        return _Items(value), True
    return _Const(value), True


def _compile_all(params: Mapping[str, Any], tokens) -> list[tuple[str, _Node, bool]]:
    return [(key, *_compile(str(key), value, tokens)) for key, value in params.items()]


def _format_count(n: int) -> str:
    # f"{n:,}" fails past 4,300 digits, and nobody reads a 40-digit count anyway.
    return f"{n:,}" if n < 10**30 else f"about 10^{int(math.log10(n))}"


def count(params: Mapping[str, Any], *, tokens: Mapping[str, Sequence[str]] | None = None) -> int:
    """Number of generations ``params`` expands to, without building them.

    A random pick counts 1. Raises SmartParameterError for a malformed value.
    """
    return math.prod(node.size for _, node, _ in _compile_all(params, tokens))


def expand(
    params: Mapping[str, Any],
    *,
    tokens: Mapping[str, Sequence[str]] | None = None,
    rng_seed: int | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> list[dict]:
    """Expand a base parameter set into one generation parameter set per combination.

    Args:
        params: the base parameter set; string values may hold bracket groups, list, tuple
            and range values are lists of options, anything else passes through.
        tokens: SmartTokens, ``{"animal": ["cat", "dog"]}``, for ``[animal]`` and ``[?animal]``.
        rng_seed: seed of the random picks; the same seed gives the same generations. When
            None a fresh one is used, so callers that must reproduce an order pass
            :func:`new_rng_seed` and store it.
        limit: most generations allowed (None: no limit). The count is checked before any
            generation is built.

    Raises:
        SmartParameterError: a value is malformed (names the parameter, column and fix).
        OrderTooLarge: the order would make more than ``limit`` generations.
    """
    compiled = _compile_all(params, tokens)
    total = math.prod(node.size for _, node, _ in compiled)
    if limit is not None and total > limit:
        sizes = ", ".join(f"{key} ×{_format_count(node.size)}" for key, node, _ in compiled if node.size > 1)
        raise OrderTooLarge(
            f"this order would make {_format_count(total)} generations ({sizes}); "
            f"the limit is {limit:,} — pass limit=… to raise it",
            count=total, limit=limit,
        )
    keys = [key for key, _, _ in compiled]
    # Values without random picks are built once per parameter and shared by the product;
    # parameters with picks enumerate indices and draw per generation.
    columns = [range(node.size) if node.random else node.values(typed) for _, node, typed in compiled]
    randoms = [(pos, node, typed) for pos, (_, node, typed) in enumerate(compiled) if node.random]
    if not randoms:
        return [dict(zip(keys, combo)) for combo in itertools.product(*columns)]
    rng = Random(new_rng_seed() if rng_seed is None else rng_seed)
    generations = []
    for combo in itertools.product(*columns):
        row = list(combo)
        for pos, node, typed in randoms:
            row[pos] = node.get(row[pos], rng, typed)
        generations.append(dict(zip(keys, row)))
    return generations


def new_rng_seed() -> int:
    """A fresh seed for the random picks of an order, to store with it."""
    return secrets.randbits(63)


def escape(text: str) -> str:
    """Escape ``[ ] , | \\`` so that ``expand({"p": escape(s)}) == [{"p": s}]``.

    The result can also be placed inside a group as one option: ``f"[{escape(a)},b]"``
    (options are trimmed, so outer spaces of ``a`` are dropped there).
    """
    return _TO_ESCAPE_RE.sub(r"\\\1", text)


def has_smart_syntax(value: Any) -> bool:
    """Whether ``value`` is a list of options or a string with a bracket group.

    A cheap check that does not validate: a stray ']' counts (expand will report it);
    escaped brackets do not.
    """
    if isinstance(value, (list, tuple, range)):
        return True
    if not isinstance(value, str) or not _SPECIAL_RE.search(value):
        return False
    unescaped = _ESCAPE_RE.sub("", value)
    return "[" in unescaped or "]" in unescaped


def possible_values(param: str, value: Any, *, tokens: Mapping[str, Sequence[str]] | None = None,
                    limit: int = 10_000) -> list:
    """Every value ``value`` can give parameter ``param``, each option of a random pick included
    (what a check must see before a random draw decides): ``"[a|b] [c,d]"`` → a c, a d, b c, b d.

    Raises SmartParameterError for a malformed value, OrderTooLarge when there are more than
    ``limit`` values.
    """
    node, typed = _compile(param, value, tokens)

    def size(n: _Node) -> int:
        if isinstance(n, _Pick):
            return size(n.inner)
        if isinstance(n, _Choice):
            return sum(size(o) for o in n.options)
        if isinstance(n, _Concat):
            return math.prod(size(p) for p in n.parts)
        return n.size

    def every(n: _Node, typed: bool) -> list:
        if isinstance(n, _Pick):
            return every(n.inner, typed)
        if isinstance(n, _Choice):
            return [v for o in n.options for v in every(o, typed)]
        if isinstance(n, _Concat):
            return ["".join(c) for c in itertools.product(*(every(p, False) for p in n.parts))]
        return n.values(typed)

    total = size(node)
    if total > limit:
        raise OrderTooLarge(f"{param} can take {_format_count(total)} values; at most {limit:,} can be checked")
    return every(node, typed)


def has_random(params: Mapping[str, Any], *, tokens: Mapping[str, Sequence[str]] | None = None) -> bool:
    """Whether expanding ``params`` draws random picks (``[a|b]``, ``[?token]``) anywhere.

    Raises SmartParameterError for a malformed value.
    """
    return any(node.random for _, node, _ in _compile_all(params, tokens))
