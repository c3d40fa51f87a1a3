"""A parsed filter, checked against a catalogue, evaluated as numpy masks over all products.

`Compiled(tree, catalog, product_index)` checks attribute names and kinds, operators and literal
types once per distinct expression; `.bind(values)` checks the request's `$name` values (all of
them, at once) and gives a `Bound`: `removed(bought)` is what it takes out of all products - 1-D
when the filter names no `Purchases.*` (evaluated once, kept), else rows x products for a block of
customers (purchases.py) - and `removed_at(at)` the same for a request's few candidates only.

Missing attribute values match no positive comparison (`=`, `<`, `IN`, ...); `!=` and `NOT IN`
are their exact complements, so a product without a brand passes `Items.brand != "acme"`.
On a list attribute (`tags`), `=` / `!=` ask whether the list holds / lacks the value and
`IN` / `NOT IN` whether it shares / shares no value with the set.
"""
from __future__ import annotations

import operator
from typing import Any, Mapping, Sequence

import numpy as np

from ..catalog import Catalog, Column
from .operands import WORDS, Pairs, convert, member, pairs, texts, value_table
from .parse import MAX_SET, And, Compare, Field, Filter, FilterError, Not, Or, Param, Purchased
from .purchases import purchased

ORDER = ("<", "<=", ">", ">=")
COMPARE = {"=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
MAX_VALUES = 100  # $names per request
OPS_BY_KIND = {"string": ("=", "!=", "IN", "NOT IN"), "list": ("=", "!=", "IN", "NOT IN"),
               "bool": ("=", "!=", "IN", "NOT IN"), "number": ("=", "!=", *ORDER, "IN", "NOT IN"),
               "date": ("=", "!=", *ORDER, "IN", "NOT IN"), "id": ("=", "!=", "IN", "NOT IN")}


def _where(node) -> str:
    return f"at position {node.pos}"


def _name(field: Field) -> str:
    return "ItemID" if field.attribute is None else f"Items.{field.attribute}"


class Compiled:
    """A filter whose names, kinds and literals have been checked against `catalog`."""

    def __init__(self, tree: Filter, catalog: Catalog, product_index: Mapping[str, int],
                 product_ids: Sequence[str] | None = None):
        self.tree, self.catalog, self.product_index = tree, catalog, product_index
        # id by product index: what ItemID comparisons ask about a request's candidates (the model's own list;
        # without one, made on first use: a pass over the index dirties every id's page in a forked worker)
        self._product_ids = product_ids
        self.params: dict[str, str] = {}  # $name -> "scalar" | "set"
        self.uses_purchases = False
        # the share of the products asked about (`Bound.removed_at`) that this filter kept, averaged over the
        # requests: how many candidates a request's ranking starts with (rules.Plan.first_groups)
        self.kept_share = 0.5
        self._check(tree.where)

    def _column(self, attribute: str, pos: int) -> Column:
        col = self.catalog.find(attribute)
        if col is None:
            known = ", ".join(sorted(self.catalog.columns)) or "none: this model has no catalogue"
            raise FilterError(f"unknown attribute Items.{attribute} at position {pos} (known: {known})")
        return col

    @property
    def product_ids(self) -> Sequence[str]:
        if self._product_ids is None:
            self._product_ids = _ids_of(self.product_index)
        return self._product_ids

    def kind_of(self, field: Field) -> str:
        return "id" if field.attribute is None else self._column(field.attribute, field.pos).kind

    def _check(self, node) -> None:
        if isinstance(node, (And, Or)):
            for part in node.parts:
                self._check(part)
            return
        if isinstance(node, Not):
            self._check(node.part)
            return
        assert isinstance(node, Compare)
        kind = self.kind_of(node.field)
        if node.op not in OPS_BY_KIND[kind]:
            raise FilterError(f"{_name(node.field)} is {WORDS[kind]}: {node.op} does not apply ({_where(node)}; "
                              f"use {', '.join(OPS_BY_KIND[kind])})")
        operand = node.operand
        if isinstance(operand, Purchased):
            self._check_purchased(node, kind, operand)
            return
        for item in operand if isinstance(operand, tuple) else (operand,):
            if isinstance(item, Param):
                wanted = "set" if node.op in ("IN", "NOT IN") else "scalar"
                if self.params.get(item.name, wanted) != wanted:
                    raise FilterError(f"${item.name} is used both as one value and as a set ({_where(item)})")
                self.params[item.name] = wanted
            else:
                convert(item.value, kind, f"{_name(node.field)} {_where(item)}")

    def _check_purchased(self, node: Compare, kind: str, operand: Purchased) -> None:
        self.uses_purchases = True
        if node.op not in ("IN", "NOT IN"):
            raise FilterError(f"Purchases.* is a set: use IN or NOT IN ({_where(node)})")
        if operand.attribute is None:
            if kind != "id":
                raise FilterError(f"Purchases.ItemID goes with ItemID, not {_name(node.field)} ({_where(operand)})")
            return
        other = self._column(operand.attribute, operand.pos)
        if kind not in ("string", "list") or other.kind not in ("string", "list"):
            raise FilterError(f"{_name(node.field)} IN Purchases.{operand.attribute}: both must be text or list "
                              f"attributes ({_where(operand)})")

    def bind(self, values: Mapping[str, Any] | None = None) -> "Bound":
        """The filter with this request's `$name` values; FilterError for a missing, extra or
        mistyped value."""
        values = dict(values or {})
        if len(values) > MAX_VALUES:
            raise FilterError(f"filter_values holds {len(values)} names; at most {MAX_VALUES}")
        missing = sorted(set(self.params) - set(values))
        if missing:
            raise FilterError(f"no value for ${missing[0]} (give it in filter_values)")
        for name, value in values.items():
            if isinstance(value, list):
                if len(value) > MAX_SET:
                    raise FilterError(f"filter_values.{name} holds {len(value)} values; at most {MAX_SET}")
                if self.params.get(name) == "scalar":
                    raise FilterError(f"filter_values.{name} is a list, but ${name} is compared with = or <: "
                                      "use IN for a set")
        return Bound(self, values)


class Bound:
    """A compiled filter with its values; `selected(bought)` -> what the filter's WHERE selects."""

    def __init__(self, compiled: Compiled, values: dict[str, Any]):
        self.compiled, self.values = compiled, values
        self.catalog = compiled.catalog
        self.n = compiled.catalog.n_products
        self.include = compiled.tree.action == "INCLUDE"
        self.static = not compiled.uses_purchases  # the same for every customer: a mask over products
        self._static: dict[int, np.ndarray] = {}  # each comparison's mask over all products
        self._wanted: dict[int, list[Any]] = {}  # each number / bool / date comparison's converted values
        self._sets: dict[int, set] = {}  # each text / ItemID comparison's values
        self._tables: dict[int, np.ndarray] = {}  # a text comparison's value table, made for a whole mask
        self._mask: np.ndarray | None = None
        self._bind(compiled.tree.where)  # every value checked now: a wrong one is a 400 before any ranking

    @property
    def product_mask(self) -> np.ndarray | None:
        """What the WHERE selects over all products (evaluated on first use), None with Purchases.*."""
        if self.static and self._mask is None:
            self._mask = self._eval(self.compiled.tree.where, None)
        return self._mask

    def removed(self, bought: Sequence[np.ndarray] | Pairs | None = None) -> np.ndarray:
        """True for the products this filter takes out: 1-D, or rows x products with Purchases.*.
        `bought`: each row's purchases (product indices), or the same as `Pairs`."""
        if self.static:
            return ~self.product_mask if self.include else self.product_mask
        chosen = self._eval(self.compiled.tree.where, bought if isinstance(bought, Pairs) else pairs(bought or []))
        return ~chosen if self.include else chosen

    def removed_at(self, at: np.ndarray) -> np.ndarray:
        """`removed()[at]` of a static filter, evaluated on the products `at` only (a request's best-scored
        candidates) unless the whole mask is already known."""
        at = np.asarray(at, dtype=np.int64)
        if not len(at):
            return np.zeros(0, dtype=bool)
        chosen = self._mask[at] if self._mask is not None else self._eval(self.compiled.tree.where, None, at)
        out = ~chosen if self.include else chosen
        if len(at) >= 16:  # a benign race between threads: an estimate
            kept = 1.0 - np.count_nonzero(out) / len(at)
            self.compiled.kept_share = 0.8 * self.compiled.kept_share + 0.2 * kept
        return out

    # ---------------------------------------------------------------- evaluation
    def _eval(self, node, bought: Pairs | None, at: np.ndarray | None = None) -> np.ndarray:
        """What `node` selects: over all products, or over the products `at` (static parts only)."""
        if isinstance(node, And):
            out = self._eval(node.parts[0], bought, at)
            for part in node.parts[1:]:
                out = out & self._eval(part, bought, at)
            return out
        if isinstance(node, Or):
            out = self._eval(node.parts[0], bought, at)
            for part in node.parts[1:]:
                out = out | self._eval(part, bought, at)
            return out
        if isinstance(node, Not):
            return ~self._eval(node.part, bought, at)
        if isinstance(node.operand, Purchased):
            none = Pairs(np.empty(0, np.int64), np.empty(0, np.int64), 0)
            return purchased(self.catalog, self.n, node, bought or none)
        key = id(node)
        if key in self._static:
            return self._static[key] if at is None else self._static[key][at]
        if at is not None and self.compiled.kind_of(node.field) != "list":
            return self._compare(node, at)  # a list column is read per entry: its whole mask, cached, below
        self._static[key] = self._compare(node)
        return self._static[key] if at is None else self._static[key][at]

    def _bind(self, node) -> None:
        """Each comparison's values, checked, in the form evaluation reads (`_wanted`, `_sets`)."""
        if isinstance(node, (And, Or)):
            for part in node.parts:
                self._bind(part)
            return
        if isinstance(node, Not):
            self._bind(node.part)
            return
        if isinstance(node.operand, Purchased):
            return
        key, kind, operands = id(node), self.compiled.kind_of(node.field), self._operands(node)
        if kind in ("string", "list", "id"):
            wanted: set = set()
            for values, label in operands:
                wanted.update(texts(values, kind, label))
            self._sets[key] = wanted
        else:
            self._wanted[key] = [convert(v, kind, label) for values, label in operands for v in values]

    def _operands(self, node: Compare) -> list[tuple[list[Any], str]]:
        """The comparison's values, as given, each list with the label its errors name."""
        items = node.operand if isinstance(node.operand, tuple) else (node.operand,)
        out = []
        for item in items:
            if isinstance(item, Param):
                raw = self.values[item.name]
                out.append((raw if isinstance(raw, list) else [raw], f"filter_values.{item.name}"))
            else:
                out.append(([item.value], f"{_name(node.field)} {_where(node)}"))
        return out

    def _compare(self, node: Compare, at: np.ndarray | None = None) -> np.ndarray:
        key = id(node)
        positive = {"!=": "=", "NOT IN": "IN"}.get(node.op, node.op)
        if node.field.attribute is None:  # ItemID
            wanted = self._sets[key]
            if at is not None:
                mask = member(wanted, self.compiled.product_ids, at)
            else:
                index = self.compiled.product_index
                mask = np.zeros(self.n, dtype=bool)
                mask[[index[v] for v in wanted if v in index]] = True
        else:
            col = self.catalog.find(node.field.attribute)
            mask = self._column_mask(col, positive, key, at)
        return ~mask if positive != node.op else mask

    def _column_mask(self, col: Column, op: str, key: int, at: np.ndarray | None = None) -> np.ndarray:
        """What the comparison `key` selects over all products, or over the products `at` (never a list
        column's: read per entry, it gets its whole mask)."""
        if col.kind in ("string", "list"):
            if at is not None:  # a request's few candidates: their values looked up in the wanted set
                return member(self._sets[key], col.names(), np.asarray(col.codes)[at])
            if key not in self._tables:
                self._tables[key] = value_table(col, self._sets[key])
            hit = self._tables[key].take(col.codes)  # take: ~half the time of fancy indexing with int32 codes
            if col.kind == "string":
                return hit
            out = np.zeros(self.n, dtype=bool)
            out[col.owners()[hit]] = True
            return out
        wanted = self._wanted[key]
        values = np.asarray(col.values) if at is None else np.asarray(col.values)[at]
        if col.kind == "date":  # days since 1970; NaT compares false with everything, as missing must
            values = values.astype("datetime64[D]")
            wanted = [np.datetime64(int(v), "D") for v in wanted]
        elif col.kind == "bool":
            wanted = [int(v) for v in wanted]
        if op == "IN":
            hit = np.isin(values, np.asarray(wanted, dtype=values.dtype))
            return hit & (values >= 0) if col.kind == "bool" else hit
        with np.errstate(invalid="ignore"):  # NaN (a missing number) compares false, as missing must
            return COMPARE[op](values, wanted[0])


def _ids_of(product_index: Mapping[str, int]) -> list[str]:
    ids = [""] * len(product_index)
    for pid, i in product_index.items():
        ids[i] = pid
    return ids
