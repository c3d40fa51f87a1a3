"""Server settings from the environment, the nginx config, and the gunicorn runner.

`python -m alsreco.server SOCKET` runs gunicorn on a unix socket with the Flask app built
once in the master (preload) so the mmapped model is shared by all forked workers.
`alsreco.serve` starts this and nginx and supervises both.
"""
from __future__ import annotations

import grp
import os
import pwd
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

MIN_PAYLOAD_MB = 6


@dataclass(frozen=True)
class Settings:
    port: int = 8080
    workers: int = 1
    timeout: int = 60  # seconds a worker may spend on one request
    max_payload_mb: int = MIN_PAYLOAD_MB
    graceful_timeout: int = 20  # seconds to finish in-flight requests on SIGTERM

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ

        def number(name: str, default: int, lo: int) -> int:
            raw = (env.get(name) or "").strip()
            if not raw:
                return default
            try:
                value = int(float(raw))
            except ValueError:
                raise SystemExit(f"{name}={raw!r} is not a number") from None
            if value < lo:
                raise SystemExit(f"{name}={raw!r} must be at least {lo}")
            return value

        return cls(
            port=number("SAGEMAKER_BIND_TO_PORT", 8080, 1),
            workers=number("MODEL_SERVER_WORKERS", os.cpu_count() or 1, 1),
            timeout=number("MODEL_SERVER_TIMEOUT", 60, 1),
            max_payload_mb=max(MIN_PAYLOAD_MB, number("SAGEMAKER_MAX_PAYLOAD_IN_MB", MIN_PAYLOAD_MB, 1)),
        )

    @property
    def max_body_bytes(self) -> int:
        return self.max_payload_mb * 1024 * 1024


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
worker_shutdown_timeout 15s;
{user}pid {run}/nginx.pid;
error_log stderr warn;

events {{
  worker_connections 1024;
}}

http {{
  access_log off;  # gunicorn logs requests to its inherited stdout (no reopen of /dev/stdout)
  client_body_temp_path {run}/client_body;
  proxy_temp_path {run}/proxy;
  fastcgi_temp_path {run}/fastcgi;
  uwsgi_temp_path {run}/uwsgi;
  scgi_temp_path {run}/scgi;

  upstream gunicorn {{
    server unix:{socket};
  }}

  server {{
    listen 0.0.0.0:{port};
    client_max_body_size {max_mb}m;
    client_body_buffer_size 1m;
    keepalive_timeout 75s;
    proxy_connect_timeout 10s;
    proxy_send_timeout {read_timeout}s;
    proxy_read_timeout {read_timeout}s;

    error_page 413 @too_large;
    error_page 502 503 @unavailable;
    error_page 504 @timeout;

    location @too_large {{
      default_type application/json;
      return 413 '{{"error": "request body is larger than {max_mb} MB", "status": 413}}';
    }}
    location @unavailable {{
      default_type application/json;
      return 503 '{{"error": "model server unavailable", "status": 503}}';
    }}
    location @timeout {{
      default_type application/json;
      return 504 '{{"error": "model server timed out", "status": 504}}';
    }}
    location / {{
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_redirect off;
      proxy_pass http://gunicorn;
    }}
  }}
}}
"""


def nginx_conf(settings: Settings, run_dir: Path, socket: Path) -> str:
    """nginx.conf for `settings`; all writable paths live in `run_dir`. When started as root
    the workers keep the current user (not `nobody`) so they can reach the socket."""
    user = ""
    if os.geteuid() == 0:
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"
    return NGINX_CONF.format(user=user, run=run_dir, socket=socket, port=settings.port,
                             max_mb=settings.max_payload_mb, read_timeout=settings.timeout + 10)


def gunicorn_options(settings: Settings, socket: Path) -> dict[str, Any]:
    return {
        "bind": f"unix:{socket}",
        "workers": settings.workers,
        "worker_class": "sync",
        "timeout": settings.timeout,
        "graceful_timeout": settings.graceful_timeout,
        "preload_app": True,
        "errorlog": "-",
        "loglevel": "info",
        "accesslog": "-",
        "access_log_format": '%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"',
        "proc_name": "alsreco-gunicorn",
        "control_socket_disable": True,  # gunicorn >= 24 would write ~/.gunicorn/gunicorn.ctl
    }


def run_gunicorn(socket: Path, settings: Settings | None = None) -> None:
    from gunicorn.app.base import BaseApplication

    from .app import create_app

    settings = settings or Settings.from_env()
    options = gunicorn_options(settings, socket)

    class Application(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # called once in the master because of preload_app
            return create_app(settings=settings)

    Application().run()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m alsreco.server UNIX_SOCKET_PATH")
    run_gunicorn(Path(argv[0]))


if __name__ == "__main__":
    main()
