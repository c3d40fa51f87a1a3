"""`{"items": []}`: an anonymous visitor with nothing in the basket yet gets best sellers (the
storefront's public route sends it); no subject at all is still a 400."""
from __future__ import annotations

import json

from alsreco.core.settings import Settings
from alsreco.serve.app import create_app


def test_an_empty_visit_gets_best_sellers_and_no_subject_is_still_400(model_dir):
    client = create_app(model_dir, Settings(workers=1)).test_client()
    empty = client.post("/invocations", data=json.dumps({"items": [], "k": 3}), content_type="application/json")
    assert empty.status_code == 200, empty.data
    prediction = empty.get_json()["predictions"][0]
    assert prediction["known"] is False and prediction["customer_id"] is None
    assert [r["reason"] for r in prediction["recommendations"]] == ["popular"] * 3
    unknown = client.post("/invocations", data=json.dumps({"customer_id": "nobody", "k": 3}),
                          content_type="application/json").get_json()["predictions"][0]
    assert [r["product_id"] for r in prediction["recommendations"]] == \
           [r["product_id"] for r in unknown["recommendations"]]
    for body in ({}, {"items": None}, {"k": 3}):
        resp = client.post("/invocations", data=json.dumps(body), content_type="application/json")
        assert resp.status_code == 400 and "customer_id is required" in resp.get_json()["error"], body
