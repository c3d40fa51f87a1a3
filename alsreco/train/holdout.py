"""A held-out part ready to score settings (evaluate.py): its test customers and what they bought, the
baselines' lists, the blend signals, and fits of the split's ratings scored as serving ranks.

Memory is bounded whatever the catalogue: lists are ranked in blocks of at most `BLOCK_CELLS` scores
(core/scoring.py), and what each customer bought in the held-out part is a CSR array
(`metrics.Relevant`), not a Python set.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import trends as core_trends
from ..core.artifact import Purchases
from ..core.hyperparameters import BLEND_SIGNALS
from ..core.scoring import BLOCK_CELLS, BlockRanker
from . import als, metrics, splits, tune, weighting
from . import ratings as ratings_mod

FIT_KEYS = (*tune.TUNED, "recency_half_life_days", "seed", "als_fits", "bm25_k1", "bm25_b", "ranking_type",
            "implicit_prefs", "nonnegative")  # what makes two fits of a split the same


def relevant_items(users: np.ndarray, items: np.ndarray, bought: Purchases) -> tuple[np.ndarray, metrics.Relevant]:
    """(customers, relevant): the customers (ascending model index) who bought in the window
    something they had not bought before, and those items. `users`/`items` are the window's
    purchase lines as model indices (-1 = unknown to the model)."""
    n_products = np.int64(bought.shape[1])
    known = (users >= 0) & (items >= 0)
    pairs = np.unique(users[known].astype(np.int64) * n_products + items[known])  # sorted: customer, item
    customers = np.unique(pairs // n_products)
    r, c = bought.block_cells(customers)
    fresh = pairs[~np.isin(pairs, customers[r] * n_products + c)]
    customers, counts = np.unique(fresh // n_products, return_counts=True)
    indptr = np.zeros(len(customers) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return customers, metrics.Relevant(indptr, fresh % n_products)


def top_lists(users: np.ndarray, items: np.ndarray, bought: Purchases, customers: np.ndarray, k: int,
              max_rows: int | None = None, cells: int = BLOCK_CELLS, bias: np.ndarray | None = None) -> np.ndarray:
    """customers x k best items (-1 past a short list), bought items excluded, scored in blocks
    of at most `cells` customers x products (and `max_rows` customers); `bias` per product is added to
    the scores (the trend blend)."""
    ranker = BlockRanker(users, items, bought, k, cells=cells, max_rows=max_rows, bias=bias)
    out = [ranker.top(chunk) for chunk in ranker.blocks(customers)]
    return np.concatenate(out) if out else np.zeros((0, min(k, len(items))), dtype=np.int64)


def popularity_lists(popularity: np.ndarray, bought: Purchases, customers: np.ndarray, k: int,
                     max_rows: int | None = None, cells: int = BLOCK_CELLS) -> np.ndarray:
    """A one-list baseline: the best products by `popularity` (ties: the lower product index) that the
    customer has not bought, the same as `top_lists` of a rank-1 model whose customer factors are 1 and item
    factors the popularity, without scoring every product for every customer: each customer's list is read
    off the one global order, skipping their purchases (memory: their purchases plus customers x k)."""
    key = np.asarray(popularity, dtype=np.float32)
    n = len(key)
    width = min(int(k), n)
    order = np.lexsort((np.arange(n), -key))
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    customers = np.asarray(customers, dtype=np.int64)
    out = np.full((len(customers), width), -1, dtype=np.int64)
    step = max(1, min(max_rows or len(customers) or 1, cells // max(1, width)))
    for start in range(0, len(customers), step):
        out[start:start + step] = _unbought(order, position, bought, customers[start:start + step], width)
    return out


def _unbought(order: np.ndarray, position: np.ndarray, bought: Purchases, rows: np.ndarray, k: int) -> np.ndarray:
    """rows x k: each row's first k positions of `order` not bought, as products (-1 past the end). With a
    row's bought positions sorted, s_0 < s_1 < ..., the j-th free position is j + #{i: s_i - i <= j}."""
    r, c = bought.block_cells(rows)
    s = position[c]
    by = np.lexsort((s, r))
    r, s = r[by], s[by]
    starts = np.searchsorted(r, np.arange(len(rows)))
    shifted = s - (np.arange(len(s)) - starts[r])  # s_i - i within the row: ascending in a row
    stride = np.int64(len(order) + 1)
    j = np.arange(k, dtype=np.int64)
    query = np.arange(len(rows), dtype=np.int64)[:, None] * stride + j[None, :]
    free = j[None, :] + (np.searchsorted(r * stride + shifted, query, side="right") - starts[:, None])
    return np.where(free < len(order), order[np.minimum(free, len(order) - 1)], -1)


