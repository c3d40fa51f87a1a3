"""What a loaded model's files must hold beyond their presence (core/artifact.py loads them): dtypes and
shapes, values no training run writes (NaN factors, duplicate ids, an invalid CSR matrix), and the
metadata serving reads (the version header, the default rules, the blend)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from . import hyperparameters
from .errors import AlsrecoError, ModelError

PURCHASES = "purchases.npz"

# What each array must hold: numpy dtype kinds (f float, i/u integer, U text, M datetime64).
KINDS = {"customer_ids": "U", "product_ids": "U", "product_names": "U", "user_factors": "f", "item_factors": "f",
         "product_popularity": "iu", "product_first_seen": "M", "customer_first_seen": "M",
         "new_products": "iu", "new_customers": "iu", "product_recent": "iu", "product_trending": "f"}
FINITE_BLOCK = 1 << 20  # rows per finiteness check of a factor matrix (bounded temporary memory)
VERSION_RE = re.compile(r"[!-~](?:[ -~]{0,198}[!-~])?")  # printable ASCII: it is sent as a header
SERVING_DEFAULTS = ("reco_item", "exclude_purchased", "exclude_popular", "include_new", "implicit_prefs",
                    "reg_param", "alpha")


def check_array(name: str, arr: np.ndarray, kinds: str, ndim: int) -> None:
    if arr.dtype.kind not in kinds or (arr.dtype.kind == "f" and arr.dtype.itemsize < 4):
        want = {"f": "float32/float64", "iu": "integers", "U": "text", "M": "datetime64"}[kinds]
        raise ModelError(f"inconsistent model: {name} must hold {want}, holds {arr.dtype}")
    if arr.ndim != ndim:
        raise ModelError(f"inconsistent model: {name} must have {ndim} dimension(s), has shape {arr.shape}")


def _finite(arr: np.ndarray) -> bool:
    return all(np.isfinite(arr[i:i + FINITE_BLOCK]).all() for i in range(0, len(arr), FINITE_BLOCK))


def check_content(model: Any, model_dir: Path) -> None:
    """Values no training run writes, which would otherwise surface as NaN scores, wrong lists or a 500."""
    if model.rank < 1:
        raise ModelError("inconsistent model: the factors have rank 0")
    for name in ("user_factors", "item_factors"):
        if not _finite(getattr(model, name)):
            raise ModelError(f"inconsistent model: {name}.npy holds NaN or infinite values")
    for name in ("customer_ids", "product_ids"):
        ids = getattr(model, name)
        if len(set(ids.tolist())) != len(ids):
            raise ModelError(f"inconsistent model: {name}.npy holds the same id twice")
    for name in ("product_popularity", "product_recent"):
        arr = getattr(model, name)
        if arr is not None and len(arr) and arr.min() < 0:
            raise ModelError(f"inconsistent model: {name}.npy holds a negative count")
    trending = model.product_trending
    if trending is not None and len(trending) and not (np.isfinite(trending).all() and trending.min() >= 0):
        raise ModelError("inconsistent model: product_trending.npy holds a negative, NaN or infinite score")
    p, (nc, np_) = model.purchases, model.purchases.shape
    if (p.indptr[0] != 0 or p.indptr[-1] != len(p.indices) or len(p.data) != len(p.indices)
            or (nc and np.diff(p.indptr).min() < 0)
            or (len(p.indices) and (p.indices.min() < 0 or p.indices.max() >= np_))
            or not _finite(p.data)):
        raise ModelError(f"inconsistent model: {model_dir / PURCHASES} is not a valid CSR matrix of "
                         f"shape {p.shape} (indptr, indices and data disagree, or data is not finite)")


def check_metadata(metadata: dict[str, Any], meta_path: Path) -> None:
    """What serving reads from metadata.json: the version (an HTTP header) and the default rules."""
    version = metadata.get("model_version")
    if not isinstance(version, str) or not VERSION_RE.fullmatch(version):
        raise ModelError(f"{meta_path}: model_version must be 1-200 printable ASCII characters (it is sent as "
                         f"the X-Model-Version header), got {json.dumps(version)[:80]}")
    for section in ("hyperparameters", "als"):
        if not isinstance(metadata.get(section) or {}, dict):
            raise ModelError(f"{meta_path}: {section} must be a JSON object, not {type(metadata[section]).__name__}")
    hp, als = metadata.get("hyperparameters") or {}, metadata.get("als") or {}
    given = [(f"hyperparameters.{k}", k, hp[k]) for k in SERVING_DEFAULTS if k in hp]
    given += [(f"als.{k}", k, als[k]) for k in ("implicit_prefs", "reg_param", "alpha") if k in als]
    given += [("als.fits", "als_fits", als["fits"])] if "fits" in als else []
    _check_blend(metadata.get("blend"), meta_path)
    for where, name, value in given:
        param = hyperparameters.BY_NAME[name]
        types: tuple[type, ...] = {"bool": (bool,), "int": (int,), "float": (int, float)}[param.type]
        ok = isinstance(value, types) and (param.type == "bool" or not isinstance(value, bool))
        try:
            ok = ok and hyperparameters.coerce(param, value, str(meta_path)) == value
        except AlsrecoError:
            ok = False
        if not ok:
            raise ModelError(f"{meta_path}: {where} = {json.dumps(value)[:80]} is invalid: expected "
                             f"{param.allowed()}")


def _check_blend(blend: Any, meta_path: Path) -> None:
    """`blend` (written by `train`, read by serving): {"weight": 0..BLEND_MAX, "signal": one of BLEND_SIGNALS}."""
    if blend is None:
        return
    weight = blend.get("weight") if isinstance(blend, dict) else None
    ok = (isinstance(blend, dict) and isinstance(weight, (int, float)) and not isinstance(weight, bool)
          and 0 <= weight <= hyperparameters.BLEND_MAX and blend.get("signal") in hyperparameters.BLEND_SIGNALS)
    if not ok:
        raise ModelError(f"{meta_path}: blend = {json.dumps(blend)[:80]} is invalid: expected an object with weight "
                         f"in [0, {hyperparameters.BLEND_MAX:g}] and signal one of "
                         + ", ".join(hyperparameters.BLEND_SIGNALS))
