"""Data and scoring for `benchmarks.quality`: the raw rows and their two hold-out protocols, the held-out
purchases scored from a model's files, similar-product hit rates, and the generated dataset (benchmarks/datagen.py)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

K = 10
WINDOW_DAYS = 3
GENERATED = {"rows": 300_000, "customers": 20_000, "products": 5_000, "seed": 0}  # the second dataset
TREND = {**GENERATED, "lifecycle": 0.5}  # the third: half the products launch and fade (datagen.py)


def generated_csv(work: Path, rows: int = GENERATED["rows"], customers: int = GENERATED["customers"],
                  products: int = GENERATED["products"], seed: int = GENERATED["seed"], lifecycle: float = 0.0) -> Path:
    """The generated dataset (seeded power-law sales; `lifecycle`: that share of the products launch and
    fade), written once under `work`."""
    from . import datagen
    tail = f"-lc{lifecycle:g}" if lifecycle else ""
    path = work / f"generated-{rows}-{customers}-{products}-s{seed}{tail}.csv"
    if not path.is_file():
        datagen.write(datagen.generate(rows, customers, products, seed, lifecycle=lifecycle), path)
    return path


# ----------------------------------------------------------------------------- data
def load_raw(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The raw rows (strings, as in the file) and a cleaned view with the product's rules."""
    from alsreco.core import hyperparameters
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    hp = hyperparameters.defaults()
    customer = raw["CustomerID"].str.strip().str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    product = raw["StockCode"].str.strip()
    date = pd.to_datetime(raw["InvoiceDate"].str.strip(), format="%m/%d/%y %H:%M", errors="coerce")
    if date.isna().mean() > 0.5:
        date = pd.to_datetime(raw["InvoiceDate"].str.strip(), format="mixed", errors="coerce")
    qty = pd.to_numeric(raw["Quantity"], errors="coerce").fillna(0)
    invoice = raw["InvoiceNo"].str.strip()
    ok = ((customer != "") & ~invoice.str.upper().str.startswith("C") & (qty > 0)
          & ~product.isin(set(hp["non_product_codes"])) & date.notna())
    clean = pd.DataFrame({"customer": customer, "product": product, "date": date, "invoice": invoice})[ok]
    raw = raw.assign(_customer=customer, _date=date, _invoice=invoice)
    return raw, clean


def split_time_window(raw: pd.DataFrame, clean: pd.DataFrame, days: int = WINDOW_DAYS):
    as_of = clean["date"].max().normalize()
    start = as_of - pd.Timedelta(days=days - 1)
    train_raw = raw[~(raw["_date"] >= start)]
    test = clean[clean["date"] >= start]
    return train_raw, test, {"window_start": str(start.date()), "window_end": str(as_of.date())}


def split_last_basket(raw: pd.DataFrame, clean: pd.DataFrame):
    inv = (clean.groupby(["customer", "invoice"])["date"].min().reset_index()
           .sort_values(["customer", "date", "invoice"]))
    n = inv.groupby("customer")["invoice"].transform("size")
    last = inv[n >= 2].groupby("customer").tail(1)
    keys = pd.MultiIndex.from_frame(last[["customer", "invoice"]])
    raw_keys = pd.MultiIndex.from_arrays([raw["_customer"], raw["_invoice"]])
    clean_keys = pd.MultiIndex.from_arrays([clean["customer"], clean["invoice"]])
    train_raw = raw[~raw_keys.isin(keys)]
    test = clean[clean_keys.isin(keys)]
    return train_raw, test, {"customers_with_2_invoices": int(len(last))}


