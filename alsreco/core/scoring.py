"""Top-N for blocks of known customers, vectorised: batch recommendations and evaluation.

The same rules and precedence as `Recommender` (see recommender.py), as arrays: a block of
customers is one float32 matrix product over the products still in the pool, one
fancy-index assignment masks what they bought, the new products are a top-m over their
columns, and the rest is one `top_k` — no per-customer Python, no object per output row.

A block holds at most `cells` scores (customers x pool products), so memory is bounded
whatever the catalogue size; the score buffer is allocated once and reused.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .artifact import Purchases
from .topk import top_k

REASONS = ("model", "new_product", "forced", "popular")
MODEL, NEW_PRODUCT, FORCED, POPULAR = range(4)
BLOCK_CELLS = 1 << 24  # scores per block: 64 MB of float32
BLOCK_LINES = 1 << 20  # output rows per block (bounds the result arrays when N is large)


def block_rows(cols: int, per_row: int = 1, cells: int = BLOCK_CELLS, max_rows: int | None = None) -> int:
    """Customers per block: at most `cells` scores and `BLOCK_LINES` results, and `max_rows`."""
    rows = min(cells // max(1, cols), BLOCK_LINES // max(1, per_row))
    if max_rows:
        rows = min(rows, int(max_rows))
    return max(1, rows)


@dataclass
class Ranked:
    """One block's recommendations, one entry per output row, in customer order then rank."""

    customers: np.ndarray  # int64 model index of the customer
    rank: np.ndarray  # int64, 1-based
    products: np.ndarray  # int64 product index
    scores: np.ndarray  # float32 predicted score
    reasons: np.ndarray  # uint8 index into REASONS

    def __len__(self) -> int:
        return len(self.products)


