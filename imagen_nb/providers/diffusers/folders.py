"""The model folder: models a user keeps (or links) in one place, listed as ``diffusers:<name>``.

The folder is the provider setting ``model_dir`` (default ``<home>/models``). Each entry is a
model named after it:

- a diffusers folder (it holds ``model_index.json``) → ``diffusers:<folder name>``;
- a single-file checkpoint ``<name>.safetensors`` / ``<name>.ckpt`` → ``diffusers:<name>``;
- a link to either: a symbolic link, or ``<name>.link.json`` ``{"path": "/abs/path"}`` where
  symbolic links cannot be made (Windows without developer mode).

:func:`add_model` makes such a link. Listing reads JSON files and safetensors headers only:
neither torch nor diffusers is imported.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Mapping

from ...core.errors import UnknownModelError
from ...core.records import ModelInfo
from .checkpoints import SUFFIXES, checkpoint_info, config_fits, file_model
from .models import TINY, TINY_UPSCALERS, folder_model
from .srnet import SR_SUFFIXES
from .upscalers import is_sr_file, sr_file_model

log = logging.getLogger(__name__)

LINK_SUFFIX = ".link.json"
#: Files the folder lists: checkpoints, and super-resolution weights (``.pth`` is always SR).
ALL_SUFFIXES = tuple(dict.fromkeys(SUFFIXES + SR_SUFFIXES))
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class LocalModel:
    """A model of the model folder: its name, the files it points to and its ModelInfo."""

    name: str
    kind: str  # "folder", "file" (a checkpoint) or "sr" (super-resolution weights)
    path: Path
    entry: Path
    info: ModelInfo


def model_dir(settings: Mapping[str, Any], home: Path) -> Path:
    """The model folder: ``settings["model_dir"]`` (``~`` expanded), else ``<home>/models``."""
    value = settings.get("model_dir")
    return Path(os.path.expanduser(str(value))).absolute() if value else Path(home) / "models"


def scan(folder: Path) -> list[LocalModel]:
    """Every model in ``folder``, sorted by name; entries that are no model are logged and skipped."""
    found: dict[str, LocalModel] = {}
    for name, entry in _entries(folder):
        if name in found:
            log.warning("model folder %s: %s is hidden by %s, which has the same name", folder, entry.name,
                        found[name].entry.name)
            continue
        try:
            model = _local_model(name, entry)
        except UnknownModelError as exc:
            log.warning("model folder %s: skipping %s: %s", folder, entry.name, exc)
            continue
        if model is not None:
            found[name] = model
    return [found[name] for name in sorted(found, key=str.lower)]


def find(folder: Path, name: str) -> LocalModel | None:
    """The model called ``name`` in ``folder``, or None (raises UnknownModelError when the entry
    exists but is no model this provider runs)."""
    if not _NAME.match(name) or name == TINY or name in TINY_UPSCALERS:
        return None
    for candidate, entry in _entries(folder, only=name):
        if candidate == name:
            return _local_model(name, entry)
    return None


def is_plain_name(name: str) -> bool:
    """True when ``name`` could be a model folder name (not a path, not a hub id)."""
    return bool(_NAME.match(name))


def unknown_name(folder: Path, name: str) -> UnknownModelError:
    """The error for a name that is neither ``tiny`` nor in the model folder, with the names there."""
    from ...core.errors import did_you_mean

    names = [m.name for m in scan(folder)]
    return UnknownModelError(
        f"provider 'diffusers' has no model {name!r}.{did_you_mean(name, [TINY, *names])} Use 'tiny', a name in"
        f" the model folder {folder} ({', '.join(names) or 'empty'}; `studio.add_model(path)` adds one), a local"
        " folder or checkpoint path, or a Hugging Face Hub id 'owner/name'."
    )


def _entries(folder: Path, only: str | None = None) -> Iterator[tuple[str, Path]]:
    """(model name, entry path) for each entry of ``folder``; folders before files of the same name."""
    if only is not None:
        paths = [folder / only, *(folder / f"{only}{suffix}" for suffix in ALL_SUFFIXES),
                 folder / f"{only}{LINK_SUFFIX}"]
        paths = [p for p in paths if p.exists() or p.is_symlink()]
    else:
        try:
            paths = sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name))
        except OSError:
            return
    for path in paths:
        if path.name.startswith("."):
            continue
        if path.name.endswith(LINK_SUFFIX):
            yield path.name[: -len(LINK_SUFFIX)], path
        elif path.is_dir():
            yield path.name, path
        elif path.suffix in ALL_SUFFIXES:
            yield path.stem, path


def _local_model(name: str, entry: Path) -> LocalModel | None:
    if name == TINY:
        log.warning("model folder entry %s is ignored: 'tiny' is the built-in tiny model", entry)
        return None
    target = _target(entry)
    if target.is_dir():
        if not (target / "model_index.json").is_file():
            return None  # an ordinary folder (notes, images…) in the model folder
        info = folder_model(target)
        kind = "folder"
    elif target.is_file() and is_sr_file(target):
        info = sr_file_model(target, name)
        kind = "sr"
    elif target.is_file() and target.suffix in SUFFIXES:
        info = file_model(target)
        kind = "file"
    else:
        raise UnknownModelError(f"{entry} points to {target}, which is neither a diffusers folder nor a checkpoint")
    linked = f" → {target}" if entry.is_symlink() or entry.name.endswith(LINK_SUFFIX) else ""
    if kind == "sr":
        description = info.description + (f" Linked from the model folder: {entry.name}{linked}." if linked else "")
    elif kind == "file":
        description = info.description + (f" Linked from the model folder: {entry.name}{linked}." if linked else "")
    else:
        description = f"{info.family} from the diffusers folder {entry.name}{linked}."
    return LocalModel(name, kind, target, entry, replace(info, name=name, description=description))


def _target(entry: Path) -> Path:
    """Where an entry's files are: a marker's ``path``, a link's target, or the entry itself."""
    if entry.name.endswith(LINK_SUFFIX):
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
            return Path(data["path"]).expanduser()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UnknownModelError(f"{entry} is not a model link ({{\"path\": …}}): {exc}") from exc
    return entry.resolve()


