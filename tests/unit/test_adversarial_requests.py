"""Adversarial corpus, serving side, in-process (Flask test client on the synthetic model).

One parametrised case per hostile request, grouped by class: oversized work, protocol edge cases
(content types, Accept, methods, paths), encodings, JSON structure and values, CSV / JSON Lines
structure. Each case states the exact promised outcome: the status, and for errors a JSON body
`{"error": ..., "status": ...}` naming the field or line, with the X-Model-Version header; for
successes what the answer holds. The same requests through nginx -> gunicorn:
tests/integration/test_adversarial_http.py. Random bodies: tests/integration/test_fuzz.py.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from dataclasses import dataclass, field
from typing import Callable

import pytest

from alsreco.core.settings import Settings
from alsreco.serve.app import create_app
from tests.unit.conftest import VERSION, write_synthetic

JSON, JSONL, CSV = "application/json", "application/jsonlines", "text/csv"


@dataclass(frozen=True)
class Case:
    id: str
    body: bytes | str
    ctype: str | None = JSON
    status: int = 200
    words: tuple[str, ...] = ()  # in the error message (status != 200)
    accept: str | None = None
    check: Callable[[str], None] | None = None  # on the 200 body text
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/invocations"

    def request(self) -> tuple[dict[str, str], bytes]:
        """(headers, body bytes) as sent, in process or over HTTP."""
        headers = dict(self.headers)
        if self.ctype is not None:
            headers["Content-Type"] = self.ctype
        if self.accept is not None:
            headers["Accept"] = self.accept
        return headers, self.body.encode() if isinstance(self.body, str) else self.body


def holds(predicate: Callable[[str], bool]) -> Callable[[str], None]:
    def check(text: str) -> None:
        assert predicate(text), text[:300]
    return check


def ids_json(*want: str) -> Callable[[str], None]:
    def check(text: str) -> None:
        got = [p.get("customer_id", p.get("item_id")) for p in json.loads(text)["predictions"]]
        assert got == list(want), got
    return check


def lines_jsonl(*want: str | None) -> Callable[[str], None]:
    """One output line per input line: the customer id, or None for an error line."""
    def check(text: str) -> None:
        got = [json.loads(line) for line in text.split("\n")] if text else []
        assert [g.get("customer_id") if "error" not in g else None for g in got] == list(want), got
    return check


def ids_csv(*want: str) -> Callable[[str], None]:
    def check(text: str) -> None:
        rows = list(csv.DictReader(io.StringIO(text)))
        assert list(dict.fromkeys(r["customer_id"] for r in rows)) == list(want), rows[:3]
    return check


def j(doc) -> str:
    return json.dumps(doc)


MANY = [f"c{i}" for i in range(10_001)]

OVERSIZED_WORK = [
    Case("work-10000-customers-x-k1000", j({"customer_ids": MANY[:10_000], "k": 1000}), status=413,
         words=("10,000,000 recommendations", "at most 200,000")),
    Case("work-10001-customers-json", j({"customer_ids": MANY}), status=413, words=("10001 > 10000",)),
    Case("work-10001-instances", j({"instances": MANY}), status=413, words=("10001 > 10000",)),
    Case("work-10001-bare-list", j(MANY), status=413, words=("too many customers",)),
    Case("work-10001-jsonl-lines", "\n".join(j(c) for c in MANY), JSONL, status=413, words=("10001 > 10000",)),
    Case("work-10001-csv-rows", "\n".join(MANY), CSV, status=413, words=("10001 > 10000",)),
    Case("work-id-list-10001", j({"customer_id": "1", "exclude_items": MANY}), status=400,
         words=("exclude_items", "10001 ids")),
    Case("work-k-1e9", j({"customer_id": "1", "k": 1e9}), status=400, words=("k must be", "1000000000")),
    Case("work-include-new-1001", j({"customer_id": "1", "include_new": 1001}), status=400, words=("include_new",)),
    Case("work-exclude-popular-huge", j({"customer_id": "1", "exclude_popular": 10**7}), status=400,
         words=("exclude_popular",)),
    Case("work-body-over-6mb", b" " * (6 * 1024 * 1024 + 1), status=413, words=("6 MB",)),
    Case("work-100k-unknown-fields-short-message", j({f"f{i}": 1 for i in range(100_000)}), status=400,
         words=("unknown field(s)", "and 99990 more")),
    Case("work-deep-array-1e5", b"[" * 100_000, status=400, words=("nested too deeply",)),
    Case("work-deep-object-1e5", b'{"a":' * 100_000, status=400, words=("nested too deeply",)),
    Case("work-deep-closed-1e5", b"[" * 100_000 + b"]" * 100_000, status=400, words=("nested too deeply",)),
    Case("work-5000-digit-integer-id", b'{"customer_id": 1' + b"0" * 5000 + b"}", status=400,
         words=("not valid JSON", "digits")),
    Case("work-1mb-id-is-just-unknown", j({"customer_id": "x" * 1_000_000, "k": 1}), check=holds(
        lambda t: json.loads(t)["predictions"][0]["known"] is False)),
    Case("work-max-rules-at-once", j({"customer_id": "17850", "k": 1000, "include_new": 1000,
                                      "exclude_popular": 10**6, "candidates": MANY[:10_000]}),
         check=ids_json("17850")),
    Case("work-1e5-blank-csv-lines", "\n" * 100_000 + "17850", CSV, check=ids_csv("17850")),
]

CONTENT_TYPES = [
    Case("ctype-upper-case", j({"customer_id": "17850"}), "APPLICATION/JSON", check=ids_json("17850")),
    Case("ctype-unknown-params", j({"customer_id": "17850"}), "application/json; foo=bar; q=1",
         check=ids_json("17850")),
    Case("ctype-ndjson-alias", '"17850"\n', "application/x-ndjson", check=lines_jsonl("17850")),
    Case("ctype-missing", j({"customer_id": "17850"}), None, status=415, words=("missing",)),
    Case("ctype-text-plain", "17850", "text/plain", status=415, words=("text/plain",)),
    Case("ctype-multipart", b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n17850\r\n--x--\r\n',
         "multipart/form-data; boundary=x", status=415, words=("multipart/form-data",)),
    Case("ctype-form-urlencoded", "customer_id=17850", "application/x-www-form-urlencoded", status=415,
         words=("application/x-www-form-urlencoded",)),
    Case("ctype-garbage", "17850", ";;;", status=415, words=("not supported",)),
    Case("ctype-charset-unknown", "17850", "text/csv; charset=klingon", status=415, words=("klingon",)),
]

ACCEPTS = [
    Case("accept-star", j({"customer_id": "17850"}), accept="*/*", check=ids_json("17850")),
    Case("accept-star-low-q", j({"customer_id": "17850"}), accept="*/*;q=0.1", check=ids_json("17850")),
    Case("accept-q-values-pick-csv", j({"customer_id": "17850"}), accept="application/json;q=0.2, text/csv;q=0.9",
         check=ids_csv("17850")),
    Case("accept-equal-q-first-wins", j({"customer_id": "17850"}),
         accept="application/jsonlines;q=0.5, text/csv;q=0.5", check=lines_jsonl("17850")),
    Case("accept-params", '"17850"\n', JSONL, accept="text/csv; charset=utf-8; header=present",
         check=ids_csv("17850")),
    Case("accept-unknown", j({"customer_id": "17850"}), accept="text/html", status=406, words=("text/html",)),
    Case("accept-garbage", j({"customer_id": "17850"}), accept="foo", status=406, words=("foo",)),
    Case("accept-q-zero-only", j({"customer_id": "17850"}), accept="application/json;q=0", status=406,
         words=("application/json",)),
    Case("accept-empty-list", j({"customer_id": "17850"}), accept=",,,", check=ids_json("17850")),
]

EMPTY_BODIES = [
    Case(f"empty-{name}-{kind.split('/')[1]}", body, kind, status=400, words=("body is empty",))
    for kind in (JSON, JSONL, CSV) for name, body in [("zero-bytes", b""), ("whitespace", b" \r\n\t\n")]
] + [
    Case("empty-bom-only", b"\xef\xbb\xbf", JSON, status=400, words=("body is empty",)),
    Case("empty-csv-header-only", "customer_id,k\n", CSV, check=holds(
        lambda t: t == "customer_id,rank,product_id,score,reason,recommendation_id")),
    Case("empty-json-list", "[]", check=ids_json()),
    Case("empty-instances", j({"instances": []}), check=ids_json()),
    Case("empty-object", "{}", status=400, words=("customer_id is required",)),
]

METHODS_AND_PATHS = [
    Case("method-get-invocations", "", method="GET", status=405),
    Case("method-put-invocations", "", method="PUT", status=405),
    Case("method-delete-invocations", "", method="DELETE", status=405),
    Case("method-head-invocations", "", method="HEAD", status=405),
    Case("method-post-ping", "", method="POST", path="/ping", status=405),
    Case("path-traversal-dots", j({"customer_id": "17850"}), path="/endpoints/../../etc/passwd/invocations",
         status=404),
    Case("path-traversal-encoded", j({"customer_id": "17850"}), path="/endpoints/..%2F..%2Fetc/invocations",
         status=404),
    Case("path-endpoint-name-odd-chars", j({"customer_id": "17850"}), path="/endpoints/%00%20%3Cx%3E/invocations",
         check=ids_json("17850")),
    Case("path-long-query-string", j({"customer_id": "17850"}), path="/invocations?" + "a=1&" * 5000,
         check=ids_json("17850")),
    Case("path-unknown", "", method="GET", path="/admin", status=404),
]

ENCODINGS = [
    Case("enc-utf8-bom-json", b"\xef\xbb\xbf" + j({"customer_id": "17850"}).encode(), check=ids_json("17850")),
    Case("enc-utf8-bom-csv-header", b"\xef\xbb\xbfcustomer_id\n17850\n", CSV, check=ids_csv("17850")),
    Case("enc-utf16-with-charset", j({"customer_id": "17850"}).encode("utf-16"), "application/json; charset=utf-16",
         check=ids_json("17850")),
    Case("enc-utf16le-bom-declared-le", "\ufeffcustomer_id\n17850\n".encode("utf-16-le"),
         "text/csv; charset=UTF-16LE", check=ids_csv("17850")),
    Case("enc-utf16-without-charset", j({"customer_id": "17850"}).encode("utf-16"), status=400,
         words=("not valid utf-8",)),
    Case("enc-latin1-declared", "Müller\n".encode("latin-1"), "text/csv; charset=ISO-8859-1",
         accept=JSONL, check=lines_jsonl("Müller")),
    Case("enc-latin1-undeclared", "Müller\n".encode("latin-1"), CSV, status=400, words=("not valid utf-8", "byte 1")),
    Case("enc-invalid-utf8-json", b'{"customer_id": "\xc3\x28"}', status=400, words=("not valid utf-8",)),
    Case("enc-overlong-utf8", b'"\xc0\xaf"', status=400, words=("not valid utf-8",)),
    Case("enc-utf8-encoded-surrogate", b'"\xed\xa0\x80"', status=400, words=("not valid utf-8",)),
    Case("enc-charset-rot13-not-text", "17850", "text/csv; charset=rot13", status=415, words=("rot13",)),
    Case("enc-charset-hex-not-text", "17850", "text/csv; charset=hex", status=415, words=("hex",)),
    Case("enc-charset-base64-not-text", "17850", "text/csv; charset=base64", status=415, words=("base64",)),
    Case("enc-charset-undefined", "17850", "text/csv; charset=undefined", status=400, words=("undefined",)),
    Case("enc-charset-punycode-garbage", "17850", "text/csv; charset=punycode", status=400, words=("punycode",)),
    Case("enc-gzip-body", gzip.compress(j({"customer_id": "17850"}).encode()), status=415,
         words=("gzip", "Content-Encoding"), headers={"Content-Encoding": "gzip"}),
    Case("enc-gzip-body-undeclared", gzip.compress(b"17850\n"), CSV, status=415, words=("gzip",)),
    Case("enc-lone-surrogate-escape", b'{"customer_id": "\\ud800"}', status=400, words=("customer_id", "surrogate")),
    Case("enc-lone-low-surrogate-in-list", b'{"customer_id": "1", "items": ["\\udfff"]}', status=400,
         words=("items[0]",)),
    Case("enc-escaped-surrogate-pair-is-emoji", b'{"customer_id": "\\ud83d\\ude00"}', check=ids_json("\U0001F600")),
    Case("enc-emoji-zwj-id", j({"customer_id": "\U0001F600\u200d\U0001F525"}),
         check=ids_json("\U0001F600\u200d\U0001F525")),
    Case("enc-rtl-override-id-csv", "\u202e17850\n", CSV, check=ids_csv("\u202e17850")),
    Case("enc-nul-in-id-json", b'{"customer_id": "a\\u0000b"}', check=ids_json("a\x00b")),
    Case("enc-nul-in-id-jsonl-to-csv", b'"a\\u0000b"\n', JSONL, accept=CSV, check=ids_csv("a\x00b")),
    Case("enc-nul-byte-after-json", b'{"customer_id": "17850"}\x00', status=400, words=("not valid JSON",)),
    Case("enc-u2028-inside-jsonl-string", '{"customer_id": "a\u2028b"}\n"17850"\n', JSONL,
         check=lines_jsonl("a\u2028b", "17850")),
    Case("enc-nel-inside-jsonl-string", '"x\u0085y"\n"17850"\n', JSONL, check=lines_jsonl("x\u0085y", "17850")),
    Case("enc-nbsp-padded-id", j({"customer_id": "\u00a017850\u00a0"}), check=ids_json("17850")),
]

JSON_VALUES = [
    Case("json-duplicate-key", b'{"customer_id": "1", "customer_id": "17850"}', status=400,
         words=("'customer_id'", "more than once")),
    Case("json-duplicate-key-nested", b'{"instances": [{"customer_id": "1", "k": 2, "k": 900}]}', status=400,
         words=("'k'", "more than once")),
    Case("json-duplicate-key-jsonl-line", b'{"customer_id": "1", "customer_id": "2"}\n"17850"\n', JSONL,
         check=lines_jsonl(None, "17850")),
    Case("json-id-1e400", b'{"customer_id": 1e400}', status=400, words=("customer_id", "finite")),
    Case("json-id-infinity", b'{"customer_id": Infinity}', status=400, words=("customer_id", "finite")),
    Case("json-id-nan", b'{"customer_id": NaN}', status=400, words=("customer_id", "finite")),
    Case("json-id-minus-zero", b'{"customer_id": -0}', check=ids_json("0")),
    Case("json-id-minus-zero-float", b'{"customer_id": -0.0}', check=ids_json("0")),
    Case("json-id-float-spreadsheet", b'{"customer_id": 17850.0}', check=ids_json("17850")),
    Case("json-id-1e20", b'{"customer_id": 1e20}', check=ids_json("100000000000000000000")),
    Case("json-id-true", b'{"customer_id": true}', status=400, words=("customer_id", "boolean")),
    Case("json-id-null", b'{"customer_id": null}', status=400, words=("customer_id is required",)),
    Case("json-id-object", b'{"customer_id": {"id": 1}}', status=400, words=("customer_id", "object")),
    Case("json-id-list", b'{"customer_id": ["17850"]}', status=400, words=("customer_id", "list")),
    Case("json-id-empty", b'{"customer_id": ""}', status=400, words=("customer_id", "empty")),
    Case("json-id-whitespace", b'{"customer_id": " \\t "}', status=400, words=("customer_id", "empty")),
    Case("json-ids-mixed-types", b'{"customer_ids": [17850, "16098", 17850.0]}', check=ids_json("17850", "16098",
                                                                                                 "17850")),
    Case("json-ids-with-bool", b'{"customer_ids": ["1", false]}', status=400, words=("customer_ids[1]",)),
    Case("json-k-zero", b'{"customer_id": "1", "k": 0}', status=400, words=("k must be", "got 0")),
    Case("json-k-minus-zero", b'{"customer_id": "1", "k": -0}', status=400, words=("k must be",)),
    Case("json-k-negative", b'{"customer_id": "1", "k": -1}', status=400, words=("k must be", "-1")),
    Case("json-k-string", b'{"customer_id": "1", "k": "10"}', status=400, words=("k must be", '"10"')),
    Case("json-k-true", b'{"customer_id": "1", "k": true}', status=400, words=("k must be", "true")),
    Case("json-k-1e400", b'{"customer_id": "1", "k": 1e400}', status=400, words=("k must be", "Infinity")),
    Case("json-k-nan", b'{"customer_id": "1", "k": NaN}', status=400, words=("k must be", "NaN")),
    Case("json-k-fraction", b'{"customer_id": "1", "k": 2.5}', status=400, words=("k must be", "2.5")),
    Case("json-k-whole-float", b'{"customer_id": "17850", "k": 2.0}', check=holds(
        lambda t: len(json.loads(t)["predictions"][0]["recommendations"]) == 2)),
    Case("json-k-null-is-default", b'{"customer_id": "17850", "k": null}', check=ids_json("17850")),
    Case("json-exclude-purchased-string", b'{"customer_id": "1", "exclude_purchased": "false"}', status=400,
         words=("exclude_purchased",)),
    Case("json-exclude-popular-nan", b'{"customer_id": "1", "exclude_popular": NaN}', status=400,
         words=("exclude_popular",)),
    Case("json-top-level-string-id", b'"17850"', check=ids_json("17850")),
    Case("json-top-level-number", b"17850", check=ids_json("17850")),
    Case("json-top-level-true", b"true", status=400, words=("request",)),
    Case("json-top-level-null", b"null", status=400, words=("request",)),
    Case("json-trailing-data", b'{"customer_id": "17850"} {"customer_id": "1"}', status=400,
         words=("not valid JSON", "Extra data")),
    Case("json-trailing-comma", b'{"customer_id": "17850",}', status=400, words=("not valid JSON",)),
    Case("json-single-quotes", b"{'customer_id': '17850'}", status=400, words=("not valid JSON",)),
    Case("json-comment", b'{"customer_id": "17850"} // hi', status=400, words=("not valid JSON",)),
    Case("json-instances-plus-k", b'{"instances": ["1"], "k": 3}', status=400, words=("'k'",)),
    Case("json-customer-ids-and-item-ids", b'{"customer_ids": ["1"], "item_ids": ["2"]}', status=400,
         words=("customer_ids or item_ids",)),
    Case("json-item-id-with-customer", b'{"item_id": "85123A", "customer_id": "1"}', status=400,
         words=("item_id",)),
]

CSV_AND_JSONL = [
    Case("csv-quoted-id", '"17850"\n"16098"\n', CSV, check=ids_csv("17850", "16098")),
    Case("csv-quoted-comma-in-id", '"a,b",2\n', CSV, accept=JSONL, check=lines_jsonl("a,b")),
    Case("csv-escaped-quotes-in-id", '"say ""hi"""\n', CSV, accept=JSONL, check=lines_jsonl('say "hi"')),
    Case("csv-embedded-newline-in-quotes", '"178\n50"\n16098\n', CSV, accept=JSONL,
         check=lines_jsonl("178\n50", "16098")),
    Case("csv-unterminated-quote", '17850\n"16098\n13047\n', CSV, status=400, words=("line 2", "unexpected end")),
    Case("csv-text-after-closing-quote", '"178"50\n', CSV, status=400, words=("line 1",)),
    Case("csv-ragged-three-columns", "17850,3\n16098,2,9\n", CSV, accept=JSONL, check=lines_jsonl("17850", None)),
    Case("csv-ragged-to-csv-is-400", "17850,3\n16098,2,9\n", CSV, status=400, words=("line 2", "3 columns")),
    Case("csv-bad-k", "17850,abc\n", CSV, status=400, words=("line 1", "k")),
    Case("csv-k-zero", "17850,0\n", CSV, status=400, words=("line 1", "k must be")),
    Case("csv-k-plus-sign", "17850,+2\n", CSV, accept=JSONL, check=lines_jsonl("17850")),
    Case("csv-k-arabic-digit", "17850,\u0663\n", CSV, accept=JSONL, check=lines_jsonl("17850")),
    Case("csv-empty-lines-everywhere", "\n\n17850\n\n\n16098\n\n", CSV, check=ids_csv("17850", "16098")),
    Case("csv-only-commas-is-blank", ",,,\n17850\n", CSV, check=ids_csv("17850")),
    Case("csv-crlf", "customer_id\r\n17850\r\n16098\r\n", CSV, check=ids_csv("17850", "16098")),
    Case("csv-cr-only", "customer_id\r17850\r16098\r", CSV, check=ids_csv("17850", "16098")),
    Case("csv-header-variants", "CustomerID,k\n17850,1\n", CSV, check=ids_csv("17850")),
    Case("csv-nul-in-field", "17850,2\x00\n", CSV, status=400, words=("line 1", "k")),
    Case("csv-field-over-limit", "17850\n" + "x" * 200_000 + "\n", CSV, status=400, words=("line 2", "field limit")),
    Case("jsonl-trailing-blank-lines", '"17850"\n\n\n\r\n', JSONL, check=lines_jsonl("17850")),
    Case("jsonl-blank-line-in-middle", '"17850"\n\n"16098"\n', JSONL, check=lines_jsonl("17850", None, "16098")),
    Case("jsonl-whitespace-line-in-middle", '"17850"\n  \t\n"16098"', JSONL, check=lines_jsonl("17850", None, "16098")),
    Case("jsonl-crlf", '"17850"\r\n"16098"\r\n', JSONL, check=lines_jsonl("17850", "16098")),
    Case("jsonl-no-final-newline", '"17850"\n"16098"', JSONL, check=lines_jsonl("17850", "16098")),
    Case("jsonl-cr-only-is-one-line", '"17850"\r"16098"\r', JSONL, check=lines_jsonl(None)),
    Case("jsonl-deep-line", "[" * 100_000 + '\n"17850"\n', JSONL, check=lines_jsonl(None, "17850")),
    Case("jsonl-customer-ids-on-a-line", '{"customer_ids": ["1"]}\n"17850"\n', JSONL, check=lines_jsonl(None, "17850")),
    Case("jsonl-bad-lines-as-csv-is-400", '"17850"\nnope\n', JSONL, accept=CSV, status=400,
         words=("line 2", "jsonlines")),
    Case("jsonl-error-lines-name-the-line", '"1"\n"2"\n{"customer_id": "3", "k": 0}\n', JSONL, check=holds(
        lambda t: json.loads(t.split("\n")[2])["error"].startswith("line 3: k must be"))),
]

