"""The built-in ``diffusers`` provider (torch and diffusers are imported only when a model runs)."""

from .provider import DiffusersProvider

__all__ = ["DiffusersProvider"]
