"""Service deployments and the native strategies (BLUE_GREEN, LINEAR, CANARY), driven with
boto3 against the sandbox's native environment (the seed's `native-users` service)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import FAST, Account, ctl, wait_until

SERVICE = "native-users"
FINAL = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
# one minute of the API is 0.2 s here; a stage with nothing to wait for 0.05 s
QUICK = {**FAST, "minute_seconds": 0.2, "stage_seconds": 0.05}


@pytest.fixture
def native(sandbox_url: str) -> Account:
    status, seed = ctl(sandbox_url, "/_sandbox/seed", {"native": True})
    assert status == 200, seed
    acct = Account(sandbox_url, seed)
    acct.configure(**QUICK)
    return acct


def nat(account: Account) -> dict[str, Any]:
    return account.res["native"]


def tgs(account: Account) -> tuple[str, str]:
    t = nat(account)["target_groups"]
    return t["main"], t["alternate"]


def weights(account: Account, rule: str) -> dict[str, int]:
    (r,) = account.elbv2.describe_rules(RuleArns=[rule])["Rules"]
    (action,) = r["Actions"]
    return {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}


def deploy(account: Account, td: str, **dc: Any) -> str:
    """UpdateService to TD (with deploymentConfiguration changes), the new deployment's ARN."""
    kwargs: dict[str, Any] = {"cluster": "demo", "service": SERVICE, "taskDefinition": td}
    if dc:
        kwargs["deploymentConfiguration"] = dc
    account.ecs.update_service(**kwargs)
    sds = account.ecs.list_service_deployments(cluster="demo", service=SERVICE)["serviceDeployments"]
    return sds[0]["serviceDeploymentArn"]


def describe(account: Account, arn: str) -> dict[str, Any]:
    (sd,) = account.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    return sd


def watch(account: Account, arn: str, until: Any = None, timeout: float = 20.0) -> tuple[dict[str, Any], list[tuple]]:
    """Polls the deployment and both listener rules until `until(sd)` (default: a final
    status); returns the last description and the distinct (status, stage, green production
    weight, green test weight) seen, in order."""
    main, alt = tgs(account)
    prod, test = nat(account)["production_listener_rule"], nat(account)["test_listener_rule"]
    green = None
    seen: list[tuple] = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        sd = describe(account, arn)
        if green is None:
            green = alt if weights(account, prod)[main] == 100 else main
        wp, wt = weights(account, prod), weights(account, test)
        assert sum(wp.values()) == 100 and sum(wt.values()) == 100, (wp, wt)
        row = (sd["status"], sd.get("lifecycleStage"), wp[green], wt[green])
        if not seen or seen[-1] != row:
            seen.append(row)
        if (until(sd) if until else sd["status"] in FINAL):
            return sd, seen
        time.sleep(0.02)
    raise AssertionError(f"timed out; seen {seen}")


def prod_steps(seen: list[tuple]) -> list[int]:
    out: list[int] = []
    for _status, _stage, w, _t in seen:
        if not out or out[-1] != w:
            out.append(w)
    return out


def stages(seen: list[tuple]) -> list[str]:
    out: list[str] = []
    for _status, stage, _w, _t in seen:
        if stage and (not out or out[-1] != stage):
            out.append(stage)
    return out


