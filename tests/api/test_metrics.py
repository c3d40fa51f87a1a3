"""Impact per model version: lists are served by two model versions, shoppers click, add to the
basket and buy from them with the lists' recommendation ids, and the EMF lines the handler wrote
are read back and summed per version as CloudWatch would (api/metrics.py). The handler runs with
real boto3 clients on moto (DynamoDB, Firehose, Secrets Manager) and a stubbed endpoint answering
as model version v1 or v2."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from api.metrics import COUNTED, NAMESPACE
from tests.api.conftest import Context, answer, claims, events_api, proxy_event

VERSIONS = ("20261201T000000Z-aaaa1111", "20261206T000000Z-bbbb2222")


def served_by(version: str, rec: str) -> dict:
    return {"model_version": version, "predictions": [{"customer_id": None, "known": False, "recommendation_id": rec,
                                                      "recommendations": [{"product_id": "22834", "score": 1.0,
                                                                           "reason": "model"}]}]}


def emf_totals(lines: list[dict]) -> Counter:
    """(metric, ModelVersion or None) -> summed value, checking each line against the EMF specification."""
    totals: Counter = Counter()
    for doc in lines:
        meta = doc["_aws"]
        assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1.7e12         # milliseconds
        (directive,) = meta["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE
        dims = [d for dset in directive["Dimensions"] for d in dset]
        for d in dims:
            assert isinstance(doc[d], str)                      # every dimension is a root member (a string)
        for metric in directive["Metrics"]:
            assert metric["Unit"] == "Count" and isinstance(doc[metric["Name"]], int)
            totals[(metric["Name"], doc.get("ModelVersion") if dims else None)] += doc[metric["Name"]]
    return totals


def test_impressions_clicks_carts_and_purchases_are_counted_per_model_version(stubbed, events_path):
    client, stubber = stubbed
    api, out = events_api(events_path, client)
    lists = []
    for i, version in enumerate((VERSIONS[0], VERSIONS[0], VERSIONS[0], VERSIONS[1], VERSIONS[1])):
        stubber.add_response("invoke_endpoint", answer(served_by(version, f"rec{i}")))
        path, auth = ("/me/recommendations", {"claims": claims("17850")}) if i == 4 else ("/recommendations", None)
        result = api(proxy_event({"k": 1}, path=path, authorizer=auth), Context())
        assert result["statusCode"] == 200, result["body"]
        lists.append(json.loads(result["body"])["recommendation_id"])
    stubber.add_response("invoke_endpoint", answer(served_by(VERSIONS[1], "staff")))   # staff: no impression
    api(proxy_event({"customer_id": "1"}, path="/staff/recommendations",
                    authorizer={"claims": claims(None, groups="staff")}), Context())
    v1a, v1b, _, v2a, v2b = lists

    def send(events, path="/events", auth=None):
        result = api(proxy_event({"events": events}, path=path, authorizer=auth), Context())
        assert result["statusCode"] == 200, result["body"]

    send([{"type": "view", "product_id": "22834", "recommendation_id": v1a, "event_id": "c1"},
          {"type": "view", "product_id": "22834", "recommendation_id": v1b, "event_id": "c2"},
          {"type": "add_to_cart", "product_id": "22834", "recommendation_id": v1a, "event_id": "a1"},
          {"type": "remove_from_cart", "product_id": "22834", "recommendation_id": v1a, "event_id": "r1"},
          {"type": "view", "product_id": "85123A", "event_id": "plain"}])               # from no list: not counted
    send([{"type": "view", "product_id": "22834", "recommendation_id": v2a, "event_id": "c3"},
          {"type": "purchase", "product_id": "22834", "recommendation_id": v2b, "event_id": "p1"}],
         "/me/events", {"claims": claims("17850")})
    send([{"type": "purchase", "product_id": "22834", "recommendation_id": v2b, "event_id": "p1"}],
         "/me/events", {"claims": claims("17850")})                                    # a repeat: counted once
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert emf_totals(lines) == Counter({
        ("Impressions", VERSIONS[0]): 3, ("Impressions", VERSIONS[1]): 2,
        ("Clicks", VERSIONS[0]): 2, ("AddToCarts", VERSIONS[0]): 1, ("Purchases", VERSIONS[0]): 0,
        ("Clicks", VERSIONS[1]): 1, ("AddToCarts", VERSIONS[1]): 0, ("Purchases", VERSIONS[1]): 1})
    assert set(COUNTED.values()) == {"Clicks", "AddToCarts", "Purchases"}
    stubber.assert_no_pending_responses()


@pytest.mark.integration
def test_the_chain_counts_what_the_page_would_send(trained_model_dir, serve_url):
    """Through the local chain (`make web`): real `serve`, the handler's EMF lines in its log stream."""
    import requests

    from api.local_storefront import local_storefront

    with local_storefront(trained_model_dir, serve_url) as shop:
        origin = {"Origin": shop.page_url.rstrip("/")}
        first = requests.post(shop.api_url + "/recommendations", json={"k": 5}, headers=origin, timeout=30).json()
        second = requests.post(shop.api_url + "/recommendations", json={"item_id": "85123A", "k": 5}, headers=origin,
                               timeout=30).json()
        picks = [(first, "view"), (first, "add_to_cart"), (second, "view"), (first, "purchase")]
        events = [{"type": kind, "product_id": ans["recommendations"][0]["product_id"],
                   "recommendation_id": ans["recommendation_id"]} for ans, kind in picks]
        resp = requests.post(shop.api_url + "/events", json={"events": events}, headers=origin, timeout=30)
        assert resp.status_code == 200, resp.text
        version = first["model_version"]
        assert emf_totals(shop.metric_lines()) == Counter({("Impressions", version): 2, ("Clicks", version): 2,
                                                          ("AddToCarts", version): 1, ("Purchases", version): 1})
