"""train/batch_spark.py: recommendations.csv scored by Spark executor tasks (real local Spark, real
Python workers) is byte for byte the file the leader writes (train/batch.py, itself held to the
per-customer reference in tests/unit/test_batch_scoring.py)."""
from __future__ import annotations

import pytest

from alsreco.train import batch, batch_spark
from tests.unit.conftest import random_model

CASES = [
    dict(reco_item=10),
    dict(reco_item=10, exclude_popular=12, include_new=3),
    dict(reco_item=7, exclude_purchased=False, exclude_popular=3, include_new=2),
    dict(reco_item=40, exclude_popular=650, include_new=4),  # pool smaller than N
    dict(reco_item=10, exclude_popular=700),  # empty pool: no rows at all
    dict(reco_item=3, group_size=7, include_new=1),
]


@pytest.mark.parametrize("hp", CASES)
def test_executor_file_equals_the_leaders(spark, tmp_path, hp):
    model = random_model(n_customers=2500, **hp)
    leader = tmp_path / "leader.csv"
    expected_rows = batch.write_recommendations(model, leader, cells=20_000)
    got = tmp_path / "out" / "recommendations.csv"
    rows = batch_spark.write_recommendations(spark, model, got, cells=20_000, slices=3)
    assert got.read_bytes() == leader.read_bytes()
    assert rows == expected_rows
    assert not list(got.parent.glob(".*"))  # no temp file left behind


def test_slices_cover_every_customer_once():
    assert batch_spark.cut(2500, 3) == [(0, 833), (833, 1666), (1666, 2500)]
    assert batch_spark.cut(2500, 100) == [(0, 833), (833, 1666), (1666, 2500)]  # MIN_SLICE_CUSTOMERS: 3 at most
    assert batch_spark.cut(999, 8) == [(0, 999)]
    assert batch_spark.cut(0, 8) == []
    parts = batch_spark.cut(1_000_003, 16)
    assert parts[0][0] == 0 and parts[-1][1] == 1_000_003 and len(parts) == 16
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))


def test_a_failing_task_fails_the_write_and_leaves_no_file(spark, tmp_path):
    model = random_model(n_customers=1500)
    model.item_factors = model.item_factors[:, :2]  # factors of another rank: every task fails
    got = tmp_path / "recommendations.csv"
    with pytest.raises(Exception, match="matmul"):  # the executor's Python error reaches the leader
        batch_spark.write_recommendations(spark, model, got, slices=2)
    assert not got.exists() and not list(tmp_path.glob(".*"))


def test_a_failure_while_the_text_streams_back_leaves_no_file_and_no_cached_slices(spark, tmp_path):
    """Every task succeeded; then writing the streamed text fails half-way (the file-size limit
    stands in for a full disk): no file, no temporary file, nothing left persisted in Spark."""
    import errno
    import resource
    import signal

    model = random_model(n_customers=2500)
    whole = batch.write_recommendations(model, tmp_path / "whole.csv", cells=20_000)
    size = (tmp_path / "whole.csv").stat().st_size
    got = tmp_path / "out" / "recommendations.csv"
    cached = spark.sparkContext._jsc.getPersistentRDDs().size()
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, limits[1]))
    try:
        with pytest.raises(OSError) as err:
            batch_spark.write_recommendations(spark, model, got, cells=20_000, slices=3)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, old)
    assert err.value.errno == errno.EFBIG and whole > 0
    assert not got.exists() and not list(got.parent.glob(".*"))
    assert spark.sparkContext._jsc.getPersistentRDDs().size() == cached


def test_executor_file_equals_the_leaders_with_the_trend_blend(spark, tmp_path):
    import numpy as np

    model = random_model(n_customers=2500, reco_item=10, include_new=2)
    rng = np.random.default_rng(3)
    model.product_recent = rng.integers(0, 40, len(model.product_ids)).astype(np.int32)
    model.product_trending = np.zeros(len(model.product_ids), dtype=np.float32)
    model.metadata["blend"] = {"weight": 1.5, "signal": "recent"}
    leader, plain = tmp_path / "leader.csv", tmp_path / "plain.csv"
    expected_rows = batch.write_recommendations(model, leader, cells=20_000)
    got = tmp_path / "out" / "recommendations.csv"
    assert batch_spark.write_recommendations(spark, model, got, cells=20_000, slices=3) == expected_rows
    assert got.read_bytes() == leader.read_bytes()
    model.metadata["blend"] = {"weight": 0.0, "signal": "recent"}
    batch.write_recommendations(model, plain, cells=20_000)
    assert plain.read_bytes() != leader.read_bytes()  # the blend changed the lists
