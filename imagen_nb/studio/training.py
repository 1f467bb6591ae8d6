"""LoRA training runs of a studio (issue 16): the dataset, the background run, samples, checkpoints.

``studio.train_lora(...)`` checks everything first (the base model, every product, every
caption, the hyperparameters), records the run and returns a :class:`TrainingRun` at once; a
thread of the host runs it. Training shares the device with generations through the executor's
lane (:meth:`~imagen_nb.engine.executor.Executor.device_turn`): each step waits until no
generation is queued or running on that device, so an order placed during training waits for
at most one step.

Files: the LoRA is ``<lora folder>/<name>.safetensors`` once done; checkpoints are
``<lora folder>/<name>/step-000100.safetensors`` (usable as ``loras="<name>/step-000100"``) and
the optimizer state beside them in ``<home>/training/<run id>/state-0000100`` (the last two
kept). The catalog has ``training_runs``, ``training_metrics`` (one row per step) and
``training_checkpoints``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import pandas as pd

from ..catalog import collections as q_collections
from ..catalog import models as q_models
from ..catalog import products as q_products
from ..catalog import training as q_training
from ..core.errors import ProviderError, ValidationError, did_you_mean
from ..core.ids import new_id
from ..core.training import (
    RESUMABLE, TrainingConfig, TrainingExample, TrainingProgress, TrainingStatusChanged, apply_trigger,
    check_captions, check_lora_name, target_size,
)
from ..providers.registry import split_model_id
from ..providers.weightfiles import file_sha256, fingerprint
from ..store import pngmeta

if TYPE_CHECKING:
    from .handles import Product
    from .local import LocalStudio

log = logging.getLogger(__name__)

#: Metrics are written to the catalog at most this often (one statement per batch).
FLUSH_SECONDS = 1.0
#: How long resume() waits for a run that was just cancelled to save its checkpoint and stop.
STOPPING_WAIT = 120.0
#: State folders (optimizer + LoRA) kept per run.
KEEP_STATES = 2
_ID_COLUMNS = ("product_id", "id")
#: The columns of ``run.dataset`` and ``studio.check_training``: target_width × target_height is the
#: size an image is trained at (resolution² when cropped, its bucket with ``aspect="bucket"``).
DATASET_COLUMNS = ("product_id", "width", "height", "target_width", "target_height", "caption")


#: what a captioner that takes a prompt (a vision LLM) is asked for each training image
CAPTION_PROMPT = ("Describe this image in one sentence for a text-to-image training caption: subject, style, colours,"
                  " composition. No preamble.")


class TrainingRun:
    """A LoRA training run (from :meth:`Studio.train_lora` or :meth:`Studio.training_run`).

    Reading a property asks the catalog, so a handle is never stale; it works the same in the
    host and in a client of it.
    """

    def __init__(self, studio: Any, run_id: str):
        self._studio = studio
        self.id = run_id

    def record(self) -> dict[str, Any]:
        """The run's catalog row: name, base model, status, step, config, dataset, LoRA file and hash…"""
        row = self._studio.training_record(self.id)
        if row is None:
            raise LookupError(f"training run {self.id} is not in this studio's catalog")
        return row

    @property
    def name(self) -> str:
        """The LoRA's name (``loras="<name>:0.8"`` once done)."""
        return self.record()["name"]

    @property
    def status(self) -> str:
        """pending, training, completed, cancelled, interrupted or failed."""
        return self.record()["status"]

    @property
    def step(self) -> int:
        """Steps done (as last recorded: at most about a second behind)."""
        return int(self.record()["step"])

    @property
    def dataset(self) -> pd.DataFrame:
        """The training images: product_id, width, height, target_width, target_height (the size it is
        trained at: its bucket with ``aspect="bucket"``), caption (as the model sees it, trigger included)."""
        row = self.record()
        return dataset_frame(row["dataset"], row["config"])

    @property
    def config(self) -> dict[str, Any]:
        """The hyperparameters."""
        return self.record()["config"]

    @property
    def lora(self) -> str | None:
        """The LoRA's name once the run completed (None before)."""
        row = self.record()
        return row["name"] if row["status"] == "completed" else None

    def metrics(self) -> pd.DataFrame:
        """step, loss, lr, images_per_second of every step so far."""
        return self._studio.training_metrics(self.id)

    def checkpoints(self) -> pd.DataFrame:
        """step, lora_path, sha256, state_path of every checkpoint."""
        return self._studio.training_checkpoints(self.id)

    def samples(self) -> "list[Product]":
        """The sample images made while training (products; ``params['training_step']`` says when)."""
        return self._studio.training_samples(self.id)

    def cancel(self) -> bool:
        """Stop after the current step (a checkpoint is saved there: :meth:`resume` continues)."""
        return self._studio.cancel_training(self.id)

    def resume(self) -> "TrainingRun":
        """Continue a cancelled, interrupted or failed run from its last checkpoint (step, LoRA and
        optimizer state); it runs in the background like the first time."""
        self._studio.resume_training(self.id)
        return self

    def wait(self, timeout: float | None = None, *, progress: bool = False) -> bool:
        """Block until the run stops (completed, cancelled, interrupted or failed); False on timeout.

        With ``progress=True`` a tqdm bar shows step i/n, loss, learning rate and images/s.
        """
        if not progress:
            return self._studio.wait_training(self.id, timeout)
        from tqdm.auto import tqdm

        row = self.record()
        bar = tqdm(total=int(row["total_steps"]), initial=int(row["step"]), desc=row["name"], unit="step")

        def on_event(event) -> None:
            if isinstance(event, TrainingProgress) and event.run_id == self.id:
                bar.n = event.step
                bar.set_postfix(loss=f"{event.loss:.4f}", lr=f"{event.lr:.2e}", img_s=f"{event.images_per_second:.2f}",
                                refresh=False)
                bar.refresh()

        sub = self._studio.subscribe(on_event)
        try:
            done = self._studio.wait_training(self.id, timeout)
        finally:
            sub.close()
            row = self.record()
            bar.n = int(row["step"])
            bar.set_description(f"{row['name']} ({row['status']})")
            bar.close()
        return done

    def __repr__(self) -> str:
        row = self.record()
        return (f"<TrainingRun {row['name']} on {row['base_model']}: {row['status']}, step {row['step']} of"
                f" {row['total_steps']}, {row['image_count']} images>")


