from __future__ import annotations

import csv
import io
import json

import pytest

from alsreco import server
from alsreco.app import create_app
from alsreco.artifact import METADATA
from alsreco.server import Settings
from tests.unit.conftest import A_PRODUCTS, VERSION, write_synthetic

SETTINGS = Settings(workers=3)


@pytest.fixture
def client(model_dir):
    return create_app(model_dir, SETTINGS).test_client()


def post(client, body, ctype="application/json", accept=None, path="/invocations"):
    headers = {"Accept": accept} if accept else {}
    data = json.dumps(body) if not isinstance(body, (str, bytes)) else body
    return client.post(path, data=data, content_type=ctype, headers=headers)


def assert_error(resp, code, *words):
    assert resp.status_code == code, resp.data
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["status"] == code and isinstance(body["error"], str)
    for w in words:
        assert w in body["error"], body["error"]


# ----------------------------------------------------------------- ping
def test_ping_ok_with_model(client):
    resp = client.get("/ping")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok", "model_version": VERSION}


def test_ping_503_without_model_then_picks_it_up(tmp_path):
    model_dir = tmp_path / "model"
    app = create_app(model_dir, SETTINGS)
    client = app.test_client()
    assert_error(client.get("/ping"), 503, "no model directory")
    assert_error(post(client, {"customer_id": "17850"}), 503)
    write_synthetic(model_dir)
    (model_dir / METADATA).unlink()
    app.extensions["alsreco.model"].retry_seconds = 0
    assert_error(client.get("/ping"), 503, "incomplete", METADATA)
    write_synthetic(model_dir)
    assert client.get("/ping").status_code == 200
    assert post(client, {"customer_id": "17850"}).status_code == 200


def test_ping_503_for_an_inconsistent_model(tmp_path):
    model_dir = write_synthetic(tmp_path / "model")
    (model_dir / "item_factors.npy").write_bytes(b"garbage")
    assert_error(create_app(model_dir, SETTINGS).test_client().get("/ping"), 503, "item_factors")


def test_create_app_reads_the_model_dir_from_the_environment(tmp_path, monkeypatch):
    write_synthetic(tmp_path / "model")
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    monkeypatch.setenv("MODEL_SERVER_WORKERS", "5")
    client = create_app().test_client()
    assert client.get("/ping").status_code == 200
    assert client.get("/execution-parameters").get_json()["MaxConcurrentTransforms"] == 5


# ----------------------------------------------------------------- invocations
def test_json_request(client):
    resp = post(client, {"customer_id": 17850, "k": 3, "include_items": ["22960", "NOPE"]})
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["X-Model-Version"] == VERSION
    doc = resp.get_json()
    assert doc["model_version"] == VERSION
    [pred] = doc["predictions"]
    assert pred["customer_id"] == "17850" and pred["known"] is True and pred["unknown_items"] == ["NOPE"]
    assert [r["reason"] for r in pred["recommendations"]] == ["forced", "model", "model"]
    assert pred["recommendations"][1] == {"product_id": "84406B", "score": 0.96, "reason": "model",
                                          "name": "PRODUCT 84406B"}


def test_json_many_customers_in_order(client):
    doc = post(client, {"customer_ids": ["16098", "nobody", 17850], "k": 2}).get_json()
    assert [p["customer_id"] for p in doc["predictions"]] == ["16098", "nobody", "17850"]
    assert [p["known"] for p in doc["predictions"]] == [True, False, True]
    assert doc["predictions"][1]["recommendations"][0]["reason"] == "popular"


def test_instances_envelope_and_cold_start_basket(client):
    doc = post(client, {"instances": [{"items": ["84029E", "22752"], "k": 4}, {"customer_id": "x"}]}).get_json()
    basket, unknown = doc["predictions"]
    assert basket["customer_id"] is None and basket["known"] is False
    assert {r["product_id"] for r in basket["recommendations"]} <= set(A_PRODUCTS) - {"84029E", "22752"}
    assert {r["reason"] for r in unknown["recommendations"]} == {"popular"}


def test_sagemaker_runtime_path(client):
    resp = post(client, "17850\n", "text/csv", path="/endpoints/my-endpoint/invocations")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"


def test_jsonlines_request_with_a_bad_line(client):
    body = '{"customer_id": "17850", "k": 2}\n{"customer_id": \n"16098"\n'
    resp = post(client, body, "application/jsonlines")
    assert resp.status_code == 200 and resp.mimetype == "application/jsonlines"
    lines = [json.loads(x) for x in resp.get_data(as_text=True).splitlines()]
    assert len(lines) == 3
    assert lines[0]["customer_id"] == "17850" and len(lines[0]["recommendations"]) == 2
    assert list(lines[1]) == ["error"] and lines[1]["error"].startswith("line 2")
    assert lines[2]["customer_id"] == "16098" and lines[2]["model_version"] == VERSION


def test_csv_request_and_response(client):
    resp = post(client, "customer_id,k\n17850,2\nnobody,1\n", "text/csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [(r["customer_id"], r["rank"], r["reason"]) for r in rows] == [
        ("17850", "1", "model"), ("17850", "2", "model"), ("nobody", "1", "popular")]
    assert float(rows[0]["score"]) == 0.96 and rows[0]["product_id"] == "84406B"


