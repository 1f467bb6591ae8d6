"""Judges and rewriters on remote services, with their real clients against loopback servers:
fal's ``openrouter/router/vision``, ``openrouter/router`` and florence-2, Replicate's LLaVA and Llama 3,
and Gemini's ``generateContent`` through google-genai. Faults (429, 500, malformed, slow) each end
recorded; in a refinement a judge that fails ends that prompt's loop with the reason, others go on.
"""

from __future__ import annotations

import json

import pytest

import imagen_nb as inb
from imagen_nb.core.errors import MissingKey
from fal_server import FalServer  # tests/providers is on sys.path (rootdir import mode)
from gemini_server import GeminiServer, images_in, prompt_of
from replicate_server import ReplicateServer, ServerModel, openapi

pytestmark = pytest.mark.timeout(120)

FAL_KEY = "fal-text-id-1111:textsecret2222"
GEMINI_KEY = "AIzaTextLoopbackKey0123456789abcdef"
REPLICATE_TOKEN = "r8_TextLoopbackToken0123456789abcdef"
FAST_FAL = {"poll_interval": 0.02, "retry_base": 0.05, "timeout": 10, "request_timeout": 5, "retries": 3}
V_LLAVA = "b" * 64


@pytest.fixture
def servers(monkeypatch):
    monkeypatch.setenv("FAL_KEY", FAL_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    monkeypatch.setenv("REPLICATE_API_TOKEN", REPLICATE_TOKEN)
    fal = FalServer(FAL_KEY).start()
    fal.app("openrouter/router/vision", kind="text",
            text=lambda args: f"A swatch of {len(args['image_urls'])} image(s). Score: 7/10")
    fal.app("openrouter/router", kind="text", text=lambda args: f"Prompt: sharper {args['prompt'][-12:]}")
    fal.app("fal-ai/florence-2-large/detailed-caption", kind="text", text="A gradient from one colour to another.")
    rep = ReplicateServer(REPLICATE_TOKEN).start()
    rep.add_model("yorickvp/llava-13b", ServerModel(
        output="text", text=lambda inputs: "The image is a colour gradient. Score: 6/10",
        versions={V_LLAVA: openapi({"image": {"type": "string", "format": "uri"}, "prompt": {"type": "string"}},
                                   output={"type": "array", "items": {"type": "string"}})}, latest=V_LLAVA))
    rep.add_model("meta/meta-llama-3-8b-instruct", ServerModel(
        official=True, output="text", text=lambda inputs: "a crisper gradient, soft light"))
    gemini = GeminiServer(GEMINI_KEY).__enter__()
    try:
        yield {"fal": fal, "replicate": rep, "gemini": gemini}
    finally:
        fal.close()
        rep.stop()
        gemini.__exit__(None)


@pytest.fixture
def studio(home, servers):
    settings = {"fal": servers["fal"].settings(**FAST_FAL), "gemini": servers["gemini"].settings(),
                "replicate": {"poll_interval": 0.01, "request_timeout": 2, "retries": 3, "retry_base": 0.02,
                              "timeout": 10, "base_url": servers["replicate"].url}}
    with inb.Studio(providers=settings, serve=False) as s:
        yield s


def image(studio, prompt="a gradient"):
    return studio.order("instant:swatch", prompt=prompt, seed=1).wait(30).products[0]


def text_of(order) -> str:
    gen = order.generations.iloc[0]
    assert gen["status"] == "complete", gen[["status", "error_message"]].to_dict()
    (product,) = order.products
    assert product.media_type == "text/plain"
    assert product.read_bytes().decode() == gen["return_params"]["text"]
    return gen["return_params"]["text"]


def test_models_have_their_types(studio):
    models = studio.models().set_index("id")
    for model_id, kind in [("fal:openrouter/router/vision", "image-to-text"), ("fal:openrouter/router", "text-to-text"),
                           ("fal:fal-ai/florence-2-large/detailed-caption", "image-to-text"),
                           ("replicate:yorickvp/llava-13b", "image-to-text"),
                           ("replicate:meta/meta-llama-3-8b-instruct", "text-to-text"),
                           ("gemini:gemini-2.5-flash", "text-to-text"), ("gemini:gemini-2.5-flash/vision", "image-to-text"),
                           ("transformers:tiny-judge", "image-to-text"), ("transformers:tiny-rewriter", "text-to-text")]:
        assert models.loc[model_id, "type"] == kind


def test_fal_vision_judge_uploads_the_product_and_sends_a_list_of_urls(studio, servers):
    fal = servers["fal"]
    product = image(studio)
    order = studio.order("fal:openrouter/router/vision", image=product.id, prompt="Judge it",
                         llm="anthropic/claude-sonnet-4", system_prompt="Be strict").wait(30)
    assert text_of(order) == "A swatch of 1 image(s). Score: 7/10"
    (submit,) = [s for s in fal.requests("submit") if "router/vision" in s.path]
    sent = submit.json()
    assert len(sent["image_urls"]) == 1 and sent["image_urls"][0].startswith(fal.url) and len(fal.uploads) == 1
    assert list(fal.uploads.values())[0] == product.read_bytes()
    assert sent["prompt"] == "Judge it" and sent["system_prompt"] == "Be strict"
    assert sent["model"] == "anthropic/claude-sonnet-4"
    # queryable with SQL: the judged product and the text
    row = studio.sql("select image_product_id, text, model_type from texts").iloc[0]
    assert (row["image_product_id"], row["model_type"]) == (product.id, "image-to-text")
    calls = studio.sql("select * from api_calls where order_id = ?", [order.id])
    assert len(calls) >= 3 and set(calls["provider"]) == {"fal"}  # upload, submit, status, result


def test_fal_router_and_florence(studio):
    rewrite = studio.order("fal:openrouter/router", prompt="Rewrite: a red cat").wait(30)
    assert text_of(rewrite) == "Prompt: sharper e: a red cat"
    caption = studio.order("fal:fal-ai/florence-2-large/detailed-caption", image=image(studio).id).wait(30)
    assert text_of(caption) == "A gradient from one colour to another."


@pytest.mark.parametrize("op, kind, kw, status, message", [
    ("submit", "429", {"retry_after": 0.1}, "complete", None),
    ("status", "500", {}, "complete", None),
    ("result", "malformed", {}, "failed", "malformed"),
    ("status", "slow", {"delay": 3, "times": 99}, "failed", "time"),
])
def test_fal_text_faults_end_recorded(studio, servers, op, kind, kw, status, message):
    servers["fal"].fault(op, kind, **kw)
    settings_timeout = 1.5 if kind == "slow" else None
    if settings_timeout:
        studio.close()
        studio = inb.Studio(providers={"fal": servers["fal"].settings(**{**FAST_FAL, "timeout": 1.5,
                                                                          "request_timeout": 1})}, serve=False)
    try:
        order = studio.order("fal:openrouter/router", prompt="Rewrite: a fox").wait(30)
        gen = order.generations.iloc[0]
        assert gen["status"] == status, gen["error_message"]
        if message:
            assert message in gen["error_message"].lower()
        calls = studio.sql("select * from api_calls where generation_id = ?", [gen["id"]])
        assert len(calls) >= 1
        if kind in ("429", "500"):
            assert calls["status_code"].isin([429, 500]).any() or calls["error"].notna().any()
    finally:
        if settings_timeout:
            studio.close()


def test_replicate_llava_and_llama_join_streamed_tokens(studio, servers):
    product = image(studio)
    judged = studio.order("replicate:yorickvp/llava-13b", image=product.id, prompt="Judge it").wait(30)
    assert text_of(judged) == "The image is a colour gradient. Score: 6/10"
    created = [h for h in servers["replicate"].hits("POST") if h.path == "/v1/predictions"][0]
    assert created.json["input"]["image"].startswith("data:image/png;base64,")
    rewritten = studio.order("replicate:meta/meta-llama-3-8b-instruct", prompt="Rewrite: a fox",
                             system_prompt="Only the prompt").wait(30)
    assert text_of(rewritten) == "a crisper gradient, soft light"


def test_replicate_text_faults_end_recorded(studio, servers):
    servers["replicate"].fault("POST", r"/v1/models/meta/meta-llama-3-8b-instruct/predictions", "status",
                               status=429, retry_after="0.1")
    ok = studio.order("replicate:meta/meta-llama-3-8b-instruct", prompt="a fox").wait(30)
    assert text_of(ok)
    servers["replicate"].models["meta/meta-llama-3-8b-instruct"].ending = "failed"
    bad = studio.order("replicate:meta/meta-llama-3-8b-instruct", prompt="a fox").wait(30)
    gen = bad.generations.iloc[0]
    assert gen["status"] == "failed" and "failed" in gen["error_message"]
    codes = studio.sql("select status_code from api_calls where order_id = ?", [ok.id])["status_code"].tolist()
    assert 429 in codes


LLAMA_CREATE = r"/v1/models/meta/meta-llama-3-8b-instruct/predictions"
PREDICTION_POLL = r"/v1/predictions/[^/]+"


@pytest.mark.parametrize("case, setup, settings, status, message", [
    ("500 then ok", lambda s: s.fault("POST", LLAMA_CREATE, "status", status=500), {}, "complete", None),
    ("malformed JSON", lambda s: s.fault("POST", LLAMA_CREATE, "malformed"), {}, "failed", "malformed JSON"),
    ("slow poll then ok", lambda s: s.fault("GET", PREDICTION_POLL, "slow", delay=1.2), {}, "complete", None),
    ("hangs past timeout", lambda s: setattr(s.models["meta/meta-llama-3-8b-instruct"], "ending", "hang"),
     {"timeout": 0.6}, "failed", "did not finish within 0.6 s"),
])
def test_replicate_text_model_faults_end_recorded(home, servers, case, setup, settings, status, message):
    """The remote providers' fault cases on a rewriter (Llama): each ends recorded, with its calls."""
    setup(servers["replicate"])
    replicate = {"poll_interval": 0.01, "request_timeout": 2, "retries": 3, "retry_base": 0.02, "timeout": 10,
                 "base_url": servers["replicate"].url, **settings}
    with inb.Studio(providers={"replicate": replicate}, serve=False) as studio:
        order = studio.order("replicate:meta/meta-llama-3-8b-instruct", prompt="Rewrite: a fox").wait(30)
        gen = order.generations.iloc[0]
        assert gen["status"] == status, gen["error_message"]
        if message:
            assert message in gen["error_message"], gen["error_message"]
        else:
            assert text_of(order) == "a crisper gradient, soft light"
        calls = studio.sql("select * from api_calls where generation_id = ?", [gen["id"]])
        assert len(calls) >= 1
        if case == "500 then ok":
            assert 500 in calls["status_code"].tolist()


def test_gemini_rewriter_and_vision_judge_with_structured_score(studio, servers):
    gemini = servers["gemini"]
    gemini.answer = lambda body: (json.dumps({"score": 8, "critique": "crisp"})
                                  if body.get("generationConfig", {}).get("responseMimeType") == "application/json"
                                  else "echo: " + prompt_of(body))
    rewrite = studio.order("gemini:gemini-2.5-flash", prompt="Rewrite: a fox", system_prompt="Only the prompt",
                           seed=5, temperature=0.2).wait(30)
    assert text_of(rewrite) == "echo: Rewrite: a fox"
    sent = gemini.seen[-1]
    assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent" and sent["key_header"]
    assert sent["body"]["systemInstruction"]["parts"][0]["text"] == "Only the prompt"
    assert sent["body"]["generationConfig"]["seed"] == 5
    product = image(studio)
    judged = studio.order("gemini:gemini-2.5-flash/vision", image=product.id, prompt="Judge it", score=True).wait(30)
    assert json.loads(text_of(judged)) == {"score": 8, "critique": "crisp"}
    assert images_in(gemini.seen[-1]["body"]) == [product.read_bytes()]
    assert gemini.seen[-1]["body"]["generationConfig"]["responseJsonSchema"]["required"] == ["score", "critique"]
    calls = studio.sql("select endpoint, status_code from api_calls where order_id = ?", [judged.id])
    assert calls.to_dict("records") == [{"endpoint": "/v1beta/models/gemini-2.5-flash:generateContent",
                                         "status_code": 200}]


@pytest.mark.parametrize("kind, kw, status, message, codes", [
    ("429", {"retry_after": 0.1}, "complete", None, [429, 200]),
    ("500", {}, "complete", None, [500, 200]),
    ("400", {"message": "Request contains an invalid argument."}, "failed", "invalid argument", [400]),
    ("malformed", {}, "failed", "not the json", [None]),
    ("slow", {"delay": 3, "times": 99}, "failed", "could not be reached", [None, None, None]),
])
def test_gemini_faults_end_recorded(home, servers, kind, kw, status, message, codes):
    servers["gemini"].fault(kind, **kw)
    with inb.Studio(providers={"gemini": servers["gemini"].settings(request_timeout=0.5)}, serve=False) as studio:
        order = studio.order("gemini:gemini-2.5-flash", prompt="a fox").wait(30)
        gen = order.generations.iloc[0]
        assert gen["status"] == status, gen["error_message"]
        if message:
            assert message in gen["error_message"].lower()
        calls = studio.sql("select status_code from api_calls where order_id = ? order by created_at, attempt",
                           [order.id])
        got = [None if c != c else int(c) for c in calls["status_code"]]
        assert got == codes


def test_a_missing_gemini_key_says_how_to_set_one(home, servers, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    with inb.Studio(providers={"gemini": servers["gemini"].settings()}, serve=False) as studio:
        with pytest.raises(MissingKey, match="imagen-nb keys set gemini"):
            studio.order("gemini:gemini-2.5-flash", prompt="a fox")
    assert servers["gemini"].seen == []


def test_refine_with_remote_judges_a_failing_judge_ends_only_its_prompt(studio, servers):
    """fal vision judge + Gemini rewriter; Gemini (as judge of another refinement) refuses one prompt."""
    ref = studio.refine(["a red fox", "a calm sea"], "instant:swatch", judge="fal:openrouter/router/vision",
                        rewriter="gemini:gemini-2.5-flash", iterations=2, stop_at=9).wait(60)
    summary = ref.summary
    assert len(summary) == 4 and summary["score"].tolist() == [7.0] * 4  # the judge's "Score: 7/10"
    assert summary["next_prompt"].dropna().str.startswith("echo: Goal:").all()
    scores = studio.scores(summary["product_id"].tolist())
    assert set(scores["scorer"]) == {"judge:fal:openrouter/router/vision"}

    servers["gemini"].refuse = lambda body: ("This image cannot be judged." if "a calm sea" in prompt_of(body)
                                             else None)
    servers["gemini"].answer = lambda body: json.dumps({"score": 9, "critique": "fine"})
    ref = studio.refine(["a red fox", "a calm sea"], "instant:swatch", judge="gemini:gemini-2.5-flash/vision",
                        rewriter="fal:openrouter/router", iterations=3, stop_at=9).wait(60)
    best = ref.best.set_index("item")
    assert best.loc[0, "status"] == "done" and best.loc[0, "best_score"] == 9
    assert best.loc[0, "reason"].startswith("reached stop_at 9 in round 1")
    assert best.loc[1, "status"] == "failed"
    assert "the judge failed" in best.loc[1, "reason"] and "cannot be judged" in best.loc[1, "reason"]
    # the judge was asked for structured output (score=True is set by the loop for a judge that has it)
    assert any(s["body"].get("generationConfig", {}).get("responseMimeType") == "application/json"
               for s in servers["gemini"].seen)
