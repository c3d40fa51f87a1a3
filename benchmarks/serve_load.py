"""Serving under load: the real `serve` (nginx -> gunicorn -> Flask) driven by `wrk`.

    python -m benchmarks.serve_load [--smoke] [--duration 8] [--concurrency 1,4,16,64]

- The model comes from the real `train` on the bundled sample (`eval_days=0`).
- `serve` runs as a subprocess on a free 127.0.0.1 port with its default worker count;
  `wrk` (another process, Lua script for POST bodies) measures requests/s and p50/p90/p99
  latency at each concurrency for: GET /ping (answered by nginx from the supervisor's health
  file), GET /execution-parameters (a no-op through nginx -> gunicorn -> the app: the ceiling of
  the stack, which single-customer requests are compared with), one customer per
  request, 100 customers per request, one customer with rules on, the products similar to one
  product (`item_id`, k=10; reported next to `single` at c=16). Every response's status is
  counted in Lua: anything outside 2xx is reported. Without wrk a small Python load loop is
  used (and the result says so).
- Memory: RSS and PSS (/proc/PID/smaps_rollup) of every process of `serve` with 1, 2 and 4
  workers, after warm-up, for the sample model and for a larger synthetic model, to show the
  memory-mapped model is shared rather than copied per worker.
- Mixed load (serve_mixed.py): /ping latency while big batch requests and single-customer traffic run.
- In-process scoring cost (Recommender directly, no HTTP) for one customer and for a batch of
  1,000, at 4k and at 100k products (synthetic factors written with alsreco.core.artifact.write_model).
"""
from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from alsreco.core.settings import Settings
from alsreco.serve.gunicorn import worker_class

from . import common
from .common import say
from .loadkit import Serve, bodies, model_dir_bytes, python_point, synthetic_model, touch_workers, wrk_point
from .serve_goals import measure as measure_goals
from .serve_mixed import mixed_load

CONCURRENCY = (1, 4, 16, 64)
GOALS = {"p99_ms_at_16_max": 10.0, "non_2xx": 0}  # issue 10's; issue 27's: serve_goals.py


def load_test(serve: Serve, customer_ids: list[str], concurrency: list[int], duration: float,
              tmp: Path, product_ids: list[str] | None = None) -> dict[str, Any]:
    use_wrk = shutil.which("wrk") is not None
    scenarios = {"ping": ("GET", "/ping", [""]), "stack": ("GET", "/execution-parameters", [""]),
                 "single": ("POST", "/invocations", bodies(customer_ids, "single")),
                 "batch100": ("POST", "/invocations", bodies(customer_ids, "batch100", n=32)),
                 "rules": ("POST", "/invocations", bodies(customer_ids, "rules"))}
    if product_ids:
        scenarios["similar"] = ("POST", "/invocations", bodies(product_ids, "similar"))
    out: dict[str, Any] = {}
    for name, (method, path, docs) in scenarios.items():
        # warm-up: every worker has touched the model and the code paths
        (wrk_point if use_wrk else lambda *a: python_point(*a[:-1]))(
            serve.url, path, method, docs, max(concurrency), min(2.0, duration), tmp)
        out[name] = []
        for c in concurrency:
            load = common.loadavg()
            r = (wrk_point(serve.url, path, method, docs, c, duration, tmp) if use_wrk
                 else python_point(serve.url, path, method, docs, c, duration))
            r.update(concurrency=c, loadavg_before=load)
            out[name].append(r)
            say(f"  {name:8s} c={c:<3d} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
                f"non-2xx {r['non_2xx']}  errors {r['socket_errors']}  load {load[0]}")
    return out


