"""The progress line of a long Spark action (the tracker itself is exercised by every real fit)."""
from alsreco.train.spark import progress


def test_progress_line_estimates_what_is_left():
    assert progress.line("ALS fit", 0, 0, 3.0) == "ALS fit: 3 s elapsed, starting"
    assert progress.line("ALS fit", 25, 100, 30.0) == \
        "ALS fit: 25% of tasks (25/100), 30 s elapsed, ~90 s left"


def test_progress_is_logged_while_the_action_runs(caplog):
    import logging
    import time

    class Tracker:
        def getActiveJobsIds(self):
            return [1]

        def getJobInfo(self, job_id):
            return type("J", (), {"stageIds": [7]})()

        def getStageInfo(self, stage_id):
            return type("S", (), {"numCompletedTasks": 5, "numTasks": 10})()

    spark = type("Spark", (), {"sparkContext": type("SC", (), {"statusTracker": lambda self: Tracker()})()})()
    with caplog.at_level(logging.INFO, logger="alsreco.train.spark.progress"):
        with progress.logged(spark, "fit", every=0.05):
            time.sleep(0.3)
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(m.startswith("fit: 50% of tasks (5/10)") for m in lines)
    count = len(lines)
    time.sleep(0.2)
    assert len([r for r in caplog.records]) == count  # stopped with the action
