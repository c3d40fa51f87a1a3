"""The Lambda handler on documented API Gateway proxy events, with a stubbed real boto3 client."""
from __future__ import annotations

import json
import logging

import pytest

from api.handler import Api
from api.settings import Settings
from tests.api.conftest import CLIENT_ID, ISSUER, ORIGIN, PREDICTION, Context, answer, claims, proxy_event

SETTINGS = Settings(endpoint_name="reco", allowed_origins=(ORIGIN,), max_attempts=1, max_body_bytes=2048,
                    token_issuer=ISSUER, token_audiences=(CLIENT_ID,))


def call(client, event, settings=SETTINGS):
    result = Api(settings, client)(event, Context())
    assert set(result) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert result["isBase64Encoded"] is False
    body = json.loads(result["body"]) if result["body"] else None
    return result["statusCode"], result["headers"], body


def expect_call(stubber, payload, response=PREDICTION):
    stubber.add_response("invoke_endpoint", answer(response), {
        "EndpointName": "reco", "ContentType": "application/json", "Accept": "application/json",
        "Body": json.dumps(payload).encode()})


def test_signed_in_shopper_gets_the_tokens_customer_with_names_ids_and_cors(stubbed):
    client, stubber = stubbed
    expect_call(stubber, {"customer_id": "17850", "k": 2, "exclude_popular": 10})
    event = proxy_event({"k": 2, "exclude_popular": 10}, path="/me/recommendations",
                        authorizer={"claims": claims("17850")})
    status, headers, body = call(client, event)
    assert status == 200, body
    assert body["request_id"] == Context.aws_request_id
    assert body["model_version"] == "20261123T085637Z-fa793191"
    assert body["recommendation_id"] == "rec-1"
    assert "customer_id" not in body and "known" not in body        # a shopper's answer is about products
    assert body["recommendations"] == [
        {"product_id": "22834", "name": "HAND WARMER BABUSHKA", "score": 1.05, "reason": "model"},
        {"product_id": "21034", "name": None, "score": 1.01, "reason": "model"}]
    assert headers["Access-Control-Allow-Origin"] == ORIGIN and headers["Vary"] == "Origin"
    assert headers["Content-Type"] == "application/json"
    stubber.assert_no_pending_responses()


def test_staff_look_up_any_customer_and_see_whether_it_is_known(stubbed):
    client, stubber = stubbed
    expect_call(stubber, {"customer_id": "17850", "k": 2})
    event = proxy_event({"customer_id": 17850.0, "k": 2}, path="/staff/recommendations",
                        authorizer={"claims": claims(None, groups="staff")})
    status, _, body = call(client, event)
    assert status == 200, body
    assert body["customer_id"] == "17850" and body["known"] is True
    stubber.assert_no_pending_responses()


def test_base64_encoded_body_is_decoded(stubbed):
    client, stubber = stubbed
    expect_call(stubber, {"items": ["85123A", "71053"], "k": 5})
    status, _, body = call(client, proxy_event({"items": ["85123A", 71053], "k": 5}, b64=True))
    assert status == 200, body
    stubber.assert_no_pending_responses()


def test_similar_products_request_follows_the_item_id_contract(stubbed):
    client, stubber = stubbed
    similar = {"model_version": "v", "recommendation_id": "rec-9", "predictions": [
        {"item_id": "85123A", "known": True, "customer_id": None,
         "recommendations": [{"product_id": "21733", "score": 0.9, "reason": "similar", "name": "RED HEART"}]}]}
    expect_call(stubber, {"item_id": "85123A", "k": 10}, similar)
    status, _, body = call(client, proxy_event({"item_id": "85123A", "k": 10}))
    assert status == 200, body
    assert body["item_id"] == "85123A" and body["recommendation_id"] == "rec-9"
    assert [r["reason"] for r in body["recommendations"]] == ["similar"]


