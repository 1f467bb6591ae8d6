"""The LoRA trainer's data order (issue 16): which images each step takes, without loading a model."""

from __future__ import annotations

from collections import Counter

from imagen_nb.core.records import ModelInfo
from imagen_nb.core.training import TrainingConfig, TrainingExample, target_size
from imagen_nb.providers.diffusers.training import LoraTrainer

TINY = ModelInfo("diffusers", "tiny", "text-to-image", "stable-diffusion-1", {})
SIZES = [(128, 64), (64, 128), (96, 96), (120, 60), (100, 100), (200, 100), (60, 120)]


def trainer(**config) -> LoraTrainer:
    config = TrainingConfig(**{"resolution": 128, "aspect": "bucket", "batch_size": 2, **config})
    examples = []
    for i, (w, h) in enumerate(SIZES):
        tw, th = target_size(w, h, config)
        examples.append(TrainingExample(f"p{i}", f"p{i}.png", "0" * 64, w, h, f"image {i}", tw, th))
    return LoraTrainer(TINY, "nowhere", examples, config, "cpu", {})


def test_each_bucket_batch_holds_one_size_and_each_epoch_every_image_once():
    t = trainer(seed=3)
    assert t.buckets() == {(64, 192): [1, 6], (128, 128): [2, 4], (192, 64): [0, 3, 5]}
    per_epoch = len(t.bucket_batches(0))
    assert per_epoch == 4  # 192×64: 2 + 1, 64×192: 1, 128×128: 1
    sizes = {i: (e.target_width, e.target_height) for i, e in enumerate(t.examples)}
    for epoch in range(3):
        steps = [t.batch_indices(epoch * per_epoch + k) for k in range(per_epoch)]
        assert all(len({sizes[i] for i in batch}) == 1 for batch in steps)  # one bucket per batch
        assert Counter(i for batch in steps for i in batch) == Counter(range(len(SIZES)))  # once each
    assert [t.batch_indices(k) for k in range(12)] == [trainer(seed=3).batch_indices(k) for k in range(12)]
    assert [t.batch_indices(k) for k in range(12)] != [trainer(seed=4).batch_indices(k) for k in range(12)]


def test_crop_keeps_one_permutation_per_epoch_over_all_images():
    t = trainer(aspect="crop", seed=3, batch_size=3)
    taken = [i for k in range(7) for i in t.batch_indices(k)]
    assert all(len(t.batch_indices(k)) == 3 for k in range(7))
    assert Counter(taken[:7]) == Counter(range(7)) and Counter(taken[7:14]) == Counter(range(7))


def test_the_text_encoder_lora_learns_with_gradient_checkpointing(tmp_path):
    """The GPU path (gradient checkpointing on), run on the CPU: the text encoder's LoRA gets gradients
    (its B matrices start at zero, so only a gradient moves them) and no deprecation warning is raised."""
    import warnings

    from PIL import Image

    from imagen_nb.providers.diffusers.models import tiny_model
    from imagen_nb.providers.diffusers.tiny import build_tiny_model

    folder = build_tiny_model(tmp_path / "tiny")
    examples = []
    for i in range(2):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (64, 64), (40 * i, 90, 200)).save(path)
        examples.append(TrainingExample(f"p{i}", str(path), "0" * 64, 64, 64, f"image {i}"))
    config = TrainingConfig(steps=2, resolution=64, batch_size=2, train_text_encoder=True, gradient_checkpointing=True,
                            checkpoint_every=0, learning_rate=1e-2)
    t = LoraTrainer(tiny_model(), str(folder), examples, config, "cpu", {})
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        t.prepare()
    assert not hasattr(t, "embeddings")  # the encoder learns: no caption embedding is cached
    t.step(0)
    text_encoder = t.accelerator.unwrap_model(t.text_encoder)
    b = [p for n, p in text_encoder.named_parameters() if "lora_B" in n]
    assert len(b) == 8 and all(float(p.detach().abs().sum()) > 0 for p in b)  # 2 layers × q, k, v, out


def test_the_tiny_model_trains_without_float16_where_a_gpu_would_pick_it(monkeypatch):
    """An older GPU picks fp16 mixed precision; diffusers:tiny's colour-codec VAE lies under float16's
    range, so tiny trains in float32 there unless fp16 is asked for by name; other models keep fp16."""
    from imagen_nb.providers.diffusers import training

    monkeypatch.setattr(training, "pick_precision", lambda config, device: config.mixed_precision or "fp16")
    examples = [TrainingExample("p", "p.png", "0" * 64, 64, 64, "a cat", 64, 64)]
    config = TrainingConfig(resolution=64)
    assert LoraTrainer(TINY, "nowhere", examples, config, "cuda", {}).precision == "no"
    other = ModelInfo("diffusers", "owner/sd15", "text-to-image", "stable-diffusion-1", {})
    assert LoraTrainer(other, "nowhere", examples, config, "cuda", {}).precision == "fp16"
    asked = TrainingConfig(resolution=64, mixed_precision="fp16")
    assert LoraTrainer(TINY, "nowhere", examples, asked, "cuda", {}).precision == "fp16"
