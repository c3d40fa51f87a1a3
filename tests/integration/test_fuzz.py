"""Property-based fuzzing: generated valid, half-valid and garbage requests never give a 5xx.

The Flask test-client run is fast and unmarked; the run over real HTTP (nginx + gunicorn)
is shorter and marked `integration`.
"""
from __future__ import annotations

import csv
import io
import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alsreco.core.settings import Settings
from alsreco.serve.app import create_app
from alsreco.serve.codecs.fields import OBJECT_FIELDS
from tests.unit.conftest import CUSTOMERS, PRODUCTS, write_synthetic

TYPES = ["application/json", "application/jsonlines", "text/csv"]
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | \
    st.sampled_from(["\ud800", "x\udfff", "\x00", "\u2028", "é", ",", '"', "\n"])  # surrogates, separators
json_scalar = st.none() | st.booleans() | st.integers(-10**6, 10**12) | st.floats() | any_text
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4) |
                          st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
some_id = st.sampled_from(CUSTOMERS + PRODUCTS) | st.integers(0, 99999) | any_text
id_list = st.lists(st.sampled_from(PRODUCTS) | some_id, max_size=6)
plausible = {
    "customer_id": some_id, "items": id_list, "k": st.integers(-2, 1002), "exclude_purchased": st.booleans(),
    "exclude_popular": st.integers(-1, 30), "include_new": st.integers(-1, 10), "exclude_items": id_list,
    "include_items": id_list, "candidates": id_list, "trending": st.booleans(),
    "blend": st.floats(-1, 11) | st.integers(-1, 11),
    "filter": st.sampled_from(["EXCLUDE ItemID WHERE ItemID IN ($x)", "INCLUDE ItemID WHERE Items.a = 1", "x",
                               "EXCLUDE ItemID WHERE ItemID IN Purchases.ItemID"]) | any_text,
    "filter_values": st.dictionaries(st.sampled_from(["x", "y"]), id_list | some_id, max_size=2),
    "promotion": st.fixed_dictionaries({"filter": st.just("INCLUDE ItemID WHERE ItemID IN ('85123A')")},
                                       optional={"share": st.floats(-1, 2)}),
    "exploration_weight": st.floats(-1, 2), "exploration_item_age_days": st.integers(-1, 400),
    "seed": st.integers(-1, 10**6), "fields": st.lists(st.sampled_from(["name", "price"]) | any_text, max_size=3),
}
plausible["item_id"] = st.sampled_from(PRODUCTS) | some_id  # similar products
field_value = {name: plausible[name] | json_value for name in OBJECT_FIELDS}
request_object = st.fixed_dictionaries({}, optional={**field_value, "junk": json_value})
multi_rules = st.fixed_dictionaries({}, optional={"k": plausible["k"] | json_value,
                                                  "exclude_popular": field_value["exclude_popular"]})
json_body = request_object | st.builds(lambda ids, rules: {"customer_ids": ids, **rules},
                                       st.lists(some_id | json_value, max_size=5), multi_rules) | \
    st.builds(lambda ids, rules: {"item_ids": ids, **rules}, st.lists(plausible["item_id"] | json_value, max_size=5),
              multi_rules) | \
    st.builds(lambda xs: {"instances": xs}, st.lists(request_object | some_id, max_size=5)) | json_value


def csv_body(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


bodies = st.one_of(
    json_body.map(lambda doc: json.dumps(doc).encode()),
    st.lists(json_body.map(json.dumps) | st.text(max_size=20), max_size=5).map(
        lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")),
    st.lists(st.lists(st.text(max_size=8) | some_id.map(str), max_size=3), max_size=5).map(
        lambda rows: csv_body(rows).encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
)
content_types = st.sampled_from(TYPES + ["application/x-ndjson", "text/csv; charset=utf-8", ""]) | header_text
accepts = st.sampled_from([None, "*/*", "application/*", "text/html"] + TYPES) | header_text


def check(status: int, ctype: str, body: bytes) -> None:
    assert status < 500, body[:500]
    if status != 200:
        doc = json.loads(body)
        assert doc["status"] == status and doc["error"]
    elif ctype.startswith("application/json") and not ctype.startswith("application/jsonlines"):
        assert "predictions" in json.loads(body)
    elif ctype.startswith("application/jsonlines"):
        assert all(json.loads(line) for line in body.decode().splitlines())
    else:
        assert body.decode().split(",", 1)[0] in ("customer_id", "item_id")
        assert body.decode().split("\n", 1)[0].endswith(",rank,product_id,score,reason,recommendation_id")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    model_dir = write_synthetic(tmp_path_factory.mktemp("fuzz") / "model")
    return create_app(model_dir, Settings(workers=1)).test_client()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, ctype=content_types, accept=accepts,
       path=st.sampled_from(["/invocations", "/endpoints/x/invocations"]))
def test_fuzz_flask(client, body, ctype, accept, path):
    headers = {"Content-Type": ctype, **({"Accept": accept} if accept is not None else {})}
    resp = client.post(path, data=body, headers=headers)
    check(resp.status_code, resp.headers.get("Content-Type", ""), resp.get_data())


@pytest.mark.integration
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, ctype=content_types, accept=accepts)
def test_fuzz_http(synthetic_server, body, ctype, accept):
    # on the wire a field value has no leading/trailing whitespace (RFC 9110 OWS); requests refuses it
    headers = {"Content-Type": ctype.strip(), **({"Accept": accept.strip()} if accept is not None else {})}
    resp = requests.post(synthetic_server.url + "/invocations", data=body, headers=headers, timeout=30)
    check(resp.status_code, resp.headers.get("Content-Type", ""), resp.content)
