"""text/csv: one customer id per line (optional second column k, optional header
`customer_id[,k]`) in; `customer_id,rank,product_id,score,reason` rows out. CSV output cannot
carry a per-record error, so a bad record makes the whole request a 400."""
from __future__ import annotations

import csv
import io
import re
from typing import Any, Iterable, Iterator, Sequence

from ...core.rules import Prediction
from .base import JSONL, HttpError, Limits, Record, RecordError
from .fields import FieldError, parse_single

CSV_HEADER = ("customer_id", "rank", "product_id", "score", "reason")


def decode(text: str, limits: Limits) -> list[Record]:
    rows = [(n, row) for n, row in _rows(text) if any(c.strip() for c in row)]
    if rows and re.sub(r"[\s_]", "", rows[0][1][0]).lower() in ("customerid", "customer"):
        rows = rows[1:]
    limits.check_count(len(rows))
    out: list[Record] = []
    for n, row in rows:
        try:
            if len(row) > 2:
                raise FieldError(f"expected customer_id[,k], got {len(row)} columns")
            doc: dict[str, Any] = {"customer_id": row[0].strip()}
            if len(row) == 2 and row[1].strip():
                doc["k"] = row[1].strip()
            out.append(parse_single(doc, "", csv_k=True))
        except FieldError as exc:
            out.append(RecordError(f"line {n}: {exc}"))
    return out


def _rows(text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:  # e.g. a field over the csv module's field size limit, a NUL byte
        raise HttpError(400, f"CSV body line {max(1, reader.line_num)}: {exc}") from None


def check(results: Sequence[Prediction | RecordError]) -> None:
    """CSV output cannot carry a per-record error: any bad record makes the whole request a 400."""
    errors = [r.message for r in results if isinstance(r, RecordError)]
    if errors:
        raise HttpError(400, f"{len(errors)} bad record(s); CSV output cannot carry per-record errors "
                             f"(ask for {JSONL} to get them in place): " + "; ".join(errors[:5]))


def stream(chunks: Iterable[Sequence[Prediction | RecordError]], model_version: str) -> Iterator[str]:
    """Header, then one row per recommendation; no trailing newline. Call `check` first."""
    yield ",".join(CSV_HEADER)
    for chunk in chunks:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for p in chunk:
            for rank, r in enumerate(p.recommendations, 1):  # type: ignore[union-attr]
                w.writerow((p.customer_id, rank, r.product_id, r.score, r.reason))  # type: ignore[union-attr]
        text = buf.getvalue()
        if text:
            yield "\n" + text[:-1]
