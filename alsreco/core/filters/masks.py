"""A parsed filter, checked against a catalogue, evaluated as numpy masks over all products.

`compile_filter(tree, catalog, product_index)` checks attribute names and kinds, operators and
literal types once per distinct expression; `.bind(values)` checks the request's `$name` values
and evaluates every part that does not depend on the customer (once per request, or once per
cached rule set); `Bound.selected(bought)` evaluates the rest for a block of customers: a 1-D
mask (n_products,) when the filter names no `Purchases.*`, else rows x n_products.

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
from .operands import WORDS, Pairs, convert, pairs, plain_texts, value_table
from .parse import MAX_SET, And, Compare, Field, Filter, FilterError, Not, Or, Param, Purchased

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

    def __init__(self, tree: Filter, catalog: Catalog, product_index: Mapping[str, int]):
        self.tree, self.catalog, self.product_index = tree, catalog, product_index
        self.params: dict[str, str] = {}  # $name -> "scalar" | "set"
        self.uses_purchases = False
        self._check(tree.where)

    def _column(self, attribute: str, pos: int) -> Column:
        col = self.catalog.find(attribute)
        if col is None:
            known = ", ".join(sorted(self.catalog.columns)) or "none: this model has no catalogue"
            raise FilterError(f"unknown attribute Items.{attribute} at position {pos} (known: {known})")
        return col

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
        self._wanted: dict[int, tuple[str, list[Any]]] = {}  # each comparison's kind and converted values
        self._tables: dict[int, np.ndarray] = {}  # each text comparison's value table (operands.value_table)
        self._mask: np.ndarray | None = None

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
        return ~chosen if self.include else chosen

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
            return self._purchased(node, bought or Pairs(np.empty(0, np.int64), np.empty(0, np.int64), 0))
        key = id(node)
        if key in self._static:
            return self._static[key] if at is None else self._static[key][at]
        if at is not None and self.compiled.kind_of(node.field) != "list":
            return self._compare(node, at)  # a list column is read per entry: its whole mask, cached, below
        self._static[key] = self._compare(node)
        return self._static[key] if at is None else self._static[key][at]

    def _operands(self, node: Compare, kind: str) -> list[Any]:
        where = f"{_name(node.field)} {_where(node)}"
        items = node.operand if isinstance(node.operand, tuple) else (node.operand,)
        out: list[Any] = []
        for item in items:
            raw = self.values[item.name] if isinstance(item, Param) else item.value
            values = raw if isinstance(raw, list) else [raw]
            if kind in ("string", "list", "id") and plain_texts(values):
                out.extend(values)  # already what `convert` would give (a long $name list: the common case)
                continue
            label = f"filter_values.{item.name}" if isinstance(item, Param) else where
            out.extend(convert(v, kind, label) for v in values)
        return out

    def _compare(self, node: Compare, at: np.ndarray | None = None) -> np.ndarray:
        key = id(node)
        if key not in self._wanted:  # the request's values, converted once per filter and comparison
            kind = self.compiled.kind_of(node.field)
            self._wanted[key] = (kind, self._operands(node, kind))
        kind, wanted = self._wanted[key]
        positive = {"!=": "=", "NOT IN": "IN"}.get(node.op, node.op)
        if kind == "id":
            idx = np.asarray([self.compiled.product_index[v] for v in wanted if v in self.compiled.product_index],
                             dtype=np.int64)
            if at is not None:
                mask = np.isin(at, idx)
            else:
                mask = np.zeros(self.n, dtype=bool)
                mask[idx] = True
        else:
            col = self.catalog.find(node.field.attribute)
            mask = self._column_mask(col, positive, wanted, at, key)
        return ~mask if positive != node.op else mask

    def _column_mask(self, col: Column, op: str, wanted: list[Any], at: np.ndarray | None = None,
                     key: int = 0) -> np.ndarray:
        """What the comparison `key` selects over all products, or over the products `at`."""
        if at is not None:  # a string's codes / a number's values at `at` only (never a list column)
            col = col.subset(at)
        if col.kind in ("string", "list"):
            if key not in self._tables:
                self._tables[key] = value_table(col, wanted)
            hit = self._tables[key].take(col.codes)  # take: ~half the time of fancy indexing with int32 codes
            if col.kind == "string":
                return hit
            out = np.zeros(self.n, dtype=bool)
            out[col.owners()[hit]] = True
            return out
        values = np.asarray(col.values)
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

    def _purchased(self, node: Compare, bought: Pairs) -> np.ndarray:
        """rows x products: whether each product matches the customer's own purchases."""
        rows, row_of, products = bought.rows, bought.row_of, bought.products
        operand: Purchased = node.operand  # type: ignore[assignment]
        if operand.attribute is None:  # ItemID IN Purchases.ItemID
            out = np.zeros((rows, self.n), dtype=bool)
            out[row_of, products] = True
        else:
            item = self.catalog.find(node.field.attribute)
            source = self.catalog.find(operand.attribute)
            # value codes of what each row bought, translated to the item column's codes
            if source.kind == "string":
                src_codes, src_rows = np.asarray(source.codes)[products], row_of
            else:
                ptr = np.asarray(source.arrays["indptr"], dtype=np.int64)
                per = ptr[products + 1] - ptr[products]
                at = np.repeat(ptr[products] - np.cumsum(per) + per, per) + np.arange(int(per.sum()), dtype=np.int64)
                src_codes, src_rows = np.asarray(source.codes)[at], np.repeat(row_of, per)
            lookup = item.code_of()
            trans = np.array([lookup.get(v, -1) for v in source.values.tolist()] + [-1], dtype=np.int64)
            codes = trans[src_codes]
            keep = codes >= 0
            has = np.zeros((rows, len(item.values) + 1), dtype=bool)
            has[src_rows[keep], codes[keep]] = True
            if item.kind == "string":
                out = has[:, np.asarray(item.codes)]
            else:
                hit = has[:, np.asarray(item.codes)]
                ptr = np.asarray(item.arrays["indptr"], dtype=np.int64)
                nonempty = np.flatnonzero(np.diff(ptr) > 0)
                out = np.zeros((rows, self.n), dtype=bool)
                if len(nonempty) and hit.shape[1]:
                    out[:, nonempty] = np.logical_or.reduceat(hit, ptr[nonempty], axis=1)
        return ~out if node.op == "NOT IN" else out


