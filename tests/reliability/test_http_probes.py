"""HTTP probes of the served app (issue 10, items 1 and 6): attacks on a real `imagen-nb serve`.

Each attack is a test (or a step of one) that fails if the hole comes back. ``ATTACKS`` counts
what was tried and what held; the counts are written to
``test-artifacts/reliability/http_probes.json`` for RELIABILITY.md.

The servers are real subprocesses on free loopback ports, probed with httpx and tornado's
websocket client; the panels' file reads are probed through the message a browser sends to the
served component (``PanelHost._handle_msg``).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="the HTTP probes need httpx (pip install 'imagen-nb[dev]')")
pytest.importorskip("panel", reason="the served app needs the panel extra (pip install 'imagen-nb[panel]')")

from tornado.httpclient import HTTPClientError, HTTPRequest  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(os.environ.get("IMAGEN_NB_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))

#: Every attack tried in this module: {"attack": what, "held": whether the app withstood it}.
ATTACKS: list[dict] = []


def _run(coroutine):
    """``asyncio.run`` in a thread of its own: a test before this one (a kernel, a Panel server)
    may have left an event loop running in the main thread, where asyncio.run refuses to start."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@contextmanager
def attack(name: str):
    """Count one attack; it held when the block's assertions pass."""
    entry = {"attack": name, "held": False}
    ATTACKS.append(entry)
    yield
    entry["held"] = True


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    """Write the counts of attacks tried and held once the module is done."""
    yield
    held = sum(a["held"] for a in ATTACKS)
    folder = ARTIFACTS / "reliability"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "http_probes.json").write_text(json.dumps(
        {"tried": len(ATTACKS), "held": held, "attacks": ATTACKS}, indent=1))
    print(f"\nHTTP probes: {len(ATTACKS)} attacks tried, {held} held")


# ---- servers --------------------------------------------------------------------------------


class Served:
    """A running `imagen-nb serve`: its base URL, port, process and output so far."""

    def __init__(self, proc: subprocess.Popen, host: str, port: int, log: Path):
        self.proc, self.host, self.port, self.log = proc, host, port, log
        self.base = f"http://{host}:{port}"
        self.origin = self.base

    def alive(self) -> bool:
        """Whether the process still runs and answers HTTP."""
        if self.proc.poll() is not None:
            return False
        return httpx.get(self.base + "/login", timeout=10).status_code < 500

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port(family=socket.AF_INET, host="127.0.0.1") -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _launch(tmp: Path, address: str, password: str | None, *args: str) -> Served:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    port = _free_port(family, address)
    env = dict(os.environ, IMAGEN_NB_HOME=str(tmp / "home"), PYTHONUNBUFFERED="1")
    env.pop("IMAGEN_NB_PASSWORD", None)
    if password:
        env["IMAGEN_NB_PASSWORD"] = password
    log = tmp / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "imagen_nb", "serve", "--address", address, "--port", str(port), *args],
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    served = Served(proc, f"[{address}]" if family == socket.AF_INET6 else address, port, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"imagen-nb serve exited with {proc.returncode}:\n{served.output()}")
        try:
            httpx.get(served.base + "/", timeout=2)
            return served
        except httpx.HTTPError:
            time.sleep(0.25)
    raise AssertionError(f"imagen-nb serve did not answer within 90 s:\n{served.output()}")


def _stop(served: Served) -> None:
    served.proc.terminate()
    try:
        served.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    """`imagen-nb serve --password …` on 127.0.0.1."""
    served = _launch(tmp_path_factory.mktemp("locked"), "127.0.0.1", PASSWORD)
    yield served
    _stop(served)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """`imagen-nb serve --password … --trusted-proxy 127.0.0.1`: behind a reverse proxy on this machine."""
    served = _launch(tmp_path_factory.mktemp("proxied"), "127.0.0.1", PASSWORD, "--trusted-proxy", "127.0.0.1")
    yield served
    _stop(served)


