"""Hyperparameter values as SageMaker sends them (always strings, sometimes JSON-quoted) -> Python
values of the declared type; plus the checks a value of the right type may still fail."""
from __future__ import annotations

import datetime as _dt
import json
import re
import time
from typing import Any, Callable


def unwrap(raw: Any) -> Any:
    """Undo SageMaker's string encodings: '"10"' -> '10', ' 5 ' -> '5'."""
    while isinstance(raw, str):
        s = raw.strip()
        if len(s) >= 2 and s[0] == s[-1] == '"':
            try:
                raw = json.loads(s)
                continue
            except ValueError:
                pass
        return s
    return raw


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("not a whole number")
        return int(v)
    s = str(v)
    try:
        return int(s)
    except ValueError:
        f = float(s)
        if not f.is_integer():
            raise ValueError("not a whole number") from None
        return int(f)


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("a boolean is not a number")
    return float(v)


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("true", "1", "yes", "y", "on"):
        return True
    if s in ("false", "0", "no", "n", "off"):
        return False
    raise ValueError("not a boolean")


def _to_str(v: Any) -> str:
    if isinstance(v, (dict, list, bool)) or v is None:
        raise ValueError("not text")
    return str(v)


def _to_date(v: Any) -> str:
    s = _to_str(v).strip()
    if s == "":
        return ""
    s = s.replace("-", "")
    _dt.datetime.strptime(s, "%Y%m%d")
    if len(s) != 8:
        raise ValueError("not YYYYMMDD")
    return s


def _to_list(v: Any) -> list[str]:
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("["):
            v = json.loads(s)
        else:
            return [x.strip() for x in s.split(",") if x.strip()]
    if not isinstance(v, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
        raise ValueError("not a list of strings")
    return [str(x) for x in v]


def _to_auto_float(v: Any) -> float | str:
    """"auto" (any case), else a number."""
    if isinstance(v, str) and v.strip().lower() == "auto":
        return "auto"
    return _to_float(v)


COERCERS: dict[str, Callable[[Any], Any]] = {
    "int": _to_int, "float": _to_float, "auto_float": _to_auto_float, "bool": _to_bool, "str": _to_str,
    "date": _to_date, "list": _to_list,
}


def check_date_formats(formats: list[str]) -> None:
    """Each format must be ISO8601 or a strptime format (as `time.strptime` reads it) with a year and a month
    or day of year."""
    for fmt in formats:
        if fmt == "ISO8601":
            continue
        try:
            time.strptime("", fmt)
        except ValueError as exc:
            if "does not match format" not in str(exc):
                raise ValueError(f"{fmt!r} is not a strptime format ({exc}); use codes such as %Y %m %d %H %M "
                                 "%S %y %b %p %z, or ISO8601") from None
        codes = set(re.findall(r"%(.)", fmt.replace("%%", "")))
        if not codes & {"Y", "y"} or not codes & {"m", "b", "B", "j"}:
            raise ValueError(f"{fmt!r} has no year (%Y, %y) or no month (%m, %b) directive; a format "
                             'containing a comma must be given as a JSON list, e.g. ["%d %b, %Y"]')


def json_object(text: str, what: str = "value") -> dict[str, Any]:
    """A hyperparameter holding a JSON object ("" = {}); ValueError naming what is wrong."""
    if not str(text).strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc}); write a JSON object") from None
    if not isinstance(value, dict):
        raise ValueError(f"a JSON object of {what} is needed, not {type(value).__name__}")
    return value


def check_catalog_types(text: str) -> None:
    kinds = ("string", "list", "number", "bool", "date")
    for name, kind in json_object(text, "attribute: kind").items():
        if kind not in kinds:
            raise ValueError(f"{name!r}: kind {kind!r} is not one of {', '.join(kinds)}")


def check_filters(text: str) -> None:
    from .filters.parse import FilterError, parse

    for name, expression in json_object(text, "name: filter expression").items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", str(name)):
            raise ValueError(f"filter name {name!r}: letters, digits, _ . - (at most 64)")
        try:
            parse(expression)
        except FilterError as exc:
            raise ValueError(f"filter {name!r}: {exc}") from None


def check_filter_values(text: str) -> None:
    for name, value in json_object(text, "$name: value").items():
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (str, int, float, bool)) for v in items):
            raise ValueError(f"{name!r}: text, a number, true/false or a list of them")
