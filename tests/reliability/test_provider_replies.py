"""Hostile text in a remote provider's reply: lone surrogates (and NUL) in fal's and Replicate's JSON.

JSON may spell half of a surrogate pair (``"\\ud800"``); Python decodes it into a string no UTF-8
text can hold, and DuckDB refuses it, which used to fail the recorder's whole batch: products
without rows, generations left open and run (and billed) again. Every reply is cleaned in one
place (the executor, where results and API calls come back from a provider of any backend):
the generation completes, its products are listed, and the text keeps a U+FFFD where the lone
half was. Real clients (fal-client, replicate) against the loopback servers of tests/providers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import imagen_nb as inb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))
from fal_server import FalServer  # noqa: E402
from replicate_server import ReplicateServer, ServerModel, openapi  # noqa: E402

pytestmark = pytest.mark.timeout(90)

FAL_KEY = "fal-test-id-1234:supersecretvalue5678"
REPLICATE_TOKEN = "r8_LoopbackSecretToken0123456789abcdef"
HOSTILE = "half \ud800 of a pair, \udfff the other half, a NUL \0 too"
CLEAN = "half \ufffd of a pair, \ufffd the other half, a NUL  too"


def generation(studio, order) -> dict:
    gens = order.generations.to_dict("records")
    assert len(gens) == 1
    return gens[0]


def no_bad_text(value) -> bool:
    text = repr(value)
    return "\\ud800" not in text and "\\udfff" not in text and "\\x00" not in text


@pytest.fixture
def fal(monkeypatch):
    monkeypatch.setenv("FAL_KEY", FAL_KEY)
    with FalServer(FAL_KEY) as server:
        yield server


@pytest.fixture
def replicate(monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", REPLICATE_TOKEN)
    server = ReplicateServer(REPLICATE_TOKEN).start()
    yield server
    server.stop()


VERSION = "c" * 64
SCHEMA = openapi({"prompt": {"type": "string", "x-order": 0}})

FAST_FAL = {"poll_interval": 0.02, "retry_base": 0.05, "timeout": 10, "request_timeout": 5, "retries": 3}
FAST_REPLICATE = {"poll_interval": 0.01, "request_timeout": 2, "retries": 3, "retry_base": 0.02, "timeout": 10}


def test_lone_surrogates_in_fals_result_and_logs_are_cleaned_before_they_are_recorded(fal, home):
    fal.app("fal-ai/fast-sdxl", extra_log=HOSTILE,
            result_extra={"note": HOSTILE, HOSTILE: [HOSTILE, {"deep": HOSTILE}], "model_hash": "\udc80abc"})
    with inb.Studio(providers={"fal": fal.settings(**FAST_FAL)}) as studio:
        order = studio.order("fal:fal-ai/fast-sdxl", prompt="a fox", width=64, height=64).wait(30)
        gen = generation(studio, order)
        assert gen["status"] == "complete" and order.status == "fulfilled", gen
        assert len(order.products) == 1 and Path(order.products[0].path).is_file()
        returned = gen["return_params"]
        assert returned["note"] == CLEAN and returned[CLEAN] == [CLEAN, {"deep": CLEAN}]
        assert any(CLEAN in line for line in map(str, returned["logs"]))
        assert no_bad_text(returned) and not studio.recorder.errors
    with inb.Studio() as again:  # nothing left open: nothing is run (and billed) again
        assert not again.recovery.requeued and not again.recovery.orphan_files
        assert len(fal.requests("submit")) == 1


def test_a_lone_surrogate_in_fals_error_message_fails_the_generation_with_the_message(fal, home):
    fal.fault("status", "error", message=HOSTILE)
    with inb.Studio(providers={"fal": fal.settings(**FAST_FAL)}) as studio:
        order = studio.order("fal:fal-ai/fast-sdxl", prompt="a fox", width=64, height=64).wait(30)
        gen = generation(studio, order)
        assert gen["status"] == "failed" and CLEAN in gen["error_message"], gen
        assert no_bad_text(gen["error_message"]) and no_bad_text(gen["traceback"])
        assert not studio.recorder.errors


def test_lone_surrogates_in_replicates_prediction_are_cleaned_before_they_are_recorded(replicate, home):
    replicate.add_model("acme/odd", ServerModel(versions={VERSION: SCHEMA}, latest=VERSION, log_line=HOSTILE,
                                                 metrics={HOSTILE: HOSTILE}))
    with inb.Studio(providers={"replicate": {**FAST_REPLICATE, "base_url": replicate.url}}) as studio:
        order = studio.order("replicate:acme/odd", prompt="a fox").wait(30)
        gen = generation(studio, order)
        assert gen["status"] == "complete" and order.status == "fulfilled", gen
        assert len(order.products) == 1 and Path(order.products[0].path).is_file()
        returned = gen["return_params"]
        assert CLEAN in returned["logs"] and returned["metrics"][CLEAN] == CLEAN
        assert no_bad_text(returned) and not studio.recorder.errors


def test_a_lone_surrogate_in_replicates_error_is_recorded_cleaned(replicate, home):
    replicate.add_model("acme/broken", ServerModel(versions={VERSION: SCHEMA}, latest=VERSION, ending="failed",
                                                    error=HOSTILE))
    with inb.Studio(providers={"replicate": {**FAST_REPLICATE, "base_url": replicate.url}}) as studio:
        order = studio.order("replicate:acme/broken", prompt="a fox").wait(30)
        gen = generation(studio, order)
        assert gen["status"] == "failed" and CLEAN in gen["error_message"], gen
        assert no_bad_text(gen["error_message"]) and not studio.recorder.errors
