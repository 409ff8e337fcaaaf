"""The IAM evaluator (opsctl_sandbox.iam_eval): resources, conditions, explicit deny, and the
resource ARNs it names for the calls opsctl makes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the sandbox's package, unstarted

from opsctl_sandbox.iam_eval import (  # noqa: E402
    ALLOW, DENY, Call, condition_holds, decide, request_context, resources, wildcard)

A = "123456789012"
SERVICE = f"arn:aws:ecs:us-east-1:{A}:service/demo/staging-users"


def policy(*statements: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


def allow(action: Any, resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    st = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def test_wildcards_match_any_run_and_one_character_and_nothing_else() -> None:
    assert wildcard("arn:aws:ecs:*:*:service/demo/*", SERVICE)
    assert wildcard("arn:aws:ecs:us-east-1:123456789012:service/demo/staging-user?", SERVICE)
    assert not wildcard("arn:aws:ecs:us-east-1:123456789012:service/demo/staging-user", SERVICE)
    assert not wildcard("arn:aws:ecs:us-east-1:123456789012:service/other/*", SERVICE)
    # regex characters in an ARN are literal
    assert not wildcard("arn:aws:rds:us-east-1:1:snapshot:a.b", "arn:aws:rds:us-east-1:1:snapshot:aXb")
    # actions ignore case, resources do not
    assert wildcard("ecs:describe*", "ecs:DescribeServices", ignore_case=True)
    assert not wildcard(SERVICE.upper(), SERVICE)


def test_a_statement_allows_only_its_resources() -> None:
    p = policy(allow(["ecs:UpdateService"], [SERVICE]))
    assert decide(p, "ecs:UpdateService", SERVICE, {}) == ALLOW
    assert decide(p, "ecs:UpdateService", SERVICE.replace("staging-users", "prod-users"), {}) is None
    assert decide(p, "ecs:DescribeServices", SERVICE, {}) is None
    assert decide(policy(allow("ecs:*", "*")), "ecs:UpdateService", SERVICE, {}) == ALLOW


def test_not_action_and_not_resource() -> None:
    p = policy({"Effect": "Allow", "NotAction": "ecs:Delete*", "NotResource": SERVICE})
    assert decide(p, "ecs:UpdateService", SERVICE + "-2", {}) == ALLOW
    assert decide(p, "ecs:UpdateService", SERVICE, {}) is None
    assert decide(p, "ecs:DeleteService", SERVICE + "-2", {}) is None


def test_an_explicit_deny_wins_over_any_allow() -> None:
    p = policy(allow("*", "*"), {"Effect": "Deny", "Action": "ecs:UpdateService",
                                 "Resource": "arn:aws:ecs:*:*:service/demo/*"})
    assert decide(p, "ecs:UpdateService", SERVICE, {}) == DENY
    assert decide(p, "ecs:DescribeServices", SERVICE, {}) == ALLOW
    # a Deny whose condition fails does not apply
    p = policy(allow("*", "*"), {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {
        "StringEquals": {"aws:RequestedRegion": "eu-west-1"}}})
    assert decide(p, "ecs:UpdateService", SERVICE, {"aws:requestedregion": ["us-east-1"]}) == ALLOW
    assert decide(p, "ecs:UpdateService", SERVICE, {"aws:requestedregion": ["eu-west-1"]}) == DENY


def test_every_condition_must_hold_and_keys_ignore_case() -> None:
    p = policy(allow("ecs:RunTask", "*", {
        "ArnEquals": {"ecs:cluster": f"arn:aws:ecs:us-east-1:{A}:cluster/demo"},
        "StringEquals": {"aws:RequestedRegion": "us-east-1"}}))
    ok = {"ecs:cluster": [f"arn:aws:ecs:us-east-1:{A}:cluster/demo"], "aws:requestedregion": ["us-east-1"]}
    assert decide(p, "ecs:RunTask", "x", ok) == ALLOW
    assert decide(p, "ecs:RunTask", "x", {**ok, "aws:requestedregion": ["eu-west-1"]}) is None
    assert decide(p, "ecs:RunTask", "x", {**ok, "ecs:cluster": [f"arn:aws:ecs:us-east-1:{A}:cluster/prod"]}) is None
    # a key the request does not carry: the condition fails
    assert decide(p, "ecs:RunTask", "x", {"aws:requestedregion": ["us-east-1"]}) is None


@pytest.mark.parametrize(("operator", "expected", "value", "holds"), [
    ("StringEquals", "opsctl", "opsctl", True),
    ("StringEquals", "opsctl", "Opsctl", False),
    ("StringEquals", ["a", "opsctl"], "opsctl", True),
    ("StringNotEquals", "opsctl", "other", True),
    ("StringNotEquals", "opsctl", "opsctl", False),
    ("StringEqualsIgnoreCase", "opsctl", "OpsCtl", True),
    ("StringLike", "users-db-*", "users-db-20260101", True),
    ("StringLike", "users-db-*", "other-db-1", False),
    ("StringLike", "*", "", True),
    ("StringNotLike", "users-*", "other", True),
    ("StringNotLike", "users-*", "users-db", False),
    ("ArnEquals", "arn:aws:ecs:*:*:cluster/demo", "arn:aws:ecs:us-east-1:1:cluster/demo", True),
    ("ArnEquals", "arn:aws:ecs:*:*:cluster/demo", "arn:aws:ecs:us-east-1:1:cluster/prod", False),
    ("ArnLike", "arn:aws:iam::*:role/*", "arn:aws:iam::1:role/task", True),
    ("ArnNotLike", "arn:aws:iam::*:role/*", "arn:aws:iam::1:role/task", False),
    ("Bool", "true", "true", True),
    ("Bool", True, "false", False),
    ("NoSuchOperator", "x", "x", False),
])
def test_condition_operators(operator: str, expected: Any, value: str, holds: bool) -> None:
    assert condition_holds(operator, "k", expected, {"k": [value]}) is holds


def test_null_ifexists_and_set_operators() -> None:
    assert condition_holds("Null", "aws:ResourceTag/opsctl:created-by", "true", {}) is True
    assert condition_holds("Null", "aws:ResourceTag/opsctl:created-by", "false", {}) is False
    assert condition_holds("Null", "k", "false", {"k": ["v"]}) is True
    assert condition_holds("StringEqualsIfExists", "k", "v", {}) is True
    assert condition_holds("StringEqualsIfExists", "k", "v", {"k": ["w"]}) is False
    tag_keys = {"aws:tagkeys": ["opsctl:version", "opsctl:deployed-by"]}
    assert condition_holds("ForAllValues:StringLike", "aws:TagKeys", "opsctl:*", tag_keys) is True
    assert condition_holds("ForAllValues:StringEquals", "aws:TagKeys", "opsctl:version", tag_keys) is False
    assert condition_holds("ForAllValues:StringEquals", "aws:TagKeys", "x", {}) is True
    assert condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", "opsctl:version", tag_keys) is True
    assert condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", "x", tag_keys) is False
    assert condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", "x", {}) is False


def call(action: str, params: dict[str, Any], protocol: str = "json") -> Call:
    body = json.dumps(params).encode() if protocol == "json" else \
        "&".join(f"{k}={v}" for k, v in params.items()).encode()
    return Call(action, protocol, body, "us-east-1", A)


def arn(service: str, resource: str, region: str = "us-east-1") -> str:
    return f"arn:aws:{service}:{region}:{A}:{resource}"


def test_the_resources_of_opsctls_calls() -> None:
    assert resources(call("ecs:UpdateService", {"cluster": "demo", "service": "staging-users"})) == [SERVICE]
    assert resources(call("ecs:DescribeServices", {"cluster": arn("ecs", "cluster/demo"),
                                                  "services": ["a", arn("ecs", "service/demo/b")]})) == [
        arn("ecs", "service/demo/a"), arn("ecs", "service/demo/b")]
    assert resources(call("ecs:DescribeTasks", {"cluster": "demo", "tasks": ["abc"]})) == [
        arn("ecs", "task/demo/abc")]
    assert resources(call("ecs:StopTask", {"task": "abc"})) == [arn("ecs", "task/default/abc")]
    assert resources(call("ecs:RunTask", {"taskDefinition": "users"}),
                     lambda ref: arn("ecs", f"task-definition/{ref}:7")) == [arn("ecs", "task-definition/users:7")]
    assert resources(call("ecs:RegisterTaskDefinition", {"family": "users"})) == ["*"]
    assert resources(call("ecr:DescribeImages", {"repositoryName": "users"})) == [arn("ecr", "repository/users")]
    assert resources(call("ssm:PutParameter", {"Name": "/opsctl/locks/demo/staging"})) == [
        arn("ssm", "parameter/opsctl/locks/demo/staging")]
    assert resources(call("ssm:DeleteParameters", {"Names": ["/a", "b"]})) == [
        arn("ssm", "parameter/a"), arn("ssm", "parameter/b")]
    assert resources(call("logs:GetLogEvents", {"logGroupName": "/ecs/users", "logStreamName": "s/1"})) == [
        arn("logs", "log-group:/ecs/users:log-stream:s/1")]
    assert resources(call("logs:FilterLogEvents", {"logGroupName": "/ecs/users"})) == [
        arn("logs", "log-group:/ecs/users:log-stream:")]
    assert resources(call("cloudwatch:DescribeAlarms", {"AlarmNames.member.1": "a", "AlarmNames.member.2": "b"},
                          "query")) == [arn("cloudwatch", "alarm:a"), arn("cloudwatch", "alarm:b")]
    assert resources(call("cloudwatch:GetMetricData", {}, "query")) == ["*"]
    assert resources(call("rds:CreateDBSnapshot", {"DBInstanceIdentifier": "users-db",
                                                  "DBSnapshotIdentifier": "users-db-1"}, "query")) == [
        arn("rds", "db:users-db"), arn("rds", "snapshot:users-db-1")]
    assert resources(call("rds:RestoreDBInstanceFromDBSnapshot", {
        "DBInstanceIdentifier": "new", "DBSnapshotIdentifier": "users-db-1",
        "DBSubnetGroupName": "sub"}, "query")) == [
        arn("rds", "db:new"), arn("rds", "snapshot:users-db-1"), arn("rds", "subgrp:sub")]
    source = arn("rds", "snapshot:rds:users-db-1")
    assert resources(Call("rds:CopyDBSnapshot", "query",
                          f"SourceDBSnapshotIdentifier={source}&TargetDBSnapshotIdentifier=users-db-1".encode(),
                          "us-west-2", A)) == [source, arn("rds", "snapshot:users-db-1", "us-west-2")]


def test_the_request_context() -> None:
    ctx = request_context(call("ecs:ListTasks", {"cluster": "demo"}))
    assert ctx["ecs:cluster"] == [arn("ecs", "cluster/demo")]
    assert ctx["aws:requestedregion"] == ["us-east-1"]
    ctx = request_context(call("cloudwatch:PutMetricData", {"Namespace": "opsctl"}, "query"))
    assert ctx["cloudwatch:namespace"] == ["opsctl"]
    ctx = request_context(call("rds:CreateDBSnapshot", {"Tags.Tag.1.Key": "opsctl:created-by",
                                                       "Tags.Tag.1.Value": "ci"}, "query"))
    assert ctx["aws:tagkeys"] == ["opsctl:created-by"]
    assert ctx["aws:requesttag/opsctl:created-by"] == ["ci"]
