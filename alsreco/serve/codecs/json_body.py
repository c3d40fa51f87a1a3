"""application/json: one document — a request object, `customer_ids` (or `item_ids`) + shared rules,
a list, or SageMaker's `{"instances": [...]}` envelope. Any bad field makes the whole request a 400."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Iterator, Sequence

from ...core.rules import Prediction
from .base import HttpError, Limits, Record, RecordError
from .fields import (
    MULTI_FIELDS,
    MULTI_ITEM_FIELDS,
    FieldError,
    check_fields,
    names,
    parse_id,
    parse_single,
)


class DuplicateKey(ValueError):
    """An object names one key twice: which value was meant is anyone's guess (RFC 8259 leaves it open)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise DuplicateKey(f"field {dup!r} is given more than once in one object; send each field once")
    return doc


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def loads(text: str) -> Any:
    """json.loads that refuses duplicate keys (DuplicateKey, a ValueError)."""
    return _DECODER.decode(text)


def decode(text: str, limits: Limits) -> list[Record]:
    try:
        doc = loads(text)
    except DuplicateKey as exc:
        raise HttpError(400, str(exc)) from None
    except ValueError as exc:
        raise HttpError(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HttpError(400, "body is not valid JSON: nested too deeply") from None
    try:
        if isinstance(doc, dict) and "instances" in doc:
            if set(doc) != {"instances"}:
                raise FieldError(f"unknown field(s) next to 'instances': {names(set(doc) - {'instances'})}")
            return _instances(doc["instances"], "instances", limits)
        if isinstance(doc, list):
            return _instances(doc, "body", limits)
        if isinstance(doc, dict) and "customer_ids" in doc and "item_ids" in doc:
            raise FieldError("send customer_ids or item_ids, not both (one request per kind)")
        if isinstance(doc, dict) and "customer_ids" in doc:
            return _multi(doc, limits)
        if isinstance(doc, dict) and "item_ids" in doc:
            return _multi(doc, limits, field="item_ids")
        return [parse_single(doc, "")]
    except FieldError as exc:
        raise HttpError(400, str(exc)) from None


def _instances(value: Any, where: str, limits: Limits) -> list[Record]:
    if not isinstance(value, list):
        raise FieldError(f"{where} must be a list of request objects or customer ids")
    limits.check_count(len(value))
    return [parse_single(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _multi(doc: dict, limits: Limits, field: str = "customer_ids") -> list[Record]:
    """`customer_ids` (or `item_ids`) + rules shared by all: one request per id, in order."""
    customers = field == "customer_ids"
    check_fields(doc, MULTI_FIELDS if customers else MULTI_ITEM_FIELDS, "")
    ids = doc[field]
    if not isinstance(ids, list):
        raise FieldError(f"{field} must be a list of {'customer' if customers else 'product'} ids")
    limits.check_count(len(ids))
    shared = parse_single({k: v for k, v in doc.items() if k != field}, "", need_customer=False)
    if shared.trending and not customers:
        raise FieldError("trending asks for a Trending-Now list: it does not go with item_ids")
    if customers:
        return [dataclasses.replace(shared, customer_id=parse_id(v, f"{field}[{i}]", customer=True))
                for i, v in enumerate(ids)]
    return [dataclasses.replace(shared, item_id=parse_id(v, f"{field}[{i}]")) for i, v in enumerate(ids)]


def prediction_dict(p: Prediction) -> dict[str, Any]:
    """A customer's list carries `customer_id`, a similar-products list `item_id` instead; both carry
    `known` and `recommendation_id` (unique per list)."""
    recs = []
    for r in p.recommendations:
        d: dict[str, Any] = {"product_id": r.product_id, "score": r.score, "reason": r.reason}
        if r.name:
            d["name"] = r.name
        if r.attributes is not None:
            d["attributes"] = r.attributes
        recs.append(d)
    out: dict[str, Any] = {"item_id": p.item_id} if p.item_id is not None else {"customer_id": p.customer_id}
    out.update(known=p.known, recommendation_id=p.recommendation_id, recommendations=recs)
    if p.unknown_items:
        out["unknown_items"] = p.unknown_items
    return out


def result_dict(r: Prediction | RecordError) -> dict[str, Any]:
    return {"error": r.message} if isinstance(r, RecordError) else prediction_dict(r)


def stream(chunks: Iterable[Sequence[Prediction | RecordError]], model_version: str) -> Iterator[str]:
    """The same document as json.dumps({"model_version": ..., "predictions": [...]}), chunk by chunk."""
    yield '{"model_version": ' + json.dumps(model_version) + ', "predictions": ['
    sep = ""
    for chunk in chunks:
        if chunk:
            yield sep + ", ".join(json.dumps(result_dict(r)) for r in chunk)
            sep = ", "
    yield "]}"
