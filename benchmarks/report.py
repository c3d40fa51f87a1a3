"""benchmarks/results/*.json -> benchmarks/RESULTS.md (tables) + benchmarks/plots/*.png.

    python -m benchmarks.report [--smoke] [--results DIR] [--out FILE] [--plots DIR]

Only what was measured is shown: a missing result file gives a section saying which command
produces it. `--smoke` reads the `*-smoke.json` files and writes next to them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import common, report_serve, report_train
from .report_format import load, plt, table


# ----------------------------------------------------------------------------- machine
def machine_section(docs: list[dict[str, Any]]) -> str:
    m = docs[0]["machine"]
    pk = m.get("packages", {})
    rows = [["cores", f"{m['cores']} ({m['cpu']})"], ["memory", f"{m['memory_gb']} GB"],
            ["OS / kernel", f"{m['os']} / {m['kernel']}"], ["Python / Java", f"{m['python']} / {m['java']}"],
            ["nginx / wrk", f"{m['nginx']} / {m.get('wrk') or 'not installed'}"],
            ["packages", ", ".join(f"{k} {v}" for k, v in pk.items() if v)]]
    loads = [f"{d['name']}: {d.get('loadavg_start', d['machine']['loadavg'])[0]} → "
             f"{d.get('loadavg_end', d['machine']['loadavg'])[0]} (written {d['created']})" for d in docs]
    return ("## Machine\n\n" + table(["", ""], rows) + "\n\n1-minute load average (start → end of each run; "
            "2 cores = load 2 is a fully busy machine; the machine was shared with other work, so each "
            "measurement also records the load it ran under):\n\n" + "\n".join(f"- {x}" for x in loads) + "\n")


# ----------------------------------------------------------------------------- quality
def quality_section(q: dict[str, Any] | None, plots: Path, rel: str,
                    tune_scale: dict[str, Any] | None = None) -> tuple[str, list[list[Any]]]:
    """benchmarks/report_quality.py: both datasets, weightings, `tune`, `tune` at 1M lines."""
    from . import report_quality
    return report_quality.quality_section(q, plots, rel, plt() if q else None, tune_scale)


# ----------------------------------------------------------------------------- limits
def _pipeline_steps(pp: dict[str, Any]) -> str:
    if not pp.get("wall_seconds") or pp.get("failed"):
        return ""
    steps = ", ".join(f"{k[:-8]} {v} s" for k, v in pp.items() if k.endswith("_seconds") and k != "wall_seconds")
    return f"The plain-PySpark pipeline took {pp['wall_seconds']:.1f} s ({steps}). "


def _shipped_phases(r: dict[str, Any]) -> str:
    """Where `train` as shipped spends its time (its goal row not met), from the same run's log marks."""
    sh = r.get("train_shipped") or {}
    m, fits = sh.get("marks") or {}, sh.get("als_fits") or []
    missed = [g for g in r.get("goals") or [] if "shipped_seconds_max" in g and not g.get("met")]
    if not missed or not m.get("model_written") or not fits:
        return ""
    first, loaded, ready = m.get("first_log", 0), m.get("data_loaded", 0), m.get("spark_ready", 0)
    final, held = fits[-1]["seconds"], [f["seconds"] for f in fits[:-1]]
    choosing = m.get("als_fit_done", 0) - final - max(loaded, ready)
    return (f"- **training, {r['size']}, as shipped** ({sh['wall_seconds']:.1f} s, load {sh['loadavg_after'][0]}): "
            f"{first:.1f} s Python start-up, {max(loaded, ready) - first:.1f} s data + SparkSession start, "
            f"{choosing:.1f} s held-out evaluation and automatic choices ({len(held)} ALS fit(s) on held-out "
            f"parts: {' + '.join(f'{x:.1f}' for x in held) or '0'} s; the rest ranking the held-out customers, the "
            f"blend search and building the other protocol's part), {final:.1f} s final ALS fit, "
            f"{m['model_written'] - m.get('als_fit_done', 0):.1f} s top-10 for every customer + similar products + "
            "files.")


