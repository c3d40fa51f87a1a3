"""Hyperparameter schema, layering and coercion.

One schema (core/params.py: name, type, default, allowed values, help) drives parsing, validation, the
shipped `als_spec.json` and the table in docs/hyperparameters.md. Sources, lowest to highest precedence:
built-in defaults -> `als_spec.json` shipped with the package -> `/opt/ml/input/config/
als_spec.json` -> `/opt/ml/input/config/hyperparameters.json`. SageMaker passes every value
as a string (`"10"`, `"\"10\""`, `"True"`, `"[1, 2]"`); each is coerced to its declared type.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import UserError
from .params import (  # noqa: F401 - re-exported: the schema's names are used as hyperparameters.X
    ALIASES,
    AUTO,
    BLEND_MAX,
    BLEND_SIGNALS,
    BY_NAME,
    CANCELLATION_RULES,
    DEFAULT_NON_PRODUCT_CODES,
    DELIMITERS,
    EVAL_PROTOCOLS,
    RANKING_TYPES,
    SCHEMA,
    WEIGHTINGS,
    Param,
)
from .paths import read_json_object
from .values import COERCERS, unwrap


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


def coerce(p: Param, raw: Any, source: str) -> Any:
    value = raw if p.type == "str" and isinstance(raw, str) and raw in ("\t",) else unwrap(raw)
    try:
        out = COERCERS[p.type](value)
    except (ValueError, TypeError) as exc:
        raise _fail(p, raw, source, str(exc) if str(exc) else "") from None
    if p.type in ("int", "float") or (p.type == "auto_float" and out != AUTO):
        if out != out:  # NaN
            raise _fail(p, raw, source)
        if (p.min is not None and out < p.min) or (p.max is not None and out > p.max):
            raise _fail(p, raw, source, "out of range")
    if p.choices is not None and out not in p.choices:
        raise _fail(p, raw, source)
    if p.check is not None:
        try:
            p.check(out)
        except ValueError as exc:
            raise UserError(f"hyperparameter '{p.name}' = {raw!r} from {source} is invalid: {exc}") from None
    if p.name == "delimiter" and out == "tab":
        out = "\t"
    return out


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


def is_auto(value: Any) -> bool:
    """Is an `auto_float` hyperparameter left to `train` to choose?"""
    return isinstance(value, str) and value == AUTO


def source_spec_file() -> Path:
    """The `als_spec.json` at the top of the source tree (the image sets `Settings.spec_file`)."""
    return Path(__file__).resolve().parents[2] / "als_spec.json"


def load(paths, shipped: Path | None = None) -> dict[str, Any]:
    """Resolve the hyperparameters for a training job rooted at `paths`; `shipped` is the
    project's own spec file (`Settings.spec_file`), None for the source tree's."""
    layers: list[tuple[str, Mapping[str, Any]]] = []
    shipped = source_spec_file() if shipped is None else shipped
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
        kind = "float or auto" if p.type == "auto_float" else p.type
        rows.append(f"| `{p.name}` | {kind} | `{default}` | {allowed} | {p.help.replace('|', chr(92) + '|')} |")
    return "\n".join(rows)
