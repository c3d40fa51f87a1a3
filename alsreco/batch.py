"""Batch recommendations for every known customer, streamed to CSV block by block."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .artifact import Model
from .recommender import Recommender

HEADER = ("customer_id", "rank", "product_id", "score", "reason")


def write_recommendations(model: Model, path: Path) -> int:
    """Top `reco_item` for every customer with the model's default rules; returns rows written.

    Customers are scored `group_size` at a time so memory stays bounded; the file is written
    under a temporary name and renamed when complete.
    """
    hp = model.metadata.get("hyperparameters", {})
    n, block = int(hp.get("reco_item", 10)), int(hp.get("group_size", 10000))
    recommender = Recommender(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    rows = 0
    with open(tmp, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for start in range(0, len(model.customer_ids), block):
            idx = np.arange(start, min(start + block, len(model.customer_ids)))
            for cust, recs in zip(idx, recommender.recommend_block(idx, n)):
                cid = model.customer_ids[cust]
                for rank, rec in enumerate(recs, 1):
                    out.writerow((cid, rank, rec.product_id, f"{rec.score:.6f}", rec.reason))
                    rows += 1
    os.replace(tmp, path)
    return rows
