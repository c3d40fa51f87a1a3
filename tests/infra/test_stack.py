"""The synthesized storefront stack: resources, least-privilege IAM, the limits of the public API,
and cfn-lint on the template."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from infra.app import LAMBDA_MODULES, stage_lambda_code
from infra.config import ContextError, StackConfig

ENDPOINT_ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":",
                                  {"Ref": "AWS::AccountId"}, ":endpoint/alsreco-storefront"]]}


def resources(template, rtype):
    return template.find_resources(rtype)


def test_sagemaker_model_config_and_endpoint_come_from_the_parameters(template):
    template.has_parameter("ImageUri", {"Type": "String", "AllowedPattern": Match.any_value()})
    template.has_parameter("ModelDataUrl", {"Type": "String"})
    template.has_parameter("InstanceType", {"Default": "ml.m5.large"})
    template.has_parameter("InstanceCount", {"Type": "Number", "Default": 1, "MinValue": 1})
    template.has_resource_properties("AWS::SageMaker::Model", {"PrimaryContainer": {
        "Image": {"Ref": "ImageUri"}, "ModelDataUrl": {"Ref": "ModelDataUrl"}}})
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [Match.object_like({
        "InstanceType": {"Ref": "InstanceType"}, "InitialInstanceCount": {"Ref": "InstanceCount"}})]})
    template.has_resource_properties("AWS::SageMaker::Endpoint", {"EndpointName": "alsreco-storefront"})


def test_the_lambda_may_only_invoke_its_own_endpoint(template):
    fn = next(iter(resources(template, "AWS::Lambda::Function").values()))
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [p for p in resources(template, "AWS::IAM::Policy").values()
                if {"Ref": role} in p["Properties"]["Roles"]]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert statements == [{"Action": "sagemaker:InvokeEndpoint", "Effect": "Allow", "Resource": ENDPOINT_ARN}]
    managed = resources(template, "AWS::IAM::Role")[role]["Properties"]["ManagedPolicyArns"]
    assert len(managed) == 1 and "AWSLambdaBasicExecutionRole" in json.dumps(managed)
    invokers = [s for p in resources(template, "AWS::IAM::Policy").values()
                for s in p["Properties"]["PolicyDocument"]["Statement"] if "sagemaker:" in json.dumps(s["Action"])]
    assert invokers == statements                      # nobody else in the stack may call the endpoint


def test_the_endpoint_role_reads_only_its_model_and_image(template):
    role_policy = next(p for name, p in resources(template, "AWS::IAM::Policy").items()
                       if name.startswith("ModelExecution"))
    statements = role_policy["Properties"]["PolicyDocument"]["Statement"]
    s3 = next(s for s in statements if s["Action"] == "s3:GetObject")
    assert "ModelDataUrl" in json.dumps(s3["Resource"])
    wildcard = [s["Action"] for s in statements if s["Resource"] == "*"]
    assert wildcard == ["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"]
    metric = next(s for s in statements if s["Action"] == "cloudwatch:PutMetricData")
    assert "cloudwatch:namespace" in metric["Condition"]["StringLike"]


def test_lambda_configuration_comes_from_environment_variables(template):
    template.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "api.handler.lambda_handler", "Runtime": "python3.12", "Timeout": 20,
        "Environment": {"Variables": {
            "ENDPOINT_NAME": "alsreco-storefront", "READ_TIMEOUT": "8", "MAX_BODY_BYTES": "16384",
            "ALLOWED_ORIGIN": {"Fn::If": ["OriginIsThePage", Match.any_value(), {"Ref": "AllowedOrigin"}]}}}})


def test_cors_is_not_open_by_default(template, synthesized):
    template.has_parameter("AllowedOrigin", {"Default": ""})
    text = json.dumps(synthesized["default"][0])
    assert '"Access-Control-Allow-Origin": "\'*\'"' not in text and "'*'" not in text
    responses = resources(template, "AWS::ApiGateway::GatewayResponse")
    assert {r["Properties"]["ResponseType"] for r in responses.values()} == {
        "DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY"}
    for r in responses.values():          # API Gateway's own errors are readable by the page, only there
        origin = r["Properties"]["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert "OriginIsThePage" in json.dumps(origin)


def test_stage_throttling_is_on_by_default(template):
    template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": "prod", "MethodSettings": [
        Match.object_like({"HttpMethod": "*", "ResourcePath": "/*", "ThrottlingRateLimit": 10,
                           "ThrottlingBurstLimit": 20})]})
    assert not resources(template, "AWS::ApiGateway::ApiKey")
    assert not resources(template, "AWS::ApiGateway::UsagePlan")


def test_post_is_validated_and_options_is_answered_by_the_lambda(template):
    methods = {m["Properties"]["HttpMethod"]: m["Properties"]
               for m in resources(template, "AWS::ApiGateway::Method").values()}
    assert set(methods) == {"POST", "OPTIONS"}
    post, options = methods["POST"], methods["OPTIONS"]
    assert post["Integration"]["Type"] == "AWS_PROXY" and options["Integration"]["Type"] == "AWS_PROXY"
    assert post["ApiKeyRequired"] is False and "RequestValidatorId" in post
    assert set(post["RequestModels"]) == {"application/json"}
    template.has_resource_properties("AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True})
    schema = next(iter(resources(template, "AWS::ApiGateway::Model").values()))["Properties"]["Schema"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["k"]["maximum"] == 100 and schema["properties"]["items"]["maxItems"] == 100
    assert set(schema["properties"]) >= {"customer_id", "items", "item_id", "k", "exclude_purchased"}


def test_api_key_context_turns_on_a_key_and_usage_plan(keyed):
    methods = {m["Properties"]["HttpMethod"]: m["Properties"]
               for m in resources(keyed, "AWS::ApiGateway::Method").values()}
    assert methods["POST"]["ApiKeyRequired"] is True
    assert methods["OPTIONS"].get("ApiKeyRequired", False) is False       # browsers send no key in preflights
    keyed.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    keyed.resource_count_is("AWS::ApiGateway::UsagePlanKey", 1)
    keyed.has_resource_properties("AWS::ApiGateway::UsagePlan", {
        "Throttle": {"RateLimit": 5, "BurstLimit": 8}, "Quota": {"Limit": 10000, "Period": "DAY"},
        "ApiStages": [Match.object_like({"Stage": Match.any_value()})]})
    keyed.has_output("ApiKeyId", {})


def test_the_page_bucket_is_private_behind_cloudfront(template):
    template.has_resource_properties("AWS::S3::Bucket", {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}})
    policy = next(iter(resources(template, "AWS::S3::BucketPolicy").values()))["Properties"]["PolicyDocument"]
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"Service": "cloudfront.amazonaws.com"}]
    template.has_resource_properties("AWS::CloudFront::Distribution", {"DistributionConfig": Match.object_like({
        "DefaultRootObject": "index.html",
        "DefaultCacheBehavior": Match.object_like({"ViewerProtocolPolicy": "redirect-to-https"})})})
    for name in ("ApiUrl", "ApiBase", "PageBucket", "PageUrl", "EndpointName"):
        template.has_output(name, {})


def test_cfn_lint_is_clean(synthesized):
    for name, (_, path) in synthesized.items():
        out = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(path)], capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, f"{name}:\n{out.stdout}{out.stderr}"


def test_the_lambda_bundle_is_the_handler_alone(tmp_path):
    staged = stage_lambda_code(tmp_path / "bundle")
    assert sorted(p.name for p in (staged / "api").iterdir()) == sorted(f"{m}.py" for m in LAMBDA_MODULES)
    code = ("import sys; sys.path[:] = [p for p in sys.path if 'work/main' not in p]; "
            "import api.handler, api.settings; print(api.handler.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=staged, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith(str(staged)), out.stderr


@pytest.mark.parametrize("context, word", [
    ({"api_key": "maybe"}, "api_key"),
    ({"throttle_rate": "0"}, "throttle_rate"),
    ({"throttle_rate": "50", "throttle_burst": "10"}, "throttle_burst"),
    ({"endpoint_name": "Has_Upper"}, "endpoint_name"),
    ({"read_timout": "3"}, "read_timout"),
])
def test_bad_context_values_are_refused(context, word):
    with pytest.raises(ContextError, match=word):
        StackConfig.from_context(context)
    assert StackConfig.from_context({"api_key": "true"}).api_key is True
