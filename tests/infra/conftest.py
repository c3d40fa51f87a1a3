"""The stack synthesized offline by the app's own synth() (one jsii runtime for the session)."""
from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory):
    """{"default" | "api_key" | "oidc": (template, path)}."""
    from infra.app import synth

    out = {}
    for name, context in (("default", {}),
                          ("api_key", {"api_key": "true", "throttle_rate": 5, "throttle_burst": 8, "waf": "false",
                                       "events": "false", "retrain": "false"}),
                          ("oidc", {"oidc_issuer": "https://login.shop.example/", "oidc_audience": "storefront",
                                    "customer_claim": "crm_id", "groups_claim": "groups", "waf_rate_limit": 200})):
        outdir = tmp_path_factory.mktemp(f"cdk_{name}")
        template = synth(context, str(outdir))
        path = outdir / "AlsrecoStorefront.template.json"
        assert json.loads(path.read_text()) == template
        out[name] = (template, path)
    return out


@pytest.fixture(scope="session")
def template(synthesized):
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized["default"][0])


@pytest.fixture(scope="session")
def keyed(synthesized):
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized["api_key"][0])


@pytest.fixture(scope="session")
def oidc(synthesized):
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized["oidc"][0])
