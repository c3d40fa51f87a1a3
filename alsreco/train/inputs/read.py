"""Read sales history files into one clean table of purchase lines.

Each file's layout comes from `layout.sniff`; rows are parsed with pyarrow, cleaned like a
retailer would, and every dropped or malformed row is counted.
Output columns: customer, product (str), quantity (float), date (datetime64), description (str),
price (float, NaN when absent or not a number), country (str).
"""
from __future__ import annotations

import logging
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...core.errors import UserError
from . import dates, encodings, orders, text
from .layout import HEADERLESS, Layout, sniff

log = logging.getLogger(__name__)

DROP_RULES = ("missing_customer", "cancelled", "non_positive_quantity", "non_product_code", "after_as_of")
MAX_QUANTITY = 1e12


@dataclass
class LoadReport:
    files: int = 0
    rows_read: int = 0
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=lambda: {r: 0 for r in DROP_RULES})
    rows_used: int = 0
    date_formats: dict[str, list[str]] = field(default_factory=dict)  # file name -> formats chosen
    latin1_lines: dict[str, int] = field(default_factory=dict)  # file name -> lines decoded as Latin-1
    empty_files: list[str] = field(default_factory=list)  # 0-byte files, skipped

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "rows_read": self.rows_read, "malformed_rows": self.malformed,
                "malformed_examples": self.malformed_examples[:10], "dropped": dict(self.dropped),
                "rows_used": self.rows_used, "date_formats": dict(self.date_formats),
                "latin1_lines": dict(self.latin1_lines), "empty_files": list(self.empty_files)}


def _read_raw(path: Path, layout: Layout, report: LoadReport) -> tuple[dict[str, pa.Array], list[int]]:
    """Read the mapped columns as strings (role -> Arrow array, no nulls); return them and the
    1-based lines skipped as malformed."""
    roles = layout.columns
    if layout.kind == "parquet":
        names = list(dict.fromkeys(roles.values()))
        raw = pd.read_parquet(path, columns=names)
        # A null is a missing value (like an empty CSV field), never the text "None" or "nan".
        df = raw.astype(object).where(raw.notna(), "").astype(str)
        return {role: pa.array(df[col].to_numpy(dtype=object), type=pa.string()) for role, col in roles.items()}, []
    import pyarrow.csv as pacsv

    skipped: list[int] = []

    def on_bad_row(row) -> str:
        skipped.append(int(row.number) if row.number is not None else -1)
        return "skip"

    headerless = [f"c{i}" for i in range(len(HEADERLESS))]
    columns = [headerless[c] if isinstance(c, int) else c for c in dict.fromkeys(roles.values())]
    def read(source) -> Any:
        with pa.input_stream(source, compression=None if isinstance(source, pa.BufferReader)
                             else layout.compression) as stream:
            return pacsv.read_csv(
                stream,
                read_options=pacsv.ReadOptions(use_threads=False, encoding="utf8", block_size=1 << 24,
                                               column_names=None if layout.header else headerless),
                parse_options=pacsv.ParseOptions(delimiter=layout.delimiter, invalid_row_handler=on_bad_row),
                convert_options=pacsv.ConvertOptions(
                    include_columns=columns, column_types={c: pa.string() for c in columns},
                    strings_can_be_null=False, quoted_strings_can_be_null=False))

    try:
        try:
            table = read(str(path))
        except pa.ArrowInvalid as exc:
            if "UTF8" not in str(exc):
                raise
            skipped.clear()  # not all UTF-8: decode line by line (UTF-8, else Latin-1) and read again
            table = read(pa.BufferReader(encodings.to_utf8(path, layout.compression, report)))
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        raise UserError(f"{path}: cannot parse the file: {str(exc).strip()}") from None
    return {role: table.column(headerless[col] if isinstance(col, int) else col).combine_chunks()
            for role, col in roles.items()}, sorted(skipped)


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


