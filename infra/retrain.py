"""Retraining that runs itself: an EventBridge Scheduler schedule starts a Step Functions state machine
(infra/pipeline.py) that trains on the sales history and the events, gates on held-out NDCG@10 and
deploys blue/green with automatic rollback on the endpoint's 5xx alarm.

Resources: the schedule (its state a CloudFormation parameter: `RetrainSchedule=DISABLED` switches
it off), the state machine and its role, the training jobs' role, the SSM parameter holding the live
model's NDCG@10 (the gate's bar), and the rollback alarm. Every role may touch only what it needs:
the training role reads the sales prefix and the events prefix and writes under training/; the
state machine runs training jobs, models and endpoint configs named alsreco-*, updates the one
endpoint, reads and writes its parameter and passes the two roles to SageMaker.
"""
from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .config import StackConfig
from .events import EVENTS_PREFIX, TRAINING_PREFIX, DataBucket
from .model import Endpoint, ecr_repository_arn
from .pipeline import VARIANT, definition

NAMES = "alsreco-*"       # what the state machine names its jobs, models and endpoint configs


def _s3_prefix_arn(url: str) -> str:
    """arn:aws:s3:::bucket/prefix* of s3://bucket/prefix."""
    return Fn.join("", ["arn:", Aws.PARTITION, ":s3:::", Fn.select(1, Fn.split("s3://", url)), "*"])


def _s3_bucket_arn(url: str) -> str:
    return Fn.join("", ["arn:", Aws.PARTITION, ":s3:::", Fn.select(2, Fn.split("/", url))])


class Retraining(Construct):
    """`.state_machine`, `.schedule`, `.alarm` (the rollback alarm), `.live_ndcg` (SSM parameter)."""

    def __init__(self, scope: Construct, cid: str, *, config: StackConfig, data: DataBucket, endpoint: Endpoint,
                 image_uri: str, sales_url: str, instance_type: str, instance_count, schedule_state: str) -> None:
        super().__init__(scope, cid)
        stack = Stack.of(self)
        self.alarm = cloudwatch.Alarm(
            self, "Endpoint5xx", alarm_description="alsreco: the endpoint answers 5xx; a deployment in its baking "
                                                   "period is rolled back (infra/pipeline.py)",
            metric=cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="Invocation5XXErrors",
                                     dimensions_map={"EndpointName": endpoint.endpoint_name, "VariantName": VARIANT},
                                     statistic="Sum", period=Duration.minutes(1)),
            threshold=config.rollback_5xx, evaluation_periods=1, datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        self.live_ndcg = ssm.StringParameter(
            self, "LiveNdcg", string_value="0", description="alsreco: held-out NDCG@10 of the model the endpoint "
                                                             "serves (the retraining gate's bar; 0 = any model)")
        training_role = self._training_role(data, image_uri, sales_url)
        endpoint.policy.add_statements(iam.PolicyStatement(                    # the endpoint loads new models
            actions=["s3:GetObject"], resources=[data.bucket.arn_for_objects(TRAINING_PREFIX + "*")]))
        asl = definition(
            image=image_uri, sales_url=sales_url, events_url=data.events_url,
            output_url=f"s3://{data.bucket.bucket_name}/{TRAINING_PREFIX}", training_role=training_role.role_arn,
            model_role=endpoint.role.role_arn, training_instance=config.training_instance_type,
            training_hours=config.training_hours, endpoint_name=endpoint.endpoint_name, instance_type=instance_type,
            instance_count=instance_count, alarm_name=self.alarm.alarm_name,
            live_parameter=self.live_ndcg.parameter_name)
        role = iam.Role(self, "PipelineRole", assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                        description="alsreco retraining state machine")
        arn = lambda kind, name: stack.format_arn(service="sagemaker", resource=kind, resource_name=name)  # noqa: E731
        for actions, resources in (
                (["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                  "sagemaker:AddTags", "sagemaker:ListTags"], [arn("training-job", NAMES)]),
                (["sagemaker:CreateModel"], [arn("model", NAMES)]),
                (["sagemaker:CreateEndpointConfig"], [arn("endpoint-config", NAMES)]),
                (["sagemaker:UpdateEndpoint"], [arn("endpoint", endpoint.endpoint_name),
                                                arn("endpoint-config", NAMES)]),
                (["sagemaker:DescribeEndpoint"], [arn("endpoint", endpoint.endpoint_name)]),
                (["ssm:GetParameter", "ssm:PutParameter"], [self.live_ndcg.parameter_arn]),
                (["cloudwatch:DescribeAlarms"], [self.alarm.alarm_arn]),
                (["events:PutTargets", "events:PutRule", "events:DescribeRule"],   # what .sync waits with
                 [stack.format_arn(service="events", resource="rule",
                                   resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule")])):
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        role.add_to_policy(iam.PolicyStatement(
            actions=["iam:PassRole"], resources=[training_role.role_arn, endpoint.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
        self.state_machine = sfn.StateMachine(
            self, "Pipeline", state_machine_name="alsreco-retrain", role=role,
            definition_body=sfn.DefinitionBody.from_string(stack.to_json_string(asl)),
            comment="alsreco: retrain, gate on held-out NDCG, deploy blue/green with rollback")
        # CDK makes it DependsOn its role too, already implied by Fn::GetAtt (cfn-lint W3005): the policy only
        policy = role.node.find_child("DefaultPolicy").node.default_child
        self.state_machine.node.default_child.add_override("DependsOn", [policy.logical_id])
        self.schedule = scheduler.Schedule(
            self, "Schedule", schedule=scheduler.ScheduleExpression.expression(config.retrain_schedule),
            target=targets.StepFunctionsStartExecution(
                self.state_machine, input=scheduler.ScheduleTargetInput.from_object({"started_by": "schedule"})),
            description="alsreco: retrain the recommendations model (RetrainSchedule=DISABLED switches it off)")
        self.schedule.node.default_child.add_property_override("State", schedule_state)

    def _training_role(self, data: DataBucket, image_uri: str, sales_url: str) -> iam.Role:
        role = iam.Role(self, "TrainingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                        description="alsreco training jobs: read sales and events, write the model")
        stack = Stack.of(self)
        for actions, resources, conditions in (
                (["s3:GetObject"], [_s3_prefix_arn(sales_url), data.bucket.arn_for_objects(EVENTS_PREFIX + "*")],
                 None),
                (["s3:ListBucket"], [_s3_bucket_arn(sales_url), data.bucket.bucket_arn], None),
                (["s3:PutObject"], [data.bucket.arn_for_objects(TRAINING_PREFIX + "*")], None),
                (["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                 [ecr_repository_arn(image_uri)], None),
                (["ecr:GetAuthorizationToken"], ["*"], None),                 # account-wide by design
                (["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                 [stack.format_arn(service="logs", resource="log-group", resource_name="/aws/sagemaker/TrainingJobs*",
                                   arn_format=ArnFormat.COLON_RESOURCE_NAME)], None),
                (["cloudwatch:PutMetricData"], ["*"],
                 {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/TrainingJobs*"]}})):
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions))
        return role
