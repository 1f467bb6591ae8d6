"""Several LoRAs at once on the tiny model: weights, switching without reloads, misfits refused before a step."""

from __future__ import annotations

import hashlib
import io
import shutil

import numpy as np
import pytest
from PIL import Image

from imagen_nb.core.errors import ProviderError, ValidationError
from imagen_nb.core.records import GenerationResult

pytestmark = pytest.mark.slow

PROMPT = "a cat"


# ---- fixtures: LoRAs made from the tiny model with peft -----------------------------------------


def make_lora(tiny_path, folder, file_name: str, seed: int, cross_attention_dim: int | None = None,
              text_encoder: bool = False):
    """A rank-4 LoRA of the tiny UNet's attention (random, seeded), saved as diffusers saves trained ones.

    With ``text_encoder`` it also holds weights for the text encoder's attention, as many real LoRAs do.
    """
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig, inject_adapter_in_model
    from peft.utils import get_peft_model_state_dict
    from transformers import CLIPTextModel

    config = dict(UNet2DConditionModel.load_config(tiny_path / "unet"))
    if cross_attention_dim is not None:  # a UNet of another family: its text features are wider
        config["cross_attention_dim"] = cross_attention_dim
    extra = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel.from_config(config)
        # init_lora_weights=False: the default zeroes B and the LoRA would change nothing.
        unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                                    init_lora_weights=False))
        if text_encoder:
            # peft directly, not transformers' add_adapter: that one refuses peft releases older
            # than transformers' own minimum, which says nothing about loading LoRAs for inference.
            encoder = CLIPTextModel.from_pretrained(tiny_path / "text_encoder")
            te_config = LoraConfig(r=4, lora_alpha=4, target_modules=["q_proj", "k_proj", "v_proj", "out_proj"],
                                   init_lora_weights=False)
            inject_adapter_in_model(te_config, encoder, adapter_name="default")
            layers = {k.replace(".default.", "."): v for k, v in encoder.state_dict().items() if ".lora_" in k}
            extra = {"text_encoder_lora_layers": convert_state_dict_to_diffusers(layers),
                     "text_encoder_lora_adapter_metadata": te_config.to_dict()}
    StableDiffusionPipeline.save_lora_weights(
        folder, unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)),
        weight_name=file_name,
        unet_lora_adapter_metadata=unet.peft_config["default"].to_dict(),  # else lora_alpha is lost
        **extra,
    )
    return folder / file_name


@pytest.fixture(scope="module")
def lora_dir(tiny_path, tmp_path_factory):
    """style-a, style-b, styles/ink (a copy of style-b), with-te (UNet and text encoder) and one for a wider UNet."""
    folder = tmp_path_factory.mktemp("loras")
    make_lora(tiny_path, folder, "style-a.safetensors", seed=1)
    make_lora(tiny_path, folder, "style-b.safetensors", seed=2)
    make_lora(tiny_path, folder, "with-te.safetensors", seed=4, text_encoder=True)
    (folder / "styles").mkdir()
    shutil.copy(folder / "style-b.safetensors", folder / "styles" / "ink.safetensors")
    make_lora(tiny_path, folder, "wider.safetensors", seed=3, cross_attention_dim=64)
    return folder


@pytest.fixture(scope="module")
def elsewhere(lora_dir, tmp_path_factory):
    """LoRA files outside the LoRA folder: a copy of style-a, a non-LoRA tensor file, a pickled file."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp("elsewhere")
    shutil.copy(lora_dir / "style-a.safetensors", folder / "a-copy.safetensors")
    tensors = load_file(lora_dir / "style-a.safetensors")
    key = next(k for k in tensors if "attn1.to_q" in k and "up" in k)
    bad = dict(tensors)
    bad[key] = bad[key][:, :2].contiguous()  # one up-projection of rank 2 among rank-4 ones
    save_file(bad, folder / "bad-shape.safetensors", metadata={"format": "pt"})
    save_file({k.replace("unet.", "transformer."): v for k, v in tensors.items()},
              folder / "transformer.safetensors", metadata={"format": "pt"})
    (folder / "old.ckpt").write_bytes(b"not a safetensors file")
    return folder


def make_provider(home, lora_dir, **settings):
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers import DiffusersProvider

    return DiffusersProvider(ProviderContext(home=home, settings={"device": "cpu", "lora_dir": str(lora_dir),
                                                                  **settings}))


@pytest.fixture(scope="module")
def provider(provider_home, lora_dir):
    """One provider for the module: its pipeline keeps the LoRAs loaded by earlier tests."""
    p = make_provider(provider_home, lora_dir)
    yield p
    p.close()


@pytest.fixture
def fresh(provider_home, lora_dir):
    """A provider whose pipeline has no LoRA loaded yet."""
    p = make_provider(provider_home, lora_dir)
    yield p
    p.close()


@pytest.fixture
def lora_loads(monkeypatch):
    """The adapter names ``load_lora_weights`` is called with, in order."""
    from diffusers import StableDiffusionPipeline

    calls: list[str] = []
    original = StableDiffusionPipeline.load_lora_weights

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("adapter_name"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StableDiffusionPipeline, "load_lora_weights", spy)
    return calls


def make_runner(provider, ctx, request_for):
    model = provider.model("tiny")
    factory = provider.factory(model)

    def run(**params) -> GenerationResult | BaseException:
        (result,) = factory.run([request_for(model, prompt=PROMPT, seed=5, **params)], ctx)
        return result

    return run


@pytest.fixture
def run(provider, ctx, request_for):
    """``run(**params)`` → the result of one generation of the tiny model on the module's provider."""
    return make_runner(provider, ctx, request_for)


