"""Read sales history files into one clean table of purchase lines.

Recognises the UCI Online Retail layout, generic headers (customer/product/quantity/date under
common names) and the seed's headerless `customer|product|qty|date` rows; detects `,` `;` `|`
and tab, gzip and Parquet. Cleans like a retailer would and counts every dropped row.
Output columns: customer, product (str), quantity (float), date (datetime64), description (str).
"""
from __future__ import annotations

import csv
import gzip
import logging
import re
import shutil
import stat
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import UserError

log = logging.getLogger(__name__)

SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer": ("customerid", "customer", "customerno", "customernumber", "custid", "clientid", "client",
                 "userid", "user", "memberid", "buyerid", "shopperid", "visitorid"),
    "product": ("stockcode", "productid", "product", "productcode", "sku", "itemid", "item", "itemcode",
                "article", "articleid", "productno"),
    "quantity": ("quantity", "qty", "units", "unitssold", "quantitysold", "qtysold", "count"),
    "date": ("invoicedate", "date", "orderdate", "purchasedate", "transactiondate", "datetime", "timestamp",
             "time", "ts", "saledate", "eventtime"),
    "invoice": ("invoiceno", "invoice", "invoiceid", "invoicenumber", "orderid", "order", "orderno",
                "transactionid", "basketid", "receiptid"),
    "description": ("description", "productname", "itemname", "name", "title", "productdescription"),
}
REQUIRED = ("customer", "product", "date")
HEADERLESS = ("customer", "product", "quantity", "date")  # the seed's customer|product|qty|date rows
DELIMITERS = (",", ";", "|", "\t")
DATE_FORMATS = ("ISO8601", "%m/%d/%y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%d/%m/%y %H:%M",
                "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y%m%d", "%Y/%m/%d",
                "%Y/%m/%d %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S")
DROP_RULES = ("missing_customer", "cancelled", "non_positive_quantity", "non_product_code", "after_as_of")
OVERRIDE_KEYS = {"customer": "customer_column", "product": "product_column", "quantity": "quantity_column",
                 "date": "date_column", "invoice": "invoice_column"}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@dataclass
class Layout:
    kind: str  # csv | parquet
    delimiter: str = ","
    header: bool = True
    compression: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)  # role -> column name or position