class _Active:
    """A run this process is running: its thread, cancel flag and finished event."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.thread: threading.Thread | None = None


class TrainingService:
    """The training runs of one :class:`~.local.LocalStudio` (the host)."""

    def __init__(self, studio: "LocalStudio"):
        self.studio = studio
        self._active: dict[str, _Active] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()

    # -- at open and close ----------------------------------------------------------------
    def recover(self) -> list[str]:
        """Mark runs a dead process left ``training`` as ``interrupted`` (resumable); their ids."""
        cur = self.studio.catalog.cursor()
        ids = []
        for row in q_training.running_elsewhere(cur):
            q_training.update_run(cur, row["id"], status="interrupted",
                                  error_message=f"the process running it (pid {row['pid']}) ended at step about"
                                                f" {row['step']}; resume() continues from its last checkpoint")
            ids.append(row["id"])
        return ids

    def close(self, timeout: float = 30) -> None:
        """Stop running runs at their next step (each saves a checkpoint and is ``interrupted``)."""
        self._closing.set()
        with self._lock:
            active = list(self._active.values())
        deadline = time.monotonic() + timeout
        for run in active:
            if run.thread is not None:
                run.thread.join(max(0.0, deadline - time.monotonic()))

    # -- starting -------------------------------------------------------------------------
    def train(self, name: str, *, products: Any = None, sql: str | None = None, base: str = "diffusers:tiny",
              captions: Any = "prompt", project: Any = None, replace: bool = False,
              sample_every: int | None = None, **hyper: Any) -> TrainingRun:
        """See :meth:`LocalStudio.train_lora`."""
        studio = self.studio
        name, model, config, examples, source = self._prepare(name, products=products, sql=sql, base=base,
                                                              captions=captions, replace=replace,
                                                              sample_every=sample_every, **hyper)
        cur = studio.catalog.cursor()
        project_id = studio._project_id(project)
        collection_id = None
        if config.sample_prompts and config.sample_every:
            collection_id = self._collection(f"{name} samples", f"samples of the LoRA training run {name}")
        run_id = new_id()
        q_models.upsert(cur, [model])
        q_training.insert_run(cur, {
            "id": run_id, "name": name, "base_model": model.id, "base_hash": None, "project_id": project_id,
            "collection_id": collection_id, "status": "pending", "step": 0, "total_steps": config.steps,
            "config": config.to_dict(), "dataset": [asdict(e) for e in examples], "image_count": len(examples),
            "captions": source, "pid": os.getpid(), "started_at": None})
        self._start(run_id, resume=False)
        return TrainingRun(studio, run_id)

    def _prepare(self, name: str, *, products: Any = None, sql: str | None = None, base: str = "diffusers:tiny",
                 captions: Any = "prompt", replace: bool = False, sample_every: int | None = None,
                 **hyper: Any) -> tuple[str, Any, TrainingConfig, list[TrainingExample], str]:
        """Every check of a run before it starts: the name, the base model, the hyperparameters,
        the products and their captions; returns (name, model, config, examples, caption source)."""
        studio = self.studio
        name = check_lora_name(name)
        provider, model_name = split_model_id(base, studio.providers)
        model = provider.model(model_name)
        if not hasattr(provider, "trainer"):
            raise ValidationError("base", f"{model.id}: provider {provider.name!r} cannot train LoRAs; use a local"
                                          " diffusers model, e.g. base='diffusers:tiny' or a model folder")
        try:
            provider.training_location(model)  # the family and where its files are, checked now
        except ProviderError as exc:
            raise ValidationError("base", str(exc)) from exc
        if "resolution" not in hyper:
            width = (model.spec.get("properties", {}).get("width") or {}).get("default")
            hyper["resolution"] = int(width) if isinstance(width, int) else 512
        if "seed" not in hyper or hyper["seed"] is None:
            import secrets

            hyper["seed"] = secrets.randbits(31)
        prompts = hyper.pop("sample_prompts", None) or ()
        if isinstance(prompts, str):
            prompts = (prompts,)
        hyper["sample_prompts"] = tuple(prompts)
        hyper["sample_every"] = (hyper.get("checkpoint_every", TrainingConfig.checkpoint_every) if prompts else 0) \
            if sample_every is None else sample_every
        unknown = [k for k in hyper if k not in TrainingConfig.__dataclass_fields__]
        if unknown:
            known = sorted(TrainingConfig.__dataclass_fields__)
            raise ValidationError(unknown[0], f"is not a train_lora argument.{did_you_mean(unknown[0], known)}")
        config = TrainingConfig(**hyper)
        ids = self._product_ids(products, sql)
        examples, source = self._examples(ids, captions, model, config)
        self._check_name_free(name, provider.lora_folder(), replace)
        return name, model, config, examples, source

    def check(self, name: str, **kwargs: Any) -> pd.DataFrame:
        """See :meth:`LocalStudio.check_training`: every check of :meth:`train`, nothing started."""
        _, _, config, examples, _ = self._prepare(name, **kwargs)
        return dataset_frame([asdict(e) for e in examples], config.to_dict())

    def _collection(self, name: str, description: str) -> str:
        cur = self.studio.catalog.cursor()
        row = q_collections.get_by_name(cur, name)
        if row is not None:
            return row["id"]
        collection_id = new_id()
        q_collections.create(cur, collection_id, name, description)
        return collection_id

    def _check_name_free(self, name: str, folder: Path, replace: bool) -> None:
        row = q_training.latest_by_name(self.studio.catalog.cursor(), name)
        if row is not None and row["status"] in ("pending", "training"):
            raise ValidationError("name", f"a run is training the LoRA {name!r} now; wait for it, cancel it"
                                          f" (studio.training_run({name!r}).cancel()) or choose another name")
        if replace:
            return
        if row is not None and row["status"] in RESUMABLE:
            raise ValidationError("name", f"the run of LoRA {name!r} stopped at step {row['step']} ({row['status']}):"
                                          f" continue it with studio.training_run({name!r}).resume(), or pass"
                                          " replace=True to start a new one under this name")
        if (folder / f"{name}.safetensors").exists():
            raise ValidationError("name", f"a LoRA named {name!r} exists already ({folder / (name + '.safetensors')});"
                                          " choose another name or pass replace=True to replace it when done")

    def _product_ids(self, products: Any, sql: str | None) -> list[str]:
        if (products is None) == (sql is None):
            raise ValidationError("products", "give the training images as products=[ids or Product handles] (or a"
                                              " DataFrame, or a Collection) or as sql='select product_id from gallery"
                                              " where rating >= 4', one of the two")
        if sql is not None:
            frame = self.studio.sql(sql)
            column = next((c for c in _ID_COLUMNS if c in frame.columns), None)
            if column is None:
                raise ValidationError("sql", f"the query must return a product_id column (it returned"
                                             f" {', '.join(map(str, frame.columns)) or 'no columns'});"
                                             " e.g. select product_id from gallery where rating >= 4")
            ids = [str(v) for v in frame[column].dropna()]
            if not ids:
                raise ValidationError("sql", "the query returned no products; check it with studio.sql(...) first")
            return list(dict.fromkeys(ids))
        if isinstance(products, pd.DataFrame):
            column = next((c for c in _ID_COLUMNS if c in products.columns), None)
            if column is None:
                raise ValidationError("products", "a DataFrame of products needs a product_id column")
            items: Iterable[Any] = products[column].dropna()
        elif hasattr(products, "product_ids") and callable(products.product_ids):  # a Collection
            items = products.product_ids()
        elif isinstance(products, (str, bytes)) or hasattr(products, "id"):
            items = [products]
        else:
            items = products
        ids = [str(getattr(p, "id", p)) for p in items]
        if not ids:
            raise ValidationError("products", "no products given: a LoRA needs at least one training image")
        return list(dict.fromkeys(ids))

    def _examples(self, ids: list[str], captions: Any, model, config: TrainingConfig
                  ) -> tuple[list[TrainingExample], str]:
        studio = self.studio
        rows = {r["product_id"]: r for r in q_training.dataset_rows(studio.catalog.cursor(), ids)}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise ValidationError("products", f"{len(missing)} products are not in the gallery (unknown or deleted):"
                                              f" {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
        not_images = [i for i in ids if rows[i]["kind"] != "image"]
        if not_images:
            kinds = sorted({rows[i]["media_type"] for i in not_images})
            raise ValidationError("products", f"{len(not_images)} products are not images ({', '.join(kinds)}):"
                                              f" {', '.join(not_images[:5])}; a LoRA learns from images only")
        other = [i for i in ids if rows[i].get("family") and rows[i]["family"] != model.family]
        if other:
            families = sorted({f"{rows[i]['model']} ({rows[i]['family']})" for i in other})
            raise ValidationError("products", f"{len(other)} products were made by another model family than"
                                              f" {model.id} ({model.family}): {', '.join(families[:3])}; products"
                                              f" {', '.join(other[:5])}. Train on images of the base model's family,"
                                              " or on imported images")
        absent = [i for i in ids if not (studio.store.resolve(rows[i]["path"]) or Path("/nonexistent")).is_file()]
        if absent:
            raise ValidationError("products", f"the files of {len(absent)} products are missing: {', '.join(absent[:5])}"
                                              " (run studio.rebuild or remove them from the selection)")
        source, texts = self._captions(ids, rows, captions)
        examples = [TrainingExample(product_id=i, path=studio.store.catalog_path(Path(rows[i]["path"])), sha256=rows[i]["sha256"],
                                    width=_int(rows[i].get("width")), height=_int(rows[i].get("height")),
                                    caption=texts[i]) for i in ids]
        check_captions(examples, source)
        out = []
        for e in examples:
            width, height = e.width, e.height
            if config.aspect == "bucket" and not (width and height):  # a size the catalog lacks: from the file
                width, height = _image_size(studio.store.resolve(e.path))
            target_width, target_height = target_size(width, height, config)
            out.append(TrainingExample(**{**asdict(e), "width": width, "height": height,
                                          "caption": apply_trigger(e.caption, config.trigger),
                                          "target_width": target_width, "target_height": target_height}))
        return out, source

    def _captioned(self, ids: list[str], model_id: str) -> dict[str, str]:
        """Captions written by an image-to-text model: one order over the products (it shows in
        Production and its texts stay in the catalog), waited for; {product id: caption}."""
        from .refine import first_file_input

        studio = self.studio
        provider, name = split_model_id(model_id, studio.providers)
        info = provider.model(name)
        image_param = first_file_input(info.spec)
        if info.type != "image-to-text" or image_param is None:
            raise ValidationError("captions", f"{model_id} is a {info.type} model; captions come from an"
                                              " image-to-text model (a captioner such as transformers:tiny-judge or"
                                              " fal:fal-ai/florence-2-large/detailed-caption), a gallery column, or"
                                              " a mapping {product_id: caption}")
        params: dict[str, Any] = {image_param: list(ids)}
        if "prompt" in info.spec.get("properties", {}):
            params["prompt"] = CAPTION_PROMPT
        order = studio.order(model_id, **params)
        order.wait(timeout=None)
        texts: dict[str, str] = {}
        gens = studio.order_generations(order.id)
        by_gen = {g["id"]: g for g in gens.to_dict("records")}
        for product in studio.order_products(order.id):
            gen = by_gen.get(product.generation_id) or {}
            returned = gen.get("return_params") or {}
            text = returned.get("text") if isinstance(returned, Mapping) else None
            source = (gen.get("params") or {}).get(image_param)
            if text is not None and source is not None:
                texts[str(source)] = str(text).strip()
        failed = [i for i in ids if i not in texts]
        if failed:
            errors = gens.loc[gens["status"] != "complete", "error_message"].dropna().tolist()
            raise ValidationError("captions", f"{model_id} wrote no caption for {len(failed)} of {len(ids)} products"
                                              f" (order {order.id}: {errors[0] if errors else order.status});"
                                              " retry that order, or caption from 'prompt' or a column")
        return texts

    def _captions(self, ids: list[str], rows: Mapping[str, dict], captions: Any) -> tuple[str, dict[str, str]]:
        if isinstance(captions, Mapping):
            unknown = [k for k in captions if k not in rows]
            if unknown:
                raise ValidationError("captions", f"captions name products not in the dataset: {', '.join(map(str, unknown[:5]))}")
            return "mapping", {i: _text(captions.get(i)) for i in ids}
        if not isinstance(captions, str) or not captions:
            raise ValidationError("captions", "captions is 'prompt' (default), a gallery column such as"
                                              " 'negative_prompt', an image-to-text model id (a captioner), or a"
                                              " mapping {product_id: caption}")
        if ":" in captions:
            return captions, self._captioned(ids, captions)
        columns = [c for c in next(iter(rows.values())) if c not in ("family", "kind")]
        if captions not in columns:
            raise ValidationError("captions", f"{captions!r} is not a gallery column.{did_you_mean(captions, columns)}"
                                              " Give 'prompt' (default), a column of the gallery view, or a mapping"
                                              " {product_id: caption}")
        return captions, {i: _text(rows[i].get(captions)) for i in ids}

    # -- running --------------------------------------------------------------------------
    def resume(self, run_id: str) -> None:
        """Continue a stopped run from its last checkpoint (in the background)."""
        with self._lock:
            active = self._active.get(run_id)
        if active is not None and active.cancel.is_set():  # cancelled a moment ago: let it save and stop
            active.done.wait(STOPPING_WAIT)
        reserved = _Active()
        with self._lock:  # checked and claimed at once: two resumes never start two threads on one run
            current = self._active.get(run_id)
            if current is None:
                self._active[run_id] = reserved
        if current is not None:
            name = self._row(run_id)["name"]
            if current.cancel.is_set():
                raise ValidationError("run", f"training run {name!r} is still saving its checkpoint after a cancel"
                                             f" ({STOPPING_WAIT:.0f} s so far); resume it again in a moment")
            raise ValidationError("run", f"training run {name!r} is running already")
        try:
            row = self._row(run_id)
            if row["status"] == "completed":
                raise ValidationError("run", f"training run {row['name']!r} is completed: its LoRA is"
                                             f" loras='{row['name']}'; train a new run to go further")
            if row["status"] not in RESUMABLE:
                raise ValidationError("run", f"training run {row['name']!r} is {row['status']}; only cancelled,"
                                             " interrupted or failed runs resume")
            q_training.update_run(self.studio.catalog.cursor(), run_id, status="pending", pid=os.getpid(),
                                  error_type=None, error_message=None)
        except BaseException:
            with self._lock:
                if self._active.get(run_id) is reserved:
                    del self._active[run_id]
            reserved.done.set()
            raise
        self._start(run_id, resume=True, active=reserved)

    def cancel(self, run_id: str) -> bool:
        """Ask a running run to stop after its current step; False when it is not running here."""
        with self._lock:
            active = self._active.get(run_id)
        if active is None:
            return False
        active.cancel.set()
        return True

    def wait(self, run_id: str, timeout: float | None) -> bool:
        """Block until the run is not running in this process; False on timeout."""
        with self._lock:
            active = self._active.get(run_id)
        if active is None:
            return True
        return active.done.wait(timeout)

    def _start(self, run_id: str, *, resume: bool, active: "_Active | None" = None) -> None:
        if active is None:
            active = _Active()
        with self._lock:
            self._active[run_id] = active
        thread = threading.Thread(target=self._thread, args=(run_id, resume, active), daemon=True,
                                  name=f"imagen-nb-training-{run_id}")
        active.thread = thread
        thread.start()

    def _row(self, run_id: str) -> dict[str, Any]:
        row = q_training.get_run(self.studio.catalog.cursor(), run_id)
        if row is None:
            raise LookupError(f"no training run {run_id!r} in this studio")
        return row

    def _publish_status(self, row: Mapping[str, Any], status: str, step: int, message: str = "",
                        error: str | None = None, samples: tuple[str, ...] = ()) -> None:
        self.studio.bus.publish(TrainingStatusChanged(run_id=row["id"], name=row["name"], status=status, step=step,
                                                      total=int(row["total_steps"]), message=message, error=error,
                                                      samples=samples))

    def _thread(self, run_id: str, resume: bool, active: _Active) -> None:
        try:
            _Run(self, run_id, resume, active).run()
        except BaseException:  # never lose the thread silently; _Run records its own failures
            log.exception("training run %s failed", run_id)
        finally:
            with self._lock:
                self._active.pop(run_id, None)
            active.done.set()


class _Run:
    """One pass of a run in its thread: prepare, (restore,) step, checkpoint, sample, finish."""

    def __init__(self, service: TrainingService, run_id: str, resume: bool, active: _Active):
        self.service = service
        self.studio = service.studio
        self.cur = None
        self.run_id = run_id
        self.resume = resume
        self.active = active
        self.pending: list[dict[str, Any]] = []
        self.flushed_at = time.monotonic()

    def run(self) -> None:
        studio = self.studio
        self.cur = studio.catalog.cursor()
        row = self.row = self.service._row(self.run_id)
        config = self.config = TrainingConfig.from_dict(row["config"])
        step = 0
        try:
            provider, model_name = split_model_id(row["base_model"], studio.providers)
            model = self.model = provider.model(model_name)
            self.provider = provider
            location = provider.training_location(model)
            base_hash = row["base_hash"] or fingerprint(location) or None
            examples = [TrainingExample(**{**e, "path": str(studio.store.resolve(e["path"]))}) for e in row["dataset"]]
            metadata = {"run_id": row["id"], "name": row["name"], "base_model": model.id, "base_family": model.family,
                        "base_hash": base_hash, "hyperparameters": config.to_dict(), "captions": row["captions"],
                        "dataset": [{"product_id": e.product_id, "sha256": e.sha256} for e in examples]}
            trainer = self.trainer = provider.trainer(model, examples, config, metadata)
            self.folder = provider.lora_folder()
            self.state_dir = studio.home / "training" / row["id"]
            q_training.update_run(self.cur, row["id"], status="training", pid=os.getpid(), base_hash=base_hash,
                                  started_at=row["started_at"] or datetime.now(timezone.utc))
            self.service._publish_status(row, "training", int(row["step"]), "loading the base model")
            with studio.executor.device_turn(provider, model, self._stop) as turn:
                if not turn:
                    return self._stopped(0)
                trainer.prepare()
            from ..providers.diffusers.training import latest_state

            if self.resume:
                latest = latest_state(self.state_dir)
                if latest is not None:
                    step = trainer.load_state(latest[1])
                q_training.forget_after(self.cur, row["id"], step)
            self.saved = step
            self._loop(step)
        except BaseException as exc:
            self._flush(force=True)
            message = str(exc) or type(exc).__name__
            q_training.update_run(self.cur, row["id"], status="failed", error_type=type(exc).__name__,
                                  error_message=message, finished_at=datetime.now(timezone.utc))
            self.service._publish_status(row, "failed", self._last_step(), error=message)
            log.debug("training run %s failed:\n%s", row["id"], traceback.format_exc())
            if not isinstance(exc, Exception):
                raise

    def _stop(self) -> bool:
        return self.active.cancel.is_set() or self.service._closing.is_set()

    def _last_step(self) -> int:
        return self.pending[-1]["step"] if self.pending else int(self.service._row(self.run_id)["step"])

    def _loop(self, start: int) -> None:
        config, trainer, studio = self.config, self.trainer, self.studio
        done = start
        durations: list[float] = []
        for step in range(start, config.steps):
            began = time.monotonic()
            with studio.executor.device_turn(self.provider, self.model, self._stop) as turn:
                if not turn:
                    break
                lr = trainer.lr
                loss = trainer.step(step)
                seconds = time.monotonic() - began
            done = step + 1
            durations = (durations + [seconds])[-20:]
            mean = sum(durations) / len(durations)
            speed = getattr(trainer, "last_batch_size", config.batch_size) / seconds if seconds > 0 else 0.0
            self.pending.append({"step": done, "loss": loss, "lr": lr, "images_per_second": speed})
            studio.bus.publish(TrainingProgress(run_id=self.run_id, name=self.row["name"], step=done,
                                                total=config.steps, loss=loss, lr=lr, images_per_second=speed,
                                                eta_seconds=mean * (config.steps - done)))
            self._flush()
            if config.checkpoint_every and done % config.checkpoint_every == 0 and done < config.steps:
                self._checkpoint(done)
            if config.sample_every and config.sample_prompts and done % config.sample_every == 0:
                self._samples(done)
            if self._stop():
                break
        if done < config.steps:
            return self._stopped(done)
        self._finish(done)

    def _flush(self, force: bool = False) -> None:
        if not self.pending or (not force and time.monotonic() - self.flushed_at < FLUSH_SECONDS):
            return
        rows, self.pending = self.pending, []
        q_training.insert_metrics(self.cur, self.run_id, rows)
        q_training.update_run(self.cur, self.run_id, step=rows[-1]["step"])
        self.flushed_at = time.monotonic()

    def _checkpoint(self, step: int) -> None:
        from ..providers.diffusers.training import prune_states

        self._flush(force=True)
        path = self.folder / self.row["name"] / f"step-{step:06d}.safetensors"
        with self.studio.executor.device_turn(self.provider, self.model):
            self.trainer.save_lora(path, step)
            state = self.trainer.save_state(self.state_dir, step)
        prune_states(self.state_dir, KEEP_STATES)
        q_training.insert_checkpoint(self.cur, {"id": new_id(), "run_id": self.run_id, "step": step,
                                                "lora_path": str(path), "sha256": file_sha256(path),
                                                "state_path": str(state)})
        self.saved = step
        self.service._publish_status(self.row, "training", step, f"checkpoint at step {step}")

    def _samples(self, step: int) -> None:
        config, row, studio = self.config, self.row, self.studio
        with studio.executor.device_turn(self.provider, self.model):
            images = self.trainer.sample(config.sample_prompts, seed=config.sample_seed, steps=config.sample_steps)
        now = datetime.now(timezone.utc)
        rows = []
        for i, (prompt, data) in enumerate(zip(config.sample_prompts, images)):
            product_id = new_id()
            params = {"prompt": prompt, "seed": config.sample_seed + i, "num_inference_steps": config.sample_steps,
                      "guidance_scale": 7.5, "width": config.resolution, "height": config.resolution,
                      "loras": [{"name": row["name"], "weight": 1.0}], "training_run": row["id"],
                      "training_step": step}
            data = pngmeta.embed(data, params, row["base_model"], extra={"product_id": product_id,
                                                                          "training_run": row["id"]})
            stored = studio.store.write(product_id, data, "png", now)
            rows.append({"id": product_id, "project_id": row["project_id"], "model_id": row["base_model"],
                         "source": "generated", "kind": "image", "media_type": "image/png",
                         "path": studio.store.catalog_path(stored.path),
                         "thumb_path": studio.store.catalog_path(stored.thumb_path) if stored.thumb_path else None,
                         "size": stored.size, "width": stored.width, "height": stored.height, "sha256": stored.sha256,
                         "prompt": prompt, "seed": params["seed"], "num_inference_steps": config.sample_steps,
                         "guidance_scale": 7.5, "params": params, "created_at": now})
        q_products.insert_products(self.cur, rows)
        if row["collection_id"]:
            q_collections.add(self.cur, row["collection_id"], [r["id"] for r in rows])
        self.service._publish_status(row, "training", step, f"{len(rows)} samples at step {step}",
                                     samples=tuple(r["id"] for r in rows))

    def _stopped(self, step: int) -> None:
        """Cancelled, or the studio is closing: a checkpoint where it stopped, then the status."""
        if step > getattr(self, "saved", 0):
            self._checkpoint(step)
        self._flush(force=True)
        cancelled = self.active.cancel.is_set()
        status = "cancelled" if cancelled else "interrupted"
        message = (f"stopped at step {step} ({'cancelled' if cancelled else 'the studio closed'});"
                   " resume() continues from there")
        q_training.update_run(self.cur, self.run_id, status=status, step=step, error_message=message,
                              finished_at=datetime.now(timezone.utc))
        self.service._publish_status(self.row, status, step, message)

    def _finish(self, step: int) -> None:
        row = self.row
        self._flush(force=True)
        path = self.folder / f"{row['name']}.safetensors"
        with self.studio.executor.device_turn(self.provider, self.model):
            self.trainer.save_lora(path, step)
        sha = file_sha256(path)
        q_training.update_run(self.cur, self.run_id, status="completed", step=step, lora_path=str(path),
                              lora_sha256=sha, error_message=None, finished_at=datetime.now(timezone.utc))
        self.service._publish_status(row, "completed", step, f"LoRA {row['name']} ready: loras='{row['name']}:0.8'")


def dataset_frame(rows: Iterable[Mapping[str, Any]], config: Mapping[str, Any]) -> pd.DataFrame:
    """A run's dataset as a DataFrame of :data:`DATASET_COLUMNS` (runs recorded before buckets
    existed lack the target size: it is resolution²)."""
    square = int(config.get("resolution") or 0) or None
    frame = [{**{k: r.get(k) for k in DATASET_COLUMNS},
              "target_width": r.get("target_width") or square, "target_height": r.get("target_height") or square}
             for r in rows]
    return pd.DataFrame(frame, columns=list(DATASET_COLUMNS))


def _image_size(path: Path | None) -> tuple[int | None, int | None]:
    from PIL import Image

    try:
        with Image.open(path) as image:  # type: ignore[arg-type]
            return image.size
    except (OSError, TypeError, ValueError):
        return None, None


def _int(value: Any) -> int | None:
    try:
        return None if value is None or pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and pd.isna(value):
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _text(value.tolist())
    return str(value)

