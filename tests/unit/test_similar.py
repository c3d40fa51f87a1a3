"""Similar products (`item_id`), session-aware lists for known customers and `recommendation_id`,
on the synthetic two-cluster model of conftest.py (A products: one latent axis, B products: the other)."""
from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from alsreco.core import topk
from alsreco.core.recommender import Recommender
from alsreco.core.rules import Prediction, Recommendation, Request
from alsreco.core.settings import Settings
from alsreco.core.similar import SimilarRanker, unit_rows
from alsreco.serve import codecs
from alsreco.serve.app import create_app
from alsreco.serve.codecs import CSV, JSON, JSONL, HttpError, RecordError
from alsreco.train.similar import write_similar_items
from tests.unit.conftest import A_CUSTOMERS, A_PRODUCTS, B_PRODUCTS, NEW, PRODUCTS, make_model

HEX32 = re.compile(r"[0-9a-f]{32}")
ANGLE = lambda i: 0.03 * i ** 1.5  # noqa: E731


def ids(pred: Prediction) -> list[str]:
    return [r.product_id for r in pred.recommendations]


def reasons(pred: Prediction) -> list[str]:
    return [r.reason for r in pred.recommendations]


def fan_model(**hp):
    """The synthetic model with each cluster fanned out on a circle: A[i] at angle θ_i = 0.03 i^1.5
    on the (axis 0, axis 2) plane, B[i] likewise on (axis 1, axis 3), norms varying, so cosine
    similarity has a known strict order within a cluster (no two pairs at the same angle) and is
    exactly 0 across clusters."""
    m = make_model(**hp)
    items = m.item_factors.copy()
    for i in range(len(A_PRODUCTS)):
        norm, theta = 0.5 + 0.1 * (i % 4), ANGLE(i)
        items[i] = [norm * np.cos(theta), 0.0, norm * np.sin(theta), 0.0]
        items[len(A_PRODUCTS) + i] = [0.0, norm * np.cos(theta), 0.0, norm * np.sin(theta)]
    m.item_factors = items
    return m


# ----------------------------------------------------------------- similar products
def test_cluster_neighbours_come_first_and_the_item_is_never_in_its_list(rec):
    for cluster, other in ((A_PRODUCTS, B_PRODUCTS), (B_PRODUCTS, A_PRODUCTS)):
        for item in cluster:
            pred = rec.recommend(Request(item_id=item, k=len(PRODUCTS)))
            assert pred.item_id == item and pred.customer_id is None and pred.known
            got = ids(pred)
            assert item not in got and len(got) == len(PRODUCTS) - 1  # everything else, once
            assert set(got[:len(cluster) - 1]) == set(cluster) - {item}
            assert set(got[len(cluster) - 1:]) == set(other)
            assert set(reasons(pred)) == {"similar"}
            scores = [r.score for r in pred.recommendations]
            assert scores == sorted(scores, reverse=True)
            assert scores[0] == pytest.approx(1.0, abs=1e-6) and scores[-1] < 0.2


def test_scores_are_cosine_similarities_in_strict_order():
    rec = Recommender(fan_model())
    pred = rec.recommend(Request(item_id=A_PRODUCTS[0], k=5))
    assert ids(pred) == A_PRODUCTS[1:6]  # nearest angle first, whatever the norms
    want = [np.cos(ANGLE(i)) for i in range(1, 6)]
    np.testing.assert_allclose([r.score for r in pred.recommendations], want, atol=2e-6)
    mid = rec.recommend(Request(item_id=A_PRODUCTS[5], k=4))
    assert ids(mid) == [A_PRODUCTS[4], A_PRODUCTS[6], A_PRODUCTS[3], A_PRODUCTS[7]]


def test_normalised_factors_are_computed_once_in_float32(rec):
    assert rec.unit_items.dtype == np.float32 and rec.unit_items.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(rec.unit_items, axis=1), 1.0, atol=1e-6)
    zero = unit_rows(np.zeros((2, 3), dtype=np.float32))  # a zero factor stays zero (similarity 0), no NaN
    assert not np.isnan(zero).any() and not zero.any()


