"""The REST API's routes: what each does with the hosted studio, and the OpenAPI document made from them.

Every route is one :class:`Route`: a method, a path, a one-line summary, the query parameters or
the JSON body it takes, and a function of the local studio and the :class:`Call`. The server
(:mod:`.server`) registers them; :func:`openapi` documents them; tests walk the same list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..core.errors import DownloadBusy, UnknownModelError, ValidationError, did_you_mean
from .wire import plain

if TYPE_CHECKING:
    from .local import LocalStudio

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Call:
    """One request as a route sees it: path arguments, query arguments (text) and the JSON body."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    body: Any = None


@dataclass(frozen=True)
class Raw:
    """A route's answer that is a file, not JSON."""

    data: bytes
    media_type: str


@dataclass(frozen=True)
class Reply:
    """A route's JSON answer with a status and headers of its own (``202`` and a ``Location``)."""

    data: Any
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """One REST route of the hosted studio."""

    method: str
    path: str
    summary: str
    run: Callable[["LocalStudio", Call], Any]
    query: tuple[str, ...] = ()
    body: Mapping[str, Any] | None = None
    binary: bool = False
    tag: str = "studio"
    status: int = 200
    #: other statuses it answers with, and when (documented in the OpenAPI document)
    responses: Mapping[str, str] = field(default_factory=dict)
    #: errors that answer with another status than the usual (see ``server.status_of``)
    errors: tuple[tuple[type, int], ...] = ()
    #: a header of the main answer and what it holds (documented)
    header: tuple[str, str] | None = None

    def status_of(self, exc: BaseException) -> int | None:
        """The status this route answers ``exc`` with, when it differs from the usual; else None."""
        return next((code for cls, code in self.errors if isinstance(exc, cls)), None)


def _int(call: Call, name: str, default: int) -> int:
    text = call.query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ValidationError(name, f"{name} is a whole number; got {text!r}") from None


def _body(call: Call) -> dict:
    if not isinstance(call.body, dict):
        raise ValidationError("", "send a JSON object as the request body (Content-Type: application/json)")
    return call.body


def _order(studio: "LocalStudio", order_id: str) -> dict:
    row = studio.order_record(order_id)
    if row is None:
        raise LookupError(f"no order {order_id!r} in {studio.home}")
    return plain(row)


def _create_order(studio: "LocalStudio", call: Call) -> dict:
    body = _body(call)
    model = body.get("model")
    if not isinstance(model, str):
        raise ValidationError("model", "give the model id, e.g. {\"model\": \"instant:swatch\", \"params\": {...}}")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise ValidationError("params", "params is a JSON object of the model's parameters")
    order = studio.order(model, project=body.get("project"), limit=body.get("limit"), rng_seed=body.get("rng_seed"),
                         **params)
    return _order(studio, order.id)


def _product_file(studio: "LocalStudio", call: Call, thumb: bool) -> Raw:
    product = studio.product(call.path["product_id"])
    path = product.thumb_path if thumb else product.path
    if path is None or not path.is_file():
        raise LookupError(f"product {product.id} has no {'thumbnail' if thumb else 'file'} on disk")
    return Raw(path.read_bytes(), "image/webp" if thumb else product.media_type)


_GALLERY_FILTERS = ("model", "provider", "project", "project_id", "order_id", "kind", "collection", "text")


def _gallery(studio: "LocalStudio", call: Call) -> dict:
    filters: dict[str, Any] = {k: call.query[k] for k in _GALLERY_FILTERS if call.query.get(k)}
    if call.query.get("min_rating"):
        filters["min_rating"] = _int(call, "min_rating", 0)
    limit = min(max(_int(call, "limit", 60), 0), 1000)
    page = studio.gallery(limit=limit, offset=_int(call, "offset", 0), **filters)
    return {"total": studio.gallery_count(**filters), "items": plain(page)}


def _sql(studio: "LocalStudio", call: Call) -> dict:
    body = _body(call)
    frame = studio.sql(str(body.get("query", "")), body.get("params"), max_rows=int(body.get("max_rows", 10_000)))
    return {"columns": [str(c) for c in frame.columns], "rows": plain(frame.values.tolist())}


