"""POST /events and the visit it gives the recommendations routes: the real handler with real boto3
clients on a moto server (DynamoDB, Firehose into S3, Secrets Manager), and a stubbed real
sagemaker-runtime client whose queued calls check the exact payload the endpoint gets.

Ordering by event weights, removal undoing an add, the bounded list, TTL, concurrent writes,
de-duplication by event id, malformed events, the S3 records. Outages: test_events_outage.py."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest

from api.event_store import EventStore, shopper_key
from api.live import HEADER
from tests.api.conftest import ORIGIN, PREDICTION, Context, answer, claims, events_api, proxy_event

ME = {"claims": claims("17850")}


def call(api, event):
    result = api(event, Context())
    return result["statusCode"], result["headers"], json.loads(result["body"]) if result["body"] else None


def expect(stubber, payload, response=PREDICTION):
    stubber.add_response("invoke_endpoint", answer(response), {
        "EndpointName": "reco", "ContentType": "application/json", "Accept": "application/json",
        "Body": json.dumps(payload).encode()})


def post_events(api, events, session=None, path="/events", authorizer=None):
    body = {"events": events, **({"session_id": session} if session else {})}
    return call(api, proxy_event(body, path=path, authorizer=authorizer))


def ago(seconds: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def records(local):
    """Every JSON line Firehose landed in S3."""
    s3 = local.client("s3")
    return [json.loads(line) for key in local.keys()
            for line in s3.get_object(Bucket=local.bucket, Key=key)["Body"].read().decode().splitlines()]


def test_a_visit_is_folded_in_best_first_by_event_weight(stubbed, events_path):
    client, stubber = stubbed
    api, _ = events_api(events_path, client)
    status, headers, out = post_events(api, [
        {"type": "view", "product_id": "A", "timestamp": ago(50)},
        {"type": "view", "product_id": "B", "timestamp": ago(40)},
        {"type": "add_to_cart", "product_id": "B", "timestamp": ago(30)},
        {"type": "view", "product_id": "C", "timestamp": ago(20)},
        {"type": "purchase", "product_id": 22834.0, "timestamp": ago(10)}])
    assert status == 200 and headers[HEADER] == "stored", out
    assert (out["accepted"], out["duplicates"]) == (5, 0) and set(out) == {"request_id", "accepted", "duplicates",
                                                                           "session_id"}
    # purchase 4 > view + add 3 > view 1 (C, the more recent) > view 1 (A); the request's own items first
    expect(stubber, {"items": ["X", "22834", "B", "C", "A"], "k": 3})
    status, headers, rec = call(api, proxy_event({"items": ["X"], "k": 3, "session_id": out["session_id"]}))
    assert status == 200 and headers[HEADER] == "applied", rec
    assert headers["Access-Control-Expose-Headers"] == HEADER          # the page may read it
    stubber.assert_no_pending_responses()


def test_removing_from_the_basket_undoes_adding(stubbed, events_path):
    client, stubber = stubbed
    api, _ = events_api(events_path, client)
    sid = post_events(api, [{"type": "add_to_cart", "product_id": "X"}, {"type": "view", "product_id": "Y"},
                            {"type": "add_to_cart", "product_id": "Y"}])[2]["session_id"]
    expect(stubber, {"items": ["Y", "X"]})
    assert call(api, proxy_event({"session_id": sid}))[1][HEADER] == "applied"
    post_events(api, [{"type": "remove_from_cart", "product_id": "X"}, {"type": "remove_from_cart", "product_id": "Y"}],
                sid)
    expect(stubber, {"items": ["Y"]})                                   # Y was viewed too; X is gone
    call(api, proxy_event({"session_id": sid}))
    post_events(api, [{"type": "remove_from_cart", "product_id": "Z"}], sid)    # never added: nothing
    expect(stubber, {"items": ["Y"]})
    call(api, proxy_event({"session_id": sid}))
    stubber.assert_no_pending_responses()


def test_similar_products_and_staff_lookups_read_no_visit(stubbed, events_path):
    client, stubber = stubbed
    api, _ = events_api(events_path, client)
    sid = post_events(api, [{"type": "view", "product_id": "A"}])[2]["session_id"]
    expect(stubber, {"item_id": "B"})
    status, headers, _ = call(api, proxy_event({"item_id": "B", "session_id": sid}))
    assert status == 200 and HEADER not in headers
    expect(stubber, {"customer_id": "12346"})
    status, headers, _ = call(api, proxy_event({"customer_id": "12346"}, path="/staff/recommendations",
                                               authorizer={"claims": claims(None, groups="staff")}))
    assert status == 200 and HEADER not in headers
    stubber.assert_no_pending_responses()


def test_the_list_is_bounded_and_events_are_counted_once_by_id(stubbed, events_path):
    client, _ = stubbed
    api, _ = events_api(events_path, client, visit_events=5)
    sid = post_events(api, [{"type": "view", "product_id": f"P{i}", "timestamp": ago(100 - i), "event_id": f"e{i}"}
                            for i in range(8)])[2]["session_id"]
    status, _, out = post_events(api, [{"type": "view", "product_id": "P7", "event_id": "e7"},
                                       {"type": "view", "product_id": "Q", "event_id": "q"},
                                       {"type": "view", "product_id": "Q", "event_id": "q"}], sid)
    assert (status, out["accepted"], out["duplicates"]) == (200, 1, 2)
    store = EventStore(events_path.client("dynamodb"), events_path.table, keep=5)
    key = shopper_key(session=sid.split(".")[0])
    assert [e.event_id for e in store.recent(key)] == ["e4", "e5", "e6", "e7", "q"]       # the newest 5, in order
    landed = records(events_path)
    assert sorted(r["event_id"] for r in landed) == sorted([f"e{i}" for i in range(8)] + ["q"])   # each once

    def held():
        item = events_path.client("dynamodb").get_item(TableName=events_path.table, Key={"pk": {"S": key}})["Item"]
        return [m["M"]["i"]["S"] for m in item["events"]["L"]]

    assert len(held()) == 10          # stored: up to twice the bound (e7 twice: repeats are dropped on reading)
    post_events(api, [{"type": "view", "product_id": "R", "event_id": "r"}], sid)
    assert held() == ["e5", "e6", "e7", "q", "r"]      # one more: cut back to the newest 5
    assert [e.event_id for e in store.recent(key)] == ["e5", "e6", "e7", "q", "r"]


def test_records_land_in_s3_as_json_lines_without_the_signed_session_id(stubbed, events_path):
    client, _ = stubbed
    api, _ = events_api(events_path, client)
    now = time.time()
    stamp = dt.datetime.fromtimestamp(now - 60, dt.timezone(dt.timedelta(hours=1))).isoformat(timespec="seconds")
    sid = post_events(api, [{"type": "view", "product_id": "A", "timestamp": stamp,
                             "event_id": "v-1"}])[2]["session_id"]
    post_events(api, [{"type": "purchase", "product_id": "B", "event_id": "p-1"}], path="/me/events", authorizer=ME)
    keys = events_path.keys()
    assert keys and all(k.startswith("events/20") and k.count("/") == 5 for k in keys)      # events/YYYY/MM/DD/HH/
    by_id = {r["event_id"]: r for r in records(events_path)}
    view, bought = by_id["v-1"], by_id["p-1"]
    assert view["session_id"] == sid.split(".")[0] and "customer_id" not in view          # the uuid, never the token
    assert view["timestamp"] == dt.datetime.fromtimestamp(int(now - 60), dt.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")                                    # in UTC
    assert bought["customer_id"] == "17850" and "session_id" not in bought                # from the token
    assert set(view) == {"event_id", "type", "product_id", "timestamp", "received_at", "session_id"}


def test_a_signed_in_shoppers_events_follow_them_not_the_body(stubbed, events_path):
    client, stubber = stubbed
    api, _ = events_api(events_path, client)
    status, headers, out = post_events(api, [{"type": "add_to_cart", "product_id": "A"}], path="/me/events",
                                       authorizer=ME)
    assert status == 200 and "session_id" not in out, out
    expect(stubber, {"customer_id": "17850", "k": 2, "items": ["A"]})
    assert call(api, proxy_event({"k": 2}, path="/me/recommendations", authorizer=ME))[1][HEADER] == "applied"
    expect(stubber, {"customer_id": "99999", "k": 2})                          # another shopper: not A's visit
    status, headers, _ = call(api, proxy_event({"k": 2}, path="/me/recommendations",
                                               authorizer={"claims": claims("99999")}))
    assert headers[HEADER] == "none"
    stubber.assert_no_pending_responses()


def test_concurrent_events_of_one_visit_are_all_kept(stubbed, events_path):
    client, stubber = stubbed
    api, _ = events_api(events_path, client, visit_events=200)
    sid = post_events(api, [{"type": "view", "product_id": "start"}])[2]["session_id"]
    failures = []

    def send(t):
        for i in range(5):
            status, _, out = post_events(api, [{"type": "view", "product_id": f"T{t}-{i}"}], sid)
            if status != 200 or out["accepted"] != 1:
                failures.append(out)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    store = EventStore(events_path.client("dynamodb"), events_path.table)
    kept = {e.product_id for e in store.recent(shopper_key(session=sid.split(".")[0]))}
    assert kept == {"start"} | {f"T{t}-{i}" for t in range(8) for i in range(5)}          # none lost


def test_expired_items_and_sessions_read_as_no_visit(stubbed, events_path):
    client, stubber = stubbed
    api, _ = events_api(events_path, client, visit_ttl_hours=1)
    ttl = events_path.client("dynamodb").describe_time_to_live(TableName=events_path.table)
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    sid = post_events(api, [{"type": "view", "product_id": "A"}])[2]["session_id"]
    uuid_ = sid.split(".")[0]
    store = EventStore(events_path.client("dynamodb"), events_path.table, ttl_s=3600)
    item = events_path.client("dynamodb").get_item(TableName=events_path.table, Key={"pk": {"S": f"s#{uuid_}"}})
    assert abs(int(item["Item"]["expires_at"]["N"]) - (time.time() + 3600)) < 60
    assert store.recent(f"s#{uuid_}", now=time.time() + 3601) == []        # past TTL, not deleted yet: no visit
    old = api.live.signer.new_session(time.time() - 2 * 3600)              # a session id issued 2 hours ago
    expect(stubber, {"items": []})
    assert call(api, proxy_event({"session_id": old}))[1][HEADER] == "expired"
    status, _, out = post_events(api, [{"type": "view", "product_id": "B"}], old)
    assert status == 200 and out["session_id"] != old and out["session_id"].split(".")[0] != old.split(".")[0]
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("body, starts", [
    ({}, "events: required"),
    ({"events": []}, "events: at least 1 entries"),
    ({"events": [{"type": "view"}] * 26}, "events: at most 25 entries"),
    ({"events": [{"type": "look", "product_id": "A"}]}, "events[0].type: must be one of view, add_to_cart"),
    ({"events": [{"product_id": "A"}]}, "events[0].type: required"),
    ({"events": [{"type": "view", "product_id": "A"}, {"type": "view"}]}, "events[1].product_id: required"),
    ({"events": [{"type": "view", "product_id": ""}]}, "events[0].product_id: must not be empty"),
    ({"events": [{"type": "view", "product_id": "x" * 65}]}, "events[0].product_id: longer than 64"),
    ({"events": [{"type": "view", "product_id": "A", "colour": 1}]}, "events[0].colour: unknown field"),
    ({"events": [{"type": "view", "product_id": "A", "timestamp": "yesterday"}]}, "events[0].timestamp: not an ISO"),
    ({"events": [{"type": "view", "product_id": "A", "timestamp": "2026-12-06T10:00:00"}]},
     "events[0].timestamp: give the offset"),
    ({"events": [{"type": "view", "product_id": "A", "timestamp": "2099-01-01T00:00:00Z"}]},
     "events[0].timestamp: in the future"),
    ({"events": [{"type": "view", "product_id": "A", "timestamp": "2020-01-01T00:00:00Z"}]},
     "events[0].timestamp: older than 24 hours"),
    ({"events": [{"type": "view", "product_id": "A", "event_id": "a b"}]}, "events[0].event_id: letters, digits"),
    ({"events": [{"type": "view", "product_id": "A", "recommendation_id": "rec-1"}]},
     "events[0].recommendation_id: not a recommendation_id this API issued"),
    ({"events": [{"type": "view", "product_id": "A"}], "customer_id": "17850"}, "customer_id: a request never names"),
    ({"events": [{"type": "view", "product_id": "A"}], "session_id": 7}, "session_id: must be a string"),
    ({"events": "view A"}, "events: must be a list"),
])
def test_malformed_events_are_400_naming_the_field_and_nothing_is_kept(stubbed, events_path, body, starts):
    client, _ = stubbed
    api, metrics = events_api(events_path, client)
    status, headers, out = call(api, proxy_event(body, path="/events"))
    assert (status, out["status"]) == (400, 400) and out["error"].startswith(starts), out
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert events_path.client("dynamodb").scan(TableName=events_path.table)["Count"] == 0
    assert events_path.keys() == [] and metrics.getvalue() == ""
