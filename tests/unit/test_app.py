from __future__ import annotations

import csv
import io
import json

import pytest

from alsreco.core.artifact import METADATA
from alsreco.core.errors import UserError
from alsreco.core.settings import Settings, default_workers
from alsreco.serve import gunicorn, nginx
from alsreco.serve.app import create_app
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


def test_ping_503_without_model_and_for_an_incomplete_one(tmp_path):
    """The app loads the model once (in the gunicorn master); a model that appears later is
    picked up by `serve` restarting gunicorn (tests/integration/test_serve_process.py)."""
    model_dir = tmp_path / "model"
    client = create_app(model_dir, SETTINGS).test_client()
    assert_error(client.get("/ping"), 503, "no model directory")
    assert_error(post(client, {"customer_id": "17850"}), 503, "no model directory")
    write_synthetic(model_dir)
    (model_dir / METADATA).unlink()
    assert_error(create_app(model_dir, SETTINGS).test_client().get("/ping"), 503, "incomplete", METADATA)
    write_synthetic(model_dir)
    client = create_app(model_dir, SETTINGS).test_client()
    assert client.get("/ping").status_code == 200
    assert post(client, {"customer_id": "17850"}).status_code == 200


def test_ping_503_for_an_inconsistent_model(tmp_path):
    model_dir = write_synthetic(tmp_path / "model")
    (model_dir / "item_factors.npy").write_bytes(b"garbage")
    assert_error(create_app(model_dir, SETTINGS).test_client().get("/ping"), 503, "item_factors")


def test_create_app_takes_the_model_dir_from_its_settings_not_the_environment(tmp_path, monkeypatch):
    write_synthetic(tmp_path / "model")
    client = create_app(settings=Settings(base_dir=tmp_path, workers=5)).test_client()
    assert client.get("/ping").status_code == 200
    assert client.get("/execution-parameters").get_json()["MaxConcurrentTransforms"] == 5
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))  # only Settings.from_env() reads it
    monkeypatch.setenv("MODEL_SERVER_WORKERS", "5")
    app = create_app()
    assert app.extensions["alsreco.model"].model_dir == Settings().base_dir / "model"
    assert app.extensions["alsreco.settings"] == Settings()


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
    assert_error(post(client, b"\xff\x00", "text/csv"), 400, "not valid utf-8")
    assert_error(post(client, {"customer_ids": list(range(10_001))}), 413, "too many customers")
    assert_error(client.get("/invocations"), 405)
    assert_error(client.get("/nope"), 404)


def test_body_over_the_limit_is_413(client):
    resp = post(client, b" " * (6 * 1024 * 1024 + 1), "application/json")
    assert_error(resp, 413, "6 MB")
    big = create_app(client.application.extensions["alsreco.model"].model_dir,
                     Settings(max_payload_mb=8)).test_client()
    assert post(big, b'"17850"' + b" " * (7 * 1024 * 1024)).status_code == 200


def test_batch_mode_lifts_the_customer_cap_and_answers_line_for_line(model_dir):
    ids = [f"c{i}" if i % 3 else "17850" for i in range(12_000)]
    body = "\n".join(json.dumps({"customer_id": c, "k": 1}) for c in ids) + "\n"
    batch = create_app(model_dir, Settings(batch=True)).test_client()
    resp = post(batch, body, "application/jsonlines", "application/jsonlines")
    assert resp.status_code == 200, resp.data[:300]
    text = resp.get_data(as_text=True)
    assert not text.endswith("\n")  # AssembleWith=Line adds one newline per response: no blank lines
    out = text.split("\n")
    assert len(out) == 12_000
    assert [json.loads(line)["customer_id"] for line in out] == ids
    real_time = create_app(model_dir, Settings(batch=False)).test_client()
    assert_error(post(real_time, body, "application/jsonlines"), 413, "12000 > 10000")


@pytest.mark.parametrize("accept", ["application/jsonlines", "text/csv"])
def test_text_responses_have_one_line_per_record_and_no_trailing_newline(client, accept):
    resp = post(client, "17850\n16098\nnobody\n", "text/csv", accept)
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert not text.endswith("\n")
    lines = text.split("\n")
    if accept == "application/jsonlines":
        assert [json.loads(x)["customer_id"] for x in lines] == ["17850", "16098", "nobody"]
    else:
        assert lines[0] == "customer_id,rank,product_id,score,reason,recommendation_id" and len(lines) == 1 + 3 * 5


