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
