"""`make web`: the storefront page working on this machine, with no AWS.

    .venv/bin/python scripts/web_front.py [--model-dir DIR] [--web-port 8000] [--api-port 8765] [--once]

1. A model: `--model-dir`, else the bundled sample trained once with the venv's `train` into
   ~/.cache/alsreco/web/opt_ml (reused on later runs).
2. The real `serve` on a free 127.0.0.1 port.
3. The local API front on 127.0.0.1:API_PORT: each HTTP request becomes an API Gateway proxy
   event for the real Lambda handler (api/handler.py), whose boto3 sagemaker-runtime client calls
   `serve` through /endpoints/local/invocations.
4. The page (web/) on 127.0.0.1:WEB_PORT, with a config.js pointing at the API front and the
   model's catalogue.json.
5. One moto server: the Cognito user pool (demo logins) and the events path - the shoppers' events
   table (DynamoDB), the Firehose stream landing them in S3, the signing secret - so the page's
   events change its own recommendations (docs/live.md); the handler's EMF metric lines go to
   <run dir>/metrics.log.

Ctrl-C stops everything. `--once` makes one request through the whole chain and exits (0 = it
worked), for a smoke test.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alsreco.core.net import free_port  # noqa: E402
from api.local_storefront import LocalStorefront, local_storefront  # noqa: E402

BIN = Path(sys.executable).parent
SAMPLE_INPUT = REPO / "local_test" / "test_dir" / "input"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alsreco" / "web" / "opt_ml"


def say(msg: str) -> None:
    print(f"web: {msg}", flush=True)



def sample_model() -> Path:
    """The bundled sample, trained once into the cache."""
    model = CACHE / "model"
    if (model / "metadata.json").is_file():
        return model
    say(f"training the bundled sample into {CACHE} (once; ~30-60 s)")
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    shutil.copytree(SAMPLE_INPUT, CACHE / "input")
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(CACHE)}
    with open(CACHE / "train.log", "wb") as log:
        code = subprocess.call([str(BIN / "train")], env=env, stdout=log, stderr=subprocess.STDOUT)
    if code != 0 or not (model / "metadata.json").is_file():
        raise SystemExit(f"web: training failed (exit {code}); see {CACHE / 'train.log'}")
    return model


def start_serve(model: Path, base: Path) -> tuple[subprocess.Popen, str]:
    """`serve` on a free port for `model` (symlinked into `base`/model); (process, url)."""
    base.mkdir(parents=True, exist_ok=True)
    link = base / "model"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(model.resolve(), target_is_directory=True)
    port = free_port()
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "SAGEMAKER_BIND_TO_PORT": str(port),
           "MODEL_SERVER_WORKERS": os.environ.get("MODEL_SERVER_WORKERS", "2")}
    log = open(base / "serve.log", "ab")
    proc = subprocess.Popen([str(BIN / "serve")], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"web: serve exited with {proc.returncode}; see {base / 'serve.log'}")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"web: serve did not answer /ping within 60 s; see {base / 'serve.log'}")


def _post(url: str, body: dict, origin: str, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", "Origin": origin, **({"Authorization": token} if token else {})}
    req = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def smoke(shop: LocalStorefront) -> None:
    origin = shop.page_url.rstrip("/")
    best = _post(shop.api_url + "/recommendations", {"k": 3}, origin)
    viewed = best["recommendations"][0]
    visit = _post(shop.api_url + "/events", {"events": [{"type": "view", "product_id": viewed["product_id"],
                                                         "recommendation_id": best["recommendation_id"]}]}, origin)
    after = _post(shop.api_url + "/recommendations", {"k": 3, "session_id": visit["session_id"]}, origin)
    shopper = shop.pool.users[0]
    mine = _post(shop.api_url + "/me/recommendations", {"k": 3}, origin, shop.pool.id_token(shopper.username))
    with urllib.request.urlopen(shop.page_url, timeout=10) as resp:
        assert b"Your visit" in resp.read()
    names = lambda answer: ", ".join(r["name"] or r["product_id"] for r in answer["recommendations"])  # noqa: E731
    say(f"anonymous visitor -> {names(best)}")
    say(f"... after looking at {viewed['name'] or viewed['product_id']} -> {names(after)}")
    say(f"{shopper.username} (customer {shopper.customer_id}) -> {names(mine)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a model directory (default: the sample, trained once)")
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("WEB_PORT", 8000)))
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT", 8765)))
    parser.add_argument("--once", action="store_true", help="one request through the chain, then exit")
    args = parser.parse_args(argv)
    # boto3 signs every request; the local serve does not check the signature.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    model = args.model_dir or sample_model()
    if not (model / "metadata.json").is_file():
        raise SystemExit(f"web: {model} is not a complete model directory (no metadata.json)")
    run_dir = CACHE.parent / f"serve-{os.getpid()}"
    serve, serve_url = start_serve(model, run_dir)
    stop = lambda *_: (_ for _ in ()).throw(KeyboardInterrupt)  # noqa: E731 - SIGTERM like Ctrl-C
    signal.signal(signal.SIGTERM, stop)
    try:
        with local_storefront(model, serve_url, args.web_port, args.api_port, log_dir=run_dir) as shop:
            say(f"serve {serve_url}  ·  API front {shop.api_url}  ·  user pool and events {shop.pool.endpoint} "
                "(moto)")
            if shop.events:
                say(f"events: table {shop.events.table}, Firehose -> s3://{shop.events.bucket}/{shop.events.prefix}, "
                    f"metrics -> {run_dir / 'metrics.log'}")
            for user in shop.pool.users:
                role = "staff" if user.staff else f"shopper, customer {user.customer_id}"
                say(f"demo login: {user.username} / {user.password}  ({role})")
            if args.once:
                smoke(shop)
                return 0
            say(f"open {shop.page_url}  (Ctrl-C stops)")
            while serve.poll() is None:
                time.sleep(0.5)
            say(f"serve exited with {serve.returncode}")
            return 1
    except KeyboardInterrupt:
        return 0
    finally:
        serve.terminate()
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
