"""The example sets that come with imagen-nb (package data in ``imagen_nb/sets/``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from ..core.sets import SetRecipe, make_recipe
from .tables import read_rows

#: Where the example sets' recipes (sets.json) and tables (CSV) are.
FOLDER = Path(__file__).resolve().parents[1] / "sets"


@functools.lru_cache(maxsize=1)
def _load() -> dict[str, SetRecipe]:
    recipes = json.loads((FOLDER / "sets.json").read_text(encoding="utf-8"))
    return {name: make_recipe(name, {k: v for k, v in recipe.items() if k != "rows"},
                              rows=read_rows(FOLDER / recipe["rows"]))
            for name, recipe in recipes.items()}


def example_sets() -> dict[str, SetRecipe]:
    """The example sets by name: ``card_deck`` (54 playing cards), ``tarot`` (22 major arcana),
    ``zodiac`` (12 signs). Rows written for imagen-nb in the spirit of Imagineer's card sets."""
    return dict(_load())
