"""The synthesized storefront stack: resources, least-privilege IAM, the limits of the public API,
and cfn-lint on the template."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from api.schema import gateway_model
from infra.app import LAMBDA_DATA, LAMBDA_MODULES, stage_lambda_code
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


def handler_function(template):
    return next(f for f in resources(template, "AWS::Lambda::Function").values()
                if f["Properties"]["Handler"] == "api.handler.lambda_handler")


def resource_paths(template) -> dict[str, str]:
    """logical id of each AWS::ApiGateway::Resource -> its full path."""
    found = resources(template, "AWS::ApiGateway::Resource")

    def path(lid):
        props = found[lid]["Properties"]
        parent = props["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{props['PathPart']}"

    return {lid: path(lid) for lid in found}


def methods(template) -> dict[tuple[str, str], dict]:
    """(path, HTTP method) -> the method's properties."""
    paths = resource_paths(template)
    return {(paths[m["Properties"]["ResourceId"]["Ref"]], m["Properties"]["HttpMethod"]): m["Properties"]
            for m in resources(template, "AWS::ApiGateway::Method").values()}


ROUTES = ("/recommendations", "/me/recommendations", "/staff/recommendations", "/events", "/me/events")
SIGNED_IN = ("/me/recommendations", "/staff/recommendations", "/me/events")
WITHOUT_EVENTS = ROUTES[:3]                       # -c events=false (the api_key variant)


def test_the_lambda_may_only_invoke_its_own_endpoint(template):
    fn = handler_function(template)
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [p for p in resources(template, "AWS::IAM::Policy").values()
                if {"Ref": role} in p["Properties"]["Roles"]]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    table, stream = next(iter(resources(template, "AWS::DynamoDB::Table"))), \
        next(iter(resources(template, "AWS::KinesisFirehose::DeliveryStream")))
    secret = next(iter(resources(template, "AWS::SecretsManager::Secret")))
    assert statements == [     # the endpoint; and (issue 26) its events table's items, stream and signing key
        {"Action": "sagemaker:InvokeEndpoint", "Effect": "Allow", "Resource": ENDPOINT_ARN},
        {"Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"], "Effect": "Allow",
         "Resource": {"Fn::GetAtt": [table, "Arn"]}},
        {"Action": "firehose:PutRecordBatch", "Effect": "Allow", "Resource": {"Fn::GetAtt": [stream, "Arn"]}},
        {"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": {"Ref": secret}}]
    managed = resources(template, "AWS::IAM::Role")[role]["Properties"]["ManagedPolicyArns"]
    assert len(managed) == 1 and "AWSLambdaBasicExecutionRole" in json.dumps(managed)
    invokers = [s for p in resources(template, "AWS::IAM::Policy").values()
                for s in p["Properties"]["PolicyDocument"]["Statement"] if "InvokeEndpoint" in json.dumps(s["Action"])]
    assert invokers == statements[:1]                  # nobody else in the stack may call the endpoint


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
        "Environment": {"Variables": Match.object_like({
            "ENDPOINT_NAME": "alsreco-storefront", "READ_TIMEOUT": "8", "MAX_BODY_BYTES": "16384",
            "ALLOWED_ORIGIN": {"Fn::If": ["OriginIsThePage", Match.any_value(), {"Ref": "AllowedOrigin"}]},
            "CUSTOMER_CLAIM": "custom:customer_id", "GROUPS_CLAIM": "cognito:groups", "STAFF_GROUP": "staff"})}})
    env = handler_function(template)["Properties"]["Environment"]["Variables"]
    pool = next(iter(resources(template, "AWS::Cognito::UserPool")))
    client = next(iter(resources(template, "AWS::Cognito::UserPoolClient")))
    assert env["TOKEN_ISSUER"] == {"Fn::GetAtt": [pool, "ProviderURL"]}    # the Lambda checks iss and aud again
    assert env["TOKEN_AUDIENCES"] == {"Ref": client}


def test_cors_is_not_open_by_default(template, synthesized):
    template.has_parameter("AllowedOrigin", {"Default": ""})
    text = json.dumps(synthesized["default"][0])
    assert '"Access-Control-Allow-Origin": "\'*\'"' not in text and "'*'" not in text
    responses = resources(template, "AWS::ApiGateway::GatewayResponse")
    assert {r["Properties"]["ResponseType"] for r in responses.values()} == {
        "DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY", "UNAUTHORIZED"}
    for r in responses.values():          # API Gateway's own errors are readable by the page, only there
        origin = r["Properties"]["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert "OriginIsThePage" in json.dumps(origin)


def test_stage_throttling_is_on_by_default(template):
    template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": "prod", "MethodSettings": [
        Match.object_like({"HttpMethod": "*", "ResourcePath": "/*", "ThrottlingRateLimit": 10,
                           "ThrottlingBurstLimit": 20})]})
    assert not resources(template, "AWS::ApiGateway::ApiKey")
    assert not resources(template, "AWS::ApiGateway::UsagePlan")


