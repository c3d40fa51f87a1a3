"""The visit, live: POST /events, and what the recommendations routes read of it.

* `record`: POST /events (a visit, known by its signed session_id; the first call without one
  starts a visit and its answer carries the new id) and POST /me/events (a signed-in shopper, known
  by the verified token's customer). The events go to the shopper's item in DynamoDB
  (api/event_store.py) and to Firehose for training (api/event_stream.py); clicks, add-to-carts and
  purchases from a list are counted per model version (api/metrics.py).
* `visit`: the products of the shopper's recent events, weighted by type (api/behaviour.py), which
  the recommendations routes send to the endpoint as this session's `items`.
* `sign`: every list's recommendation_id, signed with the model version (api/signing.py).

Whose events are read is decided by the caller's own credentials only: the session_id in the
request (checked signature) or the verified token - never by anything that could name another
shopper, and a session id influences only the answer to the request that carries it. DynamoDB
down: events still go to Firehose, lists are answered without the visit, and the answer's
`X-Alsreco-Visit` header says so (`unavailable`); never a 500.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

from .behaviour import merge_items, parse_events, visit_items
from .event_store import EventStore, StoreUnavailable, shopper_key
from .event_stream import EventStream, record
from .identity import Identity
from .metrics import Metrics
from .settings import Settings
from .signing import Signer

log = logging.getLogger("alsreco.api")
HEADER = "X-Alsreco-Visit"     # recommendations: applied | none | expired | unavailable; events: stored | unavailable


@dataclass
class Live:
    settings: Settings
    signer: Signer
    store: EventStore
    stream: EventStream | None
    metrics: Metrics

    @property
    def max_age_s(self) -> float:
        return self.settings.visit_ttl_hours * 3600

    def record(self, body: Mapping[str, Any], who: Identity | None, request_id: str, now: float
               ) -> tuple[int, dict[str, Any], dict[str, str]]:
        token, events = parse_events(body, max_events=self.settings.max_events, now=now, signed_in=who is not None,
                                     max_age_s=self.settings.max_event_age_hours * 3600, signer=self.signer)
        session = None
        if who is None:
            session = self.signer.session(token, now, self.max_age_s) if token is not None else None
            if session is None:                                        # none yet, or expired: a new visit
                token = self.signer.new_session(now)
                session = self.signer.session(token, now, self.max_age_s)
            key = shopper_key(session=session)
        else:
            key = shopper_key(customer_id=who.customer_id)
        stored = "stored"
        try:
            added, duplicates = self.store.append(key, events, now)
        except StoreUnavailable as exc:
            log.warning("event store unavailable, %d event(s) go to the stream only: %s", len(events), exc)
            self.metrics.count("EventStoreUnavailable", 1, now)
            added, duplicates, stored = events, 0, "unavailable"
        if self.stream is not None and added:
            lost = self.stream.put(record(e, now, who.customer_id if who else None, session) for e in added)
            if lost:
                log.error("event stream: %d event(s) not delivered (request_id=%s)", lost, request_id)
                self.metrics.count("EventsNotDelivered", lost, now)
        self.metrics.interactions(added, now)
        payload: dict[str, Any] = {"request_id": request_id, "accepted": len(added), "duplicates": duplicates}
        if who is None:
            payload["session_id"] = token
        return 200, payload, {HEADER: stored}

    def visit(self, token: Any, who: Identity | None, now: float) -> tuple[list[str], str]:
        """(the visit's products, best first; the header's value)."""
        if who is not None:
            key = shopper_key(customer_id=who.customer_id)
        elif token is None:
            return [], "none"
        else:
            session = self.signer.session(token, now, self.max_age_s)
            if session is None:
                return [], "expired"
            key = shopper_key(session=session)
        try:
            events = self.store.recent(key, now)
        except StoreUnavailable as exc:
            log.warning("event store unavailable, answering without the visit: %s", exc)
            self.metrics.count("EventStoreUnavailable", 1, now)
            return [], "unavailable"
        items = visit_items(events, self.settings.weights, self.settings.visit_items, since=now - self.max_age_s)
        return items, "applied" if items else "none"

    def with_visit(self, payload: dict[str, Any], token: Any, who: Identity | None, now: float
                   ) -> tuple[dict[str, Any], str]:
        """`payload` with the visit's products joined to its `items`; and the header's value."""
        items, state = self.visit(token, who, now)
        if items:
            payload["items"] = merge_items(payload.get("items", []), items, self.settings.max_ids)
        return payload, state

    def sign(self, answer: dict[str, Any]) -> dict[str, Any]:
        rec, version = answer.get("recommendation_id"), answer.get("model_version")
        if rec and version:
            answer["recommendation_id"] = self.signer.recommendation_id(str(rec), str(version))
        return answer


def make_live(settings: Settings, key: bytes, metrics: Metrics, dynamodb: Any = None, firehose: Any = None) -> Live:
    """A Live for `settings` (EVENTS_TABLE set) with its boto3 clients (made here unless given)."""
    if dynamodb is None or (firehose is None and settings.events_stream):
        made_dynamodb, made_firehose = make_clients(settings)
        dynamodb = dynamodb or made_dynamodb
        firehose = firehose or made_firehose
    return Live(settings, Signer(key),
                EventStore(dynamodb, settings.events_table, settings.visit_events, settings.visit_ttl_hours * 3600),
                EventStream(firehose, settings.events_stream) if settings.events_stream else None, metrics)


def _config(settings: Settings):
    from botocore.config import Config

    return Config(connect_timeout=settings.store_timeout, read_timeout=settings.store_timeout,
                  retries={"total_max_attempts": 2, "mode": "standard"})


def make_clients(settings: Settings) -> tuple[Any, Any]:
    """(dynamodb, firehose) clients with short time-outs: a slow store must not hold a list back."""
    import boto3

    kw = {"region_name": settings.region, "endpoint_url": settings.events_endpoint_url, "config": _config(settings)}
    return boto3.client("dynamodb", **kw), boto3.client("firehose", **kw)


def fetch_key(settings: Settings) -> bytes:
    """The signing key: SIGNING_KEY, else the Secrets Manager secret's value."""
    if settings.signing_key:
        return settings.signing_key
    import boto3

    client = boto3.client("secretsmanager", region_name=settings.region, endpoint_url=settings.events_endpoint_url,
                          config=_config(settings))
    return client.get_secret_value(SecretId=settings.signing_secret_arn)["SecretString"].encode()
