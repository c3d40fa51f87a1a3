"""`ratings.py` in Spark: ratings per (customer, product), the catalogue and the evaluation split from a
DataFrame of clean purchase lines (`inputs/spark_read.load`), with the pandas path's results.

Only what the model holds reaches the driver (through Arrow): the sorted id arrays, the rating pairs
(for the Purchases CSR), first-seen days and product names. Indices are dense in sorted id order, as
`pandas.factorize(sort=True)` gives them: Spark orders strings by their UTF-8 bytes, which is code
point order, Python's string order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import spark_trends
from .ratings import Catalogue, Ratings, half_life

DAY_US = 86_400_000_000


@dataclass
class SparkRatings:
    ratings: Ratings  # on the driver: ids and (user, item, rating) pairs
    frame: Any  # the same pairs as a persisted Spark DataFrame (user int, item int, rating float), for ALS
    customers: Any  # (customer, user) index table
    products: Any  # (product, item) index table
    owns_index: bool = True  # False: the index tables are another SparkRatings' (`build(..., like=)`)
    lines: Any = None  # the purchase lines they were built from (a lazy DataFrame: reweigh, trends)

    def unpersist(self) -> None:
        self.unpersister()()

    def unpersister(self) -> Callable[[], None]:
        """A function that unpersists the Spark frames, holding them but not the driver's arrays."""
        frames = (self.frame, self.customers, self.products) if self.owns_index else (self.frame,)

        def unpersist() -> None:
            for frame in frames:
                frame.unpersist()
        return unpersist


def _micros(ts: pd.Timestamp) -> int:
    return int(pd.Timestamp(ts).value // 1000)


def date_range(frame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(first, last) purchase time, naive UTC."""
    from pyspark.sql import functions as F

    row = frame.agg(F.min(F.unix_micros("date")).alias("lo"), F.max(F.unix_micros("date")).alias("hi")).first()
    return pd.Timestamp(row["lo"], unit="us"), pd.Timestamp(row["hi"], unit="us")


def as_of_date(frame, hp: dict[str, Any], last: pd.Timestamp | None = None) -> pd.Timestamp:
    """`ratings.as_of_date`: `retention_date`, else the last day in the data."""
    if hp.get("retention_date"):
        return pd.Timestamp(hp["retention_date"]).normalize()
    return (last if last is not None else date_range(frame)[1]).normalize()


def _index(frame, column: str, index: str):
    """(id, dense index in sorted id order), persisted, and the ids as a numpy str array."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    table = (frame.select(column).distinct()
             .withColumn(index, (F.row_number().over(Window.orderBy(column)) - 1).cast("int"))
             .persist(StorageLevel.MEMORY_AND_DISK))
    ids = table.orderBy(index).select(column).toPandas()[column].to_numpy()
    return table, np.asarray(ids, dtype=str)


def build(frame, hp: dict[str, Any], as_of: pd.Timestamp, like: SparkRatings | None = None) -> SparkRatings:
    """`ratings.build`: aggregate purchase lines into ratings according to `ranking_type`. `like`: ratings
    of the same lines (e.g. under another half-life) whose index tables are reused."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    days = half_life(hp)
    if days > 0:
        end = _micros(as_of + pd.Timedelta(days=1))
        age = (F.lit(end) - F.unix_micros("date")).cast("double") / DAY_US
        w = F.pow(F.lit(0.5), F.greatest(age, F.lit(0.0)) / days)
    else:
        w = F.lit(1.0)
    if like is not None:
        customers, customer_ids = like.customers, like.ratings.customer_ids
        products, product_ids = like.products, like.ratings.product_ids
    else:
        customers, customer_ids = _index(frame, "customer", "user")
        products, product_ids = _index(frame, "product", "item")
    agg = (frame.select("customer", "product", w.alias("w"), (w * F.col("quantity")).alias("wq"))
           .groupBy("customer", "product").agg(F.sum("w").alias("count"), F.sum("wq").alias("qty"))
           .join(customers, "customer").join(products, "product"))
    kind = hp["ranking_type"]
    if kind == "incident":
        rating = F.lit(1.0)
    elif kind == "count":
        rating = F.col("count")
    elif kind == "total_qty":
        rating = F.col("qty")
    elif kind == "log_qty":
        rating = F.log1p("qty")
    elif kind == "normalize_count":
        rating = F.col("count") / F.avg("count").over(Window.partitionBy("item"))
    else:
        raise ValueError(f"unknown ranking_type {kind!r}")
    pairs = (agg.select("user", "item", rating.cast("float").alias("rating"))
             .persist(StorageLevel.MEMORY_AND_DISK))
    user, item, rating = collect_pairs(pairs)
    ratings = Ratings(customer_ids=customer_ids, product_ids=product_ids, user=user, item=item, rating=rating)
    return SparkRatings(ratings, pairs, customers, products, owns_index=like is None, lines=frame)


def collect_pairs(pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user int32, item int32, rating float32) of a (user, item, rating) DataFrame, sorted by
    (user, item) for the Purchases CSR. The Arrow batches are copied into arrays of their final type
    and let go before the sort, which reorders through one int64 key and permutation: ~32 bytes per
    pair at the peak (toPandas + sort_values held the Arrow table, the frame, its sorted copy and
    the sort's index at once)."""
    batches = pairs._collect_as_arrow()  # what toPandas() reads, without the pandas frame
    n = sum(b.num_rows for b in batches)
    user, item, rating = np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.float32)
    at = 0
    while batches:
        b = batches.pop(0)
        end = at + b.num_rows
        for out, name in ((user, "user"), (item, "item"), (rating, "rating")):
            out[at:end] = b.column(name).to_numpy(zero_copy_only=False)
        at = end
        del b
    order = np.argsort(user.astype(np.int64) << 32 | item)
    return user[order], item[order], rating[order]


