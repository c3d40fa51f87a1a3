"""Training at scale (issue 12): the real image on two 3 GB hosts, and on one, with a generated dataset.

    python -m benchmarks.scale [--smoke] [--runs two_hosts,one_host]
                               (env BENCH_SCALE_LINES, default 40,000,000; BENCH_SCALE_RUNS; ALSRECO_BENCH_IMAGE)

- The image is built under a per-run tag (removed afterwards), or `ALSRECO_BENCH_IMAGE` is used as is.
- The data: the seeded power-law generator (benchmarks/datagen.py) at BENCH_SCALE_LINES lines with
  customers and products in bench-train's 10M proportions (lines/10 customers, lines/100 products,
  at most 100k products),
  written 1M lines a part as plain CSV under <work>/scale-<lines>/data (kept for the next run, never
  committed; the generator holds one part in memory at a time).
- Two runs, one after the other, with the defaults (evaluation on): (a) `algo-1` + `algo-2` as
  SageMaker runs `instance_count=2` (benchmarks/dockerkit.Hosts: a network of this run's own, a
  resourceconfig.json naming both, the data bind-mounted read-only at the same path in both, i.e.
  FullyReplicated), each container `--memory 3g --memory-swap 3g`; (b) `algo-1` alone, the same limit.
  `--runs` redoes some of them and keeps the others from the last result file of the same size.
- Recorded per run: wall time (first `docker run` to the last host's exit), exit codes, OOM kills,
  `output/failure` of each host, per-host peak memory (the container's memory cgroup, see
  dockerkit.MemorySampler, with resident memory by process role), whether the model and
  recommendations.csv were written (bytes, lines),
  the phase times of the leader's log, and the cluster's task counts (metadata.json `cluster`: the
  driver's status store, per executor).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import common, datagen, dockerkit
from .common import say

DEFAULT_LINES = 40_000_000
SMOKE_LINES = 20_000
PART_LINES = 1_000_000
MEMORY = "3g"
GOAL = {"lines": DEFAULT_LINES, "hosts": 2, "memory": MEMORY}  # issue 12's done-when: model + recommendations
RUNS = {"two_hosts": ("algo-1", "algo-2"), "one_host": ("algo-1",)}
PREFIX = "alsreco-bench-scale"
DATA_MOUNT = "/opt/ml/input/data/training"


# ----------------------------------------------------------------------------- data
MAX_PRODUCTS = 100_000  # a large retailer's catalogue; beyond it more lines mean more customers


def shape(lines: int) -> tuple[int, int]:
    """(customers, products) in bench-train's 10M proportions (1M customers, 100k products), the
    catalogue capped at MAX_PRODUCTS: 40M lines are 4M customers x 100k products, not 400k products
    (whose batch scoring and similar-products pass would dominate the run, ~16x the 10M set's)."""
    return max(100, lines // 10), max(50, min(MAX_PRODUCTS, lines // 100))


def dataset(work: Path, lines: int, seed: int = 0) -> tuple[Path, dict[str, Any]]:
    """The CSV parts (reused when an earlier run wrote the same size and seed)."""
    customers, products = shape(lines)
    root = work / f"scale-{lines}"
    data, manifest = root / "data", root / "data.json"
    want = {"lines": lines, "customers": customers, "products": products, "seed": seed, "part_lines": PART_LINES}
    if manifest.is_file() and {k: v for k, v in json.loads(manifest.read_text()).items() if k in want} == want:
        info = json.loads(manifest.read_text())
        say(f"data: reusing {data} ({info['files']} files, {info['bytes'] / common.MB:.0f} MB)")
        return data, {**info, "reused": True}
    shutil.rmtree(root, ignore_errors=True)
    started = time.monotonic()
    parts = datagen.generate_parts(lines, customers, products, PART_LINES, seed=seed)
    for i, table in enumerate(parts):
        datagen.write(table, data / f"part-{i:05d}.csv")
        say(f"data: part {i + 1} of {-(-lines // PART_LINES)} written")
    files = sorted(data.iterdir())
    info = {**want, "files": len(files), "bytes": sum(f.stat().st_size for f in files),
            "generate_seconds": round(time.monotonic() - started, 1)}
    manifest.write_text(json.dumps(info, indent=2))
    return data, {**info, "reused": False}


# ----------------------------------------------------------------------------- one run
def opt_ml(base: Path) -> Path:
    """An /opt/ml tree of one host: defaults (empty hyperparameters), a FullyReplicated `training`
    channel whose directory is the mount point of the shared data."""
    shutil.rmtree(base, ignore_errors=True)
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (base / "input" / "data" / "training").mkdir(parents=True)
    (config / "hyperparameters.json").write_text("{}")
    (config / "inputdataconfig.json").write_text(json.dumps(
        {"training": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}}))
    return base


def _epoch(stamp: str) -> float | None:
    """docker's RFC 3339 time (nanoseconds, Z) as epoch seconds."""
    if not stamp or stamp.startswith("0001"):
        return None
    head, _, frac = stamp.rstrip("Z").partition(".")
    return _dt.datetime.fromisoformat(head).replace(tzinfo=_dt.timezone.utc).timestamp() + float(f"0.{frac or 0}")


def _lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            n += chunk.count(b"\n")
    return n


def _tasks(cluster: dict[str, Any]) -> dict[str, Any]:
    per_host: dict[str, dict[str, int]] = {}
    for e in cluster.get("executors") or []:
        t = per_host.setdefault(e["host"], {"executors": 0, "cores": 0, "completed": 0, "failed": 0})
        t["executors"] += 1
        t["cores"] += e["cores"]
        t["completed"] += e["completed_tasks"]
        t["failed"] += e["failed_tasks"]
    return {"master": cluster.get("master"), "per_host": per_host,
            "completed": sum(t["completed"] for t in per_host.values()),
            "failed": sum(t["failed"] for t in per_host.values()), **({"error": cluster["executors_error"]}
                                                                      if "executors_error" in cluster else {})}


def outcome(leader: Path, log_text: str, started_epoch: float | None) -> dict[str, Any]:
    """What the leader wrote: model, recommendations, its metadata (phases, task counts)."""
    meta_path = leader / "model" / "metadata.json"
    recs = leader / "output" / "data" / "recommendations.csv"
    out: dict[str, Any] = {"model_written": meta_path.is_file(), **common.parse_train_log(log_text, started_epoch)}
    if out["model_written"]:
        meta = json.loads(meta_path.read_text())
        out["model_bytes"] = sum(f.stat().st_size for f in (leader / "model").rglob("*") if f.is_file())
        out["training_seconds"] = meta.get("training_seconds")
        out["data"] = {k: meta.get("data", {}).get(k) for k in ("data_path", "customers", "products", "ratings",
                                                                "rows_used", "recommendation_rows")}
        model = (meta.get("metrics") or {}).get("model") or {}
        out["ndcg_at_10"] = model.get("ndcg_at_10")
        out["tasks"] = _tasks(meta.get("cluster") or {})
    if recs.is_file():
        out["recommendations"] = {"bytes": recs.stat().st_size, "lines": _lines(recs)}
    return out


def run_hosts(image: str, work: Path, label: str, hosts: tuple[str, ...], data: Path,
              timeout: float) -> dict[str, Any]:
    bases = {h: opt_ml(work / label / h) for h in hosts}
    group = dockerkit.Hosts(image, bases, prefix=PREFIX, memory=MEMORY, memory_swap=MEMORY,
                            env={"ALSRECO_CLUSTER_TIMEOUT": "600"}, mounts=[f"{data.resolve()}:{DATA_MOUNT}:ro"])
    res: dict[str, Any] = {"hosts": list(hosts), "memory_limit": MEMORY, "loadavg_before": common.loadavg(),
                           "exit_codes": {}, "timed_out": False}
    samplers: dict[str, dockerkit.MemorySampler] = {}
    say(f"{label}: {len(hosts)} host(s) {group.names} on network {group.net}, --memory {MEMORY} each")
    started = time.monotonic()
    try:
        group.start()
        samplers = {h: dockerkit.MemorySampler(group.names[h], group.ids[h]).start() for h in hosts}
        for h in hosts:  # the leader first: the others follow it and exit after it
            left = max(10.0, timeout - (time.monotonic() - started))
            try:
                res["exit_codes"][h] = group.wait(h, timeout=left)
            except subprocess.TimeoutExpired:
                res["timed_out"] = True
                say(f"{label}: {h} still running after {timeout:.0f} s: stopped")
                break
        res["wall_seconds"] = round(time.monotonic() - started, 2)
        res["loadavg_after"] = common.loadavg()
        res["memory"] = {h: s.stop() for h, s in samplers.items()}
        states = {h: group.state(h) for h in hosts}
        res["oom_killed"] = {h: bool(s.get("OOMKilled")) for h, s in states.items()}
        res["host_seconds"] = {h: round(e - s, 2) for h in hosts
                               if (s := _epoch(states[h].get("StartedAt", ""))) and
                               (e := _epoch(states[h].get("FinishedAt", ""))) and e >= s}
        logs = {h: group.logs(h) for h in hosts}
        for h, text in logs.items():
            (work / label / f"{h}.log").write_text(text)
    finally:
        for s in samplers.values():
            s.stop()
        group.close()
    res["failure"] = {h: (b / "output" / "failure").read_text(errors="replace")[:2000]
                      for h, b in bases.items() if (b / "output" / "failure").is_file()}
    res.update(outcome(bases[hosts[0]], logs[hosts[0]], group.started.get(hosts[0])))
    res["succeeded"] = (not res["timed_out"] and all(c == 0 for c in res["exit_codes"].values())
                        and res["model_written"] and "recommendations" in res)
    if not res["succeeded"]:
        res["log_tail"] = logs[hosts[0]].splitlines()[-25:]
    peaks = ", ".join(f"{h} {m['peak_working_set_mb']:.0f} MB" for h, m in res["memory"].items())
    say(f"{label}: exit {res['exit_codes']} in {res['wall_seconds']:.0f} s, model written: {res['model_written']}, "
        f"peak working set {peaks}, tasks {res.get('tasks', {}).get('completed')}, load {res['loadavg_after']}")
    return res


def kept_runs(previous: Path, lines: int, wanted: list[str]) -> dict[str, Any]:
    """The runs not redone this time, from the last result file when it measured the same size
    (each keeps its own load and image fields)."""
    try:
        last = json.loads(previous.read_text())
    except (OSError, ValueError):
        return {}
    if last.get("lines") != lines:
        return {}
    return {label: run for label, run in (last.get("runs") or {}).items() if label in RUNS and label not in wanted}


# ----------------------------------------------------------------------------- main
def _interrupt(signum, frame):  # SIGTERM like ctrl-C: the `finally` blocks remove containers, network, tag
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = common.arg_parser(__doc__)
    ap.add_argument("--lines", type=int, default=int(os.environ.get("BENCH_SCALE_LINES") or DEFAULT_LINES),
                    help=f"purchase lines to generate (env BENCH_SCALE_LINES; default {DEFAULT_LINES:,})")
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("BENCH_SCALE_TIMEOUT") or 4 * 3600),
                    help="seconds each run may take before it is stopped (env BENCH_SCALE_TIMEOUT)")
    ap.add_argument("--runs", default=os.environ.get("BENCH_SCALE_RUNS") or ",".join(RUNS),
                    help=f"which runs, comma-separated, of {list(RUNS)} (env BENCH_SCALE_RUNS; default all); "
                         "the others are kept from the last result at the same size")
    args = ap.parse_args(argv)
    lines = SMOKE_LINES if args.smoke else args.lines
    wanted = [r.strip() for r in args.runs.split(",") if r.strip()]
    if not wanted or any(r not in RUNS for r in wanted):
        ap.error(f"--runs: choose from {list(RUNS)}, not {args.runs!r}")
    problem = dockerkit.engine_problem()
    if problem:
        ap.error(f"bench-scale needs a Docker engine: {problem}")
    signal.signal(signal.SIGTERM, _interrupt)
    work = args.work.resolve()
    name = "scale-smoke" if args.smoke else "scale"
    image = os.environ.get("ALSRECO_BENCH_IMAGE") or ""
    built = not image
    payload: dict[str, Any] = {"smoke": args.smoke, "lines": lines, "goal": GOAL, "loadavg_start": common.loadavg(),
                               "hyperparameters": "defaults (evaluation on)",
                               "runs": kept_runs(args.results / f"{name}.json", lines, wanted)}
    started = time.monotonic()
    commit = common.git_commit()
    try:
        if built:
            image = f"alsreco:{dockerkit.unique('bench-scale')}"
            work.mkdir(parents=True, exist_ok=True)
            say(f"building {image} ...")
            payload["image_build_seconds"] = round(dockerkit.build_image(image, common.REPO,
                                                                         work / "scale-docker-build.log"), 1)
        payload["image"] = image
        data, payload["data"] = dataset(work, lines)
        for label, hosts in ((r, RUNS[r]) for r in wanted):
            payload["runs"][label] = {**run_hosts(image, work / f"scale-{lines}", label, hosts, data, args.timeout),
                                      "image": image, "commit": commit}
            payload["loadavg_end"] = common.loadavg()
            payload["seconds"] = round(time.monotonic() - started, 1)
            common.write_result(args.results, name, payload)  # after each run: a long run keeps what it has
    finally:
        if built and image:
            dockerkit.remove_image(image)
    two = payload["runs"].get("two_hosts") or {}
    payload["goal_met"] = bool(lines >= GOAL["lines"] and two.get("succeeded"))
    common.write_result(args.results, name, payload)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted: this run's containers, network and image tag are removed")
        sys.exit(130)