@pytest.mark.parametrize("ctype, body", [
    ("application/json", '{"customer_ids": ["17850", "16098"]}'),
    ("application/jsonlines", '"17850"\n"16098"\n'),
    ("text/csv", "17850\n16098\n"),
])
@pytest.mark.parametrize("accept", ["application/json", "application/jsonlines", "text/csv", "*/*", None])
def test_every_content_type_with_every_accept(client, ctype, body, accept):
    resp = post(client, body, ctype, accept)
    assert resp.status_code == 200
    want = ctype if accept in (None, "*/*") else accept
    assert resp.mimetype == want
    text = resp.get_data(as_text=True)
    if want == "application/json":
        got = [p["customer_id"] for p in json.loads(text)["predictions"]]
    elif want == "application/jsonlines":
        got = [json.loads(x)["customer_id"] for x in text.splitlines()]
    else:
        got = list(dict.fromkeys(r["customer_id"] for r in csv.DictReader(io.StringIO(text))))
    assert got == ["17850", "16098"]


def test_csv_accept_with_bad_records_is_400(client):
    assert_error(post(client, "17850,0\n", "text/csv"), 400, "line 1", "k")


def test_client_errors(client):
    assert_error(post(client, "17850", "text/plain"), 415, "text/plain")
    assert_error(client.post("/invocations", data=b"17850"), 415, "missing")
    assert_error(post(client, {"customer_id": "1"}, accept="text/html"), 406, "text/html")
    assert_error(post(client, {"customer_id": "1", "k": 0}), 400, "k must be")
    assert_error(post(client, '{"customer_id": ', "application/json"), 400, "not valid JSON")
    assert_error(post(client, b"\xff\x00", "text/csv"), 400, "UTF-8")
    assert_error(post(client, {"customer_ids": list(range(10_001))}), 413, "too many customers")
    assert_error(client.get("/invocations"), 405)
    assert_error(client.get("/nope"), 404)


def test_body_over_the_limit_is_413(client):
    resp = post(client, b" " * (6 * 1024 * 1024 + 1), "application/json")
    assert_error(resp, 413, "6 MB")
    big = create_app(client.application.extensions["alsreco.model"].model_dir,
                     Settings(max_payload_mb=8)).test_client()
    assert post(big, b'"17850"' + b" " * (7 * 1024 * 1024)).status_code == 200


def test_unexpected_errors_are_json_500(client, monkeypatch):
    rec = client.application.extensions["alsreco.model"].recommender
    monkeypatch.setattr(rec, "recommend_many", lambda reqs: 1 / 0)
    assert_error(post(client, {"customer_id": "1"}), 500, "ZeroDivisionError")


# ----------------------------------------------------------------- other routes
def test_execution_parameters(client):
    assert client.get("/execution-parameters").get_json() == {
        "MaxConcurrentTransforms": 3, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}


def test_openapi_document_is_served_and_valid(client):
    import openapi_spec_validator as validator
    import yaml

    text = client.get("/openapi.yaml").get_data(as_text=True)
    doc = yaml.safe_load(text)
    validator.validate(doc)
    assert {"/ping", "/invocations", "/execution-parameters", "/endpoints/{name}/invocations"} <= set(doc["paths"])
    assert client.get("/openapi.json").get_json() == doc


# ----------------------------------------------------------------- settings / nginx config
def test_settings_from_env():
    s = Settings.from_env({"SAGEMAKER_BIND_TO_PORT": "9000", "MODEL_SERVER_WORKERS": "4",
                           "MODEL_SERVER_TIMEOUT": "120", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "3"})
    assert (s.port, s.workers, s.timeout, s.max_payload_mb) == (9000, 4, 120, 6)
    assert Settings.from_env({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "20"}).max_body_bytes == 20 * 1024 * 1024
    d = Settings.from_env({})
    assert d.port == 8080 and d.timeout == 60 and d.workers >= 1
    with pytest.raises(SystemExit, match="MODEL_SERVER_WORKERS"):
        Settings.from_env({"MODEL_SERVER_WORKERS": "many"})
    with pytest.raises(SystemExit, match="MODEL_SERVER_WORKERS"):
        Settings.from_env({"MODEL_SERVER_WORKERS": "0"})


def test_nginx_conf_timeouts_limits_and_paths(tmp_path, monkeypatch):
    conf = server.nginx_conf(Settings(port=9001, timeout=90, max_payload_mb=12), tmp_path, tmp_path / "g.sock")
    assert "listen 0.0.0.0:9001;" in conf and "client_max_body_size 12m;" in conf
    assert "proxy_read_timeout 100s;" in conf and f"server unix:{tmp_path}/g.sock;" in conf
    assert f"pid {tmp_path}/nginx.pid;" in conf and "daemon off;" in conf
    assert "return 413 '{\"error\"" in conf
    monkeypatch.setattr(server.os, "geteuid", lambda: 12345)
    assert "user " not in server.nginx_conf(Settings(), tmp_path, tmp_path / "g.sock")
    opts = server.gunicorn_options(Settings(workers=2, timeout=30), tmp_path / "g.sock")
    assert opts["preload_app"] is True and opts["workers"] == 2 and opts["timeout"] == 30
