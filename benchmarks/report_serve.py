"""RESULTS.md sections for issue 27's serving measurements: the request-path goals (serve_goals.py, run by
serve_load.py), where a request's time goes (serve_profile.py), start-up (serve_startup.py) and multi-model
endpoints (serve_mme.py); and their goal rows. `benchmarks.report` calls these."""
from __future__ import annotations

from typing import Any


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def _status(s: str) -> str:
    return f"**{s}**"


def _loads(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f}" if values else "?"


# ----------------------------------------------------------------------------- request path goals
def request_path_rows(s: dict[str, Any]) -> list[list[Any]]:
    """Goal rows from serve_load.json's `goal_runs` (repeated runs at concurrency 16)."""
    g = s.get("goal_runs")
    if not g:
        return []
    sv, b = g["single_vs_stack"], g["batch100"]
    where = (f"c={g['concurrency']}, {g['repeats']} × {g['duration_seconds']:g} s runs, load {_loads(g['loadavg'])}, "
             f"commit `{g['commit']}`")
    return [
        [f"serving: single-customer /invocations ≥ {sv['target_min']:.0%} of /execution-parameters (no-op through "
         "the same stack)", f"{sv['mean']:.0%} (95% CI {sv['ci95'][0]:.0%}–{sv['ci95'][1]:.0%}; {where})",
         f"{(sv['mean'] - sv['target_min']) * 100:+.0f} pts", _status(sv["status"])],
        [f"serving: 100-customer requests ≥ {b['target_min']:,.0f} customers/s (2 cores)",
         f"{b['mean']:,} customers/s (95% CI {b['ci95'][0]:,}–{b['ci95'][1]:,}; {where})",
         f"{b['mean'] - b['target_min']:+,.0f}", _status(b["status"])],
    ]


def request_path_section(s: dict[str, Any]) -> str:
    g = s.get("goal_runs")
    if not g:
        return ""
    rows = [[name, " / ".join(f"{r['rps']:.0f}" for r in runs), " / ".join(f"{r['p99_ms']:.1f}" for r in runs),
             _loads([r["loadavg_before"][0] for r in runs])] for name, runs in g["runs"].items()]
    sv, b = g["single_vs_stack"], g["batch100"]
    return ("\n### Request-path goals (repeated runs)\n\n"
            f"{g['repeats']} runs of {g['duration_seconds']:g} s each at concurrency {g['concurrency']} with the "
            "shipped defaults, stack and single alternating which goes first; the ratio is taken per pair of "
            f"runs and the interval is Student's t over the pairs. Commit `{g['commit']}`.\n\n"
            + _table(["scenario", "req/s per run", "p99 ms per run", "load (1-min avg)"], rows)
            + f"\n\nsingle / stack per pair: {', '.join(f'{x:.2f}' for x in sv['ratios'])}; 100-customer requests: "
            f"{', '.join(f'{x:,}' for x in b['customers_per_s'])} customers/s.\n")


# ----------------------------------------------------------------------------- profile
def profile_section(p: dict[str, Any] | None) -> str:
    if not p:
        return ("\n### Where a request's time goes\n\nNot measured yet: `make bench-serve` "
                "(benchmarks/serve_profile.py).\n")
    out = ["\n### Where a request's time goes\n",
           f"One gunicorn sync worker (the shipped options) serving the sample model, driven by wrk at concurrency "
           f"{p['concurrency']} for {p['duration_seconds']:g} s per scenario, profiled with cProfile on the "
           "worker's CPU clock (thread_time: time other processes take is not counted; cProfile itself roughly "
           "triples the totals, so read the shares). CPU per request by process is measured separately, from "
           "/proc, through the full nginx → gunicorn stack with the default workers and no profiler.\n"]
    for label, run in p["runs"].items():
        out.append(f"\n**{label}** (commit `{run['commit']}`, load {_loads(run['loadavg'])}): CPU µs per request "
                   "through the stack — " + ", ".join(f"{k} {v}" for k, v in run["cpu_us_per_request"].items())
                   + "\n")
        rows = []
        for scn, prof in run["profile"].items():
            stages = ", ".join(f"{k} {v:.0%}" for k, v in prof["stages"].items() if v >= 0.01)
            rows.append([scn, f"{prof['us_per_request']:.0f}", stages])
        out.append(_table(["scenario", "profiled µs / request (worker)", "share of the worker's time by stage"],
                          rows))
        top = run["profile"].get("single", {}).get("top", [])
        if top:
            out.append("\nTop functions by own time, `single`: " + "; ".join(
                f"{t['function']} {t['share']:.0%}" for t in top[:10]) + ".\n")
    return "\n".join(out) + "\n"


