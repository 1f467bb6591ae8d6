"""The replicate provider: the real ``replicate`` client against a loopback Replicate, through a real Studio."""

from __future__ import annotations

import base64
import re
import sys
import time
from pathlib import Path

import pytest

import imagen_nb as inb
from imagen_nb.core.errors import MissingKey, UnknownModelError, ValidationError
from imagen_nb.core.records import GenerationProgress
from imagen_nb.providers.keys import KeyStore
from imagen_nb.providers.replicate.spec import CURATED, NAME_EXT, spec_from_openapi

sys.path.insert(0, str(Path(__file__).parent))
from replicate_server import ReplicateServer, ServerModel, openapi, png_bytes  # noqa: E402

TOKEN = "r8_LoopbackSecretToken0123456789abcdef"
V_SDXL = "a" * 64
V_LIGHTNING = "b" * 64
V_SVD = "c" * 64
V_MUSIC = "d" * 64
V_PINNED_1 = "1" * 64
V_PINNED_2 = "2" * 64
V_MIXED = "e" * 64
FLUX = "replicate:black-forest-labs/flux-schnell"

#: Small waits everywhere so that every fault ends within a second or two.
FAST = {"poll_interval": 0.01, "request_timeout": 0.5, "retries": 3, "retry_base": 0.02, "timeout": 10}

PINNED_SCHEMA = openapi(
    {
        "seed": {"type": "integer", "title": "Seed", "x-order": 5},
        "prompt": {"type": "string", "title": "Prompt", "x-order": 0, "default": "a cat"},
        "width": {"type": "integer", "title": "Width", "minimum": 256, "maximum": 1024, "default": 512,
                  "x-order": 2},
        "scheduler": {"allOf": [{"$ref": "#/components/schemas/scheduler"}], "default": "K_EULER",
                      "description": "Sampler.", "x-order": 3},
        "num_outputs": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1, "x-order": 1},
        "image": {"type": "string", "format": "uri", "description": "Start image.", "x-order": 4},
        "lora": {"type": "string", "default": None, "x-order": 6},
    },
    enums={"scheduler": {"title": "scheduler", "description": "An enumeration.", "type": "string",
                         "enum": ["DDIM", "K_EULER", "PNDM"]}},
)


def _schema(*names: str) -> dict:
    return openapi({n: {"type": "string", "x-order": i} for i, n in enumerate(names)})


@pytest.fixture
def server():
    srv = ReplicateServer(TOKEN).start()
    for ref in ("black-forest-labs/flux-schnell", "black-forest-labs/flux-dev", "black-forest-labs/flux-kontext-pro"):
        srv.add_model(ref, ServerModel(official=True))
    srv.add_model("minimax/video-01", ServerModel(official=True, output="video"))
    srv.add_model("stability-ai/sdxl", ServerModel(versions={V_SDXL: _schema("prompt", "image")}, latest=V_SDXL))
    srv.add_model("bytedance/sdxl-lightning-4step",
                  ServerModel(versions={V_LIGHTNING: _schema("prompt")}, latest=V_LIGHTNING))
    srv.add_model("stability-ai/stable-video-diffusion",
                  ServerModel(output="video", versions={V_SVD: _schema("input_image")}, latest=V_SVD))
    srv.add_model("meta/musicgen", ServerModel(output="audio", versions={V_MUSIC: _schema("prompt")}, latest=V_MUSIC))
    srv.add_model("acme/pinned", ServerModel(versions={V_PINNED_1: PINNED_SCHEMA, V_PINNED_2: _schema("prompt")},
                                             latest=V_PINNED_2, description="A pinned test model.\nSecond line."))
    srv.add_model("acme/mixed", ServerModel(output="mixed", versions={V_MIXED: _schema("prompt")}, latest=V_MIXED))
    yield srv
    srv.stop()


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    return TOKEN


@pytest.fixture
def open_studio(server, home):
    """``open_studio(**settings)`` → a Studio whose replicate provider talks to the loopback server."""
    opened = []

    def make(**settings):
        studio = inb.Studio(providers={"replicate": {**FAST, "base_url": server.url, **settings}})
        opened.append(studio)
        return studio

    yield make
    for studio in opened:
        studio.close()


