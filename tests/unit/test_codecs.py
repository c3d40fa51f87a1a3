from __future__ import annotations

import json

import pytest
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from alsreco.core.rules import Prediction, Recommendation, Request
from alsreco.serve import codecs
from alsreco.serve.codecs import CSV, JSON, JSONL, HttpError, Limits, RecordError
from alsreco.serve.codecs.base import MAX_CUSTOMERS
from alsreco.serve.codecs.fields import MAX_IDS


def accept(header: str) -> MIMEAccept:
    return parse_accept_header(header, MIMEAccept)


def status(fn, *args) -> tuple[int, str]:
    with pytest.raises(HttpError) as info:
        fn(*args)
    return info.value.status, str(info.value)


# ----------------------------------------------------------------- negotiation
@pytest.mark.parametrize("given, want", [
    ("application/json", JSON), ("APPLICATION/JSON", JSON), ("application/jsonlines", JSONL),
    ("application/x-jsonlines", JSONL), ("application/x-ndjson", JSONL), ("text/csv", CSV),
])
def test_content_types(given, want):
    assert codecs.content_type(given) == want


@pytest.mark.parametrize("given", ["text/plain", "application/x-www-form-urlencoded", "", None, "json"])
def test_unsupported_content_type_is_415(given):
    code, msg = status(codecs.content_type, given)
    assert code == 415 and "application/json" in msg


@pytest.mark.parametrize("header, kind, want", [
    (None, CSV, CSV), ("*/*", JSONL, JSONL), ("*/*", JSON, JSON), ("application/*", CSV, JSON),
    ("text/csv", JSON, CSV), ("application/jsonlines", CSV, JSONL), ("application/x-ndjson", JSON, JSONL),
    ("application/json", JSONL, JSON), ("text/html, text/csv;q=0.5", JSON, CSV),
    ("application/json;q=0.2, text/csv;q=0.9", JSON, CSV),
])
def test_accept_negotiation(header, kind, want):
    assert codecs.accept_type(accept(header) if header else None, kind) == want


@pytest.mark.parametrize("header", ["text/html", "application/xml", "image/*"])
def test_unsupported_accept_is_406(header):
    code, msg = status(codecs.accept_type, accept(header), JSON)
    assert code == 406 and header.split(",")[0] in msg


# ----------------------------------------------------------------- JSON
def test_json_single_with_all_fields_and_numeric_ids():
    body = {"customer_id": 17850.0, "k": 5, "exclude_purchased": False, "exclude_popular": 10,
            "exclude_items": [85123, "22960"], "include_items": ["84406B"], "include_new": 1,
            "candidates": ["A", 2.5], "items": ["71053"]}
    [req] = codecs.decode(json.dumps(body).encode(), JSON)
    assert req == Request("17850", 5, ("71053",), False, 10, 1, ("85123", "22960"), ("84406B",), ("A", "2.5"))


def test_json_ids_as_numbers_or_strings_are_the_same_customer():
    got = codecs.decode(b'{"customer_ids": [17850, "17850", 17850.0, " 17850.00 "], "k": 2}', JSON)
    assert [r.customer_id for r in got] == ["17850"] * 4 and {r.k for r in got} == {2}


def test_json_defaults_are_none_so_the_model_decides():
    [req] = codecs.decode(b'{"customer_id": "1", "k": null, "exclude_items": null}', JSON)
    assert req == Request("1")
    assert req.candidates is None and codecs.decode(b'{"customer_id": "1", "candidates": []}',
                                                     JSON)[0].candidates == ()


def test_json_instances_envelope_and_bare_lists():
    env = codecs.decode(b'{"instances": [{"customer_id": "1", "k": 3}, "2", 3]}', JSON)
    assert [(r.customer_id, r.k) for r in env] == [("1", 3), ("2", None), ("3", None)]
    assert [r.customer_id for r in codecs.decode(b'["7", {"customer_id": 8}]', JSON)] == ["7", "8"]
    assert codecs.decode(b'"17850"', JSON) == [Request("17850")]


def test_json_anonymous_basket_is_allowed():
    assert codecs.decode(b'{"items": ["85123A"]}', JSON) == [Request(None, items=("85123A",))]


