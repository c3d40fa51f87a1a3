"""RESULTS.md says which commit each figure measured (benchmarks/report_provenance.py), and marks the ones
that cannot say: results written without a commit, or from a commit this checkout does not contain."""
from __future__ import annotations

import hashlib
import json
import subprocess

from benchmarks import common
from benchmarks import report_provenance as prov


def test_results_record_the_commit_they_measured(tmp_path):
    head = common.git_commit()
    assert head  # the tests run in a git checkout (CI clones it)
    doc = json.loads(common.write_result(tmp_path, "x", {"value": 1}).read_text())
    assert doc["commit"] == head and doc["value"] == 1
    own = json.loads(common.write_result(tmp_path, "y", {"commit": "abc1234"}).read_text())
    assert own["commit"] == "abc1234"  # a benchmark that names the commit it measured (an image's) keeps it


def test_goal_rows_and_the_table_name_each_source_and_its_age():
    head = common.git_commit().split("+")[0]
    rows = [["goal a", "1", "", "met"], ["goal b", "2", "", "not met"]]
    assert prov.tag(rows, {"name": "serve_load", "commit": head}) == [
        [*rows[0], f"serve_load.json @ `{head}`"], [*rows[1], f"serve_load.json @ `{head}`"]]
    assert prov.tag(rows[:1], {"name": "quality"})[0][-1] == "quality.json, commit not recorded (stale)"
    assert prov.tag(rows[:1], None)[0][-1] == "–"
    assert prov.age({"commit": head}) == f"commit `{head}` (this checkout)"
    assert prov.age({"commit": head + "+changes"}) == f"commit `{head}` with uncommitted changes (this checkout)"
    assert "stale" in prov.age({})
    assert "not in this checkout's history" in prov.age({"commit": "0000000"})
    text = prov.section([{"name": "quality", "created": "2026-01-01T00:00:00Z"}, None,
                         {"name": "serve_load", "created": "2026-01-02T00:00:00Z", "commit": head}])
    assert text.startswith("## Provenance") and "1 of 2 did not record a commit" in text
    assert "whose code on their path has changed" not in text
    assert "| `quality.json` | 2026-01-01T00:00:00Z | commit not recorded" in text
    assert f"| `serve_load.json` | 2026-01-02T00:00:00Z | commit `{head}` (this checkout) |" in text
    assert prov.section([None]) == ""


def test_an_older_commit_is_counted_behind_head(tmp_path):
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    for i in range(3):
        (tmp_path / "f").write_text(str(i))
        git("add", "f")
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", f"c{i}")
    first = git("rev-parse", "--short", "HEAD~2")
    assert prov.commits_behind(first, tmp_path) == 2
    assert prov.commits_behind(first + "+changes", tmp_path) == 2
    assert prov.commits_behind(git("rev-parse", "--short", "HEAD"), tmp_path) == 0
    assert prov.commits_behind("0000000", tmp_path) is None
    (tmp_path / "other").write_text("x")
    git("add", "other")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c3")
    last = git("rev-parse", "--short", "HEAD~1")  # `f` is as it was there; `other` came after
    assert prov.changed_since(last, ["f"], tmp_path) == []
    assert prov.changed_since(last, ["other"], tmp_path) == ["other"]
    assert prov.changed_since(first, ["f", "other"], tmp_path) == ["f", "other"]
    assert prov.changed_since("0000000", ["f"], tmp_path) is None


def test_bench_quality_reuses_a_finished_run_only_at_the_same_commit(tmp_path):
    from benchmarks.quality_runs import finished_runs, run_key

    csv = b"InvoiceNo,StockCode\n1,A\n"
    digests = {"time": hashlib.sha256(csv).hexdigest()}
    hp = {"seed": 0, "als_rank": 8}
    for name, commit in (("old", "1111111"), ("now", "2222222")):
        base = tmp_path / name
        (base / "input" / "data" / "training").mkdir(parents=True)
        (base / "input" / "data" / "training" / "train.csv").write_bytes(csv)
        (base / "model").mkdir()
        (base / "model" / "metadata.json").write_text(json.dumps({"hyperparameters": hp}))
        (base / "run.json").write_text(json.dumps({"wall_seconds": 1.0, "commit": commit}))
    key = run_key("time", 0, hp)
    assert finished_runs(tmp_path, digests, "2222222") == {key: tmp_path / "now"}
    assert finished_runs(tmp_path, digests, "1111111") == {key: tmp_path / "old"}
    assert finished_runs(tmp_path, digests, "3333333") == {}  # another commit: nothing reused
    assert finished_runs(tmp_path, digests, "2222222+changes") == {}  # uncommitted code: nothing reused


def test_a_file_merging_runs_of_several_commits_carries_the_oldest():
    """train_speed.json keeps sizes from earlier partial runs: its commit is the oldest size's, so a partial
    run never makes older sizes look current; an unknown commit among them makes it unrecorded (stale)."""
    head = common.git_commit().split("+")[0]
    parent = subprocess.run(["git", "-C", str(common.REPO), "rev-parse", "--short", "HEAD~1"],
                            capture_output=True, text=True).stdout.strip()
    assert common.oldest_commit([head, head]) == head
    if parent:  # a clone with history (CI's is full; a depth-1 clone has no parent to compare with)
        assert common.oldest_commit([head, parent, head]) == parent
    assert common.oldest_commit([head, ""]) == "" and common.oldest_commit([head, None]) == ""
    assert common.oldest_commit(["0000000"]) == ""
    assert common.oldest_commit([]) == ""
