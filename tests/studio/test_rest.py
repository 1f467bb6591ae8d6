"""The REST API of a host, as curl and other tools see it, checked against its OpenAPI document."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest

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


def test_every_documented_route_answers_as_documented(api):
    url, token = api
    auth = {"Authorization": f"Bearer {token}"}
    doc = httpx.get(f"{url}/openapi.json", headers=auth).json()
    assert doc["openapi"].startswith("3.") and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert {(r.method, "/api/v1" + r.path) for r in ROUTES} <= documented
    # a product and an order to fill the path parameters with
    order = httpx.post(f"{url}/orders", headers=auth, json={"model": "instant:swatch", "params": {"prompt": "x"}}).json()
    for _ in range(100):
        if httpx.get(f"{url}/orders/{order['id']}", headers=auth).json()["status"] == "fulfilled":
            break
    gens = httpx.get(f"{url}/orders/{order['id']}/generations", headers=auth).json()
    product_id = gens[0]["product_id"]
    values = {"order_id": order["id"], "generation_id": gens[0]["id"], "product_id": product_id,
              "model_id": "instant:swatch", "name": "animal"}
    bodies = {"PUT /tokens/{name}": {"values": ["cat"]}, "PUT /presets/{name}": {"params": {"width": 32}},
              "POST /projects": {"name": "p"}, "POST /sql": {"query": "select 1 as one"},
              "POST /collections/{name}/products": {"products": [product_id]},
              "PUT /products/{product_id}/rating": {"rating": 2},
              "POST /orders": {"model": "instant:swatch", "params": {"prompt": "y"}},
              "POST /upscale": {"products": [product_id], "model": "diffusers:tiny-esrgan", "scale": 1}}
    order_of_calls = sorted(ROUTES, key=lambda r: r.method == "DELETE")  # deletes last
    for route in order_of_calls:
        path = route.path
        for key, value in values.items():
            path = path.replace("{" + key + "}", value)
        op = doc["paths"]["/api/v1" + route.path][route.method.lower()]
        # 60 s: GET /health imports torch in the host to ask the device (seconds on a loaded machine)
        response = httpx.request(route.method, url + path, headers=auth,
                                 json=bodies.get(f"{route.method} {route.path}"), timeout=60)
        assert str(response.status_code) in op["responses"], (route.method, path, response.text)
        media = next(iter(op["responses"][str(response.status_code)]["content"]))
        if media == "application/json":
            response.json()
        else:
            assert response.headers["content-type"].startswith("image/")
        assert httpx.request(route.method, url + path).status_code == 401  # and never without the token


def test_events_stream_over_sse(api):
    url, token = api
    auth = {"Authorization": f"Bearer {token}"}
    seen = []
    with httpx.stream("GET", f"{url}/events", headers=auth, timeout=30) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: hello"
        httpx.post(f"{url}/orders", headers=auth, json={"model": "instant:swatch", "params": {"prompt": "sse", "num_inference_steps": 2}})
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
