"""The optional `catalog` channel: one row per product, `product_id` + any attribute columns.

Files: CSV (any delimiter the sales reader knows, a header row; UTF-8 or Latin-1, gzip), Parquet
(its types: booleans, numbers, dates / timestamps, lists of strings, strings; nulls are missing) or
JSON Lines (one object per line; null is missing). A text column's kind is inferred from all its
values: `true`/`false` -> bool, numbers -> number, ISO dates (YYYY-MM-DD[Thh:mm...]) -> date, JSON
arrays (`["a","b"]`) or `a|b|c` values in at least a third of the rows -> list, else string;
`catalog_types` (a JSON object, attribute -> kind) overrides it. A value that does not fit its
column's kind is missing and counted; more than MAX_BAD_FRACTION of the rows with a problem, or a
file that cannot be read, is a user error naming the file, the line and the column. Several files
are one catalogue; a product named again later wins (counted as `duplicates`).
"""
from __future__ import annotations

import datetime as _dt
import gzip
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...core.catalog import KINDS, Catalog, encode
from ...core.errors import UserError

CHANNEL = "catalog"
ID_NAMES = ("productid", "product", "itemid", "item", "stockcode", "sku", "id")
MAX_COLUMNS = 100
MAX_BAD_FRACTION = 0.1
MAX_EXAMPLES = 10
MAX_TEXT = 1000  # characters kept of one value
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass
class CatalogReport:
    files: int = 0
    rows: int = 0
    products: int = 0
    missing_id: int = 0
    duplicates: int = 0
    bad_values: dict[str, int] = field(default_factory=dict)  # attribute -> values that did not fit
    examples: list[str] = field(default_factory=list)  # "file:line: column 'x': why"
    kinds: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # original column name -> attribute name
    sold_without_attributes: int = 0
    new_products: int = 0
    not_products: int = 0  # ids among non_product_codes, left out

    def problem(self, where: str) -> None:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(where)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def attribute_name(name: str) -> str:
    """A column name usable as Items.<name>: letters, digits and _ (others become _)."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", str(name).strip()) or "_"
    return "_" + out if out[0].isdigit() else out


def _read_rows(path: Path) -> tuple[pd.DataFrame, int]:
    """(frame of raw values, line number of its first row)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    try:
        if head == b"PAR1":
            return pd.read_parquet(path), 1
        opener = gzip.open if head[:2] == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            raw = fh.read()
        text = raw.decode("utf-8-sig") if _utf8(raw) else raw.decode("latin-1")
        first = text.lstrip()[:1]
        if first == "{":
            rows = []
            for n, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise UserError(f"{path}:{n}: not a JSON object ({exc}); JSON Lines need one object per line")
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{n}: not a JSON object; JSON Lines need one object per line")
                row["__line__"] = n
                rows.append(row)
            return pd.DataFrame(rows), 1
        import csv
        import io

        try:
            dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;|\t")
            delimiter = dialect.delimiter
        except csv.Error:
            delimiter = ","
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise UserError(f"{path} is empty: a catalogue needs a header row and one row per product")
        rows, lines, short = [], [], []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                short.append(f"{path.name}:{reader.line_num}: {len(row)} fields, the header has {len(header)}")
                continue
            rows.append(row)
            lines.append(reader.line_num)
        frame = pd.DataFrame(rows, columns=[h.strip() for h in header], dtype=object)
        frame["__line__"] = lines
        frame.attrs["malformed"] = short
        return frame, 2
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure names the file
        raise UserError(f"{path}: cannot read the catalogue file: {str(exc).strip()[:300]} (CSV with a header "
                        "row, Parquet or JSON Lines)") from None


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _id_column(frame: pd.DataFrame, path: Path) -> str:
    by_norm = {_norm(c): c for c in frame.columns if c != "__line__"}
    for name in ID_NAMES:
        if name in by_norm:
            return by_norm[name]
    raise UserError(f"{path}: no product id column (one of product_id, item_id, stockcode, sku; columns: "
                    f"{', '.join(map(str, frame.columns[:20]))})")


def _text(v: Any) -> str | None:
    """A raw cell as stripped text, or None when missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


def infer(values: list[Any]) -> str:
    """The kind of a column from its (non-missing) values."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not present:
        return "string"
    if all(isinstance(v, (list, tuple, np.ndarray)) for v in present):
        return "list"
    if all(isinstance(v, (bool, np.bool_)) for v in present):
        return "bool"
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
           for v in present):
        return "number"
    if all(isinstance(v, (pd.Timestamp, _dt.date, np.datetime64)) for v in present):
        return "date"
    texts = [str(v).strip() for v in present if str(v).strip()]
    if not texts:
        return "string"
    if all(t.lower() in ("true", "false") for t in texts):
        return "bool"
    if all(NUMBER.match(t) for t in texts):
        return "number"
    if all(ISO_DATE.match(t) for t in texts):
        return "date"
    if sum("|" in t or (t.startswith("[") and t.endswith("]")) for t in texts) * 3 >= len(texts) > 0:
        return "list"
    return "string"


