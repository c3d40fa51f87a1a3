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
