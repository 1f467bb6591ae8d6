"""Pipelines stay loaded while they fit a memory budget; the least recently used make room, for real."""

from __future__ import annotations

import gc
import shutil
import weakref

import pytest

from imagen_nb.core.errors import ProviderError
from imagen_nb.core.records import ModelLoaded, ModelUnloaded
from imagen_nb.providers.base import ProviderContext
from imagen_nb.providers.diffusers import DiffusersProvider
from imagen_nb.providers.diffusers.memory import (
    MemoryBudget,
    estimate_bytes,
    parse_budget,
    pipeline_bytes,
    ram_bytes,
)


@pytest.fixture(scope="module")
def three_models(tiny_path, tmp_path_factory):
    """Three distinct model folders (copies of the tiny model) and the bytes one takes loaded."""
    root = tmp_path_factory.mktemp("three")
    folders = []
    for name in ("first", "second", "third"):
        shutil.copytree(tiny_path, root / name)
        folders.append(root / name)
    return folders


@pytest.fixture(scope="module")
def tiny_bytes(tiny_path):
    from diffusers import StableDiffusionPipeline

    return pipeline_bytes([StableDiffusionPipeline.from_pretrained(tiny_path)])


def make_provider(tmp_path, **settings):
    return DiffusersProvider(ProviderContext(home=tmp_path, settings={"device": "cpu", **settings}))


def loaded_ids(provider):
    return [key[0] for key in provider._pipelines.keys()]


@pytest.mark.parametrize("value, expected", [
    (None, None), ("auto", None), (" ", None),
    (6_000_000_000, 6_000_000_000), ("6GB", 6 * 10**9), ("6 GiB", 6 * 2**30), ("512mb", 512 * 10**6),
    ("1.5G", 1_500_000_000), ("80%", 0.8), ("100 %", 1.0),
])
def test_budget_sizes_are_read_as_bytes_or_a_share(value, expected):
    assert parse_budget(value) == expected


@pytest.mark.parametrize("value", ["lots", "6 GX", 0, -5, "0%", "150%", True, "6GB of it"])
def test_a_bad_budget_is_refused_when_the_provider_is_made_with_the_forms_allowed(tmp_path, value):
    with pytest.raises(ProviderError, match=r"memory_budget=.* is not a size: give bytes .*'6GB'.*'80%'"):
        make_provider(tmp_path, memory_budget=value)


@pytest.mark.parametrize("value", [0, "two", -1])
def test_a_bad_max_loaded_is_refused(tmp_path, value):
    with pytest.raises(ProviderError, match=r"diffusers setting max_loaded must be a whole number ≥ 1; got "):
        make_provider(tmp_path, max_loaded=value)


def test_the_default_budget_on_the_cpu_is_half_the_ram_and_a_share_is_of_the_ram():
    ram = ram_bytes()
    assert ram and ram > 2**28
    assert MemoryBudget().bytes_for("cpu") == int(ram * 0.5)
    assert MemoryBudget("25%").bytes_for("cpu") == int(ram * 0.25)
    assert MemoryBudget("3GB").bytes_for("cpu") == 3 * 10**9


def test_the_size_read_from_the_files_matches_the_loaded_pipeline(tiny_path, tiny_bytes):
    estimate = estimate_bytes(tiny_path, "float32")
    assert abs(estimate - tiny_bytes) <= 0.02 * tiny_bytes
    assert estimate_bytes(tiny_path, "float16") == pytest.approx(estimate / 2, rel=0.02)
    assert estimate_bytes(tiny_path / "nowhere", "float32") is None


def test_a_third_model_over_the_budget_evicts_the_least_recently_used_for_real(
        tmp_path, three_models, tiny_bytes, make_ctx, request_for):
    first, second, third = (str(f) for f in three_models)
    provider = make_provider(tmp_path, memory_budget=int(tiny_bytes * 2.5))
    ctx = make_ctx()
    models = [provider.model(f) for f in (first, second, third)]
    first_unet = weakref.ref(provider.pipeline(models[0], ctx).pipe.unet)
    provider.pipeline(models[1], ctx)
    assert loaded_ids(provider) == [models[0].id, models[1].id]

    provider.pipeline(models[2], ctx)
    assert loaded_ids(provider) == [models[1].id, models[2].id]
    gc.collect()
    assert first_unet() is None, "the evicted pipeline is still referenced somewhere"
    (unloaded,) = [e for e in ctx.events if isinstance(e, ModelUnloaded)]
    assert unloaded.model_id == models[0].id and unloaded.nbytes == tiny_bytes
    assert "memory_budget" in unloaded.reason
    assert provider._pipelines.usage("cpu") == 2 * tiny_bytes

    # Asking for the first again loads it again (and the second, now the oldest, makes room).
    (result,) = provider.factory(models[0]).run([request_for(models[0], prompt="a cat", seed=1)], ctx)
    assert result.outputs
    loads = [e.model_id for e in ctx.events if isinstance(e, ModelLoaded)]
    assert loads == [models[0].id, models[1].id, models[2].id, models[0].id]
    assert provider._pipelines.loads[(models[0].id, "cpu", "float32")] == 2
    assert loaded_ids(provider) == [models[2].id, models[0].id]
    provider.close()
    assert loaded_ids(provider) == []


def test_an_evicted_pipeline_caught_in_a_reference_cycle_is_collected_at_once(tmp_path, three_models, ctx):
    provider = make_provider(tmp_path, max_loaded=1)
    a, b, _ = (provider.model(str(f)) for f in three_models)
    cycle: list = [provider.pipeline(a, ctx).pipe.unet]
    cycle.append(cycle)  # as a traceback or a hook that saw the pipeline would
    unet = weakref.ref(cycle[0])
    del cycle
    gc.disable()  # no automatic collection in between: only the eviction's own
    try:
        provider.pipeline(b, ctx)
        assert unet() is None
    finally:
        gc.enable()
    provider.close()


def test_using_a_model_makes_it_the_last_to_go(tmp_path, three_models, tiny_bytes, ctx):
    provider = make_provider(tmp_path, memory_budget=int(tiny_bytes * 2.5))
    a, b, c = (provider.model(str(f)) for f in three_models)
    provider.pipeline(a, ctx)
    provider.pipeline(b, ctx)
    provider.pipeline(a, ctx)  # a is used again: b is now the least recently used
    provider.pipeline(c, ctx)
    assert loaded_ids(provider) == [a.id, c.id]
    provider.close()


def test_max_loaded_caps_the_count_within_a_large_budget(tmp_path, three_models, ctx):
    provider = make_provider(tmp_path, memory_budget="1TB", max_loaded=1)
    a, b, _ = (provider.model(str(f)) for f in three_models)
    provider.pipeline(a, ctx)
    provider.pipeline(b, ctx)
    assert loaded_ids(provider) == [b.id]
    (unloaded,) = [e for e in ctx.events if isinstance(e, ModelUnloaded)]
    assert unloaded.model_id == a.id and unloaded.reason == "max_loaded=1"
    provider.close()


def test_a_model_bigger_than_the_budget_is_loaded_alone(tmp_path, three_models, tiny_bytes, ctx, caplog):
    provider = make_provider(tmp_path, memory_budget=tiny_bytes // 2)
    a, b, _ = (provider.model(str(f)) for f in three_models)
    provider.pipeline(a, ctx)
    assert loaded_ids(provider) == [a.id]
    provider.pipeline(b, ctx)
    assert loaded_ids(provider) == [b.id]
    assert "more than memory_budget" in caplog.text and "loaded alone" in caplog.text
    provider.close()
