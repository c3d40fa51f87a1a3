"""Events to Amazon Data Firehose, which lands them in S3 as JSON Lines for `train`'s `events` channel.

One record per event, one JSON object per line (Firehose concatenates records, so each ends with a
newline):

    {"event_id": "...", "type": "view", "product_id": "85123A", "timestamp": "2026-12-06T10:00:00Z",
     "received_at": "2026-12-06T10:00:01Z", "session_id": "<uuid>" | "customer_id": "17850",
     "recommendation_id": "...", "model_version": "..."}

`session_id` is the visit's uuid (never the signed id the page holds); a signed-in shopper's
events carry the customer id from the verified token instead. One PutRecordBatch per request;
records Firehose reports as failed are sent once more; what still fails is counted (the caller
logs it and emits a metric: events lost for training, never an error for the shopper).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Iterable

from .behaviour import Event

log = logging.getLogger("alsreco.api")
BATCH = 500                      # PutRecordBatch's most records per call


def iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(e: Event, received: float, customer_id: str | None = None, session: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"event_id": e.event_id, "type": e.type, "product_id": e.product_id,
                           "timestamp": iso(e.at), "received_at": iso(received)}
    if customer_id is not None:
        out["customer_id"] = customer_id
    else:
        out["session_id"] = session
    if e.recommendation_id is not None:
        out["recommendation_id"] = e.recommendation_id
        out["model_version"] = e.model_version
    return out


class EventStream:
    def __init__(self, client: Any, stream: str):
        self.client = client
        self.stream = stream

    def put(self, records: Iterable[dict[str, Any]]) -> int:
        """Send the records; how many were not delivered."""
        from botocore.exceptions import BotoCoreError, ClientError

        pending = [{"Data": (json.dumps(r, separators=(",", ":")) + "\n").encode()} for r in records]
        lost = 0
        for start in range(0, len(pending), BATCH):
            batch = pending[start:start + BATCH]
            for attempt in range(2):
                try:
                    out = self.client.put_record_batch(DeliveryStreamName=self.stream, Records=batch)
                except (BotoCoreError, ClientError) as exc:
                    log.error("event stream: %s (%d records, attempt %d)", exc, len(batch), attempt + 1)
                    continue
                failed = [rec for rec, res in zip(batch, out.get("RequestResponses", [])) if res.get("ErrorCode")]
                if not out.get("FailedPutCount") or not failed:
                    batch = []
                    break
                batch = failed
            lost += len(batch)
        return lost
