"""The handler's real boto3 client against the real `serve` (its /endpoints/<name>/invocations
route) on the model trained from the bundled sample; then the same through the local API front."""
from __future__ import annotations

import json

import pytest
import requests

from api.catalogue import build as build_catalogue
from api.endpoint import make_client
from api.handler import Api
from api.local_front import api_server
from api.settings import Settings
from tests.api.conftest import ORIGIN, Context, claims, proxy_event

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(serve_url):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "local")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "local")
        settings = Settings(endpoint_name="storefront-local", endpoint_url=serve_url, allowed_origins=(ORIGIN,))
        return Api(settings, make_client(settings))


@pytest.fixture(scope="module")
def catalogue(trained_model_dir):
    return build_catalogue(trained_model_dir)


def ask(api, body, **event):
    result = api(proxy_event(body, **event), Context())
    return result["statusCode"], result["headers"], json.loads(result["body"])


def test_signed_in_customer_gets_named_model_recommendations(api):
    status, headers, body = ask(api, {"k": 5}, path="/me/recommendations", authorizer={"claims": claims("17850")})
    assert status == 200, body
    assert "customer_id" not in body and "known" not in body
    assert len(body["recommendations"]) == 5
    assert all(r["name"] and r["reason"] == "model" for r in body["recommendations"])
    assert body["model_version"] and body["request_id"] == Context.aws_request_id
    assert headers["Access-Control-Allow-Origin"] == ORIGIN


def test_anonymous_basket_is_folded_in_and_excluded(api):
    basket = ["85123A", "71053"]
    status, _, body = ask(api, {"items": basket, "k": 8})
    assert status == 200, body
    ids = [r["product_id"] for r in body["recommendations"]]
    assert len(ids) == 8 and not set(ids) & set(basket)
    assert {r["reason"] for r in body["recommendations"]} == {"model"}


def test_rules_reach_the_model(api, catalogue):
    top10 = {p["id"] for p in catalogue["products"][:10]}
    status, _, body = ask(api, {"k": 5, "exclude_popular": 10})
    assert status == 200, body
    recs = body["recommendations"]
    assert [r["reason"] for r in recs] == ["popular"] * 5
    assert not {r["product_id"] for r in recs} & top10
    assert [r["product_id"] for r in recs] == [p["id"] for p in catalogue["products"][10:15]]


def test_an_empty_visit_gets_best_sellers(api, catalogue):
    status, _, body = ask(api, {"k": 4})
    assert status == 200, body
    assert [r["product_id"] for r in body["recommendations"]] == [p["id"] for p in catalogue["products"][:4]]
    assert {r["reason"] for r in body["recommendations"]} == {"popular"}


def test_a_model_4xx_comes_back_with_the_models_message(api):
    status, _, body = ask(api, '{"items": ["85123A"], "exclude_items": ["\\ud800"]}')
    assert status == 400, body
    assert "exclude_items[0] is not valid Unicode text" in body["error"]
    assert body["request_id"] == Context.aws_request_id


def test_similar_products_of_a_known_item(api, catalogue):
    item = catalogue["products"][0]["id"]
    status, _, body = ask(api, {"item_id": item, "k": 6})
    assert status == 200, body
    recs = body["recommendations"]
    assert len(recs) == 6 and {r["reason"] for r in recs} == {"similar"}
    assert item not in {r["product_id"] for r in recs}
    assert all(r["name"] for r in recs)
    assert body["recommendation_id"]


def test_similar_products_of_an_unknown_item_fall_back_to_best_sellers(api, catalogue):
    status, _, body = ask(api, {"item_id": "NO-SUCH-ITEM", "k": 3})
    assert status == 200, body
    assert [r["product_id"] for r in body["recommendations"]] == [p["id"] for p in catalogue["products"][:3]]
    assert {r["reason"] for r in body["recommendations"]} == {"popular"}


def test_every_answer_carries_a_recommendation_id(api):
    for body in ({"k": 2}, {"items": ["85123A"], "k": 2}, {"item_id": "85123A"}):
        rid = ask(api, body)[2]["recommendation_id"]
        assert isinstance(rid, str) and rid, body


def test_through_the_local_api_front_over_http(api):
    server = api_server(api)
    url = f"http://127.0.0.1:{server.server_port}/recommendations"
    try:
        pre = requests.options(url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}, timeout=10)
        resp = requests.post(url, json={"items": [85123], "k": 3}, headers={"Origin": ORIGIN}, timeout=30)
        bad = requests.post(url, json={"items": ["85123A"], "k": 0}, headers={"Origin": ORIGIN}, timeout=30)
    finally:
        server.shutdown()
    assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert resp.status_code == 200 and len(resp.json()["recommendations"]) == 3
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert bad.status_code == 400 and bad.json()["error"].startswith("k:")
