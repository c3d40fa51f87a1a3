"""API Gateway REST API (v1) Lambda proxy events, written from the documented input format, and a
real boto3 sagemaker-runtime client whose calls are stubbed (botocore Stubber checks every call
against the service model)."""
from __future__ import annotations

import base64
import copy
import io
import json
from typing import Any

import pytest

ORIGIN = "https://shop.example.com"

# The documented shape (API Gateway developer guide, "Input format of a Lambda function for proxy
# integration"), as a POST /recommendations from a browser on ORIGIN arrives at the function.
BASE_EVENT: dict[str, Any] = {
    "resource": "/recommendations",
    "path": "/recommendations",
    "httpMethod": "POST",
    "headers": {
        "accept": "*/*",
        "content-type": "application/json",
        "Host": "abc123defg.execute-api.eu-west-1.amazonaws.com",
        "origin": ORIGIN,
        "User-Agent": "Mozilla/5.0",
        "X-Amzn-Trace-Id": "Root=1-65f0a1b2-0123456789abcdef01234567",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    },
    "multiValueHeaders": {
        "accept": ["*/*"],
        "content-type": ["application/json"],
        "Host": ["abc123defg.execute-api.eu-west-1.amazonaws.com"],
        "origin": [ORIGIN],
        "User-Agent": ["Mozilla/5.0"],
        "X-Amzn-Trace-Id": ["Root=1-65f0a1b2-0123456789abcdef01234567"],
        "X-Forwarded-For": ["203.0.113.7"],
        "X-Forwarded-Port": ["443"],
        "X-Forwarded-Proto": ["https"],
    },
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": None,
    "stageVariables": None,
    "requestContext": {
        "resourceId": "x1y2z3",
        "resourcePath": "/recommendations",
        "httpMethod": "POST",
        "extendedRequestId": "Jq3cFEXAMPLE=",
        "requestTime": "23/Nov/2026:08:30:00 +0000",
        "path": "/prod/recommendations",
        "accountId": "123456789012",
        "protocol": "HTTP/1.1",
        "stage": "prod",
        "domainPrefix": "abc123defg",
        "requestTimeEpoch": 1795336200000,
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "identity": {
            "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
            "sourceIp": "203.0.113.7", "principalOrgId": None, "accessKey": None,
            "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None, "userArn": None,
            "userAgent": "Mozilla/5.0", "user": None, "apiKey": None, "apiKeyId": None,
        },
        "domainName": "abc123defg.execute-api.eu-west-1.amazonaws.com",
        "apiId": "abc123defg",
    },
    "body": None,
    "isBase64Encoded": False,
}


ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
CLIENT_ID = "4pageclient0123456789abcd"


def claims(customer_id: str | None = "17850", groups: str | None = None, **extra: str) -> dict[str, str]:
    """Verified ID-token claims as API Gateway's Cognito authorizer passes them: every value a string."""
    out = {"sub": "a1b2c3d4-0000-4000-8000-00000000abcd", "aud": CLIENT_ID, "iss": ISSUER, "token_use": "id",
           "email": "shopper@example.com", "email_verified": "true", "auth_time": "1795336000",
           "cognito:username": "a1b2c3d4-0000-4000-8000-00000000abcd",
           "exp": "Fri Dec 31 23:59:59 UTC 2100", "iat": "Mon Nov 23 08:00:00 UTC 2026"}
    if customer_id is not None:
        out["custom:customer_id"] = customer_id
    if groups is not None:
        out["cognito:groups"] = groups
    out.update(extra)
    return out


def proxy_event(body: Any = None, method: str = "POST", path: str = "/recommendations", b64: bool = False,
                headers: dict[str, str] | None = None, drop_headers: tuple[str, ...] = (),
                authorizer: dict[str, Any] | None = None) -> dict[str, Any]:
    """A POST /recommendations event; `body` is JSON-encoded unless it is already str/bytes;
    `authorizer`: what an authorizer put in `requestContext.authorizer` (e.g. {"claims": claims()})."""
    event = copy.deepcopy(BASE_EVENT)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["resource"] = event["path"] = event["requestContext"]["resourcePath"] = path
    for name in drop_headers:
        event["headers"].pop(name, None)
        event["multiValueHeaders"].pop(name, None)
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    if body is not None:
        raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
        raw = raw.encode() if isinstance(raw, str) else raw
        event["body"] = base64.b64encode(raw).decode() if b64 else raw.decode()
        event["isBase64Encoded"] = b64
    return event


class Context:
    """The Lambda context attributes the handler reads."""
    aws_request_id = "5f1d6c1e-1111-2222-3333-444455556666"
    function_name = "storefront"


def answer(body: dict[str, Any] | bytes) -> dict[str, Any]:
    """A stubbed InvokeEndpoint response."""
    from botocore.response import StreamingBody

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {"Body": StreamingBody(io.BytesIO(raw), len(raw)), "ContentType": "application/json"}


PREDICTION = {
    "model_version": "20261123T085637Z-fa793191",
    "predictions": [{"customer_id": "17850", "known": True, "recommendation_id": "rec-1",
                     "recommendations": [
                         {"product_id": "22834", "score": 1.05, "reason": "model", "name": "HAND WARMER BABUSHKA"},
                         {"product_id": "21034", "score": 1.01, "reason": "model"}]}],
}


@pytest.fixture(scope="session")
def runtime_client():
    """A real sagemaker-runtime client (dummy credentials, one attempt per call)."""
    from api.endpoint import make_client
    from api.settings import Settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
        client = make_client(Settings(endpoint_name="reco", max_attempts=1))   # credentials resolved here
    return client


@pytest.fixture
def stubbed(runtime_client):
    """(client, stubber): the client's responses are the ones the test queues."""
    from botocore.stub import Stubber

    with Stubber(runtime_client) as stubber:
        yield runtime_client, stubber


@pytest.fixture(scope="session")
def serve_url(trained_model_dir, tmp_path_factory):
    """The real `serve` on the model trained from the bundled sample (tests/conftest.py)."""
    from tests.api.serve_process import running_serve

    with running_serve(trained_model_dir, tmp_path_factory.mktemp("storefront_serve")) as url:
        yield url


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory):
    """One `moto_server` (a real process on 127.0.0.1) for the session's events tests."""
    import os

    from api.local_cognito import moto_server

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")          # boto3 signs; moto does not check
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture
def events_path(moto_url):
    """A fresh events path in moto (table, Firehose stream into a bucket, signing secret): api/local_events.py."""
    import uuid

    from api.local_events import provision_events

    return provision_events(moto_url, name=f"t{uuid.uuid4().hex[:12]}")


def events_api(local, client, **overrides):
    """(Api, the EMF lines' stream): the handler as the Lambda builds it (api.handler.build: its
    signing key read from moto's Secrets Manager, real DynamoDB and Firehose clients on moto) with
    the sagemaker-runtime `client` given (stubbed)."""
    from api.handler import build
    from api.metrics import LineWriter, Metrics
    from api.settings import Settings

    out = io.StringIO()
    settings = Settings(**{"endpoint_name": "reco", "allowed_origins": (ORIGIN,), "max_attempts": 1,
                           "token_issuer": ISSUER, "token_audiences": (CLIENT_ID,), **local.settings(), **overrides})
    return build(settings, Metrics(settings.metrics_namespace, LineWriter(out)), client), out
