"""Ranking metrics for top-K recommendation lists (numpy, no Spark)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .artifact import Purchases


def top_k(scores: np.ndarray, k: int, exclude: Purchases | None = None, rows: np.ndarray | None = None) -> np.ndarray:
    """Indices of the `k` best columns per row of `scores` (best first), skipping excluded items.

    `exclude` is a customers x products matrix; `rows` says which of its rows each score row is.
    """
    scores = np.array(scores, dtype=np.float32, copy=True)
    if exclude is not None:
        rows = np.arange(len(scores)) if rows is None else rows
        for j, r in enumerate(rows):
            scores[j, exclude.row(int(r))] = -np.inf
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, part, axis=1).argsort(axis=1, kind="stable")[:, ::-1]
    return np.take_along_axis(part, order, axis=1)


def ranking_metrics(recommended: np.ndarray, relevant: Sequence[set[int]], k: int, n_items: int) -> dict[str, float]:
    """P@K, R@K, NDCG@K, MAP@K averaged over rows, and catalogue coverage of all lists."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    p = r = ndcg = ap = 0.0
    for recs, rel in zip(recommended, relevant):
        hits = np.fromiter((int(x) in rel for x in recs[:k]), dtype=bool, count=min(k, len(recs)))
        n_hit = int(hits.sum())
        p += n_hit / k
        r += n_hit / len(rel)
        ideal = discounts[:min(len(rel), k)].sum()
        ndcg += float(discounts[:len(hits)][hits].sum() / ideal)
        if n_hit:
            precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
            ap += float((precision_at * hits).sum() / min(len(rel), k))
    n = max(len(relevant), 1)
    coverage = len(np.unique(recommended[:, :k])) / n_items if len(recommended) else 0.0
    return {f"precision_at_{k}": p / n, f"recall_at_{k}": r / n, f"ndcg_at_{k}": ndcg / n,
            f"map_at_{k}": ap / n, "coverage": coverage}
