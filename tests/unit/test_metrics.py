import numpy as np
import pytest

from alsreco import metrics
from alsreco.artifact import Purchases


def test_top_k_orders_and_excludes():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [0.4, 0.3, 0.2, 0.1]], dtype=np.float32)
    exclude = Purchases.from_coo(np.array([0]), np.array([1]), np.array([1.0]), (2, 4))
    assert metrics.top_k(scores, 2, exclude).tolist() == [[3, 2], [0, 1]]
    assert metrics.top_k(scores, 3).tolist() == [[1, 3, 2], [0, 1, 2]]


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
