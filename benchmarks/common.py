"""Shared benchmark plumbing: machine description, running the real `train` entry point (tracked by
benchmarks/procs.py), /opt/ml trees, and result files.

Every result file is `<results>/<name>.json` with `machine` (cores, memory, versions, load)
and `created` next to the module's own payload; `benchmarks.report` turns them into
RESULTS.md and PNG plots.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata as _md
from pathlib import Path
from typing import Any, Iterable, Mapping

from .procs import MB, PAGE, loadavg, run_tracked  # noqa: F401 - MB, PAGE, loadavg used as common.*

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CSV = REPO / "local_test" / "test_dir" / "input" / "data" / "training" / "online-retail-sample.csv"
RESULTS_DIR = REPO / "benchmarks" / "results"
WORK_DIR = REPO / "benchmarks" / "work"  # generated data and /opt/ml trees (git-ignored)
BIN = Path(sys.executable).parent
PACKAGES = ("alsreco", "numpy", "pandas", "pyarrow", "pyspark", "scipy", "implicit", "flask", "gunicorn",
            "matplotlib")


# ----------------------------------------------------------------------------- CLI
def arg_parser(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    ap.add_argument("--results", type=Path, default=Path(os.environ.get("BENCH_RESULTS_DIR") or RESULTS_DIR),
                    help="where <name>.json goes (env BENCH_RESULTS_DIR; default benchmarks/results)")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("BENCH_WORK_DIR") or WORK_DIR),
                    help="scratch space for data and /opt/ml trees (env BENCH_WORK_DIR)")
    return ap


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------- machine
def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        text = (out.stdout + out.stderr).strip()
        return text.splitlines()[0] if text else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def git_commit() -> str:
    """This checkout's short commit, "+changes" when its tracked files differ from it ("" outside git); the
    benchmarks' own outputs (results, RESULTS.md, plots) do not count."""
    head = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    if not head or " " in head:  # not a repository (git's message instead of a hash)
        return ""
    changed = _first_line(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "--", ".",
                           ":!benchmarks/results", ":!benchmarks/RESULTS.md", ":!benchmarks/plots"])
    return head + ("+changes" if changed else "")


def oldest_commit(commits: list[str | None]) -> str:
    """The commit furthest behind HEAD among `commits` (what a file merging runs of several commits measured,
    at best); "" (not recorded: stale) when any is unknown or git cannot order them."""
    if not commits or not all(commits):
        return ""
    behind = []
    for c in dict.fromkeys(commits):
        n = _first_line(["git", "-C", str(REPO), "rev-list", "--count", f"{c.split('+', 1)[0]}..HEAD"])
        if not n.isdigit():
            return ""
        behind.append((int(n), "+" in c, c))
    return max(behind)[2]


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def machine_info() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    os_name = ""
    if Path("/etc/os-release").is_file():
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = _md.version(pkg)
        except _md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)), "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1), "os": os_name, "kernel": platform.release(),
        "python": platform.python_version(), "java": _first_line(["java", "-version"]),
        "nginx": _first_line([shutil.which("nginx") or "/usr/sbin/nginx", "-v"]),
        "wrk": _first_line(["wrk", "--version"]) if shutil.which("wrk") else None,
        "packages": versions, "loadavg": loadavg(),
    }


# ----------------------------------------------------------------------------- train
def entry_point(name: str) -> list[str]:
    """The installed console script (`train` / `serve`) of this venv, else `python -m`."""
    script = BIN / name
    module = {"train": "alsreco.train.main", "serve": "alsreco.serve"}[name]
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


def make_opt_ml(base: Path, data: Iterable[Path] | Mapping[str, bytes], hyperparameters: Mapping[str, Any]) -> Path:
    """A fresh /opt/ml tree: files (symlinked, or written from bytes) in the `training` channel."""
    base = Path(base)
    if base.exists():
        shutil.rmtree(base)
    channel = base / "input" / "data" / "training"
    config = base / "input" / "config"
    channel.mkdir(parents=True)
    config.mkdir(parents=True)
    if isinstance(data, Mapping):
        for name, content in data.items():
            (channel / name).write_bytes(content)
    else:
        for src in data:
            os.symlink(Path(src).resolve(), channel / Path(src).name)
    (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) if isinstance(v, list) else str(v)
                                                            for k, v in hyperparameters.items()}))
    (config / "inputdataconfig.json").write_text(json.dumps({"training": {"TrainingInputMode": "File"}}))
    return base


ALS_FIT = re.compile(r"ALS fit: (\d+) customers x (\d+) products, (\d+) ratings, rank (\d+), "
                     r"(\d+) iterations(?:, (\d+) fits \([^)]*\))? in ([0-9.]+)s")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


