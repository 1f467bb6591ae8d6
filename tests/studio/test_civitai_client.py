"""civitai from a client of a host process: import, search, resolve, files and identify travel over the wire."""

from __future__ import annotations

import sys
from pathlib import Path

import imagen_nb as inb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))
from civitai_server import CivitaiServer, ServerFile  # noqa: E402

TOKEN = "client-civitai-token-abcdef123"


def _point_at(server, monkeypatch) -> None:
    """The token and the loopback civitai's URLs, as the host child process reads them."""
    for name, value in {"CIVITAI_API_TOKEN": TOKEN, "CIVITAI_SITE_URL": server.url,
                        "CIVITAI_ORCHESTRATION_URL": server.url}.items():
        monkeypatch.setenv(name, value)


def test_a_client_imports_searches_and_identifies_through_its_host(home, make_host, monkeypatch):
    with CivitaiServer(TOKEN) as server:
        server.add(328553, 368189, name="Tarot cards", trained_words=["tarot card"],
                   files=[ServerFile(1, "tarotCards_v10.safetensors", b"lora bytes")])
        _point_at(server, monkeypatch)
        host = make_host(home)
        try:
            with inb.Studio(home) as studio:
                assert type(studio).__name__ == "StudioClient"
                found = studio.civitai.search("tarot", types=["LORA"])
                assert list(found["trigger_words"][0]) == ["tarot card"]
                assert studio.civitai.resolve("civitai:368189")["kind"] == "lora"
                assert studio.add_model("urn:air:sd15:lora:civitai:328553@368189") == "tarotCards_v10"
                assert (home / "loras" / "tarotCards_v10.safetensors").read_bytes() == b"lora bytes"
                assert list(studio.civitai.files()["air"]) == ["urn:air:sd1:lora:civitai:328553@368189"]
                assert studio.identify()["found"].tolist() == [True]
        finally:
            host.stop()


def test_a_client_watches_and_cancels_a_download_running_in_its_host(home, make_host, monkeypatch):
    import time

    import pytest

    from imagen_nb.core.errors import DownloadCancelled
    from imagen_nb.studio.downloads import ModelImport

    data = b"big lora " * 250_000
    with CivitaiServer(TOKEN) as server:
        server.add(990, 9900, name="Big style", files=[ServerFile(9900, "bigStyle.safetensors", data)])
        server.fault("GET", r"/files/9900", "slow", server="storage", pace=0.02)
        _point_at(server, monkeypatch)
        host = make_host(home)
        try:
            with inb.Studio(home) as studio:
                assert type(studio).__name__ == "StudioClient"
                job = studio.add_model("civitai:9900", wait=False)
                assert isinstance(job, ModelImport)
                end = time.monotonic() + 60
                while job.done == 0:
                    assert time.monotonic() < end and job.state in ("starting", "downloading"), job
                    time.sleep(0.05)
                assert job.cancel() is True
                with pytest.raises(DownloadCancelled, match="resumes it"):
                    job.wait(timeout=60)
                assert job.state == "cancelled" and studio.civitai.files().empty
                assert [p.name for p in (home / "loras").iterdir()] == [".bigStyle.safetensors.part"]
                seen = []
                assert studio.add_model("civitai:9900", progress=lambda d, t: seen.append((d, t))) == "bigStyle"
                assert seen and seen[-1][1] == len(data)                   # progress from the host's events
                assert (home / "loras" / "bigStyle.safetensors").read_bytes() == data
                rows = studio.download_records()                             # the host's list, by id too
                assert [(r["ref"], r["state"], r["fraction"]) for r in rows] == [("civitai:9900", "done", 1.0)]
                assert studio.download_record(rows[0]["id"])["result"] == "bigStyle"
        finally:
            host.stop()
