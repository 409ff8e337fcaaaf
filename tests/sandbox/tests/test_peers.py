"""The sandbox agrees with the tools people check ECS deployments with: the aws CLI's
`ecs wait services-stable` waiter and fabfuel's ecs-deploy (both from the venv)."""

from __future__ import annotations

import subprocess
import time

from conftest import VENV_BIN, Account, stable, wait_until


def run(account: Account, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), env=account.env(), capture_output=True, text=True, timeout=timeout)


def test_aws_cli_waiter_agrees_after_an_update(account: Account) -> None:
    # Slow enough that the waiter's first look (the CLI takes about a second to start) sees
    # the rollout under way; the waiter then polls again 15 s later.
    account.configure(task_start_seconds=4.0)
    account.register_image("staging-users", "v1.2.0", 2)
    updated = time.time()
    account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    assert not stable(account.service())
    # awscli v1 pins some services' endpoints itself, so the URL is also given explicitly
    proc = run(account, str(VENV_BIN / "aws"), "--endpoint-url", account.url, "ecs", "wait",
               "services-stable", "--cluster", "demo", "--services", "staging-users")
    assert proc.returncode == 0, proc.stderr
    assert time.time() - updated > 4.0, "the waiter returned before the rollout could be done"
    svc = account.service()
    assert stable(svc) and svc["taskDefinition"] == account.td_arn("staging-users:3")


def ecs_deploy(account: Account, tag: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(account, str(VENV_BIN / "ecs"), "deploy", "demo", "staging-users", "--tag", tag,
               "--timeout", "60", *extra)


def test_ecs_deploy_succeeds_for_a_good_tag(account: Account) -> None:
    proc = ecs_deploy(account, "v1.2.0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Deployment successful" in proc.stdout
    svc = account.service()
    assert stable(svc) and svc["taskDefinition"] == account.td_arn("staging-users:3")
    td = account.ecs.describe_task_definition(taskDefinition="staging-users:3")["taskDefinition"]
    assert td["containerDefinitions"][0]["image"].endswith(":v1.2.0")
    # ecs-deploy deregistered the revision it replaced
    old = account.ecs.describe_task_definition(taskDefinition="staging-users:2")["taskDefinition"]
    assert old["status"] == "INACTIVE"


def test_ecs_deploy_fails_for_the_broken_tag_and_the_service_rolls_back(account: Account) -> None:
    # ecs-deploy polls every second: the FAILED deployment must stay PRIMARY longer than that
    account.configure(rollback_delay_seconds=5.0)
    proc = ecs_deploy(account, "v1.4.0-broken", "--rollback")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "ECS deployment circuit breaker: tasks failed to start." in out
    svc = wait_until(lambda: (lambda s: s if stable(s) else None)(account.service()), timeout=20,
                     what="the circuit breaker's rollback")
    assert svc["taskDefinition"] == account.td_arn("staging-users:2")
    good = account.ecs.describe_task_definition(taskDefinition="staging-users:2")["taskDefinition"]
    assert good["status"] == "ACTIVE", "a failed deploy deregisters nothing"


def test_ecs_deploy_misses_a_failure_that_rolls_back_at_once(account: Account) -> None:
    """The hazard a short-lived FAILED state creates for a client polling each second: the
    rollback's success reads as the deploy's own, and the good revision is deregistered."""
    account.configure(rollback_delay_seconds=0.0)
    proc = ecs_deploy(account, "v1.4.0-broken")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Deployment successful" in proc.stdout
    svc = account.service()
    assert svc["taskDefinition"] == account.td_arn("staging-users:2")
    assert "deployment failed: tasks failed to start." in " ".join(e["message"] for e in svc["events"])
    good = account.ecs.describe_task_definition(taskDefinition="staging-users:2")["taskDefinition"]
    assert good["status"] == "INACTIVE"


def test_ecs_deploy_rolls_back_itself_when_it_times_out(account: Account) -> None:
    """With the circuit breaker off the broken tasks keep failing; ecs-deploy's own
    --rollback then takes over when its timeout runs out."""
    account.ecs.update_service(
        cluster="demo", service="staging-users",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}})
    proc = run(account, str(VENV_BIN / "ecs"), "deploy", "demo", "staging-users", "--tag",
               "v1.4.0-broken", "--timeout", "4", "--rollback")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Rolling back to task definition: staging-users:2" in out
    assert "Rollback successful" in out
    svc = account.service()
    assert stable(svc) and svc["taskDefinition"] == account.td_arn("staging-users:2")
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    broken = account.ecs.describe_task_definition(taskDefinition="staging-users:3")["taskDefinition"]
    assert broken["status"] == "INACTIVE" and broken["containerDefinitions"][0]["image"].endswith(
        ":v1.4.0-broken")
