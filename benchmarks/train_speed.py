"""Training speed and scale: the real `train` end to end vs default-Spark ALS vs the `implicit` library.

    python -m benchmarks.train_speed [--smoke] [--sizes sample,100k,1m,10m]   (env BENCH_SIZES)

Per size (the bundled sample, or the seeded generator `benchmarks.datagen` at 100k / 1m / 10m
purchase lines):

- `train` as a subprocess (process start -> model and recommendations.csv on disk) as shipped (every
  setting default: the held-out evaluation and its choices, `als_fits` auto: the goal rows), and with
  `eval_days=0` and `als_fits=1` (one ALS fit, the work the references do: the like-for-like rows; the
  sample and 100k are also run with `eval_days=0` and the default `als_fits`, which fits 4 times below 200k
  ratings): wall time, peak RSS of the process tree (python + JVM, sampled every 0.2 s), seconds per ALS
  iteration from the log line `ALS fit: ... in X s` and when each milestone was logged;
- batch-scoring every customer from the written model: the product's path
  (`Recommender.recommend_block` with the default rules) and plain numpy top-10;
- "default-Spark": a fresh SparkSession with Spark's default settings (200 shuffle partitions,
  ALS numBlocks 10, Java serializer) fitting the same rating triples (prepared as Parquet before
  the clock starts, so it does not pay for CSV parsing or cleaning) with the same rank,
  iterations, regularisation and alpha, factors to disk; one non-default: a checkpoint directory
  (without it ALS overflows the JVM stack at 10M ratings x 15 iterations);
- the `implicit` library (CPU) on the same matrix, same rank and iterations: the floor;
- the plain-PySpark pipeline (benchmarks/pyspark_pipeline.py: CSV read -> clean -> groupBy ratings ->
  ALS -> recommendForAllUsers(10) -> CSV) on the same CSV: issue 12's yardstick, `train` <= 0.25x it.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import common, procs
from .common import say

SIZES = {  # name -> (rows, customers, products)
    "100k": (100_000, 10_000, 4_000),
    "1m": (1_000_000, 100_000, 20_000),
    "10m": (10_000_000, 1_000_000, 100_000),
    "smoke": (3_000, 300, 200),
}
DEFAULT_SIZES = "sample,100k,1m,10m"
# issue 25: the goal rows are `train` as shipped: 10M lines <= 180 s end to end, the sample <= 12 s (issue 12's
# figure); issue 12's like-for-like goals (one fit, evaluation off) stay as labelled rows: 10M lines <= 120 s,
# and at every size <= 0.25x the plain-PySpark pipeline (benchmarks/pyspark_pipeline.py) in the same run
GOALS = {"sample": {"shipped_seconds_max": 12.0, "train_seconds_max": 12.0},
         "10m": {"shipped_seconds_max": 180.0, "train_seconds_max": 120.0}}
RATIO_TO_PIPELINE_MAX = 0.25
REFERENCE = {  # from the issue (2 cores): default-Spark end to end and implicit library
    "sample": {"default_spark_seconds": 27, "implicit_seconds": 1.3},
    "1m": {"default_spark_seconds": 66, "implicit_seconds": 4},
    "10m": {"default_spark_seconds": 181, "implicit_seconds": 45},
}


# ----------------------------------------------------------------------------- workers
def spark_default_worker(ratings: Path, out: Path, settings: dict[str, Any]) -> None:
    """Plain `ALS().fit` in a fresh SparkSession with Spark's defaults; factors to .npy."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession
    t0 = time.monotonic()
    spark = (SparkSession.builder.master("local[*]").appName("default-spark-als")
             .config("spark.driver.memory", settings["driver_memory"]).getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    # the one non-default: without a checkpoint directory ALS ignores checkpointInterval and its
    # lineage overflows the JVM stack at 10M ratings x 15 iterations (StackOverflowError, measured)
    spark.sparkContext.setCheckpointDir(str(out / "checkpoints"))
    t1 = time.monotonic()
    df = spark.read.parquet(str(ratings))
    als = ALS(rank=settings["rank"], maxIter=settings["iterations"], regParam=settings["reg_param"],
              implicitPrefs=settings["implicit_prefs"], alpha=settings["alpha"], seed=settings["seed"],
              userCol="user", itemCol="item", ratingCol="rating")
    model = als.fit(df)
    users = model.userFactors.toPandas()
    items = model.itemFactors.toPandas()
    t2 = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    for name, pdf in (("user", users), ("item", items)):
        np.save(out / f"{name}_ids.npy", pdf["id"].to_numpy())
        np.save(out / f"{name}_factors.npy", np.stack(pdf["features"].to_numpy()).astype(np.float32))
    t3 = time.monotonic()
    partitions = spark.conf.get("spark.sql.shuffle.partitions")
    spark.stop()
    print("RESULT " + json.dumps({"session_seconds": round(t1 - t0, 2), "fit_seconds": round(t2 - t1, 2),
                                  "save_seconds": round(t3 - t2, 2), "num_blocks": als.getNumUserBlocks(),
                                  "checkpoint_dir": True,
                                  "shuffle_partitions": int(partitions)}), flush=True)


def implicit_worker(matrix: Path, out: Path, settings: dict[str, Any]) -> None:
    """The `implicit` library's CPU ALS on the same customers x products matrix."""
    t0 = time.monotonic()
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    with np.load(matrix) as z:
        ui = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
    t1 = time.monotonic()
    als = AlternatingLeastSquares(factors=settings["rank"], iterations=settings["iterations"],
                                  regularization=settings["reg_param"], alpha=settings["alpha"],
                                  random_state=settings["seed"], calculate_training_loss=False)
    als.fit(ui, show_progress=False)
    t2 = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "user_factors.npy", als.user_factors)
    np.save(out / "item_factors.npy", als.item_factors)
    print("RESULT " + json.dumps({"load_seconds": round(t1 - t0, 2), "fit_seconds": round(t2 - t1, 2)}),
          flush=True)


