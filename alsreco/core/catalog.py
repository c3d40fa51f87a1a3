"""Product attributes, column by column: what filters, promotions, exploration and `fields` read.

A `Catalog` holds one `Column` per attribute, aligned with the model's product index, as plain
arrays (written as `.npy`, mmapped when served, so every worker shares the pages; no pickle):

    kind     arrays                                             missing value
    string   codes int32 (n,) into values str (V,)              code -1
    list     indptr int64 (n+1,), codes int32 (nnz,), values    an empty list
    number   values float64 (n,)                                NaN
    bool     values int8 (n,): 0 / 1                            -1
    date     values datetime64[D] (n,)                          NaT

On disk: `catalog.json` (the columns, their kinds and files) and `catalog_<i>_<part>.npy`; the
model directory's writer (core/artifact.py) stages them with the other arrays.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import ModelError

KINDS = ("string", "list", "number", "bool", "date")
MANIFEST = "catalog.json"
FILE_PREFIX = "catalog_"
PARTS = {"string": ("codes", "values"), "list": ("indptr", "codes", "values"), "number": ("values",),
         "bool": ("values",), "date": ("values",)}
DTYPE_KINDS = {("string", "codes"): "i", ("string", "values"): "U", ("list", "indptr"): "i",
               ("list", "codes"): "i", ("list", "values"): "U", ("number", "values"): "f",
               ("bool", "values"): "i", ("date", "values"): "M"}


@dataclass
class Column:
    name: str
    kind: str
    arrays: dict[str, np.ndarray]
    _lookup: dict[str, int] | None = field(default=None, repr=False)
    _owner: np.ndarray | None = field(default=None, repr=False)
    _names: list[str | None] | None = field(default=None, repr=False)

    @property
    def values(self) -> np.ndarray:
        return self.arrays["values"]

    @property
    def codes(self) -> np.ndarray:
        return self.arrays["codes"]

    def code_of(self) -> dict[str, int]:
        """value -> code of a string or list column (built once, on first use)."""
        if self._lookup is None:
            self._lookup = {str(v): i for i, v in enumerate(self.values.tolist())}
        return self._lookup

    def names(self) -> list[str | None]:
        """A string or list column's values as Python text by code, then None (the missing cells' code -1);
        built once, on first use."""
        if self._names is None:
            self._names = [*self.code_of(), None]
        return self._names

    def owners(self) -> np.ndarray:
        """A list column's product index of each entry of `codes` (built once)."""
        if self._owner is None:
            lens = np.diff(np.asarray(self.arrays["indptr"], dtype=np.int64))
            self._owner = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
        return self._owner

    def value(self, i: int) -> Any:
        """Product `i`'s value as JSON: str, float, bool, "YYYY-MM-DD", a list of str, or None."""
        if self.kind == "string":
            c = int(self.codes[i])
            return None if c < 0 else str(self.values[c])
        if self.kind == "list":
            ptr = self.arrays["indptr"]
            return [str(self.values[c]) for c in self.codes[int(ptr[i]):int(ptr[i + 1])]]
        v = self.values[i]
        if self.kind == "number":
            v = float(v)
            return None if math.isnan(v) else (int(v) if v.is_integer() and abs(v) < 2 ** 53 else v)
        if self.kind == "bool":
            return None if v < 0 else bool(v)
        return None if np.isnat(v) else str(v)


@dataclass
class Catalog:
    n_products: int
    columns: dict[str, Column] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns)

    def find(self, name: str) -> Column | None:
        """The column named `name`, else the one whose name matches ignoring case."""
        if name in self.columns:
            return self.columns[name]
        folded = [c for n, c in self.columns.items() if n.lower() == name.lower()]
        return folded[0] if len(folded) == 1 else None

    def describe(self) -> dict[str, str]:
        return {name: col.kind for name, col in self.columns.items()}

    def take(self, order: np.ndarray, n_products: int) -> "Catalog":
        """Rows re-ordered / extended: row j of the result is row `order[j]` (-1: missing)."""
        order = np.asarray(order, dtype=np.int64)
        out = Catalog(n_products)
        for name, col in self.columns.items():
            out.columns[name] = _take(col, order)
        return out


def _take(col: Column, order: np.ndarray) -> Column:
    missing = order < 0
    safe = np.where(missing, 0, order)
    if col.kind == "list":
        ptr = np.asarray(col.arrays["indptr"], dtype=np.int64)
        lens = np.where(missing, 0, ptr[safe + 1] - ptr[safe])
        indptr = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        at = np.repeat(ptr[safe] - indptr[:-1], lens) + np.arange(int(indptr[-1]), dtype=np.int64)
        return Column(col.name, "list", {"indptr": indptr, "codes": np.asarray(col.codes)[at].astype(np.int32),
                                         "values": col.values})
    if col.kind == "string":
        codes = np.where(missing, -1, np.asarray(col.codes)[safe]).astype(np.int32)
        return Column(col.name, "string", {"codes": codes, "values": col.values})
    blank = {"number": np.nan, "bool": -1, "date": np.datetime64("NaT")}[col.kind]
    values = np.asarray(col.values)[safe].copy()
    values[missing] = blank
    return Column(col.name, col.kind, {"values": values})


