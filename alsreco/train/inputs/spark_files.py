"""Driver-side helpers of the Spark reader, each bounded in memory whatever the file size.

- `spool_pipes`: Pipe-mode FIFOs can be read once: copy them to local files first;
- `is_utf8`: the whole file streamed through an incremental UTF-8 decoder (16 MB chunks); the
  pandas path reads UTF-8 and falls back to latin-1 the same way;
- `header_fields`: the header (or first) row's fields, as `layout.sniff` sees them;
- `head_dates`: the first date values of a CSV file (pyarrow, as the pandas path parses them) with
  their file lines, for date-format detection;
- `find_lines`: the file lines of a few records (Spark has no line numbers), scanning at most
  `SCAN_BYTES` of the file.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import shutil
import stat
from pathlib import Path
from typing import Callable, Iterator

from .layout import HEADERLESS, Layout

CHUNK = 16 << 20
SCAN_BYTES = 256 << 20  # per file, when looking up the lines of malformed records
HEAD_VALUES = 2000  # the pandas sample is the first 1000 values + 1000 spread over the rest


def spool_pipes(files: list[Path], tmpdir: Path) -> list[Path]:
    """FIFOs copied to regular files under `tmpdir` (same names); other files unchanged."""
    out = []
    for path in map(Path, files):
        if stat.S_ISFIFO(path.stat().st_mode):
            target = tmpdir / path.name
            with open(path, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            path = target
        out.append(path)
    return out


def _open(path: Path, compression: str | None):
    return gzip.open(path, "rb") if compression == "gzip" else open(path, "rb")


def is_utf8(path: Path, compression: str | None) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with _open(path, compression) as fh:
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def header_fields(path: Path, layout: Layout) -> list[str]:
    """Column names (header row) or positions c0..c3 (headerless), as Spark's schema will name them."""
    if not layout.header:
        return [f"c{i}" for i in range(len(HEADERLESS))]
    with _open(path, layout.compression) as raw, \
            codecs.getreader("utf-8")(raw, errors="replace") as fh:
        for line in fh:
            if line.strip():
                return next(csv.reader([line.rstrip("\r\n")], delimiter=layout.delimiter))
    return []


def _lines(path: Path, compression: str | None, encoding: str) -> Iterator[tuple[int, str]]:
    read = 0
    with _open(path, compression) as raw:
        for number, line in enumerate(raw, 1):
            read += len(line)
            if read > SCAN_BYTES:
                return
            yield number, line.decode(encoding, errors="replace").rstrip("\r\n")


def find_lines(path: Path, layout: Layout, encoding: str,
               wanted: list[Callable[[str, list[str]], bool]]) -> list[int | None]:
    """For each predicate (raw line, parsed fields) the first line it matches (None past SCAN_BYTES)."""
    found: list[int | None] = [None] * len(wanted)
    if not wanted or layout.kind != "csv":
        return found
    for number, text in _lines(path, layout.compression, encoding):
        fields: list[str] | None = None
        for k, match in enumerate(wanted):
            if found[k] is None:
                if fields is None:
                    fields = next(csv.reader([text], delimiter=layout.delimiter), [])
                if match(text, fields):
                    found[k] = number
        if all(f is not None for f in found):
            break
    return found


def head_dates(path: Path, layout: Layout, encoding: str, column: str) -> tuple[list[str], list[int], bool]:
    """(first non-empty stripped date values, their file lines, whether the whole file was read)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    skipped: list[int] = []

    def on_bad_row(row) -> str:
        skipped.append(int(row.number) if row.number is not None else -1)
        return "skip"

    names = None if layout.header else [f"c{i}" for i in range(len(HEADERLESS))]
    values: list[str] = []
    rows: list[int] = []
    seen, complete = 0, True
    with pa.input_stream(str(path), compression=layout.compression) as stream:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(use_threads=False, encoding="utf8" if encoding == "UTF-8" else "latin-1",
                                           block_size=1 << 20, column_names=names),
            parse_options=pacsv.ParseOptions(delimiter=layout.delimiter, invalid_row_handler=on_bad_row),
            convert_options=pacsv.ConvertOptions(include_columns=[column], column_types={column: pa.string()},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
        for batch in reader:
            for value in batch.column(0).to_pylist():
                value = value.strip()
                if value:
                    values.append(value)
                    rows.append(seen)
                seen += 1
            if len(values) >= HEAD_VALUES:
                complete = False
                break
    first = 2 if layout.header else 1
    lines = []
    for row in rows[:HEAD_VALUES]:
        line = row + first
        for s in sorted(skipped):
            if s <= line:
                line += 1
        lines.append(line)
    return values[:HEAD_VALUES], lines, complete


def spread_dates(path: Path, layout: Layout, encoding: str, at: int, n_fields: int, n: int) -> list[str]:
    """About `n` date values (field `at`) from lines spread evenly over an uncompressed CSV file: one
    seek per value, so the whole file is never read."""
    size = path.stat().st_size
    out: list[str] = []
    with open(path, "rb") as fh:
        for k in range(1, n + 1):
            fh.seek(size * k // (n + 1))
            fh.readline()  # the rest of the line the seek landed in
            line = fh.readline()
            if not line:
                continue
            fields = next(csv.reader([line.decode(encoding, errors="replace").rstrip("\r\n")],
                                     delimiter=layout.delimiter), [])
            if len(fields) == n_fields and fields[at].strip():
                out.append(fields[at].strip())
    return out


def estimate_rows(path: Path, layout: Layout) -> int:
    """Lines in a (gzip) CSV file, from its size and the first MB's line length; rows of a Parquet file."""
    if layout.kind == "parquet":
        import pyarrow.parquet as pq
        return int(pq.ParquetFile(path).metadata.num_rows)
    size = path.stat().st_size
    if layout.compression == "gzip":
        with open(path, "rb") as fh:
            fh.seek(-4, 2)
            isize = int.from_bytes(fh.read(4), "little")  # uncompressed size mod 2**32
        size = isize if isize >= size else size * 4
    with _open(path, layout.compression) as fh:
        head = fh.read(1 << 20)
    return max(1, size * max(1, head.count(b"\n")) // max(1, len(head)))
