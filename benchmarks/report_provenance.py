"""Where each figure in RESULTS.md comes from: its results file, when it was written, and from which commit.

A goal row is a claim about the code at some commit. Results written before the benchmarks recorded their
commit cannot say which code they measured, and results from an older commit no longer describe this
checkout when code on their path (PATHS) changed since: both are marked stale, in the Goals table (its
`source` column) and in a provenance table, so a reader can tell a current figure from a stale one
without reading the JSON.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from . import common
from .report_format import table

NOT_RECORDED = "commit not recorded"
# The code each results file measured (besides benchmarks/common.py): a change there since its commit makes
# the file stale. The image-based ones measured everything the image carries.
_CORE = ["alsreco/core", "requirements.txt"]
PATHS: dict[str, list[str]] = {
    "quality": [*_CORE, "alsreco/train", "benchmarks/quality.py", "benchmarks/quality_data.py",
                "benchmarks/quality_runs.py", "benchmarks/quality_trends.py", "benchmarks/datagen.py"],
    "tune_scale": [*_CORE, "alsreco/train", "benchmarks/tune_scale.py", "benchmarks/datagen.py"],
    "train_speed": [*_CORE, "alsreco/train", "benchmarks/train_speed.py", "benchmarks/pyspark_pipeline.py",
                    "benchmarks/datagen.py"],
    "scale": ["alsreco", "Dockerfile", "docker", "requirements.txt", "benchmarks/scale.py", "benchmarks/dockerkit.py"],
    "batch_scoring": [*_CORE, "alsreco/train/batch.py", "benchmarks/batch_scoring.py"],
    "serve_load": [*_CORE, "alsreco/serve", "benchmarks/serve_load.py", "benchmarks/serve_goals.py",
                   "benchmarks/serve_mixed.py"],
    "serve_profile": [*_CORE, "alsreco/serve", "benchmarks/serve_profile.py"],
    "serve_startup": ["alsreco", "Dockerfile", "docker", "requirements.txt", "benchmarks/serve_startup.py",
                      "benchmarks/dockerkit.py"],
    "serve_mme": ["alsreco", "Dockerfile", "docker", "requirements.txt", "benchmarks/serve_mme.py",
                  "benchmarks/dockerkit.py"],
    "catalog": [*_CORE, "alsreco/serve", "alsreco/train", "benchmarks/catalog.py"],
    "events_live": ["api", "alsreco/serve", *_CORE, "benchmarks/events_live.py"],
}


def _head() -> str:
    return common._first_line(["git", "-C", str(common.REPO), "rev-parse", "--short", "HEAD"])


def commits_behind(commit: str, repo: Path = common.REPO) -> int | None:
    """How many commits HEAD is ahead of `commit` (without "+changes"); None when git cannot tell."""
    base = commit.split("+", 1)[0]
    out = common._first_line(["git", "-C", str(repo), "rev-list", "--count", f"{base}..HEAD"])
    return int(out) if out.isdigit() else None


def changed_since(commit: str, paths: list[str], repo: Path = common.REPO) -> list[str] | None:
    """The files under `paths` (and benchmarks/common.py) that differ between `commit` and HEAD; None when
    git cannot tell (the commit is not in this clone)."""
    base = commit.split("+", 1)[0]
    out = subprocess.run(["git", "-C", str(repo), "diff", "--name-only", base, "HEAD", "--", *paths,
                          "benchmarks/common.py"], capture_output=True, text=True, timeout=30)
    return out.stdout.split() if out.returncode == 0 else None


def age(doc: dict[str, Any]) -> str:
    """`commit abc1234` (+ how far behind HEAD), or that the run did not record one (stale)."""
    commit = doc.get("commit")
    if not commit:
        return f"{NOT_RECORDED} (stale: re-run to attribute it)"
    behind = commits_behind(commit)
    base, edited = commit.split("+", 1)[0], " with uncommitted changes" if "+" in commit else ""
    if behind == 0:
        return f"commit `{base}`{edited} (this checkout)"
    if behind is None:
        return f"commit `{base}`{edited} (not in this checkout's history)"
    ago = f"commit `{base}`{edited}, {behind} commit{'s' if behind != 1 else ''} before this checkout"
    changed = changed_since(commit, PATHS.get(doc.get("name", ""), ["."]))
    if changed is None:
        return ago
    if not changed:
        return ago + ": nothing on its path changed since (current)"
    shown = ", ".join(f"`{f}`" for f in changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    files = f"{len(changed)} file{'s' if len(changed) != 1 else ''}"
    return ago + f": **stale**, {files} on its path changed since ({shown})"


def stale(doc: dict[str, Any]) -> bool:
    """No commit recorded, or code on the file's path changed since its commit."""
    commit = doc.get("commit")
    if not commit:
        return True
    changed = changed_since(commit, PATHS.get(doc.get("name", ""), ["."]))
    return changed is None or bool(changed)


def tag(rows: list[list[Any]], doc: dict[str, Any] | None) -> list[list[Any]]:
    """Goal rows with a fifth column naming the results file, its commit and whether it is stale."""
    if doc is None or not rows:
        return [[*r, "–"] for r in rows]
    commit, name = doc.get("commit"), doc.get("name", "?")
    where = f"{name}.json @ `{commit}`" if commit else f"{name}.json, {NOT_RECORDED}"
    return [[*r, where + (" (stale)" if stale(doc) else "")] for r in rows]


def section(docs: list[dict[str, Any] | None]) -> str:
    """The provenance table of every results file the report read."""
    rows = [[f"`{d.get('name', '?')}.json`", d.get("created", "?"), age(d)] for d in docs if d]
    if not rows:
        return ""
    head = _head()
    unrecorded = sum(1 for d in docs if d and not d.get("commit"))
    old = sum(1 for d in docs if d and d.get("commit") and stale(d))
    return ("## Provenance\n\nEvery results file behind this page, when it was written and from which commit"
            + (f" (this page was generated at `{head}`)" if head else "") + ". "
            + (f"{unrecorded} of {len(rows)} did not record a commit: their figures cannot be tied to the code "
               "they measured. " if unrecorded else "Every file recorded its commit. ")
            + (f"{old} recorded a commit whose code on their path has changed since. " if old else "")
            + "Stale figures are marked `(stale)` in the Goals table's `source` column: they describe older "
            "code until their benchmark is re-run.\n\n"
            + table(["results", "written (UTC)", "measured at"], rows) + "\n")
