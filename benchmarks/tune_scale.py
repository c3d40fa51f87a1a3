"""`tune` at scale: the real `train` with `tune=true` on generated data (default 1M lines, the train_speed
benchmark's `1m` size: 100k customers, 20k products), time window protocol (`eval_days=3`).

    python -m benchmarks.tune_scale [--rows 1000000] [--budget 180] [--smoke]

Checked: the search (its trials) ends within `tune_budget_seconds`, and the chosen setting scores at
least the defaults' NDCG@10 on the held-out window (trial 1 is the defaults). Writes
results/tune_scale.json; `benchmarks.report` shows it in the quality section.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from . import common
from .common import say


def main(argv: list[str] | None = None) -> int:
    ap = common.arg_parser(__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--products", type=int, default=20_000)
    ap.add_argument("--budget", type=int, default=180)
    args = ap.parse_args(argv)
    if args.smoke:
        args.rows, args.customers, args.products, args.budget = 20_000, 2_000, 500, 20
    from . import datagen
    work = args.work / ("tune-scale-smoke" if args.smoke else "tune-scale")
    data = args.work / "quality-data" / f"generated-{args.rows}-{args.customers}-{args.products}-s0.csv"
    if not data.is_file():
        say(f"generating {args.rows:,} lines")
        datagen.write(datagen.generate(args.rows, args.customers, args.products, seed=0), data)
    hp = {"tune": True, "tune_budget_seconds": args.budget, "eval_days": 3, "similar_items": "false"}
    base = common.make_opt_ml(work, [data], hp)
    say(f"train with tune=true, budget {args.budget} s, on {data}")
    res = common.run_train(base, {"ALSRECO_DRIVER_MEMORY": os.environ.get("BENCH_DRIVER_MEMORY", "4g")})
    meta = json.loads((base / "model" / "metadata.json").read_text())
    t = meta["tuning"]
    result = {"budget_seconds": t["budget_seconds"], "tune_seconds": t["seconds"], "trials": len(t["trials"]),
              "stopped": t["stopped"], "chosen": t["chosen"], "chosen_validation": t["chosen_score"],
              "defaults_validation": t["trials"][0]["score"],
              "validation_customers": meta["metrics"].get("test_customers"),
              "trial_log": [{k: x[k] for k in ("trial", "stage", "score", "seconds", "settings")} for x in t["trials"]],
              "wall_seconds": res["wall_seconds"], "training_seconds": res["training_seconds"],
              "loadavg_before": res["loadavg_before"], "loadavg_after": res["loadavg_after"],
              "peak_rss_mb": res["peak_rss_mb"]}
    say(f"tune: {result['trials']} trials in {result['tune_seconds']:.0f} s of {args.budget} s; validation "
        f"{result['defaults_validation']:.4f} -> {result['chosen_validation']:.4f}; train {res['wall_seconds']:.0f} s")
    rel = data.relative_to(common.REPO) if data.is_relative_to(common.REPO) else data
    common.write_result(args.results, "tune_scale-smoke" if args.smoke else "tune_scale",
                        {"smoke": args.smoke, "rows": args.rows, "customers": args.customers,
                         "products": args.products, "data": str(Path(rel)), "result": result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
