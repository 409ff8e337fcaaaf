"""ECS rollouts as the sandbox models them: deployments, pacing, events, the circuit breaker."""

from __future__ import annotations

import time
from typing import Any

from conftest import Account, stable, wait_until

BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."


def messages(svc: dict[str, Any]) -> list[str]:
    """The service's event messages, oldest first."""
    return [e["message"] for e in reversed(svc["events"])]


def index_of(msgs: list[str], needle: str, start: int = 0) -> int:
    for i in range(start, len(msgs)):
        if needle in msgs[i]:
            return i
    raise AssertionError(f"no event containing {needle!r} after #{start} in {msgs}")


def test_seeded_services_start_steady(account: Account) -> None:
    for name, desired, td in (("staging-users", 2, "staging-users:2"),
                              ("prod-users-blue", 3, "prod-users:2"),
                              ("prod-users-green", 3, "prod-users:1")):
        svc = account.service(name)
        assert stable(svc), svc["deployments"]
        assert svc["desiredCount"] == desired and svc["runningCount"] == desired
        assert svc["taskDefinition"] == account.td_arn(td)
        assert svc["events"][0]["message"] == f"(service {name}) has reached a steady state."


def test_rollout_converges(account: Account) -> None:
    before = account.service()
    old = before["deployments"][0]
    new_td = account.register_image("staging-users", "v1.2.0", 2)

    resp = account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    svc = resp["service"]
    assert svc["taskDefinition"] == new_td
    primary, active = svc["deployments"]
    assert primary["status"] == "PRIMARY" and primary["rolloutState"] == "IN_PROGRESS"
    assert primary["taskDefinition"] == new_td and primary["id"].startswith("ecs-svc/")
    assert primary["id"] != old["id"] and primary["createdAt"] and primary["updatedAt"]
    assert primary["desiredCount"] == 2
    assert active["status"] == "ACTIVE" and active["id"] == old["id"]
    assert active["taskDefinition"] == account.td_arn("staging-users:2")
    assert active["runningCount"] == 2 and active["rolloutState"] == "COMPLETED"

    seen_states = set()

    def done() -> Any:
        s = account.service()
        deps = s["deployments"]
        seen_states.add(tuple((d["status"], d["runningCount"]) for d in deps))
        # never below minimumHealthyPercent (100 %), never above maximumPercent (200 %)
        assert s["runningCount"] >= 2 and s["runningCount"] + s["pendingCount"] <= 4, s
        return s if stable(s) else None

    svc = wait_until(done, timeout=15, interval=0.02, what="the rollout to complete")
    assert len(seen_states) > 1
    dep = svc["deployments"][0]
    assert dep["id"] == primary["id"] and dep["taskDefinition"] == new_td
    assert dep["rolloutStateReason"] == f"ECS deployment {dep['id']} completed."
    assert svc["taskDefinition"] == new_td and svc["runningCount"] == 2

    events = svc["events"]
    assert all(e["id"] and e["createdAt"] for e in events)
    times = [e["createdAt"] for e in events]
    assert times == sorted(times, reverse=True), "events are newest first"
    msgs = messages(svc)
    first = index_of(msgs, "(deployment " + old["id"] + ") deployment completed.")
    i = index_of(msgs, "(service staging-users) has started 2 tasks: (task ", first)
    i = index_of(msgs, "(service staging-users) registered 2 targets in (target-group "
                 + account.res["target_groups"]["staging-users"] + ")", i)
    i = index_of(msgs, "(service staging-users) has stopped", i)
    i = index_of(msgs, f"(service staging-users) (deployment {dep['id']}) deployment completed.", i)
    i = index_of(msgs, "(service staging-users) has reached a steady state.", i)
    assert i == len(msgs) - 1


def test_same_task_definition_makes_no_rollout_unless_forced(account: Account) -> None:
    before = account.service()["deployments"][0]["id"]
    svc = account.ecs.update_service(cluster="demo", service="staging-users",
                                     taskDefinition="staging-users:2")["service"]
    assert [d["id"] for d in svc["deployments"]] == [before]
    svc = account.ecs.update_service(cluster="demo", service="staging-users",
                                     forceNewDeployment=True)["service"]
    assert len(svc["deployments"]) == 2 and svc["deployments"][0]["id"] != before
    assert svc["deployments"][0]["taskDefinition"] == account.td_arn("staging-users:2")
    wait_until(lambda: stable(account.service()), what="the forced rollout")


