"""Multi-model endpoints: the image with SAGEMAKER_MULTI_MODEL=true and 200 models.

    python -m benchmarks.serve_mme [--smoke] [--models 200] [--seconds 20]   (needs Docker; ALSRECO_BENCH_IMAGE
                                                                            to reuse an image)

200 real copies (no shared pages) of the sample model (trained by serve_load.py, else here), each with its
own version, under /opt/ml/models/<name>/model as SageMaker lays them out; the container with the default
workers and `--memory 2g`. Measured: POST /models latency per model (4 clients), the container's working
set with no model and after every model was loaded and invoked (-> MB per model, models per GiB), and
invocations of all models in random order from 8 clients for `seconds` (req/s, p50, p99).
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests

from alsreco.core.net import free_port, wait_for_http

from . import common, dockerkit
from .common import copy_model, say

MEMORY = "2g"
LOAD_CLIENTS = 4
INVOKE_CLIENTS = 8


def _ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1000, q)), 1)


def main(argv: list[str] | None = None) -> int:
    ap = common.arg_parser(__doc__)
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    n, seconds = (20, 3.0) if args.smoke else (args.models, args.seconds)
    work = args.work / ("mme-smoke" if args.smoke else "mme")
    sample = args.work / "serve" / "sample" / "model"
    if args.smoke:
        from alsreco.core.artifact import write_model

        from .loadkit import synthetic_model
        sample = work / "sample" / "model"
        write_model(synthetic_model(500, 300, int(common.hp_defaults()["als_rank"])), sample)
    elif not (sample / "metadata.json").is_file():
        common.make_opt_ml(sample.parent, [common.SAMPLE_CSV], {"eval_days": 0})
        common.run_train(sample.parent)
    root = work / "models"
    names = [f"shop-{i:03d}" for i in range(n)]
    for name in names:
        if not (root / name / "model" / "metadata.json").is_file():
            copy_model(sample, root / name / "model", f"{name}-v1")
    from alsreco.core.artifact import load_model
    customers = [str(c) for c in load_model(sample).customer_ids[:200]]
    model_mb = sum(f.stat().st_size for f in sample.iterdir()) / common.MB
    with dockerkit.bench_image("bench-mme", work / "docker-build.log") as image:
        payload = run(image, root, names, customers, seconds)
    payload.update(models=n, model_mb=round(model_mb, 2), memory_limit=MEMORY, commit=common.git_commit())
    common.write_result(args.results, "serve_mme-smoke" if args.smoke else "serve_mme", payload)
    return 0


def run(image: str, root: Path, names: list[str], customers: list[str], seconds: float) -> dict[str, Any]:
    port, container = free_port(), dockerkit.unique("alsreco-bench-mme")
    url = f"http://127.0.0.1:{port}"
    loads = [common.loadavg()[0]]
    cid = dockerkit.docker("run", "-d", "--name", container, "--memory", MEMORY, "-p", f"127.0.0.1:{port}:8080",
                           "-e", "SAGEMAKER_MULTI_MODEL=true", "-v", f"{root}:/opt/ml/models:ro", image,
                           "serve").stdout.strip()
    try:
        if not wait_for_http(url + "/ping", 120):
            raise RuntimeError(dockerkit.docker("logs", container, check=False).stderr[-3000:])
        sampler = dockerkit.MemorySampler(container, cid)
        time.sleep(2.0)
        idle = sampler.now()

        def load(name: str) -> float:
            started = time.perf_counter()
            r = requests.post(url + "/models", json={"model_name": name, "url": f"/opt/ml/models/{name}/model"},
                              timeout=120)
            if r.status_code != 200:
                raise RuntimeError(f"POST /models {name}: {r.status_code} {r.text[:300]}")
            return time.perf_counter() - started

        with cf.ThreadPoolExecutor(LOAD_CLIENTS) as pool:
            load_s = list(pool.map(load, names))
        say(f"  loaded {len(names)} models: median {_ms(load_s, 50)} ms, p95 {_ms(load_s, 95)} ms")
        loads.append(common.loadavg()[0])
        stop, lock = threading.Event(), threading.Lock()
        latencies: list[float] = []
        bad = [0]

        def client(seed: int) -> None:
            rng, session = random.Random(seed), requests.Session()
            mine, errors = [], 0
            while not stop.is_set():
                name = rng.choice(names)
                body = json.dumps({"customer_id": rng.choice(customers), "k": 10})
                started = time.perf_counter()
                r = session.post(f"{url}/models/{name}/invoke", data=body, timeout=60,
                                 headers={"Content-Type": "application/json",
                                          "X-Amzn-SageMaker-Target-Model": f"{name}.tar.gz"})
                mine.append(time.perf_counter() - started)
                errors += r.status_code != 200 or r.headers.get("X-Model-Version") != f"{name}-v1"
            with lock:
                latencies.extend(mine)
                bad[0] += errors

        for name in names:  # every model invoked once before the timed rotation
            requests.post(f"{url}/models/{name}/invoke", data=json.dumps({"customer_id": customers[0]}),
                          headers={"Content-Type": "application/json"}, timeout=60)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(INVOKE_CLIENTS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        loaded = sampler.now()
        loads.append(common.loadavg()[0])
        logs = dockerkit.docker("logs", container, check=False)
        text = logs.stdout + logs.stderr
        workers = len(set(line.split("Booting worker with pid: ")[1].split()[0] for line in text.splitlines()
                          if "Booting worker with pid: " in line))
        budget = next((line.split("multi-model endpoint: ", 1)[1] for line in text.splitlines()
                       if "multi-model endpoint: " in line), "?")
        per_model = max(0.0, loaded["working_set"] - idle["working_set"]) / len(names)
        say(f"  invoke rotation: {len(latencies)} requests, p99 {_ms(latencies, 99)} ms; memory {idle} -> {loaded}")
        return {
            "workers": workers, "loadavg": loads,
            "load": {"clients": LOAD_CLIENTS, "p50_ms": _ms(load_s, 50), "p95_ms": _ms(load_s, 95),
                     "max_ms": round(max(load_s) * 1000, 1)},
            "invoke": {"clients": INVOKE_CLIENTS, "seconds": round(elapsed, 1), "requests": len(latencies),
                       "rps": round(len(latencies) / elapsed, 1), "p50_ms": _ms(latencies, 50),
                       "p99_ms": _ms(latencies, 99), "non_200": bad[0]},
            "memory": {"idle_mb": idle["working_set"], "loaded_mb": loaded["working_set"],
                       "idle_anon_mb": idle["anon"], "loaded_anon_mb": loaded["anon"],
                       "per_model_mb": round(per_model, 3),
                       "models_per_gib": round(1024 / per_model) if per_model else None},
            "cache": f"{budget}; {text.count('dropped idle model')} idle models dropped by workers during the run",
        }
    finally:
        dockerkit.docker("rm", "-f", container, check=False)


if __name__ == "__main__":
    raise SystemExit(main())
