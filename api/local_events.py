"""The events path on this machine, for `make web`, the tests and the benchmarks: in a running
`moto_server` (api/local_cognito.py), what the stack deploys (infra/events.py) - the shoppers'
events table (key `pk`, on-demand, TTL on `expires_at`), a bucket, a Firehose stream landing JSON
Lines under `events/` in it (moto writes each batch at once, under the same YYYY/MM/DD/HH/ prefix
Firehose uses), and the secret that signs session and recommendation ids.

Not part of the Lambda: it needs boto3 and moto (requirements-dev.txt).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .local_cognito import REGION

PREFIX = "events/"
TTL_ATTRIBUTE = "expires_at"


@dataclass
class LocalEvents:
    endpoint: str
    name: str = "alsreco"                 # what the resources' names start with
    secret_arn: str = ""
    prefix: str = PREFIX

    @property
    def table(self) -> str:
        return f"{self.name}-shopper-events"

    @property
    def stream(self) -> str:
        return f"{self.name}-events"

    @property
    def bucket(self) -> str:
        return f"{self.name}-data-local"

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint, aws_access_key_id="local",
                            aws_secret_access_key="local")

    def settings(self) -> dict[str, Any]:
        """The api.settings.Settings fields that point the Lambda at these."""
        return {"events_table": self.table, "events_stream": self.stream, "signing_secret_arn": self.secret_arn,
                "events_endpoint_url": self.endpoint, "region": REGION}

    def keys(self) -> list[str]:
        """The objects Firehose wrote under the prefix, oldest name first."""
        s3 = self.client("s3")
        out: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return sorted(out)

    def download(self, target: Path) -> list[Path]:
        """Every object under the prefix into `target`, at its path below the prefix - what a
        SageMaker training job's S3 channel does with the prefix."""
        s3 = self.client("s3")
        written = []
        for key in self.keys():
            path = Path(target) / key[len(self.prefix):]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            written.append(path)
        return written


def provision_events(endpoint: str, name: str = "alsreco") -> LocalEvents:
    """The table, bucket, stream and signing secret on the moto server at `endpoint`, their names
    starting with `name` (lower case letters, digits and '-')."""
    events = LocalEvents(endpoint=endpoint, name=name)
    ddb = events.client("dynamodb")
    ddb.create_table(TableName=events.table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.update_time_to_live(TableName=events.table, TimeToLiveSpecification={"Enabled": True,
                                                                      "AttributeName": TTL_ATTRIBUTE})
    events.client("s3").create_bucket(Bucket=events.bucket)
    events.client("firehose").create_delivery_stream(
        DeliveryStreamName=events.stream, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/alsreco-events-local",
            "BucketARN": f"arn:aws:s3:::{events.bucket}",
            "Prefix": PREFIX, "ErrorOutputPrefix": "events-errors/!{firehose:error-output-type}/",
            "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 5}, "CompressionFormat": "UNCOMPRESSED"})
    events.secret_arn = events.client("secretsmanager").create_secret(
        Name=f"{name}-signing-key", SecretString=secrets.token_urlsafe(48))["ARN"]
    return events
