"""`als_fits`: several ALS fits at once in one Spark session, their factors side by side (real Spark)."""
import logging

import numpy as np
import pytest

from alsreco.core import hyperparameters
from alsreco.train import als
from alsreco.train.ratings import Ratings

pytestmark = pytest.mark.integration


def _ratings(seed: int = 0, n_users: int = 120, n_items: int = 60, n: int = 1500) -> Ratings:
    rng = np.random.default_rng(seed)
    pairs = np.unique(np.stack([rng.integers(0, n_users, n), rng.integers(0, n_items, n)], axis=1), axis=0)
    return Ratings(np.array([f"c{i:04d}" for i in range(n_users)]), np.array([f"p{i:04d}" for i in range(n_items)]),
                   pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.int32),
                   rng.integers(1, 5, len(pairs)).astype(np.float32))


def _hp(**kw):
    return {**hyperparameters.defaults(), "als_rank": 4, "max_itter": 3, "seed": 7, **kw}


def test_fits_at_once_equal_each_fit_alone_side_by_side(spark, caplog):
    r = _ratings()
    with caplog.at_level(logging.INFO, logger="alsreco.train.als"):
        users, items = als.fit(spark, r, _hp(als_fits=3, num_blocks=2))
    assert users.shape == (120, 12) and items.shape == (60, 12)
    # the same blocks (auto would give fits at once fewer: the random start depends on the blocks)
    alone = [als.fit(spark, r, _hp(als_fits=1, num_blocks=2, seed=als.member_seed(_hp(), k))) for k in range(3)]
    # Spark ALS is deterministic for a seed: the concurrent fits are the same fits, scaled by 1/sqrt(3)
    np.testing.assert_allclose(users, np.hstack([u for u, _ in alone]) / np.sqrt(3), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(items, np.hstack([v for _, v in alone]) / np.sqrt(3), rtol=1e-5, atol=1e-6)
    mean_scores = np.mean([u @ v.T for u, v in alone], axis=0)
    np.testing.assert_allclose(users @ items.T, mean_scores, rtol=1e-4, atol=1e-5)
    assert any("3 fits (seeds 7, 1000010, 2000013)" in m for m in caplog.messages)
    assert len({tuple(np.round(u[0], 5)) for u, _ in alone}) == 3  # three different initialisations


def test_auto_fits_on_small_data_and_a_failing_fit_fails_the_whole(spark):
    r = _ratings(1)
    users, _ = als.fit(spark, r, _hp(als_fits=0))
    assert users.shape[1] == 4 * als.AUTO_FITS
    with pytest.raises(Exception, match="(?i)rank|positive|greater"):
        als.fit(spark, r, _hp(als_fits=2, als_rank=0))


def test_ratings_reach_spark_through_a_parquet_file_in_the_scratch_dir(spark):
    from alsreco.train.spark import frames

    r = _ratings(2)
    frame = frames.ratings(spark, r.user, r.item, r.rating)
    assert frame.schema.simpleString() == "struct<user:int,item:int,rating:float>"
    files = frame.inputFiles()
    assert files and all(spark.alsreco_scratch in f and ".parquet" in f for f in files)
    got = frame.toPandas().sort_values(["user", "item"]).to_numpy()
    want = np.stack([r.user, r.item, r.rating], axis=1).astype(np.float64)
    np.testing.assert_array_equal(got, want[np.lexsort((want[:, 1], want[:, 0]))])


def test_without_a_scratch_dir_the_ratings_go_through_arrow(spark, monkeypatch):
    from alsreco.train.spark import frames

    r = _ratings(3)
    monkeypatch.setattr(spark, "alsreco_scratch", "", raising=False)
    frame = frames.ratings(spark, r.user, r.item, r.rating)
    assert frame.inputFiles() == []
    assert frame.count() == len(r.rating)
    assert float(frame.agg({"rating": "sum"}).first()[0]) == pytest.approx(float(r.rating.sum()))