def test_rules_apply_to_similar_products():
    rec = Recommender(fan_model())
    item = A_PRODUCTS[0]
    base = ids(rec.recommend(Request(item_id=item, k=5)))
    cut = rec.recommend(Request(item_id=item, k=5, exclude_items=(base[0], "NOPE")))
    assert ids(cut) == base[1:] + [A_PRODUCTS[6]] and cut.unknown_items == ["NOPE"]
    only = rec.recommend(Request(item_id=item, k=5, candidates=(A_PRODUCTS[9], B_PRODUCTS[0], item, A_PRODUCTS[3])))
    assert ids(only) == [A_PRODUCTS[3], A_PRODUCTS[9], B_PRODUCTS[0]]  # the item itself is no candidate
    forced = rec.recommend(Request(item_id=item, k=4, include_items=(B_PRODUCTS[5], item, A_PRODUCTS[2])))
    assert ids(forced) == [B_PRODUCTS[5], A_PRODUCTS[2], A_PRODUCTS[1], A_PRODUCTS[3]]
    assert reasons(forced) == ["forced", "forced", "similar", "similar"]
    new = rec.recommend(Request(item_id=item, k=4, include_new=2))
    assert ids(new) == [A_PRODUCTS[10], A_PRODUCTS[11]] + base[:2]  # the A-cluster new ones, nearest first
    assert reasons(new) == ["new_product"] * 2 + ["similar"] * 2
    assert set(NEW) >= set(ids(new)[:2])
    popular = rec.recommend(Request(item_id=B_PRODUCTS[1], k=3, exclude_popular=1))
    assert B_PRODUCTS[0] not in ids(popular)  # 22960 is the best seller
    # exclude_purchased has no customer to apply to
    assert ids(rec.recommend(Request(item_id=item, exclude_purchased=True))) == \
        ids(rec.recommend(Request(item_id=item, exclude_purchased=False)))


def test_the_item_is_dropped_even_when_it_is_the_only_forced_one(rec):
    pred = rec.recommend(Request(item_id="85123A", k=2, include_items=("85123A",)))
    assert "85123A" not in ids(pred) and set(reasons(pred)) == {"similar"} and len(ids(pred)) == 2


def test_unknown_item_falls_back_to_best_sellers(rec):
    pred = rec.recommend(Request(item_id="NOPE", k=3))
    assert not pred.known and pred.item_id == "NOPE" and pred.unknown_items == ["NOPE"]
    assert ids(pred) == [rec.product_ids[i] for i in rec.popular_order[:3]] and set(reasons(pred)) == {"popular"}
    assert ids(pred) == ids(rec.recommend(Request("nobody", k=3)))  # like an unknown customer
    ruled = rec.recommend(Request(item_id="NOPE", k=3, exclude_popular=2, include_items=("21791", "NOPE2")))
    assert ids(ruled) == ["21791"] + [rec.product_ids[i] for i in rec.popular_order[2:4]]
    assert ruled.unknown_items == ["NOPE", "NOPE2"]


def test_item_requests_keep_their_order_among_customer_requests():
    rec = Recommender(fan_model())
    reqs = [Request(item_id="22960", k=2), Request("17850", k=2), Request(item_id="NOPE", k=2),
            Request(item_id="85123A", k=2), Request("nobody", k=2), Request(item_id="22960", k=3)]
    preds = rec.recommend_many(reqs)
    assert [(p.item_id, p.customer_id) for p in preds] == [(r.item_id, r.customer_id) for r in reqs]
    assert [p.known for p in preds] == [True, True, False, True, False, True]
    assert ids(preds[0]) == ids(rec.recommend(reqs[0])) and set(ids(preds[3])) <= set(A_PRODUCTS)
    assert ids(preds[5])[:2] == ids(preds[0])
    assert reasons(preds[1]) == ["model"] * 2 and reasons(preds[2]) == ["popular"] * 2


def test_a_block_of_items_equals_one_at_a_time(monkeypatch):
    rec = Recommender(fan_model())
    monkeypatch.setattr("alsreco.core.recommender.BLOCK_ROWS", 5)
    reqs = [Request(item_id=p, k=6, include_new=1) for p in PRODUCTS]
    assert [p.recommendations for p in rec.recommend_many(reqs)] == [rec.recommend(r).recommendations for r in reqs]


# ----------------------------------------------------------------- session-aware lists
def test_session_items_move_a_known_customers_list_towards_their_neighbourhood(rec):
    without = rec.recommend(Request(A_CUSTOMERS[0], k=8))
    session = (B_PRODUCTS[4], B_PRODUCTS[5], "NOPE")
    with_session = rec.recommend(Request(A_CUSTOMERS[0], k=8, items=session))
    count_b = lambda pred: sum(p in B_PRODUCTS for p in ids(pred))  # noqa: E731
    assert count_b(without) == 0 and count_b(with_session) > count_b(without)
    assert with_session.known and with_session.unknown_items == ["NOPE"]
    assert not set(session) & set(ids(with_session))  # still excluded (exclude_purchased)
    counts = [count_b(rec.recommend(Request(A_CUSTOMERS[0], k=8, items=tuple(B_PRODUCTS[4:4 + n]))))
              for n in range(5)]
    assert counts == sorted(counts) and counts[-1] == 8  # more session events, more pull


