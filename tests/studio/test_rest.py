"""The REST API of a host, as curl and other tools see it, checked against its OpenAPI document."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time

import httpx
import pytest
from PIL import Image

from imagen_nb.studio.hosting import TOKEN_FILE, host_info
from imagen_nb.studio.rest import ROUTES
from imagen_nb.studio.server import is_loopback



@pytest.fixture
def api(home, host):
    info = host_info(home)
    token = (home / TOKEN_FILE).read_text().strip()
    return info.url + "/api/v1", token


def curl(api, method, path, body=None, *extra):
    url, token = api
    args = ["curl", "-sS", "-X", method, "-H", f"Authorization: Bearer {token}", "-w", "\n%{http_code}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
    out = subprocess.run([*args, *extra, url + path], capture_output=True, text=True, timeout=60)
    text, _, code = out.stdout.rpartition("\n")
    return int(code), text


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl command is not installed")
def test_curl_orders_queries_and_rates_as_the_readme_shows(api):
    code, text = curl(api, "POST", "/orders", {"model": "instant:swatch",
                                               "params": {"prompt": "a [red,blue] fox", "seed": "[1,2]"}})
    assert code == 201, text
    order = json.loads(text)
    assert order["generation_count"] == 4 and order["model_id"] == "instant:swatch"
    for _ in range(100):
        code, text = curl(api, "GET", f"/orders/{order['id']}")
        if json.loads(text)["status"] == "fulfilled":
            break
    assert json.loads(text)["complete_count"] == 4
    code, text = curl(api, "POST", "/sql", {"query": "select prompt, seed from gallery order by prompt, seed"})
    assert code == 200
    assert json.loads(text) == {"columns": ["prompt", "seed"], "rows": [["a blue fox", 1], ["a blue fox", 2],
                                                                        ["a red fox", 1], ["a red fox", 2]]}
    code, text = curl(api, "GET", "/gallery?limit=2&text=red")
    page = json.loads(text)
    assert code == 200 and page["total"] == 2 and len(page["items"]) == 2
    product_id = page["items"][0]["product_id"]
    code, text = curl(api, "PUT", f"/products/{product_id}/rating", {"rating": 4})
    assert code == 200 and json.loads(text) == {"rated": 1}
    code, text = curl(api, "GET", f"/products/{product_id}")
    assert json.loads(text)["rating"] == 4
    url, token = api
    png = httpx.get(f"{url}/products/{product_id}/file", headers={"Authorization": f"Bearer {token}"})
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    code, text = curl(api, "POST", "/sql", {"query": "drop table products"})
    assert code == 400 and json.loads(text)["error"]["type"] == "SqlRefused"
    code, text = curl(api, "POST", "/orders", {"model": "instant:swatch", "params": {"prompt": "[a,b|c]"}})
    assert code == 400 and json.loads(text)["error"]["type"] == "SmartParameterError"
    code, text = curl(api, "GET", "/orders/nope")
    assert code == 404 and "no order" in json.loads(text)["error"]["message"]
    # a REST order's placing process is not known (NULL); the host's process ran its generations
    code, text = curl(api, "POST", "/sql", {"query": "select distinct o.ordered_by_pid, g.pid from orders o "
                                                     "join generations g on g.order_id = o.id where o.id = ?",
                                            "params": [order["id"]]})
    (ordered_by, ran_in), = json.loads(text)["rows"]
    assert ordered_by is None and ran_in == json.loads(curl(api, "GET", "/host")[1])["pid"]


def test_every_documented_route_answers_as_documented(api):
    url, token = api
    http = httpx.Client(timeout=60)  # a loaded machine answers slowly
    auth = {"Authorization": f"Bearer {token}"}
    doc = http.get(f"{url}/openapi.json", headers=auth).json()
    assert doc["openapi"].startswith("3.") and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert {(r.method, "/api/v1" + r.path) for r in ROUTES} <= documented
    # a product and an order to fill the path parameters with
    order = http.post(f"{url}/orders", headers=auth,
                       json={"model": "instant:swatch", "params": {"prompt": "x", "seed": "[1,2]"}}).json()
    for _ in range(100):
        if http.get(f"{url}/orders/{order['id']}", headers=auth).json()["status"] == "fulfilled":
            break
    gens = http.get(f"{url}/orders/{order['id']}/generations", headers=auth).json()
    product_id = gens[0]["product_id"]
    # a stopped training run (of tiny images) for the training routes: cancelled at once, resumed by the walk
    tiny = http.post(f"{url}/orders", headers=auth, json={"model": "diffusers:tiny", "params": {
        "prompt": "a [red,blue] fox", "seed": 1, "num_inference_steps": 2}}).json()
    for _ in range(600):
        if http.get(f"{url}/orders/{tiny['id']}", headers=auth).json()["status"] == "fulfilled":
            break
        time.sleep(0.1)
    train = {"sql": "select product_id from gallery where model = 'diffusers:tiny'", "resolution": 64,
             "batch_size": 1, "rank": 2, "checkpoint_every": 0}
    run = http.post(f"{url}/training", headers=auth, json={"name": "walked", "steps": 20, **train}).json()
    http.post(f"{url}/training/{run['id']}/cancel", headers=auth)
    for _ in range(600):
        if http.get(f"{url}/training/{run['id']}", headers=auth).json()["status"] == "cancelled":
            break
        time.sleep(0.1)
    values = {"order_id": order["id"], "generation_id": gens[0]["id"], "product_id": product_id,
              "model_id": "instant:swatch", "name": "animal", "run_id": run["id"],
              "ref": "urn%3Aair%3Asd1%3Alora%3Acivitai%3A1%402"}  # no download: 404 (a real one: the civitai test)
    bodies = {"PUT /tokens/{name}": {"values": ["cat"]}, "PUT /presets/{name}": {"params": {"width": 32}},
              "POST /projects": {"name": "p"}, "POST /sql": {"query": "select 1 as one"},
              "POST /collections/{name}/products": {"products": [product_id]},
              "PUT /products/{product_id}/rating": {"rating": 2},
              "POST /orders": {"model": "instant:swatch", "params": {"prompt": "y"}},
              "PUT /sets/{name}": {"rows": [{"animal": "cat"}, {"animal": "dog"}], "template": "a {animal}",
                                   "model": "instant:swatch"},
              "POST /sets/{name}/order": {"params": {"seed": 3}},
              "POST /models": {"ref": "civitai:2"},  # no civitai token in this host: 400 saying how to set one
              "POST /upscale": {"products": [product_id], "model": "diffusers:tiny-esrgan", "scale": 1},
              "POST /training": {"name": "walk", "steps": 1, **train},
              "POST /training/check": {"name": "walk-check", **train}}
    order_of_calls = sorted(ROUTES, key=lambda r: r.method == "DELETE")  # deletes last
    for route in order_of_calls:
        path = route.path
        for key, value in values.items():
            path = path.replace("{" + key + "}", value)
        op = doc["paths"]["/api/v1" + route.path][route.method.lower()]
        # 60 s (the client's timeout): GET /health imports torch in the host to ask the device
        response = http.request(route.method, url + path, headers=auth,
                                json=bodies.get(f"{route.method} {route.path}"))
        assert str(response.status_code) in op["responses"], (route.method, path, response.text)
        media = next(iter(op["responses"][str(response.status_code)]["content"]))
        if media == "application/json":
            response.json()
        else:
            assert response.headers["content-type"].startswith("image/")
        assert http.request(route.method, url + path).status_code == 401  # and never without the token


def test_events_stream_over_sse(api):
    url, token = api
    auth = {"Authorization": f"Bearer {token}"}
    seen = []
    with httpx.stream("GET", f"{url}/events", headers=auth, timeout=30) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: hello"
        httpx.post(f"{url}/orders", headers=auth, timeout=60,
                   json={"model": "instant:swatch", "params": {"prompt": "sse", "num_inference_steps": 2}})
        for line in lines:
            if line.startswith("event:"):
                seen.append(line[6:].strip())
            if seen and seen[-1] == "OrderFinished":
                break
    assert {"OrderQueued", "GenerationStarted", "GenerationProgress", "ProductReady", "OrderFinished"} <= set(seen)
    assert httpx.get(f"{url}/events").status_code == 401


def test_only_loopback_addresses_are_answered():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("192.168.1.5") and not is_loopback("10.0.0.1") and not is_loopback("")


def test_the_docs_page_lists_every_route():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    missing = [f"{r.method} {r.path}" for r in ROUTES if f"| `{r.method}` | `/api/v1{r.path}` |" not in page]
    assert missing == []
    assert "0600" in page and "Authorization: Bearer" in page


def test_sets_trash_paused_and_grids_over_rest(api, home):
    url, token = api
    http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60)  # a loaded machine is slow
    listing = http.get(f"{url}/sets").json()
    assert {"card_deck", "tarot", "zodiac"} <= {row["name"] for row in listing}
    tarot = http.get(f"{url}/sets/tarot").json()
    assert tarot["example"] is True and len(tarot["rows"]) == 22 and "{" in tarot["template"]
    rows = [{"fruit": "pear", "seed": 1}, {"fruit": "plum", "seed": 2}, {"fruit": "fig", "seed": 3}]
    saved = http.put(f"{url}/sets/fruit", json={"rows": rows, "template": "a {fruit}",
                                                                 "style": "still life", "model": "instant:swatch"})
    assert saved.status_code == 200 and saved.json()["example"] is False and saved.json()["columns"] == ["fruit", "seed"]
    bad = http.put(f"{url}/sets/broken", json={"template": "a {fruit}"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "rows"
    order = http.post(f"{url}/sets/fruit/order", json={"theme": "oil paint"})
    assert order.status_code == 201, order.text
    order = order.json()
    assert order["generation_count"] == 3 and order["set_name"] == "fruit"
    for _ in range(200):
        if http.get(f"{url}/orders/{order['id']}").json()["status"] == "fulfilled":
            break
    prompts = http.post(f"{url}/sql", json={"query": "select prompt from gallery order by seed"}).json()
    assert [r[0] for r in prompts["rows"]] == ["oil paint, a pear, still life", "oil paint, a plum, still life",
                                               "oil paint, a fig, still life"]
    grid = http.get(f"{url}/orders/{order['id']}/grid", params={"x": "fruit"})
    assert grid.status_code == 200 and grid.headers["content-type"] == "image/png"
    info = json.loads(Image.open(io.BytesIO(grid.content)).text["imagen_nb"])
    assert info["grid"]["axes"]["x"] == {"name": "fruit", "values": ["pear", "plum", "fig"]}
    assert info["grid"]["order_id"] == order["id"] and len(info["grid"]["product_ids"]) == 3
    assert http.get(f"{url}/orders/{order['id']}/grid", params={"x": "nope"}).status_code == 400
    assert http.get(f"{url}/paused").json() == {"paused": None}
    # an example set cannot be deleted, and the answer says so; a saved one can
    refused = http.delete(f"{url}/sets/tarot")
    assert refused.status_code == 404 and "example set" in refused.json()["error"]["message"]
    assert http.delete(f"{url}/sets/fruit").json() == {"deleted": "fruit"}
    # delete and restore a product; a stray file in the trash is listed, then emptied
    gallery = http.get(f"{url}/gallery").json()
    product_id = gallery["items"][0]["product_id"]
    assert http.delete(f"{url}/products/{product_id}").json() == {"deleted": 1}
    assert http.get(f"{url}/gallery").json()["total"] == gallery["total"] - 1
    assert http.post(f"{url}/products/{product_id}/restore").json() == {"restored": 1}
    assert http.get(f"{url}/gallery").json()["total"] == gallery["total"]
    (home / "trash").mkdir(exist_ok=True)
    (home / "trash" / "stray.png").write_bytes(b"\x89PNG stray")
    trash = http.get(f"{url}/trash").json()
    assert [(t["path"].endswith("stray.png"), t["size"]) for t in trash] == [(True, 10)]
    assert http.post(f"{url}/trash/empty").json() == {"deleted": 1}
    assert http.get(f"{url}/trash").json() == []


def test_training_over_rest_starts_lists_follows_cancels_and_resumes(api):
    """A LoRA trained through the REST API as a script would: start, follow, cancel, resume, metrics."""
    url, token = api
    http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def until(run_id, *statuses):
        for _ in range(3000):
            row = http.get(f"{url}/training/{run_id}").json()
            if row["status"] in statuses:
                return row
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} stayed {row['status']}")

    order = http.post(f"{url}/orders", json={"model": "diffusers:tiny", "params": {
        "prompt": "a [red,blue] [cat,dog]", "seed": 5, "num_inference_steps": 2}}).json()
    for _ in range(600):
        if http.get(f"{url}/orders/{order['id']}").json()["status"] == "fulfilled":
            break
        time.sleep(0.1)
    sql = "select product_id from gallery where model = 'diffusers:tiny'"
    args = {"sql": sql, "resolution": 64, "batch_size": 2, "rank": 4, "alpha": 4, "seed": 3, "caption_dropout": 0}
    refused = http.post(f"{url}/training", json={"name": "bad", "learning_rat": 1e-4, **args})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "learning_rat"
    assert "learning_rate" in refused.json()["error"]["message"]
    refused = http.post(f"{url}/training", json={"name": "bad", "aspect": "squash", **args})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "aspect"
    assert http.post(f"{url}/training", json={"steps": 3}).json()["error"]["param"] == "name"
    check = http.post(f"{url}/training/check", json={"name": "cats", "trigger": "inky", **args}).json()
    assert check["count"] == 4 and all(r["caption"].startswith("inky, ") for r in check["dataset"])
    assert {(r["target_width"], r["target_height"]) for r in check["dataset"]} == {(64, 64)}
    assert http.get(f"{url}/training").json() == []  # a check starts nothing

    started = http.post(f"{url}/training", json={"name": "cats", "steps": 4, "checkpoint_every": 2, **args})
    assert started.status_code == 201, started.text
    run = started.json()
    assert run["name"] == "cats" and run["total_steps"] == 4 and len(run["dataset"]) == 4
    done = until(run["id"], "completed", "failed")
    assert done["status"] == "completed" and done["step"] == 4 and isinstance(done["loss"], float)
    assert http.get(f"{url}/training/cats").json()["id"] == run["id"]  # by LoRA name too
    metrics = http.get(f"{url}/training/{run['id']}/metrics").json()
    assert [m["step"] for m in metrics] == [1, 2, 3, 4] and metrics[-1]["loss"] == done["loss"]
    assert [c["step"] for c in http.get(f"{url}/training/{run['id']}/checkpoints").json()] == [2]
    listing = http.get(f"{url}/training").json()
    assert [(r["name"], r["status"]) for r in listing] == [("cats", "completed")]
    refused = http.post(f"{url}/training/{run['id']}/resume")
    assert refused.status_code == 400 and "completed" in refused.json()["error"]["message"]
    assert http.get(f"{url}/training/nope").status_code == 404

    long = http.post(f"{url}/training", json={"name": "long", "steps": 400, "checkpoint_every": 0, **args}).json()
    for _ in range(3000):
        if http.get(f"{url}/training/{long['id']}").json()["step"] >= 1:
            break
        time.sleep(0.1)
    assert http.post(f"{url}/training/{long['id']}/cancel").json() == {"id": long["id"], "cancelled": True}
    resumed = http.post(f"{url}/training/{long['id']}/resume")  # waits for the cancelled run to stop
    assert resumed.status_code == 200, resumed.text
    stopped_at = http.get(f"{url}/training/{long['id']}/checkpoints").json()[-1]["step"]
    assert 1 <= stopped_at < 400
    for _ in range(3000):
        if http.get(f"{url}/training/{long['id']}").json()["step"] > stopped_at:
            break
        time.sleep(0.1)
    assert http.post(f"{url}/training/{long['id']}/cancel").json()["cancelled"] is True
    row = until(long["id"], "cancelled")
    steps = [m["step"] for m in http.get(f"{url}/training/{long['id']}/metrics").json()]
    assert steps == list(range(1, row["step"] + 1)) and row["step"] > stopped_at  # it went on from where it stopped


# -- civitai imports (issue 17) --------------------------------------------------------------------
CIVITAI_TOKEN = "rest-civitai-token-0a1b2c3d4e"


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl command is not installed")
def test_curl_imports_from_civitai_follows_cancels_and_resumes(home, make_host, monkeypatch, tmp_path):
    """POST /models starts a download in the host (202, Location); GET /downloads/{id} follows it, a cancel
    stops it with its part kept, the next POST resumes it, and ModelDownload events come on the stream."""
    import sys
    import urllib.parse
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))
    from civitai_server import CivitaiServer, ServerFile

    from imagen_nb.providers.keys import KeyStore

    air = "urn:air:sd1:lora:civitai:990@9900"
    data = b"rest lora " * 200_000
    with CivitaiServer(CIVITAI_TOKEN) as server:
        server.add(990, 9900, name="Big style", files=[ServerFile(9900, "bigStyle.safetensors", data)])
        server.add(328553, 368189, name="Tarot cards", files=[ServerFile(1, "tarotCards_v10.safetensors", b"lora")])
        server.fault("GET", r"/files/9900", "slow", server="storage", pace=0.02)  # about 2.5 s in all
        monkeypatch.delenv("CIVITAI_API_TOKEN", raising=False)
        monkeypatch.setenv("CIVITAI_SITE_URL", server.url)
        host = make_host(home)
        try:
            token = (home / TOKEN_FILE).read_text().strip()
            api = (host_info(home).url + "/api/v1", token)

            code, text = curl(api, "POST", "/models", {"ref": air})  # no civitai token: says how to set one
            error = json.loads(text)["error"]
            assert code == 400 and error["type"] == "MissingKey" and "imagen-nb keys set civitai" in error["message"]
            KeyStore(home).set("civitai", CIVITAI_TOKEN)  # as `imagen-nb keys set civitai` does; read per call
            code, text = curl(api, "POST", "/models", {"ref": air, "nme": "x"})
            assert code == 400 and "Did you mean 'name'" in json.loads(text)["error"]["message"]
            code, text = curl(api, "POST", "/models", {"ref": "civitai:424242"})
            assert code == 404 and "civitai has no version 424242" in json.loads(text)["error"]["message"]
            code, text = curl(api, "POST", "/models", {"ref": str(home)})
            assert code == 400 and "imagen-nb models add PATH" in json.loads(text)["error"]["message"]

            headers = tmp_path / "headers.txt"
            code, text = curl(api, "POST", "/models", {"ref": air, "for_model": "diffusers:tiny"}, "-D", str(headers))
            assert code == 202, text
            started = json.loads(text)
            assert started["ref"] == air and started["state"] in ("starting", "downloading")
            assert started["total"] == len(data) and started["file_name"] == "bigStyle.safetensors"
            location = next(line.split(":", 1)[1].strip() for line in headers.read_text().splitlines()
                            if line.lower().startswith("location:"))
            assert location == f"/api/v1/downloads/{started['id']}"
            code, text = curl(api, "POST", "/models", {"ref": air})
            assert code == 409 and "being downloaded already" in json.loads(text)["error"]["message"]
            for _ in range(600):
                code, text = curl(api, "GET", f"/downloads/{started['id']}")
                row = json.loads(text)
                if row["done"] > 0:
                    break
                time.sleep(0.05)
            assert code == 200 and row["state"] == "downloading" and 0 < row["fraction"] < 1
            code, text = curl(api, "GET", "/downloads/" + urllib.parse.quote(air, safe=""))  # by its reference too
            assert code == 200 and json.loads(text)["id"] == started["id"]
            code, text = curl(api, "GET", "/downloads")
            listing = [(r["ref"], r["state"], bool(r["error"])) for r in json.loads(text)]
            assert listing == [(air, "downloading", False), ("civitai:424242", "failed", True)]  # running first

            code, text = curl(api, "POST", f"/downloads/{started['id']}/cancel")
            row = json.loads(text)
            assert code == 200 and row["cancelled"] is True and row["state"] == "cancelled"
            assert "resumes it" in row["error"] and row["result"] is None
            part = home / "loras" / ".bigStyle.safetensors.part"
            kept = part.stat().st_size
            assert 0 < kept < len(data) and not (home / "loras" / "bigStyle.safetensors").exists()
            code, text = curl(api, "POST", f"/downloads/{started['id']}/cancel")
            assert code == 200 and json.loads(text)["cancelled"] is False
            assert curl(api, "GET", "/downloads/0123456789ab")[0] == 404

            # the same reference again resumes the part; its progress comes on the event stream too
            url, _ = api
            seen = []
            with httpx.stream("GET", f"{url}/events", headers={"Authorization": f"Bearer {token}"},
                              timeout=60) as stream:
                lines = stream.iter_lines()
                assert next(lines) == "event: hello"
                code, text = curl(api, "POST", "/models", {"ref": air})
                assert code == 202, text
                kind = None
                for line in lines:
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:") and kind == "ModelDownload":
                        seen.append(json.loads(line[5:]))
                        if seen[-1]["state"] != "downloading":
                            break
            assert seen[-1]["state"] == "done" and seen[-1]["done"] == len(data) and seen[-1]["ref"] == air
            code, text = curl(api, "GET", f"/downloads/{started['id']}")
            row = json.loads(text)
            assert (row["state"], row["result"], row["fraction"], row["error"]) == ("done", "bigStyle", 1.0, None)
            assert (home / "loras" / "bigStyle.safetensors").read_bytes() == data and not part.exists()
            tries = server.hits("GET", r"/files/9900", server="storage")
            assert len(tries) == 2 and tries[1].headers["range"] == f"bytes={kept}-"

            # a version URL holds '/', ':' and '?': URL-encoded, it names its download
            page = f"{server.url}/models/328553?modelVersionId=368189"
            code, text = curl(api, "POST", "/models", {"ref": page})
            assert code == 202, text
            for _ in range(600):
                code, text = curl(api, "GET", "/downloads/" + urllib.parse.quote(page, safe=""))
                if json.loads(text)["state"] not in ("starting", "downloading"):
                    break
                time.sleep(0.05)
            assert (code, json.loads(text)["result"]) == (200, "tarotCards_v10")
            listing = json.loads(curl(api, "GET", "/downloads")[1])
            assert [r["ref"] for r in listing] == [page, air, "civitai:424242"]  # newest first
        finally:
            host.stop()
