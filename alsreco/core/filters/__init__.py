"""Filters over product attributes and the customer's own purchases (see parse.py for the
language, masks.py for the evaluation): a `FilterBook` per model resolves a request's filters -
by name (the `filters` hyperparameter) or as expressions - compiled once per distinct text."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import numpy as np

from ..catalog import Catalog
from .masks import Bound, Compiled
from .operands import Pairs, Spec, freeze, pairs
from .parse import FilterError, parse

__all__ = ["Bound", "Compiled", "FilterBook", "FilterError", "Pairs", "Spec", "freeze", "pairs", "parse"]
CACHE_SIZE = 256  # distinct expressions kept compiled per worker
MAX_FILTERS = 10  # filters in one request


class FilterBook:
    def __init__(self, catalog: Catalog, product_index: Mapping[str, int], named: Mapping[str, str] | None = None,
                 product_ids: Sequence[str] | None = None):
        """`product_ids`: id by product index (the model's list, shared: never copied or walked here)."""
        self.catalog, self.product_index, self._ids = catalog, product_index, product_ids
        self.named = dict(named or {})
        self._cache: OrderedDict[str, Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def check_named(self) -> None:
        """Compile every named filter; FilterError naming the first that does not fit the catalogue."""
        for name, text in self.named.items():
            try:
                self.compile(text)
            except FilterError as exc:
                raise FilterError(f"filter {name!r}: {exc}") from None

    def compile(self, text_or_name: str) -> Compiled:
        text = self.named.get(text_or_name, text_or_name)
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        if text_or_name not in self.named and " " not in text.strip():
            known = ", ".join(sorted(self.named)) or "none were defined at training"
            raise FilterError(f"{text_or_name!r} is neither a filter expression nor a named filter (named: {known})")
        compiled = Compiled(parse(text), self.catalog, self.product_index, self._ids)
        with self._lock:
            self._cache[text] = compiled
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return compiled

    def bind(self, spec: Spec) -> list[Bound]:
        if len(spec.texts) > MAX_FILTERS:
            raise FilterError(f"at most {MAX_FILTERS} filters in one request, got {len(spec.texts)}")
        values = spec.value_dict()
        bounds = []
        for text in spec.texts:
            compiled = self.compile(text)
            bounds.append(compiled.bind({k: v for k, v in values.items() if k in compiled.params}))
        unused = set(values) - {p for b in bounds for p in b.compiled.params}
        if unused:
            raise FilterError(f"filter_values.{sorted(unused)[0]} is not used by the filter")
        return bounds


def removed(bounds: Sequence[Bound], n_products: int, bought: Sequence[np.ndarray] | Pairs | None = None
            ) -> np.ndarray:
    """What all `bounds` together take out: 1-D when none reads Purchases.*, else rows x products."""
    out: Any = np.zeros(n_products, dtype=bool)
    if bought is not None and not isinstance(bought, Pairs):
        bought = pairs(bought)
    for b in bounds:
        out = out | b.removed(bought)
    return out


def static_removed(bounds: Sequence[Bound], n_products: int) -> np.ndarray:
    """The part of `removed` that is the same for every customer (the filters without Purchases.*)."""
    return removed([b for b in bounds if b.static], n_products)


def spec_of(filters: Any, values: Mapping[str, Any] | None) -> Spec | None:
    """A request's `filter` (one text / name, or a list of them) and `filter_values` as a Spec."""
    if filters is None:
        if values:
            raise FilterError("filter_values without a filter")
        return None
    texts = [filters] if isinstance(filters, str) else filters
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise FilterError("filter must be a filter expression or name, or a list of them")
    if values is not None and not isinstance(values, dict):
        raise FilterError("filter_values must be an object of $name: value")
    for name, value in (values or {}).items():
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (str, int, float, bool)) and v is not None for v in items):
            raise FilterError(f"filter_values.{name} must be text, a number, true/false or a list of them")
    return Spec(tuple(t.strip() for t in texts), freeze(values))