def _to_local_file(path: Path, tmpdir: Path) -> Path:
    """Pipe-mode FIFOs can be read only once: spool them to a local file first."""
    if stat.S_ISFIFO(path.stat().st_mode):
        target = tmpdir / path.name
        with open(path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return target
    return path


def read_file(path: Path, hp: dict[str, Any], report: LoadReport) -> pd.DataFrame:
    layout = sniff(path, hp)
    cols, skipped = _read_raw(path, layout, report)
    n = len(cols["customer"])
    report.files += 1
    report.rows_read += n + len(skipped)
    report.malformed += len(skipped)
    report.malformed_examples += [f"{path.name} line {line}: wrong number of fields" for line in skipped[:5]]
    product = text.strip(cols["product"])
    empty_product = pc.equal(product, "").to_numpy(zero_copy_only=False)
    if "quantity" in cols:
        raw_q = text.strip(cols["quantity"])
        quantity = text.numbers(raw_q)
        # beyond +-1e12 a quantity is an export error, and sums of it would overflow the float32 ratings
        quantity[~(np.abs(quantity) <= MAX_QUANTITY)] = np.nan
        bad_q = np.isnan(quantity) & pc.not_equal(raw_q, "").to_numpy(zero_copy_only=False)
        quantity = np.nan_to_num(quantity, nan=0.0)
    else:
        quantity, bad_q = np.ones(n), np.zeros(n, dtype=bool)
    raw_d = text.strip(cols["date"]).to_pandas()
    rule = dates.detect(path, raw_d, hp, layout.columns["date"],
                        lambda i: _line_numbers([i], layout.header, skipped)[0])
    report.date_formats[path.name] = list(rule.formats)
    date = rule.parse(raw_d)
    bad = bad_q | date.isna().to_numpy() | empty_product
    if bad.any():
        rows = np.flatnonzero(bad)
        lines = _line_numbers(rows[:5], layout.header, skipped)
        report.malformed += int(bad.sum())
        for r, line in zip(rows[:5], lines):
            what = ("quantity " + repr(cols["quantity"][int(r)].as_py()) if bad_q[r]
                    else "empty product" if empty_product[r] else
                    f"date {raw_d.iloc[r]!r} (formats: {', '.join(rule.formats)}; see date_format)")
            report.malformed_examples.append(f"{path.name} line {line}: unparseable {what}")
    if report.malformed > hp["max_malformed_rows"]:
        raise UserError(f"{report.malformed} malformed rows (limit max_malformed_rows="
                        f"{hp['max_malformed_rows']}); first ones: " + "; ".join(report.malformed_examples[:5])
                        + ". Fix the data or raise max_malformed_rows.")
    good = ~bad
    keep = pa.array(good) if bad.any() else None

    def strings(values: pa.Array) -> pd.Series:
        return (values.filter(keep) if keep is not None else values).to_pandas()

    def optional(role: str) -> pd.Series | str:
        return strings(text.strip(cols[role])) if role in cols else ""

    price = text.numbers(text.strip(cols["price"]))[good] if "price" in cols else np.full(int(good.sum()), np.nan)
    return pd.DataFrame({
        "customer": strings(text.normalise_ids(cols["customer"])), "product": strings(product),
        "quantity": quantity[good], "date": date.to_numpy()[good],
        "invoice": optional("invoice"), "description": optional("description"),
        "price": price, "country": optional("country"),
    })


def clean(df: pd.DataFrame, hp: dict[str, Any], report: LoadReport, as_of: pd.Timestamp | None) -> pd.DataFrame:
    rules = {
        "missing_customer": lambda d: d["customer"].isin(["", "nan", "NaN", "None", "null", "NULL"]),
        "cancelled": lambda d: orders.cancelled(d["invoice"], hp),
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
            local = _to_local_file(Path(path), Path(tmp))
            if local.stat().st_size == 0:  # an empty export beside good ones: nothing to read
                log.warning("%s is empty (0 bytes): skipped", path)
                report.empty_files.append(str(path))
                continue
            frames.append(read_file(local, hp, report))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    as_of = pd.Timestamp(hp["retention_date"]) if hp.get("retention_date") else None
    df = clean(df, hp, report, as_of)
    for rule, count in report.dropped.items():
        log.info("dropped %d row(s): %s", count, rule)
    log.info("read %d row(s) from %d file(s): %d malformed, %d used",
             report.rows_read, report.files, report.malformed, report.rows_used)
    if df.empty:
        names = [Path(f).name for f in files if str(f) not in report.empty_files]
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise UserError(f"no usable rows remain after cleaning {report.rows_read} row(s) read from "
                        f"{report.files} file(s) ({shown}): dropped {report.dropped}, malformed {report.malformed}"
                        + (f" (first ones: {'; '.join(report.malformed_examples[:3])})" if report.malformed else "")
                        + ". Check the column mapping, retention_date and non_product_codes.")
    return df.reset_index(drop=True), report
