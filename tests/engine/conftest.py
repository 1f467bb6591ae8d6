"""A provider that fails on purpose: the one fault the instant provider cannot produce."""

from __future__ import annotations

import pytest

from imagen_nb.core.records import ModelInfo
from imagen_nb.providers import registry
from imagen_nb.providers.instant import SPEC, InstantFactory, InstantProvider


class FlakyFactory(InstantFactory):
    def _one(self, req, ctx):
        if "boom" in req.params["prompt"]:
            raise RuntimeError(f"the model exploded on {req.params['prompt']!r}")
        return super()._one(req, ctx)

    def run(self, requests, ctx):
        out = []
        for req in requests:
            try:
                out.append(self._one(req, ctx))
            except Exception as exc:
                out.append(exc)
        return out


class FlakyProvider(InstantProvider):
    name = "flaky"

    def models(self):
        return [ModelInfo("flaky", "swatch", "text-to-image", "swatch", SPEC, "fails on prompts with 'boom'")]

    def factory(self, model):
        return FlakyFactory(model)


@pytest.fixture
def flaky():
    registry.register(FlakyProvider)
    yield "flaky:swatch"
    registry.unregister("flaky")


class CallingFactory(InstantFactory):
    """Reports two HTTP calls per generation, as a remote provider does."""

    def _one(self, req, ctx):
        from imagen_nb.core.records import ApiCall

        for endpoint, code in (("/queue/submit", 201), ("/queue/result", 200)):
            ctx.publish(ApiCall(provider="calling", generation_id=req.generation_id, method="POST",
                                endpoint=endpoint, status_code=code, duration=0.001,
                                request_id=f"req-{req.generation_id}"))
        return super()._one(req, ctx)


class CallingProvider(InstantProvider):
    name = "calling"

    def models(self):
        return [ModelInfo("calling", "swatch", "text-to-image", "swatch", SPEC, "reports API calls")]

    def factory(self, model):
        return CallingFactory(model)


@pytest.fixture
def calling():
    registry.register(CallingProvider)
    yield "calling:swatch"
    registry.unregister("calling")
