"""Lambda entry point for the storefront REST API (API Gateway REST API, Lambda proxy integration).

    POST /recommendations         anyone: {"items": [...]} (this visit), {"item_id": ...} (similar
                                  products) or {} (best sellers), with k and the rules; with a
                                  "session_id", the visit's recent events join the items
    POST /me/recommendations      signed in: the token's customer (+ this visit's items and events)
    POST /staff/recommendations   the staff group: {"customer_id": ...}
    POST /events                  anyone: the visit's events (docs/live.md)
    POST /me/events               signed in: the token's customer's events
    OPTIONS on each               CORS preflight

Signed-in routes take the shopper from the authorizer's verified claims (api/identity.py), never
from the body (api/validate.py refuses identity fields by name). `lambda_handler` builds the
settings (from the environment), the boto3 clients and the signing key once, on the first request
of a container, and keeps them; `Api(settings, client, live, metrics)` is the same thing with them
passed in (tests, the local front). Without EVENTS_TABLE there are no events routes and lists
ignore session ids. Every answer is JSON; an error is `{"error": "...", "status": N,
"request_id": "<aws_request_id>"}` and never contains internals.
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
from .live import HEADER, Live, fetch_key, make_live
from .metrics import Metrics
from .settings import ConfigError, Settings
from .validate import ME, PUBLIC, STAFF, endpoint_request

log = logging.getLogger("alsreco.api")

EVENTS, ME_EVENTS = "events", "me_events"
ROUTES = {"/recommendations": PUBLIC, "/me/recommendations": ME, "/staff/recommendations": STAFF,
          "/events": EVENTS, "/me/events": ME_EVENTS}
SIGNED_IN = (ME, STAFF, ME_EVENTS)
ALLOWED_METHODS = "POST, OPTIONS"
ALLOWED_HEADERS = "Content-Type, X-Api-Key, Authorization"
STAFF_ONLY = "staff only: this account may not look up customers"
PREFLIGHT_MAX_AGE = "600"
INTERNAL = "internal error; quote the request_id when reporting it"


class Api:
    """One configured API: call it with a proxy event and a Lambda context."""

    def __init__(self, settings: Settings, client: Any, live: Live | None = None, metrics: Metrics | None = None):
        self.settings = settings
        self.client = client
        self.live = live
        self.metrics = metrics or (live.metrics if live else Metrics(settings.metrics_namespace))

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
            if HEADER in headers:
                headers["Access-Control-Expose-Headers"] = HEADER
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
        if route in (EVENTS, ME_EVENTS) and self.live is None:
            if not self.settings.events_table:
                raise ApiError(404, f"no such resource: {request.path}; this deployment records no events")
            raise ApiError(503, "events cannot be recorded right now; try again shortly")
        who = signed_in(event, self.settings) if route in SIGNED_IN else None
        if route == STAFF and not who.staff:
            log.warning("staff route refused to a non-staff token (sub=%s)", who.subject)
            raise ApiError(403, STAFF_ONLY)
        now = time.time()
        if route in (EVENTS, ME_EVENTS):
            return self.live.record(json_body(request), who, request_id, now)
        body = json_body(request)
        payload = endpoint_request(body, self.settings, route, who)
        headers: dict[str, str] = {}
        if route in (PUBLIC, ME) and "item_id" not in payload:
            if self.live is not None:           # the visit: the session's (or the token's) recent events
                payload, headers[HEADER] = self.live.with_visit(payload, body.get("session_id"), who, now)
            elif self.settings.events_table:    # configured, but the signing key could not be read
                headers[HEADER] = "unavailable"
        if route == STAFF:       # an audit line: which staff member looked up which customer
            log.info("staff lookup: sub=%s customer_id=%s", who.subject, payload["customer_id"])
        data = invoke(self.client, self.settings, payload)
        answer = storefront_answer(data, request_id, staff=route == STAFF)
        if route != STAFF:
            self.metrics.impression(answer.get("model_version"), now)
        return 200, self.live.sign(answer) if self.live else answer, headers

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
        api = build(settings)
        if api.live is not None or not settings.events_table:
            _STATE["api"] = api           # else: built again on the next request (the key may be readable then)
    return api(event, context)


def build(settings: Settings, metrics: Metrics | None = None, client: Any = None) -> Api:
    """The Api for `settings` with its clients (`client`: the SageMaker runtime one, made here unless
    given); the events side (EVENTS_TABLE set) unless its signing key cannot be read (then
    recommendations still work, without the visit, and /events answers 503)."""
    metrics = metrics or Metrics(settings.metrics_namespace)
    live = None
    if settings.events_table:
        try:
            live = make_live(settings, fetch_key(settings), metrics)
        except Exception:  # noqa: BLE001 - logged; the container runs without the events side
            log.exception("events are off for this container: the signing key could not be read")
    return Api(settings, client if client is not None else make_client(settings), live, metrics)
