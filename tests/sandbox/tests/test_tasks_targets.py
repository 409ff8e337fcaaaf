"""Tasks exist as task objects, and they are the targets of their services' target groups."""

from __future__ import annotations

import ipaddress
from typing import Any

from conftest import Account, ctl, stable, wait_until

SERVICES = {"staging-users": 2, "prod-users-blue": 3, "prod-users-green": 3}


def health(account: Account, tg: str) -> dict[str, tuple[str, str | None]]:
    out = {}
    for d in account.elbv2.describe_target_health(TargetGroupArn=account.res["target_groups"][tg])[
            "TargetHealthDescriptions"]:
        assert d["Target"]["Port"] == 8080
        out[d["Target"]["Id"]] = (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
    return out


def task_ip(task: dict[str, Any]) -> str:
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    return details["privateIPv4Address"]


def test_tasks_match_services_and_targets(account: Account) -> None:
    ec2 = account.client("ec2")
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(SubnetIds=account.res["subnet_ids"])["Subnets"]}
    all_arns = account.ecs.list_tasks(cluster="demo")["taskArns"]
    assert len(all_arns) == sum(SERVICES.values())
    ips_seen = set()
    for name, desired in SERVICES.items():
        svc = account.service(name)
        arns = account.ecs.list_tasks(cluster="demo", serviceName=name)["taskArns"]
        assert len(arns) == desired
        tasks = account.ecs.describe_tasks(cluster="demo", tasks=arns)["tasks"]
        assert len(tasks) == desired
        ips = set()
        for t in tasks:
            assert t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING"
            assert t["taskDefinitionArn"] == svc["taskDefinition"]
            assert t["startedBy"] == svc["deployments"][0]["id"]
            assert t["group"] == f"service:{name}" and t["launchType"] == "FARGATE"
            assert t["clusterArn"] == account.res["cluster_arn"]
            users = next(c for c in t["containers"] if c["name"] == "users")
            assert users["lastStatus"] == "RUNNING" and users["image"].startswith(
                account.res["ecr_repository"]["uri"] + ":")
            ip = task_ip(t)
            subnet_id = next(d["value"] for d in t["attachments"][0]["details"] if d["name"] == "subnetId")
            assert ipaddress.ip_address(ip) in ipaddress.ip_network(subnets[subnet_id]["CidrBlock"])
            assert t["availabilityZone"] == subnets[subnet_id]["AvailabilityZone"]
            ips.add(ip)
        assert len({t["availabilityZone"] for t in tasks}) == 2, "spread over both subnets"
        assert health(account, name) == {ip: ("healthy", None) for ip in ips}
        ips_seen |= ips
    assert len(ips_seen) == sum(SERVICES.values()), "no address is handed out twice"
    enis = ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": account.res["subnet_ids"]}])["NetworkInterfaces"]
    assert ips_seen <= {e["PrivateIpAddress"] for e in enis}


def test_failing_tasks_are_unhealthy_targets_while_they_exist(account: Account) -> None:
    account.configure(task_start_seconds=3.0)  # time enough to look at them while PENDING
    account.register_image("staging-users", "v1.4.0-broken", 2)
    account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    arns = account.ecs.list_tasks(cluster="demo", serviceName="staging-users")["taskArns"]
    tasks = account.ecs.describe_tasks(cluster="demo", tasks=arns)["tasks"]
    pending = [t for t in tasks if t["lastStatus"] == "PENDING"]
    running = [t for t in tasks if t["lastStatus"] == "RUNNING"]
    assert len(pending) == 2 and len(running) == 2
    h = health(account, "staging-users")
    for t in pending:
        assert h[task_ip(t)] == ("unhealthy", "Target.FailedHealthChecks")
    for t in running:
        assert h[task_ip(t)] == ("healthy", None)
    # once they have stopped, their targets are gone
    wait_until(lambda: account.service()["deployments"][0]["failedTasks"] >= 2, timeout=10,
               what="the first failures")
    h = health(account, "staging-users")
    for t in pending:
        assert task_ip(t) not in h or h[task_ip(t)][0] == "unhealthy"
    stopped = account.ecs.describe_tasks(cluster="demo", tasks=[t["taskArn"] for t in pending])["tasks"]
    assert all(t["lastStatus"] == "STOPPED" for t in stopped)


def test_new_tasks_are_initial_then_healthy_and_old_ones_drain(account: Account) -> None:
    account.configure(task_start_seconds=2.0, task_stop_seconds=2.0)
    old_ips = set(health(account, "staging-users"))
    account.register_image("staging-users", "v1.2.0", 2)
    account.ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    h = health(account, "staging-users")
    new_ips = set(h) - old_ips
    assert len(new_ips) == 2
    assert {h[ip] for ip in new_ips} == {("initial", "Elb.RegistrationInProgress")}
    assert {h[ip] for ip in old_ips} == {("healthy", None)}
    wait_until(lambda: any(s == "draining" for s, _ in health(account, "staging-users").values()),
               timeout=10, what="old targets draining")
    h = health(account, "staging-users")
    assert {h[ip] for ip in new_ips} == {("healthy", None)}
    assert {h[ip] for ip in old_ips} == {("draining", "Target.DeregistrationInProgress")}
    svc = account.service()
    assert svc["runningCount"] == 2 and len(svc["deployments"]) == 2, "ACTIVE until drained"
    wait_until(lambda: stable(account.service()), timeout=10, what="the rollout")
    assert set(health(account, "staging-users")) == new_ips


def test_forced_target_health(account: Account) -> None:
    url = account.url
    status, body = ctl(url, "/_sandbox/target-health",
                       {"account_id": account.id, "target_group": "prod-users-green", "state": "unhealthy"})
    assert status == 200 and body["target_group_arn"] == account.res["target_groups"]["prod-users-green"]
    assert set(health(account, "prod-users-green").values()) == {("unhealthy", "Target.FailedHealthChecks")}
    assert set(health(account, "prod-users-blue").values()) == {("healthy", None)}
    status, body = ctl(url, "/_sandbox/target-health?account_id=%s&target_group=prod-users-green" % account.id)
    assert status == 200 and body["state"] == "unhealthy"
    arn = account.res["target_groups"]["prod-users-green"]
    status, _ = ctl(url, "/_sandbox/target-health", {"account_id": account.id, "target_group": arn, "state": "auto"})
    assert status == 200
    assert set(health(account, "prod-users-green").values()) == {("healthy", None)}


def test_target_groups_no_service_feeds_keep_moto_behaviour(account: Account) -> None:
    elb = account.elbv2
    tg = elb.create_target_group(Name="other", Protocol="HTTP", Port=80, VpcId=account.res["vpc_id"],
                                 TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.1.200", "Port": 80}])
    states = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert [(d["Target"]["Id"], d["TargetHealth"]["State"]) for d in states] == [("10.0.1.200", "healthy")]
    status, _ = ctl(account.url, "/_sandbox/target-health",
                    {"account_id": account.id, "target_group": "other", "state": "unhealthy"})
    assert status == 200
    states = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert states[0]["TargetHealth"]["State"] == "unhealthy"
