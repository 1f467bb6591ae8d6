"""LoRAs on diffusers pipelines: several at once, each with its weight, loaded once and kept.

The ``loras`` parameter of a Stable Diffusion model lists LoRA files and their weights::

    loras=[{"name": "style-a", "weight": 0.6}, {"path": "/loras/b.safetensors", "weight": 0.4}]
    loras="style-a:0.6, /loras/b.safetensors:0.4"      # the short text form (CLI, forms)

A name is a ``.safetensors`` file in the LoRA folder (the provider setting ``lora_dir``,
default ``<home>/loras``; subfolders give names like ``styles/ink``). In the text form an
entry is a path when it starts with ``/``, ``~`` or ``.`` (or holds a backslash), else a name;
entries are joined by ``,`` or ``+`` (inside a SmartParameter group ``,`` separates options,
so ``"[style-a, style-a:0.6 + b:0.4]"`` is two generations).

Each file is loaded into a pipeline once, as adapter ``lora_<sha256[:16]>`` of its content (two
names for one file share it), and kept (up to the setting ``max_loras`` per pipeline, least
recently used first out). A generation puts its set in place with ``set_adapters`` (and
``disable_lora`` when it has none): nothing is reloaded and nothing is fused into the model's
weights, so a generation without LoRAs after one with LoRAs is the base model, bit for bit.

A LoRA made for another model family fails with a :class:`ProviderError` naming the LoRA and
the model before the first denoising step: its safetensors header is checked against the UNet
first, and any other load error is explained the same way.
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import os
import re
import struct
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from packaging.version import Version

from ...core.errors import ProviderError, ValidationError, did_you_mean
from ...core.paths import inside_home
from ..checks import Check
from ..weightfiles import a1111_hash, file_sha256, read_safetensors_header, tensor_shapes

if TYPE_CHECKING:
    from ...core.records import ModelInfo
    from ..base import ProviderContext

PARAM = "loras"
SUFFIX = ".safetensors"
#: Most LoRAs one generation may use.
MAX_ITEMS = 8
WEIGHT_MIN, WEIGHT_MAX = -2.0, 2.0
#: LoRAs kept loaded per pipeline when the setting ``max_loras`` is not given.
DEFAULT_KEEP = 8
#: Text-feature width of the UNet's cross-attention → the family whose LoRAs have it.
FAMILY_BY_WIDTH = {768: "stable-diffusion-1", 1024: "stable-diffusion-2", 2048: "sdxl"}

_SPLIT = re.compile(r"[,+]")
_KEYS = ("name", "path", "weight")


# ---- the parameter -----------------------------------------------------------------------


def lora_property() -> dict[str, Any]:
    """The ``loras`` property of a Stable Diffusion spec: LoRA files applied together, with weights."""
    return {
        "type": "array",
        "title": "LoRAs",
        "description": (
            "LoRA files applied together, each with its weight: {\"name\": \"style-a\", \"weight\": 0.6} (a"
            " .safetensors file in the LoRA folder, setting lora_dir) or {\"path\": \"/loras/b.safetensors\","
            " \"weight\": 0.4}; the text form \"style-a:0.6, /loras/b.safetensors:0.4\" works too."
        ),
        "maxItems": MAX_ITEMS,
        "items": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1,
                         "description": "A file in the LoRA folder, without .safetensors (subfolders: 'styles/ink')."},
                "path": {"type": "string", "minLength": 1, "description": "A .safetensors LoRA file anywhere."},
                "weight": {"type": "number", "minimum": WEIGHT_MIN, "maximum": WEIGHT_MAX, "default": 1.0,
                           "description": "How strongly the LoRA acts: 0 is off, negative inverts it."},
            },
            "oneOf": [{"required": ["name"]}, {"required": ["path"]}],
            "additionalProperties": False,
        },
    }


def lora_folder(context: ProviderContext) -> Path:
    """The LoRA folder: the provider setting ``lora_dir``, else ``<home>/loras`` (it need not exist)."""
    configured = context.settings.get("lora_dir")
    if configured:
        return Path(os.path.expanduser(str(configured))).resolve()
    return Path(context.home) / "loras"


def normalise_loras(value: Any) -> list[dict[str, Any]]:
    """The ``loras`` value as a list of ``{"name" | "path": …, "weight": float}``.

    Takes that list, one such mapping, the text form, or a list mixing mappings and texts.
    ``scale`` is read as ``weight`` (fal's and diffusers' word). Ranges are left to the spec.

    Raises:
        ValidationError: an entry that is neither a name nor a path, or a weight that is no number.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return _parse_text(value, 0)
    if isinstance(value, Mapping):
        return [_entry(value, 0)]
    if isinstance(value, (list, tuple)):
        out: list[dict[str, Any]] = []
        for item in value:
            if isinstance(item, str):
                out.extend(_parse_text(item, len(out)))
            elif isinstance(item, Mapping):
                out.append(_entry(item, len(out)))
            else:
                raise _error(len(out), f"must be a name, a path or a mapping like {{'name': 'style-a', 'weight': 0.6}};"
                                       f" got {_show(item)}")
        return out
    raise ValidationError(PARAM, f"loras must be a list like [{{'name': 'style-a', 'weight': 0.6}}] or a text like"
                                 f" 'style-a:0.6'; got {_show(value)}")