def registered(account: Account, tg: str) -> int:
    return len(account.elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"])


# ---------------------------------------------------------------------------------------------


def test_native_environment_is_plain_aws(native: Account) -> None:
    main, alt = tgs(native)
    svc = native.service(SERVICE)
    dc = svc["deploymentConfiguration"]
    assert dc["strategy"] == "BLUE_GREEN" and dc["bakeTimeInMinutes"] == 2
    assert dc["alarms"] == {"alarmNames": ["native-users-5xx", "native-users-p99"],
                            "enable": True, "rollback": True}
    (lb,) = svc["loadBalancers"]
    assert lb["targetGroupArn"] == main
    assert lb["advancedConfiguration"] == {
        "alternateTargetGroupArn": alt,
        "productionListenerRule": nat(native)["production_listener_rule"],
        "testListenerRule": nat(native)["test_listener_rule"],
        "roleArn": nat(native)["infrastructure_role"],
    }
    for rule in (nat(native)["production_listener_rule"], nat(native)["test_listener_rule"]):
        assert weights(native, rule) == {main: 100, alt: 0}
    assert registered(native, main) == 3 and registered(native, alt) == 0
    (first,) = native.ecs.list_service_deployments(cluster="demo", service=SERVICE)["serviceDeployments"]
    assert first["status"] == "SUCCESSFUL" and first["serviceArn"] == svc["serviceArn"]
    sd = describe(native, first["serviceDeploymentArn"])
    assert sd["sourceServiceRevisions"] == [] and sd["targetServiceRevision"]["runningTaskCount"] == 3
    (rev,) = native.ecs.describe_service_revisions(
        serviceRevisionArns=[first["targetServiceRevisionArn"]])["serviceRevisions"]
    assert rev["taskDefinition"] == native.td_arn("native-users:2")
    # the default seed has no native service
    assert "native" not in ctl(native.url, "/_sandbox/seed", {})[1]["resources"]


@pytest.mark.parametrize("strategy,extra,steps", [
    ("BLUE_GREEN", {}, [0, 100]),
    ("LINEAR", {"linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}},
     [0, 25, 50, 75, 100]),
    ("CANARY", {"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}},
     [0, 10, 100]),
])
def test_strategy_succeeds(native: Account, strategy: str, extra: dict[str, Any],
                           steps: list[int]) -> None:
    main, alt = tgs(native)
    arn = deploy(native, "native-users:1", strategy=strategy, bakeTimeInMinutes=1, **extra)
    sd, seen = watch(native, arn)
    assert sd["status"] == "SUCCESSFUL", seen
    assert prod_steps(seen) == steps, seen
    # the stages in order (a poller may miss the short ones: each lasts stage_seconds)
    order = ["PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
             "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
             "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"]
    got = stages(seen)
    assert [order.index(x) for x in got] == sorted(order.index(x) for x in got), seen
    # The stages that wait on something (traffic, the bake, the old tasks) are always seen;
    # SCALE_UP lasts as long as a task start, which a poll on a loaded machine can miss.
    assert {"PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"} <= set(got), seen
    # test traffic moved before production traffic did
    first_test = next(i for i, r in enumerate(seen) if r[3] == 100)
    first_prod = next(i for i, r in enumerate(seen) if r[2] > 0)
    assert first_test < first_prod
    # green was scaled up before it took traffic, blue kept running until clean-up
    assert all(r[1] in ("PRE_SCALE_UP", "SCALE_UP", None) for r in seen[:first_test - 1] if r[2] == 0)
    assert sd["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    assert sd["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 0.0
    assert sd["deploymentConfiguration"]["strategy"] == strategy
    assert sd["startedAt"] >= sd["createdAt"] and sd["finishedAt"] >= sd["startedAt"]
    assert weights(native, nat(native)["production_listener_rule"]) == {main: 0, alt: 100}
    svc = wait_until(lambda: (s := native.service(SERVICE))["runningCount"] == 3
                     and len(s["deployments"]) == 1 and s, what="blue gone")
    assert svc["taskDefinition"] == native.td_arn("native-users:1")
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert registered(native, alt) == 3 and registered(native, main) == 0
    if strategy == "BLUE_GREEN":  # the next deployment goes back to the main target group
        sd, seen = watch(native, deploy(native, "native-users:2"))
        assert sd["status"] == "SUCCESSFUL" and prod_steps(seen) == [0, 100], seen
        assert weights(native, nat(native)["production_listener_rule"]) == {main: 100, alt: 0}
        wait_until(lambda: registered(native, main) == 3 and registered(native, alt) == 0,
                   what="targets back in main")


def test_broken_image_rolls_back_at_scale_up(native: Account) -> None:
    main, alt = tgs(native)
    native.register_image("native-users", "v1.4.0-broken", 2)
    arn = deploy(native, "native-users:3")
    sd, seen = watch(native, arn)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL", seen
    assert sd["createdAt"] <= sd["rollback"]["startedAt"] <= sd["finishedAt"]
    assert all(r[2] == 0 and r[3] == 0 for r in seen), "no traffic ever reached the broken revision"
    assert "SCALE_UP" in stages(seen) and "TEST_TRAFFIC_SHIFT" not in stages(seen)
    assert sd["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert sd["deploymentCircuitBreaker"]["failureCount"] >= 3
    assert sd["deploymentCircuitBreaker"]["threshold"] == 3
    assert "circuit breaker" in sd["rollback"]["reason"]
    assert sd["rollback"]["serviceRevisionArn"] == sd["sourceServiceRevisions"][0]["arn"]
    assert weights(native, nat(native)["production_listener_rule"]) == {main: 100, alt: 0}
    svc = native.service(SERVICE)
    assert svc["taskDefinition"] == native.td_arn("native-users:2") and svc["runningCount"] == 3
    assert any("rolling back to deployment" in e["message"] for e in svc["events"])


def test_alarm_during_bake_rolls_back(native: Account) -> None:
    main, alt = tgs(native)
    arn = deploy(native, "native-users:1", bakeTimeInMinutes=30)
    sd, seen = watch(native, arn, until=lambda s: s.get("lifecycleStage") == "BAKE_TIME")
    assert weights(native, nat(native)["production_listener_rule"]) == {main: 0, alt: 100}
    native.client("cloudwatch").set_alarm_state(
        AlarmName="native-users-5xx", StateValue="ALARM", StateReason="5xx on green")
    sd, seen = watch(native, arn)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL", seen
    assert sd["alarms"]["status"] == "TRIGGERED"
    assert sd["alarms"]["triggeredAlarmNames"] == ["native-users-5xx"]
    assert "native-users-5xx" in sd["rollback"]["reason"]
    assert weights(native, nat(native)["production_listener_rule"]) == {main: 100, alt: 0}
    assert weights(native, nat(native)["test_listener_rule"]) == {main: 100, alt: 0}
    wait_until(lambda: registered(native, alt) == 0, what="green drained")
    assert native.service(SERVICE)["taskDefinition"] == native.td_arn("native-users:2")


def test_stop_service_deployment(native: Account) -> None:
    main, alt = tgs(native)
    lin = {"stepPercent": 20.0, "stepBakeTimeInMinutes": 10}
    arn = deploy(native, "native-users:1", strategy="LINEAR", linearConfiguration=lin)
    watch(native, arn, until=lambda s: s["targetServiceRevision"].get("requestedProductionTrafficWeight") == 40.0)
    assert weights(native, nat(native)["production_listener_rule"]) == {main: 60, alt: 40}
    assert native.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")[
        "serviceDeploymentArn"] == arn
    sd, seen = watch(native, arn)
    assert seen[0][0] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"), seen
    assert sd["status"] == "ROLLBACK_SUCCESSFUL" and "StopServiceDeployment" in sd["rollback"]["reason"]
    assert weights(native, nat(native)["production_listener_rule"]) == {main: 100, alt: 0}
    with pytest.raises(ClientError) as err:
        native.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert err.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as err:
        native.ecs.stop_service_deployment(serviceDeploymentArn=arn + "x")
    assert err.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"

    # ABORT: it stops where it is, traffic and both revisions as they were
    arn = deploy(native, "native-users:1", strategy="CANARY",
                 canaryConfiguration={"canaryPercent": 30.0, "canaryBakeTimeInMinutes": 30})
    watch(native, arn, until=lambda s: s["targetServiceRevision"].get("requestedProductionTrafficWeight") == 30.0)
    native.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ABORT")
    sd, seen = watch(native, arn)
    assert sd["status"] == "STOPPED" and "STOP_REQUESTED" in [r[0] for r in seen] and sd["stoppedAt"]
    assert weights(native, nat(native)["production_listener_rule"]) == {main: 70, alt: 30}
    assert len(native.service(SERVICE)["deployments"]) == 2


def test_pause_hook_is_approved_step_by_step(native: Account) -> None:
    main, alt = tgs(native)
    hooks = [{"targetType": "PAUSE", "lifecycleStages": ["PRODUCTION_TRAFFIC_SHIFT"],
              "timeoutConfiguration": {"timeoutInMinutes": 600, "action": "ROLLBACK"}}]
    arn = deploy(native, "native-users:1", strategy="CANARY", lifecycleHooks=hooks,
                 canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 0})

    def paused(s: dict[str, Any]) -> bool:
        return any(h["status"] == "AWAITING_ACTION" for h in s.get("lifecycleHookDetails", []))

    for pct in (10, 100):
        sd, _ = watch(native, arn, until=paused)
        (hook,) = [h for h in sd["lifecycleHookDetails"] if h["status"] == "AWAITING_ACTION"]
        assert hook["targetType"] == "PAUSE" and "targetArn" not in hook
        assert hook["timeoutAction"] == "ROLLBACK" and hook["expiresAt"] > datetime.now(timezone.utc)
        assert sd["status"] == "IN_PROGRESS" and sd["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"
        time.sleep(0.3)  # it stays paused
        assert describe(native, arn)["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"
        assert weights(native, nat(native)["production_listener_rule"]) == {main: 100 - pct, alt: pct}
        with pytest.raises(ClientError) as err:
            native.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="nope")
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
        native.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"],
                                               action="CONTINUE")
        sd = describe(native, arn)
        assert next(h for h in sd["lifecycleHookDetails"] if h["hookId"] == hook["hookId"])[
            "status"] == "SUCCEEDED"
    sd, _ = watch(native, arn)
    assert sd["status"] == "SUCCESSFUL"
    assert [h["status"] for h in sd["lifecycleHookDetails"]] == ["SUCCEEDED", "SUCCEEDED"]

    # answered ROLLBACK: traffic goes back
    arn = deploy(native, "native-users:2", strategy="CANARY", lifecycleHooks=hooks,
                 canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 0})
    sd, _ = watch(native, arn, until=paused)
    assert weights(native, nat(native)["production_listener_rule"]) == {main: 10, alt: 90}
    hook = next(h for h in sd["lifecycleHookDetails"] if h["status"] == "AWAITING_ACTION")
    native.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"],
                                           action="ROLLBACK")
    sd, _ = watch(native, arn)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL" and "lifecycle hook" in sd["rollback"]["reason"]
    assert weights(native, nat(native)["production_listener_rule"]) == {main: 0, alt: 100}


def test_pause_hook_times_out(native: Account) -> None:
    hooks = [{"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"],
              "timeoutConfiguration": {"timeoutInMinutes": 2, "action": "CONTINUE"}}]
    sd, seen = watch(native, deploy(native, "native-users:1", lifecycleHooks=hooks, bakeTimeInMinutes=0))
    assert sd["status"] == "SUCCESSFUL" and sd["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"


def test_lambda_hook_verdict(native: Account) -> None:
    fn = f"arn:aws:lambda:us-east-1:{native.id}:function:smoke-test"
    hooks = [{"hookTargetArn": fn, "roleArn": nat(native)["infrastructure_role"],
              "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]
    status, body = ctl(native.url, "/_sandbox/hooks",
                       {"account_id": native.id, "hook_target_arn": fn, "verdict": "FAILED"})
    assert status == 200 and body["verdicts"] == {fn: "FAILED"}
    sd, seen = watch(native, deploy(native, "native-users:1", lifecycleHooks=hooks))
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    (hook,) = sd["lifecycleHookDetails"]
    assert hook["targetType"] == "AWS_LAMBDA" and hook["targetArn"] == fn and hook["status"] == "FAILED"
    assert all(r[2] == 0 for r in seen), "production traffic never moved"
    ctl(native.url, "/_sandbox/hooks", {"account_id": native.id, "hook_target_arn": fn, "verdict": None})
    sd, _ = watch(native, deploy(native, "native-users:1", lifecycleHooks=hooks, bakeTimeInMinutes=0))
    assert sd["status"] == "SUCCESSFUL" and sd["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"


def test_metrics_knob_feeds_get_metric_data(native: Account) -> None:
    main, alt = tgs(native)
    native.configure(metrics_interval_seconds=0.1)
    status, body = ctl(native.url, "/_sandbox/metrics", {
        "account_id": native.id, "target_group": "native-users-alt", "error_rate": 0.2, "p99": 0.8,
        "requests_per_minute": 6000})
    assert status == 200 and body["target_group_arn"] == alt and body["error_rate"] == 0.2
    assert ctl(native.url, "/_sandbox/metrics", {"account_id": native.id, "target_group": "x"})[0] == 404
    start = datetime.now(timezone.utc) - timedelta(seconds=5)
    arn = deploy(native, "native-users:1", bakeTimeInMinutes=30)
    watch(native, arn, until=lambda s: s.get("lifecycleStage") == "BAKE_TIME")
    shifted = datetime.now(timezone.utc)
    time.sleep(1.0)
    cw = native.client("cloudwatch")
    lb = next(v for k, v in native.res["load_balancers"].items() if k == "prod-alb")["arn"]

    def query(tg: str) -> dict[str, list[float]]:
        dims = [{"Name": "LoadBalancer", "Value": lb.split(":", 5)[5].removeprefix("loadbalancer/")},
                {"Name": "TargetGroup", "Value": tg.split(":", 5)[5]}]
        q = [{"Id": mid, "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": name,
                                                   "Dimensions": dims}, "Period": 60, "Stat": stat}}
             for mid, name, stat in (("req", "RequestCount", "Sum"),
                                     ("err", "HTTPCode_Target_5XX_Count", "Sum"),
                                     ("p99", "TargetResponseTime", "p99"))]
        res = cw.get_metric_data(MetricDataQueries=q, StartTime=start,
                                 EndTime=datetime.now(timezone.utc) + timedelta(minutes=1))
        return {r["Id"]: r["Values"] for r in res["MetricDataResults"]}

    green = query(alt)
    requests, errors = sum(green["req"]), sum(green["err"])
    assert requests >= 50, green  # 100 requests a second, for a second or more
    assert errors == pytest.approx(requests * 0.2, rel=1e-3)
    assert set(green["p99"]) == {0.8}
    # blue: healthy (the seed's profile) while it took traffic, nothing since
    blue = query(main)
    assert sum(blue["err"]) == 0 and set(blue["p99"]) <= {0.12}
    stats = cw.get_metric_statistics(
        Namespace="AWS/ApplicationELB", MetricName="RequestCount", Statistics=["Sum"], Period=60,
        StartTime=shifted.replace(microsecond=0) + timedelta(seconds=1), EndTime=datetime.now(timezone.utc) + timedelta(minutes=1),
        Dimensions=[{"Name": "TargetGroup", "Value": main.split(":", 5)[5]},
                    {"Name": "LoadBalancer", "Value": lb.split(":", 5)[5].removeprefix("loadbalancer/")}])
    assert sum(d["Sum"] for d in stats["Datapoints"]) == 0
    status, listed = ctl(native.url, f"/_sandbox/metrics?account_id={native.id}")
    assert {p["target_group_arn"] for p in listed["profiles"]} == {main, alt}
    native.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")


def test_listing_and_shapes(native: Account) -> None:
    arns = [deploy(native, "native-users:1", bakeTimeInMinutes=0)]
    watch(native, arns[0])
    arns.append(deploy(native, "native-users:2", bakeTimeInMinutes=0))
    watch(native, arns[1])
    ecs = native.ecs
    listed = ecs.list_service_deployments(cluster="demo", service=SERVICE)["serviceDeployments"]
    assert [b["serviceDeploymentArn"] for b in listed][:2] == arns[::-1] and len(listed) == 3
    page = ecs.list_service_deployments(cluster="demo", service=SERVICE, maxResults=2)
    assert len(page["serviceDeployments"]) == 2 and page["nextToken"]
    rest = ecs.list_service_deployments(cluster="demo", service=SERVICE, maxResults=2,
                                        nextToken=page["nextToken"])
    assert len(rest["serviceDeployments"]) == 1 and "nextToken" not in rest
    by_arn = ecs.list_service_deployments(service=native.res["services"][SERVICE], cluster="demo",
                                          status=["SUCCESSFUL"])["serviceDeployments"]
    assert len(by_arn) == 3
    assert ecs.list_service_deployments(cluster="demo", service=SERVICE,
                                        status=["ROLLBACK_SUCCESSFUL"])["serviceDeployments"] == []
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert ecs.list_service_deployments(cluster="demo", service=SERVICE,
                                        createdAt={"after": future})["serviceDeployments"] == []
    got = ecs.describe_service_deployments(serviceDeploymentArns=[arns[0], arns[0] + "x"])
    assert len(got["serviceDeployments"]) == 1
    assert got["failures"] == [{"arn": arns[0] + "x", "reason": "MISSING"}]
    with pytest.raises(ClientError) as err:
        ecs.list_service_deployments(cluster="demo", service="nope")
    assert err.value.response["Error"]["Code"] == "ServiceNotFoundException"
    for bad in ({"strategy": "SIDEWAYS"},
                {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 1.0}},
                {"strategy": "ROLLING", "canaryConfiguration": {"canaryPercent": 5.0}}):
        with pytest.raises(ClientError) as err:
            ecs.update_service(cluster="demo", service=SERVICE, deploymentConfiguration=bad)
        assert err.value.response["Error"]["Code"] == "InvalidParameterException", bad
    # a native strategy needs the advanced configuration of its load balancers
    with pytest.raises(ClientError) as err:
        ecs.update_service(cluster="demo", service="staging-users",
                           deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1})
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"


