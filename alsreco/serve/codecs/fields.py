"""One request object's fields -> `Request`, with a message naming any bad field."""
from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable, Sequence

from ...core.filters import FilterError, parse, spec_of
from ...core.hyperparameters import BLEND_MAX
from ...core.rules import Promotion, Request

MAX_IDS = 10_000  # per id list
MAX_K = 1000
MAX_FIELDS = 100
RULE_FIELDS = ("k", "exclude_purchased", "exclude_popular", "include_new",
               "exclude_items", "include_items", "candidates", "trending", "blend", "filter", "filter_values",
               "promotion", "exploration_weight", "exploration_item_age_days", "seed", "fields")
SINGLE_FIELDS = ("customer_id", "items") + RULE_FIELDS  # a customer's request object
ITEM_FIELDS = ("item_id",) + RULE_FIELDS  # similar products (exclude_purchased is accepted, and has no effect)
OBJECT_FIELDS = SINGLE_FIELDS + ("item_id",)  # what one request object may hold
MULTI_FIELDS = ("customer_ids",) + RULE_FIELDS
MULTI_ITEM_FIELDS = ("item_ids",) + RULE_FIELDS


class FieldError(ValueError):
    """A bad field; becomes a 400 (JSON) or an error record (JSON Lines / CSV line)."""


def parse_single(doc: Any, where: str, need_customer: bool = True, csv_k: bool = False) -> Request:
    """One request object (or a bare customer id) -> Request; FieldError names the field.
    An object with `item_id` asks for the products most similar to that product."""
    if isinstance(doc, (str, int, float)) and not isinstance(doc, bool):
        doc = {"customer_id": doc}
    if not isinstance(doc, dict):
        raise FieldError(f"{where or 'request'} must be an object or a customer id, not {kind_of(doc)}")
    check_fields(doc, ITEM_FIELDS if doc.get("item_id") is not None else OBJECT_FIELDS, where)
    at = (where + ".") if where else ""
    cid = doc.get("customer_id")
    item = doc.get("item_id")
    items = parse_ids(doc.get("items"), at + "items")
    trending = bool(_bool(doc.get("trending"), at + "trending"))
    if trending and item is not None:
        raise FieldError(f"{at}trending asks for a Trending-Now list: it does not go with item_id")
    need_customer = need_customer and not trending  # a Trending-Now list needs no customer
    if cid is None and item is None and need_customer and doc.get("items") is None:
        # `"items": []` is an anonymous visit with nothing in it yet: best sellers
        raise FieldError(f"{at}customer_id is required (or give items for an anonymous basket, "
                         "or item_id for similar products)")
    candidates = doc.get("candidates")
    return Request(
        customer_id=None if cid is None else parse_id(cid, at + "customer_id", customer=True),
        k=_int(doc.get("k"), at + "k", 1, MAX_K, text=csv_k),
        items=items,
        exclude_purchased=_bool(doc.get("exclude_purchased"), at + "exclude_purchased"),
        exclude_popular=_int(doc.get("exclude_popular"), at + "exclude_popular", 0, 10**6),
        include_new=_int(doc.get("include_new"), at + "include_new", 0, MAX_K),
        exclude_items=parse_ids(doc.get("exclude_items"), at + "exclude_items"),
        include_items=parse_ids(doc.get("include_items"), at + "include_items"),
        candidates=None if candidates is None else parse_ids(candidates, at + "candidates"),
        item_id=None if item is None else parse_id(item, at + "item_id"),
        trending=trending,
        blend=_number(doc.get("blend"), at + "blend", 0.0, BLEND_MAX),
        filters=_filters(doc.get("filter"), doc.get("filter_values"), at + "filter"),
        promotion=_promotion(doc.get("promotion"), at + "promotion"),
        exploration_weight=_fraction(doc.get("exploration_weight"), at + "exploration_weight"),
        exploration_item_age_days=_int(doc.get("exploration_item_age_days"), at + "exploration_item_age_days",
                                       0, 36500),
        seed=_int(doc.get("seed"), at + "seed", 0, 2**63 - 1),
        fields=_names(doc.get("fields"), at + "fields"),
    )


def _filters(filters: Any, values: Any, field: str):
    """`filter` (+ `filter_values`) as a Spec, its syntax checked (names and types: by the model)."""
    try:
        spec = spec_of(filters, values)
        for text in spec.texts if spec is not None else ():
            if " " in text.strip():
                parse(text)
        return spec
    except FilterError as exc:
        raise FieldError(f"{field}: {exc}") from None


def _promotion(doc: Any, field: str) -> Promotion | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise FieldError(f"{field} must be an object {{\"filter\": ..., \"filter_values\": ..., \"share\": 0.2}}")
    check_fields(doc, ("filter", "filter_values", "share"), field)
    if doc.get("filter") is None:
        raise FieldError(f"{field}.filter is required: the products to promote")
    share = _fraction(doc.get("share"), field + ".share")
    spec = _filters(doc.get("filter"), doc.get("filter_values"), field + ".filter")
    return Promotion(spec, 0.2 if share is None else share)  # type: ignore[arg-type]


def _fraction(v: Any, field: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and 0 <= v <= 1):
        raise FieldError(f"{field} must be a number between 0 and 1, got {json.dumps(v)[:40]}")
    return float(v)


def _names(v: Any, field: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise FieldError(f"{field} must be a list of attribute names")
    if len(v) > MAX_FIELDS:
        raise FieldError(f"{field} holds {len(v)} names; at most {MAX_FIELDS}")
    return tuple(dict.fromkeys(v))


def check_fields(doc: dict, allowed: Sequence[str], where: str) -> None:
    extra = [k for k in doc if k not in allowed]
    if extra and ("item_id" in allowed or "item_ids" in allowed) and set(extra) & {"customer_id", "items"}:
        at = (where + ".") if where else ""
        raise FieldError(f"{at}{'item_id' if 'item_id' in allowed else 'item_ids'} asks for products similar to "
                         f"a product: it does not go with {names(set(extra) & {'customer_id', 'items'})} "
                         "(send one request per customer or item)")
    if extra:
        raise FieldError(f"unknown field(s) {names(extra)} in {where or 'request'}; "
                         f"expected {', '.join(allowed)}")


def parse_id(v: Any, field: str, customer: bool = False) -> str:
    """17850, 17850.0, "17850" and (customers only) "17850.0" all become "17850"."""
    if isinstance(v, bool) or v is None or isinstance(v, (dict, list)):
        raise FieldError(f"{field} must be a string or a number, not {kind_of(v)}")
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


def parse_ids(v: Any, field: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise FieldError(f"{field} must be a list of product ids, not {kind_of(v)}")
    if len(v) > MAX_IDS:
        raise FieldError(f"{field} holds {len(v)} ids; at most {MAX_IDS}")
    return tuple(parse_id(x, f"{field}[{i}]") for i, x in enumerate(v))


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


def _number(v: Any, field: str, lo: float, hi: float) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and lo <= v <= hi):
        raise FieldError(f"{field} must be a number between {lo:g} and {hi:g}, got {json.dumps(v)[:40]}")
    return float(v)


def _bool(v: Any, field: str) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise FieldError(f"{field} must be true or false, got {json.dumps(v)[:40]}")


def kind_of(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(v), "a number")


def names(keys: Iterable[str], limit: int = 10) -> str:
    """Up to `limit` keys, each cut to 40 characters: an error message never echoes a whole body."""
    keys = sorted(keys)
    shown = ", ".join(repr(k[:40] + "..." if len(k) > 40 else k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
