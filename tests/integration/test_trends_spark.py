"""Issue 23 with real Spark: the Spark data path's trend arrays, decayed ratings, evaluation splits and
returning-customer counts equal the pandas path's (and the plain reference of the unit tests)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsreco.core import hyperparameters as h
from alsreco.train import prepare, ratings, spark_ratings, spark_trends, trends
from alsreco.train.inputs import read, spark_read
from tests.unit.test_trends import AS_OF, frame, reference_trends

from ..conftest import SAMPLE_CSV

pytestmark = pytest.mark.integration


def to_csv(df: pd.DataFrame, path) -> None:
    out = pd.DataFrame({"InvoiceNo": [f"{500000 + i}" for i in range(len(df))], "StockCode": df["product"],
                        "Description": "", "Quantity": df["quantity"].astype(int),
                        "InvoiceDate": df["date"].dt.strftime("%Y-%m-%d %H:%M:%S"), "UnitPrice": 1.0,
                        "CustomerID": df["customer"], "Country": "UK"})
    out.to_csv(path, index=False)


@pytest.mark.parametrize("window, support", [(7, 1), (3, 2)])
def test_spark_trends_and_decay_equal_the_plain_reference(spark, tmp_path, window, support):
    df = frame(2, 300)
    df["date"] = df["date"].dt.floor("s")  # what a CSV holds
    to_csv(df, tmp_path / "lines.csv")
    hp = {**h.defaults(), "trend_window_days": window, "trend_min_support": support, "recency_half_life_days": 3.0}
    lines, _ = spark_read.load(spark, [tmp_path / "lines.csv"], hp)
    try:
        sr = spark_ratings.build(lines, hp, AS_OF)
        got = spark_trends.compute(lines, sr.products, sr.ratings.shape[1], AS_OF, hp)
        want = reference_trends(df, AS_OF, window, support)
        products = sr.ratings.product_ids
        assert got.recent.tolist() == [want[p][0] for p in products]
        np.testing.assert_allclose(got.trending, [want[p][2] for p in products], rtol=1e-6)
        pandas_r = ratings.build(df, hp, AS_OF)  # the plain decay reference is in tests/unit/test_trends.py
        assert np.array_equal(sr.ratings.user, pandas_r.user) and np.array_equal(sr.ratings.item, pandas_r.item)
        np.testing.assert_allclose(sr.ratings.rating, pandas_r.rating, rtol=1e-5)
        sr.unpersist()
    finally:
        spark_read.release(spark)


@pytest.fixture(scope="module")
def both_paths(spark, tmp_path_factory):
    hp = h.merge([("t", {"trend_window_days": "4", "trend_min_support": "2"})])
    stage = tmp_path_factory.mktemp("stage")
    spark_prepared = prepare.spark_path(spark, hp, [SAMPLE_CSV], stage=stage)
    yield hp, prepare.pandas_path([SAMPLE_CSV], hp), spark_prepared
    spark_prepared.release()


def test_catalogue_trends_reweigh_and_returning_agree_on_both_paths(both_paths):
    hp, pd_prep, sp_prep = both_paths
    a, b = pd_prep.catalogue.trends, sp_prep.catalogue.trends
    assert np.array_equal(a.recent, b.recent) and np.array_equal(a.trending, b.trending)
    assert (a.trending > 0).sum() > 10 and a.summary(hp, pd_prep.as_of)["recent_window"] == ["2010-12-10", "2010-12-13"]
    r1, _ = pd_prep.reweigh(7.0)
    r2, frame = sp_prep.reweigh(7.0)
    assert frame is not None and np.array_equal(r1.user, r2.user) and np.array_equal(r1.item, r2.item)
    np.testing.assert_allclose(r1.rating, r2.rating, rtol=1e-5)
    assert not np.allclose(r1.rating, pd_prep.ratings.rating)
    assert np.array_equal(r2.product_ids, sp_prep.ratings.product_ids)  # the same indices
    for days in (3, 6, 9):
        start = pd_prep.as_of - pd.Timedelta(days=days - 1)
        assert pd_prep.returning(start) == sp_prep.returning(start) > 0


@pytest.mark.parametrize("protocol", ["time_window", "last_basket"])
def test_split_trends_and_reweighed_split_ratings_agree_on_both_paths(both_paths, protocol):
    hp, pd_prep, sp_prep = both_paths
    start = pd_prep.as_of - pd.Timedelta(days=4)
    x, y = pd_prep.split(protocol, start), sp_prep.split(protocol, start)
    try:
        assert np.array_equal(x.trends.recent, y.trends.recent) and np.array_equal(x.trends.trending, y.trends.trending)
        (r1, _), (r2, _) = x.reweigh(14.0), y.reweigh(14.0)
        assert np.array_equal(r1.user, r2.user) and np.array_equal(r1.item, r2.item)
        np.testing.assert_allclose(r1.rating, r2.rating, rtol=1e-5)
        if protocol == "last_basket":  # trend arrays as of each basket's day: the Spark twin counts the same
            a, b = x.day_trends, y.day_trends
            assert len(a.points) > 5 and np.array_equal(a.points, b.points)
            for name in ("popularity", "recent", "before"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), name
            assert a.recent.sum() > 0 and (a.popularity[-1] >= a.popularity[0]).all()
            pairs = {(u, d) for u, d in zip(x.test_users.tolist(), x.test_days.tolist()) if u >= 0}
            assert {(u, d) for u, d in zip(y.test_users.tolist(), y.test_days.tolist()) if u >= 0} == pairs
        if protocol == "time_window":  # the split's trends end the day before the window
            df, _ = read.load([SAMPLE_CSV], hp)
            want = trends.compute(df[df["date"] < start], x.ratings.product_ids, start - pd.Timedelta(days=1), hp)
            assert np.array_equal(want.recent, x.trends.recent)
    finally:
        y.release()
