"""The gunicorn runner: `python -m alsreco.serve.gunicorn SOCKET` serves the Flask app on a unix
socket, built once in the master (preload) so the mmapped model is shared by all forked workers.
`serve` (the supervisor) starts this and nginx and watches both."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..core.logs import configure_logging
from ..core.settings import Settings


def worker_class(settings: Settings) -> str:
    """`sync` (one request at a time per worker; the leanest per request, and nginx buffers slow
    clients) unless threads were asked for; batch transform uses threads by default, because a sync
    worker that streams one long response past `timeout` would be killed by gunicorn's arbiter."""
    return "sync" if settings.threads == 1 else "gthread"


def worker_env(settings: Settings) -> dict[str, str]:
    """Environment for the gunicorn process: BLAS threads per worker (`Settings.blas_threads`, 1 by
    default). The workers are the parallelism; OpenBLAS's own threads (one per core by default) in
    every worker only contend - measured on 2 cores, 2 threads made one customer's scores 5x and a
    100-customer block 10x slower under load (benchmarks/RESULTS.md, "where the time goes")."""
    n = str(settings.blas_threads)
    return {"OPENBLAS_NUM_THREADS": n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def gunicorn_options(settings: Settings, socket: Path) -> dict[str, Any]:
    return {
        "bind": f"unix:{socket}",
        "workers": settings.workers,
        "worker_class": worker_class(settings),
        "threads": settings.threads,
        "timeout": settings.timeout,
        "graceful_timeout": settings.graceful_timeout,
        "preload_app": True,
        "errorlog": "-",
        "loglevel": "info",
        "accesslog": None,  # the app logs one line per request itself (with the customers asked for)
        "proc_name": "alsreco-gunicorn",
        "control_socket_disable": True,  # gunicorn >= 24 would write ~/.gunicorn/gunicorn.ctl
        # nginx enforces the request line / header limits (and answers them in JSON); gunicorn's own
        # lower defaults (4 KB line, 8 KB field, 100 fields) would answer what nginx let through in HTML
        "limit_request_line": 0,
        "limit_request_field_size": 65536,  # 0 would mean gunicorn's 8 KB default in gunicorn 27
        "limit_request_fields": 32768,
    }


def run_gunicorn(socket: Path, settings: Settings, state_dir: Path | None = None) -> None:
    from gunicorn.app.base import BaseApplication

    from .app import create_app

    options = gunicorn_options(settings, socket)

    class Application(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # called once in the master because of preload_app
            return create_app(settings=settings, state_dir=state_dir)

    Application().run()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2):
        raise SystemExit("usage: python -m alsreco.serve.gunicorn UNIX_SOCKET_PATH [STATE_DIR]")
    configure_logging()
    run_gunicorn(Path(argv[0]), Settings.from_env(), Path(argv[1]) if len(argv) == 2 else None)


if __name__ == "__main__":
    main()
