"""IAM enforcement (/_sandbox/iam-enforce): policies checked, denials shaped as AWS shapes them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import REGION, Account, ctl, wait_until


def enforce(account: Account, **body: Any) -> dict[str, Any]:
    status, answer = ctl(account.url, "/_sandbox/iam-enforce", {"account_id": account.id, **body})
    assert status == 200, answer
    return answer


SENT: list[bytes] = []


def percent_20(request: Any, **_: Any) -> None:
    """Form-encodes a query-protocol body as the AWS SDK for Rust does (a space as %20, where
    botocore writes +), before it is signed. moto's own check fails such a body."""
    if isinstance(request.data, dict):
        request.data = urlencode(request.data, doseq=True, quote_via=quote)
        SENT.append(request.body)


def user_clients(account: Account, name: str, actions: list[str]) -> Any:
    """A new IAM user allowed only ACTIONS; returns a client factory with its key."""
    iam = account.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    session = boto3.session.Session(aws_access_key_id=key["AccessKeyId"],
                                    aws_secret_access_key=key["SecretAccessKey"],
                                    region_name=REGION)

    def client(service: str, rust_encoding: bool = False) -> Any:
        c = session.client(service, endpoint_url=account.url,
                           config=Config(retries={"total_max_attempts": 1}))
        if rust_encoding:
            c.meta.events.register("before-sign", percent_20)
        return c

    return client


def client_error(call: Any) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return info.value


def test_a_user_gets_what_its_policy_allows(account: Account) -> None:
    client = user_clients(account, "describer", [
        "ecs:DescribeServices", "rds:DescribeDBInstances", "cloudwatch:DescribeAlarms"])
    answer = enforce(account, enabled=True)
    assert answer["enabled"] is True
    ecs = client("ecs")
    assert ecs.describe_services(cluster="demo", services=["staging-users"])["services"]

    err = client_error(lambda: ecs.update_service(cluster="demo", service="staging-users", desiredCount=3))
    assert err.response["Error"]["Code"] == "AccessDeniedException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{account.id}:user/describer is not authorized to perform: "
        f"ecs:UpdateService on resource: {account.res['services']['staging-users']} "
        "because no identity-based policy allows the ecs:UpdateService action")
    assert account.service()["desiredCount"] == 2  # the seed's user may do anything

    # a form body with a space in a value, encoded as the Rust SDK encodes it
    rds = client("rds", rust_encoding=True)
    dbs = rds.describe_db_instances(Filters=[
        {"Name": "db-instance-id", "Values": ["users-db", "not a db"]}])["DBInstances"]
    assert [d["DBInstanceIdentifier"] for d in dbs] == ["users-db"]
    assert b"not%20a%20db" in SENT[-1]
    elbv2 = client("elbv2", rust_encoding=True)
    err = client_error(lambda: elbv2.describe_target_groups(Names=["with a space"]))
    assert err.response["Error"]["Code"] == "AccessDenied"
    assert err.response["Error"]["Type"] == "Sender"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "elasticloadbalancing:DescribeTargetGroups" in err.response["Error"]["Message"]
    assert b"with%20a%20space" in SENT[-1]

    # CloudWatch signs as "monitoring"; its IAM actions are cloudwatch:...
    cw = client("cloudwatch")
    assert cw.describe_alarms(AlarmNames=["staging-users-5xx"])["MetricAlarms"]
    err = client_error(lambda: cw.set_alarm_state(AlarmName="staging-users-5xx",
                                                  StateValue="ALARM", StateReason="test"))
    assert "cloudwatch:SetAlarmState" in err.response["Error"]["Message"]
    # sts:GetCallerIdentity is always allowed, as in AWS
    assert client("sts").get_caller_identity()["Account"] == account.id

    status, log = ctl(account.url, f"/_sandbox/requests?account_id={account.id}")
    denied = [e for e in log if e["error"] in ("AccessDenied", "AccessDeniedException")]
    assert [e["action"] for e in denied] == [
        "ecs:UpdateService", "elasticloadbalancing:DescribeTargetGroups", "cloudwatch:SetAlarmState"]
    assert all(e["fault"] is None and e["status"] == 400 for e in denied)


