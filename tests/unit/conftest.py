"""A small synthetic model with a structure the tests can reason about.

Two clusters on two latent axes. Cluster A products score 1.00, 0.98, 0.96, ... for
cluster A customers (factor [1, 0, 0, 0]) and cluster B products ~0.05; the same mirrored
for cluster B. Every A customer bought A[0] and one of A[1..3]; every B customer bought
B[0] and one of B[1..3]. A[10], A[11], B[10], B[11] are new products. A[0] and B[0]
tie on popularity (10 customers each): B[0] ("22960") wins the tie by product id.

`tests/integration/conftest.py` imports `write_synthetic` from here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alsreco.core import hyperparameters
from alsreco.core.artifact import Model, Purchases, write_model
from alsreco.core.recommender import Recommender

A_PRODUCTS = ["85123A", "71053", "84406B", "84029G", "84029E", "22752",
              "21730", "22633", "22632", "84879", "22745", "22748"]
B_PRODUCTS = ["22960", "22913", "22912", "22914", "21756", "22728",
              "22727", "22726", "21724", "21883", "10002", "21791"]
A_CUSTOMERS = ["17850", "13047", "12583", "13748", "15100", "15291", "14688", "17809", "15311", "14527"]
B_CUSTOMERS = ["16098", "18074", "17420", "16029", "12431", "17511", "13705", "14047", "15862", "12748"]
PRODUCTS = A_PRODUCTS + B_PRODUCTS
CUSTOMERS = A_CUSTOMERS + B_CUSTOMERS
NEW = [A_PRODUCTS[11], B_PRODUCTS[11], A_PRODUCTS[10], B_PRODUCTS[10]]  # newest first
VERSION = "synthetic-1"


def make_model(reco_item: int = 5, implicit: bool = True, **hp_overrides) -> Model:
    n_a, n_b = len(A_PRODUCTS), len(B_PRODUCTS)
    items = np.zeros((n_a + n_b, 4), dtype=np.float32)
    for i in range(n_a):
        items[i] = [1.0 - 0.02 * i, 0.05 - 0.001 * i, 0.0, 0.0]
    for i in range(n_b):
        items[n_a + i] = [0.05 - 0.001 * i, 1.0 - 0.02 * i, 0.0, 0.0]
    users = np.zeros((len(CUSTOMERS), 4), dtype=np.float32)
    users[:len(A_CUSTOMERS), 0] = 1.0
    users[len(A_CUSTOMERS):, 1] = 1.0
    rows, cols = [], []
    for j in range(len(A_CUSTOMERS)):
        rows += [j, j]
        cols += [0, 1 + j % 3]
    for j in range(len(B_CUSTOMERS)):
        rows += [len(A_CUSTOMERS) + j] * 2
        cols += [n_a, n_a + 1 + j % 3]
    shape = (len(CUSTOMERS), len(PRODUCTS))
    purchases = Purchases.from_coo(np.array(rows), np.array(cols), np.ones(len(rows), np.float32), shape)
    popularity = np.bincount(np.array(cols), minlength=len(PRODUCTS)).astype(np.int32)
    first_seen = np.full(len(PRODUCTS), np.datetime64("2011-01-01"), dtype="datetime64[D]")
    new = np.array([PRODUCTS.index(p) for p in NEW], dtype=np.int32)
    first_seen[new] = np.datetime64("2011-12-01")
    hp = hyperparameters.defaults()
    hp.update(reco_item=reco_item, implicit_prefs=implicit, **hp_overrides)
    return Model(
        customer_ids=np.array(CUSTOMERS), product_ids=np.array(PRODUCTS),
        product_names=np.array([f"PRODUCT {p}" if p != "71053" else "" for p in PRODUCTS]),
        user_factors=users, item_factors=items, purchases=purchases, product_popularity=popularity,
        product_first_seen=first_seen,
        customer_first_seen=np.full(len(CUSTOMERS), np.datetime64("2010-12-01"), dtype="datetime64[D]"),
        new_products=new, new_customers=np.array([], dtype=np.int32),
        metadata={"model_version": VERSION, "hyperparameters": hp, "retention_date": "2011-12-09",
                  "als": {"rank": 4, "reg_param": hp["reg_param"], "alpha": hp["alpha"],
                          "implicit_prefs": implicit}},
    )


def write_synthetic(model_dir: Path, **kwargs) -> Path:
    write_model(make_model(**kwargs), model_dir)
    return model_dir


@pytest.fixture
def model() -> Model:
    return make_model()


@pytest.fixture
def rec(model) -> Recommender:
    return Recommender(model)


@pytest.fixture
def model_dir(tmp_path) -> Path:
    return write_synthetic(tmp_path / "model")


def random_model(n_customers: int = 120, n_products: int = 700, rank: int = 4, seed: int = 0,
                 n_new: int = 25, **hp) -> Model:
    """Factors are multiples of 1/4 in [-1, 1]: every dot product is exact in float32 (so any
    BLAS blocking gives the same scores) and many scores tie. Customer 0 bought nothing,
    customer 1 all but three products, customer 2 all but one, the rest 0-40 products."""
    rng = np.random.default_rng(seed)
    users = rng.integers(-4, 5, (n_customers, rank)).astype(np.float32) / 4
    items = rng.integers(-4, 5, (n_products, rank)).astype(np.float32) / 4
    rows, cols = [], []
    for c in range(1, n_customers):
        if c == 1:
            bought = np.setdiff1d(np.arange(n_products), rng.choice(n_products, 3, replace=False))
        elif c == 2:
            bought = np.delete(np.arange(n_products), 5)
        else:
            bought = rng.choice(n_products, rng.integers(0, 40), replace=False)
        rows += [c] * len(bought)
        cols += list(bought)
    rows_a, cols_a = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)
    purchases = Purchases.from_coo(rows_a, cols_a, np.ones(len(rows_a), np.float32), (n_customers, n_products))
    popularity = np.bincount(cols_a, minlength=n_products).astype(np.int32)
    popularity[rng.choice(n_products, 50)] = 7  # ties in the best sellers: broken by product id
    params = hyperparameters.defaults()
    params.update(hp)
    products = np.array([f"P{i:05d}" for i in rng.permutation(n_products)], dtype="U16")  # id order != index
    customers = np.array([f"C{i}" for i in range(n_customers)], dtype="U16")
    customers[3], customers[4], products[7] = 'odd,"id"', "x\ny", "comma,product"
    day = np.datetime64("2011-01-01")
    return Model(
        customer_ids=customers, product_ids=products, product_names=np.array([""] * n_products),
        user_factors=users, item_factors=items, purchases=purchases, product_popularity=popularity,
        product_first_seen=np.full(n_products, day), customer_first_seen=np.full(n_customers, day),
        new_products=rng.choice(n_products, n_new, replace=False).astype(np.int32),
        new_customers=np.zeros(0, dtype=np.int32),
        metadata={"model_version": "random-1", "hyperparameters": params,
                  "als": {"rank": rank, "implicit_prefs": True, "reg_param": 0.1, "alpha": 5.0}})
