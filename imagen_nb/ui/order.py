"""The Order panel's controller: a model's form, the SmartParameter preview, ordering, presets,
smart tokens, and the thumbnails of the products this panel ordered (the session strip).

The page edits every parameter as text, so any field may hold SmartParameter syntax
(``[1,2,3]``, ``[1..4]``, ``[a|b]``, ``[token]``). :func:`params_from_values` turns the form's
text back into typed values (``"64"`` → 64, ``"true"`` → True) where the text is a plain value;
:func:`values_from_params` does the reverse for re-orders and presets.

Requests (``rpc_<name>``), results and pushes are listed in the JSDoc header of
``static/order.js``. The session strip is fed by the Studio's events: products of orders placed
from this panel are collected on worker threads and pushed as thumbnails (binary buffers) at
most ten times a second; the page asks for the full image of the one it shows large.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import re
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..core.errors import (ImagenError, MissingKey, OrderTooLarge, ProviderError, UnknownModelError,
                           ValidationError)
from ..core.records import Event, GenerationFinished, ModelInfo, OrderFinished, ProductReady
from ..core.smart import count as smart_count
from ..core.smart import escape, has_smart_syntax, new_rng_seed
from .bridge import Controller, PanelRequestError, Reply

log = logging.getLogger(__name__)

#: Fields drawn as text areas.
PROMPT_NAMES = frozenset({"prompt", "negative_prompt"})
#: Names that are image inputs even when their spec does not say so.
IMAGE_NAMES = frozenset({"image", "mask", "mask_image", "control_image", "init_image", "image_url",
                         "mask_url", "input_image", "first_frame_image"})
#: Fields shown above the fold; the others go under "Advanced" (a spec may say ``x-advanced``).
COMMON_NAMES = frozenset({
    "prompt", "negative_prompt", "image", "mask", "mask_image", "control_image", "strength",
    "prompt_strength", "width", "height", "aspect_ratio", "image_size", "num_inference_steps",
    "guidance_scale", "seed", "num_images_per_prompt", "scheduler", "duration", "loras",
})
#: The model a newcomer starts with when nothing was ordered yet: instant, no GPU, no key.
DEFAULT_MODEL = "instant:swatch"
PREVIEW_ROWS = 5
#: Thumbnails sent with one live update at most (older ones of a burst stay in the Gallery).
PUSH_THUMBS = 24
#: Session products a freshly opened view gets back.
SESSION_REPLAY = 48
PICKER_PAGE = 24
UPLOAD_MAX_BYTES = 64 * 2**20
_PRODUCT_ID = re.compile(r"[0-9a-f]{26}")
_UPLOAD_EXT = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}


# ---- the form, drawn from a model's JSON Schema ------------------------------------------------


def _types(prop: Mapping[str, Any]) -> list[str]:
    kind = prop.get("type")
    if kind is None:
        for alt in prop.get("anyOf", ()) or prop.get("oneOf", ()):
            if isinstance(alt, Mapping) and alt.get("type") not in (None, "null"):
                return _types(alt)
        return []
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return [k for k in kinds if k != "null"]


def is_image_input(name: str, prop: Mapping[str, Any]) -> bool:
    """Whether a spec property takes an image: ``format: uri``, an image ``contentMediaType``,
    an ``x-*-file`` flag, or a well-known name (``image``, ``mask_image``, ``control_image``…)."""
    if "string" not in _types(prop) and _types(prop):
        return False
    return (prop.get("format") == "uri" or str(prop.get("contentMediaType", "")).startswith("image/")
            or any(k.startswith("x-") and k.endswith("-file") and v for k, v in prop.items())
            or name in IMAGE_NAMES)


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def range_text(prop: Mapping[str, Any]) -> str | None:
    """A number property's range as help text: ``64 – 2,048, step 8``; None when unbounded."""
    lo = prop.get("minimum", prop.get("exclusiveMinimum"))
    hi = prop.get("maximum", prop.get("exclusiveMaximum"))
    parts = []
    if lo is not None and hi is not None:
        parts.append(f"{_num(lo)} – {_num(hi)}")
    elif lo is not None:
        parts.append(f"{'>' if 'exclusiveMinimum' in prop else '≥'} {_num(lo)}")
    elif hi is not None:
        parts.append(f"{'<' if 'exclusiveMaximum' in prop else '≤'} {_num(hi)}")
    if prop.get("multipleOf") is not None:
        parts.append(f"step {_num(prop['multipleOf'])}")
    return ", ".join(parts) or None


