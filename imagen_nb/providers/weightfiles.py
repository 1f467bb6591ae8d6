"""Weight files: content hashes and safetensors headers, read once and cached.

The one place that hashes a model or LoRA file (sha256 with :func:`hashlib.file_digest`, kept in
memory by path, size and modification time, since hashing gigabytes costs seconds) and that reads
a ``.safetensors`` header (tensor names, dtypes and shapes without loading any weight).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from pathlib import Path
from typing import Any

#: Suffixes of weight files (what a folder's fingerprint covers, with its ``.json`` configs).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth")
#: Largest safetensors header read (the format allows 100 MB; real ones are well under 10 MB).
MAX_HEADER_BYTES = 100 * 2**20

_cache: dict[tuple[str, str, int, int], str] = {}
_lock = threading.Lock()


def _cached(kind: str, path: Path, compute) -> str:
    stat = path.stat()
    key = (kind, str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        known = _cache.get(key)
    if known is None:
        known = compute()
        with _lock:
            _cache[key] = known
    return known


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's content (hex), cached while its size and mtime stay the same."""
    path = Path(path)

    def compute() -> str:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()

    return _cached("sha256", path, compute)


def a1111_hash(path: str | os.PathLike) -> str:
    """A LoRA file's hash as AUTOMATIC1111 writes it in ``Lora hashes`` (Civitai's AutoV3).

    For ``.safetensors``: the first 12 hex digits of the sha256 of the file after its header (so
    editing the metadata keeps the hash); for other files, of the whole file. Cached as
    :func:`file_sha256` is.
    """
    path = Path(path)

    def compute() -> str:
        with open(path, "rb") as f:
            if path.suffix == ".safetensors":
                (size,) = struct.unpack("<Q", f.read(8))
                f.seek(8 + size)
            return hashlib.file_digest(f, "sha256").hexdigest()[:12]

    return _cached("a1111", path, compute)


def fingerprint(location: str) -> str:
    """sha256 of a single-file checkpoint, or over a folder's weight files and configs (by relative
    path); ``""`` when ``location`` is not a local path (a hub id the hub cache resolved)."""
    path = Path(location)
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        return ""
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*")):
        if file.is_file() and (file.suffix in WEIGHT_SUFFIXES or file.suffix == ".json"):
            digest.update(str(file.relative_to(path)).encode())
            digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def read_safetensors_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a ``.safetensors`` file (tensor name → dtype, shape, offsets), read
    without loading any weight. Raises ValueError when the file is not safetensors."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("too short to be a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if not 2 <= length <= MAX_HEADER_BYTES:
            raise ValueError(f"not a safetensors file (header length {length})")
        raw = f.read(length)
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise ValueError("not a safetensors file (its header is not JSON)") from exc
    if not isinstance(header, dict):
        raise ValueError("not a safetensors file")
    return header


def tensor_shapes(header: dict[str, Any]) -> dict[str, list[int]]:
    """Tensor name → shape from a safetensors header (its ``__metadata__`` left out)."""
    return {k: list(v.get("shape", ())) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
