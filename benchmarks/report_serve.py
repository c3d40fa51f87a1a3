"""RESULTS.md section 3, serving: under load (serve_load.py), the request-path goals (serve_goals.py, run by
serve_load.py), where a request's time goes (serve_profile.py), start-up (serve_startup.py) and multi-model
endpoints (serve_mme.py); and their goal rows. `benchmarks.report` calls these."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .report_format import fmt, ok, plt, table


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
            + table(["scenario", "req/s per run", "p99 ms per run", "load (1-min avg)"], rows)
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
        out.append(table(["scenario", "profiled µs / request (worker)", "share of the worker's time by stage"],
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
            + table(["model", "settings", "first /ping 200 s", "first answer s", "model load s",
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
            + table(["measure", "value"], [
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


# ----------------------------------------------------------------------------- under load (serve_load.py)
def serve_section(s: dict[str, Any] | None, plots: Path, rel: str) -> tuple[str, list[list[Any]]]:
    if s is None:
        return "## 3. Serving under load\n\nNot measured yet: `make bench-serve`.\n", []
    out = ["## 3. Serving under load\n",
           f"`serve` (nginx → gunicorn, {s['workers']} {s.get('worker_class', 'sync')} workers = the default for this "
           "machine) on "
           f"127.0.0.1, model: {s['models']['sample']['source']} ({s['models']['sample'].get('customers')} customers, "
           f"{s['models']['sample'].get('products')} products). Load generator: {s['load_tool']} in another process "
           f"on the same 2 cores (it competes with the server), {s['duration_seconds']:g} s per point after a "
           "warm-up. Scenarios: `ping` = GET /ping (answered by nginx from the health file the supervisor "
           "writes once the loaded model said 200: it never waits for a Python worker), `stack` = GET "
           "/execution-parameters (a no-op through nginx → gunicorn → the app: the stack's ceiling), `single` = "
           "`{\"customer_id\": …, \"k\": 10}`, `batch100` = 100 `customer_ids` per request, `rules` = one "
           "customer with `exclude_popular: 10, include_new: 2`. non-2xx counts every response status outside "
           "2xx plus socket errors.\n"]
    rows = []
    for scn, rs in s["load"].items():
        for r in rs:
            rows.append([scn, r["concurrency"], f"{r['rps']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p90_ms']:.2f}",
                         f"{r['p99_ms']:.2f}", r["non_2xx"] + r["socket_errors"], r["requests"],
                         r["loadavg_before"][0]])
    out.append(table(["scenario", "concurrency", "req/s", "p50 ms", "p90 ms", "p99 ms", "non-2xx", "requests",
                       "load"], rows))
    out.append("\n(`batch100` req/s × 100 = customers/s.)\n")
    sv = s.get("similar_vs_single")
    if sv and sv.get("similar_rps"):
        out.append(f"\nSimilar products (`{{\"item_id\": …, \"k\": 10}}`) next to single customers at concurrency "
                   f"{sv['concurrency']}: {sv['similar_rps']:.0f} vs {sv['single_rps']:.0f} req/s, p99 "
                   f"{sv['similar_p99_ms']:.2f} vs {sv['single_p99_ms']:.2f} ms.\n")
    mx = s.get("mixed")
    if mx:
        b, sg, pg = mx["big_requests"], mx["single"], mx["ping"]
        out.append(f"\n### /ping under mixed load\n\n{b['clients']} clients posting, back to back, "
                   f"{b['customers']:,} customers × k={b['k']} per request ({b['completed']} done, median "
                   f"{b['p50_s']} s, max {b['max_s']} s, non-200: {b['non_200']}) while {mx['load_tool']} sends "
                   f"single-customer requests at concurrency {sg['concurrency']} ({fmt(sg['rps'], 0)} req/s, p99 "
                   f"{fmt(sg['p99_ms'], 1)} ms) and one prober sends GET /ping every 20 ms for "
                   f"{mx['duration_seconds']:g} s: {pg['probes']} probes, p50 {pg['p50_ms']} ms, **p99 "
                   f"{pg['p99_ms']} ms**, max {pg['max_ms']} ms, failed {pg['failed']}.\n")
    pyplot = plt()
    fig, ax = pyplot.subplots(1, 2, figsize=(11, 4))
    for scn, rs in s["load"].items():
        cs = [r["concurrency"] for r in rs]
        ax[0].plot(cs, [r["rps"] for r in rs], marker="o", label=scn)
        ax[1].plot(cs, [r["p99_ms"] for r in rs], marker="o", label=scn)
    p99_line = s["goals"]["p99_ms_at_16"].get("target_max", 20.0)
    ax[1].axhline(p99_line, ls="--", lw=1, color="grey")
    for a, title, yl in ((ax[0], "throughput", "requests/s"),
                         (ax[1], f"p99 latency (dashed: {p99_line:g} ms goal)", "ms")):
        a.set_xscale("log", base=2)
        cs = sorted({r["concurrency"] for rs in s["load"].values() for r in rs})
        a.set_xticks(cs)
        a.set_xticklabels([str(c) for c in cs])
        a.set_xlabel("concurrent connections")
        a.set_ylabel(yl)
        a.set_title(title)
        a.legend(fontsize=8)
    ax[1].set_yscale("log")
    fig.tight_layout()
    fig.savefig(plots / "serve_load.png", dpi=110)
    pyplot.close(fig)
    out.append(f"\n![serving throughput and latency]({rel}/serve_load.png)\n")
    out.append("\n### Memory with N workers\n\nRSS counts shared pages in every process; PSS divides each shared "
               "page among the processes mapping it, so the PSS total is what the server really costs. Measured "
               "after requests reached every worker.\n")
    mrows = []
    for m in s["memory"]:
        workers = [p for p in m["processes"] if p["role"] == "gunicorn"]
        mrows.append([m["model"], m["model_mb"], m["workers"], f"{m['total_rss_mb']:.0f}", f"{m['total_pss_mb']:.0f}",
                      f"{m['gunicorn_pss_mb']:.0f}",
                      " / ".join(f"{p['pss_mb']:.0f}" for p in workers),
                      " / ".join(f"{p['private_mb']:.0f}" for p in workers)])
    out.append(table(["model", "model on disk MB", "workers", "total RSS MB", "total PSS MB", "gunicorn PSS MB",
                       "PSS per gunicorn process (master first)", "private MB per gunicorn process"], mrows))
    out.append("\nModels: " + "; ".join(f"{k}: {v['source']}, {v.get('model_mb')} MB" for k, v in s["models"].items())
               + ".\n")
    out.append("\n### In-process scoring (Recommender directly, no HTTP)\n")
    irows = [[f"{r['products']:,}", f"{r['customers']:,}", r["rank"], r["one_customer_ms"]["median"],
              r["one_customer_ms"]["p99"], r["batch_1000_ms"]["median"], r["batch_per_customer_ms"]]
             for r in s["in_process"]]
    out.append(table(["products", "customers", "rank", "one customer median ms", "one customer p99 ms",
                       "batch of 1,000 median ms", "ms per customer in the batch"], irows))
    g = s["goals"]
    out.append(request_path_section(s))
    p99_goal = g["p99_ms_at_16"].get("target_max", 20.0)
    goal_rows = request_path_rows(s)
    if "single_vs_stack" in g or "single_vs_ping" in g:  # results written before the repeated runs
        sv, what = _vs_ceiling(g)
        ceiling_goal = sv.get("target_min", 0.85)
        goal_rows.append([f"serving: single-customer req/s ≥ {ceiling_goal:.0%} of {what}",
                          f"{sv['measured'] * 100:.0f}% ({sv['single_rps']:.0f} vs "
                          f"{sv.get('stack_rps', sv['ping_rps']):.0f} req/s, best of each)",
                          f"{(sv['measured'] - ceiling_goal) * 100:+.0f} pts", ok(sv["met"])])
    goal_rows += [
        [f"serving: p99 < {p99_goal:g} ms at concurrency 16 (single)", f"{fmt(g['p99_ms_at_16']['measured'], 2)} ms",
         f"{(g['p99_ms_at_16']['measured'] or 0) - p99_goal:+.1f} ms" if g["p99_ms_at_16"]["measured"] else "–",
         ok(g["p99_ms_at_16"]["met"], g["p99_ms_at_16"]["measured"])],
        ["serving: zero non-2xx under load", str(g["non_2xx"]["measured"]), "", ok(g["non_2xx"]["met"])],
    ]
    if "ping_p99_ms_mixed" in g:
        pm = g["ping_p99_ms_mixed"]
        goal_rows.append([f"serving: /ping p99 < {pm['target_max']:g} ms under mixed load", f"{pm['measured']} ms",
                          f"{pm['measured'] - pm['target_max']:+.1f} ms", ok(pm["met"])])
    return "\n".join(out), goal_rows


def _vs_ceiling(goals: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The throughput goal and what it compares with (runs before /ping moved to nginx compared with /ping)."""
    if "single_vs_stack" in goals:
        return goals["single_vs_stack"], "a no-op request through the stack (/execution-parameters)"
    return goals["single_vs_ping"], "/ping"
