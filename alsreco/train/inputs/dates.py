"""Date columns as they come: decide on the driver from a sample, apply as a vectorised column operation.

A column may mix formats (`12/06/2010 10:08` beside `2/20/11 11:39`, ISO with and without a time) and
carry UTC offsets (`+01:00`, `Z`). `detect` picks, from a sample of the column, an ordered list of
candidate formats that together parse it; `DateRule.parse` coalesces over them in that order, each
candidate trying only the rows still unparsed and only those matching its guard regex (so `%y` never
takes a 4-digit year). Offsets are normalised to UTC; the result is tz-naive UTC (values without an
offset are taken as UTC already). Day-first versus month-first is decided once for the column.

The same rule maps onto Spark: coalesce(when(col.rlike(guard), to_timestamp(col, fmt)), ...).
"""
from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...core.errors import UserError
from . import text

log = logging.getLogger(__name__)

ISO = "ISO8601"  # pandas' ISO 8601 parser: date, optional time, optional Z / ±hh[:mm] offset
ISO_GUARD = (r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}(?::\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
             r"(?: ?(?:Z|[+-]\d{2}(?::?\d{2})?))?)?")
_TIMES = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", " %I:%M %p", " %I:%M:%S %p")
_MONTH_FIRST = tuple(f"%m{s}%d{s}{y}" for s in "/-." for y in ("%y", "%Y"))
_DAY_FIRST = tuple(f"%d{s}%m{s}{y}" for s in "/-." for y in ("%y", "%Y"))
_YEAR_FIRST = ("%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y-%m-%d")
MONTH_FIRST_FORMATS = tuple(d + t for d in _MONTH_FIRST for t in _TIMES)
DAY_FIRST_FORMATS = tuple(d + t for d in _DAY_FIRST for t in _TIMES)
YEAR_FIRST_FORMATS = tuple(d + t for d in _YEAR_FIRST for t in _TIMES)
DATE_FORMATS = (ISO, *MONTH_FIRST_FORMATS, *DAY_FIRST_FORMATS, *YEAR_FIRST_FORMATS)  # every candidate

_DIRECTIVE_RE = {
    "Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{1,2}", "d": r"\d{1,2}", "H": r"\d{1,2}", "I": r"\d{1,2}",
    "M": r"\d{1,2}", "S": r"\d{1,2}", "f": r"\d{1,9}", "j": r"\d{1,3}", "U": r"\d{1,2}", "W": r"\d{1,2}",
    "w": r"\d", "u": r"\d", "p": r"[AaPp]\.?[Mm]\.?", "b": r"\p{L}+\.?", "B": r"\p{L}+",
    "a": r"\p{L}+\.?", "A": r"\p{L}+", "Z": r"[A-Za-z]{1,5}", "%": "%",
    "z": r"(?:Z|[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:\.\d{1,6})?)?)?)",
}
_DMY = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})[/.-](?:\d{4}|\d{2})(?!\d)")
SAMPLE_HEAD = SAMPLE_SPREAD = 1000


def guard(fmt: str) -> str:
    """A full-match regex (RE2 / Java syntax) every value parsed by `fmt` satisfies: a necessary condition,
    not a parser. pandas is strict about %y (2 digits) and %Y (4), but its ISO8601 takes `2011` alone."""
    if fmt == ISO:
        return ISO_GUARD
    out, i = [], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            out.append(_DIRECTIVE_RE.get(fmt[i + 1], r".+?"))
            i += 2
        else:
            out.append(r"\s+" if ch.isspace() else re.escape(ch))
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class DateRule:
    """Ordered candidate formats for one date column; `parse` coalesces over them."""

    formats: tuple[str, ...]
    day_first: bool | None = None  # None: no day/month ambiguity in the sample, or formats given
    coverage: float = 1.0  # share of the sample the formats parse

    def parse(self, values: pd.Series, source: str = "date_format") -> pd.Series:
        """Parse stripped strings to tz-naive UTC datetimes; NaT where no candidate matches."""
        arr = values.to_numpy(dtype=object)
        out = np.full(len(arr), np.datetime64("NaT"), dtype="datetime64[ns]")
        left = np.flatnonzero(arr != "")  # positions not parsed yet
        for fmt in self.formats:
            if not len(left):
                break
            matched = np.flatnonzero(fullmatch(arr[left], guard(fmt)))
            if not len(matched):
                continue
            parsed = _to_datetime(pd.Series(arr[left[matched]]), fmt, source).to_numpy()
            ok = ~np.isnat(parsed)
            out[left[matched[ok]]] = parsed[ok]
            keep = np.ones(len(left), dtype=bool)
            keep[matched[ok]] = False
            left = left[keep]
        return pd.Series(out, index=values.index)


def fullmatch(values: pd.Series | np.ndarray, pattern: str) -> np.ndarray:
    """Vectorised full match with RE2 (pyarrow), as Spark's rlike would run it."""
    arr = pa.array(np.asarray(values, dtype=object), type=pa.string())
    return pc.match_substring_regex(arr, f"^(?:{pattern})$").to_numpy(zero_copy_only=False)


