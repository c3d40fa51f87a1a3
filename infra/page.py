"""A private S3 bucket for the page (web/ + config.js + catalogue.json), served over HTTPS by
CloudFront with origin access control (the bucket itself is never public), with the page's
security headers (api/page_headers.py): a Content-Security-Policy whose `connect-src` names the
API and the sign-in service only, nosniff, no framing, a referrer policy and HSTS."""
from __future__ import annotations

from typing import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from api.page_headers import content_security_policy


class PageSite(Construct):
    """`.bucket`, `.distribution`, `.origin` (https://<distribution domain>); `allow_connections`
    names the origins the page may call (known only once the API exists)."""

    CSP_PATH = "ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy"

    def __init__(self, scope: Construct, cid: str) -> None:
        super().__init__(scope, cid)
        self.bucket = s3.Bucket(self, "Bucket", block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                                encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True, versioned=False,
                                removal_policy=RemovalPolicy.RETAIN)
        headers = cloudfront.ResponseHeadersPolicy(
            self, "Headers", comment="alsreco storefront page: CSP and security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(()), override=True),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True)))
        self.distribution = cloudfront.Distribution(
            self, "Cdn", default_root_object="index.html", comment="alsreco storefront page",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED, response_headers_policy=headers),
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021)
        self.headers = headers
        self.origin = f"https://{self.distribution.distribution_domain_name}"

    def allow_connections(self, connect_to: Sequence[str]) -> None:
        """The CSP's connect-src: the page's own origin and `connect_to`."""
        self.headers.node.default_child.add_property_override(self.CSP_PATH, content_security_policy(connect_to))
