"""Held-out evaluation: fit on all but the last `eval_days` days, score the model and a
popularity baseline on that window, log one `metric:` line per value.

Memory is bounded whatever the catalogue: both are ranked in blocks of at most
`BLOCK_CELLS` scores (core/scoring.py), and what each customer bought in the window is a
CSR array (`metrics.Relevant`), not a Python set.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..core.artifact import Purchases
from ..core.scoring import BLOCK_CELLS, BlockRanker
from . import als, metrics
from . import ratings as ratings_mod

log = logging.getLogger(__name__)


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
              max_rows: int | None = None, cells: int = BLOCK_CELLS) -> np.ndarray:
    """customers x k best items (-1 past a short list), bought items excluded, scored in blocks
    of at most `cells` customers x products (and `max_rows` customers)."""
    ranker = BlockRanker(users, items, bought, k, cells=cells, max_rows=max_rows)
    out = [ranker.top(chunk) for chunk in ranker.blocks(customers)]
    return np.concatenate(out) if out else np.zeros((0, min(k, len(items))), dtype=np.int64)


def popularity_lists(popularity: np.ndarray, bought: Purchases, customers: np.ndarray, k: int,
                     max_rows: int | None = None, cells: int = BLOCK_CELLS) -> np.ndarray:
    """The baseline: best sellers not bought yet, i.e. `top_lists` of a rank-1 model whose
    customer factors are 1 and item factors the popularity (ties by product index)."""
    ones = np.broadcast_to(np.ones(1, dtype=np.float32), (bought.shape[0], 1))
    return top_lists(ones, np.asarray(popularity, dtype=np.float32)[:, None], bought, customers, k, max_rows, cells)


def split_pandas(df: pd.DataFrame, hp: dict[str, Any], start: pd.Timestamp):
    """(ratings before `start`, the window's customers and products as model indices (-1 = unknown),
    None: no Spark frame) or None when either side is empty. `spark_ratings.split` is the Spark twin."""
    train_df, test_df = df[df["date"] < start], df[df["date"] >= start]
    if train_df.empty or test_df.empty:
        return None
    r = ratings_mod.build(train_df, hp, start - pd.Timedelta(days=1))
    return (r, pd.Index(r.customer_ids).get_indexer(test_df["customer"]),
            pd.Index(r.product_ids).get_indexer(test_df["product"]), None)


def evaluate(spark, df: pd.DataFrame | None, hp: dict[str, Any], as_of: pd.Timestamp,
             split: Callable[[pd.Timestamp], Any] | None = None) -> dict[str, Any]:
    """Fit on all but the last `eval_days` days; score the model and popularity on that window.
    The split comes from `df` (pandas) or from `split(start)` (the Spark path)."""
    days, k = hp["eval_days"], hp["eval_k"]
    start = as_of - pd.Timedelta(days=days - 1)
    result: dict[str, Any] = {"eval_days": days, "k": k, "window_start": str(start.date()),
                              "window_end": str(as_of.date())}
    got = split(start) if split is not None else split_pandas(df, hp, start)
    if got is None:
        result["skipped"] = "the evaluation window or the data before it is empty"
        log.warning("evaluation skipped: %s", result["skipped"])
        return result
    r, test_users, test_items, frame = got
    bought = r.purchases()
    rows, rel = relevant_items(test_users, test_items, bought)
    if not len(rows):
        result["skipped"] = "no customer of the window bought anything new that the model knows"
        log.warning("evaluation skipped: %s", result["skipped"])
        return result
    users, items = als.fit(spark, r, hp, frame)
    recs = top_lists(users, items, bought, rows, k, hp["group_size"])
    popularity = np.bincount(r.item, minlength=r.shape[1]).astype(np.float32)
    pop_recs = popularity_lists(popularity, bought, rows, k, hp["group_size"])
    result.update(test_customers=len(rows), train_customers=r.shape[0], train_products=r.shape[1],
                  model=metrics.ranking_metrics(recs, rel, k, r.shape[1]),
                  popularity=metrics.ranking_metrics(pop_recs, rel, k, r.shape[1]))
    return result


def log_metrics(result: dict[str, Any]) -> None:
    """One `metric: name=value` line each, for SageMaker MetricDefinitions regexes."""
    for who in ("model", "popularity"):
        for name, value in (result.get(who) or {}).items():
            log.info("metric: %s.%s=%.6f", who, name, value)
    if "model" in result:
        k = result["k"]
        m, p = result["model"][f"ndcg_at_{k}"], result["popularity"][f"ndcg_at_{k}"]
        lift = f"x{m / p:.2f}" if p > 0 else "n/a"
        log.info("evaluation on %d customers (%s..%s): model ndcg@%d=%.4f vs popularity %.4f (%+.4f, %s)",
                 result["test_customers"], result["window_start"], result["window_end"], k, m, p, m - p, lift)
