"""Request bodies -> `Request`s and `Prediction`s -> response bodies, per content type.

Content types: application/json (one document), application/jsonlines (one request per
line; a bad line becomes an error record at its position) and text/csv (one customer id
per line, optional second column k, optional header `customer_id[,k]`). Every client
mistake raises `HttpError` with a 4xx status and a message naming what is wrong.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .errors import AlsrecoError
from .recommender import Prediction, Request

JSON, JSONL, CSV = "application/json", "application/jsonlines", "text/csv"
ALIASES = {
    "application/json": JSON, "text/json": JSON,
    "application/jsonlines": JSONL, "application/x-jsonlines": JSONL, "application/jsonl": JSONL,
    "application/x-ndjson": JSONL, "application/ndjson": JSONL,
    "text/csv": CSV, "application/csv": CSV, "text/x-csv": CSV,
}
MAX_CUSTOMERS = 10_000  # per request
MAX_IDS = 10_000  # per id list
MAX_K = 1000
RULE_FIELDS = ("k", "exclude_purchased", "exclude_popular", "include_new",
               "exclude_items", "include_items", "candidates")
SINGLE_FIELDS = ("customer_id", "items") + RULE_FIELDS
MULTI_FIELDS = ("customer_ids",) + RULE_FIELDS
CSV_HEADER = ("customer_id", "rank", "product_id", "score", "reason")


class HttpError(AlsrecoError):
    """A request the server refuses; `status` is the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RecordError:
    """A line of a JSON Lines / CSV body that could not be parsed."""

    message: str


Record = Request | RecordError


# ----------------------------------------------------------------- negotiation
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
    canonical = (JSON, JSONL, CSV)
    offers = [request_type] + [t for t in canonical if t != request_type] + [a for a in ALIASES if a not in canonical]
    best = accept.best_match(offers)
    if best is None:
        raise HttpError(406, f"cannot produce any of Accept '{accept}'; use {JSON}, {JSONL} or {CSV}")
    return ALIASES[best]


# ----------------------------------------------------------------- decoding
def decode(body: bytes, kind: str) -> list[Record]:
    text = _text(body)
    if kind == JSON:
        return _decode_json(text)
    if kind == JSONL:
        return _decode_lines(text)
    return _decode_csv(text)


