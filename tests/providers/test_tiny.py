"""The offline tiny model: built once, saved with save_pretrained, loaded with from_pretrained."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from imagen_nb.core.errors import ProviderError
from imagen_nb.providers.diffusers import tiny
from imagen_nb.providers.diffusers.tiny import TINY_DIRNAME, build_tiny_model, ensure_tiny_model, write_tiny_vocab


def test_vocab_files_follow_clip_layout(tmp_path):
    write_tiny_vocab(tmp_path)
    vocab = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    merges = (tmp_path / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert merges[0] == "#version: 0.2" and len(merges) > 1
    assert "<|startoftext|>" in vocab and "<|endoftext|>" in vocab
    assert sum(1 for t in vocab if len(t) == 1) == 256
    assert sum(1 for t in vocab if t.endswith("</w>") and len(t) == 5) == 256
    for line in merges[1:]:
        a, b = line.split(" ")
        assert a in vocab and b in vocab and a + b in vocab
    assert sorted(vocab.values()) == list(range(len(vocab)))


class FakePipeline:
    """Stands in for the real pipeline where a test needs a race (which real builds rarely lose)."""

    def __init__(self, tag: str, hook=None):
        self.tag, self.hook = tag, hook

    def save_pretrained(self, folder):
        if self.hook:
            self.hook()
        (folder / "unet").mkdir()
        (folder / "unet" / "weights").write_text(self.tag)
        (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline", "tag": self.tag}))


def test_a_builder_that_loses_the_race_keeps_the_winners_model(tmp_path, monkeypatch):
    target = tmp_path / "cache" / TINY_DIRNAME

    def other_builder_finishes_first():
        target.mkdir(parents=True)
        FakePipeline("winner").save_pretrained(target)

    monkeypatch.setattr(tiny, "make_tiny_pipeline", lambda: FakePipeline("loser", other_builder_finishes_first))
    assert build_tiny_model(target) == target
    assert json.loads((target / "model_index.json").read_text())["tag"] == "winner"
    assert (target / "unet" / "weights").read_text() == "winner"
    assert [p.name for p in target.parent.iterdir()] == [TINY_DIRNAME]  # no partial folder left


def test_an_existing_model_is_not_rebuilt_and_stale_partials_are_swept(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    stale = cache / f".{TINY_DIRNAME}.old.partial"
    fresh = cache / f".{TINY_DIRNAME}.busy.partial"
    for folder in (stale, fresh):
        folder.mkdir(parents=True)
    hours_ago = time.time() - 7200
    os.utime(stale, (hours_ago, hours_ago))
    monkeypatch.setattr(tiny, "make_tiny_pipeline", lambda: FakePipeline("first"))
    path = ensure_tiny_model(cache)
    assert not stale.exists() and fresh.exists()  # a partial folder of a live builder stays
    monkeypatch.setattr(tiny, "make_tiny_pipeline", lambda: pytest.fail("rebuilt an existing model"))
    assert ensure_tiny_model(cache) == path


def test_two_processes_building_at_once_leave_one_whole_model(tmp_path):
    target = tmp_path / "cache" / TINY_DIRNAME
    meet = tmp_path / "meet"
    meet.mkdir()
    code = textwrap.dedent(
        f"""
        import json, os, time
        from pathlib import Path
        from imagen_nb.providers.diffusers import tiny

        def both_at(stage):
            (Path({str(meet)!r}) / f"{{stage}}-{{os.getpid()}}").touch()
            deadline = time.time() + 30
            while len(list(Path({str(meet)!r}).glob(f"{{stage}}-*"))) < 2 and time.time() < deadline:
                time.sleep(0.01)

        class Slow:
            def save_pretrained(self, folder):
                both_at("saving")  # both processes are building before either renames
                print("built", flush=True)
                for part in ("unet", "vae", "text_encoder"):
                    (folder / part).mkdir()
                    (folder / part / "owner").write_text(str(os.getpid()))
                    time.sleep(0.05)
                (folder / "model_index.json").write_text(json.dumps({{"owner": os.getpid()}}))

        tiny.make_tiny_pipeline = Slow
        both_at("started")
        print(tiny.build_tiny_model(Path({str(target)!r})))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.split() == ["built", str(target)]  # both built; one lost the rename and kept the other's
    owner = json.loads((target / "model_index.json").read_text())["owner"]
    assert {(target / part / "owner").read_text() for part in ("unet", "vae", "text_encoder")} == {str(owner)}
    assert [p.name for p in target.parent.iterdir()] == [TINY_DIRNAME]


