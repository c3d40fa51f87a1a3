"""`Items.x IN Purchases.y` and `ItemID IN Purchases.ItemID`: per customer row, whether each product matches
what that customer bought (masks.py evaluates the rest of a filter)."""
from __future__ import annotations

import numpy as np

from ..catalog import Catalog
from .operands import Pairs
from .parse import Compare, Purchased


def purchased(catalog: Catalog, n: int, node: Compare, bought: Pairs) -> np.ndarray:
    """rows x products: whether each product matches the customer's own purchases."""
    rows, row_of, products = bought.rows, bought.row_of, bought.products
    operand: Purchased = node.operand  # type: ignore[assignment]
    if operand.attribute is None:  # ItemID IN Purchases.ItemID
        out = np.zeros((rows, n), dtype=bool)
        out[row_of, products] = True
    else:
        item = catalog.find(node.field.attribute)
        source = catalog.find(operand.attribute)
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
            out = np.zeros((rows, n), dtype=bool)
            if len(nonempty) and hit.shape[1]:
                out[:, nonempty] = np.logical_or.reduceat(hit, ptr[nonempty], axis=1)
    return ~out if node.op == "NOT IN" else out
