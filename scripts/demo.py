"""`make demo`: train on the bundled sample, serve the model, print recommendations, stop.

Runs the real `train` and `serve` of the venv (no Docker) on a temporary copy of
local_test/test_dir (SAGEMAKER_BASE_DIR), serves on a free 127.0.0.1 port, and stops the
server on the way out - also on Ctrl-C or SIGTERM. Standard library (and alsreco.core.net) only.

    .venv/bin/python scripts/demo.py            (KEEP=1 keeps the temp directory)
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from alsreco.core.net import free_port, wait_for_http

REPO = Path(__file__).resolve().parents[1]
TEST_DIR = REPO / "local_test" / "test_dir"
BIN = Path(sys.executable).parent
PING_DEADLINE = 120.0
STOP_DEADLINE = 30.0

REQUESTS = [
    {"customer_id": "17850", "k": 5},
    {"customer_id": "13047", "k": 5},
    {"customer_id": "12583", "k": 5},
    {"customer_id": "new-1", "items": ["85123A", "71053"], "k": 5},
]


def say(msg: str = "") -> None:
    print(msg, flush=True)


def fail(msg: str, log: Path | None = None, lines: int = 25) -> None:
    say(f"\ndemo: {msg}")
    if log is not None and log.is_file():
        say(f"--- last lines of {log}:")
        say("\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
    raise SystemExit(1)


def preflight() -> None:
    missing = []
    for tool, hint in (("train", "make venv"), ("serve", "make venv")):
        if not (BIN / tool).exists():
            missing.append(f"{tool} is not installed in {BIN} (run: {hint})")
    if shutil.which("java") is None:
        missing.append("java is missing (Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless)")
    if shutil.which("nginx") is None and not os.access("/usr/sbin/nginx", os.X_OK):
        missing.append("nginx is missing; serve puts it in front of gunicorn "
                       "(Debian/Ubuntu: sudo apt-get install -y nginx)")
    if missing:
        fail("cannot run the demo:\n  - " + "\n  - ".join(missing))


def purchases(csv_path: Path, customers: set[str], names: dict[str, str]) -> dict[str, list[str]]:
    """The sample's most bought product names per customer (to show next to the picks);
    fills `names` (product code -> description) for the codes it was given."""
    bought: dict[str, Counter] = {c: Counter() for c in customers}
    with csv_path.open(newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            code = (row.get("StockCode") or "").strip()
            if code in names and not names[code]:
                names[code] = (row.get("Description") or "").strip()
            c = (row.get("CustomerID") or "").strip()
            if c.endswith(".0"):
                c = c[:-2]
            if c in bought and not (row.get("InvoiceNo") or "").startswith("C"):
                bought[c][(row.get("Description") or row.get("StockCode") or "").strip()] += 1
    return {c: [name for name, _ in cnt.most_common(3)] for c, cnt in bought.items()}


def train(base: Path, env: dict) -> None:
    log = base / "train.log"
    say(f"1/3 training Spark ALS on the bundled sample (log: {log}) ...")
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.call([str(BIN / "train")], env=env, stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        failure = base / "output" / "failure"
        why = failure.read_text() if failure.is_file() else "(no output/failure file)"
        fail(f"train exited {code}: {why}", log)
    meta = json.loads((base / "model" / "metadata.json").read_text())
    data = meta.get("data", {})
    say(f"    done in {time.monotonic() - started:.0f}s: model {meta.get('model_version')}, "
        f"{data.get('customers', '?')} customers x {data.get('products', '?')} products, "
        f"rank {meta.get('als', {}).get('rank', '?')}")
    metrics = meta.get("metrics", {})
    if isinstance(metrics.get("model"), dict) and isinstance(metrics.get("popularity"), dict):
        k = metrics.get("k", 10)
        m, p = metrics["model"], metrics["popularity"]
        key = f"ndcg_at_{k}"
        if key in m and key in p:
            say(f"    held-out last {metrics.get('eval_days', '?')} days: NDCG@{k} model {m[key]:.4f} "
                f"vs popularity baseline {p[key]:.4f}")


def start_server(base: Path, env: dict, port: int) -> tuple[subprocess.Popen, Path]:
    log = base / "serve.log"
    say(f"2/3 starting serve on http://127.0.0.1:{port} (log: {log}) ...")
    env = dict(env, SAGEMAKER_BIND_TO_PORT=str(port), MODEL_SERVER_WORKERS="1")
    out = log.open("w")
    # Its own session: the terminal's Ctrl-C reaches only this script, which then stops it.
    proc = subprocess.Popen([str(BIN / "serve")], env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    out.close()
    return proc, log


def wait_ready(proc: subprocess.Popen, log: Path, url: str) -> None:
    deadline = time.monotonic() + PING_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"serve exited {proc.returncode} before answering /ping", log)
        if wait_for_http(f"{url}/ping", 0.5):
            return
    fail(f"serve did not answer /ping within {PING_DEADLINE:.0f}s", log)


def invoke(url: str, payload: dict) -> dict:
    req = urllib.request.Request(f"{url}/invocations", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        fail(f"POST /invocations {payload} -> HTTP {e.code}: {e.read().decode(errors='replace')[:500]}")
    raise AssertionError("unreachable")


def show(payload: dict, answer: dict, bought: dict[str, list[str]], names: dict[str, str]) -> None:
    for pred in answer.get("predictions", []):
        cid = pred.get("customer_id")
        if pred.get("known"):
            head = f"customer {cid} (known)"
            seen = bought.get(str(cid)) or []
            if seen:
                head += f" - bought e.g. {', '.join(seen)}"
        else:
            basket = payload.get("items") or []
            shown = [f"{code} {names[code]}" if names.get(code) else code for code in basket]
            head = f"customer {cid} (new)" + (f" - basket: {', '.join(shown)}" if basket else "")
        say(f"\n  {head}")
        for i, rec in enumerate(pred.get("recommendations", []), 1):
            name = rec.get("name") or ""
            say(f"    {i:>2}. {rec.get('product_id', ''):<8} {name[:38]:<38} "
                f"score {float(rec.get('score', 0)):7.4f}  ({rec.get('reason', '')})")
        if not pred.get("recommendations"):
            say("    (no recommendations)")


def stop_server(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main() -> int:
    preflight()
    base = Path(tempfile.mkdtemp(prefix="alsreco-demo-"))
    proc: subprocess.Popen | None = None

    def on_term(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        shutil.copytree(TEST_DIR / "input", base / "input")
        env = dict(os.environ, SAGEMAKER_BASE_DIR=str(base))
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        train(base, env)
        port = free_port()
        proc, log = start_server(base, env, port)
        url = f"http://127.0.0.1:{port}"
        wait_ready(proc, log, url)
        say("3/3 recommendations (POST /invocations, application/json):")
        data = next((base / "input" / "data" / "training").glob("*.csv"))
        names = {code: "" for r in REQUESTS for code in r.get("items", [])}
        bought = purchases(data, {r["customer_id"] for r in REQUESTS}, names)
        version = None
        for payload in REQUESTS:
            answer = invoke(url, payload)
            version = answer.get("model_version", version)
            show(payload, answer, bought, names)
        say(f"\nmodel_version {version}. Try it yourself with local_test/payloads/*: "
            "see local_test/predict.sh.")
        return 0
    except KeyboardInterrupt:
        say("\ndemo: interrupted; stopping")
        return 130
    finally:
        stop_server(proc)
        if proc is not None:
            say(f"demo: server stopped (exit {proc.returncode})")
        if os.environ.get("KEEP") == "1":
            say(f"demo: kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
