"""How `train` lets a held-out choice (a half-life, a blend) replace the plain model: shared by recency.py
and blend.py.

Candidates are examined best first by their mean NDCG@K on the primary held-out part (`eval_protocol`, as
windows.py made it). One is taken when

1. it beats the base (half-life off, or the ALS alone) beyond the noise of that held-out data: the lower
   bound of an 80% bootstrap interval (one-sided 90%, `tune`'s GUARD_LEVEL) of its per-customer NDCG gain
   is above 0; and
2. it does not lose on the other protocol's held-out part (each customer's last basket when the primary
   is a time window, and the other way round) beyond that part's noise: the upper bound of the same
   interval there is not below 0. A choice that follows this week's sales must not cost the customers
   whose next basket is not this week's, and the other way round.

The first candidate passing both is chosen; none passing keeps the base. Every examined candidate is
recorded (its gain and interval; the other protocol's, and whether it vetoed it) for metadata.json.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .metrics import bootstrap_ci
from .tune import GUARD_LEVEL

MAX_EXAMINED = 64  # candidates examined at most (each costs a bootstrap, and maybe a look at the other part)
CI = f"ci{int(GUARD_LEVEL * 100)}"


def pick(base, tried: Sequence[tuple[Any, Any]], key: str,
         other: Callable[[Any], np.ndarray | None]) -> tuple[Any, list[dict[str, Any]]]:
    """(the chosen candidate's name, or None for the base; the examined candidates' records). `base` and
    `tried` [(name, Scored)] are scored on the primary held-out customers; `other(name)` gives the
    candidate's per-customer NDCG gain on the other protocol's held-out part, None when there is none."""
    order = sorted(range(len(tried)), key=lambda i: -tried[i][1].metrics[key])  # stable: ties keep the order
    records: list[dict[str, Any]] = []
    for i in order[:MAX_EXAMINED]:
        name, scored = tried[i]
        if scored.metrics[key] <= base.metrics[key]:
            break
        diff = scored.ndcg - base.ndcg
        lo, hi = bootstrap_ci(diff, level=GUARD_LEVEL)
        record: dict[str, Any] = {"candidate": name, "difference": float(diff.mean()), CI: [lo, hi],
                                  "test_customers": int(len(diff)), "beats_noise": bool(lo > 0.0)}
        records.append(record)
        if not lo > 0.0:
            continue
        gain = other(name)
        if gain is not None:
            olo, ohi = bootstrap_ci(gain, level=GUARD_LEVEL)
            record["other_protocol"] = {"difference": float(np.mean(gain)), CI: [olo, ohi],
                                        "test_customers": int(len(gain)), "vetoed": bool(ohi < 0.0)}
            if ohi < 0.0:
                continue
        return name, records
    return None, records
