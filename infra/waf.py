"""Abuse limits per client: an AWS WAF web ACL on the API stage with a rate-based rule per source IP.

The stage's throttling (10 req/s by default) protects the endpoint but is shared by everyone: one
scraper would use it up for every real visitor. The rate-based rule blocks an address that sends
more than `waf_rate_limit` requests in a 5-minute window (until its rate drops), answering 429 with
a JSON body (without a CORS header: the page reports that it could not reach the API). `-c waf=false`
leaves it out.
"""
from __future__ import annotations

import json

from aws_cdk import aws_wafv2 as waf
from constructs import Construct

from .config import StackConfig

BLOCKED = {"error": "too many requests from this address; try again in a few minutes", "status": 429}


def _visibility(name: str) -> waf.CfnWebACL.VisibilityConfigProperty:
    return waf.CfnWebACL.VisibilityConfigProperty(cloud_watch_metrics_enabled=True, metric_name=name,
                                                  sampled_requests_enabled=True)


class RateLimit(Construct):
    """`.acl` (CfnWebACL), associated with `stage_arn`."""

    def __init__(self, scope: Construct, cid: str, *, config: StackConfig, stage_arn: str) -> None:
        super().__init__(scope, cid)
        block = waf.CfnWebACL.RuleActionProperty(block=waf.CfnWebACL.BlockActionProperty(
            custom_response=waf.CfnWebACL.CustomResponseProperty(response_code=429,
                                                                 custom_response_body_key="TooMany")))
        self.acl = waf.CfnWebACL(
            self, "Acl", scope="REGIONAL", name="alsreco-storefront-api",
            description="alsreco storefront API: requests per client address",
            default_action=waf.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("alsreco-storefront-api"),
            custom_response_bodies={"TooMany": waf.CfnWebACL.CustomResponseBodyProperty(
                content_type="APPLICATION_JSON", content=json.dumps(BLOCKED))},
            rules=[waf.CfnWebACL.RuleProperty(
                name="RequestsPerIp", priority=0, action=block, visibility_config=_visibility("RequestsPerIp"),
                statement=waf.CfnWebACL.StatementProperty(rate_based_statement=waf.CfnWebACL.RateBasedStatementProperty(
                    limit=config.waf_rate_limit, aggregate_key_type="IP", evaluation_window_sec=300)))])
        waf.CfnWebACLAssociation(self, "Association", resource_arn=stage_arn, web_acl_arn=self.acl.attr_arn)
