"""Providers come from the entry point group; a broken plugin is skipped with a warning."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint

from imagen_nb.providers import registry


def test_builtins_come_from_entry_points():
    names = set(registry.provider_classes())
    assert {"diffusers", "instant"} <= names


def test_a_broken_plugin_is_skipped_with_a_warning(monkeypatch, caplog):
    broken = EntryPoint(name="broken", value="imagen_nb.no_such_module:Provider", group=registry.GROUP)
    real = registry.entry_points

    monkeypatch.setattr(registry, "entry_points", lambda group: [*real(group=group), broken])
    with caplog.at_level(logging.WARNING):
        classes = registry.provider_classes()
    assert "broken" not in classes and "diffusers" in classes
    assert "provider plugin 'broken'" in caplog.text and "ModuleNotFoundError" in caplog.text
