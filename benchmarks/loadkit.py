"""What a serving benchmark drives: a synthetic model, the real `serve` as a subprocess (its processes and
their memory), request bodies per scenario, and a load point measured by wrk (Lua: every status counted)
or, without wrk, by a small Python loop. Used by serve_load, serve_profile, serve_startup, serve_mme,
catalog and events_live."""
from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from alsreco.core.net import free_port, wait_for_http

from . import common, procs

LUA = r"""
local bodies = {BODIES}
local method = "{METHOD}"
local path = "{PATH}"
local threads = {}
local counter = 0
function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  n = offset
  responses = 0
  non2xx = 0
end
function request()
  n = n + 1
  if method == "GET" then
    return wrk.format("GET", path)
  end
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, bodies[(n % #bodies) + 1])
end
function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local total, bad = 0, 0
  for _, t in ipairs(threads) do
    total = total + t:get("responses")
    bad = bad + t:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "responses": %d, "non_2xx": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, total, bad, e.connect, e.read, e.write, e.timeout, e.status,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


# ----------------------------------------------------------------------------- models
def synthetic_model(customers: int, products: int, rank: int, per_customer: int = 10, seed: int = 0):
    """A Model with random float32 factors and `per_customer` random purchases each."""
    from alsreco.core import hyperparameters
    from alsreco.core.artifact import Model, Purchases
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(customers), per_customer)
    cols = rng.integers(0, products, size=len(rows))
    purchases = Purchases.from_coo(rows, cols, np.ones(len(rows), np.float32), (customers, products))
    pop = np.bincount(cols, minlength=products).astype(np.int32)
    hp = hyperparameters.defaults()
    return Model(
        customer_ids=np.array([str(10_000_000 + i) for i in range(customers)]),
        product_ids=np.array([f"P{i}" for i in range(products)]),
        product_names=np.array([f"PRODUCT {i}" for i in range(products)]),
        user_factors=rng.normal(0, 0.1, (customers, rank)).astype(np.float32),
        item_factors=rng.normal(0, 0.1, (products, rank)).astype(np.float32),
        purchases=purchases, product_popularity=pop,
        product_first_seen=np.full(products, np.datetime64("2011-01-01"), dtype="datetime64[D]"),
        customer_first_seen=np.full(customers, np.datetime64("2011-01-01"), dtype="datetime64[D]"),
        new_products=np.arange(min(50, products), dtype=np.int32), new_customers=np.array([], dtype=np.int32),
        metadata={"model_version": f"synthetic-{customers}x{products}", "hyperparameters": hp,
                  "als": {"rank": rank, "implicit_prefs": True, "reg_param": hp["reg_param"], "alpha": hp["alpha"]}})


def model_dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file())


# ----------------------------------------------------------------------------- serve
class Serve:
    def __init__(self, base: Path, workers: int | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "SAGEMAKER_BIND_TO_PORT": str(self.port),
               "PYTHONUNBUFFERED": "1"}
        if workers:
            env["MODEL_SERVER_WORKERS"] = str(workers)
        self.log = Path(base) / f"serve-{self.port}.log"
        self.fh = open(self.log, "wb")
        self.proc = subprocess.Popen(common.entry_point("serve"), env=env, stdout=self.fh, stderr=subprocess.STDOUT,
                                     preexec_fn=procs.die_with_parent)
        deadline = time.monotonic() + 120
        while not wait_for_http(self.url + "/ping", 0.5):
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve not ready after 120 s:\n{self.log.read_text()[-3000:]}")

    def memory(self) -> dict[str, Any]:
        rows = []
        for pid in procs.process_tree(self.proc.pid):
            role, comm = self._role(pid)
            if role == "gone":
                continue
            m = procs.smaps_rollup(pid)
            rows.append({"pid": pid, "comm": comm, "role": role, "rss_mb": round(m.get("Rss", 0) / common.MB, 1),
                         "pss_mb": round(m.get("Pss", 0) / common.MB, 1),
                         "private_mb": round((m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)) / common.MB, 1)})
        gunicorn = [p for p in rows if p["role"] == "gunicorn"]
        return {"processes": rows,
                "total_rss_mb": round(sum(p["rss_mb"] for p in rows), 1),
                "total_pss_mb": round(sum(p["pss_mb"] for p in rows), 1),
                "gunicorn_rss_mb": round(sum(p["rss_mb"] for p in gunicorn), 1),
                "gunicorn_pss_mb": round(sum(p["pss_mb"] for p in gunicorn), 1)}

    def gunicorn_pids(self) -> list[int]:
        return [p for p in procs.process_tree(self.proc.pid) if self._role(p)[0] == "gunicorn"]

    def _role(self, pid: int) -> tuple[str, str]:
        comm = procs._comm(pid)
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return "gone", comm
        role = ("nginx" if comm.startswith("nginx") else "supervisor" if pid == self.proc.pid
                else "gunicorn" if "alsreco.serve.gunicorn" in cmd or "gunicorn" in comm else comm)
        return role, comm

    def wait_workers(self, workers: int, timeout: float = 60) -> None:
        """Until gunicorn's master has forked all its workers (/ping is ready with the first one)."""
        end = time.monotonic() + timeout
        while len(self.gunicorn_pids()) < workers + 1:
            if time.monotonic() > end:
                raise RuntimeError(f"gunicorn has not {workers} workers after {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.fh.close()


def touch_workers(url: str, docs: list[str], workers: int, rounds: int = 10) -> None:
    """Requests from `workers` clients at once, `rounds` each, so that every sync worker has served
    some (and touched the model) before memory is measured."""
    def client(k: int) -> None:
        for i in range(rounds):
            urllib.request.urlopen(urllib.request.Request(
                url + "/invocations", data=docs[(k * rounds + i) % len(docs)].encode(),
                headers={"Content-Type": "application/json"}), timeout=30).read()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# ----------------------------------------------------------------------------- load
def bodies(customer_ids: list[str], scenario: str, n: int = 256, seed: int = 0) -> list[str]:
    """Request bodies; for `similar`, `customer_ids` are product ids."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if scenario == "similar":
            doc: dict[str, Any] = {"item_id": rng.choice(customer_ids), "k": 10}
        elif scenario == "single":
            doc = {"customer_id": rng.choice(customer_ids), "k": 10}
        elif scenario == "batch100":
            doc = {"customer_ids": rng.sample(customer_ids, min(100, len(customer_ids))), "k": 10}
        elif scenario == "rules":
            doc = {"customer_id": rng.choice(customer_ids), "k": 10, "exclude_popular": 10, "include_new": 2,
                   "exclude_purchased": True}
        else:
            raise ValueError(scenario)
        out.append(json.dumps(doc))
    return out


def wrk_point(url: str, path: str, method: str, docs: list[str], concurrency: int, duration: float,
              tmp: Path) -> dict[str, Any]:
    lua = LUA.replace("{BODIES}", "{" + ",".join(json.dumps(d) for d in docs) + "}") \
        .replace("{METHOD}", method).replace("{PATH}", path)
    script = tmp / f"wrk-{method}-{concurrency}.lua"
    script.write_text(lua)
    threads = max(1, min(concurrency, 2))
    cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, int(round(duration)))}s",
           "--timeout", "10s", "-s", str(script), url + path]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    r = json.loads(line[8:])
    secs = r["duration_us"] / 1e6
    return {"tool": "wrk", "requests": r["requests"], "seconds": round(secs, 2),
            "rps": round(r["requests"] / secs, 1), "non_2xx": r["non_2xx"],
            "socket_errors": sum(v for k, v in r["socket_errors"].items() if k != "status"),
            "p50_ms": r["latency_us"]["p50"] / 1000, "p90_ms": r["latency_us"]["p90"] / 1000,
            "p99_ms": r["latency_us"]["p99"] / 1000, "max_ms": r["latency_us"]["max"] / 1000,
            "mean_ms": round(r["latency_us"]["mean"] / 1000, 3)}


def python_point(url: str, path: str, method: str, docs: list[str], concurrency: int,
                 duration: float) -> dict[str, Any]:
    """Fallback load loop (keep-alive http.client, one thread per connection) when wrk is missing."""
    host, port = url.split("//")[1].split(":")
    lat: list[float] = []
    bad = [0]
    errors = [0]
    lock = threading.Lock()
    end = time.monotonic() + duration

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n, mine = i * 7919, []
        while time.monotonic() < end:
            n += 1
            t = time.perf_counter()
            try:
                if method == "GET":
                    conn.request("GET", path)
                else:
                    conn.request("POST", path, body=docs[n % len(docs)], headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                mine.append(time.perf_counter() - t)
                if not 200 <= resp.status < 300:
                    with lock:
                        bad[0] += 1
            except OSError:
                with lock:
                    errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
        with lock:
            lat.extend(mine)

    started = time.monotonic()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    secs = time.monotonic() - started
    a = np.asarray(lat) * 1000 if lat else np.zeros(1)
    return {"tool": "python", "requests": len(lat), "seconds": round(secs, 2), "rps": round(len(lat) / secs, 1),
            "non_2xx": bad[0], "socket_errors": errors[0], "p50_ms": float(np.percentile(a, 50)),
            "p90_ms": float(np.percentile(a, 90)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max()), "mean_ms": round(float(a.mean()), 3)}