def image(result) -> np.ndarray:
    assert isinstance(result, GenerationResult), result
    return np.asarray(Image.open(io.BytesIO(result.outputs[0].data)).convert("RGB"), dtype=np.int16)


def diff(a, b) -> int:
    return int(np.abs(image(a) - image(b)).max())


A = {"name": "style-a", "weight": 1.0}
B = {"name": "style-b", "weight": 1.0}


# ---- what a LoRA does -------------------------------------------------------------------


def test_switching_sets_never_reloads_and_no_loras_is_the_base_exactly(fresh, ctx, request_for, lora_loads):
    run = make_runner(fresh, ctx, request_for)
    base = run()
    with_a = run(loras=[A])
    none = run()
    with_b = run(loras=[B])
    both = run(loras=[{"name": "style-a", "weight": 0.6}, {"name": "style-b", "weight": 0.4}])
    a_again = run(loras=[A])

    assert diff(with_a, base) > 8, "a LoRA with weight 1 changes the image"
    assert diff(with_b, base) > 8 and diff(with_b, with_a) > 8, "B, loaded while LoRAs were off, acts"
    assert diff(both, with_a) > 0 and diff(both, with_b) > 0
    assert none.outputs[0].data == base.outputs[0].data, "nothing of a LoRA is left once the set is empty"
    assert a_again.outputs[0].data == with_a.outputs[0].data
    assert len(lora_loads) == 2 and len(set(lora_loads)) == 2, "each file is loaded once and kept"
    assert "lora_load_seconds" in with_a.returned and "lora_load_seconds" not in a_again.returned


def test_weights_zero_give_the_base_image(run):
    base = run()
    zero = run(loras=[{"name": "style-a", "weight": 0}, {"name": "style-b", "weight": 0}])
    assert diff(zero, base) <= 1
    assert diff(run(loras=[{"name": "style-a", "weight": 0.5}]), base) > 0


def test_a_negative_weight_pushes_the_other_way(run):
    base, plus, minus = run(), run(loras="style-a:0.8"), run(loras="style-a:-0.8")
    assert diff(plus, base) > 0 and diff(minus, base) > 0 and diff(plus, minus) > 0


def test_a_lora_with_text_encoder_weights_mixes_with_unet_only_ones(run):
    base = run()
    with_te = run(loras="with-te")
    with_a = run(loras=[A])
    mixed = run(loras=[A, {"name": "with-te", "weight": 0.5}])
    assert diff(with_te, base) > 8 and diff(mixed, with_a) > 0
    assert run().outputs[0].data == base.outputs[0].data, "the text encoder is back to its own weights too"


def test_the_text_form_and_subfolder_names_are_the_list_form(run, provider):
    listed = run(loras=[{"name": "style-a", "weight": 0.6}, {"name": "styles/ink", "weight": 0.4}])
    text = run(loras="style-a:0.6, styles/ink:0.4")
    plus = run(loras=["style-a:0.6", "styles/ink.safetensors:0.4"])
    assert text.outputs[0].data == listed.outputs[0].data == plus.outputs[0].data
    assert text.actual["loras"] == [{"name": "style-a", "weight": 0.6}, {"name": "styles/ink", "weight": 0.4}]


def test_one_file_under_two_names_is_one_adapter_and_its_weights_add_up(fresh, ctx, request_for, lora_loads,
                                                                         lora_dir, elsewhere):
    run = make_runner(fresh, ctx, request_for)
    twice = run(loras=[{"name": "style-a", "weight": 0.5}, {"path": str(elsewhere / "a-copy.safetensors"), "weight": 0.5}])
    once = run(loras=[{"name": "style-a", "weight": 1.0}])
    assert len(lora_loads) == 1
    first, second = twice.returned["loras"]
    assert first["sha256"] == second["sha256"] and first["adapter"] == second["adapter"]
    assert first["file"] != second["file"]
    assert diff(twice, once) <= 1