def limits_text(p: dict[str, Any] | None) -> str:
    """What the worker profile says limits the single-customer ratio (for "What limits the goals not met")."""
    run = (p or {}).get("runs", {}).get("this checkout")
    if not run:
        return ""
    cpu, prof = run["cpu_us_per_request"], run["profile"]
    gunicorn = prof["stack"]["stages"].get("gunicorn: HTTP parsing, sockets", 0)
    shares = ", ".join(f"{k} {v:.0%}" for k, v in prof["single"]["stages"].items() if v >= 0.03)
    return (f"CPU per request through the stack (commit `{run['commit']}`): {cpu['stack']} µs for the no-op, "
            f"{cpu['single']} µs for one customer; the no-op's time is {gunicorn:.0%} gunicorn's own HTTP handling in "
            f"Python. A single-customer request's worker time goes to: {shares}. To reach the ratio the whole "
            f"request would have to cost at most {cpu['stack'] / 0.85 - cpu['stack']:.0f} µs more than the no-op")


# ----------------------------------------------------------------------------- start-up
def startup_section(st: dict[str, Any] | None) -> tuple[str, list[list[Any]]]:
    if not st:
        return ("\n## 3b. Start-up (serverless-ready)\n\nNot measured yet: `make bench-serve` "
                "(benchmarks/serve_startup.py, needs Docker).\n"), []
    rows, goals = [], []
    for r in st["runs"]:
        rows.append([r["model"], r["settings"], " / ".join(f"{x:.2f}" for x in r["first_ping_s"]),
                     " / ".join(f"{x:.2f}" for x in r["first_answer_s"]),
                     " / ".join(f"{x:.2f}" for x in r["model_load_s"]), f"{r['peak_working_set_mb']:.0f}",
                     f"{r['peak_anon_mb']:.0f}", _loads(r["loadavg"])])
    text = ("\n## 3b. Start-up (serverless-ready)\n\n"
            f"`docker run` of the image (commit `{st['commit']}`) with the model mounted at /opt/ml/model, timed from "
            "the `docker run` call to the first `/ping` 200 and to the first answered `/invocations` (polled every "
            "20 ms), and the model load as the server logs it; peak memory from the container's cgroup (working "
            f"set = usage minus inactive file cache, as `docker stats`). {st['repeats']} starts each.\n\n"
            + _table(["model", "settings", "first /ping 200 s", "first answer s", "model load s",
                      "peak working set MB", "peak anonymous MB", "load"], rows) + "\n")
    for g in st["goals"]:
        goals.append([g["goal"], g["measured"], g["distance"], _status(g["status"])])
    return text, goals


# ----------------------------------------------------------------------------- multi-model endpoints
def mme_section(m: dict[str, Any] | None) -> tuple[str, list[list[Any]]]:
    if not m:
        return ("\n## 3c. Multi-model endpoints\n\nNot measured yet: `make bench-serve` "
                "(benchmarks/serve_mme.py, needs Docker).\n"), []
    ld, inv, mem = m["load"], m["invoke"], m["memory"]
    text = ("\n## 3c. Multi-model endpoints\n\n"
            f"The image (commit `{m['commit']}`) with `SAGEMAKER_MULTI_MODEL=true`, `--memory {m['memory_limit']}`, "
            f"{m['workers']} workers; {m['models']} copies of the sample model ({m['model_mb']:.1f} MB on disk "
            "each, real copies: no shared pages) under /opt/ml/models as SageMaker lays them out. Load average "
            f"{_loads(m['loadavg'])}.\n\n"
            + _table(["measure", "value"], [
                ["POST /models (validate, measure, register) per model",
                 f"median {ld['p50_ms']:.0f} ms, p95 {ld['p95_ms']:.0f} ms, max {ld['max_ms']:.0f} ms "
                 f"({ld['clients']} clients)"],
                ["invoke with all models in rotation (random order)",
                 f"{inv['requests']} requests from {inv['clients']} clients: {inv['rps']:.0f} req/s, p50 "
                 f"{inv['p50_ms']:.1f} ms, **p99 {inv['p99_ms']:.1f} ms**, non-200 {inv['non_200']}"],
                ["container memory, no model loaded", f"{mem['idle_mb']:.0f} MB working set"],
                ["… all models loaded and invoked", f"{mem['loaded_mb']:.0f} MB working set "
                 f"({mem['per_model_mb']:.2f} MB per model)"],
                ["models per GiB of container memory", f"**{mem['models_per_gib']:.0f}**"],
                ["per-worker attached-model cache", f"{m['cache']}"],
            ]) + "\n")
    return text, [[g["goal"], g["measured"], g["distance"], _status(g["status"])] for g in m.get("goals", [])]
