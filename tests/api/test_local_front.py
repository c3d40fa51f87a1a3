"""The local API Gateway / S3 stand-ins (real HTTP on 127.0.0.1) and the catalogue builder."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
import requests

from api.catalogue import build
from api.catalogue import main as catalogue_main
from api.local_front import api_server, config_js, page_server, to_event
from tests.api.conftest import BASE_EVENT

REPO = Path(__file__).resolve().parents[2]


def test_events_have_the_documented_proxy_shape():
    event = to_event("POST", "/recommendations?debug=1&debug=2", {"Content-Type": "application/json"}, b'{"k":1}')
    assert set(BASE_EVENT) <= set(event)
    assert set(BASE_EVENT["requestContext"]) - {"principalOrgId"} <= set(event["requestContext"]) | {"identity"}
    assert event["queryStringParameters"] == {"debug": "2"}
    assert event["multiValueQueryStringParameters"] == {"debug": ["1", "2"]}
    assert (event["body"], event["isBase64Encoded"]) == ('{"k":1}', False)
    binary = to_event("POST", "/x", {}, b"\xff\x00")
    assert binary["isBase64Encoded"] and base64.b64decode(binary["body"]) == b"\xff\x00"
    assert to_event("GET", "/x", {}, b"")["body"] is None


def test_api_server_round_trips_events_and_proxy_results():
    seen = []

    def fake(event, context):
        seen.append((event, context.aws_request_id))
        return {"statusCode": 201, "headers": {"X-Test": "yes"},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
                "body": base64.b64encode(b"\x00binary").decode(), "isBase64Encoded": True}

    server = api_server(fake)
    try:
        resp = requests.post(f"http://127.0.0.1:{server.server_port}/recommendations", data=b"\xfe\xff",
                             headers={"Origin": "http://x"}, timeout=10)
    finally:
        server.shutdown()
    assert (resp.status_code, resp.content, resp.headers["X-Test"]) == (201, b"\x00binary", "yes")
    event, request_id = seen[0]
    assert event["httpMethod"] == "POST" and event["headers"]["Origin"] == "http://x"
    assert event["isBase64Encoded"] and base64.b64decode(event["body"]) == b"\xfe\xff"
    assert request_id


def test_page_server_serves_web_with_overrides_and_nothing_outside():
    server = page_server(REPO / "web", overrides={"config.js": config_js("http://127.0.0.1:9/"),
                                                  "catalogue.json": b"{}"},
                         headers={"Content-Security-Policy": "default-src 'none'"})
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        index = requests.get(base + "/", timeout=10)
        config = requests.get(base + "/config.js", timeout=10).text
        escape = requests.get(base + "/../api/handler.py", timeout=10)
        css = requests.get(base + "/style.css", timeout=10)
    finally:
        server.shutdown()
    assert index.status_code == 200 and "Your visit" in index.text
    assert index.headers["Content-Security-Policy"] == "default-src 'none'"
    assert '"apiBase": "http://127.0.0.1:9"' in config and '"signIn"' not in config
    assert escape.status_code == 404
    assert css.headers["Content-Type"].startswith("text/css")


def test_the_page_loads_nothing_from_other_hosts_and_runs_no_inline_script():
    for name in ("index.html", "app.js", "auth.js", "events.js", "style.css"):
        text = (REPO / "web" / name).read_text()
        assert "//cdn" not in text and "https://" not in text and "@import" not in text, name
        assert "eval(" not in text and "new Function" not in text and "innerHTML" not in text, name
    html = (REPO / "web" / "index.html").read_text()
    assert re.findall(r"<script[^>]*>", html) == ['<script src="config.js">', '<script src="auth.js" defer>',
                                                  '<script src="events.js" defer>', '<script src="app.js" defer>']
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html)            # no onclick=... handlers
    assert "style=" not in html


@pytest.fixture
def tiny_model(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    np.save(model / "product_ids.npy", np.array(["A1", "B2", "C3"]))
    np.save(model / "product_names.npy", np.array(["RED MUG", "BLUE MUG", ""]))
    np.save(model / "product_popularity.npy", np.array([5, 9, 5], dtype=np.int32))
    np.save(model / "new_products.npy", np.array([2], dtype=np.int32))
    np.save(model / "customer_ids.npy", np.array(["c1", "c2", "c3"]))
    np.savez(model / "purchases.npz", indptr=np.array([0, 1, 4, 6]), indices=np.array([0, 0, 1, 2, 1, 2]),
             data=np.ones(6, dtype=np.float32), shape=np.array([3, 3]))
    (model / "metadata.json").write_text(json.dumps({"model_version": "v1"}))
    return model


def test_catalogue_lists_best_sellers_first_and_no_customer(tiny_model, tmp_path):
    cat = build(tiny_model)
    assert set(cat) == {"model_version", "products"}
    assert cat["model_version"] == "v1"
    assert [p["id"] for p in cat["products"]] == ["B2", "A1", "C3"]
    assert cat["products"][2] == {"id": "C3", "name": "", "popularity": 5, "new": True}
    assert not {"c1", "c2", "c3"} & set(json.dumps(cat).replace('"', " ").split())
    out = tmp_path / "catalogue.json"
    assert catalogue_main([str(tiny_model), str(out)]) == 0
    assert json.loads(out.read_text()) == build(tiny_model)


def test_catalogue_refuses_an_incomplete_model(tiny_model):
    (tiny_model / "metadata.json").unlink()
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        build(tiny_model)
