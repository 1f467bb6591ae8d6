"""civitai in the studio: importing models and LoRAs, identifying local files, searching.

``studio.add_model("urn:air:…")`` (also a model or version URL, or ``civitai:<version id>``)
resolves the version on civitai's site API, checks what it is before any byte moves (a
checkpoint or a LoRA, a safetensors file, the ecosystem of the AIR agreeing with civitai's base
model, the LoRA's family agreeing with ``for_model``), downloads the file with the user's token
(resumable, verified against the published SHA-256) into the diffusers model folder
(checkpoints) or LoRA folder (LoRAs), and records it in ``civitai_files``.

``studio.identify()`` hashes the files of both folders and asks civitai which version holds
each hash (``/model-versions/by-hash/<sha256>``), once per file: answers are cached in
``civitai_hashes``. ``studio.civitai.search(…)`` is the site's model search as a DataFrame.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import pandas as pd

from ..catalog import civitai as q_civitai
from ..core.air import (
    AIR_TYPES, ECOSYSTEM_FAMILIES, FAMILY_ECOSYSTEMS, base_model_family, is_civitai_ref, make_air, parse_ref,
)
from ..core.errors import (
    DownloadCancelled, GenerationCancelled, ImagenError, ProviderError, ValidationError, did_you_mean,
)
from ..providers.civitai import CivitaiProvider

if TYPE_CHECKING:
    from .local import LocalStudio

#: civitai model types imagen-nb can run, and where their files go.
KINDS = {"Checkpoint": "checkpoint", "LORA": "lora", "LoCon": "lora", "DoRA": "lora"}
#: civitai's model types as its search takes them (for a did-you-mean).
SEARCH_TYPES = ("Checkpoint", "TextualInversion", "Hypernetwork", "AestheticGradient", "LORA", "LoCon", "DoRA",
                "Controlnet", "Upscaler", "MotionModule", "VAE", "Poses", "Wildcards", "Workflows", "Other")
WEIGHT_SUFFIXES = (".safetensors", ".ckpt")
SEARCH_COLUMNS = ["model_id", "name", "type", "creator", "version_id", "version", "base_model", "air",
                  "trigger_words", "downloads", "nsfw", "size_mb", "url"]
IDENTIFY_COLUMNS = ["path", "kind", "sha256", "found", "model_name", "version_name", "version_id", "air",
                    "base_model", "trigger_words"]
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")

Progress = Callable[[int, "int | None"], None]


def provider_of(studio: LocalStudio):
    """The civitai provider, or an error that says how to enable it."""
    provider = studio.providers.get("civitai")
    if provider is None:
        raise ImagenError("the civitai provider is not loaded in this studio (IMAGEN_NB_PROVIDERS leaves it out, or "
                          "this install predates it); add civitai to IMAGEN_NB_PROVIDERS or reinstall imagen-nb")
    return provider


def _diffusers(studio: LocalStudio):
    provider = studio.providers.get("diffusers")
    if provider is None:
        raise ImagenError("the diffusers provider is not loaded here; files from civitai are run by it")
    return provider


def lora_dir(studio: LocalStudio) -> Path:
    """The diffusers provider's LoRA folder."""
    from ..providers.diffusers.loras import lora_folder

    return lora_folder(_diffusers(studio).context)


# ---- resolving a reference ---------------------------------------------------------------