def test_session_factor_is_one_als_user_step_with_the_session_as_extra_events(rec, model):
    u, session = 0, np.array([PRODUCTS.index(B_PRODUCTS[4]), PRODUCTS.index(A_PRODUCTS[0])])
    r = np.zeros(len(PRODUCTS))
    r[model.purchases.row(u)] = model.purchases.row_data(u)
    r[session] += 1.0  # A[0] was bought already: one more event
    y = rec.item_factors.astype(np.float64)
    c = 1.0 + rec.alpha * r
    a = y.T @ (c[:, None] * y) + rec.reg_param * np.count_nonzero(r) * np.eye(y.shape[1])
    want = np.linalg.solve(a, y.T @ (c * (r > 0)))
    np.testing.assert_allclose(rec.session_factor(u, session), want, rtol=1e-4, atol=1e-5)


def test_an_empty_or_unknown_session_keeps_the_trained_factor(rec):
    base = rec.recommend(Request("17850", k=6))
    assert rec.recommend(Request("17850", k=6, items=("NOPE",))).recommendations == base.recommendations
    assert rec.recommend(Request("17850", k=6, items=())).recommendations == base.recommendations


def test_session_factor_reproduces_an_als_consistent_factor():
    """When the user factors are what ALS's last user step solved (as in Spark, whose last
    half-iteration updates users), an empty session gives the trained factor back."""
    m = make_model()
    rec = Recommender(m)
    m.user_factors = np.stack([rec.session_factor(u, np.empty(0, np.int64)) for u in range(len(m.customer_ids))])
    rec = Recommender(m)
    for u in range(len(m.customer_ids)):
        np.testing.assert_allclose(rec.session_factor(u, np.empty(0, np.int64)), m.user_factors[u], atol=1e-6)


# ----------------------------------------------------------------- codecs
def decode_and_answer(rec, body: bytes, kind: str) -> list:
    records = codecs.decode(body, kind)
    preds = iter(rec.recommend_many([r for r in records if isinstance(r, Request)]))
    return [r if isinstance(r, RecordError) else next(preds) for r in records]


def test_json_item_request_and_list_form():
    assert codecs.decode(b'{"item_id": "85123A", "k": 10}', JSON) == [Request(k=10, item_id="85123A")]
    got = codecs.decode(b'{"item_ids": ["85123A", 22960, "x"], "k": 5, "exclude_popular": 1}', JSON)
    assert [(r.item_id, r.k, r.exclude_popular, r.customer_id) for r in got] == [
        ("85123A", 5, 1, None), ("22960", 5, 1, None), ("x", 5, 1, None)]
    env = codecs.decode(b'{"instances": [{"item_id": "85123A"}, "17850", {"customer_id": "1"}]}', JSON)
    assert [(r.item_id, r.customer_id) for r in env] == [("85123A", None), (None, "17850"), (None, "1")]


@pytest.mark.parametrize("body, field", [
    (b'{"item_id": "85123A", "customer_id": "1"}', "item_id"),
    (b'{"item_id": "85123A", "items": ["1"]}', "item_id"),
    (b'{"item_id": ["85123A"]}', "item_id"),
    (b'{"item_id": ""}', "item_id"),
    (b'{"item_id": "x", "k": 0}', "k"),
    (b'{"item_id": "x", "junk": 1}', "junk"),
    (b'{"item_ids": "85123A"}', "item_ids"),
    (b'{"item_ids": ["a", null]}', "item_ids[1]"),
    (b'{"item_ids": ["a"], "customer_ids": ["1"]}', "item_ids"),
    (b'{"item_ids": ["a"], "item_id": "b"}', "item_id"),
    (b'{"instances": [{"item_id": "a", "customer_id": "1"}]}', "instances[0].item_id"),
])
def test_bad_item_requests_are_400_naming_the_field(body, field):
    with pytest.raises(HttpError) as info:
        codecs.decode(body, JSON)
    assert info.value.status == 400 and field in str(info.value), str(info.value)


def test_too_many_items_is_413():
    with pytest.raises(HttpError) as info:
        codecs.decode(json.dumps({"item_ids": list(range(10_001))}).encode(), JSON)
    assert info.value.status == 413