_OFFSET = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def _to_datetime(values: pd.Series, fmt: str, source: str) -> pd.Series:
    if fmt == ISO and len(values):
        # pandas' ISO parser carries one value's UTC offset over to the next value without one
        # ("2011-3-8 9:05" after a "+01:00" value came out an hour early): parse the two apart.
        has_offset = text.matches(pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True),
                                  _OFFSET)
        if has_offset.any() and not has_offset.all():
            out = pd.Series(np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]"), index=values.index)
            out[has_offset] = _parse(values[has_offset], fmt, source).to_numpy()
            out[~has_offset] = _parse(values[~has_offset], fmt, source).to_numpy()
            return out
    return _parse(values, fmt, source)


def _parse(values: pd.Series, fmt: str, source: str) -> pd.Series:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
    except ValueError as exc:  # a directive Python knows but pandas does not
        raise UserError(f"date format {fmt!r} ({source}) cannot be used: {exc}") from None
    return parsed.dt.tz_convert(None).astype("datetime64[ns]")


def sample(values: pd.Series) -> pd.Series:
    """The driver's sample: the first non-empty values plus values spread evenly over the column."""
    filled = values[values != ""]
    head, tail = filled.iloc[:SAMPLE_HEAD], filled.iloc[SAMPLE_HEAD:]
    step = max(1, len(tail) // SAMPLE_SPREAD)
    return pd.concat([head, tail.iloc[::step].iloc[:SAMPLE_SPREAD]])


def day_first(values: pd.Series) -> bool | None:
    """Decide day-first (True) or month-first (False) for `a/b/year` values (separator / - or .): a day
    (13-31) in the first position means day-first, in the second month-first; when both occur the
    majority wins (the others become malformed); with no evidence month-first, unless most values use
    dots (1.2.2011 is European). None when no value looks like `a/b/year`."""
    parts = values.str.extract(_DMY)
    parts = parts[parts[0].notna()]
    if parts.empty:
        return None
    first, second = parts[0].astype(int), parts[2].astype(int)
    n_day = int(((first > 12) & (first <= 31) & (second <= 12)).sum())
    n_month = int(((second > 12) & (second <= 31) & (first <= 12)).sum())
    if n_day and n_month:
        log.warning("date column mixes day-first (%d sampled values) and month-first (%d) dates; using %s",
                    n_day, n_month, "day-first" if n_day > n_month else "month-first")
    if n_day or n_month:
        return n_day > n_month
    return bool((parts[1] == ".").mean() > 0.5)


def candidates(first: bool | None) -> tuple[str, ...]:
    orders = DAY_FIRST_FORMATS if first else MONTH_FIRST_FORMATS
    return (ISO, *orders, *YEAR_FIRST_FORMATS)


def choose(values: pd.Series, formats: Sequence[str]) -> list[str]:
    """Greedy cover of the sample: repeatedly take the format that parses most still-unparsed values
    (ties: the earlier in `formats`), until none parses any of the rest."""
    chosen: list[str] = []
    rest = values
    while not rest.empty:
        best, best_hits = None, pd.Index([])
        for fmt in formats:
            cand = rest[fullmatch(rest, guard(fmt))] if fmt not in chosen else rest.iloc[:0]
            if len(cand) <= len(best_hits):
                continue
            parsed = _to_datetime(cand, fmt, "detection")
            hits = parsed.index[parsed.notna()]
            if len(hits) > len(best_hits):
                best, best_hits = fmt, hits
            if len(best_hits) == len(rest):
                break
        if best is None:
            break
        chosen.append(best)
        rest = rest.drop(best_hits)
    return chosen


def detect(path: Path, values: pd.Series, hp: dict[str, Any], column: Any = "date",
           line_of: Callable[[int], int] | None = None) -> DateRule:
    """Choose the date rule of one column from a sample of its stripped string values. `line_of` maps a
    row position to its file line (for messages). Fails when the rule parses under half the sample."""
    given = list(hp.get("date_format") or [])
    if isinstance(hp.get("date_format"), str):
        given = [hp["date_format"]]
    sampled = sample(values)
    if sampled.empty:
        return DateRule(tuple(given) or (ISO,))
    if given:
        rule = DateRule(tuple(given))
    else:
        first = day_first(sampled)
        rule = DateRule(tuple(choose(sampled, candidates(first))), first)
    parsed = rule.parse(sampled, "the date_format hyperparameter" if given else "detection")
    coverage = float(parsed.notna().mean())
    rule = DateRule(rule.formats, rule.day_first, coverage)
    if coverage < 0.5:
        pos = parsed.index[parsed.isna()][0]
        where = f" (line {line_of(int(pos))})" if line_of else ""
        example = f"{values.loc[pos]!r}{where}"
        if given:
            raise UserError(f"{path}: the date_format hyperparameter {given} parses only {coverage:.0%} of "
                            f"{len(sampled)} sampled values of date column {column!r}, e.g. {example}; "
                            "fix date_format (strptime codes such as %d/%m/%Y %H:%M, or a list of formats)")
        raise UserError(f"{path}: cannot parse dates like {example} in date column {column!r} (only "
                        f"{coverage:.0%} of {len(sampled)} sampled values match a known format); set the "
                        "'date_format' hyperparameter to its strptime format, e.g. %d/%m/%Y %H:%M, or a "
                        'list of formats such as ["%d/%m/%Y %H:%M", "%d/%m/%y"]')
    log.info("%s: date column %r parsed with %s (%.1f%% of %d sampled values%s)", path.name, column,
             list(rule.formats), 100 * coverage, len(sampled),
             "" if rule.day_first is None else ", day-first" if rule.day_first else ", month-first")
    return rule
