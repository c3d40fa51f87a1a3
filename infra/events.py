"""The events side of the storefront (docs/live.md): where shoppers' events go.

* `DataBucket`: a private bucket for the events Firehose lands (`events/YYYY/MM/DD/HH/`, gzip JSON
  Lines, kept `events_retention_days`) and for the retraining jobs' output (`training/`).
* `ShopperEvents`: the DynamoDB table of each shopper's recent events (key `pk`, on-demand, TTL on
  `expires_at`); the Firehose stream into the bucket; the Secrets Manager secret that signs session
  and recommendation ids; and what the Lambda may do with them - read and update items of that
  table, put records to that stream, read that secret - and the environment it reads them from
  (api/settings.py).
"""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .config import StackConfig

EVENTS_PREFIX = "events/"
TRAINING_PREFIX = "training/"
# the default layout Firehose would use, spelt out because the error prefix uses expressions too
STREAM_PREFIX = EVENTS_PREFIX + "!{timestamp:yyyy/MM/dd/HH}/"
ERROR_PREFIX = "events-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
TTL_ATTRIBUTE = "expires_at"
CIDR_MAPPING = "@aws-cdk--aws-kinesisfirehose.CidrBlocks"


class DataBucket(Construct):
    """`.bucket`: events under events/, training output under training/."""

    def __init__(self, scope: Construct, cid: str, *, config: StackConfig) -> None:
        super().__init__(scope, cid)
        self.bucket = s3.Bucket(
            self, "Bucket", block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True, versioned=False,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(id="EventsAge", prefix=EVENTS_PREFIX,
                                              expiration=Duration.days(config.events_retention_days)),
                             s3.LifecycleRule(id="ErrorsAge", prefix="events-errors/", expiration=Duration.days(30))])

    @property
    def events_url(self) -> str:
        return f"s3://{self.bucket.bucket_name}/{EVENTS_PREFIX}"


class ShopperEvents(Construct):
    """`.table`, `.stream`, `.secret`; `grant(function)` lets the storefront Lambda use them."""

    def __init__(self, scope: Construct, cid: str, *, config: StackConfig, data: DataBucket) -> None:
        super().__init__(scope, cid)
        self.config = config
        self.table = dynamodb.Table(
            self, "Table", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute=TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.AWS_MANAGED, removal_policy=RemovalPolicy.DESTROY)
        self.stream = firehose.DeliveryStream(
            self, "Stream", destination=firehose.S3Bucket(
                data.bucket, data_output_prefix=STREAM_PREFIX, error_output_prefix=ERROR_PREFIX,
                compression=firehose.Compression.GZIP, buffering_interval=Duration.seconds(300),
                buffering_size=Size.mebibytes(64)))
        # the L2 adds a mapping of Firehose's addresses for destinations that allow-list them (Redshift,
        # OpenSearch); an S3 destination never reads it, and cfn-lint flags it unused (W7001)
        Stack.of(self).node.try_remove_child(CIDR_MAPPING)
        self.secret = secretsmanager.Secret(
            self, "SigningKey", description="alsreco storefront: signs visitors' session ids and lists' "
                                            "recommendation ids (api/signing.py)",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64,
                                                                        exclude_punctuation=True))

    def grant(self, function: lambda_.Function) -> None:
        """The Lambda may read and update its table's items, put to its stream and read its key."""
        function.add_to_role_policy(iam.PolicyStatement(actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                                                        resources=[self.table.table_arn]))
        function.add_to_role_policy(iam.PolicyStatement(actions=["firehose:PutRecordBatch"],
                                                        resources=[self.stream.delivery_stream_arn]))
        function.add_to_role_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"],
                                                        resources=[self.secret.secret_arn]))
        for name, value in {"EVENTS_TABLE": self.table.table_name, "EVENTS_STREAM": self.stream.delivery_stream_name,
                            "SIGNING_SECRET_ARN": self.secret.secret_arn,
                            "VISIT_TTL_HOURS": str(self.config.visit_ttl_hours),
                            "MAX_EVENTS": str(self.config.max_events),
                            "METRICS_NAMESPACE": self.config.metrics_namespace}.items():
            function.add_environment(name, value)