def _text(value: Any, prop: Mapping[str, Any]) -> str:
    """One parameter value as the text the form shows (the inverse of :func:`_typed`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    kinds = _types(prop)
    if isinstance(value, (list, tuple)) and "array" not in kinds:
        # A list given to a plain parameter is a group of options: seed=[1, 2] is "[1,2]".
        return "[" + ",".join(escape(_text(v, {})) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def field_of(name: str, prop: Mapping[str, Any], required: bool) -> dict[str, Any]:
    """How the page draws one parameter: its kind, label, help, range, choices and default."""
    kinds = _types(prop)
    if "enum" in prop:
        kind = "enum"
    elif is_image_input(name, prop):
        kind = "image"
    elif "integer" in kinds:
        kind = "integer"
    elif "number" in kinds:
        kind = "number"
    elif "boolean" in kinds:
        kind = "boolean"
    elif "array" in kinds or "object" in kinds:
        kind = "json"
    elif name in PROMPT_NAMES or name.endswith("_prompt"):
        kind = "prompt"
    else:
        kind = "text"
    default = prop.get("default")
    advanced = prop.get("x-advanced")
    if advanced is None:
        advanced = not (required or name in COMMON_NAMES)
    return {
        "name": name,
        "label": prop.get("title") or name.replace("_", " ").capitalize(),
        "kind": kind,
        "required": required,
        "advanced": bool(advanced),
        "description": prop.get("description") or "",
        "range": range_text(prop) if kind in ("integer", "number") else None,
        "minimum": prop.get("minimum"),
        "maximum": prop.get("maximum"),
        "step": prop.get("multipleOf"),
        "choices": [_text(v, {}) for v in prop["enum"]] if kind == "enum" else
                   (["true", "false"] if kind == "boolean" else None),
        "default": _text(default, prop) if "default" in prop else None,
    }


def describe_model(info: ModelInfo, key_missing: str | None = None) -> dict[str, Any]:
    """The form of a model: its identity and one field per spec property (``x-order`` first)."""
    spec = info.spec if isinstance(info.spec, Mapping) else {}
    props = spec.get("properties") or {}
    required = set(spec.get("required") or ())
    position = {n: i for i, n in enumerate(props)}
    names = sorted(props, key=lambda n: (props[n].get("x-order", math.inf) if isinstance(props[n], Mapping)
                                         else math.inf, position[n]))
    fields = [field_of(n, props[n], n in required) for n in names if isinstance(props[n], Mapping)]
    return {
        "id": info.id, "provider": info.provider, "name": info.name, "type": info.type,
        "family": info.family, "description": info.description, "title": spec.get("title") or info.id,
        "key_missing": key_missing, "image_to_image": info.supports_image_to_image, "fields": fields,
    }


def _typed(text: str, prop: Mapping[str, Any]) -> Any:
    kinds = _types(prop)
    if not kinds and "enum" in prop:  # an untyped enum: the choice whose text was picked
        return next((v for v in prop["enum"] if _text(v, {}) == text), text)
    if "array" in kinds or "object" in kinds:
        try:
            value = json.loads(text)
        except ValueError:
            return text  # a text form the provider reads ("style-a:0.6"), or smart syntax
        return value if isinstance(value, (list, dict)) else text
    if has_smart_syntax(text):
        return text
    if "integer" in kinds or "number" in kinds:
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return text  # the spec check says what is wrong, at this field
        return number if math.isfinite(number) else text
    if "boolean" in kinds and text.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
        return text.lower() in ("true", "yes", "on", "1")
    return text


def params_from_values(spec: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Base parameters from the form's text: blanks are left out (the model's default applies),
    plain numbers and booleans get their type, SmartParameter syntax stays text."""
    props = (spec.get("properties") or {}) if isinstance(spec, Mapping) else {}
    out: dict[str, Any] = {}
    for name, raw in values.items():
        if raw is None:
            continue
        if not isinstance(raw, str):
            out[name] = raw
            continue
        text = raw.strip()
        if not text:
            continue
        prop = props.get(name)
        out[name] = _typed(text, prop) if isinstance(prop, Mapping) else text
    return out


