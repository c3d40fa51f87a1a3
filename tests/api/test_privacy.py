"""The storefront API as an attacker would try it, in process: the handler on proxy events with a
stubbed real boto3 client. A call the test did not queue fails the stub, so "never reaches the
endpoint" is checked, not assumed; a queued call checks the exact payload sent to the model.

Attacks (issue 22): another customer's id in the body, probing purchases with candidates /
exclude_purchased, a token for A asking about B, missing / expired / wrong-audience / wrong-issuer /
access tokens, a shopper on the staff route, answers that say whether a customer exists."""
from __future__ import annotations

import json

import pytest

from api import schema
from api.handler import Api
from api.identity import SIGN_IN, epoch, groups_of
from api.local_authorizer import gateway_claims, gateway_time
from api.settings import Settings
from tests.api.conftest import CLIENT_ID, ISSUER, ORIGIN, Context, answer, claims, proxy_event

SETTINGS = Settings(endpoint_name="reco", allowed_origins=(ORIGIN,), max_attempts=1, token_issuer=ISSUER,
                    token_audiences=(CLIENT_ID,))
ME, STAFF = "/me/recommendations", "/staff/recommendations"
LEAKY = {"model_version": "v", "predictions": [{"customer_id": "17850", "known": True, "recommendation_id": "r",
                                                "recommendations": [{"product_id": "A", "score": 1.0,
                                                                     "reason": "model"}]}]}


def call(client, event, settings=SETTINGS):
    result = Api(settings, client)(event, Context())
    return result["statusCode"], result["headers"], json.loads(result["body"]) if result["body"] else None


def expect(stubber, payload, response=LEAKY):
    stubber.add_response("invoke_endpoint", answer(response), {
        "EndpointName": "reco", "ContentType": "application/json", "Accept": "application/json",
        "Body": json.dumps(payload).encode()})


@pytest.mark.parametrize("field", schema.identity_fields())
@pytest.mark.parametrize("path, auth", [("/recommendations", None), (ME, {"claims": claims("17850")}),
                                        (ME, {"claims": claims("17850", groups="staff")})])
def test_a_body_never_names_a_shopper(stubbed, field, path, auth):
    client, stubber = stubbed
    for value in ("12346", 12346, ["12346"], {"id": "12346"}):
        status, headers, body = call(client, proxy_event({field: value, "k": 5}, path=path, authorizer=auth))
        assert (status, body["status"]) == (400, 400), body
        assert body["error"].startswith(f"{field}: a request never names a shopper"), body
        assert headers["Access-Control-Allow-Origin"] == ORIGIN
    stubber.assert_no_pending_responses()          # and nothing reached the endpoint (none was queued)


@pytest.mark.parametrize("exclude_purchased", [True, False])
def test_probing_candidates_without_a_token_asks_about_nobody(stubbed, exclude_purchased):
    """The published attack: candidates in batches + exclude_purchased. Without a customer there is
    nothing to learn: the model is asked about an empty visit, and the answer names no customer."""
    client, stubber = stubbed
    candidates = [str(21000 + i) for i in range(100)]
    body = {"candidates": candidates, "k": 100, "exclude_purchased": exclude_purchased}
    expect(stubber, {"candidates": candidates, "k": 100, "exclude_purchased": exclude_purchased, "items": []})
    status, _, out = call(client, proxy_event(body))
    assert status == 200, out
    assert "known" not in out and "customer_id" not in out       # even though the endpoint said so
    stubber.assert_no_pending_responses()


def test_a_token_for_a_can_only_ever_ask_about_a(stubbed):
    client, stubber = stubbed
    expect(stubber, {"customer_id": "17850", "candidates": ["A", "B"], "exclude_purchased": False})
    status, _, out = call(client, proxy_event({"candidates": ["A", "B"], "exclude_purchased": False}, path=ME,
                                              authorizer={"claims": claims("17850")}))
    assert status == 200 and "known" not in out and "customer_id" not in out
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("path", [ME, STAFF])
@pytest.mark.parametrize("auth, why", [
    (None, SIGN_IN),                                                       # no authorizer ran
    ({}, SIGN_IN),
    ({"claims": {}}, SIGN_IN),
    ({"claims": "not json"}, SIGN_IN),
    ({"claims": claims(iss="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other")}, "not issued for"),
    ({"claims": claims(aud="another-app-client")}, "not issued for"),
    ({"claims": claims(exp="Mon Nov 23 08:00:00 UTC 2026")}, "expired"),   # API Gateway's date format
    ({"claims": json.dumps({**claims(), "exp": 1_600_000_000})}, "expired"),  # a Lambda authorizer's context
    ({"claims": claims(token_use="access")}, "ID token"),
])
def test_signed_in_routes_refuse_anything_but_a_valid_id_token_with_401(stubbed, path, auth, why):
    client, stubber = stubbed
    status, headers, body = call(client, proxy_event({"k": 3}, path=path, authorizer=auth))
    assert (status, body["status"]) == (401, 401) and why in body["error"], body
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    stubber.assert_no_pending_responses()


