"""Find and read the `events` channel: shopper events next to the sales history (docs/live.md).

Each file is one of
* JSON Lines - what the storefront's Firehose stream lands in S3 (gzip or not, any name: Firehose
  writes `<stream>-<version>-<date>-<uuid>[.gz]` under YYYY/MM/DD/HH/): one object per line,
  `{"event_id", "type", "product_id", "timestamp", "customer_id" | "session_id", ...}`;
* CSV with a header row naming the same fields (gzip or not);
* Parquet with columns of those names.
The format is told by the bytes, not the name. Rows come back as strings with where they were read
(`file line N` for text, `file row N` for Parquet), so a bad one is reported by its place.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import logging
from pathlib import Path
from typing import Any, Iterator

from ...core.errors import UserError
from ...core.paths import Paths
from .channels import EVENTS_CHANNEL, _is_data_file, input_data_config

log = logging.getLogger(__name__)

FIELDS = ("event_id", "type", "product_id", "timestamp", "customer_id", "session_id")
ALIASES = {"event_type": "type", "eventtype": "type", "product": "product_id", "item_id": "product_id",
           "time": "timestamp", "event_time": "timestamp", "customer": "customer_id", "user_id": "customer_id",
           "session": "session_id", "id": "event_id"}
Row = tuple[str, dict[str, str]]          # (where it was read, field -> text)


def discover(paths: Paths) -> list[Path]:
    """The events channel's data files (sorted, recursive); [] when the job has no such channel."""
    config = input_data_config(paths)
    mode = str((config.get(EVENTS_CHANNEL) or {}).get("TrainingInputMode", "File"))
    if mode == "Pipe":
        raise UserError(f"channel '{EVENTS_CHANNEL}' uses Pipe mode; set its TrainingInputMode to File or FastFile")
    root = paths.channel_dir(EVENTS_CHANNEL)
    if not root.is_dir():
        if EVENTS_CHANNEL in config:
            raise UserError(f"channel '{EVENTS_CHANNEL}' is configured but {root} does not exist")
        return []
    files = sorted(p for p in root.rglob("*") if p.is_file() and _is_data_file(p)
                   and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts[:-1]))
    log.info("channel %s: %d file(s)", EVENTS_CHANNEL, len(files))
    return files


def _field(name: str) -> str | None:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return key if key in FIELDS else ALIASES.get(key)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows_jsonl(name: str, text: io.TextIOBase, bad: list[str]) -> Iterator[Row]:
    for n, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            bad.append(f"{name} line {n}: not a JSON object")
            continue
        if not isinstance(doc, dict):
            bad.append(f"{name} line {n}: not a JSON object")
            continue
        yield f"{name} line {n}", {f: _text(doc[k]) for k in doc if (f := _field(k))}


def _rows_csv(name: str, text: io.TextIOBase, bad: list[str]) -> Iterator[Row]:
    reader = csv.reader(text)
    header = next(reader, None)
    fields = [_field(h) for h in header or []]
    if "type" not in fields or "product_id" not in fields:
        raise UserError(f"{name}: an events file needs a header naming at least type and product_id (and "
                        f"timestamp, customer_id or session_id, event_id); found {header}")
    for row in reader:
        n = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(fields):
            bad.append(f"{name} line {n}: {len(row)} fields, the header has {len(fields)}")
            continue
        yield f"{name} line {n}", {f: _text(v) for f, v in zip(fields, row) if f}


def _rows_parquet(path: Path, name: str) -> Iterator[Row]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = {c: f for c in table.column_names if (f := _field(c))}
    if "type" not in columns.values() or "product_id" not in columns.values():
        raise UserError(f"{name}: an events file needs columns type and product_id; found {table.column_names}")
    data = {c: table.column(c).to_pylist() for c in columns}
    for i in range(table.num_rows):
        yield f"{name} row {i + 1}", {f: _text(data[c][i]) for c, f in columns.items()}


def display_name(path: Path) -> str:
    """The file as reports name it: its path inside the events channel (2026/12/06/10/<file>)."""
    path = Path(path)
    for parent in path.parents:
        if parent.name == EVENTS_CHANNEL:
            return str(path.relative_to(parent))
    return path.name


def read_rows(path: Path, bad: list[str]) -> Iterator[Row]:
    """Every event row of one file; rows that cannot be read are appended to `bad` (where + why)."""
    name = display_name(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        yield from _rows_parquet(path, name)
        return
    opener = gzip.open if magic[:2] == b"\x1f\x8b" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as text:
            first = ""
            while not first:
                line = text.readline()
                if not line:
                    return                                    # empty file
                first = line.strip()
            text.seek(0)
            yield from (_rows_jsonl if first.startswith("{") else _rows_csv)(name, text, bad)
    except UnicodeDecodeError as exc:
        raise UserError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start}); events files are UTF-8 "
                        "JSON Lines, CSV or Parquet") from None
    except (EOFError, gzip.BadGzipFile, OSError) as exc:
        raise UserError(f"{name}: cannot read the file ({type(exc).__name__}: {exc}); a truncated gzip?") from None
