"""The synthesized stack's events side and retraining (issue 26): the events table, the stream, the
routes, the schedule, the state machine's steps and its quality gate, the rollback alarm, the
dashboard; what each new role may do; and how each part is switched off."""
from __future__ import annotations

import json
import logging
import re

import pytest

from api.metrics import COUNTED, NAMESPACE
from infra.config import ContextError, StackConfig
from infra.pipeline import METRIC, METRIC_REGEX
from tests.infra.test_stack import handler_function, methods, resources


def one(template, rtype):
    (lid, res), = resources(template, rtype).items()
    return lid, res["Properties"]


def rendered(value) -> str:
    """A Fn::Join'ed string with each token as <...> (inside JSON strings) or "<...>" (as a value)."""
    if isinstance(value, str):
        return value
    out, inside = [], False
    for part in value["Fn::Join"][1]:
        if isinstance(part, str):
            out.append(part)
            inside ^= len(re.findall(r'(?<!\\)"', part.replace("\\\\", ""))) % 2 == 1
        else:
            token = "<" + json.dumps(part, sort_keys=True).replace('"', "'") + ">"
            out.append(token if inside else json.dumps(token))
    return "".join(out)


@pytest.fixture(scope="module")
def asl(template):
    _, props = one(template, "AWS::StepFunctions::StateMachine")
    return json.loads(rendered(props["DefinitionString"]))


def test_the_events_table_is_on_demand_with_a_ttl(template):
    _, table = one(template, "AWS::DynamoDB::Table")
    assert table["BillingMode"] == "PAY_PER_REQUEST" and "ProvisionedThroughput" not in table
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    env = handler_function(template)["Properties"]["Environment"]["Variables"]
    assert env["EVENTS_TABLE"] == {"Ref": one(template, "AWS::DynamoDB::Table")[0]}
    assert (env["VISIT_TTL_HOURS"], env["MAX_EVENTS"], env["METRICS_NAMESPACE"]) == ("24", "25", NAMESPACE)
    assert env["SIGNING_SECRET_ARN"] == {"Ref": one(template, "AWS::SecretsManager::Secret")[0]}


def test_the_stream_lands_gzip_json_lines_in_the_data_bucket_by_date(template):
    stream_id, stream = one(template, "AWS::KinesisFirehose::DeliveryStream")
    dest = stream["ExtendedS3DestinationConfiguration"]
    bucket = dest["BucketARN"]["Fn::GetAtt"][0]
    assert dest["Prefix"] == "events/!{timestamp:yyyy/MM/dd/HH}/"           # Firehose's own layout, in UTC
    assert dest["ErrorOutputPrefix"].startswith("events-errors/!{firehose:error-output-type}/")
    assert dest["CompressionFormat"] == "GZIP"
    assert dest["BufferingHints"] == {"IntervalInSeconds": 300, "SizeInMBs": 64}
    data = resources(template, "AWS::S3::Bucket")[bucket]["Properties"]
    assert data["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    rules = {r["Id"]: r for r in data["LifecycleConfiguration"]["Rules"]}
    assert rules["EventsAge"]["Prefix"] == "events/" and rules["EventsAge"]["ExpirationInDays"] == 400
    env = handler_function(template)["Properties"]["Environment"]["Variables"]
    assert env["EVENTS_STREAM"] == {"Ref": stream_id}
    assert "!{timestamp" not in json.dumps(template.find_outputs("EventsUrl"))


def test_the_events_routes_follow_the_recommendations_identity_rules(template):
    found = methods(template)
    authorizer = next(iter(resources(template, "AWS::ApiGateway::Authorizer")))
    assert found[("/events", "POST")]["AuthorizationType"] == "NONE"
    assert found[("/me/events", "POST")]["AuthorizerId"] == {"Ref": authorizer}
    config = json.dumps(template.find_outputs("PageConfig"))
    assert '\\"events\\":true' in config


def test_the_schedule_starts_the_state_machine_and_a_parameter_switches_it_off(template):
    _, schedule = one(template, "AWS::Scheduler::Schedule")
    machine, _ = one(template, "AWS::StepFunctions::StateMachine")
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["State"] == {"Ref": "RetrainSchedule"}
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["Arn"] == {"Ref": machine} and json.loads(schedule["Target"]["Input"])
    template.has_parameter("RetrainSchedule", {"Default": "ENABLED", "AllowedValues": ["ENABLED", "DISABLED"]})
    template.has_parameter("SalesDataUrl", {"Type": "String"})
    target_role = resources(template, "AWS::IAM::Role")[schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]]
    assert "scheduler.amazonaws.com" in json.dumps(target_role["Properties"]["AssumeRolePolicyDocument"])


