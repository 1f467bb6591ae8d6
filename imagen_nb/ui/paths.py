"""Which local files a panel request may make the server read: only files inside the studio's
home (its products and the images uploaded through the Order panel, kept in ``<home>/uploads``).

A panel may be served to a browser on another machine (``imagen-nb serve``): a path typed into
an image input, a LoRA or the thumbnail preview names a file on the *server*, so a file
outside the home (``/etc/shadow``, ``~/.ssh/…``) is refused before anything opens it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..core.smart import possible_values
from .bridge import PanelRequestError
from ..core.file_inputs import IMAGE_NAMES, file_inputs

_NOT_A_PATH = re.compile(r"(https?://|data:)|[0-9a-f]{26}$", re.IGNORECASE)
#: Parameters that name LoRA files (by name in the LoRA folder, or by path).
LORA_FIELDS = ("loras", "lora")
#: What a refusal says (the fix is the Upload button).
OUTSIDE = ("a panel reads only files inside the studio's home ({home}); {path} is outside it: "
           "pick the file with Upload instead")


def outside_home(home: str | Path, value: str) -> Path | None:
    """The file ``value`` names when it lies outside ``home`` (symlinks followed), else ``None``
    (inside the home, or not a local path at all: a URL, a data URI, a product id)."""
    text = value.strip()
    if not text or _NOT_A_PATH.match(text):
        return None
    try:
        path = Path(text).expanduser().resolve()
        root = Path(home).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL byte: not a file we read
        return Path(text)
    return None if path.is_relative_to(root) else path


def _file_fields(spec: Mapping[str, Any]) -> set[str]:
    return set(IMAGE_NAMES) | set(file_inputs(spec))


def _strings(value: Any, lora: bool) -> Iterable[str]:
    if isinstance(value, str):
        # A LoRA given by name lives in the LoRA folder; only a path-like value names a file.
        if not lora or "/" in value or "\\" in value or value.startswith("~") or value.endswith(".safetensors"):
            yield value
    elif isinstance(value, Mapping):
        for key in ("path", "file", "url"):
            if key in value:
                yield from _strings(value[key], lora=False)
        name = value.get("name") if lora else None
        if isinstance(name, str) and (os.path.isabs(name) or ".." in Path(name).parts):
            yield name  # a "name" climbing out of the LoRA folder is a path: checked as one
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item, lora)


def check_inputs(home: str | Path, spec: Mapping[str, Any], params: Mapping[str, Any],
                 tokens: Mapping[str, Any] | None = None) -> None:
    """Refuse base parameters whose image, file or LoRA inputs could name a file outside
    ``home`` in any generation (every option of a SmartParameter group and of a random pick is
    checked): a :class:`PanelRequestError` at that field."""
    fields = _file_fields(spec) | set(LORA_FIELDS)
    for name in fields & set(params):
        for value in possible_values(name, params[name], tokens=tokens):
            for text in _strings(value, lora=name in LORA_FIELDS):
                path = outside_home(home, text)
                if path is not None:
                    raise PanelRequestError(OUTSIDE.format(home=home, path=path), field=name)