def test_signatures_and_keys_are_checked(account: Account) -> None:
    enforce(account, enabled=True)
    key = account.seed["access_key_id"]
    for service, code in (("ecs", "InvalidSignatureException"), ("elbv2", "SignatureDoesNotMatch")):
        wrong = boto3.client(service, endpoint_url=account.url, region_name=REGION,
                             aws_access_key_id=key, aws_secret_access_key="not-the-secret",
                             config=Config(retries={"total_max_attempts": 1}))
        call = wrong.list_clusters if service == "ecs" else wrong.describe_load_balancers
        err = client_error(call)
        assert err.response["Error"]["Code"] == code
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # a key no user owns lands in moto's default account: enforce there for a moment
    status, _ = ctl(account.url, "/_sandbox/iam-enforce", {"account_id": "123456789012", "enabled": True})
    try:
        unknown = boto3.client("ecs", endpoint_url=account.url, region_name=REGION,
                               aws_access_key_id="AKIAUNKNOWNUNKNOWN00", aws_secret_access_key="x",
                               config=Config(retries={"total_max_attempts": 1}))
        err = client_error(unknown.list_clusters)
        assert err.response["Error"]["Code"] == "UnrecognizedClientException"
    finally:
        ctl(account.url, "/_sandbox/iam-enforce", {"account_id": "123456789012", "enabled": False})


def test_the_seed_users_permissions_can_be_narrowed(account: Account) -> None:
    status, state = ctl(account.url, f"/_sandbox/iam-enforce?account_id={account.id}")
    assert status == 200
    assert state == {"account_id": account.id, "enabled": False, "user": "opsctl-demo",
                     "allow": ["*"], "deny": []}
    state = enforce(account, enabled=True, allow=["*"], deny=["ecs:UpdateService", "ecs:Register*"])
    assert state["allow"] == ["*"] and state["deny"] == ["ecs:UpdateService", "ecs:Register*"]
    account.service()
    err = client_error(lambda: account.ecs.update_service(
        cluster="demo", service="staging-users", desiredCount=3))
    assert err.response["Error"]["Code"] == "AccessDeniedException"
    assert err.response["Error"]["Message"].endswith("with an explicit deny in an identity-based policy")
    # enforcement off: the policy no longer matters
    enforce(account, enabled=False)
    account.ecs.update_service(cluster="demo", service="staging-users", desiredCount=3)
    enforce(account, allow=["ecs:Describe*"], deny=[])
    enforce(account, enabled=True)
    account.service()
    err = client_error(lambda: account.ecs.list_services(cluster="demo"))
    assert err.response["Error"]["Code"] == "AccessDeniedException"


def test_enforcement_on_everywhere_still_seeds(sandbox_url: str) -> None:
    status, _ = ctl(sandbox_url, "/_sandbox/iam-enforce", {"enabled": True})
    assert status == 200
    try:
        status, seed = ctl(sandbox_url, "/_sandbox/seed", {})
        assert status == 200, seed
        fresh = Account(sandbox_url, seed)
        assert ctl(sandbox_url, f"/_sandbox/iam-enforce?account_id={fresh.id}")[1]["enabled"] is True
        assert fresh.service()["desiredCount"] == 2  # the seed's user is allowed everything
        enforce(fresh, allow=["ecs:ListClusters"])
        err = client_error(fresh.service)
        assert err.response["Error"]["Code"] == "AccessDeniedException"
    finally:
        status, _ = ctl(sandbox_url, "/_sandbox/iam-enforce", {"enabled": False})
    assert status == 200
    assert fresh.service()["desiredCount"] == 2


def test_iam_enforce_requests_are_checked(account: Account) -> None:
    for bad, code in (({}, 400), ({"enabled": "yes"}, 400), ({"allow": "ecs:*"}, 400),
                      ({"allow": ["DescribeServices"]}, 400), ({"nope": 1}, 400),
                      ({"user": "nobody", "allow": ["*"]}, 404)):
        status, body = ctl(account.url, "/_sandbox/iam-enforce", {"account_id": account.id, **bad})
        assert status == code, (bad, body)
    status, body = ctl(account.url, "/_sandbox/iam-enforce", {"allow": ["*"]})
    assert status == 400 and body["error"] == "MissingAccount"


def pass_role_policy(roles: list[str], service: str = "ecs-tasks.amazonaws.com",
                     effect: str = "Allow") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": effect, "Action": "iam:PassRole", "Resource": roles,
        "Condition": {"StringEquals": {"iam:PassedToService": service}}}]})


