"""The Order panel's "Get from civitai…" (issue 17): search civitai, see what a reference would
download, and import a checkpoint or LoRA with live progress; when it is in, the model picker has it.

Mixed into :class:`~.order.OrderController`. An import runs ``studio.add_model(ref, name=, for_model=)``
on a thread of its own; its progress comes from the ``ModelDownload`` events of the Studio's bus
(so a download started in a notebook cell shows too), its outcome from the thread. Both are
pushed (``civitai``) at most ten times a second by the controller's throttle. Cancel stops a
running import (``studio.cancel_download``): nothing is added, the partial file stays for a resume. Errors come back at
the page's fields: ``civitai_query``, ``civitai_type``, ``civitai_base``, ``civitai_ref``,
``civitai_name``, ``civitai_for_model``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..core.errors import DownloadCancelled, ImagenError, MissingKey, UnknownModelError, ValidationError
from ..core.records import ModelDownload
from .bridge import PanelRequestError
from .jsonable import jsonable

#: The civitai model types the panel searches (the ones imagen-nb can run).
CIVITAI_TYPES = ("Checkpoint", "LORA", "LoCon", "DoRA")
#: Base models offered as a search filter (civitai's names).
CIVITAI_BASES = ("SD 1.5", "SD 2.1", "SDXL 1.0", "Pony", "Illustrious", "Flux.1 D", "Flux.1 S", "SD 3.5")
#: Search results per request.
CIVITAI_LIMIT = 20
#: Imports the page keeps listed (newest first).
CIVITAI_KEEP = 10
_FIELDS = {"ref": "civitai_ref", "name": "civitai_name", "for_model": "civitai_for_model", "types": "civitai_type",
           "base_models": "civitai_base", "limit": "civitai_query"}


def civitai_field(param: str | None) -> str:
    """The page's field for a ``ValidationError.param`` of the civitai calls."""
    return _FIELDS.get(param or "", "civitai_ref")


