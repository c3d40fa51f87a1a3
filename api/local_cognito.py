"""A Cognito user pool on this machine, for `make web` and the tests: moto's server
(api/local_moto.py on 127.0.0.1, a real process) with the pool the stack deploys - a `custom:customer_id`
attribute only administrators may write, an app client for the page (USER_PASSWORD_AUTH and
refresh tokens, no secret), a `staff` group - and three demo logins: two shoppers, each linked to
a customer of the model, and one staff member. Its ID tokens are real RS256 JWTs, verifiable
against the pool's JWKS URL (moto's signing key is public: never trust it outside this machine).

Not part of the Lambda: it needs boto3 and moto (requirements-dev.txt).
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from alsreco.core.net import free_port, stop_process, wait_for_http

REGION = "us-east-1"                  # where moto files unsigned requests (InitiateAuth from the page)
STAFF_GROUP = "staff"
CUSTOMER_ATTRIBUTE = "customer_id"     # custom:customer_id in the tokens
LOCAL_MOTO = Path(__file__).with_name("local_moto.py")   # moto's server, one request at a time


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    customer_id: str | None           # None: no customer (staff)
    staff: bool = False


@dataclass
class LocalPool:
    endpoint: str                     # http://127.0.0.1:<port> (moto)
    pool_id: str
    client_id: str
    users: list[DemoUser] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"

    def client(self):
        import boto3

        return boto3.client("cognito-idp", region_name=REGION, endpoint_url=self.endpoint,
                            aws_access_key_id="local", aws_secret_access_key="local")

    def sign_in(self, username: str, password: str) -> dict:
        """The AuthenticationResult (IdToken, AccessToken, RefreshToken, ExpiresIn)."""
        out = self.client().initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                          AuthParameters={"USERNAME": username, "PASSWORD": password})
        return out["AuthenticationResult"]

    def add_user(self, user: DemoUser) -> DemoUser:
        """Create `user` (password set, confirmed; in the staff group when `user.staff`)."""
        idp = self.client()
        attributes = [{"Name": "email", "Value": user.username}]
        if user.customer_id is not None:
            attributes.append({"Name": f"custom:{CUSTOMER_ATTRIBUTE}", "Value": user.customer_id})
        idp.admin_create_user(UserPoolId=self.pool_id, Username=user.username, UserAttributes=attributes,
                              MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=self.pool_id, Username=user.username, Password=user.password,
                                    Permanent=True)
        if user.staff:
            idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=user.username, GroupName=STAFF_GROUP)
        self.users.append(user)
        return user

    def id_token(self, username: str) -> str:
        user = next(u for u in self.users if u.username == username)
        return self.sign_in(user.username, user.password)["IdToken"]


def demo_users(shopper_customers: Sequence[str]) -> list[DemoUser]:
    """Two shoppers linked to `shopper_customers` and one staff login."""
    users = [DemoUser(f"shopper{i}@example.com", f"Shopper-{i}-demo!", str(c))
             for i, c in enumerate(shopper_customers[:2], start=1)]
    return users + [DemoUser("staff@example.com", "Staff-demo-1!", None, staff=True)]


def provision(endpoint: str, users: Sequence[DemoUser]) -> LocalPool:
    """The stack's user pool, client, staff group and `users` on the moto server at `endpoint`."""
    pool = LocalPool(endpoint=endpoint, pool_id="", client_id="")
    idp = pool.client()
    pool.pool_id = idp.create_user_pool(
        PoolName="alsreco-storefront-local", UsernameAttributes=["email"],
        Schema=[{"Name": CUSTOMER_ATTRIBUTE, "AttributeDataType": "String", "Mutable": True,
                 "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}}],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})["UserPool"]["Id"]
    pool.client_id = idp.create_user_pool_client(
        UserPoolId=pool.pool_id, ClientName="storefront-page", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="ENABLED",
        ReadAttributes=["email", f"custom:{CUSTOMER_ATTRIBUTE}"], WriteAttributes=["email"],
    )["UserPoolClient"]["ClientId"]
    idp.create_group(GroupName=STAFF_GROUP, UserPoolId=pool.pool_id, Description="may look up any customer")
    for user in users:
        pool.add_user(user)
    return pool


@contextlib.contextmanager
def moto_server(log_path: Path | None = None) -> Iterator[str]:
    """moto's server (api/local_moto.py) on a free 127.0.0.1 port; yields its URL; stopped on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    proc = subprocess.Popen([sys.executable, str(LOCAL_MOTO), "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_for_http(url + "/moto-api/", 30, ok=range(100, 600)):
            raise RuntimeError(f"moto_server did not answer on {url} within 30 s"
                               + (f"; see {log_path}" if log_path else ""))
        yield url
    finally:
        stop_process(proc, 10)
        if log_path:
            log.close()


@contextlib.contextmanager
def local_pool(shopper_customers: Sequence[str], log_path: Path | None = None) -> Iterator[LocalPool]:
    """A running moto server with the provisioned pool and demo users."""
    with moto_server(log_path) as url:
        yield provision(url, demo_users(shopper_customers))
