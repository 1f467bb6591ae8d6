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


def upscaled_png(data: bytes, scale: float) -> tuple[bytes, int, int]:
    """What a loopback upscaler answers: the PNG ``data`` resized by ``scale`` (bytes, width, height)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        out = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue(), size[0], size[1]
