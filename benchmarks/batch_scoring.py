"""Batch scoring at the matmul bound: the new `recommendations.csv` writer against the floor.

Random float32 factors (default 255k customers x 100k products, rank 16) and ~10 random
purchases per customer. Timed, over the same cell-bounded customer blocks:

  (a) floor    plain numpy: float32 matmul + `argpartition` top-k per block, nothing kept; timed with
               the default BLAS threads and with one (OpenBLAS's threads on a rank-16 product can cost
               more than they give), the faster of the two is the floor (the stricter goal)
  (b) batch    `alsreco.train.batch.write_recommendations` end to end (Recommender set-up,
               default rules, masking, top-k, CSV text, temp file + rename)
  (c) scoring  (b) without the CSV: `Recommender.ranker(...).rank` over every block

Goal: (b) <= 3 x (a). Prints one JSON line and writes <results>/batch_scoring.json.

    .venv/bin/python -m benchmarks.batch_scoring            # full size (a few minutes)
    .venv/bin/python -m benchmarks.batch_scoring --smoke    # seconds
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from alsreco.core import hyperparameters
from alsreco.core.artifact import Model, Purchases
from alsreco.core.recommender import Recommender
from alsreco.core.scoring import BLOCK_CELLS
from alsreco.train import batch
from benchmarks import common


def make_model(customers: int, products: int, rank: int, per_customer: float, seed: int = 0,
               **hp_overrides) -> Model:
    rng = np.random.default_rng(seed)
    users = (rng.standard_normal((customers, rank), dtype=np.float32) * 0.3).astype(np.float32)
    items = (rng.standard_normal((products, rank), dtype=np.float32) * 0.3).astype(np.float32)
    counts = rng.poisson(per_customer, customers)
    rows = np.repeat(np.arange(customers, dtype=np.int64), counts)
    cols = rng.integers(0, products, len(rows))
    keep = np.unique(rows * products + cols)  # one rating per (customer, product)
    rows, cols = keep // products, keep % products
    purchases = Purchases.from_coo(rows, cols, np.ones(len(rows), np.float32), (customers, products))
    hp = hyperparameters.defaults()
    hp.update(hp_overrides)
    day = np.datetime64("2024-01-01")
    return Model(
        customer_ids=np.char.add("C", np.arange(customers).astype(str)),
        product_ids=np.char.add("P", np.arange(products).astype(str)),
        product_names=np.full(products, ""), user_factors=users, item_factors=items, purchases=purchases,
        product_popularity=np.bincount(cols, minlength=products).astype(np.int32),
        product_first_seen=np.full(products, day), customer_first_seen=np.full(customers, day),
        new_products=rng.choice(products, min(products, 200), replace=False).astype(np.int32),
        new_customers=np.zeros(0, dtype=np.int32),
        metadata={"model_version": "bench", "hyperparameters": hp,
                  "als": {"rank": rank, "implicit_prefs": True, "reg_param": 0.1, "alpha": 5.0}})


def floor(model: Model, k: int, rows_per_block: int) -> float:
    users, items_t = model.user_factors, np.ascontiguousarray(model.item_factors.T)
    cols = items_t.shape[1]
    started = time.perf_counter()
    for start in range(0, len(users), rows_per_block):
        scores = users[start:start + rows_per_block] @ items_t
        np.argpartition(scores, cols - k, axis=1)[:, cols - k:]
    return time.perf_counter() - started


def scoring_only(model: Model, k: int, cells: int, group: int) -> float:
    started = time.perf_counter()
    ranker = Recommender(model).ranker(k, cells=cells, max_rows=group)
    for chunk in ranker.blocks(np.arange(len(model.customer_ids))):
        ranker.rank(chunk)
    return time.perf_counter() - started


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def main() -> None:
    ap = common.arg_parser(__doc__)
    ap.add_argument("--customers", type=int, default=255_000)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--purchases", type=float, default=10.0, help="mean purchases per customer")
    ap.add_argument("--k", type=int, default=10, help="reco_item")
    ap.add_argument("--cells", type=int, default=BLOCK_CELLS, help="scores per block")
    ap.add_argument("--exclude-popular", type=int, default=0)
    ap.add_argument("--include-new", type=int, default=0)
    ap.add_argument("--skip-split", action="store_true", help="do not time (c) scoring without the CSV")
    args = ap.parse_args()
    if args.smoke:
        args.customers, args.products = 3000, 5000
    hp = {"reco_item": args.k, "exclude_popular": args.exclude_popular, "include_new": args.include_new}
    common.say(f"model: {args.customers} customers x {args.products} products, rank {args.rank}")
    model = make_model(args.customers, args.products, args.rank, args.purchases, **hp)
    group = int(model.metadata["hyperparameters"]["group_size"])
    ranker_rows = Recommender(model).ranker(args.k, cells=args.cells, max_rows=group).rows
    load_before, up_before = common.loadavg(), uptime()
    common.say(f"(a) floor: matmul + argpartition, {ranker_rows} customers per block; {up_before}")
    from threadpoolctl import threadpool_limits
    floors = {"default": floor(model, args.k, ranker_rows)}
    with threadpool_limits(1, "blas"):
        floors["1"] = floor(model, args.k, ranker_rows)
    t_floor = min(floors.values())
    common.say(f"(a) {t_floor:.2f} s (default BLAS threads {floors['default']:.2f} s, one {floors['1']:.2f} s)")
    out = args.work / "batch_scoring" / "recommendations.csv"
    started = time.perf_counter()
    written = batch.write_recommendations(model, out, cells=args.cells)
    t_batch = time.perf_counter() - started
    common.say(f"(b) batch writer {t_batch:.2f} s, {written} rows, {out.stat().st_size / 1e6:.1f} MB")
    t_scoring = None if args.skip_split else scoring_only(model, args.k, args.cells, group)
    if t_scoring is not None:
        common.say(f"(c) scoring only {t_scoring:.2f} s")
    payload = {
        "size": {"customers": args.customers, "products": args.products, "rank": args.rank,
                 "purchases": int(len(model.purchases.indices)), "reco_item": args.k,
                 "exclude_popular": args.exclude_popular, "include_new": args.include_new},
        "cells_per_block": args.cells, "customers_per_block": ranker_rows, "group_size": group,
        "floor_seconds": round(t_floor, 3),
        "floor_seconds_by_blas_threads": {t: round(v, 3) for t, v in floors.items()},
        "batch_seconds": round(t_batch, 3),
        "scoring_seconds": None if t_scoring is None else round(t_scoring, 3),
        "ratio_batch_to_floor": round(t_batch / t_floor, 3),
        "goal_ratio": 3.0, "rows_written": written, "csv_bytes": out.stat().st_size,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "loadavg_before": load_before, "loadavg_after": common.loadavg(),
        "uptime_before": up_before, "uptime_after": uptime(), "smoke": bool(args.smoke),
    }
    out.unlink(missing_ok=True)
    print(json.dumps(payload), flush=True)
    common.write_result(Path(args.results), "batch_scoring", payload)


if __name__ == "__main__":
    main()
