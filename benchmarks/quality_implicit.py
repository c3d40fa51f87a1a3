"""The `implicit` library as a fair anchor for `benchmarks.quality` (issue 25).

Its settings are searched on a validation part carved from the training part by the test's own protocol
(the last `WINDOW_DAYS` days of the training part, or each customer's last training invoice), never on
the test part: factors x regularization x alpha x the weighting of the customer x product matrix (1 per
bought pair, or the library's own BM25 / TF-IDF on the line counts). The setting with the best validation
NDCG@10 (seed 0) is then fitted on the whole training part with every seed and scored on the test part
like our models, so the defaults can be paired with it per test customer. Both matrices are built from the
benchmark's cleaned lines on the model's own customer and product index.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from .quality_data import WINDOW_DAYS, Holdout, K, split_last_basket, split_time_window

GRID = tuple({"factors": f, "regularization": r, "alpha": a, "weighting": w}
             for w in ("binary", "bm25", "tfidf") for f in (16, 32) for r in (0.01, 1.0) for a in (1.0, 5.0, 20.0))
ITERATIONS = 15


@dataclasses.dataclass
class _Fitted:
    """What `Holdout` reads of a model: its index and the purchases it excludes."""

    customer_ids: np.ndarray
    product_ids: np.ndarray
    purchases: Any
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


def counts(lines: pd.DataFrame, model) -> Any:
    """customers x products line counts (scipy CSR) on the model's index; lines it does not know dropped."""
    import scipy.sparse as sp
    u = pd.Index([str(x) for x in model.customer_ids]).get_indexer(lines["customer"])
    i = pd.Index([str(x) for x in model.product_ids]).get_indexer(lines["product"])
    ok = (u >= 0) & (i >= 0)
    shape = (len(model.customer_ids), len(model.product_ids))
    m = sp.csr_matrix((np.ones(int(ok.sum()), np.float32), (u[ok], i[ok])), shape=shape)
    m.sum_duplicates()
    return m


def weighted(matrix, weighting: str):
    from implicit.nearest_neighbours import bm25_weight, tfidf_weight
    if weighting == "binary":
        out = matrix.copy()
        out.data[:] = 1.0
        return out
    return (bm25_weight(matrix) if weighting == "bm25" else tfidf_weight(matrix)).tocsr().astype(np.float32)


def fit(matrix, setting: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1, "blas"):  # as the library recommends for its own threads
        als = AlternatingLeastSquares(factors=setting["factors"], regularization=setting["regularization"],
                                      alpha=setting["alpha"], iterations=ITERATIONS, random_state=seed,
                                      calculate_training_loss=False)
        als.fit(weighted(matrix, setting["weighting"]), show_progress=False)
    return np.asarray(als.user_factors), np.asarray(als.item_factors)


def _purchases(matrix):
    from alsreco.core.artifact import Purchases
    return Purchases(matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), matrix.data,
                     (int(matrix.shape[0]), int(matrix.shape[1])))


def validation_split(train_lines: pd.DataFrame, protocol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit lines, validation lines): the training part split by the test's own protocol."""
    raw = train_lines.assign(_customer=train_lines["customer"], _invoice=train_lines["invoice"],
                             _date=train_lines["date"])
    if protocol == "time_window":
        fit_raw, held, _ = split_time_window(raw, train_lines, WINDOW_DAYS)
    else:
        fit_raw, held, _ = split_last_basket(raw, train_lines)
    return train_lines.loc[fit_raw.index], held


def search(model, train_lines: pd.DataFrame, protocol: str, grid=GRID) -> dict[str, Any]:
    """Every grid setting's validation NDCG@10 (seed 0) and the best one."""
    fit_lines, held = validation_split(train_lines, protocol)
    matrix = counts(fit_lines, model)
    view = _Fitted(model.customer_ids, model.product_ids, _purchases(matrix))
    holdout = Holdout(view, held)
    scores = []
    for setting in grid:
        users, items = fit(matrix, setting, 0)
        scores.append(float(holdout.score(users, items)[f"ndcg_at_{K}"]))
    best = int(np.argmax(scores))
    return {"picked": dict(grid[best]), "validation_ndcg": scores[best], "validation_customers": int(len(holdout.rows)),
            "grid": [{**g, "validation_ndcg": s} for g, s in zip(grid, scores)]}


def on_test(model, holdout: Holdout, seeds: list[int], grid) -> dict[tuple[int, float], list[dict[str, float]]]:
    """The earlier anchor, kept as an upper bound: 1 per bought pair, regularization 0.01, each
    (factors, alpha) of `grid` scored on the test part itself (the best of them is picked on the test)."""
    import scipy.sparse as sp
    p = model.purchases  # the model's own training matrix, as before
    matrix = sp.csr_matrix((np.ones(len(p.indices), np.float32), np.asarray(p.indices), np.asarray(p.indptr)),
                           shape=p.shape)
    return {(f, a): [holdout.score(*fit(matrix, {"factors": f, "regularization": 0.01, "alpha": a,
                                                 "weighting": "binary"}, s)) for s in seeds] for f, a in grid}


def versus(terms: dict[str, list[np.ndarray]], fair: dict[str, Any]) -> dict[str, Any]:
    """Each of ours (per-seed NDCG terms per test customer) minus the anchor picked on validation: mean and
    paired 95% bootstrap interval (quality_trends.paired), with the verdict."""
    from .quality_trends import paired
    return {who: paired(t, fair["terms"]) for who, t in terms.items() if t}


def anchor(model, holdout: Holdout, train_lines: pd.DataFrame, protocol: str, seeds: list[int],
           grid=GRID) -> dict[str, Any]:
    """The setting picked on validation, fitted on the whole training part per seed and scored on the test
    part: its search, per-seed metrics and per-customer NDCG terms (for the paired intervals)."""
    found = search(model, train_lines, protocol, grid)
    matrix = counts(train_lines, model)
    per_seed, terms = [], []
    for seed in seeds:
        metrics, t = holdout.score_terms(*fit(matrix, found["picked"], seed))
        per_seed.append(metrics)
        terms.append(t)
    return {**found, "per_seed": per_seed, "terms": terms}