@pytest.mark.parametrize("body, field", [
    (b'{"customer_id": "1", "k": 0}', "k"),
    (b'{"customer_id": "1", "k": 1001}', "k"),
    (b'{"customer_id": "1", "k": "5"}', "k"),
    (b'{"customer_id": "1", "k": true}', "k"),
    (b'{"customer_id": "1", "k": 2.5}', "k"),
    (b'{"customer_id": "1", "exclude_purchased": "yes"}', "exclude_purchased"),
    (b'{"customer_id": "1", "exclude_popular": -1}', "exclude_popular"),
    (b'{"customer_id": "1", "include_new": 5000}', "include_new"),
    (b'{"customer_id": "1", "exclude_items": "85123A"}', "exclude_items"),
    (b'{"customer_id": "1", "include_items": [{"id": 1}]}', "include_items[0]"),
    (b'{"customer_id": "1", "candidates": [true]}', "candidates[0]"),
    (b'{"customer_id": "1", "items": [null]}', "items[0]"),
    (b'{"customer_id": [1]}', "customer_id"),
    (b'{"customer_id": ""}', "customer_id"),
    (b'{"customer_id": NaN}', "customer_id"),
    (b'{"k": 3}', "customer_id"),
    (b'{"customerId": "1"}', "customerId"),
    (b'{"customer_ids": "1"}', "customer_ids"),
    (b'{"customer_ids": ["1", null]}', "customer_ids[1]"),
    (b'{"customer_ids": ["1"], "items": ["x"]}', "items"),
    (b'{"instances": {"customer_id": "1"}}', "instances"),
    (b'{"instances": [{"customer_id": "1"}, {"customer_id": "2", "k": -3}]}', "instances[1].k"),
    (b'{"instances": [], "k": 3}', "'k'"),
    (b'[1, [2]]', "body[1]"),
    (b'true', "request"),
    (b'{"customer_id": "1"', "JSON"),
    (b'\xff\xfe\x00', "not valid utf-8"),
    (b'[' * 100_000, "nested too deeply"),
    (b'{"customer_id": "\\ud800"}', "customer_id"),
    (b'{"customer_id": "1", "include_items": ["x", "\\udfff"]}', "include_items[1]"),
    (b'  \n', "empty"),
])
def test_json_errors_are_400_naming_the_field(body, field):
    code, msg = status(codecs.decode, body, JSON)
    assert code == 400 and field in msg, msg


def test_too_many_customers_is_413():
    ids = list(range(MAX_CUSTOMERS + 1))
    for body, kind in [(json.dumps({"customer_ids": ids}), JSON), (json.dumps(ids), JSON),
                       ("\n".join(map(str, ids)), CSV), ("\n".join(map(str, ids)), JSONL)]:
        code, msg = status(codecs.decode, body.encode(), kind)
        assert code == 413 and "too many customers" in msg
    assert len(codecs.decode(json.dumps(ids[:-1]).encode(), JSON)) == MAX_CUSTOMERS


def test_no_customer_cap_in_batch_mode():
    ids = list(range(12_000))
    unlimited = Limits(max_customers=None)
    for body, kind in [(json.dumps({"customer_ids": ids}), JSON), (json.dumps(ids), JSON),
                       ("\n".join(map(str, ids)), CSV), ("\n".join(map(str, ids)), JSONL)]:
        got = codecs.decode(body.encode(), kind, unlimited)
        assert [r.customer_id for r in got] == [str(i) for i in ids]
    assert Limits().max_customers == MAX_CUSTOMERS == 10_000


def test_id_lists_are_capped():
    body = json.dumps({"customer_id": "1", "candidates": ["x"] * (MAX_IDS + 1)}).encode()
    code, msg = status(codecs.decode, body, JSON)
    assert code == 400 and "candidates" in msg


# ----------------------------------------------------------------- JSON Lines
def test_jsonlines_bad_line_is_an_error_in_place():
    body = b'{"customer_id": "1", "k": 2}\nnot json\n"3"\n{"customer_id": "4", "k": 0}\n\n{"customer_ids": ["5"]}\n7\n'
    got = codecs.decode(body, JSONL)
    assert len(got) == 7
    assert got[0] == Request("1", 2) and got[2] == Request("3") and got[6] == Request("7")
    errors = {i: g.message for i, g in enumerate(got) if isinstance(g, RecordError)}
    assert sorted(errors) == [1, 3, 4, 5]
    assert errors[1].startswith("line 2: not valid JSON")
    assert errors[3].startswith("line 4: k must be")
    assert errors[4] == "line 5: empty line"
    assert "customer_ids" in errors[5]


def test_jsonlines_deep_nesting_is_a_bad_line():
    [err, ok] = codecs.decode(b'[' * 100_000 + b'\n"1"\n', JSONL)
    assert isinstance(err, RecordError) and "nested too deeply" in err.message and ok == Request("1")


