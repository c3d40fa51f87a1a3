"""Issue 23 at the edges: the request fields, the model files (optional trend arrays, the blend in
metadata.json), the app's answers, and the benchmark generators."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from alsreco.core.artifact import load_model, write_model
from alsreco.core.errors import ModelError
from alsreco.serve.codecs import JSON, JSONL, decode
from alsreco.serve.codecs.base import HttpError, RecordError
from benchmarks import datagen

from .conftest import make_model
from .test_trends import trend_model


def test_trending_and_blend_fields_parse_and_bad_ones_name_themselves():
    [r] = decode(b'{"trending": true, "k": 3}', JSON)
    assert r.trending and r.customer_id is None and r.blend is None
    [r] = decode(b'{"customer_id": 17850, "blend": 0}', JSON)
    assert r.blend == 0.0 and not r.trending
    many = decode(b'{"customer_ids": ["1", "2"], "trending": true, "blend": 1.5}', JSON)
    assert [(x.customer_id, x.trending, x.blend) for x in many] == [("1", True, 1.5), ("2", True, 1.5)]
    for body, message in ((b'{"customer_id": "1", "blend": 10.5}', "blend must be a number between 0 and 10"),
                          (b'{"customer_id": "1", "blend": true}', "blend must be a number"),
                          (b'{"trending": "yes"}', "trending must be true or false"),
                          (b'{"item_id": "A", "trending": true}', "it does not go with item_id"),
                          (b'{"item_ids": ["A"], "trending": true}', "it does not go with item_ids"),
                          (b'{"trending": false}', "customer_id is required")):
        with pytest.raises(HttpError, match=message) as err:
            decode(body, JSON)
        assert err.value.status == 400
    lines = decode(b'{"trending": true}\n{"customer_id": "1", "blend": -1}', JSONL)
    assert lines[0].trending and isinstance(lines[1], RecordError) and "line 2: blend" in lines[1].message


def test_trend_arrays_round_trip_and_old_models_load(tmp_path):
    m = trend_model()
    write_model(m, tmp_path / "new")
    loaded = load_model(tmp_path / "new")
    assert np.array_equal(loaded.product_recent, m.product_recent)
    assert np.array_equal(loaded.product_trending, m.product_trending)
    assert loaded.metadata["blend"] == {"weight": 1.0, "signal": "recent"}
    write_model(make_model(), tmp_path / "old")  # no trend arrays, no blend: a model from before issue 23
    old = load_model(tmp_path / "old")
    assert old.product_recent is None and old.product_trending is None
    assert not (tmp_path / "old" / "product_trending.npy").exists()


@pytest.mark.parametrize("change, message", [
    (lambda d: np.save(d / "product_trending.npy", np.array([-1.0] * 24, dtype=np.float32)), "product_trending"),
    (lambda d: np.save(d / "product_trending.npy", np.ones(3, dtype=np.float32)), "product_trending length"),
    (lambda d: np.save(d / "product_recent.npy", np.ones(24, dtype=np.float32)), "product_recent.npy must hold"),
    (lambda d: _meta(d, blend={"weight": 11, "signal": "recent"}), "blend = "),
    (lambda d: _meta(d, blend={"weight": 1, "signal": "mood"}), "signal one of trending, recent, popularity"),
    (lambda d: _meta(d, blend="on"), "blend = "),
])
def test_bad_trend_files_are_model_errors_naming_them(tmp_path, change, message):
    write_model(trend_model(), tmp_path / "m")
    change(tmp_path / "m")
    with pytest.raises(ModelError, match=message):
        load_model(tmp_path / "m")


def _meta(model_dir, **fields) -> None:
    path = model_dir / "metadata.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def test_the_app_answers_trending_lists_and_blend_0(tmp_path):
    from alsreco.core.settings import Settings
    from alsreco.serve.app import create_app

    write_model(trend_model(), tmp_path / "model")
    client = create_app(tmp_path / "model", Settings(base_dir=tmp_path)).test_client()
    resp = client.post("/invocations", json={"trending": True, "k": 3})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    [pred] = resp.get_json()["predictions"]
    assert [r["reason"] for r in pred["recommendations"]] == ["trending"] * 3
    blended = client.post("/invocations", json={"customer_id": "17850", "k": 3}).get_json()["predictions"][0]
    alone = client.post("/invocations", json={"customer_id": "17850", "k": 3, "blend": 0}).get_json()["predictions"][0]
    assert [r["product_id"] for r in blended["recommendations"]] != [r["product_id"] for r in alone["recommendations"]]


def _digest(table: pa.Table) -> str:
    buf = pa.BufferOutputStream()
    pacsv.write_csv(table, buf)
    return hashlib.sha256(buf.getvalue().to_pybytes()).hexdigest()


def test_generated_datasets_stay_reproducible_and_lifecycle_is_opt_in():
    # the digest of this small dataset before `lifecycle` existed: existing datasets are unchanged
    assert _digest(datagen.generate(5000, 300, 200, seed=3)) == \
        "780336ab91e52cd11f38c1dcb03e1bd95c965f4cb33ae67ee5a2566e83f06efc"
    a = datagen.generate(60_000, 3_000, 400, seed=1, lifecycle=0.5)
    assert a.equals(datagen.generate(60_000, 3_000, 400, seed=1, lifecycle=0.5)) and a.num_rows == 60_000
    df = a.to_pandas()
    week = (pd.to_datetime(df["InvoiceDate"]) - pd.Timestamp("2011-01-01")).dt.days // 7
    sales = pd.crosstab(df["StockCode"], week)  # products x weeks
    share = sales.max(axis=1) / sales.sum(axis=1)  # a launch-and-fade product sells in a few weeks
    plain = datagen.generate(60_000, 3_000, 400, seed=1).to_pandas()
    plain_sales = pd.crosstab(plain["StockCode"], (pd.to_datetime(plain["InvoiceDate"]) -
                                                   pd.Timestamp("2011-01-01")).dt.days // 7)
    plain_share = plain_sales.max(axis=1) / plain_sales.sum(axis=1)
    assert (share > 0.2).sum() > 60 and (plain_share > 0.2).sum() < 10


def test_movielens_shaped_events_are_bursts_over_years_without_invoices():
    t = datagen.movielens_like(users=300, movies=100, years=3, seed=0).to_pandas()
    assert list(t.columns) == ["userId", "movieId", "rating", "timestamp"]
    d = pd.to_datetime(t["timestamp"])
    assert (d.max() - d.min()).days > 700
    days = d.dt.normalize().groupby(t["userId"]).nunique()
    assert (days >= 2).all()  # every user comes back at least once ...
    last, first = d.groupby(t["userId"]).max(), d.groupby(t["userId"]).min()
    start = d.max().normalize() - pd.Timedelta(days=2)
    assert ((first < start) & (last >= start)).sum() < 10  # ... but hardly anyone in the last 3 days


def test_batch_recommendations_file_carries_the_blend(tmp_path):
    import csv

    from alsreco.core.recommender import Recommender
    from alsreco.core.rules import Request
    from alsreco.train import batch

    m = trend_model()
    batch.write_recommendations(m, tmp_path / "recs.csv")
    rows = list(csv.DictReader(open(tmp_path / "recs.csv")))
    rec = Recommender(m)
    for cid in m.customer_ids[:5]:
        served = rec.recommend(Request(customer_id=str(cid))).recommendations
        mine = [r for r in rows if r["customer_id"] == cid]
        assert [r["product_id"] for r in mine] == [r.product_id for r in served]
        assert [float(r["score"]) for r in mine] == pytest.approx([r.score for r in served], abs=1e-6)
    assert any(r["product_id"] == "22728" for r in rows if r["customer_id"] == m.customer_ids[0])  # blended in
