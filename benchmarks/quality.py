"""Recommendation quality on the bundled Online Retail sample and a larger generated dataset, two
hold-out protocols each.

    python -m benchmarks.quality [--smoke] [--seeds 0,1,2] [--jobs 2] [--datasets sample,generated]
                                 [--tune-budget 180] [--tune-jobs 1]

Protocols (top-10, items the customer had already bought excluded, only customers and products
the model knows are scored, a customer counts when they bought >= 1 new known product):

- time_window: the last 3 calendar days of the (cleaned) data are held out.
- last_basket: each customer with >= 2 invoices has their last invoice held out.

Datasets: `sample` (the bundled Online Retail sample), `generated` (benchmarks/datagen.py, seeded
power-law sales, 300k lines; `quality_data.GENERATED`) and `trend` (the same with half the products
launching and fading; `quality_data.TREND`).

For each protocol the raw rows of the training part are written, in the original Online
Retail layout, into a fresh /opt/ml tree and the real `train` entry point is run on it; the held-out
part is scored from the model `train` wrote, as serving ranks (the blend included), with
`alsreco.train.metrics`. The defaults run as shipped: `train` carves its own held-out part from the
training part (`eval_days=3`, widened or replaced by the last basket when thin) and chooses the half-life
and the blend on it; the test part is never given to it. The other rows run with `eval_days=0` (the
ALS alone: no held-out choice), as before issue 23, except `tune`. Issue 23's baselines and paired
intervals: benchmarks/quality_trends.py. Compared: popularity (distinct customers, from the same model),
the seed's setting (explicit ALS on counts, rank 10, 5 iterations, reg 0.01; sample only), our defaults
(read from alsreco/core/hyperparameters.py + als_spec.json at run time), a small grid around them
(sample only), each `weighting` on top of the defaults, `tune=true` (its own held-out part carved
from the training part with the same protocol: `eval_protocol`, `eval_days=3`; `tune_budget_seconds`),
and the `implicit` library (CPU): picked on a validation part of the training part (benchmarks/quality_implicit.py,
the verdict, paired per test customer) and, as an upper bound, its best setting of a small grid on the test
part itself. Mean and spread over seeds; goal rows by 95% bootstrap intervals over test customers.

Similar products (`item_id` requests, similar_items.csv), as a sanity check on each protocol's
held-out baskets (an invoice with >= 2 distinct products the model knows): does the top-10 similar
list of the basket's first product (file order) hold another product of the same basket? Hit rate
for the default model (cosine of the item factors, `alsreco.core.similar`), for popularity (the
top-10 best sellers other than the product) and for 10 random products (exact expectation).
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import common, quality_implicit, quality_trends
from .common import say
from .quality_data import (
    TREND,
    WINDOW_DAYS,
    Holdout,
    K,
    generated_csv,
    load_raw,
    similar_hit_rates,
    split_last_basket,
    split_time_window,
    to_csv_bytes,
)
from .quality_runs import GRID, TUNE_BUDGET, configurations, finished_runs, run_key, summary, versus_implicit

SEEDS = (0, 1, 2)
IMPLICIT_GRID = tuple((f, a) for f in (10, 16) for a in (1.0, 5.0, 10.0))
GOALS = {"time_window": 0.10, "last_basket": 0.075}
REFERENCE = {  # from the issue: NDCG@10 measured earlier on this kind of machine
    "time_window": {"popularity": 0.045, "seed setting": 0.02, "implicit ALS": 0.09},
    "last_basket": {"popularity": 0.049, "implicit library best (10 factors, alpha 5)": 0.070},
}


def _as_of(protocols: dict[str, Any], pname: str):
    """last_basket: baskets scored with the trend arrays as of their day, counted from the training part's lines."""
    return protocols[pname]["train_lines"] if pname == "last_basket" else None


