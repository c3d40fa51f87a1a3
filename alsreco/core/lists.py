"""A block of rows' lists from their keys, with the rules' precedence (core/recommender.py): blocked and
masked products out, forced first, then up to `include_new` new products, then the best keys; then a
request's promotion and exploration slots (core/slots.py, through `arrange`)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .rules import Plan, Recommendation, removed_at
from .topk import top_k_lists, top_k_where

Arrange = Callable[[int, list[int], list[str], int, np.ndarray], tuple[list[int], list[str], tuple[str, ...]]]


def pick(keys: np.ndarray, shown: np.ndarray, masked: list[np.ndarray], plan: Plan, n: int, kind: str,
         drop: list[int] | None, ids: list[str], names: list[str], gone: np.ndarray | None = None,
         arrange: Arrange | None = None,
         attributes: Callable[[int, tuple[str, ...]], dict[str, Any] | None] | None = None
         ) -> list[list[Recommendation]]:
    """`keys` (rows x products, a writable copy: changed in place) rank the products, `shown` are the
    scores reported; `masked[r]` are never picked for row r except when forced; `drop[r]` (similar
    products: the item itself) is never listed, not even when forced; `gone` (rows x products: filters
    on the customer's own purchases) is never listed at all; `kind` is the reason of the picks by key.
    `arrange(r, picks, reasons, n_forced, pool keys)` gives row r its promotion / exploration slots and
    the attributes its products carry (`attributes(product, fields)`)."""
    rows = len(masked)
    lazy = bool(plan.lazy) and rows == 1 and arrange is None and gone is None  # filters on the best only
    if plan.lazy and not lazy:
        keys[:, plan.lazy_mask()] = -np.inf
    if plan.penalty is not None and keys.dtype == np.float32:
        keys += plan.penalty
    elif len(plan.blocked_idx):
        keys[:, plan.blocked_idx] = -np.inf
    if rows == 1:
        keys[0, masked[0]] = -np.inf
    elif rows:
        lens = [len(b) for b in masked]
        keys[np.repeat(np.arange(rows), lens), np.concatenate(masked).astype(np.int64)] = -np.inf
    if gone is not None:
        keys[gone] = -np.inf
    forced = [plan.forced] * rows if drop is None else [plan.forced[plan.forced != d] for d in drop]
    if gone is not None:
        forced = [f[~gone[r, f]] for r, f in enumerate(forced)]
    forced = [f[:n] for f in forced]
    pool_keys = keys.copy() if arrange is not None else None  # the pool, before picks take products out
    if len(plan.forced):
        keys[:, plan.forced] = -np.inf  # forced products come first or not at all
    picks: list[list[int]] = [f.tolist() for f in forced]
    reasons: list[list[str]] = [["forced"] * len(p) for p in picks]
    n_new = min(plan.include_new, n - min((len(f) for f in forced), default=0))
    if n_new > 0 and len(plan.new):
        new_keys = keys[:, plan.new]
        order = np.argsort(-new_keys, axis=1, kind="stable")[:, :n_new]
        for r in range(rows):
            room = min(plan.include_new, n - len(picks[r]))
            chosen = [int(plan.new[j]) for j in order[r, :room] if np.isfinite(new_keys[r, j])]
            picks[r] += chosen
            reasons[r] += ["new_product"] * len(chosen)
            keys[r, chosen] = -np.inf
    most = n - min((len(f) for f in forced), default=0)
    best_of = [top_k_where(keys[0], most, lambda at: removed_at(plan.lazy, at), plan.first_groups(most))] if lazy \
        else top_k_lists(keys, most)
    for r, best in enumerate(best_of):
        best = best[:n - len(picks[r])].tolist()
        picks[r] += best
        reasons[r] += [kind] * len(best)
    fields: list[tuple[str, ...]] = [()] * rows
    if arrange is not None and pool_keys is not None:
        for r in range(rows):
            picks[r], reasons[r], fields[r] = arrange(r, picks[r], reasons[r], len(forced[r]), pool_keys[r])
    return [[Recommendation(ids[i], round(v, 6), why, names[i],
                            attributes(i, fields[r]) if attributes is not None and fields[r] else None)
             for i, v, why in zip(row, shown[r, row].tolist(), reasons[r])]
            for r, row in enumerate(picks)]
