"""`make docs`: the documentation site (MkDocs, strict), with benchmarks/RESULTS.md as its results page.

    .venv/bin/python scripts/build_docs.py [--out site]

MkDocs reads only its `docs_dir`, and the benchmark figures live in one file outside it. So the pages are
staged into build/docs-src: docs/* as they are, plus results.md (benchmarks/RESULTS.md with its plots,
and its links to files of the repository turned into plain text). Then `mkdocs build --strict` runs over
the stage: a broken link, a missing anchor or a page left out of the navigation fails the build.
Nothing generated is committed (build/ and site/ are ignored).
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def results_page(text: str) -> str:
    """RESULTS.md as a page beside the others: its plots in plots/, repository links as text."""
    def sub(m: re.Match) -> str:
        label, target = m.group(1), m.group(2)
        if re.match(r"^(https?:|#|plots/)", target):
            return m.group(0)
        return label if label.startswith("`") else f"{label} (`{target}`)"
    return LINK.sub(sub, text)


def stage(target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(REPO / "docs", target)
    results = REPO / "benchmarks" / "RESULTS.md"
    (target / "results.md").write_text(results_page(results.read_text(encoding="utf-8")), encoding="utf-8")
    if (REPO / "benchmarks" / "plots").is_dir():
        shutil.copytree(REPO / "benchmarks" / "plots", target / "plots")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "site")
    args = ap.parse_args(argv)
    src = stage(REPO / "build" / "docs-src")
    config = REPO / "build" / "mkdocs.yml"
    text = (REPO / "mkdocs.yml").read_text()
    text = re.sub(r"(?m)^docs_dir: .*$", f"docs_dir: {src}", text)
    text = re.sub(r"(?m)^site_dir: .*$", f"site_dir: {args.out.resolve()}", text)
    config.write_text(text)
    mkdocs = Path(sys.executable).parent / "mkdocs"
    return subprocess.call([str(mkdocs), "build", "--strict", "-f", str(config)])


if __name__ == "__main__":
    raise SystemExit(main())
