"""Which file layout is this? Detected from the first lines of each file (or its Parquet schema):
kind, compression, delimiter, header and the column of each role (date formats: `dates.detect`).

Recognises the UCI Online Retail layout, generic headers (customer/product/quantity/date under
common names) and the seed's headerless `customer|product|qty|date` rows; `*_column`,
`delimiter` and `date_format` hyperparameters override detection.
"""
from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ...core.errors import UserError
from . import dates
from .dates import DATE_FORMATS, DateRule

__all__ = ["DATE_FORMATS", "DateRule", "Layout", "SYNONYMS", "detect_date_format", "sniff"]

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
    # optional: what the model's derived catalogue says of a product (a typical unit price, the countries)
    "price": ("unitprice", "price", "itemprice", "saleprice", "priceeach"),
    "country": ("country", "countrycode", "shipcountry", "billingcountry"),
}
REQUIRED = ("customer", "product", "date")
HEADERLESS = ("customer", "product", "quantity", "date")  # the seed's customer|product|qty|date rows
DELIMITERS = (",", ";", "|", "\t")
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


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _is_parquet(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def _head_lines(path: Path, compression: str | None, n: int = 20) -> list[str]:
    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head.count(b"\x00") > len(head) // 4:
        kind = "starts with a UTF-16/UTF-32 byte order mark" if head[:2] in (b"\xff\xfe", b"\xfe\xff") \
            else "is mostly NUL bytes (UTF-16 text or binary data?)"
        raise UserError(f"{path} {kind}: training data must be UTF-8 (or Latin-1) delimited text, or Parquet; "
                        "re-export it as UTF-8 CSV")
    # utf-8-sig: a UTF-8 byte order mark is no part of the first column's name (pyarrow drops it too)
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:
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
    """Work out how to read `path`: format, delimiter, header and which column plays which role.
    Whatever the bytes, a problem is a UserError naming the file."""
    try:
        return _sniff(path, hp)
    except csv.Error as exc:  # e.g. a field over the csv module's 131,072-character limit
        raise UserError(f"{path}: the first lines are not readable as delimited text ({exc}); check the "
                        "file (a field that long is no id) or the 'delimiter' hyperparameter") from None
    except (EOFError, gzip.BadGzipFile, OSError) as exc:
        raise UserError(f"{path}: cannot read the file ({type(exc).__name__}: {exc}); a truncated or "
                        "corrupt gzip? Re-export or re-upload it") from None
    except Exception as exc:  # noqa: BLE001 - e.g. a corrupt Parquet footer (pyarrow.ArrowInvalid)
        if type(exc).__module__.startswith("pyarrow"):
            raise UserError(f"{path}: cannot read the file: {exc}") from None
        raise


def _sniff(path: Path, hp: dict[str, Any]) -> Layout:
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
    twice = sorted({str(c) for c in roles.values() if first.count(c) > 1})
    if twice:
        raise UserError(f"{path}: the header names column(s) {', '.join(map(repr, twice))} more than once, so "
                        "which one holds the data is ambiguous; rename the duplicates")
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


def detect_date_format(path: Path, values: pd.Series, hp: dict[str, Any]) -> str:
    """The column's primary (first) date format; `dates.detect` gives the full ordered list (a `DateRule`)."""
    given = hp.get("date_format")
    if given:
        return given if isinstance(given, str) else given[0]
    return dates.detect(path, values, hp).formats[0]
