"""The model's products and their attributes: the sold products (the ratings' index) followed by the
new ones - in the `catalog` channel but never sold - with one attribute table over all of them.

Attributes come from the channel's columns; those it does not have come from the sales lines
(train/derived.py: name, unit_price, first_seen, countries). A sold product missing from the
channel keeps empty channel attributes (counted: `sold_without_attributes`). New products get item
factors from their attributes (train/placement.py) in `extend_factors`.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.artifact import Model, Purchases
from ..core.catalog import Catalog
from ..core.errors import UserError
from ..core.filters import FilterBook, FilterError
from . import derived, placement
from .inputs.catalog import read_catalog, to_catalog

log = logging.getLogger(__name__)
NAME_COLUMNS = ("name", "title", "product_name", "description")


@dataclass
class Built:
    product_ids: np.ndarray  # str: the sold products (ratings order), then the new ones (sorted)
    n_sold: int
    product_names: np.ndarray  # str, aligned with product_ids
    catalog: Catalog
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def new_indices(self) -> np.ndarray:
        return np.arange(self.n_sold, len(self.product_ids), dtype=np.int64)


def build(sold_ids: np.ndarray, names: np.ndarray, first_seen: np.ndarray, extra: dict[str, list[Any]],
          files: tuple[Path, ...] | list[Path], hp: dict[str, Any]) -> Built:
    sold_ids = np.asarray(sold_ids, dtype=str)
    base = derived.catalog(np.asarray(names, dtype=str), first_seen, extra)
    if not files:
        return Built(sold_ids, len(sold_ids), np.asarray(names, dtype=str), base,
                     {"source": "sales", "attributes": base.describe()})
    products, kinds, report = read_catalog(list(files), declared_types(hp))
    codes = set(hp.get("non_product_codes") or ())
    not_products = [p for p in products if p in codes]  # postage, fees: not products here either
    for p in not_products:
        del products[p]
    sold = set(sold_ids.tolist())
    new_ids = sorted(p for p in products if p not in sold)
    all_ids = np.asarray(sold_ids.tolist() + new_ids, dtype=str)
    n_sold, n_all = len(sold_ids), len(all_ids)
    catalog = to_catalog(products, kinds, all_ids.tolist())
    order = np.concatenate([np.arange(n_sold), np.full(len(new_ids), -1)]).astype(np.int64)
    for name, col in base.take(order, n_all).columns.items():
        if catalog.find(name) is None:
            catalog.columns[name] = col
    product_names = np.asarray(names, dtype=str).tolist() + [""] * len(new_ids)
    name_col = next((catalog.find(c) for c in NAME_COLUMNS if catalog.find(c) is not None
                     and catalog.find(c).kind == "string" and c in kinds), None)
    if name_col is not None:
        for i in range(n_all):
            value = name_col.value(i)
            if value and (i >= n_sold or not product_names[i]):
                product_names[i] = value
    report.sold_without_attributes = int(sum(p not in products for p in sold_ids.tolist()))
    report.new_products = len(new_ids)
    report.not_products = len(not_products)
    log.info("catalogue: %d products with %d attributes (%s); %d new (never sold), %d sold products not in it",
             report.products, len(kinds), ", ".join(f"{k}: {v}" for k, v in kinds.items()), len(new_ids),
             report.sold_without_attributes)
    if report.examples:
        log.warning("catalogue: rows with problems, e.g. %s", "; ".join(report.examples[:3]))
    return Built(all_ids, n_sold, np.asarray(product_names, dtype=str), catalog,
                 {"source": "catalog channel", **report.as_dict(), "attributes": catalog.describe()})


def declared_types(hp: dict[str, Any]) -> dict[str, str]:
    raw = hp.get("catalog_types") or {}
    if not isinstance(raw, dict):
        raise UserError("catalog_types must be a JSON object: attribute -> string | list | number | bool | date")
    return {str(k): str(v) for k, v in raw.items()}


def extend_factors(built: Built, items: np.ndarray, hp: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """The item factors of every product: the ALS ones, then the placed new products'."""
    new = built.new_indices
    if not len(new):
        return items, {"placed": 0}
    if not hp.get("placement", True):
        log.info("placement off: %d new products get the mean factor", len(new))
        placed = np.tile(items.mean(axis=0), (len(new), 1)).astype(np.float32)
        return np.vstack([items, placed]), {"placed": 0, "mean_factor": len(new)}
    placed, report = placement.place(built.catalog, np.vstack([items, np.zeros((len(new), items.shape[1]),
                                                                                dtype=items.dtype)]),
                                     np.arange(built.n_sold), new, int(hp.get("placement_features", 2048)),
                                     int(hp.get("seed", 0)))
    return np.vstack([items, placed]).astype(np.float32), report


def check_filters(built: Built, hp: dict[str, Any]) -> bool:
    """The named filters and the batch filter fit the catalogue (UserError naming the one that does
    not); True when the batch filter reads the customers' purchases (scored on the leader)."""
    from ..core.catalog_rules import batch_spec, named_filters

    book = FilterBook(built.catalog, {p: i for i, p in enumerate(built.product_ids.tolist())}, named_filters(hp))
    try:
        book.check_named()
        spec = batch_spec(hp)
        bounds = book.bind(spec) if spec is not None else []
    except FilterError as exc:
        which = "filters" if "filter '" in str(exc) else "batch_filter"
        raise UserError(f"hyperparameter {which}: {exc}") from None
    return any(not b.static for b in bounds)


def attach(model: Model, built: Built, items: np.ndarray, as_of: pd.Timestamp) -> Model:
    """`model` (from the ratings) with the new products appended and the catalogue attached: their
    factors `items[n_sold:]`, no popularity, first seen on the as-of day, listed first among the new."""
    n_new = len(built.product_ids) - built.n_sold
    if n_new == 0:
        return dataclasses.replace(model, catalog=built.catalog, product_names=built.product_names)
    p = model.purchases
    day = np.datetime64(as_of.date(), "D")
    new = np.arange(built.n_sold, len(built.product_ids), dtype=np.int32)

    def padded(arr: np.ndarray | None) -> np.ndarray | None:  # the trend arrays: nothing sold yet
        return None if arr is None else np.concatenate([arr, np.zeros(n_new, dtype=arr.dtype)])

    return dataclasses.replace(
        model, product_ids=built.product_ids, product_names=built.product_names, item_factors=items,
        product_recent=padded(model.product_recent), product_trending=padded(model.product_trending),
        purchases=Purchases(p.indptr, p.indices, p.data, (p.shape[0], len(built.product_ids))),
        product_popularity=np.concatenate([model.product_popularity, np.zeros(n_new, dtype=np.int32)]),
        product_first_seen=np.concatenate([model.product_first_seen, np.full(n_new, day, dtype="datetime64[D]")]),
        new_products=np.concatenate([new, np.asarray(model.new_products, dtype=np.int32)]),
        catalog=built.catalog)
