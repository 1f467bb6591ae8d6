"""LoRA training (issue 16) on the tiny model, on the CPU: real diffusers, peft and accelerate.

Every run here is small (4 images of 64², a few to 30 steps) and seeded, so its numbers repeat.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import wave
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

import imagen_nb as inb
from imagen_nb.catalog import products as q_products
from imagen_nb.core.errors import ValidationError
from imagen_nb.core.training import TrainingProgress, TrainingStatusChanged
from imagen_nb.providers.diffusers.training import read_lora_metadata
from imagen_nb.providers.weightfiles import read_safetensors_header

HERE = Path(__file__).parent
FAST = {"rank": 4, "alpha": 4, "batch_size": 2, "caption_dropout": 0.0, "resolution": 64}


def pixels(product) -> np.ndarray:
    return np.asarray(Image.open(product.path).convert("RGB"), dtype=np.float64)


def squares(folder: Path, n: int = 4) -> list[Path]:
    """n distinct 64² PNGs: coloured squares on a grey ground (the same bytes in every test)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        image = Image.new("RGB", (64, 64), (128, 128, 128))
        image.paste((40 * i, 200 - 40 * i, 90), (8 + 4 * i, 8, 40 + 4 * i, 48))
        path = folder / f"square{i}.png"
        image.save(path)
        files.append(path)
    return files


