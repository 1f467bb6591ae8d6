"""A loopback server that speaks Gemini's ``generateContent`` as the google-genai client calls it.

``POST /<version>/models/<model>:generateContent`` with the key in ``x-goog-api-key``; the answer is
``{"candidates": [{"content": {"parts": [{"text": …}], "role": "model"}, "finishReason": "STOP"}],
"usageMetadata": …, "modelVersion": …}``; errors are ``{"error": {"code", "message", "status"}}``.
Faults are queued with :meth:`GeminiServer.fault` and consumed in order: ``429`` (with Retry-After),
``500``, ``400`` (a refusal naming ``message``), ``malformed`` (200 with broken JSON), ``slow``
(answer after ``delay`` seconds).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

STATUS = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 403: "PERMISSION_DENIED"}


@dataclass
class Fault:
    kind: str
    times: int = 1
    delay: float = 0.0
    message: str = "boom"
    retry_after: float = 0.1


class GeminiServer:
    """The loopback Gemini. ``answer(request_json) -> text`` decides what the model says."""

    def __init__(self, key: str, answer: Callable[[dict], str] | None = None):
        self.key = key
        self.answer = answer or (lambda body: "echo: " + prompt_of(body))
        #: seconds every answer takes (a model's latency; benchmarks/refine_loop.py)
        self.latency = 0.0
        #: ``refuse(request_json) -> message | None``: a 400 naming the message for the requests it picks
        self.refuse: Callable[[dict], str | None] = lambda body: None
        self.seen: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        server = self

        class Handler(_Handler):
            gemini = server

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "GeminiServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Settings of the gemini provider that point it here."""
        return {"base_url": self.url, "poll_interval": 0.02, "retry_base": 0.02, "timeout": 10,
                "request_timeout": 5, "retries": 3, **extra}

    def fault(self, kind: str, **kw: Any) -> Fault:
        fault = Fault(kind, **kw)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


def prompt_of(body: dict) -> str:
    """The text parts of the request's user content, joined."""
    parts = [p for c in body.get("contents", []) for p in c.get("parts", [])]
    return " ".join(p["text"] for p in parts if "text" in p)


def images_in(body: dict) -> list[bytes]:
    """The inline images of a request."""
    parts = [p for c in body.get("contents", []) for p in c.get("parts", [])]
    # google-genai sends bytes as URL-safe base64
    return [base64.urlsafe_b64decode(p["inlineData"]["data"]) for p in parts if "inlineData" in p]


class _Handler(BaseHTTPRequestHandler):
    gemini: GeminiServer

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on a slow answer (a cancel, a timeout)

    def _error(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(code, json.dumps({"error": {"code": code, "message": message,
                                               "status": STATUS.get(code, "UNKNOWN")}}).encode(), headers)

    def do_POST(self) -> None:
        g = self.gemini
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        path = self.path.split("?")[0]
        body = json.loads(raw or b"{}")
        with g.lock:
            g.seen.append({"path": path, "body": body, "key_header": self.headers.get("x-goog-api-key") == g.key})
        if not path.endswith(":generateContent") or "/models/" not in path:
            return self._error(404, f"no route {path}")
        if self.headers.get("x-goog-api-key") != g.key:
            return self._error(400, "API key not valid. Please pass a valid API key.")
        fault = g.take_fault()
        if fault is not None:
            if fault.kind == "429":
                return self._error(429, "Resource has been exhausted (e.g. check quota).",
                                   {"Retry-After": str(fault.retry_after)})
            if fault.kind == "500":
                return self._error(500, "An internal error has occurred.")
            if fault.kind == "400":
                return self._error(400, fault.message)
            if fault.kind == "malformed":
                return self._send(200, b'{"candidates": [{"content": ')
            if fault.kind == "slow":
                time.sleep(fault.delay)
        if g.latency:
            time.sleep(g.latency)
        refused = g.refuse(body)
        if refused:
            return self._error(400, refused)
        model = path.split("/models/")[1].split(":")[0]
        text = g.answer(body)
        self._send(200, json.dumps({
            "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP",
                            "index": 0}],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19},
            "modelVersion": model}).encode())