def test_every_post_is_validated_against_its_schema_and_options_is_answered_by_the_lambda(template):
    found = methods(template)
    assert set(found) == {(path, verb) for path in ROUTES for verb in ("POST", "OPTIONS")}
    models = {m["Properties"]["Name"] if "Name" in m["Properties"] else lid: lid
              for lid, m in resources(template, "AWS::ApiGateway::Model").items()}
    body = next(lid for lid in models.values() if lid.startswith("StorefrontApiRequestBody"))
    events = next(lid for lid in models.values() if lid.startswith("StorefrontApiEventsBody"))
    for path in ROUTES:
        post, options = found[(path, "POST")], found[(path, "OPTIONS")]
        assert post["Integration"]["Type"] == "AWS_PROXY" and options["Integration"]["Type"] == "AWS_PROXY"
        assert post["ApiKeyRequired"] is False and "RequestValidatorId" in post
        assert post["RequestModels"] == {"application/json": {"Ref": events if path.endswith("events") else body}}
    template.has_resource_properties("AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True})
    model = resources(template, "AWS::ApiGateway::Model")[body]["Properties"]["Schema"]
    assert model == gateway_model(100, 100)            # generated from api/request.schema.json
    assert resources(template, "AWS::ApiGateway::Model")[events]["Properties"]["Schema"] == \
        gateway_model(max_events=25, name="events")   # ... and api/events.schema.json
    assert model["additionalProperties"] is False
    assert {"customer_id", "customer_ids", "user_id"} <= set(model["properties"])   # the Lambda names them


def test_the_authorizer_guards_every_route_that_reads_a_customers_history(template):
    authorizer_id, authorizer = next(iter(resources(template, "AWS::ApiGateway::Authorizer").items()))
    pool = next(iter(resources(template, "AWS::Cognito::UserPool")))
    client = next(iter(resources(template, "AWS::Cognito::UserPoolClient")))
    props = authorizer["Properties"]
    assert props["Type"] == "COGNITO_USER_POOLS" and props["ProviderARNs"] == [{"Fn::GetAtt": [pool, "Arn"]}]
    assert props["IdentitySource"] == "method.request.header.Authorization"
    assert props["IdentityValidationExpression"] == {"Fn::Join": ["", ["^", {"Ref": client}, "$"]]}
    for (path, verb), method in methods(template).items():
        if verb == "POST" and path in SIGNED_IN:
            assert method["AuthorizationType"] == "COGNITO_USER_POOLS", path
            assert method["AuthorizerId"] == {"Ref": authorizer_id}, path
        else:       # the public route reads no history; preflights carry no token
            assert method["AuthorizationType"] == "NONE" and "AuthorizerId" not in method, (path, verb)
    unauthorized = next(r["Properties"] for r in resources(template, "AWS::ApiGateway::GatewayResponse").values()
                        if r["Properties"]["ResponseType"] == "UNAUTHORIZED")
    assert unauthorized["StatusCode"] == "401"
    body = json.loads(unauthorized["ResponseTemplates"]["application/json"].replace("$context.requestId", "x"))
    assert body["status"] == 401 and "sign-in required" in body["error"]


def test_shoppers_cannot_give_themselves_another_customer_id(template):
    pool = next(iter(resources(template, "AWS::Cognito::UserPool").values()))["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True          # no self sign-up
    attribute = next(a for a in pool["Schema"] if a["Name"] == "customer_id")
    assert attribute["AttributeDataType"] == "String" and attribute["Mutable"] is True   # admins may re-link
    client = next(iter(resources(template, "AWS::Cognito::UserPoolClient").values()))["Properties"]
    assert "custom:customer_id" in client["ReadAttributes"]
    assert "custom:customer_id" not in client["WriteAttributes"]       # only administrators link accounts
    assert client["PreventUserExistenceErrors"] == "ENABLED" and client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert "AllowedOAuthFlows" not in client
    template.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "staff"})
    for name in ("UserPoolId", "UserPoolClientId", "SignInEndpoint", "PageConfig"):
        template.has_output(name, {})
    page_config = json.dumps(template.find_outputs("PageConfig"))
    assert "signIn" in page_config and "clientId" in page_config and "apiBase" in page_config


