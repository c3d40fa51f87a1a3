"""The HTTP contract over real nginx + gunicorn, on the model trained from the bundled sample
(`server`) and on the structured synthetic model (`synthetic_server`)."""
from __future__ import annotations

import csv
import io
import json
import time

import numpy as np
import pytest
import requests

from alsreco.core.artifact import load_model
from tests.unit.conftest import A_PRODUCTS, B_PRODUCTS, VERSION

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model(model_dir):
    return load_model(model_dir, mmap=False)


@pytest.fixture(scope="module")
def customers(model):
    """Known customers with at least 3 purchases."""
    p = model.purchases
    counts = np.diff(p.indptr)
    return [str(model.customer_ids[i]) for i in np.flatnonzero(counts >= 3)[:25]]


def purchased(model, cid: str) -> set[str]:
    i = list(model.customer_ids).index(cid)
    return {str(model.product_ids[j]) for j in model.purchases.row(i)}


def top_sellers(model, p: int) -> list[str]:
    ids = np.asarray(model.product_ids)
    order = np.lexsort((ids, -np.asarray(model.product_popularity, dtype=np.int64)))
    return [str(ids[i]) for i in order[:p]]


def predictions(resp) -> list[dict]:
    assert resp.status_code == 200, resp.text
    return resp.json()["predictions"]


def recs(pred) -> list[str]:
    return [r["product_id"] for r in pred["recommendations"]]


# ----------------------------------------------------------------- basics
def test_ping_and_execution_parameters(server, model):
    ping = requests.get(server.url + "/ping", timeout=2)
    assert ping.status_code == 200 and ping.json()["model_version"] == model.metadata["model_version"]
    params = requests.get(server.url + "/execution-parameters", timeout=2).json()
    assert params == {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}


def test_known_customer_json(server, model, customers):
    cid = customers[0]
    resp = server.post({"customer_id": int(cid) if cid.isdigit() else cid})
    [pred] = predictions(resp)
    assert resp.json()["model_version"] == model.metadata["model_version"] == resp.headers["X-Model-Version"]
    assert pred["customer_id"] == cid and pred["known"] is True
    assert len(pred["recommendations"]) == model.metadata["hyperparameters"]["reco_item"]
    assert not set(recs(pred)) & purchased(model, cid)
    scores = [r["score"] for r in pred["recommendations"]]
    assert scores == sorted(scores, reverse=True)
    assert {r["reason"] for r in pred["recommendations"]} == {"model"}
    assert any(r.get("name") for r in pred["recommendations"])


def test_many_customers_in_order_and_fast(server, model):
    ids = [str(c) for c in model.customer_ids]
    start = time.monotonic()
    preds = predictions(server.post({"customer_ids": ids[::-1] + ["nobody"], "k": 5}))
    assert time.monotonic() - start < 10
    assert [p["customer_id"] for p in preds] == ids[::-1] + ["nobody"]
    assert all(len(p["recommendations"]) == 5 for p in preds)


def test_instances_envelope(server, customers):
    preds = predictions(server.post({"instances": [{"customer_id": customers[1], "k": 2}, customers[2]]}))
    assert [p["customer_id"] for p in preds] == customers[1:3]
    assert [len(p["recommendations"]) for p in preds] == [2, 10]


def test_jsonlines_with_a_bad_line_in_the_middle(server, customers):
    body = f'{{"customer_id": "{customers[0]}", "k": 3}}\n{{"customer_id": oops}}\n"{customers[1]}"\n'
    resp = server.post(body, "application/jsonlines")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/jsonlines")
    lines = [json.loads(x) for x in resp.text.splitlines()]
    assert len(lines) == 3
    assert lines[0]["customer_id"] == customers[0] and len(lines[0]["recommendations"]) == 3
    assert set(lines[1]) == {"error"} and "line 2" in lines[1]["error"]
    assert lines[2]["customer_id"] == customers[1]


@pytest.mark.parametrize("accept", ["text/csv", "application/json", "application/jsonlines", "*/*"])
def test_csv_request(server, customers, accept):
    body = f"customer_id,k\n{customers[0]},2\n{customers[1]}\n"
    resp = server.post(body, "text/csv", accept)
    assert resp.status_code == 200
    want = "text/csv" if accept == "*/*" else accept
    assert resp.headers["Content-Type"].startswith(want)
    if want == "text/csv":
        rows = list(csv.DictReader(io.StringIO(resp.text)))
        assert list(rows[0]) == ["customer_id", "rank", "product_id", "score", "reason", "recommendation_id"]
        assert [r["customer_id"] for r in rows] == [customers[0]] * 2 + [customers[1]] * 10
        assert [r["rank"] for r in rows[:3]] == ["1", "2", "1"]
    elif want == "application/json":
        assert [len(p["recommendations"]) for p in resp.json()["predictions"]] == [2, 10]
    else:
        assert [json.loads(x)["customer_id"] for x in resp.text.splitlines()] == customers[:2]


