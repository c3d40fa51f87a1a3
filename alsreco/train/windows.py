"""Which held-out part the evaluation scores: `eval_protocol`, made wide enough to say something.

A time window whose days hold few returning customers cannot tell settings apart (nor choose a half-life
or a blend weight), and one with none used to skip the evaluation (and `tune`) with a single warning. So:

1. `time_window`: the last `eval_days` days. When they hold fewer than MIN_EVAL_CUSTOMERS test customers
   (customers the model knows who bought something new that it knows), the window is widened: doubled, up
   to WIDEN_MAX_DAYS and to half the data's span (the rest is the training part), the first width whose
   returning customers (a purchase before the window and one in it: counted without building the split)
   reach the minimum being tried. If none holds enough, each customer's last basket is held out instead
   (`last_basket`, a per-customer holdout: every returning customer counts, whatever the dates) when that
   holds more test customers than the widest window. Each step is logged as a WARNING and recorded in
   metadata.json (`metrics.requested`, `metrics.widened` or `metrics.fallback`).
2. `last_basket`: as asked (it cannot widen); a thin one is warned about by the evaluation's interval.

Nothing at all to score (no protocol holds a test customer) is `None`: the evaluation is skipped and says
why, and `tune=true` fails as a user error naming it (evaluate.py).
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import pandas as pd

log = logging.getLogger(__name__)
MIN_EVAL_CUSTOMERS = 100
WIDEN_MAX_DAYS = 90


def widths(days: int, span_days: int) -> list[int]:
    """The window widths tried: `days`, then doubled up to the cap (min(WIDEN_MAX_DAYS, span / 2)), which
    is tried last."""
    cap = min(WIDEN_MAX_DAYS, span_days // 2)
    out = [days]
    while out[-1] * 2 < cap:
        out.append(out[-1] * 2)
    if cap > out[-1]:
        out.append(cap)
    return out


def other(hp: dict[str, Any], as_of: pd.Timestamp, prepared, holdout_of: Callable[[Any, str], Any],
          primary: str) -> Any:
    """The other protocol's held-out part (choice.py confirms a choice on it): each customer's last basket
    when the primary is a time window; else the time window of `eval_days`, widened as above (no
    fallback). None when it holds no test customer."""
    if primary == "time_window":
        holdout = _holdout(prepared.split("last_basket", as_of), holdout_of, "last_basket")
    else:
        holdout, _ = choose({**hp, "eval_protocol": "time_window"}, as_of, prepared, holdout_of, fallback=False)
    if holdout is not None and not len(holdout.rows):
        holdout.release()
        return None
    return holdout


def choose(hp: dict[str, Any], as_of: pd.Timestamp, prepared, holdout_of: Callable[[Any, str], Any],
           fallback: bool = True) -> tuple[Any, dict[str, Any]]:
    """(the holdout to score, or None when nothing can be scored; what was done, for metadata["metrics"]).
    `prepared` gives `split(protocol, start)`, `returning(start)` and `first_date`; `holdout_of(split,
    protocol)` makes the holdout (its `rows` are the test customers; `release()` drops it)."""
    protocol, days = hp["eval_protocol"], int(hp["eval_days"])
    info: dict[str, Any] = {}
    if protocol == "last_basket":
        return _holdout(prepared.split("last_basket", as_of), holdout_of, "last_basket"), info
    first = pd.Timestamp(prepared.first_date).normalize()
    span = int((as_of - first).days) + 1
    best, best_days, tried = None, days, {}
    for width in widths(days, span):
        start = as_of - pd.Timedelta(days=width - 1)
        if width != days:
            returning = prepared.returning(start)
            if returning < MIN_EVAL_CUSTOMERS:
                tried[width] = {"returning_customers": returning}
                continue
        holdout = _holdout(prepared.split("time_window", start), holdout_of, "time_window")
        n = _customers(holdout)
        tried[width] = {"test_customers": n}
        if best is None or n > _customers(best):
            if best is not None:
                best.release()
            best, best_days = holdout, width
        elif holdout is not None:
            holdout.release()
        if n >= MIN_EVAL_CUSTOMERS:
            break
    info.update(eval_days=best_days, window_start=str((as_of - pd.Timedelta(days=best_days - 1)).date()),
                window_end=str(as_of.date()))
    n = _customers(best)
    if n >= MIN_EVAL_CUSTOMERS:
        if best_days != days:
            info["widened"] = {"from_days": days, "to_days": best_days, "tried": tried}
            log.warning("evaluation: the last %d days hold %s test customers (fewer than %d): widened the time "
                        "window to the last %d days (%s..%s, %d test customers)", days,
                        _count(tried[days]), MIN_EVAL_CUSTOMERS, best_days, info["window_start"],
                        info["window_end"], n)
        return best, info
    basket = None if not fallback else _holdout(prepared.split("last_basket", as_of), holdout_of, "last_basket")
    if _customers(basket) > n:
        if best is not None:
            best.release()
        why = (f"no time window of {', '.join(str(w) for w in tried)} days holds {MIN_EVAL_CUSTOMERS} test "
               f"customers ({'; '.join(f'{w} days: {_count(t)}' for w, t in tried.items())})")
        log.warning("evaluation: %s: fell back to holding out each customer's last basket (eval_protocol="
                    "last_basket, %d test customers)", why, _customers(basket))
        return basket, {"fallback": {"protocol": "last_basket", "reason": why, "tried": tried}}
    if basket is not None:
        basket.release()
    if best_days != days:
        info["widened"] = {"from_days": days, "to_days": best_days, "tried": tried}
        log.warning("evaluation: widened the time window to the last %d days (%d test customers, still fewer "
                    "than %d; last_basket holds no more)", best_days, n, MIN_EVAL_CUSTOMERS)
    return best, info


def _holdout(split: Any, holdout_of: Callable[[Any, str], Any], protocol: str) -> Any:
    return None if split is None else holdout_of(split, protocol)


def _customers(holdout: Any) -> int:
    return 0 if holdout is None else int(len(holdout.rows))


def _count(tried: dict[str, int]) -> str:
    if "test_customers" in tried:
        return str(tried["test_customers"])
    return f"{tried['returning_customers']} returning"
