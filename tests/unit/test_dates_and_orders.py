"""Dates as they come (mixed formats, UTC offsets, day-first) and cancellations only where they are."""
import json

import pandas as pd
import pytest

from alsreco.core import hyperparameters as h
from alsreco.core.errors import UserError
from alsreco.train.inputs import channels, dates, orders, read

from ..conftest import SAMPLE_CSV

UCI_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
T = pd.Timestamp


def uci_dates(*values: str) -> str:
    """One UCI row per date value, line n+1 for the n-th value (the header is line 1)."""
    return UCI_HEADER + "".join(f"{536365 + i},P{i},x,1,{d},1.0,{100 + i},UK\n" for i, d in enumerate(values))


def load(paths, **hp):
    return read.load(channels.discover(paths).files, h.merge([("test", hp)]))


def test_mixed_two_and_four_digit_years_in_one_column(opt_ml):
    values = ["12/06/2010 10:08", "2/20/11 11:39", "12/13/2010 09:00", "1/5/11 8:00", "12/1/10 8:26"]
    df, report = load(opt_ml(files={"a.csv": uci_dates(*values)}))
    assert report.malformed == 0 and report.rows_used == 5
    assert df["date"].tolist() == [T("2010-12-06 10:08"), T("2011-02-20 11:39"), T("2010-12-13 09:00"),
                                   T("2011-01-05 08:00"), T("2010-12-01 08:26")]
    assert sorted(report.date_formats["a.csv"]) == ["%m/%d/%Y %H:%M", "%m/%d/%y %H:%M"]


def test_two_digit_year_format_never_takes_a_four_digit_year():
    values = pd.Series(["12/06/2010", "12/06/10"])
    parsed = dates.DateRule(("%m/%d/%y", "%m/%d/%Y")).parse(values)
    assert parsed.tolist() == [T("2010-12-06"), T("2010-12-06")]  # not 2020-12-06 with "10" left over
    assert dates.DateRule(("%m/%d/%y",)).parse(values).isna().tolist() == [True, False]
    assert dates.fullmatch(values, dates.guard("%m/%d/%y")).tolist() == [False, True]


def test_iso_dates_with_offsets_across_daylight_saving_become_naive_utc(opt_ml):
    values = ["2011-03-26 10:00:00+01:00",   # CET
              "2011-03-27 10:00:00+02:00",   # CEST, after the switch
              "2011-03-27T12:30:00Z",
              "2011-10-30 01:30:00-05:00",
              "2011-03-28",                  # no time, no offset: taken as UTC
              "2011-03-28 09:15"]
    df, report = load(opt_ml(files={"a.csv": uci_dates(*values)}))
    assert report.malformed == 0
    assert str(df["date"].dtype) == "datetime64[ns]"
    assert df["date"].tolist() == [T("2011-03-26 09:00"), T("2011-03-27 08:00"), T("2011-03-27 12:30"),
                                   T("2011-10-30 06:30"), T("2011-03-28 00:00"), T("2011-03-28 09:15")]
    assert report.date_formats["a.csv"] == ["ISO8601"]


def test_day_first_is_decided_once_for_the_column(opt_ml):
    values = ["13/01/2011 10:00", "01/02/2011 09:00", "05/03/11 08:30", "12/04/2011 07:00"]
    df, report = load(opt_ml(files={"a.csv": uci_dates(*values)}))
    assert report.malformed == 0
    assert df["date"].tolist() == [T("2011-01-13 10:00"), T("2011-02-01 09:00"), T("2011-03-05 08:30"),
                                   T("2011-04-12 07:00")]
    assert all(f.startswith("%d") for f in report.date_formats["a.csv"])
    assert dates.day_first(pd.Series(["01/13/2011", "02/01/2011"])) is False
    assert dates.day_first(pd.Series(["1.2.2011"])) is True and dates.day_first(pd.Series(["x"])) is None
    assert dates.day_first(pd.Series(["13/01/2011", "14/01/2011", "01/13/2011"])) is True  # majority


def test_formats_beyond_the_first_lines_are_found_by_the_spread_sample(opt_ml):
    values = ["12/1/10 8:26"] * 1500 + ["2011-01-02 10:00:00+01:00"] * 500
    df, report = load(opt_ml(files={"a.csv": uci_dates(*values)}))
    assert report.malformed == 0 and report.date_formats["a.csv"] == ["%m/%d/%y %H:%M", "ISO8601"]
    assert df["date"].iloc[-1] == T("2011-01-02 09:00")


def test_a_few_unparseable_dates_are_malformed_with_their_lines_and_the_rest_kept(opt_ml):
    values = ["12/1/10 8:26", "not a date", "12/2/10 9:00", "13/45/10 9:00", "12/3/10 10:00", "12/4/10 11:00"]
    df, report = load(opt_ml(files={"a.csv": uci_dates(*values)}))
    assert report.malformed == 2 and report.rows_used == 4
    assert df["date"].tolist() == [T("2010-12-01 08:26"), T("2010-12-02 09:00"), T("2010-12-03 10:00"),
                                   T("2010-12-04 11:00")]
    assert [e.split(":")[0] for e in report.malformed_examples] == ["a.csv line 3", "a.csv line 5"]
    assert "'not a date'" in report.malformed_examples[0]