@pytest.fixture(scope="module")
def open_v6(tmp_path_factory):
    """`imagen-nb serve --address ::1` without a password."""
    try:
        _free_port(socket.AF_INET6, "::1")
    except OSError as exc:
        pytest.skip(f"this machine has no IPv6 loopback ({exc})")
    served = _launch(tmp_path_factory.mktemp("v6"), "::1", None)
    yield served
    _stop(served)


@pytest.fixture(scope="module")
def lan(tmp_path_factory):
    """`imagen-nb serve --address 127.0.0.2 --no-auth`: an address that is neither 127.0.0.1 nor
    localhost (Panel was given websocket origin '*' for those)."""
    served = _launch(tmp_path_factory.mktemp("lan"), "127.0.0.2", None, "--no-auth")
    yield served
    _stop(served)


def _login(served: Served, password: str = PASSWORD, client: httpx.Client | None = None) -> httpx.Response:
    c = client or httpx.Client(base_url=served.base)
    return c.post("/login", data={"username": "me", "password": password}, headers={"Origin": served.origin})


def _signed_in(served: Served) -> httpx.Client:
    c = httpx.Client(base_url=served.base)
    assert _login(served, client=c).status_code == 302
    return c


def _cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def _session_token(html: str) -> str:
    found = re.search(r'"token":\s*"([^"]+)"', html)
    assert found, "the app page carries no Bokeh session token"
    return found.group(1)


def _headers(origin: str | None, cookie: str = "", host: str | None = None) -> dict:
    headers = {"Cookie": cookie} if cookie else {}
    if origin is not None:
        headers["Origin"] = origin
    if host is not None:
        headers["Host"] = host
    return headers


async def _connect(served: Served, headers: dict, token: str):
    """The app's websocket: the connection, or the HTTP status it was refused with."""
    try:
        return await websocket_connect(HTTPRequest(f"ws://{served.host}:{served.port}/ws", headers=headers),
                                       subprotocols=["bokeh", token])
    except HTTPClientError as exc:
        return exc.code


def _ws(served: Served, origin: str | None, cookie: str = "", token: str = "x", host: str | None = None):
    """Try the app's websocket: ``"open"`` (then closed again), or the HTTP status of the refusal."""
    async def attempt():
        conn = await _connect(served, _headers(origin, cookie, host), token)
        if isinstance(conn, int):
            return conn
        conn.close()
        return "open"

    return _run(attempt())


# ---- item 1: nothing reachable without login imports a module or ends the process -----------


@pytest.mark.parametrize("module", ["imagen_nb.__main__", "this", "imagen_nb.cli", "http.server"])
def test_components_route_never_imports_a_module(locked, module):
    with attack(f"unauthenticated GET /components/{module}/… (imports the module in Panel's handler)"):
        r = httpx.get(f"{locked.base}/components/{module}/x/__css__/y", timeout=10)
        assert r.status_code in (302, 403, 404)
        assert locked.alive(), f"the server died:\n{locked.output()}"
        assert "Beautiful is better than ugly" not in locked.output()  # `import this` prints the Zen
    with attack(f"signed-in GET /components/{module}/… (must not import either)"):
        r = _signed_in(locked).get(f"/components/{module}/x/__css__/y")
        assert r.status_code == 404
        assert locked.alive() and "Beautiful is better than ugly" not in locked.output()


def test_components_route_on_a_server_without_password(open_v6):
    for method in ("GET", "HEAD", "POST"):
        with attack(f"{method} /components/imagen_nb.__main__/… on a server without password"):
            r = httpx.request(method, f"{open_v6.base}/components/imagen_nb.__main__/x/__css__/y", timeout=10)
            assert r.status_code in (404, 405) and open_v6.alive()