def test_execution_parameters_report_the_payload_setting(model_dir):
    client = create_app(model_dir, Settings(workers=2, max_payload_mb=20)).test_client()
    assert client.get("/execution-parameters").get_json() == {
        "MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 20}


def test_error_responses_carry_the_model_version_once_a_model_is_loaded(client, tmp_path):
    resp = post(client, {"customer_id": "1", "k": 0})
    assert resp.status_code == 400 and resp.headers["X-Model-Version"] == VERSION
    assert client.get("/nope").headers["X-Model-Version"] == VERSION
    empty = create_app(tmp_path / "no-model", SETTINGS).test_client()
    assert "X-Model-Version" not in post(empty, {"customer_id": "1"}).headers


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
    assert d.port == 8080 and d.timeout == 60 and d.workers == default_workers(1) and d.threads == 1
    assert default_workers(1, cpus=2) == 3 and default_workers(4, cpus=2) == 2  # sync: a spare for big requests
    b = Settings.from_env({"SAGEMAKER_BATCH": "true"})
    assert b.threads == 4 and b.workers == default_workers(4)  # = MaxConcurrentTransforms
    with pytest.raises(UserError, match="MODEL_SERVER_WORKERS"):
        Settings.from_env({"MODEL_SERVER_WORKERS": "many"})
    with pytest.raises(UserError, match="MODEL_SERVER_WORKERS"):
        Settings.from_env({"MODEL_SERVER_WORKERS": "0"})


def test_nginx_conf_timeouts_limits_and_paths(tmp_path, monkeypatch):
    conf = nginx.nginx_conf(Settings(port=9001, timeout=90, max_payload_mb=12), tmp_path, tmp_path / "g.sock")
    assert "listen 0.0.0.0:9001;" in conf and "client_max_body_size 12m;" in conf
    assert "proxy_read_timeout 100s;" in conf and f"server unix:{tmp_path}/g.sock;" in conf
    assert f"pid {tmp_path}/nginx.pid;" in conf and "daemon off;" in conf
    assert "error_page 413 /__alsreco_errors/413.json;" in conf and "error_page 494 =431 " in conf
    assert json.loads(nginx.error_bodies(Settings(max_payload_mb=12))["413.json"]) == {
        "error": "request body is larger than 12 MB", "status": 413}
    # the SIGTERM budget fits SageMaker's 30 s: nginx drains, then gunicorn, inside serve's deadline
    s = Settings()
    assert f"worker_shutdown_timeout {s.drain_seconds}s;" in conf
    assert s.drain_seconds + s.graceful_timeout <= s.stop_seconds < 30
    monkeypatch.setattr(nginx.os, "geteuid", lambda: 12345)
    assert "user " not in nginx.nginx_conf(Settings(), tmp_path, tmp_path / "g.sock")
    opts = gunicorn.gunicorn_options(Settings(workers=2, timeout=30), tmp_path / "g.sock")
    assert opts["preload_app"] is True and opts["workers"] == 2 and opts["timeout"] == 30
    # real-time: sync workers (one request each; /ping does not need a worker, nginx serves it)
    assert opts["worker_class"] == "sync" and opts["threads"] == Settings().threads == 1
    batch = Settings.from_env({"SAGEMAKER_BATCH": "true"})  # streamed responses: gthread keeps the heartbeat
    assert batch.threads == 4 and gunicorn.worker_class(batch) == "gthread"
    assert gunicorn.worker_class(Settings.from_env({"MODEL_SERVER_THREADS": "3"})) == "gthread"
    assert Settings.from_env({"SAGEMAKER_BATCH": "true", "MODEL_SERVER_THREADS": "1"}).threads == 1
    assert "try_files /ping.json @app;" in conf and f"root {tmp_path}/health;" in conf
    assert opts["bind"] == f"unix:{tmp_path}/g.sock"
    assert opts["accesslog"] is None  # the app logs one line per request itself


def test_endpoint_type_settings_and_one_blas_thread_per_worker():
    serverless = Settings.from_env({"ALSRECO_ENDPOINT_TYPE": "Serverless"})
    assert (serverless.endpoint_type, serverless.workers, serverless.threads) == ("serverless", 1, 1)
    asynchronous = Settings.from_env({"ALSRECO_ENDPOINT_TYPE": "async"})
    assert asynchronous.bulk and asynchronous.threads == 4 and asynchronous.timeout == 900
    assert gunicorn.worker_class(asynchronous) == "gthread"  # long streamed answers keep the heartbeat
    assert Settings.from_env({"ALSRECO_ENDPOINT_TYPE": "async", "MODEL_SERVER_TIMEOUT": "3600"}).timeout == 3600
    realtime = Settings.from_env({})
    assert not realtime.bulk and realtime.endpoint_type == "realtime" and Settings(batch=True).bulk
    assert gunicorn.worker_env(realtime) == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                             "MKL_NUM_THREADS": "1"}
    assert gunicorn.worker_env(Settings.from_env({"ALSRECO_BLAS_THREADS": "2"}))["OPENBLAS_NUM_THREADS"] == "2"
    with pytest.raises(UserError, match="ALSRECO_MAX_RESPONSE_MB"):
        Settings.from_env({"ALSRECO_MAX_RESPONSE_MB": "-1"})