def _upscale(studio: "LocalStudio", call: Call) -> dict:
    body = _body(call)
    products = body.get("products")
    if not isinstance(products, list):
        raise ValueError("products must be a list of product ids")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError("params must be an object")
    order = studio.upscale([str(p) for p in products], scale=float(body.get("scale", 2)), model=body.get("model"),
                           **params)
    return _order(studio, order.id)


def _health(studio: "LocalStudio", call: Call) -> Any:
    return plain(studio.health(reach=call.query.get("reach", "").lower() in ("1", "true", "yes")))


def _rate(studio: "LocalStudio", call: Call) -> dict:
    return {"rated": studio.rate(call.path["product_id"], _body(call).get("rating"))}


def _add_to_collection(studio: "LocalStudio", call: Call) -> dict:
    products = _body(call).get("products") or []
    return {"added": studio.collection(call.path["name"]).add([str(p) for p in products])}


def _create_project(studio: "LocalStudio", call: Call) -> dict:
    body = _body(call)
    project = studio.project(str(body.get("name", "")), description=body.get("description"))
    return {"id": project.id, "name": project.name, "description": project.description, "status": project.status}


def _set_token(studio: "LocalStudio", call: Call) -> dict:
    values = _body(call).get("values")
    studio.tokens[call.path["name"]] = values if isinstance(values, list) else [values]
    return {"name": call.path["name"], "values": studio.tokens[call.path["name"]]}


def _delete_key(mapping: Any, name: str) -> dict:
    try:
        del mapping[name]
    except KeyError:
        raise LookupError(f"no {name!r}") from None
    return {"deleted": name}


def _host(studio: "LocalStudio", call: Call) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("imagen-nb")
    except PackageNotFoundError:
        ver = "unknown"
    return {"pid": os.getpid(), "home": str(studio.home), "version": ver,
            "url": studio.endpoint.url if studio.endpoint else None}


def _grid(studio: "LocalStudio", call: Call) -> Raw:
    axes = {w: call.query.get(w) or None for w in ("x", "y", "z")}
    options: dict[str, Any] = {}
    for name in ("cell", "max_side"):
        if call.query.get(name):
            options[name] = _int(call, name, 0)
    grid = studio.grid(studio.get_order(call.path["order_id"]), **axes, **options)
    return Raw(grid.png(), "image/png")


def _trash(studio: "LocalStudio", call: Call) -> list:
    frame = studio.trash()
    return [{"path": row.path, "size": int(row.size), "modified": row.modified.isoformat()}
            for row in frame.itertuples(index=False)]


def _set(studio: "LocalStudio", call: Call) -> dict:
    recipe = studio.sets[call.path["name"]]
    return {"name": recipe.name, "description": recipe.description, "model": recipe.model,
            "columns": recipe.columns, **plain(recipe.recipe()), "rows": plain(list(recipe.rows)),
            "example": call.path["name"] not in studio.sets.saved()}


def _put_set(studio: "LocalStudio", call: Call) -> dict:
    body = _body(call)
    if not isinstance(body.get("rows"), list):
        raise ValidationError("rows", "a set needs its table as a JSON list of objects: "
                                      "{\"rows\": [{\"value\": \"ace\", \"suit\": \"hearts\"}], \"template\": \"{value} of {suit}\"}")
    studio.sets[call.path["name"]] = body
    return _set(studio, call)


def _order_set(studio: "LocalStudio", call: Call) -> dict:
    body = call.body if call.body is not None else {}
    if not isinstance(body, dict):
        raise ValidationError("", "send a JSON object (or nothing) as the request body")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise ValidationError("params", "params is a JSON object of parameters that override the set's")
    order = studio.order_set(call.path["name"], body.get("model"), theme=body.get("theme"),
                             project=body.get("project"), limit=body.get("limit"), rng_seed=body.get("rng_seed"),
                             **params)
    return _order(studio, order.id)


def _delete_set(studio: "LocalStudio", call: Call) -> dict:
    try:
        del studio.sets[call.path["name"]]
    except KeyError as exc:  # its message says why (an example set, or no such set)
        raise LookupError(exc.args[0]) from None
    return {"deleted": call.path["name"]}


