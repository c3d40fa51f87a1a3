"""benchmarks/scale.py's pieces that need no Docker: the data in parts, cgroup figures, the report."""
from __future__ import annotations

import numpy as np

from benchmarks import datagen, dockerkit, report_scale, scale


def test_parts_follow_one_law_with_invoices_running_on():
    parts = list(datagen.generate_parts(25_000, 2_000, 300, 10_000, seed=5))
    assert [p.num_rows for p in parts] == [10_000, 10_000, 5_000]
    invoices = np.concatenate([p["InvoiceNo"].to_numpy(zero_copy_only=False).astype(int) for p in parts])
    assert np.all(np.diff(invoices) >= 0) and invoices[0] == 500_000  # no invoice shared between parts
    again = list(datagen.generate_parts(25_000, 2_000, 300, 10_000, seed=5))
    assert all(a.equals(b) for a, b in zip(parts, again))
    # one popularity law: the parts agree on the best sellers
    def counts(table):
        codes = np.char.lstrip(table["StockCode"].to_numpy(zero_copy_only=False).astype(str), "P").astype(int)
        return np.bincount(codes, minlength=300)

    other = datagen.generate(10_000, 2_000, 300, seed=6)  # another seed: another law
    same, diff = np.corrcoef(counts(parts[0]), counts(parts[1]))[0, 1], np.corrcoef(counts(parts[0]),
                                                                                     counts(other))[0, 1]
    assert same > 0.8 and same > diff + 0.3, (same, diff)


def test_shape_keeps_bench_train_proportions():
    assert scale.shape(10_000_000) == (1_000_000, 100_000)
    assert scale.shape(40_000_000) == (4_000_000, 100_000)  # the catalogue is capped


def test_docker_times_and_cgroup_figures():
    assert scale._epoch("2024-05-01T12:00:01.500000000Z") - scale._epoch("2024-05-01T12:00:00Z") == 1.5
    assert scale._epoch("0001-01-01T00:00:00Z") is None
    v1 = dockerkit._parse({"memory.max_usage_in_bytes": "3000\n", "memory.usage_in_bytes": "2000\n",
                           "memory.failcnt": "4\n", "memory.stat": "total_inactive_file 500\ntotal_rss 1200\n"})
    assert v1 == {"usage": 2000, "peak": 3000, "working_set": 1500, "anon": 1200, "limit_hits": 4}
    v2 = dockerkit._parse({"memory.peak": "3000", "memory.current": "2000", "memory.events": "low 0\nmax 2\n",
                           "memory.stat": "anon 1100\ninactive_file 300\n"})
    assert v2 == {"usage": 2000, "peak": 3000, "working_set": 1700, "anon": 1100, "limit_hits": 2}


def _doc(lines: int, ok: bool) -> dict:
    mem = {"peak_mb": 3072.0, "peak_working_set_mb": 2900.0, "peak_anon_mb": 2800.0, "limit_hits": 7, "samples": 9}
    run = {"hosts": ["algo-1", "algo-2"], "wall_seconds": 1234.5, "loadavg_before": [1.0, 1, 1],
           "loadavg_after": [2.5, 1, 1], "memory": {"algo-1": mem, "algo-2": mem}, "succeeded": ok,
           "exit_codes": {"algo-1": 0 if ok else 1, "algo-2": 0 if ok else 1}, "timed_out": False,
           "oom_killed": {"algo-1": not ok, "algo-2": False}, "marks": {"spark_ready": 40.0, "model_written": 1200.0},
           "failure": {} if ok else {"algo-1": "AlgorithmError: the JVM died"}}
    if ok:
        run.update(model_bytes=5 * 2**20, recommendations={"lines": 11, "bytes": 300},
                   tasks={"per_host": {"algo-1": {"completed": 10, "failed": 0, "cores": 2}}})
    return {"lines": lines, "goal": scale.GOAL, "image": "img", "runs": {"two_hosts": run},
            "data": {"customers": 1, "products": 1, "files": 1, "bytes": 2**20, "seed": 0}}


