"""The last_basket evaluation scores each basket with the trend arrays as of the day before it
(train/day_trends.py, holdout.py): counts against plain loops, the as-of points, and a held-out part's
blend and baselines against a per-customer reference."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsreco.core import hyperparameters as h
from alsreco.core import trends as core_trends
from alsreco.train import day_trends, holdout, splits, trends
from tests.unit.test_trends import AS_OF, frame, reference_trends

EPOCH = pd.Timestamp("1970-01-01")


def days_of(ts: pd.Timestamp) -> int:
    return int((ts.normalize() - EPOCH).days)


def day(n: int) -> pd.Timestamp:
    return EPOCH + pd.Timedelta(days=int(n))


@pytest.mark.parametrize("window, support, max_cells", [(7, 1, 10_000), (3, 2, 10_000), (5, 1, 12 * 6)])
def test_counts_equal_plain_loops_at_every_point(window, support, max_cells):
    df = frame(3, 500)
    products = np.array(sorted(set(df["product"])))
    baskets = np.array([days_of(AS_OF) - k for k in range(0, 35, 2)] + [days_of(AS_OF) - 3])
    got = day_trends.compute(df, products, baskets, window, support, max_cells=max_cells)
    assert len(got.points) == min(len(set(baskets)), max_cells // len(products))
    assert got.points[0] == baskets.min() - 1 and got.points[-1] == baskets.max() - 1  # thinning keeps the ends
    for i, p in enumerate(got.points):
        as_of = day(p)
        want = reference_trends(df, as_of, window, support)
        bought_by = df[df["date"] < as_of + pd.Timedelta(days=1)].groupby("product")["customer"].nunique()
        assert got.popularity[i].tolist() == [int(bought_by.get(x, 0)) for x in products]
        assert got.recent[i].tolist() == [want[x][0] for x in products]
        assert got.before[i].tolist() == [want[x][1] for x in products]
        pop, recent, trending = got.arrays(i)
        np.testing.assert_allclose(trending, [want[x][2] for x in products], rtol=1e-6)
        single = trends.compute(df, products, as_of, {"trend_window_days": window, "trend_min_support": support})
        assert np.array_equal(single.recent, recent)  # one implementation of the windows' bounds
        np.testing.assert_array_equal(got.signal("recent", i), core_trends.signal("recent", pop, recent, trending))


def test_each_basket_uses_the_latest_point_before_its_day():
    points = np.array([10, 14, 20])
    t = day_trends.DayTrends(points, *[np.zeros((3, 1), np.int32)] * 3, 1)
    assert t.point_of(np.array([11, 14, 15, 21, 30])).tolist() == [0, 0, 1, 2, 2]
    assert day_trends.as_of_points(np.array([5, 3, 5, 9]), 1).tolist() == [2, 4, 8]
    thinned = day_trends.as_of_points(np.arange(100), 10, max_cells=50)
    assert len(thinned) == 5 and thinned[0] == -1 and thinned[-1] == 98


def basket_frame(customers: int = 50, lines: int = 900) -> pd.DataFrame:
    """Customers with several baskets (the basket is the day: no invoices), each stopping on its own day,
    so last baskets spread over the 40 days."""
    rng = np.random.default_rng(5)
    stop = rng.uniform(0, 35, customers)
    who = rng.integers(0, customers, lines)
    ago = stop[who] + rng.uniform(0, 40, lines) * rng.uniform(0, 1, lines)
    product = [f"p{x:02d}" for x in rng.integers(0, 40, lines)]
    return pd.DataFrame({"customer": [f"c{x}" for x in who], "product": product,
                         "quantity": 1.0, "date": AS_OF + pd.Timedelta(days=1) - pd.to_timedelta(ago, unit="D"),
                         "invoice": "", "description": ""})


def test_last_basket_holdout_blends_and_ranks_baselines_as_of_each_basket_day():
    df = basket_frame()
    hp = {**h.defaults(), "trend_window_days": 5, "trend_min_support": 1, "eval_k": 3}
    split = splits.pandas_split(df, hp, AS_OF, "last_basket", AS_OF)
    ho = holdout.Holdout(None, split, hp, protocol="last_basket")
    assert len(ho.rows) > 20 and ho.points is not None and len(np.unique(ho.points)) > 10
    r = split.ratings
    rng = np.random.default_rng(0)
    users = rng.normal(size=(r.shape[0], 4)).astype(np.float32)
    items = rng.normal(size=(r.shape[1], 4)).astype(np.float32)
    held, _, _ = splits.held_out_baskets(df)
    first_day = df[held].groupby("customer")["date"].min().dt.normalize()
    train_df = df[~held]
    bought = r.purchases()

    def reference(row: int, key) -> list[int]:
        as_of = first_day[r.customer_ids[row]] - pd.Timedelta(days=1)
        t = trends.compute(train_df, r.product_ids, as_of, hp)
        pop = train_df[train_df["date"] < as_of + pd.Timedelta(days=1)].groupby("product")["customer"].nunique()
        pop = pop.reindex(r.product_ids, fill_value=0).to_numpy(np.float32)
        scores = np.asarray(key(pop, t), dtype=np.float64).copy()
        scores[bought.row(row)] = -np.inf
        order = np.lexsort((np.arange(len(scores)), -scores))
        return [int(i) for i in order[:3] if np.isfinite(scores[i])]

    blended = ho.rank(users, items, blend=("recent", 2.0))
    lists = holdout.top_lists(users, items, bought, ho.rows, 3)  # the ALS alone: one list per customer
    want_alone = ho.rank(users, items)
    np.testing.assert_array_equal(want_alone.ndcg, ho._scored(lists).ndcg)
    got_lists = ho._grouped(ho.rows, ho.points, lambda rows, i: holdout.top_lists(
        users, items, bought, rows, 3, bias=ho.bias("recent", 2.0, i)))
    for pos, row in enumerate(ho.rows):
        want = reference(int(row), lambda pop, t: users[row] @ items.T
                         + 2.0 * core_trends.signal("recent", pop, t.recent, t.trending))
        assert got_lists[pos][got_lists[pos] >= 0].tolist() == want
        want_recent = reference(int(row), lambda pop, t: holdout.baseline_keys(pop, t.recent, t.trending,
                                                                              r.product_ids)["recent"])
        recs = holdout.popularity_lists(holdout.baseline_keys(*ho.day_trends.arrays(int(ho.points[pos])),
                                                              r.product_ids)["recent"], bought, row[None], 3)[0]
        assert recs[recs >= 0].tolist() == want_recent
    np.testing.assert_array_equal(blended.ndcg, ho._scored(got_lists).ndcg)
    # the end-of-data signal would rank differently for someone: the day groups matter on this data
    end = holdout.top_lists(users, items, bought, ho.rows, 3, bias=np.float32(2.0) * ho.signals["recent"])
    assert not np.array_equal(end, got_lists)
