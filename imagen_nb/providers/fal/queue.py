"""One fal generation's way through the queue: upload, submit, poll, fetch, download.

Used by :class:`~imagen_nb.providers.fal.FalFactory`; every HTTP request goes through the
provider's governed transport (``fal.transport``), under our retry policy and the generation's timeout.
"""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ...core.errors import GenerationCancelled, ProviderError
from ...core.file_inputs import file_inputs
from ...core.records import GenerationRequest, GenerationResult, Output
from ..base import RunContext
from ..keys import redact
from ..remote import ApiRecorder, call_with_retries, download, input_media_type, sniff_media_type
from ..spec import random_seed

if TYPE_CHECKING:
    from .provider import FalFactory

_STEP = re.compile(r"(?<![\w./-])(\d{1,5})\s*/\s*(\d{1,5})(?![\w./-])")
_PERCENT = re.compile(r"(?<![\d.])(\d{1,3})(?:\.\d+)?\s*%")
_FAILED = {"ERROR", "FAILED", "CANCELLED"}
_MAX_LOGS = 200


class Generation:
    """One request's way through fal's queue."""

    def __init__(self, factory: FalFactory, req: GenerationRequest, ctx: RunContext, key: str):
        self.factory, self.provider, self.req, self.ctx, self.key = factory, factory.provider, req, ctx, key
        self.gid = req.generation_id
        self.recorder = ApiRecorder("fal", ctx, self.gid, req.order_id, secrets=(key,))
        self.deadline = time.monotonic() + self.provider.timeout
        self.client = self.provider.client(key)
        self.handle = None
        self.finished = False  # fal holds a result: nothing left to cancel
        self.scope = None  # the CallScope of the latest call (status polls read its last request)
        self.logs: list[str] = []
        self.shown: tuple[int, int] | None = None  # the progress last reported

    # -- the flow --------------------------------------------------------------------------
    def run(self) -> GenerationResult | BaseException:
        """The result, or the exception that ended the generation (a request left at fal is cancelled)."""
        try:
            return self._run()
        except GenerationCancelled as exc:
            self._cancel_at_fal()
            return exc
        except Exception as exc:
            timed_out, finished = time.monotonic() >= self.deadline, self.finished
            self._cancel_at_fal()
            return self._timed_out(exc, finished) if timed_out else exc

    def _run(self) -> GenerationResult:
        spec = self.factory.model.spec
        arguments = to_fal(spec, self.req.params)
        uploaded = self._upload_inputs(spec, arguments)
        self._check_cancelled("before submitting")
        app = self.factory.model.name
        self.handle = self._call("submit", lambda: self.client.submit(app, arguments), parse=True)
        self.ctx.progress(self.gid, 0, 1)
        status = self._wait()
        data = self._call("result fetch", lambda: self._get(self.handle.response_url))
        if not isinstance(data, Mapping):
            raise ProviderError(f"fal's result for request {self.handle.request_id} is not a JSON object")
        if self.factory.model.type in ("image-to-text", "text-to-text"):
            return self._text_result(data, status, arguments)
        files = [f for f in files_in(data) if f not in uploaded]
        if not files:
            detail = data.get("detail") or data.get("error")
            raise ProviderError(f"fal request {self.handle.request_id} failed: {detail}" if detail else
                                f"fal request {self.handle.request_id} returned no image, video or audio file")
        outputs = tuple(self._download(url) for url in files)
        done = self.shown[1] if self.shown and self.shown[1] > 1 else 1
        if self.shown != (done, done):
            self.ctx.progress(self.gid, done, done)
        returned = {k: v for k, v in data.items() if not files_in(v)}
        returned.update({"request_id": self.handle.request_id, "logs": self.logs[-_MAX_LOGS:]})
        if isinstance(status.get("metrics"), Mapping) and status["metrics"]:
            returned["metrics"] = status["metrics"]
        return GenerationResult(outputs, actual=redacted(arguments, self.key),
                                returned=redacted(returned, self.key))

    def _text_result(self, data: Mapping[str, Any], status: Mapping[str, Any],
                     arguments: Mapping[str, Any]) -> GenerationResult:
        """A text model's answer (``output``, ``results``…) as one ``text/plain`` output."""
        from .spec import TEXT_FIELDS

        text = next((data[f] for f in TEXT_FIELDS if isinstance(data.get(f), str)), None)
        if text is None:
            detail = data.get("detail") or data.get("error")
            raise ProviderError(f"fal request {self.handle.request_id} failed: {detail}" if detail else
                                f"fal request {self.handle.request_id} returned no text (no "
                                f"{', '.join(TEXT_FIELDS)} field)")
        self.ctx.progress(self.gid, 1, 1)
        returned = {k: v for k, v in data.items() if k not in TEXT_FIELDS}
        returned.update({"text": text, "request_id": self.handle.request_id, "logs": self.logs[-_MAX_LOGS:]})
        if isinstance(status.get("metrics"), Mapping) and status["metrics"]:
            returned["metrics"] = status["metrics"]
        return GenerationResult((Output(text.encode("utf-8"), "text/plain"),),
                                actual=redacted(arguments, self.key), returned=redacted(returned, self.key))

    def _wait(self) -> Mapping[str, Any]:
        """Poll the status until fal completes the request; progress from logs; cancel and timeout."""
        seen = None
        while True:
            self._check_cancelled("while fal ran it")
            if time.monotonic() >= self.deadline:
                raise self._timeout_error()
            status = self._call("status poll", lambda: self._get(self.handle.status_url, logs="1"), quiet=True)
            if not isinstance(status, Mapping) or "status" not in status:
                raise ProviderError(f"fal's status of request {self.handle.request_id} has no 'status' field")
            state = str(status["status"])
            if state != seen and self.scope.last:  # status polls are summarised: one row per change
                method, url, code, started = self.scope.last
                self.recorder.record(method, url, code, started, request_id=self.handle.request_id,
                                     attempt=self.scope.attempt)
                seen = state
            self._take_logs(status.get("logs"))
            if state == "COMPLETED":
                self.finished = True
                if status.get("error"):  # fal ran it and it failed (or it was cancelled at fal)
                    kind = f" ({status['error_type']})" if status.get("error_type") else ""
                    raise ProviderError(f"fal request {self.handle.request_id} failed{kind}: {status['error']}")
                return status
            if state in _FAILED:
                self.finished = True
                message = status.get("error") or status.get("detail") or "no message"
                raise ProviderError(f"fal request {self.handle.request_id} ended {state}: {message}")
            self._sleep(self.provider.poll_interval)

    # -- calls -----------------------------------------------------------------------------
    def _call(self, what: str, fn, *, quiet: bool = False, parse: bool = False):
        """Run ``fn`` (one HTTP request) under our retry policy, bounded by the generation's deadline."""
        from .transport import CallScope, HTTPFailure, Unreachable, http_error, malformed, scoped, unreachable_error

        policy = self.provider.retry_policy.until(self.deadline)
        request_id = self.handle.request_id if self.handle is not None else None

        def attempt(n: int):
            self.scope = CallScope(self.recorder, n, request_id, self.deadline, quiet)
            with scoped(self.provider.local, self.scope):
                try:
                    return fn()
                except HTTPFailure as exc:
                    raise http_error(exc, what) from exc
                except Unreachable as exc:
                    raise unreachable_error(exc, what) from exc
                except (ValueError, KeyError, TypeError) as exc:
                    if not parse:
                        raise
                    # fal-client parsed the answer (submit): anything but the JSON it expects lands here
                    raise malformed(what, str(exc)) from exc

        return call_with_retries(attempt, policy=policy, cancelled=lambda: self.ctx.cancelled(self.gid))

    def _get(self, url: str, **params: str):
        """GET a queue URL fal gave (status, result) with the client's session: JSON or ProviderError."""
        from .transport import json_of

        response = self.handle.client.get(url, params=params or None)
        return json_of(response, "status poll" if params else "result fetch")

    def _upload_inputs(self, spec: Mapping[str, Any], arguments: dict[str, Any]) -> set[str]:
        """Replace local files given for ``x-fal-file`` properties by the URLs fal's CDN gives them."""
        uploaded = set()
        props = spec.get("properties", {})
        for name in file_inputs(spec):
            target = props[name].get("x-fal", name)
            value = arguments.get(target)
            if isinstance(value, list):  # a list input (x-fal-list): each of its files
                arguments[target] = [self._upload_one(name, v, uploaded) for v in value]
                continue
            if value is None or (isinstance(value, str) and is_url(value)):
                continue
            arguments[target] = self._upload_one(name, value, uploaded)
        return uploaded

    def _upload_one(self, name: str, value: Any, uploaded: set[str]) -> Any:
        """A file input's URL: a URL as is, a local file or bytes uploaded to fal's CDN."""
        if value is None or (isinstance(value, str) and is_url(value)):
            return value
        if isinstance(value, (bytes, bytearray)):
            data, file_name = bytes(value), None
        else:
            path = Path(str(value)).expanduser()
            try:
                data, file_name = path.read_bytes(), path.name
            except OSError as exc:
                raise ProviderError(f"{name}: cannot read {str(path)!r} to upload it ({exc.strerror})") from exc
        kind = input_media_type(data, file_name)
        self._check_cancelled("before uploading")
        url = self._call("upload", lambda: self.client.upload(
            data, kind, file_name, repository="fal_v3", fallback_repository=[]), parse=True)
        uploaded.add(url)
        return url

    def _download(self, url: str) -> Output:
        """One output file: a data URI decoded here, a URL streamed (size-checked, typed, retried)."""
        if url.startswith("data:"):
            head, _, payload = url.partition(",")
            try:
                data = base64.b64decode(payload) if head.endswith(";base64") else payload.encode()
            except ValueError as exc:
                raise ProviderError("fal returned an output data URI that is not valid base64") from exc
            kind = sniff_media_type(data[:64], head[5:].split(";")[0] or None)
            if kind is None:
                raise ProviderError("fal returned an output that is not an image, video or audio file")
            return Output(data, kind)
        from .transport import CallScope, scoped

        def attempt(n: int) -> Output:
            scope = CallScope(None, n, self.handle.request_id, self.deadline)
            started = time.monotonic()
            error, status = None, None
            try:
                with scoped(self.provider.local, scope):
                    timeout = max(1.0, min(self.provider.request_timeout, self.deadline - time.monotonic()))
                    return download(url, client=self.provider.downloader,
                                    max_bytes=self.provider.max_output_bytes, timeout=timeout)
            except Exception as exc:
                error = str(exc)
                raise
            finally:
                if scope.last:
                    status = scope.last[2]
                self.recorder.record("GET", url, status, started, request_id=self.handle.request_id,
                                     attempt=n, error=error)

        policy = self.provider.retry_policy.until(self.deadline)
        return call_with_retries(attempt, policy=policy, cancelled=lambda: self.ctx.cancelled(self.gid))

    # -- cancellation and time -------------------------------------------------------------
    def _check_cancelled(self, when: str) -> None:
        if self.ctx.cancelled(self.gid):
            rid = f" {self.handle.request_id}" if self.handle is not None else ""
            raise GenerationCancelled(f"cancelled {when}; fal request{rid} cancelled too" if rid else
                                      f"cancelled {when}")

    def _sleep(self, seconds: float) -> None:
        end = min(time.monotonic() + seconds, self.deadline)
        while time.monotonic() < end:
            if self.ctx.cancelled(self.gid):
                return
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def _cancel_at_fal(self) -> None:
        """Cancel the request at fal (best effort, one attempt) so an abandoned request stops costing."""
        if self.handle is None or self.finished:
            return
        from .transport import CallScope, HTTPFailure, Unreachable, scoped

        self.finished = True
        # Its own small budget: the generation's deadline may be past already.
        scope = CallScope(self.recorder, 1, self.handle.request_id,
                          time.monotonic() + min(10.0, self.provider.request_timeout))
        with scoped(self.provider.local, scope):
            try:
                self.handle.cancel()
            except (HTTPFailure, Unreachable):
                pass  # recorded by the transport; the generation's own outcome matters more

    def _timeout_error(self, finished: bool = False) -> ProviderError:
        rid = self.handle.request_id if self.handle is not None else None
        timeout = f"the timeout of {self.provider.timeout:g} s"
        if finished:
            what = f"fal request {rid} finished, but fetching its outputs ran past {timeout}"
        elif rid:
            what = f"fal request {rid} did not finish within {timeout} and was cancelled at fal"
        else:
            what = f"the fal request was not accepted within {timeout}"
        err = ProviderError(f"{what}; raise the fal provider's `timeout` setting for slow models")
        err.timed_out = True
        return err

    def _timed_out(self, exc: BaseException, finished: bool) -> BaseException:
        """The timeout error for ``exc``, a failure that happened because the generation's time ran out."""
        if getattr(exc, "timed_out", False):
            return exc
        err = self._timeout_error(finished)
        err.__cause__ = exc
        return err

    def _take_logs(self, logs: Any) -> None:
        if not isinstance(logs, list):
            return
        messages = [redact(str(l.get("message", "")) if isinstance(l, Mapping) else str(l), self.key) for l in logs]
        # fal sends every log so far with each status; keep them once.
        if messages[:len(self.logs)] == self.logs:
            self.logs = messages
        else:
            self.logs.extend(messages)
        for message in reversed(self.logs):
            found = progress_of(message)
            if found:
                if found != self.shown:
                    self.shown = found
                    self.ctx.progress(self.gid, *found)
                return


