"""The `implicit` anchor of the quality benchmark (benchmarks/quality_implicit.py) is picked without the test
part: its validation part is carved from the training lines by the test's own protocol, its matrices sit on
the model's index, and the comparison with ours is a paired interval with a verdict."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from benchmarks import quality_implicit as qi
from benchmarks.quality_data import Holdout


@dataclasses.dataclass
class _Index:
    customer_ids: np.ndarray
    product_ids: np.ndarray
    purchases: object = None
    metadata: dict = dataclasses.field(default_factory=dict)


def _lines(customers: int = 60, products: int = 24, seed: int = 0) -> pd.DataFrame:
    """Two taste groups (even / odd products), four invoices a customer on consecutive days."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        group = c % 2
        for inv in range(4):
            day = pd.Timestamp("2026-11-01") + pd.Timedelta(days=int(rng.integers(0, 20)) + inv)
            for p in rng.choice(np.arange(group, products, 2), 3, replace=False):
                rows.append({"customer": f"c{c}", "product": f"p{p}", "date": day, "invoice": f"i{c}-{inv}"})
    return pd.DataFrame(rows)


def test_the_validation_part_comes_from_the_training_lines_by_the_tests_protocol():
    lines = _lines()
    fit, held = qi.validation_split(lines, "time_window")
    last = lines["date"].max().normalize()
    assert (held["date"] >= last - pd.Timedelta(days=qi.WINDOW_DAYS - 1)).all()
    assert (fit["date"] < last - pd.Timedelta(days=qi.WINDOW_DAYS - 1)).all()
    assert len(fit) + len(held) == len(lines) and not set(fit.index) & set(held.index)
    fit, held = qi.validation_split(lines, "last_basket")
    assert held.groupby("customer")["invoice"].nunique().eq(1).all()  # one basket each: their last
    latest = lines.groupby("customer")["date"].max()
    first = held.groupby("customer")["date"].min()
    assert (first == latest.reindex(first.index)).all()
    assert len(fit) + len(held) == len(lines)


def test_counts_sit_on_the_models_index_and_drop_what_it_does_not_know():
    index = _Index(np.array(["b", "a"]), np.array(["y", "x"]))
    lines = pd.DataFrame({"customer": ["a", "a", "b", "zz", "a"], "product": ["x", "x", "y", "x", "nope"]})
    m = qi.counts(lines, index).toarray()
    assert m.tolist() == [[1.0, 0.0], [0.0, 2.0]]  # b bought y once; a bought x twice; unknowns dropped
    binary = qi.weighted(qi.counts(lines, index), "binary").toarray()
    assert binary.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_the_search_never_reads_the_test_part_and_the_verdict_is_a_paired_interval():
    lines = _lines()
    customers, products = sorted(lines["customer"].unique()), sorted(lines["product"].unique())
    index = _Index(np.array(customers), np.array(products))
    grid = (dict(qi.GRID[0]), {**qi.GRID[0], "factors": 2, "regularization": 100.0})
    found = qi.search(index, lines, "last_basket", grid)
    scores = [g["validation_ndcg"] for g in found["grid"]]
    assert found["picked"] == grid[int(np.argmax(scores))] and found["validation_ndcg"] == max(scores)
    assert found["validation_customers"] > 0
    # the test part: lines after the training part; scored like ours, per customer
    test = _lines(seed=1).assign(date=pd.Timestamp("2026-12-20"))
    holdout = Holdout(dataclasses.replace(index, purchases=qi._purchases(qi.counts(lines, index))), test)
    out = qi.anchor(index, holdout, lines, "last_basket", [0, 1], grid)
    assert len(out["terms"]) == 2 and all(len(t) == len(holdout.rows) for t in out["terms"])
    ours = [t + 0.5 for t in out["terms"]]  # half a point better for every customer
    v = qi.versus({"defaults": ours, "tune": None}, out)
    assert list(v) == ["defaults"] and v["defaults"]["status"] == "met"
    assert v["defaults"]["ci95"][0] == pytest.approx(0.5, abs=1e-6) and v["defaults"]["diff"] == pytest.approx(0.5)