def shapes(folder: Path, sizes) -> list[Path]:
    """PNGs of the given (width, height) sizes, each a different colour block on grey."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, (w, h) in enumerate(sizes):
        image = Image.new("RGB", (w, h), (128, 128, 128))
        image.paste((50 * i % 256, 220 - 30 * i, 60 + 20 * i), (w // 4, h // 4, 3 * w // 4, 3 * h // 4))
        path = folder / f"shape{i}-{w}x{h}.png"
        image.save(path)
        files.append(path)
    return files


def cancel_at(studio, name: str, step: int):
    """Subscribe a cancel of run ``name`` once it reports step ``step`` (the subscription is returned)."""
    asked = []

    def on_event(event):
        if isinstance(event, TrainingProgress) and event.name == name and event.step == step and not asked:
            asked.append(event.step)
            threading.Thread(target=studio.cancel_training, args=(event.run_id,)).start()

    return studio.subscribe(on_event)


def assert_same_weights(a_path, b_path, atol=1e-6, rtol=1e-5):
    a, b = load_file(a_path), load_file(b_path)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), atol=atol, rtol=rtol, err_msg=key)


@pytest.fixture
def generated(studio):
    """Four products of diffusers:tiny (so of its family), with prompts."""
    ids = []
    for colour, negative in (("red", "dark"), ("blue", "blurry")):
        order = studio.order("diffusers:tiny", prompt=f"a {colour} [cat,dog]", seed=7, num_inference_steps=2,
                             negative_prompt=negative).wait()
        ids += [p.id for p in order.products]
    return ids


def test_loss_falls_and_the_lora_changes_the_output(studio, generated, capsys):
    # A step's loss swings with its drawn timesteps, so the windows depend on the seed. Measured (tiny v2,
    # v-prediction): seed 12 0.662 -> 0.545, 13 0.587 -> 0.581, 14 0.653 -> 0.536, 15 0.619 -> 0.587; seed 11
    # 0.582 -> 0.607, though the same draws untrained (learning_rate 1e-8) give 0.589 -> 0.645.
    run = studio.train_lora("cats", products=generated, steps=30, learning_rate=1e-2, seed=12, checkpoint_every=0,
                            **FAST)
    assert list(run.dataset.columns) == ["product_id", "width", "height", "target_width", "target_height", "caption"]
    assert sorted(run.dataset["caption"]) == ["a blue cat", "a blue dog", "a red cat", "a red dog"]
    assert run.wait(timeout=600, progress=True)
    assert "30/30" in capsys.readouterr().err  # the tqdm bar
    assert run.status == "completed", run.record()["error_message"]
    curve = studio.sql("select step, loss, lr from training_metrics where run_id = ? order by step", [run.id])
    assert list(curve["step"]) == list(range(1, 31))
    assert curve["loss"][-10:].mean() < curve["loss"][:10].mean()
    assert "cats" in studio.loras("diffusers:tiny")
    # Paired with the same draws (seed) and no learning: the trained steps' losses are lower, whatever
    # the seed's timesteps do to the windows above. Measured last-window ratios, trained / untrained, seeds
    # 10-16: 0.923 0.940 0.899 0.925 0.913 0.909 0.967 (all below 1; seed 12 well below 0.95).
    still = studio.train_lora("cats-still", products=generated, steps=30, learning_rate=1e-8, seed=12,
                              checkpoint_every=0, **FAST)
    assert still.wait(timeout=600) and still.status == "completed"
    flat = studio.sql("select step, loss from training_metrics where run_id = ? order by step", [still.id])
    assert curve["loss"][-10:].mean() < 0.95 * flat["loss"][-10:].mean()

    base = studio.order("diffusers:tiny", prompt="a red cat", seed=3, num_inference_steps=4).wait()
    tuned = studio.order("diffusers:tiny", prompt="a red cat", seed=3, num_inference_steps=4, loras="cats:0.8").wait()
    assert np.abs(pixels(base.products[0]) - pixels(tuned.products[0])).mean() > 0.5
    used = studio.generation(tuned.products[0].generation_id)["return_params"]["loras"][0]
    assert used["sha256"] == run.record()["lora_sha256"]
    again = studio.order("diffusers:tiny", prompt="a red cat", seed=3, num_inference_steps=4).wait()
    assert np.array_equal(pixels(base.products[0]), pixels(again.products[0]))  # the base model is untouched


RED = np.array([220.0, 30.0, 30.0])


def test_a_lora_trained_on_a_solid_colour_moves_generated_pixels_toward_it(studio, tmp_path):
    folder = tmp_path / "reds"
    folder.mkdir()
    files = []
    for i, colour in enumerate([(230, 20, 30), (215, 35, 25), (225, 30, 40), (210, 25, 20)]):
        files.append(folder / f"red{i}.png")
        Image.new("RGB", (64, 64), colour).save(files[-1])
    products = [p.id for p in studio.import_products(files)]
    run = studio.train_lora("red", products=products, captions=dict.fromkeys(products, "a red square"), steps=20,
                            learning_rate=1e-2, seed=13, checkpoint_every=0, **FAST)
    assert run.wait(timeout=600) and run.status == "completed", run.record()["error_message"]

    seeds = [5, 6, 7]
    base = studio.order("diffusers:tiny", prompt="a red square", seed=seeds, num_inference_steps=4).wait()
    tuned = studio.order("diffusers:tiny", prompt="a red square", seed=seeds, num_inference_steps=4,
                         loras="red:1").wait()

    def from_red(product) -> float:  # mean distance of a pixel from red, in levels of 255 (RGB)
        return float(np.linalg.norm(pixels(product) - RED, axis=-1).mean())

    before = [from_red(p) for p in base.products]
    after = [from_red(p) for p in tuned.products]
    # Measured with this recipe (training seeds 11-14, generation seeds 1-7): 167-199 before, 92-123
    # after, each image 57-95 closer; the LoRA's mean colour has red 81+ above green and blue. With
    # learning_rate 1e-8 (training that does nothing) every image stays as it was and this fails.
    assert all(a < b - 40 for a, b in zip(after, before)), (before, after)
    for product in tuned.products:  # red, not just tamer: red stands out of the mean colour
        r, g, b = pixels(product).reshape(-1, 3).mean(axis=0)
        assert r > g + 50 and r > b + 50, (r, g, b)


def test_checkpoints_samples_and_metadata(studio, generated):
    run = studio.train_lora("inks", products=generated, base="diffusers:tiny", steps=4, checkpoint_every=2, seed=5,
                            sample_prompts=["a red cat", "a dog"], sample_steps=2, project="cards", trigger="inkstyle",
                            **FAST)
    assert all(c.startswith("inkstyle, ") for c in run.dataset["caption"])
    assert run.wait(timeout=600) and run.status == "completed"
    checkpoints = run.checkpoints()
    assert list(checkpoints["step"]) == [2]
    meta = read_lora_metadata(checkpoints["lora_path"][0])
    assert meta["step"] == 2 and meta["base_model"] == "diffusers:tiny" and len(meta["base_hash"]) == 64
    assert meta["hyperparameters"]["rank"] == 4 and meta["hyperparameters"]["trigger"] == "inkstyle"
    hashes = dict(studio.sql("select product_id, sha256 from gallery").values.tolist())
    assert {d["product_id"]: d["sha256"] for d in meta["dataset"]} == {i: hashes[i] for i in generated}
    assert read_lora_metadata(run.record()["lora_path"])["step"] == 4
    assert "inks/step-000002" in studio.loras("diffusers:tiny")  # a checkpoint is usable as a LoRA too

    samples = run.samples()
    assert [(s.params["training_step"], s.params["prompt"]) for s in samples] == [
        (2, "a red cat"), (2, "a dog"), (4, "a red cat"), (4, "a dog")]
    in_gallery = studio.sql("select product_id, project, collections from gallery where params->>'training_run' = ?",
                            [run.id])
    assert set(in_gallery["project"]) == {"cards"}
    assert all(list(c) == ["inks samples"] for c in in_gallery["collections"])


def test_cancel_stops_within_a_step_and_resume_reaches_the_same_weights(studio, generated):
    config = dict(steps=12, checkpoint_every=4, learning_rate=1e-3, seed=21, **FAST)
    straight = studio.train_lora("straight", products=generated, **config)
    assert straight.wait(timeout=600) and straight.status == "completed"

    asked = []

    def cancel_at_six(event):
        if isinstance(event, TrainingProgress) and event.name == "broken" and event.step == 6 and not asked:
            asked.append(event.step)
            threading.Thread(target=studio.cancel_training, args=(event.run_id,)).start()

    sub = studio.subscribe(cancel_at_six)
    broken = studio.train_lora("broken", products=generated, **config)
    assert broken.wait(timeout=600)
    sub.close()
    row = broken.record()
    assert row["status"] == "cancelled" and row["step"] in (6, 7)  # within one step
    stopped = row["step"]
    assert stopped in list(broken.checkpoints()["step"])  # a checkpoint where it stopped
    with pytest.raises(ValidationError, match="resume"):
        studio.train_lora("broken", products=generated, **config)

    resumed_steps = []
    sub = studio.subscribe(lambda e: isinstance(e, TrainingProgress) and e.name == "broken"
                           and resumed_steps.append(e.step))
    broken.resume().wait(timeout=600)
    sub.close()
    assert broken.status == "completed"
    assert resumed_steps == list(range(stopped + 1, 13))
    assert list(broken.metrics()["step"]) == list(range(1, 13))
    a, b = load_file(straight.record()["lora_path"]), load_file(broken.record()["lora_path"])
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), atol=1e-6, rtol=1e-5)


def test_resumes_at_once_start_the_run_once(studio, generated, monkeypatch):
    """Four resumes of one cancelled run at the same moment (a double click and a notebook): one starts
    it, the others say it is running; each step is trained once."""
    from imagen_nb.studio import training as service

    real_update = service.q_training.update_run

    def slow_update(*args, **kwargs):  # a slow catalog write widens the window between check and start
        if kwargs.get("status") == "pending":
            time.sleep(0.3)
        return real_update(*args, **kwargs)

    run = studio.train_lora("twice", products=generated, steps=6, checkpoint_every=2, learning_rate=1e-3, seed=5,
                            **FAST)
    sub = cancel_at(studio, "twice", 2)
    assert run.wait(timeout=600) and run.status == "cancelled"
    sub.close()
    monkeypatch.setattr(service.q_training, "update_run", slow_update)
    gate, outcomes = threading.Barrier(4), []

    def resume():
        gate.wait()
        try:
            run.resume()
            outcomes.append("started")
        except ValidationError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=resume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 4 and outcomes.count("started") == 1, outcomes
    assert all("running already" in o for o in outcomes if o != "started"), outcomes
    assert run.wait(timeout=600) and run.status == "completed"
    steps = list(studio.sql("select step from training_metrics where run_id = ? order by step", [run.id])["step"])
    assert steps == list(range(1, 7))


def test_resume_after_sigkill_of_the_training_process(tmp_path, home):
    files = squares(tmp_path / "images")
    config = dict(learning_rate=1e-3, seed=4, **FAST)
    other = tmp_path / "killed-home"
    child = subprocess.Popen([sys.executable, str(HERE / "training_process.py"), str(other), "killed", "10", "4",
                              json.dumps(config), *map(str, files)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ})
    try:
        for line in child.stdout:
            if line.startswith("CHECKPOINT"):
                assert line.split() == ["CHECKPOINT", "4"]
                break
        else:
            pytest.fail(f"the training process ended before a checkpoint (exit {child.wait()})")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()

    with inb.Studio(other, serve=False) as studio:
        run = studio.training_run("killed")
        assert run.status == "interrupted" and "resume()" in run.record()["error_message"]
        steps = []
        sub = studio.subscribe(lambda e: isinstance(e, TrainingProgress) and steps.append(e.step))
        run.resume().wait(timeout=600)
        sub.close()
        assert run.status == "completed" and steps[0] == 5 and steps[-1] == 10
        killed = load_file(run.record()["lora_path"])
    with inb.Studio(home, serve=False) as studio:
        products = studio.import_products(files)
        captions = {p.id: f"a square number {i}" for i, p in enumerate(products)}
        reference = studio.train_lora("reference", products=[p.id for p in products], captions=captions, steps=10,
                                      checkpoint_every=4, **config)
        assert reference.wait(timeout=600) and reference.status == "completed"
        straight = load_file(reference.record()["lora_path"])
    # Two processes sum in different orders (thread scheduling): values of ~1e-3 agree to ~1e-5 (one
    # run measured 7.5e-6 apart); a resume at the wrong step or without the optimizer state is off by
    # a whole step's update, ~1e-3 at this learning rate.
    for key in straight:
        np.testing.assert_allclose(straight[key].numpy(), killed[key].numpy(), atol=5e-5, rtol=1e-3)


def test_captions_from_a_column_a_mapping_and_empty_ones_refused(studio, generated, tmp_path):
    run = studio.train_lora("negs", products=generated, captions="negative_prompt", steps=1, checkpoint_every=0, **FAST)
    assert sorted(run.dataset["caption"]) == ["blurry", "blurry", "dark", "dark"]
    run.wait(timeout=600)
    imported = studio.import_products(squares(tmp_path / "images", 2))
    with pytest.raises(ValidationError, match=r"2 of 2 products have an empty caption from 'prompt'"):
        studio.train_lora("empty", products=imported, steps=1)
    with pytest.raises(ValidationError, match="not a gallery column.*prompt"):
        studio.train_lora("typo", products=imported, captions="promt", steps=1)
    mapped = studio.train_lora("mapped", products=imported, captions={imported[0].id: "one", imported[1].id: "two"},
                               steps=1, checkpoint_every=0, **FAST)
    assert list(mapped.dataset["caption"]) == ["one", "two"]
    mapped.wait(timeout=600)
    assert studio.training_runs()["status"].tolist() == ["completed", "completed"]


def test_check_training_runs_every_check_and_starts_nothing(studio, generated, tmp_path):
    """The Gallery's dry check: the dataset train_lora would learn from, or its error; no run, no files."""
    dataset = studio.check_training("checked", products=generated, captions="negative_prompt", trigger="inky", steps=5)
    assert list(dataset.columns) == ["product_id", "width", "height", "target_width", "target_height", "caption"]
    assert list(dataset.product_id) == generated
    assert sorted(dataset.caption) == ["inky, blurry", "inky, blurry", "inky, dark", "inky, dark"]
    assert studio.training_runs().empty and not (studio.home / "loras" / "checked.safetensors").exists()
    imported = studio.import_products(squares(tmp_path / "images", 1))
    with pytest.raises(ValidationError, match="empty caption") as caught:
        studio.check_training("checked", products=imported)
    assert caught.value.param == "captions"
    with pytest.raises(ValidationError) as caught:
        studio.check_training("checked", products=generated, rank=0)
    assert caught.value.param == "rank"
    with pytest.raises(ValidationError) as caught:
        studio.check_training("checked", products=generated, stepz=3)
    assert caught.value.param == "stepz"
    # the name is checked as train_lora checks it: a LoRA of that name exists once trained
    studio.train_lora("checked", products=generated, steps=1, checkpoint_every=0, **FAST).wait(timeout=600)
    with pytest.raises(ValidationError, match="exists already") as caught:
        studio.check_training("checked", products=generated)
    assert caught.value.param == "name"
    assert len(studio.check_training("checked", products=generated, replace=True)) == 4