class BlockRanker:
    """Top-`n` of known customers under one resolved rule set.

    `blocked` (bool per product) is out of the pool; `forced` come first in the given order
    (whatever the pool); then up to `include_new` of `new` (in the pool, not forced; ties by
    their order in `new`), best first; then the best-scoring pool products. With
    `exclude_purchased`, what a customer bought (`purchases`) is never picked except when forced.
    `bias` (float per product, e.g. the trend blend's weight x signal, core/trends.py) is added to
    every customer's scores: the lists and the scores they report are those of the sum.
    """

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray, purchases: Purchases | None,
                 n: int, *, blocked: np.ndarray | None = None, forced: np.ndarray | None = None,
                 new: np.ndarray | None = None, include_new: int = 0, exclude_purchased: bool = True,
                 reason: int = MODEL, cells: int = BLOCK_CELLS, max_rows: int | None = None,
                 threads: int = 1, bias: np.ndarray | None = None,
                 row_removed: Callable[[np.ndarray], np.ndarray] | None = None):
        n_products = len(item_factors)
        self.row_removed = row_removed  # customers -> rows x products never listed (filters on purchases)
        self.threads = threads  # for `top_k` over a block (batch writers: the host's cores)
        self.n = max(0, int(n))
        self.users = user_factors
        self.purchases = purchases if exclude_purchased else None
        self.reason = reason
        self._forced_all = np.asarray([] if forced is None else forced, dtype=np.int64)
        self._include_new = max(0, int(include_new))
        self.forced = self._forced_all[:self.n]
        pool = np.ones(n_products, dtype=bool) if blocked is None else ~np.asarray(blocked, dtype=bool)
        pool[self.forced] = False
        self.columns = np.flatnonzero(pool)  # product per score column, ascending: ties by product index
        self.column_of = np.full(n_products, -1, dtype=np.int64)
        self.column_of[self.columns] = np.arange(len(self.columns))
        items = np.asarray(item_factors, dtype=np.float32)
        # every product in the pool: the factors as they are (a transposed view, no copy: a multi-model
        # worker keeps one ranker per model); else the pool's columns, copied contiguous
        self.items_t = items.T if len(self.columns) == n_products else np.ascontiguousarray(items[self.columns].T)
        self.forced_t = np.ascontiguousarray(np.asarray(item_factors, dtype=np.float32)[self.forced].T)
        bias = None if bias is None else np.asarray(bias, dtype=np.float32)
        self.bias = None if bias is None else bias[self.columns]  # per score column
        self.forced_bias = None if bias is None else bias[self.forced]
        new_cols = self.column_of[np.asarray([] if new is None else new, dtype=np.int64)]
        self.new_columns = new_cols[new_cols >= 0]
        self.n_model = self.n - len(self.forced)
        self.n_new = min(max(0, int(include_new)), self.n_model) if len(self.new_columns) else 0
        self.cells, self.max_rows = cells, max_rows
        self.rows = block_rows(len(self.columns), self.n, cells, max_rows)
        self._buf: np.ndarray | None = None

    def for_n(self, n: int) -> "BlockRanker | None":
        """This ranker for lists of `n`, sharing its pool arrays (the factor copy is the costly part), or
        None when the forced products do not all fit both lengths (the pool then differs: build anew)."""
        n = max(0, int(n))
        if len(self._forced_all) > min(n, self.n):
            return None
        other = copy.copy(self)
        other.n, other.n_model = n, n - len(self.forced)
        other.n_new = min(self._include_new, other.n_model) if len(self.new_columns) else 0
        other.rows = block_rows(len(self.columns), n, self.cells, self.max_rows)
        other._buf = None
        return other

    def blocks(self, customers: np.ndarray) -> Iterator[np.ndarray]:
        customers = np.asarray(customers, dtype=np.int64)
        for start in range(0, len(customers), self.rows):
            yield customers[start:start + self.rows]

    def rank(self, chunk: np.ndarray) -> Ranked:
        """The block's recommendations as flat arrays (see `Ranked`)."""
        chunk = np.asarray(chunk, dtype=np.int64)
        products, scores, valid, reasons = self._picks(chunk)
        rank = np.cumsum(valid, axis=1)
        return Ranked(np.broadcast_to(chunk[:, None], valid.shape)[valid], rank[valid],
                      products[valid], scores[valid], reasons[valid])

    def top(self, chunk: np.ndarray) -> np.ndarray:
        """rows x n product indices, best first, -1 after the end of a short list."""
        products, _, valid, _ = self._picks(np.asarray(chunk, dtype=np.int64))
        order = np.argsort(~valid, axis=1, kind="stable")  # valid entries first, in list order
        out = np.where(np.take_along_axis(valid, order, axis=1), np.take_along_axis(products, order, axis=1), -1)
        return out[:, :self.n]

    def picks(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """rows x width (products, scores, valid, reasons) of a block, one row per customer in `chunk`, each
        row in list order (forced, new, model picks) with `valid` marking the entries that are listed."""
        return self._picks(np.asarray(chunk, dtype=np.int64))

    # ----------------------------------------------------------------- internals
    def _scores(self, chunk: np.ndarray) -> np.ndarray:
        rows = len(chunk)
        if self._buf is None or self._buf.shape[0] < rows:  # the first block is the largest
            self._buf = np.empty((rows, len(self.columns)), dtype=np.float32)
        keys = self._buf[:rows]
        users = np.asarray(self.users[chunk], dtype=np.float32)
        np.matmul(users, self.items_t, out=keys)
        if self.bias is not None:
            keys += self.bias
        if self.purchases is not None and rows == 1:  # one customer (a real-time request): no block index
            c = self.column_of[self.purchases.row(int(chunk[0]))]
            keys[0, c[c >= 0]] = -np.inf
        elif self.purchases is not None and rows:
            r, c = self.purchases.block_cells(chunk)
            c = self.column_of[c]
            keep = c >= 0
            keys[r[keep], c[keep]] = -np.inf
        if self.row_removed is not None and rows:
            keys[self.row_removed(chunk)[:, self.columns]] = -np.inf
        return keys

    def _picks(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """rows x width (products, scores, valid, reasons): forced, then new, then model picks."""
        rows = len(chunk)
        keys = self._scores(chunk)
        parts = []
        if len(self.forced):
            forced_scores = np.asarray(self.users[chunk], dtype=np.float32) @ self.forced_t
            if self.forced_bias is not None:
                forced_scores += self.forced_bias
            listed = np.ones(forced_scores.shape, dtype=bool) if self.row_removed is None else \
                ~self.row_removed(chunk)[:, self.forced]
            parts.append((np.broadcast_to(self.forced, forced_scores.shape), forced_scores, listed, FORCED))
        taken = np.zeros(rows, dtype=np.int64)
        if self.n_new:
            new_keys = keys[:, self.new_columns]
            idx, ok = top_k(new_keys, self.n_new, self.threads)
            cols = self.new_columns[idx]
            keys[np.broadcast_to(np.arange(rows)[:, None], idx.shape)[ok], cols[ok]] = -np.inf
            parts.append((self.columns[cols], np.take_along_axis(new_keys, idx, axis=1), ok, NEW_PRODUCT))
            taken = ok.sum(axis=1)
        idx, ok = top_k(keys, self.n_model, self.threads)
        if parts:
            ok &= np.arange(idx.shape[1]) < (self.n_model - taken)[:, None]
        picked = keys[np.arange(rows)[:, None], idx]
        if not parts:  # the model's picks only (no forced or new products): nothing to join
            return self.columns[idx], picked, ok, np.full(idx.shape, self.reason, dtype=np.uint8)
        parts.append((self.columns[idx], picked, ok, self.reason))
        return (np.concatenate([p[0] for p in parts], axis=1),
                np.concatenate([p[1] for p in parts], axis=1),
                np.concatenate([p[2] for p in parts], axis=1),
                np.concatenate([np.full(p[0].shape, p[3], dtype=np.uint8) for p in parts], axis=1))
