"""The catalog channel (CSV, Parquet, JSON Lines): kinds inferred or declared, problems counted and
named by file, line and column; the attribute store on disk; what the sales lines say of a product;
new products placed from their attributes."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from alsreco.core.catalog import Catalog, encode, load, save
from alsreco.core.errors import ModelError, UserError
from alsreco.train import derived, placement
from alsreco.train.inputs.catalog import attribute_name, convert, infer, read_catalog

CSV = """product_id,category,price,in_stock,tags,added,Unit Price
A1,toys,5.5,true,red|kids,2026-11-01,5
B2,garden,12,false,blue,2026-12-01T10:00:00Z,12
C3,,,,,,
A1,toys,6,true,"[""red"", ""new""]",2026-11-02,6
"""


def test_csv_kinds_are_inferred_and_a_repeated_product_wins_last(tmp_path):
    (tmp_path / "cat.csv").write_text(CSV)
    products, kinds, report = read_catalog([tmp_path / "cat.csv"])
    assert kinds == {"category": "string", "price": "number", "in_stock": "bool", "tags": "list",
                     "added": "date", "Unit_Price": "number"}
    assert report.renamed == {"Unit Price": "Unit_Price"} and report.duplicates == 1 and report.products == 3
    assert products["A1"]["price"] == 6.0 and products["A1"]["tags"] == ["red", "new"]
    assert products["B2"]["added"].isoformat() == "2026-12-01" and products["B2"]["in_stock"] is False
    assert all(v is None for v in products["C3"].values())


def test_parquet_and_json_lines_keep_their_types(tmp_path):
    frame = pd.DataFrame({"sku": ["A1", "B2", None] + [f"Z{i}" for i in range(9)],
                          "price": [1.5, None, 3.0] + [1.0] * 9, "flag": [True, False, None] + [True] * 9,
                          "tags": [["x", "y"], [], None] + [["z"]] * 9,
                          "day": pd.to_datetime(["2026-01-01", None, "2026-01-03"] + ["2026-02-01"] * 9)})
    frame.to_parquet(tmp_path / "cat.parquet")
    products, kinds, report = read_catalog([tmp_path / "cat.parquet"])
    assert kinds == {"price": "number", "flag": "bool", "tags": "list", "day": "date"}
    assert products["A1"] == {"price": 1.5, "flag": True, "tags": ["x", "y"], "day": pd.Timestamp("2026-01-01").date()}
    assert products["B2"]["price"] is None and report.missing_id == 1
    lines = [{"item_id": "X", "brand": "acme", "size": 3, "tags": ["a"]}, {"item_id": 7, "brand": None, "size": 4.5}]
    (tmp_path / "cat.jsonl.gz").write_bytes(gzip.compress("\n".join(map(json.dumps, lines)).encode()))
    products, kinds, _ = read_catalog([tmp_path / "cat.jsonl.gz"])
    assert kinds == {"brand": "string", "size": "number", "tags": "list"} and products["7"]["size"] == 4.5


def test_declared_kinds_win_and_values_that_do_not_fit_are_named(tmp_path):
    rows = "product_id,code,price\n" + "".join(f"P{i},{i:03d},{i}\n" for i in range(30)) + "P99,007,cheap\n"
    (tmp_path / "c.csv").write_text(rows)
    products, kinds, report = read_catalog([tmp_path / "c.csv"], {"code": "string", "price": "number"})
    assert kinds == {"code": "string", "price": "number"} and products["P7"]["code"] == "007"
    assert products["P99"]["price"] is None and report.bad_values == {"price": 1}
    assert report.examples == ["c.csv:32: column 'price': not a number ('cheap')"]


@pytest.mark.parametrize("content, words", [
    ("name,price\nx,1\n", "no product id column"),
    ('{"product_id": "a"}\n[1, 2]\n', "c.csv:2: not a JSON object"),
    ("product_id,price\n" + "a,1\nb,x\nc,y\n", "problems in 2 of 3 rows"),
    ("product_id,price\nx,1,2,3\n", "c.csv:2: 4 fields, the header has 2"),
    ("", "is empty"),
])
def test_a_catalogue_that_cannot_be_used_is_a_user_error_naming_it(tmp_path, content, words):
    (tmp_path / "c.csv").write_text(content)
    with pytest.raises(UserError, match=words):
        read_catalog([tmp_path / "c.csv"], {"price": "number"} if "price" in content else None)


def test_declared_kinds_must_exist(tmp_path):
    (tmp_path / "c.csv").write_text("product_id,a\nx,1\n")
    with pytest.raises(UserError, match="catalog_types names 'b'"):
        read_catalog([tmp_path / "c.csv"], {"b": "string"})
    with pytest.raises(UserError, match="unknown kind 'colour'"):
        read_catalog([tmp_path / "c.csv"], {"a": "colour"})


@pytest.mark.parametrize("values, kind", [
    (["true", "FALSE", ""], "bool"), (["1", "2.5", "-3e2"], "number"), (["2026-01-01", "2026-01-02 10:00"], "date"),
    (["a|b", "c", "d|e"], "list"), (['["a"]', "[]"], "list"), (["a", "b|c", "d", "e"], "string"), ([], "string"),
])
def test_kind_inference(values, kind):
    assert infer(values) == kind


def test_conversion_and_names():
    assert convert("a | b |a", "list") == (["a", "b"], None)
    assert convert("2026-02-30", "date") == (None, "not a valid date")
    assert convert(float("inf"), "number") == (None, "not a finite number")
    assert attribute_name("2nd price") == "_2nd_price" and attribute_name("Items.x") == "Items_x"


def test_the_attribute_store_round_trips_and_refuses_a_broken_one(tmp_path):
    cat = Catalog(3)
    cat.columns["c"] = encode("c", "string", ["x", None, "y"])
    cat.columns["t"] = encode("t", "list", [["a", "b"], None, []])
    cat.columns["n"] = encode("n", "number", [1.0, None, 2.5])
    cat.columns["b"] = encode("b", "bool", [True, None, False])
    cat.columns["d"] = encode("d", "date", ["2026-01-02", None, "2026-01-03"])
    save(cat, tmp_path)
    back = load(tmp_path, 3)
    assert [[back.columns[k].value(i) for k in "ctnbd"] for i in range(3)] == [
        ["x", ["a", "b"], 1, True, "2026-01-02"], [None, [], None, None, None], ["y", [], 2.5, False, "2026-01-03"]]
    taken = back.take(np.array([2, -1, 0]), 3)
    assert [taken.columns["t"].value(i) for i in range(3)] == [[], [], ["a", "b"]]
    with pytest.raises(ModelError, match="describes 3 products, the model has 4"):
        load(tmp_path, 4)
    np.save(tmp_path / "catalog_0_codes.npy", np.array([0, 5, 1], dtype=np.int32))
    with pytest.raises(ModelError, match="a code points outside"):
        load(tmp_path, 3)


def test_what_the_sales_lines_say():
    lines = pd.DataFrame({"product": ["a", "a", "a", "b", "b"], "price": [1.0, 3.0, -1.0, np.nan, 2.0],
                          "country": ["UK", "FR", "UK", "", "DE"]})
    out = derived.from_lines(lines, np.array(["a", "b", "c"]))
    assert out == {"unit_price": [1.0, 2.0, None], "countries": [["UK", "FR"], ["DE"], None]}   # the lower median


def test_new_products_are_placed_near_the_products_that_share_their_attributes():
    rng = np.random.default_rng(0)
    kinds = ["toys", "garden", "kitchen", "books"]
    n = 800
    kind_of = rng.integers(0, 4, n)
    axes = np.eye(4, 6)
    items = (axes[kind_of] + 0.1 * rng.standard_normal((n, 6))).astype(np.float32)
    cat = Catalog(n)
    cat.columns["category"] = encode("category", "string", [kinds[k] for k in kind_of])
    cat.columns["name"] = encode("name", "string", [f"{kinds[k].upper()} THING {i}" for i, k in enumerate(kind_of)])
    sold, unsold = np.arange(700), np.arange(700, 800)
    placed, report = placement.place(cat, items, sold, unsold)
    assert placed.shape == (100, 6) and report["placed"] == 100 and report["features"] > 4
    nearest = np.argmax(placed @ axes.T, axis=1)
    assert (nearest == kind_of[unsold]).mean() == 1.0          # each lands in its category's direction
    assert report["penalty"] in placement.PENALTIES
