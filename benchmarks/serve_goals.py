"""The request-path goals (issue 27), measured with repeats so each has a 95% interval:

- single-customer `/invocations` ≥ 85% of `/execution-parameters` (a no-op through the same nginx →
  gunicorn → app stack) at concurrency 16: `repeats` pairs of runs (stack, then single; the order
  alternates), the ratio of each pair, a t-interval over the pairs;
- a 100-customer request ≥ 10,000 customers/s: `repeats` runs at concurrency 16, a t-interval over them.

Both with the server's shipped defaults (workers, threads, the sample model trained with the shipped
hyperparameters). A goal is "met" when the whole interval clears it, "not met" when the whole interval
misses it, "within noise" otherwise.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import common

GOALS = {"single_vs_stack_min": 0.85, "batch100_customers_per_s_min": 10_000.0}
CONCURRENCY = 16


def ci95(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high): Student's t interval of the mean."""
    from scipy import stats

    a = np.asarray(values, dtype=float)
    mean = float(a.mean())
    if len(a) < 2:
        return mean, float("-inf"), float("inf")
    half = float(stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a)))
    return mean, mean - half, mean + half


def verdict_at_least(low: float, high: float, goal: float) -> str:
    return "met" if low >= goal else "not met" if high < goal else "within noise"


def measure(url: str, docs: dict[str, list[str]], point: Callable[..., dict[str, Any]], tmp: Path,
            repeats: int = 5, duration: float = 5.0) -> dict[str, Any]:
    """`docs`: request bodies for "single" and "batch100"; `point(url, path, method, docs, c, seconds, tmp)`
    is the load tool's runner (benchmarks/serve_load.py)."""
    runs: dict[str, list[dict[str, Any]]] = {"stack": [], "single": [], "batch100": []}
    plan = {"stack": ("GET", "/execution-parameters", [""]), "single": ("POST", "/invocations", docs["single"]),
            "batch100": ("POST", "/invocations", docs["batch100"])}
    for name, (method, path, bodies) in plan.items():  # warm-up: every worker has served each kind
        point(url, path, method, bodies, CONCURRENCY, min(2.0, duration), tmp)
    for r in range(repeats):
        order = ("stack", "single", "batch100") if r % 2 == 0 else ("single", "stack", "batch100")
        for name in order:
            method, path, bodies = plan[name]
            load = common.loadavg()
            got = point(url, path, method, bodies, CONCURRENCY, duration, tmp)
            runs[name].append({**got, "loadavg_before": load})
            common.say(f"  goal run {r + 1}/{repeats} {name:8s} {got['rps']:8.1f} req/s  p99 {got['p99_ms']:.2f} ms  "
                       f"non-2xx {got['non_2xx']}  load {load[0]}")
    ratios = [s["rps"] / t["rps"] for s, t in zip(runs["single"], runs["stack"])]
    mean, low, high = ci95(ratios)
    goal = GOALS["single_vs_stack_min"]
    customers = [r["rps"] * 100 for r in runs["batch100"]]
    cmean, clow, chigh = ci95(customers)
    cgoal = GOALS["batch100_customers_per_s_min"]
    return {
        "concurrency": CONCURRENCY, "repeats": repeats, "duration_seconds": duration, "commit": common.git_commit(),
        "loadavg": [r["loadavg_before"][0] for rs in runs.values() for r in rs],
        "runs": runs,
        "single_vs_stack": {"target_min": goal, "ratios": [round(x, 4) for x in ratios], "mean": round(mean, 4),
                            "ci95": [round(low, 4), round(high, 4)], "status": verdict_at_least(low, high, goal),
                            "single_rps": [r["rps"] for r in runs["single"]],
                            "stack_rps": [r["rps"] for r in runs["stack"]]},
        "batch100": {"target_min": cgoal, "customers_per_s": [round(x) for x in customers], "mean": round(cmean),
                     "ci95": [round(clow), round(chigh)], "status": verdict_at_least(clow, chigh, cgoal)},
        "non_2xx": sum(r["non_2xx"] + r["socket_errors"] for rs in runs.values() for r in rs),
    }
