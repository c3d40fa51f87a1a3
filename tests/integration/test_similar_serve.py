"""Similar products, session-aware lists and recommendation ids through the real `serve` (nginx ->
gunicorn -> Flask) on the model trained from the bundled sample, and similar_items.csv from the real
`train` run of tests/conftest.py (`trained_model_dir`)."""
from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from alsreco.core import artifact
from alsreco.core.recommender import Recommender
from alsreco.core.rules import Request

pytestmark = pytest.mark.integration
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def rec(model_dir) -> Recommender:
    return Recommender(artifact.load_model(model_dir))


@pytest.fixture(scope="module")
def best_sellers(rec) -> list[str]:
    return [rec.product_ids[i] for i in rec.popular_order]


def test_item_request_in_json(server, rec, best_sellers):
    item = best_sellers[0]
    resp = server.post({"item_id": item, "k": 10})
    assert resp.status_code == 200, resp.text
    [pred] = resp.json()["predictions"]
    assert pred["item_id"] == item and pred["known"] is True and "customer_id" not in pred
    recs = pred["recommendations"]
    assert len(recs) == 10 and {r["reason"] for r in recs} == {"similar"}
    assert item not in {r["product_id"] for r in recs}
    assert [r["product_id"] for r in recs] == [r.product_id for r in rec.recommend(Request(item_id=item, k=10))
                                               .recommendations]
    assert all(-1.0 <= r["score"] <= 1.0 for r in recs) and HEX32.fullmatch(pred["recommendation_id"])


def test_item_list_form_keeps_order_and_unknown_items_get_best_sellers(server, best_sellers):
    items = [best_sellers[3], "NO-SUCH-ITEM", best_sellers[0]]
    doc = server.post({"item_ids": items, "k": 4, "exclude_popular": 1}).json()
    preds = doc["predictions"]
    assert [p["item_id"] for p in preds] == items and [p["known"] for p in preds] == [True, False, True]
    assert [r["product_id"] for r in preds[1]["recommendations"]] == best_sellers[1:5]
    assert preds[1]["unknown_items"] == ["NO-SUCH-ITEM"] and {r["reason"] for r in preds[1]["recommendations"]} == \
        {"popular"}
    assert all(best_sellers[0] not in [r["product_id"] for r in p["recommendations"]] for p in preds)
    assert len({p["recommendation_id"] for p in preds}) == 3


def test_item_requests_in_jsonlines_and_csv(server, best_sellers):
    body = "\n".join([json.dumps({"item_id": best_sellers[0], "k": 3}), json.dumps({"customer_ids": ["x"]}),
                      json.dumps({"item_id": best_sellers[1], "k": 2})])
    resp = server.post(body, "application/jsonlines")
    assert resp.status_code == 200, resp.text
    lines = [json.loads(x) for x in resp.text.split("\n")]
    assert len(lines) == 3 and lines[0]["item_id"] == best_sellers[0] and "error" in lines[1]
    assert lines[2]["model_version"] and HEX32.fullmatch(lines[2]["recommendation_id"])
    csv_resp = server.post(body.replace('{"customer_ids": ["x"]}', json.dumps({"item_id": "NOPE", "k": 1})),
                           "application/jsonlines", accept="text/csv")
    assert csv_resp.status_code == 200, csv_resp.text
    rows = list(csv.DictReader(io.StringIO(csv_resp.text)))
    assert list(rows[0]) == ["item_id", "rank", "product_id", "score", "reason", "recommendation_id"]
    assert [(r["item_id"], r["rank"]) for r in rows] == [
        (best_sellers[0], "1"), (best_sellers[0], "2"), (best_sellers[0], "3"), ("NOPE", "1"),
        (best_sellers[1], "1"), (best_sellers[1], "2")]
    assert len({r["recommendation_id"] for r in rows}) == 3
    # CSV requests stay customer ids; the customer CSV keeps its column order, recommendation_id last
    customers = server.post("customer_id\n17850\n", "text/csv")
    assert customers.text.split("\n")[0] == "customer_id,rank,product_id,score,reason,recommendation_id"


