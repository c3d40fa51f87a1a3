from __future__ import annotations

import numpy as np
import pytest

from alsreco.core import hyperparameters
from alsreco.core.artifact import Model, Purchases
from alsreco.core.recommender import Recommender
from alsreco.core.rules import Request, Rules
from tests.unit.conftest import A_PRODUCTS, B_PRODUCTS, CUSTOMERS, NEW, PRODUCTS, make_model


def ids(pred):
    return [r.product_id for r in pred.recommendations]


def reasons(pred):
    return [r.reason for r in pred.recommendations]


def bought(model, customer):
    i = CUSTOMERS.index(customer)
    return {PRODUCTS[j] for j in model.purchases.row(i)}


# ----------------------------------------------------------------- known customers
def test_known_customer_gets_best_unpurchased_products_in_score_order(rec, model):
    pred = rec.recommend(Request("17850"))
    assert pred.known and pred.customer_id == "17850" and pred.unknown_items == []
    assert len(pred.recommendations) == 5  # reco_item of the synthetic model
    assert not set(ids(pred)) & bought(model, "17850")
    unbought_a = [p for p in A_PRODUCTS if p not in bought(model, "17850")]
    assert ids(pred) == unbought_a[:5]
    scores = [r.score for r in pred.recommendations]
    assert scores == sorted(scores, reverse=True) and all(isinstance(s, float) for s in scores)
    assert set(reasons(pred)) == {"model"}


def test_exclude_purchased_false_recommends_purchased_products(rec):
    pred = rec.recommend(Request("17850", k=3, exclude_purchased=False))
    assert ids(pred) == A_PRODUCTS[:3]


def test_k_overrides_default_and_is_capped_by_the_pool(rec):
    assert len(rec.recommend(Request("17850", k=7)).recommendations) == 7
    pred = rec.recommend(Request("17850", k=1000))
    assert len(pred.recommendations) == len(PRODUCTS) - 2  # everything not bought, once
    assert len(set(ids(pred))) == len(ids(pred))


def test_exclude_items_removed_and_list_still_filled(rec):
    base = ids(rec.recommend(Request("17850")))
    pred = rec.recommend(Request("17850", exclude_items=tuple(base[:3])))
    assert not set(base[:3]) & set(ids(pred))
    assert len(pred.recommendations) == 5
    assert ids(pred)[:2] == base[3:5]


def test_exclude_popular_drops_top_sellers_with_deterministic_ties(rec):
    # A[0] and B[0] were bought by all 10 customers of their cluster: B[0] ("22960") wins by id.
    assert rec.product_ids[rec.popular_order[0]] == "22960"
    one = rec.recommend(Request("17850", k=3, exclude_purchased=False, exclude_popular=1))
    assert ids(one)[0] == "85123A"
    two = rec.recommend(Request("17850", k=3, exclude_purchased=False, exclude_popular=2))
    assert "85123A" not in ids(two) and len(two.recommendations) == 3


def test_candidates_restrict_the_pool(rec, model):
    cands = ("22960", "22913", "84879", "85123A", "21730")
    pred = rec.recommend(Request("17850", k=10, candidates=cands))
    assert set(ids(pred)) <= set(cands) - bought(model, "17850")
    assert ids(pred) == ["21730", "84879", "22960", "22913"]  # score order
    assert rec.recommend(Request("17850", candidates=())).recommendations == []


def test_include_items_are_forced_first_in_request_order(rec, model):
    forced = ("22913", "85123A")  # a B product (low score) and one the customer bought
    pred = rec.recommend(Request("17850", include_items=forced, exclude_popular=5, candidates=("21730",)))
    assert ids(pred)[:2] == list(forced) and reasons(pred)[:2] == ["forced", "forced"]
    assert "85123A" in bought(model, "17850")  # survives exclude_purchased, popular and candidates
    assert ids(pred)[2:] == ["21730"]
    assert pred.recommendations[0].score == pytest.approx(0.05 - 0.001, abs=1e-6)  # its model score


def test_exclude_items_beat_include_items(rec):
    pred = rec.recommend(Request("17850", include_items=("22913", "21730"), exclude_items=("22913",)))
    assert "22913" not in ids(pred)
    assert ids(pred)[0] == "21730" and reasons(pred)[0] == "forced"
    assert ids(pred).count("21730") == 1 and len(pred.recommendations) == 5


def test_forced_items_are_cut_at_k(rec):
    pred = rec.recommend(Request("17850", k=2, include_items=("22913", "22912", "22914"), include_new=2))
    assert ids(pred) == ["22913", "22912"] and reasons(pred) == ["forced", "forced"]


def test_include_new_picks_the_best_scoring_new_products_for_the_customer(rec):
    a = rec.recommend(Request("17850", k=5, include_new=2))
    assert ids(a)[:2] == [A_PRODUCTS[10], A_PRODUCTS[11]]  # the A-cluster new ones, best first
    assert reasons(a) == ["new_product"] * 2 + ["model"] * 3
    b = rec.recommend(Request("16098", k=5, include_new=1))
    assert ids(b)[0] == B_PRODUCTS[10]
    after_forced = rec.recommend(Request("17850", k=4, include_new=2, include_items=("22913",)))
    assert reasons(after_forced) == ["forced", "new_product", "new_product", "model"]


