"""A one-customer request's filter on product attributes is evaluated on its best-scored candidates only
(core/rules.Plan.lazy, core/topk.top_k_where): the lists equal the whole-mask path's, forced and new
products included, and the whole mask is never built for such a request."""
from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alsreco.core.catalog import Catalog, encode
from alsreco.core.filters import FilterBook, removed, spec_of
from alsreco.core.recommender import Recommender
from alsreco.core.rules import Request
from tests.unit.conftest import random_model
from tests.unit.test_catalog_requests import catalog_model
from tests.unit.test_filters import catalogues, expressions

MODEL = catalog_model(3)
STATIC = [
    ("EXCLUDE ItemID WHERE Items.category IN ($cats)", {"cats": ["toys", "adult"]}),
    ("INCLUDE ItemID WHERE Items.price < $max AND Items.in_stock = true", {"max": 50}),
    ("INCLUDE ItemID WHERE Items.tags IN ($t) OR Items.price > 90", {"t": ["gift"]}),
    ("INCLUDE ItemID WHERE Items.category = 'garden' AND Items.price >= $lo", {"lo": 60}),  # ~5% pass
    ("INCLUDE ItemID WHERE ItemID IN ($ids)", {"ids": [str(i) for i in range(0, 700, 9)]}),
]


def lists(predictions):
    return [[(r.product_id, r.reason) for r in p.recommendations] for p in predictions]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(MODEL.customer_ids) - 1), st.sampled_from(STATIC), st.integers(1, 10), st.booleans(),
       st.integers(0, 4), st.booleans(), st.booleans(), st.integers(0, 30))
def test_candidates_only_equal_the_whole_mask(customer, flt, k, force, include_new, purchased, similar, popular):
    text, values = flt
    rec = Recommender(MODEL)  # a fresh plan cache: nothing evaluated before
    req = Request(customer_id=None if similar else MODEL.customer_ids[customer].item(),
                  item_id=MODEL.product_ids[customer].item() if similar else None, k=k,
                  include_items=tuple(MODEL.product_ids[:8].tolist()) if force else (), include_new=include_new,
                  exclude_purchased=purchased, exclude_popular=popular, filters=spec_of(text, values))
    rec.check(req)  # what serving does first: resolves the plan without counting as a second request
    one = rec.recommend(req)
    rules = rec.rules_for(req)
    plan = rec._plans[rules]
    assert plan.lazy and plan._lazy_mask is None  # the whole mask was never built for it
    both = rec.recommend_many([req, req])  # the same rules again: the whole mask, in the pool, once
    again = rec._plans[rules]
    assert not again.lazy and np.array_equal(again.pool_blocked, plan.blocked)
    assert lists([one]) == lists([rec.recommend(req)])  # one row: the whole mask gives the same list
    # a block of rows is scored by one matrix product, whose last bits may differ from one row's (GEMM
    # against GEMV: near-ties can swap), so the block is held to a block with the filter's mask built first
    assert lists(both) == lists(Recommender(MODEL).recommend_many([req, req]))
    gone = removed(rec.cat.filters.bind(spec_of(text, values)), len(MODEL.product_ids))
    index = {p: i for i, p in enumerate(MODEL.product_ids.tolist())}
    assert not any(gone[index[r.product_id]] for r in one.recommendations)


def test_batch_ranker_of_a_lazy_plan_applies_the_whole_filter():
    rec = Recommender(MODEL)
    text, values = STATIC[3]
    rules = dataclasses.replace(rec.default_rules, filters=spec_of(text, values))
    one = rec.recommend_block(np.arange(5), 10, rules)  # a cached lazy plan, then the batch ranker
    top = rec.ranker(10, rules).top(np.arange(5))
    gone = removed(rec.cat.filters.bind(spec_of(text, values)), len(MODEL.product_ids))
    index = {p: i for i, p in enumerate(MODEL.product_ids.tolist())}
    assert any(one) and not any(gone[index[r.product_id]] for row in one for r in row)
    assert (top >= 0).any() and not gone[top[top >= 0]].any()
    assert [[index[r.product_id] for r in row] for row in one] == [t[t >= 0].tolist() for t in top]


@settings(max_examples=200, deadline=None)
@given(catalogues(), expressions(), st.sampled_from(["INCLUDE", "EXCLUDE"]), st.data())
def test_removed_at_equals_the_whole_mask_at_those_products(cat, expression, action, data):
    n, cells = cat
    text, _ = expression
    if "Purchases." in text:
        return  # filters on the customer's purchases are per row: never evaluated lazily
    catalog = Catalog(n)
    for name, kind in (("s", "string"), ("l", "list"), ("x", "number"), ("f", "bool"), ("t", "date")):
        catalog.columns[name] = encode(name, kind, cells[name])
    at = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=8)), dtype=np.int64)
    fresh = FilterBook(catalog, {str(i): i for i in range(n)}).bind(spec_of(f"{action} ItemID WHERE {text}", None))
    [bound] = fresh
    got = bound.removed_at(at)  # before the whole mask exists: evaluated at `at` only
    assert bound._mask is None
    assert np.array_equal(got, bound.removed()[at]) and np.array_equal(bound.removed_at(at), got)


def test_a_model_without_ties_gives_the_same_lists_through_either_path():
    model = random_model(n_products=3000, seed=4)
    rng = np.random.default_rng(4)
    cat = Catalog(3000)
    cat.columns["brand"] = encode("brand", "string", [f"b{b}" for b in rng.integers(0, 500, 3000)])
    cat.columns["price"] = encode("price", "number", rng.lognormal(2.5, 1.0, 3000).round(2).tolist())
    model = dataclasses.replace(model, catalog=cat)
    rec = Recommender(model)
    for c in range(40):
        values = {"b": [f"b{x}" for x in rng.choice(500, 100, replace=False)], "lo": float(rng.uniform(1, 20))}
        req = Request(customer_id=model.customer_ids[c].item(), k=10, filters=spec_of(
            "INCLUDE ItemID WHERE Items.brand IN ($b) AND Items.price >= $lo", values))
        assert lists([rec.recommend(req)]) * 2 == lists(rec.recommend_many([req, req]))


def test_a_request_starts_with_as_many_candidates_as_the_filter_kept_before():
    """The share of asked products a filter kept (a running estimate per expression) sizes the next
    request's first round: a filter passing ~5% starts with many more groups than the first guess."""
    rec = Recommender(MODEL)
    text, _ = STATIC[3]  # ~5% pass
    compiled = rec.cat.filters.compile(text)
    assert compiled.kept_share == 0.5
    for c in range(30):  # other values each time: lazy plans, never a whole mask
        req = Request(customer_id=MODEL.customer_ids[c].item(), k=3, filters=spec_of(text, {"lo": 60 + c / 100}))
        rec.recommend(req)
    assert compiled.kept_share < 0.2
    plan = rec._plans[rec.rules_for(req)]
    assert plan.lazy and plan.first_groups(3) > 2 * 3 / 0.2
