"""The contract every provider passes (diffusers' ``PipelineTesterMixin`` is the model).

A provider's contract test is a class ``Test<Provider>Contract(ProviderContract)`` that says how
to open a studio on it and how to make it slow, fail or reveal its key; the tests below then run
against it through a real Studio (engine, catalog and files included):

- its spec is valid JSON Schema (draft 2020-12);
- a validation error names the parameter, before anything runs;
- one result (a complete generation with its products) per request;
- the seed, given or chosen, is in the return parameter set;
- progress only goes up and ends at its total;
- cancelling mid-run ends the generation cancelled within a bounded time, with no product;
- a provider error ends the generation failed with the provider's message;
- the key never appears in any record (rows, events, files, logs).

A new provider adds one such class (tests/providers/test_contract.py) and passes all of them,
or skips one with the reason it cannot apply.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from imagen_nb.core.errors import ValidationError
from imagen_nb.core.records import GenerationProgress
from imagen_nb.providers.spec import check_spec

#: Most seconds from ``order.cancel()`` to a cancelled generation.
CANCEL_WITHIN = 5.0


class Watch:
    """Progress events of a studio, per generation."""

    def __init__(self, studio):
        self.progress: dict[str, list[tuple[int, int]]] = {}
        self.events: list[Any] = []
        self.lock = threading.Lock()
        self.subscription = studio.subscribe(self._on)

    def _on(self, event) -> None:
        with self.lock:
            self.events.append(event)
            if isinstance(event, GenerationProgress):
                self.progress.setdefault(event.generation_id, []).append((event.step, event.total))

    def running(self, timeout: float) -> bool:
        """Wait until some generation reported progress; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(step >= 1 for steps in self.progress.values() for step, _ in steps):
                    return True
            time.sleep(0.01)
        return False


class ProviderContract:
    """Mixed into ``Test<Provider>Contract`` classes; see the module docstring."""

    #: The model the contract runs.
    model_id: str
    #: Parameters of a quick generation (besides ``prompt``).
    params: dict[str, Any] = {}
    #: A parameter and a value its spec refuses.
    bad_param: tuple[str, Any] = ("num_inference_steps", -1)
    #: The provider's key (remote providers): it must never appear in a record.
    key: str | None = None
    #: Seconds a quick order may take (a first pipeline load included).
    quick_within: float = 60

    # ---- what each provider says -----------------------------------------------------------

    @pytest.fixture
    def studio(self):
        """An open Studio on this provider."""
        raise NotImplementedError

    def slow(self, studio) -> dict[str, Any]:
        """Make the next generation run long (seconds) with progress; return its parameters."""
        raise NotImplementedError

    def failing(self, studio, tmp_path) -> tuple[dict[str, Any], str]:
        """Make the next generation fail in the provider; return its parameters and the provider's message."""
        raise NotImplementedError

    def leaking(self, studio) -> dict[str, Any]:
        """Make the provider echo its key (in an error, a log); return the parameters of that order."""
        pytest.skip("this provider has no key")

    # ---- the contract ----------------------------------------------------------------------

    def order(self, studio, **params):
        return studio.order(self.model_id, **{"prompt": "a fox", **self.params, **params})

    def test_spec_is_valid_json_schema(self, studio):
        model = studio.model(self.model_id)
        check_spec(model.spec)
        assert model.spec.get("properties"), "a spec lists its parameters"

    def test_a_validation_error_names_the_parameter_before_anything_runs(self, studio):
        name, value = self.bad_param
        with pytest.raises(ValidationError) as err:
            self.order(studio, **{name: value})
        assert err.value.param == name and name in str(err.value)
        assert studio.sql("select count(*) as n from generations")["n"][0] == 0

    def test_one_result_per_request(self, studio):
        order = self.order(studio, prompt="a [red,green,blue] fox").wait(self.quick_within)
        gens = order.generations
        assert order.status == "fulfilled", order.errors
        assert len(gens) == 3 and set(gens["status"]) == {"complete"}
        per_generation = {p.generation_id for p in order.products}
        assert per_generation == set(gens["id"]), "every generation has its own products"
        assert sorted(p.prompt for p in order.products) == ["a blue fox", "a green fox", "a red fox"]

    def test_the_seed_given_or_chosen_is_in_the_return_set(self, studio):
        given = self.order(studio, seed=1234).wait(self.quick_within)
        chosen = self.order(studio).wait(self.quick_within)
        assert given.status == chosen.status == "fulfilled", (given.errors, chosen.errors)
        assert given.generations.return_params[0]["seed"] == 1234
        returned = chosen.generations.return_params[0]["seed"]
        assert isinstance(returned, int) and returned >= 0
        assert chosen.generations.actual_params[0].get("seed") in (returned, None)

    def test_progress_only_goes_up_and_ends_at_total(self, studio):
        watch = Watch(studio)
        order = studio.order(self.model_id, **{"prompt": "a fox", **self.progress_params()}).wait(self.quick_within)
        assert order.status == "fulfilled", order.errors
        (gid,) = order.generations["id"]
        steps = watch.progress.get(gid)
        assert steps, "no progress was reported"
        fractions = [step / total for step, total in steps]
        assert fractions == sorted(fractions), steps
        assert steps[-1][0] == steps[-1][1], f"progress ended at {steps[-1]}"

    def progress_params(self) -> dict[str, Any]:
        """Parameters of a generation that reports progress (several steps)."""
        return dict(self.params)

    def test_cancel_mid_run_ends_cancelled_within_a_bounded_time(self, studio):
        watch = Watch(studio)
        order = studio.order(self.model_id, **{"prompt": "a slow fox", **self.slow(studio)})
        assert watch.running(self.quick_within), "the generation never reported progress"
        started = time.monotonic()
        order.cancel().wait(CANCEL_WITHIN + 5)
        took = time.monotonic() - started
        gens = order.generations
        assert list(gens["status"]) == ["cancelled"], gens[["status", "error_message"]]
        assert took < CANCEL_WITHIN, f"cancelling took {took:.1f} s"
        assert order.products == []

    def test_a_provider_error_ends_failed_with_the_providers_message(self, studio, tmp_path):
        params, message = self.failing(studio, tmp_path)
        order = studio.order(self.model_id, **{"prompt": "a fox", **params}).wait(self.quick_within)
        gen = order.generations.iloc[0]
        assert gen["status"] == "failed"
        assert message in gen["error_message"], gen["error_message"]
        assert order.products == []

    def test_the_key_never_appears_in_any_record(self, studio, home, caplog, capfd):
        caplog.set_level(logging.DEBUG)
        watch = Watch(studio)
        leaked = self.order(studio, **self.leaking(studio)).wait(self.quick_within)
        done = self.order(studio).wait(self.quick_within)
        assert leaked.generations.iloc[0]["status"] in ("failed", "complete")
        assert done.status == "fulfilled", done.errors
        texts = [studio.sql(f"select * from {table}").to_csv() for table in ("generations", "api_calls", "products")]
        texts += [repr(watch.events)]
        studio.close()
        out = capfd.readouterr()
        texts += [out.out, out.err, caplog.text]
        assert self.key
        parts = [p for p in {self.key, *self.key.split(":")} if len(p) >= 6]
        for part in parts:
            assert not [t for t in texts if part in t], f"the key shows in a record: {part!r}"
        for path in home.rglob("*"):
            if path.is_file() and path.name != "keys.json":
                data = path.read_bytes()
                assert not any(p.encode() in data for p in parts), path
