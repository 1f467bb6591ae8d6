"""Sets: a saved recipe of rows and templates (Imagineer's card sets), one generation per row.

Pure: a :class:`SetRecipe` holds rows already read (the studio reads files) and knows how to
make the base parameter set of an order from itself and a theme.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ValidationError
from .rows import check_rows

#: The keys a set given as a mapping may have (``studio.sets["tarot"] = {...}``).
RECIPE_KEYS = ("rows", "template", "base", "theme", "style", "params", "model", "description")


@dataclass(frozen=True)
class SetRecipe:
    """A named recipe: rows (a table) + a prompt template + base, theme and style + parameters.

    The prompt of each row is ``base, theme, template, style`` (empty parts left out), the
    order Imagineer uses: the front words weigh most. ``{column}`` placeholders of the rows work
    in every part and in every string of ``params``; a column named like a parameter sets it.

    Args:
        name: the set's name in ``studio.sets``.
        rows: the table, one dict per row.
        template: the row's part of the prompt, e.g. ``"{value} of {suit}. {visual_layout}"``.
        base: what every prompt starts with.
        theme: the free slot (``order_set(..., theme="gothic, ink")`` replaces it); this is the default.
        style: what every prompt ends with (style words).
        params: other parameters: ``negative_prompt``, ``width``, ``height``, ``loras``, ``seed``…
        model: the model the set is made for (``order_set`` may name another).
        description: one line about the set.
    """

    name: str
    rows: tuple[dict[str, Any], ...]
    template: str
    base: str = ""
    theme: str = ""
    style: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    description: str = ""

    @property
    def columns(self) -> list[str]:
        """The rows' column names, in the order they first appear."""
        return list(dict.fromkeys(k for row in self.rows for k in row))

    def prompt(self, theme: str | None = None) -> str:
        """The prompt template of an order: base, theme (this one, or the set's), template, style."""
        theme = self.theme if theme is None else theme
        parts = (self.base, theme, self.template, self.style)
        return ", ".join(part.strip() for part in parts if part and part.strip())

    def order_params(self, theme: str | None = None, **overrides: Any) -> dict[str, Any]:
        """The base parameter set of an order of this set (``overrides`` win, ``prompt`` included)."""
        return {"prompt": self.prompt(theme), **dict(self.params), **overrides}

    def recipe(self) -> dict[str, Any]:
        """The recipe without rows, name, model and description (what the catalog's ``recipe`` holds)."""
        return {"template": self.template, "base": self.base, "theme": self.theme, "style": self.style,
                "params": dict(self.params)}

    def __repr__(self) -> str:
        return (f"<SetRecipe {self.name!r}: {len(self.rows)} rows × columns {', '.join(self.columns)}; "
                f"prompt {self.prompt()!r}>")


def make_recipe(name: str, value: "SetRecipe | Mapping[str, Any]", rows: list[dict[str, Any]] | None = None
                ) -> SetRecipe:
    """A SetRecipe called ``name`` from another recipe or a mapping with :data:`RECIPE_KEYS`.

    ``rows`` replaces the mapping's ``rows`` (the caller read a file or a DataFrame into it).
    Raises ValidationError for an unknown key (with a did-you-mean), a missing template, or a
    part that is not text.
    """
    from .errors import did_you_mean

    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ValidationError("name", f"a set name is non-empty text without outer spaces; got {name!r}")
    if isinstance(value, SetRecipe):
        value = {"rows": list(value.rows), **value.recipe(), "model": value.model, "description": value.description}
    if not isinstance(value, Mapping):
        raise ValidationError("set", "a set is a mapping {'rows': ..., 'template': '{value} of {suit}', ...} "
                                     f"or a SetRecipe; got {type(value).__name__}")
    unknown = [k for k in value if k not in RECIPE_KEYS]
    if unknown:
        raise ValidationError(str(unknown[0]), f"a set has no key {unknown[0]!r} (keys: {', '.join(RECIPE_KEYS)})."
                                               f"{did_you_mean(str(unknown[0]), RECIPE_KEYS)} Other parameters go "
                                               "in 'params': {'params': {'width': 512}}")
    params = value.get("params") or {}
    if not isinstance(params, Mapping):
        raise ValidationError("params", f"a set's params are a mapping of name → value; got {params!r}")
    template = value.get("template")
    if template is None and "prompt" in params:
        template = ""
    if not isinstance(template, str):
        raise ValidationError("template", "a set needs a prompt template for its rows, e.g. "
                                          "'template': '{value} of {suit}. {visual_layout}'")
    parts = {}
    for key in ("base", "theme", "style", "description"):
        part = value.get(key) or ""
        if not isinstance(part, str):
            raise ValidationError(key, f"a set's {key} is text; got {part!r}")
        parts[key] = part
    model = value.get("model")
    if model is not None and not isinstance(model, str):
        raise ValidationError("model", f"a set's model is a model id such as 'diffusers:tiny'; got {model!r}")
    rows = check_rows(value.get("rows") if rows is None else rows)
    return SetRecipe(name=name, rows=tuple(rows), template=template, params=dict(params), model=model, **parts)
