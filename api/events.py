"""API Gateway REST API (v1) Lambda proxy events in, proxy results out.

Input: `httpMethod`, `path`, `resource`, `headers` (as the client sent them, any case; may be
null), `multiValueHeaders`, `body` (string or null) and `isBase64Encoded`, `requestContext`
(`requestId`, `stage`, `identity.sourceIp`, ...). Output: `statusCode`, `headers`, `body` (a
string) and `isBase64Encoded`.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ApiError


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)   # lower-case names
    body: bytes = b""
    request_id: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def parse_event(event: Mapping[str, Any], max_body_bytes: int) -> HttpRequest:
    """The parts of a proxy event the API uses; ApiError(400/413) for an unreadable body."""
    if not isinstance(event, Mapping) or "httpMethod" not in event:
        raise ApiError(400, "not an API Gateway proxy request")
    headers: dict[str, str] = {}
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if values:
            headers[str(name).lower()] = ", ".join(str(v) for v in values)
    for name, value in (event.get("headers") or {}).items():
        if value is not None:
            headers.setdefault(str(name).lower(), str(value))
    raw = event.get("body")
    if raw is None:
        body = b""
    elif event.get("isBase64Encoded"):
        if len(raw) > (max_body_bytes * 4) // 3 + 4:
            raise ApiError(413, f"request body is larger than {max_body_bytes} bytes")
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ApiError(400, "body: isBase64Encoded is true but the body is not valid base64") from None
    else:
        body = str(raw).encode("utf-8")
    if len(body) > max_body_bytes:
        raise ApiError(413, f"request body is larger than {max_body_bytes} bytes")
    context = event.get("requestContext") or {}
    return HttpRequest(
        method=str(event.get("httpMethod") or "").upper(),
        path=_route(event),
        headers=headers,
        body=body,
        request_id=str(context.get("requestId") or ""),
    )


def _route(event: Mapping[str, Any]) -> str:
    """The API resource (`/recommendations`), else the path (a `{proxy+}` resource)."""
    resource = str(event.get("resource") or "")
    if resource and "{" not in resource:
        return resource
    return str(event.get("path") or resource or "/")


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object; ApiError(400/415) naming what is wrong."""
    ctype = (request.header("content-type") or "application/json").split(";")[0].strip().lower()
    if ctype not in ("application/json", "text/plain"):
        # text/plain: a "simple" CORS request (no preflight) some clients send on purpose
        raise ApiError(415, f"Content-Type {ctype!r} is not supported; send application/json")
    if not request.body.strip():
        raise ApiError(400, "body: a JSON object is required")
    try:
        data = json.loads(request.body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "body: not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"body: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body: must be a JSON object")
    return data


def response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A proxy result with a JSON body (None = empty body)."""
    out_headers = {"Content-Type": "application/json", "Cache-Control": "no-store",
                   "X-Content-Type-Options": "nosniff", **(headers or {})}
    return {
        "statusCode": int(status),
        "headers": out_headers,
        "body": "" if payload is None else json.dumps(payload, separators=(",", ":")),
        "isBase64Encoded": False,
    }
