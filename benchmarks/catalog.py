"""`make bench-catalog`: what the catalogue costs and what new-product placement is worth.

1. Placement quality (the real `train`, shipped defaults, on the bundled sample): products with at least
   3 buyers are held out as if new - 10 % of them per seed, their lines removed from the sales - while
   the catalog channel lists every product with its name and median unit price. `train` places the
   held-out products from those attributes. The customers who bought them (in the hidden lines) and
   are in the model then rank the held-out products: by the model (attribute placement), at random,
   and by the best seller in their category (category = the last word of the name; a product scores
   how often the customer bought that category, ties by the category's sales). NDCG@10 and hit
   rate@10 of their true held-out purchases; paired bootstrap intervals (over customers, all seeds
   pooled) of placement minus each baseline.
2. Filter cost (in process, a 100k-product model with 20 attributes): a request with
   `Items.brand IN ($brands)` (1,000 values) AND a price range vs the same request unfiltered, timed
   in alternation; every filtered request has other values (no cached plan), and a second series
   repeats one set of values (cached plan). Ratio of the medians, bootstrap interval over pairs.
   One BLAS thread, as each serving worker runs (ALSRECO_BLAS_THREADS, default 1): OpenBLAS's
   own threads would time their wake-ups, not the filter.
3. Memory: `serve` (4 workers) on that model with and without its catalogue files, after every
   worker has answered filtered requests with `fields`: the difference of the process tree's PSS.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests

from . import common
from .loadkit import Serve, synthetic_model

SEEDS = (0, 1, 2)
HOLD_OUT = 0.10
MIN_BUYERS = 3
K = 10
N_PRODUCTS, N_CUSTOMERS, RANK = 100_000, 20_000, 16
BRANDS, IN_VALUES = 2_000, 1_000


# ----------------------------------------------------------------------------- 1. placement quality
def _catalogue(lines: pd.DataFrame) -> pd.DataFrame:
    named = lines.dropna(subset=["Description"])
    out = named.groupby("StockCode").agg(name=("Description", "last"), unit_price=("UnitPrice", "median"))
    return out.reset_index().rename(columns={"StockCode": "product_id"})


def _category(name: str) -> str:
    words = str(name).split()
    return words[-1] if words else ""


def placement_run(lines: pd.DataFrame, seed: int, work: Path) -> dict[str, Any]:
    from alsreco.core.artifact import load_model
    from alsreco.train.metrics import Relevant, row_terms

    rng = np.random.default_rng(seed)
    buyers = lines.dropna(subset=["CustomerID"]).groupby("StockCode")["CustomerID"].nunique()
    eligible = np.array(sorted(buyers[buyers >= MIN_BUYERS].index))
    held = set(rng.choice(eligible, int(len(eligible) * HOLD_OUT), replace=False).tolist())
    train_lines = lines[~lines["StockCode"].isin(held)]
    base = work / f"placement-{seed}"
    common.make_opt_ml(base, {"sales.csv": train_lines.to_csv(index=False).encode()}, {})
    channel = base / "input" / "data" / "catalog"
    channel.mkdir(parents=True)
    _catalogue(lines)[["product_id", "name", "unit_price"]].to_csv(channel / "catalog.csv", index=False)
    (base / "input" / "config" / "inputdataconfig.json").write_text(json.dumps(
        {"training": {"TrainingInputMode": "File"}, "catalog": {"TrainingInputMode": "File"}}))
    run = common.run_train(base)
    model = load_model(base / "model")
    ids = {p: i for i, p in enumerate(model.product_ids.tolist())}
    customers = {c: i for i, c in enumerate(model.customer_ids.tolist())}
    held_idx = np.array(sorted(ids[p] for p in held if p in ids))
    assert (model.product_popularity[held_idx] == 0).all()
    hidden = lines[lines["StockCode"].isin(held) & lines["CustomerID"].notna() & (lines["Quantity"] > 0)]
    hidden = hidden.assign(customer=hidden["CustomerID"].astype(float).astype(int).astype(str))
    truth = hidden[hidden["customer"].isin(customers)].groupby("customer")["StockCode"].apply(set)
    test = sorted(truth.index)
    col = {p: j for j, p in enumerate(held_idx.tolist())}
    relevant = Relevant.from_sets([{col[ids[p]] for p in truth[c] if p in ids} for c in test])
    users = np.asarray(model.user_factors)[[customers[c] for c in test]]
    placed = users @ np.asarray(model.item_factors)[held_idx].T
    # best seller in category: how often the customer bought the category, ties by the category's sales
    known = train_lines[train_lines["CustomerID"].notna()].assign(
        customer=lambda d: d["CustomerID"].astype(float).astype(int).astype(str),
        category=lambda d: d["Description"].map(_category))
    cat_sales = known.groupby("category").size()
    per_customer = known.groupby(["customer", "category"]).size()
    held_cat = [_category(model.product_names[i]) for i in held_idx]
    category = np.array([[per_customer.get((c, h), 0) + 1e-6 * cat_sales.get(h, 0) for h in held_cat]
                         for c in test])
    random = np.random.default_rng(seed + 100).standard_normal(placed.shape)
    out = {"seed": seed, "held_out_products": int(len(held_idx)), "test_customers": len(test),
           "train_seconds": run["wall_seconds"], "placement": model.metadata.get("catalog", {}).get("placement")}
    for name, scores in (("attributes", placed), ("random", random), ("category_best_seller", category)):
        top = np.argsort(-scores, axis=1, kind="stable")[:, :K]
        terms = row_terms(top, relevant, K)
        out[name] = {"ndcg": terms["ndcg"].tolist(), "hit": (terms["precision"] > 0).astype(float).tolist()}
    return out


def placement_quality(work: Path, seeds=SEEDS) -> dict[str, Any]:
    from alsreco.train.metrics import bootstrap_ci

    lines = pd.read_csv(common.SAMPLE_CSV, dtype={"StockCode": str, "Description": str})
    runs = [placement_run(lines, s, work) for s in seeds]
    summary: dict[str, Any] = {"runs": [{k: v for k, v in r.items() if k not in ("attributes", "random",
                                                                                  "category_best_seller")}
                                        | {m: {"ndcg": float(np.mean(r[m]["ndcg"])), "hit": float(np.mean(r[m]["hit"]))}
                                           for m in ("attributes", "random", "category_best_seller")}
                                        for r in runs]}
    for metric in ("ndcg", "hit"):
        pooled = {m: np.concatenate([r[m][metric] for r in runs]) for m in ("attributes", "random",
                                                                             "category_best_seller")}
        summary[metric] = {m: float(v.mean()) for m, v in pooled.items()}
        for base in ("random", "category_best_seller"):
            lo, hi = bootstrap_ci(pooled["attributes"] - pooled[base])
            summary[metric][f"minus_{base}"] = {"mean": float((pooled["attributes"] - pooled[base]).mean()),
                                                "ci95": [lo, hi], "customers": int(len(pooled[base]))}
    return summary


# ----------------------------------------------------------------------------- 2-3. filter cost, memory
def catalogue_model(products: int = N_PRODUCTS, customers: int = N_CUSTOMERS, attributes: int = 20, seed: int = 0):
    """serve_load's synthetic model with `attributes` columns: a brand (BRANDS values), a price, and
    categories, flags, tags, dates and numbers for the rest."""
    from alsreco.core.catalog import Catalog, encode

    model = synthetic_model(customers, products, RANK, seed=seed)
    rng = np.random.default_rng(seed + 7)
    cat = Catalog(products)
    cat.columns["brand"] = encode("brand", "string", [f"brand{b}" for b in rng.integers(0, BRANDS, products)])
    cat.columns["price"] = encode("price", "number", np.round(rng.lognormal(2.5, 1.0, products), 2).tolist())
    kinds = ("string", "number", "bool", "list", "date")
    for j in range(attributes - 2):
        kind, name = kinds[j % len(kinds)], f"a{j}"
        if kind == "string":
            cells: list[Any] = [f"v{v}" for v in rng.integers(0, 50, products)]
        elif kind == "number":
            cells = rng.random(products).tolist()
        elif kind == "bool":
            cells = (rng.random(products) < 0.5).tolist()
        elif kind == "list":
            cells = [[f"t{t}" for t in rng.choice(30, rng.integers(0, 4), replace=False)] for _ in range(products)]
        else:
            cells = [str(np.datetime64("2026-01-01") + int(d)) for d in rng.integers(0, 300, products)]
        cat.columns[name] = encode(name, kind, cells)
    return dataclasses.replace(model, catalog=cat)


def filter_cost(model, pairs: int = 400, seed: int = 0) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from alsreco.core.recommender import Recommender

    with threadpool_limits(1, "blas"):
        return _filter_cost(Recommender(model), model, pairs, seed)


def _filter_cost(rec, model, pairs: int, seed: int) -> dict[str, Any]:
    from alsreco.core.filters import spec_of
    from alsreco.core.rules import Request

    rng = np.random.default_rng(seed)
    text = "INCLUDE ItemID WHERE Items.brand IN ($brands) AND Items.price >= $lo AND Items.price < $hi"
    customers = model.customer_ids[rng.integers(0, len(model.customer_ids), pairs)].tolist()

    def spec(i: int, fixed: bool):
        r = np.random.default_rng(0 if fixed else 1000 + i)
        brands = [f"brand{b}" for b in r.choice(BRANDS, IN_VALUES, replace=False)]
        lo = float(r.uniform(1, 20))
        return spec_of(text, {"brands": brands, "lo": lo, "hi": lo + 40})

    for c in customers[:20]:  # warm: caches, page cache, allocator
        rec.recommend(Request(customer_id=c, k=K))
        rec.recommend(Request(customer_id=c, k=K, filters=spec(0, True)))
    out: dict[str, Any] = {}
    for label, fixed in (("distinct_values", False), ("repeated_values", True)):
        plain, filtered, kept = [], [], []
        for i, c in enumerate(customers):
            req = Request(customer_id=c, k=K, filters=spec(i, fixed))
            t0 = time.perf_counter()
            rec.recommend(Request(customer_id=c, k=K))
            t1 = time.perf_counter()
            got = rec.recommend(req)
            t2 = time.perf_counter()
            plain.append(t1 - t0)
            filtered.append(t2 - t1)
            kept.append(len(got.recommendations))
        plain_a, filt_a = np.array(plain), np.array(filtered)
        boot = np.random.default_rng(1)
        ratios = []
        for _ in range(2000):
            idx = boot.integers(0, len(plain_a), len(plain_a))
            ratios.append(np.median(filt_a[idx]) / np.median(plain_a[idx]))
        out[label] = {"pairs": pairs, "unfiltered_ms_median": float(np.median(plain_a) * 1e3),
                      "filtered_ms_median": float(np.median(filt_a) * 1e3),
                      "ratio": float(np.median(filt_a) / np.median(plain_a)),
                      "ratio_ci95": [float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))],
                      "mean_listed": float(np.mean(kept))}
    return out


def memory_cost(model, work: Path, workers: int = 4, repeats: int = 3) -> dict[str, Any]:
    """PSS with and without the catalogue, `repeats` fresh servers each; the differences."""
    runs = [_memory_once(model, work, workers) for _ in range(repeats)]
    added = [r["added_pss_mb"] for r in runs]
    return {"workers": workers, "runs": runs, "added_pss_mb": added,
            "catalogue_files_mb": runs[0]["catalogue_files_mb"]}


def _memory_once(model, work: Path, workers: int) -> dict[str, Any]:
    from alsreco.core.artifact import write_model

    out: dict[str, Any] = {"workers": workers}
    body = json.dumps({"customer_id": model.customer_ids[0].item(), "k": K, "fields": ["brand", "price", "a0"],
                       "filter": "INCLUDE ItemID WHERE Items.brand IN ($b) AND Items.price < 50",
                       "filter_values": {"b": [f"brand{i}" for i in range(IN_VALUES)]}})
    for label, m in (("without_catalogue", dataclasses.replace(model, catalog=None)), ("with_catalogue", model)):
        base = work / f"memory-{label}"
        shutil.rmtree(base, ignore_errors=True)
        write_model(m, base / "model")
        srv = Serve(base, workers)
        try:
            srv.wait_workers(workers)
            for _ in range(workers * 25):
                resp = requests.post(srv.url + "/invocations", data=body if m.catalog is not None else
                                     json.dumps({"customer_id": m.customer_ids[0].item(), "k": K}),
                                     headers={"Content-Type": "application/json"}, timeout=60)
                resp.raise_for_status()
            time.sleep(1)
            out[label] = srv.memory()
        finally:
            srv.stop()
    out["added_pss_mb"] = round(out["with_catalogue"]["total_pss_mb"] - out["without_catalogue"]["total_pss_mb"], 1)
    out["catalogue_files_mb"] = round(sum(p.stat().st_size for p in (work / "memory-with_catalogue" / "model")
                                          .glob("catalog*")) / common.MB, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = common.arg_parser(__doc__)
    args = ap.parse_args(argv)
    work = args.work / "catalog"
    work.mkdir(parents=True, exist_ok=True)
    load_before = common.loadavg()
    seeds = SEEDS[:1] if args.smoke else SEEDS
    common.say("placement quality (train x %d seeds)" % len(seeds))
    quality = placement_quality(work, seeds)
    sizes = (2_000, 500) if args.smoke else (N_PRODUCTS, N_CUSTOMERS)
    common.say(f"filter cost and memory on a {sizes[0]:,}-product model with 20 attributes")
    model = catalogue_model(*sizes)
    cost = filter_cost(model, pairs=60 if args.smoke else 400)
    memory = memory_cost(model, work, workers=2 if args.smoke else 4, repeats=1 if args.smoke else 3)
    common.write_result(args.results, "catalog" + ("-smoke" if args.smoke else ""), {
        "commit": common.git_commit(), "settings": "shipped defaults (train); serve MODEL_SERVER_WORKERS as given",
        "model": {"products": sizes[0], "customers": sizes[1], "rank": RANK, "attributes": 20},
        "placement_quality": quality, "filter_cost": cost, "memory": memory,
        "loadavg_before": load_before, "loadavg_after": common.loadavg()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
