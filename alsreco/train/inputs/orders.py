"""Which invoice ids are cancellations (the `cancellation_rule` hyperparameter).

The UCI Online Retail convention marks a cancellation by a `C` in front of the numeric invoice number
(`C536379`), but `CA-2016-152156` (Superstore exports) is a real order id. Each rule is one regex,
matched against the stripped invoice id (RE2 here, Spark: `col.rlike(pattern)`):

- `auto` (default): `C`/`c` followed by digits only;
- `c_prefix`: any id starting with `C`/`c` (the behaviour before `cancellation_rule` existed);
- `none`: no id is a cancellation.

Whatever the rule, returns with a negative quantity are still dropped as `non_positive_quantity`.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from . import text

CANCELLATION_PATTERNS: dict[str, str | None] = {
    "auto": r"^[Cc]\d+$",
    "c_prefix": r"^[Cc]",
    "none": None,
}


def cancellation_pattern(hp: dict[str, Any]) -> str | None:
    return CANCELLATION_PATTERNS[hp.get("cancellation_rule") or "auto"]


def cancelled(invoice: pd.Series, hp: dict[str, Any]) -> pd.Series:
    """True where the invoice id is a cancellation under the configured rule."""
    pattern = cancellation_pattern(hp)
    if pattern is None:
        return pd.Series(False, index=invoice.index)
    values = text.strip(pa.array(invoice.to_numpy(dtype=object), type=pa.string(), from_pandas=True))
    return pd.Series(text.matches(values, pattern), index=invoice.index)
