"""Shared parts of remote providers: retries, Retry-After, downloads, media types, keys, redaction."""

from __future__ import annotations

import http.server
import threading
import time

import httpx
import pytest

from imagen_nb.core.errors import GenerationCancelled, MissingKey, ProviderError, RateLimited
from imagen_nb.providers.keys import KeyStore, redact
from imagen_nb.providers.remote import (
    RetryPolicy, TransientError, call_with_retries, download, retry_after_seconds, sniff_media_type,
)


def test_retries_transient_errors_then_succeeds():
    calls = []

    def flaky(attempt):
        calls.append(attempt)
        if attempt < 3:
            raise TransientError("503")
        return "ok"

    assert call_with_retries(flaky, policy=RetryPolicy(attempts=4, base=0.001)) == "ok"
    assert calls == [1, 2, 3]


def test_gives_up_after_the_attempts_and_does_not_retry_other_errors():
    with pytest.raises(TransientError):
        call_with_retries(lambda a: (_ for _ in ()).throw(TransientError("down")),
                          policy=RetryPolicy(attempts=2, base=0.001))
    calls = []

    def bad(attempt):
        calls.append(attempt)
        raise ProviderError("400: bad prompt")

    with pytest.raises(ProviderError, match="bad prompt"):
        call_with_retries(bad, policy=RetryPolicy(attempts=5, base=0.001))
    assert calls == [1]


def test_rate_limit_waits_retry_after_and_respects_the_deadline():
    slept = []
    attempts = []

    def limited(attempt):
        attempts.append(attempt)
        if attempt == 1:
            raise RateLimited("429", retry_after=0.3)
        return "done"

    t0 = time.monotonic()
    assert call_with_retries(limited, policy=RetryPolicy(base=0.001)) == "done"
    assert time.monotonic() - t0 >= 0.3
    with pytest.raises(RateLimited):
        call_with_retries(lambda a: (_ for _ in ()).throw(RateLimited("429", retry_after=120)),
                          policy=RetryPolicy(deadline=5), sleep=slept.append)
    assert slept == []  # a wait past the deadline is not started


def test_cancel_interrupts_a_backoff():
    with pytest.raises(GenerationCancelled):
        call_with_retries(lambda a: (_ for _ in ()).throw(TransientError("x")),
                          policy=RetryPolicy(base=10, cap=10), cancelled=lambda: True)


def test_backoff_is_jittered_and_capped():
    policy = RetryPolicy(base=1, cap=4)
    values = [policy.backoff(5) for _ in range(200)]
    assert 0 <= min(values) and max(values) <= 4 and len(set(values)) > 100


def test_retry_after_parsing():
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    from email.utils import format_datetime
    from datetime import datetime, timedelta, timezone

    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(later) <= 31


@pytest.mark.parametrize("head, declared, kind", [
    (b"\x89PNG\r\n\x1a\n....", None, "image/png"),
    (b"\xff\xd8\xff\xe0", "application/octet-stream", "image/jpeg"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, "image/webp"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", None, "audio/wav"),
    (b"\x00\x00\x00\x18ftypisom", None, "video/mp4"),
    (b"ID3\x04", None, "audio/mpeg"),
    (b"\x1a\x45\xdf\xa3", None, "video/webm"),
    (b"???", "image/png; charset=x", "image/png"),
    (b"<html>", "text/html", None),
])
def test_media_type_comes_from_content(head, declared, kind):
    assert sniff_media_type(head, declared) == kind


class _Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/trickle":  # a byte at a time: each read is quick, the whole is not
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"\x89PNG\r\n\x1a\n")
            for _ in range(40):
                self.wfile.write(b"0")
                self.wfile.flush()
                time.sleep(0.05)
            return
        body = {"/png": b"\x89PNG\r\n\x1a\n" + b"0" * 100, "/html": b"<html></html>",
                "/big": b"\x89PNG\r\n\x1a\n" + b"0" * 5000}.get(self.path)
        if self.path == "/boom":
            self.send_response(502)
            self.end_headers()
            return
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if self.path == "/html" else "application/octet-stream")
        if self.path != "/big":  # stream without a length: the cap must hold while reading
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def files_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_types_sizes_and_errors(files_url):
    with httpx.Client() as client:
        out = download(f"{files_url}/png", client=client)
        assert out.media_type == "image/png" and len(out.data) == 108
        with pytest.raises(ProviderError, match="over the limit of 1,000 bytes"):
            download(f"{files_url}/big", client=client, max_bytes=1000)
        with pytest.raises(ProviderError, match="HTTP 404"):
            download(f"{files_url}/missing", client=client)
        with pytest.raises(TransientError, match="HTTP 502"):
            download(f"{files_url}/boom", client=client)
        with pytest.raises(ProviderError, match="not an image, video or audio"):
            download(f"{files_url}/html", client=client)
        t0 = time.monotonic()
        with pytest.raises(TransientError, match="longer than its time limit"):
            download(f"{files_url}/trickle", client=client, timeout=0.5)
        assert time.monotonic() - t0 < 1.5
        with pytest.raises(TransientError, match="ConnectError"):
            download("http://127.0.0.1:9/nothing", client=client, timeout=2)


def test_keystore_env_first_then_file_and_teaching_error(tmp_path, monkeypatch):
    monkeypatch.delenv("FAL_KEY", raising=False)
    store = KeyStore(tmp_path)
    with pytest.raises(MissingKey, match=r"imagen-nb keys set fal.*FAL_KEY"):
        store.require("fal")
    store.set("fal", "abc:defghijk")
    assert store.require("fal") == "abc:defghijk"
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("FAL_KEY", "from-env-123")
    assert store.get("fal") == "from-env-123" and store.source("fal") == "env FAL_KEY"
    assert store.delete("fal") and not store.delete("fal")


def test_redact_hides_keys_and_their_parts():
    text = "401 for key id123456:secret987654 (secret987654)"
    assert redact(text, "id123456:secret987654") == "401 for key *** (***)"
    assert redact("nothing here", None, "") == "nothing here"
