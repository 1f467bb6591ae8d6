"""What a local studio keeps in its catalog behind a mapping: smart tokens, presets, fetched specs."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from ..catalog import Catalog
from ..catalog import models as q_models
from ..catalog import presets as q_presets
from ..catalog import tokens as q_tokens
from ..core.errors import ValidationError, did_you_mean
from ..core.inputs import check_params_text, check_text
from ..core.records import ModelInfo

if TYPE_CHECKING:
    from .local import LocalStudio as Studio


class CatalogSpecCache:
    """Fetched parameter specs of remote models, kept in the catalog's ``models`` table."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def get(self, model_id: str):
        """The cached model and when its spec was fetched, or None."""
        return q_models.get_fetched(self._catalog.cursor(), model_id)

    def put(self, model: ModelInfo) -> None:
        """Remember a model whose spec was just fetched."""
        q_models.put_fetched(self._catalog.cursor(), model)


class Tokens(MutableMapping):
    """Smart tokens stored in the catalog: ``studio.tokens["animal"] = ["cat", "dog"]``."""

    def __init__(self, studio: "Studio"):
        self._studio = studio

    def _all(self) -> dict[str, list[str]]:
        return q_tokens.all_tokens(self._studio.catalog.cursor())

    def __getitem__(self, name: str) -> list[str]:
        tokens = self._all()
        if name not in tokens:
            raise KeyError(f"no smart token {name!r}.{did_you_mean(name, tokens)}")
        return tokens[name]

    def __setitem__(self, name: str, values: Sequence[str] | str) -> None:
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "[]|,?\\ "):
            raise ValidationError("name", f"a token name is a word without spaces or []|,?\\; got {name!r}")
        if isinstance(values, str):
            values = [values]
        values = [check_text(name, str(v)) for v in values]
        check_text("name", name)
        if not values:
            raise ValidationError(name, "a smart token needs at least one value")
        q_tokens.put(self._studio.catalog.cursor(), name, values)

    def __delitem__(self, name: str) -> None:
        if not q_tokens.delete(self._studio.catalog.cursor(), name):
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"Tokens({self._all()!r})"


class Presets(MutableMapping):
    """Named parameter sets saved for reuse (the Order panel's presets), kept in the catalog.

    A preset is ``{"model": model id or None, "params": {...}}``; params are base parameters as
    typed, SmartParameter syntax included::

        studio.presets["square"] = {"model": "diffusers:tiny", "params": {"width": 512, "height": 512}}
        studio.presets["square"]["params"]      # {'width': 512, 'height': 512}
        del studio.presets["square"]

    A mapping without ``"params"`` is taken as the params themselves (no model).
    """

    def __init__(self, studio: "Studio"):
        self._studio = studio

    def _all(self) -> dict[str, dict[str, Any]]:
        return q_presets.all_presets(self._studio.catalog.cursor())

    def __getitem__(self, name: str) -> dict[str, Any]:
        presets = self._all()
        if name not in presets:
            raise KeyError(f"no preset {name!r}.{did_you_mean(name, presets)}")
        return presets[name]

    def __setitem__(self, name: str, preset: Mapping[str, Any]) -> None:
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ValidationError("name", f"a preset name is non-empty text without outer spaces; got {name!r}")
        check_text("name", name)
        if not isinstance(preset, Mapping):
            raise ValidationError("params", f"a preset is a mapping {{'model': ..., 'params': {{...}}}}; "
                                            f"got {type(preset).__name__}")
        model = preset.get("model") if "params" in preset else None
        params = preset["params"] if "params" in preset else preset
        if model is not None and not isinstance(model, str):
            raise ValidationError("model", f"a preset's model is a model id such as 'diffusers:tiny'; got {model!r}")
        if not isinstance(params, Mapping):
            raise ValidationError("params", f"a preset's params are a mapping of name → value; got {params!r}")
        check_params_text(params)
        q_presets.put(self._studio.catalog.cursor(), name, model, jsonable(params))

    def __delitem__(self, name: str) -> None:
        if not q_presets.delete(self._studio.catalog.cursor(), name):
            raise KeyError(f"no preset {name!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"Presets({self._all()!r})"


def jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple, range)):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value
