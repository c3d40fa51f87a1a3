"""Shopper events: what POST /events and POST /me/events take, and what a visit's recent events
say about it.

    {"session_id": "...", "events": [{"type": "view", "product_id": "85123A",
                                      "timestamp": "2026-12-06T10:00:00Z", "event_id": "e-1",
                                      "recommendation_id": "..."}]}

The body is checked against api/events.schema.json, then each event: `product_id` as the
container's text (17850.0 -> "17850", at most 64 characters), `timestamp` an ISO 8601 time with an
offset (default: when it arrived) no older than `max_event_age` and not in the future beyond the
clock skew allowed, `event_id` letters, digits and `_ . : -` (default: a new uuid),
`recommendation_id` one this API issued (api/signing.py; it names the model version clicks are
counted under). Every problem is a 400 whose message starts with the field's path
(`events[2].timestamp: ...`).

A visit's products (`visit_items`): each event adds its type's weight to its product's score -
view 1, add_to_cart 2, purchase 4 by default, the same weights `train` gives the events channel
(alsreco/core/hyperparameters.py) - and remove_from_cart takes an add_to_cart's weight away, so
removing from the basket undoes adding. Products scoring above zero are the visit, best first
(then the most recent), at most `limit`: the endpoint folds them in as this session's `items`.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from . import schema
from .errors import ApiError
from .validate import IDENTITY, clean_id

REMOVE, ADD = "remove_from_cart", "add_to_cart"
EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
CLOCK_SKEW_S = 300


@dataclass(frozen=True)
class Event:
    event_id: str
    type: str
    product_id: str
    at: float                                   # epoch seconds: the sender's timestamp, else arrival
    recommendation_id: str | None = None        # the endpoint's id of the list it came from (verified)
    model_version: str | None = None            # ... and the model that made that list


def parse_time(text: str, field: str, now: float, max_age_s: float) -> float:
    """Epoch seconds of an ISO 8601 time with an offset (or Z); ApiError(400) naming `field`."""
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{field}: not an ISO 8601 time such as 2026-12-06T10:00:00Z") from None
    if when.tzinfo is None:
        raise ApiError(400, f"{field}: give the offset (Z for UTC), e.g. 2026-12-06T10:00:00Z")
    at = when.timestamp()
    if at > now + CLOCK_SKEW_S:
        raise ApiError(400, f"{field}: in the future (more than {CLOCK_SKEW_S} s ahead of the server's clock)")
    if at < now - max_age_s:
        raise ApiError(400, f"{field}: older than {max_age_s / 3600:g} hours; send events as they happen")
    return at


def parse_events(body: Mapping[str, Any], *, max_events: int, max_age_s: float, now: float, signed_in: bool,
                 signer) -> tuple[Any, list[Event]]:
    """(the session_id as sent or None, the events), or ApiError(400) naming the field."""
    for name in schema.identity_fields():
        if name in body:
            raise ApiError(400, IDENTITY.format(name=name).replace("(POST /me/recommendations)", "(POST /me/events)"))
    if signed_in and "session_id" in body:
        raise ApiError(400, "session_id: a signed-in shopper's events are kept under their account; send no "
                            "session_id with a token")
    schema.check(body, schema.resolved(max_events=max_events, name="events"))
    events = []
    for i, raw in enumerate(body["events"]):
        at = f"events[{i}]"
        event_id = raw.get("event_id")
        if event_id is None:
            event_id = uuid.uuid4().hex
        elif not EVENT_ID.match(event_id):
            raise ApiError(400, f"{at}.event_id: letters, digits and _ . : - only")
        rec_id = version = None
        if raw.get("recommendation_id") is not None:
            if signer is None:
                raise ApiError(400, f"{at}.recommendation_id: not a recommendation_id this API issued")
            rec_id, version = signer.recommendation(raw["recommendation_id"], f"{at}.recommendation_id")
        when = parse_time(raw["timestamp"], f"{at}.timestamp", now, max_age_s) if "timestamp" in raw else now
        events.append(Event(event_id, raw["type"], clean_id(f"{at}.product_id", raw["product_id"]), when,
                            rec_id, version))
    return body.get("session_id"), events


def weight_of(kind: str, weights: Mapping[str, float]) -> float:
    return -weights[ADD] if kind == REMOVE else weights[kind]


def visit_items(events: Iterable[Event], weights: Mapping[str, float], limit: int,
                since: float | None = None) -> list[str]:
    """The visit's products from its events (see the module docstring), best first."""
    score: dict[str, float] = {}
    last: dict[str, float] = {}
    for e in events:
        if since is not None and e.at < since:
            continue
        score[e.product_id] = score.get(e.product_id, 0.0) + weight_of(e.type, weights)
        last[e.product_id] = max(last.get(e.product_id, e.at), e.at)
    ranked = sorted((p for p, s in score.items() if s > 0), key=lambda p: (-score[p], -last[p], p))
    return ranked[:limit]


def merge_items(asked: Sequence[str], visit: Sequence[str], limit: int) -> list[str]:
    """The request's own items first, then the visit's, each once, at most `limit`."""
    return list(dict.fromkeys([*asked, *visit]))[:limit]
