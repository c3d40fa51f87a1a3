"""Confidence weighting of the customer x product ratings before the implicit ALS fit (`weighting`).

Applied on the driver to the rating pairs (`Ratings.user/item/rating`, numpy), on both data paths, in
the same way for the evaluation split, every `tune` trial and the final fit; the Spark path builds its
ALS frame from the weighted pairs (`frame`).

- none: the ratings as `ranking_type` gives them.
- log: log(1 + r), Hu, Koren & Volinsky's log-scaled confidence.
- tfidf: sqrt(r) * idf, the `implicit` library's `tfidf_weight`.
- bm25: r (K1 + 1) / (K1 * norm + r) * idf, the `implicit` library's `bm25_weight` (K1 = `bm25_k1`,
  B = `bm25_b`, norm = (1 - B) + B * length / mean length).

For tfidf and bm25 the library's functions are applied to the customer x product matrix: a customer is
a document and the products they bought are its terms, so idf = log(customers) - log(1 + customers who
bought the product) weighs best sellers down, and BM25's length (a customer's total rating) weighs each
purchase of a customer who buys a lot (a wholesaler) down. (The other orientation, the library's
`bm25_weight(item_user)` example for plays of artists, measured worse on both benchmark datasets:
benchmarks/RESULTS.md.)

Every weighting then rescales its result to the mean of the input ratings, so `alpha` (c = 1 + alpha r)
keeps its scale whichever weighting is chosen, and a weight never falls below WEIGHT_FLOOR of that mean
(idf is 0 or below for a product nearly every customer bought: a bought pair stays a preference).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .ratings import Ratings
from .spark import frames

WEIGHTINGS = ("none", "log", "tfidf", "bm25")
WEIGHT_FLOOR = 1e-3


def idf(item: np.ndarray, n_users: int, n_items: int) -> np.ndarray:
    """Per product (a term): log(customers) - log(1 + customers who bought it)."""
    return np.log(float(n_users)) - np.log1p(np.bincount(item, minlength=n_items).astype(np.float64))


def raw(kind: str, user: np.ndarray, item: np.ndarray, rating: np.ndarray, shape: tuple[int, int],
        k1: float = 100.0, b: float = 0.8) -> np.ndarray:
    """The weighting's formula on the pairs (float64, not rescaled)."""
    r = np.asarray(rating, dtype=np.float64)
    if kind == "none":
        return r
    if kind == "log":
        return np.log1p(np.abs(r))
    term = idf(item, shape[0], shape[1])[item]
    if kind == "tfidf":
        return np.sqrt(np.abs(r)) * term
    if kind == "bm25":
        length = np.bincount(user, weights=r, minlength=shape[0])
        norm = (1.0 - b) + b * length / length.mean()
        return r * (k1 + 1.0) / (k1 * norm[user] + r) * term
    raise ValueError(f"unknown weighting {kind!r}")


def weigh(r: Ratings, hp: dict[str, Any]) -> Ratings:
    """`r` with its ratings weighted per `hp["weighting"]` (`r` itself for none)."""
    kind = hp.get("weighting", "none")
    if kind == "none" or not len(r.rating):
        return r
    w = raw(kind, r.user, r.item, r.rating, r.shape, hp.get("bm25_k1", 100.0), hp.get("bm25_b", 0.8))
    w = np.maximum(w, 0.0)
    scale = float(np.abs(r.rating).mean(dtype=np.float64))
    mean = float(w.mean())
    w = w * (scale / mean) if mean > 0 else np.full(len(w), scale)
    w = np.maximum(w, WEIGHT_FLOOR * scale).astype(np.float32)
    return Ratings(r.customer_ids, r.product_ids, r.user, r.item, w)


def key(hp: dict[str, Any]) -> tuple:
    """What determines the weighted ratings (settings with the same key share them)."""
    kind = hp.get("weighting", "none")
    return (kind, hp.get("bm25_k1", 100.0), hp.get("bm25_b", 0.8)) if kind == "bm25" else (kind,)


def frame(spark, r: Ratings, base_frame=None, hp: dict[str, Any] | None = None):
    """The Spark frame ALS fits on: `base_frame` (the Spark path's persisted unweighted pairs) when no
    weighting applies, else the weighted pairs from the driver (`spark/frames.py`), persisted. None on the
    pandas path without weighting (`als.fit` builds it)."""
    if hp is None or hp.get("weighting", "none") == "none":
        return base_frame
    from pyspark import StorageLevel
    return frames.ratings(spark, r.user, r.item, r.rating).persist(StorageLevel.MEMORY_AND_DISK)
