"""The common request, scored as arrays: known customers under the model's default rules.

Most real-time traffic asks for a known customer's top-k with nothing else (no basket, rules, filters,
promotion, exploration, fields, Trending-Now list or blend weight of its own). Those records are scored
together as one block by the model's `Recommender.ranker` - the vectorised scorer `train` writes
recommendations.csv with (core/scoring.py: one matrix product, one mask of what they bought, one top-k,
the same rules, precedence and trend blend) - and only the answer's edge becomes `Prediction` objects.
Every other record goes through `recommend_many`, and the answers come back in request order.

A ranker holds a copy of the item factors over its pool, so one is kept per model and thread and each
request uses a shallow copy of it for its k (`BlockRanker.for_n`), whose score buffer goes with the
request (a worker serving many models keeps no block-sized buffer per model).
"""
from __future__ import annotations

import threading
import weakref
from typing import Sequence

import numpy as np

from ..core.recommender import BLOCK_CELLS, BLOCK_ROWS
from ..core.rules import Prediction, Recommendation, Request, new_recommendation_id
from ..core.scoring import REASONS, BlockRanker

_local = threading.local()


def plain_index(rec, r) -> int | None:
    """The model index of `r`'s customer when `r` is a plain request (see the module docstring), else None."""
    if (not isinstance(r, Request) or r.customer_id is None or r.item_id is not None or r.items or r.trending
            or r.blend is not None or rec.rules_for(r) is not rec.default_rules or rec.cat.asks_more(r)):
        return None
    return rec.customer_index.get(r.customer_id)


class PlainRow:
    """One plain request's answer as lists (product indices, scores, reason indices), best first; it
    becomes a `Prediction` only where an output needs objects (CSV, serve/codecs/arrays.py)."""

    __slots__ = ("customer_id", "products", "scores", "reasons", "recommendation_id")
    known = True
    item_id = None
    fields: tuple[str, ...] = ()

    def __init__(self, customer_id: str, products: list, scores: list, reasons: list):
        self.customer_id, self.products, self.scores, self.reasons = customer_id, products, scores, reasons
        self.recommendation_id = new_recommendation_id()

    def prediction(self, rec) -> Prediction:
        ids, names = rec.product_ids, rec.product_names
        recs = [Recommendation(ids[i], round(v, 6), REASONS[why], names[i])
                for i, v, why in zip(self.products, self.scores, self.reasons)]
        return Prediction(self.customer_id, True, recs, recommendation_id=self.recommendation_id)


def recommend(rec, requests: Sequence[Request]) -> list:
    """Like `rec.recommend_many(requests)`, with the plain requests answered by `PlainRow`s."""
    index = [plain_index(rec, r) for r in requests]
    if not any(i is not None for i in index):
        return rec.recommend_many(requests)
    out: list = [None] * len(requests)
    rest = [p for p, i in enumerate(index) if i is None]
    if rest:
        for p, pred in zip(rest, rec.recommend_many([requests[p] for p in rest])):
            out[p] = pred
    by_k: dict[int, list[int]] = {}
    for p, i in enumerate(index):
        if i is not None:
            by_k.setdefault(rec.default_k if requests[p].k is None else int(requests[p].k), []).append(p)
    for k, positions in by_k.items():
        ranker = _ranker(rec, k)
        customers = np.asarray([index[p] for p in positions], dtype=np.int64)
        done = 0
        for chunk in ranker.blocks(customers):
            products, scores, valid, reasons = (a.tolist() for a in ranker.picks(chunk))
            for row in range(len(chunk)):
                p = positions[done + row]
                if all(valid[row]):
                    out[p] = PlainRow(requests[p].customer_id, products[row], scores[row], reasons[row])
                else:  # a short list (a small pool): the listed entries only
                    keep = valid[row]
                    out[p] = PlainRow(requests[p].customer_id, *([x for x, ok in zip(a[row], keep) if ok]
                                                                for a in (products, scores, reasons)))
            done += len(chunk)
    return out


def _ranker(rec, k: int) -> BlockRanker:
    """A ranker of `rec` for lists of `k`, sharing this thread's arrays for the model."""
    bases = getattr(_local, "bases", None)
    if bases is None:
        bases = _local.bases = weakref.WeakKeyDictionary()
    base = bases.get(rec)
    if base is None:
        base = bases[rec] = rec.ranker(k, cells=BLOCK_CELLS, max_rows=BLOCK_ROWS)
    return base.for_n(k) or rec.ranker(k, cells=BLOCK_CELLS, max_rows=BLOCK_ROWS)


def warm(rec) -> None:
    """Make this thread's ranker for `rec` now (a multi-model load measures what serving it allocates)."""
    _ranker(rec, rec.default_k)
