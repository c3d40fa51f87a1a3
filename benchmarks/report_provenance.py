"""Where each figure in RESULTS.md comes from: its results file, when it was written, and from which commit.

A goal row is a claim about the code at some commit. Results written before the benchmarks recorded their
commit cannot say which code they measured, and results from an older commit may no longer describe this
checkout: both are marked, in the Goals table (a `source` column) and in a provenance table, so a reader
can tell a current figure from a stale one without reading the JSON.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import common

NOT_RECORDED = "commit not recorded"


def _head() -> str:
    return common._first_line(["git", "-C", str(common.REPO), "rev-parse", "--short", "HEAD"])


def commits_behind(commit: str, repo: Path = common.REPO) -> int | None:
    """How many commits HEAD is ahead of `commit` (without "+changes"); None when git cannot tell."""
    base = commit.split("+", 1)[0]
    out = common._first_line(["git", "-C", str(repo), "rev-list", "--count", f"{base}..HEAD"])
    return int(out) if out.isdigit() else None


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
    return f"commit `{base}`{edited}, {behind} commit{'s' if behind != 1 else ''} before this checkout"


def tag(rows: list[list[Any]], doc: dict[str, Any] | None) -> list[list[Any]]:
    """Goal rows with a fifth column naming the results file and its commit."""
    if doc is None:
        return [[*r, "–"] for r in rows]
    commit = doc.get("commit")
    where = f"{doc.get('name', '?')}.json @ `{commit}`" if commit else f"{doc.get('name', '?')}.json, {NOT_RECORDED}"
    return [[*r, where] for r in rows]


def section(docs: list[dict[str, Any] | None], table) -> str:
    """The provenance table of every results file the report read (`table` is report._table)."""
    rows = [[f"`{d.get('name', '?')}.json`", d.get("created", "?"), age(d)] for d in docs if d]
    if not rows:
        return ""
    head = _head()
    stale = sum(1 for d in docs if d and not d.get("commit"))
    return ("## Provenance\n\nEvery results file behind this page, when it was written and from which commit"
            + (f" (this page was generated at `{head}`)" if head else "") + ". "
            + (f"{stale} of {len(rows)} did not record a commit: their figures cannot be tied to the code they "
               "measured and are marked in the Goals table's `source` column; re-running their benchmark "
               "records it. " if stale else "Every file recorded its commit. ")
            + "A figure from an older commit describes that commit's code.\n\n"
            + table(["results", "written (UTC)", "measured at"], rows) + "\n")