def _by_index(frame, table, key: str, index: str, n: int, value: str, fill) -> np.ndarray:
    got = frame.join(table, key).select(index, value).toPandas()
    out = np.full(n, fill, dtype=object if isinstance(fill, str) else np.int64)
    out[got[index].to_numpy()] = got[value].to_numpy()
    return out


def catalogue(frame, sr: SparkRatings, hp: dict[str, Any], as_of: pd.Timestamp) -> Catalogue:
    """`ratings.catalogue`: popularity, first-seen days, names and the new sets, aligned with the indices."""
    from pyspark.sql import functions as F

    r = sr.ratings
    popularity = np.bincount(r.item, minlength=r.shape[1]).astype(np.int32)
    day = F.datediff(F.to_date("date"), F.lit("1970-01-01").cast("date"))
    p_days = frame.groupBy("product").agg(F.min(day).alias("day"))
    c_days = frame.groupBy("customer").agg(F.min(day).alias("day"))
    p_first = _by_index(p_days, sr.products, "product", "item", r.shape[1], "day", 0).astype("datetime64[D]")
    c_first = _by_index(c_days, sr.customers, "customer", "user", r.shape[0], "day", 0).astype("datetime64[D]")
    names = (frame.where(F.col("description") != "").groupBy("product")
             .agg(F.max_by("description", F.struct("file", "seq")).alias("name")))
    product_names = _by_index(names, sr.products, "product", "item", r.shape[1], "name", "")
    cutoff = np.datetime64((as_of - pd.Timedelta(days=int(hp["retention_days"]))).date(), "D")
    new_p = np.flatnonzero(p_first > cutoff)
    new_p = new_p[np.argsort(p_first[new_p], kind="stable")[::-1]].astype(np.int32)
    new_c = np.flatnonzero(c_first > cutoff).astype(np.int32)
    return Catalogue(popularity, p_first, c_first, np.asarray(product_names, dtype=str), new_p, new_c,
                     spark_trends.compute(frame, sr.products, r.shape[1], as_of, hp))


def split(frame, hp: dict[str, Any], start: pd.Timestamp):
    """The evaluation split (see `evaluate.split_pandas`): ratings before `start`, and the window's
    distinct (customer, product) pairs as model indices (-1 = unknown to the model)."""
    from pyspark.sql import functions as F

    cut = F.lit(str(start)).cast("timestamp")
    train, test = frame.where(F.col("date") < cut), frame.where(F.col("date") >= cut)
    if not train.limit(1).count() or not test.limit(1).count():
        return None
    sr = build(train, hp, start - pd.Timedelta(days=1))
    return sr, *_held_pairs(sr, test)


def _held_pairs(sr: SparkRatings, test):
    from pyspark.sql import functions as F

    pairs = (test.select("customer", "product").distinct()
             .join(sr.customers, "customer", "left").join(sr.products, "product", "left")
             .select(F.coalesce("user", F.lit(-1)).alias("user"), F.coalesce("item", F.lit(-1)).alias("item"))
             .toPandas())
    return pairs["user"].to_numpy(np.int64), pairs["item"].to_numpy(np.int64)


def split_last_basket(frame, hp: dict[str, Any], as_of: pd.Timestamp):
    """`splits.last_basket` in Spark: each customer's last basket (invoice, else day) held out, for
    customers with at least 2; (ratings of the other lines, held-out customers, products, description)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    has = F.col("invoice").isNotNull() & (F.col("invoice") != "")
    lines = frame.withColumn("basket", F.when(has, F.col("invoice")).otherwise(F.date_format("date", "yyyy-MM-dd")))
    kinds = lines.agg(F.max(has.cast("int")).alias("any"), F.min(has.cast("int")).alias("all")).first()
    kind = "invoice" if kinds["all"] else "day" if not kinds["any"] else "invoice, else day"
    by_customer = Window.partitionBy("customer")
    last = (lines.groupBy("customer", "basket").agg(F.min("date").alias("first"))
            .withColumn("n", F.count("*").over(by_customer))
            .withColumn("rank", F.row_number().over(by_customer.orderBy(F.desc("first"), F.desc("basket"))))
            .where((F.col("n") >= 2) & (F.col("rank") == 1))
            .select("customer", "basket", F.lit(True).alias("held"),
                    F.datediff(F.to_date("first"), F.lit("1970-01-01")).alias("held_day")))
    marked = lines.join(last, ["customer", "basket"], "left")
    train, test = marked.where(F.col("held").isNull()), marked.where(F.col("held"))
    held = last.count()
    if not held or not train.limit(1).count():
        return None
    sr = build(train.drop("basket", "held", "held_day"), hp, as_of)
    days = last.select("held_day").distinct().toPandas()["held_day"].to_numpy(np.int64)
    pairs = (test.select("customer", "product", "held_day").distinct()
             .join(sr.customers, "customer", "left").join(sr.products, "product", "left")
             .select(F.coalesce("user", F.lit(-1)).alias("user"), F.coalesce("item", F.lit(-1)).alias("item"),
                     "held_day").toPandas())
    return (sr, pairs["user"].to_numpy(np.int64), pairs["item"].to_numpy(np.int64),
            {"baskets": kind, "held_out_baskets": int(held)}, pairs["held_day"].to_numpy(np.int64), days)
