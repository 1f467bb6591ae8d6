"""A model's fingerprint for the return parameter set: sha256 over its weight files.

Hashing gigabytes costs seconds, so each file's hash is kept in memory by (path, size, mtime)
and a model is fingerprinted once per load.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth")
_cache: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached by path, size and modification time."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _cache:
            return _cache[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _lock:
        _cache[key] = value
    return value


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
