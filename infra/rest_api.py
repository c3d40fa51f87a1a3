"""The Lambda (api/handler.py) and the REST API in front of it.

    POST /recommendations          anyone (this visit, similar products, best sellers)
    POST /me/recommendations       the authorizer: a signed-in shopper's own recommendations
    POST /staff/recommendations    the authorizer (+ the staff group, checked by the Lambda)
    POST /events                   anyone: the visit's events (with `events`, the default)
    POST /me/events                the authorizer: a signed-in shopper's events
    OPTIONS on each                CORS preflight, answered by the Lambda (no key, no token)

Not an open tap: stage throttling always on; a request validator with the model generated from
the request schemas (api/request.schema.json, api/events.schema.json); the Lambda's own body-size limit;
optionally an
API key + usage plan; API Gateway's own errors (401 without a valid token, throttled, missing key,
invalid body) are JSON and carry the CORS header so the page can show them; the Lambda may only
InvokeEndpoint on its one endpoint.
"""
from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Fn
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from api.identity import SIGN_IN
from api.schema import gateway_model

from .config import StackConfig

PUBLIC, SIGNED_IN = ("recommendations",), (("me", "recommendations"), ("staff", "recommendations"))
EVENTS, SIGNED_IN_EVENTS = ("events",), ("me", "events")


def _error_template(message: str, status: int) -> str:
    return '{"error": "%s", "status": %d, "request_id": "$context.requestId"}' % (message, status)


class StorefrontApi(Construct):
    """`.api` (RestApi), `.function`, `.api_key` (or None), `.url` (the /recommendations URL)."""

    def __init__(self, scope: Construct, cid: str, *, config: StackConfig, code_dir: Path, endpoint_name: str,
                 endpoint_arn: str, allowed_origin: str, authorizer: apigw.IAuthorizer,
                 auth_environment: dict[str, str]) -> None:
        super().__init__(scope, cid)
        log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.ONE_MONTH)
        self.log_group = log_group          # its EMF lines are the metrics (api/metrics.py, infra/dashboard.py)
        self.function = lambda_.Function(
            self, "Handler", runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64,
            handler="api.handler.lambda_handler", code=lambda_.Code.from_asset(str(code_dir)),
            memory_size=config.memory_mb, timeout=Duration.seconds(config.lambda_timeout), log_group=log_group,
            reserved_concurrent_executions=config.reserved_concurrency or None,
            description="alsreco storefront: POST /recommendations -> SageMaker endpoint; POST /events",
            environment={"ENDPOINT_NAME": endpoint_name, "ALLOWED_ORIGIN": allowed_origin,
                         "READ_TIMEOUT": str(config.read_timeout), "CONNECT_TIMEOUT": "2", "MAX_ATTEMPTS": "2",
                         "MAX_BODY_BYTES": str(config.max_body_bytes), "MAX_K": str(config.max_k),
                         "MAX_IDS": str(config.max_ids), **auth_environment})
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
        self.api.add_gateway_response(
            "Unauthorized", type=apigw.ResponseType.UNAUTHORIZED, status_code="401",
            response_headers={**cors, "WWW-Authenticate": "'Bearer'"},
            templates={"application/json": _error_template(SIGN_IN, 401)})

        integration = apigw.LambdaIntegration(self.function, proxy=True)
        model = self.api.add_model("RequestBody", content_type="application/json",
                                   schema=apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4))
        # the model is api/request.schema.json with the deployed limits, as written there
        model.node.default_child.add_property_override("Schema", gateway_model(config.max_k, config.max_ids))
        validator = self.api.add_request_validator("Body", validate_request_body=True,
                                                   validate_request_parameters=False)
        routes = [(parts, model, parts in SIGNED_IN) for parts in (PUBLIC, *SIGNED_IN)]
        if config.events:
            events_model = self.api.add_model("EventsBody", content_type="application/json",
                                              schema=apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4))
            events_model.node.default_child.add_property_override(
                "Schema", gateway_model(max_events=config.max_events, name="events"))   # api/events.schema.json
            routes += [(EVENTS, events_model, False), (SIGNED_IN_EVENTS, events_model, True)]
        self.resources: dict[str, apigw.Resource] = {}
        for parts, body_model, signed_in in routes:
            resource = self.api.root
            for part in parts:
                resource = resource.get_resource(part) or resource.add_resource(part)
            auth = {"authorizer": authorizer} if signed_in else {"authorization_type": apigw.AuthorizationType.NONE}
            resource.add_method("POST", integration, api_key_required=config.api_key, request_validator=validator,
                                request_models={"application/json": body_model}, **auth)
            resource.add_method("OPTIONS", integration, api_key_required=False,   # preflights carry no key
                                authorization_type=apigw.AuthorizationType.NONE)  # nor a token
            self.resources["/" + "/".join(parts)] = resource

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
        self.origin = Fn.join("", ["https://", self.api.rest_api_id, ".execute-api.", Fn.ref("AWS::Region"), ".",
                                   Fn.ref("AWS::URLSuffix")])