# ----------------------------------------------------------------- rules
def test_rules_on_the_sample_model(server, model, customers):
    cid = customers[3]
    base = recs(predictions(server.post({"customer_id": cid, "k": 10}))[0])
    top = top_sellers(model, 20)
    no_pop = recs(predictions(server.post({"customer_id": cid, "exclude_popular": 20}))[0])
    assert len(no_pop) == 10 and not set(no_pop) & set(top)
    no_items = recs(predictions(server.post({"customer_id": cid, "exclude_items": base[:4]}))[0])
    assert len(no_items) == 10 and not set(no_items) & set(base[:4]) and no_items[:6] == base[4:]
    cands = [str(p) for p in model.product_ids[:300]]
    only = recs(predictions(server.post({"customer_id": cid, "candidates": cands}))[0])
    assert len(only) == 10 and set(only) <= set(cands) - purchased(model, cid)
    bought = sorted(purchased(model, cid))[:2]
    forced = predictions(server.post({"customer_id": cid, "include_items": bought, "include_new": 3}))[0]
    assert recs(forced)[:2] == bought
    reasons = [r["reason"] for r in forced["recommendations"]]
    assert reasons[:5] == ["forced", "forced", "new_product", "new_product", "new_product"]
    new = {str(model.product_ids[i]) for i in model.new_products}
    assert set(recs(forced)[2:5]) <= new and len(forced["recommendations"]) == 10


def test_exclude_purchased_off_brings_purchases_back(server, model, customers):
    hits = 0
    for cid in customers[:10]:
        on = recs(predictions(server.post({"customer_id": cid}))[0])
        off = recs(predictions(server.post({"customer_id": cid, "exclude_purchased": False}))[0])
        assert not set(on) & purchased(model, cid)
        hits += bool(set(off) & purchased(model, cid))
    assert hits >= 5


def test_cold_start(server, model, customers):
    popular = predictions(server.post({"customer_id": "no-such-customer"}))[0]
    assert popular["known"] is False and recs(popular) == top_sellers(model, 10)
    assert {r["reason"] for r in popular["recommendations"]} == {"popular"}
    basket = sorted(purchased(model, customers[0]))
    folded = predictions(server.post({"items": basket + ["NOT-A-PRODUCT"], "k": 10}))[0]
    assert folded["known"] is False and folded["customer_id"] is None
    assert folded["unknown_items"] == ["NOT-A-PRODUCT"]
    assert {r["reason"] for r in folded["recommendations"]} == {"model"}
    assert not set(recs(folded)) & set(basket) and recs(folded) != recs(popular)


def test_fold_in_on_the_synthetic_model(synthetic_server):
    preds = predictions(synthetic_server.post({"instances": [
        {"customer_id": "new-a", "items": ["84029E", "22752"], "k": 5},
        {"customer_id": "new-b", "items": ["22726", "21724"], "k": 5}]}))
    assert set(recs(preds[0])) <= set(A_PRODUCTS) and set(recs(preds[1])) <= set(B_PRODUCTS)
    assert synthetic_server.post('"17850"').json()["model_version"] == VERSION


# ----------------------------------------------------------------- client errors
def test_client_errors_over_http(server):
    too_big = server.post(b" " * (7 * 1024 * 1024))
    assert too_big.status_code == 413 and too_big.json()["status"] == 413
    for resp, code in [
        (server.post("17850", "text/plain"), 415),
        (server.post('"17850"', accept="text/html"), 406),
        (server.post({"customer_id": "1", "k": 5000}), 400),
        (server.post("{", "application/json"), 400),
        (server.post({"customer_ids": list(range(10_001))}), 413),
        (requests.get(server.url + "/invocations", timeout=5), 405),
        (requests.get(server.url + "/nope", timeout=5), 404),
    ]:
        assert resp.status_code == code, resp.text
        assert resp.json()["status"] == code and resp.json()["error"]


def test_openapi_is_served(server):
    resp = requests.get(server.url + "/openapi.yaml", timeout=5)
    assert resp.status_code == 200 and "/invocations" in resp.text


# ----------------------------------------------------------------- boto3
def test_boto3_sagemaker_runtime_invoke_endpoint(server, customers, monkeypatch):
    import boto3
    import botocore.exceptions as botocore

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("sagemaker-runtime", endpoint_url=server.url)
    out = client.invoke_endpoint(EndpointName="x", Body=json.dumps({"customer_id": customers[0], "k": 3}),
                                 ContentType="application/json", Accept="application/json")
    assert out["ContentType"] == "application/json"
    doc = json.loads(out["Body"].read())
    assert doc["predictions"][0]["customer_id"] == customers[0]
    assert len(doc["predictions"][0]["recommendations"]) == 3
    out = client.invoke_endpoint(EndpointName="x", Body=f"{customers[0]}\n{customers[1]}\n", ContentType="text/csv")
    assert out["Body"].read().decode().startswith("customer_id,rank,product_id,score,reason,recommendation_id\n")
    with pytest.raises(botocore.ClientError) as info:
        client.invoke_endpoint(EndpointName="x", Body=b'{"k": 0}', ContentType="application/json")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
