"""core/topk.py: the one top-k, against a brute-force sort by (key desc, column asc)."""
from __future__ import annotations

import numpy as np
import pytest

from alsreco.core import topk


def reference(keys: np.ndarray, k: int) -> list[list[int]]:
    out = []
    for row in keys:
        order = np.lexsort((np.arange(len(row)), -row.astype(np.float64)))[:k]
        out.append([int(i) for i in order if np.isfinite(row[i])])
    return out


def check(keys: np.ndarray, k: int) -> None:
    idx, valid = topk.top_k(keys, k)
    assert idx.shape == valid.shape == (keys.shape[0], min(k, keys.shape[1]))
    assert [row[ok].tolist() for row, ok in zip(idx, valid)] == reference(keys, k)
    assert all(ok[:ok.sum()].all() for ok in valid)  # valid entries come first
    assert [x.tolist() for x in topk.top_k_lists(keys, k)] == reference(keys, k)


@pytest.mark.parametrize("cols", [1, 7, 50, 300, 2000, 20011])
@pytest.mark.parametrize("k", [1, 3, 10, 64])
def test_random_keys_with_many_ties(cols, k):
    rng = np.random.default_rng(cols * 1000 + k)
    keys = rng.integers(0, 5, (40, cols)).astype(np.float32)  # heavy ties everywhere, also at the cut
    keys[rng.random(keys.shape) < 0.3] = -np.inf
    keys[0] = -np.inf  # nothing eligible
    keys[1] = 1.0  # all tied
    keys[2, :] = -np.inf
    keys[2, -1] = 3.0  # one eligible, in the last column (outside any group)
    check(keys, k)
    for r in range(6):  # one row at a time: the single-customer path
        check(keys[r:r + 1], k)


@pytest.mark.parametrize("k", [1, 5, 10, 100])
def test_wide_rows_take_the_grouped_path_and_stay_exact(k):
    rng = np.random.default_rng(k)
    cols = 100_003  # not a multiple of the group width: a tail of ungrouped columns
    assert topk._group_width(cols, k) >= topk.MIN_GROUP
    keys = rng.standard_normal((12, cols)).astype(np.float32)
    keys[3] = np.round(keys[3], 1)  # ties between groups at the cut: the row is ranked directly
    keys[4, rng.random(cols) < 0.9999] = -np.inf  # short list
    keys[5, ::7] = 9.0  # more equal best keys than k, spread over groups
    keys[6, -3:] = 50.0  # the best keys in the tail
    check(keys, k)
    check(keys[:, ::-1], k)  # a non-contiguous view
    assert topk._group_width(cols, k) and cols >= topk.MIN_GROUPED_CELLS  # one row is grouped too
    for r in (3, 5, 6):
        check(keys[r:r + 1], k)


def test_edges():
    keys = np.array([[1.0, 3.0, 2.0], [2.0, 2.0, 2.0]], dtype=np.float32)
    assert topk.top_k(keys, 0)[0].shape == (2, 0)
    assert topk.top_k(np.zeros((0, 5), np.float32), 3)[0].shape == (0, 3)
    idx, valid = topk.top_k(keys, 10)  # k > cols: every column, best first
    assert idx.tolist() == [[1, 2, 0], [0, 1, 2]] and valid.all()
    assert topk.top_k(keys, 2)[0].tolist() == [[1, 2], [0, 1]]


@pytest.mark.parametrize("threads", [2, 3, 8])
def test_rows_split_between_threads_give_the_same_result(threads, monkeypatch):
    rng = np.random.default_rng(threads)
    keys = rng.integers(0, 4, (7, 3000)).astype(np.float32)  # ties at every cut
    keys[rng.random(keys.shape) < 0.5] = -np.inf
    keys[2] = -np.inf
    want = topk.top_k(keys, 10)
    monkeypatch.setattr(topk, "MIN_THREADED_CELLS", 0)
    topk._pool.cache_clear()
    got = topk.top_k(keys, 10, threads=threads)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert topk._pool.cache_info().currsize == 1  # the rows really went to a pool
    check(keys[:1], 10)  # one row: no split
    assert topk.top_k(keys[:1], 10, threads=threads)[0].tolist() == want[0][:1].tolist()


def test_a_large_block_is_split_at_the_default_threshold():
    rng = np.random.default_rng(5)
    keys = rng.standard_normal((16, 100_003)).astype(np.float32)
    assert keys.size >= topk.MIN_THREADED_CELLS
    topk._pool.cache_clear()
    got = topk.top_k(keys, 10, threads=2)
    assert topk._pool.cache_info().currsize == 1
    assert [row.tolist() for row in got[0]] == reference(keys, 10)


@pytest.mark.parametrize("cols", [50, 2000, 20011])
@pytest.mark.parametrize("k", [1, 10, 40])
@pytest.mark.parametrize("share", [0.0, 0.5, 0.9, 0.995, 1.0])
@pytest.mark.parametrize("first", [0, 1, 3])
def test_top_k_where_asks_about_candidates_and_equals_the_masked_top_k(cols, k, share, first):
    """The k best keys among the products not removed, ties to the lower column, asking `removed_at`
    only about some of the products when the first candidates suffice (`first`: forces widening)."""
    rng = np.random.default_rng(cols + k + int(share * 1000) + first)
    row = rng.integers(0, 6, cols).astype(np.float32)  # heavy ties, also at every cut
    row[rng.random(cols) < 0.1] = -np.inf  # already out of the pool
    gone = rng.random(cols) < share
    asked: list[int] = []

    def removed_at(at):
        asked.append(len(at))
        return gone[at]

    got = topk.top_k_where(row, k, removed_at, first=first)
    assert got.tolist() == reference(np.where(gone, -np.inf, row)[None, :], k)[0]
    width = topk._where_width(cols)
    if width and 4 * k * width < cols // 4 and share <= 0.5 and first == 0:
        assert sum(asked) < cols / 4  # the candidates only: never the whole row
