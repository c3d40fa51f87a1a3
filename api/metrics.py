"""What the storefront earns, per model version: CloudWatch metrics as embedded metric format (EMF)
log lines - one JSON object per line on the Lambda's output, which CloudWatch Logs turns into
metrics; no API call per event.

    Impressions   lists served to shoppers (POST /recommendations, /me/recommendations)
    Clicks        `view` events that carry the recommendation_id of the list they came from
    AddToCarts    `add_to_cart` events that do
    Purchases     `purchase` events that do

all in namespace `Alsreco/Storefront` (METRICS_NAMESPACE) with one dimension, `ModelVersion` (from
the list's signed recommendation_id: api/signing.py). Click-through = Clicks / Impressions,
conversion = Purchases / Clicks (the dashboard, infra/dashboard.py). Two more, without a dimension,
for alarms: `EventsNotDelivered` (lost for training: Firehose failed) and `EventStoreUnavailable`
(DynamoDB failed: answers went out without the visit).
"""
from __future__ import annotations

import json
import sys
import threading
import time
from typing import Callable, Iterable, TextIO

from .behaviour import Event

NAMESPACE = "Alsreco/Storefront"
DIMENSION = "ModelVersion"
COUNTED = {"view": "Clicks", "add_to_cart": "AddToCarts", "purchase": "Purchases"}


def emf(namespace: str, values: dict[str, int], dimensions: dict[str, str], now: float) -> str:
    """One EMF document: `values` (metric -> count) under `dimensions`."""
    doc = {"_aws": {"Timestamp": int(now * 1000), "CloudWatchMetrics": [{
        "Namespace": namespace, "Dimensions": [sorted(dimensions)] if dimensions else [],
        "Metrics": [{"Name": name, "Unit": "Count"} for name in values]}]},
        **dimensions, **values}
    return json.dumps(doc, separators=(",", ":"))


class LineWriter:
    """Writes each line to a text stream (the Lambda's stdout by default), whole lines only."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(line + "\n")
            stream.flush()


class Metrics:
    def __init__(self, namespace: str = NAMESPACE, write: Callable[[str], None] | None = None):
        self.namespace = namespace
        self.write = write or LineWriter()

    def impression(self, model_version: str | None, now: float | None = None) -> None:
        if model_version:
            self.write(emf(self.namespace, {"Impressions": 1}, {DIMENSION: str(model_version)},
                           time.time() if now is None else now))

    def interactions(self, events: Iterable[Event], now: float | None = None) -> None:
        """One line per model version named by the events' recommendation ids."""
        counts: dict[str, dict[str, int]] = {}
        for e in events:
            if e.model_version and e.type in COUNTED:
                per = counts.setdefault(e.model_version, {name: 0 for name in COUNTED.values()})
                per[COUNTED[e.type]] += 1
        now = time.time() if now is None else now
        for version, values in counts.items():
            self.write(emf(self.namespace, values, {DIMENSION: version}, now))

    def count(self, name: str, n: int, now: float | None = None) -> None:
        if n:
            self.write(emf(self.namespace, {name: int(n)}, {}, time.time() if now is None else now))
