"""Adversarial corpus, training side: hostile data files and hyperparameters through the real `train`
entry point (`main()`, on a temporary /opt/ml tree). Every refusal happens on the pandas path before
Spark would start (starting it fails the test), and must be exit 2 with output/failure naming the file,
line or field - never exit 1 with a traceback only, never a model left behind. Inputs the README
says are handled (rows counted as malformed or dropped) are checked through `read.load`."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from alsreco.core import hyperparameters
from alsreco.core.errors import UserError
from alsreco.core.paths import Paths
from alsreco.core.settings import Settings
from alsreco.train import main as train_main
from alsreco.train.inputs import read
from tests.conftest import make_opt_ml

H = "customer_id,product_id,quantity,date\n"
ROWS = "".join(f"c{i % 7},p{i % 5},{1 + i % 3},2011-01-{1 + i % 28:02d}\n" for i in range(60))
GOOD = H + ROWS


def rows(template: str, n: int = 40) -> str:
    return "".join(template.format(i=i, d=1 + i % 28) for i in range(n))


# (id, files in the channel, hyperparameters.json text or None, words the failure must hold)
DATA_FILES = [
    ("binary-garbage", {"s.csv": bytes(range(256)) * 20}, None, ("s.csv",)),
    ("nul-bytes-only", {"s.csv": b"\0" * 5000}, None, ("s.csv", "NUL")),
    ("header-only", {"s.csv": H}, None, ("s.csv", "no usable rows")),
    ("header-only-crlf", {"s.csv": H.replace("\n", "\r\n")}, None, ("s.csv", "no usable rows")),
    ("bom-only", {"s.csv": b"\xef\xbb\xbf"}, None, ("s.csv", "empty")),
    ("blank-lines-only", {"s.csv": "\n\n\r\n  \n"}, None, ("s.csv", "empty")),
    ("utf16-with-bom", {"s.csv": GOOD.encode("utf-16")}, None, ("s.csv", "UTF-16")),
    ("utf16-be-with-bom", {"s.csv": GOOD.encode("utf-16")[:2][::-1] + GOOD.encode("utf-16-be")}, None,
     ("s.csv", "UTF-16")),
    ("utf16-le-without-bom", {"s.csv": GOOD.encode("utf-16-le")}, None, ("s.csv", "UTF-16")),
    ("utf32", {"s.csv": GOOD.encode("utf-32")}, None, ("s.csv",)),
    ("gzip-of-utf16", {"s.csv.gz": gzip.compress(GOOD.encode("utf-16"))}, None, ("s.csv.gz", "UTF-16")),
    ("truncated-gzip", {"s.csv.gz": gzip.compress(GOOD.encode() * 50)[:200]}, None, ("s.csv.gz",)),
    ("parquet-magic-then-garbage", {"s.parquet": b"PAR1" + b"x" * 100}, None, ("s.parquet",)),
    ("header-of-100k-columns", {"s.csv": "customer_id,product_id,quantity,date,"
                                + ",".join(f"x{i}" for i in range(100_000)) + "\nc1,p1,1,2011-01-01\n"}, None,
     ("s.csv",)),
    ("first-field-over-csv-limit", {"s.csv": "x" * 200_000 + "\n" + ROWS}, None, ("s.csv",)),
    ("duplicate-customer-column", {"s.csv": "customer_id,customer_id,product_id,quantity,date\n"
                                   + rows("a{i},b{i},p{i},1,2011-01-{d:02d}\n")}, None, ("s.csv", "'customer_id'",
                                                                                         "more than once")),
    ("duplicate-date-column", {"s.csv": "customer,product,date,date\n" + rows("c{i},p{i},2011-01-{d:02d},x\n")},
     None, ("s.csv", "'date'")),
    ("no-customer-column", {"s.csv": "who,product_id,date\n" + rows("c{i},p{i},2011-01-{d:02d}\n")}, None,
     ("s.csv", "no customer column")),
    ("unknown-layout", {"s.csv": "a,b\n1,2\n"}, None, ("s.csv", "cannot recognise the layout")),
    ("all-dates-year-9999", {"s.csv": H + rows("c{i},p{i},1,9999-12-{d:02d}\n")}, None,
     ("s.csv", "line 2", "'date'", "9999-12-01")),
    ("all-dates-year-1", {"s.csv": H + rows("c{i},p{i},1,0001-01-{d:02d}\n")}, None, ("s.csv", "line 2", "'date'")),
    ("epoch-seconds-as-dates", {"s.csv": H + rows("c{i},p{i},1,13000{i:05d}\n")}, None,
     ("s.csv", "line 2", "'date'", "date_format")),
    ("all-quantities-nan", {"s.csv": H + rows("c{i},p{i},NaN,2011-01-{d:02d}\n")}, None,
     ("s.csv", "malformed 40", "line 2", "quantity")),
    ("all-quantities-1e400", {"s.csv": H + rows("c{i},p{i},1e400,2011-01-{d:02d}\n")}, None,
     ("s.csv", "line 2", "'1e400'")),
    ("all-quantities-zero-or-negative", {"s.csv": H + rows("c{i},p{i},-{i},2011-01-{d:02d}\n")}, None,
     ("s.csv", "'non_positive_quantity': 40")),
    ("all-customers-whitespace", {"s.csv": H + rows(" \t ,p{i},1,2011-01-{d:02d}\n")}, None,
     ("s.csv", "'missing_customer': 40")),
    ("all-products-whitespace", {"s.csv": H + rows("c{i},  ,1,2011-01-{d:02d}\n")}, None,
     ("s.csv", "empty product")),
    ("too-many-malformed-rows", {"s.csv": GOOD + "c1,p1,x,2011-01-01\n" * 3}, '{"max_malformed_rows": "2"}',
     ("s.csv line 62", "max_malformed_rows")),
    ("ragged-rows-over-the-limit", {"s.csv": GOOD + "c1\nc1,p1\n" * 2}, '{"max_malformed_rows": "1"}',
     ("s.csv line 62", "wrong number of fields")),
    ("column-override-not-in-header", {"s.csv": GOOD}, '{"customer_column": "client_no"}', ("s.csv", "client_no")),
    ("date-format-that-parses-nothing", {"s.csv": GOOD}, '{"date_format": "%d.%m.%Y"}',
     ("s.csv", "date_format", "line 2")),
]
HYPERPARAMETERS = [
    ("hp-not-json", "{not json", ("hyperparameters.json", "not valid JSON")),
    ("hp-a-list", "[1, 2]", ("hyperparameters.json", "JSON object")),
    ("hp-a-string", '"als_rank"', ("hyperparameters.json", "JSON object")),
    ("hp-null", "null", ("hyperparameters.json", "JSON object")),
    ("hp-not-utf8", b"\xff\xfe{\x00}\x00", ("hyperparameters.json",)),
    ("hp-unknown-key", '{"als_rnk": "16"}', ("'als_rnk'", "hyperparameters.json")),
    ("hp-int-as-words", '{"als_rank": "sixteen"}', ("'als_rank'", "sixteen", "[1, 1000]")),
    ("hp-int-as-object", '{"als_rank": {"a": 1}}', ("'als_rank'",)),
    ("hp-int-as-list", '{"als_rank": [16]}', ("'als_rank'",)),
    ("hp-int-as-null", '{"als_rank": null}', ("'als_rank'",)),
    ("hp-int-as-bool", '{"als_rank": true}', ("'als_rank'", "boolean")),
    ("hp-int-1e400", '{"als_rank": "1e400"}', ("'als_rank'",)),
    ("hp-int-5000-digits", '{"als_rank": "' + "9" * 5000 + '"}', ("'als_rank'",)),
    ("hp-int-fraction", '{"als_rank": "2.5"}', ("'als_rank'", "whole")),
    ("hp-int-out-of-range", '{"als_rank": "0"}', ("'als_rank'", "out of range")),
    ("hp-float-nan", '{"reg_param": "NaN"}', ("'reg_param'",)),
    ("hp-float-inf", '{"alpha": "inf"}', ("'alpha'",)),
    ("hp-float-negative", '{"alpha": "-1"}', ("'alpha'",)),
    ("hp-bool-as-word", '{"implicit_prefs": "maybe"}', ("'implicit_prefs'",)),
    ("hp-choice-unknown", '{"ranking_type": "best"}', ("'ranking_type'", "one of")),
    ("hp-date-impossible", '{"retention_date": "20111399"}', ("'retention_date'",)),
    ("hp-date-year-0", '{"retention_date": "00000101"}', ("'retention_date'",)),
    ("hp-date-format-bad-directive", '{"date_format": "%Q"}', ("'date_format'", "%Q")),
    ("hp-date-format-no-year", '{"date_format": "%H:%M"}', ("'date_format'", "no year")),
    ("hp-delimiter-two-chars", '{"delimiter": "::"}', ("'delimiter'",)),
    ("hp-list-of-objects", '{"non_product_codes": "[{\\"a\\": 1}]"}', ("'non_product_codes'",)),
    ("hp-list-broken-json", '{"non_product_codes": "[1,"}', ("'non_product_codes'",)),
    ("hp-sagemaker-quoted-bad", '{"als_rank": "\\"abc\\""}', ("'als_rank'",)),
]
CORPUS = [(i, files, hp, words) for i, files, hp, words in DATA_FILES] + \
    [(i, {"s.csv": GOOD}, hp, words) for i, hp, words in HYPERPARAMETERS]


@pytest.fixture
def run_train(tmp_path, monkeypatch):
    """`train`'s main() on a fresh /opt/ml tree; Spark must not start (the input is refused first)."""
    def no_spark(*args, **kwargs):
        raise AssertionError("Spark was started: the input was not refused on the pandas path")

    monkeypatch.setattr(train_main.spark_mod, "start", no_spark)

    def run(files: dict, hp_text: str | bytes | None) -> tuple[int, Paths]:
        paths = make_opt_ml(tmp_path / "opt_ml", files=files)
        if hp_text is not None:
            paths.hyperparameters_file.write_bytes(hp_text.encode() if isinstance(hp_text, str) else hp_text)
        monkeypatch.setattr(train_main.Settings, "from_env", classmethod(lambda cls: Settings(base_dir=paths.base)))
        return train_main.main(), paths
    return run


