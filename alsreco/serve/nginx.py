"""nginx.conf for `serve`: 0.0.0.0:<port> in front of gunicorn's unix socket, JSON error pages."""
from __future__ import annotations

import grp
import json
import os
import pwd
from pathlib import Path

from ..core.settings import Settings

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
worker_shutdown_timeout {drain}s;
{user}pid {run}/nginx.pid;
error_log stderr warn;

events {{
  worker_connections 1024;
}}

http {{
  access_log off;  # the app logs one line per request (no reopen of /dev/stdout)
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

    large_client_header_buffers 4 16k;

    # Errors nginx answers itself are JSON too, like the app's: static files in the run dir (a
    # URI, not a named location, so they work for requests whose URI could not even be parsed).
{error_pages}
    location ^~ /{errors}/ {{
      internal;
      root {run};
      default_type application/json;
    }}
    # /ping never waits for a Python worker: once the loaded model answered /ping with 200, the
    # supervisor writes that answer to {health}/ping.json and nginx serves it from there. Without
    # the file (model not loaded, gunicorn (re)starting) the app answers, with its 503 reason.
    location = /ping {{
      root {health};
      default_type application/json;
      etag off;
      add_header Cache-Control "no-store" always;
      try_files /ping.json @app;
    }}
    location @app {{
{proxy}
    }}
    location / {{
{proxy}
    }}
  }}
}}
"""


ERRORS_DIR = "__alsreco_errors"
HEALTH_DIR = "health"  # in the run dir: ping.json while the loaded model is healthy
PING_FILE = "ping.json"
# HTTP/1.1 to gunicorn: a streamed (large) response then comes chunked, so a worker that dies in the
# middle of it is a broken response for the client, never a silently truncated 200 (over HTTP/1.0 the
# body just ends when the connection closes).
PROXY = """\
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_redirect off;
      proxy_pass http://gunicorn;"""
# status nginx answers -> (status sent, message); 494 is nginx's "request header too large".
ERROR_PAGES = {
    400: (400, "malformed HTTP request"),
    405: (405, "method not allowed"),
    408: (408, "request not received in time"),
    413: (413, "request body is larger than {max_mb} MB"),
    414: (414, "request URI is too long"),
    494: (431, "request headers are too large"),
    500: (500, "internal error in the proxy"),
    502: (503, "model server unavailable"),
    503: (503, "model server unavailable"),
    504: (504, "model server timed out"),
}


def error_bodies(settings: Settings) -> dict[str, str]:
    """File name -> JSON body of each error page nginx serves itself (write them into run_dir/ERRORS_DIR)."""
    return {f"{code}.json": json.dumps({"error": msg.format(max_mb=settings.max_payload_mb), "status": sent})
            for code, (sent, msg) in ERROR_PAGES.items()}


def nginx_conf(settings: Settings, run_dir: Path, socket: Path) -> str:
    """nginx.conf for `settings`; all writable paths live in `run_dir`. When started as root
    the workers keep the current user (not `nobody`) so they can reach the socket."""
    user = ""
    if os.geteuid() == 0:
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"
    pages = "\n".join(f"    error_page {code} {'' if sent == code else f'={sent} '}/{ERRORS_DIR}/{code}.json;"
                      for code, (sent, _) in ERROR_PAGES.items())
    return NGINX_CONF.format(user=user, run=run_dir, socket=socket, port=settings.port,
                             max_mb=settings.max_payload_mb, read_timeout=settings.timeout + 10,
                             drain=settings.drain_seconds, error_pages=pages, errors=ERRORS_DIR,
                             health=run_dir / HEALTH_DIR, proxy=PROXY)