def test_a_web_acl_limits_each_client_address_on_the_stage(template, keyed):
    acl_id, acl = next(iter(resources(template, "AWS::WAFv2::WebACL").items()))
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    (rule,) = props["Rules"]
    assert rule["Statement"]["RateBasedStatement"] == {"Limit": 600, "AggregateKeyType": "IP",
                                                       "EvaluationWindowSec": 300}
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    association = next(iter(resources(template, "AWS::WAFv2::WebACLAssociation").values()))["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    stage = next(iter(resources(template, "AWS::ApiGateway::Stage")))
    assert {"Ref": stage} in association["ResourceArn"]["Fn::Join"][1]
    assert not resources(keyed, "AWS::WAFv2::WebACL")                   # -c waf=false


def test_the_page_is_served_with_a_content_security_policy_naming_the_api_and_sign_in(template):
    policy = next(iter(resources(template, "AWS::CloudFront::ResponseHeadersPolicy").items()))
    config = policy[1]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = json.dumps(config["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    api = next(iter(resources(template, "AWS::ApiGateway::RestApi")))
    assert "script-src 'self'" in csp and "connect-src 'self' https://" in csp
    assert json.dumps({"Ref": api}) in csp and "https://cognito-idp." in csp
    assert config["FrameOptions"]["FrameOption"] == "DENY" and config["ContentTypeOptions"]["Override"] is True
    template.has_resource_properties("AWS::CloudFront::Distribution", {"DistributionConfig": Match.object_like({
        "DefaultCacheBehavior": Match.object_like({"ResponseHeadersPolicyId": {"Ref": policy[0]}})})})


def test_oidc_context_signs_in_with_the_retailers_issuer(oidc):
    assert not resources(oidc, "AWS::Cognito::UserPool")
    authorizer = next(iter(resources(oidc, "AWS::ApiGateway::Authorizer").values()))["Properties"]
    assert authorizer["Type"] == "TOKEN" and authorizer["IdentitySource"] == "method.request.header.Authorization"
    functions = resources(oidc, "AWS::Lambda::Function")
    check = next(f for f in functions.values() if f["Properties"]["Handler"] == "api.authorizer.lambda_handler")
    assert check["Properties"]["Environment"]["Variables"] == {
        "OIDC_ISSUER": "https://login.shop.example/", "OIDC_AUDIENCES": "storefront", "CUSTOMER_CLAIM": "crm_id",
        "GROUPS_CLAIM": "groups"}
    env = handler_function(oidc)["Properties"]["Environment"]["Variables"]
    assert (env["TOKEN_ISSUER"], env["TOKEN_AUDIENCES"], env["CUSTOMER_CLAIM"]) == (
        "https://login.shop.example/", "storefront", "crm_id")
    for (path, verb), method in methods(oidc).items():
        assert method["AuthorizationType"] == ("CUSTOM" if verb == "POST" and path in SIGNED_IN else "NONE")
    acl = next(iter(resources(oidc, "AWS::WAFv2::WebACL").values()))["Properties"]
    assert acl["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"] == 200
    csp = json.dumps(resources(oidc, "AWS::CloudFront::ResponseHeadersPolicy"))
    assert "cognito-idp" not in csp


def test_api_key_context_turns_on_a_key_and_usage_plan(keyed):
    assert {path for path, _ in methods(keyed)} == set(WITHOUT_EVENTS)          # -c events=false: no events routes
    for (path, verb), method in methods(keyed).items():
        if verb == "POST":
            assert method["ApiKeyRequired"] is True, path
        else:
            assert method.get("ApiKeyRequired", False) is False, path      # browsers send no key in preflights
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
    assert sorted(p.name for p in (staged / "api").iterdir()) == sorted([f"{m}.py" for m in LAMBDA_MODULES]
                                                                        + list(LAMBDA_DATA))
    repo = str(Path(__file__).resolve().parents[2])
    code = (f"import sys; sys.path[:] = [p for p in sys.path if not p.startswith({repo!r})]; "
            "import api.handler, api.authorizer, api.schema; api.schema.resolved(); "
            "assert 'boto3' not in sys.modules and 'alsreco' not in sys.modules; print(api.handler.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=staged, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith(str(staged)), out.stderr


@pytest.mark.parametrize("context, word", [
    ({"api_key": "maybe"}, "api_key"),
    ({"throttle_rate": "0"}, "throttle_rate"),
    ({"throttle_rate": "50", "throttle_burst": "10"}, "throttle_burst"),
    ({"endpoint_name": "Has_Upper"}, "endpoint_name"),
    ({"read_timout": "3"}, "read_timout"),
    ({"oidc_issuer": "http://login.example.com/", "oidc_audience": "a"}, "oidc_issuer"),
    ({"oidc_issuer": "https://login.example.com/"}, "oidc_audience"),
    ({"oidc_jwks_url": "https://login.example.com/jwks"}, "oidc_jwks_url"),
    ({"customer_claim": "custom customer"}, "customer_claim"),
    ({"waf": "sometimes"}, "waf"),
    ({"waf_rate_limit": "5"}, "waf_rate_limit"),
])
def test_bad_context_values_are_refused(context, word):
    with pytest.raises(ContextError, match=word):
        StackConfig.from_context(context)
    assert StackConfig.from_context({"api_key": "true"}).api_key is True
