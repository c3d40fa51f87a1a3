"""Issue 11: confidence weightings, the last_basket split, the bootstrap interval and the tune schedule."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alsreco.core import hyperparameters as h
from alsreco.core.errors import UserError
from alsreco.train import evaluate, metrics, splits, tune, weighting
from alsreco.train.ratings import Ratings

# customers x products counts; 0 = not bought
DENSE = np.array([[3, 0, 1, 0],
                  [1, 1, 0, 0],
                  [0, 2, 0, 5],
                  [1, 1, 1, 1],
                  [0, 0, 0, 2]], dtype=float)


def _ratings(dense: np.ndarray = DENSE) -> Ratings:
    u, i = np.nonzero(dense)
    return Ratings(np.array([f"c{x}" for x in range(dense.shape[0])]),
                   np.array([f"p{x}" for x in range(dense.shape[1])]),
                   u.astype(np.int32), i.astype(np.int32), dense[u, i].astype(np.float32))


def _reference(kind: str, dense: np.ndarray, k1: float = 100.0, b: float = 0.8) -> np.ndarray:
    """Plain loops over the customer x product matrix, as the `implicit` library's bm25_weight /
    tfidf_weight compute them (rows = customers = documents, columns = products = terms)."""
    x = dense
    n_docs, n_terms = x.shape
    out = np.zeros_like(x)
    lengths = x.sum(axis=1)
    avg = lengths.mean()
    for d in range(n_docs):
        for t in range(n_terms):
            if x[d, t] == 0:
                continue
            df = sum(1 for dd in range(n_docs) if x[dd, t] != 0)
            idf = math.log(n_docs) - math.log(1 + df)
            if kind == "tfidf":
                out[d, t] = math.sqrt(x[d, t]) * idf
            else:
                norm = (1 - b) + b * lengths[d] / avg
                out[d, t] = x[d, t] * (k1 + 1) / (k1 * norm + x[d, t]) * idf
    return out


@pytest.mark.parametrize("kind, k1, b", [("tfidf", 100, 0.8), ("bm25", 100, 0.8), ("bm25", 1.2, 0.3)])
def test_tfidf_and_bm25_equal_a_hand_written_reference(kind, k1, b):
    r = _ratings()
    want = _reference(kind, DENSE, k1, b)[r.user, r.item]
    got = weighting.raw(kind, r.user, r.item, r.rating, r.shape, k1, b)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_weigh_rescales_to_the_mean_and_floors_at_a_small_positive_weight():
    r = _ratings()
    for kind in ("log", "tfidf", "bm25"):
        w = weighting.weigh(r, {**h.defaults(), "weighting": kind})
        assert w.rating.dtype == np.float32 and (w.user == r.user).all() and (w.item == r.item).all()
        assert w.rating.mean() == pytest.approx(r.rating.mean(), rel=1e-3)
        assert (w.rating > 0).all()
    log = weighting.weigh(r, {**h.defaults(), "weighting": "log"}).rating
    want = np.log1p(r.rating) * r.rating.mean() / np.log1p(r.rating).mean()
    np.testing.assert_allclose(log, want, rtol=1e-6)
    # product 0 was bought by 3 of 5 customers: idf = log(5) - log(4) > 0; with a sixth customer who bought
    # it, log(6) - log(5); with every customer, idf < 0: floored to a small positive weight
    every = np.vstack([DENSE, [0, 0, 0, 1]])
    every[:, 3] = np.maximum(every[:, 3], 1)
    r6 = _ratings(every)
    tfidf = weighting.weigh(r6, {**h.defaults(), "weighting": "tfidf"}).rating
    assert np.allclose(tfidf[r6.item == 3], weighting.WEIGHT_FLOOR * r6.rating.mean(), rtol=1e-3)
    assert (tfidf[r6.item != 3] > 0.1).all()
    assert weighting.weigh(r, h.defaults()) is r


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_customers():
    rng = np.random.default_rng(1)
    few, many = rng.normal(0.05, 0.2, 30), rng.normal(0.05, 0.2, 3000)
    lo, hi = metrics.bootstrap_ci(few)
    assert lo < few.mean() < hi and lo < 0 < hi
    lo2, hi2 = metrics.bootstrap_ci(many, block=1000)  # several blocks
    assert lo2 < many.mean() < hi2 and 0 < lo2 and hi2 - lo2 < (hi - lo) / 5
    assert metrics.bootstrap_ci(np.full(50, 0.1)) == pytest.approx((0.1, 0.1))


def test_comparison_warns_when_customers_are_few_or_the_interval_includes_zero():
    ok = evaluate.compare(np.full(500, 0.3) + np.linspace(0, 0.01, 500), np.full(500, 0.1), 10)
    assert "warning" not in ok and ok["ci95"][0] > 0.19 and ok["test_customers"] == 500
    few = evaluate.compare(np.full(20, 0.3), np.full(20, 0.1), 10)
    assert "only 20 test customers" in few["warning"]
    noisy = evaluate.compare(np.r_[np.ones(150), np.zeros(150)], np.r_[np.zeros(150), np.ones(150)], 10)
    assert "includes 0" in noisy["warning"]


def test_row_terms_average_to_the_ranking_metrics():
    recs = np.array([[1, 2, 3], [4, 5, 6], [7, -1, -1]])
    rel = metrics.Relevant.from_sets([{2}, {9}, {7, 8}])
    terms = metrics.row_terms(recs, rel, 3)
    m = metrics.ranking_metrics(recs, rel, 3, 10)
    assert terms["ndcg"].mean() == pytest.approx(m["ndcg_at_3"])
    assert terms["ndcg"][1] == 0 and terms["ndcg"][0] == pytest.approx(1 / math.log2(3))


def _lines(rows):
    return pd.DataFrame(rows, columns=["customer", "product", "quantity", "date", "invoice"]).assign(
        date=lambda d: pd.to_datetime(d["date"], format="ISO8601"), description="")


def test_last_basket_holds_out_each_customers_last_invoice():
    df = _lines([("a", "p1", 1, "2020-01-01 10:00", "1"), ("a", "p2", 1, "2020-01-03 10:00", "2"),
                 ("a", "p3", 1, "2020-01-03 10:00", "2"), ("b", "p1", 1, "2020-01-02", "3"),
                 ("c", "p2", 1, "2020-01-01", "4"), ("c", "p1", 1, "2020-01-05", "6"),
                 ("c", "p3", 1, "2020-01-05", "5")])
    held, kind, n = splits.held_out_baskets(df)
    # a: invoice 2; b: one basket only, kept; c: two invoices on the same day -> the largest id
    assert held.tolist() == [False, True, True, False, False, True, False] and kind == "invoice" and n == 2
    got = splits.pandas_split(df, h.defaults(), pd.Timestamp("2020-01-05"), "last_basket", pd.Timestamp("2020-01-05"))
    assert got.info == {"baskets": "invoice", "held_out_baskets": 2}
    r = got.ratings
    pairs = {(r.customer_ids[u], r.product_ids[i]) for u, i in zip(r.user, r.item)}
    assert pairs == {("a", "p1"), ("b", "p1"), ("c", "p2"), ("c", "p3")}
    test = {(r.customer_ids[u], r.product_ids[i]) for u, i in zip(got.test_users, got.test_items)}
    assert test == {("a", "p2"), ("a", "p3"), ("c", "p1")}


def test_last_basket_without_invoices_holds_out_the_last_purchase_day():
    df = _lines([("a", "p1", 1, "2020-01-01 10:00", ""), ("a", "p2", 1, "2020-01-03 09:00", ""),
                 ("a", "p3", 1, "2020-01-03 18:00", ""), ("b", "p1", 1, "2020-01-02", "")])
    held, kind, n = splits.held_out_baskets(df)
    assert held.tolist() == [False, True, True, False] and kind == "day" and n == 1


def test_tune_needs_held_out_data():
    with pytest.raises(UserError, match="eval_days > 0"):
        evaluate.check({**h.defaults(), "tune": True, "eval_days": 0})


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fake_search(budget: float, trials: int, seconds_per_unit: float = 0.1, quality=None, warm_up: float = 0.0,
                 terms_of=None):
    clock = FakeClock()
    fitted = []

    def fit_score(hp):
        clock.now += seconds_per_unit * tune.work(hp) + (warm_up if not fitted else 0.0)
        fitted.append(hp)
        return quality(hp) if quality else -abs(math.log(hp["alpha"] / 5.0)) - hp["seed"] * 1e-6

    hp = {**h.defaults(), "tune": True, "tune_budget_seconds": budget, "tune_trials": trials}
    return tune.search(fit_score, hp, lambda score: (score, {"ndcg_at_10": score}), clock=clock,
                       terms_of=terms_of), fitted, clock


def test_tune_starts_no_trial_that_would_end_past_the_budget():
    result, fitted, clock = _fake_search(budget=100, trials=1000)
    assert clock.now <= 100 and len(fitted) > 10
    explore = [t for t in result.trials if t.stage == "explore"]
    assert sum(t.seconds for t in explore) <= 100 * tune.EXPLORE_SHARE
    assert result.trials[0].settings == tune.settings_of(h.defaults())  # the given setting first
    assert {t.settings["weighting"] for t in explore[:4]} == set(h.WEIGHTINGS)
    assert any(t.stage.startswith("confirm") for t in result.trials)
    assert result.chosen_score >= np.mean([t.score for t in result.trials if t.settings == explore[0].settings])
    assert [t.number for t in result.trials] == list(range(1, len(result.trials) + 1))
    assert {hp["als_fits"] for hp in fitted} == {h.defaults()["als_fits"]}  # each trial fits what is deployed


def test_a_slow_first_fit_jvm_warm_up_does_not_stop_the_search_early():
    result, fitted, clock = _fake_search(budget=100, trials=1000, warm_up=30.0)
    assert clock.now <= 100 and len(fitted) > 8
    assert clock.now > 55, "the budget should be used, not left idle after an estimate from the warm-up"


def test_tune_stops_at_tune_trials_and_picks_by_the_mean_over_seeds():
    def quality(hp):  # a lucky seed on one setting must not win against a steady better one
        if hp["weighting"] == "log":
            return 0.5 if hp["seed"] == 42 else 0.0
        return 0.3 if hp["weighting"] == "bm25" else 0.1
    result, fitted, _ = _fake_search(budget=10_000, trials=4, quality=quality)
    assert len({tuple(sorted(t.settings.items())) for t in result.trials}) == 4
    assert result.chosen["weighting"] == "bm25" and result.stopped.startswith("explore: tune_trials")
    assert len(result.chosen_results) == max(sum(t.settings == s.settings for t in result.trials)
                                             for s in result.trials)


def test_tune_always_runs_the_given_setting_even_past_a_tiny_budget():
    result, fitted, _ = _fake_search(budget=1, trials=10, seconds_per_unit=1.0)
    assert len(fitted) == 1 and result.chosen == tune.settings_of(h.defaults())


@pytest.mark.parametrize("customers, noise, moves", [(2000, 0.01, True), (20, 5.0, False)])
def test_tune_keeps_the_given_setting_unless_the_held_out_data_tells_them_apart(customers, noise, moves):
    def terms(score):  # per-customer NDCG: the setting's score plus per-customer noise (same customers)
        return score + np.random.default_rng(int(score * 1000)).normal(0, noise, customers)

    def quality(hp):
        return 0.2 if hp["weighting"] == "bm25" else 0.1
    result, _, _ = _fake_search(budget=10_000, trials=4, quality=quality, terms_of=terms)
    assert result.best["weighting"] == "bm25"
    assert (result.chosen["weighting"] == "bm25") is moves
    assert result.guard["kept_given_setting"] is (not moves) and result.guard["test_customers"] == customers
    if not moves:
        assert result.chosen == tune.settings_of(h.defaults()) and result.chosen_score == pytest.approx(0.1)


def test_the_job_warns_when_the_served_lists_lose_to_a_baseline(caplog):
    """Issue 25: a model significantly below popularity is said as a WARNING naming both scores."""
    import logging

    from alsreco.train.evaluate import log_metrics, losing

    result = {"k": 10, "protocol": "time_window", "window_start": "a", "window_end": "b", "test_customers": 3000,
              "model": {"ndcg_at_10": 0.022}, "popularity": {"ndcg_at_10": 0.064}, "recent": {"ndcg_at_10": 0.05},
              "served": {"ndcg_at_10": 0.03},
              "model_vs_popularity": {"ndcg_at_10_diff": -0.042, "ci95": [-0.05, -0.034]},
              "served_vs_baselines": {"popularity": {"diff": -0.034, "ci95": [-0.04, -0.028]},
                                      "recent": {"diff": -0.02, "ci95": [-0.03, 0.001]}}}
    with caplog.at_level(logging.WARNING, logger="alsreco.train.evaluate"):
        log_metrics(result)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "0.0300, significantly below popularity best sellers' 0.0640" in warnings[0]
    assert "-0.0400..-0.0280" in warnings[0] and "3000 test customers" in warnings[0]
    result["served_vs_baselines"]["popularity"]["ci95"] = [-0.04, 0.002]        # within noise: no warning
    assert losing(result) == []
