"""Promotions and exploration: slots of a ranked list given to chosen products, at fixed positions.

After the rules have made a list (forced products first, then new products, then the best
scores), `arrange` gives
* `n_promoted` slots to the best-scoring products a promotion's filter selects (`promoted`), and
* `n_explore` slots to new products (never sold, or first seen within the request's age), drawn at
  random among the best-scoring ones - weight 1/rank among the 3 x n_explore best - with the
  request's `seed` when it gives one (`exploration`),
placed at evenly spread positions after the forced products: the promoted ones at
floor((i + 1/2) x m / n_promoted) of the m free slots, the exploration ones likewise among the slots
left; the list's other products keep their order. A product is never listed twice, and nothing
outside the pool (blocked, bought with exclude_purchased, filtered) is ever placed.
"""
from __future__ import annotations

import math

import numpy as np

EXPLORE_POOL = 3  # exploration draws among this many times n_explore of the best-scoring candidates


def share_of(share: float, n: int) -> int:
    """Slots for a share of an n-item list (half up), 0 for no share."""
    return max(0, min(n, int(math.floor(float(share) * n + 0.5)))) if share > 0 else 0


def spread(count: int, free: int) -> list[int]:
    """`count` evenly spread positions among `free` slots."""
    return sorted({int((i + 0.5) * free / count) for i in range(count)}) if count else []


def best(keys: np.ndarray, candidates: np.ndarray, count: int, taken: set[int]) -> list[int]:
    """The `count` best-scoring `candidates` (product indices) still in the pool, not `taken`."""
    if count <= 0 or not len(candidates):
        return []
    scores = keys[candidates]
    order = np.argsort(-scores, kind="stable")
    out = []
    for j in order:
        if not np.isfinite(scores[j]):
            break
        p = int(candidates[j])
        if p not in taken:
            out.append(p)
            if len(out) == count:
                break
    return out


def explore(keys: np.ndarray, candidates: np.ndarray, count: int, taken: set[int],
            rng: np.random.Generator) -> list[int]:
    """`count` of the best EXPLORE_POOL x count candidates, drawn with weight 1 / rank."""
    pool = best(keys, candidates, EXPLORE_POOL * count, taken)
    if len(pool) <= count:
        return pool
    weights = 1.0 / np.arange(1, len(pool) + 1)
    picked = rng.choice(len(pool), size=count, replace=False, p=weights / weights.sum())
    return [pool[i] for i in sorted(picked)]


def arrange(picks: list[int], reasons: list[str], n_forced: int, n: int, keys: np.ndarray,
            promoted: np.ndarray | None, n_promoted: int, explorable: np.ndarray | None, n_explore: int,
            rng: np.random.Generator) -> tuple[list[int], list[str]]:
    """The list with its promotion and exploration slots (see the module docstring). `keys` are the
    row's scores with everything outside the pool at -inf; `picks[:n_forced]` are forced."""
    taken = set(picks[:n_forced])
    free = n - n_forced
    chosen_p = best(keys, promoted, min(n_promoted, free), taken) if promoted is not None else []
    taken |= set(chosen_p)
    chosen_e = explore(keys, explorable, min(n_explore, free - len(chosen_p)), taken, rng) \
        if explorable is not None else []
    if not chosen_p and not chosen_e:
        return picks, reasons
    slots: dict[int, tuple[int, str]] = {}
    for pos, p in zip(spread(len(chosen_p), free), chosen_p):
        slots[pos] = (p, "promoted")
    left = [s for s in range(free) if s not in slots]
    for pos, p in zip(spread(len(chosen_e), len(left)), chosen_e):
        slots[left[pos]] = (p, "exploration")
    placed = {p for p, _ in slots.values()}
    rest = [(p, r) for p, r in zip(picks[n_forced:], reasons[n_forced:]) if p not in placed]
    out_p, out_r = list(picks[:n_forced]), list(reasons[:n_forced])
    it = iter(rest)
    for s in range(free):
        if s in slots:
            p, r = slots[s]
        else:
            nxt = next(it, None)
            if nxt is None:
                continue
            p, r = nxt
        out_p.append(p)
        out_r.append(r)
    return out_p, out_r
