"""From input files to what the ALS fit, the evaluation and the model need, on one of two data paths.

- pandas (`inputs/read.py`, `ratings.py`): local inputs up to `pandas_limit` bytes on one host. Precise
  line numbers in errors, no JVM before bad data is rejected, and faster than Spark on one host
  (`make bench-train`, 2 cores, one run: 1M lines, 86 MB, `train` 15 s against 37 s on the Spark
  path; 10M lines, 882 MB, 101 s against 147 s), at ~4-6x the CSV's size in driver memory while
  reading (882 MB -> 3.2 GB peak, 1.2 GB kept for the evaluation split), before the JVM starts.
- Spark (`inputs/spark_read.py`, `spark_ratings.py`): larger inputs, an `input_uri`, or the job's
  own multi-host cluster. Nothing proportional to the number of purchase
  lines reaches the driver; only what the model holds (ids, rating pairs, per-product and
  per-customer arrays) is collected.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ..core.settings import Settings
from . import derived, spark_ratings, spark_trends, splits
from . import ratings as ratings_mod
from .inputs import events as events_mod
from .inputs import read, spark_read
from .inputs.read import LoadReport
from .ratings import Catalogue, Ratings

log = logging.getLogger(__name__)
PANDAS_MAX_BYTES = 1 << 30  # above this total input size the data path always runs in Spark
# ... and above 1/16 of the memory limit: reading peaks at ~4-6x the CSV size (at most ~3/8 of the
# limit, before the JVM starts); ~1.4x stays held while the JVM (0.6 of the limit) fits
MEMORY_PER_INPUT_BYTE = 16


@dataclass
class Prepared:
    report: LoadReport
    as_of: pd.Timestamp
    ratings: Ratings
    catalogue: Catalogue
    first_date: str
    last_date: str
    split: Callable[[str, pd.Timestamp], splits.Split | None]  # evaluation split: (protocol, window start)
    frame: Any = None  # the ratings as a Spark DataFrame (Spark path), for the ALS fit
    release: Callable[[], None] = lambda: None  # drop what the Spark path persisted
    # the ratings (and their Spark frame) under another recency_half_life_days, same indices
    reweigh: Callable[[float], tuple[Ratings, Any]] = lambda days: (None, None)  # type: ignore[assignment]
    # customers with a purchase before a day and one on or after it (the time window's returning customers)
    returning: Callable[[pd.Timestamp], int] = lambda start: 0
    attributes: dict[str, Any] | None = None  # what the lines say of each product (train/derived.py)
    events: dict[str, Any] | None = None  # the events channel's report (inputs/events.py), when there is one

    @property
    def path(self) -> str:
        return "pandas" if self.frame is None else "spark"


def is_local(settings: Settings) -> bool:
    return not settings.spark_master or settings.spark_master.startswith("local")


def pandas_limit(settings: Settings) -> int:
    """Bytes of input the pandas path takes on one host: ALSRECO_PANDAS_MAX_MB, else the smaller of
    PANDAS_MAX_BYTES and 1/MEMORY_PER_INPUT_BYTE of the memory limit (the driver JVM needs the rest)."""
    if settings.pandas_max_mb >= 0:
        return settings.pandas_max_mb << 20
    from .spark.resources import memory_limit_bytes
    return min(PANDAS_MAX_BYTES, memory_limit_bytes() // MEMORY_PER_INPUT_BYTE)


def use_spark(files: list[Path], settings: Settings, own_cluster: bool, threshold: int | None = None) -> bool:
    """Which path reads the channel's `files` (regular files: Pipe FIFOs already spooled).

    Spark when the files exceed `threshold` bytes in total (default `pandas_limit`), or on the job's
    own multi-host cluster (every host holds the FullyReplicated channel at the same path); but never
    when executors cannot read them: an attached cluster (SPARK_MASTER) sees only its own disks (use
    input_uri), and on several hosts a gzip file must be named .gz (Spark picks codecs by name)."""
    if not is_local(settings):
        if not own_cluster:
            return False
        unreadable = [f for f in files if not spark_read.readable_in_place(f)]
        if unreadable:
            log.warning("reading the data on the leader (pandas): Spark executors cannot read %s in place "
                        "(gzip without a .gz name); rename it to read it with Spark", unreadable[0])
            return False
        return True
    return sum(Path(f).stat().st_size for f in files) > (pandas_limit(settings) if threshold is None else threshold)


def pandas_path(files: list[Path], hp: dict[str, Any], event_files: list[Path] | None = None) -> Prepared:
    df, report = read.load(files, hp)
    events = event_lines(event_files, hp)
    df = events_mod.join(df, events[0]) if events else df
    as_of = ratings_mod.as_of_date(df, hp)
    r = ratings_mod.build(df, hp, as_of)
    cat = ratings_mod.catalogue(df, r, hp, as_of)
    spans: list[tuple[pd.Series, pd.Series]] = []

    def returning(start: pd.Timestamp) -> int:
        if not spans:  # each customer's first and last purchase, once
            by = df.groupby("customer", sort=False)["date"]
            spans.append((by.min(), by.max()))
        first, last = spans[0]
        return int(((first < start) & (last >= start)).sum())

    return Prepared(report, as_of, r, cat, str(df["date"].min()), str(df["date"].max()),
                    split=lambda protocol, start: splits.pandas_split(df, hp, as_of, protocol, start),
                    reweigh=lambda days: (ratings_mod.build(df, splits.half_life_hp(hp, days), as_of), None),
                    returning=returning,
                    attributes=derived.from_lines(df, r.product_ids),
                    events=events[1].as_dict() if events else None)


def event_lines(event_files: list[Path] | None, hp: dict[str, Any]):
    """(purchase lines, report) of the events channel (inputs/events.py); None without one."""
    if not event_files:
        return None
    return events_mod.load(event_files, hp)


def spark_path(spark, hp: dict[str, Any], files: list[Path] | None = None, uri: str = "",
               stage: Path | None = None, local: bool = True, event_files: list[Path] | None = None) -> Prepared:
    """The Spark data path over local `files` (staged under `stage` on a local master) or `uri`."""
    if uri:
        frame, report = spark_read.load_uri(spark, uri, hp)
    else:
        frame, report = spark_read.load(spark, files, hp, stage=stage, local=local)
    events = event_lines(event_files, hp)  # read on the driver: one line per (shopper, product) point of weight
    if events and len(events[0]):
        frame = events_mod.spark_join(spark, frame, events[0])
    first, last = spark_ratings.date_range(frame)
    as_of = spark_ratings.as_of_date(frame, hp, last)
    sr = spark_ratings.build(frame, hp, as_of)
    cat = spark_ratings.catalogue(frame, sr, hp, as_of)
    made: list[Callable[[], None]] = []  # the splits' unpersist: their driver arrays are not kept here

    def split(protocol: str, start: pd.Timestamp) -> splits.Split | None:
        got = spark_ratings.split_last_basket(frame, hp, as_of) if protocol == "last_basket" \
            else spark_ratings.split(frame, hp, start)
        if got is None:
            return None
        sr = got[0]
        own = [sr.unpersister()]
        made.extend(own)
        split_as_of = as_of if protocol == "last_basket" else start - pd.Timedelta(days=1)

        def reweigh(days: float):
            again = spark_ratings.build(sr.lines, splits.half_life_hp(hp, days), split_as_of, like=sr)
            own.append(again.unpersister())
            made.append(own[-1])
            return again.ratings, again.frame

        def release_split() -> None:
            for unpersist in own:
                unpersist()

        n = sr.ratings.shape[1]
        by_day = None if len(got) < 6 else spark_trends.day_counts(sr.lines, sr.products, n, got[5], hp)
        return splits.Split(sr.ratings, got[1], got[2], sr.frame, got[3] if len(got) > 3 else {},
                            trends=spark_trends.compute(sr.lines, sr.products, n, split_as_of, hp),
                            reweigh=reweigh, release=release_split, test_days=got[4] if len(got) > 4 else None,
                            day_trends=by_day)

    def reweigh(days: float):
        again = spark_ratings.build(frame, splits.half_life_hp(hp, days), as_of, like=sr)
        made.append(again.unpersister())
        return again.ratings, again.frame

    def returning(start: pd.Timestamp) -> int:
        from pyspark.sql import functions as F
        cut = F.lit(str(start)).cast("timestamp")
        spans = frame.groupBy("customer").agg(F.min("date").alias("first"), F.max("date").alias("last"))
        return int(spans.where((F.col("first") < cut) & (F.col("last") >= cut)).count())

    def release() -> None:
        for unpersist in [sr.unpersister(), *made]:
            unpersist()
        spark_read.release(spark)

    return Prepared(report, as_of, sr.ratings, cat, str(first), str(last), split, sr.frame, release, reweigh,
                    returning, attributes=derived.from_spark(frame, sr.products, sr.ratings.shape[1]),
                    events=events[1].as_dict() if events else None)
