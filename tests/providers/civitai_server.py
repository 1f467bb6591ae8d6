"""A loopback civitai: the site API, the download redirect, a storage host, and the orchestrator.

Two real HTTP servers on 127.0.0.1, as on civitai, where downloads leave for another host:

- the site (:attr:`CivitaiServer.url`): ``GET /api/v1/models`` (search: ``query``, ``types``,
  ``baseModels``, ``limit``), ``/api/v1/models/<id>``, ``/api/v1/model-versions/<id>``,
  ``/api/v1/model-versions/by-hash/<hash>`` (SHA256 or AutoV2, any case);
  ``/api/download/models/<version>[?fileId=…]``: 307 to a signed storage URL with the right
  Bearer token, to ``/login?returnUrl=…&reason=download-auth`` (an HTML page) without one, 401
  with a wrong one; ``POST /v2/consumer/workflows``, ``GET``/``PUT /v2/consumer/workflows/<id>``
  (textToImage steps, one job per image, ``polls_to_finish`` polls to the end, cancel by PUT);
- storage (:attr:`CivitaiServer.storage_url`): ``/files/<file id>`` with HTTP ``Range`` (206)
  and ``/images/<name>.png``; it records the headers it got (the token must never arrive there).

Responses have the shapes civitai documents (model versions with ``files[].hashes.SHA256``,
``air``, ``trainedWords``; workflows with ``steps[0].output.images[].url``; RFC 7807 problem
details for orchestrator errors). Faults are queued with :meth:`CivitaiServer.fault`: an HTTP
status (429 with Retry-After, 500, 401…), ``drop``, ``slow``, ``malformed``; and on storage
``cut`` (the connection closes after ``after`` bytes of a file), ``ignore_range``, ``slow``
with ``pace`` (a file streamed in 16 KiB blocks, ``pace`` seconds apart), and ``stall`` (``after``
bytes, then nothing for ``delay`` seconds, default 60, or until the server stops; then the rest).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from media import png_bytes


@dataclass
class Fault:
    server: str
    method: str
    path: re.Pattern
    kind: str
    times: int = 1
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    detail: str = ""
    after: int = 0
    pace: float = 0.0


@dataclass
class Recorded:
    server: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class ServerFile:
    id: int
    name: str
    data: bytes
    primary: bool = True
    type: str = "Model"
    published_sha: str | None = None  # what the API says, when it should lie

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Workflow:
    json: dict[str, Any]
    polls: int = 0
    ending: str = "succeeded"


@dataclass
class Orchestrator:
    """How workflows behave: ``ending`` succeeded | failed | hang; ``reason`` of a failure."""

    ending: str = "succeeded"
    reason: str = "CUDA out of memory on the worker"
    workflows: dict[str, Workflow] = field(default_factory=dict)


class _Quiet(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a timeout, a test's stalled download) is no server error."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class CivitaiServer:
    """Start it (a context manager), point the provider's ``site_url`` / ``orchestration_url`` at :attr:`url`."""

    def __init__(self, token: str, *, polls_to_finish: int = 2):
        self.token = token
        self.polls_to_finish = polls_to_finish
        self.models: dict[int, dict[str, Any]] = {}
        self.versions: dict[int, dict[str, Any]] = {}
        self.files: dict[int, ServerFile] = {}
        self.gated: set[int] = set()        # versions whose download needs a signed-in account
        self.stale: set[int] = set()        # versions whose files' downloadUrl answers 404
        self.bad_token_login = False        # a wrong token is sent to the login page (as a lapsed session is)
        self.orchestrator = Orchestrator()
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._png = png_bytes()
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self.stopping = threading.Event()  # ends a stall when the test is over

    # ---- life ---------------------------------------------------------------------------------
    def start(self) -> CivitaiServer:
        for role in ("site", "storage"):
            owner = self

            class Handler(_Handler):
                server_role = role

            Handler.owner = owner
            httpd = _Quiet(("127.0.0.1", 0), Handler)
            threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                             name=f"civitai-{role}", daemon=True).start()
            self._servers[role] = httpd
        return self

    def stop(self) -> None:
        self.stopping.set()
        for httpd in self._servers.values():
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self) -> CivitaiServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _url(self, role: str) -> str:
        host, port = self._servers[role].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return self._url("site")

    @property
    def storage_url(self) -> str:
        return self._url("storage")

    def settings(self, **extra) -> dict[str, Any]:
        """Provider settings that talk to this server, quick to retry."""
        return {"site_url": self.url, "orchestration_url": self.url, "poll_interval": 0.01, "retry_base": 0.02,
                "retries": 3, "request_timeout": 2, "timeout": 10, **extra}

    # ---- content -------------------------------------------------------------------------------
    def add(self, model_id: int, version_id: int, *, name: str, type_: str = "LORA", base_model: str = "SD 1.5",
            ecosystem: str = "sd1", files: list[ServerFile] = (), trained_words=(), gated: bool = True,
            version_name: str = "v1.0", licence: dict | None = None, nsfw: bool = False) -> dict[str, Any]:
        """A model with one more version (newest first); returns the version's JSON."""
        air_type = {"LORA": "lora", "Checkpoint": "checkpoint", "TextualInversion": "embedding"}.get(type_, "other")
        for f in files:
            self.files[f.id] = f
        version = {
            "id": version_id, "modelId": model_id, "name": version_name, "description": None,
            "baseModel": base_model, "baseModelType": "Standard",
            "air": f"urn:air:{ecosystem}:{air_type}:civitai:{model_id}@{version_id}", "status": "Published",
            "availability": "Public", "nsfwLevel": 1, "createdAt": "2024-03-01T10:00:00.000Z",
            "publishedAt": "2024-03-01T10:00:00.000Z", "trainedWords": list(trained_words),
            "stats": {"downloadCount": 1234, "thumbsUpCount": 56},
            "model": {"name": name, "type": type_, "nsfw": nsfw, "poi": False},
            "files": [self._file_json(version_id, f) for f in files],
            "images": [], "downloadUrl": f"{self.url}/api/download/models/{version_id}",
        }
        model = self.models.setdefault(model_id, {
            "id": model_id, "name": name, "description": "<p>A model.</p>", "type": type_, "poi": False,
            "nsfw": nsfw, "allowNoCredit": True, "allowCommercialUse": ["Image", "RentCivit"],
            "allowDerivatives": True, "allowDifferentLicense": False, **(licence or {}),
            "stats": {"downloadCount": 4321, "favoriteCount": 10, "commentCount": 2, "ratingCount": 5, "rating": 4.8},
            "creator": {"username": "loopback-artist", "image": None}, "tags": ["tarot", "cards"],
            "modelVersions": []})
        model["modelVersions"].insert(0, version)
        self.versions[version_id] = version
        if gated:
            self.gated.add(version_id)
        return version

    def _file_json(self, version_id: int, f: ServerFile) -> dict[str, Any]:
        sha = (f.published_sha or f.sha256).upper()
        return {"id": f.id, "name": f.name, "type": f.type, "sizeKB": len(f.data) / 1024,
                "metadata": {"format": "SafeTensor" if f.name.endswith(".safetensors") else "PickleTensor",
                             "size": "pruned", "fp": "fp16"},
                "pickleScanResult": "Success", "virusScanResult": "Success",
                "hashes": {"AutoV2": sha[:10], "SHA256": sha, "CRC32": "DEADBEEF"},
                "downloadUrl": f"{self.url}/api/download/models/{version_id}?type=Model&format=SafeTensor",
                "primary": f.primary}

    def fault(self, method: str, path: str, kind: str, *, server: str = "site", times: int = 1, **options) -> Fault:
        """Make the next ``times`` requests matching ``method`` and the regex ``path`` fail (see the module)."""
        fault = Fault(server, method, re.compile(path), kind, times, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def hits(self, method: str | None = None, path: str | None = None, server: str = "site") -> list[Recorded]:
        with self._lock:
            found = list(self.requests)
        return [r for r in found if r.server == server and (method is None or r.method == method)
                and (path is None or re.fullmatch(path, r.path))]

    def _take_fault(self, server: str, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.server == server and fault.method == method and fault.path.fullmatch(path):
                    fault.times -= 1
                    return fault
        return None

    # ---- the orchestrator ------------------------------------------------------------------------
    def create_workflow(self, body: dict[str, Any]) -> dict[str, Any]:
        step = (body.get("steps") or [{}])[0]
        quantity = int((step.get("input") or {}).get("quantity") or 1)
        wid = f"wf-{next(self._ids):04d}-loopback"
        workflow = {"id": wid, "status": "unassigned", "createdAt": "2024-05-01T12:00:00Z", "tags": body.get("tags"),
                    "cost": {"base": 4, "total": 4, "currency": "BUZZ"},
                    "steps": [{"$type": step.get("$type"), "name": "0", "status": "unassigned",
                               "input": step.get("input"), "output": None,
                               "jobs": [{"id": f"{wid}-job{i}", "status": "unassigned"} for i in range(quantity)]}]}
        with self._lock:
            self.orchestrator.workflows[wid] = Workflow(workflow, ending=self.orchestrator.ending)
        return workflow

    def advance(self, wid: str) -> dict[str, Any] | None:
        with self._lock:
            state = self.orchestrator.workflows.get(wid)
            if state is None:
                return None
            wf = state.json
            if wf["status"] in ("succeeded", "failed", "canceled", "expired"):
                return wf
            state.polls += 1
            step = wf["steps"][0]
            jobs = step["jobs"]
            if state.ending == "hang" or state.polls < self.polls_to_finish:
                wf["status"] = step["status"] = "processing"
                if len(jobs) > 1:  # the first image is done; a hung workflow stays there
                    jobs[0]["status"] = "succeeded"
                return wf
            if state.ending == "failed":
                wf["status"] = step["status"] = "failed"
                for job in jobs:
                    job.update(status="failed", reason=self.orchestrator.reason)
                return wf
            wf["status"] = step["status"] = "succeeded"
            for job in jobs:
                job["status"] = "succeeded"
            step["output"] = {"images": [{"id": f"{wid}-{i}.png", "available": True,
                                          "url": f"{self.storage_url}/images/{wid}-{i}.png",
                                          "urlExpiresAt": "2030-01-01T00:00:00Z"} for i in range(len(jobs))]}
            return wf

    def cancel(self, wid: str) -> dict[str, Any] | None:
        with self._lock:
            state = self.orchestrator.workflows.get(wid)
            if state is None:
                return None
            if state.json["status"] not in ("succeeded", "failed", "expired"):
                state.json["status"] = state.json["steps"][0]["status"] = "canceled"
            return state.json


class _Handler(BaseHTTPRequestHandler):
    owner: CivitaiServer
    server_role: str = "site"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    # ---- plumbing ----------------------------------------------------------------------------
    def _answer(self, status: int, body: Any = None, *, headers: dict[str, str] | None = None,
                raw: bytes | None = None, kind: str = "application/json") -> None:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _problem(self, status: int, detail: str) -> None:
        self._answer(status, {"type": "about:blank", "title": self.responses.get(status, ("Error",))[0],
                              "status": status, "detail": detail}, kind="application/problem+json")

    def _handle(self) -> None:
        owner = self.owner
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        with owner._lock:
            owner.requests.append(Recorded(self.server_role, self.command, path, query,
                                           {k.lower(): v for k, v in self.headers.items()}, body))
        fault = owner._take_fault(self.server_role, self.command, path)
        if fault is not None:
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "drop":
                self.close_connection = True
                self.connection.close()
                return
            elif fault.kind == "malformed":
                self._answer(200, raw=b'{"id": "wf-1", "status": ', kind="application/json")
                return
            elif fault.kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
                detail = fault.detail.format(authorization=self.headers.get("authorization", ""))
                self._answer(fault.status, {"type": "about:blank", "title": "Error", "status": fault.status,
                                            "detail": detail or f"loopback fault {fault.status}"}, headers=headers)
                return
        if self.server_role == "storage":
            self._storage(path, fault)
        elif path.startswith("/v2/consumer/workflows"):
            self._orchestration(path, body)
        else:
            self._site(path, query)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    # ---- the site ----------------------------------------------------------------------------
    def _site(self, path: str, query: dict[str, list[str]]) -> None:
        owner = self.owner
        if path == "/login":
            self._answer(200, raw=b"<!doctype html><title>Sign in | Civitai</title>", kind="text/html; charset=utf-8")
            return
        if path == "/api/v1/models":
            self._answer(200, self._search(query))
            return
        found = re.fullmatch(r"/api/v1/models/(\d+)", path)
        if found:
            model = owner.models.get(int(found[1]))
            self._answer(200, model) if model else self._answer(404, {"error": f"No model with id {found[1]}"})
            return
        found = re.fullmatch(r"/api/v1/model-versions/by-hash/([0-9A-Fa-f]+)", path)
        if found:
            wanted = found[1].upper()
            for version in owner.versions.values():
                for f in version["files"]:
                    if wanted in (f["hashes"]["SHA256"], f["hashes"]["AutoV2"]):
                        self._answer(200, version)
                        return
            self._answer(404, {"error": "Model not found"})
            return
        found = re.fullmatch(r"/api/v1/model-versions/(\d+)", path)
        if found:
            version = owner.versions.get(int(found[1]))
            self._answer(200, version) if version else self._answer(404, {"error": f"Version {found[1]} not found"})
            return
        found = re.fullmatch(r"/api/download/models/(\d+)", path)
        if found:
            self._download(int(found[1]), query)
            return
        self._answer(404, {"error": "Not found"})

    def _search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        owner = self.owner
        text = (query.get("query") or [""])[0].lower()
        types = set(query.get("types") or [])
        bases = set(query.get("baseModels") or [])
        limit = int((query.get("limit") or ["20"])[0])
        nsfw = (query.get("nsfw") or ["false"])[0] == "true"
        items = []
        for model in owner.models.values():
            if text and text not in model["name"].lower() and text not in " ".join(model["tags"]):
                continue
            if types and model["type"] not in types:
                continue
            if bases and not any(v["baseModel"] in bases for v in model["modelVersions"]):
                continue
            if model["nsfw"] and not nsfw:
                continue
            items.append(model)
        return {"items": items[:limit], "metadata": {"totalItems": len(items), "currentPage": 1, "pageSize": limit}}

    def _download(self, version_id: int, query: dict[str, list[str]]) -> None:
        owner = self.owner
        version = owner.versions.get(version_id)
        if version is None:
            self._answer(404, {"error": "File not found"})
            return
        auth = self.headers.get("authorization")
        token = (query.get("token") or [None])[0]
        given = auth[len("Bearer "):] if auth and auth.startswith("Bearer ") else token
        if version_id in owner.gated:
            if not given or (given != owner.token and owner.bad_token_login):
                back = urllib.parse.quote(self.path, safe="")
                self._answer(307, raw=b"", headers={"Location": f"{owner.url}/login?returnUrl={back}"
                                                                 "&reason=download-auth"})
                return
            if given != owner.token:
                self._answer(401, {"error": "Unauthorized", "message": "Invalid API token"})
                return
        file_id = (query.get("fileId") or [None])[0]
        if version_id in owner.stale and file_id is None:
            self._answer(404, {"error": "File not found"})
            return
        files = version["files"]
        chosen = next((f for f in files if str(f["id"]) == str(file_id)), None) if file_id else \
            next((f for f in files if f["primary"]), files[0] if files else None)
        if chosen is None:
            self._answer(404, {"error": "File not found"})
            return
        self._answer(307, raw=b"", headers={"Location": f"{owner.storage_url}/files/{chosen['id']}?X-Amz-Signature=ab12"})

    # ---- storage -----------------------------------------------------------------------------
    def _storage(self, path: str, fault: Fault | None) -> None:
        owner = self.owner
        found = re.fullmatch(r"/images/.+\.png", path)
        if found:
            self._answer(200, raw=owner._png, kind="image/png")
            return
        found = re.fullmatch(r"/files/(\d+)", path)
        f = owner.files.get(int(found[1])) if found else None
        if f is None:
            self._answer(404, raw=b"<Error><Code>NoSuchKey</Code></Error>", kind="application/xml")
            return
        data = memoryview(f.data)
        start, status = 0, 200
        wanted = self.headers.get("range")
        if wanted and not (fault is not None and fault.kind == "ignore_range"):
            found = re.fullmatch(r"bytes=(\d+)-", wanted.strip())
            if found:
                start = int(found[1])
                if start >= len(data):
                    self._answer(416, raw=b"", headers={"Content-Range": f"bytes */{len(data)}"})
                    return
                status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        end = len(data)
        if fault is not None and fault.kind == "cut":
            end = min(end, start + fault.after)
        paced = fault is not None and fault.kind == "slow" and fault.pace > 0
        step = (16 << 10) if paced else 1 << 20
        stall = start + fault.after if fault is not None and fault.kind == "stall" else None
        for i in range(start, end, step):
            if stall is not None and i + step > stall:  # the bytes before the stall, then a long silence
                self.wfile.write(data[i:stall])
                self.wfile.flush()
                owner.stopping.wait(fault.delay or 60)
                self.wfile.write(data[stall:end])
                break
            self.wfile.write(data[i:min(end, i + step)])
            if paced:
                self.wfile.flush()
                time.sleep(fault.pace)
        if end < len(data):
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)

    # ---- the orchestrator --------------------------------------------------------------------
    def _orchestration(self, path: str, body: bytes) -> None:
        owner = self.owner
        if self.headers.get("authorization") != f"Bearer {owner.token}":
            self._problem(401, "Unauthorized: a valid API token is required")
            return
        if self.command == "POST" and path == "/v2/consumer/workflows":
            request = json.loads(body or b"{}")
            steps = request.get("steps") or []
            if not steps or steps[0].get("$type") != "textToImage" or not (steps[0].get("input") or {}).get("model"):
                self._problem(400, "steps[0] must be a textToImage step with a model")
                return
            self._answer(202, owner.create_workflow(request))
            return
        found = re.fullmatch(r"/v2/consumer/workflows/([\w-]+)", path)
        if found and self.command == "GET":
            wf = owner.advance(found[1])
            self._answer(200, wf) if wf else self._problem(404, f"No workflow {found[1]}")
            return
        if found and self.command == "PUT":
            request = json.loads(body or b"{}")
            if request.get("status") != "canceled":
                self._problem(400, "only status canceled may be set")
                return
            wf = owner.cancel(found[1])
            self._answer(200, wf) if wf else self._problem(404, f"No workflow {found[1]}")
            return
        self._problem(404, "Not found")
