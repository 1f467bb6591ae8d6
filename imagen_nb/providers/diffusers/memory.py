"""How much memory loaded pipelines take, and the cache that keeps them within a budget.

The diffusers provider keeps pipelines loaded between orders (the next order starts at once),
but a GPU holds only so many. :class:`PipelineCache` keeps them while their weights fit in a
budget of bytes per device (setting ``memory_budget``; by default 80% of a GPU, half the RAM on
the CPU) and, optionally, under a count (setting ``max_loaded``). A model that does not fit
makes room by dropping the least recently used ones *before* it loads, so two models never sit
in memory for the sake of one; after it loads its real size is measured and the cache trimmed
again if the estimate was short.

Nothing here imports torch at module level: budgets on the CPU and estimates read files only.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import sys
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable

from ...core.errors import SettingsError
from ..weightfiles import read_safetensors_header

if TYPE_CHECKING:
    from .pipelines import LoadedPipeline

log = logging.getLogger(__name__)

#: Share of a device's memory the cache may fill when ``memory_budget`` is not set.
DEFAULT_SHARE = {"cuda": 0.8, "mps": 0.8, "cpu": 0.5}

_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]i?)?b?\s*$", re.IGNORECASE)
_SHARE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*%\s*$")
_ITEMSIZE = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}
#: safetensors dtype names → bytes per element.
_ST_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8}
_FLOATS = {"F64", "F32", "F16", "BF16"}


# ---- the budget -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryBudget:
    """The ``memory_budget`` setting: bytes, a size such as ``"6GB"`` / ``"6GiB"``, a share such as
    ``"80%"`` of the device, or ``None`` / ``"auto"`` for the default share (:data:`DEFAULT_SHARE`).

    Sizes use SI units (``GB`` = 10⁹ bytes); ``GiB``, ``MiB`` are binary.
    """

    setting: Any = None

    def __post_init__(self):
        parse_budget(self.setting)  # a bad value is refused when the provider is made, not at the first load

    def bytes_for(self, device: str) -> int | None:
        """The budget in bytes on ``device``; None when the device's size cannot be read (no byte cap)."""
        value = parse_budget(self.setting)
        if isinstance(value, int):
            return value
        share = DEFAULT_SHARE.get(device.split(":")[0], 0.5) if value is None else value
        total = device_total_bytes(device)
        return None if total is None else int(total * share)


def parse_budget(value: Any) -> int | float | None:
    """``memory_budget`` as bytes (int), a share of the device (float in (0, 1]) or None (the default).

    Raises SettingsError naming the accepted forms.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None
    if isinstance(value, bool):
        raise _bad_budget(value)
    if isinstance(value, (int, float)):
        if value <= 0:
            raise _bad_budget(value)
        return int(value)
    if isinstance(value, str):
        share = _SHARE.match(value)
        if share:
            fraction = float(share.group(1)) / 100
            if not 0 < fraction <= 1:
                raise _bad_budget(value)
            return fraction
        size = _SIZE.match(value)
        if size:
            nbytes = int(float(size.group(1)) * _UNITS[(size.group(2) or "").lower()])
            if nbytes > 0:
                return nbytes
    raise _bad_budget(value)


def _bad_budget(value: Any) -> SettingsError:
    return SettingsError(
        f"diffusers setting memory_budget={value!r} is not a size: give bytes (6000000000), a size"
        " ('6GB', '6GiB', '512MB'), a share of the device ('80%') or 'auto'."
    )


def device_total_bytes(device: str) -> int | None:
    """Memory of ``device`` in bytes: the GPU's, or this machine's RAM (capped by a cgroup limit)."""
    kind = device.split(":")[0]
    if kind == "cuda":
        import torch

        index = torch.device(device).index
        return int(torch.cuda.get_device_properties(torch.cuda.current_device() if index is None else index)
                   .total_memory)
    if kind == "mps":
        import torch

        recommended = getattr(getattr(torch, "mps", None), "recommended_max_memory", None)
        if recommended is not None:
            try:
                return int(recommended())
            except RuntimeError:
                pass
    return ram_bytes()


def ram_bytes() -> int | None:
    """Physical RAM of this machine, or the container's memory limit when that is lower."""
    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        if sys.platform == "win32":
            total = _windows_ram()
    limit = _cgroup_limit()
    if limit is not None and (total is None or limit < total):
        return limit
    return total


def _cgroup_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # "max" or a huge number: no limit
            return int(text)
    return None