# -- civitai imports (issue 17) ---------------------------------------------------------------------

#: The body of ``POST /models``: add_model's arguments that make sense over HTTP.
_IMPORT_ARGS = ("ref", "name", "for_model")
#: Seconds a cancel waits for its download to stop, so that its answer shows it stopped.
CANCEL_WAIT = 10.0


def _import_model(studio: "LocalStudio", call: Call) -> Reply:
    from . import civitai

    body = _body(call)
    for key in body:
        if key not in _IMPORT_ARGS:
            raise ValidationError(key, f"POST /models takes {', '.join(_IMPORT_ARGS)}; not {key!r}."
                                       + did_you_mean(key, _IMPORT_ARGS))
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref.strip():
        raise ValidationError("ref", "give what to import from civitai, e.g. {\"ref\": "
                                     "\"urn:air:sd1:lora:civitai:328553@368189\"} (an AIR, a civitai model or version "
                                     "URL, or civitai:<version id>)")
    ref = ref.strip()
    if not civitai.is_ref(ref, studio):
        raise ValidationError("ref", f"{ref!r} is not a civitai reference: POST /models imports an AIR "
                                     "(urn:air:...), a civitai model or version URL, or civitai:<version id>. A model "
                                     "folder or file on this machine is added with studio.add_model(path) or "
                                     "`imagen-nb models add PATH`")
    for_model = body.get("for_model")
    if for_model is not None:
        try:
            studio.model(str(for_model))
        except UnknownModelError as exc:  # a bad argument (400), not an unknown reference (404)
            raise ValidationError("for_model", str(exc)) from None
    studio.add_model(ref, body.get("name"), for_model=for_model, wait=False)
    row = _download_row(studio, ref)
    return Reply(row, 202, {"Location": f"{API_PREFIX}/downloads/{row['id']}"})


def _download_row(studio: "LocalStudio", ref: str) -> dict:
    row = studio.download_record(ref)
    if row is None:
        raise LookupError(f"no download {ref!r} is known to this host (it ran in an earlier session, or long "
                          f"ago); GET {API_PREFIX}/downloads lists the ones it knows")
    return plain(row)


def _cancel_download(studio: "LocalStudio", call: Call) -> dict:
    row = _download_row(studio, call.path["ref"])
    cancelled = studio.cancel_download(row["ref"])
    if cancelled:
        try:
            studio.wait_download(row["ref"], CANCEL_WAIT)
        except Exception:  # DownloadCancelled, as asked (or the error it ended with first): the row says which
            pass
    return {**_download_row(studio, row["ref"]), "cancelled": cancelled}


_IMPORT_BODY = {"type": "object", "required": ["ref"], "additionalProperties": False, "properties": {
    "ref": {"type": "string", "example": "urn:air:sd1:lora:civitai:328553@368189",
            "description": "an AIR (sd15 is read as sd1), a civitai model or version URL, or civitai:<version id>"},
    "name": {"type": "string", "description": "the model's or LoRA's name (default: the file's stem)"},
    "for_model": {"type": "string", "example": "diffusers:tiny",
                  "description": "(LoRAs) the model it is for: a LoRA of another family is refused first"}}}

# -- LoRA training (issue 16) ----------------------------------------------------------------------

#: Arguments of ``train_lora`` other than its hyperparameters (those are TrainingConfig's fields).
_TRAIN_ARGS = ("products", "sql", "base", "captions", "project", "replace", "sample_every")


def _train_args(call: Call) -> tuple[str, dict]:
    body = dict(_body(call))
    name = body.pop("name", None)
    if not isinstance(name, str):
        raise ValidationError("name", "give the LoRA's name, e.g. {\"name\": \"cards-style\", \"sql\": \"select"
                                      " product_id from gallery where rating >= 4\", \"steps\": 500}")
    if isinstance(body.get("products"), str):
        body["products"] = [body["products"]]
    return name, body


def _run_summary(studio: "LocalStudio", run_id: str) -> dict:
    """A run's row (dataset included) with its last loss, learning rate and speed."""
    run = studio.training_run(run_id)
    row = plain(run.record())
    last = studio.training_metrics(run.id).tail(1)
    for column in ("loss", "lr", "images_per_second"):
        row[column] = plain(last[column].iloc[0]) if len(last) else None
    return row


