"""Progress of a long Spark action in the log: iterations done, elapsed and an estimate of what is left.

Spark's ALS is one blocking call made of many small Spark jobs, submitted one after another, so the
tasks of the jobs running at any moment say nothing about the whole fit. Instead the fit runs in a
job group of its own and a daemon thread counts the group's finished jobs (py4j serves each thread
on its own connection) every `every` seconds. Implicit-feedback ALS runs a fixed number of jobs
(`als_jobs`), two per iteration, which gives the iteration and an estimate of the time left.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from typing import Iterator

log = logging.getLogger(__name__)
SETUP_JOBS = 5  # measured (Spark 3.5, implicit ALS): 2 x maxIter + 5 + one per checkpoint


def als_jobs(max_iter: int, implicit_prefs: bool, checkpoint_interval: int) -> int | None:
    """The Spark jobs one ALS fit runs, or None when their number does not follow the iterations
    (explicit ALS has no per-iteration Gramian job)."""
    if not implicit_prefs:
        return None
    return 2 * max_iter + SETUP_JOBS + (max_iter // checkpoint_interval if checkpoint_interval > 0 else 0)


def finished_jobs(spark, group: str) -> int:
    tracker = spark.sparkContext.statusTracker()
    done = 0
    for job_id in tracker.getJobIdsForGroup(group):
        job = tracker.getJobInfo(job_id)
        done += job is not None and str(job.status) == "SUCCEEDED"
    return done


def line(what: str, done: int, expected: int | None, elapsed: float, iterations: int | None = None) -> str:
    if not done:
        return f"{what}: {elapsed:.0f} s elapsed, starting"
    if not expected or not iterations:
        return f"{what}: {done} Spark jobs done, {elapsed:.0f} s elapsed"
    done = min(done, expected - 1)  # the estimate never claims the fit is over while it runs
    iteration = min(iterations, max(0, done - SETUP_JOBS) // 2)
    left = elapsed * (expected - done) / done
    return (f"{what}: iteration ~{iteration} of {iterations} ({done}/{expected} Spark jobs), "
            f"{elapsed:.0f} s elapsed, ~{left:.0f} s left")


@contextlib.contextmanager
def logged(spark, what: str, every: float = 15.0, expected_jobs: int | None = None,
           iterations: int | None = None) -> Iterator[None]:
    """Run the body's Spark jobs in a job group of their own and log their progress meanwhile."""
    sc = spark.sparkContext
    group = f"alsreco-{uuid.uuid4().hex[:8]}"
    sc.setJobGroup(group, what)
    stop = threading.Event()
    started = time.monotonic()

    def watch() -> None:
        while not stop.wait(every):
            try:
                log.info(line(what, finished_jobs(spark, group), expected_jobs, time.monotonic() - started,
                              iterations))
            except Exception:  # noqa: BLE001 - progress is best effort; the JVM may be stopping
                return

    thread = threading.Thread(target=watch, name="spark-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):  # the JVM may be gone (SIGTERM, a failed fit)
            sc.setLocalProperty("spark.jobGroup.id", None)
            sc.setLocalProperty("spark.job.description", None)