def test_session_items_pull_a_known_customers_list_towards_them(server, rec):
    sizes = np.diff(np.asarray(rec.model.purchases.indptr))
    u = int(np.flatnonzero((sizes >= 5) & (sizes <= 10))[0])  # an ordinary customer
    customer, bought = str(rec.model.customer_ids[u]), set(rec.model.purchases.row(u).tolist())
    seed = next(int(i) for i in rec.popular_order[100:] if int(i) not in bought)
    neighbours = [r.product_id for r in rec.recommend(Request(item_id=rec.product_ids[seed], k=30)).recommendations
                  if rec.product_index[r.product_id] not in bought]
    session = [rec.product_ids[seed]] + neighbours[:2]  # viewed this session: a product and two like it
    plain = server.post({"customer_id": customer, "k": 10}).json()["predictions"][0]
    after = server.post({"customer_id": customer, "k": 10, "items": session}).json()["predictions"][0]

    def closeness(pred) -> float:  # mean cosine similarity of the list to the session's first product
        return float(np.mean([rec.unit_items[seed] @ rec.unit_items[rec.product_index[r["product_id"]]]
                              for r in pred["recommendations"]]))

    assert after["known"] is True and not set(session) & {r["product_id"] for r in after["recommendations"]}
    assert [r["product_id"] for r in after["recommendations"]] != [r["product_id"] for r in plain["recommendations"]]
    assert closeness(after) > closeness(plain), (closeness(plain), closeness(after))
    assert plain["recommendation_id"] != after["recommendation_id"]


def test_session_fold_in_without_session_items_is_the_trained_factor(rec):
    """Spark's last ALS half-iteration solves each customer's factor against the final item factors
    from the stored ratings: the session step without session items gives it back."""
    users = np.asarray(rec.user_factors)
    for u in range(0, len(users), max(1, len(users) // 50)):
        np.testing.assert_allclose(rec.session_factor(u, np.empty(0, np.int64)), users[u], rtol=1e-3, atol=1e-4)


def test_batch_transform_jsonlines_with_item_lines(model_dir, serve_factory, tmp_path):
    base = tmp_path / "opt_ml"
    base.mkdir()
    (base / "model").symlink_to(model_dir, target_is_directory=True)
    srv = serve_factory(base, SAGEMAKER_BATCH="true")
    assert srv.wait_ready().status_code == 200, srv.log()
    model = artifact.load_model(model_dir)
    products, customers = [str(p) for p in model.product_ids[:6000]], [str(c) for c in model.customer_ids[:300]]
    lines = []
    for i in range(12_000):  # more than a real-time request may hold: streamed in chunks
        if i % 3 == 0:
            lines.append(json.dumps({"item_id": products[i % len(products)], "k": 2}))
        elif i % 3 == 1:
            lines.append(json.dumps(customers[i % len(customers)]))
        else:
            lines.append("not json" if i == 5 else json.dumps({"customer_id": customers[i % len(customers)],
                                                               "items": [products[i % 50]], "k": 2}))
    resp = srv.post("\n".join(lines) + "\n", "application/jsonlines")
    assert resp.status_code == 200, resp.text[:500]
    out = resp.text.split("\n")
    assert len(out) == len(lines) and not resp.text.endswith("\n")
    docs = [json.loads(x) for x in out]
    assert list(docs[5]) == ["error"] and docs[5]["error"].startswith("line 6: not valid JSON")
    assert all(d["item_id"] == products[i % len(products)] for i, d in enumerate(docs) if i % 3 == 0)
    assert all(d["customer_id"] == customers[i % len(customers)] for i, d in enumerate(docs) if i % 3 == 1)
    rids = [d["recommendation_id"] for d in docs if "error" not in d]
    assert len(set(rids)) == len(rids) == len(lines) - 1


def test_similar_items_file_from_train(trained_model_dir, rec):
    path = trained_model_dir.parent / "output" / "data" / "similar_items.csv"
    model = artifact.load_model(trained_model_dir)
    n = int(model.metadata["hyperparameters"]["reco_item"])
    with open(path, newline="") as fh:
        assert fh.readline() == "product_id,rank,similar_product_id,score\r\n"
        fh.seek(0)
        rows = list(csv.DictReader(fh))
    n_products = len(model.product_ids)
    assert len(rows) == n_products * min(n, n_products - 1)
    assert not [r for r in rows if r["product_id"] == r["similar_product_id"]]
    assert {r["rank"] for r in rows} == {str(i) for i in range(1, n + 1)}
    assert len({r["product_id"] for r in rows}) == n_products
    by_product: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_product.setdefault(r["product_id"], []).append(r)
    for pid in list(by_product)[::max(1, n_products // 80)]:
        served = rec.recommend(Request(item_id=pid, k=n, include_new=0, exclude_popular=0)).recommendations
        scores = [float(r["score"]) for r in by_product[pid]]
        np.testing.assert_allclose(scores, [s.score for s in served], atol=2e-6)
        # the same products in the same order, up to ties within float32 noise (products whose factors
        # are collinear, e.g. the long tail bought by one customer, have equal similarities)
        for rank, (r, s) in enumerate(zip(by_product[pid], served)):
            tied = [x for x in range(len(scores)) if abs(scores[x] - scores[rank]) <= 2e-6]
            if r["similar_product_id"] != s.product_id and tied[-1] < len(scores) - 1:  # not cut at N
                assert s.product_id in {by_product[pid][x]["similar_product_id"] for x in tied}, (pid, rank)
    assert not list(path.parent.glob(".*.tmp"))
