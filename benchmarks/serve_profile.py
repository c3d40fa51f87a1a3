"""Where a serving request's time goes: a profile of one real gunicorn worker under load.

    python -m benchmarks.serve_profile [--smoke] [--baseline SRC_DIR] [--duration 6]

For each source tree (this checkout, and with --baseline another one: `git archive <commit> alsreco |
tar -x -C DIR` gives one), two measurements on the sample model (trained by serve_load.py, else here):

- a profile: gunicorn with the tree's own options and app, one sync worker on 127.0.0.1, cProfile on the
  worker's CPU clock (thread_time) while wrk sends `stack` (GET /execution-parameters), `single` and
  `batch100` requests at concurrency 4; functions are grouped into stages by their module;
- CPU per request by process (nginx, gunicorn, supervisor) through the tree's full `serve`, default
  workers, no profiler, wrk at concurrency 16, read from /proc.
"""
from __future__ import annotations

import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from alsreco.core.net import free_port, wait_for_http

from . import common, procs
from .common import say
from .loadkit import LUA, bodies

WORKER = r'''
import cProfile, logging, os, sys, time
from pathlib import Path
import alsreco.serve.gunicorn as g
from alsreco.core.settings import Settings
settings = Settings(base_dir=Path(sys.argv[1]), workers=1)
if hasattr(g, "worker_env"):  # what this tree's supervisor gives its gunicorn
    os.environ.update(g.worker_env(settings))
from gunicorn.app.base import BaseApplication
from alsreco.core.logs import configure_logging
from alsreco.serve.app import create_app
configure_logging()
opts = g.gunicorn_options(settings, Path("unused.sock"))
opts["bind"] = "127.0.0.1:" + sys.argv[2]
state = {}
def post_worker_init(worker):
    state["p"] = cProfile.Profile(time.thread_time)
def pre_request(worker, req):  # from the first request after the warm-up on: everything the worker does
    if not state.get("on") and os.path.exists(sys.argv[3] + ".on"):
        state["on"] = True
        state["p"].enable()
def worker_exit(server, worker):
    if state.get("on"):
        state["p"].disable()
        state["p"].dump_stats(sys.argv[3])
class App(BaseApplication):
    def load_config(self):
        for k, v in opts.items():
            self.cfg.set(k, v)
        for hook in (post_worker_init, pre_request, worker_exit):
            self.cfg.set(hook.__name__, hook)
    def load(self):
        return create_app(settings=settings)
App().run()
'''
STAGES = (  # (stage, markers in "file:function"), first match wins
    ("gunicorn: HTTP parsing, sockets", ("/gunicorn/", "socket", "selectors", "select.", "ipaddress")),
    ("Flask / werkzeug", ("/flask/", "/werkzeug/", "/blinker/", "contextvars")),
    ("decode request", ("fields.py", "json/decoder", "json_body.py:4", "json_body.py:5", "json_body.py:6",
                        "json_body.py:7", "json_body.py:8", "jsonl_body.py:1", "jsonl_body.py:2",
                        "csv_body.py:2", "csv_body.py:3", "csv_body.py:4", "codecs/__init__.py:6",
                        "codecs/__init__.py:9", "codecs/__init__.py:1", "_text", "decode")),
    ("score (numpy, rules)", ("/numpy/", "alsreco/core/", "plain.py", "numpy", "uuid", "ufunc", "argpartition",
                              "matmul")),
    ("encode answer", ("json/encoder", "json_body.py", "jsonl_body.py", "csv_body.py", "arrays.py", "encode",
                       "dumps", "join")),
    ("log line", ("/logging/", "logs.py")),
    ("protocol routes / app", ("alsreco/serve/",)),
)


def _stage(key: str) -> str:
    return next((name for name, marks in STAGES if any(m in key for m in marks)), "other")


def _summary(stats_file: Path, requests: int) -> dict[str, Any]:
    st = pstats.Stats(str(stats_file))
    total = st.total_tt or 1e-9  # type: ignore[attr-defined]
    stages: dict[str, float] = {}
    top = []
    for (file, line, func), (_cc, _nc, tt, _ct, callers) in st.stats.items():  # type: ignore[attr-defined]
        stage = _stage(f"{file}:{line}:{func}")
        if stage == "other" and callers:  # a builtin or a stdlib helper: its callers' stages, by their share
            for (cf, cl, cfunc), caller in callers.items():
                by = _stage(f"{cf}:{cl}:{cfunc}")
                stages[by] = stages.get(by, 0.0) + caller[2]
        else:
            stages[stage] = stages.get(stage, 0.0) + tt
        top.append((tt, f"{Path(file).name}:{func}" if file != "~" else func))
    top.sort(reverse=True)
    return {"us_per_request": total / max(1, requests) * 1e6,
            "stages": {k: round(v / total, 4) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])},
            "top": [{"function": name, "share": round(tt / total, 4)} for tt, name in top[:15]]}


def _wrk(url: str, path: str, method: str, docs: list[str], concurrency: int, seconds: float, tmp: Path) -> int:
    lua = LUA.replace("{BODIES}", "{" + ",".join(json.dumps(d) for d in docs) + "}") \
        .replace("{METHOD}", method).replace("{PATH}", path)
    script = tmp / f"profile-{method}-{concurrency}.lua"
    script.write_text(lua)
    out = subprocess.run(["wrk", "-t", "2", "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s", "-s",
                          str(script), url + path], capture_output=True, text=True, timeout=seconds + 60).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out[-2000:]}")
    return json.loads(line[8:])["requests"]


