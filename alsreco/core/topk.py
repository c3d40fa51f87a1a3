"""The one top-k of the project: serving, batch scoring and evaluation all rank with it.

Arrays in, arrays out: a block of keys (rows x products, higher is better, -inf = not
eligible, no NaN) becomes, per row, the column indices of the k largest keys, best first,
with ties broken by the lower column index so results never depend on memory order (also
at the cut: of several keys equal to the k-th largest, the lowest columns are kept).

Wide rows take a two-pass path that reads the block about once instead of running
`argpartition` over every cell (which costs ~3x the float32 matrix product that made the
block): the columns are cut into `g` interleaved groups (column c is in group c mod ng), one
vectorised max per group, an exact top-(k+1) over the group maxima, and then an exact top-k
over the columns of the k best groups only. When the k-th and (k+1)-th group maxima differ,
the k best groups hold the k best columns (each of the k groups holds a strictly larger
key than any column outside them); a row where they tie is ranked directly instead, so the
result is always the same as the direct path, ties included.

With `threads` > 1 a large block's rows are split between that many threads (numpy releases the
GIL in these kernels): the batch writers pass the host's cores, serving keeps one (its workers
are processes already).
"""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

MIN_GROUP = 8  # columns per group: below this the direct path is as cheap
MAX_GROUP = 128
MIN_GROUPED_CELLS = 100_000  # measured: the grouped path's fixed cost (~20 numpy calls) pays from ~1e5 cells
# measured (2 cores): 334 x 100k keys in 13 ms on 2 threads against 22 ms on one; a thread hand-off
# costs ~0.1 ms, so blocks from ~1M cells gain
MIN_THREADED_CELLS = 1 << 20


