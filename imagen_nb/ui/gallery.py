"""The Gallery panel's controller: pages of thumbnails, filters, groups, details and actions.

Only thumbnails travel with a page (the product's thumbnail file, or a small image itself),
as binary buffers; the original file is sent when the details view or a download asks for it.
New products are announced by a ``new_products`` push (ids only, at most ten a second); the
page decides whether to fetch and prepend them or to show a notice.
"""

from __future__ import annotations

import math
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

from ..core import notices
from ..core.records import Event, ProductReady
from .bridge import Controller, PanelRequestError, Reply, need_id
from .code import product_code
from .gallery_jobs import GalleryJobs
from .jsonable import jsonable
from .thumbs import attach, row_thumb

#: products per page of the grid (the page may ask for up to MAX_PAGE)
PAGE_SIZE = 60
#: most products one ``page`` request returns
MAX_PAGE = 200
#: the largest original the details view or a download fetches over the comm
MAX_ORIGINAL_BYTES = 512 * 1024 * 1024
#: a prompt longer than this is cut in the grid (the details view shows it whole)
GRID_PROMPT_CHARS = 300
#: new product ids one push carries at most (the page fetches only those it shows)
MAX_NEW_IDS = 200
#: a text longer than this is cut in the details view (prompts, parameter values), with "…"
DETAILS_TEXT_CHARS = 20_000
#: most entries of one list or object of parameters the details view shows
DETAILS_ITEMS = 500
#: deepest nesting of parameters the details view shows
DETAILS_DEPTH = 16

#: the product types the type filter offers
#: files one ``import`` request may carry (the page sends a big drop in several requests)
MAX_IMPORT_FILES = 50
#: bytes one ``import`` request may carry
MAX_IMPORT_BYTES = 256 * 1024 * 1024
#: thumbnails one ``thumbs`` request returns at most
MAX_THUMBS = 100
#: products the grid view of a selection lays out at most (an order's grid has no cap: it pages)
MAX_GRID_PRODUCTS = 2000
KINDS = ("image", "video", "audio")
#: what the grid can be grouped by (one section per value)
GROUP_BY = ("project", "collection", "model", "kind")
#: the filters a page may send (each maps to a :meth:`Studio.gallery` keyword)
FILTER_KEYS = ("text", "kind", "project_id", "no_project", "collection", "collection_id", "no_collection",
               "model", "min_rating", "since", "until", "order_id", "ids",
               "min_clip_score", "min_aesthetic_score", "min_judge_score", "scored")
#: the lowest-score filters (issue 15): a product without that score is left out
SCORE_FILTERS = ("min_clip_score", "min_aesthetic_score", "min_judge_score")
#: the score columns of the ``gallery`` view that a page carries and may be sorted by (highest first)
SCORES = ("clip_score", "aesthetic_score", "judge_score")
#: how a page may be sorted (:meth:`Studio.gallery`'s ``sort``)
SORTS = ("newest", *SCORES)
#: the longest judgement or prompt a lineage round carries (the details view shows the start)
LINEAGE_TEXT_CHARS = 4000


def _ids(ids: Any, field: str = "ids") -> list[str]:
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, (list, tuple)) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise PanelRequestError("choose at least one product", field=field)
    return list(dict.fromkeys(ids))


