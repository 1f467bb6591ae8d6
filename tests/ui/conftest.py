"""A page without a browser: drives a panel controller through the real message protocol."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("anywidget", reason="the panels need the panel extra (pip install 'imagen-nb[panel]')")

from imagen_nb.ui.bridge import Controller  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))
from civitai_server import CivitaiServer, ServerFile  # noqa: E402


class Page:
    """Plays the JavaScript side: sends requests, keeps every message the controller sends.

    ``schedule`` runs updates at once on the calling thread (a worker's timer thread), as the
    kernel's IO loop would run them a moment later.
    """

    def __init__(self, controller: Controller):
        self.controller = controller
        self.messages: list[tuple[dict, list[bytes]]] = []
        self._rid = 0
        self._lock = threading.Lock()
        controller.attach(self)

    # Transport
    def send(self, content, buffers=()):
        with self._lock:
            self.messages.append((content, list(buffers)))

    def schedule(self, fn):
        fn()

    # What the JavaScript does
    def request(self, method: str, buffers=(), **args):
        """Send a request; return (ok, result or error, buffers) of its reply."""
        self._rid += 1
        rid = self._rid
        self.controller.handle({"panel": self.controller.name, "rid": rid, "method": method, "args": args}, buffers)
        for content, bufs in reversed(self.messages):
            if content.get("reply") == rid:
                return content["ok"], content["result"] if content["ok"] else content["error"], bufs
        raise AssertionError(f"no reply to {method}")

    def call(self, method: str, buffers=(), **args):
        """A request that must succeed: its result (and buffers via :meth:`call_with_buffers`)."""
        ok, result, _ = self.request(method, buffers, **args)
        assert ok, result
        return result

    def call_with_buffers(self, method: str, **args):
        ok, result, bufs = self.request(method, **args)
        assert ok, result
        return result, bufs

    def error(self, method: str, **args) -> dict:
        """A request that must fail: the error payload the page shows."""
        ok, result, _ = self.request(method, **args)
        assert not ok, f"{method} should have failed, returned {result!r}"
        return result

    def pushes(self, event: str | None = None) -> list:
        """Data of the pushes received so far (of one event type)."""
        with self._lock:
            return [c["data"] for c, _ in self.messages
                    if "event" in c and (event is None or c["event"] == event)]

    def wait_for(self, predicate, timeout: float = 20.0):
        """Wait until ``predicate(self)`` is truthy (live updates arrive from worker threads)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate(self)
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError("the page never saw the expected update")


@pytest.fixture
def page():
    """page(controller) -> a Page attached to it; controllers are closed after the test."""
    made = []

    def make(controller: Controller) -> Page:
        made.append(controller)
        return Page(controller)

    yield make
    for controller in made:
        controller.close()


@pytest.fixture
def civitai(monkeypatch):
    """The loopback civitai server (site and orchestration API) the studio is pointed at, with two
    LoRAs: "Tarot cards" (SD 1.5, trigger word "tarot card", tarotCards_v10.safetensors of
    1,000,000 bytes) and "Big XL style" (SDXL 1.0). Sign in with ``civitai.token``
    (``CIVITAI_API_TOKEN``)."""
    with CivitaiServer("loopback-civitai-token-abcdef123") as server:
        server.add(328553, 368189, name="Tarot cards", trained_words=["tarot card"],
                   files=[ServerFile(1, "tarotCards_v10.safetensors", b"lora bytes" * 100_000)])
        server.add(555, 777, name="Big XL style", base_model="SDXL 1.0", ecosystem="sdxl",
                   files=[ServerFile(2, "bigXL.safetensors", b"xl lora")])
        monkeypatch.setenv("CIVITAI_SITE_URL", server.url)
        monkeypatch.setenv("CIVITAI_ORCHESTRATION_URL", server.url)
        yield server


# ---- real browsers ---------------------------------------------------------------------------

CHROMIUM = os.environ.get("IMAGEN_NB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
ARTIFACTS = Path(os.environ.get("IMAGEN_NB_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    """Wait until ``url`` answers (any HTTP status), or fail with the server's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM} in CI: the test setup (./dev.sh test) must install it")
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (./dev.sh test does it)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Tab:
    """A browser page that records console errors and refuses every request off this machine."""

    def __init__(self, browser, name: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.name = name
        self.errors: list[str] = []
        self.offsite: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "http://localhost", "data:", "blob:")):
            route.continue_()
        else:
            self.offsite.append(url)
            route.abort()

    def shot(self, label: str, locator=None) -> Path:
        """Save a screenshot into the test artifacts (look at them: they are the product's face)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        (locator or self.page).screenshot(path=str(path))
        return path

    def close(self):
        self.context.close()


@pytest.fixture
def tab(browser, request):
    """A fresh browser tab named after the test; it must load nothing from outside 127.0.0.1."""
    t = Tab(browser, request.node.name)
    yield t
    t.close()
    assert t.offsite == [], f"the page tried to load from outside this machine: {t.offsite[:5]}"


def _server_env(home: Path) -> dict:
    env = dict(os.environ, IMAGEN_NB_HOME=str(home), PYTHONUNBUFFERED="1")
    env.pop("IMAGEN_NB_PASSWORD", None)
    return env


@pytest.fixture
def serve_app(home):
    """serve_app(**env) -> :class:`ServedApp`: ``imagen-nb serve`` on a free loopback port over the
    test's home, with extra environment variables; every server is stopped after the test."""
    procs = []

    def start(**env) -> ServedApp:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "imagen_nb", "serve", "--port", str(port)],
                                env={**_server_env(home), **env}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        app = ServedApp(f"http://127.0.0.1:{port}/")
        app.stop = lambda: stop(proc) if proc.poll() is None else ""
        wait_http(app, proc)
        return app

    yield start
    for proc in procs:
        if proc.poll() is None:
            stop(proc)


@pytest.fixture
def panel_server(serve_app):
    """``imagen-nb serve`` over the test's home: its URL (a :class:`ServedApp`; ``stop()`` ends it)."""
    return serve_app()


class ServedApp(str):
    """The URL of a served app; ``stop()`` ends the server (and so releases the studio's home)."""

    stop: "callable"


@pytest.fixture
def jupyter_server(tmp_path, home):
    """JupyterLab on a free loopback port, its root a copy of notebooks/: yields (base URL, token)."""
    root = tmp_path / "lab"
    shutil.copytree(Path(__file__).resolve().parents[2] / "notebooks", root)
    port = free_port()
    token = "imagen-nb-test"
    env = _server_env(home)
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "jupyter-runtime")
    # No "would you like news?" prompt over the page (and no fetch for it).
    settings = tmp_path / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    proc = subprocess.Popen([
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--ServerApp.open_browser=False", "--allow-root", "--LabApp.extension_manager=readonly",
    ], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/status?token={token}", proc)
        yield f"http://127.0.0.1:{port}", token, root
    finally:
        stop(proc)


def lab_notebook(path: Path, *sources: str) -> None:
    """Write a notebook of code cells (``sources``, in order) for a Python 3 kernel at ``path``."""
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
              "source": src} for i, src in enumerate(sources)]
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}))


