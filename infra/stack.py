"""The storefront stack: SageMaker endpoint + Lambda/REST API + the page's bucket and CDN; with
`events` (default) the shoppers' events path (infra/events.py) and the impact dashboard
(infra/dashboard.py); with `retrain` (default) the retraining pipeline (infra/retrain.py).

CloudFormation parameters (set at deploy time):
  ImageUri        the alsreco image in ECR (printed by build_and_push.sh)
  ModelDataUrl    s3://.../model.tar.gz of a training job
  InstanceType    default ml.m5.large          InstanceCount   default 1
  AllowedOrigin   the origin the page is served from; empty (default) = the stack's own CloudFront URL
  SalesDataUrl    (retrain) s3://bucket/prefix/ of the sales history the scheduled jobs train on
  RetrainSchedule (retrain) ENABLED (default) or DISABLED: the schedule's state
"""
from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnCondition, CfnOutput, CfnParameter, Fn, Stack
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from .auth import ShopperSignIn
from .config import StackConfig
from .dashboard import ImpactDashboard
from .events import DataBucket, ShopperEvents
from .model import Endpoint
from .page import PageSite
from .rest_api import StorefrontApi
from .retrain import Retraining
from .waf import RateLimit

ECR_IMAGE = r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})?$"
S3_URL = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$"
S3_PREFIX = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.*/)?$"
ORIGIN = r"^$|^\*$|^https?://[^\s,*/]+$"