def profile(src: Path, base: Path, scenarios: dict, seconds: float, tmp: Path) -> dict[str, Any]:
    out = {}
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONUNBUFFERED": "1"}
    for name, (method, path, docs) in scenarios.items():
        port, stats = free_port(), tmp / f"{name}.prof"
        log = open(tmp / f"{name}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-c", WORKER, str(base), str(port), str(stats)], env=env, cwd=src,
                                stdout=log, stderr=subprocess.STDOUT, preexec_fn=procs.die_with_parent)
        try:
            if not wait_for_http(f"http://127.0.0.1:{port}/ping", 60):
                raise RuntimeError(f"profiled worker did not start: {(tmp / f'{name}.log').read_text()[-2000:]}")
            _wrk(f"http://127.0.0.1:{port}", path, method, docs, 4, min(2.0, seconds), tmp)  # warm-up, unprofiled
            Path(str(stats) + ".on").touch()
            n = _wrk(f"http://127.0.0.1:{port}", path, method, docs, 4, seconds, tmp)
        finally:
            proc.terminate()
            proc.wait(30)
            log.close()
        out[name] = _summary(stats, n)
        say(f"  profile {name:8s}: {out[name]['us_per_request']:.0f} µs/request profiled; {out[name]['stages']}")
    return out


def cpu_per_request(src: Path, base: Path, scenarios: dict, seconds: float, tmp: Path) -> dict[str, Any]:
    """CPU µs per request by process role through the full `serve` of `src` (wrk at concurrency 16)."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu(pid: int) -> float:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / tick
        except OSError:
            return 0.0

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src), "SAGEMAKER_BASE_DIR": str(base), "SAGEMAKER_BIND_TO_PORT": str(port)}
    log = open(tmp / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "alsreco.serve"], env=env, cwd=src, stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=procs.die_with_parent)
    out: dict[str, Any] = {}
    try:
        if not wait_for_http(f"http://127.0.0.1:{port}/ping", 60):
            raise RuntimeError(f"serve did not start: {(tmp / 'serve.log').read_text()[-2000:]}")
        time.sleep(1.0)
        for name, (method, path, docs) in scenarios.items():
            _wrk(f"http://127.0.0.1:{port}", path, method, docs, 16, min(2.0, seconds), tmp)
            pids = procs.process_tree(proc.pid)
            roles = {p: ("nginx" if procs._comm(p).startswith("nginx") else "supervisor" if p == proc.pid
                         else "gunicorn") for p in pids}
            before = {p: cpu(p) for p in pids}
            n = _wrk(f"http://127.0.0.1:{port}", path, method, docs, 16, seconds, tmp)
            used: dict[str, float] = {}
            for p, role in roles.items():
                used[role] = used.get(role, 0.0) + cpu(p) - before[p]
            out[name] = {role: round(v / n * 1e6) for role, v in sorted(used.items())} | {"requests": n}
            say(f"  CPU per request {name:8s}: {out[name]}")
    finally:
        proc.terminate()
        proc.wait(40)
        log.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = common.arg_parser(__doc__)
    ap.add_argument("--baseline", type=Path, help="another source tree (holding alsreco/) to profile too")
    ap.add_argument("--duration", type=float, default=6.0)
    args = ap.parse_args(argv)
    seconds = 1.0 if args.smoke else args.duration
    work = args.work / ("serve-profile-smoke" if args.smoke else "serve")  # smoke: apart from serve_load's
    base = work / "sample"
    if not (base / "model" / "metadata.json").is_file():
        if args.smoke:
            from alsreco.core.artifact import write_model

            from .loadkit import synthetic_model
            write_model(synthetic_model(500, 300, int(common.hp_defaults()["als_rank"])), base / "model")
        else:
            common.make_opt_ml(base, [common.SAMPLE_CSV], {"eval_days": 0})
            common.run_train(base)
    from alsreco.core.artifact import load_model
    ids = [str(x) for x in load_model(base / "model").customer_ids]
    scenarios = {"stack": ("GET", "/execution-parameters", [""]),
                 "single": ("POST", "/invocations", bodies(ids, "single")),
                 "batch100": ("POST", "/invocations", bodies(ids, "batch100", n=32))}
    trees = {"this checkout": (common.REPO, common.git_commit())}
    if args.baseline:
        trees = {f"baseline ({args.baseline.name})": (args.baseline, args.baseline.name), **trees}
    runs = {}
    for label, (src, commit) in trees.items():
        say(f"{label}: {src}")
        tmp = Path(tempfile.mkdtemp(prefix="bench-profile-"))
        load = [common.loadavg()[0]]
        prof = profile(src, base, scenarios, seconds, tmp)
        load.append(common.loadavg()[0])
        cpu = cpu_per_request(src, base, scenarios, seconds, tmp)
        load.append(common.loadavg()[0])
        runs[label] = {"commit": commit, "profile": prof, "loadavg": load,
                       "cpu_us_per_request": {k: sum(v for r, v in c.items() if r != "requests")
                                              for k, c in cpu.items()}, "cpu_by_process": cpu}
        shutil.rmtree(tmp, ignore_errors=True)
    name = "serve_profile-smoke" if args.smoke else "serve_profile"
    previous = args.results / f"{name}.json"
    if not args.baseline and previous.is_file():  # keep the last baseline (the "before" of the profile)
        kept = {k: v for k, v in json.loads(previous.read_text())["runs"].items() if k.startswith("baseline")}
        runs = {**kept, **runs}
    common.write_result(args.results, name, {"concurrency": 4, "duration_seconds": seconds, "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
