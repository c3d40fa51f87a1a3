"""The events path through `make web`'s local chain: POST /events latency, and freshness.

    python -m benchmarks.events_live [--smoke] [--requests 2000] [--trials 600] [--concurrency 1,4]

The chain is api/local_storefront.py's, as the browser test runs it: the local API front (API
Gateway's stand-in) -> the real Lambda handler -> real boto3 -> moto (DynamoDB, Firehose into S3,
Secrets Manager; api/local_moto.py, one request at a time) and the real `serve` (sample model from
the real `train`, `eval_days=0`; a small synthetic model with --smoke). Everything shares the
machine's cores: the figures are this stand-in chain's, not AWS's.

* Events route: `--requests` POST /events (one `view` each; each client starts a new visit every
  VISIT_EVENTS events) at each concurrency, over keep-alive connections; p50 / p99 with 95%
  bootstrap intervals, throughput, non-2xx.
* Freshness: `--trials` new visits each send one `view` of a random product and then, at once, the
  next POST /recommendations with the visit's session_id; a trial counts when that very next list
  is the endpoint's own answer for the product (`{"items": [it]}`), which differs from the best
  sellers. Goal: the very next request reflects the event - "met" when the one-sided 95% lower
  bound of the fraction (exact binomial) is at least 99%. Also: ms from sending the event to
  having the changed list (both requests).
"""
from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests

from . import common
from .common import say

GOAL_FRESH = 0.99          # share of events the very next list reflects (lower confidence bound)
VISIT_EVENTS = 20          # events per visit in the latency runs (then the client starts a new one)
BOOTSTRAP = 1000


def percentile_ci(ms: list[float], q: float, seed: int = 0) -> dict[str, float]:
    """The q-th percentile of `ms` and a 95% bootstrap interval."""
    a = np.asarray(ms, dtype=float)
    rng = np.random.default_rng(seed)
    boots = np.percentile(rng.choice(a, size=(BOOTSTRAP, len(a)), replace=True), q, axis=1)
    return {"value": round(float(np.percentile(a, q)), 2), "ci95": [round(float(np.percentile(boots, 2.5)), 2),
                                                                    round(float(np.percentile(boots, 97.5)), 2)]}


def lower_bound(successes: int, n: int, alpha: float = 0.05) -> float:
    """One-sided exact (Clopper-Pearson) lower confidence bound of a binomial proportion."""
    if successes == 0:
        return 0.0
    if successes == n:
        return alpha ** (1 / n)
    from scipy.stats import beta
    return float(beta.ppf(alpha, successes, n - successes + 1))


def events_load(api: str, origin: str, products: list[str], requests_n: int, concurrency: int) -> dict[str, Any]:
    per, left = requests_n // concurrency, requests_n % concurrency
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        rng = random.Random(k)
        session, sid, mine, codes = requests.Session(), None, [], []
        for i in range(per + (1 if k < left else 0)):
            sid = None if i % VISIT_EVENTS == 0 else sid             # a new visit every VISIT_EVENTS events
            body = {"events": [{"type": "view", "product_id": rng.choice(products)}],
                    **({"session_id": sid} if sid else {})}
            t = time.perf_counter()
            resp = session.post(api + "/events", json=body, headers={"Origin": origin}, timeout=30)
            mine.append((time.perf_counter() - t) * 1000)
            codes.append(resp.status_code)
            sid = sid or (resp.json().get("session_id") if resp.ok else None)
        with lock:
            latencies.extend(mine)
            statuses.extend(codes)

    load = common.loadavg()
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"concurrency": concurrency, "requests": len(latencies), "rps": round(len(latencies) / wall, 1),
            "p50_ms": percentile_ci(latencies, 50), "p99_ms": percentile_ci(latencies, 99),
            "non_2xx": sum(1 for s in statuses if not 200 <= s < 300), "loadavg_before": load,
            "loadavg_after": common.loadavg()}


