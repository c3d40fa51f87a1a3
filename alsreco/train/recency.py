"""`recency_half_life_days=auto`: off, or a half-life, chosen for the user's data on the held-out part.

1. Trend check (no fit): the held-out customers are scored with the all-time best sellers, the best
   sellers of the last `trend_window_days` and the Trending-Now list (core/trends.py), each as of the end
   of the training part. When neither recent list beats the all-time one beyond the held-out data's noise
   (choice.py's interval), the data has no trend worth following: the half-life stays off and nothing more
   is fitted (stationary data pays nothing).
2. Otherwise the given setting is fitted with each candidate half-life (off, and those of CANDIDATES
   shorter than 4x the data's span: a longer one weighs every purchase within 16% of the same) and scored
   on the held-out customers; each score is logged (`metric: recency.half_life_<d>.ndcg_at_<k>=`).
3. A candidate replaces off only if it beats off beyond the held-out data's noise and does not lose on the
   other protocol's held-out part (choice.py: the best such candidate is taken).

An explicit value is used as given. Without held-out data (`eval_days=0`, or nothing to score) auto is off.
The choice, the candidates' scores and the trend check go to metadata.json under `recency`.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from ..core.hyperparameters import is_auto
from . import choice
from .metrics import bootstrap_ci
from .tune import GUARD_LEVEL

log = logging.getLogger(__name__)
KEY = "recency_half_life_days"
CANDIDATES = (7.0, 14.0, 30.0, 90.0)


def unevaluated(hp: dict[str, Any], why: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the setting to fit, metadata) without held-out data: an explicit half-life as given, auto off."""
    if not is_auto(hp[KEY]):
        return {**hp, KEY: float(hp[KEY])}, {"half_life_days": float(hp[KEY]), "chosen_by": "hyperparameter"}
    log.info("recency: recency_half_life_days=auto needs held-out data (%s): the half-life is off", why)
    return {**hp, KEY: 0.0}, {"half_life_days": 0.0, "chosen_by": "auto", "reason": f"no held-out data: {why}"}


def candidates(span_days: int) -> list[float]:
    return [0.0] + [d for d in CANDIDATES if not span_days or d < 4 * span_days]


def trend_check(holdout) -> dict[str, Any]:
    """The baselines' held-out NDCG@K and whether a recent list beats the all-time best sellers beyond the
    held-out data's noise (the lower bound of choice.py's interval of its per-customer gain above 0): a lead
    inside the noise pays for no candidate fit (on 10M lines each costs ~30-40 s), as a half-life whose lead
    is inside the noise is not chosen."""
    key = f"ndcg_at_{holdout.k}"
    scores: dict[str, Any] = {name: float(b.metrics[key]) for name, b in holdout.baselines.items()}
    popular = holdout.baselines["popularity"].ndcg
    beats = False
    for name in ("recent", "trending"):
        lo, hi = bootstrap_ci(holdout.baselines[name].ndcg - popular, level=GUARD_LEVEL)
        scores[f"{name}_vs_popularity_{choice.CI}"] = [lo, hi]
        beats = beats or lo > 0.0
    return {**scores, "has_trend": beats}


def choose(holdout, hp: dict[str, Any], secondary: Callable[[], Any] = lambda: None
           ) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(the setting to fit, with its half-life a number; metadata["recency"]; the chosen candidate's
    `Scored` with its factors when candidates were fitted, else None). `secondary()` gives the other
    protocol's held-out part (choice.py), or None."""
    if not is_auto(hp[KEY]):
        days = float(hp[KEY])
        return {**hp, KEY: days}, {"half_life_days": days, "chosen_by": "hyperparameter"}, None
    k = holdout.k
    key = f"ndcg_at_{k}"
    check = trend_check(holdout)
    meta: dict[str, Any] = {"chosen_by": "auto", "trend_check": check}
    if not check["has_trend"]:
        log.info("recency: auto: the recent best sellers (NDCG@%d %.4f) and the Trending-Now list (%.4f) do not "
                 "beat the all-time best sellers (%.4f) beyond the noise of the held-out customers (%s interval of "
                 "the gain: recent %+.4f..%+.4f, trending %+.4f..%+.4f): no trend, half-life off", k,
                 check["recent"], check["trending"], check["popularity"], choice.CI[2:] + "%",
                 *check[f"recent_vs_popularity_{choice.CI}"], *check[f"trending_vs_popularity_{choice.CI}"])
        return {**hp, KEY: 0.0}, {**meta, "half_life_days": 0.0, "reason": "no trend"}, None
    scored: dict[float, Any] = {}
    for days in candidates(holdout.span_days):
        scored[days] = holdout.fitted({**hp, KEY: days})
        log.info("metric: recency.half_life_%g.ndcg_at_%d=%.6f (%d test customers, %.1f s)", days, k,
                 scored[days].metrics[key], len(holdout.rows), scored[days].seconds)
    meta["candidates"] = [{"half_life_days": d, key: round(float(s.metrics[key]), 6), "seconds": round(s.seconds, 2)}
                          for d, s in scored.items()]

    def other(days: float):
        sec = secondary()
        if sec is None:
            return None
        return sec.fitted({**hp, KEY: days}).ndcg - sec.fitted({**hp, KEY: 0.0}).ndcg

    chosen, meta["examined"] = choice.pick(scored[0.0], [(d, s) for d, s in scored.items() if d], key, other)
    chosen = float(chosen or 0.0)
    best = max(scored, key=lambda d: scored[d].metrics[key])
    if chosen != best:
        log.warning("recency: the best half-life on the held-out data (%s, NDCG@%d %+.4f over off) %s: the half-life "
                    "is %s", f"{best:g} days" if best else "off", k,
                    scored[best].metrics[key] - scored[0.0].metrics[key], _why(meta["examined"], best),
                    f"{chosen:g} days" if chosen else "off")
    meta["half_life_days"] = chosen
    holdout.forget({**hp, KEY: chosen})
    log.info("recency: auto chose %s (held-out NDCG@%d: %s)", f"a half-life of {chosen:g} days" if chosen else "off",
             k, ", ".join(f"{'off' if d == 0 else f'{d:g} d'} {s.metrics[key]:.4f}" for d, s in scored.items()))
    log.info("metric: recency.half_life_days=%g", chosen)
    return {**hp, KEY: chosen}, meta, scored[chosen]


def _why(examined: list[dict[str, Any]], name: Any) -> str:
    """Why choice.pick passed over candidate `name`, in words."""
    record = next((r for r in examined if r["candidate"] == name), None)
    if record is None:
        return "was not examined"
    if not record["beats_noise"]:
        lo, hi = record[choice.CI]
        return f"is within the noise ({choice.CI[2:]}% interval {lo:+.4f}..{hi:+.4f})"
    o = record.get("other_protocol", {})
    lo, hi = o.get(choice.CI, [float("nan")] * 2)
    diff = o.get("difference", float("nan"))
    return f"loses on the other protocol's held-out part ({diff:+.4f}, {lo:+.4f}..{hi:+.4f})"
