"""What is selling now: the trending score, the blend signals and the order of a Trending-Now list.

One implementation shared by `train` (both data paths count buyers, this module turns the counts into
scores), serving, batch scoring, the evaluation and the benchmarks.

Per product, with W = `trend_window_days` and the model's as-of day D:

    recent   = distinct customers who bought it in the last W days (D - W + 1 .. D)
    before   = distinct customers who bought it in the W days before those
    trending = (recent - before) / sqrt(before + 1)   if recent >= trend_min_support and recent > before
             = 0                                       otherwise

`trending` is the rise in buyers from one window to the next in units of the earlier window's Poisson
noise (a launch with no past rises by its whole count; a best seller must rise by more than its usual
wobble), the way Amazon Personalize's Trending-Now ranks "the items with the highest rate of increase in
interactions" between intervals. `recent` is also a signal of its own: the best sellers of the last W days.

The blend adds weight x signal to the ALS score, the signal normalised to [0, 1] (divided by its largest
value): `trending`, `recent` or `popularity` (all-time distinct customers, `product_popularity.npy`).
"""
from __future__ import annotations

import numpy as np

from .hyperparameters import BLEND_SIGNALS


def trending_score(recent: np.ndarray, before: np.ndarray, min_support: int) -> np.ndarray:
    """float32 trending score per product from its buyers in the last window and the one before."""
    recent = np.asarray(recent, dtype=np.float64)
    before = np.asarray(before, dtype=np.float64)
    rise = (recent - before) / np.sqrt(before + 1.0)
    return np.where((recent >= max(1, int(min_support))) & (rise > 0), rise, 0.0).astype(np.float32)


def normalised(values: np.ndarray) -> np.ndarray:
    """`values` / their largest (float32 in [0, 1]); all zeros when none is positive."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    top = float(v.max(initial=0.0))
    return (v / top if top > 0 else np.zeros(len(v))).astype(np.float32)


def signal(name: str, popularity: np.ndarray, recent: np.ndarray | None,
           trending: np.ndarray | None) -> np.ndarray:
    """The blend signal `name` (one of BLEND_SIGNALS), normalised to [0, 1]; zeros when the model holds no
    trend arrays (a model written before them)."""
    if name not in BLEND_SIGNALS:
        raise ValueError(f"unknown blend signal {name!r}")
    n = len(popularity)
    source = {"popularity": popularity, "recent": recent, "trending": trending}[name]
    return normalised(np.zeros(n) if source is None else source)


def trending_order(trending: np.ndarray | None, recent: np.ndarray | None, popularity: np.ndarray,
                   product_ids: np.ndarray) -> np.ndarray:
    """Product indices in Trending-Now order: trending score, then recent buyers, then all-time buyers, then
    product id (never a tie, so lists do not depend on memory order)."""
    n = len(popularity)
    t = np.zeros(n) if trending is None else np.asarray(trending, dtype=np.float64)
    r = np.zeros(n) if recent is None else np.asarray(recent, dtype=np.float64)
    return np.lexsort((np.asarray(product_ids), -np.asarray(popularity, dtype=np.float64), -r, -t))
