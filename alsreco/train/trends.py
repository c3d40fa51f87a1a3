"""Per-product buyer counts over the trend windows, on the pandas path (`spark_trends.py` is the Spark
twin, held to the same result by the tests), turned into the model's trend arrays by core/trends.py.

The windows end on the as-of day D (a whole day, like the time-window evaluation): `recent` is
D - W + 1 .. D and `before` the W days before, W = `trend_window_days`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import trends


@dataclass
class Trends:
    recent: np.ndarray  # int32 distinct customers per product in the last window
    trending: np.ndarray  # float32 trending score (core/trends.trending_score)

    def summary(self, hp: dict[str, Any], as_of: pd.Timestamp) -> dict[str, Any]:
        """What metadata.json says about them."""
        recent_start, before_start, _ = bounds(as_of, hp["trend_window_days"])
        return {"window_days": int(hp["trend_window_days"]), "min_support": int(hp["trend_min_support"]),
                "recent_window": [str(recent_start.date()), str(as_of.date())],
                "before_window": [str(before_start.date()), str((recent_start - pd.Timedelta(days=1)).date())],
                "trending_products": int(np.count_nonzero(self.trending)),
                "products_bought_in_recent_window": int(np.count_nonzero(self.recent))}


def bounds(as_of: pd.Timestamp, window_days: int) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """(start of the recent window, start of the window before it, end: the day after as-of)."""
    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    recent_start = end - pd.Timedelta(days=int(window_days))
    return recent_start, recent_start - pd.Timedelta(days=int(window_days)), end


def of_counts(recent: np.ndarray, before: np.ndarray, hp: dict[str, Any]) -> Trends:
    return Trends(np.asarray(recent, dtype=np.int32),
                  trends.trending_score(recent, before, int(hp["trend_min_support"])))


def window_counts(df: pd.DataFrame, product_ids: np.ndarray, as_of: pd.Timestamp,
                  window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """(recent, before): distinct customers per product (aligned with `product_ids`) in the two windows."""
    recent_start, before_start, end = bounds(as_of, window_days)
    date = df["date"]
    out = []
    for lo, hi in ((recent_start, end), (before_start, recent_start)):
        lines = df.loc[(date >= lo) & (date < hi), ["product", "customer"]].drop_duplicates()
        counts = lines["product"].value_counts()
        out.append(counts.reindex(product_ids, fill_value=0).to_numpy(np.int64))
    return out[0], out[1]


def compute(df: pd.DataFrame, product_ids: np.ndarray, as_of: pd.Timestamp, hp: dict[str, Any]) -> Trends:
    """The trend arrays of `df`'s products as of `as_of`."""
    return of_counts(*window_counts(df, product_ids, as_of, hp["trend_window_days"]), hp)