def _result_line(log: Path) -> dict[str, Any]:
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {}


# ----------------------------------------------------------------------------- pieces
def dataset(name: str, work: Path) -> Path:
    if name == "sample":
        return common.SAMPLE_CSV
    from . import datagen
    rows, customers, products = SIZES[name]
    path = work / "data" / f"retail-{name}-seed0.csv"
    if not path.is_file():
        say(f"generating {name}: {rows:,} lines, {customers:,} customers, {products:,} products")
        tmp = path.with_name(path.name + ".tmp")
        datagen.write(datagen.generate(rows, customers, products, seed=0), tmp)
        os.replace(tmp, path)
    return path


def batch_scoring(model_dir: Path, max_customers: int = 30_000) -> dict[str, Any]:
    """Top-10 for every customer from the written model: the product's path (rules, exclusions)
    and plain numpy (one matrix product + argpartition per block, no rules). Above
    `max_customers` a seeded random subset is timed and the time scaled to all customers
    (linear: every customer costs the same matrix row); `train` itself always scores everyone
    (its timeline shows it between 'ALS fit done' and 'model written')."""
    from alsreco.core.artifact import load_model
    from alsreco.core.recommender import Recommender
    model = load_model(model_dir, mmap=False)
    n = len(model.customer_ids)
    idx = np.arange(n)
    if n > max_customers:
        idx = np.sort(np.random.default_rng(0).choice(n, size=max_customers, replace=False))
    scale = n / len(idx)
    t = time.monotonic()
    rec = Recommender(model)
    t_init = time.monotonic() - t
    t = time.monotonic()
    rec.recommend_block(idx, 10)
    t_product = (time.monotonic() - t) * scale
    users, items = np.asarray(model.user_factors)[idx], np.asarray(model.item_factors)
    block = max(1, (1 << 22) // items.shape[0])
    t = time.monotonic()
    for s in range(0, len(idx), block):
        scores = users[s:s + block] @ items.T
        part = np.argpartition(-scores, 9, axis=1)[:, :10]
        np.take_along_axis(scores, part, axis=1).argsort(axis=1)
    t_numpy = (time.monotonic() - t) * scale
    return {"customers": n, "timed_customers": int(len(idx)), "products": int(items.shape[0]),
            "recommender_init_seconds": round(t_init, 3), "product_seconds": round(t_product, 3),
            "numpy_seconds": round(t_numpy, 3), "extrapolated": bool(scale > 1)}


def ratings_files(model_dir: Path, dest: Path) -> tuple[Path, Path]:
    """The model's ratings (purchases.npz: the matrix `train` fitted) as Parquet triples for
    default-Spark and as CSR npz for `implicit`."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    dest.mkdir(parents=True, exist_ok=True)
    with np.load(model_dir / "purchases.npz") as z:
        indptr, indices, data, shape = z["indptr"], z["indices"], z["data"], z["shape"]
    users = np.repeat(np.arange(shape[0], dtype=np.int32), np.diff(indptr))
    parquet = dest / "ratings.parquet"
    pq.write_table(pa.table({"user": users, "item": indices.astype(np.int32), "rating": data.astype(np.float32)}),
                   parquet)
    npz = dest / "ratings.npz"
    np.savez(npz, indptr=indptr, indices=indices, data=data.astype(np.float32), shape=shape)
    return parquet, npz


def run_size(name: str, args, hp: dict[str, Any]) -> dict[str, Any]:
    work = args.work / "train_speed"
    data = dataset(name, args.work)
    out: dict[str, Any] = {"size": name, "data": str(data.name), "data_bytes": data.stat().st_size,
                           "commit": common.git_commit(), "started": common.utc_now()}  # per size: partial runs
    if name in SIZES:
        out["rows"], out["generated_customers"], out["generated_products"] = SIZES[name]
    runs = [("train", {"eval_days": 0, "als_fits": 1}, {}),  # one ALS fit: the work the references do
            ("train_shipped", {}, {})]  # every setting default: what a user gets (the goal rows)
    if name in ("sample", "100k"):  # below 200k ratings the defaults fit 4 times (als_fits=0, auto)
        runs.append(("train_defaults", {"eval_days": 0}, {}))
    if name in ("1m", "10m"):  # on one host these sizes take the pandas data path: the Spark one too
        runs.append(("train_spark_path", {"eval_days": 0, "als_fits": 1}, {"ALSRECO_PANDAS_MAX_MB": "0"}))
    if args.smoke:
        runs = [("train", {"eval_days": 0, "max_itter": 1}, {})]
    for label, extra, env in runs:
        base = common.make_opt_ml(work / f"{name}-{label}", [data], extra)
        say(f"{name}: {label} ...")
        res = common.run_train(base, env)
        fits = res["als_fits"]
        final = fits[-1] if fits else {}
        res["final_fit_seconds_per_iteration"] = round(final["seconds"] / final["iterations"], 3) if final else None
        res["ratings"], res["customers"], res["products"] = final.get("ratings"), final.get("customers"), \
            final.get("products")
        say(f"{name}: {label} {res['wall_seconds']:.1f}s wall, peak {res['peak_rss_mb']:.0f} MB, "
            f"fits {[f['seconds'] for f in fits]}, load {res['loadavg_after']}")
        out[label] = res
    model_dir = work / f"{name}-train" / "model"
    out["batch_scoring"] = batch_scoring(model_dir)
    say(f"{name}: batch scoring {out['batch_scoring']}")

    settings = {"rank": hp["als_rank"], "iterations": 1 if args.smoke else hp["max_itter"],
                "reg_param": hp["reg_param"], "alpha": hp["alpha"], "implicit_prefs": hp["implicit_prefs"],
                "seed": hp["seed"]}
    from alsreco.train.spark import resources
    settings["driver_memory"] = f"{max(1024, int(resources.memory_limit_bytes() * 0.6 / common.MB))}m"
    parquet, npz = ratings_files(model_dir, work / f"{name}-ratings")
    for label, flag, src in (("pyspark_pipeline", "", data), ("default_spark", "--spark-default-worker", parquet),
                             ("implicit", "--implicit-worker", npz)):
        if label == "implicit":
            try:
                import implicit  # noqa: F401
            except ImportError:
                out[label] = {"skipped": "implicit is not installed (pip install -r requirements-bench.txt)"}
                continue
        log = work / f"{name}-{label}.log"
        module = ["benchmarks.pyspark_pipeline"] if label == "pyspark_pipeline" else ["benchmarks.train_speed", flag]
        cmd = [sys.executable, "-m", *module, str(src), str(work / f"{name}-{label}-out"), json.dumps(settings)]
        say(f"{name}: {label} ...")
        env = {"OPENBLAS_NUM_THREADS": "1", "SPARK_LOCAL_IP": "127.0.0.1"}
        res = procs.run_tracked(cmd, env, log, cwd=common.REPO)
        if res["exit_code"] != 0:  # keep what was measured; say why this one has no number
            text = log.read_text(errors="replace")
            why = next((ln.strip() for ln in text.splitlines() if "Error" in ln or "Exception" in ln), "see log")
            res["failed"] = f"exit code {res['exit_code']}: {why[:300]}"
            say(f"{name}: {label} FAILED: {res['failed']}")
            out[label] = res
            continue
        res.update(_result_line(log))
        if "fit_seconds" in res:
            res["fit_seconds_per_iteration"] = round(res["fit_seconds"] / settings["iterations"], 3)
        say(f"{name}: {label} {res['wall_seconds']:.1f}s wall, peak {res['peak_rss_mb']:.0f} MB, "
            f"fit {res.get('fit_seconds')}s, load {res['loadavg_after']}")
        out[label] = res
    out["settings"] = settings
    t = out["train"]["wall_seconds"]
    d = None if out["default_spark"].get("failed") else out["default_spark"]["wall_seconds"]
    out["ratio_train_to_default_spark"] = round(t / d, 3) if d else None
    pipe = None if out["pyspark_pipeline"].get("failed") else out["pyspark_pipeline"]["wall_seconds"]
    out["ratio_train_to_pipeline"] = round(t / pipe, 3) if pipe else None
    goals = []
    if "shipped_seconds_max" in GOALS.get(name, {}) and "train_shipped" in out:
        goal, shipped = GOALS[name]["shipped_seconds_max"], out["train_shipped"]["wall_seconds"]
        goals.append({"shipped_seconds_max": goal, "measured": shipped, "met": shipped <= goal})
    if "train_seconds_max" in GOALS.get(name, {}):
        goal = GOALS[name]["train_seconds_max"]
        goals.append({"train_seconds_max": goal, "measured": t, "met": t <= goal})
    if pipe and not args.smoke:
        goals.append({"ratio_to_pipeline_max": RATIO_TO_PIPELINE_MAX, "measured": out["ratio_train_to_pipeline"],
                      "met": out["ratio_train_to_pipeline"] <= RATIO_TO_PIPELINE_MAX})
    out["goals"] = goals
    return out


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] in ("--spark-default-worker", "--implicit-worker"):
        worker = spark_default_worker if sys.argv[1] == "--spark-default-worker" else implicit_worker
        worker(Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4]))
        return 0
    ap = common.arg_parser(__doc__)
    ap.add_argument("--sizes", default=os.environ.get("BENCH_SIZES") or DEFAULT_SIZES,
                    help=f"comma-separated among sample, {', '.join(s for s in SIZES if s != 'smoke')} "
                         f"(env BENCH_SIZES; default {DEFAULT_SIZES})")
    args = ap.parse_args(argv)
    sizes = ["smoke"] if args.smoke else [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s != "sample" and s not in SIZES]
    if unknown:
        ap.error(f"unknown size(s) {unknown}")
    hp = common.hp_defaults()
    name = "train_speed-smoke" if args.smoke else "train_speed"
    previous, previous_commit = {}, ""
    prev_path = args.results / f"{name}.json"
    if prev_path.is_file() and not args.smoke:  # keep sizes measured by an earlier partial run
        prev = json.loads(prev_path.read_text())
        previous, previous_commit = {r["size"]: r for r in prev.get("sizes", [])}, prev.get("commit", "")
    started = time.monotonic()
    results = []
    for size in sizes:
        results.append(run_size(size, args, hp))
        merged = {**previous, **{r["size"]: r for r in results}}
        order = ["sample", "smoke", "100k", "1m", "10m"]
        older = previous_commit if set(merged) - {r["size"] for r in results} else ""
        payload = {"smoke": args.smoke, "defaults": common.model_settings(hp),
                   # the file's commit is its oldest size's: a partial run does not make older sizes current
                   "commit": common.oldest_commit([r.get("commit") or older for r in merged.values()]),
                   "goals": {**GOALS, "ratio_to_pipeline_max": RATIO_TO_PIPELINE_MAX},
                   "reference": REFERENCE, "sizes_run_now": sizes,
                   "sizes": sorted(merged.values(), key=lambda r: order.index(r["size"])),
                   "seconds": round(time.monotonic() - started, 1)}
        common.write_result(args.results, name, payload)  # after every size: a long run keeps what it has
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