def test_report_rows_say_met_not_met_or_not_measured():
    text, rows = report_scale.scale_section(_doc(40_000_000, True))
    assert rows[0][-1] == "**met**" and "1234 s" in rows[0][1] and "algo-1: 10 done" in text
    text, rows = report_scale.scale_section(_doc(40_000_000, False))
    assert rows[0][-1] == "**not met**" and "OOM-killed: algo-1" in rows[0][2] and "the JVM died" in text
    _, rows = report_scale.scale_section(_doc(2_000_000, True))
    assert rows[0][-1] == "not measured" and "2,000,000 lines" in rows[0][1]
    text, rows = report_scale.scale_section(None)
    assert rows == [] and "make bench-scale" in text


def test_processes_are_told_apart_by_command_line(tmp_path):
    java = "/usr/lib/jvm/java-17/bin/java -cp /x -Xmx921M "
    assert dockerkit.role_of(java + "org.apache.spark.executor.CoarseGrainedExecutorBackend --driver-url x") \
        == "executor JVM"
    assert dockerkit.role_of(java + "org.apache.spark.deploy.SparkSubmit pyspark-shell") == "driver JVM"
    assert dockerkit.role_of(java + "org.apache.spark.deploy.master.Master --host algo-1") == "master JVM"
    assert dockerkit.role_of(java + "org.apache.spark.deploy.worker.Worker --host algo-1") == "worker JVM"
    assert dockerkit.role_of("/opt/venv/bin/python -m pyspark.daemon") == "Python workers"
    assert dockerkit.role_of("/opt/venv/bin/python /opt/venv/bin/train") == "Python driver"
    assert dockerkit.role_of("/usr/bin/tini -- serve") == "other"
    # a cgroup's process list: this test's own process (a real /proc entry) and one that has exited
    import os
    (tmp_path / "cgroup.procs").write_text(f"{os.getpid()}\n999999999\n")
    rss = dockerkit.process_rss(tmp_path)
    assert list(rss) == [dockerkit.role_of(open(f"/proc/{os.getpid()}/cmdline").read().replace("\0", " "))]
    assert 10 * 2**20 < sum(rss.values()) < 8 * 2**30


def test_report_lists_memory_by_process():
    doc = _doc(40_000_000, False)
    doc["runs"]["two_hosts"]["memory"]["algo-1"] = {
        **doc["runs"]["two_hosts"]["memory"]["algo-1"],
        "process_peak_rss_mb": {"driver JVM": 900, "executor JVM": 1200, "Python driver": 400},
        "rss_at_anon_peak_mb": {"driver JVM": 850, "executor JVM": 1200}}
    text, _ = report_scale.scale_section(doc)
    assert "- 2 hosts (algo-1 + algo-2), algo-1: executor JVM 1,200 [1,200], driver JVM 900 [850], " \
           "Python driver 400" in text
    assert "algo-2: " not in text.split("Resident memory by process")[1].split("```")[0]


def test_runs_not_redone_are_kept_from_the_last_result_of_the_same_size(tmp_path):
    import json
    last = tmp_path / "scale.json"
    assert scale.kept_runs(last, 40_000_000, ["one_host"]) == {}  # no file yet
    last.write_text(json.dumps({"lines": 40_000_000, "runs": {"two_hosts": {"wall_seconds": 957},
                                                              "one_host": {"wall_seconds": 425}}}))
    assert scale.kept_runs(last, 40_000_000, ["one_host"]) == {"two_hosts": {"wall_seconds": 957}}
    assert scale.kept_runs(last, 40_000_000, ["two_hosts", "one_host"]) == {}
    assert scale.kept_runs(last, 5_000_000, ["one_host"]) == {}  # another size: nothing carries over
    last.write_text("{not json")
    assert scale.kept_runs(last, 40_000_000, ["one_host"]) == {}


def test_runs_from_different_builds_are_named_in_the_report():
    from benchmarks import common
    doc = _doc(40_000_000, True)
    doc["runs"]["one_host"] = {**doc["runs"]["two_hosts"], "image": "img:b", "commit": "bbb"}
    doc["runs"]["two_hosts"] = {**doc["runs"]["two_hosts"], "image": "img:a"}
    text, _ = report_scale.scale_section(doc)
    assert "2 hosts (algo-1 + algo-2): img:a from an unrecorded commit; 1 host (algo-1): img:b from bbb" in text
    doc["runs"]["two_hosts"].update(image="img:b", commit="bbb")
    assert "different builds" not in report_scale.scale_section(doc)[0]
    head = common.git_commit()  # this checkout is a git clone (CI too)
    assert head.split("+")[0].isalnum() and 7 <= len(head.split("+")[0]) <= 12
