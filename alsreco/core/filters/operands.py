"""The values a filter compares with, and what a block of customers bought: a request's `$name` values
and literals converted to an attribute's type (`convert`, `texts`), a text comparison's wanted values
asked about a few products (`member`) or as a table over value codes (`value_table`), the hashable `Spec`
of a request's filters, and `Pairs` (masks.py evaluates with them)."""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Mapping, Sequence

import numpy as np

from ..catalog import Column
from .parse import FilterError

WORDS = {"string": "text", "list": "a list of text", "bool": "true or false", "number": "a number",
         "date": "a date (YYYY-MM-DD)", "id": "a product id"}


def convert(value: Any, kind: str, where: str) -> Any:
    """A literal or $value as the attribute's type: str, float, bool, or days since 1970."""
    if kind in ("string", "list", "id"):
        if not isinstance(value, str):
            raise FilterError(f"{where} is {WORDS[kind]}: write the value in quotes, not {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise FilterError(f"{where} is true or false, not {value!r}")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise FilterError(f"{where} is a number, not {value!r}")
        return float(value)
    if isinstance(value, str):  # date
        try:
            day = _dt.date.fromisoformat(value[:10])
            if len(value) > 10:
                _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (day - _dt.date(1970, 1, 1)).days
        except ValueError:
            pass
    raise FilterError(f"{where} is a date: write it as \"YYYY-MM-DD\", not {value!r}")


def texts(values: list[Any], kind: str, label: str) -> list[str]:
    """`values` of a text, list or id comparison, checked as `convert` checks them, without a Python-level
    pass over them (a $list runs to 1,000 values): a join raises TypeError unless all are text (C speed),
    and only then does `convert` name the first that is not."""
    try:
        "".join(values)
    except TypeError:
        return [convert(v, kind, label) for v in values]
    return values


def member(wanted: set, names: Sequence[str | None], codes: np.ndarray) -> np.ndarray:
    """bool per code: whether `names[code]` is wanted (a string column's names end in None, so the missing
    cells' code -1 is wanted by nothing): what a filter asks about a request's few candidates."""
    return np.fromiter(map(wanted.__contains__, map(names.__getitem__, codes.tolist())), dtype=bool,
                       count=len(codes))


def value_table(col: Column, wanted: set) -> np.ndarray:
    """bool per value code of a string / list column: whether it is wanted; one entry per value and last
    the missing cells (code -1). Built with map (no Python frame per value: $lists run to 1,000)."""
    spare = len(col.values)
    codes = np.fromiter(map(col.code_of().get, wanted, repeat(spare, len(wanted))), dtype=np.int64,
                        count=len(wanted))
    table = np.zeros(spare + 2, dtype=bool)
    table[codes] = True
    table[spare] = False  # the wanted values no product has
    return table


@dataclass(frozen=True)
class Pairs:
    """What a block of customers bought, flat: (row, product) pairs, for `rows` rows."""

    row_of: np.ndarray
    products: np.ndarray
    rows: int


def pairs(bought: Sequence[np.ndarray]) -> Pairs:
    lens = np.fromiter((len(b) for b in bought), dtype=np.int64, count=len(bought))
    products = np.concatenate([np.asarray(b, dtype=np.int64) for b in bought]) if lens.sum() else \
        np.empty(0, np.int64)
    return Pairs(np.repeat(np.arange(len(bought), dtype=np.int64), lens), products, len(bought))


@dataclass(frozen=True)
class Spec:
    """What a request asks for: filter texts (or names) and their values, hashable for caches."""

    texts: tuple[str, ...]
    values: tuple[tuple[str, Any], ...] = ()

    def __hash__(self) -> int:  # once: a fresh request's 1,000 values are hashed by every cache lookup else
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.texts, self.values))
            object.__setattr__(self, "_hash", cached)
        return cached

    def value_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.values}


def freeze(values: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((str(k), tuple(v) if isinstance(v, list) else v) for k, v in (values or {}).items()))