def test_the_return_set_records_each_file_its_hash_and_weight(run, lora_dir):
    result = run(loras=[{"name": "style-b", "weight": 0.3}, {"path": str(lora_dir / "style-a.safetensors")}])
    files = [lora_dir / "style-b.safetensors", lora_dir / "style-a.safetensors"]
    hashes = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    a1111 = [a1111_lora_hash(f) for f in files]
    assert result.returned["loras"] == [
        {"name": "style-b", "file": str(files[0]), "sha256": hashes[0], "a1111_hash": a1111[0], "weight": 0.3,
         "adapter": f"lora_{hashes[0][:16]}"},
        {"file": str(files[1]), "sha256": hashes[1], "a1111_hash": a1111[1], "weight": 1.0,
         "adapter": f"lora_{hashes[1][:16]}"},
    ]
    assert result.actual["loras"][1] == {"path": str(files[1]), "weight": 1.0}
    assert "loras" not in run().returned


def test_only_generations_with_the_same_set_share_a_pipeline_call(provider, ctx, request_for):
    model = provider.model("tiny")
    factory = provider.factory(model)

    def key(**params):
        return factory.batch_key(factory.validate({"prompt": PROMPT, **params}))

    assert key(seed=1, loras=[A]) == key(seed=2, loras="style-a:1") != key(seed=1)
    assert key(loras=[A]) != key(loras=[B]) != key(loras=[{"name": "style-b", "weight": 0.5}])
    assert key(loras=[A, B]) != key(loras=[A])
    requests = [request_for(model, prompt=p, seed=s, loras=[A, B]) for p, s in (("a cat", 1), ("a dog", 2))]
    batched = factory.run(requests, ctx)
    alone = [factory.run([r], ctx)[0] for r in requests]
    assert all(r.returned["batch_size"] == 2 for r in batched)
    assert max(diff(x, y) for x, y in zip(batched, alone)) <= 1  # batched and single runs differ by ~1e-6


def test_sd1_and_sdxl_specs_offer_loras_without_a_default():
    from imagen_nb.providers.diffusers.specs import SD1, SDXL, text_to_image_spec
    from imagen_nb.providers.spec import check_spec, spec_defaults

    for family in (SD1, SDXL):
        spec = text_to_image_spec(family)
        check_spec(spec)
        prop = spec["properties"]["loras"]
        weight = prop["items"]["properties"]["weight"]
        assert prop["type"] == "array" and prop["maxItems"] == 8
        assert (weight["minimum"], weight["maximum"], weight["default"]) == (-2, 2, 1)
        assert "loras" not in spec_defaults(spec) and "loras" not in spec.get("required", [])


# ---- mistakes -----------------------------------------------------------------------------


def test_an_unknown_name_suggests_the_closest_and_says_where_it_looked(provider, lora_dir):
    factory = provider.factory(provider.model("tiny"))
    with pytest.raises(ValidationError) as caught:
        factory.validate({"prompt": PROMPT, "loras": [A, {"name": "stlye-b", "weight": 0.5}]})
    message = str(caught.value)
    assert caught.value.param == "loras"
    assert "loras[1]" in message and "'stlye-b'" in message and "Did you mean 'style-b'?" in message
    assert str(lora_dir) in message and "style-a, style-b, styles/ink, wider, with-te" in message


@pytest.mark.parametrize("loras, expected", [
    ([{"path": "/nowhere/x.safetensors"}], "no file at /nowhere/x.safetensors"),
    ([{"name": "style-a", "weight": 3}], "loras[0].weight must be ≤ 2; got 3"),
    ("style-a:abc", "no LoRA named 'style-a:abc'"),
    ([{"name": "style-a", "strength": 1}], "has no key 'strength'"),
    ([{"name": "style-a", "path": "/x.safetensors"}], "needs exactly one of 'name'"),
    ([A] * 9, "loras takes at most 8 items; got 9"),
    (42, "loras must be a list"),
])
def test_bad_lora_values_are_refused_with_what_to_give(provider, loras, expected):
    factory = provider.factory(provider.model("tiny"))
    with pytest.raises(ValidationError) as caught:
        factory.validate({"prompt": PROMPT, "loras": loras})
    assert expected in str(caught.value)


