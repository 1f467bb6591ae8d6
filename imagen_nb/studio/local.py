"""The local studio: the host of a home, wiring catalog, store, providers and executor."""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from ..catalog import Catalog
from ..catalog import collections as q_collections
from ..catalog import models as q_models
from ..catalog import orders as q_orders
from ..catalog import products as q_products
from ..catalog import projects as q_projects
from ..catalog import training as q_training
from ..catalog import refinements as q_ref
from ..catalog.usersql import MAX_BYTES, run_user_sql
from ..core.capabilities import COLUMNS as CAPABILITY_COLUMNS
from ..core.capabilities import capabilities
from ..core.errors import DiskFull, ImagenError, MetadataWarning, ValidationError, did_you_mean, is_disk_full
from ..core import notices
from ..core.file_inputs import file_inputs
from ..core.inputs import check_count, check_params_text, check_seconds, check_seed, check_text
from ..core.ids import new_id
from ..core.records import Event, ModelInfo
from ..core.smart import expand
from ..engine.bus import EventBus, Subscription
from ..engine.backends import make_executor
from ..engine.space import DiskSpace
from ..engine import journal
from ..engine.recovery import RecoveryReport, interrupted_orders, reconcile_files
from ..engine.state import States
from ..providers.base import Provider, ProviderContext
from ..providers.diffusers.upscalers import TINY_ESRGAN, TINY_UPSCALER
from ..providers.health import COLUMNS as HEALTH_COLUMNS
from ..providers.keys import KeyStore
from ..providers.registry import load_providers, split_model_id
from ..providers.spec import whole_lists
from ..store import ProductStore
from ..store.imports import inspect_file
from ..store.inputs import check_image_inputs
from .calls import caller_pid
from .grid import Grid, order_grid, products_grid
from .handles import Collection, Order, Product, Project
from .home import resolve_home
from .hosting import Endpoint, serve_address
from .mappings import CatalogSpecCache, Presets, Tokens, jsonable
from .refine import RefineRunner
from .refine_api import RefineAPI
from .rows import Sets, expand_over_rows
from .surface import Studio
from .downloads import DownloadService, ModelImport
from .training import TrainingRun, TrainingService
from .views import Views

if TYPE_CHECKING:
    from ..engine.backup import BackupReport

log = logging.getLogger(__name__)

#: The built-in tiny upscalers: offline and fast, but their output is noise (never a default).
TINY_UPSCALER_IDS = frozenset({f"diffusers:{TINY_UPSCALER}", f"diffusers:{TINY_ESRGAN}"})

_PRODUCT_ID = re.compile(r"[0-9a-f]{26}")


def _open_catalog(home: Path) -> Catalog:
    """The home's catalog, or an error that says what is wrong with the folder (never a raw OSError)."""
    if home.exists() and not home.is_dir():
        raise ValidationError("home", f"{home} is a file, not a folder; give a folder for the studio "
                                      "(it is created when missing), e.g. Studio(home='~/imagen-nb')")
    try:
        return Catalog(home)
    except ImagenError:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFull(_disk_full_message(home, "cannot open the catalog")) from exc
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
            raise ValidationError("home", f"cannot use {home} as a studio home ({reason}); give a folder "
                                          "you can write to, e.g. Studio(home='~/imagen-nb') or --home ~/imagen-nb"
                                  ) from exc
        raise


def _disk_full_message(home: Path, what: str) -> str:
    try:
        free = f"{shutil.disk_usage(home if home.exists() else home.parent).free / 2**20:.1f} MB free"
    except OSError:
        free = "no free space"
    return (f"the disk holding {home} is full ({free}): imagen-nb {what}. Free some space there "
            "(`imagen-nb trash empty` in a terminal, or studio.empty_trash(), removes the files recovery set aside) and try again.")


def _serve_home(studio: "LocalStudio", address: str, password: str | None) -> Endpoint:
    from .server import serve_home  # Tornado is loaded by the first studio that serves

    return serve_home(studio, address, password)


