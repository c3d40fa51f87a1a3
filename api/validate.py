"""Check a storefront request and turn it into the model endpoint's /invocations JSON.

The body is checked against the one request schema (api/request.schema.json, with the
deployed MAX_K / MAX_IDS), then shaped for its route:

* PUBLIC (`POST /recommendations`, anyone): this visit's `items` (fold-in), `item_id` (similar
  products) or neither (best sellers). Nothing here reads a stored customer's history.
* ME (`POST /me/recommendations`, signed in): the token's customer, plus this visit's `items`.
* STAFF (`POST /staff/recommendations`, the staff group): any `customer_id`.

A field that names a shopper (`customer_id`, `customer_ids`, `user_id`, ...) is refused on the
first two routes with a 400 naming it: identity comes from the verified token only. `session_id`
(the visit, api/live.py) is the public route's only: the storefront reads it, the endpoint never
sees it. Every problem is an ApiError(400) whose message starts with the field's name.
"""
from __future__ import annotations

import math
from typing import Any

from . import schema
from .errors import ApiError
from .identity import Identity
from .settings import Settings

PUBLIC, ME, STAFF = "public", "me", "staff"
MAX_ID_CHARS = 64
ID_FIELDS = ("customer_id", "item_id")
LIST_FIELDS = ("items", "exclude_items", "include_items", "candidates")
NOT_ON = {ME: ("item_id",), STAFF: ("item_id",)}          # similar products: the public route
IDENTITY = ("{name}: a request never names a shopper: a signed-in shopper is known by their token "
            "(POST /me/recommendations); staff look customers up with POST /staff/recommendations")
SIGNED_IN_VISIT = ("session_id: a signed-in shopper's visit is kept under their account (POST /me/events); "
                   "send no session_id with a token")


def clean_id(field: str, value: Any) -> str:
    """A schema-valid id as the container's text: 17850.0 -> "17850", spaces stripped."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ApiError(400, f"{field}: must be a finite number")
        text = str(int(value)) if value.is_integer() else repr(value)
    else:
        text = str(value).strip()
    if not text:
        raise ApiError(400, f"{field}: must not be empty")
    if len(text) > MAX_ID_CHARS:
        raise ApiError(400, f"{field}: longer than {MAX_ID_CHARS} characters")
    return text


def _refuse_identity(body: dict[str, Any], route: str) -> None:
    for name, why in schema.batch_fields().items():
        if name in body:
            raise ApiError(400, f"{name}: {why}")
    allowed = schema.staff_only() if route == STAFF else ()
    for name in schema.identity_fields():
        if name in body and name not in allowed:
            raise ApiError(400, IDENTITY.format(name=name))
    for name in NOT_ON.get(route, ()):
        if name in body:
            raise ApiError(400, f"{name}: similar products are asked on POST /recommendations, without sign-in")
    if route != PUBLIC and "session_id" in body:
        raise ApiError(400, SIGNED_IN_VISIT)


def endpoint_request(body: dict[str, Any], settings: Settings, route: str = PUBLIC,
                     who: Identity | None = None) -> dict[str, Any]:
    """The validated /invocations payload for one storefront request on `route`."""
    _refuse_identity(body, route)
    schema.check(body, schema.resolved(settings.max_k, settings.max_ids))
    payload: dict[str, Any] = {}
    for name, value in body.items():
        if value is None or name in schema.storefront_fields():     # read by the storefront, not the model
            continue
        if name in ID_FIELDS:
            payload[name] = clean_id(name, value)
        elif name in LIST_FIELDS:
            payload[name] = [clean_id(f"{name}[{i}]", v) for i, v in enumerate(value)]
        else:
            payload[name] = value
    if route == ME:
        if who is None:
            raise ApiError(401, "sign-in required")
        return {"customer_id": who.customer_id, **payload}
    if route == STAFF:
        if "customer_id" not in payload:
            raise ApiError(400, "customer_id: required: the customer to look up")
        return payload
    if "item_id" in payload and payload.get("items"):
        raise ApiError(400, "item_id: asks for products similar to one product; send this visit's items "
                            "in another request")
    if "item_id" not in payload and "items" not in payload:
        payload["items"] = []            # an empty visit: best sellers
    return payload
