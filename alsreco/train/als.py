"""Fit Spark ALS on ratings; the model version, library versions and the model assembled from them."""
from __future__ import annotations

import datetime as _dt
import logging
import platform
import time
import uuid
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..core.artifact import Model
from . import ratings as ratings_mod
from .ratings import Ratings
from .spark import frames, progress

log = logging.getLogger(__name__)
SEED_STRIDE = 1_000_003  # fit k of als_fits uses seed + k * SEED_STRIDE: runs with nearby seeds share no fit
AUTO_FITS, AUTO_FITS_BELOW = 4, 200_000  # als_fits=0: 4 fits below 200k ratings (benchmarks/RESULTS.md), else 1
LARGE_DATA_RATINGS = 1_000_000
# blocks per side on large data: one per RATINGS_PER_BLOCK ratings, at least one per core, at most
# MAX_AUTO_BLOCKS. Measured on 2 cores (rank 16, 15 iterations, a fresh JVM each): 4M ratings fit in
# 32 s with 2 blocks, 38 s with 4, 52 s with 10; 10M ratings in 61 s with 10 blocks, 96 s with 2
RATINGS_PER_BLOCK, MAX_AUTO_BLOCKS = 2_000_000, 10


def fit(spark, ratings: Ratings, hp: dict[str, Any], frame=None) -> tuple[np.ndarray, np.ndarray]:
    """Fit ALS on `ratings`; return float32 user and item factors aligned with the rating indices.
    `frame`: the same ratings already in Spark (user int, item int, rating float; the Spark data path).

    With `als_fits` = n > 1, n fits with seeds seed + k * SEED_STRIDE run at once (one thread each, so
    their small Spark jobs overlap) and their factors are stored side by side, each scaled by
    1/sqrt(n): a customer's score for a product is then the mean of the n fits' scores."""
    if frame is None:
        frame = frames.ratings(spark, ratings.user, ratings.item, ratings.rating)
    n = fits_for(hp, len(ratings.rating))
    blocks = hp["num_blocks"] or auto_blocks(len(ratings.rating), spark.sparkContext.defaultParallelism, n)
    started = time.monotonic()
    jobs = progress.als_jobs(hp["max_itter"], hp["implicit_prefs"], hp["checkpoint_interval"])
    what = f"ALS fit (rank {hp['als_rank']}, {hp['max_itter']} iterations" + (f", {n} fits)" if n > 1 else ")")
    with progress.logged(spark, what, expected_jobs=jobs and jobs * n, iterations=hp["max_itter"]):
        if n == 1:
            factors = [_fit_one(frame, ratings, hp, member_seed(hp, 0), blocks)]
        else:
            factors = _fit_many(frame, ratings, hp, blocks, n)
    users, items = combine(factors)
    log.info("ALS fit: %d customers x %d products, %d ratings, rank %d, %d iterations%s in %.1fs",
             ratings.shape[0], ratings.shape[1], len(ratings.rating), hp["als_rank"], hp["max_itter"],
             f", {n} fits (seeds {', '.join(str(member_seed(hp, k)) for k in range(n))})" if n > 1 else "",
             time.monotonic() - started)
    return users, items


def fits_for(hp: dict[str, Any], n_ratings: int) -> int:
    """`als_fits`, or for 0 (auto) AUTO_FITS on small data, where one fit takes seconds, its Spark jobs
    are too small to fill the cores (so fits at once overlap) and the random initialisation moves the
    result most; one fit on larger data, where each fit's work counts."""
    n = int(hp.get("als_fits", 1))
    return n if n > 0 else AUTO_FITS if n_ratings < AUTO_FITS_BELOW else 1


def member_seed(hp: dict[str, Any], k: int) -> int:
    return int(hp["seed"]) + k * SEED_STRIDE


def _fit_one(frame, ratings: Ratings, hp: dict[str, Any], seed: int, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    from pyspark.ml.recommendation import ALS

    als = ALS(rank=hp["als_rank"], maxIter=hp["max_itter"], regParam=hp["reg_param"],
              implicitPrefs=hp["implicit_prefs"], alpha=hp["alpha"], nonnegative=hp["nonnegative"],
              seed=seed, numUserBlocks=blocks, numItemBlocks=blocks,
              checkpointInterval=hp["checkpoint_interval"], userCol="user", itemCol="item",
              ratingCol="rating", coldStartStrategy="drop")
    model = als.fit(frame)
    return (_collect(model.userFactors, ratings.shape[0], hp["als_rank"]),
            _collect(model.itemFactors, ratings.shape[1], hp["als_rank"]))


def _fit_many(frame, ratings: Ratings, hp: dict[str, Any], blocks: int, n: int) -> list:
    """n fits at once, each in a thread that inherits this thread's Spark job group (progress, cancel)."""
    from pyspark import InheritableThread, StorageLevel

    own = not frame.is_cached
    if own:
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)  # read by every fit
    out: list = [None] * n
    errors: list[BaseException] = []

    def one(k: int) -> None:
        try:
            out[k] = _fit_one(frame, ratings, hp, member_seed(hp, k), blocks)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread below
            errors.append(exc)

    threads = [InheritableThread(target=one, args=(k,), name=f"als-fit-{k}", daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    finally:
        if own and not errors and all(not t.is_alive() for t in threads):
            frame.unpersist()
    if errors:
        raise errors[0]
    return out


def combine(factors: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One fit's factors as they are; several side by side, each scaled by 1/sqrt(n) so that a dot
    product is the mean of the fits' dot products."""
    if len(factors) == 1:
        return factors[0]
    scale = np.float32(1.0 / np.sqrt(len(factors)))
    return (np.hstack([u for u, _ in factors]) * scale, np.hstack([v for _, v in factors]) * scale)


def auto_blocks(n_ratings: int, parallelism: int, fits: int = 1) -> int:
    """Few blocks on small data (less per-stage overhead): one per core, shared by the fits that run
    at once (4 fits of the sample on 2 cores: 1 block each fit in 14.7 s, 2 blocks in 16.9 s); on
    large data one per full RATINGS_PER_BLOCK ratings (up to Spark's default 10), and at least one per
    core (a cluster's cores all work)."""
    if n_ratings < LARGE_DATA_RATINGS:
        return max(1, parallelism // max(1, fits))
    return max(parallelism, min(MAX_AUTO_BLOCKS, n_ratings // RATINGS_PER_BLOCK))


def _collect(factors, n: int, rank: int) -> np.ndarray:
    pdf = factors.toPandas()
    out = np.zeros((n, rank), dtype=np.float32)
    if len(pdf):
        out[pdf["id"].to_numpy()] = np.stack(pdf["features"].to_numpy()).astype(np.float32)
    return out


def model_version(now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def library_versions(spark) -> dict[str, str]:
    import pyspark
    return {"alsreco": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "pyspark": pyspark.__version__, "spark": spark.version}


def assemble(r: Ratings, cat: ratings_mod.Catalogue, users: np.ndarray, items: np.ndarray,
             metadata: dict[str, Any]) -> Model:
    return Model(
        customer_ids=r.customer_ids, product_ids=r.product_ids, product_names=cat.product_names,
        user_factors=users, item_factors=items, purchases=r.purchases(),
        product_popularity=cat.product_popularity, product_first_seen=cat.product_first_seen,
        customer_first_seen=cat.customer_first_seen, new_products=cat.new_products,
        new_customers=cat.new_customers, metadata=metadata,
        product_recent=cat.trends.recent, product_trending=cat.trends.trending,
    )