def lab_open(page, url: str) -> None:
    """Open a notebook in JupyterLab (``url``), pick its kernel when Lab asks, wait until the kernel is idle."""
    page.goto(url)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    select = page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True)
    try:
        select.wait_for(timeout=10_000)
        select.click()
    except Exception:
        pass  # no dialog: the kernel started by itself
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=60_000)


def lab_menu(page, menu: str, item: str) -> None:
    """Click JupyterLab's menu ``menu`` then its ``item`` ("Run", "Run All Cells")."""
    page.get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


@pytest.fixture
def lab(jupyter_server, tab):
    """lab(name, *sources) -> the page: notebook ``name`` (code cells ``sources``) written into the
    ``jupyter_server``'s root, opened in the ``tab``, its kernel idle."""

    def open_notebook(name: str, *sources: str):
        base, token, root = jupyter_server
        lab_notebook(root / name, *sources)
        lab_open(tab.page, f"{base}/lab/tree/{name}?token={token}")
        return tab.page

    return open_notebook


def lab_run_all(page):
    """Run every cell of the open notebook; returns the Studio widget once it shows."""
    lab_menu(page, "Run", "Run All Cells")
    widget = page.locator(".inb-studio").first
    widget.wait_for(timeout=120_000)
    return widget


@contextmanager
def serving(studio, entry: str = "studio"):
    """``studio_app(studio, entry)`` (the four panels, or one) served in this process on a free
    loopback port: yields its URL once it answers; stopped afterwards."""
    pn = pytest.importorskip("panel")
    from imagen_nb.app import studio_app

    port = free_port()
    server = pn.serve({"/": lambda: studio_app(studio, entry)}, address="127.0.0.1", port=port, show=False,
                      threaded=True, title="imagen-nb")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.stop()


@pytest.fixture
def served(studio):
    """The Panel app over the test's own ``studio``, served in this process on a free loopback
    port, so a test can click in the browser and check the catalog at once: yields the URL."""
    with serving(studio) as url:
        yield url


@pytest.fixture
def open_studio():
    """open_studio(tab, url, panel): open the app and switch to ``panel``'s tab -> its locator."""
    return _open_studio


def _open_studio(tab: "Tab", url: str, panel: str):
    tab.page.goto(url)
    tab.page.locator(".inb-studio").wait_for(timeout=30_000)
    tab.page.locator(f'.inb-tab[data-tab="{panel}"]').click()
    body = tab.page.locator(f'.inb-tabbody[data-panel="{panel}"]')
    body.wait_for(state="visible")
    return body
