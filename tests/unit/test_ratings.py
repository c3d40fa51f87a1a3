import numpy as np
import pandas as pd
import pytest

from alsreco.core import hyperparameters as h
from alsreco.train import ratings


def lines():
    return pd.DataFrame({
        "customer": ["c1", "c1", "c1", "c2", "c2", "c3"],
        "product": ["p1", "p1", "p2", "p1", "p3", "p3"],
        "quantity": [2.0, 4.0, 1.0, 1.0, 10.0, 3.0],
        "date": pd.to_datetime(["2020-01-01", "2020-01-05", "2020-01-02", "2020-01-03", "2020-01-09",
                                "2020-01-10"]),
        "invoice": "", "description": ["one", "one!", "two", "one", "three", "three"],
    })


def rating_of(r, customer, product):
    u = list(r.customer_ids).index(customer)
    i = list(r.product_ids).index(product)
    mask = (r.user == u) & (r.item == i)
    return float(r.rating[mask][0])


@pytest.mark.parametrize("kind, expected", [
    ("incident", {("c1", "p1"): 1, ("c2", "p3"): 1}),
    ("count", {("c1", "p1"): 2, ("c2", "p3"): 1}),
    ("total_qty", {("c1", "p1"): 6, ("c2", "p3"): 10}),
    ("log_qty", {("c1", "p1"): np.log1p(6), ("c2", "p3"): np.log1p(10)}),
    # p1 counts: c1=2, c2=1 -> mean 1.5; p3 counts: 1, 1 -> mean 1
    ("normalize_count", {("c1", "p1"): 2 / 1.5, ("c2", "p1"): 1 / 1.5, ("c2", "p3"): 1.0}),
])
def test_ranking_types(kind, expected):
    df = lines()
    r = ratings.build(df, h.merge([("t", {"ranking_type": kind})]), pd.Timestamp("2020-01-10"))
    assert list(r.customer_ids) == ["c1", "c2", "c3"] and list(r.product_ids) == ["p1", "p2", "p3"]
    assert len(r.rating) == 5 and r.rating.dtype == np.float32
    for (c, p), value in expected.items():
        assert rating_of(r, c, p) == pytest.approx(value, rel=1e-6)


def test_recency_weighting_halves_per_half_life():
    df = lines()
    hp = h.merge([("t", {"ranking_type": "count", "recency_half_life_days": "1"})])
    r = ratings.build(df, hp, pd.Timestamp("2020-01-10"))
    # c3/p3 bought on the as-of day: age <= 1 day; c2/p1 seven days older -> 2^-7 relative
    assert rating_of(r, "c3", "p3") / rating_of(r, "c2", "p1") == pytest.approx(2 ** 7, rel=1e-5)


def test_catalogue_popularity_first_seen_and_new_sets():
    df = lines()
    hp = h.merge([("t", {"retention_days": "2"})])
    as_of = ratings.as_of_date(df, hp)
    assert as_of == pd.Timestamp("2020-01-10")
    r = ratings.build(df, hp, as_of)
    cat = ratings.catalogue(df, r, hp, as_of)
    assert cat.product_popularity.tolist() == [2, 1, 2]
    assert cat.product_first_seen.tolist()[2] == np.datetime64("2020-01-09", "D").astype(object)
    assert [r.product_ids[i] for i in cat.new_products] == ["p3"]
    assert [r.customer_ids[i] for i in cat.new_customers] == ["c3"]
    assert cat.product_names.tolist() == ["one", "two", "three"]
    purchases = r.purchases()
    assert purchases.shape == (3, 3) and sorted(purchases.row(0).tolist()) == [0, 1]


def test_retention_date_sets_as_of():
    assert ratings.as_of_date(lines(), {"retention_date": "20200105"}) == pd.Timestamp("2020-01-05")
