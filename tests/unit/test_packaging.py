"""`pip install alsreco` must bring what `train` and `serve` import, in ranges that hold the pins
the image and the tests use (requirements.txt)."""
from __future__ import annotations

from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project.get("dependencies", [])]
    return {r.name.lower(): r for r in reqs}


def _pinned() -> dict[str, str]:
    out = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[name.strip().lower()] = version.strip()
    return out


def test_every_runtime_pin_is_a_declared_dependency_in_range():
    declared, pinned = _declared(), _pinned()
    assert pinned, "requirements.txt lists no runtime pins"
    missing = sorted(set(pinned) - set(declared))
    assert not missing, f"pyproject.toml [project].dependencies lacks {missing}"
    outside = {n: (v, str(declared[n].specifier)) for n, v in pinned.items()
               if not declared[n].specifier.contains(v, prereleases=True)}
    assert not outside, f"pins outside the declared ranges: {outside}"


def test_the_runtime_imports_are_declared():
    """Every third-party package the two towers import at run time is declared."""
    import ast

    stdlib_like = {"__future__", "alsreco", "pyspark", "py4j"}
    imported: set[str] = set()
    for path in (REPO / "alsreco").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    import sys

    third_party = {m for m in imported if m not in sys.stdlib_module_names and m not in stdlib_like}
    third_party.discard("yaml")  # optional: /openapi.json only, with a clear 404 without it
    declared = set(_declared())
    assert third_party <= declared, f"imported but not declared: {sorted(third_party - declared)}"
    assert {"pyspark", "py4j"} <= declared