def _done(order, timeout: float = 20):
    order.wait(timeout)
    return order.generations.to_dict("records")


def _calls(studio, gid: str | None = None) -> list[dict]:
    where = "" if gid is None else f" where generation_id = '{gid}'"
    frame = studio.sql(f"select * from api_calls{where} order by created_at")
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


# ---- (1) text-to-image -------------------------------------------------------------------------


def test_flux_schnell_order_makes_png_products_with_seed_and_prediction_id(token, server, open_studio):
    studio = open_studio()
    progress = []
    studio.subscribe(lambda e: progress.append((e.step, e.total)) if isinstance(e, GenerationProgress) else None)
    order = studio.order(FLUX, prompt="a [red,blue] fox")
    gens = _done(order)
    assert [g["status"] for g in gens] == ["complete", "complete"]
    products = order.products
    assert [p.media_type for p in products] == ["image/png", "image/png"]
    for p in products:
        assert p.path.read_bytes().startswith(b"\x89PNG") and p.path.suffix == ".png"
        assert p.seed is not None  # the seed we picked and sent is on the product
    created = server.hits("POST", r"/v1/models/black-forest-labs/flux-schnell/predictions")
    assert sorted(r.json["input"]["prompt"] for r in created) == ["a blue fox", "a red fox"]
    assert all(r.authorization == f"Bearer {TOKEN}" for r in created)
    assert all(r.authorization is None for r in server.hits("GET", r"/files/.*")), "the token went to a file host"
    for g in gens:
        returned, actual = g["return_params"], g["actual_params"]
        assert returned["seed"] == actual["seed"]  # parsed back from "Using seed: N"
        assert re.fullmatch(r"p\d+loopback", returned["prediction_id"])
        assert returned["status"] == "succeeded" and returned["metrics"]["predict_time"] == 2.5
        assert actual["num_outputs"] == 1 and "num_images_per_prompt" not in actual  # Replicate's names
    assert (1, 2) in progress and (1, 1) in progress  # the tqdm line of the logs, then done
    calls = _calls(studio, gens[0]["id"])
    assert [(c["method"], c["status_code"]) for c in calls][0] == ("POST", 201)
    assert calls[0]["endpoint"] == f"{server.url}/v1/models/black-forest-labs/flux-schnell/predictions"
    assert calls[0]["request_id"] == gens[0]["return_params"]["prediction_id"]
    assert ("GET", 200) in [(c["method"], c["status_code"]) for c in calls if "/files/" in c["endpoint"]]


def test_diffusers_names_map_to_each_models_inputs(token, server, open_studio):
    studio = open_studio()
    order = studio.order("replicate:black-forest-labs/flux-dev", prompt="owl", guidance_scale=2.5,
                         num_images_per_prompt=2, seed=7)
    gens = _done(order)
    assert gens[0]["status"] == "complete", gens[0]["error_message"]
    sent = server.hits("POST", r"/v1/models/black-forest-labs/flux-dev/predictions")[0].json["input"]
    assert sent["guidance"] == 2.5 and sent["num_outputs"] == 2 and sent["seed"] == 7
    assert "guidance_scale" not in sent and "num_images_per_prompt" not in sent
    assert len(order.products) == 2
    assert gens[0]["return_params"]["seed"] == 7


def test_models_are_listed_with_types_and_families(token, open_studio):
    studio = open_studio()
    listed = studio.models().set_index("id")
    for info in CURATED:
        assert listed.loc[info.id, "type"] == info.type and listed.loc[info.id, "family"] == info.family
    assert set(listed.loc[[m.id for m in CURATED], "type"]) == {
        "text-to-image", "image-to-image", "text-to-video", "image-to-video", "text-to-audio", "upscale",
        "image-to-text", "text-to-text"}


# ---- (2) keys --------------------------------------------------------------------------------


def test_missing_key_fails_at_order_and_nothing_reaches_the_server(monkeypatch, server, open_studio):
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    studio = open_studio()
    for model in (FLUX, "replicate:acme/pinned"):
        with pytest.raises(MissingKey) as info:
            studio.order(model, prompt="a fox")
        assert "imagen-nb keys set replicate" in str(info.value) and "REPLICATE_API_TOKEN" in str(info.value)
    assert server.requests == []


