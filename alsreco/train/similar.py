"""similar_items.csv: the top-N most similar products of every product, streamed block by block.

    product_id,rank,similar_product_id,score

N is `reco_item`; the score is the cosine similarity of the ALS item factors; a product is never
in its own list; no business rules (they are per request: `serve` applies them to `item_id`
requests, and with the default rules exclude_popular = include_new = 0 it answers the same lists,
up to the order of similarities tied within float32 noise; see core/similar.py).
Scoring is `core/similar.py`'s `SimilarRanker`: blocks of at most `cells` scores and `group_size`
products, one float32 matrix product and one `top_k` each. Each block becomes CSV text with the
batch writer's pyarrow technique (train/batch.py: ids converted and quoted once, scores formatted
from integers, the block written as one buffer): no Python object per output row. Written under
a temporary name and renamed when complete.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.artifact import Model
from ..core.scoring import BLOCK_CELLS
from ..core.similar import SimilarBlock, SimilarRanker
from .batch import EOL, concatenated, csv_fields, format_scores, write_csv_blocks
from .ticker import Ticker

log = logging.getLogger("alsreco.train")
HEADER = ("product_id", "rank", "similar_product_id", "score")


def write_similar_items(model: Model, path: Path, cells: int = BLOCK_CELLS, threads: int = 1) -> int:
    """Top `reco_item` similar products for every product (each block's top-k on `threads`
    threads); returns the rows written."""
    hp = model.metadata.get("hyperparameters", {})
    n, group = int(hp.get("reco_item", 10)), int(hp.get("group_size", 10000))
    ranker = SimilarRanker(model.item_factors, n, cells=cells, max_rows=group, threads=threads)
    products = csv_fields(model.product_ids)
    ticker = Ticker("similar products", len(model.product_ids), "products")

    def blocks() -> Iterator[tuple[pa.Buffer, int]]:
        done = 0
        for chunk in ranker.blocks():
            block = ranker.rank(chunk)
            yield _lines(block, products), int(block.valid.sum())
            done += len(block.products)
            ticker.tick(done)

    rows = write_csv_blocks(path, HEADER, blocks())
    log.info("similar products: %d rows for %d products in %.1fs -> %s", rows, len(model.product_ids),
             ticker.seconds(), path)
    return rows


def _lines(block: SimilarBlock, products: pa.StringArray) -> pa.Buffer:
    valid = block.valid
    if not valid.any():
        return pa.py_buffer(b"")
    source = np.broadcast_to(block.products[:, None], valid.shape)[valid]
    rank = np.cumsum(valid, axis=1)[valid]  # valid entries are a prefix of each row
    text = pc.binary_join_element_wise(
        products.take(pa.array(source)), ",",
        pc.cast(pa.array(rank), pa.string()), ",",
        products.take(pa.array(block.similar[valid])), ",",
        format_scores(block.scores[valid]), EOL, "")
    return concatenated(text)
