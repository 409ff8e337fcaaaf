"""Injected faults (/_sandbox/faults) and the request log (/_sandbox/requests)."""

from __future__ import annotations

import threading
import time
from typing import Any

import botocore.exceptions
import pytest

from conftest import Account, ctl

# fault: (HTTP status, code for a JSON protocol, code for a query protocol)
ERRORS = {
    "throttle": (400, "ThrottlingException", "Throttling"),
    "500": (500, "InternalFailure", "InternalError"),
    "503": (503, "ServiceUnavailable", "ServiceUnavailable"),
    "access_denied": (400, "AccessDeniedException", "AccessDenied"),
}


def add_fault(account: Account, action: str, fault: str, **kw: Any) -> dict[str, Any]:
    status, body = ctl(account.url, "/_sandbox/faults",
                       {"account_id": account.id, "action": action, "fault": fault, **kw})
    assert status == 200, body
    return body


def faults(account: Account) -> list[dict[str, Any]]:
    status, body = ctl(account.url, f"/_sandbox/faults?account_id={account.id}")
    assert status == 200, body
    return body["faults"]


def requests(account: Account) -> list[dict[str, Any]]:
    status, body = ctl(account.url, f"/_sandbox/requests?account_id={account.id}")
    assert status == 200, body
    return body


def clear_requests(account: Account) -> None:
    status, _ = ctl(account.url, f"/_sandbox/requests?account_id={account.id}", method="DELETE")
    assert status == 200


def client_error(call: Any) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return info.value


def describe(account: Account) -> Any:
    return account.ecs.describe_services(cluster="demo", services=["staging-users"])


@pytest.mark.parametrize("fault", sorted(ERRORS))
def test_error_faults_parse_as_their_aws_codes(account: Account, fault: str) -> None:
    status, json_code, query_code = ERRORS[fault]
    add_fault(account, "ecs:DescribeServices", fault, count=1)
    err = client_error(lambda: describe(account))
    assert err.response["Error"]["Code"] == json_code
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert err.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == json_code
    describe(account)  # count 1: the next one goes through

    tg = account.res["target_groups"]["staging-users"]
    for name, call in (
        ("elasticloadbalancing:DescribeTargetHealth",
         lambda: account.elbv2.describe_target_health(TargetGroupArn=tg)),
        ("rds:DescribeDBInstances",
         lambda: account.client("rds").describe_db_instances(DBInstanceIdentifier="users-db")),
    ):
        add_fault(account, name, fault, count=1)
        err = client_error(call)
        assert err.response["Error"]["Code"] == query_code, name
        assert err.response["Error"]["Type"] == ("Sender" if status < 500 else "Receiver")
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert err.response["ResponseMetadata"]["RequestId"]
        call()


def test_access_denied_names_the_user_action_and_resource(account: Account) -> None:
    add_fault(account, "ecs:UpdateService", "access_denied")
    err = client_error(lambda: account.ecs.update_service(
        cluster="demo", service="staging-users", desiredCount=3))
    message = err.response["Error"]["Message"]
    assert message == (
        f"User: arn:aws:iam::{account.id}:user/opsctl-demo is not authorized to perform: "
        f"ecs:UpdateService on resource: {account.res['services']['staging-users']} "
        "because no identity-based policy allows the ecs:UpdateService action")
    assert account.service()["desiredCount"] == 2


