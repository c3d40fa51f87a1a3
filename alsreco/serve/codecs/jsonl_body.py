"""application/jsonlines: one request object (or bare id) per line in, one result per line out,
in order; a bad line becomes `{"error": "line N: ..."}` at its position (batch transform with
SplitType=Line needs exactly that). Trailing blank lines are ignored; a blank line in the middle
is an error line."""
from __future__ import annotations

import json
from typing import Iterable, Iterator, Sequence

from ...core.rules import Prediction
from .base import Limits, Record, RecordError
from .fields import FieldError, parse_single
from .json_body import DuplicateKey, loads, result_dict


def decode(text: str, limits: Limits) -> list[Record]:
    # Lines end at "\n" (and "\r\n") only, as batch transform's SplitType=Line splits them: U+2028,
    # U+0085 and the other separators str.splitlines knows may stand raw inside a JSON string.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    limits.check_count(len(lines))
    out: list[Record] = []
    for n, line in enumerate(lines, 1):
        try:
            if not line.strip():
                raise FieldError("empty line")
            try:
                doc = loads(line)
            except DuplicateKey as exc:
                raise FieldError(str(exc)) from None
            except ValueError as exc:
                raise FieldError(f"not valid JSON: {exc}") from None
            except RecursionError:
                raise FieldError("not valid JSON: nested too deeply") from None
            out.append(parse_single(doc, ""))
        except FieldError as exc:
            out.append(RecordError(f"line {n}: {exc}"))
    return out


def stream(chunks: Iterable[Sequence[Prediction | RecordError]], model_version: str) -> Iterator[str]:
    """One line per result, joined by newlines, no trailing newline."""
    sep = ""
    for chunk in chunks:
        if chunk:
            yield sep + "\n".join(json.dumps(_line(r, model_version)) for r in chunk)
            sep = "\n"


def _line(r: Prediction | RecordError, model_version: str) -> dict:
    d = result_dict(r)
    if not isinstance(r, RecordError):
        d["model_version"] = model_version
    return d
