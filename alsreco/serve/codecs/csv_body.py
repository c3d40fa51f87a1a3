"""text/csv: one customer id per line (optional second column k, optional header
`customer_id[,k]`) in; `customer_id,rank,product_id,score,reason,recommendation_id` rows out.

Similar-products lists (JSON / JSON Lines requests with `item_id`) come out as
`item_id,rank,product_id,score,reason,recommendation_id`: the first column names what the list is
for. One CSV body has one header, so it cannot mix customers and items, nor carry a per-record
error: either makes the whole request a 400 (JSON Lines output can)."""
from __future__ import annotations

import csv
import io
import itertools
import re
from typing import Any, Iterable, Iterator, Sequence

from ...core.rules import Prediction
from .base import JSONL, HttpError, Limits, Record, RecordError
from .fields import FieldError, parse_single

CSV_HEADER = ("customer_id", "rank", "product_id", "score", "reason", "recommendation_id")
ITEM_CSV_HEADER = ("item_id",) + CSV_HEADER[1:]


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
    """(line, fields) per record. Lines end at \n, \r\n or a lone \r; strict: a quote that is never
    closed (which would swallow every later line into one id) or text after a closing quote is a 400."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if row:  # a blank line
                rows.append((reader.line_num, row))
            start = reader.line_num + 1
    except csv.Error as exc:  # e.g. a field over the csv module's field size limit, an unclosed quote
        raise HttpError(400, f"CSV body line {start}: {exc}") from None
    return rows


def check(results: Sequence[Any]) -> None:
    """What CSV output cannot carry makes the whole request a 400: a per-record error, or customers and
    items in one body. `results` are requests or predictions (both have `item_id`)."""
    errors = [r.message for r in results if isinstance(r, RecordError)]
    if errors:
        raise HttpError(400, f"{len(errors)} bad record(s); CSV output cannot carry per-record errors "
                             f"(ask for {JSONL} to get them in place): " + "; ".join(errors[:5]))
    if len({_is_item(r) for r in results}) > 1:
        raise HttpError(400, "CSV output cannot mix customers and item_id (similar products) in one body: "
                             f"its first column is one or the other; ask for {JSONL} or split the request")
    if len({tuple(getattr(r, "fields", ())) for r in results}) > 1:
        raise HttpError(400, "CSV output has one header: every record must ask for the same fields; ask for "
                             f"{JSONL} or split the request")


def stream(chunks: Iterable[Sequence[Prediction | RecordError]], model_version: str) -> Iterator[str]:
    """Header, then one row per recommendation; no trailing newline. Call `check` first."""
    chunks = iter(chunks)
    first = next(chunks, [])  # scored before the header: it says which header
    fields = next((tuple(getattr(p, "fields", ())) for p in first), ())
    head = io.StringIO()
    csv.writer(head, lineterminator="").writerow(
        (ITEM_CSV_HEADER if any(_is_item(p) for p in first) else CSV_HEADER) + fields)
    yield head.getvalue()
    for chunk in itertools.chain([first], chunks):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for p in chunk:
            subject = p.item_id if p.item_id is not None else p.customer_id  # type: ignore[union-attr]
            for rank, r in enumerate(p.recommendations, 1):  # type: ignore[union-attr]
                attrs = tuple(_cell((r.attributes or {}).get(f)) for f in fields)
                w.writerow((subject, rank, r.product_id, r.score, r.reason, p.recommendation_id) + attrs)  # type: ignore
        text = buf.getvalue()
        if text:
            yield "\n" + text[:-1]


def _is_item(r: Any) -> bool:
    return getattr(r, "item_id", None) is not None


def _cell(value: Any) -> Any:
    """An attribute in a CSV cell: lists as a|b|c, missing as empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(value)
    return value
