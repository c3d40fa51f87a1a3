"""SageMaker's multi-model management API (its "Custom Containers Contract for Multi-Model Endpoints"):

    POST   /models              {"model_name": ..., "url": ...}: load; 409 if loaded, 507 if it does not fit
    GET    /models              {"models": [{"modelName", "modelUrl"}, ...], "nextPageToken"?}; pages
                                continue with ?next_page_token=<the token>
    GET    /models/<name>       {"modelName", "modelUrl"}; 404 if not loaded
    DELETE /models/<name>       unload; 404 if not loaded

POST /models/<name>/invoke is a protocol route (serve/wsgi.py). Only registered with SAGEMAKER_MULTI_MODEL.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, request

from ..codecs import HttpError
from .loading import load

log = logging.getLogger("alsreco.serve")
bp = Blueprint("alsreco_models", __name__)
PAGE_SIZE = 100  # models per GET /models page
MAX_NAME = 1024


def _registry():
    return current_app.extensions["alsreco.registry"]


def _cache():
    return current_app.extensions["alsreco.models"]


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@bp.post("/models")
def load_model() -> Response:
    try:
        doc = json.loads(request.get_data(cache=False) or b"null")
    except ValueError as exc:
        raise HttpError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("model_name"), str) or not isinstance(doc.get("url"), str):
        raise HttpError(400, 'send {"model_name": "<name>", "url": "<directory of the extracted model>"}')
    name, url = doc["model_name"], doc["url"]
    if not 0 < len(name) <= MAX_NAME or "\x00" in name:
        raise HttpError(400, f"model_name must be 1-{MAX_NAME} characters without NUL")
    entry, rec = load(_registry(), name, url)
    _cache().put(name, rec, entry.private_bytes)
    return _json({"status": "loaded", **entry.describe()})


@bp.get("/models")
def list_models() -> Response:
    try:
        page, token = _registry().page(request.args.get("next_page_token"), PAGE_SIZE)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    body: dict = {"models": [e.describe() for e in page]}
    if token is not None:
        body["nextPageToken"] = token
    return _json(body)


@bp.get("/models/<path:name>")
def get_model(name: str) -> Response:
    entry = _registry().get(name)
    if entry is None:
        raise HttpError(404, f"model {name[:200]!r} is not loaded")
    return _json(entry.describe())


@bp.delete("/models/<path:name>")
def unload_model(name: str) -> Response:
    if not _registry().remove(name):
        raise HttpError(404, f"model {name[:200]!r} is not loaded")
    _cache().drop(name)
    log.info("unloaded model %r", name[:200])
    return _json({"status": "unloaded", "modelName": name})
