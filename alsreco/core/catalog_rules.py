"""What a request asks of the catalogue, for the recommender: its filters checked against the model,
promotion and exploration slots for a row, and the attributes returned with each product.

One `CatalogRules` per model (built by `Recommender`): the attribute table (core/catalog.py), the
filter book (core/filters, with the model's named filters), and what exploration needs - which
products were never sold, each product's first day, the model's as-of day.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from . import slots
from .artifact import Model
from .catalog import Catalog
from .filters import FilterBook, FilterError, Spec, removed, spec_of
from .rules import Request


class CatalogRules:
    def __init__(self, model: Model, product_index: dict[str, int], hp: dict[str, Any],
                 product_ids: list[str] | None = None):
        n = len(product_index)
        self.catalog = model.catalog if model.catalog is not None else Catalog(n)
        self.filters = FilterBook(self.catalog, product_index, named_filters(hp), product_ids)
        self.exploration_weight = float(hp["exploration_weight"])
        self.exploration_age = int(hp["exploration_item_age_days"])
        first = np.asarray(model.product_first_seen, dtype="datetime64[D]")
        self.first_seen_day = np.where(np.isnat(first), np.iinfo(np.int64).min, first.astype(np.int64))
        as_of = model.metadata.get("retention_date")
        self.as_of_day = int(np.datetime64(as_of, "D").astype(np.int64)) if as_of else \
            int(self.first_seen_day.max(initial=0))
        self.never_sold = np.asarray(model.product_popularity) == 0
        self.n_products = n

    def check(self, req: Request) -> None:
        """FilterError naming what in `req`'s promotion or fields does not fit the catalogue (the
        filter itself is checked when its plan is made)."""
        if req.promotion is not None:
            try:
                self.filters.bind(req.promotion.filters)
            except FilterError as exc:
                raise FilterError(f"promotion.filter: {exc}") from None
        unknown = [f for f in req.fields if self.catalog.find(f) is None]
        if unknown:
            known = ", ".join(sorted(self.catalog.columns)) or "none: this model has no catalogue"
            raise FilterError(f"fields: unknown attribute {unknown[0]!r} (known: {known})")

    def asks_more(self, req: Request) -> bool:
        """Does `req` need the per-row pass (promotion, exploration slots, fields)?"""
        weight = self.exploration_weight if req.exploration_weight is None else req.exploration_weight
        return req.promotion is not None or weight > 0 or bool(req.fields)

    def arrange(self, req: Request, picks: list[int], reasons: list[str], n_forced: int, n: int,
                keys: np.ndarray, bought: np.ndarray) -> tuple[list[int], list[str]]:
        """A row's list with its promotion and exploration slots (core/slots.py); `keys` are the
        row's scores with everything outside the pool at -inf."""
        promoted, n_promoted = None, 0
        if req.promotion is not None:
            bounds = self.filters.bind(req.promotion.filters)
            promoted = np.flatnonzero(~np.atleast_2d(removed(bounds, self.n_products, [bought]))[0])
            n_promoted = slots.share_of(req.promotion.share, n)
        weight = self.exploration_weight if req.exploration_weight is None else req.exploration_weight
        n_explore = slots.share_of(weight, n)
        explorable = None
        if n_explore:
            age = self.exploration_age if req.exploration_item_age_days is None else req.exploration_item_age_days
            explorable = np.flatnonzero(self.never_sold | (self.first_seen_day >= self.as_of_day - age))
        return slots.arrange(picks, reasons, n_forced, n, keys, promoted, n_promoted, explorable, n_explore,
                             np.random.default_rng(req.seed))

    def attributes(self, i: int, fields: tuple[str, ...]) -> dict | None:
        return {f: self.catalog.find(f).value(i) for f in fields} if fields else None


def named_filters(hp: dict) -> dict[str, str]:
    """The `filters` hyperparameter: name -> expression (a JSON object, or {} when empty)."""
    raw = hp.get("filters") or {}
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else {}
    return {str(k): str(v) for k, v in dict(raw).items()}


def batch_spec(hp: dict) -> Spec | None:
    """The `batch_filter` (+ `batch_filter_values`) hyperparameters as a filter Spec, or None."""
    text = str(hp.get("batch_filter") or "").strip()
    if not text:
        return None
    values = hp.get("batch_filter_values") or {}
    if isinstance(values, str):
        values = json.loads(values) if values.strip() else {}
    return spec_of(text, values or None)