def test_a_pickled_file_is_refused_and_a_missing_folder_is_named(provider_home, elsewhere, tmp_path):
    elsewhere_provider = make_provider(provider_home, tmp_path / "no-such-folder")
    factory = elsewhere_provider.factory(elsewhere_provider.model("tiny"))
    with pytest.raises(ValidationError, match=r"is not a \.safetensors file.*convert it"):
        factory.validate({"prompt": PROMPT, "loras": [{"path": str(elsewhere / "old.ckpt")}]})
    with pytest.raises(ValidationError, match="LoRA folder .*no-such-folder does not exist.*lora_dir"):
        factory.validate({"prompt": PROMPT, "loras": "style-a"})


def test_a_lora_of_another_family_fails_before_any_step_and_leaves_nothing(provider, run, ctx, lora_dir):
    with_a = run(loras=[A])
    failed = run(loras=[A, {"name": "wider", "weight": 1.0}])
    assert isinstance(failed, ProviderError)
    message = str(failed)
    assert "'wider'" in message and str(lora_dir / "wider.safetensors") in message
    assert "diffusers:tiny (stable-diffusion-1)" in message and "64-wide" in message and "32-wide" in message
    from imagen_nb.providers.diffusers.loras import loaded_adapters

    pipe = provider.pipeline(provider.model("tiny")).pipe
    assert all("wider" not in a for a in loaded_adapters(pipe))
    assert run(loras=[A]).outputs[0].data == with_a.outputs[0].data


def test_no_progress_is_reported_for_a_generation_whose_lora_does_not_fit(provider, ctx, request_for):
    model = provider.model("tiny")
    request = request_for(model, prompt=PROMPT, seed=1, loras="wider")
    (result,) = provider.factory(model).run([request], ctx)
    assert isinstance(result, ProviderError)
    assert [c for c in ctx.progress_calls if c[0] == request.generation_id] == []


@pytest.mark.parametrize("file_name, expected", [
    ("bad-shape.safetensors", ["could not be loaded into diffusers:tiny (stable-diffusion-1)", "size mismatch",
                               "Is it a LoRA made for stable-diffusion-1?"]),
    ("transformer.safetensors", ["has no weights for the UNet or text encoder of diffusers:tiny",
                                 "'transformer.", "made for another model family"]),
])
def test_other_misfits_are_explained_too(run, elsewhere, file_name, expected):
    before = run(loras=[A])
    failed = run(loras=[{"path": str(elsewhere / file_name)}])
    assert isinstance(failed, ProviderError)
    assert failed.args[0].startswith(f"LoRA '{file_name}'")
    assert all(part in str(failed) for part in expected), str(failed)
    assert run(loras=[A]).outputs[0].data == before.outputs[0].data


def test_least_recently_used_loras_are_dropped_beyond_max_loras(provider_home, lora_dir, ctx, request_for, lora_loads):
    from imagen_nb.providers.diffusers.loras import loaded_adapters

    p = make_provider(provider_home, lora_dir, max_loras=1)
    try:
        run = make_runner(p, ctx, request_for)
        first = run(loras=[A])
        run(loras=[B])
        pipe = p.pipeline(p.model("tiny")).pipe
        assert len(loaded_adapters(pipe)) == 1
        assert run(loras=[A]).outputs[0].data == first.outputs[0].data
        both = run(loras=[A, B])  # a set larger than max_loras still runs whole
        assert isinstance(both, GenerationResult) and len(loaded_adapters(pipe)) == 2
        assert len(lora_loads) == 4
    finally:
        p.close()


# ---- through the studio ---------------------------------------------------------------------


def test_a_list_of_loras_is_one_generation_and_a_list_of_lists_varies_it(lora_dir):
    import imagen_nb as inb

    with inb.Studio(providers={"diffusers": {"device": "cpu", "lora_dir": str(lora_dir)}}) as studio:
        one = studio.expand("diffusers:tiny", prompt=PROMPT, loras=[{"name": "style-a", "weight": 0.6}, B])
        assert [g["loras"] for g in one] == [[{"name": "style-a", "weight": 0.6}, B]]
        two = studio.expand("diffusers:tiny", prompt=PROMPT, loras=[[A], [A, B]])
        assert [g["loras"] for g in two] == [[A], [A, B]]
        picked = studio.expand("diffusers:tiny", prompt=PROMPT, loras="[style-a, style-a:0.6 + style-b:0.4]")
        assert [g["loras"] for g in picked] == ["style-a", "style-a:0.6 + style-b:0.4"]
        with pytest.raises(ValidationError, match="Did you mean 'style-a'"):
            studio.order("diffusers:tiny", prompt=PROMPT, loras=[{"name": "stlye-a"}])