def test_the_state_machine_trains_gates_and_deploys_in_that_order(asl):
    states, path, at = asl["States"], [], asl["StartAt"]
    while at in states and states[at]["Type"] not in ("Succeed", "Fail"):
        path.append(at)
        state = states[at]
        at = state["Choices"][-1]["Next"] if at == "Deployed?" else \
            state.get("Next") or state["Choices"][0]["Next"]
    assert path + [at] == ["Name", "LiveNdcg", "Train", "HasMetrics", "Ndcg", "HasNdcg", "QualityGate", "CreateModel",
                           "CreateEndpointConfig", "UpdateEndpoint", "Wait", "Describe", "Deployed?", "RolledBack"]
    deployed = states["Deployed?"]["Choices"]
    assert deployed[0]["Next"] == "Wait" and deployed[1]["Next"] == "RecordLive"
    assert deployed[1]["And"][1] == {"Variable": "$.endpoint.config", "StringEqualsPath": "$.run.name"}
    assert states["RecordLive"]["Next"] == "Done" and states["Done"]["Type"] == "Succeed"
    train = states["Train"]
    assert train["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"     # waits for the job
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in train["Parameters"]["InputDataConfig"]}
    assert channels["training"] == "<{'Ref': 'SalesDataUrl'}>" and channels["events"].endswith("/events/")
    assert train["Catch"][0]["Next"] == "TrainingFailed"
    for name in ("TrainingFailed", "NoEvaluation", "WorseModel", "RolledBack", "UpdateFailed"):
        assert states[name]["Type"] == "Fail" and states[name]["Error"] == name
        assert states[name].get("Cause") or states[name].get("CausePath")          # the run says why


def test_the_gate_compares_the_held_out_ndcg_train_logs_with_the_live_models(asl, caplog):
    from alsreco.train.evaluate import log_metrics

    states = asl["States"]
    train = states["Train"]
    (metric,) = train["Parameters"]["AlgorithmSpecification"]["MetricDefinitions"]
    assert metric == {"Name": METRIC, "Regex": METRIC_REGEX}
    with caplog.at_level(logging.INFO):                      # the very line `train` writes
        log_metrics({"k": 10, "protocol": "time_window", "window_start": "a", "window_end": "b",
                     "test_customers": 120, "model": {"ndcg_at_10": 0.123456}, "popularity": {"ndcg_at_10": 0.1},
                     "served": {"ndcg_at_10": 0.131313},
                     "served_vs_baselines": {"popularity": {"diff": 0.031313, "ci95": [0.01, 0.05]}},
                     "model_vs_popularity": {"ndcg_at_10_diff": 0.023456, "ci95": [0.01, 0.03]}})
    found = [m.group(1) for line in caplog.messages if (m := re.search(metric["Regex"], line))]
    assert found == ["0.131313"]                           # the served list (with its blend), not the bare model
    assert train["ResultPath"] == "$.job" and "ResultSelector" not in train        # a missing metric is no error
    assert states["HasMetrics"]["Choices"][0] == {"Variable": "$.job.FinalMetricDataList", "IsPresent": True,
                                                  "Next": "Ndcg"} and states["HasMetrics"]["Default"] == "NoEvaluation"
    assert states["Ndcg"]["Parameters"]["ndcg.$"] == \
        f"$.job.FinalMetricDataList[?(@.MetricName == '{METRIC}')].Value"
    assert states["LiveNdcg"]["Resource"].endswith("aws-sdk:ssm:getParameter")
    assert states["HasNdcg"]["Choices"] == [{"Variable": "$.train.ndcg[0]", "IsPresent": True, "Next": "QualityGate"}]
    gate = states["QualityGate"]
    assert gate["Choices"] == [{"Variable": "$.train.ndcg[0]", "NumericGreaterThanEqualsPath": "$.live.ndcg",
                                "Next": "CreateModel"}]
    assert gate["Default"] == "WorseModel" and "not deployed" in states["WorseModel"]["CausePath"]
    record = states["RecordLive"]["Parameters"]
    assert record["Name"] == states["LiveNdcg"]["Parameters"]["Name"] and record["Overwrite"] is True


