"""Image inputs of an order, opened before it is queued.

``studio.order(..., image="notes.txt")`` used to be accepted and fail at run time with
"cannot identify image file <_io.BytesIO object at 0x…>". :func:`check_image_inputs` opens
every local file (and data URI) given for an image input of the model and raises a
:class:`ValidationError` naming the parameter when one is missing or not an image. URLs are
left to the provider (fetching them here would put the network before the queue).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..core.errors import ValidationError

_URL = re.compile(r"^https?://", re.I)
_DATA_URI = re.compile(r"^data:(?P<type>[^,;]*)(?P<b64>;base64)?,", re.I)
#: the image files an order may start from
KINDS = "a PNG, JPEG or WEBP file, a product id or an http(s) URL"


def image_inputs(spec: Mapping[str, Any] | None) -> list[str]:
    """Names of a spec's file inputs that take an image (``image``, ``mask_image``, ``control_image``…)."""
    props = spec.get("properties", {}) if isinstance(spec, Mapping) else {}
    out = []
    for name, prop in props.items():
        if not isinstance(prop, Mapping):
            continue
        is_file = prop.get("format") == "uri" or any(k.startswith("x-") and k.endswith("-file") and v
                                                    for k, v in prop.items())
        media = str(prop.get("contentMediaType") or "")
        if is_file and ("image" in name or "mask" in name or media.startswith("image/")):
            out.append(name)
    return out


def _short(value: str) -> str:
    return value if len(value) <= 80 else value[:60] + "…" + value[-15:]


def _open(data: bytes) -> str | None:
    """None when ``data`` decodes as an image, else the reason it does not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        text = str(exc)
        return "not an image Pillow can read" if "cannot identify" in text or not text else text
    except Image.DecompressionBombError as exc:  # pragma: no cover - a hostile file
        return str(exc)
    return None


def _check_one(name: str, value: Any) -> None:
    if isinstance(value, (bytes, bytearray)):
        reason = _open(bytes(value))
        if reason:
            raise ValidationError(name, f"the bytes given are not an image ({reason}); give {KINDS}")
        return
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value or _URL.match(value):
        return  # a PIL image, a URL, or not a file at all (the spec's own checks say so)
    match = _DATA_URI.match(value)
    if match:
        try:
            data = base64.b64decode(value[match.end():], validate=True) if match["b64"] else value[match.end():].encode()
        except (binascii.Error, ValueError) as exc:
            raise ValidationError(name, f"the data URI does not decode ({exc}); give {KINDS}") from exc
        reason = _open(data)
        if reason:
            raise ValidationError(name, f"the data URI is not an image ({reason}); give {KINDS}")
        return
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValidationError(name, f"no file {_short(value)}; give {KINDS}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(name, f"cannot read {path}: {exc.strerror or exc}") from exc
    reason = _open(data)
    if reason:
        raise ValidationError(name, f"{path.name} is not an image ({reason}); give {KINDS}")


def check_image_inputs(spec: Mapping[str, Any] | None, param_sets: Iterable[Mapping[str, Any]]) -> None:
    """Open every local image given for an image input of ``spec`` (each distinct value once).

    Raises :class:`ValidationError` naming the parameter for a missing file or one that is not an image.
    """
    names = image_inputs(spec)
    if not names:
        return
    seen: set[tuple[str, Any]] = set()
    for params in param_sets:
        for name in names:
            value = params.get(name)
            key = (name, value if isinstance(value, (str, bytes, Path)) else id(value))
            if value is None or key in seen:
                continue
            seen.add(key)
            _check_one(name, value)