def test_run_task_and_register_task_definition_need_pass_role(account: Account) -> None:
    actions = ["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks",
               "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition",
               "logs:FilterLogEvents", "logs:GetLogEvents", "logs:DescribeLogStreams"]
    client = user_clients(account, "runner", actions)
    enforce(account, enabled=True)
    ecs, logs = client("ecs"), client("logs")
    roles = account.res["iam_roles"]
    network = account.network()

    def run() -> Any:
        return ecs.run_task(cluster="demo", taskDefinition="staging-users:2", launchType="FARGATE",
                            networkConfiguration=network, startedBy="runner",
                            overrides={"containerOverrides": [{"name": "users",
                                                               "command": ["migrate", "sleep=10"]}]})

    td = account.ecs.describe_task_definition(taskDefinition="staging-users:2")["taskDefinition"]
    register = {k: td[k] for k in ("family", "containerDefinitions", "taskRoleArn", "executionRoleArn",
                                   "networkMode", "requiresCompatibilities", "cpu", "memory")}
    principal = f"arn:aws:iam::{account.id}:user/runner"
    for call in (run, lambda: ecs.register_task_definition(**register)):
        err = client_error(call)
        assert err.response["Error"]["Code"] == "AccessDeniedException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert err.response["Error"]["Message"] == (
            f"User: {principal} is not authorized to perform: iam:PassRole on resource: "
            f"{roles['staging-users-task']} because no identity-based policy allows the "
            "iam:PassRole action")
    assert account.ecs.list_tasks(cluster="demo", startedBy="runner")["taskArns"] == []

    iam = account.client("iam")
    # a grant for another service, or for the task role alone, is not enough
    iam.put_user_policy(UserName="runner", PolicyName="pass", PolicyDocument=pass_role_policy(
        list(roles.values()), service="ec2.amazonaws.com"))
    assert "iam:PassRole" in client_error(run).response["Error"]["Message"]
    iam.put_user_policy(UserName="runner", PolicyName="pass", PolicyDocument=pass_role_policy(
        [roles["staging-users-task"]]))
    assert roles["staging-users-execution"] in client_error(run).response["Error"]["Message"]
    # scoped to the two roles, only to ECS tasks: what opsctl's printed policy grants
    iam.put_user_policy(UserName="runner", PolicyName="pass", PolicyDocument=pass_role_policy(
        [roles["staging-users-task"], roles["staging-users-execution"]]))
    arn = run()["tasks"][0]["taskArn"]
    assert ecs.register_task_definition(**register)["taskDefinition"]["revision"] == 3
    assert ecs.list_tasks(cluster="demo", startedBy="runner")["taskArns"] == [arn]
    wait_until(lambda: ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"][0]["lastStatus"]
               == "RUNNING", what="the task to start")
    ecs.stop_task(cluster="demo", task=arn, reason="test")
    task = wait_until(lambda: (t := ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"][0])[
        "lastStatus"] == "STOPPED" and t, what="the task to stop")
    assert task["stopCode"] == "UserInitiated" and task["stoppedReason"] == "test"
    stream = f"users/users/{arn.rsplit('/', 1)[-1]}"
    assert logs.describe_log_streams(logGroupName="/ecs/staging-users", logStreamNamePrefix=stream)["logStreams"]
    logs.get_log_events(logGroupName="/ecs/staging-users", logStreamName=stream)
    logs.filter_log_events(logGroupName="/ecs/staging-users", logStreamNames=[stream])
    # the role RunTask's overrides name is the one passed
    err = client_error(lambda: ecs.run_task(
        cluster="demo", taskDefinition="staging-users:2", launchType="FARGATE",
        networkConfiguration=network, overrides={"taskRoleArn": roles["prod-users-task"]}))
    assert roles["prod-users-task"] in err.response["Error"]["Message"]
    # an explicit deny wins
    iam.put_user_policy(UserName="runner", PolicyName="deny", PolicyDocument=pass_role_policy(
        [roles["staging-users-execution"]], effect="Deny"))
    assert client_error(run).response["Error"]["Message"].endswith(
        "with an explicit deny in an identity-based policy")

    status, log = ctl(account.url, f"/_sandbox/requests?account_id={account.id}")
    named = {e["action"] for e in log}
    assert set(actions) - {"ecs:DescribeTaskDefinition"} <= named, named
    assert {e["error"] for e in log if e["action"] == "ecs:RunTask"} == {"AccessDeniedException", None}