def test_non_images_and_other_families_are_refused_before_training(studio, generated):
    swatches = studio.order("instant:swatch", prompt="a swatch", seed=1).wait()
    with pytest.raises(ValidationError, match=r"another model family than diffusers:tiny.*instant:swatch \(swatch\)"):
        studio.train_lora("mixed", products=generated + [p.id for p in swatches.products], steps=1)
    with pytest.raises(ValidationError, match="cannot train LoRAs"):
        studio.train_lora("swatchy", products=generated, base="instant:swatch", steps=1)

    # an audio product, stored and recorded as the executor records a text-to-audio output
    import io

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0" * 800)
    now = datetime.now(timezone.utc)
    stored = studio.store.write("01a2000000000000000000000a", buffer.getvalue(), "wav", now)
    q_products.insert_products(studio.catalog.cursor(), [{
        "id": "01a2000000000000000000000a", "source": "imported", "kind": "audio", "media_type": "audio/wav",
        "path": studio.store.catalog_path(stored.path), "size": stored.size, "sha256": stored.sha256,
        "prompt": "a beep", "created_at": now}])
    with pytest.raises(ValidationError, match=r"1 products are not images \(audio/wav\)"):
        studio.train_lora("sounds", products=generated + ["01a2000000000000000000000a"], steps=1)
    with pytest.raises(ValidationError, match="returned no products"):
        studio.train_lora("nothing", sql="select product_id from gallery where rating = 5", steps=1)
    with pytest.raises(ValidationError, match="rank"):
        studio.train_lora("bad", products=generated, rank=0)
    with pytest.raises(ValidationError, match="Did you mean 'learning_rate'"):
        studio.train_lora("bad", products=generated, learning_rat=1e-4)
    assert studio.training_runs().empty  # nothing was recorded or started