def test_jsonlines_trailing_newlines_and_crlf_add_no_records():
    assert len(codecs.decode(b'"1"\r\n"2"\r\n\r\n\n', JSONL)) == 2


# ----------------------------------------------------------------- CSV
@pytest.mark.parametrize("body", [
    b"customer_id\n17850\n13047\n", b"customer_id,k\n17850\n13047\n", b"CustomerID\r\n17850\r\n13047\r\n",
    b"17850\n13047", b"17850.0\n\n13047\n", b'"17850"\n13047\n', b"\xef\xbb\xbfcustomer_id\n17850\n13047\n",
])
def test_csv_ids_with_optional_header(body):
    assert [r.customer_id for r in codecs.decode(body, CSV)] == ["17850", "13047"]


def test_csv_second_column_is_k_and_bad_lines_are_errors_in_place():
    got = codecs.decode(b"customer_id,k\n17850,3\n13047, 7 \n1,abc\n2,0\n3,4,5\n4,\n", CSV)
    assert got[0] == Request("17850", 3) and got[1] == Request("13047", 7) and got[5] == Request("4")
    assert [type(g) for g in got[2:5]] == [RecordError] * 3
    assert got[2].message.startswith("line 4: k") and got[4].message.startswith("line 6: expected")


# ----------------------------------------------------------------- encoding
PREDS = [
    Prediction("17850", True, [Recommendation("85123A", 0.93, "model", "WHITE HANGING HEART"),
                               Recommendation("22960", 0.5, "forced")], ["NOPE"]),
    RecordError("line 2: bad"),
    Prediction("99", False, [], []),
]


def test_encode_json():
    doc = json.loads(codecs.encode(PREDS, JSON, "v1"))
    assert doc["model_version"] == "v1"
    assert [doc["predictions"][i].pop("recommendation_id") for i in (0, 2)] == \
        [PREDS[0].recommendation_id, PREDS[2].recommendation_id]
    assert doc["predictions"][0] == {
        "customer_id": "17850", "known": True, "unknown_items": ["NOPE"],
        "recommendations": [{"product_id": "85123A", "score": 0.93, "reason": "model", "name": "WHITE HANGING HEART"},
                            {"product_id": "22960", "score": 0.5, "reason": "forced"}]}
    assert doc["predictions"][1] == {"error": "line 2: bad"}
    assert doc["predictions"][2] == {"customer_id": "99", "known": False, "recommendations": []}


def test_encode_jsonlines_one_line_per_record():
    lines = codecs.encode(PREDS, JSONL, "v1").splitlines()
    assert len(lines) == 3
    first, err, last = map(json.loads, lines)
    assert first["customer_id"] == "17850" and first["model_version"] == "v1"
    assert err == {"error": "line 2: bad"} and last["recommendations"] == []


@pytest.mark.parametrize("n", [1, 2, 3, 50])
def test_jsonlines_body_of_n_records_has_exactly_n_lines_and_no_trailing_newline(n):
    """Batch transform (AssembleWith=Line) appends a newline after every response: a body ending
    in one would put a blank line into the output file."""
    results = [PREDS[i % len(PREDS)] for i in range(n)]
    text = codecs.encode(results, JSONL, "v1")
    assert not text.endswith("\n")
    assert text.count("\n") == n - 1 and len(text.split("\n")) == n
    assert all(json.loads(line) for line in text.split("\n"))


def test_encode_csv():
    text = codecs.encode([PREDS[0], PREDS[2]], CSV, "v1")
    rid = PREDS[0].recommendation_id
    assert text == ("customer_id,rank,product_id,score,reason,recommendation_id\n"
                    f"17850,1,85123A,0.93,model,{rid}\n17850,2,22960,0.5,forced,{rid}")
    code, msg = status(codecs.encode, PREDS, CSV, "v1")
    assert code == 400 and "line 2: bad" in msg and "jsonlines" in msg


def test_csv_body_has_one_line_per_row_and_no_trailing_newline():
    preds = [Prediction(str(c), True, [Recommendation(f"P{j}", 1.0 - j / 10, "model") for j in range(3)])
             for c in range(4)]
    text = codecs.encode(preds, CSV, "v1")
    assert not text.endswith("\n")
    lines = text.split("\n")
    assert len(lines) == 1 + 4 * 3 and lines[0] == "customer_id,rank,product_id,score,reason,recommendation_id"
    assert codecs.encode([Prediction("x", False, [])], CSV, "v1") == \
        "customer_id,rank,product_id,score,reason,recommendation_id"
