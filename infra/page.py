"""A private S3 bucket for the page (web/ + config.js + catalogue.json), served over HTTPS by
CloudFront with origin access control (the bucket itself is never public)."""
from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct


class PageSite(Construct):
    """`.bucket`, `.distribution`, `.origin` (https://<distribution domain>)."""

    def __init__(self, scope: Construct, cid: str) -> None:
        super().__init__(scope, cid)
        self.bucket = s3.Bucket(self, "Bucket", block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                                encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True, versioned=False,
                                removal_policy=RemovalPolicy.RETAIN)
        self.distribution = cloudfront.Distribution(
            self, "Cdn", default_root_object="index.html", comment="alsreco storefront page",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED),
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021)
        self.origin = f"https://{self.distribution.distribution_domain_name}"
