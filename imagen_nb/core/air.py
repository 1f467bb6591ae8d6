"""civitai references: AIRs, model and version URLs, ``civitai:<version id>`` (pure, no I/O).

An AIR (AI Resource Identifier) names one resource on one source::

    urn:air:sd1:lora:civitai:328553@368189
            │   │    │       │      └ version id
            │   │    │       └ model id
            │   │    └ source
            │   └ type (checkpoint, lora, embedding, vae…)
            └ ecosystem (sd1, sd2, sdxl, flux1, pony…)

:func:`parse_ref` accepts an AIR (``sd15`` is read as ``sd1``, as several tools write it), a
civitai page URL (``https://civitai.com/models/328553?modelVersionId=368189``,
``…/models/328553/tarot-cards``), a download URL (``…/api/download/models/368189``) and
``civitai:368189`` (a version id). It also maps civitai's ``baseModel`` names (``SD 1.5``,
``SDXL 1.0``, ``Pony``…) and AIR ecosystems to our model families.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from .errors import ValidationError

#: AIR ecosystems → our model family. ``sd15`` is an alias some tools write for ``sd1``.
ECOSYSTEM_FAMILIES = {
    "sd1": "stable-diffusion-1", "sd15": "stable-diffusion-1", "sd2": "stable-diffusion-2",
    "sdxl": "sdxl", "pony": "sdxl", "illustrious": "sdxl", "noobai": "sdxl", "flux1": "flux", "flux": "flux",
    "sd3": "sd3", "sd35": "sd3",
}
#: Ecosystem names written the same way everywhere once read (``sd15`` → ``sd1``).
ECOSYSTEM_ALIASES = {"sd15": "sd1", "flux": "flux1", "sd35": "sd3"}
#: AIR types → civitai's model ``type`` values.
AIR_TYPES = {"checkpoint": "Checkpoint", "lora": "LORA", "lycoris": "LoCon", "locon": "LoCon", "dora": "DoRA",
             "embedding": "TextualInversion", "vae": "VAE", "hypernetwork": "Hypernetwork",
             "controlnet": "Controlnet", "upscaler": "Upscaler"}

_AIR = re.compile(r"^urn:air:(?P<eco>[a-z0-9]+):(?P<type>[a-z0-9]+):(?P<source>[a-z0-9]+):"
                  r"(?P<model>\d+)(?:@(?P<version>\d+))?(?:\.(?P<format>[a-z0-9]+))?$", re.IGNORECASE)
_SHORT = re.compile(r"^civitai:(?P<version>\d+)$", re.IGNORECASE)
_MODEL_PATH = re.compile(r"^/models/(?P<model>\d+)(?:/[^/]*)?/?$")
_DOWNLOAD_PATH = re.compile(r"^/api/download/models/(?P<version>\d+)/?$")
_VERSION_PATH = re.compile(r"^/api/v1/model-versions/(?P<version>\d+)/?$")


@dataclass(frozen=True)
class CivitaiRef:
    """What a reference names: a version (``version_id``), or a model whose latest version is meant.

    ``ecosystem`` and ``type`` are known only from an AIR; ``given`` is the text as typed.
    """

    given: str
    model_id: int | None = None
    version_id: int | None = None
    ecosystem: str | None = None
    type: str | None = None

    @property
    def family(self) -> str | None:
        """Our model family for the AIR's ecosystem, or None."""
        return ECOSYSTEM_FAMILIES.get(self.ecosystem or "")


def is_civitai_ref(text: object) -> bool:
    """True when ``text`` looks like a civitai reference (an AIR, a civitai URL, ``civitai:<id>``)."""
    if not isinstance(text, str):
        return False
    t = text.strip().lower()
    return t.startswith(("urn:air:", "civitai:")) or _civitai_host(t)


def _civitai_host(text: str) -> bool:
    try:
        host = urllib.parse.urlsplit(text).hostname or ""
    except ValueError:
        return False
    return text.startswith(("http://", "https://")) and (host == "civitai.com" or host.endswith(".civitai.com")
                                                         or host == "civitai.green")


