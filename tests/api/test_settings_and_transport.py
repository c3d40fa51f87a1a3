"""Settings read once at cold start; real time-outs and refused connections on 127.0.0.1."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest

import api.handler as handler_mod
from api.endpoint import make_client
from api.handler import Api
from api.settings import ConfigError, Settings
from tests.api.conftest import ORIGIN, Context, proxy_event


def test_settings_from_env_defaults_and_values():
    s = Settings.from_env({"ENDPOINT_NAME": "reco"})
    assert (s.endpoint_name, s.allowed_origins, s.read_timeout, s.max_body_bytes, s.endpoint_url) == (
        "reco", (), 8.0, 16384, None)
    s = Settings.from_env({"ENDPOINT_NAME": " reco ", "ALLOWED_ORIGIN": "https://a.example/, https://b.example",
                           "READ_TIMEOUT": "3.5", "MAX_K": "20", "AWS_REGION": "eu-west-1"})
    assert s.allowed_origins == ("https://a.example", "https://b.example")
    assert (s.read_timeout, s.max_k, s.region) == (3.5, 20, "eu-west-1")
    assert s.cors_origin("https://b.example") == "https://b.example" and s.cors_origin("https://c.example") is None


def test_sign_in_settings_from_env():
    s = Settings.from_env({"ENDPOINT_NAME": "reco"})
    assert (s.customer_claim, s.customer_claim_fallback, s.groups_claim, s.staff_group) == (
        "custom:customer_id", "sub", "cognito:groups", "staff")
    assert (s.token_issuer, s.token_audiences) == (None, ())
    s = Settings.from_env({"ENDPOINT_NAME": "reco", "CUSTOMER_CLAIM": "crm_id", "CUSTOMER_CLAIM_FALLBACK": "",
                           "GROUPS_CLAIM": "groups", "STAFF_GROUP": "merch", "TOKEN_ISSUER": "https://i/",
                           "TOKEN_AUDIENCES": "a, b"})
    assert (s.customer_claim, s.customer_claim_fallback, s.groups_claim, s.staff_group) == (
        "crm_id", "", "groups", "merch")
    assert (s.token_issuer, s.token_audiences) == ("https://i/", ("a", "b"))


@pytest.mark.parametrize("env, word", [
    ({}, "ENDPOINT_NAME"),
    ({"ENDPOINT_NAME": "r", "READ_TIMEOUT": "soon"}, "READ_TIMEOUT"),
    ({"ENDPOINT_NAME": "r", "MAX_K": "0"}, "MAX_K"),
    ({"ENDPOINT_NAME": "r", "MAX_BODY_BYTES": "1.5"}, "MAX_BODY_BYTES"),
])
def test_bad_settings_name_the_variable(env, word):
    with pytest.raises(ConfigError, match=word):
        Settings.from_env(env)


def test_cold_start_reads_the_environment_once_and_builds_one_client(monkeypatch):
    made = []

    class Client:
        def invoke_endpoint(self, **kw):
            raise AssertionError("not reached: the request is invalid")

    monkeypatch.setattr(handler_mod, "_STATE", {})
    monkeypatch.setattr(handler_mod, "make_client", lambda settings: made.append(settings) or Client())
    monkeypatch.setenv("ENDPOINT_NAME", "first")
    monkeypatch.setenv("ALLOWED_ORIGIN", ORIGIN)
    for _ in range(3):
        result = handler_mod.lambda_handler(proxy_event({"k": 0}), Context())
        assert result["statusCode"] == 400
    monkeypatch.setenv("ENDPOINT_NAME", "second")
    handler_mod.lambda_handler(proxy_event({"k": 0}), Context())
    assert [s.endpoint_name for s in made] == ["first"]


def test_misconfigured_lambda_answers_500_without_details(monkeypatch):
    monkeypatch.setattr(handler_mod, "_STATE", {})
    monkeypatch.delenv("ENDPOINT_NAME", raising=False)
    result = handler_mod.lambda_handler(proxy_event({"items": ["1"]}), Context())
    body = json.loads(result["body"])
    assert result["statusCode"] == 500 and "ENDPOINT_NAME" not in result["body"]
    assert body["request_id"] == Context.aws_request_id
    assert handler_mod._STATE == {}          # not cached: a fixed configuration is picked up


def test_importing_the_handler_has_no_side_effects():
    code = ("import os, sys; os.environ.pop('ENDPOINT_NAME', None); import api.handler as h; "
            "assert h._STATE == {}; assert 'boto3' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    conns = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conns.append(sock.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    for c in conns:
        c.close()
    sock.close()


def _api(monkeypatch, url, **kw):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings = Settings(endpoint_name="reco", endpoint_url=url, allowed_origins=(ORIGIN,), **kw)
    return Api(settings, make_client(settings))


def test_endpoint_that_does_not_answer_is_504(monkeypatch, silent_server):
    api = _api(monkeypatch, silent_server, read_timeout=0.3, connect_timeout=0.3, max_attempts=1)
    result = api(proxy_event({"items": ["1"]}), Context())
    assert result["statusCode"] == 504
    assert json.loads(result["body"])["error"] == "the recommendation service did not answer in time"


def test_endpoint_that_refuses_connections_is_502(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # closed again: nothing listens there
    api = _api(monkeypatch, f"http://127.0.0.1:{port}", max_attempts=1)
    result = api(proxy_event({"items": ["1"]}), Context())
    assert result["statusCode"] == 502
    assert "127.0.0.1" not in result["body"]
