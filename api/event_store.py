"""Each shopper's recent events in DynamoDB: one item per shopper, read and written by the Lambda.

    pk          "c#<customer id>" (signed in, from the verified token) or "s#<session uuid>" (a visit)
    events      the events, in arrival order: [{"i": event id, "t": type, "p": product, "at": epoch s}]
    ids         the set of their event ids (de-duplication)
    v           the item's version, +1 at every write
    expires_at  epoch seconds: the table's TTL attribute (now + `ttl_s` at every write)

`append` is one atomic UpdateItem: the events are appended to the list (`list_append`), their ids
added to the set and the version counted up, so concurrent requests of one shopper never overwrite
each other and none waits for another. Its old values say which ids were there already (a repeat
is not counted again, nor forwarded). When the list holds more than TRIM_AT x `keep` events (or
what it held had expired), a second write puts back the newest `keep` - conditional on the version
the append produced, so it can never drop an event a concurrent request appended meanwhile (that
request trims instead). `recent` reads the item (strongly consistent: the next request sees the
last write): the newest `keep` events, each event id once, oldest first. DynamoDB deletes expired
items within days, not at once, so an item past `expires_at` reads as empty. Any DynamoDB failure
(unreachable, throttled, timed out, no table) is `StoreUnavailable`: the caller answers without the
events, never with a 500.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterable

from .behaviour import Event

log = logging.getLogger("alsreco.api")
APPEND = "SET #e = list_append(if_not_exists(#e, :none), :new), #x = :exp ADD #v :one, #i :ids"
TRIM_AT = 2                 # the list is cut back to `keep` once it holds twice as many: one trim per `keep` writes


class StoreUnavailable(Exception):
    """DynamoDB could not be read or written."""


def shopper_key(customer_id: str | None = None, session: str | None = None) -> str:
    """The item's key: a customer (verified token) or a visit (session uuid); never both."""
    if (customer_id is None) == (session is None):
        raise ValueError("exactly one of customer_id and session")
    return f"c#{customer_id}" if customer_id is not None else f"s#{session}"


def _to_item(e: Event) -> dict[str, Any]:
    return {"M": {"i": {"S": e.event_id}, "t": {"S": e.type}, "p": {"S": e.product_id},
                  "at": {"N": repr(round(e.at, 3))}}}


def _from_item(m: dict[str, Any]) -> Event:
    m = m["M"]
    return Event(m["i"]["S"], m["t"]["S"], m["p"]["S"], float(m["at"]["N"]))


def _events(attributes: dict[str, Any], now: float) -> list[Event] | None:
    """The item's events, each id once, oldest first; None when it has expired (or is absent)."""
    if not attributes or float(attributes.get("expires_at", {}).get("N", "0")) <= now:
        return None
    seen: set[str] = set()
    out = []
    for m in attributes.get("events", {}).get("L", []):
        e = _from_item(m)
        if e.event_id not in seen:
            seen.add(e.event_id)
            out.append(e)
    return sorted(out, key=lambda e: e.at)         # stable: equal times keep arrival order


class EventStore:
    def __init__(self, client: Any, table: str, keep: int = 50, ttl_s: float = 86400.0):
        self.client = client
        self.table = table
        self.keep = int(keep)
        self.ttl_s = float(ttl_s)

    def recent(self, key: str, now: float | None = None) -> list[Event]:
        """The shopper's stored events, oldest first ([] when none or expired)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            out = self.client.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return (_events(out.get("Item") or {}, time.time() if now is None else now) or [])[-self.keep:]

    def append(self, key: str, events: Iterable[Event], now: float | None = None) -> tuple[list[Event], int]:
        """Store `events`; (the ones new to the shopper, how many were repeats by event id)."""
        from botocore.exceptions import BotoCoreError, ClientError

        sent = list(events)
        unique = list({e.event_id: e for e in reversed(sent)}.values())[::-1]      # first of each id
        now = time.time() if now is None else now
        try:
            out = self.client.update_item(
                TableName=self.table, Key={"pk": {"S": key}}, UpdateExpression=APPEND, ReturnValues="ALL_OLD",
                ExpressionAttributeNames={"#e": "events", "#x": "expires_at", "#v": "v", "#i": "ids"},
                ExpressionAttributeValues={":none": {"L": []}, ":new": {"L": [_to_item(e) for e in unique]},
                                           ":exp": {"N": str(int(now + self.ttl_s))}, ":one": {"N": "1"},
                                           ":ids": {"SS": [e.event_id for e in unique]}})
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        old = out.get("Attributes") or {}
        before = _events(old, now)
        known = set(old.get("ids", {}).get("SS", [])) if before is not None else set()
        added = [e for e in unique if e.event_id not in known]
        held = len(old.get("events", {}).get("L", [])) + len(unique)
        if (before is None and old) or held > TRIM_AT * self.keep:
            self._trim(key, (before or []) + added, int(old.get("v", {}).get("N", "0")) + 1)
        return added, len(sent) - len(added)

    def _trim(self, key: str, events: list[Event], version: int) -> None:
        """Keep the newest `keep` of `events` - unless another write came after ours (it trims then)."""
        from botocore.exceptions import BotoCoreError, ClientError

        kept = sorted(events, key=lambda e: e.at)[-self.keep:]
        try:
            self.client.update_item(
                TableName=self.table, Key={"pk": {"S": key}}, UpdateExpression="SET #e = :kept, #i = :ids",
                ConditionExpression="#v = :v", ExpressionAttributeNames={"#e": "events", "#i": "ids", "#v": "v"},
                ExpressionAttributeValues={":kept": {"L": [_to_item(e) for e in kept]}, ":v": {"N": str(version)},
                                           ":ids": {"SS": sorted({e.event_id for e in kept})}})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                log.warning("event store: trimming failed (the next write trims): %s", exc)
        except BotoCoreError as exc:
            log.warning("event store: trimming failed (the next write trims): %s", exc)
