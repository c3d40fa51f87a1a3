"""The protocol routes, served straight from the WSGI environ, in front of the Flask app:

    GET  /ping                          200 with the model version (503 and why, without a model)
    GET  /execution-parameters          what batch transform asks before it sends records
    POST /invocations                   a prediction request (serve/invoke.py)
    POST /endpoints/<name>/invocations  the same: the route boto3's sagemaker-runtime client posts to
    POST /models/<name>/invoke          multi-model endpoints: the loaded model `name` answers

Everything else (the OpenAPI document, the multi-model management API, 404s) goes to the Flask app.
These few routes need a body, four headers and a status line; a single-customer request spent about a
third of its time in Flask's request and response objects (benchmarks/RESULTS.md, "where the time
goes"), so they skip them. Errors are the same JSON as the app's: {"error": ..., "status": ...}.
"""
from __future__ import annotations

import json
import logging
import time
from http import HTTPStatus
from typing import Callable, Iterable

from ..core.settings import Settings
from . import codecs, invoke

log = logging.getLogger("alsreco.serve")
TARGET_MODEL = "HTTP_X_AMZN_SAGEMAKER_TARGET_MODEL"  # InvokeEndpoint's TargetModel, as SageMaker passes it
MAX_LOGGED = 200  # characters of a model name in the log line
_STATUS = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": message, "status": status}).encode()


