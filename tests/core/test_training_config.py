"""Training hyperparameters and names are checked before any work (issue 16); pure, no I/O."""

from __future__ import annotations

import pytest

from imagen_nb.core.errors import ValidationError
from imagen_nb.core.training import TrainingConfig, apply_trigger, check_lora_name


@pytest.mark.parametrize("field, value, words", [
    ("steps", 0, "at least 1"), ("rank", 2000, "at most"), ("alpha", -1, "more than 0"),
    ("learning_rate", float("nan"), "number"), ("resolution", 100, "multiple of 8"), ("batch_size", 0, "at least 1"),
    ("caption_dropout", 1.0, r"up to \(not including\) 1"), ("lr_scheduler", "cosine_fancy", "one of constant"),
    ("mixed_precision", "fp8", "one of no, fp16, bf16"), ("sample_prompts", "a cat", "list of non-empty prompts"),
    ("trigger", " ", "non-empty word"), ("lr_warmup_steps", 2000, "at most 1,000"),
])
def test_each_bad_value_names_its_field(field, value, words):
    with pytest.raises(ValidationError, match=words) as info:
        TrainingConfig(**{field: value})
    assert info.value.param == field


def test_a_config_travels_as_plain_json_and_back():
    config = TrainingConfig(steps=30, sample_prompts=("a cat",), sample_every=10, trigger="inkstyle")
    data = config.to_dict()
    assert data["sample_prompts"] == ["a cat"] and TrainingConfig.from_dict(data) == config
    with pytest.raises(ValidationError, match="not a training setting"):
        TrainingConfig.from_dict({**data, "ranks": 4})


def test_names_and_triggers():
    assert check_lora_name("cards-style_v1.2") == "cards-style_v1.2"
    for bad in ("", "../x", "a/b", "x.safetensors", "-x", 3):
        with pytest.raises(ValidationError, match="LoRA name"):
            check_lora_name(bad)
    assert apply_trigger(" a cat ", "inkstyle") == "inkstyle, a cat"
    assert apply_trigger("a cat", None) == "a cat" and apply_trigger("", "inkstyle") == "inkstyle"
