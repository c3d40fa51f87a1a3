"""One prediction request, body bytes in, answer bytes out: what POST /invocations, /endpoints/<name>/invocations
and (multi-model endpoints) /models/<name>/invoke share. serve/wsgi.py calls it with the request's body and
headers; every client mistake is an `HttpError` with its status and a message naming what is wrong.

A real-time answer is one body: its size is estimated before scoring (413 over the endpoint type's
limit, serve/answer_size.py) and it is scored and encoded at once. Batch transform and asynchronous
inference (`Settings.bulk`) have no per-request customer cap and no size limit, so their answers are
scored and encoded CHUNK_RESULTS recommendations at a time and streamed (memory stays bounded)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable, Iterator

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header, parse_options_header

from ..core.filters import FilterError
from ..core.rules import Request
from ..core.settings import Settings
from . import answer_size, codecs, plain
from .codecs import arrays

CHUNK_RESULTS = 20_000  # recommendations scored and encoded at a time in a streamed answer


@dataclass
class Answer:
    body: bytes | Iterator[bytes]  # bytes: one body with a Content-Length; an iterator: streamed
    content_type: str  # the Content-Type header
    customers: int  # records in the request (the log line says it)


def answer(rec, body: bytes, content_type: str | None, accept: str | None, encoding: str | None,
           settings: Settings) -> Answer:
    """`rec` (a Recommender) answers `body`, sent with these Content-Type / Accept / Content-Encoding headers."""
    encoding = (encoding or "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise codecs.HttpError(415, f"Content-Encoding '{encoding}' is not supported; send the body uncompressed")
    mimetype, charset = _parse_content_type(content_type or "")
    kind = codecs.content_type(mimetype)
    out = _accept(accept or "", kind)
    limits = codecs.Limits.for_batch() if settings.bulk else codecs.Limits()
    records = _checked(rec, codecs.decode(body, kind, limits, charset), kind)
    limits.check_results(records, rec.default_k)
    codecs.check(records, out)
    limit = settings.max_response_bytes
    answer_size.check(rec, records, out, limit, settings.endpoint_type)  # before any scoring
    header = response_type(out)
    if settings.bulk:
        chunks = list(_chunks(records, rec.default_k))
        if len(chunks) > 1:  # score and encode chunk by chunk: memory bounded by the chunk size
            pieces = arrays.stream((_results(rec, c) for c in chunks), out, rec.version, rec)
            return Answer((p.encode() for p in pieces), header, len(records))
    text = arrays.encode(_results(rec, records), out, rec.version, rec).encode()
    answer_size.check_body(text, limit, settings.endpoint_type)
    return Answer(text, header, len(records))


def response_type(mimetype: str) -> str:
    """The Content-Type header for `mimetype` (text types say their charset, as werkzeug does)."""
    return mimetype + "; charset=utf-8" if mimetype.startswith("text/") else mimetype


@functools.lru_cache(maxsize=256)
def _parse_content_type(header: str) -> tuple[str, str | None]:
    """(mimetype, charset) of a Content-Type header, parsed once per distinct header (the same parse as
    werkzeug's `request.mimetype` / `mimetype_params`)."""
    value, params = parse_options_header(header)
    return value.lower(), params.get("charset")


def _accept(header: str, kind: str) -> str:
    if not header.strip():
        return kind
    return _accept_cached(header, kind)


@functools.lru_cache(maxsize=256)
def _accept_cached(header: str, kind: str) -> str:
    return codecs.accept_type(parse_accept_header(header, MIMEAccept), kind)


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


def _chunks(records: list, default_k: int, budget: int = CHUNK_RESULTS) -> Iterable[list]:
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
    predictions = iter(plain.recommend(rec, [r for r in records if isinstance(r, Request)]))
    return [r if isinstance(r, codecs.RecordError) else next(predictions) for r in records]
