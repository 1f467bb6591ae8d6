"""civitai references: AIRs (sd1 and sd15), page and download URLs, civitai:<id>; base models → families."""

from __future__ import annotations

import pytest

from imagen_nb.core.air import base_model_family, is_civitai_ref, parse_ref
from imagen_nb.core.errors import ValidationError


@pytest.mark.parametrize("text", ["urn:air:sd1:lora:civitai:328553@368189", "urn:air:sd15:lora:civitai:328553@368189",
                                  "URN:AIR:SD15:LORA:CIVITAI:328553@368189"])
def test_an_air_in_either_sd1_spelling_names_the_same_version(text):
    ref = parse_ref(text)
    assert (ref.model_id, ref.version_id, ref.ecosystem, ref.type) == (328553, 368189, "sd1", "lora")
    assert ref.family == "stable-diffusion-1"


@pytest.mark.parametrize("text, model, version", [
    ("https://civitai.com/models/328553?modelVersionId=368189", 328553, 368189),
    ("https://civitai.com/models/328553/tarot-cards-rider-waite", 328553, None),
    ("https://civitai.com/api/download/models/368189", None, 368189),
    ("civitai:368189", None, 368189),
])
def test_urls_and_short_ids(text, model, version):
    ref = parse_ref(text)
    assert (ref.model_id, ref.version_id) == (model, version)
    assert is_civitai_ref(text)


@pytest.mark.parametrize("text, says", [
    ("urn:air:sd1:lora:huggingface:1@2", "only civitai AIRs"),
    ("urn:air:sd1:lora:civitai:abc", "not a valid AIR"),
    ("https://civitai.com/images/123", "not of a model or a version"),
    ("https://example.com/models/1", "not a civitai reference"),
    ("", "empty"),
])
def test_what_is_not_a_reference_is_refused_with_the_accepted_forms(text, says):
    with pytest.raises(ValidationError) as err:
        parse_ref(text)
    assert says in str(err.value)


def test_a_loopback_or_mirror_url_is_read_when_its_host_is_allowed():
    assert parse_ref("http://127.0.0.1:9/models/5?modelVersionId=6", any_host=True).version_id == 6
    assert not is_civitai_ref("http://127.0.0.1:9/models/5")


@pytest.mark.parametrize("base, family", [("SD 1.5", "stable-diffusion-1"), ("SD 1.4", "stable-diffusion-1"),
                                          ("SDXL 1.0", "sdxl"), ("Pony", "sdxl"), ("Illustrious", "sdxl"),
                                          ("SD 2.1 768", "stable-diffusion-2"), ("Flux.1 D", "flux"),
                                          ("Wan Video", None), (None, None)])
def test_civitai_base_models_map_to_our_families(base, family):
    assert base_model_family(base) == family
