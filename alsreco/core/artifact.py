"""The model directory: written by `train`, read by `serve`. No pickle, no Spark needed.

Layout (all arrays are plain `.npy`/`.npz`, loaded with `allow_pickle=False`):

    customer_ids.npy         str   (n_customers,)        customer index -> id
    product_ids.npy          str   (n_products,)         product index -> id
    product_names.npy        str   (n_products,)         description ("" when unknown)
    user_factors.npy         f32   (n_customers, rank)
    item_factors.npy         f32   (n_products, rank)
    purchases.npz            CSR (indptr i64, indices i32, data f32): customers x products ratings
    product_popularity.npy   i32   (n_products,)         distinct customers who bought it
    product_first_seen.npy   datetime64[D] (n_products,)
    customer_first_seen.npy  datetime64[D] (n_customers,)
    new_products.npy         i32   product indices first seen within retention_days (newest first)
    new_customers.npy        i32   customer indices first seen within retention_days
    product_recent.npy       i32   (n_products,) distinct customers in the last trend_window_days (optional)
    product_trending.npy     f32   (n_products,) trending score, core/trends.py (optional)
    catalog.json, catalog_<i>_<part>.npy   product attributes, column by column (core/catalog.py;
                             optional: a model written before them has none)
    metadata.json            written last: a model without it is incomplete

The two trend arrays are optional: a model written before them loads, serves no Trending-Now list (best
sellers instead) and blends nothing.

Writing goes through a staging directory; the previous `metadata.json` is removed before
files are swapped in and the new one is written last, so no reader ever sees a mix.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import catalog as catalog_files
from . import model_checks
from .catalog import Catalog
from .errors import ModelError
from .model_checks import KINDS, check_array, check_metadata
from .npz_map import mapped_npz

FORMAT_VERSION = 1
METADATA = "metadata.json"
ARRAYS = (
    "customer_ids", "product_ids", "product_names", "user_factors", "item_factors",
    "product_popularity", "product_first_seen", "customer_first_seen", "new_products", "new_customers",
)
OPTIONAL_ARRAYS = ("product_recent", "product_trending")  # absent from models written before them
PURCHASES = "purchases.npz"
STAGING_PREFIX = ".staging-"


@dataclass
class Purchases:
    """A CSR matrix customers x products without a scipy dependency."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]

    def row(self, i: int) -> np.ndarray:
        return self.indices[self.indptr[i]:self.indptr[i + 1]]

    def row_data(self, i: int) -> np.ndarray:
        return self.data[self.indptr[i]:self.indptr[i + 1]]

    def block_cells(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(block row, product) of every purchase of the customers `rows`, for masking a
        len(rows) x products score block in one fancy-index assignment (no per-row loop)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = np.asarray(self.indptr[rows], dtype=np.int64)
        lens = np.asarray(self.indptr[rows + 1], dtype=np.int64) - starts
        total = int(lens.sum())
        at = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total, dtype=np.int64)
        return np.repeat(np.arange(len(rows), dtype=np.int64), lens), np.asarray(self.indices[at], dtype=np.int64)

    @classmethod
    def from_coo(cls, rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int]) -> "Purchases":
        order = np.lexsort((cols, rows))
        rows, cols, data = rows[order], cols[order], data[order]
        counts = np.bincount(rows, minlength=shape[0])
        indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(indptr, cols.astype(np.int32), data.astype(np.float32), (int(shape[0]), int(shape[1])))


@dataclass
class Model:
    customer_ids: np.ndarray
    product_ids: np.ndarray
    product_names: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    purchases: Purchases
    product_popularity: np.ndarray
    product_first_seen: np.ndarray
    customer_first_seen: np.ndarray
    new_products: np.ndarray
    new_customers: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    product_recent: np.ndarray | None = None  # int32 distinct customers in the last trend window
    product_trending: np.ndarray | None = None  # float32 trending score (core/trends.py)
    catalog: Catalog | None = None  # product attributes (core/catalog.py)

    @property
    def version(self) -> str:
        return str(self.metadata.get("model_version", ""))

    @property
    def rank(self) -> int:
        return int(self.item_factors.shape[1])

    def validate(self) -> None:
        nc, np_ = len(self.customer_ids), len(self.product_ids)
        checks = [
            (self.user_factors.ndim == 2 and self.user_factors.shape[0] == nc, "user_factors rows != customers"),
            (self.item_factors.ndim == 2 and self.item_factors.shape[0] == np_, "item_factors rows != products"),
            (self.user_factors.shape[1] == self.item_factors.shape[1], "user and item factor ranks differ"),
            (len(self.product_names) == np_, "product_names length != products"),
            (len(self.product_popularity) == np_, "product_popularity length != products"),
            (len(self.product_first_seen) == np_, "product_first_seen length != products"),
            (len(self.customer_first_seen) == nc, "customer_first_seen length != customers"),
            (self.purchases.shape == (nc, np_), "purchases shape != (customers, products)"),
            (len(self.purchases.indptr) == nc + 1, "purchases indptr length != customers + 1"),
            (np_ > 0, "model has no products"),
            (self.catalog is None or self.catalog.n_products == np_, "catalog rows != products"),
        ] + [(getattr(self, name) is None or getattr(self, name).shape == (np_,), f"{name} length != products")
             for name in OPTIONAL_ARRAYS]
        for ok, why in checks:
            if not ok:
                raise ModelError(f"inconsistent model: {why}")
        for name in ("new_products", "new_customers"):
            idx = getattr(self, name)
            bound = np_ if name == "new_products" else nc
            if len(idx) and (idx.min() < 0 or idx.max() >= bound):
                raise ModelError(f"inconsistent model: {name} holds an index out of range")


