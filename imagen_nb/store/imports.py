"""Inspecting image files a user imports: format, size and any generation parameters inside.

A file to import is untrusted: :func:`inspect_file` decodes every pixel (a truncated or fake
image is refused) and checks the metadata against what the catalog can hold, dropping what it
cannot with a warning, before anything is copied.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Callable, Mapping

from PIL import Image

from imagen_nb.core.errors import ValidationError
from imagen_nb.core.inputs import clean_text
from imagen_nb.core.limits import (
    MAX_IMPORT_PIXELS,
    MAX_PARAMS_DEPTH,
    MAX_PARAMS_JSON_BYTES,
    MAX_PROMPT_CHARS,
    MAX_TEXT_CHUNK_BYTES,
)
from imagen_nb.store import pngmeta
from imagen_nb.store.thumbs import _DECODE_ERRORS

# Extension a product of each Pillow format is stored under.
_EXTS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tiff"}


@dataclass(frozen=True)
class ImportedFile:
    """What :func:`inspect_file` found in one file.

    Args:
        path: the file.
        media_type: from its content, not its name (``image/png``).
        ext: extension to store it under, from its content (``png``, ``jpg``, ``webp``).
        width: pixels.
        height: pixels.
        params: generation parameters found inside, under our names, or ``None``.
        model: model named inside, or ``None``.
        source: ``"imagen_nb"``, ``"a1111"`` or ``None`` (see :func:`pngmeta.read`).
        warnings: one sentence per piece of metadata that was in the file but is not imported
            (too long, damaged, or a value the catalog cannot hold), naming the key.
    """

    path: Path
    media_type: str
    ext: str
    width: int
    height: int
    params: Mapping[str, Any] | None
    model: str | None
    source: str | None
    warnings: tuple[str, ...] = field(default=())


def inspect_file(path: str | PathLike) -> ImportedFile:
    """Read an image file's format, size and embedded parameters, and check that it decodes.

    Every pixel is decoded once (JPEG at reduced scale), so a truncated file or one that only
    starts like an image is refused here rather than shown as a broken tile later. Embedded
    parameters go through :func:`clean_metadata`; what it drops is listed in ``warnings``.

    Raises:
        ValidationError: (``param="paths"``) the file is missing, is a folder, cannot be read,
            is not an image, does not decode, or has more than
            :data:`~imagen_nb.core.limits.MAX_IMPORT_PIXELS` pixels; the message names the file.
    """
    p = Path(path)
    if not p.exists():
        where = "" if p.is_absolute() else f" (relative paths start at {Path.cwd()})"
        raise ValidationError("paths", f"{p}: no such file; check the path{where}")
    if p.is_dir():
        raise ValidationError(
            "paths", f"{p} is a folder; pass the image files in it, e.g. sorted(Path(...).glob('*.png'))"
        )
    try:
        meta = pngmeta.read(p)
    except PermissionError as e:
        raise ValidationError("paths", f"{p}: cannot read it ({e.strerror}); check its permissions") from e
    except (ValueError, OSError) as e:
        raise ValidationError(
            "paths", f"{p} is not an image imagen-nb can import (PNG, JPEG, WEBP, GIF, BMP, TIFF): {e}"
        ) from e
    _check_decodes(p, meta)
    params, model, warnings = clean_metadata(meta["params"], meta["model"])
    fmt = meta["format"]
    return ImportedFile(
        path=p,
        media_type=meta["media_type"],
        ext=_EXTS.get(fmt, p.suffix.lower().removeprefix(".") or fmt.lower()),
        width=meta["width"],
        height=meta["height"],
        params=params,
        model=model,
        source=meta["source"] if params is not None or model is not None else None,
        warnings=tuple(meta["warnings"]) + tuple(warnings),
    )


def _check_decodes(p: Path, meta: Mapping[str, Any]) -> None:
    width, height = meta["width"], meta["height"]
    if width * height > MAX_IMPORT_PIXELS:
        raise ValidationError(
            "paths", f"{p} is {width:,} × {height:,} pixels, more than the {MAX_IMPORT_PIXELS:,} imagen-nb "
            "imports (decoding it would take gigabytes); scale it down first"
        )
    try:
        with Image.open(p) as im:
            if im.format == "JPEG":
                # Every block is still decoded, at 1/8 scale: as strict, 64 times less memory.
                im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
    except _DECODE_ERRORS as e:
        if "MAX_TEXT_" in str(e):  # Pillow's own limits on PNG text: PngImagePlugin.MAX_TEXT_CHUNK/MEMORY
            raise ValidationError(
                "paths", f"{p} holds more PNG text than is safe to read (a chunk inflating past "
                f"{MAX_TEXT_CHUNK_BYTES:,} bytes, or 64 MB in all: a decompression bomb?), so it was not "
                "imported; strip its metadata first (e.g. exiftool -all= FILE) to import the picture"
            ) from e
        ignored = "; ".join(meta["warnings"])
        raise ValidationError(
            "paths", f"{p} does not decode as an image ({e}{'; ' + ignored if ignored else ''}): it is "
            "truncated, damaged or not an image, so it was not imported; check that it opens in an "
            "image viewer, and re-save it from there to import what it shows"
        ) from e


# ---- metadata checks ---------------------------------------------------------------------

_INT64 = (-(2**63), 2**63 - 1)
_INT32 = (1, 2**31 - 1)
_MAX_MODEL_CHARS = 256
_MAX_WARNINGS = 20


class _Drop(Exception):
    """A value the catalog cannot hold: the key is dropped, the message says why."""


def _whole(low: int, high: int, what: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        number = int(value) if isinstance(value, float) and value.is_integer() else value
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise _Drop(f"is {_show(value)}, not {what}")
        return number
    return check


def _real(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Drop(f"is {_show(value)}, not a finite number")
    return float(value)


def _prompt(value: Any) -> str:
    if not isinstance(value, str):
        raise _Drop(f"is {_show(value)}, not text")
    return value


#: The checks of the values the catalog keeps in their own columns (explicit, run in order).
COLUMN_CHECKS: dict[str, Callable[[Any], Any]] = {
    "prompt": _prompt,
    "negative_prompt": _prompt,
    "seed": _whole(*_INT64, "a whole number from -2**63 to 2**63-1"),
    "num_inference_steps": _whole(*_INT32, "a whole number from 1 to 2**31-1"),
    "guidance_scale": _real,
    "width": _whole(*_INT32, "a whole number of pixels from 1 to 2**31-1"),
    "height": _whole(*_INT32, "a whole number of pixels from 1 to 2**31-1"),
}
"""Parameter name → check returning the value to store or raising; a failing key is dropped."""


def clean_metadata(params: Mapping[str, Any] | None, model: Any) -> tuple[dict[str, Any] | None, str | None, list[str]]:
    """Check parameters and a model id read from a file; return ``(params, model, warnings)``.

    The checks, in order: every value nests at most
    :data:`~imagen_nb.core.limits.MAX_PARAMS_DEPTH` deep and holds only finite numbers; text
    has its NUL characters and unpaired surrogates (which no UTF-8 text can hold) removed;
    :data:`COLUMN_CHECKS` for the values kept in their own columns (a seed of ``2**70``,
    ``"abc"`` or ``1e23`` is dropped); prompts longer than
    :data:`~imagen_nb.core.limits.MAX_PROMPT_CHARS` are cut; the largest values are dropped
    while the JSON is longer than :data:`~imagen_nb.core.limits.MAX_PARAMS_JSON_BYTES`; a
    model id must be text of at most 256 characters. Each drop or change adds one warning
    naming the key; nothing raises.
    """
    warnings: list[str] = []
    clean_model = None
    if model is not None:
        if isinstance(model, str) and 0 < len(model) <= _MAX_MODEL_CHARS:
            clean_model, changed = _clean_text(model)
            if changed:
                warnings.append("model: NUL characters or unpaired surrogates removed")
        else:
            warnings.append(f"model {_show(model)} is not a model id (text of at most {_MAX_MODEL_CHARS} "
                            "characters); dropped")
    if params is None:
        return None, clean_model, warnings
    out: dict[str, Any] = {}
    for key, value in params.items():
        name, _ = _clean_text(str(key))
        try:
            value, changed = _clean_value(value, 1)
            if changed:
                warnings.append(f"{name}: NUL characters or unpaired surrogates removed")
            check = COLUMN_CHECKS.get(name)
            if check is not None:
                value = check(value)
        except _Drop as e:
            warnings.append(f"{name} {e}; dropped")
            continue
        if name in ("prompt", "negative_prompt") and len(value) > MAX_PROMPT_CHARS:
            warnings.append(f"{name} has {len(value):,} characters; cut to the first {MAX_PROMPT_CHARS:,}")
            value = value[:MAX_PROMPT_CHARS]
        out[name] = value
    sizes = {k: len(json.dumps(v, ensure_ascii=False)) for k, v in out.items()}
    total = sum(sizes.values()) + sum(len(k) + 6 for k in sizes)
    for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
        if total <= MAX_PARAMS_JSON_BYTES:
            break
        total -= sizes[key] + len(key) + 6
        del out[key]
        warnings.append(f"{key} takes {sizes[key]:,} bytes of JSON, more than the parameters may hold "
                        f"({MAX_PARAMS_JSON_BYTES:,} bytes in all); dropped")
    if len(warnings) > _MAX_WARNINGS:  # a file with 100,000 bad keys gets a few lines, not 100,000
        warnings[_MAX_WARNINGS:] = [f"and {len(warnings) - _MAX_WARNINGS:,} more keys dropped or changed"]
    return out, clean_model, warnings


def _clean_value(value: Any, depth: int) -> tuple[Any, bool]:
    """The value with its text cleaned, and whether anything changed; raises _Drop."""
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise _Drop(f"holds {value}, not a finite number")
    if isinstance(value, (list, dict)):
        if depth >= MAX_PARAMS_DEPTH:
            raise _Drop(f"nests more than {MAX_PARAMS_DEPTH} levels deep")
        changed = False
        if isinstance(value, list):
            items = []
            for item in value:
                item, c = _clean_value(item, depth + 1)
                items.append(item)
                changed |= c
            return items, changed
        mapping = {}
        for key, item in value.items():
            key, c1 = _clean_text(str(key))
            item, c2 = _clean_value(item, depth + 1)
            mapping[key] = item
            changed |= c1 or c2
        return mapping, changed
    return value, False


_clean_text = clean_text  # NUL removed, lone surrogates replaced: the one definition, in core.inputs


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
