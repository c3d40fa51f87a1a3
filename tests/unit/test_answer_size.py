"""Answers bounded by the endpoint type's size (serve/answer_size.py): estimated before scoring, checked
again after encoding; batch transform and async inference stream instead."""
from __future__ import annotations

import json

import pytest

from alsreco.core.recommender import Recommender
from alsreco.core.rules import Request
from alsreco.core.settings import Settings
from alsreco.serve import answer_size, codecs, invoke
from alsreco.serve.app import create_app
from alsreco.serve.codecs import arrays
from tests.unit.conftest import CUSTOMERS, make_model, random_model

MIB = 1024 * 1024


@pytest.mark.parametrize("kind", [codecs.JSON, codecs.JSONL, codecs.CSV])
@pytest.mark.parametrize("k", [1, 10, 40])
def test_the_estimate_is_close_above_the_real_size(kind, k):
    rec = Recommender(random_model(n_customers=200, n_products=300))
    requests = [Request(customer_id=str(c), k=k) for c in rec.model.customer_ids] + [Request(customer_id="x", k=k)]
    real = len(arrays.encode(invoke._results(rec, requests), kind, rec.version, rec).encode())
    estimate, recs = answer_size.estimate(rec, requests, kind)
    assert recs == k * len(requests)
    assert real <= estimate <= 1.25 * real, (real, estimate)


def _client(model_dir, **settings):
    return create_app(model_dir, Settings(**settings)).test_client()


def _no_scoring(app, monkeypatch):
    """Make any scoring fail loudly: a 413 must come before it."""
    rec = app.extensions["alsreco.model"].recommender
    for name in ("recommend_many", "ranker"):
        monkeypatch.setattr(rec, name, lambda *a, **kw: pytest.fail("scored a request that is too large"))
    return rec


def _body(n: int, k: int) -> str:
    return json.dumps({"customer_ids": [CUSTOMERS[i % len(CUSTOMERS)] for i in range(n)], "k": k})


def _sized(rec, lo_mb: float, hi_mb: float) -> str:
    """A request whose estimated answer is between lo and hi MB."""
    for n in range(100, 10_001, 100):
        size = answer_size.estimate(rec, [Request(customer_id="17850", k=24)] * n, codecs.JSON)[0]
        if lo_mb * MIB < size < hi_mb * MIB:
            return _body(n, 24)
    raise AssertionError("no request size in range")


def test_a_real_time_answer_over_6_mb_and_a_serverless_one_over_4_mb_are_413_before_scoring(model_dir, monkeypatch):
    five_mb = _sized(Recommender(make_model()), 4.3, 5.7)
    realtime = _client(model_dir)
    serverless = _client(model_dir, endpoint_type="serverless")
    assert realtime.post("/invocations", data=five_mb, content_type=codecs.JSON).status_code == 200
    _no_scoring(serverless.application, monkeypatch)
    resp = serverless.post("/invocations", data=five_mb, content_type=codecs.JSON)
    assert resp.status_code == 413, resp.data[:300]
    error = resp.get_json()["error"]
    assert "more than the 4 MB a serverless endpoint returns" in error
    assert "ALSRECO_MAX_RESPONSE_MB" in error and "batch transform" in error and "asynchronous inference" in error
    _no_scoring(realtime.application, monkeypatch)
    resp = realtime.post("/invocations", data=_body(8_000, 24), content_type=codecs.JSON)  # ~18 MB
    assert resp.status_code == 413 and "more than the 6 MB a real-time endpoint returns" in resp.get_json()["error"]


def test_the_limit_is_a_setting_and_0_lifts_it(model_dir):
    body = _body(3500, 24)  # ~7 MB of JSON
    assert _client(model_dir).post("/invocations", data=body, content_type=codecs.JSON).status_code == 413
    ok = _client(model_dir, max_response_mb=0).post("/invocations", data=body, content_type=codecs.JSON)
    assert ok.status_code == 200 and len(ok.data) > 6 * MIB and ok.headers["Content-Length"] == str(len(ok.data))
    small = _client(model_dir, max_response_mb=0.01).post("/invocations", data=_body(10, 24), content_type=codecs.JSON)
    assert small.status_code == 413 and "0.01 MB" in small.get_json()["error"]
    assert Settings.from_env({"ALSRECO_MAX_RESPONSE_MB": "2"}).max_response_bytes == 2 * MIB
    assert Settings.from_env({"ALSRECO_ENDPOINT_TYPE": "serverless"}).max_response_bytes == 4 * MIB
    assert Settings.from_env({}).max_response_bytes == 6 * MIB
    assert Settings.from_env({"ALSRECO_ENDPOINT_TYPE": "async"}).max_response_bytes == 0
    assert Settings.from_env({"SAGEMAKER_BATCH": "true", "ALSRECO_MAX_RESPONSE_MB": "2"}).max_response_bytes == 0


def test_an_answer_the_estimate_missed_is_still_refused_after_encoding(model_dir, monkeypatch):
    client = _client(model_dir, max_response_mb=0.05)
    monkeypatch.setattr(answer_size, "estimate", lambda rec, records, out: (0, 0))
    resp = client.post("/invocations", data=_body(100, 24), content_type=codecs.JSON)
    assert resp.status_code == 413 and "takes 0.187 MB, more than the 0.05 MB" in resp.get_json()["error"]


@pytest.mark.parametrize("env", [{"SAGEMAKER_BATCH": "true"}, {"ALSRECO_ENDPOINT_TYPE": "async"}])
def test_batch_transform_and_async_inference_stream_large_answers(model_dir, env):
    settings = Settings.from_env(env).with_(workers=1)
    client = create_app(model_dir, settings).test_client()
    body = "\n".join(json.dumps({"customer_id": CUSTOMERS[i % 20], "k": 24}) for i in range(12_000))
    resp = client.post("/invocations", data=body, content_type=codecs.JSONL)
    assert resp.status_code == 200 and "Content-Length" not in resp.headers  # streamed in chunks
    lines = resp.get_data(as_text=True).split("\n")
    assert len(lines) == 12_000 and len(resp.data) > 6 * MIB
    assert [json.loads(x)["customer_id"] for x in lines[:40]] == [CUSTOMERS[i % 20] for i in range(40)]


def test_real_time_answers_are_never_streamed(model_dir):
    resp = _client(model_dir).post("/invocations", data=_body(2000, 24), content_type=codecs.JSON)
    assert resp.status_code == 200 and resp.headers["Content-Length"] == str(len(resp.data))
