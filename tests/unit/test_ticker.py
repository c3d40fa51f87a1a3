"""Progress lines of long driver loops (train/ticker.py) and where train uses them."""
from __future__ import annotations

import logging

from alsreco.train import batch, similar
from alsreco.train.ticker import Ticker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_ticker_logs_at_most_every_period_with_an_estimate(caplog):
    clock = Clock()
    t = Ticker("recommendations", 1000, "customers scored", every=15.0, clock=clock)
    clock.now += 5
    assert t.tick(100) is None  # before the period: no line
    clock.now += 15
    with caplog.at_level(logging.INFO):
        line = t.tick(250)
    assert line == "recommendations: 250 of 1,000 customers scored, 20 s elapsed, ~60 s left"
    assert line in caplog.text
    clock.now += 10
    assert t.tick(400) is None  # 10 s since the last line
    clock.now += 5
    assert t.tick(0) == "recommendations: 0 of 1,000 customers scored, 35 s elapsed"  # nothing done: no estimate
    assert t.seconds() == 35


def test_batch_and_similar_files_say_what_they_wrote(tmp_path, caplog, model):
    small_model = model
    with caplog.at_level(logging.INFO):
        rows = batch.write_recommendations(small_model, tmp_path / "r.csv", cells=64)
        sim = similar.write_similar_items(small_model, tmp_path / "s.csv", cells=64)
    n = len(small_model.customer_ids)
    assert f"recommendations: {rows} rows for {n} customers in " in caplog.text
    assert f"similar products: {sim} rows for {len(small_model.product_ids)} products in " in caplog.text
    assert rows == len((tmp_path / "r.csv").read_text().splitlines()) - 1 > 0
