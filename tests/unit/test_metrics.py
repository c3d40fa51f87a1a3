import numpy as np
import pytest

from alsreco.core.artifact import Purchases
from alsreco.train import metrics


def test_top_k_orders_and_excludes():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [0.4, 0.3, 0.2, 0.1]], dtype=np.float32)
    exclude = Purchases.from_coo(np.array([0]), np.array([1]), np.array([1.0]), (2, 4))
    assert metrics.top_k(scores, 2, exclude).tolist() == [[3, 2], [0, 1]]
    assert metrics.top_k(scores, 3).tolist() == [[1, 3, 2], [0, 1, 2]]


def test_top_k_marks_slots_without_an_eligible_item_with_minus_one():
    scores = np.array([[0.1, 0.9, 0.5], [0.4, 0.3, 0.2]], dtype=np.float32)
    exclude = Purchases.from_coo(np.array([0, 0, 1]), np.array([1, 2, 0]), np.ones(3), (2, 3))
    assert metrics.top_k(scores, 3, exclude).tolist() == [[0, -1, -1], [1, 2, -1]]
    # `rows` says which customers' purchases apply to each score row
    assert metrics.top_k(scores, 2, exclude, np.array([1, 1])).tolist() == [[1, 2], [1, 2]]


def test_ranking_metrics_ignore_empty_slots():
    recs = np.array([[1, -1, -1], [4, 5, 6]])
    m = metrics.ranking_metrics(recs, [{1}, {9}], 3, n_items=10)
    assert m["precision_at_3"] == pytest.approx((1 / 3 + 0) / 2)
    assert m["coverage"] == pytest.approx(0.4)  # -1 is not an item


def test_purchases_block_cells_lists_every_purchase_of_the_rows():
    p = Purchases.from_coo(np.array([0, 0, 2, 2, 2]), np.array([3, 1, 0, 4, 2]), np.ones(5), (3, 5))
    r, c = p.block_cells(np.array([2, 1, 0, 2]))
    assert sorted(zip(r.tolist(), c.tolist())) == [(0, 0), (0, 2), (0, 4), (2, 1), (2, 3), (3, 0), (3, 2), (3, 4)]
    r, c = p.block_cells(np.array([1]))
    assert r.tolist() == [] and c.tolist() == []


def test_ranking_metrics_known_values():
    recs = np.array([[1, 2, 3], [4, 5, 6]])
    relevant = [{1, 3}, {9}]
    m = metrics.ranking_metrics(recs, relevant, 3, n_items=10)
    assert m["precision_at_3"] == pytest.approx((2 / 3 + 0) / 2)
    assert m["recall_at_3"] == pytest.approx((1 + 0) / 2)
    dcg = 1 + 1 / np.log2(4)
    idcg = 1 + 1 / np.log2(3)
    assert m["ndcg_at_3"] == pytest.approx(dcg / idcg / 2)
    assert m["map_at_3"] == pytest.approx((1 + 2 / 3) / 2 / 2)
    assert m["coverage"] == pytest.approx(0.6)
