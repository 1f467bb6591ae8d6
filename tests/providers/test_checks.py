"""Validation is an explicit list of named checks; large orders check each distinct value once."""

from __future__ import annotations

import pytest

from imagen_nb.core.errors import ValidationError
from imagen_nb.core.records import ModelInfo
from imagen_nb.providers.base import Factory, ProviderContext
from imagen_nb.providers.checks import Check, spec_check
from imagen_nb.providers.instant import SPEC


class Counting(Factory):
    """The instant spec plus three counting checks, one of each scope."""

    def __init__(self):
        super().__init__(ModelInfo("instant", "swatch", "text-to-image", "swatch", SPEC))
        self.calls = {"order": 0, "value": 0, "row": 0}

    def checks(self):
        def counted(scope):
            def run(given, params):
                self.calls[scope] += 1
                if scope == "row" and params.get("seed") == 13 and params.get("prompt") == "p3":
                    raise ValidationError("seed", "13 is unlucky with p3")
                return params
            return Check(f"count-{scope}", run, each=scope)

        return [counted("order"), spec_check(self.model.spec, self.model.id), counted("value"), counted("row")]

    def run(self, requests, ctx):
        return []


def test_a_large_order_runs_value_checks_once_per_distinct_value_and_row_checks_on_every_set():
    factory = Counting()
    sets = [{"prompt": f"p{p}", "seed": s} for p in range(10) for s in range(10)]
    out = factory.validate_many(sets)
    assert len(out) == 100 and out[57] == {**out[57], "prompt": "p5", "seed": 7, "width": 64}
    assert factory.calls == {"order": 1, "value": 1 + 10 + 10, "row": 100}


def test_errors_say_which_generation_in_one_wording():
    factory = Counting()
    sets = [{"prompt": f"p{p}", "seed": s} for p in range(10) for s in range(10, 20)]
    with pytest.raises(ValidationError, match=r"^seed: 13 is unlucky with p3 \(in generation 34 of 100\)$"):
        factory.validate_many(sets)
    sets[5] = {"prompt": "p0", "seed": -1}
    with pytest.raises(ValidationError, match=r"\(in generation 6 of 100\)$") as err:
        factory.validate_many(sets)
    assert err.value.param == "seed"
    with pytest.raises(ValidationError) as single:
        factory.validate_many([{"prompt": "p", "seed": -1}])
    assert "in generation" not in str(single.value)


def test_the_diffusers_factory_lists_its_checks_in_order(tmp_path):
    from imagen_nb.providers.diffusers import DiffusersProvider

    provider = DiffusersProvider(ProviderContext(home=tmp_path, settings={"device": "cpu"}))
    factory = provider.factory(provider.model("tiny"))
    assert [c.name for c in factory.checks()] == ["loras-form", "spec", "lora-files", "image-rules",
                                                 "steps-x-strength", "hires-rules"]
    assert [c.each for c in factory.checks()] == ["value", "value", "value", "value", "row", "row"]
    rows = [{"prompt": "x", "image": str(tmp_path / "in.png"), "strength": s, "num_inference_steps": 2}
            for s in (0.9, 0.4, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9)]
    (tmp_path / "in.png").write_bytes(b"")
    with pytest.raises(ValidationError, match=r"strength 0.4 with 2 steps runs no step .*\(in generation 2 of 8\)"):
        factory.validate_many(rows)


def test_a_factory_that_overrides_validate_is_validated_in_full():
    class Legacy(Factory):
        def validate(self, params):
            if params.get("prompt") == "bad":
                raise ValidationError("prompt", "bad prompt")
            return dict(params)

        def run(self, requests, ctx):
            return []

    factory = Legacy(ModelInfo("instant", "swatch", "text-to-image", "swatch", SPEC))
    with pytest.raises(ValidationError, match=r"bad prompt \(in generation 2 of 2\)"):
        factory.validate_many([{"prompt": "ok"}, {"prompt": "bad"}])
