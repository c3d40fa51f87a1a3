"""The storefront's request schemas (api/request.schema.json, api/events.schema.json) and a small
draft-04 validator for them.

One file says what a recommendations request may hold, another what an events request may hold
(`name="events"`). From each:
* `resolved(max_k, max_ids, max_events=.., name=..)`: the schema with its `$ref`s inlined and the
  deployed limits applied (`x-limit` names the setting that replaces a `maximum` / `maxItems`),
  `x-` keywords dropped;
* `gateway_model(...)`: what API Gateway checks before the Lambda runs (infra/rest_api.py) - the
  same, plus the identity and batch fields accepted as anything, so that the Lambda, not the
  gateway, answers them with a message that says why they are refused;
* `check(doc, schema)`: the Lambda's validation, an ApiError(400) whose message starts with the
  field's path (`items[3]: longer than 64 characters`).

The validator covers the keywords the files use (type, properties, additionalProperties (false or a
schema), required, items, minItems, maxItems, minLength, maxLength, minimum, maximum, enum, oneOf,
$ref) with draft-04 semantics: a boolean is not a number, 5.0 is not an integer. Standard library
only (it runs in the Lambda).
"""
from __future__ import annotations

import copy
import functools
import json
import math
from pathlib import Path
from typing import Any

from .errors import ApiError

SCHEMA_FILE = Path(__file__).with_name("request.schema.json")
SCHEMA_FILES = {"request": SCHEMA_FILE, "events": Path(__file__).with_name("events.schema.json")}
KEYWORDS = {"$schema", "title", "description", "type", "properties", "additionalProperties", "items",
            "maxItems", "minLength", "maxLength", "minimum", "maximum", "oneOf", "$ref", "definitions",
            "required", "minItems", "enum"}
DEFAULT_LIMITS = {"max_k": 100, "max_ids": 100, "max_events": 25}
TYPE_NAMES = {"string": "a string", "number": "a number", "integer": "an integer", "boolean": "true or false",
              "array": "a list", "object": "a JSON object", "null": "null"}


@functools.lru_cache(maxsize=4)
def load(name: str = "request") -> dict[str, Any]:
    """The schema file as written (x- keywords included)."""
    return json.loads(SCHEMA_FILES[name].read_text(encoding="utf-8"))


def identity_fields() -> tuple[str, ...]:
    """Body fields that would name a shopper: refused on every route but the staff one (customer_id)."""
    return tuple(load()["x-identity-fields"])


def batch_fields() -> dict[str, str]:
    """Container fields for many subjects at once, with why the storefront takes one."""
    return dict(load()["x-batch-fields"])


def staff_only() -> tuple[str, ...]:
    """Properties only POST /staff/recommendations takes."""
    return only_on("staff")


def event_types() -> tuple[str, ...]:
    """The event types POST /events takes."""
    return tuple(load("events")["definitions"]["event"]["properties"]["type"]["enum"])


def storefront_fields() -> tuple[str, ...]:
    """Properties the storefront reads itself and never sends to the endpoint (`x-storefront`)."""
    return tuple(n for n, prop in load()["properties"].items() if prop.get("x-storefront"))


def only_on(route: str, name: str = "request") -> tuple[str, ...]:
    """Properties of schema `name` that only `route` takes (`x-routes`)."""
    return tuple(n for n, prop in load(name)["properties"].items() if route in prop.get("x-routes", ()))


def resolved(max_k: int = 100, max_ids: int = 100, max_events: int = 25, name: str = "request") -> dict[str, Any]:
    """Draft-04 schema: `$ref`s inlined, limits applied, no `x-` keywords, no `definitions`."""
    raw = load(name)
    limits = {"max_k": int(max_k), "max_ids": int(max_ids), "max_events": int(max_events)}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            name = node["$ref"].removeprefix("#/definitions/")
            merged = {**raw["definitions"][name], **{k: v for k, v in node.items() if k != "$ref"}}
            return walk(merged)
        out = {k: walk(v) for k, v in node.items() if not k.startswith("x-") and k != "definitions"}
        if "x-limit" in node:
            key = "maxItems" if node.get("type") == "array" else "maximum"
            out[key] = limits[node["x-limit"]]
        return out

    return walk(copy.deepcopy(raw))


def gateway_model(max_k: int = 100, max_ids: int = 100, max_events: int = 25, name: str = "request") -> dict[str, Any]:
    """The API Gateway model: `resolved` plus identity / batch fields accepted as anything (the
    Lambda refuses them by name; the gateway's own message would not say why)."""
    model = resolved(max_k, max_ids, max_events, name)
    anything = {"description": "refused by the Lambda, which says why"}   # not {}: CDK drops empty objects
    for name in (*identity_fields(), *batch_fields()):
        model["properties"].setdefault(name, dict(anything))
    return model


# ------------------------------------------------------------------------------- validation
def _type_ok(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "null":
        return value is None
    raise ValueError(f"schema type {kind!r} is not supported")


def _number(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else repr(n)


def errors(value: Any, schema: dict[str, Any], path: str = "body") -> list[str]:
    """Every reason `value` does not match `schema` (a resolved schema), each starting with a path."""
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise ValueError(f"schema keyword(s) {sorted(unknown)} are not supported")
    if "oneOf" in schema:
        results = [errors(value, branch, path) for branch in schema["oneOf"]]
        passed = sum(1 for r in results if not r)
        if passed == 1:
            return []
        if passed > 1:
            return [f"{path}: matches more than one form"]
        typed = [r for r, branch in zip(results, schema["oneOf"])
                 if "type" not in branch or _type_ok(value, branch["type"])]
        if typed:
            return typed[0]
        kinds = [TYPE_NAMES[b["type"]] for b in schema["oneOf"] if "type" in b]
        return [f"{path}: must be {' or '.join(kinds)}"]
    kind = schema.get("type")
    if kind is not None and not _type_ok(value, kind):
        return [f"{path}: must be {TYPE_NAMES[kind]}"]
    out: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(f"{path}: must not be empty" if schema["minLength"] == 1
                       else f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{path}: longer than {schema['maxLength']} characters")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high) or \
                (isinstance(value, float) and not math.isfinite(value) and (low is not None or high is not None)):
            lo = "-inf" if low is None else _number(low)
            hi = "inf" if high is None else _number(high)
            out.append(f"{path}: must be between {lo} and {hi}")
    if isinstance(value, list):
        kinds = {b.get("type") for b in schema.get("items", {}).get("oneOf", ())}
        noun = "ids" if kinds == {"string", "number"} else "entries"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return [f"{path}: at most {schema['maxItems']} {noun}"]
        if "minItems" in schema and len(value) < schema["minItems"]:
            return [f"{path}: at least {schema['minItems']} {noun}"]
        if "items" in schema:
            for i, item in enumerate(value):
                out += errors(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        at = "" if path == "body" else path + "."
        extra = schema.get("additionalProperties")
        for name in schema.get("required", ()):
            if name not in value:
                out.append(f"{at}{name}: required")
        for name, item in value.items():
            if name in props:
                out += errors(item, props[name], at + name)
            elif extra is False:
                out.append(f"{at}{name}: unknown field (allowed: {', '.join(sorted(props))})")
            elif isinstance(extra, dict):
                out += errors(item, extra, at + name)
    return out


def check(value: Any, schema: dict[str, Any]) -> None:
    """ApiError(400) with the first reason `value` does not match `schema`."""
    found = errors(value, schema)
    if found:
        raise ApiError(400, found[0])
