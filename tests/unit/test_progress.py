"""The progress line of the ALS fit: iterations from the fit's own Spark jobs (a job group), checked
against real Spark in tests/integration/test_train_progress.py."""
import logging
import time

from alsreco.train.spark import progress


def test_expected_jobs_follow_the_iterations_for_implicit_als_only():
    assert progress.als_jobs(15, True, 10) == 2 * 15 + progress.SETUP_JOBS + 1
    assert progress.als_jobs(5, True, 10) == 15
    assert progress.als_jobs(15, False, 10) is None  # explicit ALS: no per-iteration job to count


def test_progress_line_gives_the_iteration_and_what_is_left():
    assert progress.line("ALS fit", 0, 36, 3.0, 15) == "ALS fit: 3 s elapsed, starting"
    assert progress.line("ALS fit", 15, 36, 30.0, 15) == \
        "ALS fit: iteration ~5 of 15 (15/36 Spark jobs), 30 s elapsed, ~42 s left"
    # never "done" (or past it) while the fit still runs, e.g. when a checkpoint job was not run
    assert progress.line("ALS fit", 40, 36, 60.0, 15) == \
        "ALS fit: iteration ~15 of 15 (35/36 Spark jobs), 60 s elapsed, ~2 s left"
    assert progress.line("ALS fit", 7, None, 9.0) == "ALS fit: 7 Spark jobs done, 9 s elapsed"


def test_progress_is_logged_while_the_action_runs_and_the_job_group_is_cleared(caplog):
    calls = []

    class Job:
        status = "SUCCEEDED"

    class Tracker:
        def getJobIdsForGroup(self, group):
            calls.append(group)
            return [1, 2, 3]

        def getJobInfo(self, job_id):
            return Job() if job_id < 3 else type("Running", (), {"status": "RUNNING"})()

    class SC:
        props: dict = {}

        def statusTracker(self):
            return Tracker()

        def setJobGroup(self, group, description):
            self.props["spark.jobGroup.id"] = group

        def setLocalProperty(self, key, value):
            self.props[key] = value

    sc = SC()
    spark = type("Spark", (), {"sparkContext": sc})()
    with caplog.at_level(logging.INFO, logger="alsreco.train.spark.progress"):
        with progress.logged(spark, "fit", every=0.05, expected_jobs=10, iterations=3):
            group = sc.props["spark.jobGroup.id"]
            time.sleep(0.3)
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(m.startswith("fit: iteration ~0 of 3 (2/10 Spark jobs)") for m in lines)
    assert set(calls) == {group} and group.startswith("alsreco-")
    assert sc.props["spark.jobGroup.id"] is None  # later jobs are not counted as the fit's
    count = len(lines)
    time.sleep(0.2)
    assert len(caplog.records) == count  # stopped with the action
