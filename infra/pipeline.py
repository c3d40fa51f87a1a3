"""The retraining state machine's definition (Amazon States Language, JSONPath), as a dict.

    Name -> LiveNdcg -> Train -> HasMetrics -> Ndcg -> HasNdcg -> QualityGate -> CreateModel
         -> CreateEndpointConfig -> UpdateEndpoint -> Wait <-> Describe -> Deployed? -> RecordLive -> Done

* Train: a SageMaker training job (`.sync`: the state waits for it) with the image, the `training`
  channel (the sales history prefix) and the `events` channel (the prefix Firehose lands events in),
  and MetricDefinitions that read the held-out NDCG@10 `train` logs (`metric: model.ndcg_at_10=...`,
  alsreco/train/evaluate.py) into the job's FinalMetricDataList.
* QualityGate: deploy only if the new model's held-out NDCG@10 is at least the live model's, which
  the last deployment recorded in an SSM parameter. A worse model stops the run at `WorseModel`,
  whose cause says both numbers; no NDCG at all (evaluation off) stops it at `NoEvaluation`.
* CreateModel, CreateEndpointConfig, then UpdateEndpoint blue/green: all traffic to the new fleet
  once it is up, then a baking period of `bake_s` in which the endpoint's 5xx alarm rolls it back
  to the old fleet (kept until the period passes); the
  run polls DescribeEndpoint until the update settles: `RolledBack` if the endpoint is back on its
  old configuration, `UpdateFailed` if it failed, else the new NDCG is recorded as the live one.
Every Fail state has an error name and a cause a person can act on.
"""
from __future__ import annotations

from typing import Any

METRIC = "served:ndcg_at_10"  # what the endpoint serves: the model with its trend blend (docs/trends.md)
METRIC_REGEX = r"metric: served\.ndcg_at_10=([-+0-9.eE]+)"
VARIANT = "AllTraffic"          # the stack's endpoint config's variant name (infra/model.py): the alarm watches it
POLL_S = 60
TERMINATION_WAIT_S = 300        # the old fleet kept this much longer once the baking period passed


