"""`trends.py` in Spark: distinct buyers per product in the two trend windows, one aggregation over the
purchase lines; only one row per product reaches the driver."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import trends


def window_counts(frame, products, n_products: int, as_of: pd.Timestamp,
                  window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """`trends.window_counts`: `frame` holds the purchase lines (customer, product, date), `products` the
    (product, item) index table of the model."""
    from pyspark.sql import functions as F

    recent_start, before_start, end = trends.bounds(as_of, window_days)
    ts = {name: F.lit(str(value)).cast("timestamp") for name, value in
          (("recent", recent_start), ("before", before_start), ("end", end))}
    date = F.col("date")
    in_recent = (date >= ts["recent"]) & (date < ts["end"])
    in_before = (date >= ts["before"]) & (date < ts["recent"])
    got = (frame.where((date >= ts["before"]) & (date < ts["end"]))
           .groupBy("product")
           .agg(F.countDistinct(F.when(in_recent, F.col("customer"))).alias("recent"),
                F.countDistinct(F.when(in_before, F.col("customer"))).alias("before"))
           .join(products, "product").select("item", "recent", "before").toPandas())
    recent, before = np.zeros(n_products, np.int64), np.zeros(n_products, np.int64)
    idx = got["item"].to_numpy(np.int64)
    recent[idx] = got["recent"].to_numpy(np.int64)
    before[idx] = got["before"].to_numpy(np.int64)
    return recent, before


def compute(frame, products, n_products: int, as_of: pd.Timestamp, hp: dict[str, Any]) -> trends.Trends:
    """`trends.compute` on the Spark path."""
    return trends.of_counts(*window_counts(frame, products, n_products, as_of, hp["trend_window_days"]), hp)


def day_counts(frame, products, n_products: int, basket_days: np.ndarray, hp: dict[str, Any]):
    """`day_trends.compute` in Spark: each distinct (product, customer, day) triple's interval of as-of
    points found with a Bucketizer, one pair's intervals merged over a window, and only the difference
    array's non-zero entries (at most points x products) reaching the driver."""
    from pyspark.ml.feature import Bucketizer
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from . import day_trends

    points = day_trends.as_of_points(basket_days, n_products)
    last = int(points[-1]) if len(points) else -1
    day = F.datediff(F.to_date("date"), F.lit("1970-01-01"))
    triples = (frame.select("customer", "product", day.alias("day")).where(F.col("day") <= last).distinct()
               .join(products, "product").select("item", "customer", "day"))
    offs = day_trends.offsets(hp["trend_window_days"])
    for k, (lo, hi) in enumerate(offs):  # lo = points before day + lo; hi = points up to day + hi
        triples = (triples.withColumn(f"x{k}", (F.col("day") + lo).cast("double"))
                   .withColumn(f"y{k}", F.least(F.col("day") + hi, F.lit(day_trends.FOREVER)).cast("double") + 1))
    cols = [c for k in range(len(offs)) for c in (f"x{k}", f"y{k}")]
    edges = [-float("inf"), *[float(p) + 0.5 for p in points], float("inf")]  # bucket(x) = points p < x
    bucketed = Bucketizer(splitsArray=[edges] * len(cols), inputCols=cols,
                          outputCols=[f"b_{c}" for c in cols]).transform(triples)
    pair = Window.partitionBy("item", "customer").orderBy("day")
    merged, entries = [], []
    for k in range(len(offs)):
        lo, hi, prev = F.col(f"b_x{k}").cast("int"), F.col(f"b_y{k}").cast("int"), F.lag(f"b_y{k}").over(pair)
        merged += [F.when(prev.isNull(), lo).otherwise(F.greatest(lo, prev.cast("int"))).alias(f"lo{k}"),
                   hi.alias(f"hi{k}")]
        ok = F.col(f"lo{k}") < F.col(f"hi{k}")
        entries += [F.struct(F.lit(k).alias("kind"), F.col(f"lo{k}").alias("index"), F.lit(1).alias("d"),
                             ok.alias("ok")),
                    F.struct(F.lit(k).alias("kind"), F.col(f"hi{k}").alias("index"), F.lit(-1).alias("d"),
                             ok.alias("ok"))]
    edges_of = (bucketed.select("item", *merged).select("item", F.explode(F.array(*entries)).alias("e"))
                .where(F.col("e.ok")).select("item", "e.kind", "e.index", "e.d"))
    got = edges_of.groupBy("kind", "index", "item").agg(F.sum("d").alias("d")).where(F.col("d") != 0).toPandas()
    counts = []
    for k in range(len(offs)):
        part = got[got["kind"] == k]
        counts.append(day_trends.from_deltas(part["index"].to_numpy(), part["item"].to_numpy(),
                                             part["d"].to_numpy(), len(points), n_products))
    return day_trends.DayTrends(points, *counts, int(hp["trend_min_support"]))