# ----------------------------------------------------------------------------- building
def encode(name: str, kind: str, cells: Sequence[Any]) -> Column:
    """A column from one Python value per product (None = missing), already of `kind`'s type:
    str, list of str, float, bool, or datetime.date / numpy datetime64 / "YYYY-MM-DD"."""
    n = len(cells)
    if kind == "string":
        values, codes = _dictionary(None if c is None else str(c) for c in cells)
        return Column(name, kind, {"codes": codes, "values": values})
    if kind == "list":
        lens = np.array([0 if c is None else len(c) for c in cells], dtype=np.int64)
        flat = [str(v) for c in cells if c for v in c]
        values, codes = _dictionary(flat)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        return Column(name, kind, {"indptr": indptr, "codes": codes, "values": values})
    if kind == "number":
        return Column(name, kind, {"values": np.array([np.nan if c is None else float(c) for c in cells],
                                                      dtype=np.float64)})
    if kind == "bool":
        return Column(name, kind, {"values": np.array([-1 if c is None else int(bool(c)) for c in cells],
                                                      dtype=np.int8)})
    if kind == "date":
        return Column(name, kind, {"values": np.array([np.datetime64("NaT") if c is None else
                                                       np.datetime64(_iso(c), "D") for c in cells],
                                                      dtype="datetime64[D]")})
    raise ValueError(f"unknown attribute kind {kind!r}")


def _iso(value: Any) -> str:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    return str(value)[:10]


def _dictionary(items: Iterable[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, code per item with -1 for None)."""
    items = list(items)
    distinct = sorted({v for v in items if v is not None})
    lookup = {v: i for i, v in enumerate(distinct)}
    codes = np.array([-1 if v is None else lookup[v] for v in items], dtype=np.int32)
    return np.asarray(distinct, dtype=str) if distinct else np.empty(0, dtype="<U1"), codes


# ----------------------------------------------------------------------------- disk
def files(catalog: Catalog) -> dict[str, np.ndarray]:
    """file name -> array, and the manifest, for the model writer."""
    out: dict[str, np.ndarray] = {}
    for i, col in enumerate(catalog.columns.values()):
        for part in PARTS[col.kind]:
            out[f"{FILE_PREFIX}{i}_{part}.npy"] = np.ascontiguousarray(col.arrays[part])
    return out


def manifest(catalog: Catalog) -> dict[str, Any]:
    return {"n_products": catalog.n_products,
            "columns": [{"name": name, "kind": col.kind} for name, col in catalog.columns.items()]}


def save(catalog: Catalog, directory: Path) -> list[str]:
    """Write the catalogue's files into `directory`; their names."""
    written = []
    for name, arr in files(catalog).items():
        np.save(Path(directory) / name, arr, allow_pickle=False)
        written.append(name)
    (Path(directory) / MANIFEST).write_text(json.dumps(manifest(catalog), indent=1) + "\n")
    return written + [MANIFEST]


def load(directory: Path, n_products: int, mmap: bool = True) -> Catalog:
    """The catalogue of a model directory (an empty one when it has none); ModelError if broken."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return Catalog(n_products)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        specs = doc["columns"]
        if not isinstance(specs, list) or int(doc["n_products"]) != n_products:
            raise ValueError(f"it describes {doc.get('n_products')} products, the model has {n_products}")
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ModelError(f"{path} is not a valid catalogue manifest: {exc}") from None
    catalog = Catalog(n_products)
    for i, spec in enumerate(specs):
        name, kind = str(spec.get("name", "")), spec.get("kind")
        if kind not in KINDS or not name or name in catalog.columns:
            raise ModelError(f"{path}: column {i} has an unknown kind {kind!r} or a missing / repeated name")
        arrays = {}
        for part in PARTS[kind]:
            file = Path(directory) / f"{FILE_PREFIX}{i}_{part}.npy"
            try:
                arrays[part] = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
            except (ValueError, OSError, EOFError) as exc:
                raise ModelError(f"cannot read {file} (attribute {name!r}): {exc}") from None
            if arrays[part].dtype.kind not in DTYPE_KINDS[(kind, part)] or arrays[part].ndim != 1:
                raise ModelError(f"{file} (attribute {name!r}) holds {arrays[part].dtype} {arrays[part].shape}")
        _check(Column(name, kind, arrays), n_products, directory)
        catalog.columns[name] = Column(name, kind, arrays)
    return catalog


def _check(col: Column, n: int, directory: Path) -> None:
    where = f"{directory}: attribute {col.name!r}"
    if col.kind == "list":
        ptr, codes = col.arrays["indptr"], col.arrays["codes"]
        ok = len(ptr) == n + 1 and ptr[0] == 0 and ptr[-1] == len(codes) and (n == 0 or np.diff(ptr).min() >= 0)
        if not ok:
            raise ModelError(f"{where}: indptr does not describe {n} lists")
    elif len(col.arrays["codes" if col.kind == "string" else "values"]) != n:
        raise ModelError(f"{where}: {len(col.arrays['codes' if col.kind == 'string' else 'values'])} rows, "
                         f"the model has {n} products")
    if col.kind in ("string", "list") and len(col.codes) and (col.codes.min() < -1 or
                                                              col.codes.max() >= len(col.values)):
        raise ModelError(f"{where}: a code points outside its {len(col.values)} values")
