"""Hyperparameter schema, layering and coercion.

One schema (name, type, default, allowed values, help) drives parsing, validation, the
shipped `als_spec.json` and the README table. Sources, lowest to highest precedence:
built-in defaults -> `als_spec.json` shipped with the package -> `/opt/ml/input/config/
als_spec.json` -> `/opt/ml/input/config/hyperparameters.json`. SageMaker passes every value
as a string (`"10"`, `"\"10\""`, `"True"`, `"[1, 2]"`); each is coerced to its declared type.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .errors import UserError
from .paths import read_json_object

DEFAULT_NON_PRODUCT_CODES = (
    "POST", "DOT", "M", "m", "D", "C2", "C3", "S", "B", "CRUK", "PADS",
    "BANK CHARGES", "AMAZONFEE", "ADJUST", "ADJUST2", "TEST001", "TEST002",
)
RANKING_TYPES = ("incident", "count", "total_qty", "normalize_count", "log_qty")
DELIMITERS = ("", ",", ";", "|", "\t", "tab")
ALIASES = {"max_iter": "max_itter"}


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # int | float | bool | str | date | list
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    group: str = "model"

    def allowed(self) -> str:
        if self.choices is not None:
            shown = ["(empty)" if c == "" else repr(c) if c == "\t" else c for c in self.choices]
            return "one of " + ", ".join(str(c) for c in shown)
        if self.type == "date":
            return "a date YYYYMMDD, or empty for the last date in the data"
        if self.type == "bool":
            return "true or false"
        if self.type == "list":
            return "a JSON list of strings or a comma-separated string"
        lo = "-inf" if self.min is None else _num(self.min)
        hi = "inf" if self.max is None else _num(self.max)
        kind = "an integer" if self.type == "int" else "a number" if self.type == "float" else "text"
        if self.min is None and self.max is None:
            return kind
        return f"{kind} in [{lo}, {hi}]"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


SCHEMA: tuple[Param, ...] = (
    # --- the model --------------------------------------------------------
    Param("ranking_type", "str", "count",
          "How purchases become one rating per (customer, product): incident = 1 per pair, "
          "count = purchase lines, total_qty = summed quantity, normalize_count = count / product's "
          "mean count, log_qty = log(1 + summed quantity).", choices=RANKING_TYPES),
    Param("recency_half_life_days", "float", 0.0,
          "Weight each purchase line by 0.5^(age/half-life) before aggregating; 0 disables.",
          min=0, max=3650),
    Param("implicit_prefs", "bool", True,
          "Implicit-feedback ALS (ratings are confidences). false = explicit ALS on the ratings."),
    Param("als_rank", "int", 16, "Number of latent factors.", min=1, max=1000),
    Param("max_itter", "int", 15, "ALS iterations (`max_iter` is accepted too).", min=1, max=200),
    Param("reg_param", "float", 0.1, "ALS regularisation (scaled by each row's rating count, as in Spark).",
          min=0, max=1e6),
    Param("alpha", "float", 5.0, "Implicit ALS confidence: c = 1 + alpha * rating.", min=0, max=1e6),
    Param("nonnegative", "bool", False, "Constrain factors to be non-negative."),
    Param("seed", "int", 42, "Random seed for ALS initialisation.", min=0, max=2**31 - 1),
    Param("num_blocks", "int", 0,
          "Spark ALS user/item blocks; 0 = auto: one per core below 1M ratings (fastest on small data), else at least 10.",
          min=0, max=10000),
    Param("checkpoint_interval", "int", 10, "Checkpoint every N iterations (long runs).", min=1, max=1000),
    Param("spark_master", "str", "",
          "Attach to an existing Spark cluster (spark://host:7077, yarn) instead of local Spark; empty = "
          "the SPARK_MASTER environment variable, else local (one host) or the job's own cluster (several).",
          group="cluster"),
    # --- dates and cold start ----------------------------------------------
    Param("retention_date", "date", "",
          "The model's as-of date (YYYYMMDD); data after it is ignored. Empty = last date in the data.",
          group="dates"),
    Param("retention_days", "int", 30,
          "Products and customers first seen within this many days before retention_date are new.",
          min=0, max=36500, group="dates"),
    Param("eval_days", "int", 3,
          "Hold out the last N days to score the model against a popularity baseline; 0 = no evaluation.",
          min=0, max=3650, group="dates"),
    Param("eval_k", "int", 10, "Cut-off K for the evaluation metrics.", min=1, max=1000, group="dates"),
    # --- input --------------------------------------------------------------
    Param("input_uri", "str", "",
          "Read the training data with Spark from this URI (s3a://, hdfs://, file://; CSV with a header row, "
          "or Parquet) instead of the training channel; empty = the channel.", group="input"),
    Param("customer_column", "str", "", "Customer id column; empty = detect.", group="input"),
    Param("product_column", "str", "", "Product id column; empty = detect.", group="input"),
    Param("quantity_column", "str", "", "Quantity column; empty = detect (missing = 1 per line).",
          group="input"),
    Param("date_column", "str", "", "Date column; empty = detect.", group="input"),
    Param("invoice_column", "str", "", "Invoice column (cancellations start with C); empty = detect.",
          group="input"),
    Param("delimiter", "str", "", "Field delimiter; empty = detect among , ; | and tab.",
          choices=DELIMITERS, group="input"),
    Param("date_format", "str", "",
          "strptime format of the date column (e.g. %m/%d/%y %H:%M); empty = detect.", group="input"),
    Param("non_product_codes", "list", list(DEFAULT_NON_PRODUCT_CODES),
          "Product codes that are not products (postage, fees, adjustments) and are dropped.",
          group="input"),
    Param("max_malformed_rows", "int", 100,
          "Rows that cannot be parsed are skipped up to this many; more fails the job.",
          min=0, max=10**9, group="input"),
    # --- output and serving defaults ------------------------------------------
    Param("reco_item", "int", 10, "Default number of recommendations (N) per customer.",
          min=1, max=1000, group="serving"),
    Param("group_size", "int", 10000, "Customers per block when batch-scoring everyone.",
          min=1, max=10**7, group="serving"),
    Param("exclude_purchased", "bool", True, "Default rule: never recommend what a customer already bought.",
          group="serving"),
    Param("exclude_popular", "int", 0, "Default rule: exclude the top-P best sellers.", min=0, max=10**6,
          group="serving"),
    Param("include_new", "int", 0, "Default rule: force up to M new products into each list.",
          min=0, max=1000, group="serving"),
)
BY_NAME = {p.name: p for p in SCHEMA}


def defaults() -> dict[str, Any]:
    return {p.name: _copy(p.default) for p in SCHEMA}


def _copy(v: Any) -> Any:
    return list(v) if isinstance(v, list) else v


def _ignored(key: str) -> bool:
    return key == "_tuning_objective_metric" or key.startswith("sagemaker_") or key.startswith("_sagemaker")


def _fail(p: Param, raw: Any, source: str, why: str = "") -> UserError:
    extra = f" ({why})" if why else ""
    return UserError(f"hyperparameter '{p.name}' = {raw!r} from {source} is invalid{extra}: "
                     f"expected {p.allowed()}")


def _unwrap(raw: Any) -> Any:
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


def coerce(p: Param, raw: Any, source: str) -> Any:
    value = raw if p.type == "str" and isinstance(raw, str) and raw in ("\t",) else _unwrap(raw)
    try:
        out = _COERCERS[p.type](value)
    except (ValueError, TypeError) as exc:
        raise _fail(p, raw, source, str(exc) if str(exc) else "") from None
    if p.type in ("int", "float"):
        if out != out:  # NaN
            raise _fail(p, raw, source)
        if (p.min is not None and out < p.min) or (p.max is not None and out > p.max):
            raise _fail(p, raw, source, "out of range")
    if p.choices is not None and out not in p.choices:
        raise _fail(p, raw, source)
    if p.name == "delimiter" and out == "tab":
        out = "\t"
    return out


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


_COERCERS: dict[str, Callable[[Any], Any]] = {
    "int": _to_int, "float": _to_float, "bool": _to_bool, "str": _to_str, "date": _to_date, "list": _to_list,
}


def merge(layers: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Apply (source-name, mapping) layers over the defaults, validating every key."""
    out = defaults()
    for source, layer in layers:
        for key, raw in layer.items():
            if _ignored(key):
                continue
            name = ALIASES.get(key, key)
            p = BY_NAME.get(name)
            if p is None:
                raise UserError(f"unknown hyperparameter '{key}' in {source}; known: "
                                + ", ".join(sorted(BY_NAME)))
            out[name] = coerce(p, raw, source)
    return out