def _start_training(studio: "LocalStudio", call: Call) -> dict:
    name, args = _train_args(call)
    return _run_summary(studio, studio.train_lora(name, **args).id)


def _check_training(studio: "LocalStudio", call: Call) -> dict:
    name, args = _train_args(call)
    frame = studio.check_training(name, **args)
    return {"count": len(frame), "dataset": plain(frame)}


def _cancel_training(studio: "LocalStudio", call: Call) -> dict:
    run = studio.training_run(call.path["run_id"])
    return {"id": run.id, "cancelled": studio.cancel_training(run.id)}


def _resume_training(studio: "LocalStudio", call: Call) -> dict:
    run = studio.training_run(call.path["run_id"])
    studio.resume_training(run.id)
    return _run_summary(studio, run.id)


_TRAIN_BODY = {"type": "object", "required": ["name"], "description": (
    "train_lora's arguments: name, products (ids) or sql, base, captions ('prompt', a gallery column, a"
    " captioner model id, or an object {product_id: caption}), project, replace, sample_every, and any"
    " hyperparameter (steps, rank, alpha, learning_rate, resolution, batch_size, seed, aspect,"
    " train_text_encoder, text_encoder_learning_rate, caption_dropout, lr_scheduler, lr_warmup_steps,"
    " snr_gamma, mixed_precision, gradient_checkpointing, sample_prompts, sample_steps, sample_seed,"
    " checkpoint_every, trigger). Unknown names are refused with a did-you-mean."), "properties": {
    "name": {"type": "string", "example": "cards-style"},
    "products": {"type": "array", "items": {"type": "string"}},
    "sql": {"type": "string", "example": "select product_id from gallery where rating >= 4"},
    "base": {"type": "string", "example": "diffusers:tiny"},
    "captions": {"type": ["string", "object"], "example": "prompt"},
    "project": {"type": "string"}, "replace": {"type": "boolean"}, "sample_every": {"type": "integer"},
    "steps": {"type": "integer", "example": 500}, "rank": {"type": "integer", "example": 4},
    "alpha": {"type": "number"}, "learning_rate": {"type": "number", "example": 1e-4},
    "resolution": {"type": "integer"}, "batch_size": {"type": "integer"}, "seed": {"type": "integer"},
    "aspect": {"type": "string", "enum": ["crop", "bucket"]}, "train_text_encoder": {"type": "boolean"},
    "text_encoder_learning_rate": {"type": ["number", "null"]},
    "sample_prompts": {"type": "array", "items": {"type": "string"}}, "checkpoint_every": {"type": "integer"},
    "trigger": {"type": ["string", "null"]}}, "additionalProperties": True}

_SET_BODY = {"type": "object", "required": ["rows"], "properties": {
    "rows": {"type": "array", "items": {"type": "object"},
             "example": [{"value": "ace", "suit": "hearts"}, {"value": "two", "suit": "hearts"}]},
    "template": {"type": "string", "example": "{value} of {suit}"}, "base": {"type": "string"},
    "theme": {"type": "string"}, "style": {"type": "string"}, "params": {"type": "object"},
    "model": {"type": "string"}, "description": {"type": "string"}}}

