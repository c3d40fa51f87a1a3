import numpy as np

from alsreco.core.recommender import Recommender
from alsreco.core.rules import Rules
from alsreco.core.topk import top_k, top_k_lists
from alsreco.train import als

from .conftest import make_model


def test_auto_blocks_few_on_small_data_more_as_ratings_grow():
    assert als.auto_blocks(16_000, 2) == 2
    assert als.auto_blocks(4_052_861, 2) == 2  # one per full 2M ratings
    assert als.auto_blocks(6_100_000, 2) == 3
    assert als.auto_blocks(10_000_000, 2) == 5
    assert als.auto_blocks(100_000_000, 2) == 10  # Spark's default at most
    assert als.auto_blocks(10_000_000, 32) == 32  # every core of a cluster


def test_auto_blocks_share_the_cores_between_fits_at_once():
    assert als.auto_blocks(16_000, 2, fits=4) == 1
    assert als.auto_blocks(16_000, 8, fits=4) == 2
    assert als.auto_blocks(16_000, 2, fits=1) == 2
    assert als.auto_blocks(10_000_000, 2, fits=4) == 5  # large data: the work dominates


def test_model_version_is_sortable_and_unique():
    a, b = als.model_version(), als.model_version()
    assert a != b and a[:8].isdigit() and a[8] == "T"


def test_rule_plans_are_resolved_once_per_rule_set():
    rec = Recommender(make_model())
    assert rec.plan(Rules(exclude_popular=2)) is rec.plan(Rules(exclude_popular=2))
    assert rec.plan(Rules(exclude_popular=2)) is not rec.plan(Rules(exclude_popular=3))


def test_top_k_breaks_ties_by_column_and_marks_ineligible_slots():
    keys = np.array([[0.5, 0.9, 0.5, -np.inf], [-np.inf, -np.inf, 1.0, -np.inf]], dtype=np.float32)
    idx, valid = top_k(keys, 3)
    assert idx[0].tolist() == [1, 0, 2] and valid[0].all()
    assert idx[1][0] == 2 and valid[1].tolist() == [True, False, False]
    assert [row.tolist() for row in top_k_lists(keys, 10)] == [[1, 0, 2], [2]]
    idx, valid = top_k(keys, 0)
    assert idx.shape == valid.shape == (2, 0)
