"""New products placed by their attributes: item factors for products nobody has bought yet.

A product in the catalogue but never sold has no ALS factor. Its attributes do say something:
name words, category, tags, price band. A ridge regression from those attributes to the ALS
item factors, fitted on the products that were sold, gives every unsold product a factor, so it
takes part in customer lists, similar products and exploration slots through the same scoring as
everything else (`place`).

Features (binary, from the catalogue, `features`): each value of a string attribute with few
distinct values (a category), each word of a text attribute with many (a name), each value of a
list attribute (tags), a band of each number attribute (quantiles of the sold products' values),
true/false of a bool; dates are not used. The most frequent `max_features` that at least two sold
products have, plus an intercept. The ridge penalty is chosen on a tenth of the sold products held
out (the penalty whose predicted factors score those products' real ones best), then the model is
fitted on all of them. Memory: features^2 floats and blocks of rows (never products x features dense).
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.catalog import Catalog

log = logging.getLogger(__name__)
TEXT_DISTINCT = 0.5  # a string attribute whose values are mostly distinct is text: its words are features
BANDS = 8
PENALTIES = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
HOLDOUT = 0.1
ROWS_PER_BLOCK = 8192
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Features:
    """Sparse binary rows: `indptr` / `indices` per product over `names`."""

    names: list[str]
    indptr: np.ndarray
    indices: np.ndarray
    edges: dict[str, np.ndarray] = field(default_factory=dict)  # number attribute -> band edges

    @property
    def width(self) -> int:
        return len(self.names) + 1  # + intercept (the last column)

    def dense(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(rows), self.width), dtype=np.float64)
        out[:, -1] = 1.0
        lens = self.indptr[rows + 1] - self.indptr[rows]
        at = np.repeat(self.indptr[rows] - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
        out[np.repeat(np.arange(len(rows)), lens), self.indices[at]] = 1.0
        return out


def _tokens(catalog: Catalog, fitted: np.ndarray) -> list[list[str]]:
    """Candidate feature names per product; `fitted` marks the products the vocabulary is learnt on."""
    n = catalog.n_products
    rows: list[list[str]] = [[] for _ in range(n)]
    for name, col in catalog.columns.items():
        if col.kind == "string":
            codes = np.asarray(col.codes)
            present = codes[fitted & (codes >= 0)]
            text = len(present) and len(np.unique(present)) > TEXT_DISTINCT * len(present)
            values = col.values.tolist()
            for i in np.flatnonzero(codes >= 0):
                v = values[codes[i]]
                rows[i] += [f"{name}~{w}" for w in set(_WORD.findall(v.lower()))] if text else [f"{name}={v}"]
        elif col.kind == "list":
            values, ptr, codes = col.values.tolist(), np.asarray(col.arrays["indptr"]), np.asarray(col.codes)
            for i in range(n):
                rows[i] += [f"{name}={values[c]}" for c in codes[ptr[i]:ptr[i + 1]]]
        elif col.kind == "bool":
            for i, v in enumerate(np.asarray(col.values).tolist()):
                if v >= 0:
                    rows[i].append(f"{name}={bool(v)}")
    return rows


def features(catalog: Catalog, fitted: np.ndarray, max_features: int = 2048) -> Features:
    """The feature rows of every product, the vocabulary learnt on the `fitted` products."""
    fitted = np.asarray(fitted, dtype=bool)
    rows = _tokens(catalog, fitted)
    edges: dict[str, np.ndarray] = {}
    for name, col in catalog.columns.items():
        if col.kind != "number":
            continue
        values = np.asarray(col.values, dtype=np.float64)
        known = values[fitted & ~np.isnan(values)]
        if len(known) < 2 * BANDS:
            continue
        cut = np.unique(np.quantile(known, np.linspace(0, 1, BANDS + 1)[1:-1]))
        edges[name] = cut
        band = np.searchsorted(cut, values, side="right")
        for i in np.flatnonzero(~np.isnan(values)):
            rows[i].append(f"{name}#band{band[i]}")
    counts = Counter(t for i in np.flatnonzero(fitted) for t in set(rows[i]))
    vocab = [t for t, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= 2][:max_features]
    index = {t: j for j, t in enumerate(vocab)}
    lens = np.zeros(len(rows) + 1, dtype=np.int64)
    flat: list[int] = []
    for i, row in enumerate(rows):
        cols = sorted({index[t] for t in row if t in index})
        flat += cols
        lens[i + 1] = len(cols)
    return Features(vocab, np.cumsum(lens), np.asarray(flat, dtype=np.int64), edges)


def _gram(x: Features, rows: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """XᵀX and XᵀY over `rows`, in blocks."""
    xtx = np.zeros((x.width, x.width))
    xty = np.zeros((x.width, y.shape[1]))
    for start in range(0, len(rows), ROWS_PER_BLOCK):
        block = rows[start:start + ROWS_PER_BLOCK]
        dense = x.dense(block)
        xtx += dense.T @ dense
        xty += dense.T @ y[block]
    return xtx, xty


def _solve(xtx: np.ndarray, xty: np.ndarray, penalty: float) -> np.ndarray:
    reg = np.full(len(xtx), penalty)
    reg[-1] = 1e-6  # the intercept is not shrunk
    return np.linalg.solve(xtx + np.diag(reg), xty)


def _agreement(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean cosine between predicted and real factors (how well a placement points the right way)."""
    num = (pred * true).sum(axis=1)
    den = np.linalg.norm(pred, axis=1) * np.linalg.norm(true, axis=1)
    return float(np.mean(np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)))


