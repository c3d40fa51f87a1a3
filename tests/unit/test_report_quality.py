"""The quality verdicts (benchmarks/quality_trends.py, benchmarks/report_quality.py): a Goals row says met
only when its 95% interval clears the goal, within noise when it straddles it, not met when it is below."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks import quality_trends as qt
from benchmarks import report_quality as rq


def test_status_follows_the_interval_not_the_mean():
    assert qt.status(0.001, 0.02) == "met"
    assert qt.status(-0.001, 0.02) == "within noise"  # a positive mean is not enough
    assert qt.status(-0.02, -0.001) == "not met"


def test_paired_intervals_pair_customers_and_average_seeds():
    rng = np.random.default_rng(0)
    base = rng.random(400)
    better = [base + 0.05, base + 0.07]  # two seeds, every customer up by 0.06 on average
    v = qt.paired(better, base)
    assert v["diff"] == pytest.approx(0.06) and v["customers"] == 400 and v["status"] == "met"
    assert v["ci95"][0] == pytest.approx(0.06) and v["ci95"][1] == pytest.approx(0.06)
    noisy = qt.paired([base + rng.normal(0, 0.3, 400)], base)
    assert noisy["status"] == "within noise" and noisy["ci95"][0] < 0 < noisy["ci95"][1]
    lo, hi = qt.interval([base, base])
    assert lo < base.mean() < hi


def _quality(ci, fair_status):
    fair = {"picked": {"factors": 16, "regularization": 0.01, "alpha": 5.0, "weighting": "bm25"},
            "validation_customers": 40, "summary": {"ndcg_at_10": {"mean": 0.1, "std": 0.01}},
            "defaults": {"diff": 0.004, "ci95": [-0.01, 0.02] if fair_status == "within noise" else [0.001, 0.007],
                         "customers": 22, "status": fair_status}}
    return {"dataset_order": ["sample", "generated"], "configs": [], "protocols": {},
            "goals": {"time_window": {"target_ndcg_at_10": 0.10, "mean": 0.11, "std": 0.01, "min": 0.10,
                                      "ci95": ci, "status": qt.status(ci[0] - 0.10, ci[1] - 0.10), "met": ci[0] > 0.1}},
            "versus_implicit_fair": {"time_window": fair},
            "datasets": {"generated": {"configs": [], "protocols": {}, "versus_implicit_fair": {"last_basket": fair}}}}


def test_goal_rows_carry_the_interval_verdicts_for_every_dataset():
    rows = rq.goal_rows(_quality([0.095, 0.125], "within noise"))
    target = next(r for r in rows if "≥ 0.1" in r[0])
    assert target[-1] == "**within noise**" and "[0.0950, 0.1250]" in target[1]  # mean 0.11 above, interval not
    fair = [r for r in rows if "`implicit` picked on validation" in r[0]]
    assert [r[0].split(",")[1].strip() for r in fair] == ["sample", "generated"]
    assert all(r[-1] == "**within noise**" and "[-0.0100, +0.0200]" in r[1] for r in fair)
    rows = rq.goal_rows(_quality([0.102, 0.125], "met"))
    assert next(r for r in rows if "≥ 0.1" in r[0])[-1] == "**met**"
    assert all(r[-1] == "**met**" for r in rows if "picked on validation" in r[0])