def test_an_authorization_header_alone_is_not_an_identity(stubbed):
    """Identity is what the authorizer verified: a header the gateway did not check counts for nothing."""
    client, stubber = stubbed
    header = {"Authorization": "eyJhbGciOiJub25lIn0.eyJjdXN0b206Y3VzdG9tZXJfaWQiOiIxNzg1MCJ9."}
    assert call(client, proxy_event({}, path=ME, headers=header))[0] == 401
    expect(stubber, {"items": []})
    status, _, out = call(client, proxy_event({}, headers=header))        # the public route: anonymous
    assert status == 200 and "customer_id" not in out
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("groups, staff", [
    ("staff", True), ("admins,staff", True), ("[admins staff]", True), ("[staff, admins]", True),
    (None, False), ("", False), ("staffer", False), ("[notstaff]", False), ("admins", False),
])
def test_only_the_staff_group_may_look_up_customers(stubbed, groups, staff):
    client, stubber = stubbed
    if staff:
        expect(stubber, {"customer_id": "12346"})
    status, _, body = call(client, proxy_event({"customer_id": "12346"}, path=STAFF,
                                               authorizer={"claims": claims("17850", groups=groups)}))
    assert status == (200 if staff else 403), body
    if staff:
        assert "customer_id" in body and body["known"] is True       # staff answers say it (the stub: 17850)
    else:
        assert body["error"].startswith("staff only")
    stubber.assert_no_pending_responses()


def test_the_customer_comes_from_the_configured_claim_then_sub(stubbed):
    client, stubber = stubbed
    expect(stubber, {"customer_id": "C-7"})
    own = Settings(**{**SETTINGS.__dict__, "customer_claim": "custom:crm_id"})
    assert call(client, proxy_event({}, path=ME, authorizer={"claims": claims("17850", **{"custom:crm_id": "C-7"})}),
                own)[0] == 200
    sub = claims(None)["sub"]
    expect(stubber, {"customer_id": sub})
    assert call(client, proxy_event({}, path=ME, authorizer={"claims": claims(None)}))[0] == 200
    strict = Settings(**{**SETTINGS.__dict__, "customer_claim_fallback": ""})
    status, _, body = call(client, proxy_event({}, path=ME, authorizer={"claims": claims(None)}), strict)
    assert status == 401 and "names no customer" in body["error"]
    stubber.assert_no_pending_responses()


def test_unknown_customers_and_customers_without_history_answer_alike(stubbed):
    client, stubber = stubbed
    bodies = []
    for known in (False, True):
        response = {"model_version": "v", "predictions": [{"customer_id": "x", "known": known,
                                                           "recommendation_id": "r", "recommendations": []}]}
        expect(stubber, {"customer_id": "x"}, response)
        status, _, body = call(client, proxy_event({}, path=ME, authorizer={"claims": claims("x")}))
        bodies.append(body)
    assert bodies[0] == bodies[1]


def test_similar_products_are_asked_without_sign_in(stubbed):
    client, _ = stubbed
    status, _, body = call(client, proxy_event({"item_id": "A"}, path=ME, authorizer={"claims": claims()}))
    assert status == 400 and body["error"].startswith("item_id: similar products are asked on POST /recommendations")


def test_gateway_claim_formats_round_trip():
    now = 1_795_336_200
    assert epoch(gateway_time(now)) == now
    assert epoch("1795336200") == now and epoch(now) == now and epoch("soon") is None and epoch(True) is None
    stringified = gateway_claims({"exp": now, "cognito:groups": ["staff", "admins"], "email_verified": True,
                                  "auth_time": now})
    assert stringified == {"exp": gateway_time(now), "cognito:groups": "staff,admins", "email_verified": "true",
                           "auth_time": str(now)}
    assert groups_of(stringified["cognito:groups"]) == {"staff", "admins"}


# ------------------------------------------------------------------ the visit's events (issue 26)
# The handler with real boto3 clients on moto (DynamoDB, Firehose, Secrets Manager; tests/api/conftest.py)
# and the stubbed endpoint: whose events are read is decided by the request's own credentials only.

def call_api(api, event):
    result = api(event, Context())
    return result["statusCode"], result["headers"], json.loads(result["body"]) if result["body"] else None


@pytest.fixture
def live(stubbed, events_path):
    from tests.api.conftest import events_api

    client, stubber = stubbed
    api, _ = events_api(events_path, client)
    return api, stubber, events_path


def _visit(api, events, session=None, path="/events", authorizer=None):
    body = {"events": events, **({"session_id": session} if session is not None else {})}
    return call_api(api, proxy_event(body, path=path, authorizer=authorizer))


def test_a_session_id_only_ever_shapes_the_request_that_carries_it(live):
    api, stubber, _ = live
    a = _visit(api, [{"type": "add_to_cart", "product_id": "A1"}])[2]["session_id"]
    b = _visit(api, [{"type": "view", "product_id": "B1"}])[2]["session_id"]
    for body, sent in (({}, {"items": []}), ({"session_id": b}, {"items": ["B1"]}),
                       ({"session_id": a}, {"items": ["A1"]})):
        expect(stubber, sent)
        assert call_api(api, proxy_event(body))[0] == 200
    expect(stubber, {"customer_id": "17850"})                  # a signed-in shopper: their own events only
    assert call_api(api, proxy_event({}, path=ME, authorizer={"claims": claims("17850")}))[0] == 200
    stubber.assert_no_pending_responses()


