"""Read and clean sales files with Spark: the pandas path (`read.load`) for data larger than the driver.

`load(spark, files, hp)` returns a persisted DataFrame of clean purchase lines (customer, product:
string; quantity: double; date: timestamp, UTC; invoice, description: string; price: double (null when
absent or not a number); country: string; file: the file's index;
seq: increasing in file order within a file) and the same `LoadReport` as `read.load`. Nothing
proportional to the number of lines reaches the driver: layouts are sniffed from each file's first
lines (`layout.sniff`), the date rule is detected from a sample (`dates.detect`), and the counts of
every drop rule come back from one groupBy.

Files are read through a staging directory of symlinks named `f<index>[.gz]`: Spark picks codecs by
name (gzip is detected by content), and one read per layout gives each row its file index. That
directory is local, so on a cluster (non-local master) files are read in place and must be plain
or `.gz`-named regular files on every host (a FullyReplicated channel); `readable_in_place` says
whether they are.
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.errors import UserError
from . import spark_report
from .layout import Layout, sniff
from .spark_clean import classify
from .spark_date_rules import date_rules
from .spark_files import header_fields, is_utf8

log = logging.getLogger(__name__)

ROLES = ("customer", "product", "quantity", "date", "invoice", "description", "price", "country")
OUTPUT = ("customer", "product", "quantity", "date", "invoice", "description", "price", "country", "file", "seq")
SESSION_CONF = {"spark.sql.session.timeZone": "UTC", "spark.sql.legacy.timeParserPolicy": "CORRECTED",
                "spark.sql.csv.parser.columnPruning.enabled": "false",  # or corrupt records go unflagged
                "spark.sql.legacy.parquet.nanosAsLong": "true"}  # pandas writes nanosecond timestamps


@dataclass
class Source:
    """One input as Spark reads it."""

    index: int
    path: Path | str  # a local file, or the input_uri (read by Spark only)
    name: str
    layout: Layout
    encoding: str = "UTF-8"
    fields: tuple[str, ...] = ()  # CSV: header names (or c0..c3); Parquet: column names
    nanos: frozenset[str] = frozenset()  # Parquet columns holding nanosecond timestamps

    def column(self, role: str) -> str | None:
        """Spark's name of the role's column: c<position> for CSV, the column name for Parquet."""
        col = self.layout.columns.get(role)
        if col is None:
            return None
        if self.layout.kind == "parquet":
            return str(col)
        return f"c{col if isinstance(col, int) else self.fields.index(col)}"


def readable_in_place(path: Path) -> bool:
    """Executors on other hosts can read it at its own path (no local staging needed)."""
    import stat
    path = Path(path)
    if stat.S_ISFIFO(path.stat().st_mode):
        return False
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return not gz or path.name.endswith(".gz")


def describe(index: int, path: Path, hp: dict[str, Any]) -> Source:
    layout = sniff(path, hp)
    if layout.kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        schema = pq.read_schema(path)
        nanos = frozenset(f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns")
        return Source(index, path, path.name, layout, fields=tuple(schema.names), nanos=nanos)
    encoding = "UTF-8" if is_utf8(path, layout.compression) else "ISO-8859-1"
    return Source(index, path, path.name, layout, encoding, tuple(header_fields(path, layout)))


def _role_columns(frame, src: Source):
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    out = []
    for role in ROLES:
        name = src.column(role)
        if name is None:
            out.append(F.lit(None).cast("string").alias(role))
            continue
        col = F.col(f"`{name}`")
        if name in src.nanos:
            col = F.timestamp_micros(F.floor(col / 1000))
        elif src.layout.kind == "parquet" and isinstance(frame.schema[name].dataType, (DoubleType, FloatType)):
            # str(17850.0) is "17850.0" in pandas, Java prints 1.785E7 from 1e7 on
            col = F.when((col == F.floor(col)) & (F.abs(col) < 1e15),
                         F.concat(col.cast("long").cast("string"), F.lit(".0"))).otherwise(col.cast("string"))
        out.append(col.cast("string").alias(role))
    return out


def _read_group(spark, sources: list[Source], stage: Path | None):
    """One Spark read for files sharing a layout; columns file, _corrupt and ROLES (strings)."""
    from pyspark.sql import functions as F

    first = sources[0]
    if stage is not None:
        paths = []
        for src in sources:
            suffix = ".gz" if first.layout.compression == "gzip" else ""
            link = stage / f"f{src.index:06d}{suffix}"
            os.symlink(os.path.abspath(src.path), link)
            paths.append(str(link))
        # the file's index from its staged name (f<6 digits>[.gz]): string functions, not a regex a row
        # (10M lines: 8 s less); one file needs no lookup at all
        file_col = F.lit(first.index) if len(sources) == 1 else \
            F.substring(F.substring_index(F.input_file_name(), "/", -1), 2, 6).cast("int")
    else:
        paths = [str(src.path) for src in sources]
        file_col = F.lit(first.index)
    latin1 = F.lit(False)
    if first.layout.kind == "parquet":
        frame = spark.read.parquet(*paths)
        corrupt = F.lit(None).cast("string")
    else:
        schema = ", ".join(f"c{i} string" for i in range(len(first.fields))) + ", _corrupt string"
        frame = (spark.read.schema(schema)
                 .options(header=str(first.layout.header).lower(), sep=first.layout.delimiter, quote='"',
                          escape='"', mode="PERMISSIVE", columnNameOfCorruptRecord="_corrupt",
                          multiLine="false", encoding=first.encoding, enforceSchema="true")
                 .csv(paths))
        corrupt = F.col("_corrupt")
        if first.encoding != "UTF-8":
            # like encodings.to_utf8: each line is UTF-8 when it is valid UTF-8, else Latin-1. Read as
            # Latin-1 (one char per byte), a line is valid UTF-8 when no field re-decodes to U+FFFD
            # (delimiters and quotes are ASCII, so the fields split the same either way).
            redecoded = {c: F.decode(F.encode(F.col(c), "ISO-8859-1"), "UTF-8") for c in frame.columns}
            latin1 = F.lit(False)
            for c, text in redecoded.items():
                latin1 = latin1 | F.coalesce(F.instr(text, "\ufffd") > 0, F.lit(False))
            frame = frame.select(*[F.when(latin1, F.col(c)).otherwise(text).alias(c)
                                   for c, text in redecoded.items()], latin1.alias("_latin1"))
            latin1 = F.col("_latin1")
    return frame.select(file_col.alias("file"), corrupt.alias("_corrupt"), latin1.alias("latin1"),
                        *_role_columns(frame, first))


def _group_key(src: Source, local: bool):
    roles = tuple((r, src.column(r)) for r in ROLES)
    if not local:
        return (src.index,)
    if src.layout.kind == "parquet":
        return ("parquet", roles, src.fields, src.nanos)
    return ("csv", roles, src.layout.delimiter, src.layout.header, len(src.fields), src.encoding,
            src.layout.compression)


def read_raw(spark, sources: list[Source], stage: Path | None):
    """Every source as one frame: file, seq, _corrupt and ROLES as raw strings (null = missing)."""
    from pyspark.sql import functions as F

    groups: dict[Any, list[Source]] = defaultdict(list)
    for src in sources:
        groups[_group_key(src, stage is not None)].append(src)
    frames = [_read_group(spark, group, stage) for group in groups.values()]
    raw = frames[0]
    for frame in frames[1:]:
        raw = raw.unionByName(frame)
    return raw.withColumn("seq", F.monotonically_increasing_id())


def configure(spark) -> None:
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)


def load(spark, files: list[Path], hp: dict[str, Any], *, stage: Path | None = None, local: bool = True):
    """Read and clean every file with Spark: (clean DataFrame, LoadReport); `release` frees it.

    `local`: Spark runs on this host, and files are staged (symlinked) under `stage`, which must
    outlive the DataFrame (a temporary directory when not given); otherwise they are read in place
    (see `readable_in_place`)."""
    empty = [str(p) for p in files if Path(p).stat().st_size == 0]
    for path in empty:  # an empty export beside good ones: nothing to read
        log.warning("%s is empty (0 bytes): skipped", path)
    files = [Path(p) for p in files if str(p) not in empty]
    if not files:
        raise UserError(f"every input file is empty (0 bytes): {', '.join(empty)}")
    sources = [describe(i, p, hp) for i, p in enumerate(files)]
    if not local:
        return load_sources(spark, sources, hp, None, empty)
    if stage is not None:
        return load_sources(spark, sources, hp, Path(tempfile.mkdtemp(prefix="stage-", dir=stage)), empty)
    with tempfile.TemporaryDirectory(prefix="alsreco-stage-") as tmp:
        return load_sources(spark, sources, hp, Path(tmp), empty)


def load_sources(spark, sources: list[Source], hp: dict[str, Any], stage: Path | None,
                 empty: list[str] | None = None):
    """The sources read, classified and counted; the clean rows as a view of one persisted frame
    (`release` unpersists it)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    configure(spark)
    raw = read_raw(spark, sources, stage)
    rules = date_rules(raw, sources, hp)
    classified = classify(raw, rules, hp, any(s.column("quantity") for s in sources))
    classified = classified.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        tally = classified.groupBy("file", "malformed", "dropped", "latin1").count().collect()
        report = spark_report.build(classified, sources, rules, tally, hp)
        report.empty_files = list(empty or [])
    except BaseException:
        classified.unpersist()
        raise
    return classified.where(F.col("malformed").isNull() & F.col("dropped").isNull()).select(*OUTPUT), report