def fit(x: Features, items: np.ndarray, sold: np.ndarray, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """(weights features x rank, report): ridge from features to `items[sold]`, penalty chosen on a
    held-out tenth of the sold products."""
    sold = np.asarray(sold, dtype=np.int64)
    y = np.asarray(items, dtype=np.float64)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(sold)
    n_hold = int(len(sold) * HOLDOUT)
    scores = {}
    if n_hold >= 20:
        held, train = shuffled[:n_hold], shuffled[n_hold:]
        xtx, xty = _gram(x, train, y)
        pred_x = x.dense(held)
        for penalty in PENALTIES:
            scores[penalty] = _agreement(pred_x @ _solve(xtx, xty, penalty), y[held])
        penalty = max(scores, key=lambda p: (scores[p], p))
    else:
        penalty = 10.0
    xtx, xty = _gram(x, sold, y)
    weights = _solve(xtx, xty, penalty)
    report = {"features": len(x.names), "penalty": penalty, "held_out_products": n_hold,
              "held_out_cosine": {str(p): round(s, 4) for p, s in scores.items()}}
    return weights, report


def place(catalog: Catalog, items: np.ndarray, sold: np.ndarray, unsold: np.ndarray,
          max_features: int = 2048, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Factors (len(unsold) x rank, float32) for the `unsold` products from their attributes, and a
    report for metadata.json. `items` holds the factors of the `sold` rows (others ignored)."""
    unsold = np.asarray(unsold, dtype=np.int64)
    fitted = np.zeros(catalog.n_products, dtype=bool)
    fitted[np.asarray(sold, dtype=np.int64)] = True
    x = features(catalog, fitted, max_features)
    if not len(unsold):
        return np.zeros((0, items.shape[1]), dtype=np.float32), {"placed": 0}
    if not x.names:
        log.warning("placement: the catalogue gives no usable attribute (none shared by two sold products): "
                    "the %d unsold products get the mean factor", len(unsold))
        mean = np.asarray(items, dtype=np.float64)[sold].mean(axis=0)
        return np.tile(mean, (len(unsold), 1)).astype(np.float32), {"placed": len(unsold), "features": 0}
    weights, report = fit(x, items, sold, seed)
    placed = x.dense(unsold) @ weights
    with_none = int((np.diff(x.indptr)[unsold] == 0).sum())
    report.update({"placed": len(unsold), "placed_without_features": with_none})
    log.info("placement: %d unsold products placed from %d attribute features (ridge penalty %g; held-out "
             "cosine %s)%s", len(unsold), len(x.names), report["penalty"], report["held_out_cosine"],
             f"; {with_none} have no known feature (the mean factor)" if with_none else "")
    return placed.astype(np.float32), report
