"""Ranking metrics for top-K recommendation lists (numpy, no Spark).

Vectorised over customers, and numerically identical to the plain per-customer loop they
replaced (`tests/unit/test_batch_scoring.py` keeps that loop as the reference): per-row
terms are the same IEEE operations on the same operands, sums over a list's hits are
computed once per distinct hit pattern with the same numpy call, and the averages
accumulate the rows in order (`np.cumsum` is a sequential left fold, like `+=`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..core import topk
from ..core.artifact import Purchases


@dataclass
class Relevant:
    """Per evaluated customer, the items they bought in the window (CSR, sorted within a row)."""

    indptr: np.ndarray  # int64 (rows + 1,)
    indices: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    @classmethod
    def from_sets(cls, sets: Iterable[Iterable[int]]) -> "Relevant":
        rows = [np.unique(np.fromiter((int(x) for x in s), dtype=np.int64)) for s in sets]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=indptr[1:])
        return cls(indptr, np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64))

    def take(self, rows: np.ndarray) -> "Relevant":
        """The rows `rows` (ascending or not), as their own Relevant."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        starts = self.indptr[rows]
        at = np.repeat(starts - indptr[:-1], lengths) + np.arange(int(indptr[-1]), dtype=np.int64)
        return Relevant(indptr, self.indices[at])

    def hits(self, recommended: np.ndarray) -> np.ndarray:
        """rows x width bool: is recommended[r, j] one of row r's items (-1 never is)."""
        recs = np.asarray(recommended, dtype=np.int64)
        rows = len(recs)
        space = max(int(recs.max(initial=-1)), int(self.indices.max(initial=-1))) + 1
        items = self.indices[self.indptr[0]:self.indptr[-1]]
        own = np.repeat(np.arange(len(self), dtype=np.int64), self.lengths) * space + items
        keys = np.arange(rows, dtype=np.int64)[:, None] * space + recs
        at = np.minimum(np.searchsorted(own, keys), max(len(own) - 1, 0))
        return (recs >= 0) & (own[at] == keys) if len(own) else np.zeros(recs.shape, dtype=bool)


def top_k(scores: np.ndarray, k: int, exclude: Purchases | None = None, rows: np.ndarray | None = None) -> np.ndarray:
    """Indices of the `k` best columns per row of `scores` (best first), skipping excluded items
    (`exclude` is a customers x products matrix; `rows` says which of its rows each score row is).
    Excluded slots at the end of a short row hold -1."""
    keys = np.array(scores, dtype=np.float32, copy=True)
    if exclude is not None:
        r, c = exclude.block_cells(np.arange(len(keys)) if rows is None else rows)
        keys[r, c] = -np.inf
    idx, valid = topk.top_k(keys, k)
    return np.where(valid, idx, -1)


def ranking_metrics(recommended: np.ndarray, relevant: Relevant | Sequence[set[int]], k: int,
                    n_items: int) -> dict[str, float]:
    """P@K, R@K, NDCG@K, MAP@K averaged over rows, and catalogue coverage of all lists."""
    if not isinstance(relevant, Relevant):
        relevant = Relevant.from_sets(relevant)
    recommended = np.asarray(recommended)
    terms = row_terms(recommended, relevant, k)
    n = max(len(relevant), 1)
    shown = recommended[:, :k]
    coverage = len(np.unique(shown[shown >= 0])) / n_items if len(recommended) else 0.0
    return {f"precision_at_{k}": _fold(terms["precision"]) / n, f"recall_at_{k}": _fold(terms["recall"]) / n,
            f"ndcg_at_{k}": _fold(terms["ndcg"]) / n, f"map_at_{k}": _fold(terms["map"]) / n, "coverage": coverage}


def row_terms(recommended: np.ndarray, relevant: Relevant, k: int) -> dict[str, np.ndarray]:
    """Per evaluated row (customer), its precision, recall, NDCG and AP at K: the terms
    `ranking_metrics` averages (rows past the shorter of the two inputs are absent)."""
    recommended = np.asarray(recommended)
    rows = min(len(recommended), len(relevant))
    recs = recommended[:rows, :k]
    width = recs.shape[1] if recs.ndim == 2 else 0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    if not rows:
        empty = np.zeros(0)
        return {"precision": empty, "recall": empty, "ndcg": empty, "map": empty}
    hits = Relevant(relevant.indptr[:rows + 1], relevant.indices).hits(recs)
    n_rel = relevant.lengths[:rows]
    cut = np.minimum(n_rel, k)
    n_hit = hits.sum(axis=1)
    ideal = np.array([discounts[:m].sum() for m in range(k + 1)])[cut]
    dcg, ap_sum = _pattern_sums(hits, discounts[:width])
    return {"precision": n_hit / k, "recall": n_hit / n_rel, "ndcg": dcg / ideal,
            "map": np.where(n_hit > 0, ap_sum / cut, 0.0)}


def bootstrap_ci(diff: np.ndarray, samples: int = 2000, level: float = 0.95, seed: int = 0,
                 block: int = 1 << 22) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `diff` (per-customer differences, e.g. model minus
    popularity NDCG): customers resampled with replacement `samples` times, in blocks of at most
    `block` draws (memory bounded whatever the number of customers)."""
    diff = np.asarray(diff, dtype=np.float64)
    if not len(diff):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    per = max(1, block // len(diff))
    means = np.concatenate([diff[rng.integers(0, len(diff), size=(min(per, samples - s), len(diff)))].mean(axis=1)
                            for s in range(0, samples, per)])
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def _pattern_sums(hits: np.ndarray, discounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, sum of the discounts at its hits and sum of precision@i at its hits, each
    computed once per distinct hit pattern exactly as for a single list."""
    width = hits.shape[1]
    if width == 0:
        return np.zeros(len(hits)), np.zeros(len(hits))
    patterns, inverse = np.unique(np.packbits(hits, axis=1), axis=0, return_inverse=True)
    dcg = np.zeros(len(patterns))
    ap_sum = np.zeros(len(patterns))
    positions = np.arange(1, width + 1)
    for j, packed in enumerate(patterns):
        h = np.unpackbits(packed)[:width].astype(bool)
        dcg[j] = discounts[h].sum()
        if h.any():
            ap_sum[j] = ((np.cumsum(h) / positions) * h).sum()
    inverse = inverse.reshape(-1)
    return dcg[inverse], ap_sum[inverse]


def _fold(terms: np.ndarray) -> float:
    """0.0 + t0 + t1 + ... in row order (what a `+=` loop computes)."""
    return float(np.cumsum(terms)[-1]) if len(terms) else 0.0
