"""The array path for plain requests (serve/plain.py) and its encoder (serve/codecs/arrays.py): the same
answers as `Recommender.recommend_many` and the same bytes as the object encoders."""
from __future__ import annotations

import json

import numpy as np
import pytest

from alsreco.core.recommender import Recommender
from alsreco.core.rules import Prediction, Request
from alsreco.serve import codecs, plain
from alsreco.serve.codecs import arrays
from alsreco.serve.codecs.fields import parse_single
from tests.unit.conftest import random_model


def _same(got: Prediction, want: Prediction) -> None:
    assert got.customer_id == want.customer_id and got.known == want.known
    assert [(r.product_id, r.reason, r.name) for r in got.recommendations] == \
        [(r.product_id, r.reason, r.name) for r in want.recommendations]
    np.testing.assert_allclose([r.score for r in got.recommendations], [r.score for r in want.recommendations],
                               atol=2e-6)


@pytest.mark.parametrize("hp", [{}, {"include_new": 3}, {"exclude_popular": 40, "include_new": 2},
                                {"exclude_purchased": False, "reco_item": 7}])
def test_plain_requests_get_what_recommend_many_gives(hp):
    rec = Recommender(random_model(**hp))
    customers = [str(c) for c in rec.model.customer_ids]
    requests = [Request(customer_id=c, k=k) for c in customers for k in (None, 3, 25)]
    got = plain.recommend(rec, requests)
    want = rec.recommend_many(requests)
    assert all(isinstance(g, plain.PlainRow) for g in got)
    for g, w in zip(got, want):
        _same(g.prediction(rec), w)
    if hp.get("exclude_purchased", True):  # customer 1 bought all but three products: a short list (k=25)
        assert len(got[5].products) == len(want[5].recommendations) <= 3


def test_plain_requests_carry_the_models_trend_blend():
    model = random_model()
    rng = np.random.default_rng(3)
    model.product_recent = rng.integers(0, 30, len(model.product_ids)).astype(np.int32)
    model.product_trending = rng.random(len(model.product_ids)).astype(np.float32)
    model.metadata["blend"] = {"weight": 2.0, "signal": "recent"}
    rec = Recommender(model)
    requests = [Request(customer_id=str(c), k=10) for c in model.customer_ids]
    got, want = plain.recommend(rec, requests), rec.recommend_many(requests)
    alone = rec.recommend_many([Request(customer_id=r.customer_id, k=10, blend=0) for r in requests])
    assert all(isinstance(g, plain.PlainRow) for g in got)
    for g, w in zip(got, want):
        _same(g.prediction(rec), w)
    assert any([r.product_id for r in w.recommendations] != [r.product_id for r in a.recommendations]
               for w, a in zip(want, alone))  # the blend changed lists, and the array path kept it


def test_anything_but_a_plain_request_goes_through_recommend_many():
    rec = Recommender(random_model())
    known = str(rec.model.customer_ids[5])
    product = str(rec.model.product_ids[0])
    others = [Request(customer_id=known, items=(product,)), Request(customer_id=known, exclude_popular=3),
              Request(customer_id=known, include_items=(product,)), Request(customer_id="nobody"),
              Request(item_id=product), Request(customer_id=known, exploration_weight=0.5, seed=1),
              Request(items=(product,)), Request(customer_id=known, trending=True),
              Request(customer_id=known, blend=0.5),
              parse_single({"customer_id": known, "filter": f"EXCLUDE ItemID WHERE ItemID = '{product}'"}, "")]
    requests = [Request(customer_id=known, k=4), *others, Request(customer_id=known, k=2)]
    got = plain.recommend(rec, requests)
    want = rec.recommend_many(requests)
    assert isinstance(got[0], plain.PlainRow) and isinstance(got[-1], plain.PlainRow)
    assert all(isinstance(g, Prediction) for g in got[1:-1])
    for g, w in zip(got, want):
        _same(g.prediction(rec) if isinstance(g, plain.PlainRow) else g, w)


def _model_with_hard_names():
    model = random_model(n_customers=30, n_products=60)
    names = [""] * 60
    names[1], names[2], names[3], names[4] = 'say "hi"\\now', "caf\u00e9 \u2603 \U0001F600", "tab\there", "x" * 300
    model.product_names = np.array(names)
    return Recommender(model)


@pytest.mark.parametrize("kind", [codecs.JSON, codecs.JSONL, codecs.CSV])
def test_the_array_encoder_writes_what_the_object_encoders_write(kind):
    rec = _model_with_hard_names()
    customers = [str(c) for c in rec.model.customer_ids]
    requests = [Request(customer_id=c, k=12) for c in customers] + [Request(customer_id="stranger", k=2),
                                                                    Request(customer_id=customers[0],
                                                                            include_items=("nope",))]
    results = plain.recommend(rec, requests)
    if kind != codecs.CSV:
        results.insert(4, codecs.RecordError("line 5: not valid JSON"))
    objects = [r.prediction(rec) if isinstance(r, plain.PlainRow) else r for r in results]
    assert sum(isinstance(r, plain.PlainRow) for r in results) == len(customers)
    want = codecs.encode(objects, kind, rec.version)
    assert arrays.encode(results, kind, rec.version, rec) == want
    streamed = "".join(arrays.stream([results[:7], [], results[7:]], kind, rec.version, rec))
    assert streamed == "".join(codecs.stream([objects[:7], [], objects[7:]], kind, rec.version)) == want
    if kind == codecs.JSON:
        doc = json.loads(want)
        assert {r["name"] for p in doc["predictions"] if "recommendations" in p for r in p["recommendations"]
                if "name" in r} & {'say "hi"\\now', "caf\u00e9 \u2603 \U0001F600"}


def test_scores_are_rounded_like_the_object_path():
    rec = Recommender(random_model(n_customers=10, n_products=60))
    row = plain.PlainRow("C1", [0, 1, 2, 3], [0.1234565, -0.0, 1e-7, 2.5e-6], [0, 1, 2, 3])
    pred = row.prediction(rec)
    assert [r.score for r in pred.recommendations] == [round(0.1234565, 6), -0.0, 0.0, 3e-06]
    assert [r.reason for r in pred.recommendations] == ["model", "new_product", "forced", "popular"]
    assert arrays.encode([row], codecs.JSON, "v", rec) == codecs.encode([pred], codecs.JSON, "v")
    assert pred.recommendation_id == row.recommendation_id
