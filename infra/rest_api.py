"""The Lambda (api/handler.py) and the REST API in front of it: POST + OPTIONS /recommendations.

Not an open tap: stage throttling always on; a JSON-schema request validator on the body (types,
list and id lengths); the Lambda's own body-size limit; optionally an API key + usage plan; API
Gateway's own errors (throttled, missing key, invalid body) carry the CORS header so the page can
show them; the Lambda may only InvokeEndpoint on its one endpoint.
"""
from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Fn
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .config import StackConfig

ID = {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 64}, {"type": "number"}]}


def body_schema(config: StackConfig) -> apigw.JsonSchema:
    """What API Gateway checks before the Lambda runs (the Lambda checks again, with messages)."""
    ids = apigw.JsonSchema(type=apigw.JsonSchemaType.ARRAY, max_items=config.max_ids,
                           items=apigw.JsonSchema(one_of=[
                               apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=64),
                               apigw.JsonSchema(type=apigw.JsonSchemaType.NUMBER)]))
    one_id = apigw.JsonSchema(one_of=[
        apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=64),
        apigw.JsonSchema(type=apigw.JsonSchemaType.NUMBER)])
    integer = apigw.JsonSchemaType.INTEGER
    return apigw.JsonSchema(
        schema=apigw.JsonSchemaVersion.DRAFT4, title="RecommendationRequest", type=apigw.JsonSchemaType.OBJECT,
        additional_properties=False,
        properties={
            "customer_id": one_id, "item_id": one_id,
            "items": ids, "item_ids": ids, "exclude_items": ids, "include_items": ids, "candidates": ids,
            "k": apigw.JsonSchema(type=integer, minimum=1, maximum=config.max_k),
            "exclude_popular": apigw.JsonSchema(type=integer, minimum=0, maximum=1_000_000),
            "include_new": apigw.JsonSchema(type=integer, minimum=0, maximum=config.max_k),
            "exclude_purchased": apigw.JsonSchema(type=apigw.JsonSchemaType.BOOLEAN),
        })


class StorefrontApi(Construct):
    """`.api` (RestApi), `.function`, `.api_key` (or None), `.url` (the /recommendations URL)."""

    def __init__(self, scope: Construct, cid: str, *, config: StackConfig, code_dir: Path, endpoint_name: str,
                 endpoint_arn: str, allowed_origin: str) -> None:
        super().__init__(scope, cid)
        log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.ONE_MONTH)
        self.function = lambda_.Function(
            self, "Handler", runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64,
            handler="api.handler.lambda_handler", code=lambda_.Code.from_asset(str(code_dir)),
            memory_size=config.memory_mb, timeout=Duration.seconds(config.lambda_timeout), log_group=log_group,
            reserved_concurrent_executions=config.reserved_concurrency or None,
            description="alsreco storefront: POST /recommendations -> SageMaker endpoint",
            environment={"ENDPOINT_NAME": endpoint_name, "ALLOWED_ORIGIN": allowed_origin,
                         "READ_TIMEOUT": str(config.read_timeout), "CONNECT_TIMEOUT": "2", "MAX_ATTEMPTS": "2",
                         "MAX_BODY_BYTES": str(config.max_body_bytes), "MAX_K": str(config.max_k),
                         "MAX_IDS": str(config.max_ids)})
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"],
                                                             resources=[endpoint_arn]))
        # CDK makes the function DependsOn its role too, already implied by Fn::GetAtt (cfn-lint W3005):
        # keep only the policy (the function must not run before it may call the endpoint).
        default_policy = self.function.role.node.find_child("DefaultPolicy").node.default_child
        self.function.node.default_child.add_override("DependsOn", [default_policy.logical_id])

        self.api = apigw.RestApi(
            self, "Api", rest_api_name="alsreco-storefront", description="Product recommendations for the page",
            endpoint_types=[apigw.EndpointType.REGIONAL], cloud_watch_role=False,
            deploy_options=apigw.StageOptions(stage_name="prod", throttling_rate_limit=config.throttle_rate,
                                              throttling_burst_limit=config.throttle_burst))
        quoted_origin = Fn.join("", ["'", allowed_origin, "'"])
        cors = {"Access-Control-Allow-Origin": quoted_origin, "Vary": "'Origin'"}
        error_body = '{"error": $context.error.messageString, "status": "$context.error.responseType", ' \
                     '"request_id": "$context.requestId"}'
        for name, rtype in (("Default4xx", apigw.ResponseType.DEFAULT_4_XX),
                            ("Default5xx", apigw.ResponseType.DEFAULT_5_XX)):
            self.api.add_gateway_response(name, type=rtype, response_headers=cors,
                                          templates={"application/json": error_body})
        self.api.add_gateway_response(
            "BadBody", type=apigw.ResponseType.BAD_REQUEST_BODY, response_headers=cors,
            templates={"application/json": '{"error": "$context.error.validationErrorString", "status": 400, '
                                           '"request_id": "$context.requestId"}'})

        integration = apigw.LambdaIntegration(self.function, proxy=True)
        resource = self.api.root.add_resource("recommendations")
        model = self.api.add_model("RequestBody", content_type="application/json", schema=body_schema(config))
        validator = self.api.add_request_validator("Body", validate_request_body=True,
                                                   validate_request_parameters=False)
        resource.add_method("POST", integration, api_key_required=config.api_key, request_validator=validator,
                            request_models={"application/json": model})
        resource.add_method("OPTIONS", integration, api_key_required=False)   # preflights carry no key

        self.api_key = None
        if config.api_key:
            plan = self.api.add_usage_plan(
                "Plan", name="alsreco-storefront",
                throttle=apigw.ThrottleSettings(rate_limit=config.throttle_rate, burst_limit=config.throttle_burst),
                quota=apigw.QuotaSettings(limit=config.quota_per_day, period=apigw.Period.DAY))
            plan.add_api_stage(stage=self.api.deployment_stage)
            self.api_key = self.api.add_api_key("Key", description="the storefront page's key")
            plan.add_api_key(self.api_key)
        self.url = self.api.url_for_path("/recommendations")
