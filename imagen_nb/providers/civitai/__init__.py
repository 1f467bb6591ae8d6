"""civitai: generation on civitai's orchestrator, and models, versions, hashes and downloads from its site API."""

from .provider import CivitaiProvider, CivitaiSettings

__all__ = ["CivitaiProvider", "CivitaiSettings"]