@pytest.mark.parametrize("payload, status, starts", [
    ({"items": ["1"], "k": 0}, 400, "k:"),
    ({"items": ["1"], "k": "5"}, 400, "k:"),
    ({"items": ["1"], "k": 101}, 400, "k:"),
    ({"items": ["1"], "k": True}, 400, "k:"),
    ({"items": ["1"], "k": 2.5}, 400, "k:"),
    ({"items": ["1"], "exclude_popular": -1}, 400, "exclude_popular:"),
    ({"items": ["1"], "exclude_purchased": "yes"}, 400, "exclude_purchased:"),
    ({"items": ["1"], "colour": "red"}, 400, "colour: unknown field"),
    ({"customer_ids": ["1", "2"]}, 400, "customer_ids:"),
    ({"item_id": ["1"]}, 400, "item_id:"),
    ({"item_id": ""}, 400, "item_id: must not be empty"),
    ({"item_id": "  "}, 400, "item_id: must not be empty"),
    ({"item_id": "x" * 65}, 400, "item_id: longer than 64"),
    ({"item_id": "a", "items": ["b"]}, 400, "item_id: asks for products similar"),
    ({"items": "85123A"}, 400, "items: must be a list"),
    ({"items": ["ok", None]}, 400, "items[1]:"),
    ({"items": [str(i) for i in range(101)]}, 400, "items: at most 100"),
    ({"item_id": "a", "item_ids": ["b"]}, 400, "item_ids: one product per request"),
    ({"item_ids": ["a", "b"]}, 400, "item_ids: one product per request here; send item_id"),
    ([1, 2], 400, "body: must be a JSON object"),
    ("{not json", 400, "body: invalid JSON"),
    ("", 400, "body: a JSON object is required"),
    ({"items": ["x" * 60] * 40}, 413, "request body is larger than 2048 bytes"),
])
def test_bad_requests_are_400_naming_the_field_and_never_reach_the_endpoint(stubbed, payload, status, starts):
    client, stubber = stubbed
    code, headers, body = call(client, proxy_event(payload))
    assert (code, body["status"]) == (status, status)
    assert body["error"].startswith(starts), body
    assert body["request_id"] == Context.aws_request_id
    assert headers["Access-Control-Allow-Origin"] == ORIGIN        # the page can read the error
    stubber.assert_no_pending_responses()                          # no call was queued: none was made


def test_bad_base64_and_wrong_content_type(stubbed):
    client, _ = stubbed
    event = proxy_event({"items": ["1"]})
    event["isBase64Encoded"] = True
    event["body"] = "%%% not base64"
    assert call(client, event)[0] == 400
    status, _, body = call(client, proxy_event("<a/>", headers={"content-type": "application/xml"}))
    assert status == 415 and "application/json" in body["error"]


def test_model_4xx_is_passed_through_with_its_message(stubbed):
    client, stubber = stubbed
    original = json.dumps({"error": "exclude_items[0] is not valid Unicode text (lone surrogate)", "status": 400})
    stubber.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424,
                             service_message="Received client error (400) from primary",
                             modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": original,
                                             "LogStreamArn": "arn:aws:logs:eu-west-1:1:log-group:x"})
    status, _, body = call(client, proxy_event({"items": []}))
    assert status == 400
    assert body["error"] == "exclude_items[0] is not valid Unicode text (lone surrogate)"