def test_key_from_the_keystore_is_sent_as_bearer_token(monkeypatch, server, home, open_studio):
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)
    KeyStore(home).set("replicate", TOKEN)
    studio = open_studio()
    assert _done(studio.order(FLUX, prompt="fox"))[0]["status"] == "complete"
    assert {r.authorization for r in server.hits(path=r"/v1/.*")} == {f"Bearer {TOKEN}"}


# ---- (3) faults ------------------------------------------------------------------------------

CREATE = r"/v1/models/black-forest-labs/flux-schnell/predictions"
POLL = r"/v1/predictions/[^/]+"
FILES = r"/files/.*"

FAULTS = {
    # name: (fault or model setup, settings, expected status, expected message)
    "429 then ok": (lambda s: s.fault("POST", CREATE, "status", status=429, retry_after="1"), {}, "complete", None),
    "500 then ok": (lambda s: s.fault("POST", CREATE, "status", status=500), {}, "complete", None),
    "503 poll then ok": (lambda s: s.fault("GET", POLL, "status", status=503), {}, "complete", None),
    "dropped then ok": (lambda s: s.fault("POST", CREATE, "drop"), {}, "complete", None),
    "slow poll then ok": (lambda s: s.fault("GET", POLL, "slow", delay=1.2), {}, "complete", None),
    "503 for good": (lambda s: s.fault("GET", POLL, "status", status=503, times=99), {}, "failed",
                     r"Replicate failed on GET /v1/predictions/\S+: HTTP 503"),
    "client retries off": (lambda s: s.fault("GET", POLL, "status", status=503), {"retries": 1}, "failed",
                           r"HTTP 503"),
    "malformed JSON": (lambda s: s.fault("POST", CREATE, "malformed"), {}, "failed",
                       r"Replicate returned malformed JSON for POST /v1/models/.*predictions \(HTTP 200\)"),
    "422 input": (lambda s: s.fault("POST", CREATE, "status", status=422, detail="prompt is too long"), {},
                  "failed", r"rejected the input .*prompt is too long"),
    "401 token": (lambda s: s.fault("POST", CREATE, "status", status=401, detail="bad token {authorization}"), {},
                  "failed", r"refused the API token .*imagen-nb keys set replicate"),
    "prediction failed": (lambda s: setattr(s.models["black-forest-labs/flux-schnell"], "ending", "failed"), {},
                          "failed", r"prediction p\d+loopback failed: CUDA out of memory"),
    "cancelled on replicate": (lambda s: setattr(s.models["black-forest-labs/flux-schnell"], "ending", "canceled"),
                               {}, "cancelled", None),
    "hangs past timeout": (lambda s: setattr(s.models["black-forest-labs/flux-schnell"], "ending", "hang"),
                           {"timeout": 0.6}, "failed", r"did not finish within 0.6 s .*cancelled on Replicate"),
    "output 404": (lambda s: s.fault("GET", FILES, "status", status=404), {}, "failed",
                   r"downloading the output http://127.0.0.1:\d+/files/\S+ failed: HTTP 404"),
    "oversized output": (lambda s: (setattr(s, "oversize", 50_000), s.fault("GET", FILES, "oversize")),
                         {"max_output_bytes": 10_000}, "failed", r"over the limit of 10,000"),
}