def _fail(error: str, cause: str | None = None, cause_path: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Fail", "Error": error}
    state.update({"Cause": cause} if cause_path is None else {"CausePath": cause_path})
    return state


def definition(*, image: str, sales_url: str, events_url: str, output_url: str, training_role: str,
               model_role: str, training_instance: str, training_hours: int, endpoint_name: str,
               instance_type: Any, instance_count: Any, alarm_name: str, live_parameter: str,
               bake_s: int = 600) -> dict[str, Any]:
    channel = {"S3DataSource": {"S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated"}}
    train = {
        "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Parameters": {
            "TrainingJobName.$": "$.run.name",
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File",
                                       "MetricDefinitions": [{"Name": METRIC, "Regex": METRIC_REGEX}]},
            "RoleArn": training_role,
            "InputDataConfig": [
                {"ChannelName": "training", "DataSource": {"S3DataSource": {
                    **channel["S3DataSource"], "S3Uri": sales_url}}},
                {"ChannelName": "events", "DataSource": {"S3DataSource": {
                    **channel["S3DataSource"], "S3Uri": events_url}}}],
            "OutputDataConfig": {"S3OutputPath": output_url},
            "ResourceConfig": {"InstanceType": training_instance, "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": int(training_hours) * 3600},
            "HyperParameters": {"eval_days": "3", "eval_k": "10"},
        },
        "ResultPath": "$.job",                                  # DescribeTrainingJob's answer
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "TrainingFailed"}],
        "Next": "HasMetrics",
    }
    sdk = "arn:aws:states:::aws-sdk:"
    states: dict[str, Any] = {
        "Name": {"Type": "Pass", "Comment": "one name for the job, the model and the endpoint config",
                 "Parameters": {"name.$": "States.Format('alsreco-{}', States.UUID())"},
                 "ResultPath": "$.run", "Next": "LiveNdcg"},
        "LiveNdcg": {"Type": "Task", "Resource": sdk + "ssm:getParameter", "Parameters": {"Name": live_parameter},
                     "ResultSelector": {"ndcg.$": "States.StringToJson($.Parameter.Value)"},
                     "ResultPath": "$.live", "Next": "Train"},
        "Train": train,
        "TrainingFailed": _fail("TrainingFailed", cause_path="$.error.Cause"),
        # a job whose log matched no metric definition has no FinalMetricDataList at all
        "HasMetrics": {"Type": "Choice", "Choices": [{"Variable": "$.job.FinalMetricDataList", "IsPresent": True,
                                                      "Next": "Ndcg"}],
                       "Default": "NoEvaluation"},
        "Ndcg": {"Type": "Pass", "Comment": "the held-out NDCG@10 (a list: empty when not logged) and the model",
                 "Parameters": {"ndcg.$": f"$.job.FinalMetricDataList[?(@.MetricName == '{METRIC}')].Value",
                                "model_data.$": "$.job.ModelArtifacts.S3ModelArtifacts"},
                 "ResultPath": "$.train", "Next": "HasNdcg"},
        "HasNdcg": {"Type": "Choice", "Choices": [{"Variable": "$.train.ndcg[0]", "IsPresent": True,
                                                   "Next": "QualityGate"}],
                    "Default": "NoEvaluation"},
        "NoEvaluation": _fail("NoEvaluation", "the training job logged no held-out NDCG@10 (served:ndcg_at_10): "
                                              "its evaluation was off or had no test customers; not deployed"),
        "QualityGate": {"Type": "Choice", "Choices": [{"Variable": "$.train.ndcg[0]",
                                                       "NumericGreaterThanEqualsPath": "$.live.ndcg",
                                                       "Next": "CreateModel"}],
                        "Default": "WorseModel"},
        "WorseModel": _fail("WorseModel", cause_path="States.Format('quality gate: the new model scores NDCG@10 {} "
                                                     "on held-out data, the live model {}: not deployed', "
                                                     "$.train.ndcg[0], $.live.ndcg)"),
        "CreateModel": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel",
                        "Parameters": {"ModelName.$": "$.run.name", "ExecutionRoleArn": model_role,
                                       "PrimaryContainer": {"Image": image, "ModelDataUrl.$": "$.train.model_data"}},
                        "ResultPath": "$.done.model", "Next": "CreateEndpointConfig"},
        "CreateEndpointConfig": {
            "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createEndpointConfig",
            "Parameters": {"EndpointConfigName.$": "$.run.name", "ProductionVariants": [{
                "VariantName": VARIANT, "ModelName.$": "$.run.name", "InstanceType": instance_type,
                "InitialInstanceCount": instance_count, "InitialVariantWeight": 1}]},
            "ResultPath": "$.done.endpoint_config", "Next": "UpdateEndpoint"},
        "UpdateEndpoint": {
            "Type": "Task", "Resource": sdk + "sagemaker:updateEndpoint",
            "Parameters": {"EndpointName": endpoint_name, "EndpointConfigName.$": "$.run.name", "DeploymentConfig": {
                "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE",
                                                                          "WaitIntervalInSeconds": bake_s},  # baking
                                          "TerminationWaitInSeconds": TERMINATION_WAIT_S,
                                          "MaximumExecutionTimeoutInSeconds": 3600 + bake_s + TERMINATION_WAIT_S},
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm_name}]}}},
            "ResultPath": "$.done.update", "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": POLL_S, "Next": "Describe"},
        "Describe": {"Type": "Task", "Resource": sdk + "sagemaker:describeEndpoint",
                     "Parameters": {"EndpointName": endpoint_name},
                     "ResultSelector": {"status.$": "$.EndpointStatus", "config.$": "$.EndpointConfigName"},
                     "ResultPath": "$.endpoint", "Next": "Deployed?"},
        "Deployed?": {"Type": "Choice", "Choices": [
            {"Or": [{"Variable": "$.endpoint.status", "StringEquals": s} for s in ("Updating", "SystemUpdating")],
             "Next": "Wait"},
            {"And": [{"Variable": "$.endpoint.status", "StringEquals": "InService"},
                     {"Variable": "$.endpoint.config", "StringEqualsPath": "$.run.name"}], "Next": "RecordLive"},
            {"Variable": "$.endpoint.status", "StringEquals": "InService", "Next": "RolledBack"}],
            "Default": "UpdateFailed"},
        "RolledBack": _fail("RolledBack", "the new model was rolled back: the endpoint's 5xx alarm went off while "
                                          "it took traffic (see the alarm's history); the old model serves"),
        "UpdateFailed": _fail("UpdateFailed", cause_path="States.Format('the endpoint update ended {}: see "
                                                         "DescribeEndpoint FailureReason', $.endpoint.status)"),
        "RecordLive": {"Type": "Task", "Resource": sdk + "ssm:putParameter",
                       "Parameters": {"Name": live_parameter, "Overwrite": True, "Type": "String",
                                      "Value.$": "States.Format('{}', $.train.ndcg[0])"},
                       "ResultPath": "$.done.recorded", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    }
    return {"Comment": "alsreco: retrain on sales + events, deploy only a model at least as good as the live one",
            "StartAt": "Name", "TimeoutSeconds": (int(training_hours) + 3) * 3600, "States": states}