def shipped_spec_file(environ: Mapping[str, str] | None = None) -> Path:
    """The `als_spec.json` shipped with the project: `ALSRECO_SPEC_FILE` (set in the image)
    or the top level of the source tree."""
    env = os.environ if environ is None else environ
    if env.get("ALSRECO_SPEC_FILE"):
        return Path(env["ALSRECO_SPEC_FILE"])
    return Path(__file__).resolve().parent.parent / "als_spec.json"


def load(paths, shipped: Path | None = None) -> dict[str, Any]:
    """Resolve the hyperparameters for a training job rooted at `paths`."""
    layers: list[tuple[str, Mapping[str, Any]]] = []
    shipped = shipped_spec_file() if shipped is None else shipped
    for path in (shipped, paths.user_spec_file, paths.hyperparameters_file):
        if path.is_file():
            layers.append((str(path), read_json_object(path)))
    return merge(layers)


def markdown_table() -> str:
    rows = ["| name | type | default | allowed | description |", "|---|---|---|---|---|"]
    for p in SCHEMA:
        default = json.dumps(p.default) if p.type in ("list", "bool") else repr(p.default) \
            if p.default == "" else str(p.default)
        allowed = p.allowed().replace("|", "\\|")
        rows.append(f"| `{p.name}` | {p.type} | `{default}` | {allowed} | {p.help.replace('|', chr(92) + '|')} |")
    return "\n".join(rows)
