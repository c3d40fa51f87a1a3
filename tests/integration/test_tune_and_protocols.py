"""Issue 11 with real Spark: `tune`, the last_basket protocol, and weighting on the Spark data path."""
from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest

from alsreco.core import artifact
from alsreco.core import hyperparameters as h
from alsreco.core.settings import Settings
from alsreco.train import main as train
from alsreco.train import prepare, ratings, spark_ratings, splits, weighting
from alsreco.train.inputs import read, spark_read

from ..conftest import SAMPLE_CSV

pytestmark = pytest.mark.integration
SAMPLE_HEAD = "".join(SAMPLE_CSV.read_text().splitlines(keepends=True)[:6000])
TRIAL = re.compile(r"metric: tune\.trial_(\d+)\.ndcg_at_10=([0-9.]+) \(rank (\d+)")


def test_tune_logs_trials_records_them_and_writes_the_chosen_model(opt_ml, spark, caplog):
    # trial-bound, not time-bound (the budget logic is unit-tested with a fake clock): 3 settings explored
    # (the given one, cheap, with two other weightings), then 2 confirmed with a second seed, then 1 a third
    budget = 900
    paths = opt_ml(files={"a.csv": SAMPLE_HEAD},
                   hyperparameters={"tune": "true", "tune_budget_seconds": budget, "tune_trials": 3, "eval_days": 2,
                                    "als_rank": 4, "max_itter": 4, "similar_items": "false"})
    with caplog.at_level(logging.INFO):
        meta = train.run(paths, Settings(base_dir=paths.base), session=spark)
    text = caplog.text
    trials = TRIAL.findall(text)
    tuning = meta["tuning"]
    assert len(trials) == len(tuning["trials"]) == 6, text[-3000:]
    assert [t["stage"] for t in tuning["trials"]] == ["explore"] * 3 + ["confirm 1"] * 2 + ["confirm 2"]
    assert [int(t[0]) for t in trials] == [t["trial"] for t in tuning["trials"]]
    assert [float(t[1]) for t in trials] == pytest.approx([t["score"] for t in tuning["trials"]], abs=1e-6)
    assert tuning["trials"][0]["settings"] == {**{k: h.defaults()[k] for k in ("reg_param", "alpha", "weighting")},
                                               "als_rank": 4, "max_itter": 4}
    assert tuning["stopped"] == "explore: tune_trials; confirm: one setting left"
    chosen = tuning["chosen"]
    assert tuning["chosen_fits"] == sum(t["settings"] == chosen for t in tuning["trials"]) >= 1
    assert tuning["best_found"] == tuning["trials"][-1]["settings"]  # the last one left after confirming
    if chosen != tuning["best_found"]:  # a handful of test customers: the noise guard keeps the given setting
        assert tuning["noise_guard"]["kept_given_setting"] and chosen == tuning["trials"][0]["settings"]
        assert "keeping the given setting" in text
    assert "tune: chose" in text and "metric: tune.chosen.ndcg_at_10=" in text
    # the objective line is the chosen setting's held-out score; the model is the chosen setting on all data
    objective = float(re.search(r"metric: model\.ndcg_at_10=([0-9.]+)", text).group(1))
    assert objective == pytest.approx(tuning["chosen_score"], abs=1e-6)
    als = meta["als"]
    assert (als["rank"], als["max_iter"], als["reg_param"], als["alpha"], als["weighting"]) == \
        (chosen["als_rank"], chosen["max_itter"], chosen["reg_param"], chosen["alpha"], chosen["weighting"])
    model = artifact.load_model(paths.model_dir)
    # the trials fit once each; the final fit uses als_fits (auto: 4 fits on this small data)
    assert als["fits"] == 4 and "4 fits (seeds" in text
    assert model.user_factors.shape[1] == chosen["als_rank"] * 4 and model.metadata["tuning"]["chosen"] == chosen
    assert meta["hyperparameters"]["tune"] is True  # as requested; `als` says what was fitted