def test_query_errors_are_the_xml_aws_sends(account: Account) -> None:
    add_fault(account, "elasticloadbalancing:DescribeLoadBalancers", "throttle", count=1)
    raw: dict[str, Any] = {}

    def keep(http_response: Any, **_: Any) -> None:
        raw["status"], raw["body"] = http_response.status_code, http_response.content

    account.elbv2.meta.events.register("after-call.*.DescribeLoadBalancers", keep)
    client_error(lambda: account.elbv2.describe_load_balancers())
    body = raw["body"].decode()
    assert raw["status"] == 400
    assert body.startswith("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                           "<Message>Rate exceeded</Message></Error><RequestId>")
    assert body.endswith("</RequestId></ErrorResponse>")


def test_count_and_after(account: Account) -> None:
    fault = add_fault(account, "ecs:DescribeServices", "throttle", after=1, count=2)
    assert (fault["count"], fault["after"], fault["remaining"], fault["fired"]) == (2, 1, 2, 0)
    clear_requests(account)
    outcomes = []
    for _ in range(4):
        try:
            describe(account)
            outcomes.append("ok")
        except botocore.exceptions.ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])
    assert outcomes == ["ok", "ThrottlingException", "ThrottlingException", "ok"]
    [listed] = faults(account)
    assert listed["id"] == fault["id"]
    assert (listed["remaining"], listed["fired"], listed["seen"], listed["active"]) == (0, 2, 3, False)
    assert requests(account) == [
        {"action": "ecs:DescribeServices", "status": 200, "fault": None, "error": None},
        {"action": "ecs:DescribeServices", "status": 400, "fault": "throttle", "error": "ThrottlingException"},
        {"action": "ecs:DescribeServices", "status": 400, "fault": "throttle", "error": "ThrottlingException"},
        {"action": "ecs:DescribeServices", "status": 200, "fault": None, "error": None},
    ]


def test_wildcards_match_and_accounts_are_separate(account: Account, sandbox_url: str) -> None:
    status, other_seed = ctl(sandbox_url, "/_sandbox/seed", {})
    assert status == 200
    other = Account(sandbox_url, other_seed)
    add_fault(account, "ecs:Describe*", "503")
    client_error(lambda: describe(account))
    account.ecs.list_services(cluster="demo")  # not a Describe
    describe(other)  # another account
    add_fault(account, "*", "throttle")
    err = client_error(lambda: account.client("sts").get_caller_identity())
    assert err.response["Error"]["Code"] == "Throttling"
    # the oldest fault that is due applies
    err = client_error(lambda: describe(account))
    assert err.response["Error"]["Code"] == "ServiceUnavailable"
    status, body = ctl(account.url, f"/_sandbox/faults?account_id={account.id}", method="DELETE")
    assert status == 200 and body["cleared"] == 2
    describe(account)
    assert faults(account) == []


def test_delete_one_fault(account: Account) -> None:
    first = add_fault(account, "ecs:DescribeServices", "throttle")
    second = add_fault(account, "ecs:ListServices", "throttle")
    status, body = ctl(account.url, f"/_sandbox/faults?account_id={account.id}&id={first['id']}",
                       method="DELETE")
    assert status == 200 and body["cleared"] == 1
    assert [f["id"] for f in faults(account)] == [second["id"]]
    describe(account)


def test_drop_closes_the_connection_before_any_answer(account: Account) -> None:
    add_fault(account, "ecs:UpdateService", "drop", count=1)
    clear_requests(account)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        account.ecs.update_service(cluster="demo", service="staging-users", desiredCount=3)
    assert account.service()["desiredCount"] == 2  # never served
    assert requests(account)[0] == {"action": "ecs:UpdateService", "status": None,
                                    "fault": "drop", "error": None}


def test_lost_answer_makes_the_change_and_drops_the_answer(account: Account) -> None:
    add_fault(account, "ecs:UpdateService", "lost_answer", count=1)
    clear_requests(account)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        account.ecs.update_service(cluster="demo", service="staging-users", desiredCount=3)
    assert account.service()["desiredCount"] == 3
    assert requests(account)[0] == {"action": "ecs:UpdateService", "status": 200,
                                    "fault": "lost_answer", "error": None}


