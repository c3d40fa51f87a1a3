"""What every RESULTS.md section shares: reading a results file, number and status formatting, Markdown
tables and the plotting backend. Imported by benchmarks/report.py and its report_* sections (no section
imports another)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load(results: Path, name: str) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def ok(met: bool | None, measured: Any = True) -> str:
    if measured is None:
        return "not measured"
    return "–" if met is None else ("**met**" if met else "**not met**")


def table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
