"""Trend arrays as of many days: how the `last_basket` evaluation scores what is selling now.

A customer's last basket may be months older than the end of the data. Scored with the best sellers of the
data's last week, that basket is judged against lists no shop could have shown on its day (they count sales
after it), so any blend toward what sells now looks like a loss there, however well it does on the days that
follow the data. The `last_basket` held-out part therefore scores each basket with the trend arrays as of the
day before it (what a model retrained that night would serve): the all-time best sellers up to that day
(distinct customers), the recent best sellers and the Trending-Now list of `trend_window_days` ending that
day (core/trends.py). The ALS factors stay those of the whole training part (the protocol's usual leak).

Arrays are points x products; the as-of points are the baskets' days minus one, thinned evenly to at most
MAX_CELLS / products points (a basket then uses the latest point before its day: a model retrained every
few days). Counting is one pass over the distinct (product, customer, day) triples of the training part:
each triple covers an interval of points (for `recent`, the points whose window holds its day), the
intervals of one (product, customer) pair are merged, and a difference array over points summed down gives
distinct customers per product per point. `spark_trends.day_counts` is the Spark twin (the same intervals,
found with a Bucketizer and a window over each pair), held to the same result by the tests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import trends as core_trends

MAX_CELLS = 4_000_000  # as-of points x products per array
EPOCH = np.datetime64("1970-01-01", "D")
FOREVER = 1 << 30  # an interval end past any point (popularity: from the first purchase on)


@dataclass
class DayTrends:
    points: np.ndarray  # int64 days since 1970-01-01, ascending: the as-of days
    popularity: np.ndarray  # int32 points x products: distinct customers up to the point
    recent: np.ndarray  # int32 points x products: distinct customers in the W days ending at the point
    before: np.ndarray  # int32 points x products: in the W days before those
    min_support: int

    def point_of(self, basket_days: np.ndarray) -> np.ndarray:
        """Each basket day's (days since 1970) as-of point index: the latest point before the day."""
        return np.maximum(np.searchsorted(self.points, np.asarray(basket_days, np.int64) - 1, side="right") - 1, 0)

    def arrays(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(popularity, recent, trending) as of point `i`, as a model of that day holds them."""
        return (self.popularity[i], self.recent[i],
                core_trends.trending_score(self.recent[i], self.before[i], self.min_support))

    def signal(self, name: str, i: int) -> np.ndarray:
        """The blend signal `name` as of point `i` (core/trends.signal)."""
        return core_trends.signal(name, *self.arrays(i))


def epoch_days(dates) -> np.ndarray:
    """int64 days since 1970-01-01 of datetimes (a Series or an array)."""
    return (np.asarray(pd.to_datetime(pd.Series(dates)).dt.normalize().to_numpy(), dtype="datetime64[D]")
            - EPOCH).astype(np.int64)


def as_of_points(basket_days: np.ndarray, n_products: int, max_cells: int = MAX_CELLS) -> np.ndarray:
    """The as-of points (days since 1970, ascending) for baskets on `basket_days`: each day minus one,
    thinned evenly (first and last kept) to at most max_cells // n_products."""
    uniq = np.unique(np.asarray(basket_days, dtype=np.int64) - 1)
    cap = max(1, max_cells // max(1, n_products))
    if len(uniq) > cap:
        uniq = uniq[np.unique(np.linspace(0, len(uniq) - 1, cap).round().astype(np.int64))]
    return uniq


def intervals(day: np.ndarray, points: np.ndarray, lo_off: int, hi_off: int) -> tuple[np.ndarray, np.ndarray]:
    """[lo, hi) point indices of the points p with day + lo_off <= p <= day + hi_off."""
    return (np.searchsorted(points, day + lo_off, side="left"),
            np.searchsorted(points, np.minimum(day + hi_off, FOREVER), side="right"))


def covered(pair: np.ndarray, item: np.ndarray, day: np.ndarray, points: np.ndarray, n_products: int,
            lo_off: int, hi_off: int) -> np.ndarray:
    """int32 points x products: per point, the distinct pairs (one customer, one product) with a triple
    covering it. The triples are sorted by (pair, day) and distinct."""
    lo, hi = intervals(day, points, lo_off, hi_off)
    same = np.zeros(len(pair), dtype=bool)
    same[1:] = pair[1:] == pair[:-1]
    prev_hi = np.empty_like(hi)
    if len(hi):
        prev_hi[0] = 0
        prev_hi[1:] = hi[:-1]  # within a pair days ascend, so the ends do too: the union so far ends there
    lo = np.where(same, np.maximum(lo, prev_hi), lo)
    keep = lo < hi
    lo, hi, item = lo[keep], hi[keep], item[keep]
    return from_deltas(np.concatenate([lo, hi]), np.concatenate([item, item]),
                       np.concatenate([np.ones(len(lo)), -np.ones(len(hi))]), len(points), n_products)


def from_deltas(index: np.ndarray, item: np.ndarray, delta: np.ndarray, n_points: int,
                n_products: int) -> np.ndarray:
    """int32 points x products from a difference array's entries (+1 where a product's interval of points
    starts, -1 past its end; index n_points is past the last point) summed down the points."""
    cells = (n_points + 1) * n_products
    diff = np.bincount(np.asarray(index, np.int64) * n_products + np.asarray(item, np.int64),
                       weights=np.asarray(delta, dtype=np.float64), minlength=cells)
    return np.cumsum(diff.reshape(n_points + 1, n_products)[:-1], axis=0).round().astype(np.int32)


def compute(df: pd.DataFrame, product_ids: np.ndarray, basket_days: np.ndarray, window_days: int,
            min_support: int, max_cells: int = MAX_CELLS) -> DayTrends:
    """The trend arrays of `df`'s purchase lines (customer, product, date: the training part), aligned with
    `product_ids`, as of the points of `basket_days` (days since 1970 of the held-out baskets)."""
    n = len(product_ids)
    points = as_of_points(basket_days, n, max_cells)
    item = pd.Index(product_ids).get_indexer(df["product"])
    day = epoch_days(df["date"])
    keep = (item >= 0) & (day <= (points[-1] if len(points) else -1))
    customer = pd.factorize(df["customer"].to_numpy()[keep])[0].astype(np.int64)
    item, day = item[keep].astype(np.int64), day[keep]
    pair = item * (int(customer.max(initial=0)) + 1) + customer
    order = np.lexsort((day, pair))
    pair, item, day = pair[order], item[order], day[order]
    first = np.ones(len(pair), dtype=bool)
    first[1:] = (pair[1:] != pair[:-1]) | (day[1:] != day[:-1])
    pair, item, day = pair[first], item[first], day[first]
    counts = [covered(pair, item, day, points, n, lo, hi) for lo, hi in offsets(window_days)]
    return DayTrends(points, *counts, int(min_support))


def offsets(window_days: int) -> list[tuple[int, int]]:
    """(lo_off, hi_off) of popularity, recent and before: a purchase on day d counts at the points
    d + lo_off .. d + hi_off."""
    w = int(window_days)
    return [(0, FOREVER), (0, w - 1), (w, 2 * w - 1)]
