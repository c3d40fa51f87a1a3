"""The Spark data path (inputs/spark_read.py, spark_ratings.py) against the pandas path it replaces at
scale: the same report, clean rows, ratings, catalogue and failures on every input the pandas tests
use; and a `train` run whose Python driver stays small on data pandas would hold in memory."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsreco.core import hyperparameters as h
from alsreco.core.errors import UserError
from alsreco.core.settings import Settings
from alsreco.train import prepare, ratings, spark_ratings
from alsreco.train.inputs import dates, read, spark_dates, spark_read
from alsreco.train.inputs.spark_files import spool_pipes
from alsreco.train.spark.resources import memory_limit_bytes

from ..conftest import REPO, SAMPLE_CSV

pytestmark = pytest.mark.integration

UCI = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
COLUMNS = ["customer", "product", "quantity", "date", "invoice", "description"]


def uci(*rows: str) -> str:
    return UCI + "".join(r + "\n" for r in rows)


def uci_dates(*values: str) -> str:
    return UCI + "".join(f"{536365 + i},P{i},x,1,{d},1.0,{100 + i},UK\n" for i, d in enumerate(values))


def _parquet(frame: pd.DataFrame) -> bytes:
    import io
    buf = io.BytesIO()
    frame.to_parquet(buf)
    return buf.getvalue()


MALFORMED = uci("1,P1,a,1,12/1/10 8:26,1,100,UK", "2,P2,b,x,12/1/10 8:26,1,100,UK",
                "3,P3,c,1,notadate,1,100,UK", "4,P4,d,1,12/1/10 8:26,1,100,UK,extra,fields")
ORDERS = uci("536365,P1,a,1,12/1/10 8:26,1.0,100,UK", "C536379,P1,a,-1,12/1/10 9:00,1.0,100,UK",
             "CA-2016-152156,P2,b,2,12/1/10 9:30,1.0,101,UK", "c536380,P3,c,1,12/1/10 9:40,1.0,102,UK",
             "CB-2017-1,P4,d,-3,12/1/10 9:50,1.0,103,UK")
TSV = "customer\tproduct\tquantity\tdate\nc1\tp1\t1\t2020-01-05\n"

# name -> (files, hyperparameters); every input of tests/unit/test_data.py and test_dates_and_orders.py
CASES: dict[str, tuple[dict[str, str | bytes], dict]] = {
    "drop_rules": ({"a.csv": uci(
        "1,P1,a,2,12/1/10 8:26,1.0,100,UK", "2,P2,b,1,12/1/10 8:26,1.0,,UK", "C3,P1,a,-1,12/1/10 9:00,1.0,100,UK",
        "4,P3,c,0,12/2/10 9:00,1.0,101,UK", "5,POST,post,1,12/2/10 9:00,18.0,101,UK",
        "6,P4,d,1,12/9/10 9:00,1.0,101,UK")}, {"retention_date": "20101205"}),
    "non_product_codes": ({"a.csv": uci("1,POST,p,1,12/1/10 8:26,1,100,UK", "2,GIFT,g,1,12/1/10 8:26,1,100,UK")},
                          {"non_product_codes": '["GIFT"]'}),
    "semicolon_iso_float_ids": ({"sales.txt": "user_id;sku;qty;order_date\n17850.0;A1;2;2021-03-01\n"
                                              "17851;B1;1;2021-03-02\n"}, {}),
    "headerless_pipe": ({"part-0000": "c1|p1|3|2020-01-05\nc2|p2|1|2020-01-06\n"}, {}),
    "tab_gzip_and_uci": ({"2020/01/a.tsv.gz": gzip.compress(TSV.encode()),
                          "2020/b.csv": uci("1,P1,a,1,1/6/20 8:00,1,c2,UK")}, {}),
    "gzip_without_suffix": ({"blob": gzip.compress(uci("1,P1,a,1,12/1/10 8:26,1,100,UK").encode())}, {}),
    "parquet": ({"part.parquet": _parquet(pd.DataFrame({
        "CustomerID": ["1", "2"], "StockCode": ["A1", "B1"], "Quantity": [1, 2],
        "InvoiceDate": pd.to_datetime(["2020-01-01", "2020-01-02"])}))}, {}),
    "parquet_nulls_and_float_ids": ({"part.parquet": _parquet(pd.DataFrame({
        "CustomerID": [17850.0, None, 3.0, 4.0], "StockCode": ["A1", "B1", "C1", "D1"],
        "InvoiceDate": ["2020-01-01", "2020-01-02", "bad", "2020-01-04 10:00"]}))}, {"max_malformed_rows": 5}),
    "missing_quantity": ({"a.csv": "customer,product,date\nc1,p1,2020-01-01\n"}, {}),
    "overrides": ({"a.csv": "shopper,article,n,when,item\nc1,p1,2,2020-01-01,zzz\n"},
                  {"customer_column": "shopper", "product_column": "article", "quantity_column": "n",
                   "date_column": "when"}),
    "override_missing": ({"a.csv": uci("1,P1,a,1,12/1/10 8:26,1,100,UK")}, {"customer_column": "Client"}),
    "missing_date_column": ({"a.csv": "customer,product,quantity\nc1,p1,1\n"}, {}),
    "unrecognised_layout": ({"a.csv": "1,2,3\n4,5,6\n"}, {}),
    "malformed_within_limit": ({"a.csv": MALFORMED}, {"max_malformed_rows": 3}),
    "malformed_over_limit": ({"a.csv": MALFORMED}, {"max_malformed_rows": 2}),
    "malformed_over_limit_in_second_file": ({"a.csv": MALFORMED, "b.csv": MALFORMED}, {"max_malformed_rows": 4}),
    "nothing_usable": ({"a.csv": uci("C1,P1,a,-1,12/1/10 8:26,1,100,UK", "2,P2,b,1,12/1/10 8:26,1,,UK")}, {}),
    "undetectable_dates": ({"a.csv": "customer,product,date\nc1,p1,05@01@2020\n"}, {}),
    "explicit_date_format": ({"a.csv": "customer,product,date\nc1,p1,05@01@2020\n"}, {"date_format": "%d@%m@%Y"}),
    "latin1": ({"legacy.csv": "customer,product,quantity,date,description\nc1,p1,1,2020-01-01,CAF\xc9 MUG\n"
                .encode("latin-1")}, {}),
    "mixed_utf8_and_latin1_lines": ({"mixed.csv": "customer,product,quantity,date,description\n".encode()
                                     + "c1,p1,1,2020-01-01,CAF\u00c9 MUG\n".encode("utf-8")
                                     + "c2,p2,1,2020-01-02,CAF\xc9 MUG\n".encode("latin-1")
                                     + "c\u00e9,p3,1,2020-01-03,\u20ac CUP\n".encode("utf-8")}, {}),
    "an_empty_file_beside_a_good_one": ({"a.csv": uci("1,P1,a,1,12/1/10 8:26,1,100,UK"), "b.csv": ""}, {}),
    "parquet_nulls": ({"part.parquet": _parquet(pd.DataFrame({
        "CustomerID": ["1", None, "3", "4", "5"], "StockCode": ["A1", "B1", None, "D1", "E1"],
        "Quantity": [1.0, 1.0, 1.0, None, 2.0], "Description": [None, "b", "c", "d", "e"],
        "InvoiceDate": ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", None]}))},
        {"max_malformed_rows": 5}),
    "quoted_delimiters": ({"a.csv": uci('1,P1,"MUG, RED",2,12/1/10 8:26,1,100,UK',
                                        '2,P2,"SAY ""HI""",1,12/1/10 8:26,1,100,UK')}, {}),
    "mixed_year_digits": ({"a.csv": uci_dates("12/06/2010 10:08", "2/20/11 11:39", "12/13/2010 09:00",
                                              "1/5/11 8:00", "12/1/10 8:26", "1/5/69 8:00")}, {}),
    "iso_offsets": ({"a.csv": uci_dates("2011-03-26 10:00:00+01:00", "2011-03-27 10:00:00+02:00",
                                        "2011-03-27T12:30:00Z", "2011-10-30 01:30:00-05:00", "2011-03-28",
                                        "2011-03-28 09:15", "2011-03-28 09:15+0100")}, {}),
    "day_first": ({"a.csv": uci_dates("13/01/2011 10:00", "01/02/2011 09:00", "05/03/11 08:30",
                                      "12/04/2011 07:00")}, {}),
    "a_few_bad_dates": ({"a.csv": uci_dates("12/1/10 8:26", "not a date", "12/2/10 9:00", "13/45/10 9:00",
                                            "12/3/10 10:00", "12/4/10 11:00")}, {}),
    "garbage_dates": ({"garbage.csv": uci_dates("soon", "later", "yesterday-ish", "12/1/10 8:26")}, {}),
    "date_format_list": ({"a.csv": uci_dates("05/01/2020", "06/01/20 10:00")},
                         {"date_format": '["%d/%m/%Y", "%d/%m/%y %H:%M"]'}),
    "date_format_wrong": ({"a.csv": uci_dates("05/01/2020", "06/01/20 10:00")}, {"date_format": "%Y-%m-%d"}),
    "twelve_hour_clock": ({"a.csv": uci_dates("1/5/2011 8:00 PM", "1/6/2011 9:30:15 am", "1/7/2011 12:00 AM")},
                          {}),
    "weekday_names_fallback": ({"a.csv": uci_dates("Mon 03 Jan 2011", "Tue 04 Jan 2011")},
                               {"date_format": "%a %d %b %Y"}),
    **{f"cancellation_{rule}": ({"orders.csv": ORDERS}, {"cancellation_rule": rule})
       for rule in ("auto", "c_prefix", "none")},
}
# ratings and catalogue compared on these too (every case compares the clean rows they are built from)
RATINGS_CASES = {"drop_rules", "tab_gzip_and_uci", "parquet_nulls_and_float_ids", "mixed_utf8_and_latin1_lines",
                 "quoted_delimiters",
                 "malformed_within_limit", "iso_offsets"}


