"""How large an answer will be, estimated from the request before anything is scored.

SageMaker's InvokeEndpoint passes back at most 6 MB (serverless: 4 MB); a bigger body reaches the
caller as an opaque `ModelError` after all the work was done. So a real-time request whose answer
would be larger than `Settings.max_response_bytes` is refused with a 413 up front, naming the limit
and the ways out (batch transform, asynchronous inference). The estimate uses the model's mean
product id / name lengths and each record's k; the encoded body is checked again afterwards, so an
answer over the limit never leaves even when the estimate was short (non-ASCII names, long ids).
"""
from __future__ import annotations

import weakref
from typing import Sequence

import numpy as np

from . import codecs

MIB = 1024 * 1024
# Fixed bytes per recommendation and per list, by output type (keys, punctuation, score, reason,
# the 32-hex recommendation_id), measured from encoded answers (tests/unit/test_answer_size.py).
PER_RECOMMENDATION = {codecs.JSON: 58, codecs.JSONL: 58, codecs.CSV: 52}
PER_LIST = {codecs.JSON: 130, codecs.JSONL: 150, codecs.CSV: 0}
PER_FIELD = 32  # an attribute asked for with `fields`: its name and a value
PER_ERROR = 80  # an error record ({"error": "line N: ..."})
ENDPOINTS = {"realtime": "a real-time endpoint", "serverless": "a serverless endpoint",
             "async": "this asynchronous endpoint"}
_MODELS: "weakref.WeakKeyDictionary[object, ModelSizes]" = weakref.WeakKeyDictionary()


class ModelSizes:
    """Mean JSON length of a product id and a name in one model (computed once per model)."""

    def __init__(self, product_ids: np.ndarray, product_names: np.ndarray):
        self.product_id = _mean_len(product_ids) + 2  # quotes
        lengths = np.char.str_len(np.asarray(product_names)) if len(product_names) else np.zeros(1)
        named = lengths > 0
        # a name is listed only when there is one: `, "name": "..."`
        self.name = float((lengths[named] + 12).sum() / max(1, len(lengths)))


def sizes_of(rec) -> ModelSizes:
    """The (cached) sizes of a Recommender's model."""
    sizes = _MODELS.get(rec)
    if sizes is None:
        sizes = _MODELS[rec] = ModelSizes(rec.model.product_ids, rec.model.product_names)
    return sizes


def estimate(rec, records: Sequence[codecs.Record], out: str) -> tuple[int, int]:
    """(estimated answer bytes, recommendations) for `records` answered as `out`."""
    sizes = sizes_of(rec)
    per_rec = PER_RECOMMENDATION[out] + sizes.product_id + (sizes.name if out != codecs.CSV else 0)
    total, recs = 64.0, 0
    most = len(rec.product_ids)  # a list never holds more products than the model has
    for r in records:
        if isinstance(r, codecs.RecordError):
            total += PER_ERROR + len(r.message)
            continue
        k = min(most, rec.default_k if r.k is None else r.k)
        subject = r.item_id if r.item_id is not None else r.customer_id
        recs += k
        total += PER_LIST[out] + len(subject or "") + k * (per_rec + PER_FIELD * len(r.fields))
        if out == codecs.CSV:
            total += k * len(subject or "")  # the first column repeats it on every row
    return int(total), recs


def check(rec, records: Sequence[codecs.Record], out: str, limit: int, kind: str) -> None:
    """413 before scoring when the answer would be larger than `limit` bytes (0 = no limit)."""
    if not limit:
        return
    size, recs = estimate(rec, records, out)
    if size > limit:
        raise too_large(f"would take about {_mb(size)} MB ({recs:,} recommendations for "
                        f"{len(records):,} customers or items)", limit, kind)


def check_body(body: bytes, limit: int, kind: str) -> None:
    """The same 413 for an encoded answer over the limit (the estimate was short)."""
    if limit and len(body) > limit:
        raise too_large(f"takes {_mb(len(body))} MB", limit, kind)


def too_large(what: str, limit: int, kind: str) -> codecs.HttpError:
    return codecs.HttpError(413, f"the answer {what}, more than the {_mb(limit)} MB {ENDPOINTS[kind]} "
                                 "returns (ALSRECO_MAX_RESPONSE_MB): ask for fewer customers or a smaller k, "
                                 "split the request, or use batch transform or asynchronous inference for "
                                 "large answers")


def _mb(n: int) -> str:
    return f"{n / MIB:.3g}"


def _mean_len(arr: np.ndarray) -> float:
    return float(np.char.str_len(np.asarray(arr)).mean()) if len(arr) else 0.0
