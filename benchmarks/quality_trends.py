"""Issue 23's part of `benchmarks.quality`: the trend baselines, what the defaults chose, and paired
bootstrap intervals of the defaults against each baseline.

Per dataset and protocol, on the same test customers:

- the defaults as served (ALS + the blend `train` chose on its own held-out part of the training data;
  `eval_days` etc. as shipped), and their ALS alone (the same models, blend 0);
- `ALS alone (eval_days=0)`: the defaults without any held-out choice, i.e. the defaults before issue 23
  (half-life off, no blend);
- all-time best sellers (distinct customers), the best sellers of the last `trend_window_days`, and the
  Trending-Now list (core/trends.py), each from the defaults' model files (seed 0's; they have no seed).

Each interval is a paired percentile bootstrap (alsreco.train.metrics.bootstrap_ci, 2,000 resamples of test
customers) of the per-customer NDCG@10 difference, the defaults' side averaged over the seeds. Status
(benchmarks/RESULTS.md's rule): "met" when the interval clears 0, "within noise" when it straddles it,
"not met" when it is wholly below.
"""
from __future__ import annotations

from typing import Any

import numpy as np

K = 10
NO_CHOICE = "ALS alone (eval_days=0: no held-out choice; the defaults before issue 23)"
ALONE = "defaults' ALS alone (same models, blend 0)"
BASELINES = {"popularity": "popularity", "recent": "recent best sellers (last trend_window_days)",
             "trending": "Trending-Now list"}
BOOTSTRAP = 2000


def baselines(model, holdout) -> dict[str, tuple[dict[str, float], np.ndarray]]:
    """{name: (metrics, per-customer NDCG)} of the three one-list baselines, from `model`'s files (as of
    each basket's day when the holdout has day groups: the last_basket protocol)."""
    arrays = (model.product_popularity, model.product_recent, model.product_trending)
    return {name: holdout.score_order(holdout.baseline_key(name, *arrays)) for name in BASELINES}


def choices(meta: dict[str, Any]) -> dict[str, Any]:
    """What `train` chose on its held-out part (metadata.json)."""
    m, r, b = meta.get("metrics") or {}, meta.get("recency") or {}, meta.get("blend") or {}
    return {"half_life_days": r.get("half_life_days"), "blend_weight": b.get("weight"), "blend_signal": b.get("signal"),
            "eval_protocol": m.get("protocol"), "eval_days": m.get("eval_days"),
            "eval_customers": m.get("test_customers"), "fallback": "fallback" in m,
            "widened_to": (m.get("widened") or {}).get("to_days")}


def paired(a: list[np.ndarray], b: np.ndarray | list[np.ndarray]) -> dict[str, Any]:
    """Mean over seeds of `a` minus (the mean of) `b`, per customer: mean and 95% bootstrap interval."""
    from alsreco.train.metrics import bootstrap_ci
    right = np.mean(b, axis=0) if isinstance(b, list) else np.asarray(b)
    diff = np.mean(a, axis=0) - right
    lo, hi = bootstrap_ci(diff, BOOTSTRAP)
    return {"diff": float(diff.mean()), "ci95": [lo, hi], "customers": int(len(diff)), "status": status(lo, hi)}


def interval(terms: list[np.ndarray]) -> list[float]:
    """95% bootstrap interval (over customers) of the mean of per-customer terms averaged over seeds."""
    from alsreco.train.metrics import bootstrap_ci
    return list(bootstrap_ci(np.mean(terms, axis=0), BOOTSTRAP))


def status(lo: float, hi: float) -> str:
    return "met" if lo > 0 else "not met" if hi < 0 else "within noise"


def compare(served: list[np.ndarray], alone: list[np.ndarray], no_choice: list[np.ndarray] | None,
            base: dict[str, tuple[dict[str, float], np.ndarray]]) -> dict[str, Any]:
    """The defaults (served, per seed) against each baseline, the best of them, their ALS alone and the
    no-choice defaults."""
    best = max(base, key=lambda name: base[name][0][f"ndcg_at_{K}"])
    out = {f"vs {name}": paired(served, terms) for name, (_, terms) in base.items()}
    out["best baseline"] = best
    out["vs best baseline"] = out[f"vs {best}"]
    out["vs ALS alone"] = paired(served, alone)
    if no_choice:
        out["vs no choice"] = paired(served, no_choice)
    return out


def goal_rows(datasets: dict[str, dict[str, Any]], titles: dict[str, str]) -> list[list[Any]]:
    """RESULTS.md goal rows: per dataset and protocol, the defaults not below the better baseline; on the
    sample, not below the no-choice defaults (issue 22's 0.128 / 0.084)."""
    rows = []
    for name, d in datasets.items():
        for p, cmp in (d.get("trend_comparisons") or {}).items():
            v = cmp["vs best baseline"]
            rows.append([f"trends, {name}, {titles.get(p, p)}: defaults not below the better of all-time, recent "
                         f"and Trending-Now ({cmp['best baseline']})",
                         f"{v['diff']:+.4f} [{v['ci95'][0]:+.4f}, {v['ci95'][1]:+.4f}] over {v['customers']} "
                         "customers", f"{v['diff']:+.4f}", f"**{v['status']}**"])
            if name == "sample" and "vs no choice" in cmp:
                v = cmp["vs no choice"]
                rows.append([f"trends, sample, {titles.get(p, p)}: defaults at least as good as before issue 23 "
                             "(ALS alone, eval_days=0)", f"{v['diff']:+.4f} [{v['ci95'][0]:+.4f}, "
                             f"{v['ci95'][1]:+.4f}]", f"{v['diff']:+.4f}", f"**{v['status']}**"])
    return rows
