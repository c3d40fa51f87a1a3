"""Issue 23 through the real `train` with real Spark: the blend is chosen on the validation window carved
from the training data (never on a later test window), a thin window falls back and says so, and `tune`
runs on MovieLens-shaped data."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from alsreco.core.artifact import load_model
from alsreco.core.recommender import Recommender
from alsreco.core.rules import Request
from alsreco.core.settings import Settings
from alsreco.train import main as train
from alsreco.train import metrics
from benchmarks import datagen

pytestmark = pytest.mark.integration
DAY0 = pd.Timestamp("2020-01-01")


def crafted(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training lines: days 0-59, test lines: days 60-62). 400 customers in two clusters of 20 evergreen
    products each; days 50-59 every customer also buys 2 of 10 trend products (a few best sellers), so the
    validation window (days 57-59) is about the trend; in the test window customers go back to their
    cluster's products, where the trend only gets in the way."""
    rng = np.random.default_rng(seed)
    lines = []
    trend_w = 1.0 / np.arange(1, 11) ** 1.2
    for c in range(400):
        own = np.arange(20) + 20 * (c % 2)
        history = rng.choice(own, 8, replace=False)
        for p in history[:6]:
            lines.append((c, f"E{p:02d}", int(rng.integers(0, 50))))
        for p in rng.choice(10, 2, replace=False, p=trend_w / trend_w.sum()):
            lines.append((c, f"T{p:02d}", int(rng.integers(50, 60))))
        if c < 300:
            for p in history[6:]:
                lines.append((c, f"E{p:02d}", int(rng.integers(60, 63))))
    df = pd.DataFrame(lines, columns=["customer", "product", "day"])
    df["date"] = DAY0 + pd.to_timedelta(df["day"], unit="D") + pd.Timedelta(hours=10)
    return df[df["day"] < 60], df[df["day"] >= 60]


def as_csv(df: pd.DataFrame) -> str:
    out = pd.DataFrame({"InvoiceNo": (df["customer"] * 1000 + df["day"]).astype(str), "StockCode": df["product"],
                        "Description": "", "Quantity": 1, "InvoiceDate": df["date"].dt.strftime("%Y-%m-%d %H:%M"),
                        "UnitPrice": 1.0, "CustomerID": (10000 + df["customer"]).astype(str), "Country": "UK"})
    return out.to_csv(index=False)


def test_blend_weight_is_chosen_on_the_validation_window_never_the_test_window(opt_ml, spark, caplog):
    train_df, test_df = crafted()
    paths = opt_ml(files={"train.csv": as_csv(train_df)},
                   hyperparameters={"recency_half_life_days": 0, "als_fits": 1, "als_rank": 8, "max_itter": 8,
                                    "similar_items": "false"})
    with caplog.at_level(logging.INFO):
        meta = train.run(paths, Settings(base_dir=paths.base), session=spark)
    m, b = meta["metrics"], meta["blend"]
    # the validation window is the last 3 days of what train was given: before the test window
    assert (m["protocol"], m["window_start"], m["window_end"]) == ("time_window", "2020-02-27", "2020-02-29")
    assert pd.Timestamp(m["window_end"]) < test_df["date"].min() and "fallback" not in m
    assert b["protocol"] == "time_window" and b["test_customers"] == m["test_customers"] >= 100
    assert b["weight"] > 0 and b["chosen_by"] == "auto", b  # on the validation window, the trend helps
    assert m["served"]["ndcg_at_10"] > m["model"]["ndcg_at_10"]
    assert f"metric: blend.weight={b['weight']:g}" in caplog.text
    # ... while on the test window, which train never saw, the blend costs NDCG: chosen there, it would be 0
    model = load_model(paths.model_dir)
    rec = Recommender(model)
    test = test_df.assign(customer=(10000 + test_df["customer"]).astype(str))
    customers = sorted(set(test["customer"]))
    index = {p: i for i, p in enumerate(model.product_ids)}
    relevant = [set(index[p] for p in test.loc[test["customer"] == c, "product"]) for c in customers]

    def ndcg(weight: float | None) -> float:
        lists = rec.recommend_many([Request(customer_id=c, k=10, blend=weight) for c in customers])
        recs = np.array([[index[r.product_id] for r in p.recommendations] for p in lists])
        return metrics.ranking_metrics(recs, relevant, 10, len(index))["ndcg_at_10"]

    assert ndcg(0) > ndcg(None) + 0.02


def test_thin_window_of_the_sample_falls_back_and_says_so(trained_model_dir):
    m = load_model(trained_model_dir).metadata
    metrics_ = m["metrics"]
    # the sample's last 3 days hold 22 test customers: too few; 13 days of data cap the widening at 6 days
    assert metrics_["requested"] == {"protocol": "time_window", "eval_days": 3}
    assert metrics_["protocol"] == "last_basket" and metrics_["test_customers"] >= 100
    assert metrics_["fallback"]["tried"]["3"]["test_customers"] < 100 and "no time window of 3, 6 days" in \
        metrics_["fallback"]["reason"]
    assert m["blend"]["protocol"] == "last_basket" and m["recency"]["chosen_by"] == "auto"
    assert m["als"]["recency_half_life_days"] == m["recency"]["half_life_days"]
    assert m["trends"]["window_days"] == 7 and m["trends"]["trending_products"] > 0


def test_tune_runs_trials_on_movielens_shaped_data(opt_ml, spark, caplog, tmp_path):
    path = datagen.write(datagen.movielens_like(users=700, movies=300, years=3, seed=1), tmp_path / "ratings.csv")
    paths = opt_ml(files={"ratings.csv": path.read_bytes()},
                   hyperparameters={"tune": "true", "tune_trials": 2, "tune_budget_seconds": 600, "als_rank": 4,
                                    "max_itter": 4, "als_fits": 1, "similar_items": "false",
                                    "customer_column": "userId", "product_column": "movieId"})
    with caplog.at_level(logging.INFO):
        meta = train.run(paths, Settings(base_dir=paths.base), session=spark)
    m = meta["metrics"]
    # the last 3 days (and every window up to 90 days) hold almost no returning customer: per-customer holdout
    assert m["protocol"] == "last_basket" and m["baskets"] == "day" and m["fallback"]["protocol"] == "last_basket"
    assert m["test_customers"] >= 100 and "fell back to holding out each customer's last basket" in caplog.text
    trials = meta["tuning"]["trials"]
    assert len(trials) >= 2 and [t["stage"] for t in trials[:2]] == ["explore", "explore"]
    assert "metric: tune.trial_1.ndcg_at_10=" in caplog.text and "tune: chose" in caplog.text
