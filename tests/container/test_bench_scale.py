"""`make bench-scale` at smoke size: the session's image on 2 hosts and on 1 (--memory 3g each), so the
benchmark cannot rot. Checked: both runs are recorded with wall times and memory peaks (by process too), the
2-host run wrote a model and recommendations with algo-2's executor alone (3 GiB leaders only drive),
and nothing of the run is left on the engine."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.dockerkit import docker
from benchmarks.scale import PREFIX

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 600  # a hang guard; the smoke run takes about 2 minutes


def test_bench_scale_smoke_records_both_runs(image, tmp_path):
    results, work = tmp_path / "results", tmp_path / "work"
    log = tmp_path / "scale.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.scale", "--smoke", "--results", str(results),
                                 "--work", str(work)], cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "ALSRECO_BENCH_IMAGE": image, "PYTHONUNBUFFERED": "1"})
        try:
            code = proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # it removes its containers and network on SIGTERM
            code = proc.wait(timeout=120)
    text = log.read_text(errors="replace")
    assert code == 0, text[-4000:]
    doc = json.loads((results / "scale-smoke.json").read_text())
    assert doc["smoke"] is True and doc["image"] == image and doc["lines"] > 0
    runs = doc["runs"]
    assert set(runs) == {"two_hosts", "one_host"}
    for label, hosts in (("two_hosts", ["algo-1", "algo-2"]), ("one_host", ["algo-1"])):
        r = runs[label]
        assert r["hosts"] == hosts and r["wall_seconds"] > 0, r
        assert set(r["memory"]) == set(hosts), r["memory"]
        assert all(0 < m["peak_working_set_mb"] <= 3 * 1024 and m["samples"] > 0 for m in r["memory"].values()), r
        assert len(r["loadavg_before"]) == 3 and len(r["loadavg_after"]) == 3
    two = runs["two_hosts"]
    assert two["succeeded"] and two["exit_codes"] == {"algo-1": 0, "algo-2": 0}, two.get("log_tail")
    assert two["model_written"] and two["recommendations"]["lines"] > 1
    # 3 GiB hosts: the leader only drives (cluster/sizing.LEADER_EXECUTOR_MIN_BYTES), algo-2 computes
    assert set(two["tasks"]["per_host"]) == {"algo-2"} and two["tasks"]["completed"] > 0, two["tasks"]
    roles = {h: set(m["process_peak_rss_mb"]) for h, m in two["memory"].items()}
    assert {"driver JVM", "master JVM", "Python driver"} <= roles["algo-1"], roles
    assert not roles["algo-1"] & {"executor JVM", "worker JVM"}, roles
    assert {"executor JVM", "worker JVM"} <= roles["algo-2"] and "driver JVM" not in roles["algo-2"], roles
    assert "driver JVM" in runs["one_host"]["memory"]["algo-1"]["process_peak_rss_mb"]
    assert two["marks"]["model_written"] > 0
    # The image was given: not rebuilt, not removed; this run's containers and networks are gone.
    assert "building" not in text
    docker("image", "inspect", image)
    left = docker("ps", "-a", "--filter", f"name={PREFIX}", "--format", "{{.Names}}").stdout.split()
    nets = docker("network", "ls", "--filter", f"name={PREFIX}", "--format", "{{.Name}}").stdout.split()
    mine = [n for n in left + nets if any(n.endswith(run) for run in _run_ids(text))]
    assert not mine, mine


def _run_ids(text: str) -> set[str]:
    """The per-run suffixes of this run's networks, from its log line 'on network <prefix>-<id>'."""
    return {line.split(" on network ", 1)[1].split()[0].rsplit("-", 1)[1]
            for line in text.splitlines() if " on network " in line}
