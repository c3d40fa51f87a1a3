from alsreco import training
from alsreco.recommender import Recommender, Rules

from .conftest import make_model


def test_auto_blocks_few_on_small_data_spark_default_on_large():
    assert training.auto_blocks(16_000, 2) == 2
    assert training.auto_blocks(10_000_000, 2) == 10
    assert training.auto_blocks(10_000_000, 32) == 32


def test_model_version_is_sortable_and_unique():
    a, b = training.model_version(), training.model_version()
    assert a != b and a[:8].isdigit() and a[8] == "T"


def test_rule_plans_are_resolved_once_per_rule_set():
    rec = Recommender(make_model())
    assert rec.plan(Rules(exclude_popular=2)) is rec.plan(Rules(exclude_popular=2))
    assert rec.plan(Rules(exclude_popular=2)) is not rec.plan(Rules(exclude_popular=3))
