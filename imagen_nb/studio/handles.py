"""Handles the Studio returns: Order, Product, Project, Collection.

They hold an id and the Studio; reading a property asks the catalog, so a handle is never stale.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from ..core.paths import inside_home
from ..core.records import GenerationProgress, OrderFinished

if TYPE_CHECKING:
    from .surface import Studio


@dataclass(frozen=True)
class Product:
    """One output file and its catalog record (a snapshot taken when the handle was made)."""

    id: str
    path: Path
    media_type: str
    width: int | None
    height: int | None
    size: int
    sha256: str
    model_id: str | None
    order_id: str | None
    generation_id: str | None
    project_id: str | None
    source: str
    rating: int | None
    params: dict[str, Any] | None
    created_at: datetime
    thumb_path: Path | None = None
    deleted: bool = False
    _studio: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def _from_row(cls, row: dict, studio: "Studio | None" = None) -> "Product":
        # The catalog keeps paths relative to the home (DESIGN §6); a handle holds the file's
        # place on this machine now.
        home = studio.home if studio is not None else Path()
        # A path that would lead outside the home names no file of ours: it reads as missing.
        path = inside_home(home, row["path"]) or home / "products" / "outside-the-home" / row["id"]
        return cls(
            id=row["id"], path=path, media_type=row["media_type"], width=row.get("width"),
            height=row.get("height"), size=int(row["size"]), sha256=row["sha256"],
            model_id=row.get("model_id"), order_id=row.get("order_id"),
            generation_id=row.get("generation_id"), project_id=row.get("project_id"),
            source=row["source"], rating=row.get("rating"), params=row.get("params"),
            created_at=row["created_at"],
            thumb_path=inside_home(home, row.get("thumb_path")),
            deleted=row.get("deleted_at") is not None, _studio=studio,
        )

    @property
    def prompt(self) -> str | None:
        """The prompt this product was made with (None for imports without one)."""
        return (self.params or {}).get("prompt")

    @property
    def seed(self) -> int | None:
        """The seed actually used."""
        return (self.params or {}).get("seed")

    def read_bytes(self) -> bytes:
        """The file's bytes."""
        return self.path.read_bytes()

    def vary(self, n: int = 4, strength: float = 0.5, **overrides: Any) -> "Order":
        """Order ``n`` variations of this product (image-to-image from it, new seeds): see :meth:`Studio.vary`."""
        if self._studio is None:
            raise RuntimeError("this Product handle has no Studio; get it from studio.product(id)")
        return self._studio.vary(self, n=n, strength=strength, **overrides)

    def upscale(self, scale: float = 2, model: str | None = None, **params: Any) -> "Order":
        """Order an upscaled copy of this product (``scale`` × its size): see :meth:`Studio.upscale`."""
        if self._studio is None:
            raise RuntimeError("this Product handle has no Studio; get it from studio.product(id)")
        return self._studio.upscale(self, scale=scale, model=model, **params)

    @property
    def image(self):
        """The image as a ``PIL.Image.Image`` (loaded from disk)."""
        from PIL import Image

        with Image.open(self.path) as im:
            im.load()
            return im

    def _repr_png_(self) -> bytes | None:
        if self.media_type == "image/png":
            return self.read_bytes()
        if self.media_type.startswith("image/"):
            buf = io.BytesIO()
            self.image.save(buf, format="PNG")
            return buf.getvalue()
        return None


