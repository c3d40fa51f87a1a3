"""Serverless-ready start-up: how fast the image answers after `docker run`, and the memory it takes.

    python -m benchmarks.serve_startup [--smoke] [--repeats 5]      (needs Docker; ALSRECO_BENCH_IMAGE to reuse
                                                                   an image, else this checkout is built)

For the sample model (trained by serve_load.py, else here) with the shipped defaults, for the sample as a
serverless endpoint (ALSRECO_ENDPOINT_TYPE=serverless, --memory 1g: the smallest serverless size), and for
a synthetic 1,000,000-customer x 100,000-product model: `repeats` cold starts each, timing from the
`docker run` call to the first GET /ping 200 and to the first answered POST /invocations (polled every
20 ms), the model load as the server logs it, and the container's peak memory (cgroup).

Goals: first answer ≤ 3 s for the sample; model load ≤ 2 s for the large model (memory-mapped); the sample
served within Serverless Inference's smallest memory size (1024 MB).
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from alsreco.core.net import free_port, http_status

from . import common, dockerkit
from .common import say
from .loadkit import synthetic_model
from .serve_goals import ci95

POLL_S = 0.02
FIRST_ANSWER_GOAL_S = 3.0
LARGE_LOAD_GOAL_S = 2.0
SERVERLESS_MEMORY_MB = 1024  # Serverless Inference's smallest memory size (1024-6144 MB)
LOADED = re.compile(r"loaded model \S+ from \S+ in ([0-9.]+)s")


def _post(url: str, body: bytes) -> int | None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url + "/invocations", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def cold_start(image: str, model_dir: Path, customer: str, env: dict[str, str], memory: str | None) -> dict[str, Any]:
    port, name = free_port(), dockerkit.unique("alsreco-bench-start")
    options = [x for k, v in env.items() for x in ("-e", f"{k}={v}")] + (["--memory", memory] if memory else [])
    url = f"http://127.0.0.1:{port}"
    body = json.dumps({"customer_id": customer, "k": 10}).encode()
    started = time.monotonic()
    cid = dockerkit.docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", *options,
                           "-v", f"{model_dir}:/opt/ml/model:ro", image, "serve").stdout.strip()
    sampler = dockerkit.MemorySampler(name, cid, interval=0.2).start()
    try:
        while http_status(url + "/ping", 1.0) != 200:
            if time.monotonic() - started > 180:
                raise RuntimeError(f"no /ping 200 after 180 s:\n{dockerkit.docker('logs', name, check=False).stderr}")
            time.sleep(POLL_S)
        ping = time.monotonic() - started
        while _post(url, body) != 200:
            time.sleep(POLL_S)
        answer = time.monotonic() - started
        time.sleep(1.0)  # a few memory samples of the serving container
    finally:
        memory_peaks = sampler.stop()
        logs = dockerkit.docker("logs", name, check=False)
        dockerkit.docker("rm", "-f", name, check=False)
    loaded = LOADED.search(logs.stdout + logs.stderr)
    return {"first_ping_s": round(ping, 3), "first_answer_s": round(answer, 3),
            "model_load_s": float(loaded.group(1)) if loaded else None, **memory_peaks}


def main(argv: list[str] | None = None) -> int:
    ap = common.arg_parser(__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    repeats = 2 if args.smoke else args.repeats
    work = args.work / ("startup-smoke" if args.smoke else "startup")
    work.mkdir(parents=True, exist_ok=True)
    rank = int(common.hp_defaults()["als_rank"])
    sample = args.work / "serve" / "sample" / "model"
    if args.smoke:
        from alsreco.core.artifact import write_model
        sample = work / "sample" / "model"
        write_model(synthetic_model(500, 300, rank), sample)
    elif not (sample / "metadata.json").is_file():
        common.make_opt_ml(sample.parent, [common.SAMPLE_CSV], {"eval_days": 0})
        common.run_train(sample.parent)
    large = work / "large" / "model"
    size = (2000, 1000) if args.smoke else (1_000_000, 100_000)
    if not (large / "metadata.json").is_file() or json.loads((large / "metadata.json").read_text()).get(
            "model_version") != f"synthetic-{size[0]}x{size[1]}":
        from alsreco.core.artifact import write_model
        say(f"writing the synthetic {size[0]:,} x {size[1]:,} model ...")
        write_model(synthetic_model(*size, rank), large)
    from alsreco.core.artifact import load_model
    customer = str(load_model(sample).customer_ids[0])
    large_customer = str(load_model(large).customer_ids[0])
    cases = [("sample", sample, customer, {}, None, "defaults"),
             ("sample", sample, customer, {"ALSRECO_ENDPOINT_TYPE": "serverless"}, "1g",
              "serverless (ALSRECO_ENDPOINT_TYPE=serverless, --memory 1g)"),
             ("large", large, large_customer, {}, None, "defaults")]
    runs = []
    with dockerkit.bench_image("bench-startup", work / "docker-build.log") as image:
        for model, path, cid, env, memory, label in cases:
            starts, load = [], []
            for i in range(repeats):
                load.append(common.loadavg()[0])
                starts.append(cold_start(image, path, cid, env, memory))
                say(f"  {model} {label}: start {i + 1}/{repeats}: {starts[-1]}")
            runs.append({"model": model, "settings": label, "loadavg": load,
                         "model_mb": round(sum(f.stat().st_size for f in path.iterdir()) / common.MB, 1),
                         **{k: [s[k] for s in starts] for k in ("first_ping_s", "first_answer_s", "model_load_s")},
                         "peak_working_set_mb": max(s["peak_working_set_mb"] for s in starts),
                         "peak_anon_mb": max(s["peak_anon_mb"] for s in starts), "starts": starts})
    common.write_result(args.results, "serve_startup-smoke" if args.smoke else "serve_startup",
                        {"repeats": repeats, "commit": common.git_commit(), "runs": runs, "goals": goals(runs)})
    return 0


def goals(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def verdict_at_most(values: list[float], goal: float) -> tuple[str, str]:
        mean, low, high = ci95(values)
        status = "met" if high <= goal else "not met" if low > goal else "within noise"
        return status, f"{mean:.2f} s (95% CI {low:.2f}–{high:.2f}, {len(values)} starts)"

    sample, serverless, large = runs
    out = []
    status, text = verdict_at_most(sample["first_answer_s"], FIRST_ANSWER_GOAL_S)
    out.append({"goal": f"start-up: first answer ≤ {FIRST_ANSWER_GOAL_S:g} s after `docker run` (sample model)",
                "measured": f"{text}, load {min(sample['loadavg'])}–{max(sample['loadavg'])}",
                "distance": f"{ci95(sample['first_answer_s'])[0] - FIRST_ANSWER_GOAL_S:+.2f} s",
                "status": status})
    loads = [x for x in large["model_load_s"] if x is not None]
    status, text = verdict_at_most(loads, LARGE_LOAD_GOAL_S) if loads else ("not measured", "–")
    out.append({"goal": f"start-up: model load ≤ {LARGE_LOAD_GOAL_S:g} s for {large['model_mb']:.0f} MB, 1M customers "
                        "x 100k products (memory-mapped)",
                "measured": f"{text}, load {min(large['loadavg'])}–{max(large['loadavg'])}",
                "distance": f"{sum(loads) / max(1, len(loads)) - LARGE_LOAD_GOAL_S:+.2f} s" if loads else "–",
                "status": status})
    peak = serverless["peak_working_set_mb"]
    out.append({"goal": f"memory: the sample served within Serverless Inference's smallest size "
                        f"({SERVERLESS_MEMORY_MB} MB)",
                "measured": f"peak working set {peak:.0f} MB, anonymous {serverless['peak_anon_mb']:.0f} MB (max of "
                            f"{len(serverless['starts'])} starts)",
                "distance": f"{peak - SERVERLESS_MEMORY_MB:+.0f} MB",
                "status": "met" if peak <= SERVERLESS_MEMORY_MB else "not met"})
    return out


if __name__ == "__main__":
    raise SystemExit(main())
