"""Downloading one model file from civitai: streamed, resumable, verified against the published SHA-256.

The bytes go to ``.<name>.part`` beside the destination (a dot file, so folder listings skip
it) and are hashed as they arrive, on a second thread (``hashlib`` releases the GIL, so the
hash of one chunk overlaps the read of the next). An interrupted download resumes with an
HTTP ``Range`` request from the part's size (its bytes are hashed again first); a server that
ignores the range (200) or answers for another offset starts the file over. Only a file whose
SHA-256 equals the one civitai publishes is renamed into place; a mismatch deletes the part.

civitai's download URL (``/api/download/models/<version>``) answers with a redirect to a
signed storage URL. httpx drops the ``Authorization`` header when a redirect leaves the
origin, so the token never reaches the storage host. Without a token a gated download is
redirected to the login page (HTML): that, 401 and 403 become errors that say how to set the
token. A 404 on a file's stale ``downloadUrl`` is retried once at ``fallback_url`` (the
version's download URL with ``fileId``).

A cancel is seen at once, even while the storage host sends nothing: a watcher thread asks
``cancelled()`` every :data:`CANCEL_POLL` seconds and, when it turns true, shuts the response's
socket down (``shutdown``, which wakes a ``recv`` blocked in another thread; ``close`` does not).
The read then fails, the reading thread sees the cancel and raises ``GenerationCancelled``; the
bytes written so far stay in the part, whole blocks only (the reader writes them, not the watcher).
The stall limit (``timeout``) is httpx's read timeout, unchanged.
"""

from __future__ import annotations

import hashlib
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...core.errors import GenerationCancelled, ProviderError
from ..keys import redact
from ..remote import TransientError
from .api import KEY_HELP, NotFound, check

#: Bytes read at once from a part being resumed (to hash it again).
CHUNK = 8 << 20
#: Seconds between two progress reports (the last one always comes).
PROGRESS_EVERY = 0.1
#: Seconds between two looks at the cancel flag while a download streams (see the module).
CANCEL_POLL = 0.05

Progress = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class Downloaded:
    """A verified file: where it is, its sha256 (lower-case hex), its size and where the bytes came from."""

    path: Path
    sha256: str
    size: int
    resumed_from: int
    url: str