MARKS = (  # log line -> label; times are seconds since the process started
    ("first_log", re.compile(r"INFO alsreco\.train: hyperparameters")),
    ("data_loaded", re.compile(r"INFO alsreco\.train: \d+ customers, \d+ products")),
    ("spark_ready", re.compile(r"INFO alsreco\.train\.spark\.session: spark ")),
    ("als_fit_done", re.compile(r"INFO alsreco\.train\.als: ALS fit: ")),
    ("model_written", re.compile(r"INFO alsreco\.train: model .* written")),
)


def parse_train_log(text: str, started_epoch: float | None = None) -> dict[str, Any]:
    """ALS fit lines (customers, products, ratings, rank, iterations, seconds) and, given the
    process start time, when each milestone was logged (seconds since process start; the
    last ALS fit for `als_fit_done`)."""
    fits = [{"customers": int(m[0]), "products": int(m[1]), "ratings": int(m[2]), "rank": int(m[3]),
             "iterations": int(m[4]), "fits": int(m[5] or 1), "seconds": float(m[6])} for m in ALS_FIT.findall(text)]
    out: dict[str, Any] = {"als_fits": fits}
    if started_epoch is None:
        return out
    marks: dict[str, float] = {}
    for line in text.splitlines():
        stamp = STAMP.match(line)
        if not stamp:
            continue
        t = _dt.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - started_epoch
        for label, rx in MARKS:
            if rx.search(line) and (label == "als_fit_done" or label not in marks):
                marks[label] = round(t, 2)
    out["marks"] = marks
    return out


def run_train(base: Path, env: Mapping[str, str] | None = None, timeout: float = 7200) -> dict[str, Any]:
    """The real `train` entry point on the /opt/ml tree at `base`; raises with the log tail on failure."""
    log = Path(base) / "train.log"
    result = run_tracked(entry_point("train"), {"SAGEMAKER_BASE_DIR": str(base), **(env or {})}, log, timeout)
    text = log.read_text(errors="replace")
    if result["exit_code"] != 0:
        tail = "\n".join(text.splitlines()[-30:])
        raise RuntimeError(f"train failed with exit code {result['exit_code']} in {base}:\n{tail}")
    result.update(parse_train_log(text, result["started_epoch"]))
    meta = json.loads((Path(base) / "model" / "metadata.json").read_text())
    result["training_seconds"] = meta.get("training_seconds")
    result["data_path"] = meta.get("data", {}).get("data_path")
    result["metadata_metrics"] = meta.get("metrics")
    return result


def hp_defaults() -> dict[str, Any]:
    """The product's defaults, read now (they live in alsreco/core/hyperparameters.py SCHEMA) with the
    shipped als_spec.json (ALSRECO_SPEC_FILE, else the source tree's) layered on top, exactly as
    `train` resolves them."""
    from alsreco.core import hyperparameters
    from alsreco.core.paths import read_json_object
    from alsreco.core.settings import Settings
    spec = Settings.from_env().spec_file or hyperparameters.source_spec_file()
    layers = [(str(spec), read_json_object(spec))] if spec.is_file() else []
    return hyperparameters.merge(layers)


MODEL_KEYS = ("ranking_type", "recency_half_life_days", "implicit_prefs", "als_rank", "max_itter", "reg_param",
              "alpha", "nonnegative", "num_blocks", "als_fits")


def model_settings(hp: Mapping[str, Any]) -> dict[str, Any]:
    return {k: hp[k] for k in MODEL_KEYS if k in hp}


# ----------------------------------------------------------------------------- results
def write_result(results_dir: Path, name: str, payload: Mapping[str, Any]) -> Path:
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    doc = {"name": name, "created": utc_now(),
           "machine": machine_info(), "commit": git_commit(), **payload}  # a payload's own commit wins
    path = results_dir / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)
    say(f"wrote {path}")
    return path


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    return str(x)


def mean_std(values: list[float]) -> dict[str, float]:
    import numpy as np
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()) if len(a) else float("nan"),
            "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
            "min": float(a.min()) if len(a) else float("nan"),
            "max": float(a.max()) if len(a) else float("nan"), "n": int(len(a))}


def copy_model(src: Path, dest: Path, version: str, link: bool = False) -> Path:
    """A copy of the model directory `src` at `dest` whose metadata.json says `model_version` = `version`
    (the many models of a multi-model endpoint). `link`: hard-link the array files instead of copying
    them (cheap, but the copies then share their pages: not for memory measurements)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for f in Path(src).iterdir():
        if f.is_file() and f.name != "metadata.json":
            os.link(f, dest / f.name) if link else shutil.copyfile(f, dest / f.name)
    meta = json.loads((Path(src) / "metadata.json").read_text())
    meta["model_version"] = version
    (dest / "metadata.json").write_text(json.dumps(meta))
    return dest
