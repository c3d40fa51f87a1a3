"""The endpoints: /ping, /invocations (+ /endpoints/<name>/invocations for boto3 against a local
server), /execution-parameters and the OpenAPI document."""
from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, request, stream_with_context

from ..core.filters import FilterError
from ..core.rules import Request
from . import codecs

bp = Blueprint("alsreco", __name__)
CHUNK_RESULTS = 20_000  # recommendations scored and encoded at a time


def _ext(name: str):
    return current_app.extensions[f"alsreco.{name}"]


@bp.get("/ping")
def ping() -> Response:
    holder = _ext("model")
    rec = holder.get()
    if rec is None:
        return Response(json.dumps({"error": holder.reason, "status": 503}), status=503,
                        mimetype="application/json")
    return Response(json.dumps({"status": "ok", "model_version": rec.version}), mimetype="application/json")


@bp.get("/execution-parameters")
def execution_parameters() -> Response:
    settings = _ext("settings")
    body = {"MaxConcurrentTransforms": settings.workers, "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": settings.max_payload_mb}
    return Response(json.dumps(body), mimetype="application/json")


@bp.post("/invocations")
@bp.post("/endpoints/<name>/invocations")
def invocations(name: str | None = None) -> Response:
    holder, settings = _ext("model"), _ext("settings")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise codecs.HttpError(415, f"Content-Encoding '{encoding}' is not supported; send the body uncompressed")
    kind = codecs.content_type(request.mimetype)
    out = codecs.accept_type(request.accept_mimetypes if request.headers.get("Accept") else None, kind)
    rec = holder.get()
    if rec is None:
        raise codecs.HttpError(503, holder.reason)
    limits = codecs.Limits.for_batch() if settings.batch else codecs.Limits()
    records = codecs.decode(request.get_data(cache=False), kind, limits, request.mimetype_params.get("charset"))
    records = _checked(rec, records, kind)
    limits.check_results(records, rec.default_k)
    codecs.check(records, out)
    g.customers = len(records)
    chunks = list(_chunks(records, rec.default_k))
    headers = {"X-Model-Version": rec.version}
    if len(chunks) <= 1:  # the usual case: one block, one body with a Content-Length
        return Response(codecs.encode(_results(rec, records), out, rec.version), mimetype=out, headers=headers)
    # Large batches: score and encode chunk by chunk, so memory stays bounded by the chunk size.
    body = codecs.stream((_results(rec, c) for c in chunks), out, rec.version)
    return Response(stream_with_context(body), mimetype=out, headers=headers)


def _checked(rec, records: list, kind: str) -> list:
    """What only the model can check (filters against its catalogue, fields): a 400 for a JSON
    document, an error record in place for a line of JSON Lines / CSV."""
    out = []
    for n, r in enumerate(records, 1):
        if isinstance(r, Request) and (r.filters is not None or r.promotion is not None or r.fields):
            try:
                rec.check(r)
            except FilterError as exc:
                if kind == codecs.JSON:
                    raise codecs.HttpError(400, str(exc)) from None
                r = codecs.RecordError(f"line {n}: {exc}")
        out.append(r)
    return out


def _chunks(records: list, default_k: int, budget: int = CHUNK_RESULTS):
    """Consecutive runs of records asking for at most `budget` recommendations together."""
    chunk: list = []
    cells = 0
    for r in records:
        k = default_k if isinstance(r, codecs.RecordError) or r.k is None else r.k
        if chunk and cells + k > budget:
            yield chunk
            chunk, cells = [], 0
        chunk.append(r)
        cells += k
    if chunk:
        yield chunk


def _results(rec, records: list) -> list:
    predictions = iter(rec.recommend_many([r for r in records if isinstance(r, Request)]))
    return [r if isinstance(r, codecs.RecordError) else next(predictions) for r in records]


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