HELP = ("give an AIR (urn:air:sd1:lora:civitai:328553@368189), a civitai model or version URL "
        "(https://civitai.com/models/328553?modelVersionId=368189) or civitai:<version id>")


def parse_ref(text: str, *, param: str = "ref", any_host: bool = False) -> CivitaiRef:
    """Read a civitai reference; ValidationError naming ``param`` and the accepted forms otherwise.

    Args:
        any_host: accept URLs of any host with civitai's paths (a mirror, or a loopback test server).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(param, f"{param} is empty; {HELP}")
    given = text.strip()
    found = _AIR.match(given)
    if found:
        if found["source"].lower() != "civitai":
            raise ValidationError(param, f"{given!r} names a resource on {found['source']!r}; only civitai AIRs "
                                         "can be fetched here")
        eco = found["eco"].lower()
        eco = ECOSYSTEM_ALIASES.get(eco, eco)
        return CivitaiRef(given, int(found["model"]), int(found["version"]) if found["version"] else None,
                          eco, found["type"].lower())
    if given.lower().startswith("urn:air:"):
        raise ValidationError(param, f"{given!r} is not a valid AIR: they read urn:air:<ecosystem>:<type>:civitai:"
                                     "<model id>@<version id>, e.g. urn:air:sd1:lora:civitai:328553@368189")
    found = _SHORT.match(given)
    if found:
        return CivitaiRef(given, version_id=int(found["version"]))
    if given.startswith(("http://", "https://")) and (any_host or _civitai_host(given.lower())):
        return _from_url(given, param)
    raise ValidationError(param, f"{given!r} is not a civitai reference; {HELP}")


def _from_url(given: str, param: str) -> CivitaiRef:
    parts = urllib.parse.urlsplit(given)
    query = urllib.parse.parse_qs(parts.query)
    version = (query.get("modelVersionId") or [None])[0]
    if version is not None and not str(version).isdigit():
        raise ValidationError(param, f"modelVersionId in {given!r} is not a number")
    found = _MODEL_PATH.match(parts.path)
    if found:
        return CivitaiRef(given, int(found["model"]), int(version) if version else None)
    found = _DOWNLOAD_PATH.match(parts.path) or _VERSION_PATH.match(parts.path)
    if found:
        return CivitaiRef(given, version_id=int(found["version"]))
    raise ValidationError(param, f"{given!r} is a civitai URL but not of a model or a version; {HELP}")


def make_air(ecosystem: str, type_: str, model_id: int, version_id: int) -> str:
    """``urn:air:<ecosystem>:<type>:civitai:<model>@<version>``."""
    return f"urn:air:{ecosystem}:{type_}:civitai:{model_id}@{version_id}"


#: civitai ``baseModel`` names (lower case, exact) → our family; prefixes below cover the rest.
_BASE_EXACT = {"pony": "sdxl", "illustrious": "sdxl", "noobai": "sdxl", "sdxl distilled": "sdxl"}
_BASE_PREFIX = (("sd 1.", "stable-diffusion-1"), ("sd 2.", "stable-diffusion-2"), ("sdxl", "sdxl"),
                ("flux.1", "flux"), ("sd 3", "sd3"))


def base_model_family(base_model: str | None) -> str | None:
    """Our model family for one of civitai's ``baseModel`` names (``SD 1.5`` → stable-diffusion-1), or None."""
    if not base_model:
        return None
    name = base_model.strip().lower()
    if name in _BASE_EXACT:
        return _BASE_EXACT[name]
    for prefix, family in _BASE_PREFIX:
        if name.startswith(prefix):
            return family
    return None


#: Our family → the AIR ecosystem civitai writes for it.
FAMILY_ECOSYSTEMS = {"stable-diffusion-1": "sd1", "stable-diffusion-2": "sd2", "sdxl": "sdxl", "flux": "flux1",
                     "sd3": "sd3"}
