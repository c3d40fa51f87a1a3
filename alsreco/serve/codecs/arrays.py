"""Answers holding `PlainRow`s (serve/plain.py: known customers scored as arrays), encoded without objects.

Each product's JSON pieces - `{"product_id": ..., "score": ` and `, "reason": ..., "name": ...}` - are
encoded once per model, on first use; a list is then its pieces and its scores. The text is byte for
byte what json_body.py / jsonl_body.py write for the same answer as `Prediction`s (tests/unit/test_plain.py
holds them equal), so a change to the JSON shape there shows up as a failing test here. Other results
(`Prediction`s, error records) in the same answer go through those encoders; CSV goes through objects.
"""
from __future__ import annotations

import json
import weakref
from typing import Iterable, Iterator, Sequence

from ...core.scoring import REASONS
from . import CSV, JSON, JSONL, RecordError
from . import stream as object_stream
from .json_body import result_dict

_PIECES: "weakref.WeakKeyDictionary[object, _Pieces]" = weakref.WeakKeyDictionary()


class _Pieces:
    """One model's encoded product pieces, filled as products are first listed."""

    def __init__(self, rec):
        self.ids, self.names = rec.product_ids, rec.product_names
        self.head: list[str | None] = [None] * len(self.ids)
        self.tail: list[list[str | None] | None] = [None] * len(REASONS)

    def fill(self, products: Iterable[int], reasons: Iterable[int]) -> None:
        for p, why in zip(products, reasons):
            if self.head[p] is None:
                self.head[p] = '{"product_id": ' + json.dumps(self.ids[p]) + ', "score": '
            tails = self.tail[why]
            if tails is None:
                tails = self.tail[why] = [None] * len(self.ids)
            if tails[p] is None:
                name = self.names[p]
                tails[p] = (', "reason": ' + json.dumps(REASONS[why]) + (', "name": ' + json.dumps(name) if name
                                                                          else "") + "}")


def _pieces(rec) -> _Pieces:
    pieces = _PIECES.get(rec)
    if pieces is None:
        pieces = _PIECES[rec] = _Pieces(rec)
    return pieces


def _row(row, pieces: _Pieces) -> str:
    """`json.dumps(prediction_dict(row.prediction(rec)))`, from the lists."""
    head, tail = pieces.head, pieces.tail
    try:
        recs = ", ".join([head[p] + repr(round(s, 6)) + tail[w][p]  # type: ignore[operator, index]
                          for p, s, w in zip(row.products, row.scores, row.reasons)])
    except TypeError:  # a product (or reason) not encoded yet: encode them, then join
        pieces.fill(row.products, row.reasons)
        recs = ", ".join([head[p] + repr(round(s, 6)) + tail[w][p]  # type: ignore[operator, index]
                          for p, s, w in zip(row.products, row.scores, row.reasons)])
    return ('{"customer_id": ' + json.dumps(row.customer_id) + ', "known": true, "recommendation_id": "'
            + row.recommendation_id + '", "recommendations": [' + recs + "]}")


def _text(r, rec, pieces: _Pieces) -> str:
    if hasattr(r, "scores"):  # a PlainRow
        return _row(r, pieces)
    return json.dumps(result_dict(r))


def _line(r, rec, pieces: _Pieces, model_version: str) -> str:
    """A JSON Lines line: the JSON object plus `model_version` (not on error lines)."""
    if isinstance(r, RecordError):
        return json.dumps(result_dict(r))
    return _text(r, rec, pieces)[:-1] + ', "model_version": ' + json.dumps(model_version) + "}"


def stream(chunks: Iterable[Sequence], kind: str, model_version: str, rec) -> Iterator[str]:
    """codecs.stream for results that may hold PlainRows (`rec`: the Recommender that scored them)."""
    if kind == CSV:
        yield from object_stream(([_object(r, rec) for r in c] for c in chunks), kind, model_version)
        return
    pieces = _pieces(rec)
    if kind == JSON:
        yield '{"model_version": ' + json.dumps(model_version) + ', "predictions": ['
        sep = ""
        for chunk in chunks:
            if chunk:
                yield sep + ", ".join([_text(r, rec, pieces) for r in chunk])
                sep = ", "
        yield "]}"
        return
    assert kind == JSONL, kind
    sep = ""
    for chunk in chunks:
        if chunk:
            yield sep + "\n".join([_line(r, rec, pieces, model_version) for r in chunk])
            sep = "\n"


def encode(results: Sequence, kind: str, model_version: str, rec) -> str:
    """codecs.encode for results that may hold PlainRows."""
    return "".join(stream([results], kind, model_version, rec))


def _object(r, rec):
    return r.prediction(rec) if hasattr(r, "scores") else r