def test_lost_answer_on_a_query_protocol(account: Account) -> None:
    add_fault(account, "elasticloadbalancing:ModifyListener", "lost_answer", count=1)
    listener = account.res["load_balancers"]["staging-alb"]["listener_arn"]
    green = account.res["target_groups"]["prod-users-green"]
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        account.elbv2.modify_listener(ListenerArn=listener, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": green}])
    [got] = account.elbv2.describe_listeners(ListenerArns=[listener])["Listeners"]
    assert got["DefaultActions"][0]["TargetGroupArn"] == green


def test_delay_does_not_hold_up_other_requests(account: Account) -> None:
    add_fault(account, "ecs:DescribeServices", "delay", delay_ms=800, count=1)
    took: dict[str, float] = {}

    def slow() -> None:
        started = time.time()
        describe(account)
        took["slow"] = time.time() - started

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.1)
    started = time.time()
    account.ecs.list_services(cluster="demo")
    took["other"] = time.time() - started
    thread.join(10)
    assert took["slow"] >= 0.8
    assert took["other"] < 0.5, took
    assert requests(account)[-2:] == [
        {"action": "ecs:ListServices", "status": 200, "fault": None, "error": None},
        {"action": "ecs:DescribeServices", "status": 200, "fault": "delay", "error": None},
    ]


def test_a_delay_before_an_error(account: Account) -> None:
    add_fault(account, "ecs:DescribeServices", "throttle", delay_ms=300, count=1)
    started = time.time()
    client_error(lambda: describe(account))
    assert time.time() - started >= 0.3


def test_request_log_names_actions_statuses_and_errors(account: Account) -> None:
    assert requests(account) == []  # the seed's own calls are not logged
    describe(account)
    client_error(lambda: account.ecs.update_service(cluster="demo", service="nope", desiredCount=1))
    client_error(lambda: account.elbv2.describe_target_groups(Names=["nope"]))
    account.client("cloudwatch").describe_alarms(AlarmNames=["staging-users-5xx"])
    account.client("secretsmanager").describe_secret(SecretId="users/db-credentials")
    account.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")
    account.client("ecr").describe_images(repositoryName="users")
    assert requests(account) == [
        {"action": "ecs:DescribeServices", "status": 200, "fault": None, "error": None},
        {"action": "ecs:UpdateService", "status": 400, "fault": None, "error": "ServiceNotFoundException"},
        {"action": "elasticloadbalancing:DescribeTargetGroups", "status": 400, "fault": None,
         "error": "TargetGroupNotFound"},
        {"action": "cloudwatch:DescribeAlarms", "status": 200, "fault": None, "error": None},
        {"action": "secretsmanager:DescribeSecret", "status": 200, "fault": None, "error": None},
        {"action": "application-autoscaling:DescribeScalableTargets", "status": 200, "fault": None,
         "error": None},
        {"action": "ecr:DescribeImages", "status": 200, "fault": None, "error": None},
    ]
    status, body = ctl(account.url, f"/_sandbox/requests?account_id={account.id}", method="DELETE")
    assert status == 200 and body["cleared"] == 7
    assert requests(account) == []


def test_fault_requests_are_checked(account: Account) -> None:
    for bad in ({"action": "DescribeServices", "fault": "throttle"},
                {"action": "ecs:DescribeServices", "fault": "explode"},
                {"action": "ecs:DescribeServices", "fault": "throttle", "count": 0},
                {"action": "ecs:DescribeServices", "fault": "throttle", "after": -1},
                {"action": "ecs:DescribeServices", "fault": "delay"},
                {"action": "ecs:DescribeServices", "fault": "throttle", "nope": 1}):
        status, body = ctl(account.url, "/_sandbox/faults", {"account_id": account.id, **bad})
        assert status == 400 and body["error"] == "InvalidFault", bad
    status, body = ctl(account.url, "/_sandbox/faults", {"action": "*", "fault": "drop"})
    assert status == 400 and body["error"] == "MissingAccount"
    assert ctl(account.url, "/_sandbox/requests")[0] == 400
    assert ctl(account.url, "/_sandbox/faults", method="PUT")[0] == 405
    assert faults(account) == []
