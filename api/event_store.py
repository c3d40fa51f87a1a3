"""Each shopper's recent events in DynamoDB: one item per shopper, read and written by the Lambda.

    pk          "c#<customer id>" (signed in, from the verified token) or "s#<session uuid>" (a visit)
    events      the newest `keep` events, oldest first: [{"i": event id, "t": type, "p": product, "at": epoch s}]
    v           the item's version: every write is conditional on it (optimistic locking)
    expires_at  epoch seconds: the table's TTL attribute (now + `ttl_s` at each write)

`append` reads the item (strongly consistent), adds the events whose ids it does not hold yet,
keeps the newest `keep`, and writes it back only if nobody wrote in between (`v = :v`, or
`attribute_not_exists(pk)` for a new item); when somebody did, it reads again and retries, so two
concurrent requests both land. `recent` reads it (strongly consistent: the next request sees the
last write). DynamoDB deletes expired items within days, not at once, so an item past
`expires_at` reads as empty. Any DynamoDB failure (unreachable, throttled, timed out, no table) is
`StoreUnavailable`: the caller answers without the events, never with a 500.
"""
from __future__ import annotations

import logging
import random
import time
from typing import Any, Iterable

from .behaviour import Event

log = logging.getLogger("alsreco.api")
TRIES = 6


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


class EventStore:
    def __init__(self, client: Any, table: str, keep: int = 50, ttl_s: float = 86400.0):
        self.client = client
        self.table = table
        self.keep = int(keep)
        self.ttl_s = float(ttl_s)

    def _get(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            out = self.client.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return out.get("Item")

    def recent(self, key: str, now: float | None = None) -> list[Event]:
        """The shopper's stored events, oldest first ([] when none or expired)."""
        item = self._get(key)
        now = time.time() if now is None else now
        if not item or float(item.get("expires_at", {}).get("N", "0")) <= now:
            return []
        return [_from_item(m) for m in item.get("events", {}).get("L", [])]

    def append(self, key: str, events: Iterable[Event], now: float | None = None) -> tuple[list[Event], int]:
        """Store `events`; (the ones stored, how many were already there by event id)."""
        from botocore.exceptions import BotoCoreError, ClientError

        events = list(events)
        for attempt in range(TRIES):
            now_s = time.time() if now is None else now
            item = self._get(key)
            live = bool(item) and float(item.get("expires_at", {}).get("N", "0")) > now_s
            current = [_from_item(m) for m in item.get("events", {}).get("L", [])] if live else []
            seen = {e.event_id for e in current}
            added = []
            for e in events:
                if e.event_id not in seen:
                    seen.add(e.event_id)
                    added.append(e)
            if not added:
                return [], len(events)
            kept = sorted(current + added, key=lambda e: e.at)[-self.keep:]       # stable: ties keep arrival order
            version = int(item["v"]["N"]) if item else 0
            condition = ({"ConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": {"N": str(version)}}}
                         if item else {"ConditionExpression": "attribute_not_exists(pk)"})
            try:
                self.client.put_item(TableName=self.table, Item={
                    "pk": {"S": key}, "v": {"N": str(version + 1)}, "events": {"L": [_to_item(e) for e in kept]},
                    "expires_at": {"N": str(int(now_s + self.ttl_s))}}, **condition)
                return added, len(events) - len(added)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
                log.info("event store: concurrent write to %s, retrying (%d)", key[:2], attempt + 1)
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
            except BotoCoreError as exc:
                raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        raise StoreUnavailable(f"{TRIES} concurrent writes in a row to one shopper's events")
