"""One request schema (api/request.schema.json): its validator agrees with a reference draft-04
implementation, and the schema agrees with the container's own fields (alsreco/serve/codecs/fields.py).
The gateway model is checked against the synthesized stack in tests/infra/test_stack.py."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from alsreco.serve.codecs import fields as container
from api import schema
from api.errors import ApiError

RESOLVED = schema.resolved(max_k=100, max_ids=100)
REFERENCE = Draft4Validator(RESOLVED)
PROPERTIES = sorted(RESOLVED["properties"])
# container request fields the public API deliberately does not take, and why (none today)
NOT_PUBLIC: dict[str, str] = {}


def test_the_schema_and_the_gateway_model_are_draft4_schemas_using_only_supported_keywords():
    Draft4Validator.check_schema(RESOLVED)
    Draft4Validator.check_schema(schema.gateway_model(50, 20))
    text = json.dumps(RESOLVED)
    assert "$ref" not in text and "x-" not in text
    schema.errors({}, RESOLVED)            # raises on an unsupported keyword


def test_limits_come_from_the_deployment():
    small = schema.resolved(max_k=7, max_ids=3)
    assert small["properties"]["k"]["maximum"] == 7 and small["properties"]["include_new"]["maximum"] == 7
    assert {small["properties"][f]["maxItems"] for f in ("items", "exclude_items", "candidates")} == {3}
    with pytest.raises(ApiError, match=r"^items: at most 3 ids"):
        schema.check({"items": ["a"] * 4}, small)


ids = st.one_of(st.text(max_size=70), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.none(),
                st.booleans())
values = st.one_of(ids, st.lists(ids, max_size=110), st.dictionaries(st.text(max_size=3), ids, max_size=2))
bodies = st.dictionaries(st.sampled_from(PROPERTIES + ["colour", "customer_ids"]), values, max_size=4)


@settings(max_examples=400)
@given(st.one_of(bodies, values))
def test_the_lambdas_validator_agrees_with_the_reference(doc):
    mine = schema.errors(doc, RESOLVED)
    assert (not mine) == REFERENCE.is_valid(doc), (doc, mine, [e.message for e in REFERENCE.iter_errors(doc)])
    for message in mine:                   # every message starts with what is wrong
        assert message.split(":")[0].split("[")[0].split(".")[0] in (*PROPERTIES, "body") \
            or "unknown field" in message


def test_every_public_field_is_a_container_field_and_every_container_field_is_public_or_explained():
    assert set(schema.storefront_fields()) == {"session_id"}     # read by the storefront, never sent on
    public = set(RESOLVED["properties"]) - set(schema.storefront_fields())
    one_request = set(container.OBJECT_FIELDS) | set(container.ITEM_FIELDS)
    assert public <= one_request, f"the container does not take {public - one_request}"
    assert one_request - public == set(NOT_PUBLIC), (
        f"container fields {sorted(one_request - public - set(NOT_PUBLIC))} are missing from "
        "api/request.schema.json (add them, or to NOT_PUBLIC with the reason)")
    # the container's many-at-once forms are refused by name, never passed on
    assert {"customer_ids", "instances"} <= set(schema.identity_fields())
    assert set(container.MULTI_ITEM_FIELDS) - set(container.RULE_FIELDS) <= set(schema.batch_fields())


def test_whatever_the_schema_admits_the_container_admits():
    extreme = {"items": ["x" * 64] * 100, "k": 100, "exclude_items": [1e15] * 100, "include_items": ["a"],
               "candidates": ["b"] * 100, "exclude_purchased": False, "exclude_popular": 1_000_000,
               "include_new": 100, "filter": ["EXCLUDE ItemID WHERE ItemID IN ($x)"] * 5,
               "filter_values": {"x": ["a" * 200] * 100, "y": True, "z": 1.5},
               "promotion": {"filter": "in_stock", "filter_values": {"x": 1}, "share": 1},
               "exploration_weight": 1, "exploration_item_age_days": 36500, "seed": 2**53 - 1,
               "fields": ["x" * 64] * 20}
    schema.check(extreme, schema.resolved(container.MAX_K, 10_000))
    assert container.MAX_K >= RESOLVED["properties"]["k"]["maximum"]
    request = container.parse_single(extreme, "")
    assert request.k == 100 and len(request.items) == 100
    assert container.parse_single({"item_id": "x" * 64, "k": 1}, "").item_id == "x" * 64
    assert container.parse_single({"customer_id": 12346, "k": 1}, "").customer_id == "12346"
    assert container.parse_single({"items": []}, "").items == ()          # an empty visit: best sellers


@pytest.mark.parametrize("doc, message", [
    ({"k": 0}, "k: must be between 1 and 100"),
    ({"k": 5.0}, "k: must be an integer"),
    ({"exclude_purchased": 1}, "exclude_purchased: must be true or false"),
    ({"items": [None]}, "items[0]: must be a string or a number"),
    ({"items": [""]}, "items[0]: must not be empty"),
    ({"item_id": True}, "item_id: must be a string or a number"),
    ({"candidates": "A"}, "candidates: must be a list"),
    ({"colour": 1}, "colour: unknown field"),
    ([], "body: must be a JSON object"),
])
def test_messages_name_the_field(doc, message):
    with pytest.raises(ApiError) as info:
        schema.check(doc, RESOLVED)
    assert info.value.status == 400 and info.value.message.startswith(message)