def top_k(keys: np.ndarray, k: int, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(indices, valid): `indices` is rows x min(k, cols) int64, best first; `valid` marks the
    entries whose key is finite (a row with fewer eligible products ends in invalid slots).
    `threads`: split the rows of a large block between this many threads (same result)."""
    keys = np.asarray(keys)
    rows, cols = keys.shape
    k = min(max(int(k), 0), cols)
    if k == 0 or rows == 0:
        return np.zeros((rows, k), dtype=np.int64), np.zeros((rows, k), dtype=bool)
    threads = min(int(threads), rows)
    if threads > 1 and rows * cols >= MIN_THREADED_CELLS:
        return _threaded(keys, k, threads)
    group = _group_width(cols, k) if rows * cols >= MIN_GROUPED_CELLS else 0
    if group:
        return _grouped(keys, k, group)
    if rows == 1:  # one customer (a real-time request): 1-D calls cost a third of the 2-D ones
        idx, valid = _direct_row(keys[0], k)
        return idx[None, :], valid[None, :]
    return _direct(keys, k)


def _threaded(keys: np.ndarray, k: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """`top_k` of each of `threads` row ranges, the first in this thread (rows are independent)."""
    bounds = np.linspace(0, len(keys), threads + 1).astype(int)
    parts = [keys[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    pending = [_pool(threads - 1).submit(top_k, part, k) for part in parts[1:]]
    done = [top_k(parts[0], k)] + [f.result() for f in pending]
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


@functools.lru_cache(maxsize=None)
def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool per size, made on first use (none in a process that never asks for threads)."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="alsreco-top-k")


def top_k_lists(keys: np.ndarray, k: int) -> list[np.ndarray]:
    """Per row, the indices of the `k` largest finite keys, best first (ragged)."""
    idx, valid = top_k(keys, k)
    return [row[ok] for row, ok in zip(idx, valid)]


def top_k_where(row: np.ndarray, k: int, removed_at: Callable[[np.ndarray], np.ndarray],
                first: int = 0) -> np.ndarray:
    """`top_k_lists` of one row with the products `removed_at(indices)` (bool each) taken out, asking
    `removed_at` about a few of the best-keyed products only: the row is cut into interleaved groups
    (`_where_width`), and the best b groups by their maximum (b = `first`, default 4k, then 4x while too
    few survive) hold every product keyed at least v, the b-th best maximum; any other product is keyed
    below v. So the survivors keyed at least v, when k or more, are the first k of the answer in the total
    order (key desc, column asc); when v is -inf they are every eligible product. A quarter of the groups
    or more, or a row too short to group: `removed_at` over every product."""
    cols = len(row)
    g = _where_width(cols)
    ng = cols // g if g else 0
    b = max(int(first) or 4 * k, 1)
    if k > 0 and g and b * g < cols // 4:
        gmax = row[:ng * g].reshape(g, ng).max(axis=0)  # group j: columns j, j + ng, j + 2ng, ...
        tail = np.arange(ng * g, cols, dtype=np.int64)  # in no group: always asked about
        while b * g < cols // 4:
            v = np.partition(gmax, ng - b)[ng - b]
            taken = np.flatnonzero(gmax >= v if v > -np.inf else gmax > v)
            cand = np.concatenate([(taken[:, None] + ng * np.arange(g, dtype=np.int64)).ravel(), tail])
            keys = row[cand]
            sure = (keys >= v) & (keys > -np.inf)
            cand, keys = cand[sure], keys[sure]
            kept = ~removed_at(cand)
            if np.count_nonzero(kept) >= k or v == -np.inf:
                cand, keys = cand[kept], keys[kept]
                return cand[np.lexsort((cand, -keys))[:k]]
            b *= 4
    everything = np.arange(cols, dtype=np.int64)
    masked = np.where(removed_at(everything), -np.inf, row).astype(row.dtype, copy=False)
    return top_k_lists(masked[None, :], k)[0]


def _where_width(cols: int) -> int:
    """Columns per group of `top_k_where`: a power of two near sqrt(cols / 16), 8 to 256 (measured at 100k
    products: the group maxima's partition and the candidates' gather then cost about the same), 0 for a
    row under 16 groups of 8."""
    if cols < 8 * 16:
        return 0
    return int(min(256, max(8, 1 << int(np.log2(np.sqrt(cols / 16))))))


def _group_width(cols: int, k: int) -> int:
    """Columns per group (a power of two near sqrt(cols / k), balancing the pass over the
    group maxima against the candidates kept), or 0 when the row is too narrow to gain."""
    g = 1 << max(0, int(np.log2(np.sqrt(cols / (k + 1)))))
    g = min(g, MAX_GROUP)
    if g < MIN_GROUP or cols // g < 4 * (k + 2):
        return 0
    return g


def _direct(keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = keys.shape
    at = np.arange(rows)[:, None]  # fancy indexing: far cheaper than take_along_axis on small blocks
    if k < cols:
        part = np.argpartition(keys, cols - k, axis=1)[:, cols - k:]
        _lowest_ties(keys, part, k, at)
        part.sort(axis=1)  # ascending column index: the stable sort below then breaks ties by index
    else:
        part = np.broadcast_to(np.arange(cols, dtype=np.int64), (rows, cols))
    vals = keys[at, part]
    order = np.argsort(-vals, axis=1, kind="stable")
    idx = part[at, order].astype(np.int64, copy=False)
    valid = np.isfinite(vals[at, order])
    return idx, valid


def _direct_row(row: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`_direct` for a single row."""
    cols = len(row)
    if k < cols:
        part = np.argpartition(row, cols - k)[cols - k:]
        kth = row[part].min()
        if kth > -np.inf and np.count_nonzero(row >= kth) > k:  # ties across the cut: lowest columns
            above = np.flatnonzero(row > kth)
            part = np.concatenate([above, np.flatnonzero(row == kth)[:k - len(above)]])
        part.sort()
    else:
        part = np.arange(cols, dtype=np.int64)
    vals = row[part]
    order = np.argsort(-vals, kind="stable")
    return part[order].astype(np.int64, copy=False), np.isfinite(vals[order])


def _grouped(keys: np.ndarray, k: int, g: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = keys.shape
    ng = cols // g
    m = ng * g
    gmax = keys[:, :m].reshape(rows, g, ng).max(axis=1)  # group j: columns j, j+ng, j+2ng, ...
    gidx, _ = _direct(gmax, k + 1)
    gval = np.take_along_axis(gmax, gidx, axis=1)
    tied = (gval[:, k - 1] == gval[:, k]) & np.isfinite(gval[:, k - 1])
    cand = (gidx[:, :k, None] + ng * np.arange(g, dtype=np.int64)).reshape(rows, k * g)
    if m < cols:  # the last cols - m columns are in no group: always candidates
        tail = np.broadcast_to(np.arange(m, cols, dtype=np.int64), (rows, cols - m))
        cand = np.concatenate([cand, tail], axis=1)
    cand.sort(axis=1)  # candidate order = column order, so ties still go to the lower column
    sub, valid = _direct(np.take_along_axis(keys, cand, axis=1), k)
    idx = np.take_along_axis(cand, sub, axis=1)
    if tied.any():
        rows_tied = np.flatnonzero(tied)
        idx[rows_tied], valid[rows_tied] = _direct(keys[rows_tied], k)
    return idx, valid


def _lowest_ties(keys: np.ndarray, part: np.ndarray, k: int, at: np.ndarray) -> None:
    """`argpartition` keeps any of the keys equal to the k-th largest; where more of them exist
    than fit, keep those with the lowest column indices (in place, rows x k `part`)."""
    kth = keys[at, part].min(axis=1)
    crossing = (np.count_nonzero(keys >= kth[:, None], axis=1) > k) & np.isfinite(kth)
    rows = np.flatnonzero(crossing)
    if len(rows):
        sub, kth = keys[rows], kth[rows, None]
        above, equal = sub > kth, sub == kth
        room = k - above.sum(axis=1)
        keep = above | (equal & (np.cumsum(equal, axis=1) <= room[:, None]))
        part[rows] = np.nonzero(keep)[1].reshape(len(rows), k)
