"""Vectorised batch scoring (core/scoring.py, train/batch.py) and bounded-memory evaluation
(train/evaluate.py, train/metrics.py) against the per-customer references they replaced."""
from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from alsreco.core import topk
from alsreco.core.artifact import Model
from alsreco.core.recommender import Recommender
from alsreco.core.rules import Request, Rules
from alsreco.train import batch, evaluate, metrics
from tests.unit.conftest import random_model


def reference_csv(model: Model) -> str:
    """What train/batch.py wrote before: Recommender.recommend per customer, csv.writer."""
    rec = Recommender(model)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(batch.HEADER)
    for cid in model.customer_ids:
        for rank, r in enumerate(rec.recommend(Request(str(cid))).recommendations, 1):
            w.writerow((cid, rank, r.product_id, f"{r.score:.6f}", r.reason))
    return out.getvalue()


CASES = [
    dict(reco_item=10),
    dict(reco_item=10, exclude_popular=12, include_new=3),
    dict(reco_item=5, exclude_popular=0, include_new=8),  # include_new > N: all slots may be new
    dict(reco_item=7, exclude_purchased=False, exclude_popular=3, include_new=2),
    dict(reco_item=40, exclude_popular=650, include_new=4),  # pool smaller than N
    dict(reco_item=10, exclude_popular=700),  # empty pool
    dict(reco_item=3, group_size=7, include_new=1),
]


@pytest.mark.parametrize("hp", CASES)
@pytest.mark.parametrize("cells,threads", [(1 << 22, 1), (5000, 1), (1 << 22, 3)])
def test_batch_file_equals_per_customer_reference(tmp_path, hp, cells, threads, monkeypatch):
    model = random_model(**hp)
    path = tmp_path / "out" / "recommendations.csv"
    if threads > 1:  # every block's top-k split between threads, as `train` runs it
        monkeypatch.setattr(topk, "MIN_THREADED_CELLS", 0)
    rows = batch.write_recommendations(model, path, cells=cells, threads=threads)
    expected = reference_csv(model)
    assert path.read_bytes().decode() == expected
    assert rows == expected.count("\r\n") - 1
    assert not list(path.parent.glob(".*"))  # no temp file left behind


