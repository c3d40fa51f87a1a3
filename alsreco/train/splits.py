"""The evaluation split on the pandas path, one per `eval_protocol` (`spark_ratings.split` and
`spark_ratings.split_last_basket` are the Spark twins, held to the same result by the tests).

- time_window: ratings from the lines before `start`; the window's lines are held out.
- last_basket: each customer's last basket is held out, for customers with at least 2 baskets. A basket is
  an invoice; lines without an invoice id (data without an invoice column) fall back to the purchase
  day, so a customer's last basket is then their last purchase day. The last basket is the one with the
  latest first line (ties: the largest basket id), the ratings come from every other line, as of the
  model's as-of day.

Both give (ratings of the training part, the held-out lines' customers and products as indices of
those ratings, -1 = unknown) and a description for the metadata, or None when a side is empty.
`pandas_split` adds the training part's trend arrays as of its last day (`trends.py`) and a way to
rebuild its ratings under another `recency_half_life_days` (`Split.reweigh`, same indices).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import ratings as ratings_mod
from . import trends
from .day_trends import DayTrends, epoch_days
from .day_trends import compute as day_trends_of

DAY_FORMAT = "%Y-%m-%d"


@dataclass
class Split:
    ratings: ratings_mod.Ratings  # the training part, unweighted
    test_users: np.ndarray  # the held-out lines as indices of `ratings` (-1 = unknown)
    test_items: np.ndarray
    frame: Any = None  # the training part's ratings as a Spark DataFrame (Spark path), else None
    info: dict[str, Any] = field(default_factory=dict)  # what was held out, for the metadata
    trends: trends.Trends | None = None  # the training part's trend arrays, as of its last day
    reweigh: Callable[[float], tuple[ratings_mod.Ratings, Any]] | None = None  # (ratings, frame) at a half-life
    release: Callable[[], None] = lambda: None  # drop what the Spark path persisted for this split
    test_days: np.ndarray | None = None  # last_basket: each held-out line's basket day (days since 1970)
    day_trends: DayTrends | None = None  # last_basket: the trend arrays as of the baskets' days (day_trends.py)


def half_life_hp(hp: dict[str, Any], days: float) -> dict[str, Any]:
    return {**hp, "recency_half_life_days": float(days)}


def pandas_split(df: pd.DataFrame, hp: dict[str, Any], as_of: pd.Timestamp, protocol: str,
                 start: pd.Timestamp) -> Split | None:
    days = None
    if protocol == "last_basket":
        held, kind, n = held_out_baskets(df)
        train_df, info = df[~held], {"baskets": kind, "held_out_baskets": n}
        got = last_basket(df, hp, as_of, held=(held, kind, n))
        days = basket_days(df[held])
    else:
        train_df, info = df[df["date"] < start], {}
        as_of = start - pd.Timedelta(days=1)
        got = time_window(df, hp, start)
    if got is None:
        return None
    r = got[0]
    by_day = None if days is None else day_trends_of(train_df, r.product_ids, np.unique(days),
                                                     hp["trend_window_days"], hp["trend_min_support"])
    return Split(r, got[1], got[2], info=info, trends=trends.compute(train_df, r.product_ids, as_of, hp),
                 reweigh=lambda d: (ratings_mod.build(train_df, half_life_hp(hp, d), as_of), None),
                 test_days=days, day_trends=by_day)


def basket_days(held: pd.DataFrame) -> np.ndarray:
    """Each held-out line's basket day (days since 1970): its customer's held-out basket's first day."""
    return epoch_days(held.groupby("customer", sort=False)["date"].transform("min"))


def _indices(r: ratings_mod.Ratings, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return (pd.Index(r.customer_ids).get_indexer(test["customer"]),
            pd.Index(r.product_ids).get_indexer(test["product"]))


def time_window(df: pd.DataFrame, hp: dict[str, Any], start: pd.Timestamp):
    train_df, test_df = df[df["date"] < start], df[df["date"] >= start]
    if train_df.empty or test_df.empty:
        return None
    r = ratings_mod.build(train_df, hp, start - pd.Timedelta(days=1))
    return r, *_indices(r, test_df)


def basket_ids(df: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Each line's basket as a code whose order is that of the basket ids (its invoice, else its day: the
    day's text, so an invoice and a day compare as the texts did), and which of the two the data gave."""
    invoice = df["invoice"].astype(str).to_numpy() if "invoice" in df else np.full(len(df), "", dtype=object)
    has = invoice != ""
    kind = "invoice" if has.all() else "day" if not has.any() else "invoice, else day"
    if kind == "day":  # days sort as their texts do
        return pd.factorize(df["date"].dt.normalize().to_numpy(), sort=True)[0], kind
    if kind != "invoice":
        invoice = invoice.copy()
        invoice[~has] = df["date"][~has].dt.strftime(DAY_FORMAT).to_numpy()
    return pd.factorize(invoice, sort=True)[0], kind


def held_out_baskets(df: pd.DataFrame) -> tuple[np.ndarray, str, int]:
    """(bool per line: in its customer's last basket, the basket kind, held-out baskets). A customer's last
    basket is the one with the latest first line (ties: the largest basket id), held out when they have at
    least two. Integer codes throughout (no per-line strings or MultiIndex: 10M lines in a few seconds)."""
    basket, kind = basket_ids(df)
    customer = pd.factorize(df["customer"].to_numpy())[0].astype(np.int64)
    pair = customer * (np.int64(basket.max(initial=-1)) + 1) + basket
    group, pairs = pd.factorize(pair)  # per line: its (customer, basket); pairs: each group's key
    first = pd.Series(df["date"].to_numpy()).groupby(group).min().to_numpy()  # index = group code, ascending
    nb = np.int64(basket.max(initial=-1)) + 1
    owner, code = pairs // nb, pairs % nb
    order = np.lexsort((code, first, owner))  # each customer's baskets by first line, then id
    owner_sorted = owner[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = owner_sorted[1:] != owner_sorted[:-1]
    keep = last & (np.bincount(owner, minlength=int(owner.max(initial=-1)) + 1)[owner_sorted] >= 2)
    held_group = np.zeros(len(pairs), dtype=bool)
    held_group[order[keep]] = True
    return held_group[group], kind, int(keep.sum())


def last_basket(df: pd.DataFrame, hp: dict[str, Any], as_of: pd.Timestamp, held=None):
    held, kind, n = held_out_baskets(df) if held is None else held
    if not held.any() or held.all():
        return None
    r = ratings_mod.build(df[~held], hp, as_of)
    return r, *_indices(r, df[held]), {"baskets": kind, "held_out_baskets": n}
