"""Similar products ("related items"): cosine similarity over the ALS item factors, vectorised.

    sim(i, j) = y_i · y_j / (|y_i| |y_j|)

The item factors are normalised once (float32, `unit_rows`); a block of products is then scored
against the whole catalogue with one matrix product, the product itself is masked, and one
`top_k` (core/topk.py) cuts the block: ties go to the lower product index, so lists never depend
on memory order. A product whose factor is all zeros has similarity 0 with everything.

Serving (`Recommender`, with the business rules) and `train` (similar_items.csv, no rules) both
score with `unit_rows` + one matrix product, so their lists agree under the default rules — up to
the order of products whose similarities are equal within float32 noise (collinear factors: the
long tail bought by a single customer gets factors that differ only in length), which BLAS may
round differently in blocks of different sizes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .scoring import BLOCK_CELLS, block_rows
from .topk import top_k


def unit_rows(factors: np.ndarray) -> np.ndarray:
    """`factors` with every row scaled to length 1 (float32, C order); zero rows stay zero."""
    f = np.asarray(factors, dtype=np.float32)
    norms = np.linalg.norm(f.astype(np.float64), axis=1)
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return np.ascontiguousarray(f * scale[:, None].astype(np.float32))


@dataclass
class SimilarBlock:
    """The top-n similar products of a block of products, best first."""

    products: np.ndarray  # int64 (rows,): the products asked about
    similar: np.ndarray  # int64 (rows, n): product indices
    scores: np.ndarray  # float32 (rows, n): cosine similarity
    valid: np.ndarray  # bool (rows, n): False past the end of a short list (catalogue smaller than n + 1)


class SimilarRanker:
    """Top-`n` similar products for blocks of products, at most `cells` scores per block."""

    def __init__(self, item_factors: np.ndarray, n: int, cells: int = BLOCK_CELLS, max_rows: int | None = None,
                 unit: np.ndarray | None = None, threads: int = 1):
        self.threads = threads  # for `top_k` over a block
        self.unit = unit_rows(item_factors) if unit is None else unit
        self.n = max(0, int(n))
        self.rows = block_rows(len(self.unit), self.n, cells, max_rows)
        self._buf: np.ndarray | None = None

    def blocks(self, products: np.ndarray | None = None) -> Iterator[np.ndarray]:
        products = np.arange(len(self.unit)) if products is None else np.asarray(products, dtype=np.int64)
        for start in range(0, len(products), self.rows):
            yield products[start:start + self.rows]

    def rank(self, chunk: np.ndarray) -> SimilarBlock:
        chunk = np.asarray(chunk, dtype=np.int64)
        rows = len(chunk)
        if self._buf is None or self._buf.shape[0] < rows:  # the first block is the largest
            self._buf = np.empty((rows, len(self.unit)), dtype=np.float32)
        keys = self._buf[:rows]
        np.matmul(self.unit[chunk], self.unit.T, out=keys)  # the same product as `Recommender` serves
        keys[np.arange(rows), chunk] = -np.inf  # a product is never similar to itself
        idx, valid = top_k(keys, self.n, self.threads)
        return SimilarBlock(chunk, idx, np.take_along_axis(keys, idx, axis=1), valid)