def test_python_dash_m_guard():
    with attack("import imagen_nb.__main__ runs the command line"):
        out = subprocess.run([sys.executable, "-c", "import imagen_nb.__main__; print('still here')"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "still here" in out.stdout


@pytest.mark.parametrize("path", ["/", "/autoload.js", "/metadata", "/ws", "/static/../../../../etc/passwd",
                                  "/components/panel.layout.base/Column/__css__/x.css", "/rest/session_info",
                                  "/admin", "/liveness", "/logout"])
def test_nothing_of_the_app_without_login(locked, path):
    with attack(f"unauthenticated GET {path}"):
        r = httpx.get(locked.base + path, timeout=10)
        assert r.status_code in (200, 302, 400, 403, 404, 405) and "docs_json" not in r.text
        assert r.status_code != 200 or path == "/logout", f"{path} answered without a login"
        assert locked.alive()


# ---- item 6: hosts and origins -------------------------------------------------------------------


def test_only_the_served_host_is_answered(locked):
    with attack("DNS rebinding: Host evil.example:PORT"):
        r = httpx.get(locked.base + "/login", headers={"Host": f"evil.example:{locked.port}"})
        assert r.status_code == 403 and "--allow-websocket-origin" in r.text
    with attack("Host of another port on this machine"):
        assert httpx.get(locked.base + "/login", headers={"Host": "127.0.0.1:1"}).status_code == 403
    for host in (f"127.0.0.1:{locked.port}", f"localhost:{locked.port}", f"[::1]:{locked.port}"):
        assert httpx.get(locked.base + "/login", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1",
                                    "http://evil.example:{port}", "http://127.0.0.1.evil.example:{port}"])
def test_websocket_from_another_origin_is_refused(locked, origin):
    origin = origin.format(port=locked.port)
    client = _signed_in(locked)
    token = _session_token(client.get("/").text)
    with attack(f"websocket with Origin {origin} and a valid login"):
        assert _ws(locked, origin, _cookie_header(client), token) == 403
    with attack(f"websocket with Origin {origin}, Host to match (DNS rebinding)"):
        host = origin.split("://", 1)[-1]
        assert _ws(locked, origin, _cookie_header(client), token, host=host) == 403


def test_login_form_posted_from_another_site_is_refused(locked):
    with attack("login POST from another site (login CSRF)"):
        r = httpx.post(locked.base + "/login", data={"password": PASSWORD}, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "set-cookie" not in r.headers


def test_ipv6_loopback_is_local_and_not_open_to_every_origin(open_v6):
    assert f"at http://[::1]:{open_v6.port}/" in open_v6.output()  # the URL it prints opens the app
    page = httpx.get(open_v6.base + "/", timeout=30)
    assert page.status_code == 200 and "docs_json" in page.text
    token = _session_token(page.text)
    assert _ws(open_v6, open_v6.origin, token=token) == "open", "the app's own page cannot open its websocket"
    for origin in ("http://evil.example", f"http://evil.example:{open_v6.port}", "http://127.0.0.1:1"):
        with attack(f"::1 without password: websocket from {origin}"):
            assert _ws(open_v6, origin, token=token) == 403
    with attack("::1 without password: DNS rebinding Host"):
        assert httpx.get(open_v6.base + "/", headers={"Host": f"evil.example:{open_v6.port}"}).status_code == 403


def test_another_address_without_password_is_not_open_to_every_origin(lan):
    page = httpx.get(lan.base + "/", timeout=30)
    assert page.status_code == 200 and "docs_json" in page.text
    token = _session_token(page.text)
    assert _ws(lan, lan.origin, token=token) == "open"
    for origin in ("http://evil.example", f"http://evil.example:{lan.port}", f"http://127.0.0.1:{lan.port}"):
        with attack(f"--address 127.0.0.2 --no-auth: websocket from {origin}"):
            assert _ws(lan, origin, token=token) == 403
    with attack("--address 127.0.0.2 --no-auth: page under another Host"):
        assert httpx.get(lan.base + "/", headers={"Host": f"evil.example:{lan.port}"}).status_code == 403


def test_a_wildcard_origin_is_refused_with_a_fix(tmp_path, capsys):
    from imagen_nb.cli import main

    with attack("--allow-websocket-origin '*' (any site drives the studio)"):
        rc = main(["--home", str(tmp_path / "h"), "serve", "--port", str(_free_port()),
                   "--allow-websocket-origin", "*"])
        err = capsys.readouterr().err
        assert rc == 2 and "name the host" in err and len(err.strip().splitlines()) == 1


# ---- item 1 on `panel serve notebooks/studio.ipynb` ------------------------------------------------


def _panel_serve(tmp: Path, *args: str) -> tuple[subprocess.Popen, str, Path]:
    """`panel serve notebooks/studio.ipynb` with a canary module importable (it writes a file when imported)."""
    port = _free_port()
    canary_dir = tmp / "canary"
    canary_dir.mkdir()
    imported = tmp / "canary-imported"
    (canary_dir / "canary_mod.py").write_text(f"open({str(imported)!r}, 'w').write('imported')\n")
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "studio.ipynb"
    env = dict(os.environ, IMAGEN_NB_HOME=str(tmp / "home"), PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(canary_dir), os.environ.get("PYTHONPATH", "")]))
    log = (tmp / "panel.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "panel", "serve", str(notebook), "--address", "127.0.0.1",
                             "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}", *args],
                            env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp / "panel.log").read_text()
        try:
            httpx.get(base + "/favicon.ico", timeout=2)
            return proc, base, imported
        except httpx.HTTPError:
            time.sleep(0.25)
    proc.kill()
    raise AssertionError("panel serve did not answer within 90 s")


