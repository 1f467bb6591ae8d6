"""Thumbnails of video and audio products: a waveform for WAV, otherwise a type icon.

The standard library reads WAV; decoding video frames or compressed audio needs a codec
library (ffmpeg), which imagen-nb does not require, so those get a drawn icon naming the type.
"""

from __future__ import annotations

import io
import wave

from PIL import Image, ImageDraw

BACKGROUND = (32, 36, 44)
FOREGROUND = (120, 200, 255)
MUTED = (150, 156, 168)


def media_thumbnail(data: bytes, media_type: str, size: int = 256) -> bytes | None:
    """A WEBP thumbnail for a video or audio file, or None for other media."""
    kind = media_type.split("/")[0]
    if kind not in ("video", "audio"):
        return None
    image = None
    if media_type in ("audio/wav", "audio/x-wav"):
        image = _waveform(data, size)
    if image is None:
        image = _icon(kind, media_type.split("/")[-1].upper(), size)
    buf = io.BytesIO()
    image.save(buf, format="WEBP", lossless=True, method=0)
    return buf.getvalue()


def _waveform(data: bytes, size: int) -> Image.Image | None:
    import numpy as np

    try:
        with wave.open(io.BytesIO(data)) as w:
            channels, width, frames = w.getnchannels(), w.getsampwidth(), w.getnframes()
            raw = w.readframes(frames)
    except (wave.Error, EOFError):
        return None
    dtypes = {1: np.uint8, 2: np.int16, 4: np.int32}
    if width not in dtypes or not raw:
        return None
    samples = np.frombuffer(raw[: len(raw) - len(raw) % (width * channels)], dtype=dtypes[width])
    samples = samples.reshape(-1, channels).astype(np.float64).mean(axis=1)
    if width == 1:
        samples -= 128
    peak = np.abs(samples).max() or 1.0
    height = size // 2
    image = Image.new("RGB", (size, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    columns = np.array_split(samples / peak, size)
    mid = height / 2
    for x, column in enumerate(columns):
        if len(column):
            top, bottom = column.max(), column.min()
            draw.line([(x, mid - top * (mid - 4)), (x, mid - bottom * (mid - 4))], fill=FOREGROUND)
    return image


def _icon(kind: str, label: str, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    c, r = size / 2, size / 5
    if kind == "video":  # a play triangle
        draw.polygon([(c - r * 0.8, c - r), (c - r * 0.8, c + r), (c + r, c)], fill=FOREGROUND)
    else:  # three bars of an equaliser
        for i, h in enumerate((0.6, 1.0, 0.75)):
            x = c - r + i * r
            draw.rectangle([x - r * 0.3, c + r - 2 * r * h, x + r * 0.3, c + r], fill=FOREGROUND)
    draw.text((size * 0.08, size * 0.84), label[:12], fill=MUTED)
    return image
