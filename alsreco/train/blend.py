"""The trend blend: final score = ALS score + weight x signal, the weight and signal chosen on the held-out
part (core/trends.py defines the signals; serving, batch scoring and the evaluation add the same vector).

With `blend_weight=auto` (and `blend_signal=auto`), every signal (trending, recent, popularity, each
normalised to [0, 1]) is tried at every weight of WEIGHTS on the held-out customers, ranked exactly as
serving ranks (purchases excluded), with the factors of the setting being fitted. The best (signal,
weight) replaces the ALS alone (weight 0) only if it beats it beyond the held-out data's noise and does
not lose on the other protocol's held-out part (choice.py; the best such candidate is taken). So the
weight is 0 when trends do not help. An explicit `blend_weight` is used
as given (with `blend_signal=auto`, the signal scoring best at that weight); an explicit `blend_signal`
restricts the search to it. At most MAX_CUSTOMERS held-out customers (a seeded sample) take part in the
search on very large data; the chosen blend is then scored on all of them.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from ..core.hyperparameters import AUTO, BLEND_SIGNALS, is_auto
from . import choice

log = logging.getLogger(__name__)
WEIGHTS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 4.0, 6.0, 10.0)
MAX_CUSTOMERS = 10_000
DEFAULT_SIGNAL = "recent"  # the signal a request's `blend` uses when nothing was chosen


def unevaluated(hp: dict[str, Any], why: str) -> dict[str, Any]:
    """metadata["blend"] without held-out data: an explicit weight as given, auto 0."""
    signal = DEFAULT_SIGNAL if hp["blend_signal"] == AUTO else hp["blend_signal"]
    if not is_auto(hp["blend_weight"]):
        return {"weight": float(hp["blend_weight"]), "signal": signal, "chosen_by": "hyperparameter"}
    log.info("blend: blend_weight=auto needs held-out data (%s): no blend (weight 0)", why)
    return {"weight": 0.0, "signal": signal, "chosen_by": "auto", "reason": f"no held-out data: {why}"}


def choose(holdout, hp: dict[str, Any], factors: tuple[np.ndarray, np.ndarray], fitted: dict[str, Any] | None = None,
           secondary: Callable[[], Any] = lambda: None) -> tuple[dict[str, Any], Any]:
    """(metadata["blend"], the held-out `Scored` of the chosen blend on every test customer). `fitted` is the
    setting of `factors` (fitted on the other protocol's part, `secondary()`, when a candidate needs it)."""
    users, items = factors
    k, key = holdout.k, f"ndcg_at_{holdout.k}"
    n = len(holdout.rows)
    subset = _sample(n, hp)
    alone = holdout.rank(users, items, subset=subset)
    fixed = None if is_auto(hp["blend_weight"]) else float(hp["blend_weight"])
    signals = BLEND_SIGNALS if hp["blend_signal"] == AUTO else (hp["blend_signal"],)
    weights = WEIGHTS if fixed is None else (fixed,)
    tried = [((s, w), holdout.rank(users, items, blend=(s, w), subset=subset))
             for s in signals for w in weights if w > 0]
    meta: dict[str, Any] = {"chosen_by": "auto" if fixed is None else "hyperparameter", "protocol": holdout.protocol,
                            "test_customers": n, "searched_customers": n if subset is None else len(subset),
                            "candidates": [{"signal": s, "weight": w, key: round(float(sc.metrics[key]), 6)}
                                           for (s, w), sc in tried]}
    for s in signals:
        line = ", ".join(f"{w:g} {sc.metrics[key]:.4f}" for (s2, w), sc in tried if s2 == s)
        log.info("blend: held-out NDCG@%d with %s: %s (ALS alone %.4f)", k, s, line or "-", alone.metrics[key])
    best = max(tried, key=lambda t: t[1].metrics[key], default=None)  # ties: the first (smallest weight)
    signal = best[0][0] if best is not None else (signals[0] if len(signals) == 1 else DEFAULT_SIGNAL)
    weight = fixed if fixed is not None else 0.0
    if fixed is None:
        other = _other(secondary, hp if fitted is None else fitted)
        chosen, meta["examined"] = choice.pick(alone, tried, key, other)
        if chosen is not None:
            signal, weight = chosen
        elif best is not None and best[1].metrics[key] > alone.metrics[key]:
            log.warning("blend: no (signal, weight) beats the ALS alone beyond the held-out data's noise without "
                        "losing on the other protocol's held-out part (the best: %g x %s, %+.4f NDCG@%d): no blend "
                        "(weight 0)", best[0][1], best[0][0], best[1].metrics[key] - alone.metrics[key], k)
    meta.update(weight=float(weight), signal=signal)
    served = holdout.rank(users, items, blend=(signal, weight) if weight else None)
    alone_all = alone if subset is None else (served if not weight else holdout.rank(users, items))
    meta[f"served_{key}"] = round(float(served.metrics[key]), 6)
    meta[f"alone_{key}"] = round(float(alone_all.metrics[key]), 6)
    log.info("blend: %s (held-out NDCG@%d %.4f, the ALS alone %.4f, on %d test customers)",
             f"score = ALS + {weight:g} x {signal}" if weight else "no blend: score = ALS", k,
             served.metrics[key], alone_all.metrics[key], n)
    log.info("metric: blend.weight=%g", weight)
    return meta, served


def _sample(n: int, hp: dict[str, Any]) -> np.ndarray | None:
    """At most MAX_CUSTOMERS of n held-out customers (positions, ascending; seeded), None for all."""
    if n <= MAX_CUSTOMERS:
        return None
    return np.sort(np.random.default_rng(int(hp["seed"])).choice(n, MAX_CUSTOMERS, replace=False))


def _other(secondary: Callable[[], Any], fitted: dict[str, Any]) -> Callable[[tuple[str, float]], Any]:
    """A candidate's per-customer NDCG gain over the ALS alone on the other protocol's held-out part (its
    factors fitted once, when first needed), or None when there is no such part."""
    state: dict[str, Any] = {}

    def gain(candidate: tuple[str, float]):
        sec = secondary()
        if sec is None:
            return None
        if not state:
            state["factors"] = sec.fitted(fitted).factors
            state["subset"] = _sample(len(sec.rows), fitted)
            state["alone"] = sec.rank(*state["factors"], subset=state["subset"])
        signal, weight = candidate
        blended = sec.rank(*state["factors"], blend=(signal, weight), subset=state["subset"])
        return blended.ndcg - state["alone"].ndcg

    return gain