def test_last_basket_protocol_in_train(opt_ml, spark, caplog):
    paths = opt_ml(files={"a.csv": SAMPLE_HEAD},
                   hyperparameters={"eval_protocol": "last_basket", "max_itter": 3, "similar_items": "false"})
    with caplog.at_level(logging.INFO):
        meta = train.run(paths, Settings(base_dir=paths.base), session=spark)
    m = meta["metrics"]
    assert m["protocol"] == "last_basket" and m["baskets"] == "invoice" and "window_start" not in m
    assert 0 < m["test_customers"] <= m["held_out_baskets"]
    cmp = m["model_vs_popularity"]
    lo, hi = cmp["ci95"]
    assert lo <= cmp["ndcg_at_10_diff"] <= hi and cmp["test_customers"] == m["test_customers"]
    n = m["test_customers"]
    assert f"metric: model.ndcg_at_10={m['model']['ndcg_at_10']:.6f} ({n} test customers)" in caplog.text
    assert f"metric: evaluation.test_customers={n}" in caplog.text
    if n < 100:
        assert "warning" in cmp and f"only {n} test customers" in caplog.text


@pytest.fixture(scope="module")
def loaded(spark):
    hp = h.defaults()
    df, _ = read.load([SAMPLE_CSV], hp)
    frame, _ = spark_read.load(spark, [SAMPLE_CSV], hp)
    yield df, frame
    spark_read.release(spark)


def test_last_basket_split_is_the_same_on_both_data_paths(loaded):
    df, frame = loaded
    hp = h.defaults()
    as_of = ratings.as_of_date(df, hp)
    r, users, items, info = splits.last_basket(df, hp, as_of)
    sr, s_users, s_items, s_info, s_days, basket_days = spark_ratings.split_last_basket(frame, hp, as_of)
    try:
        assert s_info == info and info["held_out_baskets"] > 100
        assert np.array_equal(sr.ratings.user, r.user) and np.array_equal(sr.ratings.item, r.item)
        np.testing.assert_allclose(sr.ratings.rating, r.rating, rtol=1e-6)
        want = sorted(zip(users.tolist(), items.tolist()))
        assert sorted(set(zip(s_users.tolist(), s_items.tolist()))) == sorted(set(want))
        held, _, _ = splits.held_out_baskets(df)
        days = splits.basket_days(df[held])
        assert sorted(set(basket_days.tolist())) == sorted(set(days.tolist())) and len(s_days) == len(s_users)
    finally:
        sr.unpersist()


def test_bm25_on_the_spark_data_path_gives_the_pandas_paths_ratings(opt_ml, spark, monkeypatch):
    monkeypatch.setattr(prepare, "use_spark", lambda *a, **k: True)
    paths = opt_ml(files={"a.csv": SAMPLE_HEAD},
                   hyperparameters={"weighting": "bm25", "max_itter": 2, "eval_days": 0, "similar_items": "false"})
    meta = train.run(paths, Settings(base_dir=paths.base), session=spark)
    assert meta["data"]["data_path"] == "spark" and meta["als"]["weighting"] == "bm25"
    hp = h.merge([("t", {"weighting": "bm25"})])
    df, _ = read.load([paths.channel_dir("training") / "a.csv"], hp)
    want = weighting.weigh(ratings.build(df, hp, ratings.as_of_date(df, hp)), hp)
    got = artifact.load_model(paths.model_dir).purchases
    coo = pd.DataFrame({"u": np.repeat(np.arange(got.shape[0]), np.diff(got.indptr)), "i": got.indices,
                        "r": got.data})
    assert np.array_equal(coo["u"], want.user) and np.array_equal(coo["i"], want.item)
    np.testing.assert_allclose(coo["r"], want.rating, rtol=1e-5)
    assert not np.allclose(want.rating, ratings.build(df, hp, ratings.as_of_date(df, hp)).rating)
