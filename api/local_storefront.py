"""The whole storefront on this machine, as `make web` and the tests run it: the page server, the
API front with the real Lambda handler (its boto3 client calling a running `serve`), and one
`moto_server` holding a Cognito user pool whose tokens the front verifies as API Gateway's
authorizer would, and the events path (api/local_events.py: DynamoDB table, Firehose stream into
S3, signing secret) the handler records the page's events in.

    with local_storefront(model_dir, serve_url) as shop:
        shop.page_url, shop.api_url, shop.pool.users, shop.catalogue, shop.events, shop.metric_lines()

Needs boto3 and moto (requirements-dev.txt); not part of the Lambda.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO

import numpy as np

from .catalogue import build as build_catalogue
from .handler import build
from .jwt import KeySet
from .local_authorizer import CognitoAuthorizer
from .local_cognito import REGION, STAFF_GROUP, LocalPool, demo_users, moto_server, provision
from .local_events import LocalEvents, provision_events
from .local_front import api_server, config_js, page_server
from .metrics import LineWriter, Metrics
from .page_headers import security_headers
from .settings import Settings

WEB = Path(__file__).resolve().parents[1] / "web"


@dataclass
class LocalStorefront:
    page_url: str
    api_url: str
    pool: LocalPool
    catalogue: dict[str, Any]
    settings: Settings
    events: LocalEvents | None = None
    metrics: TextIO = field(default_factory=io.StringIO)     # the Lambda's EMF lines (api/metrics.py)

    def metric_lines(self) -> list[dict[str, Any]]:
        """Every EMF document the handler wrote so far."""
        if isinstance(self.metrics, io.StringIO):
            text = self.metrics.getvalue()
        else:
            self.metrics.flush()
            text = Path(self.metrics.name).read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def busiest_customers(model_dir: Path, n: int = 2) -> list[str]:
    """The `n` customers of the model with the most products bought: the demo shoppers' accounts
    (this machine only; the published catalogue names no customer)."""
    ids = np.load(Path(model_dir) / "customer_ids.npy", allow_pickle=False)
    with np.load(Path(model_dir) / "purchases.npz", allow_pickle=False) as purchases:
        bought = np.diff(purchases["indptr"])
    order = sorted(range(len(ids)), key=lambda i: (-int(bought[i]), str(ids[i])))
    return [str(ids[i]) for i in order[:n]]


@contextlib.contextmanager
def local_storefront(model_dir: Path, serve_url: str, web_port: int = 0, api_port: int = 0,
                     log_dir: Path | None = None, events: bool = True, **overrides: Any) -> Iterator[LocalStorefront]:
    """Everything started on 127.0.0.1 (free ports by default); stopped on exit. `events=False`: no
    events path (the page keeps its visit itself, as before); `overrides`: other Settings fields."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")       # boto3 signs; the local serve does not check
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    metrics_out: TextIO = open(log_dir / "metrics.log", "a") if log_dir else io.StringIO()
    with moto_server(log_dir / "moto.log" if log_dir else None) as moto, contextlib.closing(metrics_out):
        pool = provision(moto, demo_users(busiest_customers(model_dir)))
        local_events = provision_events(moto) if events else None
        page = page_server(WEB, web_port)                    # its port first: the API must allow its origin
        page_origin = f"http://127.0.0.1:{page.server_port}"
        settings = Settings(endpoint_name="local", endpoint_url=serve_url, allowed_origins=(page_origin,),
                            token_issuer=pool.issuer, token_audiences=(pool.client_id,),
                            **(local_events.settings() if local_events else {}), **overrides)
        handler = build(settings, Metrics(settings.metrics_namespace, LineWriter(metrics_out)))
        authorizer = CognitoAuthorizer(KeySet(pool.jwks_url), pool.issuer, (pool.client_id,))
        api = api_server(handler, api_port, authorizer=authorizer, cors_origin=page_origin)
        api_url = f"http://127.0.0.1:{api.server_port}"
        catalogue = build_catalogue(model_dir)
        page.overrides.update({
            "config.js": config_js(api_url, sign_in={"endpoint": pool.endpoint + "/", "clientId": pool.client_id,
                                                     "region": REGION, "staffGroup": STAFF_GROUP},
                                   events=handler.live is not None),
            "catalogue.json": json.dumps(catalogue, separators=(",", ":")).encode()})
        page.headers.update(security_headers((api_url, pool.endpoint)))
        try:
            yield LocalStorefront(page_origin + "/", api_url, pool, catalogue, settings, local_events, metrics_out)
        finally:
            api.shutdown()
            page.shutdown()