def freshness(api: str, serve_url: str, origin: str, products: list[str], trials: int) -> dict[str, Any]:
    rng = random.Random(7)
    best = _direct(serve_url, {"items": [], "k": 10})
    expected: dict[str, list[str]] = {}
    reflected, changed_ms, not_reflected = 0, [], []
    session = requests.Session()
    load = common.loadavg()
    for _ in range(trials):
        product = rng.choice(products)
        if product not in expected:
            expected[product] = _direct(serve_url, {"items": [product], "k": 10})
        t = time.perf_counter()
        sid = session.post(api + "/events", json={"events": [{"type": "view", "product_id": product}]},
                           headers={"Origin": origin}, timeout=30).json()["session_id"]
        listed = session.post(api + "/recommendations", json={"k": 10, "session_id": sid},
                              headers={"Origin": origin}, timeout=30).json()
        changed_ms.append((time.perf_counter() - t) * 1000)
        shown = [r["product_id"] for r in listed["recommendations"]]
        if shown == expected[product] and shown != best:
            reflected += 1
        else:
            not_reflected.append(product)
    bound = lower_bound(reflected, trials)
    return {"trials": trials, "reflected_by_next_request": reflected, "share": round(reflected / trials, 4),
            "lower_bound_95": round(bound, 4), "goal_min": GOAL_FRESH, "met": bound >= GOAL_FRESH,
            "event_to_changed_list_ms": {"p50": percentile_ci(changed_ms, 50), "p99": percentile_ci(changed_ms, 99)},
            "not_reflected_examples": not_reflected[:5], "loadavg_before": load, "loadavg_after": common.loadavg()}


def _direct(serve_url: str, body: dict[str, Any]) -> list[str]:
    resp = requests.post(serve_url + "/invocations", json=body, timeout=30)
    return [r["product_id"] for r in resp.json()["predictions"][0]["recommendations"]]


def main(argv: list[str] | None = None) -> int:
    ap = common.arg_parser(__doc__)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--trials", type=int, default=600)
    ap.add_argument("--concurrency", default="1,4")
    args = ap.parse_args(argv)
    smoke = args.smoke
    requests_n, trials = (60, 20) if smoke else (args.requests, args.trials)
    concurrency = [1, 4] if smoke else [int(c) for c in args.concurrency.split(",")]
    from alsreco.core.artifact import load_model, write_model
    from api.local_storefront import local_storefront

    from .loadkit import Serve, synthetic_model

    load_start = common.loadavg()
    base = args.work / ("events-smoke" if smoke else "events") / "sample"
    if smoke:
        write_model(synthetic_model(500, 300, int(common.hp_defaults()["als_rank"])), base / "model")
        source = "synthetic 500 customers x 300 products (smoke)"
    else:
        common.make_opt_ml(base, [common.SAMPLE_CSV], {"eval_days": 0})
        say("training the sample model with `train` ...")
        common.run_train(base)
        source = "train on the bundled sample (eval_days=0)"
    model = load_model(base / "model")
    products = [str(p) for p in model.product_ids]
    srv = Serve(base)
    try:
        with local_storefront(base / "model", srv.url, log_dir=Path(base)) as shop:
            origin = shop.page_url.rstrip("/")
            for c in concurrency:                       # warm-up: connections, moto tables, first imports
                events_load(shop.api_url, origin, products, 4 * c, c)
            runs = []
            for c in concurrency:
                say(f"POST /events: {requests_n} requests at concurrency {c} ...")
                runs.append(events_load(shop.api_url, origin, products, requests_n, c))
                say(f"  p50 {runs[-1]['p50_ms']['value']} ms, p99 {runs[-1]['p99_ms']['value']} ms, "
                    f"{runs[-1]['rps']} req/s, non-2xx {runs[-1]['non_2xx']}")
            say(f"freshness: {trials} visits, one event then the next list ...")
            fresh = freshness(shop.api_url, srv.url, origin, products, trials)
            say(f"  {fresh['reflected_by_next_request']}/{trials} reflected by the very next request "
                f"(lower bound {fresh['lower_bound_95']})")
    finally:
        srv.stop()
    common.write_result(args.results, "events_live-smoke" if smoke else "events_live", {
        "smoke": smoke, "model": {"source": source, "customers": len(model.customer_ids), "products": len(products)},
        "chain": "local API front -> real handler -> moto (DynamoDB, Firehose, S3, Secrets Manager) and real serve",
        "events_route": runs, "freshness": fresh, "loadavg_start": load_start, "loadavg_end": common.loadavg()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
