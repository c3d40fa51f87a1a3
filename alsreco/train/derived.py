"""What the sales lines themselves say about each product - the catalogue when there is no
`catalog` channel, and the attributes a channel's columns do not override:

    name        the product's description (its last one)
    unit_price  the (lower) median unit price of its lines with a positive price (needs a price column)
    first_seen  the day of its first line
    countries   the countries it sold in, most lines first (at most MAX_COUNTRIES; needs a country column)

On the Spark path the two aggregations run on the executors and only one row per product reaches
the driver.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core.catalog import Catalog, encode

MAX_COUNTRIES = 10


def from_lines(df: pd.DataFrame, product_ids: np.ndarray) -> dict[str, list[Any]]:
    """unit_price and countries per product of `product_ids` (pandas path)."""
    out: dict[str, list[Any]] = {}
    if "price" in df.columns and df["price"].notna().any():
        priced = df[df["price"] > 0]
        # the lower median (a price some line had): what Spark's percentile_approx gives
        median = priced.groupby("product")["price"].quantile(0.5, interpolation="lower").reindex(product_ids)
        out["unit_price"] = [None if pd.isna(v) else round(float(v), 4) for v in median.to_numpy()]
    has_country = df["country"].notna() & (df["country"] != "") if "country" in df.columns else None
    if has_country is not None and has_country.any():
        lines = df.loc[has_country, ["product", "country"]]
        counts = lines.groupby(["product", "country"]).size().reset_index(name="n")
        counts = counts.sort_values(["product", "n", "country"], ascending=[True, False, True])
        top = counts.groupby("product")["country"].apply(lambda s: list(s[:MAX_COUNTRIES]))
        out["countries"] = [top.get(p) for p in product_ids]
    return out


def from_spark(frame, products, n: int) -> dict[str, list[Any]]:
    """The same from the Spark frame of clean lines; `products` maps product -> item index."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    out: dict[str, list[Any]] = {}
    prices = (frame.where(F.col("price") > 0).groupBy("product")
              .agg(F.percentile_approx("price", 0.5, 10000).alias("price"))
              .join(products, "product").select("item", "price").toPandas())
    if len(prices):
        values: list[Any] = [None] * n
        for item, price in zip(prices["item"].tolist(), prices["price"].tolist()):
            values[int(item)] = round(float(price), 4)
        out["unit_price"] = values
    ranked = (frame.where(F.col("country").isNotNull() & (F.col("country") != ""))
              .groupBy("product", "country").count()
              .withColumn("r", F.row_number().over(Window.partitionBy("product")
                                                   .orderBy(F.desc("count"), F.asc("country"))))
              .where(F.col("r") <= MAX_COUNTRIES).join(products, "product")
              .select("item", "r", "country").toPandas())
    if len(ranked):
        lists: list[Any] = [None] * n
        for item, group in ranked.sort_values(["item", "r"]).groupby("item"):
            lists[int(item)] = group["country"].tolist()
        out["countries"] = lists
    return out


def catalog(names: np.ndarray, first_seen: np.ndarray, extra: dict[str, list[Any]]) -> Catalog:
    """The derived catalogue of the sold products (aligned with the model's product index)."""
    n = len(names)
    cat = Catalog(n)
    cat.columns["name"] = encode("name", "string", [str(v) or None for v in names.tolist()])
    cat.columns["first_seen"] = encode("first_seen", "date",
                                       [None if np.isnat(d) else str(d) for d in np.asarray(first_seen)])
    if "unit_price" in extra:
        cat.columns["unit_price"] = encode("unit_price", "number", extra["unit_price"])
    if "countries" in extra:
        cat.columns["countries"] = encode("countries", "list", extra["countries"])
    return cat