# ---- helpers ------------------------------------------------------------------------------

def to_fal(spec: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameter set with fal's names (``x-fal``), nested where fal nests, and a seed picked when absent."""
    props = spec.get("properties", {})
    params = dict(params)
    seed = props.get("seed")
    if seed is not None and params.get("seed") is None:
        # Picked here so the product records the seed it was made with, as local providers do.
        params["seed"] = random_seed(seed)
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        prop = props.get(name, {})
        target = prop.get("x-fal", name)
        if prop.get("x-fal-as") == "string":
            value = str(value)
        if prop.get("x-fal-list") and not isinstance(value, list):
            value = [value]
        head, dot, tail = target.partition(".")
        if dot:
            out.setdefault(head, {})[tail] = value
        else:
            out[target] = value
    return out


def files_in(node: Any) -> list[str]:
    """URLs of the files in a fal result (every object with a ``url``), in order."""
    found: list[str] = []
    if isinstance(node, Mapping):
        url = node.get("url")
        if isinstance(url, str) and (url.startswith(("http://", "https://", "data:"))):
            return [url]
        for value in node.values():
            found.extend(files_in(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(files_in(value))
    return found


def progress_of(message: str) -> tuple[int, int] | None:
    """(step, total) from a log line: ``12/30`` (tqdm, "step 12/30") or a percentage."""
    matches = [(int(a), int(b)) for a, b in _STEP.findall(message)]
    matches = [(a, b) for a, b in matches if 0 < b <= 10000 and a <= b]
    if matches:
        return matches[-1]
    percent = _PERCENT.findall(message)
    if percent and int(percent[-1]) <= 100:
        return int(percent[-1]), 100
    return None


def is_url(value: str) -> bool:
    """True for what fal takes as a file input as is (http(s) and data URIs)."""
    return value.startswith(("http://", "https://", "data:"))


def redacted(value: Any, key: str) -> Any:
    """``value`` with the key scrubbed from every string in it."""
    if isinstance(value, str):
        return redact(value, key)
    if isinstance(value, Mapping):
        return {k: redacted(v, key) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redacted(v, key) for v in value]
    return value