def test_task_definition_references(account: Account) -> None:
    arn3 = account.register_image("staging-users", "v1.2.0", 2)
    # a bare family means its latest ACTIVE revision
    svc = account.ecs.update_service(cluster="demo", service="staging-users",
                                     taskDefinition="staging-users")["service"]
    assert svc["taskDefinition"] == arn3 and len(svc["deployments"]) == 2
    wait_until(lambda: stable(account.service()), what="rollout to :3")
    # an ARN works too; and a deregistered latest revision is skipped by a bare family
    account.ecs.deregister_task_definition(taskDefinition=arn3)
    svc = account.ecs.update_service(cluster="demo", service="staging-users",
                                     taskDefinition=account.td_arn("staging-users:2"))["service"]
    assert svc["taskDefinition"] == account.td_arn("staging-users:2")
    wait_until(lambda: stable(account.service()), what="rollout back to :2")
    svc = account.ecs.update_service(cluster="demo", service="staging-users",
                                     taskDefinition="staging-users")["service"]
    assert len(svc["deployments"]) == 1, "latest ACTIVE is :2, already deployed"


def test_broken_tag_fails_and_rolls_back(account: Account) -> None:
    old = account.service()["deployments"][0]
    account.register_image("staging-users", "v1.4.0-broken", 2)
    account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    broken_td = account.td_arn("staging-users:3")

    failed = wait_until(
        lambda: (lambda s: s if s["deployments"][0]["rolloutState"] == "FAILED" else None)(account.service()),
        timeout=15, what="the circuit breaker")
    dep = failed["deployments"][0]
    assert dep["status"] == "PRIMARY" and dep["taskDefinition"] == broken_td
    assert dep["rolloutStateReason"] == BREAKER_REASON
    assert dep["failedTasks"] >= 3 and dep["runningCount"] == 0
    assert failed["runningCount"] == 2, "the old tasks keep serving"

    svc = wait_until(lambda: (lambda s: s if stable(s) else None)(account.service()),
                     timeout=15, what="the rollback to converge")
    assert svc["taskDefinition"] == account.td_arn("staging-users:2")
    assert svc["deployments"][0]["id"] not in (dep["id"], old["id"])
    msgs = messages(svc)
    i = index_of(msgs, f"(deployment {dep['id']}) deployment failed: tasks failed to start.")
    i = index_of(msgs, f"(service staging-users) rolling back to deployment {old['id']}.", i)
    index_of(msgs, "has reached a steady state.", i)
    assert index_of(msgs, "has stopped") < index_of(msgs, "deployment failed")

    stopped = account.ecs.list_tasks(cluster="demo", serviceName="staging-users",
                                     desiredStatus="STOPPED")["taskArns"]
    tasks = account.ecs.describe_tasks(cluster="demo", tasks=stopped)["tasks"]
    failures = [t for t in tasks if t["taskDefinitionArn"] == broken_td]
    assert len(failures) >= 3
    for t in failures:
        assert t["lastStatus"] == "STOPPED" and t["desiredStatus"] == "STOPPED"
        assert t["stoppedReason"] == "Essential container in task exited"
        assert t["stopCode"] == "EssentialContainerExited"
        assert t["startedBy"] == dep["id"] and "startedAt" not in t
        users = next(c for c in t["containers"] if c["name"] == "users")
        assert users["exitCode"] == 1 and users["lastStatus"] == "STOPPED"
        assert users["image"].endswith(":v1.4.0-broken")


def test_broken_tag_without_rollback_stays_failed(account: Account) -> None:
    account.ecs.update_service(
        cluster="demo", service="staging-users",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}})
    svc = account.service()
    assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": False}
    assert svc["deploymentConfiguration"]["maximumPercent"] == 200
    assert len(svc["deployments"]) == 1, "changing deploymentConfiguration alone is no rollout"
    account.register_image("staging-users", "v1.4.0-broken", 2)
    account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    wait_until(lambda: account.service()["deployments"][0]["rolloutState"] == "FAILED", timeout=15,
               what="the circuit breaker")
    time.sleep(2.0)  # longer than rollback_delay_seconds
    svc = account.service()
    primary, active = svc["deployments"]
    assert primary["rolloutState"] == "FAILED" and primary["rolloutStateReason"] == BREAKER_REASON
    assert primary["taskDefinition"] == account.td_arn("staging-users:3")
    assert svc["taskDefinition"] == account.td_arn("staging-users:3")
    assert active["runningCount"] == 2 and svc["runningCount"] == 2 and svc["pendingCount"] == 0
    failed = primary["failedTasks"]
    time.sleep(0.6)
    assert account.service()["deployments"][0]["failedTasks"] == failed, "no more launches"