def _forgeries(api, token: str) -> dict[str, object]:
    from api.signing import Signer

    sid, issued, sig = token.split(".")
    other = Signer(b"another deployment's key, 32 bytes+").new_session(float(issued))
    return {
        "a bare uuid": sid, "another key": other,
        "edited uuid": f"{sid[:-1]}{'0' if sid[-1] != '0' else '1'}.{issued}.{sig}",
        "another id's signature": f"{sid}.{issued}.{other.split('.')[2]}",
        "edited issue time": f"{sid}.{int(issued) + 1}.{sig}", "truncated": token[:-3], "upper case": token.upper(),
        "trailing text": token + "x", "signed for the future": api.live.signer.new_session(float(issued) + 3600),
        "a number": 12345, "a list": [token], "an object": {"id": token}, "too long": token + "a" * 10,
    }


def test_forged_session_ids_are_refused_and_read_or_write_nothing(live):
    api, stubber, path = live
    token = _visit(api, [{"type": "view", "product_id": "A1"}])[2]["session_id"]
    stored = path.client("dynamodb").scan(TableName=path.table)["Items"]
    for what, forged in _forgeries(api, token).items():
        status, _, out = call_api(api, proxy_event({"session_id": forged}))
        assert status == 400 and out["error"].startswith("session_id:"), (what, out)
        status, _, out = _visit(api, [{"type": "view", "product_id": "X"}], forged)
        assert status == 400 and out["error"].startswith("session_id:"), (what, out)
    assert path.client("dynamodb").scan(TableName=path.table)["Items"] == stored        # nothing written
    stubber.assert_no_pending_responses()                                              # nothing asked


def test_event_ids_are_de_duplicated_per_shopper_so_they_reveal_nothing_across_visits(live):
    api, _, _ = live
    first = _visit(api, [{"type": "view", "product_id": "A1", "event_id": "known-id"}])[2]
    again = _visit(api, [{"type": "view", "product_id": "A1", "event_id": "known-id"}], first["session_id"])[2]
    other = _visit(api, [{"type": "view", "product_id": "A1", "event_id": "known-id"}])[2]
    assert (again["accepted"], again["duplicates"]) == (0, 1)                 # the same visit: a repeat
    assert (other["accepted"], other["duplicates"]) == (1, 0)                 # another visit: no oracle
    for out in (first, again, other):
        assert set(out) == {"request_id", "accepted", "duplicates", "session_id"}
    signed_in = _visit(api, [{"type": "view", "product_id": "A1", "event_id": "known-id"}], path="/me/events",
                       authorizer={"claims": claims("17850")})[2]
    assert set(signed_in) == {"request_id", "accepted", "duplicates"} and signed_in["accepted"] == 1


@pytest.mark.parametrize("path, auth", [("/events", None), ("/me/events", {"claims": claims("17850")})])
def test_an_events_body_never_names_a_shopper(live, path, auth):
    api, _, store = live
    for field in schema.identity_fields():
        status, _, out = call_api(api, proxy_event({"events": [{"type": "view", "product_id": "A"}], field: "12346"},
                                                   path=path, authorizer=auth))
        assert status == 400 and out["error"].startswith(f"{field}: a request never names a shopper"), out
    status, _, out = call_api(api, proxy_event({"events": [{"type": "view", "product_id": "A"}], "session_id": "s"},
                                               path="/me/events", authorizer={"claims": claims("17850")}))
    assert status == 400 and out["error"].startswith("session_id: a signed-in shopper's events")
    assert store.client("dynamodb").scan(TableName=store.table)["Count"] == 0


def test_signed_in_routes_take_no_session_id(live):
    api, stubber, _ = live
    token = _visit(api, [{"type": "view", "product_id": "A1"}])[2]["session_id"]
    status, _, out = call_api(api, proxy_event({"session_id": token}, path=ME, authorizer={"claims": claims("17850")}))
    assert status == 400 and out["error"].startswith("session_id: a signed-in shopper's visit is kept")
    assert call_api(api, proxy_event({"events": [{"type": "view", "product_id": "A"}]}, path="/me/events"))[0] == 401
    stubber.assert_no_pending_responses()


def test_a_recommendation_id_names_a_model_version_only_as_issued(live):
    api, stubber, path = live
    expect(stubber, {"items": []})
    rec = call_api(api, proxy_event({}))[2]["recommendation_id"]
    rid, version, sig = rec.split(".")
    for forged in (f"{rid}.{version[:-1]}A.{sig}", f"{rid}x.{version}.{sig}", f"{rid}.{version}", "r"):
        status, _, out = _visit(api, [{"type": "view", "product_id": "A", "recommendation_id": forged}])
        assert status == 400 and out["error"].startswith("events[0].recommendation_id: not a recommendation_id"), out
    assert _visit(api, [{"type": "view", "product_id": "A", "recommendation_id": rec}])[0] == 200