def resolve(studio: LocalStudio, ref: str) -> dict[str, Any]:
    """What ``add_model(ref)`` would fetch: version, model, chosen file, licence, where it would go.

    Nothing is downloaded; the token is not needed (it is sent when set).
    """
    provider = provider_of(studio)
    parsed = parse_ref(ref, any_host=_same_host(ref, provider.site_url))
    if parsed.version_id is not None:
        version = provider.version(parsed.version_id)
        model = provider.model_record(int(version.get("modelId") or parsed.model_id or 0))
    else:
        model = provider.model_record(int(parsed.model_id or 0))
        versions = model.get("modelVersions") or []
        if not versions:
            raise ProviderError(f"civitai model {parsed.model_id} has no published version")
        version = provider.version(int(versions[0]["id"]))
    civitai_type = str(model.get("type") or (version.get("model") or {}).get("type") or "")
    kind = KINDS.get(civitai_type)
    base = version.get("baseModel")
    family = base_model_family(base)
    if parsed.ecosystem is not None and family is not None and ECOSYSTEM_FAMILIES.get(parsed.ecosystem) != family:
        raise ValidationError("ref", f"{ref} says ecosystem {parsed.ecosystem}, but civitai lists version "
                                     f"{version['id']} with base model {base!r} ({family}); fix the AIR, e.g. "
                                     f"{_air(version, model, civitai_type, family)}")
    if parsed.type is not None and AIR_TYPES.get(parsed.type, parsed.type) != civitai_type and not (
            parsed.type in ("lora", "lycoris", "locon", "dora") and kind == "lora"):
        raise ValidationError("ref", f"{ref} says type {parsed.type}, but civitai model {model['id']} is a "
                                     f"{civitai_type}")
    file = _primary_file(version)
    return {
        "air": version.get("air") or _air(version, model, civitai_type, family),
        "model_id": int(model["id"]), "version_id": int(version["id"]), "file_id": _int(file.get("id")),
        "model_name": model.get("name"), "version_name": version.get("name"), "model_type": civitai_type,
        "kind": kind, "base_model": base, "family": family,
        "trigger_words": [str(w) for w in version.get("trainedWords") or []],
        "licence": _licence(model), "file_name": file.get("name"), "size": _size(file),
        "sha256": ((file.get("hashes") or {}).get("SHA256") or "").lower() or None,
        "download_url": file.get("downloadUrl") or version.get("downloadUrl"),
        "fallback_url": f"{provider.site_url}/api/download/models/{int(version['id'])}?fileId={_int(file.get('id'))}"
        if file.get("id") is not None else None,
        "format": (file.get("metadata") or {}).get("format"), "nsfw": bool(model.get("nsfw")),
        "page": f"{provider.site_url}/models/{int(model['id'])}?modelVersionId={int(version['id'])}",
    }


def _same_host(ref: str, site_url: str) -> bool:
    try:
        return urllib.parse.urlsplit(ref).netloc == urllib.parse.urlsplit(site_url).netloc != ""
    except ValueError:
        return False


def _air(version: Mapping[str, Any], model: Mapping[str, Any], civitai_type: str, family: str | None) -> str:
    eco = FAMILY_ECOSYSTEMS.get(family or "", "other")
    kind = next((k for k, v in AIR_TYPES.items() if v == civitai_type), civitai_type.lower() or "other")
    return make_air(eco, kind, int(model["id"]), int(version["id"]))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _size(file: Mapping[str, Any]) -> int | None:
    kb = file.get("sizeKB")
    return None if kb is None else round(float(kb) * 1024)


