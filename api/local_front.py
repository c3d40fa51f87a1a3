"""API Gateway and S3 stand-ins on 127.0.0.1, for `make web` and the tests. No AWS involved.

* `api_server(api, port, authorizer)`: every HTTP request becomes a REST API (v1) Lambda proxy
  event (`resource`, `path`, `httpMethod`, `headers`, `multiValueHeaders`, `queryStringParameters`,
  `requestContext`, `body`, `isBase64Encoded`) for `api` (an `api.handler.Api`, the real
  handler), and its proxy result becomes the HTTP response - as API Gateway does. Bodies that are
  not UTF-8 text arrive base64-encoded, as with binary media types. On the signed-in routes
  (`protected`, all methods but OPTIONS) the `authorizer` (api/local_authorizer.py) checks the
  Authorization header first: a refused token is the gateway's own 401 (the Lambda never runs),
  an accepted one puts its claims in `requestContext.authorizer`. Without an authorizer the
  signed-in routes reach the Lambda with no claims (which answers 401).
* `page_server(web_dir, port, overrides, headers)`: the static page (what would sit in the S3
  bucket), with some files replaced in memory (the local `config.js`, the model's
  `catalogue.json`), sent with the page's security headers (api/page_headers.py) as CloudFront does.
"""
from __future__ import annotations

import base64
import json
import mimetypes
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from .identity import SIGN_IN
from .jwt import TokenError

MAX_BODY = 10 * 1024 * 1024      # API Gateway's own payload limit
STAGE = "local"


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object the handler reads."""
    aws_request_id: str
    function_name: str = "alsreco-storefront-local"
    memory_limit_in_mb: int = 256

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


PROTECTED = ("/me/recommendations", "/staff/recommendations", "/me/events")   # api/handler.py's signed-in routes


def to_event(method: str, target: str, headers: Mapping[str, str], body: bytes, source_ip: str = "127.0.0.1",
             request_id: str | None = None) -> dict[str, Any]:
    """A REST API proxy event for one HTTP request (`target` = path?query)."""
    url = urlsplit(target)
    query = parse_qs(url.query, keep_blank_values=True)
    try:
        text, encoded = (body.decode("utf-8"), False) if body else (None, False)
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    multi: dict[str, list[str]] = {}
    for name, value in headers.items():
        multi.setdefault(name, []).append(value)
    now = time.time()
    return {
        "resource": url.path,
        "path": url.path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi.items()} or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "resourceId": "local", "stage": STAGE,
            "resourcePath": url.path, "httpMethod": method, "path": f"/{STAGE}{url.path}",
            "requestId": request_id or str(uuid.uuid4()), "extendedRequestId": "local",
            "protocol": "HTTP/1.1", "domainName": "127.0.0.1", "domainPrefix": "127",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent"), "apiKey": None,
                         "apiKeyId": None, "accountId": None, "caller": None, "user": None, "userArn": None,
                         "accessKey": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
                         "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def _api_handler(api: Callable[[dict, Any], dict], authorizer: Any, protected: tuple[str, ...],
                 cors_origin: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True     # headers and body are two writes: no 40 ms wait on a delayed ACK

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._send(413, {"Content-Type": "application/json"}, b'{"message":"Request Too Long"}')
            body = self.rfile.read(length) if length else b""
            request_id = str(uuid.uuid4())
            event = to_event(self.command, self.path, dict(self.headers.items()), body, self.client_address[0],
                             request_id)
            if authorizer is not None and self.command != "OPTIONS" and \
                    urlsplit(self.path).path.rstrip("/") in protected:
                try:
                    event["requestContext"]["authorizer"] = authorizer.authorize(self.headers.get("Authorization"))
                except TokenError:
                    return self._unauthorized(request_id)
            result = api(event, LambdaContext(aws_request_id=request_id))
            payload = result.get("body") or ""
            data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode("utf-8")
            headers = dict(result.get("headers") or {})
            for name, values in (result.get("multiValueHeaders") or {}).items():
                headers[name] = ", ".join(values)
            self._send(int(result.get("statusCode", 502)), headers, data)

        def _unauthorized(self, request_id: str) -> None:
            """The stack's UNAUTHORIZED gateway response (infra/rest_api.py)."""
            headers = {"Content-Type": "application/json", "WWW-Authenticate": "Bearer"}
            if cors_origin:
                headers.update({"Access-Control-Allow-Origin": cors_origin, "Vary": "Origin"})
            body = {"error": SIGN_IN, "status": 401, "request_id": request_id}
            self._send(401, headers, json.dumps(body).encode())

        def _send(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _proxy

        def log_message(self, fmt: str, *args: Any) -> None:   # the handler logs each request itself
            pass

    return Handler


def _page_handler(web_dir: Path, overrides: Mapping[str, bytes], extra: Mapping[str, str]
                  ) -> type[BaseHTTPRequestHandler]:
    root = Path(web_dir).resolve()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        files = dict(overrides)

        def do_GET(self) -> None:
            name = urlsplit(self.path).path.lstrip("/") or "index.html"
            if name in self.files:
                data = self.files[name]
            else:
                target = (root / name).resolve()
                if root not in target.parents or not target.is_file():
                    return self._send(404, "application/json", json.dumps({"error": "not found"}).encode())
                data = target.read_bytes()
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self._send(200, ctype + ("; charset=utf-8" if ctype.startswith(("text/", "application/j")) else ""),
                       data)

        def _send(self, status: int, ctype: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args: Any) -> None:
            pass

    return Handler


def _start(handler: type[BaseHTTPRequestHandler], host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"front-{server.server_port}", daemon=True).start()
    return server


def api_server(api: Callable[[dict, Any], dict], port: int = 0, host: str = "127.0.0.1", authorizer: Any = None,
               protected: tuple[str, ...] = PROTECTED, cors_origin: str | None = None) -> ThreadingHTTPServer:
    """Start the API Gateway stand-in in a thread; `.server_port` is the port, `.shutdown()` stops it.
    `cors_origin`: the page origin the gateway's own error answers (401) allow, as the stack's do."""
    return _start(_api_handler(api, authorizer, tuple(protected), cors_origin), host, port)


def page_server(web_dir: Path, port: int = 0, overrides: Mapping[str, bytes] | None = None,
                host: str = "127.0.0.1", headers: Mapping[str, str] | None = None) -> ThreadingHTTPServer:
    """Start the static page server in a thread; `.overrides` (a dict) and `.headers` may be changed
    while it runs (the API's port is known only after the page's)."""
    extra = dict(headers or {})
    handler = _page_handler(web_dir, overrides or {}, extra)
    server = _start(handler, host, port)
    server.overrides = handler.files
    server.headers = extra
    return server


def config_js(api_base: str, api_key: str = "", sign_in: Mapping[str, str] | None = None,
              events: bool = False) -> bytes:
    """The page's config.js pointing at `api_base`; `sign_in`: {"endpoint", "clientId", "region"}
    of the Cognito user pool the page signs shoppers in with (none: no sign-in form); `events`: the
    API records the visit's events (POST /events), so the page sends them instead of its items."""
    config: dict[str, Any] = {"apiBase": api_base.rstrip("/"), "apiKey": api_key, "catalogueUrl": "catalogue.json",
                              "events": bool(events)}
    if sign_in:
        config["signIn"] = dict(sign_in)
    return f"window.ALSRECO_CONFIG = {json.dumps(config, indent=2)};\n".encode()