def _windows_ram() -> int | None:
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("sullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatus()
    status.dwLength = ctypes.sizeof(MemoryStatus)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return None
    return int(status.ullTotalPhys)


def format_bytes(nbytes: int | None) -> str:
    """``1.23 GB``-style text for messages (SI units, like the setting)."""
    if nbytes is None:
        return "unknown"
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if nbytes >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


# ---- sizes of pipelines ---------------------------------------------------------------------


def pipeline_bytes(pipes: Iterable[Any]) -> int:
    """Bytes of the parameters and buffers of the torch modules of ``pipes``, each tensor counted once
    (pipelines that share modules, such as one made with ``from_pipe``, are not counted twice)."""
    return sum(_tensor_sizes(pipes).values())


def _tensor_sizes(pipes: Iterable[Any]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for pipe in pipes:
        for module in _modules(pipe):
            for tensor in (*module.parameters(), *module.buffers()):
                if tensor.is_meta:
                    continue
                sizes[id(tensor)] = tensor.numel() * tensor.element_size()
    return sizes


def estimate_bytes(location: str | os.PathLike, dtype: str) -> int | None:
    """Bytes the weights of a saved model will take once loaded in ``dtype``, read from the files'
    headers without loading them; None when there is nothing to read (a hub id not downloaded).

    ``location`` is a diffusers folder (its component subfolders are read) or a single
    ``.safetensors`` / ``.ckpt`` file.
    """
    if not location:
        return None
    path = Path(location)
    itemsize = _ITEMSIZE.get(dtype, 4)
    try:
        if path.is_file():
            return _file_bytes(path, itemsize)
        if not (path / "model_index.json").is_file():
            return None
        index = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    total = 0
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or not value or value[0] is None:
            continue
        folder = path / name
        if folder.is_dir():
            total += _folder_bytes(folder, itemsize)
    return total or None


def hub_snapshot(repo_id: str) -> str:
    """The folder of a hub model in the Hugging Face cache ("" when it was never downloaded)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, "model_index.json")
    except Exception:  # an old huggingface_hub or a broken cache: no estimate
        return ""
    return str(Path(cached).parent) if isinstance(cached, str) else ""


def _folder_bytes(folder: Path, itemsize: int) -> int:
    """One component's weights: one set of files (the plain one, not an ``.fp16`` variant beside it)."""
    for pattern in ("*.safetensors", "*.bin"):
        files = sorted(folder.glob(pattern))
        plain = [f for f in files if f.name.count(".") == 1]
        chosen = plain or [f for f in files if f.name.split(".")[-2] == files[0].name.split(".")[-2]]
        if chosen:
            try:
                return sum(_file_bytes(f, itemsize) for f in chosen)
            except OSError:
                return 0
    return 0


def _file_bytes(path: Path, itemsize: int) -> int:
    if path.suffix == ".safetensors":
        total = 0
        for name, info in read_safetensors_header(path).items():
            if name == "__metadata__" or not isinstance(info, dict):
                continue
            numel = 1
            for dim in info.get("shape", []):
                numel *= int(dim)
            kind = info.get("dtype", "F32")
            total += numel * (itemsize if kind in _FLOATS else _ST_ITEMSIZE.get(kind, 4))
        return total
    # A pickle (.bin, .ckpt) cannot be read without loading it: assume float32 weights.
    return path.stat().st_size * itemsize // 4


# ---- the cache ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eviction:
    """A pipeline dropped from the cache: its key and model, the bytes its weights took, and why."""

    key: Hashable
    model_id: str
    device: str
    nbytes: int
    reason: str


class PipelineCache:
    """Loaded pipelines by key, kept while they fit; the least recently used go first.

    Args:
        budget: bytes of weights allowed per device (a :class:`MemoryBudget`, an int, or None for
            no byte cap).
        max_loaded: most pipelines per device (None: no count cap).

    Thread-safe: two threads asking for the same key wait for one load.
    """

    def __init__(self, budget: MemoryBudget | int | None = None, max_loaded: int | None = None):
        self.budget = budget if isinstance(budget, MemoryBudget) else MemoryBudget(budget)
        self.max_loaded = None if max_loaded is None else max(1, int(max_loaded))
        self._budgets: dict[str, int | None] = {}
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}
        self._entries: OrderedDict[Hashable, LoadedPipeline] = OrderedDict()
        #: How many times each key was loaded (a reload after an eviction counts again).
        self.loads: dict[Hashable, int] = {}

    def budget_bytes(self, device: str) -> int | None:
        """The byte budget on ``device`` (read once per device)."""
        if device not in self._budgets:
            self._budgets[device] = self.budget.bytes_for(device)
        return self._budgets[device]

    def get(
        self,
        key: Hashable,
        device: str,
        load: Callable[[], LoadedPipeline],
        *,
        estimate: Callable[[], int | None] | None = None,
        on_evict: Callable[[Eviction, float], None] | None = None,
    ) -> tuple[LoadedPipeline, bool]:
        """The pipeline for ``key``, loading it with ``load()`` when absent; True when it was loaded now.

        Room is made on ``device`` before loading, for ``estimate()`` bytes when given; after the
        load the real size is measured and older pipelines dropped if it is still over budget.
        ``on_evict(eviction, seconds_to_free)`` is called for each pipeline dropped.
        """
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key], False
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key], False
            needed = estimate() if estimate is not None else None
            budget = self.budget_bytes(device)
            if needed is not None and budget is not None and needed > budget:
                log.warning("%s needs about %s, more than memory_budget %s on %s: it is loaded alone",
                            _key_name(key), format_bytes(needed), format_bytes(budget), device)
            with self._lock:
                evicted = self._make_room(device, needed or 0, adding=True)
            self._release(evicted, on_evict)
            try:
                entry = load()
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self._entries[key] = entry
                self.loads[key] = self.loads.get(key, 0) + 1
                evicted = self._make_room(device, 0, adding=False, keep=key)
            self._release(evicted, on_evict)
        return entry, True

    def _make_room(self, device: str, needed: int, *, adding: bool,
                   keep: Hashable = None) -> list[tuple[Eviction, LoadedPipeline]]:
        """Pop least recently used pipelines of ``device`` until the count and bytes fit (lock held)."""
        budget = self.budget_bytes(device)
        evicted: list[tuple[Eviction, LoadedPipeline]] = []
        while True:
            keys = [k for k, e in self._entries.items() if e.device == device and k != keep]
            if not keys:
                return evicted
            count = len(keys) + (1 if adding or keep is not None else 0)
            over_count = self.max_loaded is not None and count > self.max_loaded
            used = self._usage(device) if budget is not None else 0
            over_budget = budget is not None and used + needed > budget
            if not (over_count or over_budget):
                return evicted
            oldest = keys[0]
            nbytes = pipeline_bytes([self._entries[oldest].pipe])
            reason = (f"max_loaded={self.max_loaded}" if over_count else
                      f"memory_budget {format_bytes(budget)}: {format_bytes(used)} loaded, {format_bytes(needed)} needed"
                      if needed else f"memory_budget {format_bytes(budget)}: {format_bytes(used)} loaded")
            entry = self._entries.pop(oldest)
            evicted.append((Eviction(oldest, entry.model_id, entry.device, nbytes, reason), entry))

    def _usage(self, device: str) -> int:
        return pipeline_bytes(e.pipe for e in self._entries.values() if e.device == device)

    def _release(self, evicted: list[tuple[Eviction, LoadedPipeline]], on_evict) -> None:
        """Free the evicted pipelines, then report them (the list is emptied: no reference survives)."""
        if not evicted:
            return
        started = time.perf_counter()
        records = [record for record, _ in evicted]
        entries = [entry for _, entry in evicted]
        evicted.clear()
        release(entries)
        seconds = time.perf_counter() - started
        for record in records:
            log.info("unloaded %s from %s (%s): %s", record.model_id, record.device,
                     format_bytes(record.nbytes), record.reason)
            if on_evict is not None:
                on_evict(record, seconds)

    def usage(self, device: str) -> int:
        """Bytes of the weights of the pipelines loaded on ``device``."""
        with self._lock:
            return self._usage(device)

    def keys(self) -> list[Hashable]:
        """Keys of the loaded pipelines, least recently used first."""
        with self._lock:
            return list(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> list[LoadedPipeline]:
        """Forget every pipeline; returns them so the caller can free device memory."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        return entries


def _key_name(key: Hashable) -> str:
    return str(key[0]) if isinstance(key, tuple) and key else str(key)


def release(entries: list[LoadedPipeline]) -> None:
    """Drop pipelines for real and give cached GPU memory back to the driver. Empties ``entries``.

    Dropping the references frees the weights at once unless something else still reaches them;
    when a module survives (caught in a reference cycle, e.g. by a traceback that saw the
    pipeline), the garbage is collected now rather than at some later collection. A full
    collection costs ~0.3 s in a process that imported diffusers, so it runs only then.
    """
    if not entries:
        return
    devices = {e.device.split(":")[0] for e in entries}
    survivors = [weakref.ref(m) for e in entries for m in _modules(e.pipe)]
    entries.clear()
    if any(ref() is not None for ref in survivors):
        gc.collect()
    if "cuda" in devices:
        import torch

        torch.cuda.empty_cache()
    elif "mps" in devices:
        import torch

        torch.mps.empty_cache()


def _modules(pipe: Any) -> list[Any]:
    """The torch modules of a pipeline (its components that are ``nn.Module``)."""
    import torch

    components = getattr(pipe, "components", None)
    values = components.values() if isinstance(components, dict) else [getattr(pipe, "module", pipe)]
    return [m for m in values if isinstance(m, torch.nn.Module)]
