"""Lambda entry point for the storefront REST API (API Gateway REST API, Lambda proxy integration).

    POST /recommendations         anyone: {"items": [...]} (this visit), {"item_id": ...} (similar
                                  products) or {} (best sellers), with k and the rules
    POST /me/recommendations      signed in: the token's customer (+ this visit's items)
    POST /staff/recommendations   the staff group: {"customer_id": ...}
    OPTIONS on each               CORS preflight

Signed-in routes take the shopper from the authorizer's verified claims (api/identity.py), never
from the body (api/validate.py refuses identity fields by name). `lambda_handler` builds the
settings (from the environment) and the boto3 client once, on the first request of a container,
and keeps them; `Api(settings, client)` is the same thing with both passed in (tests, the local
front). Every answer is JSON; an error is `{"error": "...", "status": N, "request_id": "<aws_request_id>"}`
and never contains internals.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Mapping

from .answer import storefront_answer
from .endpoint import invoke, make_client
from .errors import ApiError
from .events import HttpRequest, json_body, parse_event, response
from .identity import signed_in
from .settings import ConfigError, Settings
from .validate import ME, PUBLIC, STAFF, endpoint_request

log = logging.getLogger("alsreco.api")

ROUTES = {"/recommendations": PUBLIC, "/me/recommendations": ME, "/staff/recommendations": STAFF}
SIGNED_IN = (ME, STAFF)
ALLOWED_METHODS = "POST, OPTIONS"
ALLOWED_HEADERS = "Content-Type, X-Api-Key, Authorization"
STAFF_ONLY = "staff only: this account may not look up customers"
PREFLIGHT_MAX_AGE = "600"
INTERNAL = "internal error; quote the request_id when reporting it"


class Api:
    """One configured API: call it with a proxy event and a Lambda context."""

    def __init__(self, settings: Settings, client: Any):
        self.settings = settings
        self.client = client

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        request_id = str(getattr(context, "aws_request_id", "") or "")
        started = time.perf_counter()
        origin = _origin(event)
        request: HttpRequest | None = None
        try:
            request = parse_event(event, self.settings.max_body_bytes)
            status, payload, headers = self.route(request, request_id, event)
        except ApiError as exc:
            status, payload, headers = exc.status, {"error": exc.message, "status": exc.status}, {}
        except Exception:  # noqa: BLE001 - logged with the trace, never shown to the caller
            log.exception("unhandled error (request_id=%s)", request_id)
            status, payload, headers = 500, {"error": INTERNAL, "status": 500}, {}
        if isinstance(payload, dict) and "error" in payload:
            payload["request_id"] = request_id
        allowed = self.settings.cors_origin(origin)
        if allowed:
            headers = {**headers, "Access-Control-Allow-Origin": allowed}
            if allowed != "*":
                headers["Vary"] = "Origin"
        log.info("%s %s %d %.1fms request_id=%s", request.method if request else "-",
                 request.path if request else "-", status, (time.perf_counter() - started) * 1000, request_id)
        return response(status, payload, headers)

    def route(self, request: HttpRequest, request_id: str, event: Mapping[str, Any]
              ) -> tuple[int, Any, dict[str, str]]:
        path = request.path.rstrip("/")
        route = ROUTES.get(path)
        if route is None:
            raise ApiError(404, f"no such resource: {request.path}; POST {', '.join(ROUTES)}")
        if request.method == "OPTIONS":
            return self.preflight(request)
        if request.method != "POST":
            raise ApiError(405, f"{request.method} is not allowed on {path}; use POST")
        who = signed_in(event, self.settings) if route in SIGNED_IN else None
        if route == STAFF and not who.staff:
            log.warning("staff route refused to a non-staff token (sub=%s)", who.subject)
            raise ApiError(403, STAFF_ONLY)
        payload = endpoint_request(json_body(request), self.settings, route, who)
        if route == STAFF:       # an audit line: which staff member looked up which customer
            log.info("staff lookup: sub=%s customer_id=%s", who.subject, payload["customer_id"])
        data = invoke(self.client, self.settings, payload)
        return 200, storefront_answer(data, request_id, staff=route == STAFF), {}

    def preflight(self, request: HttpRequest) -> tuple[int, Any, dict[str, str]]:
        origin = request.header("origin")
        if not self.settings.cors_origin(origin):
            raise ApiError(403, f"origin {origin or '(none)'} is not allowed to call this API")
        return 204, None, {"Access-Control-Allow-Methods": ALLOWED_METHODS,
                           "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                           "Access-Control-Max-Age": PREFLIGHT_MAX_AGE}


def _origin(event: Any) -> str | None:
    headers = event.get("headers") if isinstance(event, Mapping) else None
    for name, value in (headers or {}).items():
        if str(name).lower() == "origin":
            return str(value)
    return None


_STATE: dict[str, Api] = {}


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The function's handler (`api.handler.lambda_handler`)."""
    api = _STATE.get("api")
    if api is None:
        logging.getLogger("alsreco").setLevel(logging.INFO)
        try:
            settings = Settings.from_env(os.environ)
        except ConfigError:
            log.exception("bad configuration")
            request_id = str(getattr(context, "aws_request_id", "") or "")
            return response(500, {"error": INTERNAL, "status": 500, "request_id": request_id})
        api = _STATE["api"] = Api(settings, make_client(settings))
    return api(event, context)