def test_rolling_deployments_are_service_deployments(native: Account) -> None:
    ecs = native.ecs
    native.register_image("staging-users", "v1.2.0", 2)
    ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:3")
    arn = ecs.list_service_deployments(cluster="demo", service="staging-users")[
        "serviceDeployments"][0]["serviceDeploymentArn"]
    sd = wait_until(lambda: (s := describe(native, arn))["status"] in FINAL and s, what="rolling done")
    assert sd["status"] == "SUCCESSFUL" and "lifecycleStage" not in sd
    assert "requestedProductionTrafficWeight" not in sd["targetServiceRevision"]
    assert sd["alarms"]["status"] == "DISABLED" and sd["deploymentCircuitBreaker"]["status"] == "MONITORING_COMPLETE"
    native.register_image("staging-users", "v1.4.0-broken", 2)
    ecs.update_service(cluster="demo", service="staging-users", taskDefinition="staging-users:4")
    arn = ecs.list_service_deployments(cluster="demo", service="staging-users")[
        "serviceDeployments"][0]["serviceDeploymentArn"]
    sd = wait_until(lambda: (s := describe(native, arn))["status"] in FINAL and s, timeout=20,
                    what="rolled back")
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    assert sd["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    (rev,) = ecs.describe_service_revisions(serviceRevisionArns=[sd["rollback"]["serviceRevisionArn"]])[
        "serviceRevisions"]
    assert rev["taskDefinition"] == native.td_arn("staging-users:3")