def basket_day(users: np.ndarray, days: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each test customer's (`rows`) held-out basket day: the earliest day of their held-out lines."""
    known = users >= 0
    first = np.full(int(max(users.max(initial=-1), rows.max(initial=-1))) + 1, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first, users[known], np.asarray(days, np.int64)[known])
    return first[rows]


def baseline_keys(popularity: np.ndarray, recent: np.ndarray | None, trending: np.ndarray | None,
                  product_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The one-list baselines' keys (unique float32, best first): all-time best sellers (ties by product
    index), the recent best sellers (then all-time) and the Trending-Now list (core/trends.trending_order)."""
    n = len(popularity)
    popularity = np.asarray(popularity, dtype=np.float32)
    recent_order = np.lexsort((np.arange(n), -popularity, -(np.zeros(n) if recent is None else recent)))
    return {"popularity": popularity, "recent": order_key(recent_order),
            "trending": order_key(core_trends.trending_order(trending, recent, popularity, product_ids))}


def order_key(order: np.ndarray) -> np.ndarray:
    """Unique float32 keys ranking products in `order` (best first): a baseline list without ties."""
    key = np.empty(len(order), dtype=np.float32)
    key[order] = np.arange(len(order), 0, -1, dtype=np.float32)
    return key


@dataclass
class Scored:
    metrics: dict[str, float]
    ndcg: np.ndarray  # per test customer
    seconds: float = 0.0
    factors: tuple[np.ndarray, np.ndarray] | None = None  # (users, items) when kept (the blend is chosen on them)

    @staticmethod
    def mean(scored: list["Scored"]) -> "Scored":
        return Scored({k: float(np.mean([s.metrics[k] for s in scored])) for k in scored[0].metrics},
                      np.mean([s.ndcg for s in scored], axis=0), sum(s.seconds for s in scored))


class Holdout:
    """An evaluation split ready to score settings: who is scored and what they bought in the held-out
    part, the baselines' lists, the blend signals, and the split's ratings weighted and in Spark once per
    (half-life, weighting) (the settings `tune` and `recency_half_life_days=auto` try reuse them; nothing is
    re-read)."""

    def __init__(self, spark, split: splits.Split, hp: dict[str, Any], protocol: str = "time_window",
                 span_days: int = 0):
        self.spark, self.split, self.k, self.group_size = spark, split, hp["eval_k"], hp["group_size"]
        self.protocol, self.span_days = protocol, span_days
        r = split.ratings
        self.bought = r.purchases()
        self.rows, self.relevant = relevant_items(split.test_users, split.test_items, self.bought)
        self.base_half_life = ratings_mod.half_life(hp)
        self._rated: dict[float, tuple[ratings_mod.Ratings, Any]] = {}
        self._frames: dict[tuple, tuple[ratings_mod.Ratings, Any, Any]] = {}
        self._fitted: dict[str, Scored] = {}
        self.signals: dict[str, np.ndarray] = {}
        self.baselines: dict[str, Scored] = {}
        self.day_trends, self.points = split.day_trends, None
        self._at: dict[tuple[str, int], np.ndarray] = {}
        if not len(self.rows):
            return
        n = r.shape[1]
        popularity = np.bincount(r.item, minlength=n).astype(np.float32)
        t = split.trends
        recent, trending = (None, None) if t is None else (t.recent, t.trending)
        self.signals = {name: core_trends.signal(name, popularity, recent, trending) for name in BLEND_SIGNALS}
        if self.day_trends is not None and split.test_days is not None:
            self.points = self.day_trends.point_of(basket_day(split.test_users, split.test_days, self.rows))
        keys = (lambda i: baseline_keys(*self.day_trends.arrays(i), r.product_ids)) if self.points is not None \
            else (lambda i: baseline_keys(popularity, recent, trending, r.product_ids))
        for name in ("popularity", "recent", "trending"):
            recs = self._grouped(self.rows, None if self.points is None else self.points,
                                 lambda rows, i: popularity_lists(keys(i)[name], self.bought, rows, self.k,
                                                                  self.group_size))
            self.baselines[name] = self._scored(recs)
        self.popularity = self.baselines["popularity"]

    def _grouped(self, rows: np.ndarray, points: np.ndarray | None, lists) -> np.ndarray:
        """`lists(rows, point)` for the customers of each as-of point (the last_basket day groups), put back
        in `rows` order; one call with point -1 without day groups."""
        if points is None:
            return lists(rows, -1)
        parts = [(np.flatnonzero(points == i), i) for i in np.unique(points)]
        got = [(at, lists(rows[at], int(i))) for at, i in parts]
        out = np.full((len(rows), got[0][1].shape[1] if got else self.k), -1, dtype=np.int64)
        for at, recs in got:
            out[at] = recs
        return out

    def bias(self, signal: str, weight: float, point: int = -1) -> np.ndarray:
        """weight x the blend signal (as of as-of point `point` in day groups)."""
        if point < 0:
            return np.float32(weight) * self.signals[signal]
        if (signal, point) not in self._at:
            self._at[(signal, point)] = self.day_trends.signal(signal, point)
        return np.float32(weight) * self._at[(signal, point)]

    def _scored(self, recs: np.ndarray, seconds: float = 0.0, relevant: metrics.Relevant | None = None) -> Scored:
        relevant = self.relevant if relevant is None else relevant
        return Scored(metrics.ranking_metrics(recs, relevant, self.k, self.split.ratings.shape[1]),
                      metrics.row_terms(recs, relevant, self.k)["ndcg"], seconds)

    def rated(self, days: float) -> tuple[ratings_mod.Ratings, Any]:
        """The split's (unweighted) ratings and their Spark frame under half-life `days`."""
        if days == self.base_half_life or self.split.reweigh is None:
            return self.split.ratings, self.split.frame
        if days not in self._rated:
            self._rated[days] = self.split.reweigh(days)
        return self._rated[days]

    def weighted(self, hp: dict[str, Any]) -> tuple[ratings_mod.Ratings, Any]:
        days = ratings_mod.half_life(hp)
        key = (days, *weighting.key(hp))
        if key not in self._frames:
            r, base = self.rated(days)
            w = weighting.weigh(r, hp)
            self._frames[key] = (w, weighting.frame(self.spark, w, base, hp), base)
        return self._frames[key][:2]

    def score(self, hp: dict[str, Any], keep: bool = False) -> Scored:
        """Fit `hp` on the split's ratings and score it on the held-out part (`keep`: with its factors)."""
        started = time.monotonic()
        r, frame = self.weighted(hp)
        users, items = als.fit(self.spark, r, hp, frame)
        scored = self.rank(users, items)
        scored.seconds = time.monotonic() - started
        scored.factors = (users, items) if keep else None
        return scored

    def fitted(self, hp: dict[str, Any]) -> Scored:
        """`score(hp, keep=True)`, once per setting (recency.py and blend.py ask for the same fits)."""
        key = json.dumps({k: hp[k] for k in FIT_KEYS}, sort_keys=True, default=str)
        if key not in self._fitted:
            self._fitted[key] = self.score(hp, keep=True)
        return self._fitted[key]

    def forget(self, keep: dict[str, Any] | None = None) -> None:
        """Drop the kept fits (their factors), except that of the setting `keep`."""
        kept = None if keep is None else json.dumps({k: keep[k] for k in FIT_KEYS}, sort_keys=True, default=str)
        self._fitted = {k: v for k, v in self._fitted.items() if k == kept}

    def rank(self, users: np.ndarray, items: np.ndarray, blend: tuple[str, float] | None = None,
             subset: np.ndarray | None = None) -> Scored:
        """Score fitted factors on the test customers, or on `subset` of them (positions in `rows`), with the
        trend blend (signal, weight) added as serving adds it (as of each basket's day in day groups)."""
        rows = self.rows if subset is None else self.rows[subset]
        relevant = None if subset is None else self.relevant.take(subset)
        points = None if self.points is None else (self.points if subset is None else self.points[subset])
        if blend is None or not blend[1]:
            recs = top_lists(users, items, self.bought, rows, self.k, self.group_size)
        else:
            recs = self._grouped(rows, points, lambda part, i: top_lists(
                users, items, self.bought, part, self.k, self.group_size, bias=self.bias(*blend, i)))
        return self._scored(recs, relevant=relevant)

    def release(self) -> None:
        for _, frame, base in self._frames.values():
            if frame is not None and frame is not base:
                frame.unpersist()
        self._frames.clear()
        self._rated.clear()
        self._fitted.clear()
        self.split.release()