def test_an_unparseable_date_column_is_a_user_error_naming_file_value_and_fix(opt_ml):
    paths = opt_ml(files={"garbage.csv": uci_dates("soon", "later", "yesterday-ish", "12/1/10 8:26")})
    with pytest.raises(UserError) as err:
        load(paths)
    msg = str(err.value)
    assert err.value.exit_code == 2
    assert "garbage.csv" in msg and "'soon'" in msg and "line 2" in msg and "date_format" in msg


def test_explicit_date_formats_as_a_list_are_tried_in_order(opt_ml):
    paths = opt_ml(files={"a.csv": uci_dates("05/01/2020", "06/01/20 10:00")})
    df, report = load(paths, date_format='["%d/%m/%Y", "%d/%m/%y %H:%M"]')
    assert df["date"].tolist() == [T("2020-01-05"), T("2020-01-06 10:00")]
    df, _ = load(paths, date_format="%d/%m/%Y, %d/%m/%y %H:%M")
    assert df["date"].tolist() == [T("2020-01-05"), T("2020-01-06 10:00")]
    with pytest.raises(UserError, match=r"a\.csv: the date_format hyperparameter .* fix date_format"):
        load(paths, date_format="%Y-%m-%d")


@pytest.mark.parametrize("value, reason", [
    ("%Q", "bad directive"),
    ("%Y-%m-%d %", "stray %"),
    ('["%d/%m/%Y", "%Y %Ez"]', "bad directive"),
    ("%d %b, %Y", "no year"),          # split at the comma: give such a format as a JSON list
    ("yyyy-MM-dd", "no year"),
])
def test_invalid_date_format_fails_when_hyperparameters_load(opt_ml, value, reason):
    paths = opt_ml(hyperparameters={"date_format": value})
    with pytest.raises(UserError, match=f"hyperparameter 'date_format' .*{reason}") as err:
        h.load(paths)
    assert err.value.exit_code == 2


def test_valid_date_formats_load_as_a_list(opt_ml):
    assert h.load(opt_ml(hyperparameters={"date_format": '["%d %b, %Y", "ISO8601"]'}))["date_format"] == \
        ["%d %b, %Y", "ISO8601"]
    assert h.load(opt_ml(hyperparameters={"date_format": "%m/%d/%y %H:%M"}))["date_format"] == ["%m/%d/%y %H:%M"]
    assert h.load(opt_ml(hyperparameters={}))["date_format"] == []


ORDERS = UCI_HEADER + "".join(r + "\n" for r in [
    "536365,P1,a,1,12/1/10 8:26,1.0,100,UK",
    "C536379,P1,a,-1,12/1/10 9:00,1.0,100,UK",        # UCI cancellation
    "CA-2016-152156,P2,b,2,12/1/10 9:30,1.0,101,UK",  # Superstore order id
    "c536380,P3,c,1,12/1/10 9:40,1.0,102,UK",         # lower-case UCI-style
    "CB-2017-1,P4,d,-3,12/1/10 9:50,1.0,103,UK",      # negative quantity: a return whatever the id
])


@pytest.mark.parametrize("rule, kept, cancelled, non_positive", [
    ("auto", ["536365", "CA-2016-152156"], 2, 1),
    ("c_prefix", ["536365"], 4, 0),
    ("none", ["536365", "CA-2016-152156", "c536380"], 0, 2),
])
def test_cancellations_only_where_the_rule_says(opt_ml, rule, kept, cancelled, non_positive):
    df, report = load(opt_ml(files={"orders.csv": ORDERS}), cancellation_rule=rule)
    assert df["invoice"].tolist() == kept
    assert report.dropped["cancelled"] == cancelled
    assert report.dropped["non_positive_quantity"] == non_positive


def test_cancellation_rule_default_and_validation():
    assert h.defaults()["cancellation_rule"] == "auto"
    assert orders.cancellation_pattern(h.defaults()) == r"^[Cc]\d+$"
    with pytest.raises(UserError, match="cancellation_rule"):
        h.merge([("test", {"cancellation_rule": "C"})])


def test_bundled_sample_counts_are_unchanged():
    df, report = read.load([SAMPLE_CSV], h.defaults())
    assert (report.rows_read, report.malformed, report.rows_used) == (28492, 0, 18039)
    assert report.dropped == {"missing_customer": 10003, "cancelled": 386, "non_positive_quantity": 0,
                              "non_product_code": 64, "after_as_of": 0}
    assert report.date_formats == {SAMPLE_CSV.name: ["%m/%d/%y %H:%M"]}
    assert (df["date"].min(), df["date"].max()) == (T("2010-12-01 08:26"), T("2010-12-13 14:16"))
    assert json.loads(json.dumps(report.as_dict()))["date_formats"] == report.date_formats  # metadata.json


def test_a_date_without_offset_never_takes_the_previous_values_offset():
    import pandas as pd

    from alsreco.train.inputs import dates

    parsed = dates.DateRule((dates.ISO,)).parse(pd.Series(["2011-03-27 10:00:00+01:00", "2011-3-8 9:05",
                                                          "2011-03-28T10:00:00Z", "2011-03-29 07:00"]))
    assert [str(t) for t in parsed] == ["2011-03-27 09:00:00", "2011-03-08 09:05:00", "2011-03-28 10:00:00",
                                        "2011-03-29 07:00:00"]