def test_training_and_an_order_share_the_device(studio, generated):
    alone = studio.order("diffusers:tiny", prompt="a [cat,dog]", seed="[1,2]", num_inference_steps=4).wait()
    statuses = []
    sub = studio.subscribe(lambda e: isinstance(e, TrainingStatusChanged) and statuses.append(e.status))
    run = studio.train_lora("shared", sql="select product_id from gallery", steps=20, checkpoint_every=5, seed=2,
                            **FAST)
    during = studio.order("diffusers:tiny", prompt="a [cat,dog]", seed="[1,2]", num_inference_steps=4)
    assert during.wait(timeout=600) and run.wait(timeout=600)
    sub.close()
    assert run.status == "completed" and statuses[-1] == "completed"
    assert during.status == "fulfilled" and len(during.products) == 4
    for a, b in zip(alone.products, during.products):
        np.testing.assert_allclose(pixels(a), pixels(b), atol=1)  # the order saw the base model, not the LoRA
    assert list(run.metrics()["step"]) == list(range(1, 21))
    assert list(run.checkpoints()["step"]) == [5, 10, 15]


def test_a_client_trains_on_the_hosts_device_and_sees_its_progress(home, host):
    from imagen_nb.core.training import TrainingProgress as Progress

    with inb.Studio(home) as studio:
        assert not studio.is_host
        order = studio.order("diffusers:tiny", prompt="a [red,blue] fox", seed=2, num_inference_steps=2).wait(timeout=300)
        events = []
        studio.subscribe(events.append)
        run = studio.train_lora("remote", products=order.products, steps=4, checkpoint_every=2, seed=1, **FAST)
        assert list(run.dataset["caption"]) == ["a red fox", "a blue fox"]
        assert run.wait(timeout=300) and run.status == "completed"
        assert [e.step for e in events if isinstance(e, Progress)] == [1, 2, 3, 4]  # over the host's events
        assert list(run.metrics()["step"]) == [1, 2, 3, 4] and list(run.checkpoints()["step"]) == [2]
        assert studio.training_run("remote").id == run.id and "remote" in studio.loras("diffusers:tiny")
        assert studio.views.training_rows()[0]["name"] == "remote"


