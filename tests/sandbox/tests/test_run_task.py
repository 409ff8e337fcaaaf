"""One-off tasks (RunTask): their lifecycle and times, the exit-code convention, tasks that
never start, StopTask, and DescribeTasks / ListTasks as ECS answers them."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

import botocore.exceptions
import pytest

from conftest import Account, wait_until

ORDER = ["PROVISIONING", "PENDING", "RUNNING", "STOPPING", "DEPROVISIONING", "STOPPED"]


def register(account: Account, tag: str = "v1.1.0", family: str = "staging-users",
             log_options: dict[str, str] | None = None) -> str:
    """A new revision of FAMILY like its revision 2, the users image tagged TAG, its awslogs
    options replaced by LOG_OPTIONS."""
    td = account.ecs.describe_task_definition(taskDefinition=f"{family}:2")["taskDefinition"]
    for c in td["containerDefinitions"]:
        if c["name"] == "users":
            c["image"] = c["image"].rsplit(":", 1)[0] + ":" + tag
            if log_options is not None:
                c["logConfiguration"]["options"] = log_options
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "volumes",
            "requiresCompatibilities", "cpu", "memory", "runtimePlatform")
    return account.ecs.register_task_definition(
        containerDefinitions=td["containerDefinitions"], **{k: td[k] for k in keep if k in td}
    )["taskDefinition"]["taskDefinitionArn"]


def users(task: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in task["containers"] if c["name"] == "users")


def seconds(later: Any, earlier: Any) -> float:
    return round((later - earlier).total_seconds(), 2)


def client_error(call: Any) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return info.value


def stream_messages(account: Account, task_arn: str, group: str = "/ecs/staging-users") -> list[str]:
    stream = f"users/users/{task_arn.rsplit('/', 1)[-1]}"
    events = account.logs.get_log_events(logGroupName=group, logStreamName=stream,
                                         startFromHead=True)["events"]
    return [e["message"] for e in events]


def test_a_migration_runs_through_the_lifecycle_with_its_times(account: Account) -> None:
    account.configure(task_start_seconds=0.4, task_stop_seconds=0.3, run_task_seconds=0.6)
    task = account.run_task(["users-service", "migrate"], startedBy="opsctl-run",
                            tags=[{"key": "purpose", "value": "migrate"}])
    assert task["lastStatus"] == "PROVISIONING" and task["desiredStatus"] == "RUNNING"
    assert task["group"] == "family:staging-users" and task["startedBy"] == "opsctl-run"
    assert task["launchType"] == "FARGATE" and task["platformVersion"] == "1.4.0"
    assert task["taskDefinitionArn"] == account.td_arn("staging-users:2")
    assert task["clusterArn"] == account.res["cluster_arn"]
    assert task["overrides"]["containerOverrides"] == [
        {"name": "users", "command": ["users-service", "migrate"]}]
    assert task["cpu"] == "512" and task["memory"] == "1024"
    assert {c["name"] for c in task["containers"]} == {"users", "log-router"}
    assert all(c["lastStatus"] == "PENDING" and "exitCode" not in c for c in task["containers"])
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    subnets = account.client("ec2").describe_subnets(SubnetIds=[details["subnetId"]])["Subnets"]
    assert ipaddress.ip_address(details["privateIPv4Address"]) in ipaddress.ip_network(
        subnets[0]["CidrBlock"])
    assert task["availabilityZone"] == subnets[0]["AvailabilityZone"]

    seen = [task["lastStatus"]]

    def stopped() -> Any:
        t = account.task(task["taskArn"])
        if t["lastStatus"] != seen[-1]:
            seen.append(t["lastStatus"])
        return t["lastStatus"] == "STOPPED" and t

    done = wait_until(stopped, timeout=10, interval=0.02, what="the migration to end")
    # (a poll on a loaded machine can miss a short state; the times below show each one)
    assert seen == sorted(seen, key=ORDER.index), seen
    assert done["desiredStatus"] == "STOPPED"
    assert done["stopCode"] == "EssentialContainerExited"
    assert done["stoppedReason"] == "Essential container in task exited"
    assert users(done)["exitCode"] == 0 and users(done)["lastStatus"] == "STOPPED"
    assert all(c["lastStatus"] == "STOPPED" for c in done["containers"])
    t = {k: done[k] for k in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt",
                              "stoppingAt", "executionStoppedAt", "stoppedAt")}
    assert t["createdAt"] < t["pullStartedAt"] < t["pullStoppedAt"] == t["startedAt"]
    assert t["startedAt"] < t["stoppingAt"] == t["executionStoppedAt"] < t["stoppedAt"]
    assert seconds(t["startedAt"], t["createdAt"]) == 0.4
    assert seconds(t["executionStoppedAt"], t["startedAt"]) == 0.6
    assert seconds(t["stoppedAt"], t["executionStoppedAt"]) == 0.3
    assert done["attachments"][0]["status"] == "DELETED"
    enis = account.client("ec2").describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": account.res["subnet_ids"]}])["NetworkInterfaces"]
    assert details["networkInterfaceId"] not in {e["NetworkInterfaceId"] for e in enis}, "the ENI is gone"
    assert account.ecs.describe_tasks(cluster="demo", tasks=[task["taskArn"]], include=["TAGS"])[
        "tasks"][0]["tags"] == [{"key": "purpose", "value": "migrate"}]
    msgs = stream_messages(account, task["taskArn"])
    assert '"applied 0001 create users"' in msgs[1] and "schema up to date" in msgs[-1]


@pytest.mark.parametrize("command, code", [
    (["users-service", "migrate"], 0),
    (["users-service", "migrate", "--fail"], 1),
    (["sh", "-c", "echo fail"], 1),
    (["sh", "-c", "exit=3"], 3),
    (["job", "exit=0", "--fail-fast"], 0),
    (["job", "exit=300"], 44),
    (["true"], 0),
])
def test_the_exit_code_follows_the_command(account: Account, command: list[str], code: int) -> None:
    done = account.stopped(account.run_task(command)["taskArn"])
    assert users(done)["exitCode"] == code
    assert next(c for c in done["containers"] if c["name"] == "log-router")["exitCode"] == 0
    assert done["stopCode"] == "EssentialContainerExited" and "reason" not in users(done)
    msgs = stream_messages(account, done["taskArn"])
    errors = [m for m in msgs if '"level":"ERROR"' in m]
    assert (errors != []) == (code != 0), msgs
    if code:
        assert f'"exit_code":{code}' in errors[-1] and msgs[-1] == errors[-1], "the last line"


def test_sleep_sets_how_long_it_runs_and_no_command_runs_the_default(account: Account) -> None:
    long = account.run_task(["worker", "sleep=1.5"])
    default = account.run_task(None)
    done = account.stopped(default["taskArn"])
    assert users(done)["exitCode"] == 0
    assert seconds(done["executionStoppedAt"], done["startedAt"]) == 0.3
    done = account.stopped(long["taskArn"])
    assert seconds(done["executionStoppedAt"], done["startedAt"]) == 1.5


def test_a_broken_version_crashes_and_an_image_not_in_ecr_never_starts(account: Account) -> None:
    broken = account.run_task(["users-service", "migrate"], family=register(account, "v1.4.0-broken"))
    missing = account.run_task(["users-service", "migrate"], family=register(account, "v9.9.9"))
    done = account.stopped(broken["taskArn"])
    assert done["stopCode"] == "EssentialContainerExited" and users(done)["exitCode"] == 1
    assert "startedAt" not in done, "it never ran"
    msgs = stream_messages(account, done["taskArn"])
    assert any('"level":"ERROR"' in m and "startup failed" in m for m in msgs)
    assert "stack backtrace:" in msgs[-1]

    done = account.stopped(missing["taskArn"])
    image = f"{account.res['ecr_repository']['uri']}:v9.9.9"
    reason = ("CannotPullContainerError: pull image manifest has been retried 7 time(s): "
              f"failed to resolve ref {image}: not found")
    assert done["stopCode"] == "TaskFailedToStart" and done["stoppedReason"] == reason
    assert users(done)["reason"] == reason
    assert all("exitCode" not in c for c in done["containers"]) and "startedAt" not in done
    streams = account.logs.describe_log_streams(
        logGroupName="/ecs/staging-users", logStreamNamePrefix="users/users/" + done["taskArn"].rsplit("/", 1)[-1])
    assert streams["logStreams"] == [], "no container started, no stream"


def test_an_image_by_digest_starts_if_ecr_has_the_digest(account: Account) -> None:
    uri = account.res["ecr_repository"]["uri"]
    td = account.ecs.describe_task_definition(taskDefinition="staging-users:2")["taskDefinition"]
    results = {}
    for name, image in (("known", f"{uri}@{account.res['ecr_repository']['images']['v1.2.0']}"),
                        ("unknown", f"{uri}@sha256:{'0' * 64}")):
        containers = td["containerDefinitions"]
        containers[0]["image"] = image
        arn = account.ecs.register_task_definition(
            family="staging-users", containerDefinitions=containers, networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
            executionRoleArn=td["executionRoleArn"], taskRoleArn=td["taskRoleArn"],
        )["taskDefinition"]["taskDefinitionArn"]
        results[name] = account.run_task(["true"], family=arn)["taskArn"]
    assert users(account.stopped(results["known"]))["exitCode"] == 0
    assert account.stopped(results["unknown"])["stopCode"] == "TaskFailedToStart"


def test_a_missing_log_group_fails_the_start_unless_the_driver_may_create_it(account: Account) -> None:
    options = {"awslogs-group": "/ecs/jobs", "awslogs-region": "us-east-1",
               "awslogs-stream-prefix": "job"}
    failed = account.stopped(account.run_task(["true"], family=register(account, log_options=options))["taskArn"])
    assert failed["stopCode"] == "TaskFailedToStart"
    assert failed["stoppedReason"].startswith("ResourceInitializationError: failed to validate logger args")
    assert "The specified log group does not exist." in failed["stoppedReason"]
    assert all("exitCode" not in c for c in failed["containers"])

    created = account.run_task(["true"], family=register(
        account, log_options={**options, "awslogs-create-group": "true"}))
    done = account.stopped(created["taskArn"])
    assert users(done)["exitCode"] == 0
    groups = account.logs.describe_log_groups(logGroupNamePrefix="/ecs/jobs")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/ecs/jobs"]
    stream = f"job/users/{done['taskArn'].rsplit('/', 1)[-1]}"
    events = account.logs.get_log_events(logGroupName="/ecs/jobs", logStreamName=stream)["events"]
    assert events and "command finished" in events[-1]["message"]


def test_a_failing_tag_with_failure_mode_pull_never_starts(account: Account) -> None:
    account.configure(failure_mode="pull")
    done = account.stopped(account.run_task(["true"], family=register(account, "v1.4.0-broken"))["taskArn"])
    assert done["stopCode"] == "TaskFailedToStart"
    assert done["stoppedReason"].startswith("CannotPullContainerError:")


def test_stop_task_sends_sigterm_and_sigkill_after_the_stop_timeout(account: Account) -> None:
    account.configure(stop_timeout_seconds=1.5)
    polite = account.run_task(["worker", "sleep=30"])
    stubborn = account.run_task(["worker", "sleep=30", "ignore-sigterm"])
    for arn in (polite["taskArn"], stubborn["taskArn"]):
        wait_until(lambda: account.task(arn)["lastStatus"] == "RUNNING", timeout=10, what="RUNNING")

    answer = account.ecs.stop_task(cluster="demo", task=polite["taskArn"], reason="cancelled by opsctl")["task"]
    assert answer["desiredStatus"] == "STOPPED" and answer["lastStatus"] == "RUNNING"
    assert answer["stopCode"] == "UserInitiated" and answer["stoppedReason"] == "cancelled by opsctl"
    done = account.stopped(polite["taskArn"])
    assert users(done)["exitCode"] == 143 and done["stopCode"] == "UserInitiated"
    assert done["stoppedReason"] == "cancelled by opsctl"
    assert done["stoppingAt"] == done["executionStoppedAt"]
    assert '"signal":"SIGTERM"' in stream_messages(account, polite["taskArn"])[-1]
    assert account.ecs.stop_task(cluster="demo", task=polite["taskArn"])["task"]["lastStatus"] == "STOPPED"

    asked = time.time()
    account.ecs.stop_task(cluster="demo", task=stubborn["taskArn"])
    status = account.task(stubborn["taskArn"])["lastStatus"]
    if time.time() - asked < 1.0:  # (a loaded machine may take longer than the stop timeout)
        assert status == "STOPPING"
    done = account.stopped(stubborn["taskArn"])
    assert users(done)["exitCode"] == 137 and done["stoppedReason"] == "Task stopped by user"
    assert seconds(done["executionStoppedAt"], done["stoppingAt"]) == 1.5


def test_stop_task_before_the_start_and_of_an_unknown_task(account: Account) -> None:
    account.configure(task_start_seconds=30)
    task = account.run_task(["users-service", "migrate"])
    account.ecs.stop_task(cluster="demo", task=task["taskArn"].rsplit("/", 1)[-1], reason="never mind")
    done = account.stopped(task["taskArn"])
    assert done["stopCode"] == "UserInitiated" and done["stoppedReason"] == "never mind"
    assert "startedAt" not in done and all("exitCode" not in c for c in done["containers"])
    err = client_error(lambda: account.ecs.stop_task(cluster="demo", task="0" * 32))
    assert err.response["Error"]["Code"] == "InvalidParameterException"


def test_list_tasks_filters_and_pages(account: Account) -> None:
    account.configure(run_task_seconds=30)
    a = [account.run_task(["job"], startedBy="opsctl-run")["taskArn"] for _ in range(3)]
    b = account.run_task(["job"], family="prod-users:1", startedBy="someone")["taskArn"]
    ecs = account.ecs
    assert sorted(ecs.list_tasks(cluster="demo", startedBy="opsctl-run")["taskArns"]) == sorted(a)
    assert ecs.list_tasks(cluster="demo", family="prod-users")["taskArns"][-1] == b
    assert b not in ecs.list_tasks(cluster="demo", family="staging-users")["taskArns"]
    assert ecs.list_tasks(cluster="demo", family="staging")["taskArns"] == [], "a family, not a prefix"
    assert len(ecs.list_tasks(cluster="demo", launchType="FARGATE")["taskArns"]) == 8 + 4
    assert ecs.list_tasks(cluster="demo", launchType="EC2")["taskArns"] == []
    pages = ecs.get_paginator("list_tasks").paginate(
        cluster="demo", startedBy="opsctl-run", PaginationConfig={"PageSize": 2})
    sizes = [len(p["taskArns"]) for p in pages]
    assert sizes == [2, 1]
    ecs.stop_task(cluster="demo", task=a[0])
    assert a[0] not in ecs.list_tasks(cluster="demo", startedBy="opsctl-run")["taskArns"]
    assert a[0] in ecs.list_tasks(cluster="demo", startedBy="opsctl-run", desiredStatus="STOPPED")["taskArns"]
    cluster = ecs.describe_clusters(clusters=["demo"])["clusters"][0]
    assert cluster["runningTasksCount"] + cluster["pendingTasksCount"] == 8 + 3


def test_describe_tasks_answers_for_its_cluster_and_names_the_missing(account: Account) -> None:
    arn = account.run_task(["job"])["taskArn"]
    account.ecs.create_cluster(clusterName="other")
    answer = account.ecs.describe_tasks(cluster="demo", tasks=[arn, "f" * 32])
    assert [t["taskArn"] for t in answer["tasks"]] == [arn]
    assert answer["failures"] == [{"arn": "f" * 32, "reason": "MISSING"}]
    answer = account.ecs.describe_tasks(cluster="other", tasks=[arn])
    assert answer["tasks"] == [] and answer["failures"] == [{"arn": arn, "reason": "MISSING"}]


def test_run_task_refuses_what_ecs_refuses(account: Account) -> None:
    ecs = account.ecs

    def code(**kwargs: Any) -> str:
        kwargs.setdefault("cluster", "demo")
        kwargs.setdefault("taskDefinition", "staging-users:2")
        return client_error(lambda: ecs.run_task(**kwargs)).response["Error"]["Code"]

    assert code(launchType="FARGATE") == "InvalidParameterException"  # no network configuration
    assert code(networkConfiguration=account.network()) == "InvalidParameterException"  # EC2
    assert code(launchType="FARGATE", networkConfiguration={
        "awsvpcConfiguration": {"subnets": ["subnet-00000000"]}}) == "InvalidParameterException"
    assert code(launchType="FARGATE", networkConfiguration=account.network(),
                overrides={"containerOverrides": [{"name": "nope", "command": ["x"]}]}) \
        == "InvalidParameterException"
    assert code(launchType="FARGATE", networkConfiguration=account.network(),
                taskDefinition="nothing:1") == "ClientException"
    ecs.deregister_task_definition(taskDefinition="staging-users:1")
    assert code(launchType="FARGATE", networkConfiguration=account.network(),
                taskDefinition="staging-users:1") == "ClientException"
    ecs.create_cluster(clusterName="bare")
    assert code(cluster="bare", capacityProviderStrategy=[{"capacityProvider": "FARGATE"}],
                networkConfiguration=account.network()) == "InvalidParameterException"

    # the seed's cluster has FARGATE and FARGATE_SPOT
    spot = account.run_task(["job"], launchType=None,
                            capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}])
    assert spot["capacityProviderName"] == "FARGATE_SPOT" and spot["launchType"] == "FARGATE"


def test_a_client_token_runs_the_task_once(account: Account) -> None:
    first = account.run_task(["migrate", "sleep=30"], clientToken="deploy-42-migrate")
    again = account.run_task(["migrate", "sleep=30"], clientToken="deploy-42-migrate")
    assert again["taskArn"] == first["taskArn"]
    assert len(account.ecs.list_tasks(cluster="demo", family="staging-users")["taskArns"]) == 2 + 1
    err = client_error(lambda: account.run_task(["other"], clientToken="deploy-42-migrate"))
    assert err.response["Error"]["Code"] == "ConflictException"