class _Hasher:
    """sha256 of the chunks put into it, computed on its own thread."""

    def __init__(self):
        self.digest = hashlib.sha256()
        self.chunks: queue.Queue = queue.Queue(maxsize=64)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="civitai-sha256", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        update = self.digest.update
        try:
            while (chunk := self.chunks.get()) is not None:
                update(chunk)
        except BaseException as exc:  # reported by hexdigest()
            self.error = exc

    def put(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def hexdigest(self) -> str:
        self.chunks.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.digest.hexdigest()

    def abandon(self) -> None:
        self.chunks.put(None)
        self.thread.join()


def part_path(dest: Path) -> Path:
    """Where the bytes of ``dest`` gather while they download."""
    return dest.with_name(f".{dest.name}.part")


def fetch_file(client, url: str, dest: Path, *, token: str, sha256: str | None, size: int | None = None,
               fallback_url: str | None = None, progress: Progress | None = None, timeout: float = 60.0,
               cancelled: Callable[[], bool] = lambda: False) -> Downloaded:
    """Download ``url`` to ``dest`` (resuming a part left by an earlier try) and verify it.

    Args:
        client: an ``httpx.Client``.
        sha256: the SHA-256 civitai publishes (any case); None skips the check (said in the result's hash only).
        size: the expected size in bytes, when known (for progress and a quick check).
        progress: called with (bytes so far, total or None) at most every 0.1 s and at the end.

    Raises TransientError (worth a retry: the part is kept and the next try resumes it), ProviderError.
    """
    import httpx

    part = part_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _fetch(client, url, dest, part, token, sha256, size, progress, timeout, cancelled)
    except NotFound:
        if not fallback_url or fallback_url == url:
            raise
        return _fetch(client, fallback_url, dest, part, token, sha256, size, progress, timeout, cancelled)
    except httpx.TimeoutException as exc:
        raise TransientError(f"downloading {_short(url, token)} got no data within {timeout:g} s "
                             f"({type(exc).__name__}); the part is kept and the next try resumes it") from None
    except httpx.TransportError as exc:
        raise TransientError(f"downloading {_short(url, token)} failed: {type(exc).__name__}; the part is kept "
                             "and the next try resumes it") from None


def _short(url: str, token: str) -> str:
    return redact(url.split("?")[0], token)


def _fetch(client, url, dest, part, token, sha256, size, progress, timeout, cancelled) -> Downloaded:
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    hasher = _Hasher()
    try:
        if offset:
            with open(part, "rb") as f:
                while block := f.read(CHUNK):
                    hasher.put(block)
        headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        what = f"the download of {_short(url, token)}"
        with client.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as response:
            if response.status_code == 416 and offset and size is not None and offset == size:
                pass  # the part is whole already: verify it below
            else:
                _refuse(response, what, token)
                resumed = offset
                if offset and not _continues(response, offset):
                    hasher.abandon()
                    hasher, offset, resumed = _Hasher(), 0, 0
                total = _total(response, offset, size)
                _stream(response, part, offset, hasher, total, progress, cancelled)
                offset = resumed
        digest = hasher.hexdigest()
    except BaseException:
        if hasher.thread.is_alive():
            hasher.abandon()
        raise
    got = part.stat().st_size
    if size is not None and got != size:
        part.unlink()
        raise ProviderError(f"the download of {dest.name} has {got:,} bytes where civitai lists {size:,}; "
                            "the partial file was deleted, try again")
    if sha256 and digest.lower() != sha256.lower():
        part.unlink()
        raise ProviderError(f"the download of {dest.name} does not match the SHA-256 civitai publishes (expected "
                            f"{sha256.lower()}, got {digest}); the file was deleted, nothing was added. Try again;"
                            " if it happens again the file on civitai is damaged")
    os.replace(part, dest)
    return Downloaded(dest, digest, got, offset, _short(url, token))


def _refuse(response, what: str, token: str) -> None:
    """Raise for answers that are not the file: login page, refusals, errors."""
    if response.status_code in (401, 403):
        response.read()
        raise ProviderError(f"civitai refused the API token for {what} (HTTP {response.status_code}): the creator "
                            f"requires a signed-in account and the token was not accepted; {KEY_HELP}")
    path = response.url.path or ""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if response.status_code < 400 and (path.rstrip("/").endswith("/login") or kind == "text/html"):
        raise ProviderError(f"civitai answered {what} with its login page instead of the file: the creator requires "
                            f"a signed-in account for it; {KEY_HELP}")
    if response.status_code >= 400:
        response.read()
        check(response, what)
    if response.status_code not in (200, 206):
        raise ProviderError(f"civitai answered {what} with HTTP {response.status_code} and no file")


def _continues(response, offset: int) -> bool:
    """True when a response carries the bytes from ``offset`` on (a 206 for exactly that range)."""
    if response.status_code != 206:
        return False
    found = response.headers.get("content-range", "")
    try:
        start = int(found.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return False
    return start == offset


def _total(response, offset: int, size: int | None) -> int | None:
    length = response.headers.get("content-length")
    if length and length.isdigit():
        return offset + int(length)
    return size


class _CancelWatch:
    """Shuts the response's socket down when ``cancelled()`` turns true, so a stalled read ends at once."""

    def __init__(self, response, cancelled: Callable[[], bool]):
        self.cancelled = cancelled
        self.fired = False
        self._stop = threading.Event()
        stream = response.extensions.get("network_stream")
        self._socket = stream.get_extra_info("socket") if stream is not None else None
        self._thread = None
        if isinstance(self._socket, socket.socket):  # else (another transport) the next block shows a cancel
            self._thread = threading.Thread(target=self._run, name="civitai-cancel-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(CANCEL_POLL):
            if self.cancelled():
                self.fired = True
                try:  # socket.socket's own: an SSLSocket's would drop its SSL object under the reader
                    socket.socket.shutdown(self._socket, socket.SHUT_RDWR)
                except OSError:  # closed already: the read has ended anyway
                    pass
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _stream(response, part: Path, offset: int, hasher: _Hasher, total, progress, cancelled) -> None:
    done = offset
    last = 0.0
    watch = _CancelWatch(response, cancelled)
    try:
        with open(part, "ab" if offset else "wb", buffering=0) as f:
            for block in response.iter_raw():  # as received: a re-chunking buffer would lose its bytes on a cut
                f.write(block)
                hasher.put(block)
                done += len(block)
                if cancelled():  # each block too (the watcher only looks every CANCEL_POLL seconds)
                    break
                now = time.monotonic()
                if now - last >= PROGRESS_EVERY:
                    last = now
                    if progress is not None:
                        progress(done, total)
    except Exception:
        if not (watch.fired or cancelled()):
            raise
    finally:
        watch.stop()
    if cancelled():
        raise GenerationCancelled(f"the download was cancelled after {done:,} bytes; the part is kept")
    if progress is not None:
        progress(done, total if total is not None else done)
