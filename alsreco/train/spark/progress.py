"""Progress of a long Spark action in the log: tasks done, elapsed and an estimate of what is left.

Spark's ALS is one blocking call; a daemon thread asks Spark's status tracker (py4j serves
each thread on its own connection) every `every` seconds while it runs.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Iterator

log = logging.getLogger(__name__)


def tasks(spark) -> tuple[int, int]:
    """(completed, total) tasks over the stages of the active jobs."""
    tracker = spark.sparkContext.statusTracker()
    done = total = 0
    for job_id in tracker.getActiveJobsIds():
        job = tracker.getJobInfo(job_id)
        for stage_id in (job.stageIds if job else []):
            stage = tracker.getStageInfo(stage_id)
            if stage is not None:
                done += stage.numCompletedTasks
                total += stage.numTasks
    return done, total


def line(what: str, done: int, total: int, elapsed: float) -> str:
    if total <= 0 or done <= 0:
        return f"{what}: {elapsed:.0f} s elapsed, starting"
    left = elapsed * (total - done) / done
    return f"{what}: {100 * done / total:.0f}% of tasks ({done}/{total}), {elapsed:.0f} s elapsed, ~{left:.0f} s left"


@contextlib.contextmanager
def logged(spark, what: str, every: float = 15.0) -> Iterator[None]:
    stop = threading.Event()
    started = time.monotonic()

    def watch() -> None:
        while not stop.wait(every):
            try:
                log.info(line(what, *tasks(spark), time.monotonic() - started))
            except Exception:  # noqa: BLE001 - progress is best effort; the JVM may be stopping
                return

    thread = threading.Thread(target=watch, name="spark-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
