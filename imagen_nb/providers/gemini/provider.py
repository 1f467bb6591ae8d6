"""The ``gemini`` provider: ``generateContent`` through the official ``google-genai`` client.

Keys like the other remote providers: ``imagen-nb keys set gemini`` or ``GEMINI_API_KEY``. Calls go
through our retry policy (the client's own retries are off), each one recorded in ``api_calls``;
429 waits for Retry-After, 5xx and dropped connections are retried, other errors fail the
generation with Gemini's message.
"""

from __future__ import annotations

import base64
import mimetypes
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

from ...core.errors import GenerationCancelled, ProviderError, RateLimited
from ...core.records import GenerationRequest, GenerationResult, ModelInfo, Output
from ..base import Factory, RunContext
from ..keys import redact
from ..remote import (
    ApiRecorder, RemoteFactory, RemoteProvider, RemoteSettings, TransientError, call_with_retries,
    retry_after_seconds,
)
from ..settings import setting
from ..spec import random_seed
from . import spec as gspec

MAX_IMAGE_BYTES = 20 * 1024 * 1024


def _url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a URL (or empty for Google's)")
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


@dataclass(frozen=True)
class GeminiSettings(RemoteSettings):
    """Settings of the ``gemini`` provider."""

    provider: ClassVar[str] = "gemini"

    base_url: str = setting("", "Where the Gemini API is (default: Google's, https://generativelanguage.googleapis.com).",
                            _url)
    api_version: str = setting("v1beta", "API version in the request path.")


class GeminiProvider(RemoteProvider[GeminiSettings]):
    """Provider ``gemini``: Gemini models as judges (``<model>/vision``) and rewriters (``<model>``)."""

    name = "gemini"
    Settings = GeminiSettings
    curated = gspec.CURATED

    def __init__(self, context):
        super().__init__(context)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def fetch_model(self, name: str) -> ModelInfo:
        """Any ``gemini-*`` name: every Gemini model takes the same request, so nothing is fetched."""
        if not gspec.valid_name(name):
            raise self.unknown(name, "Gemini model ids look like gemini-2.5-flash (add /vision for an image judge)")
        return gspec.model_info(name)

    def factory(self, model: ModelInfo) -> Factory:
        """The generateContent factory."""
        return GeminiFactory(model, self)

    def client(self, key: str):
        """One ``google.genai.Client`` per key, pointed at ``base_url``, its own retries off."""
        from google import genai
        from google.genai import types

        with self._lock:
            if key not in self._clients:
                options = types.HttpOptions(
                    base_url=self.settings.base_url or None, api_version=self.settings.api_version,
                    timeout=int(self.request_timeout * 1000), retry_options=types.HttpRetryOptions(attempts=1))
                self._clients[key] = genai.Client(api_key=key, http_options=options)
            return self._clients[key]

    def close(self) -> None:
        """Close the clients."""
        with self._lock:
            for client in self._clients.values():
                try:
                    client.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
            self._clients.clear()


class GeminiFactory(RemoteFactory):
    """One ``generateContent`` call per generation."""

    provider: GeminiProvider

    def run(self, requests: Sequence[GenerationRequest], ctx: RunContext) -> list[GenerationResult | BaseException]:
        """Run each request; an error becomes that request's result."""
        out: list[GenerationResult | BaseException] = []
        for req in requests:
            try:
                out.append(self._one(req, ctx))
            except (ProviderError, GenerationCancelled) as exc:
                out.append(exc)
        return out

    def _image_part(self, value: str):
        from google.genai import types

        if value.startswith("data:"):
            head, _, payload = value.partition(",")
            data = base64.b64decode(payload)
            mime = head[5:].split(";")[0] or "image/png"
        elif value.startswith(("http://", "https://")):
            from ..remote import download

            import httpx

            with httpx.Client() as http:
                got = download(value, client=http, max_bytes=MAX_IMAGE_BYTES, timeout=self.provider.request_timeout)
            data, mime = got.data, got.media_type
        else:
            path = Path(value).expanduser()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ProviderError(f"image: cannot read {value!r} ({exc.strerror or exc})") from exc
            mime = mimetypes.guess_type(path.name)[0] or "image/png"
        return types.Part.from_bytes(data=data, mime_type=mime)

    def _one(self, req: GenerationRequest, ctx: RunContext) -> GenerationResult:
        from google.genai import types

        key = self.provider.keys.require("gemini")
        params = dict(req.params)
        if params.get("seed") is None:  # picked here so the product records the seed it was made with
            params["seed"] = random_seed(self.model.spec["properties"]["seed"])
        model = self.model.name.removesuffix(gspec.VISION)
        contents: list[Any] = []
        if params.get("image"):
            contents.append(self._image_part(str(params["image"])))
        contents.append(params["prompt"])
        config: dict[str, Any] = {"temperature": params.get("temperature"),
                                  "max_output_tokens": params.get("max_output_tokens")}
        if params.get("system_prompt"):
            config["system_instruction"] = params["system_prompt"]
        if params.get("seed") is not None:
            config["seed"] = int(params["seed"])
        if params.get("score"):
            config.update(response_mime_type="application/json", response_json_schema=gspec.SCORE_SCHEMA)
        recorder = ApiRecorder("gemini", ctx, req.generation_id, req.order_id, secrets=(key,))
        endpoint = f"/{self.provider.settings.api_version}/models/{model}:generateContent"
        client = self.provider.client(key)
        deadline = time.monotonic() + self.provider.timeout

        def attempt(n: int):
            if ctx.cancelled(req.generation_id):
                raise GenerationCancelled("cancelled before Gemini answered")
            if time.monotonic() >= deadline:
                raise ProviderError(f"Gemini did not answer within the generation's timeout "
                                    f"({self.provider.timeout:g} s; setting timeout)")
            started = time.monotonic()
            try:
                response = _wait_for(lambda: client.models.generate_content(
                    model=model, contents=contents, config=types.GenerateContentConfig(**config)), req, ctx)
            except GenerationCancelled:
                recorder.record("POST", endpoint, None, started, attempt=n, error="cancelled while waiting")
                raise
            except Exception as exc:  # noqa: BLE001 - sorted into retryable or not below
                error = _classify(exc, key)
                code = getattr(exc, "code", None)
                recorder.record("POST", endpoint, code if isinstance(code, int) else None, started, attempt=n,
                                error=str(error))
                # the client's exception may quote the key (an error echoing the request): the
                # generation keeps a redacted traceback of it instead of the exception itself
                error.traceback_text = redact("".join(traceback.format_exception(exc)), key)
                raise error from None
            recorder.record("POST", endpoint, 200, started, attempt=n)
            return response

        ctx.progress(req.generation_id, 1, 2)  # step 1: asked; step 2: answered
        response = call_with_retries(attempt, policy=self.provider.retry_policy,
                                     cancelled=lambda: ctx.cancelled(req.generation_id))
        text = _text_of(response)
        ctx.progress(req.generation_id, 2, 2)
        usage = getattr(response, "usage_metadata", None)
        returned: dict[str, Any] = {"text": text, "model_version": getattr(response, "model_version", None)}
        if usage is not None:
            returned["usage"] = {k: v for k, v in usage.model_dump(exclude_none=True).items()
                                 if isinstance(v, (int, float, str))}
        if params.get("seed") is not None:
            returned["seed"] = params["seed"]
        actual = {k: v for k, v in params.items() if v is not None}
        return GenerationResult((Output(text.encode("utf-8"), "text/plain"),), actual=actual, returned=returned)


_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="gemini-call")