class Protocol:
    """WSGI middleware: the protocol routes here, the rest to `app` (Flask's wsgi_app).

    `holder` serves one model (its `get()` is the Recommender or None, `reason` says why); `models`
    (serve/models) serves a multi-model endpoint's loaded models by name; exactly one of them is set."""

    def __init__(self, app: Callable, settings: Settings, holder=None, models=None):
        self.app, self.settings, self.holder, self.models = app, settings, holder, models
        self.exact = {"/ping": ("GET", self.ping), "/execution-parameters": ("GET", self.parameters),
                      "/invocations": ("POST", self.invocations)}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or ""
        route = self.exact.get(path)
        name = None
        if route is None:
            if path.startswith("/endpoints/") and path.endswith("/invocations") and path.count("/") == 3:
                route = ("POST", self.invocations)
            elif self.models is not None and path.startswith("/models/") and path.endswith("/invoke") \
                    and len(path) > len("/models//invoke"):
                route, name = ("POST", self.invoke_named), path[len("/models/"):-len("/invoke")]
            else:
                return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        wanted, handler = route
        head = method == "HEAD" and wanted == "GET"
        if method != wanted and not head:
            allow = [("Allow", ", ".join((wanted, "HEAD", "OPTIONS") if wanted == "GET" else (wanted, "OPTIONS")))]
            if method == "OPTIONS":
                return self._send(start_response, 200, b"", "text/html; charset=utf-8", allow)
            status, body, ctype, headers, _, _ = self._error(405, f"{method} is not allowed on {path}; use {wanted}",
                                                             None, self._version(name))
            return self._send(start_response, status, body, ctype, headers + allow)
        started = time.perf_counter()
        status, body, ctype, headers, customers, target = handler(environ, name)
        if path != "/ping":  # health checks every few seconds would drown the log
            self.log(method, path, status, started, customers, target)
        if head and isinstance(body, bytes):  # HEAD: GET's headers (its Content-Length too), no body
            return self._send(start_response, status, body, ctype, headers, head=True)
        return self._send(start_response, status, body, ctype, headers)

    # ------------------------------------------------------------------ routes
    def ping(self, environ: dict, _name) -> tuple:
        if self.models is not None:  # a multi-model endpoint is healthy with no model loaded
            return 200, json.dumps({"status": "ok", "multi_model": True}).encode(), "application/json", [], 0, None
        rec = self.holder.get()
        if rec is None:
            return 503, error_body(503, self.holder.reason), "application/json", [], 0, None
        return (200, json.dumps({"status": "ok", "model_version": rec.version}).encode(), "application/json", [],
                0, None)

    def parameters(self, environ: dict, _name) -> tuple:
        s = self.settings
        body = {"MaxConcurrentTransforms": s.workers, "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": s.max_payload_mb}
        return 200, json.dumps(body).encode(), "application/json", [], 0, None

    def invocations(self, environ: dict, _name) -> tuple:
        """One model: its answer. A multi-model endpoint: the model named by the TargetModel header (what
        SageMaker's local mode and boto3 against a local server send; SageMaker itself posts to
        /models/<name>/invoke)."""
        target = environ.get(TARGET_MODEL)
        if self.models is None:
            return self._answer(environ, None, target)
        if not target:
            return self._error(400, "this is a multi-model endpoint (SAGEMAKER_MULTI_MODEL=true): name the model "
                                    "with InvokeEndpoint's TargetModel (the X-Amzn-SageMaker-Target-Model header) "
                                    "or POST /models/<name>/invoke", None)
        return self._answer(environ, target, target)

    def invoke_named(self, environ: dict, name: str) -> tuple:
        return self._answer(environ, name, environ.get(TARGET_MODEL) or name)

    # ------------------------------------------------------------------ internals
    def _answer(self, environ: dict, name: str | None, target: str | None) -> tuple:
        version = ""
        try:
            rec = self._recommender(name)
            version = rec.version
            body = _body(environ, self.settings)
            a = invoke.answer(rec, body, environ.get("CONTENT_TYPE"), environ.get("HTTP_ACCEPT"),
                              environ.get("HTTP_CONTENT_ENCODING"), self.settings)
        except codecs.HttpError as exc:
            return self._error(exc.status, str(exc), target, version or self._version(name))
        except Exception as exc:  # noqa: BLE001 - any bug is a JSON 500, never a dead worker
            log.exception("unexpected error on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return self._error(500, f"internal error: {type(exc).__name__}", target, version)
        return 200, a.body, a.content_type, [("X-Model-Version", version)], a.customers, target

    def _recommender(self, name: str | None):
        if self.models is not None:
            return self.models.recommender(name)  # HttpError 404 when it is not loaded
        rec = self.holder.get()
        if rec is None:
            raise codecs.HttpError(503, self.holder.reason)
        return rec

    def _version(self, name: str | None) -> str:
        if self.models is None:
            rec = self.holder.get()
            return rec.version if rec is not None else ""
        return ""

    @staticmethod
    def _error(status: int, message: str, target: str | None, version: str = "") -> tuple:
        headers = [("X-Model-Version", version)] if version else []
        return status, error_body(status, message), "application/json", headers, 0, target

    @staticmethod
    def _send(start_response: Callable, status: int, body, ctype: str, headers: list,
              head: bool = False) -> Iterable[bytes]:
        fields = [("Content-Type", ctype), *headers]
        if isinstance(body, bytes):
            start_response(_STATUS.get(status, f"{status} UNKNOWN"), fields + [("Content-Length", str(len(body)))])
            return [b""] if head else [body]
        start_response(_STATUS.get(status, f"{status} UNKNOWN"), fields)
        return body

    @staticmethod
    def log(method: str, path: str, status: int, started: float, customers: int, target: str | None) -> None:
        ms = (time.perf_counter() - started) * 1000
        if target is None:
            log.info("%s %s %d %.1fms customers=%d", method, path, status, ms, customers)
        else:  # the TargetModel of a multi-model request, quoted (it is the caller's text)
            log.info("%s %s %d %.1fms customers=%d target=%s", method, path, status, ms, customers,
                     json.dumps(target[:MAX_LOGGED]))


def _body(environ: dict, settings: Settings) -> bytes:
    """The request body, at most `settings.max_body_bytes` (413 beyond, like nginx in front)."""
    limit = settings.max_body_bytes
    stream = environ.get("wsgi.input")
    raw = environ.get("CONTENT_LENGTH") or ""
    if raw:
        try:
            length = int(raw)
        except ValueError:
            raise codecs.HttpError(400, f"Content-Length {raw[:40]!r} is not a number") from None
        if length > limit:
            raise _too_large(settings)
    elif environ.get("wsgi.input_terminated"):  # chunked (the server ends the stream): read past the limit
        length = limit + 1
    else:
        return b""
    parts, got = [], 0
    while got < length and stream is not None:
        part = stream.read(length - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    if got > limit:
        raise _too_large(settings)
    if raw and got < length:
        raise codecs.HttpError(400, f"the request body ended after {got} of {length} bytes")
    return b"".join(parts)


def _too_large(settings: Settings) -> codecs.HttpError:
    return codecs.HttpError(413, f"request body is larger than {settings.max_payload_mb} MB")