def _write(base: Path, files: dict[str, str | bytes]) -> list[Path]:
    out = []
    for name, content in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        out.append(path)
    return sorted(out)


def _run(load):
    try:
        return load(), None
    except UserError as exc:
        return None, exc


def _clean_rows(frame) -> pd.DataFrame:
    got = frame.toPandas().sort_values(["file", "seq"], kind="stable")
    got["date"] = got["date"].astype("datetime64[ns]")
    return got[COLUMNS].reset_index(drop=True)


def assert_same_ratings(df: pd.DataFrame, frame, hp: dict) -> None:
    as_of = ratings.as_of_date(df, hp)
    assert spark_ratings.as_of_date(frame, hp) == as_of
    want = ratings.build(df, hp, as_of)
    sr = spark_ratings.build(frame, hp, as_of)
    got = sr.ratings
    assert got.customer_ids.tolist() == want.customer_ids.tolist()
    assert got.product_ids.tolist() == want.product_ids.tolist()
    assert np.array_equal(got.user, want.user) and np.array_equal(got.item, want.item)
    np.testing.assert_allclose(got.rating, want.rating, rtol=1e-6)
    assert got.rating.dtype == np.float32 and got.user.dtype == np.int32
    cat_want = ratings.catalogue(df, want, hp, as_of)
    cat_got = spark_ratings.catalogue(frame, sr, hp, as_of)
    for name in ("product_popularity", "product_first_seen", "customer_first_seen", "product_names",
                 "new_products", "new_customers"):
        assert getattr(cat_got, name).tolist() == getattr(cat_want, name).tolist(), name
        assert getattr(cat_got, name).dtype.kind == getattr(cat_want, name).dtype.kind, name
    sr.unpersist()