def _probe_components(proc: subprocess.Popen, base: str, imported: Path) -> None:
    for url in ("/components/canary_mod/x/__css__/y", "/components/imagen_nb.__main__/x/__css__/y",
                "/components/imagen_nb.cli/x/__css__/y"):
        r = httpx.get(base + url, timeout=30)
        assert r.status_code == 404, (url, r.status_code)
    time.sleep(0.5)
    assert proc.poll() is None, "the server ended"
    assert not imported.exists(), "a /components/ URL imported a module"


def test_panel_serve_of_the_notebook_with_the_plugin_never_imports_a_module(tmp_path):
    proc, base, imported = _panel_serve(tmp_path, "--plugins", "imagen_nb.web.panel_plugin")
    try:
        with attack("panel serve notebook: /components/ URLs naming modules, before any session"):
            _probe_components(proc, base, imported)
        page = httpx.get(base + "/studio", timeout=60)
        assert page.status_code == 200 and "<title>imagen-nb</title>" in page.text
        assert (tmp_path / "home" / "catalog.duckdb").is_file()  # the session opened the studio
        with attack("panel serve notebook: /components/ URLs naming modules, with a session open"):
            _probe_components(proc, base, imported)
    finally:
        proc.terminate()
        proc.wait(30)


def test_panel_serve_of_the_notebook_without_the_plugin_refuses_and_closes_the_route(tmp_path):
    proc, base, imported = _panel_serve(tmp_path)
    try:
        with attack("panel serve notebook without the plugin: the studio is not shown"):
            page = httpx.get(base + "/studio", timeout=60)  # the session runs the notebook: a refusal (the
            assert page.status_code == 200  # message travels over the websocket; its text: tests/web/test_panel_plugin.py)
            assert not (tmp_path / "home" / "catalog.duckdb").exists()  # the studio was not even opened
        with attack("panel serve notebook without the plugin: /components/ after the first session"):
            _probe_components(proc, base, imported)
    finally:
        proc.terminate()
        proc.wait(30)


# ---- item 6: login -------------------------------------------------------------------------------


