"""Turn clean purchase lines into one rating per (customer, product) and catalogue statistics.

Ids stay strings end to end; ALS gets dense integer indices (`Ratings.user` / `Ratings.item`)
that map back through `customer_ids` / `product_ids`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.artifact import Purchases
from ..core.errors import UserError
from . import trends


@dataclass
class Ratings:
    customer_ids: np.ndarray  # str, sorted
    product_ids: np.ndarray  # str, sorted
    user: np.ndarray  # int32 index into customer_ids
    item: np.ndarray  # int32 index into product_ids
    rating: np.ndarray  # float32

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.customer_ids), len(self.product_ids)

    def purchases(self) -> Purchases:
        return Purchases.from_coo(self.user, self.item, self.rating, self.shape)


def as_of_date(df: pd.DataFrame, hp: dict[str, Any]) -> pd.Timestamp:
    """The model's as-of day: `retention_date`, else the last day in the data."""
    if hp.get("retention_date"):
        return pd.Timestamp(hp["retention_date"]).normalize()
    return pd.Timestamp(df["date"].max()).normalize()


def half_life(hp: dict[str, Any]) -> float:
    """`recency_half_life_days` as a number: `auto` (not chosen yet) is off."""
    value = hp.get("recency_half_life_days") or 0.0
    return 0.0 if isinstance(value, str) else float(value)


def _weights(df: pd.DataFrame, hp: dict[str, Any], as_of: pd.Timestamp) -> np.ndarray:
    days = half_life(hp)
    if days <= 0:
        return np.ones(len(df))
    end = as_of + pd.Timedelta(days=1)
    age_days = (end - df["date"]).dt.total_seconds().to_numpy() / 86400.0
    return np.power(0.5, np.clip(age_days, 0, None) / days)


def build(df: pd.DataFrame, hp: dict[str, Any], as_of: pd.Timestamp) -> Ratings:
    """Aggregate purchase lines into ratings according to `ranking_type`."""
    user, customer_ids = pd.factorize(df["customer"], sort=True)
    item, product_ids = pd.factorize(df["product"], sort=True)
    w = _weights(df, hp, as_of)
    lines = pd.DataFrame({"user": user, "item": item, "w": w, "wq": w * df["quantity"].to_numpy()})
    agg = lines.groupby(["user", "item"], sort=True).agg(count=("w", "sum"), qty=("wq", "sum")).reset_index()
    kind = hp["ranking_type"]
    if kind == "incident":
        rating = np.ones(len(agg))
    elif kind == "count":
        rating = agg["count"].to_numpy()
    elif kind == "total_qty":
        rating = agg["qty"].to_numpy()
    elif kind == "log_qty":
        rating = np.log1p(agg["qty"].to_numpy())
    elif kind == "normalize_count":
        mean = agg.groupby("item")["count"].transform("mean").to_numpy()
        rating = agg["count"].to_numpy() / mean
    else:  # validated by the schema; kept as a guard for direct callers
        raise ValueError(f"unknown ranking_type {kind!r}")
    with np.errstate(over="ignore"):
        rating = rating.astype(np.float32)
    if not np.isfinite(rating).all():
        raise UserError(f"ranking_type={kind!r} gives ratings too large for float32 (the largest summed "
                        f"value is {np.nanmax(agg['qty'].to_numpy()):.3g}); check the quantity column or use "
                        "ranking_type=count or log_qty")
    return Ratings(
        customer_ids=np.asarray(customer_ids, dtype=str),
        product_ids=np.asarray(product_ids, dtype=str),
        user=agg["user"].to_numpy(np.int32),
        item=agg["item"].to_numpy(np.int32),
        rating=rating,
    )


@dataclass
class Catalogue:
    product_popularity: np.ndarray  # int32 distinct customers per product
    product_first_seen: np.ndarray  # datetime64[D]
    customer_first_seen: np.ndarray  # datetime64[D]
    product_names: np.ndarray  # str
    new_products: np.ndarray  # int32, newest first
    new_customers: np.ndarray  # int32
    trends: trends.Trends  # recent buyers and trending score per product, as of the model's day


def catalogue(df: pd.DataFrame, ratings: Ratings, hp: dict[str, Any], as_of: pd.Timestamp) -> Catalogue:
    """Popularity, first-seen dates and the cold-start (new) sets, aligned with `ratings`' indices."""
    popularity = np.bincount(ratings.item, minlength=ratings.shape[1]).astype(np.int32)
    day = df["date"].dt.normalize()
    p_first = day.groupby(df["product"]).min().reindex(ratings.product_ids).to_numpy("datetime64[D]")
    c_first = day.groupby(df["customer"]).min().reindex(ratings.customer_ids).to_numpy("datetime64[D]")
    names = (df.loc[df["description"] != "", ["product", "description"]]
             .drop_duplicates("product", keep="last").set_index("product")["description"]
             .reindex(ratings.product_ids).fillna(""))
    cutoff = np.datetime64((as_of - pd.Timedelta(days=int(hp["retention_days"]))).date(), "D")
    new_p = np.flatnonzero(p_first > cutoff)
    new_p = new_p[np.argsort(p_first[new_p], kind="stable")[::-1]].astype(np.int32)
    new_c = np.flatnonzero(c_first > cutoff).astype(np.int32)
    return Catalogue(popularity, p_first, c_first, np.asarray(names.to_numpy(), dtype=str), new_p, new_c,
                     trends.compute(df, ratings.product_ids, as_of, hp))