@dataclass
class LoadReport:
    files: int = 0
    rows_read: int = 0
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=lambda: {r: 0 for r in DROP_RULES})
    rows_used: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "rows_read": self.rows_read, "malformed_rows": self.malformed,
                "malformed_examples": self.malformed_examples[:10], "dropped": dict(self.dropped),
                "rows_used": self.rows_used}


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _is_parquet(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def _head_lines(path: Path, compression: str | None, n: int = 20) -> list[str]:
    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
        lines = []
        for line in fh:
            if line.strip():
                lines.append(line.rstrip("\r\n"))
            if len(lines) >= n:
                break
    return lines


def _detect_delimiter(path: Path, lines: list[str]) -> str:
    best, best_score = None, 0
    for d in DELIMITERS:
        counts = [len(next(csv.reader([ln], delimiter=d))) - 1 for ln in lines]
        if counts[0] == 0:
            continue
        consistent = sum(c == counts[0] for c in counts)
        score = consistent * 1000 + counts[0]
        if score > best_score:
            best, best_score = d, score
    if best is None:
        raise UserError(f"{path}: cannot detect the field delimiter from its first line {lines[0][:200]!r}; "
                        "expected one of , ; | or tab (set the 'delimiter' hyperparameter)")
    return best


def _map_roles(path: Path, names: list[str], hp: dict[str, Any]) -> dict[str, Any]:
    normed = {_norm(n): n for n in reversed(names)}
    roles: dict[str, Any] = {}
    for role, synonyms in SYNONYMS.items():
        override = hp.get(OVERRIDE_KEYS.get(role, ""), "") if role in OVERRIDE_KEYS else ""
        if override:
            match = next((n for n in names if n == override), None) or normed.get(_norm(override))
            if match is None:
                raise UserError(f"{path}: column '{override}' (hyperparameter {OVERRIDE_KEYS[role]}) is not in "
                                f"the header; columns are: {', '.join(names)}")
            roles[role] = match
            continue
        for syn in synonyms:
            if syn in normed and normed[syn] not in roles.values():
                roles[role] = normed[syn]
                break
    return roles


def sniff(path: Path, hp: dict[str, Any]) -> Layout:
    """Work out how to read `path`: format, delimiter, header and which column plays which role."""
    if _is_parquet(path):
        import pyarrow.parquet as pq
        names = list(pq.read_schema(path).names)
        layout = Layout("parquet", columns=_map_roles(path, names, hp))
        _check_required(path, layout, names)
        return layout
    compression = "gzip" if _is_gzip(path) else None
    lines = _head_lines(path, compression)
    if not lines:
        raise UserError(f"{path} is empty")
    delimiter = hp.get("delimiter") or _detect_delimiter(path, lines)
    first = next(csv.reader([lines[0]], delimiter=delimiter))
    roles = _map_roles(path, first, hp) if _looks_like_header(first, hp) else {}
    if roles:
        layout = Layout("csv", delimiter, True, compression, roles)
        _check_required(path, layout, first)
        return layout
    if any(hp.get(k) for k in OVERRIDE_KEYS.values()):
        raise UserError(f"{path} has no header row, so column overrides cannot be matched; first line: "
                        f"{lines[0][:200]!r}. Add a header row or use customer|product|qty|date rows.")
    if len(first) == len(HEADERLESS):
        return Layout("csv", delimiter, False, compression, {r: i for i, r in enumerate(HEADERLESS)})
    raise UserError(
        f"{path}: cannot recognise the layout of the first line {lines[0][:200]!r} ({len(first)} fields). "
        "Expected a header naming the customer, product, quantity and date columns (e.g. the Online Retail "
        "header InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country) or "
        "headerless customer|product|qty|date rows; or set customer_column, product_column, date_column.")


def _looks_like_header(fields: list[str], hp: dict[str, Any]) -> bool:
    known = {s for syns in SYNONYMS.values() for s in syns}
    overrides = {_norm(hp[k]) for k in OVERRIDE_KEYS.values() if hp.get(k)}
    return any(_norm(f) in known or _norm(f) in overrides for f in fields)


def _check_required(path: Path, layout: Layout, names: list[str]) -> None:
    for role in REQUIRED:
        if role not in layout.columns:
            raise UserError(
                f"{path}: no {role} column found among [{', '.join(map(str, names))}]; name it one of "
                f"{', '.join(SYNONYMS[role][:6])} or set the '{OVERRIDE_KEYS[role]}' hyperparameter")


def _read_raw(path: Path, layout: Layout) -> tuple[pd.DataFrame, list[int]]:
    """Read the mapped columns as strings; return the frame and the 1-based lines skipped as malformed."""
    roles = layout.columns
    if layout.kind == "parquet":
        names = list(dict.fromkeys(roles.values()))
        df = pd.read_parquet(path, columns=names).astype(str).rename(columns={v: k for k, v in roles.items()})
        return df, []
    import pyarrow as pa
    import pyarrow.csv as pacsv

    skipped: list[int] = []

    def on_bad_row(row) -> str:
        skipped.append(int(row.number) if row.number is not None else -1)
        return "skip"

    headerless = [f"c{i}" for i in range(len(HEADERLESS))]
    columns = [headerless[c] if isinstance(c, int) else c for c in dict.fromkeys(roles.values())]
    table = None
    for encoding in ("utf8", "latin-1"):  # latin-1 decodes any byte: the fallback for legacy exports
        skipped.clear()
        try:
            with pa.input_stream(str(path), compression=layout.compression) as stream:
                table = pacsv.read_csv(
                    stream,
                    read_options=pacsv.ReadOptions(use_threads=False, encoding=encoding, block_size=1 << 24,
                                                   column_names=None if layout.header else headerless),
                    parse_options=pacsv.ParseOptions(delimiter=layout.delimiter, invalid_row_handler=on_bad_row),
                    convert_options=pacsv.ConvertOptions(
                        include_columns=columns, column_types={c: pa.string() for c in columns},
                        strings_can_be_null=False, quoted_strings_can_be_null=False))
            break
        except (pa.ArrowInvalid, OSError, EOFError) as exc:
            if encoding == "utf8" and "UTF8" in str(exc):
                continue
            raise UserError(f"{path}: cannot parse the file: {str(exc).strip()}") from None
    df = table.to_pandas()
    df.columns = [next(role for role, col in roles.items()
                       if (headerless[col] if isinstance(col, int) else col) == name) for name in df.columns]
    return df, sorted(skipped)


def _line_numbers(index: np.ndarray, header: bool, skipped: list[int]) -> list[int]:
    """Map data-row positions back to 1-based file lines, accounting for skipped lines."""
    out = []
    for i in index:
        line = int(i) + (2 if header else 1)
        for s in skipped:
            if s <= line:
                line += 1
        out.append(line)
    return out


def _detect_date_format(path: Path, values: pd.Series, hp: dict[str, Any]) -> str:
    if hp.get("date_format"):
        return hp["date_format"]
    sample = values[values != ""].head(2000)
    if sample.empty:
        return "ISO8601"
    best, best_ok = None, 0.0
    for fmt in DATE_FORMATS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
        ok = float(parsed.notna().mean())
        if ok > best_ok + 1e-9:
            best, best_ok = fmt, ok
        if ok == 1.0:
            break
    if best is None or best_ok < 0.5:
        raise UserError(f"{path}: cannot parse dates like {sample.iloc[0]!r} in the date column; set the "
                        "'date_format' hyperparameter to its strptime format (e.g. %d/%m/%Y %H:%M)")
    return best


def _to_local_file(path: Path, tmpdir: Path) -> Path:
    """Pipe-mode FIFOs can be read only once: spool them to a local file first."""
    if stat.S_ISFIFO(path.stat().st_mode):
        target = tmpdir / path.name
        with open(path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return target
    return path


def _normalise_ids(s: pd.Series) -> pd.Series:
    s = s.astype(str).str.strip()
    return s.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)  # "17850.0" from spreadsheet exports


def read_file(path: Path, hp: dict[str, Any], report: LoadReport) -> pd.DataFrame:
    layout = sniff(path, hp)
    df, skipped = _read_raw(path, layout)
    report.files += 1
    report.rows_read += len(df) + len(skipped)
    report.malformed += len(skipped)
    report.malformed_examples += [f"{path.name} line {n}: wrong number of fields" for n in skipped[:5]]
    n = len(df)
    customer = _normalise_ids(df["customer"]) if n else pd.Series([], dtype=str)
    product = df["product"].astype(str).str.strip()
    if "quantity" in df:
        raw_q = df["quantity"].astype(str).str.strip()
        quantity = pd.to_numeric(raw_q, errors="coerce")
        bad_q = quantity.isna() & (raw_q != "")
        quantity = quantity.fillna(0.0)
    else:
        quantity = pd.Series(np.ones(n), index=df.index)
        bad_q = pd.Series(np.zeros(n, dtype=bool), index=df.index)
    raw_d = df["date"].astype(str).str.strip()
    fmt = _detect_date_format(path, raw_d, hp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        date = pd.to_datetime(raw_d, format=fmt, errors="coerce")
    bad = bad_q | date.isna() | (product == "")
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        lines = _line_numbers(rows[:5], layout.header, skipped)
        report.malformed += int(bad.sum())
        for r, line in zip(rows[:5], lines):
            what = ("quantity " + repr(df["quantity"].iloc[r]) if bad_q.iloc[r]
                    else "empty product" if product.iloc[r] == "" else "date " + repr(raw_d.iloc[r]))
            report.malformed_examples.append(f"{path.name} line {line}: unparseable {what}")
    if report.malformed > hp["max_malformed_rows"]:
        raise UserError(f"{report.malformed} malformed rows (limit max_malformed_rows="
                        f"{hp['max_malformed_rows']}); first ones: " + "; ".join(report.malformed_examples[:5])
                        + ". Fix the data or raise max_malformed_rows.")
    out = pd.DataFrame({
        "customer": customer, "product": product, "quantity": quantity.astype("float64"), "date": date,
        "invoice": df["invoice"].astype(str).str.strip() if "invoice" in df else "",
        "description": df["description"].astype(str).str.strip() if "description" in df else "",
    })
    return out[~bad.to_numpy()]


def clean(df: pd.DataFrame, hp: dict[str, Any], report: LoadReport, as_of: pd.Timestamp | None) -> pd.DataFrame:
    rules = {
        "missing_customer": lambda d: d["customer"].isin(["", "nan", "NaN", "None", "null", "NULL"]),
        "cancelled": lambda d: d["invoice"].astype(str).str.upper().str.startswith("C"),
        "non_positive_quantity": lambda d: d["quantity"] <= 0,
        "non_product_code": lambda d: d["product"].isin(set(hp["non_product_codes"])),
        "after_as_of": lambda d: d["date"] >= as_of + pd.Timedelta(days=1) if as_of is not None
        else pd.Series(False, index=d.index),
    }
    for name in DROP_RULES:
        mask = rules[name](df).to_numpy()
        report.dropped[name] += int(mask.sum())
        df = df[~mask]
    report.rows_used = len(df)
    return df


def load(files: tuple[Path, ...] | list[Path], hp: dict[str, Any]) -> tuple[pd.DataFrame, LoadReport]:
    """Read and clean every file; fail with a clear message when nothing usable is left."""
    report = LoadReport()
    frames = []
    with tempfile.TemporaryDirectory(prefix="alsreco-pipe-") as tmp:
        for path in files:
            frames.append(read_file(_to_local_file(Path(path), Path(tmp)), hp, report))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    as_of = pd.Timestamp(hp["retention_date"]) if hp.get("retention_date") else None
    df = clean(df, hp, report, as_of)
    for rule, count in report.dropped.items():
        log.info("dropped %d row(s): %s", count, rule)
    log.info("read %d row(s) from %d file(s): %d malformed, %d used",
             report.rows_read, report.files, report.malformed, report.rows_used)
    if df.empty:
        raise UserError(f"no usable rows remain after cleaning {report.rows_read} row(s) read from "
                        f"{report.files} file(s): dropped {report.dropped}, malformed {report.malformed}. "
                        "Check the column mapping, retention_date and non_product_codes.")
    return df.reset_index(drop=True), report
