"""Shared fixtures: every test gets its own imagen-nb home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import imagen_nb as inb
from imagen_nb.core.records import ModelInfo
from imagen_nb.providers import registry
from imagen_nb.providers.instant import SPEC, InstantFactory, InstantProvider


def pytest_addoption(parser):
    """``--soak N``: how many kills tests/reliability/test_kills.py makes (its fast mode otherwise)."""
    group = parser.getgroup("imagen-nb reliability")
    group.addoption("--soak", type=int, default=int(os.environ.get("IMAGEN_NB_SOAK", "0")), metavar="N",
                    help="kill-at-random-moments trials to run (default: the fast CI subset; env IMAGEN_NB_SOAK)")
    group.addoption("--kill-seed", type=int, default=int(os.environ.get("IMAGEN_NB_KILL_SEED", "10")),
                    metavar="SEED", help="seed of the kill moments (env IMAGEN_NB_KILL_SEED; default 10)")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Point IMAGEN_NB_HOME at a fresh folder so no test touches a real studio."""
    path = tmp_path / "home"
    monkeypatch.setenv("IMAGEN_NB_HOME", str(path))
    return path


@pytest.fixture
def studio(home):
    """An open Studio on the test's home, closed afterwards."""
    s = inb.Studio()
    yield s
    s.close()


class FaultyFactory(InstantFactory):
    """Fails generations whose prompt holds 'x' while the provider is down (a transient fault no
    real local part produces on demand); they succeed once it is back (``down = False``)."""

    down = True

    def run(self, requests, ctx):
        return [RuntimeError(f"provider down while drawing {r.params['prompt']!r}")
                if FaultyFactory.down and "x" in r.params["prompt"] else self._one(r, ctx) for r in requests]


class FaultyProvider(InstantProvider):
    name = "faulty"

    def models(self):
        return [ModelInfo("faulty", "swatch", "text-to-image", "swatch", SPEC, "fails while down")]

    def factory(self, model):
        return FaultyFactory(model)


@pytest.fixture
def faulty():
    """The faulty provider's switch: ``faulty.down = False`` brings it back."""
    return FaultyFactory


@pytest.fixture
def faulty_studio(home, faulty):
    """A Studio with the ``faulty:swatch`` model, down at first."""
    registry.register(FaultyProvider)
    faulty.down = True
    studio = inb.Studio()
    yield studio
    studio.close()
    registry.unregister("faulty")


# -- a real second process hosting the test's home (tests/studio, tests/ui) -------------------
HOST = Path(__file__).parent / "studio" / "host_process.py"


class HostProcess:
    """A ``host_process.py`` child: ``ask(line)`` sends a command and returns its answer line."""

    def __init__(self, home: Path):
        self.proc = subprocess.Popen([sys.executable, str(HOST), str(home)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["READY"], f"the host process did not start: {line}"
        self.pid = int(line[1])

    def ask(self, line: str) -> str:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
                self.proc.wait(30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.proc.wait(30)


@pytest.fixture
def host(home):
    """Another process hosting ``home`` (closed, or killed, after the test)."""
    child = HostProcess(home)
    yield child
    child.stop()


@pytest.fixture
def make_host():
    """Start a host process on any folder: ``make_host(home)`` (stop it with ``.stop()``)."""
    return HostProcess
