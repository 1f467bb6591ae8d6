"""A loopback server that speaks the part of Replicate's HTTP API the ``replicate`` client uses.

Predictions (create by version or by official model, get, cancel), models with their latest
version, versions with an ``openapi_schema``, file uploads, and the output files themselves
(a real PNG, a real WAV, an MP4 header). Predictions go ``starting`` → ``processing`` →
a final status over ``polls_to_finish`` polls, with logs that hold a tqdm progress line and
``Using seed: N``.

Faults are queued with :meth:`ReplicateServer.fault` and consumed by the first matching
requests: an HTTP status (429 with Retry-After, 500, 503, 401…), a dropped connection, a slow
answer, malformed JSON, an oversized file. How a prediction ends is set per model
(:attr:`ServerModel.ending`: ``succeeded``, ``failed``, ``canceled`` or ``hang``).
Every request is recorded (:attr:`ReplicateServer.requests`) for assertions.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from media import png_bytes, upscaled_png, wav_bytes  # noqa: F401  (re-exported to the tests)

MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00\x00\x02\x00isomiso2mp41" + bytes(64)




def openapi(properties: dict[str, Any], required=(), enums: dict[str, dict] | None = None,
            output: dict | None = None) -> dict[str, Any]:
    """A Cog-style OpenAPI schema: ``components.schemas.Input`` plus enum components."""
    schemas = {"Input": {"type": "object", "title": "Input", "properties": properties, "required": list(required)},
               "Output": output or {"type": "array", "items": {"type": "string", "format": "uri"}}}
    schemas.update(enums or {})
    return {"openapi": "3.0.2", "info": {"title": "Cog", "version": "0.1.0"}, "paths": {},
            "components": {"schemas": schemas}}


@dataclass
class ServerModel:
    """A model the server knows.

    Args:
        output: ``image`` (a list of PNG URLs), ``video`` (one MP4 URL), ``audio`` (one WAV URL),
            ``mixed`` (a mapping of an image URL and a list with an audio URL), ``upscale`` (one PNG
            URL: the input ``image``, sent as a data URI, resized by ``scale``) or ``text`` (tokens).
        versions: version id → openapi schema; ``latest`` names the latest one.
        official: accepts ``POST /v1/models/<owner>/<name>/predictions``.
        ending: how predictions end: succeeded, failed, canceled, or hang (processing forever).
        log_line: one more line of the prediction's logs; error: the message of a failed one;
        metrics: what ``metrics`` holds (besides ``predict_time``).
    """

    output: str = "image"
    text: Any = None  # output "text": the answer, or a function of the prediction's input
    versions: dict[str, dict] = field(default_factory=dict)
    latest: str | None = None
    official: bool = False
    ending: str = "succeeded"
    description: str = "A test model."
    log_line: str = ""
    error: str = "CUDA out of memory: try a smaller width and height"
    metrics: dict = field(default_factory=dict)


@dataclass
class Fault:
    method: str
    path: re.Pattern
    kind: str
    times: int = 1
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    detail: str = ""


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class ReplicateServer:
    """The server; start() it, point the provider's ``base_url`` at :attr:`url`, stop() it."""

    def __init__(self, token: str, *, polls_to_finish: int = 2):
        self.token = token
        self.polls_to_finish = polls_to_finish
        self.models: dict[str, ServerModel] = {}
        self.predictions: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.made: dict[str, bytes] = {}  # upscaled outputs by file name
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.oversize = 0
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._png = png_bytes()
        self._wav = wav_bytes()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- life ---------------------------------------------------------------------------------
    def start(self) -> "ReplicateServer":
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="replicate-loopback", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # ---- configuration -----------------------------------------------------------------------
    def add_model(self, ref: str, model: ServerModel) -> ServerModel:
        self.models[ref] = model
        return model

    def fault(self, method: str, path: str, kind: str, *, times: int = 1, **options) -> Fault:
        """Make the next ``times`` requests matching ``method`` and the regex ``path`` fail.

        kind: ``status`` (``status=``, ``retry_after=``, ``detail=``), ``drop`` (close the
        connection without an answer), ``slow`` (answer after ``delay`` s), ``malformed``
        (200 with broken JSON), ``oversize`` (a file of :attr:`oversize` bytes).
        """
        fault = Fault(method, re.compile(path), kind, times, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    # ---- views for assertions ----------------------------------------------------------------
    def hits(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """Recorded requests, filtered by method and a regex the path must fully match."""
        with self._lock:
            found = list(self.requests)
        return [r for r in found if (method is None or r.method == method)
                and (path is None or re.fullmatch(path, r.path))]

    # ---- behaviour ---------------------------------------------------------------------------
    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path.fullmatch(path):
                    fault.times -= 1
                    return fault
        return None

    def _version(self, version_id: str) -> tuple[str, ServerModel] | None:
        for ref, model in self.models.items():
            if version_id in model.versions:
                return ref, model
        return None

    def version_json(self, version_id: str, model: ServerModel) -> dict[str, Any]:
        return {"id": version_id, "created_at": "2024-05-01T12:00:00.000000Z", "cog_version": "0.9.6",
                "openapi_schema": model.versions[version_id]}

    def model_json(self, ref: str, model: ServerModel) -> dict[str, Any]:
        owner, name = ref.split("/")
        latest = self.version_json(model.latest, model) if model.latest else None
        return {"url": f"https://replicate.com/{ref}", "owner": owner, "name": name,
                "description": model.description, "visibility": "public", "github_url": None, "paper_url": None,
                "license_url": None, "run_count": 7, "cover_image_url": None, "default_example": None,
                "latest_version": latest}

    def create(self, ref: str, model: ServerModel, version: str | None, inputs: dict[str, Any]) -> dict[str, Any]:
        pid = f"p{next(self._ids):04d}loopback"
        prediction = {
            "id": pid, "model": ref, "version": version or "official", "status": "starting", "input": inputs,
            "output": None, "logs": "", "error": None, "metrics": {}, "created_at": "2024-05-01T12:00:00Z",
            "started_at": None, "completed_at": None,
            "urls": {"get": f"{self.url}/v1/predictions/{pid}", "cancel": f"{self.url}/v1/predictions/{pid}/cancel"},
        }
        with self._lock:
            self.predictions[pid] = {"json": prediction, "polls": 0, "model": model}
        return prediction

    def advance(self, pid: str) -> dict[str, Any] | None:
        with self._lock:
            state = self.predictions.get(pid)
            if state is None:
                return None
            pred, model = state["json"], state["model"]
            if pred["status"] in ("succeeded", "failed", "canceled"):
                return pred
            state["polls"] += 1
            seed = pred["input"].get("seed", 1234)
            pred["status"] = "processing"
            pred["logs"] = f"Using seed: {seed}\n 50%|█████     | 1/2 [00:01<00:01,  1.00it/s]"
            if state["polls"] < self.polls_to_finish or model.ending == "hang":
                return pred
            pred["completed_at"] = "2024-05-01T12:00:03Z"
            if model.ending == "failed":
                pred.update(status="failed", error=model.error)
            elif model.ending == "canceled":
                pred.update(status="canceled")
            else:
                pred["logs"] += "\n100%|██████████| 2/2 [00:02<00:00,  1.00it/s]"
                if model.log_line:
                    pred["logs"] += "\n" + model.log_line
                pred.update(status="succeeded", output=self._outputs(pid, model, pred["input"]),
                            metrics={"predict_time": 2.5, **model.metrics})
            return pred

    def cancel(self, pid: str) -> dict[str, Any] | None:
        with self._lock:
            state = self.predictions.get(pid)
            if state is None:
                return None
            if state["json"]["status"] not in ("succeeded", "failed"):
                state["json"]["status"] = "canceled"
            return state["json"]

    def _outputs(self, pid: str, model: ServerModel, inputs: dict[str, Any]) -> Any:
        base = f"{self.url}/files/{pid}"
        if model.output == "video":
            return f"{base}/0.mp4"
        if model.output == "audio":
            return f"{base}/0.wav?sig=abc"  # signed-URL style: the query must not reach the records
        if model.output == "upscale":
            # Small inputs travel inline (the client's data_uri_max_bytes): the tests send those.
            data = base64.b64decode(str(inputs.get("image", "")).partition(",")[2])
            self.made[f"{pid}/0.png"] = upscaled_png(data, float(inputs.get("scale", 4)))[0]
            return f"{base}/0.png"
        if model.output == "text":  # a language model streams tokens: a list of strings
            answer = model.text(inputs) if callable(model.text) else (model.text or f"echo: {inputs.get('prompt', '')}")
            return [answer[i:i + 4] for i in range(0, len(answer), 4)]
        if model.output == "mixed":
            return {"image": f"{base}/0.png", "audio": [f"{base}/1.wav"], "seed": 99}
        return [f"{base}/{i}.png" for i in range(int(inputs.get("num_outputs", 1)))]

    def file(self, name: str) -> tuple[bytes, str] | None:
        made = self.made.get(name.removeprefix("/files/"))
        if made is not None:
            return made, "image/png"
        if name.endswith(".png"):
            return self._png, "image/png"
        if name.endswith(".wav"):
            return self._wav, "audio/wav"
        if name.endswith(".mp4"):
            return MP4, "video/mp4"
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: ReplicateServer

    def log_message(self, format, *args):  # keep pytest's output clean
        pass

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    # ---- plumbing -----------------------------------------------------------------------------
    def _serve(self, method: str) -> None:
        srv = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        with srv._lock:
            srv.requests.append(Recorded(method, path, self.headers.get("Authorization"), body, time.monotonic()))
        fault = srv._take_fault(method, path)
        try:
            if fault is not None and self._fault(fault):
                return
            self._route(method, path, body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a slow answer)
            self.close_connection = True

    def _fault(self, fault: Fault) -> bool:
        """Act out a fault; True when the request is answered (or dropped) by it."""
        if fault.kind == "drop":
            self.close_connection = True
            return True
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return False
        if fault.kind == "malformed":
            self._send(200, b'{"id": "p-broken", "status": ', "application/json")
            return True
        if fault.kind == "oversize":
            self._send(200, b"\x89PNG\r\n\x1a\n" + bytes(self.owner.oversize), "image/png")
            return True
        if fault.kind == "status":
            detail = fault.detail.replace("{authorization}", self.headers.get("Authorization") or "")
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._json(fault.status, {"title": f"HTTP {fault.status}", "detail": detail or f"fault {fault.status}",
                                      "status": fault.status}, headers)
            return True
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def _problem(self, status: int, detail: str) -> None:
        self._json(status, {"title": "Error", "detail": detail, "status": status})

    # ---- routes -------------------------------------------------------------------------------
    def _route(self, method: str, path: str, body: bytes) -> None:
        srv = self.owner
        if path.startswith("/files/"):  # output files: public, like replicate.delivery
            found = srv.file(path)
            if found is None:
                return self._problem(404, "no such file")
            return self._send(200, found[0], found[1])
        if self.headers.get("Authorization") != f"Bearer {srv.token}":
            return self._problem(401, "Invalid token.")
        parts = [p for p in path.split("/") if p]
        if method == "POST" and parts == ["v1", "predictions"]:
            request = json.loads(body or b"{}")
            found = srv._version(request.get("version", ""))
            if found is None:
                return self._problem(422, f"Invalid version or not permitted: {request.get('version')!r}")
            return self._json(201, srv.create(found[0], found[1], request["version"], request.get("input", {})))
        if method == "POST" and len(parts) == 5 and parts[:2] == ["v1", "models"] and parts[4] == "predictions":
            ref = f"{parts[2]}/{parts[3]}"
            model = srv.models.get(ref)
            if model is None or not model.official:
                return self._problem(404, f"Model {ref} not found or not an official model.")
            request = json.loads(body or b"{}")
            return self._json(201, srv.create(ref, model, None, request.get("input", {})))
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "predictions"]:
            pred = srv.advance(parts[2])
            return self._json(200, pred) if pred else self._problem(404, "Prediction not found.")
        if method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "predictions"] and parts[3] == "cancel":
            pred = srv.cancel(parts[2])
            return self._json(200, pred) if pred else self._problem(404, "Prediction not found.")
        if method == "GET" and len(parts) == 4 and parts[:2] == ["v1", "models"]:
            ref = f"{parts[2]}/{parts[3]}"
            model = srv.models.get(ref)
            return self._json(200, srv.model_json(ref, model)) if model else self._problem(404, "Not found.")
        if method == "GET" and len(parts) == 6 and parts[:2] == ["v1", "models"] and parts[4] == "versions":
            model = srv.models.get(f"{parts[2]}/{parts[3]}")
            if model is None or parts[5] not in model.versions:
                return self._problem(404, "Not found.")
            return self._json(200, srv.version_json(parts[5], model))
        if method == "POST" and parts == ["v1", "files"]:
            fid = f"f{next(srv._ids):04d}"
            with srv._lock:
                srv.uploads[fid] = body
            return self._json(201, {
                "id": fid, "name": "upload", "content_type": "application/octet-stream", "size": len(body),
                "etag": "e", "checksums": {}, "metadata": {}, "created_at": "2024-05-01T12:00:00Z",
                "expires_at": None, "urls": {"get": f"{srv.url}/v1/files/{fid}/download"}})
        return self._problem(404, f"no route for {method} {path}")