def _f(flt, **more) -> str:
    return json.dumps({"customer_id": "17850", "k": 3, "filter": flt, **more})


def _recs(n: int) -> Callable[[str], None]:
    return holds(lambda t: len(json.loads(t)["predictions"][0]["recommendations"]) == n)


# filter strings and the other catalogue fields: the synthetic model has no catalogue (only ItemID)
FILTERS = [
    Case("filter-deep-nesting", _f("INCLUDE ItemID WHERE " + "(" * 20000 + "ItemID = 'a'" + ")" * 20000),
         status=400, words=("filter: nested more than 32 levels",)),
    Case("filter-deep-not", _f("INCLUDE ItemID WHERE " + "NOT " * 5000 + "ItemID = 'a'"), status=400,
         words=("nested more than",)),
    Case("filter-huge-in-list", _f("INCLUDE ItemID WHERE ItemID IN (" + ",".join(["'x'"] * 10001) + ")"),
         status=400, words=("more than 10000 values in one IN list",)),
    Case("filter-too-long", _f("INCLUDE ItemID WHERE ItemID = '" + "x" * 100_001 + "'"), status=400,
         words=("at most 100000 characters",)),
    Case("filter-huge-values", _f("INCLUDE ItemID WHERE ItemID IN $ids", filter_values={"ids": ["x"] * 10001}),
         status=400, words=("filter_values.ids holds 10001 values",)),
    Case("filter-sql-injection", _f("INCLUDE ItemID WHERE ItemID = 'a'; DROP TABLE products; --"), status=400,
         words=("unexpected character ';'",)),
    Case("filter-or-1-eq-1", _f("' OR 1=1 --"), status=400, words=("filter:",)),
    Case("filter-mongo-object", _f({"$ne": None}), status=400, words=("filter must be a filter expression",)),
    Case("filter-values-object", _f("INCLUDE ItemID WHERE ItemID = $x", filter_values={"x": {"$gt": ""}}),
         status=400, words=("filter_values.x must be text",)),
    Case("filter-values-without-filter", json.dumps({"customer_id": "1", "filter_values": {"x": 1}}), status=400,
         words=("filter_values without a filter",)),
    Case("filter-unknown-attribute", _f("INCLUDE ItemID WHERE Items.category = 'toys'"), status=400,
         words=("unknown attribute Items.category", "this model has no catalogue")),
    Case("filter-unknown-name", _f("bestsellers_only"), status=400, words=("neither a filter expression",)),
    Case("filter-format-string", _f("INCLUDE ItemID WHERE ItemID = '%s%s%n{0}${x}'"), check=_recs(0)),
    Case("filter-nul-and-emoji", _f("INCLUDE ItemID WHERE ItemID IN ('\u0000', '\U0001F600')"), check=_recs(0)),
    Case("filter-valid-exclude", _f("EXCLUDE ItemID WHERE ItemID IN ('84406B', '84029G')"),
         check=holds(lambda t: not {r["product_id"] for r in json.loads(t)["predictions"][0]["recommendations"]}
                     & {"84406B", "84029G"})),
    Case("promotion-share-too-big", json.dumps({"customer_id": "1", "promotion": {"filter": "x y", "share": 7}}),
         status=400, words=("promotion.share must be a number between 0 and 1",)),
    Case("promotion-not-object", json.dumps({"customer_id": "1", "promotion": "all"}), status=400,
         words=("promotion must be an object",)),
    Case("promotion-extra-field", json.dumps({"customer_id": "1", "promotion": {"filter": "x", "weight": 1}}),
         status=400, words=("unknown field(s) 'weight' in promotion",)),
    Case("fields-unknown", json.dumps({"customer_id": "1", "fields": ["price"]}), status=400,
         words=("fields: unknown attribute 'price'",)),
    Case("fields-too-many", json.dumps({"customer_id": "1", "fields": [f"f{i}" for i in range(101)]}), status=400,
         words=("fields holds 101 names; at most 100",)),
    Case("fields-not-a-list", json.dumps({"customer_id": "1", "fields": "price"}), status=400,
         words=("fields must be a list",)),
    Case("exploration-weight-text", json.dumps({"customer_id": "1", "exploration_weight": "0.5"}), status=400,
         words=("exploration_weight must be a number between 0 and 1",)),
    Case("seed-negative", json.dumps({"customer_id": "1", "seed": -1}), status=400, words=("seed must be",)),
    Case("filter-error-is-a-jsonl-line", _f("INCLUDE ItemID WHERE Items.x = 1") + "\n" + _f("EXCLUDE ItemID WHERE "
         "ItemID = 'a'"), JSONL, check=holds(lambda t: json.loads(t.split("\n")[0])["error"].startswith(
             "line 1: filter: unknown attribute") and "recommendations" in json.loads(t.split("\n")[1]))),
]

