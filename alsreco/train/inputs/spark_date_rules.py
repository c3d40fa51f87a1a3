"""The date rule of each file on the Spark path, chosen as `dates.detect` chooses it on the pandas path:
from the first values of the file (read on the driver) and, past them, values spread over the file
(read from the file on the driver, or sampled by Spark where it cannot be read in place)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import dates
from .spark_clean import strip
from .spark_files import HEAD_VALUES, estimate_rows, find_lines, head_dates, spread_dates

if TYPE_CHECKING:
    from .spark_read import Source


def date_rules(raw, sources: list[Source], hp: dict[str, Any]):
    """{DateRule: [file indices]} from each file's sample, as `dates.detect` chooses it: the first
    values (read on the driver like the pandas path) and, past them, values spread over the file."""
    from pyspark.sql import functions as F

    usable = raw.where(F.col("_corrupt").isNull() & (strip(F.col("date")) != ""))
    samples: dict[int, tuple[list[str], list[int]]] = {}
    fractions: dict[int, float] = {}
    for src in sources:
        date_col = src.column("date")
        if src.layout.kind == "csv" and isinstance(src.path, Path):
            values, lines, complete = head_dates(src.path, src.layout, src.encoding,
                                                 src.layout.columns["date"] if src.layout.header else date_col)
        else:
            rows = (usable.where(F.col("file") == src.index).select("seq", strip(F.col("date")).alias("d"))
                    .limit(HEAD_VALUES).collect())
            values, lines, complete = [r["d"] for r in sorted(rows, key=lambda r: r["seq"])], [], \
                len(rows) < HEAD_VALUES
        if not complete:
            values = values[:dates.SAMPLE_HEAD]
            if src.layout.kind == "csv" and isinstance(src.path, Path) and src.layout.compression is None:
                values += spread_dates(src.path, src.layout, src.encoding, int(date_col[1:]), len(src.fields),
                                       dates.SAMPLE_SPREAD)
            else:
                rows = estimate_rows(src.path, src.layout) if isinstance(src.path, Path) else \
                    usable.where(F.col("file") == src.index).count()
                fractions[src.index] = min(1.0, 1.2 * dates.SAMPLE_SPREAD / max(1, rows))
        samples[src.index] = (values, lines)
    if fractions:  # one pass over the files that need it
        picked = (usable.where(F.col("file").isin(list(fractions))).sampleBy("file", fractions, seed=0)
                  .select("file", "seq", strip(F.col("date")).alias("d")).collect())
        for row in sorted(picked, key=lambda r: r["seq"]):
            if len(samples[row["file"]][0]) < dates.SAMPLE_HEAD + dates.SAMPLE_SPREAD:
                samples[row["file"]][0].append(row["d"])
    rules: dict[dates.DateRule, list[int]] = defaultdict(list)
    for src in sources:
        values, lines = samples[src.index]
        where = src.path if isinstance(src.path, Path) else Path(src.name)  # an input_uri: named as given
        rule = dates.detect(where, pd.Series(values, dtype=object), hp, src.layout.columns["date"],
                            lambda pos, lines=lines, src=src, values=values: line_of(src, values, lines, pos))
        rules[rule].append(src.index)
    return rules


def line_of(src: Source, values: list[str], lines: list[int], pos: int) -> int:
    if pos < len(lines) or not isinstance(src.path, Path):
        return lines[pos] if pos < len(lines) else 0
    at = src.fields.index(src.layout.columns["date"]) if src.layout.header else src.layout.columns["date"]
    found = find_lines(src.path, src.layout, src.encoding,
                       [lambda _t, f: len(f) > at and f[at].strip() == values[pos]])[0]
    return found or 0
