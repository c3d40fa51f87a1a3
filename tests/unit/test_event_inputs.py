"""The `events` channel of `train` (alsreco/train/inputs/event_files.py, events.py): the storefront's
Firehose JSON Lines (gzip or not), CSV and Parquet read alike; weights per event type; cleaning
counted like sales lines; a malformed row past the limit is a user error (exit 2) naming its file,
line and field; and the channel is never taken for the sales channel."""
from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from alsreco.core import hyperparameters
from alsreco.core.errors import UserError
from alsreco.core.settings import Settings
from alsreco.train import main as train_main
from alsreco.train.inputs import channels, event_files
from alsreco.train.inputs import events as events_mod
from tests.conftest import SAMPLE_CSV, make_opt_ml

T = "2026-12-06T10:00:00Z"
# product ids of the sample (never non_product_codes such as "B" or "D")
EVENTS = [
    {"event_id": "e1", "type": "view", "product_id": "85123A", "timestamp": T, "session_id": "s1"},
    {"event_id": "e2", "type": "add_to_cart", "product_id": "85123A", "timestamp": "2026-12-06T10:01:00Z",
     "session_id": "s1"},
    {"event_id": "e3", "type": "view", "product_id": "71053", "timestamp": T, "session_id": "s1"},
    {"event_id": "e4", "type": "add_to_cart", "product_id": "71053", "timestamp": T, "session_id": "s1"},
    {"event_id": "e5", "type": "remove_from_cart", "product_id": "71053", "timestamp": T, "session_id": "s1"},
    {"event_id": "e6", "type": "purchase", "product_id": "22834", "timestamp": "2026-12-06T11:00:00+01:00",
     "customer_id": "17850.0"},
    {"event_id": "e7", "type": "remove_from_cart", "product_id": "21034", "timestamp": T, "customer_id": "17850"},
]


def hp(**over):
    out = hyperparameters.defaults()
    out.update(over)
    return out


def lines_of(files, **over):
    lines, report = events_mod.load(files, hp(**over))
    return lines.groupby(["customer", "product"]).size().to_dict(), lines, report


def write_formats(tmp_path):
    jsonl = "".join(json.dumps(e) + "\n" for e in EVENTS)
    (tmp_path / "plain").write_text(jsonl)
    with gzip.open(tmp_path / "stream-1-2026-12-06-10-00-00-x.gz", "wt") as fh:
        fh.write(jsonl)
    frame = pd.DataFrame(EVENTS).fillna("")
    frame.to_csv(tmp_path / "events.csv", index=False)
    frame.to_parquet(tmp_path / "events.parquet", index=False)
    return {name: [tmp_path / f] for name, f in (("jsonl", "plain"), ("gzip", "stream-1-2026-12-06-10-00-00-x.gz"),
                                                  ("csv", "events.csv"), ("parquet", "events.parquet"))}


def test_every_format_gives_the_same_weighted_lines(tmp_path):
    results = {name: lines_of(files)[0] for name, files in write_formats(tmp_path).items()}
    expected = {("session:s1", "85123A"): 1 + 2, ("session:s1", "71053"): 1 + 2 - 2,
                ("17850", "22834"): 4}                                      # 21034: removed, never added
    assert all(got == expected for got in results.values()), results
    _, lines, report = lines_of(write_formats(tmp_path)["jsonl"])
    assert list(lines.columns) == ["customer", "product", "quantity", "date", "invoice", "description", "price",
                                   "country"]
    assert (lines["quantity"] == 1).all()
    dated = lines.drop_duplicates(["customer", "product"]).set_index("product")["date"]
    assert dated["85123A"] == pd.Timestamp("2026-12-06 10:01:00")                  # the pair's last event
    assert dated["22834"] == pd.Timestamp("2026-12-06 10:00:00")                   # +01:00 in UTC
    assert (report.pairs, report.lines, report.rows_read) == (3, 8, 7)
    assert report.by_type == {"view": 2, "add_to_cart": 2, "remove_from_cart": 2, "purchase": 1}


def test_the_weights_are_hyperparameters(tmp_path):
    files = write_formats(tmp_path)["jsonl"]
    got = lines_of(files, event_weight_view=0, event_weight_add_to_cart=5, event_weight_purchase=1)[0]
    assert got == {("session:s1", "85123A"): 5, ("17850", "22834"): 1}
    assert lines_of(files, events_anonymous=False)[0] == {("17850", "22834"): 4}
    defaults = hyperparameters.defaults()
    assert defaults["event_weight_purchase"] > defaults["event_weight_add_to_cart"] > defaults["event_weight_view"]


def test_the_storefront_and_train_weigh_events_alike():
    """api/settings.py's visit weights are the training defaults (the live list and the next model agree)."""
    from api.settings import DEFAULT_WEIGHTS

    defaults = hyperparameters.defaults()
    assert DEFAULT_WEIGHTS == {kind: float(defaults[f"event_weight_{kind}"]) for kind in DEFAULT_WEIGHTS}
    assert set(events_mod.TYPES) == set(__import__("api.schema", fromlist=["x"]).event_types())


