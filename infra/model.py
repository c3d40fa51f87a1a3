"""The SageMaker Model, EndpointConfig and Endpoint, and the role the endpoint runs as."""
from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct


def ecr_repository_arn(image_uri: str) -> str:
    """arn:aws:ecr:<region>:<account>:repository/<name> from <account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>."""
    host, rest = Fn.select(0, Fn.split("/", image_uri)), Fn.select(1, Fn.split("/", image_uri))
    account, region = Fn.select(0, Fn.split(".", host)), Fn.select(3, Fn.split(".", host))
    name = Fn.select(0, Fn.split(":", Fn.select(0, Fn.split("@", rest))))
    return Fn.join("", ["arn:", Aws.PARTITION, ":ecr:", region, ":", account, ":repository/", name])


def _s3_object_arn(url: str) -> str:
    return Fn.join("", ["arn:", Aws.PARTITION, ":s3:::", Fn.select(1, Fn.split("s3://", url))])


class Endpoint(Construct):
    """`.endpoint_name` and `.endpoint_arn` of a real-time endpoint serving the image + model data;
    `.role`, the role its models run as, and `.policy`, what that role may do; `.endpoint`, the CfnEndpoint."""

    def __init__(self, scope: Construct, cid: str, *, endpoint_name: str, image_uri: str, model_data_url: str,
                 instance_type: str, instance_count) -> None:
        super().__init__(scope, cid)
        role = iam.Role(self, "ExecutionRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                        description="alsreco endpoint: pull its image, read its model data, write its logs")
        self.role = role
        stack = Stack.of(self)
        policy = iam.Policy(self, "ExecutionPolicy", roles=[role], statements=[
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[_s3_object_arn(model_data_url)]),
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[ecr_repository_arn(image_uri)]),
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),   # account-wide by design
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[stack.format_arn(service="logs", resource="log-group",
                                            resource_name="/aws/sagemaker/Endpoints/*",
                                            arn_format=ArnFormat.COLON_RESOURCE_NAME)]),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"], resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints*", "AWS/SageMaker"]}}),
        ])

        model = sagemaker.CfnModel(self, "Model", execution_role_arn=role.role_arn,
                                   primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                                       image=image_uri, model_data_url=model_data_url))
        model.node.add_dependency(policy)     # SageMaker checks the role's access when the model is created
        self.policy = policy
        config = sagemaker.CfnEndpointConfig(self, "Config", production_variants=[
            sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name="AllTraffic", model_name=model.attr_model_name, initial_variant_weight=1.0,
                instance_type=instance_type, initial_instance_count=instance_count)])
        self.endpoint = sagemaker.CfnEndpoint(self, "Endpoint", endpoint_name=endpoint_name,
                                              endpoint_config_name=config.attr_endpoint_config_name)
        self.endpoint_name = endpoint_name
        self.endpoint_arn = Stack.of(self).format_arn(service="sagemaker", resource="endpoint",
                                                      resource_name=endpoint_name)
