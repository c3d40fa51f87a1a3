"""Files that are not all UTF-8: legacy exports, and concatenations of UTF-8 and Latin-1 parts.

Each line is decoded on its own - UTF-8 when it is valid UTF-8, else Latin-1 (which decodes any
byte) - so UTF-8 ids and names are never garbled because another line of the file is Latin-1.
The lines decoded as Latin-1 are counted, and the first ones named in the log.
"""
from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def to_utf8(path: Path, compression: str | None, report: Any = None) -> bytes:
    """The file's content re-encoded as UTF-8, decoding line by line."""
    opener = gzip.open if compression == "gzip" else open
    out: list[bytes] = []
    latin1: list[int] = []
    with opener(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            try:
                line.decode("utf-8")
                out.append(line)
            except UnicodeDecodeError:
                latin1.append(n)
                out.append(line.decode("latin-1").encode("utf-8"))
    if latin1:
        shown = ", ".join(map(str, latin1[:5])) + (", ..." if len(latin1) > 5 else "")
        log.warning("%s: %d line(s) are not UTF-8 (lines %s); decoded them as Latin-1", path, len(latin1), shown)
        if report is not None:
            report.latin1_lines[Path(path).name] = len(latin1)
    return b"".join(out)