def test_new_products_obey_exclusions_and_run_out(rec):
    pred = rec.recommend(Request("17850", k=8, include_new=10, exclude_items=(A_PRODUCTS[10],)))
    new = [r.product_id for r in pred.recommendations if r.reason == "new_product"]
    assert sorted(new) == sorted(set(NEW) - {A_PRODUCTS[10]})
    assert len(pred.recommendations) == 8 and A_PRODUCTS[10] not in ids(pred)


def test_known_customer_items_are_extra_exclusions(rec):
    base = ids(rec.recommend(Request("17850")))
    pred = rec.recommend(Request("17850", items=(base[0], "NOPE")))
    assert base[0] not in ids(pred) and pred.known and pred.unknown_items == ["NOPE"]


# ----------------------------------------------------------------- cold start
def test_unknown_customer_without_items_gets_popular_products(rec):
    pred = rec.recommend(Request("99999"))
    assert not pred.known and set(reasons(pred)) == {"popular"}
    assert ids(pred)[:2] == ["22960", "85123A"]  # 10 customers each; tie broken by id
    assert ids(pred) == [rec.product_ids[i] for i in rec.popular_order[:5]]
    assert pred.recommendations[0].score == pytest.approx(0.5)  # share of customers
    ruled = rec.recommend(Request("99999", exclude_popular=2, include_items=("21791",), k=3))
    assert ids(ruled) == ["21791"] + [rec.product_ids[i] for i in rec.popular_order[2:4]]
    assert reasons(ruled) == ["forced", "popular", "popular"]


def test_fold_in_puts_basket_similar_products_first(rec):
    basket = ("84029E", "22752", "21730")  # A-cluster
    pred = rec.recommend(Request("new-1", items=basket, k=6))
    assert not pred.known and set(reasons(pred)) == {"model"}
    assert set(ids(pred)) <= set(A_PRODUCTS) - set(basket)
    b = rec.recommend(Request(None, items=("22726", "21724"), k=6))
    assert set(ids(b)) <= set(B_PRODUCTS) - {"22726", "21724"}
    assert rec.recommend(Request(None, items=("22726",), exclude_purchased=False, k=30)).recommendations


def test_fold_in_solves_the_implicit_als_normal_equations(rec):
    basket = np.array([3, 5, 14])
    x = rec.fold_in(basket)
    y = rec.item_factors.astype(np.float64)
    r = np.zeros(len(y))
    r[basket] = 1.0
    c = 1.0 + rec.alpha * r
    p = (r > 0).astype(float)
    a = y.T @ (c[:, None] * y) + rec.reg_param * len(basket) * np.eye(y.shape[1])
    np.testing.assert_allclose(x, np.linalg.solve(a, y.T @ (c * p)), rtol=1e-4, atol=1e-5)


def test_explicit_model_fold_in_is_a_ridge_solve():
    rec = Recommender(make_model(implicit=False))
    basket = np.array([0, 2])
    y = rec.item_factors[basket].astype(np.float64)
    want = np.linalg.solve(y.T @ y + rec.reg_param * 2 * np.eye(4), y.sum(axis=0))
    np.testing.assert_allclose(rec.fold_in(basket), want, rtol=1e-4, atol=1e-6)
    pred = rec.recommend(Request("x", items=("85123A", "84406B")))
    assert set(ids(pred)) <= set(A_PRODUCTS)


def test_unknown_products_are_reported_not_fatal(rec):
    pred = rec.recommend(Request("nobody", items=("NOPE1",), include_items=("NOPE2",),
                                 exclude_items=("NOPE3", "NOPE1"), candidates=("NOPE4", "22960")))
    assert pred.unknown_items == ["NOPE1", "NOPE2", "NOPE3", "NOPE4"]
    assert ids(pred) == ["22960"] and reasons(pred) == ["popular"]  # no known basket: popularity


# ----------------------------------------------------------------- batch API
RULE_SETS = [
    None,
    Rules(),
    Rules(exclude_purchased=False, exclude_popular=3),
    Rules(include_new=2, include_items=("22913", "NOPE"), exclude_items=("84879",)),
    Rules(candidates=tuple(PRODUCTS[::2]), include_new=1),
]


@pytest.mark.parametrize("rules", RULE_SETS)
def test_batch_equals_single(rec, rules):
    block = rec.recommend_block(np.arange(len(CUSTOMERS)), 6, rules)
    r = rules or rec.default_rules
    singles = [rec.recommend(Request(c, k=6, exclude_purchased=r.exclude_purchased,
                                     exclude_popular=r.exclude_popular, include_new=r.include_new,
                                     exclude_items=r.exclude_items, include_items=r.include_items,
                                     candidates=r.candidates)).recommendations for c in CUSTOMERS]
    assert block == singles
    many = rec.recommend_many([Request(c, k=6, include_new=r.include_new, exclude_popular=r.exclude_popular,
                                       exclude_purchased=r.exclude_purchased, exclude_items=r.exclude_items,
                                       include_items=r.include_items, candidates=r.candidates)
                               for c in reversed(CUSTOMERS)])
    assert [p.recommendations for p in many] == singles[::-1]


