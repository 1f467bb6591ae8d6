"""Shared fixtures: every test gets its own imagen-nb home."""

from __future__ import annotations

import pytest

import imagen_nb as inb


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
