"""Typed provider settings: a misspelt key, provider name or bad value fails at ``Studio(...)``."""

from __future__ import annotations

import logging
import re

import pytest

import imagen_nb as inb
from imagen_nb.providers import registry
from imagen_nb.providers.base import Provider, ProviderContext
from imagen_nb.providers.diffusers.settings import DiffusersSettings
from imagen_nb.providers.fal import FalSettings
from imagen_nb.providers.instant import InstantProvider
from imagen_nb.providers.replicate import ReplicateSettings
from imagen_nb.providers.settings import ProviderSettings, SettingsError


def test_a_misspelt_setting_fails_at_open_with_a_did_you_mean():
    with pytest.raises(SettingsError, match=r"diffusers has no setting 'memory_budjet'\. Did you mean 'memory_budget'\?"):
        inb.Studio(providers={"diffusers": {"memory_budjet": "6GB"}})
    inb.Studio().close()  # the failed open released the home


def test_a_misspelt_provider_name_fails_at_open_with_a_did_you_mean():
    with pytest.raises(inb.SettingsError, match=r"no provider .difusers. to take settings\. Did you mean 'diffusers'\?"):
        inb.Studio(providers={"difusers": {"device": "cpu"}})


@pytest.mark.parametrize("provider, settings, message", [
    ("diffusers", {"max_loaded": 0}, "diffusers setting max_loaded must be a whole number ≥ 1; got 0."),
    ("diffusers", {"batch": "no"}, "diffusers setting batch must be True or False; got 'no'."),
    ("diffusers", {"dtype": "int8"}, "diffusers setting dtype must be one of auto, float16, bfloat16, float32"),
    ("fal", {"timeout": -1}, "fal setting timeout must be a number > 0; got -1."),
    ("replicate", {"retries": 1.5}, "replicate setting retries must be a whole number ≥ 1; got 1.5."),
    ("instant", {"concurrency": True}, "instant setting concurrency must be a whole number ≥ 1; got True."),
])
def test_a_bad_value_fails_at_open_naming_the_setting(provider, settings, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        inb.Studio(providers={provider: settings})


def test_values_are_typed_once_at_open():
    with inb.Studio(providers={"diffusers": {"dtype": "fp16", "max_loras": "3"},
                               "replicate": {"timeout": 5}}) as studio:
        diffusers = studio.providers["diffusers"].settings
        assert isinstance(diffusers, DiffusersSettings)
        assert (diffusers.dtype, diffusers.max_loras, diffusers.device) == ("float16", 3, "auto")
        assert studio.providers["replicate"].settings.timeout == 5.0
        assert studio.providers["instant"].concurrency == 4


def test_a_provider_made_directly_checks_its_settings(tmp_path):
    with pytest.raises(SettingsError, match="instant has no setting 'concurency'. Did you mean 'concurrency'"):
        InstantProvider(ProviderContext(home=tmp_path, settings={"concurency": 2}))


@pytest.mark.parametrize("cls", [ProviderSettings, DiffusersSettings, FalSettings, ReplicateSettings])
def test_every_setting_is_documented(cls):
    docs = cls.docs()
    assert docs and all(len(doc) > 10 for doc in docs.values()), docs


def test_a_provider_whose_constructor_raises_is_skipped_with_a_warning(monkeypatch, caplog):
    class Broken(Provider):
        name = "broken"

        def __init__(self, context):
            raise RuntimeError("no licence server")

        def models(self):
            return []

        def factory(self, model):
            raise NotImplementedError

    registry.register(Broken)
    try:
        with caplog.at_level(logging.WARNING), inb.Studio() as studio:
            assert "broken" not in studio.providers and "instant" in studio.providers
        assert "provider 'broken'" in caplog.text and "no licence server" in caplog.text
    finally:
        registry.unregister("broken")


def test_imagen_nb_providers_limits_which_load(monkeypatch):
    monkeypatch.setenv("IMAGEN_NB_PROVIDERS", "instant, fal")
    with inb.Studio(providers={"diffusers": {"device": "cpu"}}) as studio:  # settings of a known one are fine
        assert sorted(studio.providers) == ["fal", "instant"]
    monkeypatch.setenv("IMAGEN_NB_PROVIDERS", "instnat")
    with pytest.raises(SettingsError, match="IMAGEN_NB_PROVIDERS names no provider 'instnat'. Did you mean 'instant'"):
        inb.Studio()


def test_the_settings_reference_is_generated_from_the_classes():
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "provider-settings.md"
    assert doc.read_text() == registry.builtin_settings_doc(), (
        "docs/provider-settings.md is stale: regenerate it with the command at its top")