_ORDER_BODY = {"type": "object", "required": ["model"], "properties": {
    "model": {"type": "string", "example": "instant:swatch"},
    "params": {"type": "object", "description": "the model's parameters; strings may use SmartParameter syntax",
               "example": {"prompt": "a [red,blue] fox", "seed": "[1,2]"}},
    "project": {"type": "string"}, "limit": {"type": "integer"}, "rng_seed": {"type": "integer"}}}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/host", "Who hosts this home: pid, home folder, version", _host, tag="host"),
    Route("GET", "/models", "Every model the host's providers offer", lambda s, c: plain(s.models()), tag="models"),
    Route("GET", "/models/{model_id}", "One model with its parameter spec (JSON Schema)",
          lambda s, c: plain(s.model(c.path["model_id"])), tag="models"),
    Route("POST", "/orders", "Place an order (SmartParameters expand on the host)", _create_order,
          body=_ORDER_BODY, tag="orders", status=201),
    Route("GET", "/orders", "Recent orders, newest first, with counts per status",
          lambda s, c: plain(s.views.order_summaries(limit=_int(c, "limit", 50))), query=("limit",), tag="orders"),
    Route("GET", "/orders/{order_id}", "One order: status and counts", lambda s, c: _order(s, c.path["order_id"]),
          tag="orders"),
    Route("POST", "/orders/{order_id}/cancel", "Cancel an order's queued and running generations",
          lambda s, c: {"dropped": s.cancel(c.path["order_id"])}, tag="orders"),
    Route("POST", "/orders/{order_id}/retry", "Run an order's failed and cancelled generations again",
          lambda s, c: _order(s, s.retry(c.path["order_id"], (c.body or {}).get("generations")).id),
          body={"type": "object", "properties": {"generations": {"type": "array", "items": {"type": "string"}}}},
          tag="orders"),
    Route("GET", "/orders/{order_id}/grid", "The order's comparison grid as PNG (axes inferred unless named)",
          _grid, query=("x", "y", "z", "cell", "max_side"), binary=True, tag="orders"),
    Route("GET", "/paused", "Why the executor is paused (the disk is full), or null",
          lambda s, c: {"paused": s.paused}, tag="host"),
    Route("GET", "/orders/{order_id}/generations", "An order's generations with their parameter sets",
          lambda s, c: plain(s.views.generations(c.path["order_id"])), tag="orders"),
    Route("GET", "/generations/{generation_id}", "One generation with its parameter sets and error",
          lambda s, c: plain(s.generation(c.path["generation_id"])), tag="orders"),
    Route("GET", "/products/{product_id}", "A product's metadata",
          lambda s, c: plain(s.product(c.path["product_id"])), tag="products"),
    Route("GET", "/products/{product_id}/file", "A product's file (raw bytes)",
          lambda s, c: _product_file(s, c, False), binary=True, tag="products"),
    Route("GET", "/products/{product_id}/thumbnail", "A product's thumbnail (WEBP bytes)",
          lambda s, c: _product_file(s, c, True), binary=True, tag="products"),
    Route("PUT", "/products/{product_id}/rating", "Rate a product 1-5 (null clears it)", _rate,
          body={"type": "object", "properties": {"rating": {"type": ["integer", "null"], "minimum": 1,
                                                            "maximum": 5}}}, tag="products"),
    Route("DELETE", "/products/{product_id}", "Soft-delete a product",
          lambda s, c: {"deleted": s.delete(c.path["product_id"])}, tag="products"),
    Route("POST", "/products/{product_id}/restore", "Undo a soft delete",
          lambda s, c: {"restored": s.delete(c.path["product_id"], undo=True)}, tag="products"),
    Route("GET", "/trash", "Files recovery set aside (product files without a catalog row)", _trash, tag="trash"),
    Route("POST", "/trash/empty", "Delete every file in the trash for good",
          lambda s, c: {"deleted": s.empty_trash()}, tag="trash"),
    Route("POST", "/models", "Import a checkpoint or LoRA from civitai (add_model's arguments); downloads in the "
          "background", _import_model, body=_IMPORT_BODY, tag="models", status=202,
          header=("Location", "the download's URL: /api/v1/downloads/{id}"),
          responses={"400": "a bad argument, or no civitai token (the message says how to set one)",
                     "404": "civitai has no such model or version", "409": "that file is downloading already"},
          errors=((UnknownModelError, 404), (DownloadBusy, 409))),
    Route("GET", "/downloads", "civitai downloads of this session: running first, then finished, newest first",
          lambda s, c: plain(s.download_records()), tag="models"),
    Route("GET", "/downloads/{ref}", "One download (its id, or its reference URL-encoded): state, done, total, "
          "fraction, result, error", lambda s, c: _download_row(s, c.path["ref"]), tag="models",
          responses={"404": "no download of that id or reference is known to this host"}),
    Route("POST", "/downloads/{ref}/cancel", "Stop a download (its partial file is kept: importing the same "
          "reference again resumes it)", _cancel_download, tag="models",
          responses={"404": "no download of that id or reference is known to this host"}),
    Route("GET", "/upscalers", "The upscale models, local first; `default` marks the one used when none is named",
          lambda s, c: plain(s.upscalers()), tag="models"),
    Route("POST", "/upscale", "Order upscaled copies of products (one order, one generation per product)", _upscale,
          body={"type": "object", "required": ["products"], "properties": {
              "products": {"type": "array", "items": {"type": "string"}}, "scale": {"type": "number", "example": 2},
              "model": {"type": "string", "example": "diffusers:RealESRGAN_x4plus"},
              "params": {"type": "object"}}}, tag="orders"),
    Route("GET", "/health", "Whether each provider can run now (reach=1: also contact remote endpoints)", _health,
          query=("reach",), tag="host"),
    Route("GET", "/gallery", "A page of the gallery, newest first, with the total", _gallery,
          query=("limit", "offset", "min_rating") + _GALLERY_FILTERS, tag="products"),
    Route("POST", "/sql", "Run one read-only SELECT over the catalog", _sql,
          body={"type": "object", "required": ["query"], "properties": {
              "query": {"type": "string", "example": "select count(*) as n from products"},
              "params": {"type": "array"}, "max_rows": {"type": "integer"}}}, tag="sql"),
    Route("GET", "/projects", "Projects with their counts", lambda s, c: plain(s.projects()), tag="projects"),
    Route("POST", "/projects", "Create (or describe) a project", _create_project,
          body={"type": "object", "required": ["name"], "properties": {
              "name": {"type": "string"}, "description": {"type": "string"}}}, tag="projects"),
    Route("GET", "/collections", "Collections with their counts", lambda s, c: plain(s.collections()),
          tag="collections"),
    Route("POST", "/collections/{name}/products", "Add products to a collection (created when new)",
          _add_to_collection, body={"type": "object", "properties": {
              "products": {"type": "array", "items": {"type": "string"}}}}, tag="collections"),
    Route("GET", "/tokens", "Every smart token", lambda s, c: dict(s.tokens), tag="tokens"),
    Route("PUT", "/tokens/{name}", "Set a smart token's values", _set_token,
          body={"type": "object", "properties": {"values": {"type": "array", "items": {"type": "string"}}}},
          tag="tokens"),
    Route("DELETE", "/tokens/{name}", "Delete a smart token", lambda s, c: _delete_key(s.tokens, c.path["name"]),
          tag="tokens"),
    Route("GET", "/sets", "Every card set: name, rows, columns, description, model, example",
          lambda s, c: plain(s.sets.listing()), tag="sets"),
    Route("PUT", "/sets/{name}", "Save a set: its rows and recipe", _put_set, body=_SET_BODY, tag="sets"),
    Route("GET", "/sets/{name}", "One set: its recipe and rows", _set, tag="sets"),
    Route("POST", "/sets/{name}/order", "Order a set: one generation per row (times any SmartParameter groups)",
          _order_set, body={"type": "object", "properties": {
              "model": {"type": "string"}, "theme": {"type": "string"}, "project": {"type": "string"},
              "limit": {"type": "integer"}, "rng_seed": {"type": "integer"},
              "params": {"type": "object", "description": "parameters overriding the set's"}}},
          tag="sets", status=201),
    Route("DELETE", "/sets/{name}", "Delete a saved set (example sets cannot be deleted)",
          _delete_set, tag="sets"),
    Route("POST", "/training", "Start training a LoRA from products (train_lora's arguments); runs in the background",
          _start_training, body=_TRAIN_BODY, tag="training", status=201),
    Route("POST", "/training/check", "Check a training run without starting it: its dataset (captions, target sizes)"
          " or the error train_lora would raise", _check_training, body=_TRAIN_BODY, tag="training"),
    Route("GET", "/training", "Every training run, newest first, with its last loss",
          lambda s, c: plain(s.training_runs()), tag="training"),
    Route("GET", "/training/{run_id}", "One training run (id or LoRA name): status, step, loss, config, dataset",
          lambda s, c: _run_summary(s, c.path["run_id"]), tag="training"),
    Route("GET", "/training/{run_id}/metrics", "A run's loss, learning rate and images/s of every step",
          lambda s, c: plain(s.training_metrics(s.training_run(c.path["run_id"]).id)), tag="training"),
    Route("GET", "/training/{run_id}/checkpoints", "A run's checkpoints: step, LoRA file, hash",
          lambda s, c: plain(s.training_checkpoints(s.training_run(c.path["run_id"]).id)), tag="training"),
    Route("POST", "/training/{run_id}/cancel", "Stop a run after its current step (a checkpoint is saved there)",
          _cancel_training, tag="training"),
    Route("POST", "/training/{run_id}/resume", "Continue a cancelled, interrupted or failed run from its last"
          " checkpoint", _resume_training, tag="training"),
    Route("GET", "/presets", "Every preset", lambda s, c: plain(dict(s.presets)), tag="presets"),
    Route("PUT", "/presets/{name}", "Save a preset {model, params}",
          lambda s, c: (s.presets.__setitem__(c.path["name"], _body(c)), plain(s.presets[c.path["name"]]))[1],
          body={"type": "object", "properties": {"model": {"type": "string"}, "params": {"type": "object"}}},
          tag="presets"),
    Route("DELETE", "/presets/{name}", "Delete a preset", lambda s, c: _delete_key(s.presets, c.path["name"]),
          tag="presets"),
)


