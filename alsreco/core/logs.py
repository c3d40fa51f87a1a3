"""One log format for every process (`train`, `serve`, the gunicorn master and its workers).

`serve` writes one line per request, so a line must be cheap: the timestamp's date and time part
is formatted once per second, and records skip the caller-frame lookup (`logging._srcfile = None`,
from the "Optimization" section of Python's logging HOWTO; gunicorn's own format still needs the
process id, so that stays).
"""
from __future__ import annotations

import logging
import sys
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Formatter(logging.Formatter):
    """`logging.Formatter` with `asctime` as "YYYY-MM-DD HH:MM:SS,mmm", the seconds part cached."""

    def __init__(self, fmt: str = FORMAT):
        super().__init__(fmt)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        second = int(record.created)
        cached = self._second  # one tuple read: threads may replace it concurrently
        if cached[0] != second:
            cached = (second, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second)))
            self._second = cached
        return f"{cached[1]},{int(record.msecs):03d}"


def configure_logging(level: int = logging.INFO) -> None:
    """Root handler on stderr (CloudWatch reads stdout and stderr alike); idempotent."""
    logging._srcfile = None  # no caller frame lookup per record (no format here shows the caller)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(Formatter())
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("py4j").setLevel(logging.WARNING)
