"""Running one Replicate prediction per request: create, poll, cancel, download (see ``provider``).

The polling, the generation's deadline and the cancel on the way out are
:class:`~..polling.PolledJob`'s, shared with civitai.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, TypeVar

from ...core.errors import GenerationCancelled, ProviderError, ValidationError
from ...core.file_inputs import file_inputs
from ...core.records import GenerationRequest, GenerationResult, Output
from ..base import RunContext
from ..checks import Check
from ..keys import redact
from ..polling import CANCEL_POLICY, PolledJob, run_each
from ..remote import RemoteFactory, download, input_media_type, sniff_media_type
from ..spec import random_seed
from .spec import NAME_EXT, replicate_inputs, target
from .transport import is_remote

if TYPE_CHECKING:
    from .provider import ReplicateProvider

T = TypeVar("T")

TERMINAL = frozenset({"succeeded", "failed", "canceled"})
#: Characters of a prediction's logs kept in its returned parameters (the end is kept).
LOG_LIMIT = 20_000
_SEED = re.compile(r"using seed\s*[:=]?\s*(-?\d+)", re.IGNORECASE)


def _paths_as_text(given: Mapping[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        return params
    return {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in params.items()}


class ReplicateFactory(RemoteFactory):
    """Runs one Replicate model: a prediction per request, polled to its end, outputs downloaded."""

    provider: ReplicateProvider

    def checks(self) -> list[Check]:
        """``key``, ``paths`` (path objects as text), ``spec``, then ``file-inputs``: each file input
        is a URL, a data URI or an existing file (made absolute)."""
        key, spec = super().checks()
        return [key, Check("paths", _paths_as_text), spec, Check("file-inputs", self._files)]

    def _files(self, given: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        for name in file_inputs(self.model.spec):
            value = out.get(name)
            if isinstance(value, str) and not is_remote(value):
                path = Path(value).expanduser()
                if not path.is_file():
                    raise ValidationError(name, f"{name} takes an http(s) URL, a data: URI or the path of an "
                                                f"existing file; {value!r} is none of those")
                out[name] = str(path.resolve())
        return out

    def run(self, requests: Sequence[GenerationRequest], ctx: RunContext) -> list[GenerationResult | BaseException]:
        """One prediction per request, in turn; each failure is returned for its request, never raised."""
        return run_each(requests, lambda req: _Generation(self.provider, self.model, req, ctx))


class _Generation(PolledJob):
    """One request: create the prediction, poll it, download its outputs; cancel it on the way out."""

    service, noun, site, terminal = "Replicate", "prediction", "replicate.com", TERMINAL
    p: ReplicateProvider
    client: Any = None

    def _begin(self) -> None:
        self.client = self.p.client(self.key)

    def _run(self) -> GenerationResult:
        spec = self.model.spec
        props = spec.get("properties") or {}
        actual = replicate_inputs(spec, self.req.params)
        if "seed" in props and "seed" not in actual:
            # Picked here, not left to the model, so the product records a seed that reproduces it.
            actual["seed"] = random_seed(props["seed"], high=2**31 - 1)  # some models keep seeds in an int32
        sent, files = dict(actual), {}
        for name in file_inputs(spec):
            theirs = props[name].get(NAME_EXT, name)
            value = actual.get(theirs)
            if isinstance(value, str) and not is_remote(value):
                sent[theirs], files[theirs] = self._file(Path(value))
        where = target(spec)
        ref = where.get("model") or self.model.name.split(":")[0]
        version = where.get("version")
        if not version and not where.get("official"):
            version = self._latest_version(ref)
        self.ctx.progress(self.gid, 0, 1)
        if version:
            prediction = self._api(lambda: self.client.predictions.create(version=version, input=sent),
                                   "POST", "/v1/predictions")
        else:
            prediction = self._api(lambda: self.client.models.predictions.create(model=ref, input=sent),
                                   "POST", f"/v1/models/{ref}/predictions")
        self.job_id = prediction.id
        prediction = self.poll(prediction)
        self.finished = True
        pid = prediction.id
        if prediction.status == "failed":
            raise ProviderError(f"Replicate prediction {pid} failed: {prediction.error or 'no error message given'}")
        if prediction.status == "canceled":
            raise GenerationCancelled(f"Replicate prediction {pid} was cancelled on Replicate")
        if self.model.type in ("image-to-text", "text-to-text"):
            return self._text_result(prediction, actual, files)
        urls = _output_urls(prediction.output)
        if not urls:
            raise ProviderError(f"Replicate prediction {pid} succeeded but its output holds no file URL: "
                                f"{str(prediction.output)[:200]!r}")
        outputs = []
        for url in urls:
            if self.cancelled():
                raise GenerationCancelled(f"cancelled while downloading the outputs of prediction {pid}")
            outputs.append(self._download(url, pid))
        self.ctx.progress(self.gid, 1, 1)
        logs = redact(prediction.logs or "", self.key)
        metrics = dict(prediction.metrics or {})
        returned = {"seed": _seed(logs, prediction.output, actual.get("seed")), "prediction_id": pid,
                    "status": prediction.status, "model": prediction.model, "version": prediction.version,
                    "metrics": metrics, "predict_time": metrics.get("predict_time"), "logs": logs[-LOG_LIMIT:]}
        if files:
            returned["inputs"] = files
        return GenerationResult(tuple(outputs), actual=actual, returned=returned)

    # ---- steps -------------------------------------------------------------------------------
    def _text_result(self, prediction, actual: dict[str, Any], files: dict[str, Any]) -> GenerationResult:
        """A language model's output (a list of streamed tokens, or one string) as one ``text/plain`` output."""
        output = prediction.output
        if isinstance(output, list) and all(isinstance(t, str) for t in output):
            text = "".join(output)
        elif isinstance(output, str):
            text = output
        else:
            raise ProviderError(f"Replicate prediction {prediction.id} succeeded but its output is not text: "
                                f"{str(output)[:200]!r}")
        self.ctx.progress(self.gid, 1, 1)
        metrics = dict(prediction.metrics or {})
        returned = {"text": text, "prediction_id": prediction.id, "status": prediction.status,
                    "model": prediction.model, "version": prediction.version, "metrics": metrics,
                    "predict_time": metrics.get("predict_time"),
                    "logs": redact(prediction.logs or "", self.key)[-LOG_LIMIT:]}
        if actual.get("seed") is not None:
            returned["seed"] = actual["seed"]
        if files:
            returned["inputs"] = files
        return GenerationResult((Output(text.encode("utf-8"), "text/plain"),), actual=actual, returned=returned)

    def _api(self, fn: Callable[[], T], method: str, path: str, *, quiet=None, request_id=None) -> T:
        self.check_deadline()
        policy = self.p.retry_policy.until(self.deadline)
        return self.p.call(fn, method=method, path=path, recorder=self.recorder, policy=policy,
                           cancelled=self.cancelled, quiet=quiet, request_id=request_id, hidden=(self.key,))

    def _fetch(self, before: str | None):
        return self._api(lambda: self.client.predictions.get(self.job_id), "GET", f"/v1/predictions/{self.job_id}",
                         quiet=lambda p: p.status == before)

    def _status(self, job) -> str | None:
        return job.status

    def _progress(self, job) -> tuple[int, int] | None:
        return _progress(job)

    def _latest_version(self, ref: str) -> str:
        return self.p.latest_version(ref, lambda: self._api(lambda: self.client.models.get(ref), "GET",
                                                            f"/v1/models/{ref}"))

    def _file(self, path: Path) -> tuple[str, str]:
        """(what to send, what to record) for a local file input."""
        size = path.stat().st_size
        if size <= self.p.data_uri_max_bytes:
            data = path.read_bytes()
            kind = input_media_type(data, path.name)
            return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}", f"data URI ({size:,} bytes)"
        uploaded = self._api(lambda: self.client.files.create(path), "POST", "/v1/files")
        url = (uploaded.urls or {}).get("get")
        if not url:
            raise ProviderError(f"Replicate's files API returned no URL for the upload of {path}")
        return url, url

    def _download(self, url: str, pid: str) -> Output:
        if url.startswith("data:"):
            return _decode_data_uri(url, self.p.max_output_bytes)
        return self._api(lambda: download(url, client=self.p.downloader(), max_bytes=self.p.max_output_bytes,
                                          timeout=self.p.request_timeout), "GET", url, request_id=pid)

    def _cancel(self, job_id: str) -> None:
        self.p.call(lambda: self.client.predictions.cancel(job_id), method="POST",
                    path=f"/v1/predictions/{job_id}/cancel", recorder=self.recorder, policy=CANCEL_POLICY,
                    hidden=(self.key,))


