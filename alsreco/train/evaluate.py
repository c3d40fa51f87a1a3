"""Held-out evaluation: fit on the data before the held-out part (`eval_protocol`: the last `eval_days`
days, or each customer's last basket), score the model (or, with `tune`, each setting tried) and a
popularity baseline on it, log one `metric:` line per value with the number of test customers, and a
bootstrap interval of model minus popularity NDCG@K with a warning when it cannot tell them apart.

Memory is bounded whatever the catalogue: both are ranked in blocks of at most
`BLOCK_CELLS` scores (core/scoring.py), and what each customer bought in the window is a
CSR array (`metrics.Relevant`), not a Python set.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..core.artifact import Purchases
from ..core.errors import UserError
from ..core.scoring import BLOCK_CELLS, BlockRanker
from . import als, metrics, splits, tune, weighting
from . import ratings as ratings_mod

log = logging.getLogger(__name__)
BOOTSTRAP_SAMPLES = 2000
MIN_TEST_CUSTOMERS = 100


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
    got = splits.time_window(df, hp, start)
    return None if got is None else (*got, None)


@dataclass
class Scored:
    metrics: dict[str, float]
    ndcg: np.ndarray  # per test customer
    seconds: float = 0.0

    @staticmethod
    def mean(scored: list["Scored"]) -> "Scored":
        return Scored({k: float(np.mean([s.metrics[k] for s in scored])) for k in scored[0].metrics},
                      np.mean([s.ndcg for s in scored], axis=0), sum(s.seconds for s in scored))


class Holdout:
    """An evaluation split ready to score settings: who is scored and what they bought in the held-out
    part, popularity's lists, and the split's ratings weighted and in Spark once per weighting (the
    settings `tune` tries reuse them; nothing is re-read)."""

    def __init__(self, spark, split: splits.Split, hp: dict[str, Any]):
        self.spark, self.split, self.k, self.group_size = spark, split, hp["eval_k"], hp["group_size"]
        r = split.ratings
        self.bought = r.purchases()
        self.rows, self.relevant = relevant_items(split.test_users, split.test_items, self.bought)
        self._frames: dict[tuple, tuple[ratings_mod.Ratings, Any]] = {}
        if len(self.rows):
            popularity = np.bincount(r.item, minlength=r.shape[1]).astype(np.float32)
            recs = popularity_lists(popularity, self.bought, self.rows, self.k, self.group_size)
            self.popularity = self._scored(recs)

    def _scored(self, recs: np.ndarray, seconds: float = 0.0) -> Scored:
        return Scored(metrics.ranking_metrics(recs, self.relevant, self.k, self.split.ratings.shape[1]),
                      metrics.row_terms(recs, self.relevant, self.k)["ndcg"], seconds)

    def weighted(self, hp: dict[str, Any]) -> tuple[ratings_mod.Ratings, Any]:
        key = weighting.key(hp)
        if key not in self._frames:
            w = weighting.weigh(self.split.ratings, hp)
            self._frames[key] = (w, weighting.frame(self.spark, w, self.split.frame, hp))
        return self._frames[key]

    def score(self, hp: dict[str, Any]) -> Scored:
        """Fit `hp` on the split's ratings and score it on the held-out part."""
        started = time.monotonic()
        r, frame = self.weighted(hp)
        users, items = als.fit(self.spark, r, hp, frame)
        return self._scored(top_lists(users, items, self.bought, self.rows, self.k, self.group_size),
                            time.monotonic() - started)

    def release(self) -> None:
        for _, frame in self._frames.values():
            if frame is not None and frame is not self.split.frame:
                frame.unpersist()
        self._frames.clear()


def check(hp: dict[str, Any]) -> None:
    if hp["tune"] and hp["eval_days"] == 0:
        raise UserError("tune=true needs held-out data to score the settings it tries: set eval_days > 0 "
                        "(eval_protocol says what is held out), or tune=false")


