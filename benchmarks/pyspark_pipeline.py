"""The plain-PySpark pipeline issue 12 measures `train` against: what a data scientist would write by hand.

    python -m benchmarks.pyspark_pipeline SALES.csv OUT_DIR '{"rank": 16, ...}'

Spark CSV read (header, string columns) -> clean (customer present, quantity > 0, invoice not a
C-cancellation, like `train`'s rules) -> groupBy(customer, product).count() as the rating (`train`'s
default `ranking_type=count`) -> StringIndexer ids -> ALS with the same rank / iterations / alpha /
reg_param -> `recommendForAllUsers(10)` -> one CSV (customer_id, rank, product_id, score). Spark's
defaults otherwise, plus a checkpoint directory (ALS overflows the JVM stack without one at 10M
ratings x 15 iterations). Prints `RESULT {json}` with the time of each step.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def run(csv: Path, out: Path, settings: dict[str, Any]) -> dict[str, Any]:
    from pyspark.ml.feature import StringIndexer
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    marks = {"start": time.monotonic()}
    spark = (SparkSession.builder.master("local[*]").appName("plain-pyspark-pipeline")
             .config("spark.driver.memory", settings["driver_memory"]).getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(out / "checkpoints"))
    marks["session"] = time.monotonic()
    raw = spark.read.option("header", True).csv(str(csv))
    clean = raw.where(F.col("CustomerID").isNotNull() & (F.trim("CustomerID") != "")
                      & (F.col("Quantity").cast("double") > 0) & ~F.col("InvoiceNo").startswith("C"))
    counts = clean.groupBy("CustomerID", "StockCode").agg(F.count("*").cast("float").alias("rating"))
    users = StringIndexer(inputCol="CustomerID", outputCol="user_d").fit(counts)
    items = StringIndexer(inputCol="StockCode", outputCol="item_d").fit(counts)
    ratings = (items.transform(users.transform(counts))
               .select(F.col("user_d").cast("int").alias("user"), F.col("item_d").cast("int").alias("item"),
                       "rating").cache())
    n_ratings = ratings.count()
    marks["ratings"] = time.monotonic()
    als = ALS(rank=settings["rank"], maxIter=settings["iterations"], regParam=settings["reg_param"],
              implicitPrefs=settings["implicit_prefs"], alpha=settings["alpha"], seed=settings["seed"],
              userCol="user", itemCol="item", ratingCol="rating")
    model = als.fit(ratings)
    marks["fit"] = time.monotonic()
    user_ids = spark.createDataFrame(list(enumerate(users.labels)), "user int, customer_id string")
    item_ids = spark.createDataFrame(list(enumerate(items.labels)), "item int, product_id string")
    recs = (model.recommendForAllUsers(10)
            .select("user", F.posexplode("recommendations").alias("pos", "rec"))
            .select("user", (F.col("pos") + 1).alias("rank"), F.col("rec.item").alias("item"),
                    F.col("rec.rating").alias("score"))
            .join(user_ids, "user").join(item_ids, "item")
            .select("customer_id", "rank", "product_id", "score"))
    recs.coalesce(1).write.mode("overwrite").option("header", True).csv(str(out / "recommendations"))
    marks["recommendations"] = time.monotonic()
    shape = {"ratings": n_ratings, "customers": len(users.labels), "products": len(items.labels)}
    spark.stop()
    steps = ("session", "ratings", "fit", "recommendations")
    seconds = {f"{step}_seconds": round(marks[step] - marks[prev], 2)
               for prev, step in zip(("start",) + steps, steps)}
    return {**seconds, **shape}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        raise SystemExit("usage: python -m benchmarks.pyspark_pipeline SALES.csv OUT_DIR SETTINGS_JSON")
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    print("RESULT " + json.dumps(run(Path(argv[0]), out, json.loads(argv[2]))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