def check_files(entries: Sequence[Mapping[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """``entries`` with each path made absolute; fails, saying what is there, for a file that is not.

    Raises:
        ValidationError: an unknown name (with the closest names of ``folder``) or a missing file.
    """
    out = []
    for i, entry in enumerate(entries):
        checked = dict(entry)
        if "path" in entry:
            checked["path"] = str(_check_path(str(entry["path"]), i))
        else:
            _named_file(str(entry["name"]), folder, i)
        out.append(checked)
    return out


def available(folder: Path) -> list[str]:
    """Names of the LoRAs in ``folder`` (``.safetensors`` files, subfolders included), sorted."""
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob(f"*{SUFFIX}") if p.is_file())


def lora_key(value: Any) -> tuple:
    """A hashable stand-in of a ``loras`` value: generations share a pipeline call only when theirs are equal."""
    try:
        entries = normalise_loras(value)
    except ValidationError:
        return ("invalid", repr(value))
    return tuple((("path", e["path"]) if "path" in e else ("name", e["name"])) + (float(e["weight"]),) for e in entries)


def _entry(item: Mapping[str, Any], i: int) -> dict[str, Any]:
    item = dict(item)
    if "scale" in item and "weight" not in item:
        item["weight"] = item.pop("scale")
    unknown = [k for k in item if k not in _KEYS]
    if unknown:
        raise _error(i, f"has no key {unknown[0]!r}.{did_you_mean(str(unknown[0]), _KEYS)} Give 'name' (a file in"
                        " the LoRA folder) or 'path' (a .safetensors file), and optionally 'weight'.")
    has_name, has_path = item.get("name") not in (None, ""), item.get("path") not in (None, "")
    if has_name == has_path:
        raise _error(i, "needs exactly one of 'name' (a file in the LoRA folder) or 'path' (a .safetensors file);"
                        f" got {_show(item)}")
    key = "name" if has_name else "path"
    if not isinstance(item[key], (str, os.PathLike)):
        raise _error(i, f"{key} must be a text; got {_show(item[key])}", sep=".")
    text = os.fspath(item[key]).strip()
    if key == "name" and text.endswith(SUFFIX):
        text = text[: -len(SUFFIX)]
    return {key: text, "weight": _weight(item.get("weight", 1.0), i)}


def _parse_text(text: str, start: int) -> list[dict[str, Any]]:
    """``"style-a:0.6, /x/b.safetensors:0.4"`` → entries; an empty text is no LoRA."""
    out = []
    for part in _SPLIT.split(text):
        part = part.strip()
        if not part:
            continue
        i = start + len(out)
        target, weight = part, 1.0
        head, sep, tail = part.rpartition(":")
        if sep and head and _number(tail) is not None:
            target, weight = head.strip(), _weight(tail, i)
        is_path = target.startswith(("/", "~", ".")) or "\\" in target or re.match(r"^[A-Za-z]:[\\/]", target)
        out.append(_entry({"path" if is_path else "name": target, "weight": weight}, i))
    return out


def _weight(value: Any, i: int) -> float:
    number = _number(value) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, numbers.Real) or not math.isfinite(float(number)):
        raise _error(i, f"weight must be a number from {WEIGHT_MIN:g} to {WEIGHT_MAX:g}; got {_show(value)}", sep=".")
    return float(number)


def _number(text: Any) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _check_path(text: str, i: int) -> Path:
    path = Path(os.path.expanduser(text)).resolve()
    if not path.is_file():
        where = "a folder" if path.is_dir() else "no file"
        raise _error(i, f"{where} at {path}; give the path of a {SUFFIX} LoRA file.", sep=": ")
    if path.suffix.lower() != SUFFIX:
        raise _error(i, f"{path} is not a {SUFFIX} file; LoRAs are loaded from safetensors only (pickled .ckpt,"
                        " .pt and .bin files can run code when loaded): convert it to safetensors first.", sep=": ")
    return path


def _named_file(name: str, folder: Path, i: int) -> Path:
    path = folder / f"{name}{SUFFIX}"
    if os.path.isabs(name) or inside_home(folder, f"{name}{SUFFIX}") is None:
        raise _error(i, f"{name!r} is not a LoRA name: a name is a file name inside the LoRA folder {folder}"
                        " (subfolders allowed, no '..'); for a file elsewhere give {'path': '/path/to/lora.safetensors'}.",
                     sep=": ")
    if path.is_file():
        return path.resolve()
    if not folder.is_dir():
        raise _error(i, f"no LoRA named {name!r}: the LoRA folder {folder} does not exist. Create it and put"
                        f" {SUFFIX} files there, set the diffusers setting lora_dir to your folder, or give"
                        " {'path': '/path/to/lora.safetensors'}.", sep=": ")
    names = available(folder)
    known = f" Available: {', '.join(names[:20])}{' …' if len(names) > 20 else ''}." if names else \
        f" The folder has no {SUFFIX} files."
    raise _error(i, f"no LoRA named {name!r} in {folder}.{did_you_mean(name, names)}{known}", sep=": ")


def _error(i: int, message: str, sep: str = " ") -> ValidationError:
    return ValidationError(PARAM, f"loras[{i}]{sep}{message}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


# ---- files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoraRef:
    """One LoRA of a generation: its file, content hash and weight."""

    path: Path
    sha256: str
    weight: float
    name: str | None = None

    @property
    def adapter(self) -> str:
        """The adapter name in the pipeline: the same for every name or path of one file."""
        return f"lora_{self.sha256[:16]}"

    @property
    def label(self) -> str:
        """How the user named it: its name, else its file name."""
        return self.name or self.path.name

    def record(self) -> dict[str, Any]:
        """What the return parameter set keeps of it (``a1111_hash``: see :func:`a1111_hash`)."""
        out: dict[str, Any] = {"name": self.name} if self.name else {}
        out.update(file=str(self.path), sha256=self.sha256, a1111_hash=a1111_hash(self.path), weight=self.weight,
                   adapter=self.adapter)
        return out


def resolve_loras(value: Any, context: ProviderContext) -> list[LoraRef]:
    """The LoRAs a ``loras`` value names, with their files found and hashed (nothing is loaded)."""
    entries = normalise_loras(value)
    if not entries:
        return []
    folder = lora_folder(context)
    refs = []
    for i, entry in enumerate(entries):
        if "path" in entry:
            path = _check_path(str(entry["path"]), i)
        else:
            path = _named_file(str(entry["name"]), folder, i)
        refs.append(LoraRef(path, file_sha256(path), float(entry["weight"]), entry.get("name")))
    return refs


def header_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor name → shape from a LoRA file's safetensors header (the tensors are not read)."""
    try:
        return tensor_shapes(read_safetensors_header(path))
    except (OSError, ValueError, struct.error) as exc:
        raise ProviderError(f"LoRA {path} is not a readable safetensors file ({exc}).") from exc


_CROSS_KEY = re.compile(r"attn2[._](?:processor[._])?to_k(?:_lora)?[._](?:lora_A|lora[._]down|lora_down)(?:[._]\w+)?[._]weight$")


def cross_attention_width(shapes: Mapping[str, Sequence[int]]) -> int | None:
    """The text-feature width a LoRA's UNet cross-attention takes (768 SD 1, 1024 SD 2, 2048 SDXL), if it says."""
    widths = {int(s[-1]) for k, s in shapes.items() if _CROSS_KEY.search(k) and len(s) == 2}
    return widths.pop() if len(widths) == 1 else None


# ---- pipelines ---------------------------------------------------------------------------


@dataclass
class _PipeLoras:
    """What this module did to one pipeline: its adapters by last use, and the set last put in place."""

    recent: OrderedDict = field(default_factory=OrderedDict)
    #: ``((adapter, weight), …)`` active now; ``()`` LoRAs disabled; None not known (after a load).
    applied: tuple | None = None


_pipes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_pipes_lock = threading.Lock()


def apply_loras(pipe, refs: Sequence[LoraRef], model: ModelInfo, keep: int = DEFAULT_KEEP) -> float:
    """Make exactly ``refs`` active on ``pipe`` with their weights; load the ones it lacks.

    Call it with the pipeline's lock held. The set already in place costs nothing; another set of
    loaded LoRAs costs one ``set_adapters``. Returns the seconds spent loading (0 when all were there).

    Raises:
        ProviderError: a LoRA that does not fit ``model`` (raised before the pipeline runs).
    """
    with _pipes_lock:
        state = _pipes.setdefault(pipe, _PipeLoras())
    if not refs:
        if state.applied != () and _adapters(pipe):
            pipe.disable_lora()
        state.applied = ()
        return 0.0
    if not hasattr(pipe, "load_lora_weights"):
        raise ProviderError(f"{model.id} ({type(pipe).__name__}) does not take LoRAs.")
    _check_backend()
    weights: dict[str, float] = {}
    for ref in refs:
        weights[ref.adapter] = weights.get(ref.adapter, 0.0) + ref.weight  # one file named twice adds up
    wanted = tuple(weights.items())
    seconds = 0.0
    if state.applied != wanted:
        # Unknown until set_adapters returns: a load activates its adapter alone, a failure may leave traces.
        previous, state.applied = state.applied, None
        present = _adapters(pipe)
        for ref in refs:
            if ref.adapter not in present:
                seconds += _load(pipe, ref, model)
                present.add(ref.adapter)
        if previous in ((), None):
            pipe.enable_lora()  # disable_lora outlives set_adapters: undo it
        pipe.set_adapters(list(weights), list(weights.values()))
        state.applied = wanted
    for adapter in weights:
        state.recent.pop(adapter, None)
        state.recent[adapter] = None
    if len(state.recent) > keep:
        _evict(pipe, state.recent, set(weights), keep)  # after set_adapters: only inactive ones go
    return seconds


def loaded_adapters(pipe) -> set[str]:
    """Adapter names loaded into ``pipe`` (its UNet and text encoders)."""
    return _adapters(pipe)


def _adapters(pipe) -> set[str]:
    names: set[str] = set()
    for component in getattr(pipe, "_lora_loadable_modules", ("unet",)):
        config = getattr(getattr(pipe, component, None), "peft_config", None)
        if isinstance(config, Mapping):
            names.update(config)
    return names


def _check_backend() -> None:
    """Refuse before any step when this environment's peft cannot load LoRAs, naming the versions."""
    from diffusers.utils import USE_PEFT_BACKEND
    from diffusers.utils.constants import MIN_PEFT_VERSION

    if not USE_PEFT_BACKEND:
        raise ProviderError("LoRAs need the peft package (>= 0.13): pip install 'imagen-nb[local]' or pip install peft.")
    peft = _installed("peft")
    if Version(peft) < Version(MIN_PEFT_VERSION):
        raise ProviderError(_version_message(f"diffusers {_installed('diffusers')} needs peft >= {MIN_PEFT_VERSION}"))


def _installed(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _version_message(problem: str) -> str:
    """One line: what cannot work, both versions of the transformers/peft pair, and the fix."""
    return (
        f"LoRAs cannot load in this environment: {problem} (installed: transformers {_installed('transformers')},"
        f" peft {_installed('peft')}). Install a pair that works together, e.g. the versions pinned in"
        f" imagen-nb's requirements.lock (./dev.sh does), or pip install -U 'imagen-nb[local]'."
    )


def _peft_version_error(exc: BaseException) -> str | None:
    """The one-line message for a library's own "version of PEFT … not compatible" error, else None."""
    text = str(exc)
    if "version of PEFT" in text or "PEFT version" in text or "peft version" in text.lower():
        return _version_message(text.strip().rstrip("."))
    return None


def _load(pipe, ref: LoraRef, model: ModelInfo) -> float:
    _check_fits(pipe, ref, model)
    started = time.perf_counter()
    try:
        with _quiet_loading():
            pipe.load_lora_weights(str(ref.path), adapter_name=ref.adapter)
    except Exception as exc:
        with _quiet_loading():
            _forget(pipe, ref.adapter)
        versions = _peft_version_error(exc)
        if versions:
            raise ProviderError(versions) from exc
        raise ProviderError(
            f"LoRA {ref.label!r} ({ref.path}) could not be loaded into {model.id} ({model.family}):"
            f" {_short(exc)} Is it a LoRA made for {model.family}?"
        ) from exc
    if ref.adapter not in _adapters(pipe):
        keys = sorted(header_shapes(ref.path))
        first = f" (its weights are named like {keys[0]!r})" if keys else ""
        raise ProviderError(
            f"LoRA {ref.label!r} ({ref.path}) has no weights for the UNet or text encoder of {model.id}"
            f" ({model.family}){first}: it was made for another model family."
        )
    return time.perf_counter() - started


def _check_fits(pipe, ref: LoraRef, model: ModelInfo) -> None:
    """Compare the LoRA's cross-attention width with the UNet's before loading anything."""
    width = cross_attention_width(header_shapes(ref.path))
    unet = getattr(pipe, "unet", None)
    expected = getattr(getattr(unet, "config", None), "cross_attention_dim", None)
    if width is None or not isinstance(expected, int) or width == expected:
        return
    made_for = FAMILY_BY_WIDTH.get(width)
    hint = f" It looks like a {made_for} LoRA." if made_for and made_for != model.family else \
        " It was made for another model family."
    raise ProviderError(
        f"LoRA {ref.label!r} ({ref.path}) does not fit {model.id} ({model.family}): its cross-attention takes"
        f" {width}-wide text features, this model's UNet {expected}-wide.{hint} Use a LoRA made for {model.family}."
    )


def _evict(pipe, recent: OrderedDict, wanted: set[str], keep: int) -> None:
    """Delete the least recently used adapters beyond ``keep``, never one of ``wanted``."""
    present = _adapters(pipe)
    for adapter in [a for a in recent if a not in present]:
        del recent[adapter]
    spare = [a for a in recent if a not in wanted]
    gone = spare[: max(0, len(recent) - max(int(keep), len(wanted)))]
    if gone:
        with _quiet_loading():
            pipe.delete_adapters(gone)
        for adapter in gone:
            del recent[adapter]


def _forget(pipe, adapter: str) -> None:
    """Remove what a failed load may have left of ``adapter`` (diffusers cleans up most of it)."""
    if adapter in _adapters(pipe):
        with contextlib.suppress(Exception):
            pipe.delete_adapters([adapter])


class _LoadNoise(logging.Filter):
    """Drops diffusers' log lines that our errors replace or that say nothing to a user here."""

    PREFIXES = ("No LoRA keys associated to", "Loading lora_")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIXES)


_noise_filter = _LoadNoise()
#: peft warns on every second adapter ("multiple adapters … know what you are doing": we do), and
#: diffusers' cleanup of a failed load warns that the adapter it deletes was active.
_NOISY_WARNINGS = (r"Already found a `peft_config` attribute", r"Adapter lora_\w+ was active which is now deleted")


@contextlib.contextmanager
def _quiet_loading():
    """Hide the load chatter of diffusers and peft (a LoRA without text-encoder weights warns, for one)."""
    import warnings

    from .pipelines import quiet_progress_bars

    for name in ("diffusers.loaders.peft", "diffusers.loaders.lora_base"):
        logger = logging.getLogger(name)
        if _noise_filter not in logger.filters:
            logger.addFilter(_noise_filter)
    with warnings.catch_warnings(), quiet_progress_bars():  # text-encoder weights draw a loading bar
        for pattern in _NOISY_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern, category=UserWarning)
        yield


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text if len(text) <= 300 else text[:297] + "…"
    return text if text.endswith((".", "…")) else text + "."


# ---- the factory's hooks -----------------------------------------------------------------


def form_check() -> Check:
    """``loras-form`` (before the spec check): the ``loras`` short forms put in the list form the spec checks."""

    def run(given: Mapping[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(params, Mapping) or params.get(PARAM) is None:
            return params
        return {**params, PARAM: normalise_loras(params[PARAM])}

    return Check("loras-form", run)


def files_check(context: ProviderContext) -> Check:
    """``lora-files`` (after the spec check): each LoRA named is found in the LoRA folder, each path exists."""

    def run(given: Mapping[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        if params.get(PARAM):
            params[PARAM] = check_files(params[PARAM], lora_folder(context))
        return params

    return Check("lora-files", run)


@dataclass(frozen=True)
class LoraSet:
    """The LoRAs of one pipeline call (the batch key makes them the same for every generation in it)."""

    refs: tuple[LoraRef, ...] = ()
    keep: int = DEFAULT_KEEP

    @classmethod
    def of(cls, params: Mapping[str, Any], context: ProviderContext) -> LoraSet:
        """The set ``params`` asks for, files found and hashed (call it before taking the pipeline's lock)."""
        keep = int(context.settings.get("max_loras", DEFAULT_KEEP) or DEFAULT_KEEP)
        return cls(tuple(resolve_loras(params.get(PARAM), context)), keep)

    def apply(self, pipe, model: ModelInfo) -> float:
        """Put this set in place on ``pipe`` (lock held); the seconds spent loading files."""
        return apply_loras(pipe, self.refs, model, self.keep)

    def returned_fields(self, load_seconds: float) -> dict[str, Any]:
        """What the return parameter set records: each LoRA's file, hash and weight (nothing without LoRAs)."""
        if not self.refs:
            return {}
        out: dict[str, Any] = {PARAM: [ref.record() for ref in self.refs]}
        if load_seconds:
            out["lora_load_seconds"] = round(load_seconds, 4)
        return out
