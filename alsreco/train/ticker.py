"""A progress line for long loops on the driver (batch scoring, similar products): what is done, the time
elapsed and an estimate of what is left, at most every `every` seconds (Spark actions have spark/progress.py)."""
from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Ticker:
    """`tick(done)` after each unit of work logs `what: done of total units, N s elapsed, ~M s left` when
    `every` seconds have passed since the last line (none for work shorter than that)."""

    def __init__(self, what: str, total: int, units: str, every: float = 15.0, clock=time.monotonic):
        self.what, self.total, self.units, self.every, self.clock = what, int(total), units, float(every), clock
        self.started = self.last = clock()

    def tick(self, done: int) -> str | None:
        now = self.clock()
        if now - self.last < self.every:
            return None
        self.last = now
        elapsed = now - self.started
        left = elapsed * (self.total - done) / done if done > 0 else float("nan")
        line = (f"{self.what}: {done:,} of {self.total:,} {self.units}, {elapsed:.0f} s elapsed"
                + (f", ~{left:.0f} s left" if left == left else ""))
        log.info("%s", line)
        return line

    def seconds(self) -> float:
        return self.clock() - self.started
