import gzip
import os

import pandas as pd
import pytest

from alsreco.core import hyperparameters as h
from alsreco.core.errors import UserError
from alsreco.train.inputs import channels, layout, read

from ..conftest import SAMPLE_CSV

UCI_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def uci(*rows: str) -> str:
    return UCI_HEADER + "".join(r + "\n" for r in rows)


def load(paths, **hp):
    return read.load(channels.discover(paths).files, h.merge([("test", hp)]))


def test_bundled_sample_counts_every_drop_rule():
    df, report = read.load([SAMPLE_CSV], h.defaults())
    assert report.rows_read == 28492
    assert report.dropped["missing_customer"] == 10003
    assert report.dropped["cancelled"] == 386
    assert report.dropped["non_product_code"] == 64
    assert report.rows_used == len(df) == 28492 - 10003 - 386 - 64
    assert set(df.columns) >= {"customer", "product", "quantity", "date", "description"}
    assert df["customer"].map(type).eq(str).all() and "17850" in set(df["customer"])
    assert df["date"].min() == pd.Timestamp("2010-12-01 08:26")


def test_each_drop_rule(opt_ml):
    paths = opt_ml(files={"a.csv": uci(
        "1,P1,a,2,12/1/10 8:26,1.0,100,UK",      # kept
        "2,P2,b,1,12/1/10 8:26,1.0,,UK",         # missing customer
        "C3,P1,a,-1,12/1/10 9:00,1.0,100,UK",    # cancelled
        "4,P3,c,0,12/2/10 9:00,1.0,101,UK",      # non-positive quantity
        "5,POST,post,1,12/2/10 9:00,18.0,101,UK",  # non-product
        "6,P4,d,1,12/9/10 9:00,1.0,101,UK",      # after retention_date
    )})
    df, report = load(paths, retention_date="20101205")
    assert report.dropped == {"missing_customer": 1, "cancelled": 1, "non_positive_quantity": 1,
                              "non_product_code": 1, "after_as_of": 1}
    assert df[["customer", "product"]].values.tolist() == [["100", "P1"]]


def test_non_product_codes_are_configurable(opt_ml):
    paths = opt_ml(files={"a.csv": uci("1,POST,p,1,12/1/10 8:26,1,100,UK", "2,GIFT,g,1,12/1/10 8:26,1,100,UK")})
    df, report = load(paths, non_product_codes='["GIFT"]')
    assert df["product"].tolist() == ["POST"] and report.dropped["non_product_code"] == 1


def test_generic_semicolon_header_with_iso_dates_and_float_ids(opt_ml):
    paths = opt_ml(files={"sales.txt": "user_id;sku;qty;order_date\n17850.0;A1;2;2021-03-01\n17851;B1;1;2021-03-02\n"})
    df, _ = load(paths)
    assert df["customer"].tolist() == ["17850", "17851"]
    assert df["quantity"].tolist() == [2.0, 1.0]
    assert df["date"].tolist() == [pd.Timestamp("2021-03-01"), pd.Timestamp("2021-03-02")]


def test_headerless_pipe_seed_format(opt_ml):
    paths = opt_ml(files={"part-0000": "c1|p1|3|2020-01-05\nc2|p2|1|2020-01-06\n"})
    df, _ = load(paths)
    assert df[["customer", "product", "quantity"]].values.tolist() == [["c1", "p1", 3.0], ["c2", "p2", 1.0]]


def test_tab_gzip_nested_folders_and_hidden_files(opt_ml):
    tsv = "customer\tproduct\tquantity\tdate\nc1\tp1\t1\t2020-01-05\n"
    paths = opt_ml(files={"2020/01/a.tsv.gz": gzip.compress(tsv.encode()), "2020/b.csv": uci(
        "1,P1,a,1,1/6/20 8:00,1,c2,UK"), ".hidden.csv": "garbage", "_SUCCESS": ""})
    df, report = load(paths)
    assert report.files == 2
    assert sorted(df["customer"]) == ["c1", "c2"]


def test_gzip_without_gz_suffix(opt_ml):
    paths = opt_ml(files={"blob": gzip.compress(uci("1,P1,a,1,12/1/10 8:26,1,100,UK").encode())})
    assert load(paths)[0]["product"].tolist() == ["P1"]