def test_batch_short_lists_and_reasons(tmp_path):
    model = random_model(reco_item=10, include_new=3)
    path = tmp_path / "recommendations.csv"
    batch.write_recommendations(model, path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    per = df.groupby("customer_id", sort=False).size()
    assert per["C1"] == 3 and per["C2"] == 1 and per["C0"] == 10
    assert set(df["reason"]) == {"model", "new_product"}
    assert df[df["customer_id"] == 'odd,"id"'].shape[0] == 10


@pytest.mark.parametrize("rules", [
    Rules(),
    Rules(exclude_popular=5, include_new=2, exclude_items=("P00001", "P00002", "nope")),
    Rules(include_items=("P00010", "P00011", "P00012"), include_new=2),
    Rules(include_items=tuple(f"P{i:05d}" for i in range(12)), include_new=2),  # forced fill the list
    Rules(candidates=tuple(f"P{i:05d}" for i in range(0, 700, 3)), exclude_purchased=False, include_new=5),
])
def test_ranker_equals_recommend_block_under_any_rules(rules):
    model = random_model()
    rec = Recommender(model)
    ranker = rec.ranker(8, rules, cells=3000)
    expected = rec.recommend_block(np.arange(len(model.customer_ids)), 8, rules)
    got: list[list[tuple]] = [[] for _ in expected]
    for chunk in ranker.blocks(np.arange(len(model.customer_ids))):
        ranked = ranker.rank(chunk)
        assert len(chunk) <= ranker.rows
        for c, rank, p, s, why in zip(ranked.customers, ranked.rank, ranked.products, ranked.scores, ranked.reasons):
            assert rank == len(got[c]) + 1
            got[c].append((rec.product_ids[p], round(float(s), 6), batch.REASONS[why]))
    assert got == [[(r.product_id, r.score, r.reason) for r in row] for row in expected]


def test_block_rows_bounded_by_cells_and_group_size():
    model = random_model(group_size=10000)
    assert Recommender(model).ranker(10, cells=7000).rows == 7000 // 700
    assert Recommender(model).ranker(10, cells=1 << 30, max_rows=33).rows == 33
    assert Recommender(model).ranker(10, cells=10).rows == 1


@pytest.mark.parametrize("scores", [
    [0.0, -0.0, 1e-9, -1e-9, 0.0078125, -0.0078125, 1 / 3, 2.5e-7, 7.5e-7, 123.4567891, -98.76543],
    np.random.default_rng(1).standard_normal(5000) * 10.0 ** np.random.default_rng(2).integers(-8, 4, 5000),
])
def test_format_scores_like_python(scores):
    s = np.asarray(scores, dtype=np.float32)
    assert batch.format_scores(s).to_pylist() == [f"{round(float(x), 6):.6f}" for x in s]


# ----------------------------------------------------------------- evaluation
def reference_ranking_metrics(recommended, relevant, k, n_items):
    """The per-row loop metrics.ranking_metrics replaced, verbatim."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    p = r = ndcg = ap = 0.0
    for recs, rel in zip(recommended, relevant):
        hits = np.fromiter((int(x) in rel for x in recs[:k]), dtype=bool, count=min(k, len(recs)))
        n_hit = int(hits.sum())
        p += n_hit / k
        r += n_hit / len(rel)
        ideal = discounts[:min(len(rel), k)].sum()
        ndcg += float(discounts[:len(hits)][hits].sum() / ideal)
        if n_hit:
            precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
            ap += float((precision_at * hits).sum() / min(len(rel), k))
    n = max(len(relevant), 1)
    shown = recommended[:, :k]
    coverage = len(np.unique(shown[shown >= 0])) / n_items if len(recommended) else 0.0
    return {f"precision_at_{k}": p / n, f"recall_at_{k}": r / n, f"ndcg_at_{k}": ndcg / n,
            f"map_at_{k}": ap / n, "coverage": coverage}


@pytest.mark.parametrize("k", [3, 10, 20])
def test_ranking_metrics_identical_to_reference(k):
    rng = np.random.default_rng(k)
    n_items, rows = 60, 3000
    recs = np.stack([rng.permutation(n_items)[:k] for _ in range(rows)])
    recs[rng.random(recs.shape) < 0.05] = -1  # short lists
    relevant = [set(rng.choice(n_items, rng.integers(1, 30), replace=False).tolist()) for _ in range(rows)]
    relevant[:50] = [set(r[:j][r[:j] >= 0].tolist()) | {n_items + 5} for j, r in enumerate(recs[:50], 1)]  # hits
    got = metrics.ranking_metrics(recs, metrics.Relevant.from_sets(relevant), k, n_items)
    assert got == reference_ranking_metrics(recs, relevant, k, n_items)  # bit for bit
    assert metrics.ranking_metrics(recs, relevant, k, n_items) == got  # sets are accepted too


def test_relevant_items_and_lists_equal_the_dense_reference():
    model = random_model(n_customers=300, n_products=500, seed=3)
    bought, rng = model.purchases, np.random.default_rng(4)
    users = rng.integers(-1, 300, 4000)
    items = np.where(rng.random(4000) < 0.5, rng.integers(-1, 500, 4000),
                     bought.indices[rng.integers(0, len(bought.indices), 4000)])  # some already bought
    relevant: dict[int, set[int]] = {}  # the old dict-of-sets construction
    t = pd.DataFrame({"u": users, "i": items})
    for u, its in t[(t["u"] >= 0) & (t["i"] >= 0)].drop_duplicates().groupby("u")["i"]:
        fresh = set(its.tolist()) - set(bought.row(int(u)).tolist())
        if fresh:
            relevant[int(u)] = fresh
    rows, rel = evaluate.relevant_items(users, items, bought)
    assert rows.tolist() == list(relevant)
    assert [set(rel.indices[a:b].tolist()) for a, b in zip(rel.indptr[:-1], rel.indptr[1:])] == list(relevant.values())

    k = 10
    uf, itf = model.user_factors, model.item_factors
    old_model = np.concatenate([metrics.top_k(uf[rows[s:s + 64]] @ itf.T, k, bought, rows[s:s + 64])
                                for s in range(0, len(rows), 64)])
    popularity = np.bincount(bought.indices, minlength=500).astype(np.float32)
    old_pop = metrics.top_k(np.broadcast_to(popularity, (len(rows), 500)), k, bought, rows)
    new_model = evaluate.top_lists(uf, itf, bought, rows, k, cells=4000)
    new_pop = evaluate.popularity_lists(popularity, bought, rows, k, cells=4000)
    assert np.array_equal(new_model, old_model) and np.array_equal(new_pop, old_pop)
    sets = [relevant[int(u)] for u in rows]
    for recs in (new_model, new_pop):
        assert metrics.ranking_metrics(recs, rel, k, 500) == reference_ranking_metrics(recs, sets, k, 500)