def run_dataset(name: str, data: Path, args, seeds: list[int], work: Path) -> dict[str, Any]:
    """Every configuration x protocol x seed on one dataset; popularity, similar products and the `implicit`
    library on the defaults' training matrices."""
    raw, clean = load_raw(data)
    protocols = {}
    for pname, (train_raw, test, info) in {"time_window": split_time_window(raw, clean),
                                           "last_basket": split_last_basket(raw, clean)}.items():
        protocols[pname] = {"csv": to_csv_bytes(train_raw), "test": test,
                            "info": {**info, "train_raw_rows": int(len(train_raw)), "test_lines": int(len(test))}}
    for pname in protocols:  # the training part's clean lines: last_basket's as-of trends, the implicit anchor
        protocols[pname]["train_lines"] = clean.drop(protocols[pname]["test"].index)
    del raw, clean
    configs = configurations(args.smoke, name, args.grid, args.tune_budget)
    extra = {"similar_items": "false"}
    if args.smoke:
        extra["max_itter"] = 2
    jobs = []
    for ci, cfg in enumerate(configs):
        for pname in protocols:
            for seed in seeds:
                hp = {**extra, **cfg["overrides"], **(cfg.get("per_protocol") or {}).get(pname, {}), "seed": seed}
                jobs.append((ci, pname, seed, hp))
    say(f"quality, {name}: {len(configs)} configuration(s) x {len(protocols)} protocols x {len(seeds)} seed(s) = "
        f"{len(jobs)} train runs, {args.jobs} at a time ({args.tune_jobs} for tune runs)")
    digests = {p: hashlib.sha256(v["csv"]).hexdigest() for p, v in protocols.items()}
    commit = common.git_commit()
    finished = {} if args.fresh else finished_runs(work, digests, commit)

    def one(job):
        ci, pname, seed, hp = job
        key = run_key(pname, seed, {**configs[ci]["settings"], **hp})
        if key in finished:  # same data, settings and seed already trained (an interrupted earlier run)
            base = finished[key]
            return job, base, json.loads((base / "run.json").read_text())
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        base = common.make_opt_ml(work / f"{pname}-{digest}-s{seed}", {"train.csv": protocols[pname]["csv"]}, hp)
        res = common.run_train(base, {"ALSRECO_DRIVER_MEMORY": os.environ.get("BENCH_DRIVER_MEMORY", "3g")})
        run = {k: res[k] for k in ("wall_seconds", "loadavg_before", "loadavg_after", "training_seconds")}
        run["commit"] = commit  # a later run reuses it only at the same commit (quality_runs.finished_runs)
        (base / "run.json").write_text(json.dumps(run))
        return job, base, run

    from alsreco.core.artifact import load_model
    per: dict[tuple[int, str], list[dict[str, float]]] = {}
    terms: dict[tuple[int, str], list[Any]] = {}  # per-customer NDCG per seed, for the paired intervals
    alone: dict[str, list[Any]] = {}  # the defaults' ALS alone (blend 0), per protocol
    rows: dict[str, Any] = {}
    runs: dict[tuple[int, str], list[dict[str, Any]]] = {}
    reference_model: dict[str, Path] = {}
    plain = [j for j in jobs if configs[j[0]]["kind"] != "tune"]
    tuned = [j for j in jobs if configs[j[0]]["kind"] == "tune"]
    for batch, width in ((plain, args.jobs), (tuned, args.tune_jobs)):
        with cf.ThreadPoolExecutor(max_workers=max(1, width)) as pool:
            for (ci, pname, seed, hp), base, res in pool.map(one, batch):
                model = load_model(base / "model", mmap=False)
                holdout = Holdout(model, protocols[pname]["test"], _as_of(protocols, pname))
                assert np.array_equal(rows.setdefault(pname, holdout.rows), holdout.rows)  # pairs need them
                m, t = holdout.score_terms(model.user_factors, model.item_factors, holdout.served_bias(model))
                per.setdefault((ci, pname), []).append(m)
                terms.setdefault((ci, pname), []).append(t)
                run = {"seed": seed, "train_wall_seconds": res["wall_seconds"],
                       "loadavg_before": res.get("loadavg_before"), "loadavg_after": res["loadavg_after"],
                       "chose": quality_trends.choices(model.metadata)}
                if configs[ci]["is_default"]:
                    alone.setdefault(pname, []).append(holdout.score_terms(model.user_factors, model.item_factors))
                tuning = model.metadata.get("tuning")
                if tuning:
                    scores = [t["score"] for t in tuning["trials"]]
                    given = [t["score"] for t in tuning["trials"] if t["settings"] == tuning["trials"][0]["settings"]]
                    run["tuning"] = {"chosen": tuning["chosen"], "chosen_score": tuning["chosen_score"],
                                     "given_score": scores[0], "given_mean": sum(given) / len(given),
                                     "trials": len(scores), "seconds": tuning["seconds"],
                                     "budget_seconds": tuning["budget_seconds"], "stopped": tuning["stopped"],
                                     "validation_customers": model.metadata["metrics"].get("test_customers")}
                runs.setdefault((ci, pname), []).append(run)
                protocols[pname]["info"]["test_customers"] = int(len(holdout.rows))
                if configs[ci]["is_default"] and pname not in reference_model:
                    reference_model[pname] = base / "model"
                say(f"  {name}: {configs[ci]['name'][:40]:40s} {pname:12s} seed {seed}: "
                    f"ndcg@10={m[f'ndcg_at_{K}']:.4f} "
                    f"({res['wall_seconds']}s, load {res['loadavg_after'][0]})"
                    + (f"; tune chose {tuning['chosen']} after {len(tuning['trials'])} trials" if tuning else ""))

    out_configs = []
    grid = IMPLICIT_GRID[:1] if args.smoke else IMPLICIT_GRID
    for pname, path in reference_model.items():  # baselines on the same training matrices
        model = load_model(path, mmap=False)
        holdout = Holdout(model, protocols[pname]["test"], _as_of(protocols, pname))
        protocols[pname]["baselines"] = base = quality_trends.baselines(model, holdout)
        protocols[pname]["pop"] = base["popularity"][0]
        protocols[pname]["info"]["similar_products"] = sim = similar_hit_rates(model, protocols[pname]["test"])
        say(f"  similar products, {name} {pname}: {sim.get('baskets', 0)} held-out baskets; first item's top-{K} "
            f"similar list holds another basket item: model {sim.get('model_hit_rate')}, popularity "
            f"{sim.get('popularity_hit_rate')}, random {sim.get('random_hit_rate')}")
        protocols[pname]["implicit"] = {}
        try:
            import implicit  # noqa: F401
        except ImportError:
            say("implicit is not installed: library reference skipped (pip install -r requirements-bench.txt)")
            continue
        protocols[pname]["implicit"] = quality_implicit.on_test(model, holdout, seeds, grid)
        fair = quality_implicit.anchor(model, holdout, protocols[pname]["train_lines"], pname, seeds,
                                       quality_implicit.GRID[:2] if args.smoke else quality_implicit.GRID)
        protocols[pname]["implicit_fair"] = fair
        say(f"  implicit, {name} {pname}: picked on validation ({fair['validation_customers']} customers) "
            f"{fair['picked']}: test NDCG@{K} {np.mean([m[f'ndcg_at_{K}'] for m in fair['per_seed']]):.4f}")
    for key, title in quality_trends.BASELINES.items():  # one list for everyone: no seed
        out_configs.append({"name": title, "kind": "popularity", "settings": {}, "is_default": False,
                            "results": {p: {"per_seed": [protocols[p]["baselines"][key][0]],
                                            "summary": summary([protocols[p]["baselines"][key][0]])}
                                        for p in protocols if "baselines" in protocols[p]}})
    out_configs.append({"name": quality_trends.ALONE, "kind": "alone", "settings": {}, "is_default": False,
                        "results": {p: {"per_seed": [a[0] for a in v], "summary": summary([a[0] for a in v])}
                                    for p, v in alone.items()}})
    no_choice = next((ci for ci, c in enumerate(configs) if c["name"] == quality_trends.NO_CHOICE), None)
    default_ci = next(ci for ci, c in enumerate(configs) if c["is_default"])
    tune_ci = next((ci for ci, c in enumerate(configs) if c["kind"] == "tune"), None)
    trend_comparisons = {p: quality_trends.compare(terms[(default_ci, p)], [a[1] for a in alone[p]],
                                                   terms.get((no_choice, p)), protocols[p]["baselines"])
                         for p in protocols if "baselines" in protocols[p] and (default_ci, p) in terms}
    for p, cmp in trend_comparisons.items():
        v = cmp["vs best baseline"]
        say(f"  trends, {name} {p}: defaults - {cmp['best baseline']} = {v['diff']:+.4f} "
            f"[{v['ci95'][0]:+.4f}, {v['ci95'][1]:+.4f}] ({v['status']})")
    for ci, cfg in enumerate(configs):
        out_configs.append({"name": cfg["name"], "kind": cfg["kind"], "settings": cfg["settings"],
                            "overrides": cfg["overrides"], "is_default": cfg["is_default"],
                            "results": {p: {"per_seed": per[(ci, p)], "summary": summary(per[(ci, p)]),
                                            "runs": runs[(ci, p)]} for p in protocols if (ci, p) in per}})
    for factors, alpha in grid:
        res = {p: protocols[p]["implicit"][(factors, alpha)] for p in protocols
               if (factors, alpha) in protocols[p].get("implicit", {})}
        if res:
            out_configs.append({"name": f"implicit library: {factors} factors, alpha {alpha:g}", "kind": "implicit",
                                "settings": {"factors": factors, "alpha": alpha, "regularization": 0.01,
                                             "iterations": 15, "rating": "1 per bought pair"},
                                "is_default": False,
                                "results": {p: {"per_seed": v, "summary": summary(v)} for p, v in res.items()}})
    return {"data": str(data.relative_to(common.REPO)) if data.is_relative_to(common.REPO) else str(data),
            "protocols": {p: {"description": {"time_window": f"last {WINDOW_DAYS} calendar days held out",
                                              "last_basket": "each customer's last invoice held out "
                                                             "(customers with >= 2 invoices); the trend lists, "
                                                             "the blend and the best sellers as of the day "
                                                             "before it"}[p], **v["info"]}
                          for p, v in protocols.items()},
            "configs": out_configs, "versus_implicit": versus_implicit(out_configs),
            "versus_implicit_fair": {p: {"picked": v["implicit_fair"]["picked"],
                                         "validation_customers": v["implicit_fair"]["validation_customers"],
                                         "summary": summary(v["implicit_fair"]["per_seed"]),
                                         **quality_implicit.versus({who: terms.get((ci, p)) for who, ci in (
                                             ("defaults", default_ci), ("tune", tune_ci))}, v["implicit_fair"])}
                                     for p, v in protocols.items() if "implicit_fair" in v},
            "trend_comparisons": trend_comparisons,
            # the defaults' NDCG@10 (per customer, mean over seeds): a 95% bootstrap interval of its mean
            "defaults_ndcg_ci95": {p: quality_trends.interval(terms[(default_ci, p)]) for p in protocols
                                   if (default_ci, p) in terms}}


