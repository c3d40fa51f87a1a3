"""The catalogue benchmark's verdicts (benchmarks/report_catalog.py): a goal row says "met" only when
its interval clears the goal."""
from __future__ import annotations

import pytest

from benchmarks.report_catalog import catalog_section, verdict_above, verdict_at_most


@pytest.mark.parametrize("ci, verdict", [([0.01, 0.2], "met"), ([-0.01, 0.2], "within noise"),
                                         ([-0.3, -0.01], "not met"), ([0.0, 0.1], "within noise")])
def test_above_zero(ci, verdict):
    assert verdict_above(ci) == verdict


@pytest.mark.parametrize("ci, verdict", [([1.0, 1.29], "met"), ([1.2, 1.4], "within noise"),
                                         ([1.31, 2.0], "not met"), ([0.9, 1.3], "met")])
def test_at_most(ci, verdict):
    assert verdict_at_most(ci, 1.3) == verdict


def result(minus_random, minus_category, ratio_ci, added):
    arm = {"ndcg": 0.3, "hit": 0.6}
    run = {"seed": 0, "held_out_products": 150, "test_customers": 400, "attributes": arm, "random": arm,
           "category_best_seller": arm}
    delta = lambda ci: {"mean": sum(ci) / 2, "ci95": ci, "customers": 400}  # noqa: E731
    quality = {"runs": [run], **{m: {"attributes": 0.3, "random": 0.04, "category_best_seller": 0.18,
                                     "minus_random": delta(minus_random),
                                     "minus_category_best_seller": delta(minus_category)} for m in ("ndcg", "hit")}}
    cost = {label: {"pairs": 400, "unfiltered_ms_median": 2.0, "filtered_ms_median": 2.4, "ratio": sum(ratio_ci) / 2,
                    "ratio_ci95": ratio_ci, "mean_listed": 10.0} for label in ("distinct_values", "repeated_values")}
    runs = [{"without_catalogue": {"total_pss_mb": 500.0}, "with_catalogue": {"total_pss_mb": 500.0 + a},
             "added_pss_mb": a} for a in added]
    return {"commit": "abc", "model": {"products": 100000, "attributes": 20, "rank": 16},
            "placement_quality": quality, "filter_cost": cost,
            "memory": {"workers": 4, "runs": runs, "added_pss_mb": added, "catalogue_files_mb": 14.0}}


def test_the_goal_rows_follow_the_intervals():
    text, goals = catalog_section(result([0.2, 0.3], [0.1, 0.2], [1.0, 1.2], [40.0, 45.0, 42.0]))
    assert [g[-1] for g in goals] == ["**met**"] * 3
    assert "| 1 | 500.0 | 540.0 | +40.0 |" in text
    _, goals = catalog_section(result([0.2, 0.3], [-0.01, 0.2], [1.2, 1.5], [90.0, 120.0]))
    assert [g[-1] for g in goals] == ["**within noise**"] * 3
    _, goals = catalog_section(result([-0.2, -0.1], [0.1, 0.2], [1.4, 1.9], [130.0, 150.0]))
    assert [g[-1] for g in goals] == ["**not met**"] * 3
    assert catalog_section(None) == ("", [])
