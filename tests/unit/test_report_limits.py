"""benchmarks/report.py's "What limits the goals not met": the shipped-run phases add up from the run's marks."""
from __future__ import annotations

from benchmarks import report


def size(met: bool) -> dict:
    shipped = {"wall_seconds": 300.0, "loadavg_after": [2.0], "als_fits": [{"seconds": 40.0}, {"seconds": 30.0},
                                                                         {"seconds": 25.0}],
               "marks": {"first_log": 1.0, "data_loaded": 60.0, "spark_ready": 62.0, "als_fit_done": 250.0,
                         "model_written": 298.0}}
    return {"size": "10m", "train_shipped": shipped,
            "goals": [{"shipped_seconds_max": 180.0, "measured": 300.0, "met": met}]}


def test_a_missed_shipped_goal_says_where_the_time_went():
    line = report._shipped_phases(size(met=False))
    assert line.startswith("- **training, 10m, as shipped** (300.0 s, load 2.0): 1.0 s Python start-up, ")
    assert "61.0 s data + SparkSession start" in line  # the later of data loaded and Spark ready, minus start-up
    assert "163.0 s held-out evaluation and automatic choices (2 ALS fit(s) on held-out parts: 40.0 + 30.0 s" in line
    assert "25.0 s final ALS fit, 48.0 s top-10" in line  # 250 - 25 - 62 = 163; 298 - 250 = 48


def test_a_met_or_unmarked_shipped_goal_adds_nothing():
    assert report._shipped_phases(size(met=True)) == ""
    unmarked = size(met=False)
    unmarked["train_shipped"]["marks"] = {}
    assert report._shipped_phases(unmarked) == ""