def to_csv_bytes(train_raw: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    train_raw.drop(columns=[c for c in train_raw.columns if c.startswith("_")]).to_csv(buf, index=False)
    return buf.getvalue().encode()


# ----------------------------------------------------------------------------- scoring
class Holdout:
    """The held-out purchases mapped onto one model's indices. With `train_lines` (the last_basket
    protocol: the training part's clean lines), each customer's basket is scored with the trend arrays as of
    the day before it (alsreco/train/day_trends.py: the recent and Trending-Now lists, all-time best
    sellers up to that day, and the model's blend signal), as a model retrained that night would serve."""

    def __init__(self, model, test: pd.DataFrame, train_lines: pd.DataFrame | None = None):
        cust = pd.Index([str(x) for x in model.customer_ids])
        prod = pd.Index([str(x) for x in model.product_ids])
        t = pd.DataFrame({"u": cust.get_indexer(test["customer"]), "i": prod.get_indexer(test["product"])})
        t = t[(t["u"] >= 0) & (t["i"] >= 0)].drop_duplicates()
        relevant: dict[int, set[int]] = {}
        for u, items in t.groupby("u")["i"]:
            fresh = set(items.tolist()) - set(model.purchases.row(int(u)).tolist())
            if fresh:
                relevant[int(u)] = fresh
        self.rows = np.fromiter(sorted(relevant), dtype=np.int64)
        self.relevant = [relevant[int(u)] for u in self.rows]
        self.n_products = len(prod)
        self.purchases = model.purchases
        self.product_ids = np.asarray(prod)
        self.day, self.points = None, None
        if train_lines is not None and len(self.rows):
            from alsreco.core import hyperparameters
            from alsreco.train import day_trends
            hp = {**hyperparameters.defaults(), **(model.metadata.get("hyperparameters") or {})}
            first = test.groupby("customer")["date"].min()
            days = day_trends.epoch_days(first.reindex(cust[self.rows]).to_numpy())
            self.day = day_trends.compute(train_lines, self.product_ids, np.unique(days), hp["trend_window_days"],
                                          hp["trend_min_support"])
            self.points = self.day.point_of(days)

    def per_customer(self, of_point) -> np.ndarray:
        """customers x products: `of_point(i)` (a vector per as-of point) for each test customer's point."""
        rows = {int(i): np.asarray(of_point(int(i)), dtype=np.float32) for i in np.unique(self.points)}
        return np.stack([rows[int(i)] for i in self.points]) if len(self.points) else \
            np.zeros((0, self.n_products), np.float32)

    def served_bias(self, model) -> np.ndarray | None:
        """The blend as serving adds it: the model's weight x its signal (as of each basket's day with
        `train_lines`); None without a blend."""
        from alsreco.core.recommender import Recommender
        bias = Recommender(model).bias(None)
        if bias is None or self.day is None:
            return bias
        blend = model.metadata.get("blend") or {}
        weight = np.float32(blend["weight"])
        return weight * self.per_customer(lambda i: self.day.signal(blend["signal"], i))

    def baseline_key(self, name: str, popularity, recent, trending) -> np.ndarray:
        """The one-list baseline `name`'s key (alsreco.train.holdout.baseline_keys): one vector from the
        given arrays, or per customer as of their basket's day with `train_lines`."""
        from alsreco.train.holdout import baseline_keys
        if self.day is None:
            return baseline_keys(popularity, recent, trending, self.product_ids)[name]
        return self.per_customer(lambda i: baseline_keys(*self.day.arrays(i), self.product_ids)[name])

    def score(self, users: np.ndarray, items: np.ndarray, bias: np.ndarray | None = None) -> dict[str, float]:
        return self.score_terms(users, items, bias)[0]

    def score_terms(self, users: np.ndarray, items: np.ndarray, bias: np.ndarray | None = None
                    ) -> tuple[dict[str, float], np.ndarray]:
        """(metrics, NDCG@K per test customer) of the factors' lists, `bias` per product added to the
        scores (the trend blend, as serving adds it)."""
        scores = np.asarray(users)[self.rows] @ np.asarray(items).T
        return self._lists(scores if bias is None else scores + np.asarray(bias, dtype=np.float32))

    def score_popularity(self, popularity: np.ndarray) -> dict[str, float]:
        return self.score_order(popularity)[0]

    def score_order(self, key: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """(metrics, NDCG@K per test customer) of one list for everyone (or one per customer when `key` is
        customers x products): the products by `key`, best first (ties by product index), bought ones
        excluded."""
        return self._lists(np.broadcast_to(np.asarray(key, dtype=np.float32), (len(self.rows), self.n_products)))

    def _lists(self, scores: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        from alsreco.train import metrics
        recs = metrics.top_k(scores, K, self.purchases, self.rows)
        relevant = metrics.Relevant.from_sets(self.relevant)
        return (metrics.ranking_metrics(recs, relevant, K, self.n_products),
                metrics.row_terms(recs, relevant, K)["ndcg"])


def similar_hit_rates(model, test: pd.DataFrame) -> dict[str, Any]:
    """Held-out baskets: hit rate of the first product's top-K similar list vs popularity and random."""
    from alsreco.core.similar import SimilarRanker
    prod = pd.Index([str(x) for x in model.product_ids])
    t = pd.DataFrame({"basket": test["customer"] + "\x00" + test["invoice"], "i": prod.get_indexer(test["product"])})
    t = t[t["i"] >= 0].drop_duplicates()  # keeps file order: the first line of a basket stays first
    firsts, others = [], []
    for _, items in t.groupby("basket", sort=False)["i"]:
        if len(items) >= 2:
            firsts.append(int(items.iloc[0]))
            others.append(set(items.iloc[1:].tolist()))
    n = len(model.product_ids)
    if not firsts:
        return {"baskets": 0}
    ranker = SimilarRanker(model.item_factors, K)
    model_hits = 0
    for start in range(0, len(firsts), ranker.rows):
        block = ranker.rank(np.asarray(firsts[start:start + ranker.rows]))
        model_hits += sum(bool(set(row[ok].tolist()) & rest)
                          for row, ok, rest in zip(block.similar, block.valid, others[start:start + ranker.rows]))
    order = np.lexsort((np.asarray(prod), -np.asarray(model.product_popularity, dtype=np.int64)))
    pop_hits = sum(bool(set(order[order != f][:K].tolist()) & rest) for f, rest in zip(firsts, others))
    # 10 products drawn from the n - 1 others: P(none of the m basket products) = C(n-1-m, K) / C(n-1, K)
    miss = [np.prod([(n - 1 - len(rest) - j) / (n - 1 - j) for j in range(K)]) for rest in others]
    return {"baskets": len(firsts), "mean_other_items": round(float(np.mean([len(r) for r in others])), 2),
            "model_hit_rate": round(model_hits / len(firsts), 4),
            "popularity_hit_rate": round(pop_hits / len(firsts), 4),
            "random_hit_rate": round(1.0 - float(np.mean(miss)), 4)}