def limits_section(t: dict[str, Any] | None, s: dict[str, Any] | None, prof: dict[str, Any] | None = None) -> str:
    """For each goal not met, what the measurements say limits it (derived from the same run)."""
    lines = []
    for r in (t or {}).get("sizes", []):
        goals, tr, ds = r.get("goals") or [], r["train"], r.get("default_spark", {})
        m = tr.get("marks", {})
        if all(g.get("met") for g in goals) or not m.get("model_written"):
            continue
        fit = tr["als_fits"][-1]["seconds"] if tr.get("als_fits") else 0.0
        first, loaded, ready = m.get("first_log", 0), m.get("data_loaded", 0), m.get("spark_ready", 0)
        after = m["model_written"] - m.get("als_fit_done", 0)
        if ready <= loaded:  # the Spark data path: Spark starts first, then reads, cleans and aggregates
            phases = (f"{ready - first:.1f} s SparkSession start, {loaded - ready:.1f} s CSV read + clean + ratings "
                      f"in Spark, {m.get('als_fit_done', 0) - fit - loaded:.1f} s from ratings to the fit's start, ")
        else:  # the pandas path: data first, then Spark, then the ratings become a Spark DataFrame
            phases = (f"{loaded - first:.1f} s CSV read + clean + ratings, {ready - loaded:.1f} s SparkSession start, "
                      f"{m.get('als_fit_done', 0) - fit - ready:.1f} s ratings → Spark DataFrame, ")
        lines.append(
            f"- **training, {r['size']}** ({tr['wall_seconds']:.1f} s, load {tr['loadavg_after'][0]}): "
            f"{first:.1f} s Python start-up and imports, {phases}{fit:.1f} s ALS fit "
            f"+ factor collection ({tr['als_fits'][-1]['iterations'] if tr.get('als_fits') else '?'} iterations, "
            f"{tr.get('final_fit_seconds_per_iteration')} s each), {after:.1f} s top-10 for all "
            f"{r['batch_scoring']['customers']:,} customers + recommendations.csv + model files "
            f"(the numpy top-10 alone took {r['batch_scoring']['numpy_seconds']:.1f} s). "
            + _pipeline_steps(r.get("pyspark_pipeline") or {})
            + (f"default-Spark took {ds.get('wall_seconds', 0):.1f} s in all, {ds.get('fit_seconds', 0):.1f} s of it "
               f"fitting, without reading CSV or writing recommendations; the `implicit` library fitted the same "
               f"matrix in {r.get('implicit', {}).get('fit_seconds', '–')} s." if ds else ""))
    for r in (t or {}).get("sizes", []):
        line = _shipped_phases(r)
        if line:
            lines.append(line)
    if s and ("single_vs_stack" in s["goals"] or "single_vs_ping" in s["goals"] or s.get("goal_runs")):
        g = s["goals"]
        single = {r["concurrency"]: r for r in s["load"]["single"]}
        sv, what = report_serve._vs_ceiling(g) if "goal_runs" not in s else (
            {"met": s["goal_runs"]["single_vs_stack"]["status"] == "met"},
            "a no-op request through the stack (/execution-parameters)")
        ceiling = {r["concurrency"]: r for r in s["load"]["stack" if "stack" in s["load"] else "ping"]}
        one = next((r["one_customer_ms"]["median"] for r in s["in_process"] if r["products"] <= 10_000), None)
        if not (sv["met"] and g["p99_ms_at_16"]["met"]):
            per = "; ".join(f"c={c}: {single[c]['rps']:.0f} vs {ceiling[c]['rps']:.0f} req/s"
                            for c in sorted(single) if c in ceiling)
            from .report_serve import limits_text  # from the worker profile, when there is one
            why = limits_text(prof) or (
                f"Scoring itself is cheap ({one} ms per customer in process, sample model), so the gap is per-request "
                f"Python work in the {s['workers']} {s.get('worker_class', 'sync')} gunicorn workers (Flask request "
                "handling, JSON decode/encode, rules, the per-request log line)")
            tail = "."
            if not g["p99_ms_at_16"]["met"]:  # the latency goal: what queueing leaves of it
                tail = (f"; past {s['workers']} concurrent requests, requests queue, which sets the p99 at "
                        "concurrency 16")
                if 16 in ceiling and "stack" in s["load"]:
                    floor, goal = ceiling[16]["p99_ms"], g["p99_ms_at_16"].get("target_max", 10.0)
                    tail += (f" (the no-op through the stack: p99 {floor:.1f} ms at concurrency 16"
                             + (", already above the goal" if floor >= goal else "") + ").")
                else:
                    tail += "."
            lines.append(
                f"- **serving** (load {s['load']['single'][0]['loadavg_before'][0]} before the runs): single-customer "
                f"vs {what} at equal concurrency: {per}. {why} on 2 cores that nginx and wrk share" + tail)
    if not lines:
        return ""
    return ("## What limits the goals not met\n\nDerived from the same measurements (the timeline of `train`'s "
            "log lines, the reference runs, the in-process scoring).\n\n" + "\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = common.arg_parser(__doc__)
    ap.add_argument("--out", type=Path, default=None, help="default benchmarks/RESULTS.md (smoke: next to results)")
    ap.add_argument("--plots", type=Path, default=None, help="default benchmarks/plots (smoke: results/plots)")
    args = ap.parse_args(argv)
    suffix = "-smoke" if args.smoke else ""
    out = args.out or (args.results / "RESULTS.md" if args.smoke else common.REPO / "benchmarks" / "RESULTS.md")
    plots = args.plots or (args.results / "plots" if args.smoke else common.REPO / "benchmarks" / "plots")
    plots.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(plots, out.parent)
    q = load(args.results, "quality" + suffix)
    t = load(args.results, "train_speed" + suffix)
    s = load(args.results, "serve_load" + suffix)
    sc = load(args.results, "scale" + suffix)
    ev = load(args.results, "events_live" + suffix)
    docs = [d for d in (q, t, s, sc, ev) if d]
    ts_doc = load(args.results, "tune_scale" + suffix)
    qs, qg = quality_section(q, plots, rel, ts_doc)
    ts, tg = report_train.train_section(t, plots, rel)
    ss, sg = report_serve.serve_section(s, plots, rel)
    ss += report_serve.profile_section(load(args.results, "serve_profile" + suffix))
    from . import report_provenance as prov  # which commit each figure measured
    st, mm, pr = (load(args.results, n + suffix) for n in ("serve_startup", "serve_mme", "serve_profile"))
    sts, stg = report_serve.startup_section(st)
    mms, mmg = report_serve.mme_section(mm)
    ss += sts + mms
    sg = prov.tag(sg, s) + prov.tag(stg, st) + prov.tag(mmg, mm)
    from .report_scale import scale_section  # benchmarks/report_scale.py: `make bench-scale`
    scs, scg = scale_section(sc)
    from .report_catalog import catalog_section  # benchmarks/report_catalog.py: `make bench-catalog`
    ca = load(args.results, "catalog" + suffix)
    cas, cag = catalog_section(ca)
    docs += [ca] if ca else []
    from .report_events import events_section  # benchmarks/report_events.py: `make bench-events`
    evs, evg = events_section(ev)
    at_scale = [r for r in qg if str(r[0]).startswith("`tune` on")]  # from tune_scale.json
    qg = prov.tag([r for r in qg if r not in at_scale], q) + prov.tag(at_scale, ts_doc)
    goals = (qg + prov.tag(tg, t) + prov.tag(scg, sc) + sg + prov.tag(cag, ca)
             + prov.tag(evg, ev))
    parts = ["# alsreco benchmark results\n",
             "Generated by `make bench` (`python -m benchmarks.report` from `benchmarks/results/*.json`); do not "
             "edit by hand. Every number is a measurement from the run recorded in the JSON files, on the machine "
             "below, with the load average it ran under. `make bench-quality`, `make bench-train` "
             "(`BENCH_SIZES=100k,1m`), `make bench-serve` re-run one part and regenerate this file.\n"]
    if goals:
        parts.append("## Goals\n\n" + table(["goal", "measured", "distance to goal", "status", "source"], goals)
                     + "\n")
    provenance = prov.section([q, ts_doc, t, sc, s, pr, st, mm, ca, ev])
    if provenance:
        parts.append(provenance)
    if docs:
        parts.append(machine_section(docs))
    limits = limits_section(t, s, load(args.results, "serve_profile" + suffix))
    if limits:
        parts.append(limits)
    parts += [qs, ts, scs, ss, cas, evs]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts).rstrip() + "\n")
    common.say(f"wrote {out} and {plots}/*.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
