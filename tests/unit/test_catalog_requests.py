"""Catalogue-aware requests on a model with attributes: filters never let a filtered product through
(forced, new, promoted and exploration slots included), promotions take their share at their
positions, exploration is reproducible with a seed, `fields` come back, and the same for similar
products and anonymous baskets."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsreco.core.artifact import load_model, write_model
from alsreco.core.catalog import Catalog, encode
from alsreco.core.filters import FilterError, removed, spec_of
from alsreco.core.recommender import Recommender
from alsreco.core.rules import Promotion, Request
from alsreco.core.slots import share_of, spread
from tests.unit.conftest import random_model

CATEGORIES = ["toys", "garden", "kitchen", "adult"]


def catalog_model(seed: int = 0):
    model = random_model(seed=seed)
    rng = np.random.default_rng(seed + 1)
    n = len(model.product_ids)
    cat = Catalog(n)
    cat.columns["category"] = encode("category", "string",
                                     [None if rng.random() < 0.05 else str(rng.choice(CATEGORIES)) for _ in range(n)])
    cat.columns["price"] = encode("price", "number", [None if rng.random() < 0.05 else float(rng.integers(1, 100))
                                                      for _ in range(n)])
    cat.columns["in_stock"] = encode("in_stock", "bool", [bool(rng.random() < 0.8) for _ in range(n)])
    cat.columns["tags"] = encode("tags", "list", [list(rng.choice(["red", "blue", "kids", "gift"],
                                                                  rng.integers(0, 3), replace=False))
                                                  for _ in range(n)])
    popularity = model.product_popularity.copy()
    popularity[rng.choice(n, 40, replace=False)] = 0  # never sold: always explorable
    return dataclasses.replace(model, catalog=cat, product_popularity=popularity,
                               metadata={**model.metadata, "retention_date": "2011-06-01"})


MODEL = catalog_model()
REC = Recommender(MODEL)
FILTERS = [
    ("EXCLUDE ItemID WHERE Items.category IN ($cats)", {"cats": ["toys", "adult"]}),
    ("INCLUDE ItemID WHERE Items.price < $max AND Items.in_stock = true", {"max": 50}),
    ("INCLUDE ItemID WHERE Items.tags IN ($t) OR Items.price > 90", {"t": ["gift"]}),
    ("EXCLUDE ItemID WHERE Items.category IN Purchases.category", None),
    ("INCLUDE ItemID WHERE Items.tags IN Purchases.tags AND NOT Items.category = 'garden'", None),
]


def served(rec, req):
    rec.check(req)
    return [MODEL.product_ids.tolist().index(r.product_id) for r in rec.recommend(req).recommendations]


@settings(max_examples=120, deadline=None)
@given(st.integers(0, len(MODEL.customer_ids) - 1), st.sampled_from(FILTERS), st.integers(1, 40),
       st.booleans(), st.integers(0, 5), st.floats(0, 0.5), st.floats(0, 0.5), st.booleans(), st.booleans())
def test_no_filtered_product_is_ever_served(customer, flt, k, force, include_new, share, explore, purchased,
                                            similar):
    text, values = flt
    forced = tuple(MODEL.product_ids[:8].tolist()) if force else ()
    item = MODEL.product_ids[customer].item() if similar else None
    req = Request(customer_id=None if similar else MODEL.customer_ids[customer].item(), item_id=item, k=k,
                  include_items=forced, include_new=include_new, exclude_purchased=purchased,
                  filters=spec_of(text, values), exploration_weight=explore, seed=customer,
                  promotion=Promotion(spec_of("INCLUDE ItemID WHERE Items.price > 20", None), share))
    got = served(REC, req)
    bought = [] if similar else MODEL.purchases.row(customer)
    gone = np.atleast_2d(removed(REC.cat.filters.bind(spec_of(text, values)), len(MODEL.product_ids), [bought]))[0]
    assert not gone[got].any(), [MODEL.product_ids[i] for i in got if gone[i]]
    assert len(got) == len(set(got)) <= k


def test_promotions_take_their_share_at_spread_positions():
    promo = Promotion(spec_of("INCLUDE ItemID WHERE Items.category = 'kitchen'", None), 0.3)
    req = Request(customer_id=MODEL.customer_ids[5].item(), k=10, promotion=promo, fields=("category",))
    recs = REC.recommend(req).recommendations
    positions = [i for i, r in enumerate(recs) if r.reason == "promoted"]
    assert positions == spread(share_of(0.3, 10), 10) == [1, 5, 8]
    assert all(r.attributes["category"] == "kitchen" for r in recs if r.reason == "promoted")
    # the promoted ones are the best-scoring kitchen products not otherwise listed higher
    scores = [r.score for r in recs if r.reason == "promoted"]
    assert scores == sorted(scores, reverse=True)
    plain = REC.recommend(dataclasses.replace(req, promotion=None)).recommendations
    promoted = {x.product_id for x in recs if x.reason == "promoted"}
    assert [r.product_id for r in recs if r.reason != "promoted"] == \
           [r.product_id for r in plain if r.product_id not in promoted][:7]


def test_exploration_is_reproducible_with_a_seed_and_only_new_products():
    base = Request(customer_id=MODEL.customer_ids[7].item(), k=20, exploration_weight=0.25,
                   exploration_item_age_days=0)
    lists = [[r.product_id for r in REC.recommend(dataclasses.replace(base, seed=s)).recommendations]
             for s in (1, 1, 2, 3, 4)]
    assert lists[0] == lists[1]
    assert len({tuple(x) for x in lists}) > 1                 # other seeds draw other products
    never = {MODEL.product_ids[i] for i in np.flatnonzero(MODEL.product_popularity == 0)}
    recs = REC.recommend(dataclasses.replace(base, seed=1)).recommendations
    explored = [r for r in recs if r.reason == "exploration"]
    assert len(explored) == share_of(0.25, 20) == 5 and {r.product_id for r in explored} <= never
    assert REC.recommend(dataclasses.replace(base, exploration_weight=0.0)).recommendations[0].reason == "model"


def test_fields_come_back_for_customers_similar_products_and_baskets():
    for req in (Request(customer_id=MODEL.customer_ids[9].item(), k=3, fields=("price", "tags")),
                Request(item_id=MODEL.product_ids[4].item(), k=3, fields=("price", "tags")),
                Request(items=tuple(MODEL.product_ids[:3].tolist()), k=3, fields=("price", "tags"))):
        for r in REC.recommend(req).recommendations:
            i = MODEL.product_ids.tolist().index(r.product_id)
            assert r.attributes == {"price": MODEL.catalog.columns["price"].value(i),
                                    "tags": MODEL.catalog.columns["tags"].value(i)}


@pytest.mark.parametrize("req, words", [
    (Request(customer_id="C5", filters=spec_of("INCLUDE ItemID WHERE Items.colour = 'red'", None)),
     "filter: unknown attribute Items.colour"),
    (Request(customer_id="C5", filters=spec_of("INCLUDE ItemID WHERE Items.price < $max", {"max": "x"})),
     "filter: filter_values.max is a number"),
    (Request(customer_id="C5", promotion=Promotion(spec_of("INCLUDE ItemID WHERE Items.x = 1", None), 0.2)),
     "promotion.filter: unknown attribute Items.x"),
    (Request(customer_id="C5", fields=("price", "weight")), "fields: unknown attribute 'weight'"),
])
def test_what_only_the_model_knows_is_a_named_error(req, words):
    with pytest.raises(FilterError, match=words):
        REC.check(req)


def test_a_wrong_value_is_named_by_check_even_with_no_new_or_forced_product_to_evaluate():
    """check() binds every value: before, a filter met no product until ranking (no new products, none
    forced), so a mistyped value passed check() and failed inside recommend()."""
    rec = Recommender(MODEL)
    rec.new_products = np.empty(0, dtype=np.int64)  # as a model whose products have all sold
    for values, words in (({"c": [1, 2]}, "filter_values.c is text: write the value in quotes, not 1"),
                          ({"c": ["toys", True]}, "filter_values.c is text: write the value in quotes, not True")):
        req = Request(customer_id="C5", filters=spec_of("INCLUDE ItemID WHERE Items.category IN ($c)", values))
        with pytest.raises(FilterError, match=words):
            rec.check(req)


def test_the_catalogue_survives_the_model_files_and_a_model_without_one_still_loads(tmp_path):
    write_model(MODEL, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.catalog.describe() == MODEL.catalog.describe()
    req = Request(customer_id="C9", k=5, filters=spec_of(*FILTERS[1]), fields=("category",))
    assert Recommender(loaded).recommend(req).recommendations == REC.recommend(req).recommendations
    bare = dataclasses.replace(MODEL, catalog=None)
    write_model(bare, tmp_path / "m")                         # overwritten: the old attribute files go
    assert not list((tmp_path / "m").glob("catalog*"))
    assert len(load_model(tmp_path / "m").catalog) == 0


def test_a_batch_filter_shapes_the_batch_ranker(tmp_path):
    hp = dict(MODEL.metadata["hyperparameters"], batch_filter=FILTERS[3][0])
    model = dataclasses.replace(MODEL, metadata={**MODEL.metadata, "hyperparameters": hp})
    rec = Recommender(model)
    ranker = rec.ranker(10, rec.batch_rules())
    top = ranker.top(np.arange(len(model.customer_ids)))
    for c in range(len(model.customer_ids)):
        gone = np.atleast_2d(removed(rec.cat.filters.bind(spec_of(FILTERS[3][0], None)), len(model.product_ids),
                                     [model.purchases.row(c)]))[0]
        listed = top[c][top[c] >= 0]
        assert not gone[listed].any()
        req = Request(customer_id=model.customer_ids[c].item(), k=10, filters=spec_of(FILTERS[3][0], None))
        assert listed.tolist() == served(rec, req)
