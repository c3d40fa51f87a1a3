"""POST /events and the lists when something fails: the store refuses connections or never answers
(lists are answered without the visit, a 200 whose X-Alsreco-Visit header says so; events still go
to Firehose), the signing key cannot be read (lists work, /events answers 503), and a cold start of
the real entry point from the stack's environment. The handler with real boto3 clients on moto and
a stubbed endpoint, as in test_events.py."""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from api.handler import Api, lambda_handler
from api.live import HEADER
from api.settings import Settings
from tests.api.conftest import ORIGIN, Context, events_api, proxy_event
from tests.api.test_events import call, expect, post_events, records


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]                   # closed again: connection refused


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers (a hung store)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("outage", ["refused", "hung"])
def test_a_store_outage_answers_without_the_visit_never_a_500(stubbed, events_path, silent_server, outage):
    import boto3
    from botocore.config import Config

    client, stubber = stubbed
    api, metrics = events_api(events_path, client, store_timeout=0.3)
    sid = post_events(api, [{"type": "view", "product_id": "A"}])[2]["session_id"]
    url = f"http://127.0.0.1:{_closed_port()}" if outage == "refused" else silent_server
    api.live.store.client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=url, config=Config(
        connect_timeout=0.3, read_timeout=0.3, retries={"total_max_attempts": 2, "mode": "standard"}))
    expect(stubber, {"items": ["B"], "k": 3})                         # the stateless answer: the request alone
    started = time.monotonic()
    status, headers, out = call(api, proxy_event({"items": ["B"], "k": 3, "session_id": sid}))
    assert (status, headers[HEADER]) == (200, "unavailable"), out
    assert time.monotonic() - started < 5
    status, headers, out = post_events(api, [{"type": "view", "product_id": "C", "event_id": "kept"}], sid)
    assert (status, headers[HEADER], out["accepted"]) == (200, "unavailable", 1)
    assert "kept" in {r["event_id"] for r in records(events_path)}       # still kept for training
    assert '"EventStoreUnavailable":1' in metrics.getvalue()
    stubber.assert_no_pending_responses()


def test_without_a_signing_key_lists_still_work_and_events_answer_503(stubbed, events_path):
    client, stubber = stubbed
    api, _ = events_api(events_path, client, signing_secret_arn=events_path.secret_arn + "-missing")
    assert api.live is None
    status, _, out = post_events(api, [{"type": "view", "product_id": "A"}])
    assert status == 503 and "events cannot be recorded" in out["error"]
    expect(stubber, {"items": []})
    status, headers, _ = call(api, proxy_event({}))
    assert (status, headers[HEADER]) == (200, "unavailable")
    plain = Api(Settings(endpoint_name="reco"), client)                      # no events configured at all
    assert post_events(plain, [{"type": "view", "product_id": "A"}])[0] == 404
    stubber.assert_no_pending_responses()


def test_the_lambda_entry_point_reads_its_key_from_secrets_manager(events_path, monkeypatch):
    """A cold start from the environment the stack sets: the events path works end to end."""
    import api.handler as handler

    env = {"ENDPOINT_NAME": "reco", "EVENTS_TABLE": events_path.table, "EVENTS_STREAM": events_path.stream,
           "SIGNING_SECRET_ARN": events_path.secret_arn, "EVENTS_ENDPOINT_URL": events_path.endpoint,
           "AWS_REGION": "us-east-1", "ALLOWED_ORIGIN": ORIGIN}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(handler, "_STATE", {})
    result = lambda_handler(proxy_event({"events": [{"type": "view", "product_id": "A"}]}, path="/events"), Context())
    assert result["statusCode"] == 200, result["body"]
    assert json.loads(result["body"])["accepted"] == 1 and "api" in handler._STATE