@pytest.mark.parametrize("case", list(FAULTS))
def test_every_fault_ends_in_a_clear_recorded_outcome(case, token, server, open_studio):
    setup, settings, status, message = FAULTS[case]
    setup(server)
    studio = open_studio(**settings)
    started = time.monotonic()
    gen = _done(studio.order(FLUX, prompt="a fox"), timeout=15)[0]
    assert time.monotonic() - started < 8, "a fault took too long to end"
    assert gen["status"] == status, gen["error_message"]
    if message:
        assert re.search(message, gen["error_message"]), gen["error_message"]
        assert gen["error_type"] in ("ProviderError", "TransientError")
    text = f"{gen['error_message']}{gen['traceback']}{gen['return_params']}"
    assert TOKEN not in text and TOKEN[3:] not in text
    calls = _calls(studio, gen["id"])
    assert calls and all(TOKEN not in f"{c['endpoint']}{c['error']}" for c in calls)
    if status == "complete" and case != "slow poll then ok":
        failed = [c for c in calls if c["error"]]
        assert failed and failed[0]["attempt"] == 1
        assert any(c["attempt"] == 2 and not c["error"] for c in calls), calls  # our retry, recorded
    if case == "429 then ok":
        first, second = server.hits("POST", CREATE)[:2]
        assert second.at - first.at >= 0.95  # Retry-After: 1 was honoured
        assert [c["status_code"] for c in calls[:2]] == [429, 201]
    if case == "slow poll then ok":
        assert any("got no answer within 0.5 s" in (c["error"] or "") for c in calls), calls
    if case == "dropped then ok":
        assert "RemoteProtocolError" in calls[0]["error"]
    if case == "client retries off":
        # One GET per poll attempt: the client's own RetryTransport did not retry the 503 silently.
        assert len(server.hits("GET", POLL)) == 1
    if case == "503 for good":
        assert len(server.hits("GET", POLL)) == FAST["retries"]
    if case in ("422 input", "malformed JSON", "401 token"):
        assert len(server.hits("POST", CREATE)) == 1  # not worth retrying
    if case == "401 token":
        assert "***" in gen["error_message"]
    if case == "hangs past timeout":
        assert server.hits("POST", r"/v1/predictions/[^/]+/cancel")


# ---- (4) cancellation ------------------------------------------------------------------------


def test_cancelling_a_running_generation_cancels_the_prediction(token, server, open_studio):
    server.models["black-forest-labs/flux-schnell"].ending = "hang"
    studio = open_studio()
    order = studio.order(FLUX, prompt="a slow fox")
    deadline = time.monotonic() + 5
    while not server.hits("GET", POLL) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.hits("GET", POLL), "the prediction was never polled"
    order.cancel()
    gen = _done(order, timeout=5)[0]
    assert gen["status"] == "cancelled"
    cancels = server.hits("POST", r"/v1/predictions/[^/]+/cancel")
    assert len(cancels) == 1 and cancels[0].authorization == f"Bearer {TOKEN}"
    pid = cancels[0].path.split("/")[3]
    assert server.predictions[pid]["json"]["status"] == "canceled"
    assert ("POST", 200) in [(c["method"], c["status_code"]) for c in _calls(studio, gen["id"])
                             if c["endpoint"].endswith("/cancel")]


# ---- (5) file inputs -------------------------------------------------------------------------


def test_a_local_image_is_sent_as_a_data_uri(token, server, open_studio, tmp_path):
    source = tmp_path / "start.png"
    source.write_bytes(png_bytes(color=(10, 200, 10)))
    studio = open_studio()
    gen = _done(studio.order("replicate:stability-ai/sdxl", prompt="a garden", image=source, prompt_strength=0.4))[0]
    assert gen["status"] == "complete", gen["error_message"]
    body = server.hits("POST", r"/v1/predictions")[0].json
    assert body["version"] == V_SDXL  # a community model runs its latest version, looked up once
    assert len(server.hits("GET", r"/v1/models/stability-ai/sdxl")) == 1
    kind, _, payload = body["input"]["image"].partition(",")
    assert kind == "data:image/png;base64" and base64.b64decode(payload) == source.read_bytes()
    assert body["input"]["prompt_strength"] == 0.4
    assert gen["actual_params"]["image"] == str(source.resolve())  # the path, not the data URI
    assert gen["return_params"]["version"] == V_SDXL
    assert gen["return_params"]["inputs"]["image"].startswith("data URI")


def test_a_large_local_image_is_uploaded_with_the_files_api(token, server, open_studio, tmp_path):
    source = tmp_path / "start.png"
    source.write_bytes(png_bytes(color=(10, 10, 200)))
    studio = open_studio(data_uri_max_bytes=0)
    gen = _done(studio.order("replicate:black-forest-labs/flux-kontext-pro", prompt="make it night",
                             input_image=str(source)))[0]
    assert gen["status"] == "complete", gen["error_message"]
    upload = server.hits("POST", r"/v1/files")
    assert len(upload) == 1 and source.read_bytes() in upload[0].body
    sent = server.hits("POST", r"/v1/models/black-forest-labs/flux-kontext-pro/predictions")[0].json["input"]
    assert re.fullmatch(re.escape(server.url) + r"/v1/files/f\d+/download", sent["input_image"])
    assert ("POST", 201) in [(c["method"], c["status_code"]) for c in _calls(studio, gen["id"])
                             if c["endpoint"].endswith("/v1/files")]


