"""Training data as real exports are: nulls, mixed encodings, empty files beside good ones, fields
and numbers no sales line has, truncated archives. Each is counted, decoded or refused as the
user's error (exit 2) with the file named - never silently turned into data, never a crash."""
from __future__ import annotations

import gzip

import pandas as pd
import pytest

from alsreco.core import hyperparameters
from alsreco.core.errors import UserError
from alsreco.train import ratings
from alsreco.train.inputs import read

HEADER = "customer_id,product_id,quantity,date\n"


def _hp(**kw):
    hp = hyperparameters.defaults()
    hp.update(kw)
    return hp


def test_parquet_nulls_are_missing_values_not_the_text_none(tmp_path):
    path = tmp_path / "sales.parquet"
    pd.DataFrame({"customer_id": ["1", None, "3", "4"], "product_id": ["P1", "P2", None, "P4"],
                  "quantity": [1.0, 2.0, 3.0, None], "date": ["2011-01-01"] * 4}).to_parquet(path)
    df, report = read.load([path], _hp())
    assert "None" not in set(df["product"]) and "None" not in set(df["customer"])
    assert list(df["product"]) == ["P1"]
    assert report.dropped["missing_customer"] == 1  # the null customer
    assert report.malformed == 1  # the null product
    assert report.dropped["non_positive_quantity"] == 1  # a null quantity is 0, as an empty CSV field


def test_mixed_encodings_are_decoded_line_by_line(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_bytes(HEADER.encode() + "Müller,Crème,1,2011-01-01\n".encode("utf-8")
                     + "Café,Thé,1,2011-01-02\n".encode("latin-1") + b"plain,x,1,2011-01-03\n")
    df, report = read.load([path], _hp())
    assert set(df["customer"]) == {"Müller", "Café", "plain"}
    assert set(df["product"]) == {"Crème", "Thé", "x"}
    assert report.latin1_lines == {"sales.csv": 1}


def test_an_empty_file_beside_good_ones_is_skipped_and_reported(tmp_path):
    good, empty = tmp_path / "a.csv", tmp_path / "b.csv"
    good.write_text(HEADER + "1,P1,1,2011-01-01\n")
    empty.write_bytes(b"")
    df, report = read.load([good, empty], _hp())
    assert len(df) == 1 and report.empty_files == [str(empty)]


def test_a_field_beyond_the_csv_limit_is_a_user_error_naming_the_file(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text(HEADER + "1," + "x" * 200_000 + ",1,2011-01-01\n")
    with pytest.raises(UserError, match="sales.csv"):
        read.load([path], _hp())


def test_a_truncated_gzip_is_a_user_error(tmp_path):
    data = gzip.compress((HEADER + "1,P1,1,2011-01-01\n" * 5000).encode())
    path = tmp_path / "sales.csv.gz"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(UserError) as err:
        read.load([path], _hp())
    assert "sales.csv.gz" in str(err.value)


def test_quantities_no_sale_has_are_malformed_and_ratings_stay_finite(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text(HEADER + "1,P1,1e300,2011-01-01\n1,P2,2,2011-01-01\n2,P1,inf,2011-01-02\n")
    df, report = read.load([path], _hp())
    assert report.malformed == 2 and list(df["product"]) == ["P2"]
    assert any("1e300" in e for e in report.malformed_examples)


def test_ratings_that_overflow_float32_are_a_user_error():
    df = pd.DataFrame({"customer": ["1", "1"], "product": ["A", "A"], "quantity": [1e12, 1e12],
                       "date": pd.to_datetime(["2011-01-01", "2011-01-02"])})
    hp = _hp(ranking_type="total_qty")
    ok = ratings.build(df, hp, pd.Timestamp("2011-01-02"))
    assert ok.rating[0] == pytest.approx(2e12)
    big = df.assign(quantity=[3e38, 3e38])
    with pytest.raises(UserError, match="float32"):
        ratings.build(big, hp, pd.Timestamp("2011-01-02"))