def _wait_for(call, req: GenerationRequest, ctx: RunContext):
    """Run a blocking client call on a pool thread, checking for a cancel while it runs.

    A cancelled generation returns at once; its call finishes (or times out) in the background
    and its answer is dropped.
    """
    future = _POOL.submit(call)
    while True:
        try:
            return future.result(timeout=0.05)
        except FutureTimeout:
            if ctx.cancelled(req.generation_id):
                raise GenerationCancelled("cancelled while Gemini was answering") from None


def _text_of(response) -> str:
    try:
        text = response.text
    except Exception as exc:  # noqa: BLE001 - the client raises on some blocked answers
        raise ProviderError(f"Gemini's answer holds no text: {exc}") from exc
    if not text:
        reason = None
        candidates = getattr(response, "candidates", None) or []
        if candidates:
            reason = getattr(candidates[0], "finish_reason", None)
        feedback = getattr(response, "prompt_feedback", None)
        raise ProviderError(f"Gemini returned no text (finish reason {reason}; prompt feedback {feedback})")
    return text


def _classify(exc: BaseException, key: str) -> BaseException:
    """Our error for a failed call: RateLimited (429), TransientError (5xx, network), ProviderError (the rest)."""
    import httpx
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        message = redact(f"{exc.code} {exc.status or ''}: {exc.message or ''}".strip(), key)
        if exc.code == 429:
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None) or {}
            return RateLimited(f"Gemini asked to slow down (HTTP {message})",
                               retry_after_seconds(headers.get("retry-after")))
        if exc.code >= 500:
            return TransientError(f"Gemini failed (HTTP {message})")
        return ProviderError(f"Gemini refused the request (HTTP {message})")
    # by name: google-genai may use its own copy of httpx (httpx2), whose classes are not httpx's
    if isinstance(exc, (httpx.TimeoutException, httpx.TransportError)) or \
            {c.__name__ for c in type(exc).__mro__} & {"TimeoutException", "TransportError"}:
        return TransientError(f"Gemini could not be reached: {type(exc).__name__}")
    if isinstance(exc, ValueError):
        return ProviderError(f"Gemini's answer is not the JSON generateContent returns ({redact(str(exc), key)[:200]})")
    return ProviderError(f"calling Gemini failed: {type(exc).__name__}: {redact(str(exc), key)[:300]}")


__all__ = ["GeminiFactory", "GeminiProvider", "GeminiSettings"]
