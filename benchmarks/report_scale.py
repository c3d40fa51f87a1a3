"""The training-at-scale section of benchmarks/RESULTS.md (`benchmarks.report`): results/scale.json
(`make bench-scale`, benchmarks/scale.py)."""
from __future__ import annotations

from typing import Any

from .report_format import table

TITLES = {"two_hosts": "2 hosts (algo-1 + algo-2)", "one_host": "1 host (algo-1)"}
PHASES = (("spark_ready", "Spark up"), ("data_loaded", "data loaded"), ("als_fit_done", "last ALS fit done"),
          ("model_written", "model written"))


def _outcome(r: dict[str, Any]) -> str:
    if r.get("succeeded"):
        rec = r["recommendations"]
        return f"yes: model {r['model_bytes'] / 2**20:.1f} MB, recommendations.csv {rec['lines'] - 1:,} rows"
    why = "timed out" if r.get("timed_out") else f"exit {r.get('exit_codes')}"
    if any((r.get("oom_killed") or {}).values()):
        why += ", OOM-killed: " + ", ".join(h for h, k in r["oom_killed"].items() if k)
    return f"**no** ({why})"


def _memory(r: dict[str, Any]) -> str:
    return "<br>".join(f"{h}: {m['peak_working_set_mb']:.0f} / {m['peak_anon_mb']:.0f} / {m['peak_mb']:.0f}"
                       + (f" (limit hit {m['limit_hits']}×)" if m.get("limit_hits") else "")
                       for h, m in (r.get("memory") or {}).items())


def _processes(s: dict[str, Any]) -> str:
    lines = []
    for label, r in s["runs"].items():
        for host, m in (r.get("memory") or {}).items():
            peak, at = m.get("process_peak_rss_mb") or {}, m.get("rss_at_anon_peak_mb") or {}
            if peak:
                parts = ", ".join(f"{role} {mb:,}" + (f" [{at[role]:,}]" if role in at else "")
                                  for role, mb in sorted(peak.items(), key=lambda kv: -kv[1]))
                lines.append(f"- {TITLES.get(label, label)}, {host}: {parts}")
    return "\n".join(lines)


def _tasks(r: dict[str, Any]) -> str:
    t = r.get("tasks")
    if not t:
        return "– (no metadata.json)"
    return "<br>".join(f"{h}: {v['completed']:,} done, {v['failed']} failed ({v['cores']} cores)"
                       for h, v in sorted(t["per_host"].items()))


def _phases(r: dict[str, Any]) -> str:
    marks = r.get("marks") or {}
    seen = sorted((marks[k], label) for k, label in PHASES if k in marks)
    return ", ".join(f"{label} {t:.0f} s" for t, label in seen) or "–"


def goal_rows(s: dict[str, Any]) -> list[list[Any]]:
    goal, two = s["goal"], s["runs"].get("two_hosts")
    what = (f"training at scale: {goal['hosts']} hosts × `--memory {goal['memory']}` train {goal['lines'] / 1e6:g}M "
            "lines (defaults, evaluation on) and write a model + recommendations")
    if not two:
        return [[what, "–", "–", "not measured"]]
    load = two.get("loadavg_after", [None])[0]
    if s["lines"] < goal["lines"]:
        state = "written" if two.get("succeeded") else "failed"
        return [[what, f"only {s['lines']:,} lines run so far ({state} in {two['wall_seconds']:.0f} s, load {load})",
                 "–", "not measured"]]
    met = bool(two.get("succeeded"))
    measured = f"{'written' if met else 'failed'} in {two['wall_seconds']:.0f} s (load {load})"
    return [[what, measured, "–" if met else _outcome(two), "**met**" if met else "**not met**"]]


def scale_section(s: dict[str, Any] | None) -> tuple[str, list[list[Any]]]:
    if not s:
        return ("## 2b. Training at scale\n\nNo results yet: `make bench-scale` (BENCH_SCALE_LINES, default 40M; "
                "hours) writes benchmarks/results/scale.json.\n"), []
    d = s["data"]
    out = ["## 2b. Training at scale\n",
           f"`make bench-scale` (benchmarks/scale.py): the real image ({s.get('image')}) trains {s['lines']:,} "
           f"generated lines ({d['customers']:,} customers, {d['products']:,} products, {d['files']} CSV files, "
           f"{d['bytes'] / 2**20:,.0f} MB; benchmarks/datagen.py, seed {d['seed']}) with the defaults "
           "(evaluation on): on two hosts as SageMaker runs `instance_count=2` (containers algo-1 and algo-2 on "
           "a network of their own, resourceconfig.json, the data mounted read-only at the same path in both), "
           "then on one host; every container `--memory 3g --memory-swap 3g`. Wall time is the first `docker "
           "run` to the last host's exit. Memory per host, in MB: peak working set (usage minus inactive file "
           "cache, `docker stats`' figure) / peak anonymous memory (the processes' own) / the cgroup's own "
           "high-water mark (page cache included, so it reaches the limit whenever data is read); sampled "
           "every second from the container's memory cgroup. Tasks: the driver's status store per executor "
           "(metadata.json `cluster`). Phases: seconds from the leader container's start to each log line.\n"]
    rows = []
    for label, r in s["runs"].items():
        rows.append([TITLES.get(label, label), f"{r['wall_seconds']:.0f} s" if "wall_seconds" in r else "–",
                     _outcome(r), _memory(r), _tasks(r), _phases(r),
                     f"{r['loadavg_before'][0]} → {(r.get('loadavg_after') or ['–'])[0]}"])
    out.append(table(["run", "wall", "model + recommendations", "peak memory MB (working set / anon / cgroup)",
                       "tasks", "phases (leader)", "load"], rows) + "\n")
    builds = {label: f"{r['image']} from {r.get('commit') or 'an unrecorded commit'}"
              for label, r in s["runs"].items() if r.get("image")}
    if len(set(builds.values())) > 1:  # runs kept from an earlier `--runs`
        out.append("Runs from different builds: " + "; ".join(f"{TITLES.get(k, k)}: {v}" for k, v in builds.items())
                   + ".\n")
    procs = _processes(s)
    if procs:
        out.append("Resident memory by process, MB (host /proc, every second): each role's peak, and in "
                   "brackets the same processes at the sample with the host's highest anonymous memory.\n")
        out.append(procs + "\n")
    for label, r in s["runs"].items():
        for host, text in (r.get("failure") or {}).items():
            out.append(f"{TITLES.get(label, label)}, {host}'s `output/failure`:\n\n```\n{text.strip()[:800]}\n```\n")
    return "\n".join(out), goal_rows(s)