# ----------------------------------------------------------------------------- in-process
def in_process(products_list: list[int], customers: int, rank: int, tmp: Path, repeats: int) -> list[dict[str, Any]]:
    """With one BLAS thread, as in a serving worker (alsreco.serve.gunicorn.worker_env)."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        return _in_process(products_list, customers, rank, tmp, repeats)


def _in_process(products_list: list[int], customers: int, rank: int, tmp: Path, repeats: int) -> list[dict[str, Any]]:
    from alsreco.core.artifact import load_model, write_model
    from alsreco.core.recommender import Recommender
    from alsreco.core.rules import Request
    out = []
    for products in products_list:
        d = tmp / f"synthetic-{customers}x{products}"
        write_model(synthetic_model(customers, products, rank), d)
        rec = Recommender(load_model(d, mmap=True))
        ids = [str(x) for x in rec.model.customer_ids[:customers]]
        rng = random.Random(1)
        for _ in range(5):
            rec.recommend(Request(customer_id=rng.choice(ids), k=10))
        one = []
        for _ in range(repeats * 20):
            cid = rng.choice(ids)
            t = time.perf_counter()
            rec.recommend(Request(customer_id=cid, k=10))
            one.append(time.perf_counter() - t)
        batch = []
        for _ in range(repeats):
            reqs = [Request(customer_id=c, k=10) for c in rng.sample(ids, min(1000, len(ids)))]
            t = time.perf_counter()
            rec.recommend_many(reqs)
            batch.append(time.perf_counter() - t)
        out.append({"products": products, "customers": customers, "rank": rank,
                    "one_customer_ms": {"median": round(float(np.median(one)) * 1000, 3),
                                        "p99": round(float(np.percentile(one, 99)) * 1000, 3)},
                    "batch_1000_ms": {"median": round(float(np.median(batch)) * 1000, 2),
                                      "min": round(float(np.min(batch)) * 1000, 2)},
                    "batch_per_customer_ms": round(float(np.median(batch)) * 1000 / min(1000, len(ids)), 4),
                    "loadavg": common.loadavg()})
        say(f"  in-process {products:>7,} products: one {out[-1]['one_customer_ms']['median']:.2f} ms, "
            f"batch of 1000 {out[-1]['batch_1000_ms']['median']:.1f} ms")
    return out


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = common.arg_parser(__doc__)
    ap.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_SERVE_SECONDS", "8")))
    ap.add_argument("--concurrency", default=",".join(map(str, CONCURRENCY)))
    args = ap.parse_args(argv)
    smoke = args.smoke
    concurrency = [1, 4] if smoke else [int(c) for c in args.concurrency.split(",")]
    duration = 1.0 if smoke else args.duration
    started = time.monotonic()
    work = args.work / ("serve-smoke" if smoke else "serve")
    work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-", dir=work))
    rank = int(common.hp_defaults()["als_rank"])
    from alsreco.core.artifact import load_model, write_model

    models: dict[str, Path] = {}
    model_info: dict[str, Any] = {}
    base = work / "sample"
    if smoke:  # a small synthetic model: the train path is covered by the other smoke runs
        write_model(synthetic_model(500, 300, rank), base / "model")
        model_info["sample"] = {"source": "synthetic 500 customers x 300 products (smoke)"}
    else:
        common.make_opt_ml(base, [common.SAMPLE_CSV], {"eval_days": 0})
        say("training the sample model with `train` ...")
        res = common.run_train(base)
        model_info["sample"] = {"source": "train on the bundled sample (eval_days=0)",
                                "train_wall_seconds": res["wall_seconds"]}
    models["sample"] = base / "model"
    big = (2000, 1000) if smoke else (1_000_000, 50_000)
    big_base = work / "large"
    write_model(synthetic_model(*big, rank), big_base / "model")
    models["large"] = big_base / "model"
    model_info["large"] = {"source": f"synthetic {big[0]:,} customers x {big[1]:,} products, rank {rank}, "
                                     "10 purchases each (alsreco.core.artifact.write_model)"}
    for name, path in models.items():
        m = load_model(path)
        model_info[name].update(customers=len(m.customer_ids), products=len(m.product_ids),
                                model_mb=round(model_dir_bytes(path) / common.MB, 1))

    # --- load on the sample model, default workers -------------------------------------
    customer_ids = [str(x) for x in load_model(models["sample"]).customer_ids]
    product_ids = [str(x) for x in load_model(models["sample"]).product_ids]
    say(f"serve (default workers) on the sample model; wrk: {shutil.which('wrk') or 'missing: Python load loop'}")
    srv = Serve(base)
    try:
        load = load_test(srv, customer_ids, concurrency, duration, tmp, product_ids)
        load_memory = srv.memory()
        say("mixed load: big batch requests + single customers, /ping probed ...")
        point = wrk_point if shutil.which("wrk") else (lambda *a: python_point(*a[:-1]))
        mixed = mixed_load(srv.url, customer_ids, bodies(customer_ids, "single"), point, tmp,
                           duration=duration, big_customers=300 if smoke else 3000)
        say(f"  /ping under mixed load: {mixed['ping']}; single {mixed['single']}; big {mixed['big_requests']}")
        say("goals: repeated runs at concurrency 16 ...")
        goal_runs = measure_goals(srv.url, {"single": bodies(customer_ids, "single"),
                                            "batch100": bodies(customer_ids, "batch100", n=32)},
                                  point, tmp, repeats=2 if smoke else 5, duration=duration if smoke else 5.0)
        workers = sum(1 for p in load_memory["processes"] if p["role"] == "gunicorn") - 1
    finally:
        srv.stop()

    # --- memory with N workers ----------------------------------------------------------
    memory = []
    for name, path in models.items():
        ids = [str(x) for x in load_model(path).customer_ids[:5000]]
        docs = bodies(ids, "single", n=64)
        for n in ([1, 2] if smoke else [1, 2, 4]):
            b = path.parent
            srv = Serve(b, workers=n)
            try:
                srv.wait_workers(n)
                touch_workers(srv.url, docs, n)
                mem = srv.memory()
            finally:
                srv.stop()
            memory.append({"model": name, "workers": n, "model_mb": model_info[name]["model_mb"], **mem})
            say(f"  memory {name} workers={n}: total RSS {mem['total_rss_mb']:.0f} MB, "
                f"PSS {mem['total_pss_mb']:.0f} MB")

    say("in-process scoring ...")
    scoring = in_process([300, 1000] if smoke else [4_000, 100_000], 2000 if smoke else 10_000, rank, tmp,
                         repeats=3 if smoke else 10)
    shutil.rmtree(tmp, ignore_errors=True)

    def at(scn: str, c: int) -> dict[str, Any] | None:
        return next((r for r in load.get(scn, []) if r["concurrency"] == c), None)

    p99_16 = (at("single", 16) or {}).get("p99_ms")
    c_cmp = 16 if at("similar", 16) else max(concurrency)
    similar_vs_single = {"concurrency": c_cmp, **{f"{scn}_{m}": (at(scn, c_cmp) or {}).get(m) for scn in
                                                  ("single", "similar") for m in ("rps", "p50_ms", "p99_ms")}}
    say(f"  similar products vs single customer at c={c_cmp}: {similar_vs_single}")
    non2xx = sum(r["non_2xx"] + r["socket_errors"] for rs in load.values() for r in rs)
    goals = {
        "p99_ms_at_16": {"target_max": GOALS["p99_ms_at_16_max"], "measured": p99_16,
                         "met": p99_16 is not None and p99_16 < GOALS["p99_ms_at_16_max"]},
        "non_2xx": {"target": 0, "measured": non2xx, "met": non2xx == 0},
        "ping_p99_ms_mixed": {"target_max": mixed["goal"]["ping_p99_ms_max"], "measured": mixed["ping"]["p99_ms"],
                              "met": mixed["goal"]["met"]},
    }
    settings = Settings.from_env()
    payload = {"smoke": smoke, "duration_seconds": duration, "concurrency": concurrency, "workers": workers,
               "worker_class": worker_class(settings), "threads": settings.threads,
               "load_tool": "wrk" if shutil.which("wrk") else "python", "models": model_info, "load": load,
               "load_memory": load_memory, "memory": memory, "in_process": scoring, "goals": goals,
               "similar_vs_single": similar_vs_single, "mixed": mixed, "goal_runs": goal_runs,
               "commit": common.git_commit(),
               "seconds": round(time.monotonic() - started, 1)}
    common.write_result(args.results, "serve_load-smoke" if smoke else "serve_load", payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