class Order:
    """An order placed with :meth:`Studio.order`; its generations run in the background."""

    def __init__(self, studio: "Studio", order_id: str):
        self._studio = studio
        self.id = order_id

    def __repr__(self) -> str:
        row = self._row()
        return (f"<Order {self.id} {row['model_id']} {row['status']}: {row['generation_count']} generations, "
                f"{row['complete_count']} complete, {row['failed_count']} failed, "
                f"{row['cancelled_count']} cancelled>")

    def _row(self) -> dict:
        row = self._studio.order_record(self.id)
        if row is None:
            raise LookupError(f"order {self.id} is not in this studio's catalog")
        return row

    @property
    def status(self) -> str:
        """pending, processing, underway, fulfilled, cancelled or failed."""
        return self._row()["status"]

    @property
    def model(self) -> str:
        """The model id the order runs."""
        return self._row()["model_id"]

    @property
    def base_params(self) -> dict:
        """The parameters as typed, SmartParameter syntax included."""
        return self._row()["base_params"]

    @property
    def rng_seed(self) -> int:
        """Seed of the random picks: ordering again with it gives the same generations."""
        return self._row()["rng_seed"]

    @property
    def done(self) -> bool:
        """True once the order is fulfilled, cancelled or failed."""
        return self.status in ("fulfilled", "cancelled", "failed")

    @property
    def generations(self) -> pd.DataFrame:
        """One row per generation: status, parameter sets, errors, timings."""
        return self._studio.order_generations(self.id)

    @property
    def products(self) -> list[Product]:
        """Products of this order in generation order (those finished so far)."""
        return self._studio.order_products(self.id)

    @property
    def errors(self) -> pd.DataFrame:
        """Failed generations with their error type and message."""
        g = self.generations
        return g[g["status"] == "failed"][["id", "seq", "params", "error_type", "error_message"]]

    @property
    def set_name(self) -> str | None:
        """The set this order was made from (``studio.order_set``), or None."""
        return self._row().get("set_name")

    def grid(self, x: str | None = None, y: str | None = None, z: str | None = None, **options: Any):
        """A labelled comparison grid of this order's products (an X/Y/Z plot): see :meth:`Studio.grid`.

        With no axes, the parameters that vary in the order (its SmartParameter groups, or
        ``row`` for an order from rows), largest first. Cells still running or failed are drawn as such.
        """
        return self._studio.grid(self, x=x, y=y, z=z, **options)

    def wait(self, timeout: float | None = None) -> "Order":
        """Block until every generation is finished and recorded; TimeoutError after ``timeout`` s."""
        if not self._studio.wait_order(self.id, timeout):
            paused = self._studio.paused
            raise TimeoutError(f"order {self.id} not finished after {timeout} s (status {self.status}); "
                               "it keeps running: wait again, or order.cancel()"
                               + (f". {paused}" if paused else ""))
        return self

    def cancel(self) -> "Order":
        """Cancel the order: queued generations at once, running ones at their next step."""
        self._studio.cancel(self)
        return self

    def progress(self, *, timeout: float | None = None) -> "Order":
        """Show a tqdm progress bar (a widget in notebooks) until the order is done; return self."""
        from tqdm.auto import tqdm

        import time

        row = self._row()
        total = int(row["generation_count"])
        listener = self._studio.bus.listen(lambda e: getattr(e, "order_id", None) == self.id)

        def finished() -> int:
            live = self._studio.finished_count(self.id)
            if live is not None:
                return live
            r = self._row()
            return int(r["complete_count"] + r["failed_count"] + r["cancelled_count"])

        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with tqdm(total=total, initial=finished(), desc=f"order {self.id[-6:]}", unit="gen") as bar:
                while not self.done:
                    event = listener.get(timeout=0.5)
                    if isinstance(event, GenerationProgress):
                        bar.set_postfix_str(f"step {event.step}/{event.total}", refresh=False)
                    # Counts come from the tracker, not from counting events, so events that
                    # raced with opening the bar are never counted twice.
                    bar.n = finished()
                    bar.refresh()
                    if isinstance(event, OrderFinished):
                        break
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimeoutError(f"order {self.id} not finished after {timeout} s")
                bar.n = finished()
                bar.set_postfix_str(self.status)
        finally:
            listener.close()
        return self


class Project:
    """A project: a named group of orders."""

    def __init__(self, studio: "Studio", project_id: str):
        self._studio = studio
        self.id = project_id

    def _row(self) -> dict:
        return self._studio.project_record(self.id)

    def __repr__(self) -> str:
        row = self._row()
        return f"<Project {row['name']!r} ({row['status']})>"

    @property
    def name(self) -> str:
        """The project's name."""
        return self._row()["name"]

    @property
    def description(self) -> str:
        """The project's description."""
        return self._row()["description"]

    @property
    def status(self) -> str:
        """``active`` or ``archived``."""
        return self._row()["status"]

    def update(self, *, name: str | None = None, description: str | None = None) -> "Project":
        """Rename or describe the project."""
        self._studio.update_project(self.id, name=name, description=description)
        return self

    def archive(self) -> "Project":
        """Hide the project from the active list (its orders and products stay)."""
        self._studio.update_project(self.id, status="archived")
        return self

    def unarchive(self) -> "Project":
        """Make an archived project active again."""
        self._studio.update_project(self.id, status="active")
        return self

    def order(self, model: str, **params) -> Order:
        """Place an order in this project (same arguments as :meth:`Studio.order`)."""
        return self._studio.order(model, project=self, **params)

    @property
    def products(self) -> pd.DataFrame:
        """This project's products, newest first (gallery columns)."""
        return self._studio.gallery(project_id=self.id, limit=1_000_000)


class Collection:
    """A user-curated set of products."""

    def __init__(self, studio: "Studio", collection_id: str, name: str, *, description: str = "",
                 stored: bool = True):
        self._studio = studio
        self.id = collection_id
        self.name = name
        self._description = description
        self._stored = stored  # a new collection is stored with its first products

    def __repr__(self) -> str:
        return f"<Collection {self.name!r}: {len(self.product_ids)} products>"

    @property
    def product_ids(self) -> list[str]:
        """Ids of the collection's live products, in the order they were added."""
        if not self._stored:
            return []
        return self._studio.collection_product_ids(self.id)

    @property
    def products(self) -> list[Product]:
        """The collection's products, in the order they were added."""
        return self._studio.products(self.product_ids)

    def add(self, products: "Iterable[Product | str] | Product | str") -> int:
        """Add products (handles or ids); return how many were new to the collection."""
        if self._stored:
            return self._studio.change_collection(self.id, products, add=True)
        added = self._studio.change_collection(self.id, products, add=True, name=self.name,
                                               description=self._description)
        # stored now, under this id or the one another handle stored the name with meanwhile
        self.id = self._studio.collection(self.name, create=False).id
        self._stored = True
        return added

    def remove(self, products: "Iterable[Product | str] | Product | str") -> int:
        """Remove products; return how many were removed."""
        if not self._stored:
            return 0
        return self._studio.change_collection(self.id, products, add=False)