def test_a_missing_file_is_refused_at_order_time(token, server, open_studio, tmp_path):
    studio = open_studio()
    with pytest.raises(ValidationError) as info:
        studio.order("replicate:stability-ai/sdxl", prompt="x", image=str(tmp_path / "nope.png"))
    assert info.value.param == "image" and "no file" in str(info.value) and "nope.png" in str(info.value)
    assert server.requests == []


# ---- (6) video and audio ---------------------------------------------------------------------


def test_video_and_audio_outputs_become_products(token, server, open_studio, tmp_path):
    still = tmp_path / "still.png"
    still.write_bytes(png_bytes())
    studio = open_studio()
    orders = {
        "video": studio.order("replicate:minimax/video-01", prompt="waves"),
        "svd": studio.order("replicate:stability-ai/stable-video-diffusion", input_image=still),
        "audio": studio.order("replicate:meta/musicgen", prompt="a calm cello", duration=3),
        "mixed": studio.order("replicate:acme/mixed", prompt="both"),
    }
    kinds = {}
    for name, order in orders.items():
        gen = _done(order)[0]
        assert gen["status"] == "complete", (name, gen["error_message"])
        kinds[name] = [(p.media_type, p.path.suffix) for p in order.products]
    assert kinds == {"video": [("video/mp4", ".mp4")], "svd": [("video/mp4", ".mp4")],
                     "audio": [("audio/wav", ".wav")], "mixed": [("image/png", ".png"), ("audio/wav", ".wav")]}
    assert orders["audio"].products[0].path.read_bytes()[:4] == b"RIFF"
    # Logged "Using seed: 1234" (musicgen got our seed; minimax has no seed input and used its own).
    assert _done(orders["video"])[0]["return_params"]["seed"] == 1234
    endpoints = [c["endpoint"] for c in _calls(studio)]
    assert any(e.endswith("/0.wav") for e in endpoints) and not any("?" in e for e in endpoints)


# ---- (7) fetched specs -----------------------------------------------------------------------


def test_a_pinned_version_is_validated_against_its_openapi_schema(token, server, open_studio):
    model_id = f"replicate:acme/pinned:{V_PINNED_1}"
    studio = open_studio()
    spec = studio.model(model_id).spec
    assert list(spec["properties"]) == ["prompt", "num_images_per_prompt", "width", "scheduler", "image", "seed",
                                        "lora"]
    assert spec["properties"]["scheduler"]["enum"] == ["DDIM", "K_EULER", "PNDM"]
    assert spec["properties"]["num_images_per_prompt"][NAME_EXT] == "num_outputs"
    assert spec["additionalProperties"] is False and "default" not in spec["properties"]["lora"]
    with pytest.raises(ValidationError) as info:
        studio.order(model_id, prompt="x", width=4096)
    assert info.value.param == "width" and "≤ 1024" in str(info.value)
    with pytest.raises(ValidationError) as info:
        studio.order(model_id, prompt="x", scheduler="k_euler")
    assert info.value.param == "scheduler" and "K_EULER" in str(info.value)
    with pytest.raises(ValidationError, match="no parameter 'steps'"):
        studio.order(model_id, prompt="x", steps=4)
    gen = _done(studio.order(model_id, prompt="x", num_images_per_prompt=2))[0]
    assert gen["status"] == "complete", gen["error_message"]
    body = server.hits("POST", r"/v1/predictions")[0].json
    assert body["version"] == V_PINNED_1 and body["input"]["num_outputs"] == 2 and body["input"]["width"] == 512
    assert len(server.hits("GET", rf"/v1/models/acme/pinned/versions/{V_PINNED_1}")) == 1  # once per studio


def test_an_unpinned_model_runs_the_latest_version_its_spec_came_from(token, server, open_studio):
    studio = open_studio()
    info = studio.model("replicate:acme/pinned")
    assert info.description == "A pinned test model."
    assert _done(studio.order("replicate:acme/pinned", prompt="x"))[0]["status"] == "complete"
    assert server.hits("POST", r"/v1/predictions")[0].json["version"] == V_PINNED_2
    assert len(server.hits("GET", r"/v1/models/acme/pinned")) == 1