def test_encode_item_predictions_in_all_three_types(rec):
    results = decode_and_answer(rec, b'{"item_ids": ["85123A", "NOPE"], "k": 2}', JSON)
    doc = json.loads(codecs.encode(results, JSON, "v1"))
    first, unknown = doc["predictions"]
    assert set(first) == {"item_id", "known", "recommendation_id", "recommendations"}
    assert first["item_id"] == "85123A" and first["known"] is True
    assert {r["reason"] for r in first["recommendations"]} == {"similar"}
    assert [r.get("name") for r in first["recommendations"]] == [
        None if r["product_id"] == "71053" else f"PRODUCT {r['product_id']}" for r in first["recommendations"]]
    assert unknown["known"] is False and unknown["unknown_items"] == ["NOPE"] and "customer_id" not in unknown
    lines = [json.loads(x) for x in codecs.encode(results, JSONL, "v1").split("\n")]
    assert [x["item_id"] for x in lines] == ["85123A", "NOPE"] and {x["model_version"] for x in lines} == {"v1"}
    text = codecs.encode(results, CSV, "v1")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.split("\n")[0] == "item_id,rank,product_id,score,reason,recommendation_id"
    assert [(r["item_id"], r["rank"], r["reason"]) for r in rows] == [
        ("85123A", "1", "similar"), ("85123A", "2", "similar"), ("NOPE", "1", "popular"), ("NOPE", "2", "popular")]
    assert not text.endswith("\n")


def test_jsonlines_item_lines_with_errors_in_place(rec):
    body = b'{"item_id": "85123A", "k": 2}\n{"item_ids": ["x"]}\n"17850"\n{"item_id": "22960", "customer_id": "1"}\n'
    results = decode_and_answer(rec, body, JSONL)
    lines = [json.loads(x) for x in codecs.encode(results, JSONL, "v1").split("\n")]
    assert len(lines) == 4
    assert lines[0]["item_id"] == "85123A" and lines[2]["customer_id"] == "17850"
    assert lines[1]["error"].startswith("line 2:") and "item_ids" in lines[1]["error"]
    assert lines[3]["error"].startswith("line 4: item_id")


def test_csv_output_cannot_mix_customers_and_items(rec):
    records = codecs.decode(b'[{"item_id": "85123A"}, "17850"]', JSON)
    with pytest.raises(HttpError) as info:
        codecs.check(records, CSV)
    assert info.value.status == 400 and "jsonlines" in str(info.value)
    with pytest.raises(HttpError):
        codecs.encode(rec.recommend_many(records), CSV, "v1")


def test_customer_csv_keeps_its_columns_and_appends_recommendation_id(rec):
    text = codecs.encode(decode_and_answer(rec, b"17850,2\n16098,1\n", CSV), CSV, "v1")
    header, *rows = text.split("\n")
    assert header == "customer_id,rank,product_id,score,reason,recommendation_id"
    assert [r.split(",")[:5] for r in rows][0] == ["17850", "1", "84406B", "0.96", "model"]


# ----------------------------------------------------------------- recommendation_id
def test_recommendation_id_is_unique_per_prediction_and_in_every_type(rec):
    body = b'{"instances": [{"customer_id": "17850", "k": 2}, {"customer_id": "17850", "k": 2}, ' \
           b'{"item_id": "85123A", "k": 2}, {"items": ["22960"], "k": 2}, "nobody"]}'
    results = decode_and_answer(rec, body, JSON)
    rids = [p.recommendation_id for p in results]
    assert len(set(rids)) == len(rids) and all(HEX32.fullmatch(r) for r in rids)
    doc = json.loads(codecs.encode(results, JSON, "v1"))
    assert [p["recommendation_id"] for p in doc["predictions"]] == rids
    lines = [json.loads(x) for x in codecs.encode(results, JSONL, "v1").split("\n")]
    assert [x["recommendation_id"] for x in lines] == rids
    customers = [p for p in results if p.item_id is None]
    rows = list(csv.DictReader(io.StringIO(codecs.encode(customers, CSV, "v1"))))
    by_list = {(r["customer_id"], r["recommendation_id"]) for r in rows}
    assert {r for _, r in by_list} == {p.recommendation_id for p in customers if p.recommendations}
    again = rec.recommend(Request("17850", k=2))
    assert again.recommendation_id not in rids  # a new id for every answer, also for the same question


def test_record_errors_carry_no_recommendation_id():
    doc = json.loads(codecs.encode([RecordError("line 1: bad"), Prediction("1", True, [])], JSON, "v1"))
    assert doc["predictions"][0] == {"error": "line 1: bad"}
    assert HEX32.fullmatch(doc["predictions"][1]["recommendation_id"])


