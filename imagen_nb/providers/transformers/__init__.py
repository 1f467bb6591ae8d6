"""The ``transformers`` provider: image-to-text and text-to-text models and scorers (issue 15)."""

from .provider import TransformersProvider, TransformersSettings

__all__ = ["TransformersProvider", "TransformersSettings"]