class StorefrontStack(Stack):
    def __init__(self, scope: Construct, cid: str, *, config: StackConfig, code_dir: Path, **kwargs) -> None:
        super().__init__(scope, cid, **kwargs)
        image = CfnParameter(self, "ImageUri", type="String", allowed_pattern=ECR_IMAGE,
                             description="alsreco image URI in ECR, e.g. 123456789012.dkr.ecr.eu-west-1"
                                         ".amazonaws.com/alsreco:1a2b3c4",
                             constraint_description="an ECR image URI: <account>.dkr.ecr.<region>.amazonaws.com/"
                                                    "<repo>[:tag]")
        data = CfnParameter(self, "ModelDataUrl", type="String", allowed_pattern=S3_URL,
                            description="s3:// URL of the training job's model.tar.gz",
                            constraint_description="s3://bucket/key")
        instance_type = CfnParameter(self, "InstanceType", type="String", default="ml.m5.large",
                                     allowed_pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
                                     description="endpoint instance type")
        instance_count = CfnParameter(self, "InstanceCount", type="Number", default=1, min_value=1, max_value=10,
                                      description="endpoint instances")
        origin = CfnParameter(self, "AllowedOrigin", type="String", default="", allowed_pattern=ORIGIN,
                              description="origin allowed to call the API (CORS), e.g. https://shop.example.com; "
                                          "empty = this stack's CloudFront page URL; * = any (not recommended)",
                              constraint_description="empty, *, or http(s)://host[:port] without a path")

        page = PageSite(self, "Page")
        use_page = CfnCondition(self, "OriginIsThePage", expression=Fn.condition_equals(origin.value_as_string, ""))
        allowed_origin = Fn.condition_if(use_page.logical_id, page.origin, origin.value_as_string).to_string()

        endpoint = Endpoint(self, "Model", endpoint_name=config.endpoint_name, image_uri=image.value_as_string,
                            model_data_url=data.value_as_string, instance_type=instance_type.value_as_string,
                            instance_count=instance_count.value_as_number)
        sign_in = ShopperSignIn(self, "SignIn", config=config, code_dir=code_dir)
        api = StorefrontApi(self, "Storefront", config=config, code_dir=code_dir,
                            endpoint_name=endpoint.endpoint_name, endpoint_arn=endpoint.endpoint_arn,
                            allowed_origin=allowed_origin, authorizer=sign_in.authorizer,
                            auth_environment=sign_in.lambda_environment)
        page.allow_connections([api.origin, *sign_in.connect_origins])
        if config.waf:
            RateLimit(self, "RateLimit", config=config, stage_arn=api.api.deployment_stage.stage_arn)
        if config.events:
            self._events(config, api, endpoint, image.value_as_string, instance_type.value_as_string,
                         instance_count.value_as_number)

        CfnOutput(self, "ApiUrl", value=api.url, description="POST recommendations here")
        CfnOutput(self, "ApiBase", value=api.api.url, description="web/config.js apiBase")
        CfnOutput(self, "PageBucket", value=page.bucket.bucket_name, description="upload web/ here")
        CfnOutput(self, "PageUrl", value=page.origin + "/", description="the page")
        CfnOutput(self, "EndpointName", value=endpoint.endpoint_name)
        if sign_in.user_pool is not None:
            CfnOutput(self, "UserPoolId", value=sign_in.user_pool.user_pool_id,
                      description="add shoppers here (custom:customer_id) and staff to the staff group")
            CfnOutput(self, "UserPoolClientId", value=sign_in.client.user_pool_client_id,
                      description="web/config.js signIn.clientId")
            CfnOutput(self, "SignInEndpoint", value=sign_in.sign_in_endpoint,
                      description="web/config.js signIn.endpoint")
        page_config = {"apiBase": api.api.url, "apiKey": "",
                       "catalogueUrl": "catalogue.json", "signIn": None, "events": config.events}
        if sign_in.user_pool is not None:
            page_config["signIn"] = {"endpoint": sign_in.sign_in_endpoint, "staffGroup": config.staff_group,
                                     "clientId": sign_in.client.user_pool_client_id}
        CfnOutput(self, "PageConfig", value=self.to_json_string(page_config),
                  description="web/config.js: window.ALSRECO_CONFIG = <this>; (apiKey: with api_key=true)")
        if api.api_key is not None:
            CfnOutput(self, "ApiKeyId", value=api.api_key.key_id,
                      description="aws apigateway get-api-key --include-value --api-key <id>")

    def _events(self, config: StackConfig, api: StorefrontApi, endpoint: Endpoint, image_uri: str,
                instance_type: str, instance_count) -> None:
        """The events path, the dashboard and (`retrain`) the retraining pipeline."""
        data = DataBucket(self, "Data", config=config)
        events = ShopperEvents(self, "Events", config=config, data=data)
        events.grant(api.function)
        retrain = None
        if config.retrain:
            sales = CfnParameter(self, "SalesDataUrl", type="String", allowed_pattern=S3_PREFIX,
                                 description="s3://bucket/prefix/ of the sales history the scheduled retraining "
                                             "trains on (the training channel)",
                                 constraint_description="s3://bucket/ or s3://bucket/prefix/ (ending in /)")
            state = CfnParameter(self, "RetrainSchedule", type="String", default="ENABLED",
                                 allowed_values=["ENABLED", "DISABLED"],
                                 description="the retraining schedule's state: DISABLED switches it off")
            retrain = Retraining(self, "Retrain", config=config, data=data, endpoint=endpoint, image_uri=image_uri,
                                 sales_url=sales.value_as_string, instance_type=instance_type,
                                 instance_count=instance_count, schedule_state=state.value_as_string)
            # a stack update of the model deploys with the same guardrail as the pipeline
            endpoint.endpoint.deployment_config = sagemaker.CfnEndpoint.DeploymentConfigProperty(
                auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                    alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=retrain.alarm.alarm_name)]),
                blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                    traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                        type="ALL_AT_ONCE", wait_interval_in_seconds=600),
                    termination_wait_in_seconds=300, maximum_execution_timeout_in_seconds=4500))
            CfnOutput(self, "RetrainStateMachine", value=retrain.state_machine.state_machine_arn,
                      description="aws stepfunctions start-execution --state-machine-arn <this> (a run now)")
            CfnOutput(self, "LiveNdcgParameter", value=retrain.live_ndcg.parameter_name,
                      description="the live model's held-out NDCG@10 (the quality gate's bar)")
        dashboard = ImpactDashboard(self, "Impact", namespace=config.metrics_namespace, log_group=api.log_group,
                                    rollback_alarm=retrain.alarm if retrain else None,
                                    endpoint_name=endpoint.endpoint_name)
        CfnOutput(self, "EventsTable", value=events.table.table_name)
        CfnOutput(self, "EventsUrl", value=data.events_url, description="the events channel's S3 prefix")
        CfnOutput(self, "Dashboard", value=dashboard.dashboard.dashboard_name)
