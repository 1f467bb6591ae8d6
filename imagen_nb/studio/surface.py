"""The Studio surface: what a host's local studio and a client of it share.

``inb.Studio(home)`` opens the home: the first process hosts it (a :class:`~.local.LocalStudio`
that owns the catalog, the files and the executor, and serves them on a loopback endpoint);
every other process gets a :class:`~.client.StudioClient` with the same methods, talking to the
host (DESIGN §5). Both are instances of :class:`Studio`, so ``isinstance(s, inb.Studio)`` holds
either way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..core.errors import CatalogBusy
from .home import resolve_home

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, MutableMapping, Sequence

    import pandas as pd

    from ..core.records import Event, ModelInfo
    from ..engine.backup import BackupReport, RestoreReport
    from ..engine.bus import EventBus, Subscription
    from ..engine.rebuild import RebuildReport
    from .downloads import ModelImport
    from .grid import Grid
    from .handles import Collection, Order, Product, Project
    from .refinements import Refinement
    from .training import TrainingRun

#: The user API a host and a client share: the names a client forwards to its host. The
#: panels' read models are part of it, since panels run in clients too.
USER_API = (
    "models", "model", "add_model", "expand", "order", "vary", "get_order", "orders", "cancel",
    "retry", "product", "products", "gallery", "gallery_count", "generation", "rate",
    "delete", "import_products", "project", "projects", "collection", "collections", "backup", "sql",
    "wait_idle", "loras", "order_set", "grid", "trash", "empty_trash", "upscale", "upscalers", "health",
    "identify", "civitai_search", "civitai_resolve", "civitai_files",
    "train_lora", "check_training", "training_run", "training_runs",
    "refine", "refinements", "get_refinement", "lineage", "score", "scores",
)

#: Properties of the user API a client reads from its host (``studio.paused``).
USER_PROPERTIES = ("paused",)

#: The catalog-backed mappings a client reaches through its host (``studio.tokens`` …), and
#: what each may be asked (``sets.listing`` is the table of :meth:`~.rows.Sets.listing`, ``sets.saved`` the names saved in the home).
MAPPINGS = {"tokens": ("all", "get", "set", "delete"), "presets": ("all", "get", "set", "delete"),
            "sets": ("all", "get", "set", "delete", "listing", "saved")}

#: The panels' read models, under ``studio.views`` (:mod:`.views`) so the user API stays small.
VIEWS = ("order_summaries", "generations", "queue_positions", "active_generations", "gallery_groups", "missing_key",
         "read_rows", "grid_layout", "training_rows", "refine_choices")

#: What the handles (Order, Project, Collection) read and change through their studio.
HANDLE_API = (
    "order_record", "order_generations", "order_products", "wait_order", "finished_count",
    "project_record", "update_project", "collection_product_ids", "change_collection",
    "training_record", "training_metrics", "training_checkpoints", "training_samples", "cancel_training",
    "resume_training", "wait_training", "download_record", "download_records", "cancel_download", "wait_download",
    "refinement_record", "refinement_rounds", "refinement_items", "wait_refinement", "cancel_refinement",
)


class _OpenHome(type):
    """``Studio(...)`` opens the home as its host, or as a client when another process hosts it."""

    def __call__(cls, *args: Any, **kwargs: Any):
        if cls is Studio:
            if Studio._opener is None:  # pragma: no cover - the package sets it on import
                raise ImportError("import imagen_nb.studio (not imagen_nb.studio.surface alone) to open a home")
            return Studio._opener(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class Studio(metaclass=_OpenHome):
    """A workbench over one home folder: catalog, product files, providers and the executor.

    Args:
        home: folder for the catalog and product files; default ``$IMAGEN_NB_HOME`` or the
            platform's user data folder.
        limit: most generations one order may expand to (per-order ``limit=`` overrides).
        recovery: what to do with generations a crashed process left running:
            ``"requeue"`` (run them again) or ``"fail"`` (mark them failed).
        providers: settings per provider, e.g. ``{"diffusers": {"device": "cpu"}}``.
        start: resume unfinished orders of this home at once (default True).
        serve: host the home for other processes on a loopback endpoint (default True); an
            address such as ``"0.0.0.0"`` serves the REST API beyond this machine, with ``password``.
        password: the bearer secret remote requests send (default ``$IMAGEN_NB_PASSWORD``).

    The first process to open a home hosts it; in any other process the same call returns a
    client of that host, with the same methods (``studio.hosted_by`` says which it is). Use it
    as a context manager, or call :meth:`close`, to release the home.
    """

    home: Path
    limit: int

    #: opens a home as host or client (:func:`.opening.open_studio`); set by the package
    #: (imagen_nb/studio/__init__.py) so this module needs neither the host nor the client
    _opener: Callable[..., "Studio"] | None = None

    #: builds the Studio widget; set by the package (imagen_nb/__init__.py) so this layer stays below ui/
    _widget_factory: Callable[["Studio"], Any] | None = None

    # What a host and a client both offer, declared for type checkers (and for editors' completion)
    # only: LocalStudio implements each, StudioClient forwards each name in USER_API / HANDLE_API /
    # USER_PROPERTIES to its host. mypy checks LocalStudio's signatures against these (see
    # tests/test_types.py, which also checks that these and the lists above name the same methods).
    if TYPE_CHECKING:
        # what inb.Studio(...) accepts (the metaclass hands it to open_studio)
        def __init__(self, home: str | os.PathLike | None = None, *, limit: int = 1000,
                     recovery: str = "requeue", providers: Mapping[str, Mapping[str, Any]] | None = None,
                     start: bool = True, serve: bool | str = True, password: str | None = None,
                     executor: Any = "threads", workers: int | None = None) -> None: ...

        bus: EventBus
        tokens: MutableMapping[str, Any]
        presets: MutableMapping[str, Any]
        sets: Any
        views: Any

        @property
        def paused(self) -> str | None: ...
        @property
        def hosted_by(self) -> int: ...
        def models(self) -> pd.DataFrame: ...
        def model(self, model_id: str) -> ModelInfo: ...
        def add_model(self, path: str | os.PathLike, name: str | None = None, *, for_model: str | None = None,
                      progress: Callable[[int, int | None], None] | None = None,
                      wait: bool = True) -> str | ModelImport: ...
        def identify(self, *, refresh: bool = False) -> pd.DataFrame: ...
        def civitai_search(self, query: str = "", *, types: Any = None, base_models: Any = None, limit: int = 20,
                           nsfw: bool = False, sort: str | None = None) -> pd.DataFrame: ...
        def civitai_resolve(self, ref: str) -> dict[str, Any]: ...
        def civitai_files(self) -> pd.DataFrame: ...
        def upscalers(self) -> pd.DataFrame: ...
        def upscale(self, products: Iterable[Product | str] | Product | str, scale: float = 2, *,
                    model: str | None = None, project: Project | str | None = None, **params: Any) -> Order: ...
        def health(self, reach: bool = False) -> pd.DataFrame: ...
        def train_lora(self, name: str, *, products: Any = None, sql: str | None = None, base: str = "diffusers:tiny",
                       captions: Any = "prompt", project: Project | str | None = None, replace: bool = False,
                       sample_every: int | None = None, **hyperparameters: Any) -> TrainingRun: ...
        def check_training(self, name: str, *, products: Any = None, sql: str | None = None,
                           base: str = "diffusers:tiny", captions: Any = "prompt", replace: bool = False,
                           sample_every: int | None = None, **hyperparameters: Any) -> pd.DataFrame: ...
        def training_run(self, name_or_id: str) -> TrainingRun: ...
        def training_runs(self) -> pd.DataFrame: ...
        def refine(self, prompts: Any, model: str = "diffusers:tiny", *, judge: str = "transformers:tiny-judge",
                   rewriter: str = "transformers:tiny-rewriter", iterations: int = 3, n: int = 1,
                   goal: str | None = None, stop_at: float | None = None, scorer: str = "judge",
                   project: Project | str | None = None, judge_params: Mapping[str, Any] | None = None,
                   rewriter_params: Mapping[str, Any] | None = None, **params: Any) -> Refinement: ...
        def get_refinement(self, refinement_id: str) -> Refinement: ...
        def refinements(self, limit: int = 100) -> pd.DataFrame: ...
        def lineage(self, product: Product | str) -> pd.DataFrame: ...
        def score(self, products: Iterable[Product | str] | Product | str, scorer: str = "clip:tiny-clip", *,
                  prompt: str | None = None) -> pd.DataFrame: ...
        def scores(self, products: Iterable[Product | str] | Product | str, *,
                   scorer: str | None = None) -> pd.DataFrame: ...
        def expand(self, model: str | None = None, *, limit: int | None = None, rng_seed: int | None = None,
                   rows: Any = None, **params: Any) -> list[dict[str, Any]]: ...
        def loras(self, model: str) -> list[str]: ...
        def order(self, model: str, *, project: Project | str | None = None, limit: int | None = None,
                  rng_seed: int | None = None, rows: Any = None, **params: Any) -> Order: ...
        def order_set(self, name: str, model: str | None = None, *, theme: str | None = None,
                      project: Project | str | None = None, limit: int | None = None,
                      rng_seed: int | None = None, **overrides: Any) -> Order: ...
        def grid(self, products: Iterable[Product | str] | str | Order, *, x: str | None = None,
                 y: str | None = None, z: str | None = None, **options: Any) -> Grid: ...
        def vary(self, product: Product | str, n: int = 4, strength: float = 0.5, *, model: str | None = None,
                 project: Project | str | None = None, limit: int | None = None, rng_seed: int | None = None,
                 **overrides: Any) -> Order: ...
        def get_order(self, order_id: str) -> Order: ...
        def orders(self, limit: int = 100) -> pd.DataFrame: ...
        def cancel(self, target: Order | str) -> int: ...
        def retry(self, order: Order | str, generations: Iterable[str] | None = None) -> Order: ...
        def subscribe(self, callback: Callable[[Event], None]) -> Subscription: ...
        def wait_idle(self, timeout: float | None = None) -> bool: ...
        def product(self, product_id: str) -> Product: ...
        def products(self, ids: Iterable[str]) -> list[Product]: ...
        def gallery(self, *, limit: int = 50, offset: int = 0, **filters: Any) -> pd.DataFrame: ...
        def gallery_count(self, **filters: Any) -> int: ...
        def generation(self, generation_id: str) -> dict[str, Any]: ...
        def rate(self, products: Iterable[Product | str] | Product | str, rating: int | None) -> int: ...
        def delete(self, products: Iterable[Product | str] | Product | str, *, undo: bool = False) -> int: ...
        def import_products(self, paths: Iterable[str | os.PathLike] | str | os.PathLike, *,
                            project: Project | str | None = None) -> list[Product]: ...
        def trash(self) -> pd.DataFrame: ...
        def empty_trash(self) -> int: ...
        def project(self, name: str, *, description: str | None = None, create: bool = True) -> Project: ...
        def projects(self, *, include_archived: bool = False) -> pd.DataFrame: ...
        def collection(self, name: str, *, description: str = "", create: bool = True) -> Collection: ...
        def collections(self) -> pd.DataFrame: ...
        def backup(self, path: str | os.PathLike) -> BackupReport: ...
        def sql(self, query: str, params: Sequence[Any] | None = None, *, timeout: float = 10.0,
                max_rows: int = 100_000, max_bytes: int = ...) -> pd.DataFrame: ...

        # HANDLE_API: what Order, Project and Collection read and change through their studio
        def order_record(self, order_id: str) -> dict | None: ...
        def order_generations(self, order_id: str) -> pd.DataFrame: ...
        def order_products(self, order_id: str) -> list[Product]: ...
        def wait_order(self, order_id: str, timeout: float | None) -> bool: ...
        def finished_count(self, order_id: str) -> int | None: ...
        def project_record(self, project_id: str) -> dict: ...
        def update_project(self, project_id: str, **fields: Any) -> None: ...
        def collection_product_ids(self, collection_id: str) -> list[str]: ...
        def change_collection(self, collection_id: str, products: Any, *, add: bool, name: str | None = None,
                              description: str = "") -> int: ...
        def training_record(self, run_id: str) -> dict | None: ...
        def training_metrics(self, run_id: str) -> pd.DataFrame: ...
        def training_checkpoints(self, run_id: str) -> pd.DataFrame: ...
        def training_samples(self, run_id: str) -> list[Product]: ...
        def cancel_training(self, run_id: str) -> bool: ...
        def resume_training(self, run_id: str) -> None: ...
        def wait_training(self, run_id: str, timeout: float | None = None) -> bool: ...
        def download_record(self, ref: str) -> dict[str, Any] | None: ...
        def download_records(self) -> list[dict[str, Any]]: ...
        def cancel_download(self, ref: str) -> bool: ...
        def wait_download(self, ref: str, timeout: float | None = None) -> str | None: ...
        def refinement_record(self, refinement_id: str) -> dict: ...
        def refinement_rounds(self, refinement_id: str) -> pd.DataFrame: ...
        def refinement_items(self, refinement_id: str) -> pd.DataFrame: ...
        def wait_refinement(self, refinement_id: str, timeout: float | None = None) -> bool: ...
        def cancel_refinement(self, refinement_id: str) -> None: ...

    def close(self, timeout: float = 30) -> None:  # pragma: no cover - every kind defines it
        """Release the home (a host) or the connection to the host (a client)."""
        raise NotImplementedError

    def __enter__(self) -> "Studio":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def widget(self):
        """The Studio widget over this studio (the same one each time): four tabs, Projects |
        Order | Production | Gallery. Showing ``studio`` in a notebook cell displays it."""
        if getattr(self, "_widget", None) is None:
            if Studio._widget_factory is None:
                raise ImportError("the panels are not available; import imagen_nb (not imagen_nb.studio) first")
            self._widget = Studio._widget_factory(self)
        return self._widget

    @property
    def civitai(self) -> "Civitai":
        """civitai from Python: ``studio.civitai.search("tarot", types=["LORA"], base_models=["SD 1.5"])``,
        ``.resolve(ref)``, ``.files()``; importing is ``studio.add_model("urn:air:…")``."""
        return Civitai(self)

    def _repr_mimebundle_(self, include=None, exclude=None):
        try:
            widget = self.widget()
        except ImportError:  # no panel extra: show the text form
            return {"text/plain": repr(self)}
        return widget._repr_mimebundle_(include=include, exclude=exclude)

    def _ipython_display_(self) -> None:
        # The widget shows itself (the live panel, then its static snapshot: ui/snapshot.py).
        try:
            widget = self.widget()
        except ImportError:
            from IPython.display import display

            display({"text/plain": repr(self)}, raw=True)
            return
        widget._ipython_display_()

    @classmethod
    def restore(cls, path: str | os.PathLike, home: str | os.PathLike | None = None, *,
                force: bool = False) -> "RestoreReport":
        """Make a backup folder (or a checkpoint file from ``<home>/checkpoints/``) the catalog of a home.

        No Studio may have the home open. A catalog that reads cleanly and lists products is
        replaced only with ``force=True``; whatever is replaced is moved aside, never deleted.
        Product files newer than the backup are listed again from what they carry inside.

        Args:
            path: the folder :meth:`backup` wrote, or a checkpoint ``.duckdb`` file.
            home: the home to restore into (default ``$IMAGEN_NB_HOME``).
            force: replace a working catalog.
        """
        from ..engine.backup import restore

        return restore(Path(path), resolve_home(home), force=force)

    @classmethod
    def rebuild(cls, home: str | os.PathLike | None = None) -> "RebuildReport":
        """Recreate catalog rows from the product files of a home: products with their prompt, seed,
        model and parameters (from the ``imagen_nb`` JSON inside each PNG, or the A1111
        ``parameters`` text when that is all there is), and the finished orders and generations
        they name.

        A damaged catalog is moved aside (``catalog.damaged-<time>.duckdb``, never deleted) and
        a new one made; a readable one is kept and gets rows only for files it lacks. Ratings,
        collections and projects are not in the files: restore a checkpoint or backup for those.
        No Studio may have the home open.
        """
        from ..engine.rebuild import rebuild_home

        home_path = resolve_home(home)
        try:
            return rebuild_home(home_path)
        except CatalogBusy as exc:
            if exc.pid == os.getpid():
                raise CatalogBusy(f"a Studio in this process has {home_path} open; close it first "
                                  "(studio.close()), then rebuild", pid=exc.pid) from None
            raise


class Civitai:
    """``studio.civitai``: civitai's search and lookups (the same in a host and in a client)."""

    def __init__(self, studio: "Studio"):
        self._studio = studio

    def search(self, query: str = "", *, types: Any = None, base_models: Any = None, limit: int = 20,
               nsfw: bool = False, sort: str | None = None):
        """civitai's model search as a DataFrame: model_id, name, type, creator, version_id, version,
        base_model, air, trigger_words, downloads, nsfw, size_mb, url (one row per model, newest version).

        Args:
            types: civitai model types (``"LORA"``, ``"Checkpoint"``…).
            base_models: civitai base models (``"SD 1.5"``, ``"SDXL 1.0"``…).
            limit: 1 … 100 rows. nsfw: include models civitai marks NSFW. sort: civitai's sort
                (``"Highest Rated"``, ``"Most Downloaded"``, ``"Newest"``).
        """
        return self._studio.civitai_search(query, types=types, base_models=base_models, limit=limit, nsfw=nsfw,
                                           sort=sort)

    def resolve(self, ref: str) -> dict:
        """What ``studio.add_model(ref)`` would download (name, version, type, base model, file, size,
        SHA-256, licence, trigger words), without downloading it."""
        return self._studio.civitai_resolve(ref)

    def files(self):
        """Local files civitai knows (downloaded or identified), with AIR, trigger words and licence."""
        return self._studio.civitai_files()

    def identify(self, *, refresh: bool = False):
        """Same as ``studio.identify()``."""
        return self._studio.identify(refresh=refresh)
