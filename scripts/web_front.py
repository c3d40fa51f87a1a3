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
from api.catalogue import build as build_catalogue  # noqa: E402
from api.endpoint import make_client  # noqa: E402
from api.handler import Api  # noqa: E402
from api.local_front import api_server, config_js, page_server  # noqa: E402
from api.settings import Settings  # noqa: E402

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


def start_fronts(model: Path, serve_url: str, web_port: int, api_port: int):
    """The page server and the API front (CORS allowed from the page's origin); (api, page)."""
    page = page_server(REPO / "web", web_port)
    page_origin = f"http://127.0.0.1:{page.server_port}"
    settings = Settings(endpoint_name="local", endpoint_url=serve_url, allowed_origins=(page_origin,))
    api = api_server(Api(settings, make_client(settings)), api_port)
    page.overrides.update({
        "config.js": config_js(f"http://127.0.0.1:{api.server_port}"),
        "catalogue.json": json.dumps(build_catalogue(model), separators=(",", ":")).encode()})
    return api, page


def smoke(api_port: int, web_port: int) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{api_port}/recommendations", method="POST",
                                 data=json.dumps({"customer_id": "17850", "k": 3}).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Origin": f"http://127.0.0.1:{web_port}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.loads(resp.read())
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=10) as resp:
        assert b"Who is shopping?" in resp.read()
    names = ", ".join(r["name"] or r["product_id"] for r in answer["recommendations"])
    say(f"customer 17850 -> {names}")


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
    api = page = None
    try:
        api, page = start_fronts(model, serve_url, args.web_port, args.api_port)
        say(f"serve {serve_url}  ·  API front http://127.0.0.1:{api.server_port}/recommendations")
        if args.once:
            smoke(api.server_port, page.server_port)
            return 0
        say(f"open http://127.0.0.1:{page.server_port}/  (Ctrl-C stops)")
        while serve.poll() is None:
            time.sleep(0.5)
        say(f"serve exited with {serve.returncode}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for server in (api, page):
            if server is not None:
                server.shutdown()
        serve.terminate()
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