def convert(value: Any, kind: str) -> tuple[Any, str | None]:
    """(value of `kind`, or None when missing) and why it did not fit (None when it did)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, None
    if isinstance(value, str) and not value.strip():
        return None, None
    if kind == "list":
        if isinstance(value, (list, tuple, np.ndarray)):
            items = list(value)
        else:
            text = str(value).strip()
            if text.startswith("["):
                try:
                    items = json.loads(text)
                except ValueError:
                    return None, "not a JSON array"
                if not isinstance(items, list):
                    return None, "not a JSON array"
            else:
                items = text.split("|")
        out = [str(i).strip()[:MAX_TEXT] for i in items if i is not None and str(i).strip()]
        return list(dict.fromkeys(out)), None
    if kind == "string":
        return str(value).strip()[:MAX_TEXT], None
    if kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value), None
        text = str(value).strip().lower()
        return ({"true": True, "false": False}[text], None) if text in ("true", "false") else \
            (None, "not true or false")
    if kind == "number":
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            v = float(value)
        elif isinstance(value, str) and NUMBER.match(value.strip()):
            v = float(value.strip())
        else:
            return None, "not a number"
        return (v, None) if math.isfinite(v) else (None, "not a finite number")
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date, np.datetime64)):
        stamp = pd.Timestamp(value)
        return (None, None) if pd.isna(stamp) else (stamp.date(), None)
    text = str(value).strip()
    if not ISO_DATE.match(text):
        return None, "not a date (YYYY-MM-DD)"
    try:
        return _dt.date.fromisoformat(text[:10]), None
    except ValueError:
        return None, "not a valid date"


def read_catalog(files: list[Path], declared: dict[str, str] | None = None
                 ) -> tuple[dict[str, dict[str, Any]], dict[str, str], CatalogReport]:
    """(product id -> {attribute: value}, attribute -> kind, report)."""
    declared = dict(declared or {})
    bad = sorted(set(declared.values()) - set(KINDS))
    if bad:
        raise UserError(f"catalog_types: unknown kind {bad[0]!r} (kinds: {', '.join(KINDS)})")
    report = CatalogReport(files=len(files))
    frames = []
    malformed: list[str] = []
    for path in files:
        frame, first_line = _read_rows(path)
        malformed += frame.attrs.get("malformed", [])
        id_col = _id_column(frame, path)
        lines = frame.pop("__line__").to_numpy() if "__line__" in frame.columns else \
            np.arange(len(frame)) + first_line
        names = {c: (attribute_name(c) if c != id_col else "__id__") for c in frame.columns}
        report.renamed.update({str(c): n for c, n in names.items() if c != id_col and n != str(c)})
        frames.append((path, frame.rename(columns=names), lines))
    attributes = list(dict.fromkeys(c for _, f, _ in frames for c in f.columns if c != "__id__"))
    if len(attributes) > MAX_COLUMNS:
        raise UserError(f"the catalogue has {len(attributes)} attribute columns; at most {MAX_COLUMNS}")
    unknown = sorted(set(declared) - set(attributes))
    if unknown:
        raise UserError(f"catalog_types names {unknown[0]!r}, which no catalogue file has "
                        f"(attributes: {', '.join(attributes)})")
    kinds = {a: declared.get(a) or infer([v for _, f, _ in frames if a in f.columns for v in f[a].tolist()])
             for a in attributes}
    report.kinds = dict(kinds)
    products: dict[str, dict[str, Any]] = {}
    bad_rows = 0
    for path, frame, lines in frames:
        cols = {a: frame[a].tolist() for a in attributes if a in frame.columns}
        ids = frame["__id__"].tolist()
        for r, raw_id in enumerate(ids):
            report.rows += 1
            pid = _text(raw_id)
            if isinstance(raw_id, float) and pid and pid.endswith(".0"):
                pid = pid[:-2]
            if pid is None:
                report.missing_id += 1
                bad_rows += 1
                report.problem(f"{path.name}:{lines[r]}: no product id")
                continue
            row, problem = {}, False
            for a, values in cols.items():
                value, why = convert(values[r], kinds[a])
                if why:
                    report.bad_values[a] = report.bad_values.get(a, 0) + 1
                    report.problem(f"{path.name}:{lines[r]}: column {a!r}: {why} ({str(values[r])[:40]!r})")
                    problem = True
                row[a] = value
            bad_rows += problem
            if pid in products:
                report.duplicates += 1
            products[pid] = row
    report.products = len(products)
    report.rows += len(malformed)
    bad_rows += len(malformed)
    for where in malformed:
        report.problem(where)
    if report.rows and bad_rows > MAX_BAD_FRACTION * report.rows:
        raise UserError(f"the catalogue has problems in {bad_rows} of {report.rows} rows (more than "
                        f"{MAX_BAD_FRACTION:.0%}): {'; '.join(report.examples[:5])}; fix the file or declare "
                        "the columns' kinds in catalog_types")
    return products, kinds, report


def to_catalog(products: dict[str, dict[str, Any]], kinds: dict[str, str], product_ids: list[str]) -> Catalog:
    """The attributes aligned with `product_ids` (a product not in `products` has none)."""
    catalog = Catalog(len(product_ids))
    for name, kind in kinds.items():
        catalog.columns[name] = encode(name, kind, [products.get(p, {}).get(name) for p in product_ids])
    return catalog
