"""A `dates.DateRule` as one Spark column expression, with the pandas path's results.

`DateRule.parse` coalesces over its candidate formats in order, each taking only the values that
fully match its guard regex; here that is coalesce(when(value.rlike(guard), parse(fmt)), ...).
Each strptime format becomes a Java DateTimeFormatter pattern (Spark's CORRECTED parser: an
unparseable value is null, never an error), with Python's semantics kept where Java differs:

- %m %d %H %I %M %S accept one or two digits (single pattern letters) unless glued to another
  number (`%Y%m%d`), where they are fixed at two digits as strptime effectively is;
- %y is 1969-2068 as in Python (Java's `yy` is 2000-2099: 2069-2099 move back a century);
- whitespace in a format matches any run of whitespace (values are collapsed to one space);
- ISO8601 is Spark's own timestamp cast (offsets Z, +hh, +hh:mm, +hhmm become UTC).

Directives with no Java equivalent Spark can parse (%a %A %U %W %w %u %Z %c %x %X, ...) fall back
to a pandas UDF running `DateRule.parse` itself on the executors, so every rule stays supported.
Timestamps are UTC: the session time zone must be UTC (`spark/session.py` sets it).
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from .dates import ISO, DateRule, guard
from .text import WHITESPACE

# strptime directive -> (variable-width pattern, fixed-width pattern when glued to another number)
_NUMERIC = {"Y": ("yyyy", "yyyy"), "y": ("yy", "yy"), "m": ("M", "MM"), "d": ("d", "dd"), "H": ("H", "HH"),
            "I": ("h", "hh"), "M": ("m", "mm"), "S": ("s", "ss"), "f": ("SSSSSSSSS", "SSSSSS"),
            "j": ("D", "DDD")}
_TEXT = {"p": "a", "b": "MMM", "B": "MMMM", "z": "[XXX][XX][X]"}
TWO_DIGIT_PIVOT = 2069  # Python's %y: 69-99 -> 1969-1999, 00-68 -> 2000-2068


def _tokens(fmt: str) -> list[tuple[str, str]]:
    """[('dir', 'Y') | ('lit', text) | ('space', ' ')]"""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            out.append(("lit", "%") if fmt[i + 1] == "%" else ("dir", fmt[i + 1]))
            i += 2
            continue
        if ch.isspace():
            if not (out and out[-1][0] == "space"):
                out.append(("space", " "))
        elif out and out[-1][0] == "lit":
            out[-1] = ("lit", out[-1][1] + ch)
        else:
            out.append(("lit", ch))
        i += 1
    return out


def java_pattern(fmt: str) -> str | None:
    """The DateTimeFormatter pattern parsing what strptime `fmt` parses; None when Spark cannot."""
    tokens = _tokens(fmt)
    parts = []
    for k, (kind, text) in enumerate(tokens):
        if kind == "space":
            parts.append(" ")
        elif kind == "lit":
            parts.append("'" + text.replace("'", "''") + "'")
        elif text in _NUMERIC:
            glued = any(0 <= j < len(tokens) and tokens[j][0] == "dir" and tokens[j][1] in _NUMERIC
                        for j in (k - 1, k + 1))
            parts.append(_NUMERIC[text][1 if glued else 0])
        elif text in _TEXT:
            parts.append(_TEXT[text])
        else:
            return None
    return "".join(parts)


def _fallback(fmt: str):
    """A pandas UDF applying the pandas parser to one format (directives Spark cannot parse)."""
    from pyspark.sql.functions import pandas_udf

    rule = DateRule((fmt,))

    @pandas_udf("timestamp")
    def parse(values: pd.Series) -> pd.Series:
        return rule.parse(values.fillna(""))

    return parse


def candidate(value, fmt: str):
    """One format's parse of the stripped string column `value` (null where it does not parse)."""
    from pyspark.sql import functions as F

    if fmt == ISO:
        # Spark's cast takes Z, +hh and +hh:mm after hh:mm:ss; pandas also +hhmm, and offsets after hh[:mm]
        fixed = F.regexp_replace(value, r"([+-]\d{2})(\d{2})$", "$1:$2")
        for short in (r"[T ]\d{1,2}", r"[T ]\d{1,2}:\d{2}"):
            fixed = F.regexp_replace(fixed, rf"({short})(?=\s?(?:Z|[+-]\d{{2}}(?::\d{{2}})?)$)", "$1:00")
        # the fix-ups cost three regexes a row: only for values ending in an offset
        offset = F.substring(value, -6, 6).rlike(r"(?:Z|[+-]\d{2}(?::?\d{2})?)$")
        return F.when(offset, fixed).otherwise(value).cast("timestamp")
    pattern = java_pattern(fmt)
    if pattern is None:
        return _fallback(fmt)(value)
    if " " in pattern:  # any whitespace run matches a space of the format
        spaced = F.translate(value, WHITESPACE, " " * len(WHITESPACE))
        collapsed = F.when(F.instr(spaced, "  ") > 0, F.regexp_replace(spaced, " +", " ")).otherwise(spaced)
    else:
        collapsed = value
    parsed = F.to_timestamp(collapsed, pattern)
    if "%y" in fmt:
        parsed = F.when(F.year(parsed) >= TWO_DIGIT_PIVOT, parsed - F.expr("INTERVAL 100 YEARS")).otherwise(parsed)
    return parsed


def rule_column(rule: DateRule, value) -> Any:
    """`rule.parse` as a column: the first candidate whose guard matches and which parses."""
    from pyspark.sql import functions as F

    return F.coalesce(*[F.when(value.rlike(f"^(?:{guard(fmt)})$"), candidate(value, fmt)) for fmt in rule.formats],
                      F.lit(None).cast("timestamp"))
