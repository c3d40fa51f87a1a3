"""The Flask app: /ping, /invocations (+ /endpoints/<name>/invocations), /execution-parameters
and the OpenAPI document. Built by `create_app()`, which loads the model once."""
from __future__ import annotations

import json
import logging
import threading
import time
from importlib import resources
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from . import codecs
from .artifact import load_model
from .errors import ModelError
from .paths import Paths
from .recommender import Recommender, Request
from .server import MIN_PAYLOAD_MB, Settings

log = logging.getLogger("alsreco.serve")


class ModelHolder:
    """The recommender, or why there is none. Without a model, `get()` retries the load at
    most once per `retry_seconds`, so a model that appears later is picked up."""

    def __init__(self, model_dir: Path, retry_seconds: float = 1.0):
        self.model_dir = Path(model_dir)
        self.retry_seconds = retry_seconds
        self.recommender: Recommender | None = None
        self.reason = "model not loaded yet"
        self._last_try = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> Recommender | None:
        if self.recommender is None and time.monotonic() - self._last_try >= self.retry_seconds:
            with self._lock:
                if self.recommender is None:
                    self.load()
        return self.recommender

    def load(self) -> None:
        self._last_try = time.monotonic()
        try:
            self.recommender = Recommender(load_model(self.model_dir, mmap=True))
            log.info("loaded model %s from %s", self.recommender.version, self.model_dir)
        except ModelError as exc:
            self.reason = str(exc)
            log.warning("no model: %s", exc)


def create_app(model_dir: Path | str | None = None, settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    holder = ModelHolder(Path(model_dir) if model_dir is not None else Paths.from_env().model_dir)
    holder.load()
    openapi = resources.files("alsreco").joinpath("openapi.yaml").read_text(encoding="utf-8")

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["alsreco.model"] = holder

    def error(status: int, message: str) -> Response:
        return Response(json.dumps({"error": message, "status": status}), status=status,
                        mimetype="application/json")

    @app.errorhandler(codecs.HttpError)
    def http_error(exc: codecs.HttpError) -> Response:
        return error(exc.status, str(exc))

    @app.errorhandler(HTTPException)
    def werkzeug_error(exc: HTTPException) -> Response:
        if exc.code == 413:
            return error(413, f"request body is larger than {settings.max_payload_mb} MB")
        return error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error(500, f"internal error: {type(exc).__name__}")

    @app.get("/ping")
    def ping() -> Response:
        rec = holder.get()
        if rec is None:
            return error(503, holder.reason)
        return Response(json.dumps({"status": "ok", "model_version": rec.version}), mimetype="application/json")

    @app.get("/execution-parameters")
    def execution_parameters() -> Response:
        body = {"MaxConcurrentTransforms": settings.workers, "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": MIN_PAYLOAD_MB}
        return Response(json.dumps(body), mimetype="application/json")

    @app.post("/invocations")
    @app.post("/endpoints/<name>/invocations")
    def invocations(name: str | None = None) -> Response:
        kind = codecs.content_type(request.mimetype)
        out = codecs.accept_type(request.accept_mimetypes if request.headers.get("Accept") else None, kind)
        rec = holder.get()
        if rec is None:
            raise codecs.HttpError(503, holder.reason)
        records = codecs.decode(request.get_data(cache=False), kind)
        predictions = iter(rec.recommend_many([r for r in records if isinstance(r, Request)]))
        results = [r if isinstance(r, codecs.RecordError) else next(predictions) for r in records]
        body = codecs.encode(results, out, rec.version)
        return Response(body, mimetype=out, headers={"X-Model-Version": rec.version})

    @app.get("/openapi.yaml")
    def openapi_yaml() -> Response:
        return Response(openapi, mimetype="application/yaml")

    @app.get("/openapi.json")
    def openapi_json() -> Response:
        try:
            import yaml  # optional: PyYAML is not a runtime dependency
        except ImportError:
            return error(404, "openapi.json needs PyYAML; GET /openapi.yaml instead")
        return Response(json.dumps(yaml.safe_load(openapi)), mimetype="application/json")

    return app