def test_cleaning_is_counted_like_sales_lines(tmp_path):
    rows = [*EVENTS,
            EVENTS[0],                                                          # Firehose delivered it twice
            {"event_id": "h", "type": "hover", "product_id": "85123A", "timestamp": T, "session_id": "s1"},
            {"event_id": "p", "type": "view", "product_id": "POST", "timestamp": T, "session_id": "s1"},
            {"event_id": "late", "type": "view", "product_id": "85123A", "timestamp": "2026-12-08T00:00:00Z",
             "session_id": "s2"},
            {"event_id": "t", "type": "view", "product_id": "85123A", "timestamp": "06/12/2026", "session_id": "s1"},
            {"event_id": "n", "type": "view", "product_id": "85123A", "timestamp": T}]
    path = tmp_path / "events" / "2026" / "12" / "06" / "10" / "f.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n[1, 2]\n")
    _, _, report = lines_of([path], retention_date="20261206")
    assert report.dropped == {"unknown_type": 1, "duplicate_event_id": 1, "anonymous": 0, "non_product_code": 1,
                              "after_as_of": 1}
    assert report.malformed == 4 and report.rows_read == len(rows) + 2
    assert report.malformed_examples == [
        "2026/12/06/10/f.jsonl line 14: not a JSON object", "2026/12/06/10/f.jsonl line 15: not a JSON object",
        "2026/12/06/10/f.jsonl line 12: timestamp '06/12/2026' is not an ISO 8601 time",
        "2026/12/06/10/f.jsonl line 13: customer_id or session_id missing"]


def test_too_many_malformed_events_fail_naming_file_line_and_field(tmp_path, monkeypatch):
    rows = "".join(json.dumps({"type": "view", "product_id": "85123A", "timestamp": f"day {i}", "session_id": "s"})
                   + "\n" for i in range(3))
    paths = make_opt_ml(tmp_path / "opt_ml", files={"s.csv": SAMPLE_CSV.read_text()},
                        hyperparameters={"max_malformed_rows": 2},
                        inputdataconfig={"training": {"TrainingInputMode": "File"},
                                         "events": {"TrainingInputMode": "File"}})
    (paths.channel_dir("events") / "2026" / "12").mkdir(parents=True)
    (paths.channel_dir("events") / "2026" / "12" / "part-0").write_text(rows)
    monkeypatch.setattr(train_main.spark_mod, "start", lambda *a, **k: pytest.fail("Spark started: not refused"))
    monkeypatch.setattr(train_main.Settings, "from_env", classmethod(lambda cls: Settings(base_dir=paths.base)))
    assert train_main.main() == 2
    reason = paths.failure_file.read_text()
    assert reason.startswith("UserError: events channel: 3 malformed rows (limit max_malformed_rows=2)")
    assert "2026/12/part-0 line 1: timestamp 'day 0' is not an ISO 8601 time" in reason


def test_the_events_channel_is_never_the_sales_channel(tmp_path):
    both = make_opt_ml(tmp_path / "a", files={"s.csv": "x"}, inputdataconfig={
        "events": {"TrainingInputMode": "File"}, "training": {"TrainingInputMode": "File"}})
    (both.channel_dir("events")).mkdir(parents=True)
    (both.channel_dir("events") / "e.jsonl").write_text(json.dumps(EVENTS[0]) + "\n")
    assert channels.discover(both).name == "training"
    assert [p.name for p in event_files.discover(both)] == ["e.jsonl"]
    both.inputdataconfig_file.unlink()                                       # no config: the folders decide
    assert channels.discover(both).name == "training"
    only_events = make_opt_ml(tmp_path / "b", channel="events", files={"e.jsonl": json.dumps(EVENTS[0])})
    with pytest.raises(UserError, match="training channel 'training' has no data"):
        channels.discover(only_events)
    assert event_files.discover(make_opt_ml(tmp_path / "c", files={"s.csv": "x"})) == []


@pytest.mark.parametrize("content, words", [
    (b"type,product_id\nview\n", "line 2: 1 fields, the header has 2"),
    (b"colour,size\nred,1\n", "needs a header naming at least type and product_id"),
    (b"\xff\xfe{\x00", "not UTF-8"),
    (gzip.compress(b'{"type": "view"}\n')[:-6], "cannot read the file"),
])
def test_unreadable_events_files_are_named(tmp_path, content, words):
    path = tmp_path / "events" / "bad"
    path.parent.mkdir()
    path.write_bytes(content)
    try:
        _, _, report = lines_of([path])
        found = "; ".join(report.malformed_examples)
    except UserError as err:
        found = str(err)
    assert words in found and "bad" in found