def test_the_new_model_goes_out_blue_green_and_rolls_back_on_the_5xx_alarm(template, asl):
    alarm_id, alarm = one(template, "AWS::CloudWatch::Alarm")
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
        "AWS/SageMaker", "Invocation5XXErrors", "Sum", 60)
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"EndpointName": "alsreco-storefront",
                                                                    "VariantName": "AllTraffic"}
    assert alarm["Threshold"] == 5 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    update = asl["States"]["UpdateEndpoint"]
    assert update["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint"
    config = update["Parameters"]["DeploymentConfig"]
    assert config["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": f"<{{'Ref': '{alarm_id}'}}>"}]}
    policy = config["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert policy["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"] >= 300          # the baking period
    variant = asl["States"]["CreateEndpointConfig"]["Parameters"]["ProductionVariants"][0]
    assert variant["VariantName"] == "AllTraffic"                       # what the alarm watches
    _, endpoint = one(template, "AWS::SageMaker::Endpoint")               # stack updates: the same guardrail
    assert endpoint["DeploymentConfig"]["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": {"Ref": alarm_id}}]}


def _statements(template, role_prefix):
    role = next(lid for lid in resources(template, "AWS::IAM::Role") if lid.startswith(role_prefix))
    return [s for p in resources(template, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_the_pipeline_and_training_roles_touch_only_their_own(template):
    pipeline = _statements(template, "RetrainPipelineRole")
    actions = {a for s in pipeline for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                       "sagemaker:AddTags", "sagemaker:ListTags", "sagemaker:CreateModel",
                       "sagemaker:CreateEndpointConfig", "sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint",
                       "ssm:GetParameter", "ssm:PutParameter", "cloudwatch:DescribeAlarms", "events:PutTargets",
                       "events:PutRule", "events:DescribeRule", "iam:PassRole"}
    assert all(s["Resource"] != "*" for s in pipeline)
    passrole = next(s for s in pipeline if s["Action"] == "iam:PassRole")
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    training = _statements(template, "RetrainTrainingRole")
    writes = [s for s in training if "s3:PutObject" in json.dumps(s["Action"])]
    assert len(writes) == 1 and "/training/*" in json.dumps(writes[0]["Resource"])
    reads = next(s for s in training if s["Action"] == "s3:GetObject")
    assert "SalesDataUrl" in json.dumps(reads["Resource"]) and "/events/*" in json.dumps(reads["Resource"])
    assert [s["Action"] for s in training if s["Resource"] == "*"] == ["ecr:GetAuthorizationToken",
                                                                       "cloudwatch:PutMetricData"]


def test_the_dashboard_shows_click_through_and_conversion_by_model_version(template):
    _, dashboard = one(template, "AWS::CloudWatch::Dashboard")
    body = json.loads(rendered(dashboard["DashboardBody"]))
    widgets = body["widgets"]
    (table,) = [w for w in widgets if w["type"] == "log"]
    query = table["properties"]["query"]
    assert "by ModelVersion" in query and "click_through_pct" in query and "conversion_pct" in query
    for metric in ("Impressions", *COUNTED.values()):
        assert f"sum({metric})" in query
        assert any(f'{{{NAMESPACE},ModelVersion}} MetricName=\\"{metric}\\"' in json.dumps(w)
                   for w in widgets if w["type"] == "metric")               # one line per model version
    assert "Invocation5XXErrors" in json.dumps(widgets)
    log_group = handler_function(template)["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert f"{{'Ref': '{log_group}'}}" in query                            # the Lambda's EMF lines
    for name in ("EventsTable", "EventsUrl", "Dashboard", "RetrainStateMachine", "LiveNdcgParameter"):
        template.has_output(name, {})


def test_events_and_retraining_switch_off_at_synth(keyed):
    for rtype in ("AWS::DynamoDB::Table", "AWS::KinesisFirehose::DeliveryStream", "AWS::Scheduler::Schedule",
                  "AWS::StepFunctions::StateMachine", "AWS::CloudWatch::Dashboard", "AWS::SecretsManager::Secret"):
        assert not resources(keyed, rtype), rtype
    env = handler_function(keyed)["Properties"]["Environment"]["Variables"]
    assert "EVENTS_TABLE" not in env and '\\"events\\":false' in json.dumps(keyed.find_outputs("PageConfig"))


@pytest.mark.parametrize("context, word", [
    ({"events": "false"}, "retrain needs events"),
    ({"retrain_schedule": "every day"}, "retrain_schedule"),
    ({"training_instance_type": "m5.xlarge"}, "training_instance_type"),
    ({"visit_ttl_hours": "0"}, "visit_ttl_hours"),
    ({"metrics_namespace": "has space"}, "metrics_namespace"),
])
def test_bad_events_context_values_are_refused(context, word):
    with pytest.raises(ContextError, match=word):
        StackConfig.from_context(context)
    assert StackConfig.from_context({"retrain_schedule": "rate(6 hours)"}).retrain_schedule == "rate(6 hours)"
