"""Request bodies -> `Request`s and `Prediction`s -> response bodies, one module per content type,
chosen through the DECODERS / ENCODERS tables.

Content types: application/json (one document), application/jsonlines (one request per line; a bad
line becomes an error record at its position) and text/csv (one customer id per line, optional
second column k, optional header `customer_id[,k]`). A JSON / JSON Lines request object with
`item_id` (or a JSON document with `item_ids`) asks for similar products; its prediction carries
`item_id` instead of `customer_id`. Every prediction carries a `recommendation_id` (a CSV column).
Every client mistake raises `HttpError` with a 4xx status and a message naming what is wrong.

Text bodies never end with a newline: batch transform's `AssembleWith=Line` adds one after every
response, so the assembled output has exactly one line per input line.
"""
from __future__ import annotations

import codecs
from typing import Any, Callable, Iterable, Iterator, Sequence

from werkzeug.datastructures import MIMEAccept

from ...core.rules import Prediction
from . import csv_body, json_body, jsonl_body
from .base import CSV, JSON, JSONL, HttpError, Limits, Record, RecordError

__all__ = ["CSV", "JSON", "JSONL", "HttpError", "Limits", "Record", "RecordError", "accept_type", "check",
           "content_type", "decode", "encode", "stream"]

ALIASES = {
    "application/json": JSON, "text/json": JSON,
    "application/jsonlines": JSONL, "application/x-jsonlines": JSONL, "application/jsonl": JSONL,
    "application/x-ndjson": JSONL, "application/ndjson": JSONL,
    "text/csv": CSV, "application/csv": CSV, "text/x-csv": CSV,
}
DECODERS: dict[str, Callable[[str, Limits], list[Record]]] = {
    JSON: json_body.decode, JSONL: jsonl_body.decode, CSV: csv_body.decode}
Result = Prediction | RecordError
STREAMERS: dict[str, Callable[[Iterable[Sequence[Result]], str], Iterator[str]]] = {
    JSON: json_body.stream, JSONL: jsonl_body.stream, CSV: csv_body.stream}
CHECKS: dict[str, Callable[[Sequence[Result]], None]] = {CSV: csv_body.check}
GZIP_MAGIC = b"\x1f\x8b"


def content_type(mimetype: str | None) -> str:
    kind = ALIASES.get((mimetype or "").strip().lower())
    if kind is None:
        shown = f"'{mimetype}'" if mimetype else "missing"
        raise HttpError(415, f"Content-Type {shown} is not supported; use {JSON}, {JSONL} or {CSV}")
    return kind


def accept_type(accept: Any, request_type: str) -> str:
    """`accept` is werkzeug's MIMEAccept (or None). */* or no header -> the request's type."""
    if accept is None or not str(accept).strip():
        return request_type
    # Media-type parameters (`application/json; charset=utf-8`) do not change what we produce:
    # match on the type alone, keep the quality.
    accept = MIMEAccept([(value.split(";", 1)[0].strip(), q) for value, q in accept])
    canonical = (JSON, JSONL, CSV)
    offers = [request_type] + [t for t in canonical if t != request_type] + [a for a in ALIASES if a not in canonical]
    best = accept.best_match(offers)
    if best is None:
        raise HttpError(406, f"cannot produce any of Accept '{accept}'; use {JSON}, {JSONL} or {CSV}")
    return ALIASES[best]


def decode(body: bytes, kind: str, limits: Limits | None = None, charset: str | None = None) -> list[Record]:
    """`charset` is the request's declared Content-Type charset (UTF-8 when absent)."""
    return DECODERS[kind](_text(body, charset), limits or Limits())


def check(results: Sequence[Result], kind: str) -> None:
    """Raise the HttpError a response of type `kind` would need for these records (before streaming)."""
    if kind in CHECKS:
        CHECKS[kind](results)


def stream(chunks: Iterable[Sequence[Result]], kind: str, model_version: str) -> Iterator[str]:
    """Results in request order, chunk by chunk -> body text of type `kind`, piece by piece."""
    return STREAMERS[kind](chunks, model_version)


def encode(results: Sequence[Result], kind: str, model_version: str) -> str:
    """Results in request order -> body text of type `kind`."""
    check(results, kind)
    return "".join(stream([results], kind, model_version))


def _text(body: bytes, charset: str | None = None) -> str:
    name = (charset or "utf-8").strip().strip('"').lower()
    try:
        codecs.lookup(name)
    except LookupError:
        raise HttpError(415, f"Content-Type charset '{charset}' is not supported; send UTF-8") from None
    try:
        text = body.decode("utf-8-sig" if name.replace("_", "-") in ("utf-8", "utf8") else name)
    except UnicodeDecodeError as exc:
        if body[:2] == GZIP_MAGIC:
            raise HttpError(415, "body is gzip-compressed; Content-Encoding is not supported: send it "
                                 "uncompressed") from None
        raise HttpError(400, f"body is not valid {name} text (byte {exc.start})") from None
    except LookupError:  # a codec that is not a text encoding: rot13, hex, base64, zlib ...
        raise HttpError(415, f"Content-Type charset '{charset}' is not a text encoding; send UTF-8") from None
    except UnicodeError as exc:  # codecs that fail without a position: punycode, undefined ...
        raise HttpError(400, f"body is not valid {name} text ({exc})") from None
    text = text.removeprefix("\ufeff")  # a byte order mark of the declared charset (UTF-16, UTF-32)
    if not text.strip():
        raise HttpError(400, "body is empty")
    return text
