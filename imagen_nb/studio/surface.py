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
    from ..engine.backup import RestoreReport
    from ..engine.rebuild import RebuildReport

#: The user API a host and a client share: the names a client forwards to its host. The
#: panels' read models are part of it, since panels run in clients too.
USER_API = (
    "models", "model", "add_model", "expand", "order", "vary", "get_order", "orders", "cancel",
    "retry", "product", "products", "gallery", "gallery_count", "generation", "rate",
    "delete", "import_products", "project", "projects", "collection", "collections", "backup", "sql",
    "wait_idle", "loras", "order_set", "grid", "trash", "empty_trash",
    "refine", "refinements", "get_refinement", "lineage", "score", "scores",
)

#: Properties of the user API a client reads from its host (``studio.paused``).
USER_PROPERTIES = ("paused",)

#: The catalog-backed mappings a client reaches through its host (``studio.tokens`` …), and
#: what each may be asked (``sets.listing`` is the table of :meth:`~.rows.Sets.listing`).
MAPPINGS = {"tokens": ("all", "get", "set", "delete"), "presets": ("all", "get", "set", "delete"),
            "sets": ("all", "get", "set", "delete", "listing")}

#: The panels' read models, under ``studio.views`` (:mod:`.views`) so the user API stays small.
VIEWS = ("order_summaries", "generations", "queue_positions", "active_generations", "gallery_groups", "missing_key",
         "refine_choices")

#: What the handles (Order, Project, Collection) read and change through their studio.
HANDLE_API = (
    "order_record", "order_generations", "order_products", "wait_order", "finished_count",
    "project_record", "update_project", "collection_product_ids", "change_collection",
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

    def _repr_mimebundle_(self, include=None, exclude=None):
        try:
            widget = self.widget()
        except ImportError:  # no panel extra: show the text form
            return {"text/plain": repr(self)}
        return widget._repr_mimebundle_(include=include, exclude=exclude)

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
