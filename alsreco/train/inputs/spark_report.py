"""The `LoadReport` of the Spark path: per-rule counts from one groupBy, and the first malformed
rows of each file named the way the pandas path names them (file, line, what is wrong)."""
from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.errors import UserError
from .read import DROP_RULES, LoadReport

if TYPE_CHECKING:  # spark_read imports this module
    from .spark_read import Source

log = logging.getLogger(__name__)
EXAMPLES_PER_FILE = 5
MAX_EXAMPLES = 200  # over all files: the report keeps 10, an error quotes 5


def build(classified, sources, rules, tally, hp) -> LoadReport:
    report = LoadReport()
    rows: dict[int, int] = defaultdict(int)
    bad: dict[int, int] = defaultdict(int)
    dropped: dict[int, dict[str, int]] = defaultdict(lambda: {r: 0 for r in DROP_RULES})
    used = 0
    latin1: dict[int, int] = defaultdict(int)
    for row in tally:
        rows[row["file"]] += row["count"]
        latin1[row["file"]] += row["count"] if row["latin1"] else 0
        if row["malformed"] is not None:
            bad[row["file"]] += row["count"]
        elif row["dropped"] is not None:
            dropped[row["file"]][row["dropped"]] += row["count"]
        else:
            used += row["count"]
    examples = first_malformed(classified, [s for s in sources if bad[s.index]], rules) if any(bad.values()) else {}
    formats = {i: rule.formats for rule, files in rules.items() for i in files}
    for src in sources:
        report.files += 1
        report.rows_read += rows[src.index]
        report.malformed += bad[src.index]
        report.malformed_examples += examples.get(src.index, [])
        report.date_formats[src.name] = list(formats[src.index])
        if latin1[src.index]:
            log.warning("%s: %d line(s) are not UTF-8; decoded them as Latin-1", src.path, latin1[src.index])
            report.latin1_lines[src.name] = latin1[src.index]
        if report.malformed > hp["max_malformed_rows"]:
            raise UserError(f"{report.malformed} malformed rows (limit max_malformed_rows="
                            f"{hp['max_malformed_rows']}); first ones: " + "; ".join(report.malformed_examples[:5])
                            + ". Fix the data or raise max_malformed_rows.")
        for rule in DROP_RULES:
            report.dropped[rule] += dropped[src.index][rule]
    report.rows_used = used
    for rule, count in report.dropped.items():
        log.info("dropped %d row(s): %s", count, rule)
    log.info("read %d row(s) from %d file(s) with Spark: %d malformed, %d used",
             report.rows_read, report.files, report.malformed, report.rows_used)
    if not used:  # the pandas path's message (read.load), file names included
        names = [Path(src.name).name for src in sources]
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise UserError(f"no usable rows remain after cleaning {report.rows_read} row(s) read from "
                        f"{report.files} file(s) ({shown}): dropped {report.dropped}, malformed {report.malformed}"
                        + (f" (first ones: {'; '.join(report.malformed_examples[:3])})" if report.malformed else "")
                        + ". Check the column mapping, retention_date and non_product_codes.")
    return report




def first_malformed(classified, sources: list[Source], rules) -> dict[int, list[str]]:
    """Per file, the first malformed rows as the pandas path names them (wrong field counts first),
    with their lines: 1 + header + the rows before them in the file (exact unless the file has
    blank lines or multi-line records), counted in one pass over the persisted rows."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    is_fields = F.col("malformed") == "fields"
    window = Window.partitionBy("file", is_fields).orderBy("seq")
    rows = (classified.where(F.col("malformed").isNotNull())
            .withColumn("n", F.row_number().over(window)).where(F.col("n") <= EXAMPLES_PER_FILE)
            .select("file", "seq", "malformed", "_corrupt", "raw_quantity", "raw_date", "product").collect())
    rows = sorted(rows, key=lambda r: (r["file"], r["malformed"] != "fields", r["seq"]))[:MAX_EXAMPLES]
    before = classified.select(*[F.count(F.when((F.col("file") == r["file"]) & (F.col("seq") < r["seq"]), 1))
                                 for r in rows]).first() if rows else []
    formats = {i: rule.formats for rule, files in rules.items() for i in files}
    by_index = {s.index: s for s in sources}
    out: dict[int, list[str]] = defaultdict(list)
    for row, n in zip(rows, before):
        src = by_index[row["file"]]
        line = n + (2 if src.layout.header else 1)
        out[src.index].append(_describe_bad(src, row, line, formats[src.index]))
    return out


def _describe_bad(src: Source, row, line: int, formats) -> str:
    kind = row["malformed"]
    where = f"{src.name} line {line}"
    if kind == "fields":
        return f"{where}: wrong number of fields"
    what = {"quantity": f"quantity {row['raw_quantity']!r}", "product": "empty product",
            "date": f"date {row['raw_date']!r} (formats: {', '.join(formats)}; see date_format)"}[kind]
    return f"{where}: unparseable {what}"