def test_captions_from_a_captioner_model_are_written_first_and_shown(studio, tmp_path):
    """captions=<an image-to-text model>: one captioning order over the products, then its texts."""
    imported = studio.import_products(squares(tmp_path / "images", 2))
    dataset = studio.check_training("captioned", products=imported, captions="transformers:tiny-judge")
    assert list(dataset.product_id) == [p.id for p in imported]
    assert all(isinstance(c, str) and c.strip() for c in dataset.caption)  # the tiny judge writes gibberish
    orders = studio.sql("select model_id, generation_count from orders where model_id = 'transformers:tiny-judge'")
    assert list(orders.generation_count) == [2]  # the captioner's order is in the catalog, one generation per image
    texts = studio.sql("select count(*) as n from texts where model = 'transformers:tiny-judge'")
    assert int(texts.n[0]) == 2
    with pytest.raises(ValidationError, match="image-to-text model") as caught:
        studio.check_training("captioned", products=imported, captions="transformers:tiny-rewriter")
    assert caught.value.param == "captions"


def test_a_text_encoder_lora_is_saved_in_diffusers_format_and_applied_when_ordering(studio, generated):
    """train_text_encoder=True: a second LoRA on the CLIP text encoder, in the same file; ordering with
    it applies both parts (a file with its text-encoder part alone still changes the image)."""
    config = dict(steps=6, learning_rate=1e-2, seed=11, checkpoint_every=3, **FAST)
    unet_only = studio.train_lora("unet-only", products=generated, **config)
    assert unet_only.wait(timeout=600) and unet_only.status == "completed", unet_only.record()["error_message"]
    both = studio.train_lora("both", products=generated, train_text_encoder=True, text_encoder_learning_rate=5e-2,
                             **config)
    assert both.wait(timeout=600) and both.status == "completed", both.record()["error_message"]
    assert both.config["train_text_encoder"] is True and both.config["text_encoder_learning_rate"] == 5e-2
    recorded = studio.sql("select config->>'train_text_encoder' as te from training_runs where name = 'both'")
    assert recorded["te"][0] == "true"

    tensors = load_file(both.record()["lora_path"])
    text_keys = [k for k in tensors if k.startswith("text_encoder.")]
    assert text_keys and any(k.startswith("unet.") for k in tensors)
    assert all(any(f"self_attn.{m}." in k for k in text_keys) for m in ("q_proj", "k_proj", "v_proj", "out_proj"))
    assert not any(k.startswith("text_encoder.") for k in load_file(unet_only.record()["lora_path"]))
    checkpoint = both.checkpoints()["lora_path"][0]
    assert any(k.startswith("text_encoder.") for k in load_file(checkpoint))
    meta = read_lora_metadata(both.record()["lora_path"])
    assert meta["hyperparameters"]["train_text_encoder"] is True
    header = read_safetensors_header(both.record()["lora_path"])["__metadata__"]
    adapters = json.loads(header["lora_adapter_metadata"])
    assert adapters["text_encoder.r"] == 4 and adapters["unet.r"] == 4  # rank and alpha travel with each part

    # the text encoder's part alone, as a LoRA file: ordering with it must change the image
    folder = studio.home / "loras"
    from safetensors.torch import save_file

    save_file({k: v for k, v in tensors.items() if k.startswith("text_encoder.")},
              str(folder / "text-only.safetensors"), metadata=header)
    prompt = dict(prompt="a red cat", seed=3, num_inference_steps=4)
    base = studio.order("diffusers:tiny", **prompt).wait()
    text_only = studio.order("diffusers:tiny", loras="text-only:1", **prompt).wait()
    assert text_only.status == "fulfilled", studio.order_generations(text_only.id)["error_message"].tolist()
    assert np.abs(pixels(base.products[0]) - pixels(text_only.products[0])).mean() > 0.5
    with_unet = studio.order("diffusers:tiny", loras="unet-only:0.8", **prompt).wait()
    with_both = studio.order("diffusers:tiny", loras="both:0.8", **prompt).wait()
    assert np.abs(pixels(with_unet.products[0]) - pixels(with_both.products[0])).mean() > 0.5


