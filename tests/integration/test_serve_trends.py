"""Issue 23 over real HTTP (nginx + gunicorn) on the model `train` wrote from the bundled sample: `"blend"`
and `"trending": true` in JSON, JSON Lines and CSV output, checked against the model's own files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from alsreco.core import trends
from alsreco.core.artifact import load_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model(model_dir):
    return load_model(model_dir, mmap=False)


def ok(resp) -> list[dict]:
    assert resp.status_code == 200, resp.text
    return resp.json()["predictions"]


def test_blend_0_is_the_als_alone_and_a_weight_adds_the_models_signal(server, model):
    meta = model.metadata["blend"]
    assert set(meta) >= {"weight", "signal", "chosen_by", "protocol"} and meta["signal"] in trends.BLEND_SIGNALS
    signal = trends.signal(meta["signal"], model.product_popularity, model.product_recent, model.product_trending)
    ids = [str(x) for x in model.product_ids]
    u = 3  # a known customer
    cid = str(model.customer_ids[u])
    als = model.user_factors[u] @ model.item_factors.T
    bought = set(model.purchases.row(u).tolist())
    for weight in (0, 2.5):
        [pred] = ok(server.post({"customer_id": cid, "k": 8, "blend": weight}))
        want = als + np.float32(weight) * signal
        order = [i for i in np.argsort(-want, kind="stable") if i not in bought][:8]
        assert [r["product_id"] for r in pred["recommendations"]] == [ids[i] for i in order]
        np.testing.assert_allclose([r["score"] for r in pred["recommendations"]], want[order], atol=2e-6)
    # without the field: the model's own weight
    [default] = ok(server.post({"customer_id": cid, "k": 8}))
    [same] = ok(server.post({"customer_id": cid, "k": 8, "blend": meta["weight"]}))
    assert [r["product_id"] for r in default["recommendations"]] == [r["product_id"] for r in same["recommendations"]]


def test_trending_lists_in_json_jsonlines_and_csv(server, model):
    ids = np.asarray([str(x) for x in model.product_ids])
    order = trends.trending_order(model.product_trending, model.product_recent, model.product_popularity, ids)
    [anon] = ok(server.post({"trending": True, "k": 6}))
    assert anon["customer_id"] is None and not anon["known"]
    assert [r["product_id"] for r in anon["recommendations"]] == ids[order[:6]].tolist()
    assert [r["reason"] for r in anon["recommendations"]] == ["trending"] * 6
    assert [r["score"] for r in anon["recommendations"]] == pytest.approx(model.product_trending[order[:6]].tolist())
    assert model.product_trending[order[0]] > 0  # the sample has rising products
    # a known customer: what they bought is left out
    u = int(np.argmax(np.diff(model.purchases.indptr)))
    cid = str(model.customer_ids[u])
    bought = set(ids[model.purchases.row(u)].tolist())
    lines = "\n".join([json.dumps({"customer_id": cid, "trending": True, "k": 6}), json.dumps({"trending": "yes"}),
                       json.dumps({"customer_id": cid, "k": 3, "blend": 0})])
    resp = server.post(lines, ctype="application/jsonlines")
    assert resp.status_code == 200, resp.text
    first, bad, plain = [json.loads(x) for x in resp.text.split("\n")]
    got = [r["product_id"] for r in first["recommendations"]]
    assert first["known"] and not set(got) & bought
    assert got == [p for p in ids[order].tolist() if p not in bought][:6]
    assert "trending must be true or false" in bad["error"] and plain["recommendations"][0]["reason"] == "model"
    csv_resp = server.post({"customer_ids": [cid], "trending": True, "k": 2}, accept="text/csv")
    assert csv_resp.status_code == 200
    rows = csv_resp.text.split("\n")
    assert rows[0].startswith("customer_id,rank,product_id") and [r.split(",")[4] for r in rows[1:]] == ["trending"] * 2


@pytest.mark.parametrize("body, field", [
    ({"customer_id": "17850", "blend": -1}, "blend must be a number between 0 and 10"),
    ({"customer_id": "17850", "blend": "high"}, "blend must be a number"),
    ({"item_id": "85123A", "trending": True}, "trending asks for a Trending-Now list: it does not go with item_id"),
    ({"item_ids": ["85123A"], "trending": True}, "it does not go with item_ids"),
])
def test_bad_trend_fields_are_400_naming_the_field(server, body, field):
    resp = server.post(body)
    assert resp.status_code == 400 and field in resp.json()["error"]