CLASSES = {
    "oversized-work": OVERSIZED_WORK, "content-type": CONTENT_TYPES, "accept": ACCEPTS, "empty-body": EMPTY_BODIES,
    "method-path": METHODS_AND_PATHS, "encoding": ENCODINGS, "json-values": JSON_VALUES, "csv-jsonl": CSV_AND_JSONL,
    "filters": FILTERS,
}
CORPUS = [c for cases in CLASSES.values() for c in cases]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    model_dir = write_synthetic(tmp_path_factory.mktemp("adversarial") / "model")
    return create_app(model_dir, Settings(workers=1)).test_client()


def send(client, case: Case):
    headers, body = case.request()
    return client.open(case.path, method=case.method, data=body, headers=headers)


def assert_outcome(case: Case, status: int, headers, text: str) -> None:
    assert status == case.status, (case.id, status, text[:300])
    if case.method != "HEAD":
        assert headers.get("X-Model-Version") == VERSION, (case.id, dict(headers))
    if status != 200:
        if case.method == "HEAD":
            return
        doc = json.loads(text)
        assert headers.get("Content-Type", "").startswith("application/json")
        assert doc["status"] == status and isinstance(doc["error"], str) and doc["error"], doc
        assert len(doc["error"]) < 2000, "an error message never echoes the body"
        for w in case.words:
            assert w in doc["error"], (case.id, doc["error"][:300])
    elif case.check is not None:
        case.check(text)


def test_the_corpus_ids_are_unique():
    assert len({c.id for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_hostile_request(client, case):
    resp = send(client, case)
    assert_outcome(case, resp.status_code, resp.headers, resp.get_data(as_text=True))


def test_ping_stays_up_after_the_corpus(client):
    for case in CORPUS[::7]:
        send(client, case)
    resp = client.get("/ping")
    assert resp.status_code == 200 and resp.get_json()["model_version"] == VERSION


def test_options_lists_the_methods(client):
    resp = client.options("/invocations")
    assert resp.status_code == 200 and "POST" in resp.headers["Allow"]


def test_a_declared_content_encoding_is_a_415_naming_it(client):
    resp = client.post("/invocations", data=zlib.compress(b'{"customer_id": "17850"}'),
                       headers={"Content-Type": JSON, "Content-Encoding": "deflate"})
    assert resp.status_code == 415 and "Content-Encoding" in resp.get_json()["error"]
