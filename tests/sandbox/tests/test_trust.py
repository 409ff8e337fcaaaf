"""sts:AssumeRole as AWS decides it: the role must exist and trust the caller."""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import REGION, Account, ctl


def second_account(url: str) -> Account:
    status, seed = ctl(url, "/_sandbox/seed", {})
    assert status == 200, seed
    return Account(url, seed)


def trust(account_id: str, external_id: str | None = None) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                 "Action": "sts:AssumeRole"}
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def refused(call) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return info.value


def test_a_role_that_trusts_the_callers_account_is_assumed_into_its_account(account: Account) -> None:
    ci = second_account(account.url)
    arn = account.client("iam").create_role(
        RoleName="deployer", AssumeRolePolicyDocument=trust(ci.id))["Role"]["Arn"]
    creds = ci.client("sts").assume_role(RoleArn=arn, RoleSessionName="ci-1234")["Credentials"]
    session = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                    aws_secret_access_key=creds["SecretAccessKey"],
                                    aws_session_token=creds["SessionToken"], region_name=REGION)
    sts = session.client("sts", endpoint_url=account.url,
                         config=Config(retries={"total_max_attempts": 1}))
    me = sts.get_caller_identity()
    assert me["Account"] == account.id
    assert me["Arn"].endswith(":assumed-role/deployer/ci-1234")


def test_a_missing_role_or_one_that_does_not_trust_the_caller_is_access_denied(account: Account) -> None:
    ci = second_account(account.url)
    stranger = second_account(account.url)
    arn = account.client("iam").create_role(
        RoleName="deployer", AssumeRolePolicyDocument=trust(ci.id))["Role"]["Arn"]
    for who, role in [(stranger, arn), (ci, f"arn:aws:iam::{account.id}:role/nope")]:
        err = refused(lambda: who.client("sts").assume_role(RoleArn=role, RoleSessionName="x1"))
        assert err.response["Error"]["Code"] == "AccessDenied"
        assert f"is not authorized to perform: sts:AssumeRole on resource: {role}" in \
            err.response["Error"]["Message"]
        assert f"arn:aws:iam::{who.id}:user/" in err.response["Error"]["Message"]


def test_an_external_id_condition_must_be_met(account: Account) -> None:
    ci = second_account(account.url)
    arn = account.client("iam").create_role(
        RoleName="deployer", AssumeRolePolicyDocument=trust(ci.id, "s3cret"))["Role"]["Arn"]
    sts = ci.client("sts")
    for wrong in [{}, {"ExternalId": "guess"}]:
        err = refused(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="ci", **wrong))
        assert err.response["Error"]["Code"] == "AccessDenied"
    sts.assume_role(RoleArn=arn, RoleSessionName="ci", ExternalId="s3cret")


def test_a_session_name_aws_would_refuse_is_a_validation_error(account: Account) -> None:
    arn = account.client("iam").create_role(
        RoleName="deployer", AssumeRolePolicyDocument=trust(account.id))["Role"]["Arn"]
    err = refused(lambda: account.client("sts").assume_role(RoleArn=arn,
                                                             RoleSessionName="has space"))
    assert err.response["Error"]["Code"] == "ValidationError"