def add_model(folder: Path, path: str | os.PathLike, name: str | None = None) -> LocalModel:
    """Register the diffusers folder or checkpoint at ``path`` in the model folder ``folder`` under
    ``name`` (default: the folder's name or the file's stem) by linking to it; the files stay where
    they are. Adding the same path under the same name again is a no-op.

    Raises UnknownModelError that says what is wrong: nothing at ``path``, not a model, a family
    this provider does not run, or a name already taken by another model.
    """
    source = Path(os.path.expanduser(str(path))).absolute()
    if not source.exists():
        raise UnknownModelError(f"cannot add {path}: there is no file or folder there.")
    source = source.resolve()
    if source.is_dir():
        folder_model(source)  # raises: no model_index.json, or a pipeline this provider does not run
        suffix = ""
    elif source.is_file() and is_sr_file(source):
        suffix = source.suffix
    elif source.suffix in SUFFIXES:
        checkpoint_info(source)  # raises: unreadable, or no family this provider runs
        suffix = source.suffix
    else:
        raise UnknownModelError(
            f"cannot add {source}: a model is a diffusers folder (it holds model_index.json) or a single-file"
            " checkpoint ending in .safetensors or .ckpt, or super-resolution weights (.pth, .safetensors)."
        )
    name = name if name is not None else (source.name if source.is_dir() else source.stem)
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith(LINK_SUFFIX):
        raise UnknownModelError(
            f"model name {name!r} cannot be used: a name is letters, digits, '.', '_', '+' or '-', starting with a"
            " letter or digit; pass name='…'."
        )
    if name == TINY:
        raise UnknownModelError("'tiny' is the built-in tiny model; pass another name='…'.")
    existing = find(folder, name) if folder.is_dir() else None
    if existing is not None:
        if existing.path.resolve() == source:
            return existing
        raise UnknownModelError(
            f"the model folder {folder} already has a model called {name!r} ({existing.path}); pass another name='…'."
        )
    folder.mkdir(parents=True, exist_ok=True)
    entry = folder / f"{name}{suffix}"
    if entry.exists() or entry.is_symlink():
        raise UnknownModelError(f"{entry} is in the way (it is not a model); pass another name='…' or move it.")
    try:
        os.symlink(source, entry, target_is_directory=source.is_dir())
    except OSError:  # no symlinks here (Windows without developer mode): a marker file instead
        entry = folder / f"{name}{LINK_SUFFIX}"
        entry.write_text(json.dumps({"path": str(source)}), encoding="utf-8")
    model = _local_model(name, entry)
    assert model is not None
    return model


def config_folder(folder: Path, family: str, checkpoint: Path) -> Path | None:
    """A diffusers folder in the model folder whose configs fit the single file ``checkpoint`` (same
    family and UNet widths), to load it offline; None when there is none."""
    info = checkpoint_info(checkpoint)
    for model in scan(folder):
        if model.kind == "folder" and model.info.family == family and config_fits(model.path, info):
            return model.path
    return None
