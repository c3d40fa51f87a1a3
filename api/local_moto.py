"""moto's server, handling one request at a time: `python api/local_moto.py -H 127.0.0.1 -p PORT`.

DynamoDB applies each write to an item atomically (a `list_append` of two concurrent requests
keeps both); moto's own threaded server runs concurrent requests against its in-memory tables at
the same time and can lose one of two concurrent updates. Serialising requests gives the stand-in
DynamoDB's per-request atomicity, so concurrency tests test our code, not moto's. Started by
api/local_cognito.py `moto_server()` for `make web`, the tests and the benchmarks.
"""
from __future__ import annotations

import argparse
import os
import signal
import threading
from typing import Any, Iterable


def serialised(app: Any) -> Any:
    lock = threading.Lock()

    def handle(environ: dict, start_response: Any) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))   # the whole answer, while no other request runs

    return handle


def main(argv: list[str] | None = None) -> int:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    # at once: request threads queued on the lock would otherwise be waited for at exit
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    run_simple(args.host, args.port, serialised(DomainDispatcherApplication(create_backend_app)), threaded=True,
               request_handler=MotoRequestHandler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