def test_unknown_and_malformed_model_ids_fail_at_order(token, server, open_studio):
    studio = open_studio()
    with pytest.raises(UnknownModelError, match=r"acme/nothing.*404"):
        studio.order("replicate:acme/nothing", prompt="x")
    with pytest.raises(UnknownModelError, match=r"acme/pinned:" + "9" * 64):
        studio.order("replicate:acme/pinned:" + "9" * 64, prompt="x")
    with pytest.raises(UnknownModelError, match="<owner>/<name>"):
        studio.order("replicate:flux", prompt="x")
    assert len(server.hits()) == 2  # the two lookups; the malformed id never left the process


def test_a_fetched_spec_is_reused_after_reopening_the_studio(token, server, open_studio):
    model_id = f"replicate:acme/pinned:{V_PINNED_1}"
    studio = open_studio()
    studio.model(model_id)
    studio.close()
    studio = open_studio()
    with pytest.raises(ValidationError):
        studio.order(model_id, prompt="x", width=4096)
    assert _done(studio.order(model_id, prompt="x"))[0]["status"] == "complete"
    assert server.hits("POST", r"/v1/predictions")[0].json["version"] == V_PINNED_1  # the cached spec knows it
    assert len(server.hits("GET", r"/v1/models/acme/pinned/versions/.*")) == 1


def test_openapi_conversion_resolves_refs_and_keeps_order():
    schema = openapi({
        "b": {"type": "number", "minimum": 0, "exclusiveMaximum": True, "maximum": 1, "x-order": 1},
        "a": {"allOf": [{"$ref": "#/components/schemas/mode"}], "default": "x", "x-order": 0},
        "guidance": {"type": "number", "nullable": True, "x-order": 2},
    }, required=["a"], enums={"mode": {"type": "string", "enum": ["x", "y"], "title": "mode"}})
    spec = spec_from_openapi(schema, model="o/n", version=None)
    assert list(spec["properties"]) == ["a", "b", "guidance_scale"]
    assert spec["properties"]["a"] == {"type": "string", "enum": ["x", "y"], "title": "mode", "default": "x",
                                       "x-order": 0}
    assert spec["properties"]["b"]["exclusiveMaximum"] == 1 and "maximum" not in spec["properties"]["b"]
    assert spec["properties"]["guidance_scale"]["type"] == ["number", "null"]
    assert spec["properties"]["guidance_scale"][NAME_EXT] == "guidance" and spec["required"] == ["a"]


# ---- (8) the token stays secret --------------------------------------------------------------


def test_the_token_never_reaches_files_rows_logs_or_output(token, server, open_studio, home, tmp_path, capfd,
                                                          caplog):
    caplog.set_level("DEBUG")
    source = tmp_path / "in.png"
    source.write_bytes(png_bytes())
    server.fault("POST", CREATE, "status", status=401, detail="token {authorization} is not valid")
    server.fault("GET", POLL, "status", status=503)
    studio = open_studio()
    orders = [studio.order(FLUX, prompt="[a,b] fox"),  # one fails with the token echoed, one retries
              studio.order("replicate:stability-ai/sdxl", prompt="x", image=source),
              studio.order("replicate:meta/musicgen", prompt="y")]
    statuses = sorted(g["status"] for o in orders for g in _done(o))
    assert statuses == ["complete", "complete", "complete", "failed"]
    tables = [studio.sql(f"select * from {t}") for t in ("generations", "api_calls", "orders", "products")]
    studio.close()
    for frame in tables:
        assert TOKEN not in frame.to_csv()
    for path in home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    out, err = capfd.readouterr()
    assert TOKEN not in out + err
    assert TOKEN not in caplog.text


def test_closing_the_studio_stops_a_running_prediction_promptly(token, server, open_studio):
    server.models["black-forest-labs/flux-schnell"].ending = "hang"
    studio = open_studio()
    studio.order(FLUX, prompt="a fox that never ends")
    deadline = time.monotonic() + 5
    while not server.hits("GET", POLL) and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    studio.close()
    assert time.monotonic() - started < 3
    assert len(server.hits("POST", r"/v1/predictions/[^/]+/cancel")) == 1  # no paid work left running
