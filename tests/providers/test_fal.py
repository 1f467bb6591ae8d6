"""The fal provider: the real fal-client through a real Studio, against a loopback fal (fal_server.py)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

import imagen_nb as inb
from imagen_nb.core.errors import MissingKey, UnknownModelError, ValidationError
from imagen_nb.core.records import ApiCall, GenerationProgress
from imagen_nb.providers.fal.spec import CURATED
from imagen_nb.providers.spec import check_spec

from fal_server import FalServer, openapi_doc, png_bytes  # tests/providers is on sys.path (rootdir import mode)

pytestmark = pytest.mark.timeout(60)

KEY = "fal-test-id-1234:supersecretvalue5678"
KEY_PARTS = [KEY, *KEY.split(":")]
#: Quick polls, short backoffs and small budgets: a fault never costs a test more than seconds.
FAST = {"poll_interval": 0.02, "retry_base": 0.05, "timeout": 10, "request_timeout": 5, "retries": 3}


@pytest.fixture
def fal(monkeypatch):
    """A running loopback fal; FAL_KEY holds its key."""
    monkeypatch.setenv("FAL_KEY", KEY)
    with FalServer(KEY) as server:
        yield server


@pytest.fixture
def open_studio(fal):
    """``open_studio(**settings)`` → a Studio whose fal provider talks to the loopback fal."""
    studios = []

    def make(**settings):
        studio = inb.Studio(providers={"fal": fal.settings(**{**FAST, **settings})})
        studios.append(studio)
        return studio

    yield make
    for studio in studios:
        studio.close()


@pytest.fixture
def calls():
    """ApiCall events published by a studio: ``calls.watch(studio)`` then read ``calls.events``."""

    class Calls:
        def __init__(self):
            self.events: list[ApiCall] = []
            self.progress: list[GenerationProgress] = []
            self.lock = threading.Lock()

        def watch(self, studio):
            def on(event):
                with self.lock:
                    if isinstance(event, ApiCall):
                        self.events.append(event)
                    elif isinstance(event, GenerationProgress):
                        self.progress.append(event)

            studio.subscribe(on)
            return self

    return Calls()


def outcome(order) -> dict:
    """The single generation of an order, as a dict."""
    gens = order.generations
    assert len(gens) == 1
    return gens.iloc[0].to_dict()


def api_rows(studio, generation_id=None):
    frame = studio.sql("SELECT * FROM api_calls ORDER BY duration_ms")
    if generation_id is not None:
        frame = frame[frame["generation_id"] == generation_id]
    return frame


# ---- ordering ---------------------------------------------------------------------------------

def test_text_to_image_makes_one_product_per_prompt(fal, open_studio, calls):
    studio = open_studio()
    calls.watch(studio)
    order = studio.order("fal:fal-ai/fast-sdxl", prompt="a [red,blue] fox").wait(20)

    assert order.status == "fulfilled"
    products = order.products
    assert len(products) == 2
    assert {p.media_type for p in products} == {"image/png"}
    assert sorted(p.prompt for p in products) == ["a blue fox", "a red fox"]
    assert all(p.image.size == (1024, 1024) for p in products)
    for _, gen in order.generations.iterrows():
        returned, actual = gen["return_params"], gen["actual_params"]
        assert returned["seed"] == actual["seed"]  # picked by us, sent, echoed by fal
        assert returned["request_id"] in fal.jobs
        assert returned["has_nsfw_concepts"] == [False] and "timings" in returned
        assert any("2/2" in line for line in returned["logs"])
        # fal's names in what was sent: image_size nests width and height, num_images is fal's
        assert actual["image_size"] == {"width": 1024, "height": 1024}
        assert actual["num_images"] == 1 and actual["format"] == "png"
    submits = fal.requests("submit")
    assert len(submits) == 2 and all(s.headers["Authorization"] == "Key …" for s in submits)
    assert {s.json()["prompt"] for s in submits} == {"a red fox", "a blue fox"}
    # progress came from the logs ("1/2 [..]" then "step 2/2"), and ends at 2 of 2
    steps = {(e.step, e.total) for e in calls.progress}
    assert {(1, 2), (2, 2)} <= steps
    # each HTTP call of a generation is one ApiCall; status polls are summarised (one per change)
    gid = order.generations.iloc[0]["id"]
    mine = [c for c in calls.events if c.generation_id == gid]
    assert [c.method for c in mine if c.endpoint.endswith("/fal-ai/fast-sdxl")] == ["POST"]
    assert [c.status_code for c in mine if c.endpoint.endswith("/status")] == [200, 200, 200]
    assert sum(c.endpoint.endswith(".png") for c in mine) == 1
    assert all("?" not in c.endpoint and c.request_id for c in mine if "/requests/" in c.endpoint)
    rows = api_rows(studio, gid)
    assert len(rows) == len(mine) and set(rows["provider"]) == {"fal"}


def test_models_are_listed_with_types_and_families(open_studio):
    models = open_studio().models().set_index("id")
    assert models.loc["fal:fal-ai/fast-sdxl", "family"] == "sdxl"
    assert models.loc["fal:fal-ai/flux/schnell", "family"] == "flux"
    assert models.loc["fal:fal-ai/fast-sdxl/image-to-image", "type"] == "image-to-image"
    assert models.loc["fal:fal-ai/ltx-video", "type"] == "text-to-video"
    assert models.loc["fal:fal-ai/stable-video", "type"] == "image-to-video"
    assert models.loc["fal:fal-ai/stable-audio", "type"] == "text-to-audio"
    for model in CURATED:
        check_spec(model.spec)
        assert model.spec["additionalProperties"] is False


def test_a_sub_path_app_is_submitted_to_its_path_and_polled_without_it(fal, open_studio):
    studio = open_studio()
    order = studio.order("fal:fal-ai/flux/schnell", prompt="owl", width=80, height=64,
                         num_images_per_prompt=2, seed=7).wait(20)
    assert order.status == "fulfilled"
    assert [p.image.size for p in order.products] == [(80, 64), (80, 64)]
    (submit,) = fal.requests("submit")
    assert submit.path == "/queue/fal-ai/flux/schnell"
    assert submit.json() == {"prompt": "owl", "image_size": {"width": 80, "height": 64}, "num_inference_steps": 4,
                             "seed": 7, "num_images": 2, "enable_safety_checker": True, "output_format": "png"}
    assert all(s.path.startswith("/queue/fal-ai/flux/requests/") for s in fal.requests("status"))


def test_a_missing_key_fails_at_order_and_reaches_no_server(fal, open_studio, monkeypatch):
    monkeypatch.delenv("FAL_KEY")
    studio = open_studio()
    with pytest.raises(MissingKey) as err:
        studio.order("fal:fal-ai/fast-sdxl", prompt="fox")
    assert "imagen-nb keys set fal" in str(err.value) and "FAL_KEY" in str(err.value)
    assert fal.seen == []


def test_a_key_from_the_keys_file_is_sent(fal, open_studio, monkeypatch, home):
    monkeypatch.delenv("FAL_KEY")
    studio = open_studio()
    from imagen_nb.providers.keys import KeyStore

    KeyStore(home).set("fal", KEY)
    assert studio.order("fal:fal-ai/fast-sdxl", prompt="fox", width=64, height=64).wait(20).status == "fulfilled"
    assert (home / "keys.json").stat().st_mode & 0o777 == 0o600


def test_a_wrong_key_fails_with_how_to_set_one(fal, open_studio, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "someone-else:not-the-key")
    order = open_studio().order("fal:fal-ai/fast-sdxl", prompt="fox", width=64, height=64).wait(20)
    gen = outcome(order)
    assert gen["status"] == "failed" and "HTTP 401" in gen["error_message"]
    assert "imagen-nb keys set fal" in gen["error_message"]
    assert len(fal.requests("submit")) == 1  # a refused key is not retried


# ---- faults -----------------------------------------------------------------------------------

RECOVERS = [
    pytest.param("submit", "503", id="submit-503"),
    pytest.param("submit", "drop", id="submit-dropped-connection"),
    pytest.param("status", "503", id="status-503"),
    pytest.param("status", "drop", id="status-dropped-connection"),
    pytest.param("result", "500", id="result-500"),
    pytest.param("result", "drop", id="result-dropped-connection"),
    pytest.param("download", "503", id="download-503"),
]


@pytest.mark.parametrize("op, kind", RECOVERS)
def test_transient_faults_are_retried_by_our_policy(fal, open_studio, calls, op, kind):
    fal.fault(op, kind)
    studio = open_studio()
    calls.watch(studio)
    order = studio.order("fal:fal-ai/fast-sdxl", prompt="fox", width=64, height=64).wait(20)
    assert outcome(order)["status"] == "complete"
    failed = [c for c in calls.events if c.error]
    assert len(failed) == 1  # fal-client did not retry on its own: we saw (and recorded) the one failure
    assert failed[0].status_code == (None if kind == "drop" else int(kind)) and failed[0].attempt == 1
    assert any(c.attempt == 2 and c.endpoint == failed[0].endpoint and not c.error for c in calls.events)


def test_rate_limit_waits_retry_after(fal, open_studio, calls):
    fal.fault("submit", "429", retry_after=1)
    studio = open_studio()
    calls.watch(studio)
    order = studio.order("fal:fal-ai/fast-sdxl", prompt="fox", width=64, height=64).wait(20)
    assert outcome(order)["status"] == "complete"
    first, second = fal.requests("submit")
    assert second.at - first.at >= 1.0
    assert [(c.status_code, c.attempt) for c in calls.events if c.method == "POST" and "/queue/" in c.endpoint] \
        == [(429, 1), (200, 2)]


FAILS = [
    pytest.param("submit", "500", {"times": 99}, "fal's submit failed (HTTP 500): boom", 3, id="submit-500-persists"),
    pytest.param("submit", "404", {"message": "Application 'x' not found"}, "rejected the submit (HTTP 404): "
                 "Application 'x' not found", 1, id="submit-4xx"),
    pytest.param("submit", "malformed", {}, "fal returned malformed JSON for the submit", 1, id="submit-malformed"),
    pytest.param("status", "malformed", {}, "malformed JSON for the status poll", 1, id="status-malformed"),
    pytest.param("result", "malformed", {}, "malformed JSON for the result fetch", 1, id="result-malformed"),
    pytest.param("status", "error", {"message": "CUDA out of memory"}, "ended ERROR: CUDA out of memory", 1,
                 id="status-error"),
    pytest.param("status", "failed", {"message": "NaN in latents"}, "failed (runner_error): Runner failed: "
                 "NaN in latents", 1, id="request-failed"),
    pytest.param("status", "cancelled", {}, "failed (request_cancelled): Request was cancelled", 1,
                 id="cancelled-at-fal"),
    pytest.param("result", "detail", {"message": "prompt is too long"}, "rejected the result fetch (HTTP 422): "
                 "prompt: prompt is too long", 1, id="result-detail"),
    pytest.param("download", "404", {"times": 99}, "HTTP 404", 1, id="output-404"),
    pytest.param("download", "big", {"size": 50_000}, "over the limit of 20,000", 1, id="output-too-big"),
]


@pytest.mark.parametrize("op, kind, fault, message, submits", FAILS)
def test_faults_fail_the_generation_with_fals_message(fal, open_studio, op, kind, fault, message, submits):
    fal.fault(op, kind, **fault)
    studio = open_studio(max_output_bytes=20_000)
    started = time.monotonic()
    order = studio.order("fal:fal-ai/fast-sdxl", prompt="fox", width=64, height=64).wait(20)
    gen = outcome(order)
    assert gen["status"] == "failed", gen
    assert message in gen["error_message"]
    assert gen["error_type"] in ("ProviderError", "TransientError")
    assert len(fal.requests("submit")) == submits
    assert time.monotonic() - started < 8
    rows = api_rows(studio, gen["id"])
    assert rows["error"].notna().any() or kind in ("malformed", "error", "failed", "cancelled")
    if op in ("status",) and kind == "malformed":
        # an abandoned request is cancelled at fal, so it stops costing
        assert len(fal.requests("cancel")) == 1


def test_a_slow_answer_past_the_timeout_cancels_at_fal_and_fails(fal, open_studio):
    fal.fault("status", "slow", delay=8, times=99)
    studio = open_studio(timeout=1.5)
    started = time.monotonic()
    order = studio.order("fal:fal-ai/fast-sdxl", prompt="fox", width=64, height=64).wait(20)
    elapsed = time.monotonic() - started
    gen = outcome(order)
    assert gen["status"] == "failed"
    assert "did not finish within the timeout of 1.5 s and was cancelled at fal" in gen["error_message"]
    assert "`timeout` setting" in gen["error_message"]
    assert elapsed < 5
    (cancel,) = fal.requests("cancel")
    assert cancel.method == "PUT" and cancel.path.endswith(f"/requests/{next(iter(fal.jobs))}/cancel")


def test_a_request_that_never_finishes_times_out(fal, open_studio):
    fal.app("fal-ai/fast-sdxl", hold=True)
    order = open_studio(timeout=1).order("fal:fal-ai/fast-sdxl", prompt="fox", width=64, height=64).wait(20)
    gen = outcome(order)
    assert gen["status"] == "failed" and "timeout of 1 s" in gen["error_message"]
    assert len(fal.requests("cancel")) == 1


def test_cancelling_an_order_cancels_the_fal_request(fal, open_studio):
    fal.app("fal-ai/fast-sdxl", hold=True)
    studio = open_studio()
    order = studio.order("fal:fal-ai/fast-sdxl", prompt="fox", width=64, height=64)
    for _ in range(200):  # until fal runs it
        if len(fal.requests("status")) >= 3:
            break
        time.sleep(0.02)
    order.cancel().wait(10)
    assert outcome(order)["status"] == "cancelled"
    (cancel,) = fal.requests("cancel")
    job = next(iter(fal.jobs.values()))
    assert cancel.method == "PUT" and cancel.path == f"/queue/fal-ai/fast-sdxl/requests/{job.id}/cancel"
    assert job.cancelled
    assert order.products == []


# ---- inputs and outputs -----------------------------------------------------------------------

def test_image_to_image_uploads_a_local_file_and_sends_its_url(fal, open_studio, tmp_path):
    source = tmp_path / "start.png"
    source.write_bytes(png_bytes(40, 24))
    studio = open_studio()
    order = studio.order("fal:fal-ai/fast-sdxl/image-to-image", image=str(source), prompt="in winter").wait(20)
    assert order.status == "fulfilled"
    (token,) = fal.requests("token")
    assert token.headers["Authorization"] == "Key …"  # the upload token is asked for with the key
    (upload,) = fal.requests("upload")
    assert upload.body == source.read_bytes() and upload.headers["Content-Type"] == "image/png"
    assert upload.headers["Authorization"] == "Bearer …"  # the upload itself carries the CDN token only
    (submit,) = fal.requests("submit")
    url = submit.json()["image_url"]
    assert url.startswith(f"{fal.url}/cdn/files/") and url.endswith("/start.png")
    assert outcome(order)["actual_params"]["image_url"] == url
    assert order.products[0].image.size == (32, 32)  # the output, not the input echoed back


def test_a_product_of_the_studio_is_an_image_input(fal, open_studio):
    studio = open_studio()
    made = studio.order("instant:swatch", prompt="a start", width=48, height=32).wait(20).products[0]
    order = studio.order("fal:fal-ai/fast-sdxl/image-to-image", image=made.id, prompt="in winter").wait(20)
    assert order.status == "fulfilled"
    (upload,) = fal.requests("upload")
    assert upload.body == made.read_bytes()
    assert order.generations.params[0]["image"] == made.id  # what was asked stays in the record
    with pytest.raises(ValidationError, match="no product 0000000000000000000000dead"):
        studio.order("fal:fal-ai/fast-sdxl/image-to-image", image="0000000000000000000000dead", prompt="x")


def test_a_missing_input_file_is_refused_at_order(fal, open_studio, tmp_path):
    with pytest.raises(ValidationError) as err:
        open_studio().order("fal:fal-ai/fast-sdxl/image-to-image", image=str(tmp_path / "nope.png"), prompt="x")
    assert err.value.param == "image" and "no file" in str(err.value) and "nope.png" in str(err.value)
    assert fal.seen == []


@pytest.mark.parametrize("model, params, media_type", [
    ("fal:fal-ai/ltx-video", {"prompt": "waves"}, "video/mp4"),
    ("fal:fal-ai/stable-audio", {"prompt": "rain", "seconds_total": 1}, "audio/wav"),
])
def test_video_and_audio_outputs_become_products(fal, open_studio, model, params, media_type):
    fal.app(model.split(":", 1)[1], kind=media_type.split("/")[0])
    order = open_studio().order(model, **params).wait(20)
    assert order.status == "fulfilled", order.errors
    (product,) = order.products
    assert product.media_type == media_type
    assert product.path.suffix == {"video/mp4": ".mp4", "audio/wav": ".wav"}[media_type]
    if media_type == "audio/wav":
        assert fal.requests("submit")[0].json()["steps"] == 100  # our num_inference_steps is fal's steps


def test_image_to_video_uploads_the_first_frame(fal, open_studio, tmp_path):
    frame = tmp_path / "frame.png"
    frame.write_bytes(png_bytes(16, 16))
    fal.app("fal-ai/stable-video", kind="video")
    order = open_studio().order("fal:fal-ai/stable-video", image=str(frame)).wait(20)
    assert [p.media_type for p in order.products] == ["video/mp4"]
    assert len(fal.requests("upload")) == 1


# ---- specs from fal's OpenAPI -----------------------------------------------------------------

def test_an_unknown_app_is_refused_at_order(fal, open_studio):
    with pytest.raises(UnknownModelError, match="no such endpoint"):
        open_studio().order("fal:fal-ai/no-such-model", prompt="x")
    assert [s.op for s in fal.seen] == ["openapi"]


def test_an_app_outside_the_curated_list_works_from_its_openapi(fal, open_studio, home):
    app = "someone/turbo-test"
    fal.openapi(app, openapi_doc(app))
    studio = open_studio()
    model = studio.model(f"fal:{app}")
    props = model.spec["properties"]
    assert list(props) == ["prompt", "width", "height", "num_inference_steps", "seed", "guidance_scale",
                           "num_images_per_prompt", "scheduler"]  # fal's order; sync_mode is transport
    assert (props["width"]["default"], props["height"]["default"]) == (512, 512)  # the "square" preset
    assert props["width"]["maximum"] == 14142 and props["seed"]["type"] == "integer"
    assert props["scheduler"]["enum"] == ["euler", "dpm++"]
    assert model.spec["required"] == ["prompt"] and model.spec["additionalProperties"] is False
    assert model.type == "text-to-image"

    with pytest.raises(ValidationError) as err:
        studio.order(f"fal:{app}", prompt="x", num_inference_steps=50)
    assert err.value.param == "num_inference_steps" and "≤ 12" in str(err.value)
    with pytest.raises(ValidationError) as err:
        studio.order(f"fal:{app}", prompt="x", sampler="euler")
    assert "Did you mean 'scheduler'?" in str(err.value)

    order = studio.order(f"fal:{app}", prompt="x", width=64, height=64, num_images_per_prompt=2).wait(20)
    assert order.status == "fulfilled" and len(order.products) == 2
    sent = fal.requests("submit")[0].json()
    assert sent["image_size"] == {"width": 64, "height": 64} and sent["num_images"] == 2
    assert len(fal.requests("openapi")) == 1  # fetched once for model(), two refused orders and one run
    studio.close()

    reopened = open_studio()  # the spec is kept in the catalog's spec cache
    assert reopened.order(f"fal:{app}", prompt="y", width=64, height=64).wait(20).status == "fulfilled"
    assert len(fal.requests("openapi")) == 1


# ---- the key stays secret ---------------------------------------------------------------------

def test_the_key_never_lands_in_files_rows_events_or_output(fal, open_studio, calls, home, capsys, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and fal-client log every request they make
    fal.app("fal-ai/fast-sdxl", extra_log=f"authenticated with {KEY}")
    fal.fault("result", "detail", message=f"the key {KEY} may not use this model")
    studio = open_studio()
    calls.watch(studio)
    failed = studio.order("fal:fal-ai/fast-sdxl", prompt="fox", width=64, height=64).wait(20)
    done = studio.order("fal:fal-ai/fast-sdxl", prompt="owl", width=64, height=64).wait(20)
    assert outcome(failed)["status"] == "failed" and "may not use this model" in outcome(failed)["error_message"]
    assert outcome(done)["status"] == "complete"
    assert any("authenticated with ***" in line for line in outcome(done)["return_params"]["logs"])

    texts = [studio.sql("SELECT * FROM generations").to_csv(), studio.sql("SELECT * FROM api_calls").to_csv(),
             studio.sql("SELECT * FROM products").to_csv(), repr(calls.events)]
    studio.close()
    out = capsys.readouterr()
    texts += [out.out, out.err, caplog.text]
    for part in KEY_PARTS:
        leaks = [text[max(0, text.index(part) - 300):text.index(part) + 60] for text in texts if part in text]
        assert not leaks, part
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(part.encode() in data for part in KEY_PARTS), path


def test_openapi_conversion_maps_fal_names_refs_and_openapi_30_forms():
    from imagen_nb.providers.fal.spec import model_from_openapi

    doc = {"info": {"x-fal-metadata": {"category": "image-to-image"}},
           "components": {"schemas": {
               "Strength": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1, "default": 0.8},
               "Lora": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
               "In": {"type": "object", "required": ["image_url", "steps"], "properties": {
                   "image_url": {"type": "string", "description": "Start image."},
                   "strength": {"allOf": [{"$ref": "#/components/schemas/Strength"}], "title": "Strength"},
                   "steps": {"type": "integer", "nullable": True, "minimum": 1},
                   "loras": {"type": "array", "items": {"$ref": "#/components/schemas/Lora"}, "default": []},
                   "image_size": {"type": "string", "enum": ["auto"]},  # no width/height object: kept as is
               }, "additionalProperties": True}}},
           "paths": {"/me/app": {"post": {"requestBody": {"content": {"application/json": {
               "schema": {"$ref": "#/components/schemas/In"}}}}}}}}
    model = model_from_openapi(doc, "me/app")
    props = model.spec["properties"]
    assert model.type == "image-to-image"
    assert props["image"] == {"type": "string", "description": "Start image.", "x-fal": "image_url", "x-fal-file": True}
    assert props["strength"]["exclusiveMinimum"] == 0 and "minimum" not in props["strength"]
    assert props["num_inference_steps"]["x-fal"] == "steps" and props["num_inference_steps"]["minimum"] == 1
    assert props["loras"]["items"]["required"] == ["path"]
    assert props["image_size"]["enum"] == ["auto"]
    assert model.spec["required"] == ["image", "num_inference_steps"]
    assert model.spec["additionalProperties"] is True  # the app takes extra fields: so do we
    check_spec(model.spec)
