"""The pandas path's parsing and cleaning rules (`read.read_file` / `read.clean`) as Spark column
expressions, applied in one pass: every row gets either a `malformed` kind or a `dropped` rule (the
first in `DROP_RULES` order that matches) or neither, so one groupBy counts them all.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from . import orders
from .dates import DateRule
from .read import DROP_RULES
from .spark_dates import rule_column
from .text import NUMBER, SPREADSHEET_ID, WHITESPACE

MISSING_CUSTOMER = ("", "nan", "NaN", "None", "null", "NULL")
MALFORMED_KINDS = ("fields", "quantity", "product", "date")  # the order the pandas path names them in


def strip(col):
    """str.strip(): Unicode whitespace both ends; null (a missing value) becomes ''."""
    from pyspark.sql import functions as F

    return F.coalesce(F.btrim(col, F.lit(WHITESPACE)), F.lit(""))


def normalise_ids(col):
    """`text.normalise_ids`: stripped, "17850.0" -> "17850"."""
    from pyspark.sql import functions as F

    stripped = strip(col)
    return F.when(stripped.contains(".0"), F.regexp_replace(stripped, SPREADSHEET_ID, "$1")).otherwise(stripped)


def date_column(rules: dict[DateRule, list[int]], value):
    """The per-file date rules as one column: CASE file WHEN ... (files sharing a rule share a branch)."""
    from pyspark.sql import functions as F

    out = F.lit(None).cast("timestamp")
    for rule, files in rules.items():
        out = F.when(F.col("file").isin(files), rule_column(rule, value)).otherwise(out)
    return out


def classify(raw, rules: dict[DateRule, list[int]], hp: dict[str, Any], has_quantity: bool):
    """`raw` (file, seq, _corrupt and the role columns as strings) -> the cleaned columns plus
    `malformed` (a MALFORMED_KINDS value or null) and `dropped` (a DROP_RULES value or null)."""
    from pyspark.sql import functions as F

    customer = normalise_ids(F.col("customer"))
    product = strip(F.col("product"))
    raw_q = strip(F.col("quantity"))
    if has_quantity:
        quantity = F.when(raw_q == "", F.lit(0.0)).when(raw_q.rlike(NUMBER), raw_q.cast("double"))
    else:
        quantity = F.lit(1.0)
    raw_d = strip(F.col("date"))
    frame = raw.select(
        "file", "seq", "_corrupt", "latin1", F.col("quantity").alias("raw_quantity"), raw_d.alias("raw_date"),
        customer.alias("customer"), product.alias("product"), quantity.alias("quantity"),
        date_column(rules, raw_d).alias("date"), strip(F.col("invoice")).alias("invoice"),
        strip(F.col("description")).alias("description"),
        F.when(strip(F.col("price")).rlike(NUMBER), strip(F.col("price")).cast("double")).alias("price"),
        strip(F.col("country")).alias("country"))
    malformed = (F.when(F.col("_corrupt").isNotNull(), "fields")
                 .when(F.col("quantity").isNull(), "quantity")
                 .when(F.col("product") == "", "product")
                 .when(F.col("date").isNull(), "date"))
    as_of = pd.Timestamp(hp["retention_date"]) if hp.get("retention_date") else None
    pattern = orders.cancellation_pattern(hp)
    tests = {
        "missing_customer": F.col("customer").isin(list(MISSING_CUSTOMER)),
        "cancelled": F.col("invoice").rlike(pattern) if pattern is not None else F.lit(False),
        "non_positive_quantity": F.col("quantity") <= 0,
        "non_product_code": F.col("product").isin(list(hp["non_product_codes"])) if hp["non_product_codes"]
        else F.lit(False),
        "after_as_of": F.col("date") >= F.lit(str(as_of + pd.Timedelta(days=1))).cast("timestamp")
        if as_of is not None else F.lit(False),
    }
    dropped = F.lit(None).cast("string")
    for name in reversed(DROP_RULES):  # the first matching rule wins
        dropped = F.when(tests[name], F.lit(name)).otherwise(dropped)
    return (frame.withColumn("malformed", malformed)
            .withColumn("dropped", F.when(F.col("malformed").isNull(), dropped)))