def release(spark) -> None:
    """Drop the frames `load` persisted (and every other cached one of this session)."""
    spark.catalog.clearCache()


def load_uri(spark, uri: str, hp: dict[str, Any]):
    """`input_uri` (s3a://, hdfs://, file://; CSV or Parquet files under it) read by Spark in place.
    The layout is sniffed from its first lines (or its schema), landed in a small local file."""
    from pyspark.sql.utils import AnalysisException

    configure(spark)
    with tempfile.TemporaryDirectory(prefix="alsreco-uri-") as tmp:
        try:
            head = [r["value"] for r in spark.read.text(uri).limit(20).collect()]
            is_parquet = uri.rstrip("/").endswith(".parquet") or bool(head and head[0].startswith("PAR1"))
            probe = Path(tmp) / "head"
            if is_parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq
                schema = spark.read.parquet(uri).schema
                pq.write_table(pa.table({f.name: pa.array([], pa.string()) for f in schema.fields}), probe)
            else:
                probe.write_text("".join(line + "\n" for line in head))
        except AnalysisException as exc:
            raise UserError(f"input_uri {uri!r} cannot be read: {str(exc).splitlines()[0]}") from None
        if not head:
            raise UserError(f"input_uri {uri!r} holds no rows")
        layout = sniff(probe, hp)
        if is_parquet:
            # with nanosAsLong a pandas-written timestamp arrives as a long: a date column of longs is one
            longs = {f.name for f in schema.fields if f.dataType.typeName() == "long"}
            source = Source(0, uri, uri, layout, fields=tuple(f.name for f in schema.fields),
                            nanos=frozenset(longs & {layout.columns["date"]}))
        else:
            layout.compression = None  # Spark decompresses by file name
            source = Source(0, uri, uri, layout, fields=tuple(header_fields(probe, layout)))
        return load_sources(spark, [source], hp, None)