def openapi(url: str | None = None) -> dict:
    """The OpenAPI 3.1 document of the REST API (served at ``/api/v1/openapi.json``)."""
    paths: dict[str, dict] = {}
    for route in ROUTES:
        op: dict[str, Any] = {"summary": route.summary, "tags": [route.tag],
                              "operationId": f"{route.method.lower()}_{route.path.strip('/').replace('/', '_')}"
                              .replace("{", "").replace("}", ""),
                              "responses": {str(route.status): {"description": "OK", "content": {
                                  "application/octet-stream" if route.binary else "application/json": {}}},
                                  "401": {"$ref": "#/components/responses/Unauthorized"},
                                  "4XX": {"$ref": "#/components/responses/Error"}}}
        if route.header is not None:
            op["responses"][str(route.status)]["headers"] = {route.header[0]: {
                "description": route.header[1], "schema": {"type": "string"}}}
        for code, why in route.responses.items():
            op["responses"][code] = {"description": why, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}
        params = [{"name": name[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in route.path.split("/") if name.startswith("{")]
        params += [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in route.query]
        if params:
            op["parameters"] = params
        if route.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": dict(route.body)}}}
        paths.setdefault(API_PREFIX + route.path, {})[route.method.lower()] = op
    paths[API_PREFIX + "/events"] = {"get": {
        "summary": "Server-sent events: every event of the studio (progress, products, outcomes) as it happens",
        "tags": ["events"], "operationId": "get_events",
        "description": "Each message has `event: <type>` (GenerationStarted, GenerationProgress, ProductReady, "
                       "GenerationFinished, OrderQueued, OrderFinished, ModelLoaded, ModelDownload, TrainingProgress, "
                       "...) and `data: <JSON fields>`; "
                       "the first is `event: hello` with the host's pid; a comment line every 15 s keeps it open.",
        "responses": {"200": {"description": "OK", "content": {"text/event-stream": {}}},
                      "401": {"$ref": "#/components/responses/Unauthorized"}}}}
    paths[API_PREFIX + "/openapi.json"] = {"get": {"summary": "This document", "tags": ["host"],
                                                   "operationId": "get_openapi",
                                                   "responses": {"200": {"description": "OK"}}}}
    error = {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "type": {"type": "string"}, "message": {"type": "string"}, "param": {"type": "string"}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "imagen-nb studio host", "version": "1",
                 "description": "The REST API of the process hosting an imagen-nb home. Every request needs "
                                "`Authorization: Bearer <token>`; the token is in `<home>/host.token` (mode 0600) "
                                "and the lock file `<home>/catalog.lock` names the URL."},
        "servers": [{"url": url}] if url else [],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": error},
            "responses": {
                "Unauthorized": {"description": "no token or a wrong one",
                                 "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "Error": {"description": "the request was refused; the message says how to fix it",
                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    }


__all__ = ["API_PREFIX", "Call", "ROUTES", "Raw", "Reply", "Route", "openapi"]