def test_an_order_with_two_loras_records_them_with_its_product(lora_dir, provider_home):
    import imagen_nb as inb

    settings = {"device": "cpu", "lora_dir": str(lora_dir)}
    with inb.Studio(providers={"diffusers": settings}) as studio:
        shutil.copytree(provider_home / "providers" / "diffusers", studio.home / "providers" / "diffusers",
                        dirs_exist_ok=True)  # the tiny model, built once per session
        order = studio.order("diffusers:tiny", prompt=PROMPT, seed=1,
                             loras=[{"name": "style-a", "weight": 0.6}, {"path": str(lora_dir / "style-b.safetensors"),
                                                                         "weight": 0.4}]).wait(120)
        assert order.status == "fulfilled", order.errors
        (generation,) = order.generations.to_dict("records")
        returned = generation["return_params"]
        assert [(r.get("name"), r["weight"]) for r in returned["loras"]] == [("style-a", 0.6), (None, 0.4)]
        assert all(len(r["sha256"]) == 64 for r in returned["loras"])
        assert order.products[0].params["loras"][0] == {"name": "style-a", "weight": 0.6}
        png = order.products[0].path.read_bytes()

    # Other tools read the model, its hash and the LoRAs' A1111 hashes from the PNG (sd-parsers here).
    from sd_parsers import ParserManager

    with Image.open(io.BytesIO(png)) as im:
        (sampler,) = ParserManager().parse(im).samplers
        hashes = ParserManager().parse(im).metadata["Hashes"]
    assert (sampler.model.name, sampler.model.hash) == ("tiny", returned["model_hash"][:10])
    assert hashes == {"model": returned["model_hash"][:10],
                      "lora:style-a": a1111_lora_hash(lora_dir / "style-a.safetensors"),
                      "lora:style-b": a1111_lora_hash(lora_dir / "style-b.safetensors")}
    assert [r["a1111_hash"] for r in returned["loras"]] == [hashes["lora:style-a"], hashes["lora:style-b"]]


def a1111_lora_hash(path) -> str:
    """A1111's hash of a .safetensors LoRA (hashes.addnet_hash_safetensors): sha256 after the header, 12 digits."""
    data = path.read_bytes()
    return hashlib.sha256(data[8 + int.from_bytes(data[:8], "little"):]).hexdigest()[:12]


# ---- an environment whose transformers/peft pair cannot load LoRAs ---------------------------------
# A real mismatched pair cannot be installed beside the locked one, so these move the libraries'
# own minimums (the fault), and the rest is the real loading path.


def _versions():
    from importlib import metadata

    return metadata.version("transformers"), metadata.version("peft")


def test_a_peft_older_than_diffusers_needs_fails_before_any_step_naming_both_versions(provider, ctx, request_for,
                                                                                      monkeypatch):
    import diffusers.utils.constants

    monkeypatch.setattr(diffusers.utils.constants, "MIN_PEFT_VERSION", "99.0")
    model = provider.model("tiny")
    request = request_for(model, prompt=PROMPT, seed=1, loras="style-a")
    (result,) = provider.factory(model).run([request], ctx)
    assert isinstance(result, ProviderError)
    message = str(result)
    transformers_version, peft_version = _versions()
    assert "\n" not in message
    assert message.startswith("LoRAs cannot load in this environment: diffusers ")
    assert "needs peft >= 99.0" in message
    assert f"transformers {transformers_version}, peft {peft_version}" in message
    assert "requirements.lock" in message
    assert [c for c in ctx.progress_calls if c[0] == request.generation_id] == []


def test_a_librarys_own_peft_version_refusal_becomes_the_same_one_line(fresh, ctx, request_for, monkeypatch):
    """What transformers >= 5.24 raises with peft 0.21 (its check, its words) reaches the user as one line."""
    from transformers.utils.peft_utils import check_peft_version

    provider = fresh
    model = provider.model("tiny")
    pipe = provider.pipeline(model).pipe

    def refuse(*args, **kwargs):
        check_peft_version(min_version="99.0")

    monkeypatch.setattr(pipe, "load_lora_weights", refuse)
    request = request_for(model, prompt=PROMPT, seed=2, loras="styles/ink")
    (result,) = provider.factory(model).run([request], ctx)
    assert isinstance(result, ProviderError)
    transformers_version, peft_version = _versions()
    assert str(result).startswith("LoRAs cannot load in this environment: The version of PEFT you are using"
                                  " is not compatible, please use a version >= 99.0")
    assert f"transformers {transformers_version}, peft {peft_version}" in str(result)
    assert [c for c in ctx.progress_calls if c[0] == request.generation_id] == []