def test_a_leftover_folder_in_the_way_is_named_with_the_fix(tmp_path, monkeypatch):
    target = tmp_path / TINY_DIRNAME
    target.mkdir()
    (target / "half-written").write_text("")
    monkeypatch.setattr(tiny, "make_tiny_pipeline", lambda: FakePipeline("new"))
    with pytest.raises(ProviderError, match=r"cannot put the tiny model at .*delete it and try again"):
        build_tiny_model(target)
    assert [p.name for p in tmp_path.iterdir()] == [TINY_DIRNAME]


@pytest.mark.slow
def test_tiny_model_is_saved_and_loads_with_from_pretrained(tiny_path):
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

    index = json.loads((tiny_path / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (tiny_path / part).is_dir(), part
    pipe = StableDiffusionPipeline.from_pretrained(tiny_path)
    assert isinstance(pipe.scheduler, DPMSolverMultistepScheduler)
    assert pipe.vae_scale_factor == 8 and pipe.unet.config.sample_size == 8
    assert pipe.tokenizer.model_max_length == 77
    assert len(pipe.tokenizer) <= pipe.text_encoder.config.vocab_size
    assert pipe.text_encoder.config.eos_token_id == pipe.tokenizer.eos_token_id
    assert pipe.tokenizer("the cat").input_ids[0] == pipe.tokenizer.bos_token_id
    assert pipe.safety_checker is None


@pytest.mark.slow
def test_tiny_weights_are_the_same_on_every_build(tiny_path, tmp_path):
    again = build_tiny_model(tmp_path / TINY_DIRNAME)
    for weights in ("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"):
        assert (again / weights).read_bytes() == (tiny_path / weights).read_bytes(), weights


def test_the_tiny_vae_gives_colours_back_and_the_scheduler_predicts_v(tiny_path):
    import torch
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler

    vae = AutoencoderKL.from_pretrained(tiny_path / "vae")
    generator = torch.Generator().manual_seed(0)
    colours = torch.tensor([(230, 20, 30), (0, 255, 0), (255, 255, 255), (0, 0, 0), (90, 140, 200)], dtype=torch.float32)
    images = (colours.view(-1, 3, 1, 1) / 127.5 - 1).expand(-1, 3, 64, 64)
    with torch.no_grad():
        posterior = vae.encode(images).latent_dist
        back = (vae.decode(posterior.sample(generator=generator)).sample.clamp(-1, 1) + 1) * 127.5
    assert (back - colours.view(-1, 3, 1, 1)).abs().max() < 1.0  # within a level of 255 (a random VAE: ~100 off)
    scaled = posterior.mean * vae.config.scaling_factor
    assert 1.0 < float(scaled[:, :3].abs().max()) < 2.0  # scaled latents of SD's order (unit variance over colours)
    scheduler = DPMSolverMultistepScheduler.from_pretrained(tiny_path / "scheduler")
    assert scheduler.config.prediction_type == "v_prediction"


def test_the_tiny_model_loads_in_float32_even_where_the_device_would_take_float16(tmp_path):
    """Its colour codec needs float32: on a GPU (float16 by default) tiny still loads in float32;
    every other model keeps the device's dtype."""
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers.models import resolve_model, tiny_model
    from imagen_nb.providers.diffusers.provider import DiffusersProvider

    provider = DiffusersProvider(ProviderContext(home=tmp_path, settings={"device": "cpu", "dtype": "float16"}))
    assert provider.dtype == "float16"
    assert provider.dtype_for(tiny_model()) == "float32"
    assert provider.dtype_for(resolve_model("tiny-upscaler")) == "float16"
