"""The values a filter compares with, and what a block of customers bought: a request's `$name` values
and literals converted to an attribute's type (`convert`), a text comparison's table of wanted value codes
(`value_table`), the hashable `Spec` of a request's filters, and `Pairs` (masks.py evaluates with them)."""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Mapping, Sequence

import numpy as np

from ..catalog import Column
from .parse import FilterError

MAX_TEXT = 1000  # characters per value
WORDS = {"string": "text", "list": "a list of text", "bool": "true or false", "number": "a number",
         "date": "a date (YYYY-MM-DD)", "id": "a product id"}


def convert(value: Any, kind: str, where: str) -> Any:
    """A literal or $value as the attribute's type: str, float, bool, or days since 1970."""
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise FilterError(f"{where}: a value longer than {MAX_TEXT} characters")
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


def value_table(col: Column, wanted: list[Any]) -> np.ndarray:
    """bool per value code of a string / list column: whether it is wanted; one entry per value, a spare
    for the wanted values no product has, and last the missing cells (code -1). Built with map (no Python
    frame per value: $lists run to 1,000)."""
    spare = len(col.values)
    table = np.zeros(spare + 2, dtype=bool)
    table[np.fromiter(map(col.code_of().get, wanted, repeat(spare, len(wanted))), dtype=np.int64,
                      count=len(wanted))] = True
    return table


def plain_texts(values: list[Any]) -> bool:
    """Whether every value is a str within MAX_TEXT (what `convert` would return unchanged)."""
    return set(map(type, values)) <= {str} and max(map(len, values), default=0) <= MAX_TEXT


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

    def value_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.values}


def freeze(values: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((str(k), tuple(v) if isinstance(v, list) else v) for k, v in (values or {}).items()))
