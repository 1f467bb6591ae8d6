"""The ``gemini`` provider: Google's Gemini models through the official ``google-genai`` client (issue 15)."""

from .provider import GeminiProvider, GeminiSettings

__all__ = ["GeminiProvider", "GeminiSettings"]
