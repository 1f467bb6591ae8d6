"""The Order panel's controller: a model's form, the SmartParameter preview, ordering, presets,
smart tokens, image inputs, and the thumbnails of the products this panel ordered (the session
strip). The form itself (fields from a model's JSON Schema, text ↔ typed values) lives in
:mod:`imagen_nb.ui.forms`.

Requests (``rpc_<name>``), results and pushes are listed in the JSDoc header of
``static/order/index.js``. The session strip is fed by the Studio's events: products of orders placed
from this panel are collected on worker threads and pushed as thumbnails (binary buffers) at
most ten times a second; the page asks for the full image of the one it shows large.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..core.errors import (ImagenError, MissingKey, OrderTooLarge, ProviderError, UnknownModelError,
                           ValidationError)
from ..core.records import (Event, GenerationFinished, ModelDownload, ModelInfo, OrderFinished, OrderQueued,
                            ProductReady)
from ..core.rows import RowsError
from ..core.smart import count as smart_count
from ..core.smart import has_smart_syntax, new_rng_seed
from .bridge import Controller, PanelRequestError, Reply, need_id, too_large_text
from .forms import describe_model, json_types, params_from_values, values_from_params
from .jsonable import jsonable
from .order_civitai import CivitaiRequests
from .order_refine import RefineRequests
from .paths import OUTSIDE, check_inputs, outside_home
from .thumbs import attach, make_thumbnail, product_thumb, row_thumb

log = logging.getLogger(__name__)

#: The model a newcomer starts with when nothing was ordered yet: instant, no GPU, no key.
DEFAULT_MODEL = "instant:swatch"
#: Parameter sets the preview table shows (the count covers them all).
PREVIEW_ROWS = 5
#: Thumbnails sent with one live update at most (older ones of a burst stay in the Gallery).
PUSH_THUMBS = 24
#: Session products a freshly opened view gets back.
SESSION_REPLAY = 48
#: Products per page of an image input's gallery picker.
PICKER_PAGE = 24
#: Largest image an upload (or a local file's preview) accepts.
UPLOAD_MAX_BYTES = 64 * 2**20
#: Largest table file (CSV, TSV, JSON, JSONL, Parquet) the panel attaches.
TABLE_MAX_BYTES = 64 * 2**20
#: Rows of an attached table the page shows.
TABLE_HEAD = 5
_PRODUCT_ID = re.compile(r"[0-9a-f]{26}")
#: order statuses after which nothing runs (until a retry queues the order again)
FINISHED = frozenset({"fulfilled", "failed", "cancelled"})
#: what a re-order fills from: the product's own parameter set, or its whole order's
REORDER_SCOPES = ("product", "order")
#: which of the product's parameters a re-order uses (the form keeps the rest for seed / prompt)
REORDER_USES = {"all": None, "seed": ("seed",), "prompt": ("prompt", "negative_prompt")}


def _pick(params: dict[str, Any], use: str) -> dict[str, Any]:
    keep = REORDER_USES[use]
    return dict(params) if keep is None else {k: v for k, v in params.items() if k in keep}
_UPLOAD_EXT = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}


class OrderController(RefineRequests, CivitaiRequests, Controller):
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
        self._session: deque = deque(maxlen=200)  # Product handles of this panel's orders, newest first
        self._rng_seed = new_rng_seed()  # the random picks the preview shows are the ones ordered
        self._table: dict[str, Any] | None = None  # the attached table: one generation per row (issue 13)
        self._civitai_setup()

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
            products = list(self._session)[:SESSION_REPLAY]
            orders = [dict(o) for o in self._orders.values()]
        items = [self._strip_item(p, reply) for p in products]
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
                "limit": self.studio.limit, "sets": self.rpc_sets(), "table": self._table_view()}

    def _models(self) -> list[dict[str, Any]]:
        frame = self.studio.models()
        missing = {p: self.studio.views.missing_key(p) for p in set(frame["provider"])}
        return [{**jsonable(row), "key_missing": bool(missing[row["provider"]])}
                for row in frame.to_dict("records")]

    def _recent_models(self) -> list[str]:
        try:
            return list(self.studio.orders(limit=5)["model"])
        except Exception:  # an empty or older catalog: no suggestion
            return []

    # -- the form -----------------------------------------------------------------------------
    def _info(self, model_id: Any) -> ModelInfo:
        need_id(model_id, "model", "pick a model first")
        try:
            return self.studio.model(model_id)
        except (UnknownModelError, ProviderError, LookupError) as exc:
            raise PanelRequestError(str(exc), field="model") from exc

    def _product(self, product_id: str):
        try:
            return self.studio.product(product_id)
        except LookupError as exc:
            raise PanelRequestError(str(exc), field="product") from exc

    def _form(self, model_id: str) -> dict[str, Any]:
        info = self._info(model_id)
        return describe_model(info, self.studio.views.missing_key(info.provider))

    def rpc_model(self, model_id: str) -> dict[str, Any]:
        """The form of ``model_id``: fields drawn from its spec (kind, label, range, choices, default)."""
        return self._form(model_id)

    def _params(self, info: ModelInfo, values: Mapping[str, Any] | None) -> dict[str, Any]:
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise PanelRequestError("values must be a mapping of field name → text")
        params = params_from_values(info.spec, values)
        # The page may be in a browser on another machine: it names files on this one.
        check_inputs(self.studio.home, info.spec, params, tokens=dict(self.studio.tokens))
        return params

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
        filled = {**{r: "…" for r in missing if "string" in json_types(props.get(r) or {})}, **params}
        key_missing = self.studio.views.missing_key(info.provider)
        result: dict[str, Any] = {"count": 0, "images": 0, "limit": limit, "rows": [], "columns": [],
                                  "missing": missing, "key_missing": key_missing, "too_large": None}
        rows = self._rows()
        if rows is not None:
            result["table_count"] = len(rows)
        try:
            if key_missing:  # cannot validate without the key: expand only, the order says the rest
                gens = self._expand_unchecked(props, filled, limit)
            else:
                gens = self.studio.expand(info.id, limit=limit, rng_seed=self._rng_seed, rows=rows, **filled)
        except OrderTooLarge as exc:
            result.update(count=self._count(props, params), too_large=too_large_text(exc))
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
        result["rows"] = [jsonable(g) for g in gens[:PREVIEW_ROWS]]
        return result

    def _expand_unchecked(self, props: Mapping[str, Any], params: dict[str, Any], limit: int) -> list[dict]:
        # A list given to a list-typed parameter is its value, not a group: hide it from expand.
        held = {k: v for k, v in params.items() if isinstance(v, (list, dict)) and "array" in json_types(props.get(k) or {})}
        marker = object()
        gens = self.studio.expand(None, limit=limit, rng_seed=self._rng_seed, rows=self._rows(),
                                  **{k: (marker if k in held else v) for k, v in params.items()})
        return [{k: (held[k] if v is marker else v) for k, v in g.items()} for g in gens]

    def _count(self, props: Mapping[str, Any], params: dict[str, Any]) -> int:
        plain = {k: (0 if isinstance(v, (list, dict)) and "array" in json_types(props.get(k) or {}) else v)
                 for k, v in params.items()}
        rows = self._rows()
        try:
            return smart_count(plain, tokens=dict(self.studio.tokens)) * (len(rows) if rows is not None else 1)
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
                table = self._table
                if table is not None and table["set"]:
                    # A set picked in the panel: its rows, the form's values over its recipe, and
                    # every product records the set and its row.
                    order = self.studio.order_set(table["set"], info.id, project=project, limit=limit,
                                                  rng_seed=self._rng_seed, **params)
                else:
                    order = self.studio.order(info.id, project=project, limit=limit, rng_seed=self._rng_seed,
                                              rows=self._rows(), **params)
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
    def rpc_loras(self, model: str) -> list[str]:
        """The LoRA names ``model`` offers, for the form's LoRA picker."""
        try:
            return self.studio.loras(model)
        except (UnknownModelError, ProviderError, LookupError, ValueError) as exc:
            raise PanelRequestError(str(exc), field="model") from exc

    def _known_model(self, model_id: Any) -> str | None:
        """``model_id`` when this studio offers it; None for an import's foreign model name."""
        if not isinstance(model_id, str) or not model_id:
            return None
        try:
            return self.studio.model(model_id).id
        except (UnknownModelError, ProviderError, LookupError, ValueError):
            return None

    def rpc_reorder(self, product_id: str, scope: str = "product", model: str | None = None,
                    use: str = "all") -> dict[str, Any]:
        """The form prefilled from a product (A1111/Invoke-style recall).

        Args:
            scope: ``"product"`` (default): that product's own generation parameter set, one
                generation with its seed; ``"order"``: the whole order's base parameters again.
            model: the model chosen in the form; an imported product (or one whose model this
                studio does not offer) maps its parameters onto it.
            use: ``"all"``, ``"seed"`` (only the seed) or ``"prompt"`` (prompt and negative prompt);
                the page keeps the rest of the form for the last two.

        Returns ``{model, form, values, project_id, product_id, scope, use, imported, source_model,
        unmapped}``: ``unmapped`` names the product's parameters the model has no field for (or
        whose value it does not accept), each with why; ``form`` is None only when no model is known.
        """
        if scope not in REORDER_SCOPES:
            raise PanelRequestError(f"scope is one of {', '.join(REORDER_SCOPES)}, not {scope!r}", field="scope")
        if use not in REORDER_USES:
            raise PanelRequestError(f"use is one of {', '.join(REORDER_USES)}, not {use!r}", field="use")
        product = self._product(product_id)
        params: dict[str, Any] = dict(product.params or {})
        model_id = self._known_model(product.model_id)
        if scope == "order" and product.order_id:
            try:
                order = self.studio.get_order(product.order_id)
                model_id, params = self._known_model(order.model) or model_id, dict(order.base_params or {})
            except LookupError:
                pass  # the order row is gone: fall back to the product's own parameters
        elif product.seed is not None:
            params["seed"] = product.seed  # the seed it was made with, even when the order drew it
        imported = model_id is None
        source_model = product.model_id or params.get("model")
        if imported:
            model_id = self._known_model(model)
        params.pop("model", None)  # A1111's checkpoint name: the form's model says which one runs
        params = _pick(params, use)
        spec = self.studio.model(model_id).spec if model_id else {}
        props = (spec.get("properties") or {}) if isinstance(spec, Mapping) else {}
        unmapped: list[dict[str, str]] = []
        if props:
            kept = {}
            for name, value in params.items():
                prop = props.get(name)
                if prop is None:
                    unmapped.append({"name": name, "why": f"{model_id} has no such parameter"})
                elif isinstance(prop, Mapping) and prop.get("enum") and value not in prop["enum"] \
                        and not (isinstance(value, str) and has_smart_syntax(value)):
                    unmapped.append({"name": name, "why": f"{value!r} is not one of {model_id}'s choices"})
                else:
                    kept[name] = value
            params = kept
        if source_model and imported:
            unmapped.insert(0, {"name": "model", "why": f"{source_model!r} is not a model of this studio; "
                                                        f"{model_id or 'the chosen model'} runs instead"})
        return {"model": model_id, "form": self._form(model_id) if model_id else None,
                "values": values_from_params(spec, params), "project_id": product.project_id,
                "product_id": product.id, "scope": scope, "use": use, "imported": imported,
                "source_model": source_model, "unmapped": unmapped}

    # -- a table: one generation per row (issue 13) ------------------------------------------------
    def _rows(self) -> list[dict[str, Any]] | None:
        return None if self._table is None else self._table["rows"]

    def _table_view(self) -> dict[str, Any] | None:
        """The attached table as the page shows it: name, where it came from, columns, row count, first rows."""
        table = self._table
        if table is None:
            return None
        rows = table["rows"]
        columns = list(dict.fromkeys(k for r in rows for k in r))
        return {"name": table["name"], "source": table["source"], "set": table["set"], "count": len(rows),
                "columns": columns, "head": [jsonable(r) for r in rows[:TABLE_HEAD]]}

    def _attach(self, name: str, source: str, rows: list[dict[str, Any]], set_name: str | None = None) -> dict:
        self._table = {"name": name, "source": source, "set": set_name, "rows": rows}
        return self._table_view()

    def rpc_sets(self) -> list[dict[str, Any]]:
        """The sets there are (saved and the examples): ``[{name, rows, columns, description, model, example}]``."""
        return [jsonable(r) for r in self.studio.sets.listing().to_dict("records")]

    def rpc_attach_file(self, name: str = "table", buffers: Sequence[bytes] = ()) -> dict[str, Any]:
        """Attach a table file the user picked or dropped (one buffer): ``{table}``. The next
        previews and orders make one generation per row."""
        name = str(name or "table")
        if not buffers:
            raise PanelRequestError("no file came with the request; pick the file again", field="rows")
        data = bytes(buffers[0])
        if len(data) > TABLE_MAX_BYTES:
            raise PanelRequestError(f"{name} is {len(data) / 2**20:.0f} MB; tables up to "
                                    f"{TABLE_MAX_BYTES // 2**20} MB can be attached", field="rows")
        # Read where the studio's host can read it too (a client's host shares the home); the
        # file's suffix says its format, and the message names the user's file, not ours.
        folder = Path(self.studio.home) / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f".table-{os.getpid()}-{hashlib.sha256(data).hexdigest()[:16]}{Path(name).suffix.lower()[:12]}"
        path.write_bytes(data)
        try:
            rows = self.studio.views.read_rows(str(path))
        except RowsError as exc:
            raise PanelRequestError(exc.message.replace(str(path), name), field="rows") from exc
        finally:
            path.unlink(missing_ok=True)
        return {"table": self._attach(name, "file", rows)}

    def rpc_attach_set(self, name: str, model: str | None = None) -> dict[str, Any]:
        """Attach set ``name``'s rows and fill the form from its recipe (prompt template with base,
        theme and style; its parameters) on its model, else the form's: ``{table, model, form, values}``."""
        try:
            recipe = self.studio.sets[name]
        except KeyError as exc:
            raise PanelRequestError(str(exc.args[0]), field="rows") from exc
        model_id = self._known_model(recipe.model) or self._known_model(model)
        spec = self.studio.model(model_id).spec if model_id else {}
        values = values_from_params(spec, recipe.order_params())
        table = self._attach(name, "set", list(recipe.rows), set_name=name)
        return {"table": table, "model": model_id, "form": self._form(model_id) if model_id else None,
                "values": values}

    def rpc_detach(self) -> dict[str, Any]:
        """Drop the attached table: orders are plain again."""
        self._table = None
        return {"table": None}

    def attach_rows(self, rows: Any, name: str = "rows from Python") -> dict[str, Any]:
        """Attach ``rows`` (a DataFrame, a .csv/.tsv/.json/.jsonl/.parquet path or a list of dicts)
        from Python and show it in the open panels; a bad table raises ``RowsError`` here."""
        if isinstance(rows, (str, os.PathLike)) and name == "rows from Python":
            name = Path(rows).name
        table = self._attach(name, "python", self.studio.views.read_rows(rows))
        self.push("table", {"table": table})
        return table

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
        product = self._product(product_id)
        reply = Reply()
        image = None
        media_type = product.media_type
        if product.media_type.startswith("image/") and product.path.is_file():
            image = reply.add(product.read_bytes())
        else:
            thumb = product_thumb(product)
            if thumb:
                image, media_type = reply.add(thumb.data), thumb.media_type
        reply.result = {
            "id": product.id, "image": image, "mime": media_type, "media_type": product.media_type,
            "width": product.width, "height": product.height, "size": product.size,
            "model": product.model_id, "order_id": product.order_id, "project_id": product.project_id,
            "params": jsonable(product.params or {}), "created_at": product.created_at.isoformat(),
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
            item = {"id": row["product_id"], "prompt": _short_prompt(jsonable(row.get("prompt"))),
                    "width": jsonable(row.get("width")), "height": jsonable(row.get("height")),
                    "model": jsonable(row.get("model"))}
            attach(reply, item, row_thumb(row, self.studio.home), type_key="mime")
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
        thumb = reply.add(make_thumbnail(data))
        reply.result = {"path": str(path), "name": name, "width": width, "height": height, "size": len(data),
                        "thumb": thumb, "mime": "image/webp", "field": field}
        return reply

    def rpc_image_thumb(self, value: str) -> Reply:
        """A small picture of an image input's value: a product id, a local file in the studio's
        home (an upload) or a URL.

        ``{kind: "product"|"file"|"url"|"missing"|"outside", label, thumb}``; a file outside the
        home is ``outside`` and is not opened (the page may be on another machine).
        """
        reply = Reply()
        value = (value or "").strip()
        result: dict[str, Any] = {"kind": "missing", "label": value, "thumb": None, "mime": None}
        if _PRODUCT_ID.fullmatch(value):
            products = self.studio.products([value])
            if products:
                p = products[0]
                result.update(kind="product", label=_short_prompt(p.prompt) or p.id[-8:])
                attach(reply, result, product_thumb(p), type_key="mime")
        elif value.startswith(("http://", "https://", "data:")):
            result.update(kind="url", label=value[:80])
        elif value and not has_smart_syntax(value) and outside_home(self.studio.home, value) is not None:
            # Never even looked at: whether /etc/shadow exists is not the page's business.
            result.update(kind="outside", label=OUTSIDE.format(home=self.studio.home, path=value))
        elif value and not has_smart_syntax(value):
            path = Path(value).expanduser()
            if path.is_file() and path.stat().st_size <= UPLOAD_MAX_BYTES:
                try:
                    result.update(kind="file", label=path.name, thumb=reply.add(make_thumbnail(path.read_bytes())),
                                  mime="image/webp")
                except Exception:
                    result.update(kind="file", label=path.name)
        reply.result = result
        return reply

    # -- the session strip (live) -------------------------------------------------------------
    def on_event(self, event: Event) -> bool:
        """Keep products and outcomes of this panel's orders and civitai downloads (worker thread: record only)."""
        if isinstance(event, ModelDownload):
            return self._civitai_event(event)
        if not isinstance(event, (ProductReady, GenerationFinished, OrderFinished, OrderQueued)):
            return False
        with self._lock:
            if event.order_id not in self._orders and not self._placing:
                return False
            self._inbox.append(event)
        return True

    def flush(self) -> None:
        """Push new products of this panel's orders (thumbnails) and their orders' counts, and civitai imports."""
        self._flush_civitai()
        with self._lock:
            events, self._inbox = self._inbox, []
            orders = self._orders
            now = time.time()
            mine = [e for e in events if e.order_id in orders]
            # Events of an order still being placed (its id not known yet) wait a little.
            self._inbox[:0] = [e for e in events if e.order_id not in orders and now - e.at < 30]
            changed: dict[str, dict[str, Any]] = {}
            requeued: set[str] = set()
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
                elif isinstance(e, OrderQueued):
                    # Queued again (a retry): it runs, and its counts are read afresh below.
                    if state["status"] in FINISHED:
                        state.update(status="queued", error=None)
                        requeued.add(e.order_id)
                else:
                    state.update(status=e.status, complete=e.complete, failed=e.failed, cancelled=e.cancelled)
                    requeued.discard(e.order_id)
                changed[e.order_id] = dict(state)
        if not changed:
            return
        if requeued:
            # The footer's counts come from the catalog after a retry, never left over from the
            # run before (a retried order used to read "cancelled" while it ran).
            for row in self.studio.views.order_summaries(ids=sorted(requeued), limit=len(requeued)).to_dict("records"):
                with self._lock:
                    state = orders.get(row["id"])
                    if state is None or state["status"] in FINISHED:
                        continue
                    state.update(complete=int(row["complete"]), failed=int(row["failed"]),
                                 cancelled=int(row["cancelled"]))
                    changed[row["id"]] = dict(state)
        products = list(reversed(self.studio.products(new_ids)))  # newest first
        with self._lock:
            self._session.extendleft(reversed(products))
        reply = Reply()
        sent = [self._strip_item(p, reply, with_thumb=i < PUSH_THUMBS) for i, p in enumerate(products)]
        self.push("session", {"products": sent, "orders": list(changed.values())}, reply.buffers)

    @staticmethod
    def _strip_item(product, reply: Reply, with_thumb: bool = True) -> dict[str, Any]:
        """A product of the session strip as the page shows it, its thumbnail put in ``reply``."""
        item = {"id": product.id, "order_id": product.order_id, "width": product.width,
                "height": product.height, "media_type": product.media_type,
                "prompt": _short_prompt(product.prompt), "created_at": product.created_at.isoformat()}
        attach(reply, item, product_thumb(product) if with_thumb else None, type_key="mime")
        return item


# ---- helpers ----------------------------------------------------------------------------------


def _short_prompt(prompt: Any, n: int = 140) -> str | None:
    if not isinstance(prompt, str):
        return None
    return prompt if len(prompt) <= n else prompt[: n - 1] + "…"
