"""The tasks' logs in CloudWatch Logs: streams named as the awslogs driver names them, lines
at the times they happen, and FilterLogEvents / GetLogEvents / DescribeLogStreams as
CloudWatch Logs answers them."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import botocore.exceptions
import pytest

from conftest import Account, stable, wait_until

GROUP = "/ecs/staging-users"


def task_ids(account: Account, service: str = "staging-users") -> list[str]:
    arns = account.ecs.list_tasks(cluster="demo", serviceName=service)["taskArns"]
    return sorted(a.rsplit("/", 1)[-1] for a in arns)


def events(account: Account, **kwargs: Any) -> list[dict[str, Any]]:
    kwargs.setdefault("logGroupName", GROUP)
    out = []
    for page in account.logs.get_paginator("filter_log_events").paginate(**kwargs):
        out += page["events"]
    return out


def fields(event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(event["message"])


def test_service_tasks_log_into_streams_named_as_awslogs_names_them(account: Account) -> None:
    ids = task_ids(account)
    streams = account.logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert sorted(s["logStreamName"] for s in streams) == [f"users/users/{i}" for i in ids]
    prod = account.logs.describe_log_streams(logGroupName="/ecs/prod-users")["logStreams"]
    assert len(prod) == 6, "blue's and green's tasks"
    tasks = account.ecs.describe_tasks(cluster="demo", tasks=ids)["tasks"]
    for task in tasks:
        stream = f"users/users/{task['taskArn'].rsplit('/', 1)[-1]}"
        got = account.logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                                          startFromHead=True)["events"]
        assert [fields(e)["message"] for e in got[:3]] == [
            "starting", "database reachable, schema up to date", "listening"]
        started = int(task["startedAt"].timestamp() * 1000)
        assert abs(got[0]["timestamp"] - started) <= 1, "logged as the container started"
        assert fields(got[0])["version"] == "v1.1.0" and fields(got[2])["port"] == 8080
        assert all(e["ingestionTime"] >= e["timestamp"] for e in got)


def test_a_rollout_logs_requests_then_the_old_tasks_stop(account: Account) -> None:
    account.configure(log_request_seconds=0.2, task_stop_seconds=0.3)
    old = task_ids(account)
    wait_until(lambda: len(events(account, filterPattern='"request completed"')) >= 4, timeout=10,
               what="request lines")
    account.register_image("staging-users", "v1.2.0", 2)
    account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    wait_until(lambda: stable(account.service()), timeout=15, what="the rollout")
    new = task_ids(account)
    assert not set(new) & set(old)
    for task_id in old:
        got = events(account, logStreamNames=[f"users/users/{task_id}"])
        messages = [fields(e)["message"] for e in got]
        assert messages[-2:] == ["signal received", "stopped"]
        assert "request completed" in messages[:-2]
        assert [e["timestamp"] for e in got] == sorted(e["timestamp"] for e in got)
        stopped = account.ecs.describe_tasks(cluster="demo", tasks=[task_id])["tasks"][0]
        assert abs(got[-1]["timestamp"] - int(stopped["stoppedAt"].timestamp() * 1000)) <= 1
        assert abs(got[-2]["timestamp"] - int(stopped["stoppingAt"].timestamp() * 1000)) <= 1
    for task_id in new:
        got = events(account, logStreamNames=[f"users/users/{task_id}"])
        assert fields(got[0])["version"] == "v1.2.0"


def test_a_broken_version_logs_its_crash_before_its_tasks_stop(account: Account) -> None:
    account.register_image("staging-users", "v1.4.0-broken", 2)
    account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    crashes = wait_until(lambda: len(got := events(account, filterPattern="ERROR")) >= 3 and got,
                         timeout=15, what="three crashes")
    assert len({e["logStreamName"] for e in crashes}) == len(crashes), "one a task"
    assert all(fields(e)["message"] == "startup failed" for e in crashes)
    stopped = account.ecs.list_tasks(cluster="demo", serviceName="staging-users", desiredStatus="STOPPED")
    tasks = account.ecs.describe_tasks(cluster="demo", tasks=stopped["taskArns"])["tasks"]
    failed = {t["taskArn"].rsplit("/", 1)[-1]: t for t in tasks if t["stopCode"] == "EssentialContainerExited"}
    for event in crashes:
        task = failed[event["logStreamName"].rsplit("/", 1)[-1]]
        assert event["timestamp"] <= int(task["stoppedAt"].timestamp() * 1000)
        trace = events(account, logStreamNames=[event["logStreamName"]], filterPattern='"stack backtrace"')
        assert len(trace) == 1 and trace[0]["timestamp"] == event["timestamp"]


def test_filter_patterns(account: Account) -> None:
    for command in (["users-service", "migrate"], ["users-service", "migrate", "--fail"], ["report"]):
        account.stopped(account.run_task(command)["taskArn"])

    def messages(pattern: str) -> list[str]:
        got = events(account, filterPattern=pattern)
        return [e["message"] for e in got]

    everything = messages("")
    assert messages("ERROR") == [m for m in everything if "ERROR" in m]
    assert len(messages("ERROR")) == 1
    assert messages("error") == [m for m in everything if "error" in m], "case-sensitive"
    assert messages("migration failed") == [m for m in everything if "migration" in m and "failed" in m]
    assert len(messages('"schema up to date: applied"')) == 1
    assert messages('"command finished"') == [m for m in everything if "command finished" in m]
    assert messages("?ERROR ?WARN") == messages("ERROR")
    assert messages("?finished ?failed") == [m for m in everything if "finished" in m or "failed" in m]
    assert messages("-INFO") == [m for m in everything if "INFO" not in m]
    assert len(messages("-INFO")) == 1
    assert messages("%applied 000[0-9]%") == [m for m in everything if re.search("applied 000[0-9]", m)]
    assert messages("%applied 000[0-9]%") != []
    assert messages("command -finished") == [m for m in everything if "command" in m and "finished" not in m]


def test_filter_log_events_time_range_prefix_pages_and_order(account: Account) -> None:
    account.configure(log_request_seconds=0.1)
    run = account.stopped(account.run_task(["report"])["taskArn"])
    run_id = run["taskArn"].rsplit("/", 1)[-1]
    wait_until(lambda: len(events(account, filterPattern="request")) >= 10, timeout=10,
               what="request lines")
    everything = events(account)
    # request lines keep coming; what is logged up to the last answer's end stays as it is
    cutoff = everything[-1]["timestamp"]
    stamps = [(e["timestamp"], int(e["eventId"])) for e in everything]
    assert stamps == sorted(stamps), "interleaved in time order"
    assert len({e["logStreamName"] for e in everything}) == 3

    mine = events(account, logStreamNamePrefix=f"users/users/{run_id}")
    assert {e["logStreamName"] for e in mine} == {f"users/users/{run_id}"}
    assert [fields(e)["message"] for e in mine] == ["running command", "working", "command finished"]
    assert events(account, logStreamNamePrefix="users/users/", endTime=cutoff) == everything
    assert events(account, logStreamNames=[f"users/users/{run_id}"]) == mine

    first, last = mine[1]["timestamp"], mine[2]["timestamp"]
    window = events(account, startTime=first, endTime=last)
    assert window[0]["timestamp"] == first and window[-1]["timestamp"] == last, "both ends included"
    assert all(first <= e["timestamp"] <= last for e in window)

    pages, token = [], None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": GROUP, "limit": 3, "endTime": cutoff}
        if token:
            kwargs["nextToken"] = token
        page = account.logs.filter_log_events(**kwargs)
        assert len(page["events"]) <= 3
        pages.append(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    assert [e for p in pages for e in p] == everything
    assert all(len(p) == 3 for p in pages[:-1])

    arn = account.logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]["logGroupArn"]
    by_arn = account.logs.filter_log_events(logGroupIdentifier=arn, logStreamNames=[f"users/users/{run_id}"])
    assert [e["eventId"] for e in by_arn["events"]] == [e["eventId"] for e in mine]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        account.logs.filter_log_events(logGroupName=GROUP, logStreamNames=["a"], logStreamNamePrefix="a")
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        account.logs.filter_log_events(logGroupName="/ecs/nothing")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_following_a_task_by_polling_misses_nothing(account: Account) -> None:
    """What `opsctl logs --follow` does: FilterLogEvents from just after the last event seen."""
    arn = account.run_task(["users-service", "migrate", "sleep=1.2"])["taskArn"]
    stream = f"users/users/{arn.rsplit('/', 1)[-1]}"
    seen: list[dict[str, Any]] = []
    start = 0
    while True:
        done = account.task(arn)["lastStatus"] == "STOPPED"
        got = events(account, logStreamNames=[stream], startTime=start)
        got = [e for e in got if e["eventId"] not in {s["eventId"] for s in seen}]
        seen += got
        if got:
            start = got[-1]["timestamp"]
        if done:
            break
        time.sleep(0.1)
    assert seen == events(account, logStreamNames=[stream])
    assert len(seen) >= 3 and "schema up to date" in seen[-1]["message"]


def test_get_log_events_and_describe_log_streams(account: Account) -> None:
    account.configure(log_request_seconds=0.1)
    arn = account.stopped(account.run_task(["report"])["taskArn"])["taskArn"]
    stream = f"users/users/{arn.rsplit('/', 1)[-1]}"
    logs = account.logs
    head = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True, limit=2)
    assert len(head["events"]) == 2
    rest = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=head["nextForwardToken"])
    assert len(rest["events"]) == 1
    end = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=rest["nextForwardToken"])
    assert end["events"] == [] and end["nextForwardToken"] == rest["nextForwardToken"]
    lines = head["events"] + rest["events"]
    before = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True,
                                 startTime=lines[1]["timestamp"], endTime=lines[2]["timestamp"])
    assert before["events"] == lines[1:2], "startTime included, endTime not"

    described = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=stream)["logStreams"]
    assert len(described) == 1
    assert described[0]["firstEventTimestamp"] == lines[0]["timestamp"]
    assert described[0]["lastEventTimestamp"] == lines[-1]["timestamp"]
    assert abs(described[0]["creationTime"] - lines[0]["timestamp"]) <= 1, "created as the container started"
    wait_until(lambda: logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime",
                                                 descending=True)["logStreams"][0]["logStreamName"] != stream,
               timeout=5, what="a service task's newer request line")