def test_breaker_off_keeps_trying(account: Account) -> None:
    account.ecs.update_service(
        cluster="demo", service="staging-users",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}})
    account.register_image("staging-users", "v1.4.0-broken", 2)
    account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    svc = wait_until(lambda: (lambda s: s if s["deployments"][0]["failedTasks"] >= 8 else None)(
        account.service()), timeout=15, what="eight failed tasks")
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert len(svc["deployments"]) == 2 and svc["runningCount"] == 2


def test_failure_pattern_is_configurable(account: Account) -> None:
    account.configure(failure_pattern=r"^v1\.2\.")
    account.register_image("staging-users", "v1.2.0", 2)
    account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    wait_until(lambda: account.service()["deployments"][0]["rolloutState"] == "FAILED",
               timeout=15, what="v1.2.0 to fail")
    status_cfg = account.configure(failure_pattern="broken")
    assert status_cfg["failure_pattern"] == "broken"


def test_pull_failure_mode(account: Account) -> None:
    account.configure(failure_mode="pull")
    account.register_image("staging-users", "v1.4.0-broken", 2)
    account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    wait_until(lambda: account.service()["deployments"][0]["failedTasks"] >= 1, what="a failed task")
    arns = account.ecs.list_tasks(cluster="demo", serviceName="staging-users", desiredStatus="STOPPED")["taskArns"]
    task = account.ecs.describe_tasks(cluster="demo", tasks=arns)["tasks"][0]
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError")
    users = next(c for c in task["containers"] if c["name"] == "users")
    assert users["reason"].startswith("CannotPullContainerError") and "exitCode" not in users


def test_scaling_converges_both_ways(account: Account) -> None:
    svc = account.ecs.update_service(cluster="demo", service="staging-users", desiredCount=5)["service"]
    assert svc["desiredCount"] == 5 and len(svc["deployments"]) == 1
    assert svc["runningCount"] == 2 and svc["pendingCount"] == 3
    svc = wait_until(lambda: (lambda s: s if stable(s) else None)(account.service()), what="scale out")
    assert svc["runningCount"] == 5
    assert svc["events"][0]["message"] == "(service staging-users) has reached a steady state."
    assert len(account.ecs.list_tasks(cluster="demo", serviceName="staging-users")["taskArns"]) == 5

    account.ecs.update_service(cluster="demo", service="staging-users", desiredCount=1)
    svc = wait_until(lambda: (lambda s: s if stable(s) else None)(account.service()), what="scale in")
    assert svc["runningCount"] == 1
    assert "has stopped 4 running tasks" in " ".join(messages(svc))
    assert len(account.ecs.list_tasks(cluster="demo", serviceName="staging-users")["taskArns"]) == 1

    account.ecs.update_service(cluster="demo", service="staging-users", desiredCount=0)
    wait_until(lambda: stable(account.service()) and account.service()["runningCount"] == 0,
               what="scale to zero")
    assert account.ecs.list_tasks(cluster="demo", serviceName="staging-users")["taskArns"] == []
    tg = account.res["target_groups"]["staging-users"]
    # stopped tasks drain (target `draining`) for task_stop_seconds, then their targets go
    wait_until(lambda: account.elbv2.describe_target_health(TargetGroupArn=tg)[
        "TargetHealthDescriptions"] == [], timeout=5, what="the targets to be deregistered")


def test_delete_service_drains(account: Account) -> None:
    svc = account.ecs.delete_service(cluster="demo", service="prod-users-green", force=True)["service"]
    assert svc["status"] == "DRAINING"
    wait_until(lambda: account.service("prod-users-green")["status"] == "INACTIVE", what="INACTIVE")
    assert account.ecs.list_tasks(cluster="demo", serviceName="prod-users-green")["taskArns"] == []
    cluster = account.ecs.describe_clusters(clusters=["demo"])["clusters"][0]
    assert cluster["runningTasksCount"] == 5 and cluster["activeServicesCount"] == 2


def test_stopped_task_is_replaced(account: Account) -> None:
    account.configure(task_start_seconds=2.0)
    arns = account.ecs.list_tasks(cluster="demo", serviceName="staging-users")["taskArns"]
    account.ecs.stop_task(cluster="demo", task=arns[0], reason="testing")
    svc = account.service()
    assert svc["runningCount"] == 1 and svc["pendingCount"] == 1
    wait_until(lambda: stable(account.service()), what="the replacement")
    task = account.ecs.describe_tasks(cluster="demo", tasks=[arns[0]])["tasks"][0]
    assert task["lastStatus"] == "STOPPED" and task["stoppedReason"] == "testing"
    assert task["stopCode"] == "UserInitiated"