@pytest.mark.parametrize("code, http, fields, status, text", [
    ("ModelError", 424, {"OriginalStatusCode": 500, "OriginalMessage": "Traceback: KeyError secret_table"},
     502, "failed"),
    ("ModelError", 424, {"OriginalStatusCode": 503, "OriginalMessage": "no model: /opt/ml/model missing"},
     502, "failed"),
    ("ModelError", 424, {"OriginalStatusCode": 429, "OriginalMessage": "slow down"}, 502, "busy"),
    ("ModelError", 424, {"OriginalStatusCode": 504, "OriginalMessage": "upstream timed out"}, 504, "in time"),
    ("ThrottlingException", 400, {}, 502, "busy"),
    ("ServiceUnavailable", 503, {}, 502, "busy"),
    ("InternalFailure", 500, {}, 502, "unavailable"),
    ("ValidationError", 400, {}, 502, "unavailable"),   # e.g. the endpoint does not exist: not the caller's fault
])
def test_endpoint_failures_are_502_or_504_without_internals(stubbed, caplog, code, http, fields, status, text):
    client, stubber = stubbed
    stubber.add_client_error("invoke_endpoint", service_error_code=code, http_status_code=http,
                             service_message="Endpoint reco of account 123456789012 not found / internal detail",
                             modeled_fields=fields or None)
    with caplog.at_level(logging.WARNING, logger="alsreco.api"):
        got, _, body = call(client, proxy_event({"items": ["1"]}))
    assert got == status and text in body["error"]
    for secret in ("secret_table", "/opt/ml", "123456789012", "Traceback"):
        assert secret not in json.dumps(body)
    assert code in caplog.text                                           # the details are in the log


def test_unexpected_exception_is_500_with_request_id_and_no_trace(caplog):
    class Broken:
        def invoke_endpoint(self, **_):
            raise RuntimeError("password=hunter2 in /var/task/secret.py")

    with caplog.at_level(logging.ERROR, logger="alsreco.api"):
        status, _, body = call(Broken(), proxy_event({"items": ["1"]}))
    assert status == 500
    assert body == {"error": "internal error; quote the request_id when reporting it", "status": 500,
                    "request_id": Context.aws_request_id}
    assert "hunter2" in caplog.text and "Traceback" in caplog.text   # logged with the trace, not returned


def test_endpoint_answer_without_predictions_is_502(stubbed):
    client, stubber = stubbed
    expect_call(stubber, {"items": ["1"]}, {"model_version": "v", "predictions": []})
    assert call(client, proxy_event({"items": ["1"]}))[0] == 502


def test_per_record_error_from_the_endpoint_is_the_callers(stubbed):
    client, stubber = stubbed
    expect_call(stubber, {"items": ["1"]}, {"model_version": "v", "predictions": [{"error": "k: too big"}]})
    status, _, body = call(client, proxy_event({"items": ["1"]}))
    assert (status, body["error"]) == (400, "k: too big")


def test_preflight_from_the_allowed_origin():
    status, headers, body = call(None, proxy_event(method="OPTIONS", headers={
        "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}))
    assert status == 204 and body is None
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "content-type" in headers["Access-Control-Allow-Headers"].lower()
    assert int(headers["Access-Control-Max-Age"]) > 0


def test_other_origins_get_no_cors_headers(stubbed):
    client, stubber = stubbed
    status, headers, _ = call(None, proxy_event(method="OPTIONS", headers={"origin": "https://evil.example"}))
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    expect_call(stubber, {"items": ["1"]})
    status, headers, _ = call(client, proxy_event({"items": ["1"]}, headers={"origin": "https://evil.example"}))
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    star = Settings(endpoint_name="reco", allowed_origins=("*",))
    assert call(None, proxy_event(method="OPTIONS"), star)[1]["Access-Control-Allow-Origin"] == "*"


def test_unknown_routes_and_methods():
    status, _, body = call(None, proxy_event({"items": ["1"]}, path="/admin"))
    assert status == 404 and "/recommendations" in body["error"] and "/me/recommendations" in body["error"]
    status, _, body = call(None, proxy_event(method="GET"))
    assert status == 405 and "POST" in body["error"]
    assert Api(SETTINGS, None)({"hello": "world"}, Context())["statusCode"] == 400


def test_a_proxy_resource_routes_on_the_path(stubbed):
    client, stubber = stubbed
    event = proxy_event({"items": ["1"]})
    event["resource"] = "/{proxy+}"
    expect_call(stubber, {"items": ["1"]})
    assert call(client, event)[0] == 200