def test_the_corpus_ids_are_unique():
    assert len({c[0] for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case_id, files, hp_text, words", CORPUS, ids=[c[0] for c in CORPUS])
def test_hostile_training_input_is_a_user_error_naming_it(run_train, case_id, files, hp_text, words):
    code, paths = run_train(files, hp_text)
    failure = paths.failure_file.read_text() if paths.failure_file.exists() else ""
    assert code == 2, failure
    assert failure.startswith("UserError: ") and len(failure) <= 1024, failure
    for w in words:
        assert w in failure, failure
    assert "Traceback" not in failure
    assert not (paths.model_dir / "metadata.json").exists()
    assert not (paths.output_data_dir / "recommendations.csv").exists()


@pytest.mark.parametrize("config", ["hyperparameters.json", "inputdataconfig.json"])
def test_deeply_nested_config_json_is_a_user_error(run_train, config):
    code, paths = run_train({"s.csv": GOOD}, None)
    (paths.config_dir / config).write_text("[" * 100_000)
    code = train_main.main()
    assert code == 2 and config in paths.failure_file.read_text()


# ------------------------------------------------------------------ handled as documented: counted, not fatal
def _load(tmp_path: Path, content: str | bytes, **hp_over):
    path = tmp_path / "s.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    hp = hyperparameters.defaults()
    hp.update(hp_over)
    return read.load([path], hp)


HANDLED = [
    # (id, content, rows used, malformed, dropped {rule: n}, a customer or product that must be present)
    ("crlf-line-endings", GOOD.replace("\n", "\r\n"), 60, 0, {}, "c0"),
    ("cr-only-line-endings", GOOD.replace("\n", "\r"), 60, 0, {}, "c0"),
    ("utf8-bom-before-header", "\ufeff" + GOOD, 60, 0, {}, "c0"),
    ("utf8-bom-headerless", "\ufeff" + ROWS.replace(",", "|"), 60, 0, {}, "c0"),
    ("blank-lines-between-rows", GOOD.replace("\n", "\n\n"), 60, 0, {}, "c0"),
    ("very-wide-row", GOOD + "c1,p1,1,2011-01-01," + ",".join(["x"] * 100_000) + "\n", 60, 1, {}, "c0"),
    ("ragged-short-row", GOOD + "c1,p1\n", 60, 1, {}, "c0"),
    ("quoted-delimiters", GOOD + '"c,9","p,9",1,2011-01-01\n', 61, 0, {}, "c,9"),
    ("quoted-newline-in-id", GOOD + '"c\n9",p9,1,2011-01-01\n', 61, 0, {}, "c\n9"),
    ("unclosed-quote-at-the-end", GOOD + '"c9,p9,1,2011-01-01\n', 60, 1, {}, "c0"),
    ("empty-column-name", "customer_id,,product_id,quantity,date\n" + rows("c{i},x,p{i},1,2011-01-{d:02d}\n"),
     40, 0, {}, "c0"),
    ("date-year-1-row", GOOD + "c1,p1,1,0001-01-01\n", 60, 1, {}, "c0"),
    ("date-year-9999-row", GOOD + "c1,p1,1,9999-12-31\n", 60, 1, {}, "c0"),
    ("date-feb-30-row", GOOD + "c1,p1,1,2011-02-30\n", 60, 1, {}, "c0"),
    ("odd-quantities", GOOD + "".join(f"c1,p1,{q},2011-01-01\n" for q in
                                      ["-1", "0", "-0", "NaN", "nan", "1e400", "inf", "1_000", "0x10"]),
     60, 6, {"non_positive_quantity": 3}, "c0"),
    ("whitespace-and-null-customers", GOOD + " ,p1,1,2011-01-01\n\t,p1,1,2011-01-01\nnull,p1,1,2011-01-01\n",
     60, 0, {"missing_customer": 3}, "c0"),
    ("unicode-ids", GOOD + "\U0001F600,\u202ep9,1,2011-01-01\nc\x001,p1,1,2011-01-01\n", 62, 0, {}, "\U0001F600"),
    ("latin1-line", GOOD.encode() + "Café,Thé,1,2011-01-01\n".encode("latin-1"), 61, 0, {}, "Café"),
]


@pytest.mark.parametrize("case_id, content, used, malformed, dropped, present", HANDLED, ids=[c[0] for c in HANDLED])
def test_hostile_rows_are_counted_as_documented(tmp_path, case_id, content, used, malformed, dropped, present):
    df, report = _load(tmp_path, content)
    assert (len(df), report.malformed) == (used, malformed), report.malformed_examples
    assert {k: v for k, v in report.dropped.items() if v} == dropped
    assert present in set(df["customer"]) | set(df["product"])
    assert all("s.csv line " in e for e in report.malformed_examples)
    assert df["date"].notna().all() and (df["quantity"] > 0).all()


def test_a_malformed_row_past_the_limit_names_the_file_and_line(tmp_path):
    with pytest.raises(UserError, match=r"s\.csv line 62: unparseable date '9999-12-31'"):
        _load(tmp_path, GOOD + "c1,p1,1,9999-12-31\n", max_malformed_rows=0)