def _text(body: bytes) -> str:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HttpError(400, f"body is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise HttpError(400, "body is empty")
    return text


def _decode_json(text: str) -> list[Record]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise HttpError(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HttpError(400, "body is not valid JSON: nested too deeply") from None
    try:
        if isinstance(doc, dict) and "instances" in doc:
            if set(doc) != {"instances"}:
                raise FieldError(f"unknown field(s) next to 'instances': {_names(set(doc) - {'instances'})}")
            return _instances(doc["instances"], "instances")
        if isinstance(doc, list):
            return _instances(doc, "body")
        if isinstance(doc, dict) and "customer_ids" in doc:
            return _multi(doc)
        return [parse_single(doc, "")]
    except FieldError as exc:
        raise HttpError(400, str(exc)) from None


def _instances(value: Any, where: str) -> list[Record]:
    if not isinstance(value, list):
        raise FieldError(f"{where} must be a list of request objects or customer ids")
    _check_count(len(value))
    return [parse_single(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _multi(doc: dict) -> list[Record]:
    _check_fields(doc, MULTI_FIELDS, "")
    ids = doc["customer_ids"]
    if not isinstance(ids, list):
        raise FieldError("customer_ids must be a list of customer ids")
    _check_count(len(ids))
    shared = parse_single({k: v for k, v in doc.items() if k != "customer_ids"}, "", need_customer=False)
    return [dataclasses.replace(shared, customer_id=_id(v, f"customer_ids[{i}]", customer=True))
            for i, v in enumerate(ids)]


def _decode_lines(text: str) -> list[Record]:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    _check_count(len(lines))
    out: list[Record] = []
    for n, line in enumerate(lines, 1):
        try:
            if not line.strip():
                raise FieldError("empty line")
            try:
                doc = json.loads(line)
            except ValueError as exc:
                raise FieldError(f"not valid JSON: {exc}") from None
            except RecursionError:
                raise FieldError("not valid JSON: nested too deeply") from None
            out.append(parse_single(doc, ""))
        except FieldError as exc:
            out.append(RecordError(f"line {n}: {exc}"))
    return out


def _decode_csv(text: str) -> list[Record]:
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), 1) if any(c.strip() for c in row)]
    if rows and re.sub(r"[\s_]", "", rows[0][1][0]).lower() in ("customerid", "customer"):
        rows = rows[1:]
    _check_count(len(rows))
    out: list[Record] = []
    for n, row in rows:
        try:
            if len(row) > 2:
                raise FieldError(f"expected customer_id[,k], got {len(row)} columns")
            doc: dict[str, Any] = {"customer_id": row[0].strip()}
            if len(row) == 2 and row[1].strip():
                doc["k"] = row[1].strip()
            out.append(parse_single(doc, "", csv_k=True))
        except FieldError as exc:
            out.append(RecordError(f"line {n}: {exc}"))
    return out


# ----------------------------------------------------------------- fields
class FieldError(ValueError):
    """A bad field; becomes a 400 (JSON) or an error record (JSON Lines / CSV line)."""


def parse_single(doc: Any, where: str, need_customer: bool = True, csv_k: bool = False) -> Request:
    """One request object (or a bare customer id) -> Request; FieldError names the field."""
    if isinstance(doc, (str, int, float)) and not isinstance(doc, bool):
        doc = {"customer_id": doc}
    if not isinstance(doc, dict):
        raise FieldError(f"{where or 'request'} must be an object or a customer id, not {_kind(doc)}")
    _check_fields(doc, SINGLE_FIELDS, where)
    at = (where + ".") if where else ""
    cid = doc.get("customer_id")
    items = _ids(doc.get("items"), at + "items")
    if cid is None and need_customer and not items:
        raise FieldError(f"{at}customer_id is required (or give items for an anonymous basket)")
    candidates = doc.get("candidates")
    return Request(
        customer_id=None if cid is None else _id(cid, at + "customer_id", customer=True),
        k=_int(doc.get("k"), at + "k", 1, MAX_K, text=csv_k),
        items=items,
        exclude_purchased=_bool(doc.get("exclude_purchased"), at + "exclude_purchased"),
        exclude_popular=_int(doc.get("exclude_popular"), at + "exclude_popular", 0, 10**6),
        include_new=_int(doc.get("include_new"), at + "include_new", 0, MAX_K),
        exclude_items=_ids(doc.get("exclude_items"), at + "exclude_items"),
        include_items=_ids(doc.get("include_items"), at + "include_items"),
        candidates=None if candidates is None else _ids(candidates, at + "candidates"),
    )


def _check_fields(doc: dict, allowed: Sequence[str], where: str) -> None:
    extra = [k for k in doc if k not in allowed]
    if extra:
        raise FieldError(f"unknown field(s) {_names(extra)} in {where or 'request'}; "
                         f"expected {', '.join(allowed)}")


def _check_count(n: int) -> None:
    if n > MAX_CUSTOMERS:
        raise HttpError(413, f"too many customers in one request: {n} > {MAX_CUSTOMERS}; split the request")


def _id(v: Any, field: str, customer: bool = False) -> str:
    """17850, 17850.0, "17850" and (customers only) "17850.0" all become "17850"."""
    if isinstance(v, bool) or v is None or isinstance(v, (dict, list)):
        raise FieldError(f"{field} must be a string or a number, not {_kind(v)}")
    if isinstance(v, float):
        if not math.isfinite(v):
            raise FieldError(f"{field} must be a finite number")
        v = int(v) if v.is_integer() else v
    s = str(v).strip()
    if customer and re.fullmatch(r"\d+\.0+", s):
        s = s.split(".")[0]
    if not s:
        raise FieldError(f"{field} must not be empty")
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldError(f"{field} is not valid Unicode text (lone surrogate)") from None
    return s


def _ids(v: Any, field: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise FieldError(f"{field} must be a list of product ids, not {_kind(v)}")
    if len(v) > MAX_IDS:
        raise FieldError(f"{field} holds {len(v)} ids; at most {MAX_IDS}")
    return tuple(_id(x, f"{field}[{i}]") for i, x in enumerate(v))


def _int(v: Any, field: str, lo: int, hi: int, text: bool = False) -> int | None:
    if v is None:
        return None
    if text and isinstance(v, str) and re.fullmatch(r"[+-]?\d+", v.strip()):
        v = int(v)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise FieldError(f"{field} must be an integer between {lo} and {hi}, got {json.dumps(v)[:40]}")
    return v


def _bool(v: Any, field: str) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise FieldError(f"{field} must be true or false, got {json.dumps(v)[:40]}")


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(v), "a number")


def _names(keys: Iterable[str]) -> str:
    return ", ".join(repr(k) for k in sorted(keys))


# ----------------------------------------------------------------- encoding
def prediction_dict(p: Prediction) -> dict[str, Any]:
    recs = []
    for r in p.recommendations:
        d: dict[str, Any] = {"product_id": r.product_id, "score": r.score, "reason": r.reason}
        if r.name:
            d["name"] = r.name
        recs.append(d)
    out: dict[str, Any] = {"customer_id": p.customer_id, "known": p.known, "recommendations": recs}
    if p.unknown_items:
        out["unknown_items"] = p.unknown_items
    return out


def encode(results: Sequence[Prediction | RecordError], kind: str, model_version: str) -> str:
    """Results in request order -> body text of type `kind`."""
    if kind == JSON:
        preds = [{"error": r.message} if isinstance(r, RecordError) else prediction_dict(r) for r in results]
        return json.dumps({"model_version": model_version, "predictions": preds})
    if kind == JSONL:
        return "".join(json.dumps({"error": r.message} if isinstance(r, RecordError)
                                  else {**prediction_dict(r), "model_version": model_version}) + "\n"
                       for r in results)
    errors = [r.message for r in results if isinstance(r, RecordError)]
    if errors:
        raise HttpError(400, f"{len(errors)} bad record(s); CSV output cannot carry per-record errors "
                             f"(ask for {JSONL} to get them in place): " + "; ".join(errors[:5]))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for p in results:
        for rank, r in enumerate(p.recommendations, 1):  # type: ignore[union-attr]
            w.writerow((p.customer_id, rank, r.product_id, r.score, r.reason))  # type: ignore[union-attr]
    return buf.getvalue()