def _licence(model: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("allowNoCredit", "allowCommercialUse", "allowDerivatives", "allowDifferentLicense")
    return {k: model.get(k) for k in keys if k in model}


def _primary_file(version: Mapping[str, Any]) -> dict[str, Any]:
    files = [f for f in version.get("files") or [] if isinstance(f, Mapping)]
    weights = [f for f in files if f.get("type", "Model") == "Model"] or files
    if not weights:
        raise ProviderError(f"civitai version {version.get('id')} lists no file to download")
    safe = [f for f in weights if (f.get("metadata") or {}).get("format") == "SafeTensor"
            or str(f.get("name", "")).endswith(".safetensors")]
    pool = safe or weights
    return dict(next((f for f in pool if f.get("primary")), pool[0]))


# ---- importing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportPlan:
    """What importing one reference will do, checked before any byte moves (see :func:`plan_import`)."""

    ref: str
    info: Mapping[str, Any]
    local: str
    dest: Path
    #: the file is here already with civitai's SHA-256: nothing to download, only to record
    present: bool

    @property
    def kind(self) -> str:
        """``checkpoint`` or ``lora``."""
        return str(self.info["kind"])

    @property
    def model_id(self) -> str:
        """What ``add_model`` returns: ``diffusers:<name>`` for a checkpoint, the LoRA's name."""
        return f"diffusers:{self.local}" if self.kind == "checkpoint" else self.local


def plan_import(studio: LocalStudio, ref: str, name: str | None = None, *,
                for_model: str | None = None) -> ImportPlan:
    """Resolve ``ref`` and check everything its import needs (token, kind, file type, name, family); no download."""
    provider = provider_of(studio)
    provider.keys.require(provider.name)  # before any request: the download needs it anyway
    info = resolve(studio, ref)
    kind = info["kind"]
    if kind is None:
        runnable = ", ".join(sorted(KINDS))
        raise ValidationError("ref", f"{info['model_name']!r} is a {info['model_type']} on civitai; imagen-nb runs "
                                     f"{runnable} files")
    if for_model is not None:
        _check_family(studio, info, for_model)
    suffix = Path(str(info["file_name"] or "")).suffix.lower()
    if suffix not in WEIGHT_SUFFIXES or (kind == "lora" and suffix != ".safetensors"):
        raise ValidationError("ref", f"civitai offers {info['file_name']!r} for this version; imagen-nb loads "
                                     f"{'.safetensors' if kind == 'lora' else '.safetensors or .ckpt'} files only")
    if not info["download_url"]:
        raise ProviderError(f"civitai lists no download URL for version {info['version_id']}")
    local = _local_name(name, info)
    folder = _diffusers(studio).model_dir if kind == "checkpoint" else lora_dir(studio)
    dest = folder / f"{local}{suffix}"
    if kind == "checkpoint":
        _check_free_model_name(studio, folder, local, dest)
    present = False
    if dest.exists():
        from ..providers.weightfiles import file_sha256

        if not (info["sha256"] and file_sha256(dest) == info["sha256"]):
            raise ValidationError("name", f"{dest} exists and is another file; pass name= to keep both")
        present = True
    return ImportPlan(ref, info, local, dest, present)


def run_import(studio: LocalStudio, plan: ImportPlan, *, progress: Progress | None = None,
               cancelled: Callable[[], bool] = lambda: False) -> str:
    """Download the planned file (unless it is here already) and record it; the id ``add_model`` returns.

    Raises :class:`DownloadCancelled` when ``cancelled()`` turns true (the ``.part`` file is kept
    for a resume); a KeyboardInterrupt propagates with a note saying the same.
    """
    info = plan.info
    if cancelled():  # cancelled before anything ran: nothing recorded, even for a file already here
        raise DownloadCancelled(cancelled_message(plan, 0))
    if plan.present:
        got_sha, size = info["sha256"], plan.dest.stat().st_size  # already here: only recorded again
    else:
        got_sha, size = _download(studio, provider_of(studio), plan, progress, cancelled)
    row = {"path": str(plan.dest), "kind": plan.kind, "local_name": plan.local, "sha256": got_sha,
           "origin": "download", "source": "civitai", "size": size, **{k: info[k] for k in (
               "air", "model_id", "version_id", "file_id", "model_name", "version_name", "model_type", "base_model",
               "family", "trigger_words", "licence")}}
    q_civitai.record_file(studio.catalog.cursor(), row)
    return plan.model_id


def cancelled_message(plan: ImportPlan, done: int) -> str:
    """What a cancelled download says: how far it got, and that the next import resumes it."""
    from ..providers.civitai.download import part_path

    size = plan.info.get("size")
    got = f"{done / 2**20:,.1f} of {size / 2**20:,.1f} MB" if size else f"{done / 2**20:,.1f} MB"
    return (f"the download of {plan.info['file_name']} was cancelled after {got}; nothing was added. The partial "
            f"file {part_path(plan.dest).name} is kept: `studio.add_model({plan.ref!r})` (or `imagen-nb models add "
            f"{plan.ref}`) resumes it")


def _download(studio: LocalStudio, provider, plan: ImportPlan, progress: Progress | None,
              cancelled: Callable[[], bool]) -> tuple[str, int]:
    """Download with ``progress`` called and :class:`ModelDownload` events published (for panels and clients)."""
    from ..core.records import ModelDownload

    info, ref = plan.info, plan.ref
    name = str(info["file_name"])
    done = 0

    def report(got: int, total: int | None) -> None:
        nonlocal done
        done = got
        studio.bus.publish(ModelDownload(ref, name, got, total))
        if progress is not None:
            progress(got, total)

    try:
        if cancelled():
            raise GenerationCancelled("cancelled before the download started")
        got = provider.download(info["download_url"], plan.dest, sha256=info["sha256"], size=info["size"],
                                fallback_url=info["fallback_url"], progress=report, cancelled=cancelled)
    except (GenerationCancelled, KeyboardInterrupt) as exc:
        message = cancelled_message(plan, done)
        studio.bus.publish(ModelDownload(ref, name, done, info["size"], "cancelled", message))
        if isinstance(exc, KeyboardInterrupt):
            exc.add_note(message)
            raise
        raise DownloadCancelled(message) from None
    except Exception as exc:
        studio.bus.publish(ModelDownload(ref, name, done, info["size"], "failed", str(exc)))
        raise
    studio.bus.publish(ModelDownload(ref, name, got.size, got.size, "done"))
    return got.sha256, got.size


def _check_family(studio: LocalStudio, info: Mapping[str, Any], for_model: str) -> None:
    target = studio.model(for_model)
    if info["family"] is not None and target.family != info["family"]:
        what = "LoRA" if info["kind"] == "lora" else "model"
        raise ValidationError("for_model", f"{info['model_name']!r} ({info['version_name']}) is a {what} for "
                                           f"{info['base_model']} ({info['family']}), but {for_model} is "
                                           f"{target.family}: pick a version made for {target.family}")


def _local_name(name: str | None, info: Mapping[str, Any]) -> str:
    if name is not None:
        from ..providers.diffusers.folders import is_plain_name

        if not isinstance(name, str) or not is_plain_name(name) or name == "tiny":
            raise ValidationError("name", f"name {name!r} must be letters, digits and . _ + - (not 'tiny')")
        return name
    stem = Path(str(info["file_name"])).stem
    clean = _UNSAFE.sub("-", stem).strip("-._+") or f"civitai-{info['version_id']}"
    return clean if clean != "tiny" else f"tiny-{info['version_id']}"


def _check_free_model_name(studio: LocalStudio, folder: Path, local: str, dest: Path) -> None:
    from ..providers.diffusers.checkpoints import SUFFIXES
    from ..providers.diffusers.folders import LINK_SUFFIX

    taken = [folder / local, *(folder / f"{local}{suffix}" for suffix in SUFFIXES), folder / f"{local}{LINK_SUFFIX}"]
    for entry in taken:
        if entry != dest and (entry.exists() or entry.is_symlink()):
            raise ValidationError("name", f"the model folder already has a model {local!r} ({entry.name}); pass "
                                          "name= to choose another")


# ---- identifying -------------------------------------------------------------------------


def local_files(studio: LocalStudio) -> list[tuple[str, Path]]:
    """(kind, path) of the weight files in the model folder (top level) and the LoRA folder (any depth)."""
    out: list[tuple[str, Path]] = []
    models = _diffusers(studio).model_dir
    if models.is_dir():
        out += [("checkpoint", p) for p in sorted(models.iterdir())
                if p.is_file() and p.suffix in WEIGHT_SUFFIXES and not p.name.startswith(".")]
    loras = lora_dir(studio)
    if loras.is_dir():
        out += [("lora", p) for p in sorted(loras.rglob("*.safetensors"))
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(loras).parts)]
    return out


