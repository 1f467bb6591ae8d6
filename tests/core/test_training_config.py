"""Training hyperparameters and names are checked before any work (issue 16); pure, no I/O."""

from __future__ import annotations

import pytest

from imagen_nb.core.errors import ValidationError
from imagen_nb.core.training import (
    TrainingConfig, apply_trigger, bucket_for, bucket_sizes, check_lora_name, target_size,
)


@pytest.mark.parametrize("field, value, words", [
    ("steps", 0, "at least 1"), ("rank", 2000, "at most"), ("alpha", -1, "more than 0"),
    ("learning_rate", float("nan"), "number"), ("resolution", 100, "multiple of 8"), ("batch_size", 0, "at least 1"),
    ("caption_dropout", 1.0, r"up to \(not including\) 1"), ("lr_scheduler", "cosine_fancy", "one of constant"),
    ("mixed_precision", "fp8", "one of no, fp16, bf16"), ("sample_prompts", "a cat", "list of non-empty prompts"),
    ("trigger", " ", "non-empty word"), ("lr_warmup_steps", 2000, "at most 1,000"),
    ("aspect", "square", "'crop' .* or 'bucket'"), ("train_text_encoder", "yes", "True or False"),
    ("train_text_encoder", 1, "True or False"),
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


def test_text_encoder_options_are_checked_together():
    config = TrainingConfig(train_text_encoder=True)
    assert config.text_lr == config.learning_rate == 1e-4  # the text encoder follows learning_rate by default
    assert TrainingConfig(train_text_encoder=True, text_encoder_learning_rate=5e-5).text_lr == 5e-5
    with pytest.raises(ValidationError, match="only applies with train_text_encoder=True") as info:
        TrainingConfig(text_encoder_learning_rate=5e-5)
    assert info.value.param == "text_encoder_learning_rate"
    for bad in (0, -1e-4, 2.0, "fast"):
        with pytest.raises(ValidationError) as info:
            TrainingConfig(train_text_encoder=True, text_encoder_learning_rate=bad)
        assert info.value.param == "text_encoder_learning_rate"
    data = TrainingConfig(train_text_encoder=True, text_encoder_learning_rate=1e-3, aspect="bucket").to_dict()
    assert data["train_text_encoder"] is True and data["aspect"] == "bucket"
    assert TrainingConfig.from_dict(data).text_lr == 1e-3
    old = {k: v for k, v in data.items() if k not in ("aspect", "train_text_encoder", "text_encoder_learning_rate")}
    assert TrainingConfig.from_dict(old).aspect == "crop"  # runs recorded before these options read back


def test_buckets_keep_the_area_and_sides_of_64():
    sizes = bucket_sizes(512)
    assert (512, 512) in sizes and (640, 384) in sizes and (384, 640) in sizes
    assert all(w % 64 == 0 and h % 64 == 0 and w * h <= 512 * 512 and 256 <= min(w, h) for w, h in sizes)
    assert all((h, w) in sizes for w, h in sizes)  # portrait and landscape alike
    assert bucket_sizes(128) == [(64, 256), (64, 192), (128, 128), (192, 64), (256, 64)]
    assert bucket_for(1920, 1080, 512) == (640, 384) and bucket_for(1080, 1920, 512) == (384, 640)
    assert bucket_for(500, 510, 512) == (512, 512) and bucket_for(128, 64, 128) == (192, 64)
    assert target_size(1920, 1080, TrainingConfig(resolution=512)) == (512, 512)  # crop: always the square
    assert target_size(1920, 1080, TrainingConfig(resolution=512, aspect="bucket")) == (640, 384)
    assert target_size(None, None, TrainingConfig(resolution=512, aspect="bucket")) == (512, 512)
    with pytest.raises(ValidationError, match="multiple of 64") as info:
        TrainingConfig(resolution=96, aspect="bucket")
    assert info.value.param == "resolution"
