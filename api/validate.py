"""Check a storefront request and turn it into the model endpoint's /invocations JSON.

Same vocabulary as the endpoint (README "Requests"), one request at a time, with tighter limits
for a public API: `k` <= MAX_K, id lists <= MAX_IDS, ids <= 64 characters. Every problem is an
ApiError(400) whose message starts with the field's name.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from .errors import ApiError
from .settings import Settings

MAX_ID_CHARS = 64
ID_FIELDS = ("customer_id", "item_id")
LIST_FIELDS = ("items", "exclude_items", "include_items", "candidates")
FLAG_FIELDS = ("exclude_purchased",)
SUBJECTS = ("customer_id", "items", "item_id")
BATCH_FIELDS = {"customer_ids": "one customer per request here; send customer_id",
                "instances": "one customer per request here; send customer_id",
                "item_ids": "one product per request here; send item_id"}


def _id(field: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise ApiError(400, f"{field}: must be a string or a number")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ApiError(400, f"{field}: must be a finite number")
        text = str(int(value)) if float(value).is_integer() else repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ApiError(400, f"{field}: must be a string or a number")
    if not text:
        raise ApiError(400, f"{field}: must not be empty")
    if len(text) > MAX_ID_CHARS:
        raise ApiError(400, f"{field}: longer than {MAX_ID_CHARS} characters")
    return text


def _ids(field: str, value: Any, max_ids: int) -> list[str]:
    if not isinstance(value, list):
        raise ApiError(400, f"{field}: must be a list of ids")
    if len(value) > max_ids:
        raise ApiError(400, f"{field}: at most {max_ids} ids")
    return [_id(f"{field}[{i}]", v) for i, v in enumerate(value)]


def _int(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise ApiError(400, f"{field}: must be an integer")
    if not low <= value <= high:
        raise ApiError(400, f"{field}: must be between {low} and {high}")
    return int(value)


def _flag(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ApiError(400, f"{field}: must be true or false")
    return value


def _checkers(settings: Settings) -> dict[str, Callable[[str, Any], Any]]:
    checks: dict[str, Callable[[str, Any], Any]] = {
        "k": lambda f, v: _int(f, v, 1, settings.max_k),
        "exclude_popular": lambda f, v: _int(f, v, 0, 1_000_000),
        "include_new": lambda f, v: _int(f, v, 0, settings.max_k),
    }
    checks.update({f: _id for f in ID_FIELDS})
    checks.update({f: (lambda f, v: _ids(f, v, settings.max_ids)) for f in LIST_FIELDS})
    checks.update({f: _flag for f in FLAG_FIELDS})
    return checks


def endpoint_request(body: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The validated /invocations payload for one storefront request."""
    for name, why in BATCH_FIELDS.items():
        if name in body:
            raise ApiError(400, f"{name}: {why}")
    checks = _checkers(settings)
    unknown = sorted(set(body) - set(checks))
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field (allowed: {', '.join(sorted(checks))})")
    payload = {name: checks[name](name, value) for name, value in body.items() if value is not None}
    if not any(name in payload for name in SUBJECTS):
        raise ApiError(400, "customer_id: required unless items or item_id is given")
    return payload