def identify(studio: LocalStudio, *, refresh: bool = False) -> pd.DataFrame:
    """Look up each local weight file on civitai by SHA-256 (cached) and record what is found."""
    from ..providers.weightfiles import file_sha256

    provider = provider_of(studio)
    days = provider.settings.hash_cache_days
    found_ttl, missing_ttl = timedelta(days=days), timedelta(days=min(days, 1.0))
    cur = studio.catalog.cursor()
    rows = []
    for kind, path in local_files(studio):
        sha = file_sha256(path)
        hit = None if refresh else q_civitai.cached_hash(cur, sha, found_ttl=found_ttl, missing_ttl=missing_ttl)
        if hit is None:
            version = provider.by_hash(sha)
            q_civitai.put_hash(cur, sha, version)
        else:
            version = hit[1] if hit[0] else None
        row = {"path": str(path), "kind": kind, "sha256": sha, "found": version is not None}
        if version is not None:
            model = version.get("model") or {}
            details = {"model_name": model.get("name"), "version_name": version.get("name"),
                       "version_id": _int(version.get("id")), "air": version.get("air"),
                       "base_model": version.get("baseModel"),
                       "trigger_words": [str(w) for w in version.get("trainedWords") or []]}
            row.update(details)
            known = q_civitai.file_by_path(cur, str(path))
            if known is None or known["sha256"] != sha:
                q_civitai.record_file(cur, {
                    "path": str(path), "kind": kind, "local_name": path.stem, "sha256": sha, "origin": "identify",
                    "source": "civitai", "model_id": _int(version.get("modelId")), "model_type": model.get("type"),
                    "family": base_model_family(version.get("baseModel")), "size": path.stat().st_size,
                    "file_id": _file_id(version, sha), **details})
        rows.append(row)
    return pd.DataFrame(rows, columns=IDENTIFY_COLUMNS)


