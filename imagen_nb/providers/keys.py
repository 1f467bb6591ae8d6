"""API keys of remote providers: an environment variable, else ``<home>/keys.json`` (mode 0600).

Keys never go into the catalog, a parameter set, a log line or an exception message:
providers read them here and pass them to their client, and :func:`redact` scrubs any text
that might echo one back.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from ..core.errors import MissingKey, ProviderError, ValidationError, did_you_mean

#: The environment variable each provider's official client reads.
ENV_VARS = {"fal": "FAL_KEY", "replicate": "REPLICATE_API_TOKEN", "civitai": "CIVITAI_API_TOKEN",
            "gemini": "GEMINI_API_KEY"}

KEYS_FILE = "keys.json"


def key_providers() -> list[str]:
    """Names of the installed providers that take an API key (fal, replicate, civitai and remote plugins)."""
    from importlib.metadata import entry_points

    # Through the entry points, not the registry: the registry's providers import this module.
    names = set(ENV_VARS)
    for entry in entry_points(group="imagen_nb.providers"):
        try:
            cls = entry.load()
        except Exception:  # noqa: BLE001 - a broken plugin takes no key; the registry says why
            continue
        if isinstance(cls, type) and any(base.__name__ == "RemoteProvider" for base in cls.__mro__):
            names.add(entry.name)
    return sorted(names)


def check_provider(provider: str) -> str:
    """``provider`` when it names a provider that takes a key, else a ValidationError with a did-you-mean."""
    known = key_providers()
    if provider not in known:
        hint = did_you_mean(str(provider), known)
        raise ValidationError("provider", f"no provider {provider!r} takes an API key.{hint}"
                                          f" Providers with keys: {', '.join(known)}.")
    return provider


class KeyStore:
    """Keys of one studio home."""

    def __init__(self, home: Path):
        self.path = Path(home) / KEYS_FILE

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ValidationError("keys", f"{self.path} is not readable JSON ({type(exc).__name__}); "
                                          "delete it and set the keys again with `imagen-nb keys set`") from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write(self, keys: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".tmp-{os.getpid()}-{KEYS_FILE}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(keys, f)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def get(self, provider: str) -> str | None:
        """The key for ``provider``: its environment variable first, then the keys file."""
        env = ENV_VARS.get(provider)
        if env and os.environ.get(env):
            return os.environ[env]
        return self._read().get(provider)

    def source(self, provider: str) -> str | None:
        """Where the key comes from (``env FAL_KEY`` or the file's path), without the key."""
        env = ENV_VARS.get(provider)
        if env and os.environ.get(env):
            return f"env {env}"
        return str(self.path) if provider in self._read() else None

    def require(self, provider: str) -> str:
        """The key, or :class:`MissingKey` saying how to set it."""
        key = self.get(provider)
        if key:
            return key
        env = ENV_VARS.get(provider, f"{provider.upper()}_KEY")
        raise MissingKey(f"no API key for {provider}: run `imagen-nb keys set {provider}` "
                         f"(stored in {self.path}, mode 0600) or set {env}")

    def set(self, provider: str, key: str) -> None:
        """Store a key (0600 file) for a provider that takes one (a misspelt name is refused)."""
        check_provider(provider)
        key = key.strip()
        if not key or any(c.isspace() for c in key):
            raise ValidationError("key", "an API key is one word without spaces")
        keys = self._read()
        keys[provider] = key
        self._write(keys)

    def delete(self, provider: str) -> bool:
        """Forget a stored key; True when there was one."""
        keys = self._read()
        if provider not in keys:
            return False
        del keys[provider]
        self._write(keys)
        return True

    def names(self) -> list[str]:
        """Providers with a key, from the file or the environment."""
        names = set(self._read())
        names.update(p for p, env in ENV_VARS.items() if os.environ.get(env))
        return sorted(names)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every secret (and its parts after ``:``, as fal keys are ``id:secret``) replaced."""
    for secret in secrets:
        if not secret:
            continue
        # Longest first: the whole key becomes one "***", then any part of it echoed alone.
        for part in sorted({secret, *secret.split(":")}, key=len, reverse=True):
            if len(part) >= 6:
                text = text.replace(part, "***")
    return text


def scrubbed(exc: BaseException, *secrets: str | None) -> BaseException:
    """``exc``, or a copy of the same kind that holds no secret when one shows in it or its causes.

    The copy's message (and any text attribute, such as a ValidationError's ``message``) is
    :func:`redact`-ed, other attributes (``RateLimited.retry_after``) are kept, and its chain
    and traceback are dropped, since they may hold the secret too.
    """
    if not any(secrets):
        return exc
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 16:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = "\n".join(str(e) for e in chain)
    if redact(text, *secrets) == text:
        return exc
    message = redact(str(exc), *secrets)
    try:
        clean = copy.copy(exc)
        clean.args = (message,)
        for name, value in vars(clean).items():
            if isinstance(value, str):
                setattr(clean, name, redact(value, *secrets))
    except Exception:  # an exception class that cannot be copied: keep the message only
        clean = ProviderError(message)
    clean.__cause__ = clean.__context__ = None
    clean.__suppress_context__ = True
    clean.__traceback__ = None
    return clean
