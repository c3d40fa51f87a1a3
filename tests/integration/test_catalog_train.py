"""The catalog channel end to end: the real `train` on the bundled sample with a catalogue (one
attribute per product plus never-sold new products), then the real `serve`: filters, promotions,
exploration and fields over HTTP (JSON, JSON Lines, CSV), the batch filter in recommendations.csv,
and new products placed where their attributes say."""
from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from alsreco.core.artifact import load_model
from alsreco.core.paths import Paths
from alsreco.core.recommender import Recommender
from alsreco.core.rules import Request
from alsreco.core.settings import Settings
from tests.conftest import SAMPLE_CSV, make_opt_ml
from tests.integration.conftest import Serve

pytestmark = pytest.mark.integration
NEW = 20


def sample_catalogue() -> tuple[str, dict[str, str]]:
    """CSV text: every product of the sample (category = last word of its name, median price, in
    stock unless its id ends in 7) and NEW never-sold products named after real ones; the new ids
    -> the real product each copies."""
    lines = pd.read_csv(SAMPLE_CSV, dtype=str)
    lines["UnitPrice"] = pd.to_numeric(lines["UnitPrice"], errors="coerce")
    products = lines.dropna(subset=["Description"]).groupby("StockCode").agg(
        name=("Description", "last"), price=("UnitPrice", "median")).reset_index()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["product_id", "name", "category", "price", "in_stock", "tags"])
    for row in products.itertuples():
        category = str(row.name).split()[-1]
        in_stock = str(not row.StockCode.endswith("7")).lower()
        w.writerow([row.StockCode, row.name, category, round(row.price, 2), in_stock,
                    "|".join(sorted({category, "christmas" if "CHRISTMAS" in row.name else "everyday"}))])
    copies = {}
    popular = lines.groupby("StockCode")["CustomerID"].nunique().sort_values(ascending=False).index[:NEW]
    for i, code in enumerate(popular):
        row = products[products["StockCode"] == code].iloc[0]
        new_id = f"NEW{i:03d}"
        copies[new_id] = code
        w.writerow([new_id, f"NEW {row['name']}", str(row['name']).split()[-1], round(row.price, 2), "true", "new"])
    return buf.getvalue(), copies


@pytest.fixture(scope="module")
def trained(tmp_path_factory, spark):
    base = tmp_path_factory.mktemp("catalog_opt_ml")
    text, copies = sample_catalogue()
    hp = {"als_fits": "1", "eval_days": "0", "similar_items": "false",
          "filters": json.dumps({"in_stock": "INCLUDE ItemID WHERE Items.in_stock = true"}),
          "batch_filter": "EXCLUDE ItemID WHERE Items.category IN ($c)", "batch_filter_values": '{"c": ["HOLDER"]}'}
    paths = make_opt_ml(base, {"online-retail-sample.csv": SAMPLE_CSV.read_bytes()}, hp,
                        inputdataconfig={"training": {"TrainingInputMode": "File"},
                                         "catalog": {"TrainingInputMode": "File"}})
    (paths.channel_dir("catalog")).mkdir(parents=True)
    (paths.channel_dir("catalog") / "catalog.csv").write_text(text)
    from alsreco.train import main as train
    meta = train.run(paths, Settings(base_dir=base), session=spark)   # the session's Spark: never stopped here
    return Paths(base), meta, copies


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    paths, _, _ = trained
    base = tmp_path_factory.mktemp("catalog_serve")
    shutil.copytree(paths.model_dir, base / "model")
    srv = Serve(base)
    try:
        assert srv.wait_ready().status_code == 200, srv.log()
        yield srv
    finally:
        srv.stop()


def test_the_model_holds_the_catalogue_and_the_new_products(trained):
    paths, meta, copies = trained
    model = load_model(paths.model_dir)
    report = meta["catalog"]
    # new: the NEW copies, and products of the sample whose lines were all dropped (no customer id,
    # cancelled): in the catalogue, never sold in the ratings; postage & co are no products at all
    assert report["source"] == "catalog channel" and report["new_products"] >= NEW and report["not_products"] >= 1
    assert "POST" not in load_model(paths.model_dir).product_ids.tolist()
    assert report["attributes"]["price"] == "number" and report["attributes"]["tags"] == "list"
    assert report["attributes"]["unit_price"] == "number"             # what the sales lines say, too
    assert report["placement"]["placed"] == report["new_products"] and report["placement"]["features"] > 10
    ids = model.product_ids.tolist()
    for new_id in copies:
        i = ids.index(new_id)
        assert model.product_popularity[i] == 0 and i in set(model.new_products.tolist())
        assert np.isfinite(model.item_factors[i]).all() and np.abs(model.item_factors[i]).sum() > 0
        assert model.product_names[i].startswith("NEW ")


