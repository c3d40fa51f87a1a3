"""`batch.py` on the Spark executors: recommendations.csv scored where the cores are.

On the job's own multi-host cluster the leader's cores are a fraction of the cluster's, so the
top-N of every customer is computed by executor tasks instead: the leader broadcasts what every
task needs once (item factors, the model's default rules resolved to product indices, product
ids) and cuts the customers into contiguous slices, each with its own factor rows and purchase
rows (numpy arrays, no object per customer). A task scores its slice with the same `BlockRanker`
blocks (cells-bounded, vectorised masking, one `top_k` per block) and turns each block into CSV
text with the same `BlockWriter`; the text streams back to the leader slice by slice in customer
order (`toLocalIterator`: one slice's text in the leader's memory at a time) and lands in one
recommendations.csv, byte for byte the file `batch.write_recommendations` writes on the leader.

Only for the job's own cluster: its executors run this image, so they import this package. An
attached cluster (SPARK_MASTER) may not have it installed, so there the leader scores.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..core.artifact import Model, Purchases
from ..core.recommender import Recommender
from ..core.scoring import BLOCK_CELLS, BlockRanker
from .batch import HEADER, BlockWriter, write_csv_blocks

log = logging.getLogger("alsreco.train")
SLICES_PER_CORE = 4  # several slices per core: tasks finish close together, text streams back steadily
MIN_SLICE_CUSTOMERS = 1000


@dataclass
class Shared:
    """What every task needs, broadcast once."""

    item_factors: np.ndarray
    product_ids: np.ndarray
    n: int
    blocked: np.ndarray
    forced: np.ndarray
    new: np.ndarray
    include_new: int
    exclude_purchased: bool
    cells: int
    group: int
    bias: np.ndarray | None = None  # the trend blend per product (core/trends.py), None = no blend


@dataclass
class Slice:
    """A contiguous range of the model's customers: their ids, factor rows and purchase rows (CSR)."""

    customer_ids: np.ndarray
    user_factors: np.ndarray
    indptr: np.ndarray  # from 0
    indices: np.ndarray


def write_recommendations(spark, model: Model, path: Path, cells: int = BLOCK_CELLS,
                          slices: int | None = None) -> int:
    """Top `reco_item` for every customer with the model's default rules, scored by executor tasks
    (one thread each: the tasks share a host's cores); returns the rows written (under a temporary
    name, renamed when complete)."""
    from pyspark import StorageLevel

    started = time.monotonic()
    hp = model.metadata.get("hyperparameters", {})
    rec = Recommender(model)
    plan = rec.plan(rec.batch_rules())  # a batch_filter's part on product attributes is in plan.blocked
    if plan.dynamic:
        raise ValueError("a batch_filter on Purchases.* is scored on the leader (batch.write_recommendations)")
    shared = Shared(np.asarray(model.item_factors, dtype=np.float32), np.asarray(model.product_ids),
                    int(hp.get("reco_item", 10)), plan.blocked, plan.forced, plan.new, plan.include_new,
                    plan.exclude_purchased, cells, int(hp.get("group_size", 10000)), rec.bias(None))
    sc = spark.sparkContext
    parts = cut(len(model.customer_ids), slices or sc.defaultParallelism * SLICES_PER_CORE)
    broadcast = sc.broadcast(shared)
    scored = None
    try:
        rdd = sc.parallelize([_slice(model, a, b) for a, b in parts], len(parts)) if parts else sc.emptyRDD()
        # every slice at once on every executor core, kept on the executors; then streamed back
        # in order (toLocalIterator alone would run one slice at a time)
        scored = rdd.flatMap(lambda one: score_slice(broadcast.value, one)).persist(StorageLevel.MEMORY_AND_DISK)
        scored.count()
        rows = write_csv_blocks(path, HEADER, scored.toLocalIterator())
    finally:
        if scored is not None:
            scored.unpersist()
        broadcast.unpersist()
    log.info("recommendations: %d rows for %d customers scored by executor tasks (%d slices) in %.1fs -> %s",
             rows, len(model.customer_ids), len(parts), time.monotonic() - started, path)
    return rows


def cut(customers: int, slices: int) -> list[tuple[int, int]]:
    """Contiguous [start, stop) ranges covering the customers: `slices` of them, fewer when a slice
    would hold under MIN_SLICE_CUSTOMERS."""
    slices = max(1, min(int(slices), -(-customers // MIN_SLICE_CUSTOMERS)))
    bounds = np.linspace(0, customers, slices + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _slice(model: Model, a: int, b: int) -> Slice:
    p = model.purchases
    lo, hi = int(p.indptr[a]), int(p.indptr[b])
    return Slice(np.asarray(model.customer_ids[a:b]), np.asarray(model.user_factors[a:b], dtype=np.float32),
                 np.asarray(p.indptr[a:b + 1], dtype=np.int64) - lo, np.asarray(p.indices[lo:hi], dtype=np.int32))


def score_slice(shared: Shared, s: Slice) -> Iterator[tuple[bytes, int]]:
    """(CSV text, rows) per block of one slice, in customer order (runs in an executor task)."""
    n = len(s.customer_ids)
    bought = Purchases(s.indptr, s.indices, np.ones(len(s.indices), dtype=np.float32),
                       (n, len(shared.item_factors)))
    ranker = BlockRanker(s.user_factors, shared.item_factors, bought, shared.n, blocked=shared.blocked,
                         forced=shared.forced, new=shared.new, include_new=shared.include_new,
                         exclude_purchased=shared.exclude_purchased, cells=shared.cells, max_rows=shared.group,
                         bias=shared.bias)
    writer = BlockWriter(s.customer_ids, shared.product_ids)
    for chunk in ranker.blocks(np.arange(n)):
        ranked = ranker.rank(chunk)
        yield writer.lines(ranked).to_pybytes(), len(ranked)
