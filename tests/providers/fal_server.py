"""A loopback server that speaks the parts of fal's protocol that fal-client and the fal provider use.

Everything is under one ``http://127.0.0.1:<port>``, split by prefix so each of the provider's URL
settings is exercised (:meth:`FalServer.settings`):

* ``/queue/<app>``: the queue (submit; ``requests/<id>/status?logs=1``, ``requests/<id>``,
  ``requests/<id>/cancel``). Like fal, status URLs drop an app's sub-path (``fal-ai/flux/schnell``
  → ``fal-ai/flux/requests/…``).
* ``/rest/storage/auth/token``: the CDN upload token fal-client asks for before uploading.
* ``/cdn/files/upload``: the upload itself (with the token), answering the file's ``access_url``.
* ``/openapi?endpoint_id=<app>``: an endpoint's OpenAPI document, when one was registered.
* ``/files/<name>``: the outputs (real PNG bytes from Pillow, a WAV from ``wave``, an MP4 header).

Queue and REST requests must carry ``Authorization: Key <key>``. Every request is recorded
(:class:`Seen`, without the Authorization value). Faults are queued with :meth:`FalServer.fault`
and consumed in order by the requests they match.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from media import png_bytes, upscaled_png, wav_bytes  # noqa: F401  (re-exported to the tests)
from urllib.parse import parse_qs, urlsplit

CDN_TOKEN = "cdn-token-0123456789"
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08free"


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # the Authorization value is replaced by its scheme and "…"
    body: bytes
    op: str
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    """A fault served to the next ``times`` requests of ``op`` (for ``app`` when given).

    ``kind``: ``429`` (with ``Retry-After: retry_after``), ``500``, ``503``, ``404``, ``drop``
    (close the socket without a response), ``slow`` (answer after ``delay`` s), ``malformed``
    (200 with broken JSON), and per op: status ``error`` (status ERROR) / ``failed`` (COMPLETED
    with an error) / ``cancelled`` (cancelled at fal); result ``detail`` (422 with FastAPI details);
    download ``big`` (a body of ``size`` bytes).
    """

    op: str
    kind: str
    app: str | None = None
    times: int = 1
    retry_after: float = 1
    delay: float = 0.0
    message: str = "boom"
    size: int = 1 << 20


@dataclass
class App:
    """How an app behaves: what it makes and how long it stays in the queue."""

    kind: str = "image"  # image, video, audio, upscale (the uploaded image_url resized by scale / upscale_factor) or text
    text: Any = None  # text apps: the answer, or a function of the request's arguments
    queued_polls: int = 1  # status polls answered IN_QUEUE
    running_polls: int = 2  # status polls answered IN_PROGRESS (each adds a log line "step i/n")
    hold: bool = False  # never complete (until cancelled)
    extra_log: str | None = None  # one more log line (e.g. to test that logs are redacted)
    result_extra: dict[str, Any] = field(default_factory=dict)  # more fields of the result


@dataclass
class Job:
    id: str
    app: str
    base: str  # owner/alias: where its status and result live
    args: dict[str, Any]
    polls: int = 0
    state: str = "IN_QUEUE"
    cancelled: bool = False
    logs: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    fault: str | None = None




class FalServer:
    """The loopback fal. Use as a context manager, or call :meth:`start` and :meth:`close`."""

    def __init__(self, key: str):
        self.key = key
        self.seen: list[Seen] = []
        self.faults: list[Fault] = []
        self.apps: dict[str, App] = {}
        self.jobs: dict[str, Job] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.uploads: dict[str, bytes] = {}
        self.openapi_docs: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        server = self

        class Handler(_Handler):
            fal = server

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fal-loopback", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "FalServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self.stopping.set()  # slow answers stop waiting
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> "FalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- configuration -----------------------------------------------------------------------
    def settings(self, **extra: Any) -> dict[str, Any]:
        """Settings of the fal provider that point it here (plus ``extra``)."""
        return {"queue_url": f"{self.url}/queue", "rest_url": f"{self.url}/rest", "cdn_url": f"{self.url}/cdn",
                "openapi_url": f"{self.url}/openapi?endpoint_id={{app}}", **extra}

    def app(self, name: str, **behaviour: Any) -> App:
        self.apps[name] = App(**behaviour)
        return self.apps[name]

    def fault(self, op: str, kind: str, **kw: Any) -> Fault:
        fault = Fault(op, kind, **kw)
        with self.lock:
            self.faults.append(fault)
        return fault

    def openapi(self, app: str, doc: dict) -> None:
        self.openapi_docs[app] = doc

    # -- what happened -----------------------------------------------------------------------
    def requests(self, op: str | None = None, method: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if (op is None or s.op == op) and (method is None or s.method == method)]

    def take_fault(self, op: str, app: str | None) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.op == op and fault.times > 0 and (fault.app is None or fault.app == app):
                    fault.times -= 1
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    fal: FalServer
    protocol_version = "HTTP/1.0"  # one request per connection: a dropped one affects only itself

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    # -- plumbing ----------------------------------------------------------------------------
    def _serve(self) -> None:
        fal = self.fal
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        op, app, job = self._route(parts.path)
        headers = {k: v for k, v in self.headers.items()}
        auth = self.headers.get("Authorization")
        if auth is not None:
            headers["Authorization"] = auth.split(" ")[0] + " …"
        with fal.lock:
            fal.seen.append(Seen(self.command, parts.path, parse_qs(parts.query), headers, body, op))
        fault = fal.take_fault(op, app)
        if fault is not None and self._generic_fault(fault):
            return
        if op in ("submit", "status", "result", "cancel", "token") and auth != f"Key {fal.key}":
            return self._json(401, {"detail": "No user found for Key ID and Secret"})
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            return self._json(404, {"detail": f"Not Found: {self.command} {parts.path}"})
        handler(parts, body, app, job, fault)

    def _route(self, path: str) -> tuple[str, str | None, Job | None]:
        fal = self.fal
        if path.startswith("/queue/"):
            rest = path[len("/queue/"):]
            if "/requests/" not in rest:
                return ("submit" if self.command == "POST" else "unknown"), rest, None
            _, tail = rest.split("/requests/", 1)
            rid, _, what = tail.partition("/")
            job = fal.jobs.get(rid)
            op = {"": "result", "status": "status", "cancel": "cancel"}.get(what, "unknown")
            return op, job.app if job else None, job
        if path == "/rest/storage/auth/token":
            return "token", None, None
        if path == "/cdn/files/upload":
            return "upload", None, None
        if path == "/openapi":
            return "openapi", parse_qs(urlsplit(self.path).query).get("endpoint_id", [None])[0], None
        if path.startswith("/files/"):
            name = path[len("/files/"):]
            job = fal.jobs.get(name.split("-")[0])
            return "download", job.app if job else None, job
        return "unknown", None, None

    def _generic_fault(self, fault: Fault) -> bool:
        """Serve a fault every op shares; False when the op serves it (or it only delays)."""
        kind = fault.kind
        if kind == "slow":
            self.fal.stopping.wait(fault.delay)
            return False
        if kind == "drop":
            self.close_connection = True
            return True
        if kind == "429":
            self._json(429, {"detail": "Rate limit exceeded"}, headers={"Retry-After": str(fault.retry_after)})
            return True
        if kind in ("500", "503", "404"):
            self._json(int(kind), {"detail": fault.message})
            return True
        if kind == "malformed":
            self._send(200, b'{"status": "IN_PROG', "application/json")
            return True
        return False

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _urls(self, job: Job) -> dict[str, str]:
        base = f"{self.fal.url}/queue/{job.base}/requests/{job.id}"
        return {"request_id": job.id, "response_url": base, "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel"}

    # -- the queue ---------------------------------------------------------------------------
    def _op_submit(self, parts, body, app, job, fault) -> None:
        fal = self.fal
        try:
            args = json.loads(body or b"{}")
        except ValueError:
            return self._json(422, {"detail": "body is not JSON"})
        owner_alias = "/".join(app.split("/")[:2])
        job = Job(uuid.uuid4().hex, app, owner_alias, args)
        with fal.lock:
            fal.jobs[job.id] = job
        self._json(200, {**self._urls(job), "queue_position": 0})

    def _op_status(self, parts, body, app, job, fault) -> None:
        if job is None:
            return self._json(404, {"detail": "Request not found"})
        behaviour = self.fal.apps.get(job.app, App())
        with_logs = parse_qs(parts.query).get("logs", ["0"])[0] in ("1", "true", "True")
        if fault is not None and fault.kind in ("error", "failed", "cancelled"):
            job.fault = fault.kind
        job.polls += 1
        if job.fault == "error":
            return self._json(200, {"status": "ERROR", "error": fault.message if fault else "boom", **self._urls(job)})
        if job.cancelled or job.fault == "cancelled":
            job.state = "COMPLETED"
            return self._json(200, {"status": "COMPLETED", "error": "Request was cancelled",
                                    "error_type": "request_cancelled", "logs": [], **self._urls(job)})
        if job.fault == "failed":
            job.state = "COMPLETED"
            return self._json(200, {"status": "COMPLETED", "error": f"Runner failed: {fault.message if fault else ''}",
                                    "error_type": "runner_error", "logs": job.logs, **self._urls(job)})
        total = behaviour.running_polls
        if job.polls <= behaviour.queued_polls:
            data = {"status": "IN_QUEUE", "queue_position": behaviour.queued_polls - job.polls + 1}
        elif behaviour.hold or job.polls <= behaviour.queued_polls + total:
            step = min(job.polls - behaviour.queued_polls, total)
            job.logs.append({"message": f"{step}/{total} [00:00<00:00, 9.9it/s]" if step % 2 else f"step {step}/{total}",
                             "level": "INFO", "source": "user", "timestamp": datetime.now(timezone.utc).isoformat()})
            if behaviour.extra_log and len(job.logs) == 1:
                job.logs.append({"message": behaviour.extra_log, "level": "INFO", "source": "user",
                                 "timestamp": datetime.now(timezone.utc).isoformat()})
            data = {"status": "IN_PROGRESS"}
        else:
            job.state = "COMPLETED"
            data = {"status": "COMPLETED", "metrics": {"inference_time": 0.01}}
        data["logs"] = list(job.logs) if with_logs else None
        self._json(200, {**data, **self._urls(job)})

    def _op_result(self, parts, body, app, job, fault) -> None:
        if job is None:
            return self._json(404, {"detail": "Request not found"})
        if fault is not None and fault.kind == "detail":
            return self._json(422, {"detail": [{"loc": ["body", "prompt"], "msg": fault.message,
                                                "type": "value_error"}]})
        if job.cancelled:
            return self._json(400, {"detail": "Request was cancelled"})
        if job.state != "COMPLETED":
            return self._json(400, {"detail": "Request is still in progress"})
        self._json(200, self._result(job))

    def _result(self, job: Job) -> dict[str, Any]:
        fal = self.fal
        kind = fal.apps.get(job.app, App()).kind
        args = job.args
        seed = args.get("seed", 42)
        if kind == "text":
            app = fal.apps[job.app]
            text = app.text(args) if callable(app.text) else (app.text or f"echo: {args.get('prompt', '')}")
            return {"results": text} if "florence" in job.app else {"output": text, "usage": {"tokens": 12}}
        if kind == "video":
            name = f"{job.id}-0.mp4"
            fal.files[name] = (MP4_HEAD, "video/mp4")
            return {"video": {"url": f"{fal.url}/files/{name}", "content_type": "video/mp4"}, "seed": seed}
        if kind == "audio":
            name = f"{job.id}-0.wav"
            fal.files[name] = (wav_bytes(), "audio/wav")
            return {"audio_file": {"url": f"{fal.url}/files/{name}", "content_type": "audio/wav"}}
        if kind == "upscale":
            source = str(args.get("image_url", ""))
            uploaded = fal.uploads.get(source.split("/cdn/files/", 1)[-1])
            if uploaded is None:
                return {"detail": f"image_url {source!r} is not a file uploaded to this CDN"}
            scale = float(args.get("scale") or args.get("upscale_factor") or 2)
            data, width, height = upscaled_png(uploaded, scale)
            name = f"{job.id}-0.png"
            fal.files[name] = (data, "image/png")
            return {"image": {"url": f"{fal.url}/files/{name}", "width": width, "height": height,
                              "content_type": "image/png"}, "seed": seed}
        size = args.get("image_size") or {"width": 32, "height": 32}
        if isinstance(size, str):
            size = {"width": 32, "height": 32}
        images = []
        for i in range(int(args.get("num_images", 1))):
            name = f"{job.id}-{i}.png"
            fal.files[name] = (png_bytes(size["width"], size["height"], (40 * i % 255, 90, 200)), "image/png")
            images.append({"url": f"{fal.url}/files/{name}", "width": size["width"], "height": size["height"],
                           "content_type": "image/png"})
        return {"images": images, "timings": {"inference": 0.01}, "seed": seed,
                "has_nsfw_concepts": [False] * len(images), "prompt": args.get("prompt"),
                **fal.apps.get(job.app, App()).result_extra}

    def _op_cancel(self, parts, body, app, job, fault) -> None:
        if job is None:
            return self._json(404, {"detail": "Request not found"})
        if job.state == "COMPLETED":
            return self._json(400, {"status": "ALREADY_COMPLETED"})
        job.cancelled = True
        self._json(202, {"status": "CANCELLATION_REQUESTED"})

    # -- uploads -----------------------------------------------------------------------------
    def _op_token(self, parts, body, app, job, fault) -> None:
        expires = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
        self._json(200, {"token": CDN_TOKEN, "token_type": "Bearer", "base_url": f"{self.fal.url}/cdn",
                         "expires_at": expires})

    def _op_upload(self, parts, body, app, job, fault) -> None:
        if self.headers.get("Authorization") != f"Bearer {CDN_TOKEN}":
            return self._json(401, {"detail": "invalid CDN token"})
        name = f"{uuid.uuid4().hex}/{self.headers.get('X-Fal-File-Name') or 'upload.bin'}"
        self.fal.uploads[name] = body
        self._json(200, {"access_url": f"{self.fal.url}/cdn/files/{name}"})

    # -- OpenAPI and files -------------------------------------------------------------------
    def _op_openapi(self, parts, body, app, job, fault) -> None:
        doc = self.fal.openapi_docs.get(app)
        if doc is None:
            return self._json(404, {"detail": f"endpoint {app} not found"})
        self._json(200, doc)

    def _op_download(self, parts, body, app, job, fault) -> None:
        name = parts.path[len("/files/"):]
        if fault is not None and fault.kind == "big":
            return self._send(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * fault.size, "image/png")
        if name not in self.fal.files:
            return self._json(404, {"detail": "file not found"})
        data, kind = self.fal.files[name]
        self._send(200, data, kind)


def openapi_doc(app: str, *, category: str = "text-to-image") -> dict[str, Any]:
    """An OpenAPI document shaped like fal's for a text-to-image app (refs, anyOf, ImageSize presets)."""
    return {
        "openapi": "3.0.4",
        "info": {"title": "Queue OpenAPI for " + app, "version": "1.0.0", "description": "A test model.",
                 "x-fal-metadata": {"endpointId": app, "category": category}},
        "components": {"schemas": {
            "QueueStatus": {"type": "object", "properties": {"status": {"type": "string"}}},
            "ImageSize": {"title": "ImageSize", "type": "object", "properties": {
                "width": {"title": "Width", "type": "integer", "exclusiveMinimum": 0, "maximum": 14142,
                          "default": 512, "description": "The width of the generated image."},
                "height": {"title": "Height", "type": "integer", "exclusiveMinimum": 0, "maximum": 14142,
                           "default": 512, "description": "The height of the generated image."}}},
            "Input": {"title": "Input", "type": "object", "required": ["prompt"],
                      "x-fal-order-properties": ["prompt", "image_size", "num_inference_steps", "seed",
                                                 "guidance_scale", "num_images", "sync_mode", "scheduler"],
                      "properties": {
                          "prompt": {"title": "Prompt", "type": "string", "examples": ["a cat"],
                                     "description": "The prompt to generate an image from."},
                          "image_size": {"title": "Image Size", "default": "square",
                                         "anyOf": [{"$ref": "#/components/schemas/ImageSize"},
                                                   {"type": "string", "enum": ["square_hd", "square", "portrait_4_3",
                                                                               "portrait_16_9", "landscape_4_3",
                                                                               "landscape_16_9"]}]},
                          "num_inference_steps": {"title": "Steps", "type": "integer", "minimum": 1,
                                                  "maximum": 12, "default": 4},
                          "seed": {"anyOf": [{"type": "integer"}, {"type": "null"}], "title": "Seed"},
                          "guidance_scale": {"title": "Guidance", "type": "number", "minimum": 0, "maximum": 20,
                                             "default": 3.5},
                          "num_images": {"title": "Num Images", "type": "integer", "minimum": 1, "maximum": 4,
                                         "default": 1},
                          "sync_mode": {"title": "Sync Mode", "type": "boolean", "default": False},
                          "scheduler": {"title": "Scheduler", "type": "string", "enum": ["euler", "dpm++"],
                                        "default": "euler"},
                      }},
            "Output": {"type": "object", "properties": {"images": {"type": "array"}}},
        }},
        "paths": {
            f"/{app}/requests/{{request_id}}/status": {"get": {"responses": {"200": {"content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/QueueStatus"}}}}}}},
            f"/{app}": {"post": {"requestBody": {"required": True, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Input"}}}},
                "responses": {"200": {"description": "queued"}}}},
        },
    }