def _when(value: Any, field: str, *, end_of_day: bool = False) -> datetime | None:
    """An aware datetime from an ISO date or datetime; a date alone means local midnight
    (the next midnight for ``until``, so the day itself is included)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PanelRequestError(f"{field} is a date like 2025-01-31; got {value!r}", field=field)
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day) + (timedelta(days=1) if end_of_day else timedelta())
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PanelRequestError(f"{field} is a date like 2025-01-31; got {value!r}", field=field) from None
    return moment if moment.tzinfo else moment.astimezone()


def _score(value: Any) -> float | None:
    """A score cell as a float (None for a missing or NaN one)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _bounded(value: Any, depth: int = 0) -> tuple[Any, bool]:
    """``value`` (plain JSON) with texts cut to DETAILS_TEXT_CHARS, lists and objects to
    DETAILS_ITEMS entries and nesting to DETAILS_DEPTH; and whether anything was cut."""
    if isinstance(value, str):
        return (value[:DETAILS_TEXT_CHARS] + "…", True) if len(value) > DETAILS_TEXT_CHARS else (value, False)
    if isinstance(value, (dict, list)) and depth >= DETAILS_DEPTH:
        return "…", True
    if isinstance(value, dict):
        out, cut = {}, len(value) > DETAILS_ITEMS
        for key in list(value)[:DETAILS_ITEMS]:
            out[key], c = _bounded(value[key], depth + 1)
            cut |= c
        return out, cut
    if isinstance(value, list):
        items, cut = [], len(value) > DETAILS_ITEMS
        for item in value[:DETAILS_ITEMS]:
            item, c = _bounded(item, depth + 1)
            items.append(item)
            cut |= c
        return items, cut
    return value, False