def write_model(model: Model, model_dir: Path) -> None:
    """Atomically (per file, metadata last) write `model` into `model_dir`."""
    model.validate()
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    remove_staging(model_dir)
    stage = model_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    stage.mkdir()
    try:
        for name in ARRAYS + OPTIONAL_ARRAYS:
            if getattr(model, name) is not None:
                np.save(stage / f"{name}.npy", np.ascontiguousarray(getattr(model, name)), allow_pickle=False)
        p = model.purchases
        np.savez(stage / PURCHASES, indptr=p.indptr, indices=p.indices, data=p.data,
                 shape=np.asarray(p.shape, dtype=np.int64))
        if model.catalog is not None and len(model.catalog):
            catalog_files.save(model.catalog, stage)
        meta = dict(model.metadata)
        meta["format_version"] = FORMAT_VERSION
        (stage / METADATA).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
        (model_dir / METADATA).unlink(missing_ok=True)
        for old in [*model_dir.glob(f"{catalog_files.FILE_PREFIX}*.npy"), model_dir / catalog_files.MANIFEST]:
            if not (stage / old.name).exists():  # a previous model's attributes this one does not have
                old.unlink(missing_ok=True)
        for item in stage.iterdir():
            if item.name != METADATA:
                os.replace(item, model_dir / item.name)
        os.replace(stage / METADATA, model_dir / METADATA)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def remove_staging(model_dir: Path) -> None:
    for item in Path(model_dir).glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(item, ignore_errors=True)


def load_model(model_dir: Path, mmap: bool = True, check_content: bool = True) -> Model:
    """Load and validate a model; raise ModelError saying what is missing or wrong. Whatever the
    files hold (truncated, empty, another JSON type, arrays of the wrong shape), the caller gets a
    ModelError with a reason, never another exception. `check_content=False` skips the pass over the
    values (finite factors, unique ids, a valid purchases matrix) for files already checked once on this
    host (a multi-model endpoint's workers attaching a model another worker loaded); shapes, types and
    metadata are still checked."""
    model_dir = Path(model_dir)
    try:
        return _load(model_dir, mmap, check_content)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt content of any kind is a bad model
        raise ModelError(f"model at {model_dir} is unreadable: {type(exc).__name__}: {exc}") from None


def _load(model_dir: Path, mmap: bool, check_content: bool = True) -> Model:
    meta_path = model_dir / METADATA
    if not model_dir.is_dir():
        raise ModelError(f"no model directory at {model_dir}")
    if not meta_path.is_file():
        raise ModelError(f"model at {model_dir} is incomplete: {METADATA} is missing (training not finished?)")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError, OSError) as exc:
        raise ModelError(f"{meta_path} is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise ModelError(f"{meta_path} must hold a JSON object, not {type(metadata).__name__}")
    if metadata.get("format_version") != FORMAT_VERSION or isinstance(metadata.get("format_version"), bool):
        raise ModelError(f"model format {metadata.get('format_version')!r} is not supported "
                         f"(this server reads format {FORMAT_VERSION})")
    arrays: dict[str, np.ndarray] = {}
    for name in ARRAYS + OPTIONAL_ARRAYS:
        path = model_dir / f"{name}.npy"
        if not path.is_file():
            if name in OPTIONAL_ARRAYS:
                continue
            raise ModelError(f"model at {model_dir} is incomplete: {path.name} is missing")
        try:
            arrays[name] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError, MemoryError) as exc:
            raise ModelError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    try:
        mapped = mapped_npz(model_dir / PURCHASES) if mmap else None
        if mapped is not None:  # the arrays memory-mapped in the archive: shared by every process serving it
            shape = tuple(int(x) for x in mapped["shape"])
            purchases = Purchases(mapped["indptr"], mapped["indices"], mapped["data"], shape)
        else:
            z = np.load(model_dir / PURCHASES, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            with z:
                shape = tuple(int(x) for x in z["shape"])
                purchases = Purchases(z["indptr"], z["indices"], z["data"], shape)  # type: ignore[arg-type]
    except (KeyError, ValueError, OSError, EOFError, MemoryError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read {model_dir / PURCHASES}: {type(exc).__name__}: {exc}") from None
    for name in ("user_factors", "item_factors"):
        if arrays[name].ndim != 2:
            raise ModelError(f"inconsistent model: {name} must be a matrix, has shape {arrays[name].shape}")
    for name, kinds in KINDS.items():
        if name in arrays:
            check_array(f"{name}.npy", arrays[name], kinds, ndim=2 if name.endswith("_factors") else 1)
    for name in ("indptr", "indices", "data"):
        check_array(f"{PURCHASES} ({name})", getattr(purchases, name), "f" if name == "data" else "iu", ndim=1)
    model = Model(purchases=purchases, metadata=metadata, **arrays)
    model.catalog = catalog_files.load(model_dir, len(model.product_ids), mmap)
    model.validate()
    if check_content:
        model_checks.check_content(model, model_dir)
    check_metadata(metadata, meta_path)
    fits = (metadata.get("als") or {}).get("fits", 1)
    if fits < 1 or model.rank % fits:
        raise ModelError(f"{meta_path}: als.fits = {fits} must be at least 1 and divide the factors' {model.rank} "
                         "columns (a model of several ALS fits stores them side by side)")
    return model