def main(argv: list[str] | None = None) -> int:
    ap = common.arg_parser(__doc__)
    ap.add_argument("--seeds", default=os.environ.get("BENCH_SEEDS", ",".join(map(str, SEEDS))))
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("BENCH_JOBS", "2")),
                    help="train processes at once (quality only; wall time is not measured here)")
    ap.add_argument("--tune-jobs", type=int, default=int(os.environ.get("BENCH_TUNE_JOBS", "1")),
                    help="tune=true train processes at once (their budget is wall time: 1 = each has the machine)")
    ap.add_argument("--tune-budget", type=int, default=int(os.environ.get("BENCH_TUNE_BUDGET", TUNE_BUDGET)))
    ap.add_argument("--data", type=Path, default=common.SAMPLE_CSV)
    ap.add_argument("--datasets", default=os.environ.get("BENCH_DATASETS", "sample,generated,trend"),
                    help="sample (--data), generated (benchmarks/datagen.py, quality_data.GENERATED), trend "
                    "(the same with products that launch and fade, quality_data.TREND)")
    ap.add_argument("--grid", type=int, default=int(os.environ.get("BENCH_GRID", len(GRID))),
                    help="how many GRID points to run on the sample (default all; 0 = neither the grid nor the "
                    "seed setting)")
    ap.add_argument("--fresh", action="store_true", help="re-train everything (default: reuse finished runs "
                    "of this commit with the same data, settings and seed found in the work directory)")
    args = ap.parse_args(argv)
    seeds = [0] if args.smoke else [int(s) for s in args.seeds.split(",") if s.strip()]
    from threadpoolctl import threadpool_limits
    # this process only scores small blocks: one BLAS thread (OpenBLAS's threads spun for minutes on a
    # tiny matrix product while the train runs and another engineer's tests loaded the 2 cores)
    threadpool_limits(1, "blas")
    started = time.monotonic()
    load_start = common.loadavg()
    work = args.work / ("quality-smoke" if args.smoke else "quality")
    work.mkdir(parents=True, exist_ok=True)
    names = ["sample"] if args.smoke else [d.strip() for d in args.datasets.split(",") if d.strip()]
    datasets = {}
    for name in names:
        data = args.data if name == "sample" else generated_csv(args.work / "quality-data", **(
            TREND if name == "trend" else {}))
        datasets[name] = run_dataset(name, data, args, seeds, work / name)
        datasets[name]["loadavg_end"] = common.loadavg()

    # the product's own evaluation (train with its default eval_days on the full sample), as a cross-check
    product_eval = None
    if not args.smoke and "sample" in datasets:
        base = common.make_opt_ml(work / "product-eval", [args.data], {})
        res = common.run_train(base)
        product_eval = {"metrics": res["metadata_metrics"], "wall_seconds": res["wall_seconds"],
                        "training_seconds": res["training_seconds"], "als_fits": res["als_fits"],
                        "loadavg_after": res["loadavg_after"]}
    first = datasets[names[0]]
    default_cfg = next(c for c in first["configs"] if c.get("is_default"))
    goals = {}
    for p, target in GOALS.items():
        s = default_cfg["results"].get(p, {}).get("summary", {}).get(f"ndcg_at_{K}")
        if s and names[0] == "sample":
            lo, hi = first["defaults_ndcg_ci95"][p]
            goals[p] = {"target_ndcg_at_10": target, "mean": s["mean"], "std": s["std"], "min": s["min"],
                        "ci95": [lo, hi], "status": quality_trends.status(lo - target, hi - target),
                        "met": lo > target, "met_by_every_seed": s["min"] >= target}
    payload = {
        "smoke": args.smoke, "k": K, "seeds": seeds, "defaults": default_cfg["settings"], "commit": common.git_commit(),
        **first,  # the first dataset (the sample) at the top level, the others under "datasets"
        "datasets": {n: d for n, d in datasets.items() if n != names[0]}, "dataset_order": names,
        "goals": goals, "reference": REFERENCE, "product_eval": product_eval, "tune_budget_seconds": args.tune_budget,
        "seconds": round(time.monotonic() - started, 1), "loadavg_start": load_start, "loadavg_end": common.loadavg(),
    }
    common.write_result(args.results, "quality-smoke" if args.smoke else "quality", payload)
    for n, d in datasets.items():
        for c in d["configs"]:
            line = "  ".join(f"{p}={c['results'][p]['summary'][f'ndcg_at_{K}']['mean']:.4f}"
                             f"±{c['results'][p]['summary'][f'ndcg_at_{K}']['std']:.4f}" for p in c["results"])
            say(f"{n:9s} {c['name'][:55]:55s} {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
