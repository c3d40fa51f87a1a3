"""Shopper events as training data: the `events` channel (event_files.py) cleaned, reported like sales
lines, and turned into purchase lines that join the sales history before the ratings are built.

Cleaning, each rule counted in the report (`metadata.json` data.events):
* malformed - a row without type or product_id, or whose timestamp is not ISO 8601 (e.g.
  2026-12-06T10:00:00Z; no offset = UTC), or that names no shopper (customer_id / session_id); the
  first ones are reported with their file and line, and more than `max_malformed_rows` fails the job;
* unknown_type - a type other than view, add_to_cart, remove_from_cart, purchase;
* duplicate_event_id - a repeat of an event id already read (Firehose delivers at least once);
* anonymous - a visit's events (session_id, no customer_id) when `events_anonymous` is false;
* non_product_code - `non_product_codes`, as for sales; after_as_of - after `retention_date`.

Weights: each (shopper, product) pair scores `event_weight_view` per view, `event_weight_add_to_cart`
per add_to_cart (a remove_from_cart takes one away: removing undoes adding) and
`event_weight_purchase` per purchase, at least 0. A pair scoring n becomes n purchase lines of
quantity 1 dated at its last event: under every `ranking_type` an event then counts as that many
lines of sales history (`count`: n; `total_qty`: n units; `incident`: the pair exists). A signed-in
shopper's events are their customer id's (joining their sales history); a visit's are a customer
`session:<uuid>` of its own, which teaches the model which products go together.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...core.errors import UserError
from .event_files import read_rows

log = logging.getLogger(__name__)

TYPES = ("view", "add_to_cart", "remove_from_cart", "purchase")
DROP_RULES = ("unknown_type", "duplicate_event_id", "anonymous", "non_product_code", "after_as_of")
SESSION_PREFIX = "session:"
COLUMNS = ("customer", "product", "quantity", "date", "invoice", "description", "price", "country")


@dataclass
class EventReport:
    files: int = 0
    rows_read: int = 0
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=lambda: {r: 0 for r in DROP_RULES})
    by_type: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TYPES})
    pairs: int = 0          # (shopper, product) pairs scoring above 0
    lines: int = 0          # purchase lines they became

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "rows_read": self.rows_read, "malformed_rows": self.malformed,
                "malformed_examples": self.malformed_examples[:10], "dropped": dict(self.dropped),
                "by_type": dict(self.by_type), "pairs": self.pairs, "lines": self.lines}


def weights(hp: dict[str, Any]) -> dict[str, int]:
    add = int(hp["event_weight_add_to_cart"])
    return {"view": int(hp["event_weight_view"]), "add_to_cart": add, "remove_from_cart": -add,
            "purchase": int(hp["event_weight_purchase"])}


def _parse(files: list[Path], hp: dict[str, Any], report: EventReport) -> pd.DataFrame:
    """Readable rows as a frame (shopper, product, type, at, event_id, where), malformed ones counted."""
    records = []
    for path in files:
        bad: list[str] = []
        report.files += 1
        for where, row in read_rows(path, bad):
            records.append((where, row))
        report.rows_read += len(bad)
        report.malformed += len(bad)
        report.malformed_examples += bad[:5]
    report.rows_read += len(records)
    frame = pd.DataFrame({
        "where": [w for w, _ in records],
        "type": [r.get("type", "") for _, r in records],
        "product": [r.get("product_id", "") for _, r in records],
        "customer": [r.get("customer_id", "") for _, r in records],
        "session": [r.get("session_id", "") for _, r in records],
        "event_id": [r.get("event_id", "") for _, r in records],
        "timestamp": [r.get("timestamp", "") for _, r in records]}, dtype=object)
    frame["customer"] = frame["customer"].str.replace(r"^(\d+)\.0+$", r"\1", regex=True)   # 17850.0 -> 17850
    at = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601", errors="coerce")
    frame["at"] = at.dt.tz_localize(None)
    problems = [("type", frame["type"] == ""), ("product_id", frame["product"] == ""),
                ("timestamp", frame["at"].isna()),
                ("customer_id or session_id", (frame["customer"] == "") & (frame["session"] == ""))]
    bad = np.zeros(len(frame), dtype=bool)
    for name, mask in problems:
        mask = mask.to_numpy() & ~bad
        for i in np.flatnonzero(mask)[:5]:
            shown = f" {frame['timestamp'].iat[i]!r} is not an ISO 8601 time" if name == "timestamp" else " missing"
            report.malformed_examples.append(f"{frame['where'].iat[i]}: {name}{shown}")
        bad |= mask
    report.malformed += int(bad.sum())
    if report.malformed > hp["max_malformed_rows"]:
        raise UserError(f"events channel: {report.malformed} malformed rows (limit max_malformed_rows="
                        f"{hp['max_malformed_rows']}); first ones: " + "; ".join(report.malformed_examples[:5])
                        + ". Fix the data or raise max_malformed_rows.")
    return frame[~bad]


def _clean(frame: pd.DataFrame, hp: dict[str, Any], report: EventReport) -> pd.DataFrame:
    as_of = pd.Timestamp(hp["retention_date"]) + pd.Timedelta(days=1) if hp.get("retention_date") else None
    rules = {
        "unknown_type": lambda d: ~d["type"].isin(TYPES),
        "duplicate_event_id": lambda d: (d["event_id"] != "") & d["event_id"].duplicated(keep="first"),
        "anonymous": lambda d: (d["customer"] == "") & (not hp["events_anonymous"]),
        "non_product_code": lambda d: d["product"].isin(set(hp["non_product_codes"])),
        "after_as_of": lambda d: d["at"] >= as_of if as_of is not None else pd.Series(False, index=d.index),
    }
    for name in DROP_RULES:
        mask = rules[name](frame).to_numpy(dtype=bool)
        report.dropped[name] += int(mask.sum())
        frame = frame[~mask]
    for kind, n in frame["type"].value_counts().items():
        report.by_type[str(kind)] = int(n)
    return frame


def to_lines(frame: pd.DataFrame, hp: dict[str, Any], report: EventReport) -> pd.DataFrame:
    """Clean events -> purchase lines (the sales columns), per the module docstring."""
    w = weights(hp)
    shopper = frame["customer"].where(frame["customer"] != "", SESSION_PREFIX + frame["session"])
    pairs = (pd.DataFrame({"customer": shopper, "product": frame["product"],
                           "score": frame["type"].map(w).astype(np.int64), "date": frame["at"]})
             .groupby(["customer", "product"], sort=True).agg(score=("score", "sum"), date=("date", "max"))
             .reset_index())
    pairs = pairs[pairs["score"] > 0]
    report.pairs = len(pairs)
    repeat = pairs["score"].to_numpy(np.int64)
    report.lines = int(repeat.sum())
    lines = pairs.loc[pairs.index.repeat(repeat)]
    return pd.DataFrame({"customer": lines["customer"].to_numpy(), "product": lines["product"].to_numpy(),
                         "quantity": np.ones(len(lines)), "date": lines["date"].to_numpy(),
                         "invoice": "", "description": "", "price": np.nan, "country": ""},
                        columns=list(COLUMNS))


def load(files: list[Path], hp: dict[str, Any]) -> tuple[pd.DataFrame, EventReport]:
    """The events channel's files as purchase lines (possibly none), and what was read and dropped."""
    report = EventReport()
    frame = _clean(_parse(files, hp, report), hp, report)
    lines = to_lines(frame, hp, report)
    log.info("events: %d row(s) from %d file(s), %d malformed, dropped %s; %d (shopper, product) pair(s) -> "
             "%d purchase line(s)", report.rows_read, report.files, report.malformed, report.dropped, report.pairs,
             report.lines)
    return lines, report


def join(sales: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Sales lines and event lines as one table (the event lines' columns and types as the sales')."""
    if lines.empty:
        return sales
    lines = lines.astype({"date": sales["date"].dtype})
    return pd.concat([sales, lines[list(sales.columns)]], ignore_index=True)


def spark_join(spark, frame, lines: pd.DataFrame):
    """`join` on the Spark path: the event lines (on the driver: one row per point of weight) as a
    DataFrame with the sales frame's columns and types (file -1: no sales file), unioned to it."""
    from pyspark.sql import functions as F

    extra = lines.assign(file=-1, seq=np.arange(len(lines), dtype=np.int64))
    made = spark.createDataFrame(extra[[f.name for f in frame.schema]])
    return frame.unionByName(made.select([F.col(f.name).cast(f.dataType) for f in frame.schema]))