def values_from_params(spec: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, str]:
    """The form's text for base parameters (a re-order or a preset)."""
    props = (spec.get("properties") or {}) if isinstance(spec, Mapping) else {}
    return {name: _text(value, props.get(name) or {}) for name, value in (params or {}).items()}


# ---- the controller ---------------------------------------------------------------------------


class OrderController(Controller):
    """Serves the Order panel: models and their forms, the expansion preview, ordering, re-order
    prefill, presets, smart tokens, image inputs (gallery picks and uploads), and the live strip
    of this panel's products."""

    name = "order"

    def __init__(self, studio):
        super().__init__(studio)
        self._lock = threading.Lock()
        self._inbox: list[Event] = []
        self._orders: dict[str, dict[str, Any]] = {}  # orders placed from this panel, by id
        self._placing = 0  # order requests in flight: their first events may come before the id
        self._session: deque[dict[str, Any]] = deque(maxlen=200)  # products of this panel, newest first
        self._rng_seed = new_rng_seed()  # the random picks the preview shows are the ones ordered

    # -- state --------------------------------------------------------------------------------
    def rpc_init(self) -> Reply:
        """Everything the panel shows on mount: models, the default model's form, projects,
        presets, tokens and the session's products so far (thumbnails as buffers)."""
        models = self._models()
        ids = [m["id"] for m in models]
        model_id = next((m for m in self._recent_models() if m in ids), None)
        if model_id is None:
            model_id = DEFAULT_MODEL if DEFAULT_MODEL in ids else (ids[0] if ids else None)
        reply = Reply()
        with self._lock:
            items = [dict(item) for item in list(self._session)[:SESSION_REPLAY]]
            orders = [dict(o) for o in self._orders.values()]
        self._attach_thumbs(items, reply)
        reply.result = {
            **self.rpc_state(),
            "models": models,
            "providers": sorted({m["provider"] for m in models}),
            "types": sorted({m["type"] for m in models}),
            "model": model_id,
            "form": self._form(model_id) if model_id else None,
            "session": {"products": items, "orders": orders[-5:]},
            "home": str(self.studio.home),
        }
        return reply

    def rpc_state(self) -> dict[str, Any]:
        """The lists that change elsewhere (refreshed when the tab is shown): projects, presets,
        tokens and the studio's limit of generations per order."""
        return {"projects": self.rpc_projects(), "presets": self.rpc_presets(), "tokens": self.rpc_tokens(),
                "limit": self.studio.limit}

    def _models(self) -> list[dict[str, Any]]:
        frame = self.studio.models()
        missing = {p: self.studio.missing_key(p) for p in set(frame["provider"])}
        return [{**{k: (None if v != v else v) for k, v in row.items()}, "key_missing": bool(missing[row["provider"]])}
                for row in frame.to_dict("records")]

    def _recent_models(self) -> list[str]:
        try:
            return list(self.studio.orders(limit=5)["model"])
        except Exception:  # an empty or older catalog: no suggestion
            return []

    # -- the form -----------------------------------------------------------------------------
    def _info(self, model_id: Any) -> ModelInfo:
        if not isinstance(model_id, str) or not model_id:
            raise PanelRequestError("pick a model first", field="model")
        try:
            return self.studio.model(model_id)
        except (UnknownModelError, ProviderError, LookupError) as exc:
            raise PanelRequestError(str(exc), field="model") from exc

    def _form(self, model_id: str) -> dict[str, Any]:
        info = self._info(model_id)
        return describe_model(info, self.studio.missing_key(info.provider))

    def rpc_model(self, model_id: str) -> dict[str, Any]:
        """The form of ``model_id``: fields drawn from its spec (kind, label, range, choices, default)."""
        return self._form(model_id)

    def _params(self, info: ModelInfo, values: Mapping[str, Any] | None) -> dict[str, Any]:
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise PanelRequestError("values must be a mapping of field name → text")
        return params_from_values(info.spec, values)

    # -- preview and order --------------------------------------------------------------------
    def rpc_preview(self, model: str, values: Mapping[str, Any] | None = None, limit: int | None = None) -> dict:
        """What ordering now would make: the number of generations (and images) and the first
        parameter sets, with the columns that vary. Errors come back at the field (and column).

        A required field still empty is reported in ``missing``, not as an error, so a blank form
        previews quietly; a provider without its key is reported in ``key_missing``.
        """
        info = self._info(model)
        params = self._params(info, values)
        limit = self.studio.limit if limit is None else int(limit)
        spec = info.spec if isinstance(info.spec, Mapping) else {}
        props = spec.get("properties") or {}
        missing = [r for r in spec.get("required") or () if r not in params]
        # Stand-ins for required fields still blank, so the other fields are checked meanwhile.
        filled = {**{r: "…" for r in missing if "string" in _types(props.get(r) or {})}, **params}
        key_missing = self.studio.missing_key(info.provider)
        result: dict[str, Any] = {"count": 0, "images": 0, "limit": limit, "rows": [], "columns": [],
                                  "missing": missing, "key_missing": key_missing, "too_large": None}
        try:
            if key_missing:  # cannot validate without the key: expand only, the order says the rest
                gens = self._expand_unchecked(props, filled, limit)
            else:
                gens = self.studio.expand(info.id, limit=limit, rng_seed=self._rng_seed, **filled)
        except OrderTooLarge as exc:
            result.update(count=self._count(props, params), too_large=str(exc))
            return result
        except MissingKey as exc:  # a provider whose key was removed meanwhile
            result["key_missing"] = str(exc)
            gens = self._expand_unchecked(props, filled, limit)
        stand_ins = set(filled) - set(params)
        gens = [{k: v for k, v in g.items() if k not in stand_ins} for g in gens]
        per_gen = [g.get("num_images_per_prompt", (props.get("num_images_per_prompt") or {}).get("default", 1))
                   for g in gens]
        result["count"] = len(gens)
        result["images"] = sum(n if isinstance(n, int) else 1 for n in per_gen)
        result["columns"] = self._varying(params, gens)
        result["rows"] = [_jsonable(g) for g in gens[:PREVIEW_ROWS]]
        return result

    def _expand_unchecked(self, props: Mapping[str, Any], params: dict[str, Any], limit: int) -> list[dict]:
        # A list given to a list-typed parameter is its value, not a group: hide it from expand.
        held = {k: v for k, v in params.items() if isinstance(v, (list, dict)) and "array" in _types(props.get(k) or {})}
        marker = object()
        gens = self.studio.expand(None, limit=limit, rng_seed=self._rng_seed,
                                  **{k: (marker if k in held else v) for k, v in params.items()})
        return [{k: (held[k] if v is marker else v) for k, v in g.items()} for g in gens]

    def _count(self, props: Mapping[str, Any], params: dict[str, Any]) -> int:
        plain = {k: (0 if isinstance(v, (list, dict)) and "array" in _types(props.get(k) or {}) else v)
                 for k, v in params.items()}
        try:
            return smart_count(plain, tokens=dict(self.studio.tokens))
        except ImagenError:
            return 0

    @staticmethod
    def _varying(params: Mapping[str, Any], gens: Sequence[Mapping[str, Any]]) -> list[str]:
        """Columns worth a preview table: the parameters that change between generations, else
        the smart ones, else every one given."""
        keys = list(params)
        varying = [k for k in keys if len({json.dumps(g.get(k), sort_keys=True, default=str) for g in gens}) > 1]
        return varying or [k for k in keys if has_smart_syntax(params[k])] or keys

    def rpc_order(self, model: str, values: Mapping[str, Any] | None = None, project_id: str | None = None,
                  limit: int | None = None) -> dict[str, Any]:
        """Place the order; the page clears its prompt for the next one at once.

        Returns ``{order_id, model, count, images, project_id}``; the products arrive in the
        session strip (push ``session``) as they finish.
        """
        info = self._info(model)
        params = self._params(info, values)
        project = self._project_name(project_id)
        with self._lock:
            self._placing += 1
        try:
            try:
                order = self.studio.order(info.id, project=project, limit=limit, rng_seed=self._rng_seed, **params)
            except MissingKey as exc:
                raise PanelRequestError(str(exc), field="model") from exc
            except UnknownModelError as exc:
                raise PanelRequestError(str(exc), field="model") from exc
            count = self._count(info.spec.get("properties") or {}, params)
            state = {"order_id": order.id, "model": info.id, "count": count, "products": 0, "complete": 0,
                     "failed": 0, "cancelled": 0, "status": "queued", "error": None,
                     "prompt": params.get("prompt") if isinstance(params.get("prompt"), str) else None}
            with self._lock:
                self._orders[order.id] = state
        finally:
            with self._lock:
                self._placing -= 1
        self._rng_seed = new_rng_seed()
        if self.throttle is not None:
            self.throttle.poke()  # products that finished before the id was known
        return {"order_id": order.id, "model": info.id, "count": count, "project_id": project_id}

    def _project_name(self, project_id: str | None) -> str | None:
        if not project_id:
            return None
        frame = self.studio.projects(include_archived=True)
        match = frame[frame["id"] == project_id]
        if match.empty:
            raise PanelRequestError(f"no project {project_id!r} any more; pick another one", field="project")
        return str(match.iloc[0]["name"])

    # -- prefill: re-order and presets --------------------------------------------------------
    def rpc_reorder(self, product_id: str) -> dict[str, Any]:
        """The form prefilled from a product: its order's model and base parameters (for an
        imported product, its recorded parameters) and its project.

        Returns ``{model, form, values, project_id, product_id}``; ``form`` is None when the
        product was imported without a model (then the values fill the current form).
        """
        try:
            product = self.studio.product(product_id)
        except LookupError as exc:
            raise PanelRequestError(str(exc), field="product") from exc
        model_id, params = product.model_id, product.params
        if product.order_id:
            try:
                order = self.studio.get_order(product.order_id)
                model_id, params = order.model, order.base_params
            except LookupError:
                pass  # the order row is gone: fall back to the product's own parameters
        form = self._form(model_id) if model_id else None
        spec = self.studio.model(model_id).spec if model_id else {}
        props = (spec.get("properties") or {}) if isinstance(spec, Mapping) else {}
        if not product.order_id and props:  # an import: keep what the model understands
            params = {k: v for k, v in (params or {}).items() if k in props}
        return {"model": model_id, "form": form, "values": values_from_params(spec, params),
                "project_id": product.project_id, "product_id": product.id}

    def rpc_presets(self) -> list[dict[str, Any]]:
        """Saved presets, by name: ``[{name, model, params}]``."""
        return [{"name": name, "model": p["model"], "params": p["params"]}
                for name, p in self.studio.presets.items()]

    def rpc_preset_save(self, name: str, model: str | None = None,
                        values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Save the form's non-blank values as preset ``name`` (replacing one of that name)."""
        name = (name or "").strip() if isinstance(name, str) else name
        if not name:
            raise PanelRequestError("give the preset a name", field="preset_name")
        info = self._info(model) if model else None
        params = self._params(info, values) if info else params_from_values({}, values or {})
        if not params:
            raise PanelRequestError("the form is empty: fill in the parameters to keep first", field="preset_name")
        try:
            self.studio.presets[name] = {"model": info.id if info else None, "params": params}
        except ValidationError as exc:
            raise PanelRequestError(exc.message, field="preset_name") from exc
        return self.rpc_presets()

    def rpc_preset_apply(self, name: str) -> dict[str, Any]:
        """A preset as form values, with its model's form: ``{name, model, form, values}``."""
        try:
            preset = self.studio.presets[name]
        except KeyError as exc:
            raise PanelRequestError(str(exc.args[0]), field="preset") from exc
        model_id = preset["model"]
        spec = self._info(model_id).spec if model_id else {}
        return {"name": name, "model": model_id, "form": self._form(model_id) if model_id else None,
                "values": values_from_params(spec, preset["params"])}

    def rpc_preset_delete(self, name: str) -> list[dict[str, Any]]:
        """Delete preset ``name``; returns the presets left."""
        try:
            del self.studio.presets[name]
        except KeyError as exc:
            raise PanelRequestError(str(exc.args[0]), field="preset") from exc
        return self.rpc_presets()

    # -- smart tokens -------------------------------------------------------------------------
    def rpc_tokens(self) -> list[dict[str, Any]]:
        """Smart tokens by name: ``[{name, values}]``."""
        return [{"name": name, "values": values} for name, values in self.studio.tokens.items()]

    def rpc_token_set(self, name: str, values: Sequence[str] | str, old_name: str | None = None) -> list[dict]:
        """Create or change a token (renaming it from ``old_name``); values are a list or one per line."""
        if isinstance(values, str):
            values = values.splitlines()
        values = [str(v).strip() for v in values if str(v).strip()]
        name = name.strip() if isinstance(name, str) else name
        if not values:
            raise PanelRequestError("a smart token needs at least one value (one per line)", field="token_values")
        try:
            self.studio.tokens[name] = values
        except ValidationError as exc:
            raise PanelRequestError(exc.message, field="token_name" if exc.param == "name" else "token_values") from exc
        if old_name and old_name != name and old_name in self.studio.tokens:
            del self.studio.tokens[old_name]
        return self.rpc_tokens()

    def rpc_token_delete(self, name: str) -> list[dict[str, Any]]:
        """Delete a token; returns the tokens left."""
        try:
            del self.studio.tokens[name]
        except KeyError as exc:
            raise PanelRequestError(f"no smart token {name!r}", field="token") from exc
        return self.rpc_tokens()

    # -- projects -----------------------------------------------------------------------------
    def rpc_projects(self) -> list[dict[str, Any]]:
        """Active projects, most recently active first: ``[{id, name}]``."""
        frame = self.studio.projects()
        return [{"id": r["id"], "name": r["name"]} for r in frame[["id", "name"]].to_dict("records")]

    def rpc_create_project(self, name: str) -> dict[str, Any]:
        """Create a project (or take the one of that name): ``{id, name, projects}``."""
        name = name.strip() if isinstance(name, str) else name
        try:
            project = self.studio.project(name)
        except ValidationError as exc:
            raise PanelRequestError(exc.message, field="project") from exc
        if project.status == "archived":
            project.unarchive()
        return {"id": project.id, "name": project.name, "projects": self.rpc_projects()}

    # -- images: the large view, gallery picks, uploads -----------------------------------------
    def rpc_product(self, product_id: str) -> Reply:
        """One product for the large view: its file's bytes (images; a thumbnail otherwise) and
        its generation parameters."""
        try:
            product = self.studio.product(product_id)
        except LookupError as exc:
            raise PanelRequestError(str(exc), field="product") from exc
        reply = Reply()
        image = None
        media_type = product.media_type
        if product.media_type.startswith("image/") and product.path.is_file():
            image = reply.add(product.read_bytes())
        elif product.thumb_path is not None and product.thumb_path.is_file():
            data = product.thumb_path.read_bytes()
            image, media_type = reply.add(data), _mime(data)
        reply.result = {
            "id": product.id, "image": image, "mime": media_type, "media_type": product.media_type,
            "width": product.width, "height": product.height, "size": product.size,
            "model": product.model_id, "order_id": product.order_id, "project_id": product.project_id,
            "params": _jsonable(product.params or {}), "created_at": product.created_at.isoformat(),
            "path": str(product.path), "rating": product.rating,
        }
        return reply

    def rpc_recent(self, offset: int = 0, limit: int = PICKER_PAGE, text: str | None = None) -> Reply:
        """A page of recent image products for an image input's picker, thumbnails as buffers:
        ``{items: [{id, thumb, prompt, width, height, model}], more}``."""
        limit = max(1, min(int(limit), 100))
        frame = self.studio.gallery(limit=limit + 1, offset=max(0, int(offset)), kind="image",
                                    text=(text or "").strip() or None)
        reply = Reply()
        items = []
        for row in frame.head(limit).to_dict("records"):
            item = {"id": row["product_id"], "prompt": _short_prompt(_clean(row.get("prompt"))),
                    "width": _clean(row.get("width")), "height": _clean(row.get("height")),
                    "model": _clean(row.get("model"))}
            _attach(reply, item, _clean(row.get("thumb_path")))
            items.append(item)
        reply.result = {"items": items, "more": len(frame) > limit, "offset": int(offset)}
        return reply

    def rpc_upload(self, name: str = "upload", field: str | None = None, buffers: Sequence[bytes] = ()) -> Reply:
        """Keep an image the user picked (one buffer) under ``<home>/uploads/`` and return its
        path for an image input: ``{path, name, width, height, size, thumb}``."""
        if not buffers:
            raise PanelRequestError("no file came with the upload; pick the file again", field=field)
        data = bytes(buffers[0])
        if len(data) > UPLOAD_MAX_BYTES:
            raise PanelRequestError(f"{name} is {len(data) / 2**20:.0f} MB; images up to "
                                    f"{UPLOAD_MAX_BYTES // 2**20} MB can be uploaded", field=field)
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                fmt, (width, height) = im.format, im.size
                im.verify()
        except Exception as exc:
            raise PanelRequestError(f"{name} is not an image imagen-nb can read (PNG, JPEG, WEBP…)",
                                    field=field) from exc
        folder = Path(self.studio.home) / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{hashlib.sha256(data).hexdigest()[:20]}{_UPLOAD_EXT.get(fmt, '.png')}"
        if not path.exists():  # same bytes, same file: uploading twice costs nothing
            tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        reply = Reply()
        thumb = reply.add(_thumbnail(data))
        reply.result = {"path": str(path), "name": name, "width": width, "height": height, "size": len(data),
                        "thumb": thumb, "mime": "image/webp", "field": field}
        return reply

    def rpc_image_thumb(self, value: str) -> Reply:
        """A small picture of an image input's value: a product id, a local file or a URL.

        ``{kind: "product"|"file"|"url"|"missing", label, thumb}``.
        """
        reply = Reply()
        value = (value or "").strip()
        result: dict[str, Any] = {"kind": "missing", "label": value, "thumb": None, "mime": None}
        if _PRODUCT_ID.fullmatch(value):
            products = self.studio.products([value])
            if products:
                p = products[0]
                result.update(kind="product", label=_short_prompt(p.prompt) or p.id[-8:])
                _attach(reply, result, p.thumb_path)
        elif value.startswith(("http://", "https://", "data:")):
            result.update(kind="url", label=value[:80])
        elif value and not has_smart_syntax(value):
            path = Path(value).expanduser()
            if path.is_file() and path.stat().st_size <= UPLOAD_MAX_BYTES:
                try:
                    result.update(kind="file", label=path.name, thumb=reply.add(_thumbnail(path.read_bytes())),
                                  mime="image/webp")
                except Exception:
                    result.update(kind="file", label=path.name)
        reply.result = result
        return reply

    # -- the session strip (live) -------------------------------------------------------------
    def on_event(self, event: Event) -> bool:
        """Keep products and outcomes of this panel's orders (worker thread: record only)."""
        if not isinstance(event, (ProductReady, GenerationFinished, OrderFinished)):
            return False
        with self._lock:
            if event.order_id not in self._orders and not self._placing:
                return False
            self._inbox.append(event)
        return True

    def flush(self) -> None:
        """Push new products of this panel's orders (thumbnails) and their orders' counts."""
        with self._lock:
            events, self._inbox = self._inbox, []
            orders = self._orders
            now = time.time()
            mine = [e for e in events if e.order_id in orders]
            # Events of an order still being placed (its id not known yet) wait a little.
            self._inbox[:0] = [e for e in events if e.order_id not in orders and now - e.at < 30]
            changed: dict[str, dict[str, Any]] = {}
            new_ids: list[str] = []
            for e in mine:
                state = orders[e.order_id]
                if isinstance(e, ProductReady):
                    new_ids.append(e.product_id)
                    state["products"] += 1
                    state["status"] = "running" if state["status"] == "queued" else state["status"]
                elif isinstance(e, GenerationFinished):
                    if e.status in ("complete", "failed", "cancelled"):
                        state[e.status] += 1
                    if e.status == "failed":
                        state["error"] = e.error_message
                    state["status"] = "running" if state["status"] == "queued" else state["status"]
                else:
                    state.update(status=e.status, complete=e.complete, failed=e.failed, cancelled=e.cancelled)
                changed[e.order_id] = dict(state)
        if not changed:
            return
        items = []
        for product in reversed(self.studio.products(new_ids)):  # newest first
            items.append({"id": product.id, "order_id": product.order_id, "width": product.width,
                          "height": product.height, "media_type": product.media_type,
                          "prompt": _short_prompt(product.prompt), "thumb_path": product.thumb_path,
                          "created_at": product.created_at.isoformat()})
        with self._lock:
            self._session.extendleft(reversed(items))
        reply = Reply()
        sent = [dict(item) for item in items]
        self._attach_thumbs(sent[:PUSH_THUMBS], reply)
        for item in sent[PUSH_THUMBS:]:
            item.pop("thumb_path", None)
            item["thumb"] = None
        self.push("session", {"products": sent, "orders": list(changed.values())}, reply.buffers)

    @staticmethod
    def _attach_thumbs(items: list[dict[str, Any]], reply: Reply) -> None:
        for item in items:
            _attach(reply, item, item.pop("thumb_path", None))


# ---- helpers ----------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """A DataFrame cell as JSON: NaN/NaT → None, numpy numbers → Python ones."""
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except (TypeError, ValueError):
        return value
    if hasattr(value, "item"):
        return value.item()
    return value


def _short_prompt(prompt: Any, n: int = 140) -> str | None:
    if not isinstance(prompt, str):
        return None
    return prompt if len(prompt) <= n else prompt[: n - 1] + "…"


def _mime(data: bytes) -> str:
    """The media type of image bytes, from their signature (small products are their own thumbnail)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def _attach(reply: Reply, item: dict[str, Any], path: Any, key: str = "thumb") -> None:
    """Put a file's bytes in the reply: ``item[key]`` is the buffer index (None when the file is
    missing) and ``item["mime"]`` its media type."""
    item[key] = None
    item.setdefault("mime", None)
    if not path or not isinstance(path, (str, os.PathLike)):
        return
    try:
        data = Path(path).read_bytes()
    except OSError:
        return
    item[key] = reply.add(data)
    item["mime"] = _mime(data)


def _thumbnail(data: bytes, size: int = 160) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((size, size))
        out = io.BytesIO()
        im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB").save(out, format="WEBP", quality=80)
        return out.getvalue()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, range)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)
