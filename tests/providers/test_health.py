"""``studio.health()``: device and memory for diffusers, key and (only when asked) reachability for the
remote providers against their loopback servers, and nothing contacted at import or when a studio opens."""

from __future__ import annotations

import socket

import pytest

import imagen_nb as inb
from fal_server import FalServer
from imagen_nb.providers.health import COLUMNS
from replicate_server import ReplicateServer

FAL_KEY = "fal-health-id-1234:healthsecret5678"
TOKEN = "r8_HealthLoopbackToken0123456789abcdef"


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_diffusers_reports_the_cpu_and_its_memory(studio):
    frame = studio.health().set_index("provider")
    assert list(studio.health().columns) == list(COLUMNS)
    row = frame.loc["diffusers"]
    assert (row["kind"], bool(row["ready"]), row["device"]) == ("local", True, "cpu")
    assert row["memory_total"] > 0 and 0 < row["memory_free"] <= row["memory_total"]
    assert "torch" in row["detail"]


def test_a_device_this_machine_lacks_is_not_ready_and_says_what_to_set(home):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU; the test needs one without")
    with inb.Studio(providers={"diffusers": {"device": "cuda"}}, serve=False) as studio:
        row = studio.health().set_index("provider").loc["diffusers"]
    assert not row["ready"] and "set the diffusers setting device to 'cpu'" in row["detail"]


def test_remote_keys_present_and_endpoints_reached_only_when_asked(home, monkeypatch):
    monkeypatch.setenv("FAL_KEY", FAL_KEY)
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    replicate = ReplicateServer(TOKEN).start()
    try:
        with FalServer(FAL_KEY) as fal, inb.Studio(
                providers={"fal": fal.settings(), "replicate": {"base_url": replicate.url}}, serve=False) as studio:
            quiet = studio.health().set_index("provider")
            assert fal.seen == [] and replicate.requests == []  # nothing contacted without reach=True
            assert quiet.loc["fal", "ready"] and quiet.loc["fal", "key"] == "env FAL_KEY"
            assert quiet.loc["fal", "reachable"] is None
            assert not quiet.loc["replicate", "ready"] and quiet.loc["replicate", "key"] == "missing"
            assert "imagen-nb keys set replicate" in quiet.loc["replicate", "detail"]
            reached = studio.health(reach=True).set_index("provider")
            assert reached.loc["fal", "reachable"] is True and len(fal.seen) == 1
            assert reached.loc["replicate", "reachable"] is True and len(replicate.requests) == 1
            assert FAL_KEY not in reached.to_csv()
    finally:
        replicate.stop()


def test_an_unreachable_endpoint_is_not_ready(home, monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    with inb.Studio(providers={"replicate": {"base_url": closed_port_url(), "request_timeout": 2}},
                    serve=False) as studio:
        row = studio.health(reach=True).set_index("provider").loc["replicate"]
    assert (bool(row["ready"]), row["reachable"]) == (False, False)
    assert "did not answer" in row["detail"] and "check the network" in row["detail"]


def test_a_provider_whose_check_raises_gets_a_row_saying_so(studio, monkeypatch):
    def broken(reach=False):
        raise RuntimeError("driver exploded")

    monkeypatch.setattr(studio.providers["instant"], "health", broken)
    row = studio.health().set_index("provider").loc["instant"]
    assert not row["ready"] and "driver exploded" in row["detail"]