def run(spark, hp: dict[str, Any], as_of: pd.Timestamp, split: Callable[[str, pd.Timestamp], Any]
        ) -> tuple[dict[str, Any], dict[str, Any], tune.Tuning | None]:
    """Evaluate `hp` (or, with `tune`, search settings) on the held-out data of `eval_protocol`.
    Returns (the evaluation for metadata["metrics"], the setting to fit on all data, the tuning)."""
    if hp["eval_days"] == 0:
        return {"skipped": "eval_days=0"}, hp, None
    days, k, protocol = hp["eval_days"], hp["eval_k"], hp["eval_protocol"]
    result: dict[str, Any] = {"protocol": protocol, "k": k}
    start = as_of - pd.Timedelta(days=days - 1)
    if protocol == "time_window":
        result.update(eval_days=days, window_start=str(start.date()), window_end=str(as_of.date()))
    got = split(protocol, start)
    holdout = Holdout(spark, got, hp) if got is not None else None
    if holdout is None or not len(holdout.rows):
        result["skipped"] = ("the held-out data or the data before it is empty" if holdout is None else
                             "no held-out customer bought anything new that the model knows")
        log.warning("evaluation skipped%s: %s", " (and tune)" if hp["tune"] else "", result["skipped"])
        return result, hp, None
    if got.info.get("baskets") == "day":
        log.warning("last_basket: the data has no invoice ids; each customer's last purchase day is held out")
    result.update(got.info)
    tuning = None
    try:
        if hp["tune"]:
            key = f"ndcg_at_{k}"
            tuning = tune.search(holdout.score, hp, lambda sc: (sc.metrics[key], sc.metrics),
                                 terms_of=lambda sc: sc.ndcg)
            hp = {**hp, **tuning.chosen}
            scored = Scored.mean(tuning.chosen_results)
        else:
            scored = holdout.score(hp)
    finally:
        holdout.release()
    r = got.ratings
    result.update(test_customers=len(holdout.rows), train_customers=r.shape[0], train_products=r.shape[1],
                  model=scored.metrics, popularity=holdout.popularity.metrics,
                  model_vs_popularity=compare(scored.ndcg, holdout.popularity.ndcg, k))
    return result, hp, tuning


def compare(model: np.ndarray, popularity: np.ndarray, k: int) -> dict[str, Any]:
    """Model minus popularity NDCG@K over the test customers, with a bootstrap 95% interval, and a
    warning when the test customers are too few to tell two settings apart."""
    diff = np.asarray(model) - np.asarray(popularity)
    lo, hi = metrics.bootstrap_ci(diff, BOOTSTRAP_SAMPLES)
    out: dict[str, Any] = {f"ndcg_at_{k}_diff": float(diff.mean()), "ci95": [lo, hi],
                           "bootstrap_samples": BOOTSTRAP_SAMPLES, "test_customers": int(len(diff))}
    why = []
    if len(diff) < MIN_TEST_CUSTOMERS:
        why.append(f"only {len(diff)} test customers (fewer than {MIN_TEST_CUSTOMERS})")
    if lo <= 0.0 <= hi:
        why.append(f"the 95% interval of model minus popularity NDCG@{k} [{lo:+.4f}, {hi:+.4f}] includes 0")
    if why:
        out["warning"] = ("; ".join(why) + f": differences in NDCG@{k} smaller than about {(hi - lo) / 2:.3f} "
                          "between two settings cannot be told apart on this held-out data (hold out more: "
                          "a larger eval_days, or eval_protocol=last_basket)")
    return out


def log_metrics(result: dict[str, Any]) -> None:
    """One `metric: name=value` line each, for SageMaker MetricDefinitions regexes, with the number of
    test customers after the value."""
    n = result.get("test_customers")
    note = f" ({n} test customers)" if n is not None else ""
    for who in ("model", "popularity"):
        for name, value in (result.get(who) or {}).items():
            log.info("metric: %s.%s=%.6f%s", who, name, value, note)
    if "model" not in result:
        return
    k, cmp = result["k"], result["model_vs_popularity"]
    lo, hi = cmp["ci95"]
    log.info("metric: evaluation.test_customers=%d", n)
    log.info("metric: model_vs_popularity.ndcg_at_%d_diff=%.6f (95%% CI %.6f..%.6f, %d test customers)",
             k, cmp[f"ndcg_at_{k}_diff"], lo, hi, n)
    m, p = result["model"][f"ndcg_at_{k}"], result["popularity"][f"ndcg_at_{k}"]
    lift = f"x{m / p:.2f}" if p > 0 else "n/a"
    where = (f"{result['window_start']}..{result['window_end']}" if result["protocol"] == "time_window"
             else f"last basket of {result.get('held_out_baskets')} customers, by {result.get('baskets')}")
    log.info("evaluation on %d customers (%s): model ndcg@%d=%.4f vs popularity %.4f (%+.4f, 95%% CI %+.4f..%+.4f, "
             "%s)", n, where, k, m, p, m - p, lo, hi, lift)
    if "warning" in cmp:
        log.warning("evaluation: %s", cmp["warning"])
