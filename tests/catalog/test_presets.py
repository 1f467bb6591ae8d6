"""Presets (``studio.presets``) are kept in the catalog and survive a reopen; keys are reported."""

from __future__ import annotations

import pytest

import imagen_nb as inb


def test_presets_save_replace_delete_and_survive_a_reopen(home):
    with inb.Studio(home) as studio:
        assert dict(studio.presets) == {}
        studio.presets["square"] = {"model": "instant:swatch", "params": {"width": 512, "height": 512,
                                                                         "prompt": "a [red,blue] car"}}
        studio.presets["steps"] = {"num_inference_steps": "[4..6]"}  # params alone: no model
        studio.presets["square"] = {"model": "diffusers:tiny", "params": {"width": 256, "height": 256}}
        assert list(studio.presets) == ["square", "steps"]
        assert studio.presets["square"] == {"model": "diffusers:tiny", "params": {"width": 256, "height": 256}}
    with inb.Studio(home) as studio:
        assert studio.presets["steps"] == {"model": None, "params": {"num_inference_steps": "[4..6]"}}
        del studio.presets["steps"]
        assert list(studio.presets) == ["square"]
        with pytest.raises(KeyError, match="no preset 'steps'"):
            del studio.presets["steps"]
        with pytest.raises(KeyError, match="Did you mean 'square'"):
            studio.presets["squares"]
    with inb.Studio(home) as studio:
        assert len(studio.presets) == 1
        # a deleted name can be used again
        studio.presets["steps"] = {"params": {"seed": [1, 2]}}
        assert studio.presets["steps"]["params"] == {"seed": [1, 2]}


def test_bad_presets_are_refused_with_the_field(studio):
    with pytest.raises(inb.ValidationError) as err:
        studio.presets[" "] = {"params": {}}
    assert err.value.param == "name"
    with pytest.raises(inb.ValidationError) as err:
        studio.presets["x"] = {"model": 3, "params": {}}
    assert err.value.param == "model"
    with pytest.raises(inb.ValidationError) as err:
        studio.presets["x"] = {"model": "instant:swatch", "params": "width=3"}
    assert err.value.param == "params"
    assert len(studio.presets) == 0


def test_missing_key_says_how_to_set_it(studio, monkeypatch):
    monkeypatch.delenv("FAL_KEY", raising=False)
    assert studio.views.missing_key("instant") is None
    assert studio.views.missing_key("diffusers") is None
    message = studio.views.missing_key("fal")
    assert message is not None and "imagen-nb keys set fal" in message and "FAL_KEY" in message
    monkeypatch.setenv("FAL_KEY", "id:secret-value")
    assert studio.views.missing_key("fal") is None