class CivitaiRequests:
    """``civitai_state``, ``civitai_search``, ``civitai_resolve``, ``civitai_add``, ``civitai_cancel`` and the
    ``civitai`` push (needs the controller's ``studio``, ``throttle``, ``push`` and ``_models``)."""

    _civitai_lock: threading.Lock
    _imports: dict[str, dict[str, Any]]
    _imports_changed: bool

    def _civitai_setup(self) -> None:
        self._civitai_lock = threading.Lock()
        self._imports = {}  # by ref: {ref, file_name, done, total, state, error, field, result, kind, started}
        self._imports_changed = False

    def _key_missing(self) -> str | None:
        return self.studio.views.missing_key("civitai")

    def rpc_civitai_state(self) -> dict[str, Any]:
        """``{key_missing, types, base_models, imports}``: what the civitai dialog shows on opening."""
        return {"key_missing": self._key_missing(), "types": list(CIVITAI_TYPES), "base_models": list(CIVITAI_BASES),
                "imports": self._import_list()}

    def rpc_civitai_search(self, query: str = "", type: str = "", base_model: str = "",
                           limit: int = CIVITAI_LIMIT) -> dict[str, Any]:
        """civitai's search: ``{items: [{name, type, base_model, air, version, creator, trigger_words,
        downloads, size_mb, url, nsfw}]}`` (checkpoints and LoRAs unless ``type`` names one)."""
        query = (query or "").strip() if isinstance(query, str) else ""
        types = [type] if type else list(CIVITAI_TYPES)
        if type and type not in CIVITAI_TYPES:
            raise PanelRequestError(f"pick one of {', '.join(CIVITAI_TYPES)}: imagen-nb runs those", field="civitai_type")
        try:
            frame = self.studio.civitai_search(query, types=types, base_models=[base_model] if base_model else None,
                                               limit=int(limit))
        except ValidationError as exc:
            raise PanelRequestError(exc.message, field=civitai_field(exc.param)) from exc
        except ImagenError as exc:  # civitai down, slow, malformed: at the search box
            raise PanelRequestError(f"civitai's search failed: {exc}", field="civitai_query") from exc
        return {"items": [jsonable(r) for r in frame.to_dict("records")], "query": query}

    def rpc_civitai_resolve(self, ref: str) -> dict[str, Any]:
        """What importing ``ref`` would download (nothing is downloaded), with the name it would
        take and whether that file is already here."""
        ref = self._need_ref(ref)
        try:
            info = self.studio.civitai_resolve(ref)
        except ValidationError as exc:
            raise PanelRequestError(exc.message, field=civitai_field(exc.param)) from exc
        except ImagenError as exc:
            raise PanelRequestError(str(exc), field="civitai_ref") from exc
        keep = ("air", "model_id", "version_id", "model_name", "version_name", "model_type", "kind", "base_model",
                "family", "trigger_words", "licence", "file_name", "size", "sha256", "nsfw", "page")
        out = {k: jsonable(info.get(k)) for k in keep}
        out["ref"] = ref
        return out

    def rpc_civitai_add(self, ref: str, name: str | None = None, for_model: str | None = None) -> dict[str, Any]:
        """Start importing ``ref`` (in the background): ``{ref, imports}``. Progress and the outcome
        arrive as ``civitai`` pushes; the new model's id (or LoRA name) with the model list when done."""
        ref = self._need_ref(ref)
        missing = self._key_missing()
        if missing:
            raise PanelRequestError(missing, field="civitai_ref")
        name = (name or "").strip() or None if isinstance(name, (str, type(None))) else name
        for_model = (for_model or "").strip() or None if isinstance(for_model, (str, type(None))) else for_model
        with self._civitai_lock:
            running = self._imports.get(ref)
            if running is not None and running["state"] in ("starting", "downloading"):
                raise PanelRequestError("this one is being imported already; see its progress below", field="civitai_ref")
            self._imports[ref] = {"ref": ref, "file_name": None, "done": 0, "total": None, "state": "starting",
                                  "error": None, "field": None, "result": None, "kind": None, "name": name,
                                  "here": True, "started": time.time()}
            self._imports_changed = True
        threading.Thread(target=self._import, args=(ref, name, for_model), name="inb-civitai-import",
                         daemon=True).start()
        return {"ref": ref, "imports": self._import_list()}

    def rpc_civitai_cancel(self, ref: str) -> dict[str, Any]:
        """Stop an import (its partial file is kept: importing it again resumes): ``{ref, imports}``."""
        ref = self._need_ref(ref)
        with self._civitai_lock:
            job = self._imports.get(ref)
            running = job is not None and job["state"] in ("starting", "downloading")
            if running:
                job["cancel"] = True  # seen by the import's thread should it not have started the download yet
        if not running:
            raise PanelRequestError("this import is not running", field="civitai_ref")
        self.studio.cancel_download(ref)
        return {"ref": ref, "imports": self._import_list()}

    # -- the import's thread and the pushes -----------------------------------------------------
    def _import(self, ref: str, name: str | None, for_model: str | None) -> None:
        outcome: dict[str, Any]
        try:
            started = self.studio.add_model(ref, name=name, for_model=for_model, wait=False)
            with self._civitai_lock:
                cancel = bool((self._imports.get(ref) or {}).get("cancel"))
            if cancel:
                started.cancel()
            result = started.wait()
            outcome = {"state": "done", "result": result,
                       "kind": "checkpoint" if str(result).startswith("diffusers:") else "lora"}
        except DownloadCancelled as exc:
            outcome = {"state": "cancelled", "error": str(exc), "field": None}
        except ValidationError as exc:
            outcome = {"state": "failed", "error": exc.message, "field": civitai_field(exc.param)}
        except (MissingKey, UnknownModelError) as exc:
            outcome = {"state": "failed", "error": str(exc),
                       "field": "civitai_for_model" if isinstance(exc, UnknownModelError) else "civitai_ref"}
        except Exception as exc:  # a provider fault after retries, a full disk: say it, keep the panel going
            outcome = {"state": "failed", "error": str(exc) or type(exc).__name__, "field": "civitai_ref"}
        with self._civitai_lock:
            job = self._imports.get(ref)
            if job is not None:
                job.update(outcome)
                if outcome["state"] == "done" and job["total"] is None:
                    job["total"] = job["done"]
            self._imports_changed = True
        if self.throttle is not None:
            self.throttle.poke()

    def _civitai_event(self, event: ModelDownload) -> bool:
        """Note a download's progress (worker thread: record only)."""
        with self._civitai_lock:
            job = self._imports.get(event.ref)
            if job is None or (job["state"] in ("done", "failed", "cancelled") and not job["here"]):
                # Started elsewhere (a notebook cell): shown too, its outcome from the events.
                job = self._imports[event.ref] = {"ref": event.ref, "file_name": None, "done": 0, "total": None,
                                                  "state": "downloading", "error": None, "field": None,
                                                  "result": None, "kind": None, "name": None, "here": False,
                                                  "started": time.time()}
            if job["state"] in ("done", "failed", "cancelled"):
                return False  # the panel's own import already ended
            job.update(file_name=event.file_name, done=event.done, total=event.total)
            if not job["here"] and event.state in ("done", "failed", "cancelled"):
                job.update(state=event.state, error=event.error,
                           field="civitai_ref" if event.state == "failed" else None)
            elif job["state"] == "starting":
                job["state"] = "downloading"
            self._imports_changed = True
        return True

    def _import_list(self) -> list[dict[str, Any]]:
        with self._civitai_lock:
            jobs = sorted(self._imports.values(), key=lambda j: j["started"], reverse=True)[:CIVITAI_KEEP]
            return [{k: v for k, v in j.items() if k not in ("started", "here", "announced", "cancel")} for j in jobs]

    def _flush_civitai(self) -> None:
        with self._civitai_lock:
            if not self._imports_changed:
                return
            self._imports_changed = False
            finished = any(j["state"] == "done" and not j.get("announced") for j in self._imports.values())
            for j in self._imports.values():
                if j["state"] == "done":
                    j["announced"] = True
        data: dict[str, Any] = {"imports": self._import_list()}
        if finished:  # the new model (or LoRA) is in the picker at once
            models = self._models()
            data.update(models=models, providers=sorted({m["provider"] for m in models}),
                        types=sorted({m["type"] for m in models}))
        self.push("civitai", data)

    def _need_ref(self, ref: Any) -> str:
        if not isinstance(ref, str) or not ref.strip():
            raise PanelRequestError("paste a civitai AIR (urn:air:…), a model or version URL, or civitai:<version id>; "
                                    "or pick a search result", field="civitai_ref")
        return ref.strip()
