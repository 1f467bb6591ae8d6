"""civitai from a client of a host process: import, search, resolve, files and identify travel over the wire."""

from __future__ import annotations

import sys
from pathlib import Path

import imagen_nb as inb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))
from civitai_server import CivitaiServer, ServerFile  # noqa: E402

TOKEN = "client-civitai-token-abcdef123"


def test_a_client_imports_searches_and_identifies_through_its_host(home, make_host, monkeypatch):
    with CivitaiServer(TOKEN) as server:
        server.add(328553, 368189, name="Tarot cards", trained_words=["tarot card"],
                   files=[ServerFile(1, "tarotCards_v10.safetensors", b"lora bytes")])
        for name, value in {"CIVITAI_API_TOKEN": TOKEN, "CIVITAI_SITE_URL": server.url,
                            "CIVITAI_ORCHESTRATION_URL": server.url}.items():
            monkeypatch.setenv(name, value)
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