def test_new_products_land_near_what_they_resemble(trained):
    """Each NEW copy has its original's name words, category, price and tags but no purchase: placed
    from those, the original is among its 20 most similar products (of ~2,600; by chance: 0.8%)."""
    paths, _, copies = trained
    rec = Recommender(load_model(paths.model_dir))
    found = sum(original in {r.product_id for r in rec.recommend(Request(item_id=new_id, k=20)).recommendations}
                for new_id, original in copies.items())
    assert found >= 0.7 * len(copies), found


def test_the_batch_filter_shapes_recommendations_csv(trained):
    paths, meta, _ = trained
    rows = pd.read_csv(paths.output_data_dir / "recommendations.csv", dtype=str)
    model = load_model(paths.model_dir)
    category = model.catalog.find("category")
    index = {p: i for i, p in enumerate(model.product_ids.tolist())}
    assert len(rows) > 1000
    assert not any(category.value(index[p]) == "HOLDER" for p in rows["product_id"])


def test_filters_promotions_exploration_and_fields_over_http(server, trained):
    body = {"customer_id": "17850", "k": 10, "filter": ["in_stock", "EXCLUDE ItemID WHERE Items.price > $max"],
            "filter_values": {"max": 5}, "fields": ["price", "in_stock", "tags"],
            "promotion": {"filter": "INCLUDE ItemID WHERE Items.tags IN ($t)", "filter_values": {"t": ["christmas"]},
                          "share": 0.2},
            "exploration_weight": 0.1, "seed": 3}
    resp = server.post(body)
    assert resp.status_code == 200, resp.text
    recs = resp.json()["predictions"][0]["recommendations"]
    assert len(recs) == 10 and all(r["attributes"]["in_stock"] is True and r["attributes"]["price"] <= 5 for r in recs)
    assert [r["reason"] for r in recs].count("promoted") == 2
    assert all("christmas" in r["attributes"]["tags"] for r in recs if r["reason"] == "promoted")
    assert [r["reason"] for r in recs].count("exploration") == 1
    assert server.post(body).json()["predictions"][0]["recommendations"] == recs       # the seed: the same list
    csv_resp = server.post(body, accept="text/csv")
    assert csv_resp.text.splitlines()[0] == \
        "customer_id,rank,product_id,score,reason,recommendation_id,price,in_stock,tags"


def test_bad_filters_are_400s_naming_them_and_error_lines_in_json_lines(server):
    for body, words in [
        ({"customer_id": "17850", "filter": "INCLUDE ItemID WHERE Items.colour = 'red'"},
         "filter: unknown attribute Items.colour"),
        ({"customer_id": "17850", "filter": "INCLUDE ItemID WHERE Items.price < 'cheap'"}, "is a number"),
        ({"customer_id": "17850", "filter": "INCLUDE ItemID WHERE"}, "filter: expected ItemID or Items"),
        ({"customer_id": "17850", "filter": "no_such_filter"}, "neither a filter expression nor a named filter"),
        ({"customer_id": "17850", "fields": ["colour"]}, "fields: unknown attribute 'colour'"),
        ({"customer_id": "17850", "promotion": {"share": 0.5}}, "promotion.filter is required"),
        ({"customer_id": "17850", "exploration_weight": 2}, "exploration_weight must be a number between 0 and 1"),
    ]:
        resp = server.post(body)
        assert resp.status_code == 400 and words in resp.json()["error"], (body, resp.text)
    lines = "\n".join([json.dumps({"customer_id": "17850", "k": 2, "filter": "in_stock"}),
                       json.dumps({"customer_id": "17850", "filter": "INCLUDE ItemID WHERE Items.x = 1"}),
                       json.dumps({"item_id": "85123A", "k": 2, "fields": ["category"]})])
    resp = server.post(lines, ctype="application/jsonlines")
    out = [json.loads(line) for line in resp.text.splitlines()]
    assert resp.status_code == 200 and len(out) == 3
    assert len(out[0]["recommendations"]) == 2 and "line 2: filter: unknown attribute Items.x" in out[1]["error"]
    assert set(out[2]["recommendations"][0]["attributes"]) == {"category"}
