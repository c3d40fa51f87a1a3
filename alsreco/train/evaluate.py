"""Held-out evaluation: fit on the data before the held-out part (`eval_protocol`: the last `eval_days`
days, widened or replaced by each customer's last basket when too thin: windows.py), score the model (or,
with `tune`, each setting tried) and the baselines on it (all-time best sellers, the recent best sellers
and the Trending-Now list), choose the half-life (`recency_half_life_days=auto`: recency.py) and the trend
blend (blend.py) on it, log one `metric:` line per value with the number of test customers, and a
bootstrap interval of model minus popularity NDCG@K with a warning when it cannot tell them apart.

Everything is chosen on this held-out part of the training data; the final model is then fitted on all of
it. A benchmark's test part is never given to `train`, so nothing is chosen on it.
The held-out part itself (its lists, fits and baselines, in bounded memory) is holdout.py.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import UserError
from . import blend, metrics, recency, splits, tune, windows
from .holdout import Holdout, Scored, order_key, popularity_lists, relevant_items, top_lists

__all__ = ["Holdout", "Outcome", "Scored", "check", "compare", "log_metrics", "order_key", "popularity_lists",
           "relevant_items", "run", "split_pandas", "top_lists"]

log = logging.getLogger(__name__)
BOOTSTRAP_SAMPLES = 2000
MIN_TEST_CUSTOMERS = 100


def split_pandas(df: pd.DataFrame, hp: dict[str, Any], start: pd.Timestamp):
    """(ratings before `start`, the window's customers and products as model indices (-1 = unknown),
    None: no Spark frame) or None when either side is empty. `spark_ratings.split` is the Spark twin."""
    got = splits.time_window(df, hp, start)
    return None if got is None else (*got, None)


@dataclass
class Outcome:
    """What the evaluation decided: metadata["metrics"], the setting to fit on all data (its half-life a
    number), the tuning, and metadata["recency"] and metadata["blend"]."""

    metrics: dict[str, Any]
    fitted: dict[str, Any]
    tuning: tune.Tuning | None = None
    recency: dict[str, Any] = field(default_factory=dict)
    blend: dict[str, Any] = field(default_factory=dict)


def check(hp: dict[str, Any]) -> None:
    if hp["tune"] and hp["eval_days"] == 0:
        raise UserError("tune=true needs held-out data to score the settings it tries: set eval_days > 0 "
                        "(eval_protocol says what is held out), or tune=false")


def run(spark, hp: dict[str, Any], as_of: pd.Timestamp, prepared) -> Outcome:
    """Evaluate `hp` (or, with `tune`, search settings) on the held-out data of `eval_protocol` (windows.py),
    choosing the half-life (when auto) and the blend on it. `prepared` (prepare.Prepared) gives the splits."""
    if hp["eval_days"] == 0:
        why = "eval_days=0"
        return Outcome({"skipped": why}, recency.unevaluated(hp, why)[0], None, recency.unevaluated(hp, why)[1],
                       blend.unevaluated(hp, why))
    days, k, protocol = hp["eval_days"], hp["eval_k"], hp["eval_protocol"]
    span = int((as_of - pd.Timestamp(prepared.first_date).normalize()).days) + 1
    def holdout_of(split: splits.Split, protocol: str) -> Holdout:
        return Holdout(spark, split, hp, protocol, span)

    holdout, info = windows.choose(hp, as_of, prepared, holdout_of)
    result: dict[str, Any] = {"protocol": protocol, "k": k}
    if holdout is None or not len(holdout.rows):
        if holdout is not None:
            holdout.release()
        why = ("the held-out data or the data before it is empty" if holdout is None else
               "no held-out customer bought anything new that the model knows")
        if protocol == "time_window":
            why += f" (time windows of up to {info.get('eval_days', days)} days, then each customer's last basket)"
        if hp["tune"]:
            raise UserError(f"tune=true cannot run: it scores the settings it tries on held-out customers, and {why}. "
                            "Give more history (customers who come back), or set tune=false")
        result.update(info, skipped=why)
        log.warning("evaluation skipped: %s", why)
        fitted, recency_meta = recency.unevaluated(hp, why)
        return Outcome(result, fitted, None, recency_meta, blend.unevaluated(hp, why))
    got = holdout.split
    if holdout.protocol != protocol or info.get("eval_days", days) != days:
        result["requested"] = {"protocol": protocol, "eval_days": days}
    result.update(info, protocol=holdout.protocol)
    if got.info.get("baskets") == "day":
        log.warning("last_basket: the data has no invoice ids; each customer's last purchase day is held out")
    result.update(got.info)
    tuning = None
    others: list[Holdout | None] = []

    def secondary() -> Holdout | None:  # the other protocol's held-out part, built when first asked for
        if not others:
            name = "time_window" if holdout.protocol == "last_basket" else "last_basket"
            log.info("evaluation: building the other protocol's held-out part (%s) to confirm a choice on it", name)
            started = time.monotonic()
            others.append(windows.other(hp, as_of, prepared, holdout_of, holdout.protocol))
            n_other = 0 if others[0] is None else len(others[0].rows)
            log.info("evaluation: the other protocol's held-out part (%s): %d test customers, built in %.1f s",
                     name, n_other, time.monotonic() - started)
            if others[0] is not None:
                result["other_protocol"] = {"protocol": others[0].protocol, "test_customers": n_other}
        return others[0]

    try:
        fitted, recency_meta, scored = recency.choose(holdout, hp, secondary)
        if hp["tune"]:
            key = f"ndcg_at_{k}"
            tuning = tune.search(holdout.score, fitted, lambda sc: (sc.metrics[key], sc.metrics),
                                 terms_of=lambda sc: sc.ndcg)
            fitted = {**fitted, **tuning.chosen}
            scored = Scored.mean(tuning.chosen_results)
            factors = holdout.fitted(fitted).factors  # the chosen setting's factors, for the blend
        else:
            scored = scored or holdout.fitted(fitted)
            factors = scored.factors
        blend_meta, served = blend.choose(holdout, hp, factors, fitted, secondary)
    finally:
        holdout.release()
        for other in others:
            if other is not None:
                other.release()
    r = got.ratings
    result.update(test_customers=len(holdout.rows), train_customers=r.shape[0], train_products=r.shape[1],
                  model=scored.metrics, popularity=holdout.popularity.metrics,
                  model_vs_popularity=compare(scored.ndcg, holdout.popularity.ndcg, k),
                  served=served.metrics, recent=holdout.baselines["recent"].metrics,
                  trending=holdout.baselines["trending"].metrics,
                  served_vs_baselines={name: _interval(served.ndcg - b.ndcg)
                                       for name, b in holdout.baselines.items()})
    return Outcome(result, fitted, tuning, recency_meta, blend_meta)


def _interval(diff: np.ndarray) -> dict[str, Any]:
    lo, hi = metrics.bootstrap_ci(diff, BOOTSTRAP_SAMPLES)
    return {"diff": float(np.mean(diff)), "ci95": [lo, hi]}


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
    for who in ("model", "popularity", "served", "recent", "trending"):
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
    served = result["served"][f"ndcg_at_{k}"]
    log.info("evaluation: served (the blend) ndcg@%d=%.4f vs %s", k, served, ", ".join(
        f"{name} {result[name][f'ndcg_at_{k}']:.4f} ({v['diff']:+.4f}, 95% CI {v['ci95'][0]:+.4f}..{v['ci95'][1]:+.4f})"
        for name, v in result["served_vs_baselines"].items()))
    for line in losing(result):
        log.warning("evaluation: %s", line)


def losing(result: dict[str, Any]) -> list[str]:
    """A sentence for each baseline the served lists are significantly below on the held-out data (the
    whole 95% interval of served minus baseline under zero): nobody deploys a loser unknowingly."""
    k, n = result["k"], result.get("test_customers")
    out = []
    for name, v in (result.get("served_vs_baselines") or {}).items():
        lo, hi = v["ci95"]
        if hi < 0:
            out.append(f"the served lists score NDCG@{k} {result['served'][f'ndcg_at_{k}']:.4f}, significantly below "
                       f"{name} best sellers' {result[name][f'ndcg_at_{k}']:.4f} ({v['diff']:+.4f}, 95% CI "
                       f"{lo:+.4f}..{hi:+.4f}, {n} test customers): this model would serve worse lists than a "
                       f"{name} best-seller list. Check the held-out window (eval_days, eval_protocol), try "
                       "tune=true, or serve that list for now (\"trending\": true in requests; docs/trends.md)")
    return out