@pytest.mark.parametrize("case", sorted(CASES))
def test_parity_with_the_pandas_path(spark, tmp_path, case):
    files, params = CASES[case]
    hp = h.merge([("test", params)])
    paths = _write(tmp_path, files)
    want, want_err = _run(lambda: read.load(paths, hp))
    got, got_err = _run(lambda: spark_read.load(spark, paths, hp))
    try:
        if want_err is not None or got_err is not None:
            assert type(got_err) is type(want_err), (want_err, got_err)
            named = {p.name for p in paths if p.name in str(want_err)}
            assert named == {p.name for p in paths if p.name in str(got_err)}, (str(want_err), str(got_err))
            assert str(got_err).split(":")[0].split(" ")[-1] == str(want_err).split(":")[0].split(" ")[-1]
            return
        (df, report), (frame, sreport) = want, got
        assert sreport.as_dict() == report.as_dict()
        pd.testing.assert_frame_equal(_clean_rows(frame), df[COLUMNS].reset_index(drop=True), check_dtype=False)
        if case in RATINGS_CASES:
            assert_same_ratings(df, frame, hp)
    finally:
        spark_read.release(spark)


def test_parquet_nulls_are_missing_values_never_the_string_none(spark, tmp_path):
    """Nulls are missing values, as empty CSV fields are: no product = malformed, no quantity = 0
    (dropped), no description = no name; never the string "None"."""
    path = tmp_path / "part.parquet"
    pd.DataFrame({"CustomerID": ["1", None, "3", "4", "5"], "StockCode": ["A1", "B1", None, "D1", "E1"],
                  "Quantity": [1.0, 1.0, 1.0, None, 2.0], "Description": [None, "b", "c", "d", "e"],
                  "InvoiceDate": ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", None]}).to_parquet(path)
    frame, report = spark_read.load(spark, [path], h.merge([("t", {"max_malformed_rows": 5})]))
    try:
        assert (report.rows_read, report.malformed, report.rows_used) == (5, 2, 1)
        assert report.dropped["missing_customer"] == 1 and report.dropped["non_positive_quantity"] == 1
        assert [e.split(": ", 1)[1] for e in report.malformed_examples] == [
            "unparseable empty product", "unparseable date '' (formats: ISO8601; see date_format)"]
        assert _clean_rows(frame)[["customer", "product", "description"]].values.tolist() == [["1", "A1", ""]]
    finally:
        spark_read.release(spark)


@pytest.fixture(scope="module")
def sample_loaded(spark):
    hp = h.defaults()
    df, report = read.load([SAMPLE_CSV], hp)
    frame, sreport = spark_read.load(spark, [SAMPLE_CSV], hp)
    yield df, report, frame, sreport
    spark_read.release(spark)


def test_bundled_sample_rows_and_report(sample_loaded):
    df, report, frame, sreport = sample_loaded
    assert sreport.as_dict() == report.as_dict() and sreport.rows_used == 18039
    pd.testing.assert_frame_equal(_clean_rows(frame), df[COLUMNS].reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("kind", ["incident", "count", "total_qty", "normalize_count", "log_qty"])
@pytest.mark.parametrize("half_life", ["0", "3.5"])
def test_bundled_sample_ratings_for_every_ranking_type(sample_loaded, kind, half_life):
    df, _, frame, _ = sample_loaded
    hp = h.merge([("t", {"ranking_type": kind, "recency_half_life_days": half_life, "retention_days": "5"})])
    if kind == "count" and half_life == "0":
        assert_same_ratings(df, frame, hp)  # catalogue too, once
        return
    as_of = ratings.as_of_date(df, hp)
    want, sr = ratings.build(df, hp, as_of), spark_ratings.build(frame, hp, as_of)
    assert np.array_equal(sr.ratings.user, want.user) and np.array_equal(sr.ratings.item, want.item)
    np.testing.assert_allclose(sr.ratings.rating, want.rating, rtol=1e-6)
    sr.unpersist()


def test_evaluation_split_matches(sample_loaded):
    from alsreco.train.evaluate import relevant_items, split_pandas

    df, _, frame, _ = sample_loaded
    hp = h.defaults()
    start = ratings.as_of_date(df, hp) - pd.Timedelta(days=2)
    r, users, items, _ = split_pandas(df, hp, start)
    sr, s_users, s_items = spark_ratings.split(frame, hp, start)
    assert np.array_equal(sr.ratings.user, r.user) and np.allclose(sr.ratings.rating, r.rating)
    want, got = relevant_items(users, items, r.purchases()), relevant_items(s_users, s_items, r.purchases())
    assert np.array_equal(want[0], got[0]) and np.array_equal(want[1].indices, got[1].indices)
    sr.unpersist()


@pytest.mark.parametrize("fmt, values", [
    ("%Y%m%d", ["20200105", "20201301", "2020-01-05"]),  # glued numbers: two digits each (strptime: 1 or 2)
    ("%d.%m.%Y %H:%M:%S", ["5.1.2020 7:08:09", "05.01.2020 07:08:09"]),
    ("%Y-%m-%dT%H:%M:%S.%f", ["2020-01-05T07:08:09.5", "2020-01-05T07:08:09.123456"]),
    ("%d %B %Y", ["5 January 2020", "05 january 2020"]),
    ("%m/%d/%y %H:%M", ["2/29/68 1:00", "2/29/72 1:00", "12/31/99 23:59", "1/1/00 0:00"]),
    ("%Y-%m-%d %H:%M:%S%z", ["2020-01-05 10:00:00+0100", "2020-01-05 10:00:00+01:00", "2020-01-05 10:00:00Z"]),
    ("%d-%m-%Y", ["31-04-2020", "29-02-2021", "29-02-2020"]),
])
def test_strptime_formats_parse_like_pandas(spark, fmt, values):
    from pyspark.sql import functions as F

    rule = dates.DateRule((fmt,))
    want = rule.parse(pd.Series(values, dtype=object)).tolist()
    got = (spark.createDataFrame([(v,) for v in values], "v string")
           .select(spark_dates.rule_column(rule, F.col("v")).alias("d")).toPandas()["d"])
    assert [None if pd.isna(x) else pd.Timestamp(x) for x in got] == \
        [None if pd.isna(x) else pd.Timestamp(x) for x in want], spark_dates.java_pattern(fmt)


def test_pipe_fifo_is_spooled_for_spark(tmp_path):
    fifo = tmp_path / "training_0"
    os.mkfifo(fifo)
    payload = uci("1,P1,a,1,12/1/10 8:26,1,100,UK").encode()
    writer = threading.Thread(target=lambda: fifo.write_bytes(payload), daemon=True)
    writer.start()
    spool = tmp_path / "spool"
    spool.mkdir()
    (spooled,) = spool_pipes([fifo], spool)
    writer.join(5)
    assert spooled.read_bytes() == payload and spooled.name == "training_0"


def test_which_path_reads_the_data(tmp_path):
    small = tmp_path / "a.csv"
    small.write_text(uci("1,P1,a,1,12/1/10 8:26,1,100,UK"))
    local = Settings(base_dir=tmp_path)
    assert not prepare.use_spark([small], local, own_cluster=False)
    assert prepare.use_spark([small], local, own_cluster=False, threshold=10)
    assert prepare.use_spark([small], local.with_(pandas_max_mb=0), own_cluster=False)  # ALSRECO_PANDAS_MAX_MB=0
    assert prepare.pandas_limit(local.with_(pandas_max_mb=100)) == 100 << 20
    assert prepare.pandas_limit(local) == min(1 << 30, memory_limit_bytes() // 16)  # 1 GiB, 1/16 of memory
    attached = local.with_(spark_master="spark://elsewhere:7077")
    assert not prepare.use_spark([small], attached, own_cluster=False, threshold=10)  # executors can't see it
    assert prepare.use_spark([small], attached, own_cluster=True)
    packed = tmp_path / "blob"
    packed.write_bytes(gzip.compress(small.read_bytes()))
    assert not prepare.use_spark([packed], attached, own_cluster=True)  # Spark needs the .gz name there


DRIVER_PEAK_MIB = 450  # pandas needs ~810 MiB for these 2M lines


def _peak_rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def test_train_on_data_larger_than_pandas_would_hold_keeps_the_driver_small(opt_ml, tmp_path):
    """`train` on ~170 MB of CSV (2M lines; the Spark path, chosen by size). The driver's Python
    process is measured alone: VmHWM in /proc/<pid>/status is the kernel's high-water mark of that
    process's resident memory (not its children: the JVM is a child of the driver, and would be
    counted by getrusage(RUSAGE_CHILDREN) or wait4's rusage once reaped). VmHWM only grows, so the
    last value read before the process exits is its peak. Measured on this data (benchmarks/datagen.py,
    2M lines, 100k customers): the pandas path peaks at ~810 MiB, the Spark path at ~320 MiB, most of
    it the interpreter with pyspark, pandas and pyarrow loaded (independent of the data size)."""
    data = tmp_path / "sales.csv"
    subprocess.run([sys.executable, "-m", "benchmarks.datagen", "--rows", "2000000", "--customers", "5000",
                    "--products", "2000", str(data)], cwd=REPO, check=True, timeout=300)
    size = data.stat().st_size
    assert size > 64 << 20  # ALSRECO_PANDAS_MAX_MB=64 below: Spark reads it
    paths = opt_ml(files={}, hyperparameters={"max_itter": 1, "als_rank": 2, "eval_days": 0})
    os.replace(data, paths.channel_dir("training") / "sales.csv")
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(paths.base), "ALSRECO_DRIVER_MEMORY": "2g",
           "ALSRECO_PANDAS_MAX_MB": "64"}
    proc = subprocess.Popen([sys.executable, "-m", "alsreco.train"], env=env, stderr=subprocess.PIPE, text=True)
    peak = 0
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        peak = max(peak, _peak_rss_kib(proc.pid))
        time.sleep(0.2)
    proc.wait(timeout=30)
    reader.join(10)
    assert proc.returncode == 0, "".join(err)[-3000:]
    meta = json.loads((paths.model_dir / "metadata.json").read_text())
    assert meta["data"]["data_path"] == "spark" and meta["data"]["rows_read"] == 2_000_000
    peak_mb, size_mb = peak / 1024, size / 2**20
    print(f"driver python peak RSS {peak_mb:.0f} MiB for {size_mb:.0f} MiB of CSV")
    assert 0 < peak_mb < DRIVER_PEAK_MIB, f"driver peak RSS {peak_mb:.0f} MiB for {size_mb:.0f} MiB of CSV"


def test_what_the_lines_say_of_each_product_is_the_same_on_both_paths(sample_loaded):
    """unit_price (the lower median of positive prices: Spark's percentile_approx is exact at this size)
    and the countries, most lines first (train/derived.py)."""
    from alsreco.train import derived

    df, _, frame, _ = sample_loaded
    hp = h.defaults()
    sr = spark_ratings.build(frame, hp, ratings.as_of_date(df, hp))
    want = derived.from_lines(df, sr.ratings.product_ids)
    got = derived.from_spark(frame, sr.products, sr.ratings.shape[1])
    assert got["countries"] == want["countries"]
    assert got["unit_price"] == want["unit_price"] and sum(p is not None for p in want["unit_price"]) > 1500
    sr.unpersist()
