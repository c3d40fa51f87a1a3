"""`tune`: a small search for alpha, reg_param, als_rank, max_itter and weighting on the held-out data.

Successive halving over ALS seeds, within `tune_budget_seconds`:

1. Explore: the given setting first, then the given setting with each other weighting, then settings drawn
   at random (seeded by `seed`) from SPACE; each fitted once (ALS `seed`) on the evaluation split and
   scored with the training metrics. Up to `tune_trials` settings, or until EXPLORE_SHARE of the budget.
2. Confirm: the best third of the settings is fitted again with the next ALS seed, then the best third of
   those, ... until one is left or the budget is spent. With few test customers or a small catalogue,
   one ALS seed moves NDCG@10 as much as a setting does; ranking by the mean over seeds keeps the search
   from picking a lucky initialisation.

The chosen setting has the best mean NDCG@K among the settings fitted the most times (ties: the earliest,
so the given setting wins a tie). No fit is started that would end past the budget: each fit's time is
estimated from the recent fits' median seconds per unit of work (iterations x (1 + rank / 32)) with a
25% margin, leaving out the first fit (JVM warm-up) once there are others. The first fit always runs.
Every trial fits what the job will deploy: `als_fits` fits (auto: 4 on small data). Measured on the
sample: one fit per trial ran twice the trials but let validation-lucky settings
through the noise guard (test NDCG@10 0.072-0.094 in 2 of 3 time-window runs); averaged trials did not.
`fit_score(hp)` does one fit and scoring (`evaluate.Holdout.score`), so the split, its ratings and their
Spark frames are computed once and reused by every trial.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from ..core.hyperparameters import WEIGHTINGS
from .metrics import bootstrap_ci

log = logging.getLogger(__name__)
TUNED = ("als_rank", "max_itter", "reg_param", "alpha", "weighting")
SPACE = {
    "als_rank": (8, 12, 16, 24, 32, 48, 64),
    "max_itter": (8, 10, 15, 20, 25),
    "reg_param": (0.005, 1.0),  # log-uniform
    "alpha": (0.5, 50.0),  # log-uniform
    "weighting": WEIGHTINGS,
}
EXPLORE_SHARE = 0.6
KEEP = 1 / 3
RECENT = 5
MARGIN = 1.25
GUARD_LEVEL = 0.8  # two-sided: its lower bound is a one-sided 90% bound


@dataclass
class Trial:
    number: int
    settings: dict[str, Any]
    seed: int
    stage: str
    score: float
    metrics: dict[str, float]
    seconds: float
    result: Any = None  # what fit_score returned (kept for the chosen setting)

    def as_dict(self) -> dict[str, Any]:
        return {"trial": self.number, "stage": self.stage, "seed": self.seed, "settings": self.settings,
                "score": round(self.score, 6), "metrics": self.metrics, "seconds": round(self.seconds, 2)}


@dataclass
class Tuning:
    budget_seconds: float
    trials: list[Trial] = field(default_factory=list)
    chosen: dict[str, Any] = field(default_factory=dict)
    chosen_score: float = float("nan")
    chosen_results: list[Any] = field(default_factory=list)  # fit_score results of the chosen setting
    stopped: str = ""
    seconds: float = 0.0
    best: dict[str, Any] = field(default_factory=dict)  # the best setting found, before the noise guard
    guard: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, key: str) -> dict[str, Any]:
        return {"budget_seconds": self.budget_seconds, "seconds": round(self.seconds, 2), "objective": key,
                "stopped": self.stopped, "chosen": self.chosen, "chosen_score": round(self.chosen_score, 6),
                "chosen_fits": len(self.chosen_results), "best_found": self.best, "noise_guard": self.guard,
                "trials": [t.as_dict() for t in self.trials]}


def settings_of(hp: dict[str, Any]) -> dict[str, Any]:
    return {k: hp[k] for k in TUNED}


def candidates(hp: dict[str, Any], rng: np.random.Generator) -> Iterator[dict[str, Any]]:
    """The given setting, it with each other weighting, then random draws from SPACE (no repeats)."""
    base = settings_of(hp)
    seen = []
    for w in (base["weighting"], *[w for w in WEIGHTINGS if w != base["weighting"]]):
        s = {**base, "weighting": w}
        seen.append(s)
        yield s
    while True:
        lo, hi = SPACE["reg_param"]
        a_lo, a_hi = SPACE["alpha"]
        s = {"als_rank": int(rng.choice(SPACE["als_rank"])), "max_itter": int(rng.choice(SPACE["max_itter"])),
             "reg_param": round(float(math.exp(rng.uniform(math.log(lo), math.log(hi)))), 4),
             "alpha": round(float(math.exp(rng.uniform(math.log(a_lo), math.log(a_hi)))), 3),
             "weighting": str(rng.choice(SPACE["weighting"]))}
        if s not in seen:
            seen.append(s)
            yield s


def work(settings: dict[str, Any]) -> float:
    """Units of ALS work of one fit (for the time estimate)."""
    return settings["max_itter"] * (1.0 + settings["als_rank"] / 32.0)


class Search:
    def __init__(self, fit_score: Callable[[dict[str, Any]], Any], hp: dict[str, Any],
                 score_of: Callable[[Any], tuple[float, dict[str, float]]], clock: Callable[[], float]):
        self.fit_score, self.hp, self.score_of, self.clock = fit_score, hp, score_of, clock
        self.started = clock()
        self.tuning = Tuning(float(hp["tune_budget_seconds"]))
        self.rates: list[float] = []

    def elapsed(self) -> float:
        return self.clock() - self.started

    def estimate(self, settings: dict[str, Any]) -> float:
        """Seconds the fit of `settings` should take: the median seconds per unit of work of the recent
        fits (the first, which warms the JVM up, left out once there are others), with a margin."""
        if not self.rates:
            return 0.0
        rates = self.rates[1:] if len(self.rates) > 1 else self.rates
        return float(np.median(rates[-RECENT:])) * work(settings) * MARGIN

    def fits(self, settings: dict[str, Any], limit: float) -> bool:
        """Can a fit of `settings` start and end within `limit` seconds from the start?"""
        return not self.tuning.trials or self.elapsed() + self.estimate(settings) <= limit

    def run(self, settings: dict[str, Any], seed: int, stage: str) -> Trial:
        t0 = self.clock()
        result = self.fit_score({**self.hp, **settings, "seed": seed})
        seconds = self.clock() - t0
        self.rates.append(seconds / work(settings))
        score, metrics = self.score_of(result)
        trial = Trial(len(self.tuning.trials) + 1, settings, seed, stage, score, metrics, seconds, result)
        self.tuning.trials.append(trial)
        log.info("metric: tune.trial_%d.ndcg_at_%d=%.6f (%s; seed %d, %s, %.1f s)", trial.number,
                 self.hp["eval_k"], score, describe(settings), seed, stage, seconds)
        return trial


def describe(s: dict[str, Any]) -> str:
    return (f"rank {s['als_rank']}, {s['max_itter']} iterations, reg_param {s['reg_param']:g}, "
            f"alpha {s['alpha']:g}, weighting {s['weighting']}")


def search(fit_score: Callable[[dict[str, Any]], Any], hp: dict[str, Any],
           score_of: Callable[[Any], tuple[float, dict[str, float]]],
           clock: Callable[[], float] = time.monotonic,
           terms_of: Callable[[Any], np.ndarray] | None = None) -> Tuning:
    """Run the search; `fit_score(hp)` fits and scores one setting, `score_of(result)` gives its
    (NDCG@K, metrics), `terms_of(result)` its NDCG per test customer (for the noise guard).
    Returns every trial and the chosen setting."""
    s = Search(fit_score, hp, score_of, clock)
    budget, tuning = s.tuning.budget_seconds, s.tuning
    seed = int(hp["seed"])
    rng = np.random.default_rng(seed)
    log.info("tune: searching %s within %.0f s (at most %d settings)", ", ".join(TUNED), budget, hp["tune_trials"])
    scores: dict[int, list[float]] = {}
    settings: list[dict[str, Any]] = []
    explore = "tune_trials"
    for cand in candidates(hp, rng):
        if len(settings) >= hp["tune_trials"]:
            break
        # the second fit may use the whole budget: until it ends, the only estimate is the warm-up fit's
        if not s.fits(cand, budget * EXPLORE_SHARE if len(settings) != 1 else budget):
            explore = "budget"
            break
        trial = s.run(cand, seed, "explore")
        settings.append(cand)
        scores[len(settings) - 1] = [trial.score]
    alive = list(range(len(settings)))
    confirm = "one setting left"
    round_ = 1
    while len(alive) > 1:
        ranked = sorted(alive, key=lambda i: (-float(np.mean(scores[i])), i))
        alive = ranked[:max(1, math.ceil(len(ranked) * KEEP))] if len(ranked) > 3 else ranked[:max(1, len(ranked) - 1)]
        done = []
        for i in alive:
            if not s.fits(settings[i], budget):
                break
            scores[i].append(s.run(settings[i], seed + round_, f"confirm {round_}").score)
            done.append(i)
        if len(done) < len(alive):
            alive = done or alive
            confirm = "budget"
            break
        round_ += 1
    most = max(len(v) for v in scores.values())
    best = min((i for i in scores if len(scores[i]) == most), key=lambda i: (-float(np.mean(scores[i])), i))
    tuning.best = settings[best]
    if best != 0 and terms_of is not None:
        best = guard(tuning, settings, best, terms_of, hp["eval_k"])
    tuning.chosen = settings[best]
    tuning.chosen_score = float(np.mean(scores[best]))
    tuning.chosen_results = [t.result for t in tuning.trials if t.settings == settings[best]]
    tuning.seconds = s.elapsed()
    tuning.stopped = f"explore: {explore}; confirm: {confirm}"
    for t in tuning.trials:
        t.result = None if t.settings != settings[best] else t.result
    most = len(tuning.chosen_results)
    log.info("metric: tune.chosen.ndcg_at_%d=%.6f (mean of %d fits)", hp["eval_k"], tuning.chosen_score, most)
    log.info("tune: chose %s (mean NDCG@%d %.4f over %d seed(s); the given setting: %.4f) after %d trials "
             "in %.0f s of %.0f s (%s)", describe(tuning.chosen), hp["eval_k"], tuning.chosen_score,
             most, float(np.mean(scores[0])), len(tuning.trials), tuning.seconds, budget, tuning.stopped)
    return tuning


def guard(tuning: Tuning, settings: list[dict[str, Any]], best: int, terms_of: Callable[[Any], np.ndarray],
          k: int) -> int:
    """Keep the given setting (index 0) unless `best` beats it beyond the held-out data's noise: the
    lower bound of a bootstrap interval (GUARD_LEVEL, over test customers) of the per-customer NDCG@K
    difference, each side averaged over its fits, must be above 0. Returns the index to fit."""
    def mean_terms(i: int) -> np.ndarray:
        return np.mean([terms_of(t.result) for t in tuning.trials if t.settings == settings[i]], axis=0)

    diff = mean_terms(best) - mean_terms(0)
    lo, hi = bootstrap_ci(diff, level=GUARD_LEVEL)
    keep = not lo > 0.0
    tuning.guard = {"difference": float(diff.mean()), f"ci{int(GUARD_LEVEL * 100)}": [lo, hi],
                    "test_customers": int(len(diff)), "kept_given_setting": keep}
    if keep:
        log.warning("tune: the best setting found (%s) beats the given one by %+.4f NDCG@%d on the held-out data, "
                    "within its noise (%d%% interval %+.4f..%+.4f over %d test customers): keeping the given "
                    "setting; hold out more data to let tune tell them apart", describe(settings[best]),
                    float(diff.mean()), k, int(GUARD_LEVEL * 100), lo, hi, len(diff))
        return 0
    return best
