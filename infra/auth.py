"""Who may read a customer's recommendations: the shopper sign-in and the API's authorizer.

Default: a Cognito user pool made by the stack (as the Mysfits reference architecture does) with
* a `custom:customer_id` attribute linking a login to a customer of the sales data, which the page's
  app client may read but never write (a shopper who could set it could read anyone's history):
  administrators set it (`aws cognito-idp admin-update-user-attributes`, docs/storefront.md);
* no self sign-up, email sign-in, user-existence errors hidden, revocable refresh tokens;
* the staff group (`staff_group`), whose members may look up any customer;
* a Cognito user pools authorizer whose identity validation expression admits only the page's
  app client (`aud`), on every route that reads a customer's history.

With `-c oidc_issuer=https://... -c oidc_audience=<client id>` the retailer's own OpenID Connect
issuer signs shoppers in instead: no user pool; a token authorizer (api/authorizer.py) verifies the
issuer's RS256 tokens against its published keys.

`.authorizer` goes on the signed-in methods, `.lambda_environment` tells the handler which claims to
trust, `.connect_origins` are what the page may call for sign-in (its Content-Security-Policy).
"""
from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .config import StackConfig

CUSTOMER_ATTRIBUTE = "customer_id"
CACHE_TTL = Duration.minutes(5)


class ShopperSignIn(Construct):
    def __init__(self, scope: Construct, cid: str, *, config: StackConfig, code_dir: Path) -> None:
        super().__init__(scope, cid)
        self.user_pool = self.client = None
        self.authorizer_function = None
        env = {"CUSTOMER_CLAIM": config.customer_claim, "GROUPS_CLAIM": config.groups_claim,
               "STAFF_GROUP": config.staff_group}
        if config.oidc:
            self._oidc(config, code_dir)
            env.update({"TOKEN_ISSUER": config.oidc_issuer, "TOKEN_AUDIENCES": config.oidc_audience})
            self.connect_origins: list[str] = []          # the retailer's site signs shoppers in
            self.sign_in_endpoint = ""
        else:
            self._user_pool(config)
            env.update({"TOKEN_ISSUER": self.user_pool.user_pool_provider_url,
                        "TOKEN_AUDIENCES": self.client.user_pool_client_id})
            self.sign_in_endpoint = Fn.join("", ["https://cognito-idp.", Aws.REGION, ".", Aws.URL_SUFFIX, "/"])
            self.connect_origins = [Fn.join("", ["https://cognito-idp.", Aws.REGION, ".", Aws.URL_SUFFIX])]
        self.lambda_environment = env

    def _user_pool(self, config: StackConfig) -> None:
        self.user_pool = cognito.UserPool(
            self, "Shoppers", user_pool_name="alsreco-storefront-shoppers", self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True), auto_verify=cognito.AutoVerifiedAttrs(email=True),
            custom_attributes={CUSTOMER_ATTRIBUTE: cognito.StringAttribute(min_len=1, max_len=64, mutable=True)},
            password_policy=cognito.PasswordPolicy(min_length=12, require_digits=True, require_lowercase=True,
                                                   require_uppercase=True, require_symbols=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY, removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=True)
        readable = cognito.ClientAttributes().with_standard_attributes(email=True, email_verified=True) \
            .with_custom_attributes(CUSTOMER_ATTRIBUTE)
        self.client = self.user_pool.add_client(
            "Page", user_pool_client_name="storefront-page", generate_secret=False, disable_o_auth=True,
            auth_flows=cognito.AuthFlow(user_password=True), prevent_user_existence_errors=True,
            read_attributes=readable,
            write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True),
            id_token_validity=Duration.hours(1), access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30), enable_token_revocation=True)
        cognito.CfnUserPoolGroup(self, "Staff", user_pool_id=self.user_pool.user_pool_id,
                                 group_name=config.staff_group,
                                 description="storefront staff: may look up any customer's recommendations")
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[self.user_pool], results_cache_ttl=CACHE_TTL,
            identity_source=apigw.IdentitySource.header("Authorization"))
        # API Gateway matches the ID token's `aud` against this: only the page's app client
        self.authorizer.node.default_child.add_property_override(
            "IdentityValidationExpression", Fn.join("", ["^", self.client.user_pool_client_id, "$"]))

    def _oidc(self, config: StackConfig, code_dir: Path) -> None:
        log_group = logs.LogGroup(self, "AuthorizerLogs", retention=logs.RetentionDays.ONE_MONTH)
        env = {"OIDC_ISSUER": config.oidc_issuer, "OIDC_AUDIENCES": config.oidc_audience,
               "CUSTOMER_CLAIM": config.customer_claim, "GROUPS_CLAIM": config.groups_claim}
        if config.oidc_jwks_url:
            env["OIDC_JWKS_URL"] = config.oidc_jwks_url
        self.authorizer_function = lambda_.Function(
            self, "TokenAuthorizer", runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64,
            handler="api.authorizer.lambda_handler", code=lambda_.Code.from_asset(str(code_dir)),
            memory_size=256, timeout=Duration.seconds(10), log_group=log_group, environment=env,
            description="alsreco storefront: verifies the OIDC issuer's ID tokens")
        # CDK makes the function DependsOn its role, already implied by Fn::GetAtt (cfn-lint W3005)
        self.authorizer_function.node.default_child.add_deletion_override("DependsOn")
        self.authorizer = apigw.TokenAuthorizer(
            self, "Authorizer", handler=self.authorizer_function, results_cache_ttl=CACHE_TTL,
            identity_source=apigw.IdentitySource.header("Authorization"))
