"""Real media bytes the loopback servers serve: PNGs from Pillow, WAVs from the stdlib."""

from __future__ import annotations

import io
import wave


def png_bytes(width: int = 16, height: int = 16, color=(200, 40, 40)) -> bytes:
    """A real PNG of one colour."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def wav_bytes(seconds: float = 0.05, rate: int = 8000) -> bytes:
    """A real mono 16-bit WAV of silence."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(2 * int(seconds * rate)))
    return buf.getvalue()
