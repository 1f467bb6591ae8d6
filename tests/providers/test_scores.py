"""Scores: CLIP score and the aesthetic head, on a tiny CLIP whose weights the test sets by hand.

The hand-set CLIP "sees" two things: how red and how blue an image is (its patch embedding reads the
R and B channels), and whether a prompt says ``red`` or ``blue`` (the tokens ``d</w>`` and ``u``).
Every attention is uniform (query and key weights zero, value and output the identity), every MLP
off, so the pooled token is the mean of the tokens' signals. A red image must then score higher
against "a red square" than against "a blue square", and a blue one the other way round: a model
whose scoring path (tokenizer, processor, embeddings, projections, cosine) broke would not.
"""

from __future__ import annotations

import pytest

from imagen_nb.core.errors import UnknownModelError, ValidationError
from imagen_nb.providers.transformers.scoring import HEAD_FILE
from imagen_nb.providers.transformers.tiny import make_tiny_clip
from media import png_bytes

RED, BLUE = (230, 20, 20), (20, 20, 230)


def designed_clip(folder):
    """Save the hand-set CLIP (see the module docstring) into ``folder``."""
    import torch

    model, processor = make_tiny_clip()
    tok = processor.tokenizer
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name and name.endswith("weight"):  # every layer norm: scale 1, bias 0
                param.fill_(1.0)
            elif name != "logit_scale":
                param.zero_()
        for tower in (model.text_model, model.vision_model):
            for layer in tower.encoder.layers:
                layer.self_attn.v_proj.weight.copy_(torch.eye(32))
                layer.self_attn.out_proj.weight.copy_(torch.eye(32))
        red_token, blue_token = tok.convert_tokens_to_ids("d</w>"), tok.convert_tokens_to_ids("u")
        emb = model.text_model.embeddings.token_embedding.weight
        emb[red_token, 0], emb[red_token, 1] = 1.0, -1.0  # zero-mean pairs: layer norms keep their direction
        emb[blue_token, 2], emb[blue_token, 3] = 1.0, -1.0
        patch = model.vision_model.embeddings.patch_embedding.weight  # (32, 3, 8, 8): R → dims 0/1, B → 2/3
        patch[0, 0], patch[1, 0] = 1.0, -1.0
        patch[2, 2], patch[3, 2] = 1.0, -1.0
        for proj in (model.text_projection, model.visual_projection):
            proj.weight.copy_(torch.eye(16, 32))
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture
def clip_folder(tmp_path):
    return designed_clip(tmp_path / "designed-clip")


@pytest.fixture
def swatches(studio, tmp_path):
    paths = []
    for name, colour in (("red", RED), ("blue", BLUE)):
        path = tmp_path / f"{name}.png"
        path.write_bytes(png_bytes(48, 48, colour))
        paths.append(path)
    report = studio.import_products(paths)
    ids = studio.gallery(limit=10)["product_id"].tolist()
    assert len(ids) == 2, report
    return studio.products(ids)


def _by_colour(products):
    from PIL import Image

    out = {}
    for p in products:
        with Image.open(p.path) as im:
            r, _, b = im.convert("RGB").getpixel((1, 1))
        out["red" if r > b else "blue"] = p
    return out


def test_clip_score_is_higher_for_the_matching_prompt(studio, swatches, clip_folder):
    images = _by_colour(swatches)
    scorer = f"clip:{clip_folder}"
    for colour, product in images.items():
        other = "blue" if colour == "red" else "red"
        match = studio.score(product, scorer, prompt=f"a {colour} square")["value"][0]
        mismatch = studio.score(product, scorer, prompt=f"a {other} square")["value"][0]
        assert match > mismatch + 10, (colour, match, mismatch)
    # the stored score is the last one asked for, with what it was scored against
    stored = studio.scores(images["red"], scorer=scorer)
    assert len(stored) == 1 and stored["details"][0] == {"prompt": "a blue square"}


def test_scores_show_in_the_gallery_sorted_and_filtered(studio, swatches, clip_folder):
    images = _by_colour(swatches)
    studio.score(list(images.values()), f"clip:{clip_folder}", prompt="a red square")
    ranked = studio.gallery(sort="clip_score")
    assert ranked["product_id"].tolist() == [images["red"].id, images["blue"].id]
    assert ranked["clip_score"].iloc[0] > ranked["clip_score"].iloc[1]
    top = studio.gallery(min_clip_score=float(ranked["clip_score"].iloc[0]))
    assert top["product_id"].tolist() == [images["red"].id]
    assert studio.gallery_count(scored=True) == 2
    with pytest.raises(ValueError, match="cannot sort"):
        studio.gallery(sort="vibes")


def test_aesthetic_head_reads_the_clip_image_embedding(studio, swatches, clip_folder):
    import torch
    from safetensors.torch import save_file

    # a head that likes red: the score is 10 × the image embedding's "redness" dimension, plus 5
    save_file({"layers.0.weight": torch.eye(1, 16) * 10, "layers.0.bias": torch.full((1,), 5.0)},
              str(clip_folder / HEAD_FILE))
    images = _by_colour(swatches)
    scores = studio.score([images["red"], images["blue"]], f"aesthetic:{clip_folder}")
    values = dict(zip(scores["product_id"], scores["value"]))
    assert values[images["red"].id] > 5 > values[images["blue"].id]
    assert set(studio.gallery()["aesthetic_score"].round(4)) == {round(v, 4) for v in values.values()}


def test_the_tiny_clip_scores_offline_and_bad_requests_are_refused(studio, swatches, tmp_path):
    scores = studio.score(swatches, "clip:tiny-clip", prompt="anything")
    assert len(scores) == 2 and scores["value"].notna().all()
    assert len(studio.score(swatches, "aesthetic:tiny-clip")) == 2
    with pytest.raises(ValidationError, match="unknown scorer"):
        studio.score(swatches, "sharpness")
    with pytest.raises(UnknownModelError, match="cannot load CLIP model"):
        studio.score(swatches, f"clip:{tmp_path / 'nowhere'}", prompt="x")
    with pytest.raises(LookupError):
        studio.score(["0" * 26], "clip:tiny-clip", prompt="x")
