"""The evaluation's one-list baselines and last-basket split, against plain references: the fast paths
(a global order read past each customer's purchases; integer codes for baskets) must give what scoring
every product for every customer, and a per-customer walk over baskets, give."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsreco.core.artifact import Purchases
from alsreco.train import splits
from alsreco.train.holdout import popularity_lists, top_lists


@pytest.mark.parametrize("seed", range(40))
def test_one_list_baseline_equals_scoring_every_product(seed):
    rng = np.random.default_rng(seed)
    n, m, k = int(rng.integers(1, 50)), int(rng.integers(1, 30)), int(rng.integers(1, 15))
    r, c = np.nonzero(rng.random((m, n)) < rng.random())  # from nothing bought to everything bought
    bought = Purchases.from_coo(r, c, np.ones(len(r)), (m, n))
    key = (rng.integers(0, 4, n) if seed % 2 else rng.random(n)).astype(np.float32)  # even seeds: many ties
    customers = rng.permutation(m)[:int(rng.integers(0, m + 1))]
    ones = np.broadcast_to(np.ones(1, dtype=np.float32), (m, 1))
    want = top_lists(ones, key[:, None], bought, customers, k, cells=int(rng.integers(1, 200)))
    got = popularity_lists(key, bought, customers, k, max_rows=int(rng.integers(1, 6)), cells=int(rng.integers(1, 99)))
    assert got.shape == want.shape == (len(customers), min(k, n))
    np.testing.assert_array_equal(got, want)


def test_one_list_baseline_skips_purchases_and_ends_short_lists():
    bought = Purchases.from_coo(np.array([0, 0, 1, 1, 1]), np.array([3, 1, 0, 1, 2]), np.ones(5), (2, 4))
    key = np.array([1.0, 5.0, 5.0, 9.0], dtype=np.float32)  # order 3, 1, 2 (tie: lower index), 0
    assert popularity_lists(key, bought, np.array([0, 1]), 3).tolist() == [[2, 0, -1], [3, -1, -1]]


def reference_last_baskets(df: pd.DataFrame) -> set[tuple[str, str]]:
    """(customer, basket) held out: each customer's basket with the latest first line (ties: the largest
    basket id, invoice else the day's text), for customers with two baskets or more."""
    invoice = df["invoice"] if "invoice" in df else pd.Series("", index=df.index)
    basket = [inv if inv else d.strftime("%Y-%m-%d") for inv, d in zip(invoice, df["date"])]
    first: dict[tuple[str, str], pd.Timestamp] = {}
    for cust, b, d in zip(df["customer"], basket, df["date"]):
        first[(cust, b)] = min(first.get((cust, b), d), d)
    held = set()
    for cust in set(df["customer"]):
        mine = [(d, b) for (c, b), d in first.items() if c == cust]
        if len(mine) >= 2:
            held.add((cust, max(mine)[1]))
    return held


@pytest.mark.parametrize("seed", range(30))
def test_last_basket_split_equals_a_per_customer_walk(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    date = (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 6, n), unit="D")
            + pd.to_timedelta(rng.integers(0, 3, n), unit="h"))
    df = pd.DataFrame({"customer": rng.choice(["a", "b", "c", "d10", "e"], n), "product": "p", "date": date})
    if seed % 3:  # invoices that sort as texts, some looking like days; a third of the frames have none
        invoice = rng.choice(["100", "99", "2020-01-03", "x7", "A1"], n).astype(object)
        if seed % 3 == 2:
            invoice[rng.random(n) < 0.5] = ""
        df["invoice"] = invoice
    held, kind, count = splits.held_out_baskets(df)
    want = reference_last_baskets(df)
    invoice = df["invoice"] if "invoice" in df else pd.Series("", index=df.index)
    basket = [inv if inv else d.strftime("%Y-%m-%d") for inv, d in zip(invoice, df["date"])]
    assert held.tolist() == [(c, b) in want for c, b in zip(df["customer"], basket)]
    assert count == len(want)
    has = np.array([inv != "" for inv in invoice])
    assert kind == ("invoice" if has.all() else "day" if not has.any() else "invoice, else day")
