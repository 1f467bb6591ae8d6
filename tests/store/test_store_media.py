"""Video and audio products get thumbnails: a waveform for WAV, a type icon otherwise."""

from __future__ import annotations

import io
import math
import struct
import wave
from datetime import datetime, timezone

from PIL import Image

from imagen_nb.store import ProductStore
from imagen_nb.store.media_thumbs import media_thumbnail

CREATED = datetime(2026, 5, 1, tzinfo=timezone.utc)


def wav_bytes(seconds=0.2, rate=8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(12000 * math.sin(i / 5))) for i in range(int(seconds * rate)))
        w.writeframes(frames)
    return buf.getvalue()


MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64


def test_wav_gets_a_waveform_and_mp4_an_icon(tmp_path):
    store = ProductStore(tmp_path)
    audio = store.write("a1", wav_bytes(), "wav", CREATED)
    video = store.write("v1", MP4, "mp4", CREATED)
    assert (audio.media_type, video.media_type) == ("audio/wav", "video/mp4")
    with Image.open(audio.thumb_path) as im:
        assert im.format == "WEBP" and im.size == (256, 128)
        assert len(im.convert("RGB").getcolors(maxcolors=65536)) > 1  # the wave was drawn
    with Image.open(video.thumb_path) as im:
        assert im.format == "WEBP" and im.size == (256, 256)
    assert (audio.width, audio.height, video.width) == (None, None, None)


def test_unreadable_wav_falls_back_to_an_icon_and_other_media_get_none():
    icon = media_thumbnail(b"RIFF\x00\x00\x00\x00WAVEjunk", "audio/wav")
    assert icon is not None and Image.open(io.BytesIO(icon)).size == (256, 256)
    assert media_thumbnail(b"{}", "application/json") is None