def _file_id(version: Mapping[str, Any], sha: str) -> int | None:
    for f in version.get("files") or []:
        if isinstance(f, Mapping) and str((f.get("hashes") or {}).get("SHA256", "")).lower() == sha:
            return _int(f.get("id"))
    return None


# ---- searching ---------------------------------------------------------------------------


def search(studio: LocalStudio, query: str = "", *, types: Sequence[str] | str | None = None,
           base_models: Sequence[str] | str | None = None, limit: int = 20, nsfw: bool = False,
           sort: str | None = None) -> pd.DataFrame:
    """civitai's model search (``/api/v1/models``): one row per model, its newest version's details."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise ValidationError("limit", f"limit is a whole number from 1 to 100; got {limit!r}")
    types = [types] if isinstance(types, str) else list(types or [])
    for t in types:
        if t not in SEARCH_TYPES:
            raise ValidationError("types", f"civitai has no model type {t!r}.{did_you_mean(t, SEARCH_TYPES)} Types: "
                                           f"{', '.join(SEARCH_TYPES)}")
    bases = [base_models] if isinstance(base_models, str) else list(base_models or [])
    params: dict[str, Any] = {"limit": limit, "nsfw": "true" if nsfw else "false"}
    if query:
        params["query"] = query
    if types:
        params["types"] = types
    if bases:
        params["baseModels"] = bases
    if sort:
        params["sort"] = sort
    provider = provider_of(studio)
    found = provider.site("models", params)
    items = found.get("items") if isinstance(found, Mapping) else None
    if not isinstance(items, list):
        raise ProviderError(f"civitai's model search returned no item list: {str(found)[:120]!r}")
    return pd.DataFrame([_search_row(item, provider.site_url) for item in items if isinstance(item, Mapping)],
                        columns=SEARCH_COLUMNS)


def _search_row(item: Mapping[str, Any], site: str) -> dict[str, Any]:
    versions = [v for v in item.get("modelVersions") or [] if isinstance(v, Mapping)]
    v = versions[0] if versions else {}
    file = next((f for f in v.get("files") or [] if isinstance(f, Mapping) and f.get("primary")),
                (v.get("files") or [{}])[0] if v.get("files") else {})
    family = base_model_family(v.get("baseModel"))
    air = v.get("air") or (_air(v, item, str(item.get("type") or ""), family) if v.get("id") else None)
    size = _size(file) if isinstance(file, Mapping) else None
    return {"model_id": _int(item.get("id")), "name": item.get("name"), "type": item.get("type"),
            "creator": (item.get("creator") or {}).get("username"), "version_id": _int(v.get("id")),
            "version": v.get("name"), "base_model": v.get("baseModel"), "air": air,
            "trigger_words": [str(w) for w in v.get("trainedWords") or []],
            "downloads": (item.get("stats") or {}).get("downloadCount"), "nsfw": bool(item.get("nsfw")),
            "size_mb": None if size is None else round(size / 2**20, 1),
            "url": f"{site}/models/{item.get('id')}" + (f"?modelVersionId={v['id']}" if v.get("id") else "")}


def is_ref(value: object, studio: "LocalStudio | None" = None) -> bool:
    """True when ``add_model`` should fetch ``value`` from civitai rather than link a local path: an
    AIR, a civitai URL, ``civitai:<version id>``, or a URL of the civitai site ``studio`` is set to."""
    if not isinstance(value, str):
        return False
    if is_civitai_ref(value):
        return True
    provider = studio.providers.get("civitai") if studio is not None else None
    return isinstance(provider, CivitaiProvider) and value.startswith(provider.site_url + "/")


def files_frame(studio: LocalStudio) -> pd.DataFrame:
    """The ``civitai_files`` table: local files with their civitai source, AIR, trigger words, licence."""
    return q_civitai.files(studio.catalog.cursor())


__all__ = ["ImportPlan", "plan_import", "run_import", "identify", "is_ref", "resolve", "search", "files_frame"]