def test_parquet(opt_ml, tmp_path):
    frame = pd.DataFrame({"CustomerID": ["1", "2"], "StockCode": ["A1", "B1"], "Quantity": [1, 2],
                          "InvoiceDate": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    paths = opt_ml(files={})
    frame.to_parquet(paths.channel_dir("training") / "part.parquet")
    df, _ = load(paths)
    assert df["product"].tolist() == ["A1", "B1"] and df["quantity"].tolist() == [1.0, 2.0]


def test_missing_quantity_means_one_per_line(opt_ml):
    paths = opt_ml(files={"a.csv": "customer,product,date\nc1,p1,2020-01-01\n"})
    assert load(paths)[0]["quantity"].tolist() == [1.0]


def test_explicit_column_overrides_win(opt_ml):
    paths = opt_ml(files={"a.csv": "shopper,article,n,when,item\nc1,p1,2,2020-01-01,zzz\n"})
    df, _ = load(paths, customer_column="shopper", product_column="article", quantity_column="n",
                 date_column="when")
    assert df[["customer", "product", "quantity"]].values.tolist() == [["c1", "p1", 2.0]]


def test_override_naming_a_missing_column(opt_ml):
    paths = opt_ml(files={"a.csv": uci("1,P1,a,1,12/1/10 8:26,1,100,UK")})
    with pytest.raises(UserError, match=r"a.csv: column 'Client' \(hyperparameter customer_column\).*CustomerID"):
        load(paths, customer_column="Client")


def test_missing_required_column_names_file_and_fix(opt_ml):
    paths = opt_ml(files={"a.csv": "customer,product,quantity\nc1,p1,1\n"})
    with pytest.raises(UserError, match=r"a.csv: no date column found.*date_column"):
        load(paths)


def test_unrecognised_layout(opt_ml):
    paths = opt_ml(files={"a.csv": "1,2,3\n4,5,6\n"})
    with pytest.raises(UserError, match="cannot recognise the layout"):
        load(paths)


def test_malformed_rows_are_skipped_up_to_the_limit(opt_ml):
    rows = ["1,P1,a,1,12/1/10 8:26,1,100,UK", "2,P2,b,x,12/1/10 8:26,1,100,UK",  # bad quantity: line 3
            "3,P3,c,1,notadate,1,100,UK",  # bad date: line 4
            "4,P4,d,1,12/1/10 8:26,1,100,UK,extra,fields"]  # wrong field count: line 5
    paths = opt_ml(files={"a.csv": uci(*rows)})
    df, report = load(paths, max_malformed_rows=3)
    assert df["product"].tolist() == ["P1"] and report.malformed == 3
    with pytest.raises(UserError) as err:
        load(paths, max_malformed_rows=2)
    msg = str(err.value)
    assert "3 malformed rows" in msg and "max_malformed_rows" in msg
    assert "a.csv line 5: wrong number of fields" in msg
    assert "a.csv line 3: unparseable quantity 'x'" in msg
    assert "a.csv line 4: unparseable date 'notadate'" in msg


def test_nothing_usable_left(opt_ml):
    paths = opt_ml(files={"a.csv": uci("C1,P1,a,-1,12/1/10 8:26,1,100,UK", "2,P2,b,1,12/1/10 8:26,1,,UK")})
    with pytest.raises(UserError, match="no usable rows remain after cleaning 2 row"):
        load(paths)


def test_explicit_date_format_and_undetectable_dates(opt_ml):
    paths = opt_ml(files={"a.csv": "customer,product,date\nc1,p1,05@01@2020\n"})
    with pytest.raises(UserError, match="date_format"):
        load(paths)
    df, _ = load(paths, date_format="%d@%m@%Y")
    assert df["date"].tolist() == [pd.Timestamp("2020-01-05")]


def test_channel_from_inputdataconfig_with_another_name(opt_ml):
    paths = opt_ml(files={"a.csv": uci("1,P1,a,1,12/1/10 8:26,1,100,UK")}, channel="train",
                   inputdataconfig={"train": {"TrainingInputMode": "FastFile"}})
    ch = channels.discover(paths)
    assert (ch.name, ch.mode, [p.name for p in ch.files]) == ("train", "FastFile", ["a.csv"])


def test_several_channels_without_training_is_an_error(opt_ml):
    paths = opt_ml(files={"a.csv": "x"}, channel="a", inputdataconfig={"a": {}, "b": {}})
    with pytest.raises(UserError, match="name the training data channel 'training'"):
        channels.discover(paths)


def test_empty_or_missing_channel(opt_ml):
    paths = opt_ml(files={})
    with pytest.raises(UserError, match="holds no data files"):
        channels.discover(paths)
    paths = opt_ml(files={}, inputdataconfig={"training": {}})
    (paths.channel_dir("training")).rmdir()
    with pytest.raises(UserError, match="does not exist"):
        channels.discover(paths)


def test_pipe_mode_reads_the_fifo(opt_ml):
    import threading
    paths = opt_ml(files={}, inputdataconfig={"training": {"TrainingInputMode": "Pipe"}})
    fifo = paths.data_dir / "training_0"
    os.mkfifo(fifo)
    payload = uci("1,P1,a,1,12/1/10 8:26,1,100,UK").encode()
    writer = threading.Thread(target=lambda: fifo.write_bytes(payload), daemon=True)
    writer.start()
    df, _ = load(paths)
    writer.join(5)
    assert df["product"].tolist() == ["P1"]


def test_pipe_mode_without_a_fifo_says_use_file_mode(opt_ml):
    paths = opt_ml(files={}, inputdataconfig={"training": {"TrainingInputMode": "Pipe"}})
    with pytest.raises(UserError, match="set TrainingInputMode to File"):
        channels.discover(paths)


def test_latin1_exports_are_read_not_rejected(opt_ml):
    content = "customer,product,quantity,date,description\nc1,p1,1,2020-01-01,CAF\xc9 MUG\n".encode("latin-1")
    df, _ = load(opt_ml(files={"legacy.csv": content}))
    assert df["description"].tolist() == ["CAF\u00c9 MUG"]


def test_quoted_delimiters_inside_fields(opt_ml):
    paths = opt_ml(files={"a.csv": uci('1,P1,"MUG, RED",2,12/1/10 8:26,1,100,UK')})
    df, report = load(paths)
    assert df["description"].tolist() == ["MUG, RED"] and report.malformed == 0


def test_layout_is_sniffed_from_the_first_lines(tmp_path):
    plain = tmp_path / "a.csv"
    plain.write_text(uci("1,P1,a,1,12/1/10 8:26,1,100,UK"))
    got = layout.sniff(plain, h.defaults())
    assert (got.kind, got.delimiter, got.header, got.compression) == ("csv", ",", True, None)
    assert got.columns["customer"] == "CustomerID" and got.columns["product"] == "StockCode"
    packed = tmp_path / "b"
    packed.write_bytes(gzip.compress(b"c1|p1|3|2020-01-05\n"))
    got = layout.sniff(packed, h.defaults())
    assert (got.delimiter, got.header, got.compression) == ("|", False, "gzip")
    assert got.columns == {"customer": 0, "product": 1, "quantity": 2, "date": 3}

