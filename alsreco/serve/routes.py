"""The Flask routes: the OpenAPI document. The protocol routes (/ping, /invocations,
/execution-parameters, ...) are served in front of Flask by serve/wsgi.py."""
from __future__ import annotations

import json

from flask import Blueprint, Response, current_app

bp = Blueprint("alsreco", __name__)


def _ext(name: str):
    return current_app.extensions[f"alsreco.{name}"]


@bp.get("/openapi.yaml")
def openapi_yaml() -> Response:
    return Response(_ext("openapi"), mimetype="application/yaml")


@bp.get("/openapi.json")
def openapi_json() -> Response:
    try:
        import yaml  # optional: PyYAML is not a runtime dependency
    except ImportError:
        return Response(json.dumps({"error": "openapi.json needs PyYAML; GET /openapi.yaml instead",
                                    "status": 404}), status=404, mimetype="application/json")
    return Response(json.dumps(yaml.safe_load(_ext("openapi"))), mimetype="application/json")