class LocalStudio(RefineAPI, Studio):
    """The studio that hosts a home: it owns the catalog, the product files and the executor.

    Args:
        home: folder for the catalog and product files; default ``$IMAGEN_NB_HOME`` or the
            platform's user data folder.
        limit: most generations one order may expand to (per-order ``limit=`` overrides).
        recovery: what to do with generations a crashed process left running:
            ``"requeue"`` (run them again) or ``"fail"`` (mark them failed).
        providers: settings per provider, e.g. ``{"diffusers": {"device": "cpu"}}``.
        start: resume unfinished orders of this home at once (default True).
        serve: listen on a loopback endpoint so other processes on this home become its
            clients (default True; see :mod:`.hosting`); an address (``"0.0.0.0"``) serves the
            REST API beyond this machine too, which needs ``password``.
        password: what remote requests must send as ``Authorization: Bearer <password>``
            (default ``$IMAGEN_NB_PASSWORD``); needed when ``serve`` is a non-loopback address.
        executor: where generations run: ``"threads"`` (default, in this process), ``"dask"``
            (a local Dask cluster: one worker per GPU with dask-cuda, else ``workers`` CPU
            processes), a scheduler address ``"tcp://host:8786"``, or a ``distributed.Client``.
        workers: worker processes of the local Dask cluster (``executor="dask"`` only).

    Use it as a context manager, or call :meth:`close`, to release the home for other processes.
    """

    #: this process hosts its home (a :class:`~.client.StudioClient` says ``False``)
    is_host = True

    def __init__(self, home: str | os.PathLike | None = None, *, limit: int = 1000,
                 recovery: str = "requeue", providers: Mapping[str, Mapping[str, Any]] | None = None,
                 start: bool = True, serve: bool | str = True, password: str | None = None,
                 executor: Any = "threads", workers: int | None = None):
        if recovery not in ("requeue", "fail"):
            raise ValueError(f"recovery must be 'requeue' or 'fail', not {recovery!r}")
        limit = check_count("limit", limit, minimum=1)
        address = serve_address(serve, password)  # a refused address fails before the home is opened
        # Absolute: product paths in the catalog must not depend on the working directory.
        self.home = resolve_home(home)
        self.limit = limit
        self.catalog = _open_catalog(self.home)
        try:
            self.store = ProductStore(self.home)
            self.bus = EventBus()
            #: pauses the queue while the home's disk is full (see :attr:`paused`)
            self.space = DiskSpace(self.home, self.bus)
            self.states = States(self.catalog, self.bus, space=self.space)
            self.tracker, self.recorder = self.states.tracker, self.states.recorder
            self.executor = make_executor(executor, self.store, self.states, self.bus, workers=workers,
                                          space=self.space)
            self.providers: dict[str, Provider] = load_providers(
                ProviderContext(self.home, spec_cache=CatalogSpecCache(self.catalog)), providers)
            self.keys = KeyStore(self.home)
            self.tokens = Tokens(self)
            self.presets = Presets(self)
            #: saved sets (issue 13): ``studio.sets["tarot"]``, the examples included
            self.sets = Sets(self)
            self.views = Views(self)
            self.recovery = RecoveryReport()
            # outcomes a full disk kept out of the catalog at the last close: recorded, not run again
            self.recovery.recorded_late = journal.replay(self.catalog, self.home)
            journal.Reserve(self.home).keep()  # room for such a journal should the disk fill up
            reconcile_files(self.catalog, self.store, self.recovery)
            #: LoRA training runs (issue 16); runs a dead process left are marked interrupted
            self.training = TrainingService(self)
            self.downloads = DownloadService(self)
            self.training.recover()
            self._refiners: dict[str, RefineRunner] = {}
            self._refiners_lock = threading.Lock()
            if start:
                self._resume(recovery)
                for refinement_id in q_ref.running_refinements(self.catalog.cursor()):
                    self._start_refiner(refinement_id)
            self.endpoint: Endpoint | None = (
                _serve_home(self, address, password or os.environ.get("IMAGEN_NB_PASSWORD")) if address else None)
        except BaseException as exc:
            # Nothing may outlive a failed open: stop the threads, then release the home.
            if hasattr(self, "executor"):
                self.executor.close(timeout=5)
            if hasattr(self, "states"):
                self.states.close(timeout=5)
            try:
                self.catalog.close()
            except Exception:
                if not is_disk_full(exc):
                    raise
            if is_disk_full(exc) and not isinstance(exc, DiskFull):
                raise DiskFull(_disk_full_message(self.home, "cannot open this home")) from exc
            raise

    # -- lifecycle -------------------------------------------------------------------------
    def close(self, timeout: float = 30) -> None:
        """Stop the workers (running generations stop at their next step and are resumed by the
        next Studio on this home), commit what is recorded and release the home."""
        if self.catalog.closed:
            return
        if self.endpoint is not None:  # clients first: they take over once the lock is free
            self.endpoint.stop()
        self.downloads.close()  # running downloads stop; their parts stay for a resume
        self.training.close(timeout)  # runs checkpoint where they stop, before the device lanes go
        with self._refiners_lock:
            refiners = list(self._refiners.values())
        for refiner in refiners:  # they stop placing orders; their refinements resume on the next open
            refiner.stopping.set()
        for refiner in refiners:
            refiner.stop(timeout)
        self.executor.close(timeout)
        self.states.close(timeout)
        for provider in self.providers.values():
            try:
                provider.close()
            except Exception:
                log.exception("closing provider %s failed", provider.name)
        self.catalog.close()

    @property
    def cluster(self):
        """The Dask cluster serving this studio (workers, GPUs, dashboard link), None on threads."""
        return self.executor.cluster

    def __repr__(self) -> str:
        state = "closed" if self.catalog.closed else "open"
        served = f", serving {self.endpoint.url}" if self.endpoint is not None and state == "open" else ""
        return f"<Studio {self.home} ({state}, host{served})>"

    @property
    def hosted_by(self) -> int:
        """The pid of the process hosting this home: this one."""
        return os.getpid()

    def _resume(self, mode: str) -> None:
        for order in interrupted_orders(self.catalog, self.recovery, mode=mode):
            try:
                provider, name = split_model_id(order["model_id"], self.providers)
                model = provider.model(name)
                factory = provider.factory(model)
                resolved = self._with_input_files(model, [g["params"] for g in order["open"]])
                gens = [(g["id"], g["seq"], factory.validate(p)) for g, p in zip(order["open"], resolved)]
            except Exception as exc:
                log.error("cannot resume order %s: %s", order["id"], exc)
                self._fail_open(order, exc)
                continue
            self.executor.submit(provider, model, factory, order["id"], gens, project_id=order["project_id"],
                                 total=order["generation_count"], done=order["done"])
            self.recovery.resumed_orders.append(order["id"])

    def _fail_open(self, order: dict, exc: Exception) -> None:
        from ..engine.recorder import Finished

        self.states.begin(order["id"], [g["id"] for g in order["open"]], total=order["generation_count"],
                          done=order["done"])
        for g in order["open"]:
            self.states.finish(Finished(order["id"], g["id"], "failed", error_type=type(exc).__name__,
                                        error_message=f"could not resume after a restart: {exc}"))
        self.states.flush()

    # -- models ----------------------------------------------------------------------------
    def models(self) -> pd.DataFrame:
        """Every model the installed providers offer: id, provider, type, family, description, and what
        each can do (see :mod:`imagen_nb.core.capabilities`): ``inputs`` / ``outputs`` (``"text,image"``),
        ``image_to_image``, ``upscale_factor``, ``loras``, ``hires_fix``, ``max_size`` (largest output side in px).

        Filter on them: ``m = studio.models(); m[m.upscale_factor >= 4]``.
        """
        rows = []
        for provider in self.providers.values():
            try:
                models = provider.models()
            except Exception as exc:  # one broken provider must not hide the others
                log.warning("provider %s could not list its models: %s", provider.name, exc)
                continue
            for m in models:
                rows.append({"id": m.id, "provider": m.provider, "type": m.type, "family": m.family,
                             "description": m.description, **capabilities(m.type, m.spec).as_row()})
        frame = pd.DataFrame(rows, columns=["id", "provider", "type", "family", "description", *CAPABILITY_COLUMNS])
        for column in ("upscale_factor", "max_size"):
            frame[column] = frame[column].astype("Int64")
        for column in ("image_to_image", "loras", "hires_fix"):
            frame[column] = frame[column].astype(bool)
        return frame

    def upscalers(self) -> pd.DataFrame:
        """The upscale models (``studio.models()`` rows of type ``upscale``), largest factor first, local before remote.

        What a Gallery "Upscale" action offers; ``default`` marks the one :meth:`upscale` uses when
        no model is named.
        """
        models = self.models()
        frame = models[models.type == "upscale"].copy()
        frame["local"] = frame.provider.map(lambda p: getattr(self.providers.get(p), "execution", "") == "local")
        frame = frame.sort_values(["local", "upscale_factor", "id"], ascending=[False, False, True])
        default = self._default_upscaler(frame)
        frame["default"] = frame.id == default
        return frame.reset_index(drop=True)

    @staticmethod
    def _default_upscaler(frame: pd.DataFrame) -> str | None:
        """A local upscaler with real weights (not one of the built-in tiny ones, whose output is noise)."""
        real = frame[frame.local & ~frame.id.isin(list(TINY_UPSCALER_IDS))]
        return str(real.id.iloc[0]) if len(real) else None

    def upscale(self, products: "Iterable[Product | str] | Product | str", scale: float = 2, *,
                model: str | None = None, project: "Project | str | None" = None, **params: Any) -> Order:
        """Order upscaled copies of one or more products: one generation per product, in one order.

        Args:
            products: a Product, a product id, or several (the Gallery's bulk action).
            scale: output size ÷ input size, up to the model's factor (``studio.upscalers()`` lists them).
            model: an upscale model id; default a local upscaler with real weights (a Real-ESRGAN file in the
                model folder, an x4 upscaler folder…). Upscale models' outputs record the source product.
            project: default the project of the (first) product.
            **params: the model's other parameters (``noise_level=``, ``tile_size=``…). A diffusion
                upscaler given no ``prompt`` gets each product's own prompt.

        Raises ``ValidationError`` before anything is queued: no products, a deleted one, a model that
        is not an upscaler, a scale above its factor.
        """
        self._check_open()
        ids = self._ids(products)
        if not ids:
            raise ValidationError("image", "give at least one product to upscale")
        ids = list(dict.fromkeys(ids))
        sources = [self.product(i) for i in ids]  # fresh records: a handle may predate a delete
        for source in sources:
            if source.deleted:
                raise ValidationError("image", f"product {source.id} is deleted; restore it first: "
                                               "studio.delete(product, undo=True)")
            if not source.media_type.startswith("image/"):
                raise ValidationError("image", f"product {source.id} is {source.media_type}, not an image")
        if model is None:
            model = self._default_upscaler(self.upscalers())
            if model is None:
                raise ValidationError("model", "no upscale model with real weights here: put a Real-ESRGAN .pth or"
                                               " .safetensors file in the diffusers model folder, or name one, e.g."
                                               " model='fal:fal-ai/esrgan' (studio.upscalers() lists them;"
                                               " 'diffusers:tiny-esrgan' runs offline but makes noise)")
        info = self.model(model)
        if info.type != "upscale":
            raise ValidationError("model", f"{info.id} is a {info.type} model, not an upscaler; "
                                           "studio.upscalers() lists the upscale models")
        props = info.spec.get("properties", {})
        if "prompt" in props and "prompt" not in params and len({s.prompt for s in sources}) == 1 and sources[0].prompt:
            params["prompt"] = sources[0].prompt
        if project is None and sources[0].project_id is not None:
            project = Project(self, sources[0].project_id)
        image: Any = ids[0] if len(ids) == 1 else list(ids)
        return self.order(info.id, project=project, image=image, scale=scale, **params)

    def health(self, reach: bool = False) -> pd.DataFrame:
        """Whether each provider can run now: one row per provider.

        Columns: provider, kind (local/remote), ready, device, memory_total, memory_free (bytes), key
        (where it comes from, ``missing``, or None when none is needed), reachable (None unless
        ``reach``), detail (what is wrong and how to fix it). ``reach=True`` sends one request to each
        remote provider's endpoint; nothing is contacted otherwise.
        """
        rows = []
        for provider in self.providers.values():
            try:
                row = provider.health(reach=bool(reach)).as_row()
            except Exception as exc:  # a broken check says so in its own row
                row = {"provider": provider.name, "kind": provider.execution, "ready": False,
                       "detail": f"health check failed: {type(exc).__name__}: {exc}"}
            rows.append(row)
        frame = pd.DataFrame(rows, columns=list(HEALTH_COLUMNS))
        for column in ("memory_total", "memory_free"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def model(self, model_id: str) -> ModelInfo:
        """The model with this id (``diffusers:tiny``…), with its parameter spec."""
        provider, name = split_model_id(model_id, self.providers)
        return provider.model(name)

    def add_model(self, path: str | os.PathLike, name: str | None = None, *, for_model: str | None = None,
                  progress: Callable[[int, int | None], None] | None = None, wait: bool = True) -> "str | ModelImport":
        """Register a local model, or download a checkpoint or LoRA from civitai; return its id.

        Args:
            path: a diffusers folder (it holds model_index.json) or a single-file ``.safetensors`` /
                ``.ckpt`` checkpoint, linked (not copied) from the diffusers model folder (setting
                ``model_dir``, default ``<home>/models``). Or a civitai reference: an AIR
                (``urn:air:sd1:lora:civitai:328553@368189``; ``sd15`` is read as ``sd1``), a model or
                version URL, or ``civitai:<version id>``: the file is downloaded with your civitai
                token (``imagen-nb keys set civitai`` or ``CIVITAI_API_TOKEN``), resumably, verified
                against civitai's SHA-256, into the model folder (checkpoints) or the LoRA folder
                (LoRAs), and recorded with its AIR, version, base model, trigger words and licence
                (``studio.civitai.files()``).
            name: the model's (or LoRA's) name; default the folder's name or the file's stem.
            for_model: (civitai LoRAs) the model it is for: a LoRA of another family is refused
                before the download.
            progress: (civitai) called with (bytes so far, total bytes or None) while downloading.
            wait: (civitai) False checks everything at once, then downloads in the background and
                returns a :class:`ModelImport` (``.state``, ``.done``/``.total``, ``.cancel()``,
                ``.wait()``). A blocking call stops cleanly on Ctrl-C, and
                ``studio.cancel_download(ref)`` stops either: nothing is recorded, the partial file
                is kept and the next ``add_model(ref)`` resumes it.

        Returns ``diffusers:<name>`` for a model, the LoRA's name (for ``loras=[{"name": …}]``) for a LoRA.
        Raises ``UnknownModelError`` / ``ValidationError`` saying what is wrong (nothing there, not a
        model, an unknown family, a name already taken, no token, a LoRA for another family),
        ``DownloadCancelled`` when the download was cancelled.
        """
        from . import civitai

        if not isinstance(wait, bool):
            raise ValidationError("wait", f"wait is True or False; got {wait!r}")
        if civitai.is_ref(path, self):
            self._check_open()
            return self.downloads.add(str(path).strip(), name, for_model=for_model, progress=progress, wait=wait)
        provider = self.providers.get("diffusers")
        if provider is None or not hasattr(provider, "add_model"):
            raise ImagenError("the diffusers provider is not installed here; local models need it.")
        return provider.add_model(path, name).id

    def download_record(self, ref: str) -> dict[str, Any] | None:
        """A civitai download's state by reference or id (what :class:`ModelImport` reads); None when none is known."""
        return self.downloads.record(ref)

    def download_records(self) -> list[dict[str, Any]]:
        """The civitai downloads of this session: running ones first, then the last 50 finished, newest first."""
        return self.downloads.records()

    def cancel_download(self, ref: str) -> bool:
        """Stop the civitai download of ``ref`` (``add_model`` raises ``DownloadCancelled``; the partial
        file is kept for a resume); False when none is running."""
        return self.downloads.cancel(ref)

    def wait_download(self, ref: str, timeout: float | None = None) -> str | None:
        """Block until the download of ``ref`` ends: its id (its error raised); None on timeout."""
        return self.downloads.wait(ref, timeout)

    def identify(self, *, refresh: bool = False) -> pd.DataFrame:
        """Look up the files of the model and LoRA folders on civitai by SHA-256 and record what it knows.

        One row per file: path, kind (checkpoint/lora), sha256, found, model_name, version_name,
        version_id, air, base_model, trigger_words. Answers are cached in the catalog (found
        files for the civitai setting ``hash_cache_days``, unknown ones for a day); ``refresh=True``
        asks again.
        """
        from . import civitai

        return civitai.identify(self, refresh=refresh)

    def civitai_search(self, query: str = "", *, types: Any = None, base_models: Any = None, limit: int = 20,
                       nsfw: bool = False, sort: str | None = None) -> pd.DataFrame:
        """civitai's model search as a DataFrame (see ``studio.civitai.search``)."""
        from . import civitai

        return civitai.search(self, query, types=types, base_models=base_models, limit=limit, nsfw=nsfw, sort=sort)

    def civitai_resolve(self, ref: str) -> dict[str, Any]:
        """What ``add_model(ref)`` would download, without downloading (see ``studio.civitai.resolve``)."""
        from . import civitai

        return civitai.resolve(self, ref)

    def civitai_files(self) -> pd.DataFrame:
        """Local files civitai knows, with source, AIR, version, base model, trigger words and licence."""
        from . import civitai

        return civitai.files_frame(self)

    # -- ordering --------------------------------------------------------------------------
    def expand(self, model: str | None = None, *, limit: int | None = None, rng_seed: int | None = None,
               rows: Any = None, **params) -> list[dict[str, Any]]:
        """The generation parameter sets an order with these parameters would make (nothing is run).

        With ``model``, each set is also validated against the model's spec. ``rows`` as for
        :meth:`order` (the preview of an order from rows).
        """
        limit, rng_seed = self._order_args(limit, rng_seed, params)
        info = None
        if model is not None:
            provider, name = split_model_id(model, self.providers)
            info = provider.model(name)
            params = whole_lists(info.spec, params)  # a list given to a list-typed parameter is one value
        if rows is not None:
            gens = expand_over_rows(self, info, params, rows, limit=limit, rng_seed=rng_seed)[0].generations
        else:
            gens = expand(params, tokens=dict(self.tokens), rng_seed=rng_seed,
                          limit=self.limit if limit is None else limit)
        if info is not None:
            provider.factory(info).validate_many(gens)
        return gens

    def loras(self, model: str) -> list[str]:
        """Names of the LoRAs ``model`` can use in ``loras=[{"name": …, "weight": …}]`` (for diffusers:
        the ``.safetensors`` files of its LoRA folder); ``[]`` for a model without LoRAs."""
        provider, name = split_model_id(model, self.providers)
        return provider.loras(provider.model(name))

    def order(self, model: str, *, project: "Project | str | None" = None, limit: int | None = None,
              rng_seed: int | None = None, rows: Any = None, **params: Any) -> Order:
        """Place an order: validate and expand at once, then run the generations in the background.

        Args:
            model: a model id, e.g. ``"diffusers:tiny"`` (see :meth:`models`).
            project: a Project, or a project name (created when new).
            limit: most generations this order may expand to (default: the studio's ``limit``).
            rng_seed: seed of the random picks ``[a|b]`` / ``[?token]`` (chosen and stored when omitted).
            rows: a table for one generation per row: a DataFrame, a path to a .csv/.tsv/.json/.parquet
                file or a list of dicts. ``{column}`` placeholders in any string parameter are
                filled from each row, a column named like a parameter sets it, and rows multiply
                with SmartParameter groups (row slowest). See docs/smart-parameters.md, "Rows".
            **params: the model's parameters; any string may use SmartParameter syntax, and a
                list, tuple or range is a ``[a,b,c]`` group (except for a list-typed parameter such as
                ``loras``, whose list is its value; a list of lists varies it).

        Raises ``SmartParameterError``, ``ValidationError`` (``RowsError`` for a row or column)
        or ``UnknownModelError`` (all ``ValueError``) before anything is queued.
        """
        return self._order(model, project=project, limit=limit, rng_seed=rng_seed, rows=rows, params=params)

    def _order(self, model: str, *, project: "Project | str | None", limit: int | None, rng_seed: int | None,
               rows: Any, params: dict[str, Any], set_name: str | None = None, order_id: str | None = None) -> Order:
        self._check_open()
        limit, rng_seed = self._order_args(limit, rng_seed, params)
        provider, name = split_model_id(model, self.providers)
        info = provider.model(name)
        rng_seed = secrets.randbits(63) if rng_seed is None else rng_seed
        order_id = order_id or new_id()  # a refinement chooses and records its orders' ids first
        extra: dict[str, Any] = {}
        gen_rows: list[dict[str, Any]]
        if rows is None:
            gens = expand(whole_lists(info.spec, params), tokens=dict(self.tokens), rng_seed=rng_seed,
                          limit=self.limit if limit is None else limit)
            gen_rows = [{"id": new_id(), "order_id": order_id, "seq": i, "model_id": info.id,
                         "status": "pending", "params": g} for i, g in enumerate(gens)]
        else:
            expansion, table = expand_over_rows(self, info, whole_lists(info.spec, params), rows,
                                                limit=limit, rng_seed=rng_seed)
            gens = expansion.generations
            gen_rows = [{"id": new_id(), "order_id": order_id, "seq": i, "model_id": info.id,
                         "status": "pending", "params": g, "set_row": n, "row_values": table[n - 1]}
                        for i, (g, n) in enumerate(zip(gens, expansion.rows))]
            extra = {"set_name": set_name, "row_count": len(table)}
        factory = provider.factory(info)
        with_files = self._with_input_files(info, gens)
        check_image_inputs(info.spec, with_files)  # a file that is not an image fails here, not at run time
        validated = factory.validate_many(with_files)
        try:
            project_id = self._project_id(project)
            cur = self.catalog.cursor()
            q_models.upsert(cur, [info])
            q_orders.insert_order(cur, {"id": order_id, "project_id": project_id, "model_id": info.id,
                                        "base_params": jsonable(params), "rng_seed": rng_seed,
                                        "status": "pending", "generation_count": len(gens),
                                        "ordered_by_pid": caller_pid(), **extra}, gen_rows)
        except Exception as exc:
            if is_disk_full(exc):
                raise DiskFull(_disk_full_message(self.home, "cannot place this order (nothing was queued)")) from exc
            raise
        self.executor.submit(provider, info, factory, order_id,
                             [(r["id"], r["seq"], v) for r, v in zip(gen_rows, validated)],
                             project_id=project_id)
        return Order(self, order_id)

    # -- sets and grids (issue 13) ---------------------------------------------------------
    def order_set(self, name: str, model: str | None = None, *, theme: str | None = None,
                  project: "Project | str | None" = None, limit: int | None = None,
                  rng_seed: int | None = None, **overrides: Any) -> Order:
        """Order a saved set (see :attr:`sets`): one generation per row of its table.

        Args:
            name: the set's name, e.g. ``"tarot"``.
            model: the model to run; default the set's own.
            theme: fills the set's free slot (``"gothic, ink"``); default the set's theme.
            **overrides: parameters that replace the set's (``seed="[1,2]"``, ``width=512``…).
        """
        recipe = self.sets[name]
        model = model or recipe.model
        if not model:
            raise ValidationError("model", f"set {name!r} names no model; say which one runs it, e.g. "
                                           f"studio.order_set({name!r}, 'diffusers:tiny') (see studio.models())")
        if theme is not None:
            check_text("theme", theme)
        return self._order(model, project=project, limit=limit, rng_seed=rng_seed, rows=list(recipe.rows),
                           params=recipe.order_params(theme, **overrides), set_name=name)

    def grid(self, products: "Iterable[Product | str] | str | Order", *, x: str | None = None,
             y: str | None = None, z: str | None = None, **options: Any) -> "Grid":
        """A labelled comparison grid (an X/Y/Z plot) of products, grouped by any gallery column.

        Args:
            products: product ids or handles, an Order, or a SQL query over ``gallery`` that
                returns a ``product_id`` column (``"select * from set_products where set_name = 'tarot'"``).
            x, y, z: the axes: a gallery column (``seed``, ``model``…), ``set_name``, ``set_row``, a parameter
                name of the products (``sampler``…) or a column of their rows (``suit``). For an
                Order with no axes given, the parameters that vary in it, largest first.
            **options: ``cell`` (thumbnail size in px), ``max_side`` (cap of the image's longer
                side in px), ``title``.

        Returns a :class:`~imagen_nb.studio.grid.Grid`: shows in a notebook, ``.save(path)``
        writes a PNG, ``.save_product()`` keeps it in the gallery with infotext naming its axes.
        """
        if isinstance(products, Order):
            return order_grid(self, products.id, x=x, y=y, z=z, **options)
        return products_grid(self, products, x=x, y=y, z=z, **options)

    @staticmethod
    def _order_args(limit: Any, rng_seed: Any, params: Mapping[str, Any]) -> tuple[int | None, int | None]:
        """The checks an order's own arguments pass before anything is expanded or stored."""
        if limit is not None:
            limit = check_count("limit", limit, minimum=1)
        if rng_seed is not None:
            rng_seed = check_seed("rng_seed", rng_seed)
        check_params_text(params)
        return limit, rng_seed

    def vary(self, product: "Product | str", n: int = 4, strength: float = 0.5, *, model: str | None = None,
             project: "Project | str | None" = None, limit: int | None = None, rng_seed: int | None = None,
             **overrides: Any) -> Order:
        """Order ``n`` variations of a product: image-to-image from it, with its parameters and new seeds.

        Args:
            product: a Product or a product id.
            n: how many variations; each is one generation with a seed of its own (recorded as a list).
            strength: how much of the image is redrawn, from 0 (kept) to 1 (replaced).
            model: the model to run; default the one that made the product (needed for imports without one).
            project: default the product's project.
            **overrides: parameters that replace the product's (``prompt=``, ``num_inference_steps=``…).

        Raises ``ValidationError`` when the model cannot start from an image (its spec has no ``image``).
        """
        from ..core import variations

        self._check_open()
        source = product if isinstance(product, Product) else self.product(str(product))
        if source.deleted:
            raise ValidationError("image", f"product {source.id} is deleted; restore it first: "
                                           "studio.delete(product, undo=True)")
        model_id = model or source.model_id
        if not model_id:
            raise ValidationError("model", f"product {source.id} was imported without a model; say which model "
                                           "makes the variations: product.vary(model='diffusers:tiny')")
        info = self.model(model_id)
        variations.check_model(info, source.id)
        params = variations.variation_params(source.params, product_id=source.id, model=info,
                                             seeds=variations.draw_seeds(n), strength=strength, overrides=overrides)
        if project is None and source.project_id is not None:
            project = Project(self, source.project_id)
        return self.order(info.id, project=project, limit=limit, rng_seed=rng_seed, **params)

    def _with_input_files(self, model: ModelInfo, param_sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Parameter sets with product ids in file inputs replaced by the products' paths.

        File inputs are decided by :func:`~imagen_nb.core.inputs.file_inputs` (as the panels'
        pickers are). The generation parameter set keeps the id (what was asked); the provider gets the file.
        """
        inputs = file_inputs(model.spec)
        wanted = {p[name] for p in param_sets for name in inputs
                  if isinstance(p.get(name), str) and _PRODUCT_ID.fullmatch(p[name])}
        if not wanted:
            return param_sets
        paths = {r["id"]: str(self.store.resolve(r["path"])) for r in q_products.get_products(self.catalog.cursor(), sorted(wanted))
                 if r.get("deleted_at") is None}
        missing = sorted(wanted - set(paths))
        if missing:
            raise ValidationError(inputs[0], f"no product {missing[0]} in this studio (deleted, or from another "
                                             "home); give a product id from studio.gallery(), a file path or a URL")
        return [{k: paths.get(v, v) if k in inputs and isinstance(v, str) else v for k, v in p.items()}
                for p in param_sets]

    def get_order(self, order_id: str) -> Order:
        """The order with this id."""
        if self.order_record(order_id) is None:
            raise LookupError(f"no order {order_id!r} in {self.home}")
        return Order(self, order_id)

    def orders(self, limit: int = 100) -> pd.DataFrame:
        """Recent orders, newest first, with their status and counts."""
        return q_orders.list_orders(self.catalog.cursor(), check_count("limit", limit))

    def cancel(self, target: "Order | str") -> int:
        """Cancel an order, or one generation (by id); return how many queued generations were dropped.

        Queued generations are cancelled at once; a running one stops at its next step.
        """
        target_id = target.id if isinstance(target, Order) else str(target)
        cur = self.catalog.cursor()
        if q_orders.get_order(cur, target_id) is not None:
            n = self.executor.cancel_order(target_id)
        else:
            gen = q_orders.get_generation(cur, target_id)
            if gen is None:
                raise LookupError(f"no order or generation {target_id!r} in {self.home}")
            n = self.executor.cancel_generation(gen["order_id"], target_id)
        self.recorder.flush()
        return n

    def retry(self, order: "Order | str", generations: "Iterable[str] | None" = None) -> Order:
        """Run an order's failed and cancelled generations again, with their stored parameter sets.

        The same generation rows are queued again (status ``pending``, last error cleared,
        ``attempts`` counting on), so the order keeps its id and products and finishes again
        with new counts; a finished order goes back to ``processing``. An order still running
        takes them back at once. Returns the order (nothing is queued when none failed).

        Args:
            order: an Order or an order id.
            generations: ids of the generations to run again (each failed or cancelled);
                default every failed or cancelled generation of the order.

        Raises ``LookupError`` for an unknown order, ``ValidationError`` for a generation that
        is not a failed or cancelled one of this order.
        """
        self._check_open()
        order_id = order.id if isinstance(order, Order) else str(order)
        self.recorder.flush()  # statuses read below are the committed ones
        cur = self.catalog.cursor()
        row = q_orders.get_order(cur, order_id)
        if row is None:
            raise LookupError(f"no order {order_id!r} in {self.home}")
        retryable = q_orders.generation_page(cur, order_id, status=("failed", "cancelled"))
        by_id = {r["id"]: r for r in retryable.to_dict("records")}
        if generations is None:
            chosen = list(by_id.values())
        else:
            wanted = [generations] if isinstance(generations, str) else [str(g) for g in generations]
            wrong = [g for g in wanted if g not in by_id]
            if wrong:
                raise ValidationError("generations", f"generation {wrong[0]} is not a failed or cancelled "
                                                     f"generation of order {order_id}; see order.errors")
            chosen = [by_id[g] for g in dict.fromkeys(wanted)]
        if not chosen:
            return Order(self, order_id)
        provider, name = split_model_id(row["model_id"], self.providers)
        model = provider.model(name)
        factory = provider.factory(model)
        validated = factory.validate_many(self._with_input_files(model, [g["params"] for g in chosen]))
        self.executor.retry(provider, model, factory, order_id,
                            [(g["id"], int(g["seq"]), v, g["status"]) for g, v in zip(chosen, validated)],
                            total=int(row["generation_count"]), done=q_orders.generation_counts(cur, order_id),
                            project_id=row["project_id"])
        return Order(self, order_id)

    def subscribe(self, callback: Callable[[Event], None]) -> Subscription:
        """Receive every event (progress, products, outcomes) on a worker thread; keep it quick."""
        return self.bus.subscribe(callback)

    @property
    def paused(self) -> str | None:
        """Why the queue is paused, in plain words (the home's disk is full), or None while it runs.

        Nothing is lost meanwhile: queued generations wait, a finished one keeps its result until
        it can be saved, and the queue resumes by itself when space is back. The same message
        comes as a ``QueuePaused`` event to :meth:`subscribe` (then ``QueueResumed``).
        """
        event = self.space.paused
        return None if event is None else event.message

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no order is running; False on timeout."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        for state in self.tracker.live():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self.tracker.wait(state.order_id, remaining):
                return False
        return True

    # -- internal reads used by handles ----------------------------------------------------
    def _check_open(self) -> None:
        if self.catalog.closed:
            raise ImagenError(f"this Studio on {self.home} is closed; open a new one: inb.Studio()")

    def order_record(self, order_id: str) -> dict | None:
        return q_orders.get_order(self.catalog.cursor(), order_id)

    def order_generations(self, order_id: str) -> pd.DataFrame:
        return q_orders.generations_of(self.catalog.cursor(), order_id)

    def order_products(self, order_id: str) -> list[Product]:
        return [Product._from_row(r, self) for r in q_products.products_of_order(self.catalog.cursor(), order_id)]

    def wait_order(self, order_id: str, timeout: float | None) -> bool:
        return self.states.wait(order_id, timeout)

    def finished_count(self, order_id: str) -> int | None:
        state = self.tracker.get(order_id)
        return None if state is None else state.finished

    # -- products --------------------------------------------------------------------------
    def product(self, product_id: str) -> Product:
        """The product with this id."""
        rows = q_products.get_products(self.catalog.cursor(), [product_id])
        if not rows:
            raise LookupError(f"no product {product_id!r} in {self.home}")
        return Product._from_row(rows[0], self)

    def products(self, ids: Iterable[str]) -> list[Product]:
        """Products by id, in the order given (unknown ids are skipped)."""
        return [Product._from_row(r, self) for r in q_products.get_products(self.catalog.cursor(), list(ids))]

    def gallery(self, *, limit: int = 50, offset: int = 0, sort: str = "newest", **filters: Any) -> pd.DataFrame:
        """A page of the gallery, newest first (or ``sort="clip_score"`` / ``"aesthetic_score"`` /
        ``"judge_score"``: highest first, unscored last).

        Filters: model, provider, project, project_id, order_id, kind, min_rating, collection,
        since, until, text (prompt contains, case-insensitive), ids (a list of product ids),
        min_clip_score, min_aesthetic_score, min_judge_score, and the flags no_project=True /
        no_collection=True / scored=True.
        """
        limit = check_count("limit", limit)
        offset = check_count("offset", offset)
        return q_products.gallery_page(self.catalog.cursor(), limit=limit, offset=offset, sort=sort, **filters)

    def gallery_count(self, **filters: Any) -> int:
        """How many products :meth:`gallery` would list with these filters, over all pages."""
        return q_products.gallery_count(self.catalog.cursor(), **filters)

    def generation(self, generation_id: str) -> dict[str, Any]:
        """One generation as a dict: its order, seq, status, the generation, actual and return
        parameter sets (``params``, ``actual_params``, ``return_params``), error and timings."""
        row = q_orders.get_generation(self.catalog.cursor(), generation_id)
        if row is None:
            raise LookupError(f"no generation {generation_id!r} in {self.home}")
        return row

    @staticmethod
    def _ids(products: "Iterable[Product | str] | Product | str") -> list[str]:
        if isinstance(products, (Product, str)):
            products = [products]
        return [p.id if isinstance(p, Product) else str(p) for p in products]

    def rate(self, products: "Iterable[Product | str] | Product | str", rating: int | None) -> int:
        """Rate products 1–5 (None clears the rating); return how many were rated."""
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
            raise ValidationError("rating", f"a rating is an integer from 1 to 5, or None to clear it; got {rating!r}")
        return q_products.rate(self.catalog.cursor(), self._ids(products), rating)

    def delete(self, products: "Iterable[Product | str] | Product | str", *, undo: bool = False) -> int:
        """Soft-delete products (their files stay, so ``undo=True`` restores them).

        Not the ``trash/`` folder: that holds files crash recovery set aside (:meth:`empty_trash`).
        """
        return q_products.soft_delete(self.catalog.cursor(), self._ids(products), undo=undo)

    def import_products(self, paths: "Iterable[str | os.PathLike] | str | os.PathLike", *,
                        project: "Project | str | None" = None) -> list[Product]:
        """Copy image files into the studio, reading size and any embedded A1111/imagen-nb parameters.

        Every file is checked before any is copied (it must exist and decode fully as an image):
        a bad file fails the call with nothing imported, and so does a failure while copying or
        recording (the files copied so far are removed, no row is written). Embedded metadata
        the catalog cannot hold (a seed of ``2**70``, a prompt past
        :data:`~imagen_nb.core.limits.MAX_PROMPT_CHARS`, a compressed text bomb) is dropped or cut
        with a :class:`MetadataWarning` naming the file and the key.
        """
        from datetime import datetime, timezone

        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        elif isinstance(paths, (bytes, Mapping)) or not isinstance(paths, Iterable):
            raise ValidationError("paths", "give a file path or a list of paths, e.g. "
                                           f"studio.import_products(['a.png', 'b.png']); got {paths!r}")
        paths = list(paths)
        bad = [p for p in paths if not isinstance(p, (str, os.PathLike))]
        if bad:
            raise ValidationError("paths", f"each path is a str or a pathlib.Path; got {bad[0]!r}")
        inspected = [inspect_file(Path(p)) for p in paths]
        project_id = self._project_id(project)
        rows: list[dict[str, Any]] = []
        now = datetime.now(timezone.utc)
        written = []
        try:
            for item in inspected:
                product_id = new_id()
                stored = self.store.write(product_id, Path(item.path).read_bytes(), item.ext, now)
                written.append(stored)
                params = dict(item.params or {})
                rows.append({
                    "id": product_id, "project_id": project_id, "model_id": item.model, "source": "imported",
                    "kind": item.media_type.split("/")[0], "media_type": item.media_type,
                    "path": self.store.catalog_path(stored.path),
                    "thumb_path": self.store.catalog_path(stored.thumb_path) if stored.thumb_path else None,
                    "size": stored.size, "width": stored.width or item.width, "height": stored.height or item.height,
                    "sha256": stored.sha256, "params": params or None, "created_at": now,
                    **{k: params.get(k) for k in ("prompt", "negative_prompt", "seed", "num_inference_steps",
                                                  "guidance_scale")},
                })
            with self.catalog.transaction() as cur:
                q_products.insert_products(cur, rows)
        except BaseException:
            for stored in written:  # the promise: a failed import leaves nothing behind
                self.store.remove(stored.path)
            raise
        for item in inspected:
            for note in item.warnings:
                notices.warn(f"{item.path}: {note}", MetadataWarning, stacklevel=2)
        return self.products([r["id"] for r in rows])

    # -- trash -----------------------------------------------------------------------------
    def trash(self) -> pd.DataFrame:
        """Files crash recovery set aside in ``<home>/trash/`` (product files without a catalog row):
        columns path, size (bytes), modified. :meth:`empty_trash` deletes them."""
        rows = []
        for path in self.store.trash_files():
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            rows.append({"path": str(path), "size": st.st_size,
                         "modified": pd.Timestamp(st.st_mtime, unit="s", tz="UTC")})
        return pd.DataFrame(rows, columns=["path", "size", "modified"])

    def empty_trash(self) -> int:
        """Delete every file in ``<home>/trash/`` for good; return how many were deleted.

        Soft-deleted products are not in the trash folder (their files stay for undo).
        """
        self._check_open()
        files, _ = self.store.empty_trash()
        return files

    # -- projects and collections ----------------------------------------------------------
    def project(self, name: str, *, description: str | None = None, create: bool = True) -> Project:
        """The project called ``name`` (created when new, unless ``create=False``)."""
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("project", f"a project name is a non-empty string; got {name!r}")
        check_text("project", name)
        if description is not None:
            check_text("description", description)
        cur = self.catalog.cursor()
        row = q_projects.get_by_name(cur, name)
        if row is None:
            if not create:
                names = self.projects(include_archived=True)["name"]
                raise LookupError(f"no project {name!r}.{did_you_mean(name, names)}")
            project_id = new_id()
            q_projects.create(cur, project_id, name, description or "")
            return Project(self, project_id)
        if description is not None:
            q_projects.update(cur, row["id"], description=description)
        return Project(self, row["id"])

    def projects(self, *, include_archived: bool = False) -> pd.DataFrame:
        """Projects with counts of orders and products and their last activity."""
        return q_projects.listing(self.catalog.cursor(), include_archived=include_archived)

    def _project_id(self, project: "Project | str | None") -> str | None:
        if project is None:
            return None
        if isinstance(project, Project):
            return project.id
        return self.project(project).id

    def project_record(self, project_id: str) -> dict:
        row = q_projects.get(self.catalog.cursor(), project_id)
        if row is None:
            raise LookupError(f"no project {project_id!r}")
        return row

    def update_project(self, project_id: str, **fields) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        if "name" in fields:
            other = q_projects.get_by_name(self.catalog.cursor(), fields["name"])
            if other is not None and other["id"] != project_id:
                raise ValidationError("name", f"a project called {fields['name']!r} exists already")
        q_projects.update(self.catalog.cursor(), project_id, **fields)

    def collection(self, name: str, *, description: str = "", create: bool = True) -> Collection:
        """The collection called ``name``; with ``create=True`` (default) a new one when none exists.

        A new collection is stored when its first products are added, so an ``add`` that fails
        (an unknown product id) leaves no empty collection behind.
        """
        name = check_text("name", name, empty=False)
        description = check_text("description", description)
        row = q_collections.get_by_name(self.catalog.cursor(), name)
        if row is None:
            if not create:
                names = self.collections()["name"]
                raise LookupError(f"no collection {name!r}.{did_you_mean(name, names)}")
            return Collection(self, new_id(), name, description=description, stored=False)
        return Collection(self, row["id"], name)

    def collections(self) -> pd.DataFrame:
        """Collections with their product counts."""
        return q_collections.listing(self.catalog.cursor())

    def collection_product_ids(self, collection_id: str) -> list[str]:
        return q_collections.product_ids(self.catalog.cursor(), collection_id)

    def change_collection(self, collection_id: str, products, *, add: bool, name: str | None = None,
                          description: str = "") -> int:
        """Add (or remove) products to a collection; return how many changed.

        ``name``: the collection is not stored yet (a new :meth:`collection` handle); it is
        stored now, with its first products (or the one another handle stored meanwhile is used).
        """
        ids = self._ids(products)
        cur = self.catalog.cursor()
        if add:
            known = {r["id"] for r in q_products.get_products(cur, ids)}
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise LookupError(f"no product(s) {', '.join(unknown)} in {self.home}")
            if name is not None:
                # Checked first, stored now: another handle may have stored this name meanwhile.
                row = q_collections.get_by_name(cur, name)
                if row is None:
                    q_collections.create(cur, collection_id, name, description)
                else:
                    collection_id = row["id"]
            return q_collections.add(cur, collection_id, ids)
        if name is not None and q_collections.get_by_name(cur, name) is None:
            return 0
        return q_collections.remove(cur, collection_id, ids)

    # -- backups, restore, rebuild ---------------------------------------------------------
    def backup(self, path: str | os.PathLike) -> "BackupReport":
        """Write a backup of this studio's catalog to a new folder ``path``, while work goes on.

        The folder gets ``catalog.duckdb`` (one consistent moment of the catalog) and
        ``manifest.json`` (every product file: path relative to the home, sha256, size). The
        product files are not copied: copy ``<home>/products`` as well to keep them. Put it back
        with :meth:`Studio.restore` (``imagen-nb restore PATH``).
        """
        from ..engine.backup import backup

        self._check_open()
        self.recorder.flush()  # what is done is in the copy
        return backup(self.catalog, self.store, Path(path))

    # -- LoRA training (issue 16) ----------------------------------------------------------
    def train_lora(self, name: str, *, products: Any = None, sql: str | None = None, base: str = "diffusers:tiny",
                   captions: Any = "prompt", project: "Project | str | None" = None, replace: bool = False,
                   sample_every: int | None = None, **hyperparameters: Any) -> TrainingRun:
        """Train a LoRA from products in the background; returns its :class:`TrainingRun` at once.

        Everything is checked before it starts (the base model, each product, each caption, the
        hyperparameters); ``run.dataset`` shows the images and captions it learns from. It
        shares the device with orders: a step waits while generations are queued or running.

        Args:
            name: the LoRA's name: when done, ``studio.order(base, prompt=…, loras="<name>:0.8")``.
            products: product ids or Product handles, a DataFrame with ``product_id``, or a Collection.
            sql: instead of ``products``: a query returning ``product_id``
                (``"select product_id from gallery where rating >= 4"``).
            base: the model to teach (a Stable Diffusion 1 or 2 diffusers model).
            captions: ``"prompt"`` (each product's prompt), another gallery column, an image-to-text
                model id (a captioner: its order over the products runs first, and this call returns
                once it has captioned them, so ``run.dataset`` shows its captions), or a mapping
                ``{product_id: caption}``; an empty caption is refused.
            project: project of the sample products.
            replace: start anew under a name whose LoRA or stopped run exists.
            sample_every: steps between sample images (default: ``checkpoint_every`` when
                ``sample_prompts`` are given).
            **hyperparameters: steps, rank, alpha, learning_rate, resolution, batch_size, seed,
                caption_dropout, lr_scheduler, lr_warmup_steps, snr_gamma, mixed_precision,
                gradient_checkpointing, sample_prompts, sample_steps, sample_seed,
                checkpoint_every, trigger, aspect (``"crop"`` or ``"bucket"``: aspect-ratio
                buckets), train_text_encoder (also a LoRA on the text encoder),
                text_encoder_learning_rate (see :class:`~imagen_nb.core.training.TrainingConfig`).
        """
        self._check_open()
        return self.training.train(name, products=products, sql=sql, base=base, captions=captions, project=project,
                                   replace=replace, sample_every=sample_every, **hyperparameters)

    def check_training(self, name: str, *, products: Any = None, sql: str | None = None,
                       base: str = "diffusers:tiny", captions: Any = "prompt", replace: bool = False,
                       sample_every: int | None = None, **hyperparameters: Any) -> pd.DataFrame:
        """Check a :meth:`train_lora` call without starting anything: the dataset it would learn from
        (product_id, width, height, target_width × target_height: the size or bucket it is trained at,
        caption as the model would see it), or the ``ValidationError``
        ``train_lora`` would raise, naming the argument at fault. The Gallery's "Train LoRA…" preview."""
        self._check_open()
        return self.training.check(name, products=products, sql=sql, base=base, captions=captions, replace=replace,
                                   sample_every=sample_every, **hyperparameters)

    def training_run(self, name_or_id: str) -> TrainingRun:
        """The newest run of the LoRA ``name`` (or the run with that id)."""
        self._check_open()
        cur = self.catalog.cursor()
        row = q_training.get_run(cur, name_or_id) or q_training.latest_by_name(cur, name_or_id)
        if row is None:
            names = list(q_training.listing(cur)["name"])
            raise LookupError(f"no training run named {name_or_id!r}.{did_you_mean(str(name_or_id), names)}")
        return TrainingRun(self, row["id"])

    def training_runs(self) -> pd.DataFrame:
        """Every training run, newest first: name, base model, status, step, images, LoRA file, last loss."""
        self._check_open()
        return q_training.listing(self.catalog.cursor())

    def training_record(self, run_id: str) -> dict | None:
        """A run's catalog row (what :class:`TrainingRun` reads)."""
        self._check_open()
        return q_training.get_run(self.catalog.cursor(), run_id)

    def training_metrics(self, run_id: str) -> pd.DataFrame:
        """A run's per-step loss, learning rate and images/s."""
        self._check_open()
        return q_training.metrics(self.catalog.cursor(), run_id)

    def training_checkpoints(self, run_id: str) -> pd.DataFrame:
        """A run's checkpoints (step, LoRA file, hash, optimizer state folder)."""
        self._check_open()
        return q_training.checkpoints(self.catalog.cursor(), run_id)

    def training_samples(self, run_id: str) -> list[Product]:
        """A run's sample products, by step."""
        self._check_open()
        ids = q_training.sample_ids(self.catalog.cursor(), run_id)
        return self.products(ids)

    def cancel_training(self, run_id: str) -> bool:
        """Stop a run after its current step (it saves a checkpoint there); False when not running."""
        self._check_open()
        return self.training.cancel(run_id)

    def resume_training(self, run_id: str) -> None:
        """Continue a cancelled, interrupted or failed run from its last checkpoint."""
        self._check_open()
        self.training.resume(run_id)

    def wait_training(self, run_id: str, timeout: float | None = None) -> bool:
        """Block until a run stops; False on timeout."""
        self._check_open()
        return self.training.wait(run_id, timeout)

    # -- SQL -------------------------------------------------------------------------------
    def sql(self, query: str, params: Sequence[Any] | None = None, *, timeout: float = 10.0,
            max_rows: int = 100_000, max_bytes: int = MAX_BYTES) -> pd.DataFrame:
        """Run one read-only SELECT over the catalog and return a pandas DataFrame.

        Tables: projects, orders, generations, products, collections, collection_products,
        smart_tokens, presets, sets, models; the view ``gallery`` joins them with the common parameters as
        columns, and ``set_products`` is the gallery of orders from rows with ``set_name``, ``set_row``
        and ``row_values``. Writes, ATTACH, COPY, INSTALL and file readers are refused.

        Args:
            timeout: seconds the query may run (more than 0, at most a day).
            max_rows: longer results are cut to this many rows, with a warning.
            max_bytes: larger results are refused (``SqlError``) before they fill the memory.
        """
        self._check_open()
        timeout = check_seconds("timeout", timeout)
        max_rows = check_count("max_rows", max_rows, minimum=1)
        max_bytes = check_count("max_bytes", max_bytes, minimum=1)
        self.recorder.flush()
        cur = self.catalog.new_cursor()
        try:
            return run_user_sql(cur, query, params, timeout=timeout, max_rows=max_rows, max_bytes=max_bytes)
        finally:
            cur.close()