# ----------------------------------------------------------------- HTTP app (Flask test client)
@pytest.fixture
def client(model_dir):
    return create_app(model_dir, Settings(workers=1)).test_client()


def test_app_answers_item_requests_in_each_type(client):
    resp = client.post("/invocations", data=json.dumps({"item_id": "85123A", "k": 3}),
                       headers={"Content-Type": "application/json"})
    assert resp.status_code == 200
    [pred] = resp.get_json()["predictions"]
    assert pred["item_id"] == "85123A" and len(pred["recommendations"]) == 3
    assert HEX32.fullmatch(pred["recommendation_id"])
    csv_resp = client.post("/invocations", data='{"item_id": "85123A", "k": 2}\n{"item_id": "22960", "k": 2}',
                           headers={"Content-Type": "application/jsonlines", "Accept": "text/csv"})
    assert csv_resp.status_code == 200
    lines = csv_resp.get_data(as_text=True).split("\n")
    assert lines[0].startswith("item_id,") and [x.split(",")[0] for x in lines[1:]] == ["85123A"] * 2 + ["22960"] * 2
    mixed = client.post("/invocations", data='{"item_id": "85123A"}\n"17850"',
                        headers={"Content-Type": "application/jsonlines", "Accept": "text/csv"})
    assert mixed.status_code == 400 and "cannot mix" in mixed.get_json()["error"]


def test_openapi_document_describes_item_requests(client):
    import openapi_spec_validator as validator
    import yaml

    doc = yaml.safe_load(client.get("/openapi.yaml").get_data(as_text=True))
    validator.validate(doc)
    schemas = doc["components"]["schemas"]
    assert schemas["ItemRequest"]["allOf"][1]["required"] == ["item_id"]
    assert "similar" in schemas["Recommendation"]["properties"]["reason"]["enum"]
    assert "recommendation_id" in schemas["Prediction"]["required"]


# ----------------------------------------------------------------- similar_items.csv (train)
@pytest.mark.parametrize("threads", [1, 2])
def test_similar_items_file_equals_what_serve_answers(tmp_path, threads, monkeypatch):
    if threads > 1:  # each block's top-k split between threads, as `train` runs it
        monkeypatch.setattr(topk, "MIN_THREADED_CELLS", 0)
    m = make_model(reco_item=4)
    m.item_factors = np.random.default_rng(0).standard_normal(m.item_factors.shape).astype(np.float32)
    m.product_ids = np.array([p if i != 3 else 'ODD,"ID"' for i, p in enumerate(PRODUCTS)])
    path = tmp_path / "out" / "similar_items.csv"
    rows = write_similar_items(m, path, cells=3 * len(PRODUCTS), threads=threads)  # 3 products per block
    text = path.read_bytes().decode()
    assert text.startswith("product_id,rank,similar_product_id,score\r\n") and rows == 4 * len(PRODUCTS)
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == rows and not list(path.parent.glob(".*tmp"))
    rec = Recommender(m)
    for pid in m.product_ids:
        mine = [r for r in table if r["product_id"] == pid]
        assert [r["rank"] for r in mine] == ["1", "2", "3", "4"]
        served = rec.recommend(Request(item_id=str(pid)))
        assert [r["similar_product_id"] for r in mine] == ids(served) and pid not in ids(served)
        np.testing.assert_allclose([float(r["score"]) for r in mine], [r.score for r in served.recommendations],
                                   atol=1e-6)


def test_similar_ranker_bounds_blocks_and_cuts_short_catalogues():
    items = np.eye(3, dtype=np.float32)
    ranker = SimilarRanker(items, 5, cells=6)
    assert [list(b) for b in ranker.blocks()] == [[0, 1], [2]]
    block = ranker.rank(np.array([2]))
    assert block.valid.tolist() == [[True, True, False]]  # only 2 others
    assert block.similar[:, :2].tolist() == [[0, 1]] and block.scores[:, :2].tolist() == [[0.0, 0.0]]  # ties: index


def test_a_zero_factor_item_scores_zero_everywhere():
    m = make_model()
    m.item_factors = m.item_factors.copy()
    m.item_factors[5] = 0.0
    rec = Recommender(m)
    pred = rec.recommend(Request(item_id=PRODUCTS[5], k=3))
    assert [r.score for r in pred.recommendations] == [0.0] * 3 and ids(pred) == PRODUCTS[:3]
    assert all(np.isfinite(r.score) for r in rec.recommend(Request(item_id=PRODUCTS[0], k=30)).recommendations)


def test_recommendation_objects_are_unchanged_for_customers():
    assert Recommendation("p", 1.0, "model") == Recommendation("p", 1.0, "model", "")