def test_wrong_passwords_are_throttled_per_client(locked):
    # Another source address on the loopback: its lockout must not lock out 127.0.0.1.
    attacker = httpx.Client(base_url=locked.base, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with attack("password guessing: 30 wrong passwords in a burst"):
        codes = [_login(locked, f"guess {i}", attacker).status_code for i in range(30)]
        assert codes.count(401) <= 5, codes  # three free tries, then one per lockout (1 s, 2 s, …)
        assert codes.count(429) >= 25
    with attack("the right password during a lockout"):
        r = _login(locked, PASSWORD, attacker)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "wait" in r.text
        assert "set-cookie" not in r.headers
    assert _login(locked).status_code == 302  # the user at another address still gets in


def test_x_forwarded_for_from_anyone_but_a_trusted_proxy_is_ignored(locked):
    attacker = httpx.Client(base_url=locked.base, transport=httpx.HTTPTransport(local_address="127.0.0.4"))
    with attack("escaping the throttle with a made-up X-Forwarded-For (no proxy trusted)"):
        codes = [attacker.post("/login", data={"username": "me", "password": f"guess {i}"},
                               headers={"Origin": locked.origin, "X-Forwarded-For": f"198.51.{i}.{i}"}).status_code
                 for i in range(20)]
        assert codes.count(401) <= 5 and codes.count(429) >= 15, codes


def test_behind_a_trusted_proxy_clients_are_throttled_apart_and_by_network(proxied):
    def login(forwarded_for: str, password: str = "wrong") -> int:
        return httpx.post(proxied.base + "/login", data={"username": "me", "password": password},
                          headers={"Origin": proxied.origin, "X-Forwarded-For": forwarded_for}).status_code

    with attack("wrong passwords through a trusted proxy are not throttled per client"):
        codes = [login("203.0.113.5") for _ in range(10)]
        assert codes.count(429) >= 5, codes
    with attack("a client behind the proxy prepends a made-up address to X-Forwarded-For"):
        assert login("192.0.2.1, 203.0.113.5") == 429  # the hop the proxy appended (203.0.113.5) counts
    with attack("one client behind the proxy locks out everyone behind it"):
        assert login("198.51.100.7", PASSWORD) == 302  # another client of the proxy still gets in
    with attack("an IPv6 attacker takes a fresh /64 of its /48 for every try"):
        codes = [login(f"2001:db8:77:{i:x}::1") for i in range(60)]
        assert codes.count(401) <= 36 and codes.count(429) >= 24, codes  # 30 free for the /48, then lockouts


def test_login_cookie_flags(locked):
    with attack("login cookie readable by scripts or sent cross-site"):
        r = _login(locked)
        assert r.status_code == 302
        cookies = r.headers.get_list("set-cookie")
        assert len(cookies) == 1 and cookies[0].startswith("imagen_nb_session=")
        flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookies[0].split(";")[1:]}
        assert "httponly" in flags and flags["samesite"].lower() == "samesite=strict" and flags["path"] == "Path=/"
    with attack("a wrong password still gets a cookie"):
        assert "set-cookie" not in _login(locked, "nope", httpx.Client(
            base_url=locked.base, transport=httpx.HTTPTransport(local_address="127.0.0.3"))).headers


def test_logout_ends_the_session_for_every_copy_of_the_cookie(locked):
    client = _signed_in(locked)
    stolen = _cookie_header(client)
    page = client.get("/")
    assert page.status_code == 200 and "docs_json" in page.text
    token = _session_token(page.text)

    async def open_then_logout():
        live = await _connect(locked, _headers(locked.origin, stolen), token)
        assert not isinstance(live, int), f"a signed-in websocket was refused ({live})"
        assert (await asyncio.to_thread(client.get, "/logout")).status_code == 200
        for _ in range(100):
            if await asyncio.wait_for(live.read_message(), 10) is None:
                return live.close_code
        return None

    with attack("a websocket opened before logout keeps working after it"):
        assert _run(open_then_logout()) == 1008
    with attack("the cookie copied before logout, used after it"):
        r = httpx.get(locked.base + "/", headers={"Cookie": stolen})
        assert r.status_code == 302 and "/login" in r.headers["location"]
    with attack("a new websocket with the old cookie after logout"):
        assert _ws(locked, locked.origin, stolen, token) == 403