@pytest.mark.parametrize("limit", ["BLOCK_ROWS", "BLOCK_CELLS"])
def test_batch_chunks_large_blocks(rec, monkeypatch, limit):
    monkeypatch.setattr(f"alsreco.core.recommender.{limit}", 3 if limit == "BLOCK_ROWS" else 3 * len(PRODUCTS))
    idx = np.array([5, 0, 19, 7, 7, 12, 1])
    assert rec.recommend_block(idx, 4) == [rec.recommend(Request(CUSTOMERS[i], k=4)).recommendations
                                           for i in idx]
    assert rec.recommend_block(np.array([], dtype=np.int64), 4) == []


def test_default_rules_come_from_the_model_hyperparameters():
    rec = Recommender(make_model(reco_item=3, exclude_purchased=False, include_new=1))
    assert rec.default_k == 3
    assert rec.default_rules == Rules(exclude_purchased=False, exclude_popular=0, include_new=1)
    [row] = rec.recommend_block(np.array([0]), 3)
    assert [r.reason for r in row] == ["new_product", "model", "model"]
    assert [r.product_id for r in row][1:] == A_PRODUCTS[:2]  # purchased allowed by default


def test_missing_hyperparameters_fall_back_to_schema_defaults():
    m = make_model()
    m.metadata = {"model_version": "bare"}
    rec = Recommender(m)
    d = hyperparameters.defaults()
    assert rec.default_k == d["reco_item"] and rec.default_rules == Rules() and rec.implicit
    assert rec.alpha == d["alpha"] and rec.reg_param == d["reg_param"]


def test_mixed_requests_keep_their_order(rec):
    reqs = [Request("16098"), Request("nobody"), Request(None, items=("21730",)), Request("17850", k=2)]
    preds = rec.recommend_many(reqs)
    assert [p.customer_id for p in preds] == ["16098", "nobody", None, "17850"]
    assert [p.known for p in preds] == [True, False, False, True]
    assert preds[1].recommendations[0].reason == "popular" and len(preds[3].recommendations) == 2
    assert preds[0].recommendations == rec.recommend(reqs[0]).recommendations


def test_one_customer_over_a_large_catalogue_matches_a_plain_reference():
    """20k products (speed: benchmarks/catalog.py, serve_goals.py): the rules as numpy reads them."""
    rng = np.random.default_rng(0)
    n_c, n_p, rank = 2000, 20_000, 32
    rows = rng.integers(0, n_c, 20_000)
    cols = rng.integers(0, n_p, 20_000)
    m = Model(
        customer_ids=np.array([str(i) for i in range(n_c)]), product_ids=np.array([f"P{i}" for i in range(n_p)]),
        product_names=np.array([""] * n_p),
        user_factors=rng.standard_normal((n_c, rank), dtype=np.float32),
        item_factors=rng.standard_normal((n_p, rank), dtype=np.float32),
        purchases=Purchases.from_coo(rows, cols, np.ones(len(rows), np.float32), (n_c, n_p)),
        product_popularity=np.bincount(cols, minlength=n_p).astype(np.int32),
        product_first_seen=np.zeros(n_p, dtype="datetime64[D]"),
        customer_first_seen=np.zeros(n_c, dtype="datetime64[D]"),
        new_products=np.arange(10, dtype=np.int32), new_customers=np.array([], dtype=np.int32),
        metadata={"model_version": "big"})
    rec = Recommender(m)
    popular = set(np.argsort(-m.product_popularity, kind="stable")[:100].tolist())
    for i in range(20):
        pred = rec.recommend(Request(str(i), k=10, exclude_popular=100, include_new=2))
        got = [int(r.product_id[1:]) for r in pred.recommendations]
        assert [r.reason for r in pred.recommendations] == ["new_product"] * 2 + ["model"] * 8
        scores = m.item_factors @ m.user_factors[i]
        out = set(m.purchases.row(i).tolist()) | popular
        new = [p for p in np.argsort(-scores[:10], kind="stable").tolist() if p not in out][:2]
        rest = [p for p in np.argsort(-scores, kind="stable").tolist() if p not in out and p not in new][:8]
        assert got == new + rest


@pytest.mark.parametrize("rules", RULE_SETS[1:])
def test_a_penalty_row_and_scattered_writes_block_the_same_products(rec, monkeypatch, rules):
    """Plans blocking many products add a 0 / -inf row to the keys; both ways give the same lists."""
    idx = np.arange(len(CUSTOMERS))
    monkeypatch.setattr("alsreco.core.rules.PENALTY_SHARE", 0)  # never a penalty row
    scattered = Recommender(rec.model).recommend_block(idx, 6, rules)
    monkeypatch.setattr("alsreco.core.rules.PENALTY_SHARE", 10 ** 9)  # always, once anything is blocked
    again = Recommender(rec.model)
    assert again.plan(rules).penalty is not None or not again.plan(rules).blocked.any()
    assert again.recommend_block(idx, 6, rules) == scattered
