"""Shared fixtures: every test gets its own imagen-nb home."""

from __future__ import annotations

import pytest

import imagen_nb as inb
from imagen_nb.core.records import ModelInfo
from imagen_nb.providers import registry
from imagen_nb.providers.instant import SPEC, InstantFactory, InstantProvider


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