# ---- helpers ---------------------------------------------------------------------------------


def _progress(prediction) -> tuple[int, int] | None:
    try:
        found = prediction.progress
    except Exception:  # logs in a shape the client's parser does not expect
        return None
    if found is None or found.total <= 0:
        return None
    return min(found.current, found.total), found.total


def _seed(logs: str, output: Any, sent: Any) -> int | None:
    found = _SEED.findall(logs or "")
    if found:
        return int(found[-1])
    if isinstance(output, Mapping) and isinstance(output.get("seed"), int):
        return output["seed"]
    return sent if isinstance(sent, int) else None


def _output_urls(output: Any) -> list[str]:
    """Every file URL in a prediction's output: a string, a list, or a mapping's values, in order."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if is_remote(value):
                found.append(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(output)
    return found


def _decode_data_uri(uri: str, max_bytes: int) -> Output:
    header, _, payload = uri.partition(",")
    meta = header[len("data:"):]
    data = base64.b64decode(payload) if meta.endswith(";base64") else urllib.parse.unquote_to_bytes(payload)
    if len(data) > max_bytes:
        raise ProviderError(f"an output data URI holds {len(data):,} bytes, over the limit of {max_bytes:,}; "
                            "raise max_output_bytes in the provider settings")
    kind = sniff_media_type(data[:64], meta.split(";")[0])
    if kind is None:
        raise ProviderError(f"an output data URI ({meta.split(';')[0] or 'no type'}) is not an image, video or audio file")
    return Output(data, kind)