def test_forged_cookies_are_refused(locked):
    with attack("a made-up session cookie"):
        assert httpx.get(locked.base + "/", headers={"Cookie": "imagen_nb_session=abc"}).status_code == 302
    with attack("Panel's own 'user' cookie"):
        assert httpx.get(locked.base + "/", headers={"Cookie": 'user="2|1:0|10:1|4:user|4:bWU=|00"'}).status_code == 302


# ---- item 6: headers -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/", "/logout", "/components/x/y/z/w", "/favicon.ico"])
def test_frame_and_content_security_headers(locked, path):
    client = _signed_in(locked)
    with attack(f"framing / foreign scripts on {path}"):
        r = client.get(path)
        assert r.headers["x-frame-options"] == "DENY"
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
        assert "http" not in csp and "*" not in csp, "the policy must not allow another server"
        assert r.headers["x-content-type-options"] == "nosniff"


# ---- item 6: panel requests never read files outside the home ------------------------------------


def _png(size=(8, 8)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def served_host(studio):
    """The served component over ``studio``; ``ask(panel, method, **args)`` sends what the
    browser sends and returns the reply's content."""
    from imagen_nb.app import PanelHost

    host = PanelHost(studio)
    sent: list[dict] = []
    host._send_msg = sent.append
    rid = iter(range(1, 10_000))

    def ask(panel: str, method: str, buffers=(), **args) -> dict:
        n = next(rid)
        host._handle_msg({"content": {"panel": panel, "rid": n, "method": method, "args": args},
                          "buffers": list(buffers)})
        return next(m["content"] for m in reversed(sent) if m["content"].get("reply") == n)

    yield ask
    host.close()


def test_image_thumb_reads_nothing_outside_the_home(served_host, studio, tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(_png())
    link = studio.home / "innocent.png"
    link.symlink_to(outside)
    for value in ("/etc/passwd", "/etc/shadow", "/proc/self/environ", "~/.bashrc", str(outside),
                  f"{studio.home}/../secret.png", f"{studio.home}/../../../../../../etc/passwd", str(link)):
        with attack(f"image_thumb of {value}"):
            reply = served_host("order", "image_thumb", value=value)
            assert reply["ok"] and reply["result"]["kind"] == "outside" and reply["result"]["thumb"] is None
    uploaded = served_host("order", "upload", buffers=[_png()], name="mine.png", field="image")["result"]
    thumb = served_host("order", "image_thumb", value=uploaded["path"])["result"]
    assert thumb["kind"] == "file" and thumb["thumb"] is not None  # what the user uploaded still shows


def test_orders_from_a_panel_read_nothing_outside_the_home(served_host, studio, tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(_png())
    inside = served_host("order", "upload", buffers=[_png()], name="mine.png", field="image")["result"]["path"]
    hostile = {
        "an image input": {"image": str(outside)},
        "a random pick hiding a path": {"image": f"[{inside}|{outside}]"},
        "a smart token hiding a path": {"image": "[?pics]"},
        "a LoRA path": {"loras": "/etc/x.safetensors"},
        "a mask under ..": {"mask_image": f"{studio.home}/uploads/../../secret.png"},
    }
    studio.tokens["pics"] = [inside, str(outside)]
    for what, values in hostile.items():
        for method in ("preview", "order"):
            with attack(f"{method} with {what} outside the home"):
                reply = served_host("order", method, model="instant:swatch", values={"prompt": "x", **values})
                assert not reply["ok"], reply
                assert reply["error"]["field"] == next(iter(values)) and "Upload" in reply["error"]["message"]
    assert studio.gallery().empty  # nothing was ordered