class GalleryController(GalleryJobs, Controller):
    """Serves the Gallery panel: pages, groups, details, originals, rating, collections, delete, vary;
    upscaling and LoRA training (:class:`~.gallery_jobs.GalleryJobs`)."""

    name = "gallery"

    def __init__(self, studio):
        super().__init__(studio)
        self._lock = threading.Lock()
        self._new: list[str] = []
        #: ids of the products selected in the page, in the order shown (``widget.selected``)
        self.selection: list[str] = []

    # -- filters ---------------------------------------------------------------------------
    def _filters(self, raw: Any) -> dict[str, Any]:
        """The page's filters as :meth:`Studio.gallery` keywords; bad values name their control."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise PanelRequestError("filters are an object of filter names and values", field="filters")
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in FILTER_KEYS:
                raise PanelRequestError(f"unknown filter {key!r}; use one of {', '.join(FILTER_KEYS)}", field=key)
            if value in (None, "", False, []) and key != "ids":
                continue
            if key == "text":
                out["text"] = str(value).strip()[:500] or None
            elif key == "kind":
                if value not in KINDS:
                    raise PanelRequestError(f"type is one of {', '.join(KINDS)}; got {value!r}", field="kind")
                out["kind"] = value
            elif key in ("no_project", "no_collection", "scored"):
                out[key] = True
            elif key == "min_rating":
                if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
                    raise PanelRequestError(f"the lowest rating is 1 to 5; got {value!r}", field="min_rating")
                out["min_rating"] = value
            elif key in SCORE_FILTERS:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise PanelRequestError(f"the lowest score is a number; got {value!r}", field=key)
                out[key] = float(value)
            elif key == "since":
                out["since"] = _when(value, "since")
            elif key == "until":
                out["until"] = _when(value, "until", end_of_day=True)
            elif key == "collection_id":
                names = self._collection_names()
                if value not in names:
                    raise PanelRequestError(f"no collection with id {value!r}; it may have been deleted",
                                            field="collection")
                out["collection"] = names[value]
            elif key == "ids":
                out["ids"] = [str(i) for i in (value if isinstance(value, (list, tuple)) else [value])]
            else:
                if not isinstance(value, str):
                    raise PanelRequestError(f"{key} is a string; got {value!r}", field=key)
                out[key] = value
        if out.get("since") and out.get("until") and out["since"] >= out["until"]:
            raise PanelRequestError("'until' is before 'since'", field="until")
        return {k: v for k, v in out.items() if v is not None}

    def _collection_names(self) -> dict[str, str]:
        frame = self.studio.collections()
        return dict(zip(frame["id"], frame["name"]))

    # -- items -----------------------------------------------------------------------------
    @staticmethod
    def _item(row: dict) -> dict[str, Any]:
        prompt = row.get("prompt")
        if isinstance(prompt, str) and len(prompt) > GRID_PROMPT_CHARS:
            prompt = prompt[:GRID_PROMPT_CHARS] + "…"
        return {
            "id": row["product_id"], "kind": row.get("kind"), "media_type": row.get("media_type"),
            "prompt": prompt, "model": row.get("model"), "project": row.get("project"),
            "project_id": row.get("project_id"), "order_id": row.get("order_id"), "rating": row.get("rating"),
            "collections": row.get("collections") or [], "width": row.get("width"), "height": row.get("height"),
            "size": row.get("size"), "created_at": row.get("created_at"), "source": row.get("source"),
            "name": Path(row["path"]).name if row.get("path") else None,
            **{column: _score(row.get(column)) for column in SCORES},
        }

    def _rows(self, limit: int, offset: int, filters: dict, sort: str = "newest") -> list[dict]:
        frame = self.studio.gallery(limit=limit, offset=offset, **({"sort": sort} if sort != "newest" else {}),
                                    **filters)
        return [{k: jsonable(v) for k, v in r.items()} for r in frame.to_dict("records")]

    def _items(self, rows: Iterable[dict], reply: Reply) -> list[dict]:
        items = []
        for row in rows:
            item = self._item(row)
            attach(reply, item, row_thumb(row, self.studio.home))
            items.append(item)
        return items

    def _page(self, filters: dict, offset: int, limit: int, total: bool, reply: Reply, sort: str = "newest") -> dict:
        rows = self._rows(limit, offset, filters, sort) if limit else []
        count = self.studio.gallery_count(**filters) if total else None
        more = len(rows) == limit and limit > 0
        if count is not None:
            more = offset + len(rows) < count
        return {"items": self._items(rows, reply), "offset": offset, "total": count, "sort": sort,
                "next_offset": offset + len(rows) if more else None}

    @staticmethod
    def _sort(sort: Any) -> str:
        if sort in (None, ""):
            return "newest"
        if sort not in SORTS:
            raise PanelRequestError(f"sort by one of {', '.join(SORTS)}; got {sort!r}", field="sort")
        return sort

    def _live_rows(self, ids: list[str], field: str = "ids") -> list[dict]:
        rows = self._rows(len(ids), 0, {"ids": ids})
        found = {r["product_id"] for r in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise PanelRequestError(f"no product {missing[0]} in the gallery (deleted, or from another studio)",
                                    field=field)
        return rows

    # -- requests --------------------------------------------------------------------------
    def rpc_init(self, filters: dict | None = None, limit: int = PAGE_SIZE, sort: str = "newest") -> Reply:
        """The menus of the filters and the first page, in one reply so the grid shows at once."""
        reply = Reply()
        page = self._page(self._filters(filters), 0, self._limit(limit), True, reply, self._sort(sort))
        reply.result = {"options": self.rpc_options(), "page": page, "page_size": PAGE_SIZE,
                        "kinds": list(KINDS), "group_by": list(GROUP_BY), "sorts": list(SORTS)}
        return reply

    @staticmethod
    def _limit(limit: Any) -> int:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_PAGE:
            raise PanelRequestError(f"a page holds 0 to {MAX_PAGE} products; got {limit!r}", field="limit")
        return limit

    def rpc_page(self, filters: dict | None = None, offset: int = 0, limit: int = PAGE_SIZE,
                 total: bool = True, sort: str = "newest") -> Reply:
        """One page of products, newest first (or by ``sort``, a score, highest first and unscored last):
        ``{items, offset, total, next_offset, sort}``; thumbnails as buffers.

        ``total`` (a count over all pages) is computed when asked, i.e. for the first page.
        """
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise PanelRequestError(f"offset is a whole number ≥ 0; got {offset!r}", field="offset")
        reply = Reply()
        reply.result = self._page(self._filters(filters), offset, self._limit(limit), bool(total), reply,
                                  self._sort(sort))
        return reply

    def rpc_groups(self, by: str, filters: dict | None = None) -> dict:
        """Section headers for a grouped view: ``{by, total, groups: [{key, label, count, filter}]}``.

        Each group's ``filter`` is what to add to the page's filters to list that section.
        """
        if by not in GROUP_BY:
            raise PanelRequestError(f"group by one of {', '.join(GROUP_BY)}; got {by!r}", field="group")
        flt = self._filters(filters)
        frame = self.studio.views.gallery_groups(by, **flt)
        ids = {name: cid for cid, name in self._collection_names().items()} if by == "collection" else {}
        groups = []
        for row in frame.to_dict("records"):
            key, label, count = jsonable(row["key"]), jsonable(row["label"]), int(row["products"])
            if by == "project":
                section = {"project_id": key} if key is not None else {"no_project": True}
                label = label or "No project"
            elif by == "collection":
                section = {"collection_id": ids.get(key)} if key is not None else {"no_collection": True}
                key = ids.get(key, key)
                label = label or "In no collection"
            elif by == "model":
                if key is None:  # imports without a model: no filter can select only them
                    continue
                section = {"model": key}
            else:
                section = {"kind": key}
            groups.append({"key": key, "label": label, "count": count, "filter": section,
                           "newest": jsonable(row["newest"])})
        return {"by": by, "groups": groups, "total": self.studio.gallery_count(**flt)}

    def rpc_options(self) -> dict:
        """What the filter menus offer: projects, collections, models and types, with counts."""
        projects = self.studio.projects(include_archived=True)
        collections = self.studio.collections()
        models = self.studio.views.gallery_groups("model")
        kinds = self.studio.views.gallery_groups("kind")
        return {
            "projects": [{"id": r["id"], "name": r["name"], "status": r["status"], "products": int(r["products"])}
                         for r in projects.to_dict("records")],
            "collections": [{"id": r["id"], "name": r["name"], "products": int(r["products"])}
                            for r in collections.to_dict("records")],
            "models": [{"id": jsonable(r["key"]), "products": int(r["products"])}
                       for r in models.to_dict("records") if jsonable(r["key"]) is not None],
            "kinds": [{"id": jsonable(r["key"]), "products": int(r["products"])} for r in kinds.to_dict("records")],
            "total": self.studio.gallery_count(),
        }

    def rpc_details(self, product_id: str) -> Reply:
        """Everything about one product: its record, parameter sets, order and model; the thumbnail as buffer 0.

        The original file is not included: ask :meth:`rpc_original` for it.
        """
        need_id(product_id, "product_id", "choose a product")
        row = self._live_rows([product_id], field="product_id")[0]
        product = self.studio.product(product_id)
        reply = Reply()
        item = self._item(row)
        item.update(prompt=row.get("prompt"), negative_prompt=row.get("negative_prompt"), seed=row.get("seed"),
                    path=str(product.path), sha256=row.get("sha256"), params=jsonable(product.params),
                    generation_id=row.get("generation_id"), provider=row.get("provider"))
        attach(reply, item, row_thumb(row, self.studio.home))
        generation = order = None
        if product.generation_id:
            try:
                gen = self.studio.generation(product.generation_id)
                generation = {"id": gen["id"], "seq": gen["seq"], "status": gen["status"],
                              "params": jsonable(gen["params"]), "actual": jsonable(gen["actual_params"]),
                              "returned": jsonable(gen["return_params"]),
                              "started_at": jsonable(gen["started_at"]), "finished_at": jsonable(gen["finished_at"])}
            except LookupError:
                generation = None
        if product.order_id:
            try:
                handle = self.studio.get_order(product.order_id)
                order = {"id": handle.id, "model": handle.model, "status": handle.status,
                         "base_params": jsonable(handle.base_params)}
            except LookupError:
                order = None
        model = {"id": product.model_id, "known": False, "type": None, "supports_image_to_image": False}
        if product.model_id:
            try:
                info = self.studio.model(product.model_id)
                model.update(known=True, type=info.type, family=info.family, description=info.description,
                             supports_image_to_image=bool(info.supports_image_to_image))
            except Exception:  # a provider that is not installed (or broken) here: no vary, still details
                pass
        result, cut = _bounded({"product": item, "generation": generation, "order": order, "model": model,
                                "can_vary": model["supports_image_to_image"],
                                "can_upscale": item["kind"] == "image",
                                "lineage": self._lineage(product_id, row.get("order_id"), reply)})
        # A file imported with a megabyte prompt (or a catalog from before the import limits)
        # must not make one reply hundreds of megabytes: the page shows the start and says so.
        result["truncated"] = cut
        reply.result = result
        return reply

    def _lineage(self, product_id: str, order_id: str | None, reply: Reply) -> dict | None:
        """"Refined from …": the rounds of the refinement loop the product belongs to (None when it
        was made outside one), each round's best product with its thumbnail as a buffer. ``current``
        marks the round the product comes from (its best, one of its candidates, or its judgement);
        ``best`` whether the product is that round's best."""
        frame = self.studio.lineage(product_id)
        if frame.empty:
            return None
        records = [{k: jsonable(v) for k, v in r.items()} for r in frame.to_dict("records")]
        ids = list(dict.fromkeys(i for r in records for i in (r.get("product_id"), r.get("next_product_id")) if i))
        shown = {r["product_id"]: r for r in self._rows(len(ids), 0, {"ids": ids})} if ids else {}

        def cut(text: Any) -> Any:
            return text[:LINEAGE_TEXT_CHARS] + "…" if isinstance(text, str) and len(text) > LINEAGE_TEXT_CHARS else text

        rounds = []
        for r in records:
            entry = {"round": r["round"], "prompt": cut(r.get("prompt")), "product_id": r.get("product_id"),
                     "score": _score(r.get("score")), "judgement": cut(r.get("judgement")),
                     "judgement_product_id": r.get("judgement_product_id"), "next_prompt": cut(r.get("next_prompt")),
                     "next_product_id": r.get("next_product_id"), "status": r.get("status"),
                     "current": product_id in (r.get("product_id"), r.get("judgement_product_id"))
                                or (order_id is not None and order_id == r.get("image_order_id")),
                     "best": product_id == r.get("product_id"),
                     "available": r.get("product_id") in shown}
            attach(reply, entry, row_thumb(shown[r["product_id"]], self.studio.home) if entry["available"] else None)
            rounds.append(entry)
        first = records[0]
        return {"refinement_id": first.get("refinement_id"), "title": first.get("title"), "item": first.get("item"),
                "rounds": rounds}

    def rpc_original(self, product_id: str) -> Reply:
        """The product's file as buffer 0 (for the full image, playback and downloads): ``{id, name, media_type, size}``."""
        need_id(product_id, "product_id", "choose a product")
        products = self.studio.products([product_id])
        if not products:
            raise PanelRequestError(f"no product {product_id} in this studio", field="product_id")
        product = products[0]
        if product.size > MAX_ORIGINAL_BYTES:
            raise PanelRequestError(f"the file is {product.size / 2**20:.0f} MB, too large to send to the page; "
                                    f"open it from disk: {product.path}", field="product_id")
        try:
            data = product.path.read_bytes()
        except OSError as exc:
            raise PanelRequestError(f"cannot read {product.path}: {exc.strerror or exc}", field="product_id") from exc
        reply = Reply()
        reply.result = {"id": product.id, "name": product.path.name, "media_type": product.media_type,
                        "size": len(data), "buf": reply.add(data)}
        return reply

    def rpc_rate(self, ids: list[str], rating: int | None) -> dict:
        """Rate products 1–5 (None clears): ``{rated, rating, ids}``."""
        ids = _ids(ids)
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
            raise PanelRequestError(f"a rating is 1 to 5 stars (or none); got {rating!r}", field="rating")
        self._live_rows(ids)
        return {"rated": self.studio.rate(ids, rating), "rating": rating, "ids": ids}

    def _collection_name(self, collection: Any) -> str:
        if not isinstance(collection, str) or not collection.strip():
            raise PanelRequestError("name the collection", field="collection")
        name = collection.strip()
        if len(name) > 100:
            raise PanelRequestError("a collection name is at most 100 characters", field="collection")
        return name

    def rpc_collect(self, ids: list[str], collection: str, create: bool = False) -> dict:
        """Add products to a collection (by name; ``create=True`` makes a new one):
        ``{collection: {id, name}, added, created, ids}``."""
        ids = _ids(ids)
        name = self._collection_name(collection)
        self._live_rows(ids)
        existing = name in self._collection_names().values()
        if not existing and not create:
            raise PanelRequestError(f"no collection {name!r}; create it first", field="collection")
        handle = self.studio.collection(name, create=True)
        added = handle.add(ids)
        return {"collection": {"id": handle.id, "name": handle.name}, "added": added, "created": not existing,
                "ids": ids}

    def rpc_uncollect(self, ids: list[str], collection: str) -> dict:
        """Remove products from a collection (by name): ``{collection: {id, name}, removed, ids}``."""
        ids = _ids(ids)
        name = self._collection_name(collection)
        try:
            handle = self.studio.collection(name, create=False)
        except LookupError:
            raise PanelRequestError(f"no collection {name!r}", field="collection") from None
        return {"collection": {"id": handle.id, "name": handle.name}, "removed": handle.remove(ids), "ids": ids}

    def rpc_delete(self, ids: list[str]) -> dict:
        """Soft-delete products (``restore`` undoes it): ``{deleted, ids}``."""
        ids = _ids(ids)
        self._live_rows(ids)
        return {"deleted": self.studio.delete(ids), "ids": ids}

    def rpc_restore(self, ids: list[str]) -> dict:
        """Undo a delete: ``{restored, ids}``."""
        ids = _ids(ids)
        known = {p.id for p in self.studio.products(ids)}
        missing = [i for i in ids if i not in known]
        if missing:
            raise PanelRequestError(f"no product {missing[0]} in this studio", field="ids")
        return {"restored": self.studio.delete(ids, undo=True), "ids": ids}

    def rpc_vary(self, product_id: str, n: int = 4, strength: float = 0.5) -> dict:
        """Order ``n`` variations of a product (image-to-image from it): ``{order_id, generations, model}``.

        Refused, naming ``model``, when the product's model cannot start from an image.
        """
        need_id(product_id, "product_id", "choose a product")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 16:
            raise PanelRequestError(f"ask for 1 to 16 variations; got {n!r}", field="n")
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 1:
            raise PanelRequestError(f"strength is from 0 (keep) to 1 (redraw all); got {strength!r}",
                                    field="strength")
        self._live_rows([product_id], field="product_id")
        order = self.studio.vary(product_id, n=n, strength=float(strength))
        return {"order_id": order.id, "generations": n, "model": order.model}

    def rpc_import(self, names: list[str], buffers: list[bytes] | None = None,
                   project_id: str | None = None) -> dict:
        """Import dropped or picked image files (``names[i]`` is ``buffers[i]``'s file name) with
        their embedded A1111 / imagen-nb parameters, each on its own: ``{imported: [{id, name,
        params}], refused: [{name, message}], warnings: [text]}``."""
        import tempfile

        buffers = list(buffers or [])
        if not isinstance(names, list) or len(names) != len(buffers) or not buffers:
            raise PanelRequestError("send each file's name with its bytes", field="files")
        if len(buffers) > MAX_IMPORT_FILES or sum(len(b) for b in buffers) > MAX_IMPORT_BYTES:
            raise PanelRequestError(f"at most {MAX_IMPORT_FILES} files and {MAX_IMPORT_BYTES // 2**20} MiB a "
                                    "request; the page sends a larger drop in parts", field="files")
        imported, refused, notes = [], [], []
        with tempfile.TemporaryDirectory(prefix="imagen-nb-import-") as tmp:
            for i, (name, data) in enumerate(zip(names, buffers)):
                # Only the file's own name is kept: a page cannot write outside the temp folder.
                safe = Path(str(name)).name.replace("\x00", "")[:200] or f"file-{i}"
                path = Path(tmp) / f"{i:03d}-{safe}"
                path.write_bytes(data)
                try:
                    with notices.collect() as caught:
                        product = self.studio.import_products([path], project=project_id or None)[0]
                    notes.extend(f"{safe}: {message}" for _, message in caught)
                    imported.append({"id": product.id, "name": safe, "params": bool(product.params)})
                except (ValueError, OSError) as exc:
                    message = str(exc).replace(str(path), safe)
                    refused.append({"name": safe, "message": message})
        return {"imported": imported, "refused": refused, "warnings": notes[:20]}

    def rpc_select(self, ids: list[str]) -> dict:
        """The page's selection changed (Python reads it as ``widget.selected``): ``{selected}``."""
        self.selection = _ids(ids) if ids else []
        return {"selected": len(self.selection)}

    def rpc_code(self, product_id: str, model: str | None = None) -> dict:
        """"Copy as code": ``{code}``, the ``studio.order(...)`` call that makes this product again."""
        need_id(product_id, "product_id", "choose a product")
        try:
            return {"code": product_code(self.studio, product_id, model)}
        except LookupError as exc:
            raise PanelRequestError(str(exc), field="product_id") from exc

    def rpc_grid(self, order_id: str | None = None, ids: list[str] | None = None, x: str | None = None,
                 y: str | None = None, z: str | None = None) -> dict:
        """The grid view: an order's products (axes inferred unless named) or a selection's (the two
        names that vary most unless named) laid out on x, y and z, as ``studio.views.grid_layout``
        returns it (cells name their product; thumbnails come from :meth:`rpc_thumbs`)."""
        if not order_id and not ids:
            raise PanelRequestError("choose an order or select products to compare", field="grid")
        if ids is not None and order_id is None:
            ids = _ids(ids)
            if len(ids) > MAX_GRID_PRODUCTS:
                raise PanelRequestError(f"a grid of a selection holds at most {MAX_GRID_PRODUCTS:,} products; "
                                        f"{len(ids):,} are selected", field="grid")
        for which, name in (("x", x), ("y", y), ("z", z)):
            if name is not None and not isinstance(name, str):
                raise PanelRequestError(f"axis {which} is a name; got {name!r}", field=which)
        axes = {k: v or None for k, v in (("x", x), ("y", y), ("z", z))}
        if order_id is not None:
            need_id(order_id, "order_id", "choose an order")
            return self.studio.views.grid_layout(order_id=order_id, **axes)
        return self.studio.views.grid_layout(product_ids=ids, **axes)

    def rpc_thumbs(self, product_ids: list[str]) -> Reply:
        """Thumbnails of products (the grid view's cells, at most 100 a request), as buffers:
        ``{items: {id: {buf, type}}}``; a product without one is left out."""
        ids = _ids(product_ids, "product_ids")[:MAX_THUMBS]
        reply = Reply()
        items: dict[str, dict] = {}
        for row in self._rows(len(ids), 0, {"ids": ids}):
            thumb = row_thumb(row, self.studio.home)
            if thumb:
                items[row["product_id"]] = {"buf": reply.add(thumb.data), "type": thumb.media_type}
        reply.result = {"items": items}
        return reply

    # -- live updates ----------------------------------------------------------------------
    def on_event(self, event: Event) -> bool:
        """Note new products (on a worker thread); the page is told in :meth:`flush`."""
        if isinstance(event, ProductReady):
            with self._lock:
                self._new.append(event.product_id)
            return True
        return False

    def flush(self) -> None:
        """Push ``new_products`` ``{ids, count}``: the products made since the last push, newest first."""
        with self._lock:
            new, self._new = self._new, []
        if not new:
            return
        ids = list(dict.fromkeys(reversed(new)))
        self.push("new_products", {"ids": ids[:MAX_NEW_IDS], "count": len(ids)})
