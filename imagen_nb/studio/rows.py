"""The Studio's side of orders from rows and of sets (issue 13): ``studio.sets``, expanding an
order over a table, and ``order_set``. Kept apart from studio.py so the facade stays small."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..catalog import sets as q_sets
from ..core.errors import ValidationError, did_you_mean
from ..core.inputs import check_params_text, check_text
from ..core.records import ModelInfo
from ..core.rows import RowsExpansion, expand_rows
from ..core.sets import SetRecipe, make_recipe
from ..store.examples import example_sets
from ..store.tables import read_rows

if TYPE_CHECKING:
    from .local import LocalStudio
    from .surface import Studio


def spec_types(model: ModelInfo) -> tuple[list[str], dict[str, str]]:
    """A model's parameter names and, for each, its JSON Schema type (the first non-null one)."""
    props = model.spec.get("properties", {}) if isinstance(model.spec, Mapping) else {}
    types = {}
    for name, prop in props.items():
        kind = prop.get("type") if isinstance(prop, Mapping) else None
        kinds = [kind] if isinstance(kind, str) else list(kind or [])
        kinds = [k for k in kinds if k != "null"]
        if kinds:
            types[name] = kinds[0]
    return list(props), types


def expand_over_rows(studio: "Studio", model: ModelInfo | None, params: Mapping[str, Any], rows: Any, *,
                     limit: int | None, rng_seed: int | None) -> tuple[RowsExpansion, list[dict[str, Any]]]:
    """The generations of an order from rows, and the rows as read (nothing is stored)."""
    table = read_rows(rows)
    names, types = spec_types(model) if model is not None else ([], {})
    check_params_text({"rows": table})
    expansion = expand_rows(params, table, parameters=names, types=types, tokens=dict(studio.tokens),
                            rng_seed=rng_seed, limit=studio.limit if limit is None else limit)
    return expansion, table


class Sets(MutableMapping):
    """Saved sets: recipes of rows + templates, one generation per row (Imagineer's card sets).

    The example sets ``card_deck`` (54 cards), ``tarot`` (22 major arcana) and ``zodiac`` (12
    signs) are always listed; a set saved under the same name takes their place::

        studio.sets["cards"] = {"rows": "cards.csv", "template": "{value} of {suit}",
                                "base": "a playing card", "style": "ink", "params": {"width": 512}}
        studio.sets["tarot"]                     # a SetRecipe: rows, template, base, theme, style, params
        studio.order_set("tarot", "diffusers:tiny", theme="gothic, ink")

    A value is a :class:`~imagen_nb.core.sets.SetRecipe` or a mapping with the keys ``rows``
    (a DataFrame, a .csv/.tsv/.json/.parquet path or a list of dicts), ``template``, ``base``,
    ``theme``, ``style``, ``params``, ``model`` and ``description``. Rows are read when the set
    is saved and kept in the catalog.
    """

    def __init__(self, studio: "LocalStudio"):
        self._studio = studio

    def _stored(self) -> list[str]:
        return q_sets.names(self._studio.catalog.cursor())

    def saved(self) -> list[str]:
        """The names of the sets saved in this home (the example sets that come with imagen-nb aside)."""
        return self._stored()

    def __getitem__(self, name: str) -> SetRecipe:
        row = q_sets.get(self._studio.catalog.cursor(), name) if isinstance(name, str) else None
        if row is not None:
            return make_recipe(name, {**row["recipe"], "model": row["model"], "description": row["description"]},
                               rows=row["rows"])
        examples = example_sets()
        if name in examples:
            return examples[name]
        raise KeyError(f"no set {name!r}.{did_you_mean(str(name), list(self))} "
                       "See studio.sets.listing() for the sets there are.")

    def __setitem__(self, name: str, value: "SetRecipe | Mapping[str, Any]") -> None:
        rows = None
        if isinstance(value, Mapping) and "rows" in value:
            rows = read_rows(value["rows"])
        elif isinstance(value, Mapping):
            raise ValidationError("rows", "a set needs its table: {'rows': 'cards.csv' (or a DataFrame, or a list "
                                          "of dicts), 'template': '{value} of {suit}', ...}")
        recipe = make_recipe(name, value, rows=rows)
        check_text("name", name)
        check_params_text({"rows": list(recipe.rows), **recipe.recipe()})
        for key, part in (("description", recipe.description), ("model", recipe.model or "")):
            check_text(key, part)
        q_sets.put(self._studio.catalog.cursor(), name, description=recipe.description, model=recipe.model,
                   recipe=recipe.recipe(), rows=list(recipe.rows))

    def __delitem__(self, name: str) -> None:
        if not q_sets.delete(self._studio.catalog.cursor(), name):
            if name in example_sets():
                raise KeyError(f"{name!r} is an example set that comes with imagen-nb; it cannot be deleted "
                               "(save a set under its name to replace it)")
            raise KeyError(f"no set {name!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(self._stored()) | set(example_sets())))

    def __len__(self) -> int:
        return len(set(self._stored()) | set(example_sets()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in example_sets() or name in self._stored())

    def listing(self):
        """The sets as a DataFrame: name, rows, columns, description, model, example (True for built-ins)."""
        import pandas as pd

        stored = set(self._stored())
        out = []
        for name in self:
            recipe = self[name]
            out.append({"name": name, "rows": len(recipe.rows), "columns": ", ".join(recipe.columns),
                        "description": recipe.description, "model": recipe.model,
                        "example": name not in stored})
        return pd.DataFrame(out, columns=["name", "rows", "columns", "description", "model", "example"])

    def __repr__(self) -> str:
        return f"Sets({list(self)!r})"
