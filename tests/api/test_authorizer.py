"""The OIDC token authorizer (api/authorizer.py) with a key set served on 127.0.0.1, and the handler
reading what it passes on: a retailer's own issuer instead of the stack's user pool."""
from __future__ import annotations

import json

import pytest

from api import authorizer as oidc
from api.handler import Api
from api.settings import AuthorizerSettings, ConfigError, Settings
from tests.api.conftest import Context, answer, proxy_event
from tests.api.test_jwt import _JwksServer
from tests.api.tokens import id_claims, jwk_of, new_key, sign

ISSUER = "https://login.shop.example/"
AUD = "storefront"
KEY = new_key()
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/me/recommendations"


@pytest.fixture(scope="module")
def authorizer():
    served = _JwksServer({"keys": [jwk_of(KEY, "shop-1")]})
    settings = AuthorizerSettings.from_env({"OIDC_ISSUER": ISSUER, "OIDC_AUDIENCES": f"{AUD}, other",
                                            "OIDC_JWKS_URL": served.url, "CUSTOMER_CLAIM": "crm_id",
                                            "GROUPS_CLAIM": "groups"})
    yield oidc.from_settings(settings)
    served.server.shutdown()


def token(**extra):
    return sign(id_claims(ISSUER, AUD, customer_id=None, crm_id="17850", groups=["staff"], **extra), KEY, "shop-1")


def test_a_good_token_is_allowed_on_the_whole_stage_with_its_claims(authorizer):
    out = authorizer({"type": "TOKEN", "authorizationToken": f"Bearer {token()}", "methodArn": METHOD_ARN})
    statement = out["policyDocument"]["Statement"][0]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow",
                         "Resource": "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*"}
    passed = json.loads(out["context"]["claims"])
    assert passed["crm_id"] == "17850" and passed["groups"] == ["staff"] and passed["iss"] == ISSUER
    assert "email" not in passed                            # only the claims the API uses travel on
    assert out["principalId"] == passed["sub"]


@pytest.mark.parametrize("bad", [
    "", "Bearer", "Basic dXNlcjpwYXNz",
    sign(id_claims(ISSUER, AUD), new_key(), "shop-1"),
    sign(id_claims(ISSUER, AUD), KEY, "shop-1", alg="none"),
    sign(id_claims(ISSUER, "not-ours"), KEY, "shop-1"),
    sign(id_claims(ISSUER, AUD, ttl=-5), KEY, "shop-1"),
    sign(id_claims("https://cognito-idp.eu-west-1.amazonaws.com/x", AUD), KEY, "shop-1"),
])
def test_anything_else_is_api_gateways_401(authorizer, bad):
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer({"type": "TOKEN", "authorizationToken": bad, "methodArn": METHOD_ARN})


def test_the_handler_reads_the_authorizers_context(stubbed, authorizer):
    client, stubber = stubbed
    context = authorizer({"type": "TOKEN", "authorizationToken": token(), "methodArn": METHOD_ARN})
    settings = Settings(endpoint_name="reco", max_attempts=1, customer_claim="crm_id", groups_claim="groups",
                        token_issuer=ISSUER, token_audiences=(AUD,))
    stubber.add_response("invoke_endpoint", answer({"model_version": "v", "predictions": [
        {"customer_id": "12346", "known": False, "recommendations": []}]}),
        {"EndpointName": "reco", "ContentType": "application/json", "Accept": "application/json",
         "Body": json.dumps({"customer_id": "12346"}).encode()})
    event = proxy_event({"customer_id": "12346"}, path="/staff/recommendations",
                        authorizer={"principalId": context["principalId"], **context["context"]})
    result = Api(settings, client)(event, Context())
    assert result["statusCode"] == 200, result["body"]
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("env, word", [
    ({}, "OIDC_ISSUER"),
    ({"OIDC_ISSUER": "http://login.example.com/", "OIDC_AUDIENCES": "a"}, "https"),
    ({"OIDC_ISSUER": "https://login.example.com/"}, "OIDC_AUDIENCES"),
])
def test_the_authorizer_needs_an_https_issuer_and_an_audience(env, word):
    with pytest.raises(ConfigError, match=word):
        AuthorizerSettings.from_env(env)


def test_a_misconfigured_authorizer_fails_closed(monkeypatch):
    monkeypatch.setattr(oidc, "_STATE", {})
    monkeypatch.delenv("OIDC_ISSUER", raising=False)
    with pytest.raises(Exception, match="^Unauthorized$"):
        oidc.lambda_handler({"authorizationToken": token(), "methodArn": METHOD_ARN}, None)


def test_stage_arn_of_a_method_arn():
    assert oidc.stage_arn(METHOD_ARN).endswith("abc123/prod/*/*")
    with pytest.raises(ValueError):
        oidc.stage_arn("nonsense")
