"""The app factory: `create_app()` loads the model once (or, on a multi-model endpoint, prepares the
registry of loaded models) and puts the protocol routes (serve/wsgi.py) in front of the Flask app."""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
import weakref
from importlib import resources
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from ..core.artifact import load_model
from ..core.errors import ModelError
from ..core.recommender import Recommender
from ..core.settings import Settings
from . import codecs
from .models import api as models_api
from .models.cache import ModelCache
from .models.registry import MIB, Budget, Registry
from .routes import bp
from .wsgi import Protocol, error_body

log = logging.getLogger("alsreco.serve")


class ModelHolder:
    """The recommender, or why there is none. Loaded once (in the gunicorn master, before the
    workers fork); a model that appears later is picked up by the supervisor restarting gunicorn
    (see `watch`), so all workers always serve one version."""

    def __init__(self, model_dir: Path):
        self.model_dir = Path(model_dir)
        self.recommender: Recommender | None = None
        self.reason = "model not loaded yet"

    def get(self) -> Recommender | None:
        return self.recommender

    def load(self) -> None:
        started = time.monotonic()
        try:
            self.recommender = Recommender(load_model(self.model_dir, mmap=True))
            log.info("loaded model %s from %s in %.2fs: %d customers, %d products, rank %d", self.recommender.version,
                     self.model_dir, time.monotonic() - started, len(self.recommender.customer_index),
                     len(self.recommender.product_ids), self.recommender.model.rank)
        except ModelError as exc:
            self.reason = str(exc)
            log.warning("no model: %s", exc)


def error_response(status: int, message: str, model_version: str = "") -> Response:
    headers = {"X-Model-Version": model_version} if model_version else None
    return Response(error_body(status, message), status=status, mimetype="application/json", headers=headers)


def create_app(model_dir: Path | str | None = None, settings: Settings | None = None,
               state_dir: Path | None = None) -> Flask:
    """The app for `settings`: one model from `model_dir` (default: the base dir's model/), or, with
    `settings.multi_model`, the models SageMaker loads, registered in `state_dir` (shared by all
    workers; a temporary directory of this app when None)."""
    settings = settings or Settings()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["alsreco.settings"] = settings
    app.extensions["alsreco.openapi"] = resources.files("alsreco.serve").joinpath("openapi.yaml").read_text(
        encoding="utf-8")
    app.register_blueprint(bp)
    holder, models = None, None
    if settings.multi_model:
        models = _multi_model(app, settings, state_dir)
    else:
        holder = ModelHolder(Path(model_dir) if model_dir is not None else settings.base_dir / "model")
        holder.load()
    app.extensions["alsreco.model"] = holder

    def version() -> str:
        return holder.recommender.version if holder is not None and holder.recommender is not None else ""

    @app.errorhandler(codecs.HttpError)
    def http_error(exc: codecs.HttpError) -> Response:
        return error_response(exc.status, str(exc), version())

    @app.errorhandler(HTTPException)
    def werkzeug_error(exc: HTTPException) -> Response:
        if exc.code == 413:
            return error_response(413, f"request body is larger than {settings.max_payload_mb} MB", version())
        return error_response(exc.code or 500, exc.description or exc.name, version())

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, f"internal error: {type(exc).__name__}", version())

    @app.before_request
    def started() -> None:
        request.environ["alsreco.started"] = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        started = request.environ.get("alsreco.started", time.perf_counter())
        Protocol.log(request.method, request.path, response.status_code, started, 0, None)
        return response

    app.wsgi_app = Protocol(app.wsgi_app, settings, holder=holder, models=models)  # type: ignore[method-assign]
    return app


def _multi_model(app: Flask, settings: Settings, state_dir: Path | None) -> ModelCache:
    if state_dir is None:
        state_dir = Path(tempfile.mkdtemp(prefix="alsreco-models-"))
        weakref.finalize(app, shutil.rmtree, state_dir, ignore_errors=True)
    registry = Registry(state_dir, Budget.of(settings))
    models = ModelCache(registry)
    app.extensions["alsreco.registry"] = registry
    app.extensions["alsreco.models"] = models
    app.register_blueprint(models_api.bp)
    b = registry.budget
    log.info("multi-model endpoint: %.0f MB for models: their files, and what these leave split between %d "
             "workers for the models each serves", b.total / MIB, b.workers)
    return models