def test_buckets_and_a_text_encoder_lora_resume_to_the_same_weights(studio, tmp_path):
    """aspect='bucket' on non-square images: each image's bucket shown before training; a run with
    buckets and a text-encoder LoRA cancelled and resumed reaches the weights of an uninterrupted one."""
    sizes = [(128, 64), (64, 128), (96, 96), (120, 60), (100, 100)]
    products = studio.import_products(shapes(tmp_path / "images", sizes))
    ids = [p.id for p in products]
    captions = {p.id: f"a block number {i}" for i, p in enumerate(products)}
    cropped = studio.check_training("cropped", products=ids, captions=captions, resolution=128)
    assert list(zip(cropped.target_width, cropped.target_height)) == [(128, 128)] * 5
    config = dict(steps=8, checkpoint_every=3, learning_rate=1e-3, seed=9, rank=4, alpha=4, batch_size=2,
                  caption_dropout=0.2, resolution=128, aspect="bucket", train_text_encoder=True)
    dataset = studio.check_training("bucketed", products=ids, captions=captions, **config)
    assert list(zip(dataset.width, dataset.height)) == sizes
    assert list(zip(dataset.target_width, dataset.target_height)) == [(192, 64), (64, 192), (128, 128), (192, 64),
                                                                       (128, 128)]
    straight = studio.train_lora("bucketed", products=ids, captions=captions, **config)
    assert list(straight.dataset.target_width) == [192, 64, 128, 192, 128]
    assert straight.wait(timeout=600) and straight.status == "completed", straight.record()["error_message"]
    assert straight.config["aspect"] == "bucket"

    sub = cancel_at(studio, "broken-buckets", 4)
    broken = studio.train_lora("broken-buckets", products=ids, captions=captions, **config)
    assert broken.wait(timeout=600)
    sub.close()
    row = broken.record()
    assert row["status"] == "cancelled" and row["step"] in (4, 5), row["error_message"]
    broken.resume().wait(timeout=600)
    assert broken.status == "completed", broken.record()["error_message"]
    assert list(broken.metrics()["step"]) == list(range(1, 9))
    np.testing.assert_allclose(broken.metrics()["loss"], straight.metrics()["loss"], rtol=1e-4)
    assert_same_weights(straight.record()["lora_path"], broken.record()["lora_path"])
    assert any(k.startswith("text_encoder.") for k in load_file(broken.record()["lora_path"]))


def test_text_encoder_and_bucket_options_are_refused_before_anything_starts(studio, generated):
    for bad, param in (({"train_text_encoder": "yes"}, "train_text_encoder"),
                       ({"text_encoder_learning_rate": 1e-4}, "text_encoder_learning_rate"),
                       ({"train_text_encoder": True, "text_encoder_learning_rate": 0}, "text_encoder_learning_rate"),
                       ({"aspect": "squash"}, "aspect"), ({"aspect": "bucket", "resolution": 96}, "resolution")):
        with pytest.raises(ValidationError) as caught:
            studio.train_lora("bad", products=generated, **bad)
        assert caught.value.param == param, bad
    assert studio.training_runs().empty
