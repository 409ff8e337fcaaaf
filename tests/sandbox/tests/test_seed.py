"""The seed builds the demo environment opsctl.toml describes."""

from __future__ import annotations

import json
import re
import time
import tomllib

from conftest import ROOT, Account, ctl

CONFIG = tomllib.loads((ROOT / "opsctl.toml").read_text())


def test_seed_is_quick(sandbox_url: str) -> None:
    took = []
    for _ in range(3):  # the best of three, so that a busy machine does not fail it
        started = time.time()
        status, _ = ctl(sandbox_url, "/_sandbox/seed", {})
        assert status == 200
        took.append(time.time() - started)
    assert min(took) < 2.0, took


def test_network(account: Account) -> None:
    ec2 = account.client("ec2")
    vpc = ec2.describe_vpcs(VpcIds=[account.res["vpc_id"]])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    subnets = ec2.describe_subnets(SubnetIds=account.res["subnet_ids"])["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    assert all(s["VpcId"] == vpc["VpcId"] for s in subnets)
    sg = ec2.describe_security_groups(GroupIds=[account.res["security_group_id"]])["SecurityGroups"][0]
    assert sg["GroupName"] == "users-sg" and sg["VpcId"] == vpc["VpcId"]


def test_ecr_images(account: Account) -> None:
    ecr = account.client("ecr")
    images = ecr.describe_images(repositoryName="users")["imageDetails"]
    tags = {t: i["imageDigest"] for i in images for t in i.get("imageTags", [])}
    assert set(tags) == {"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0-broken"}
    assert len(set(tags.values())) == 5
    assert tags == account.res["ecr_repository"]["images"]


def test_secret(account: Account) -> None:
    value = json.loads(account.client("secretsmanager").get_secret_value(
        SecretId="users/db-credentials")["SecretString"])
    assert set(value) == {"username", "password", "host", "port", "dbname"}
    assert value["host"] == account.res["db"]["endpoint"]


def test_alarms_ok_on_the_right_target_groups(account: Account) -> None:
    cw = account.client("cloudwatch")
    names = set(CONFIG["env"]["staging"]["alarms"]) | set(CONFIG["env"]["prod"]["alarms"])
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNames=sorted(names))["MetricAlarms"]}
    assert set(alarms) == names == {"staging-users-5xx", "prod-users-5xx", "prod-users-p99"}
    assert {a["StateValue"] for a in alarms.values()} == {"OK"}
    tg = lambda name: account.res["target_groups"][name].split(":", 5)[5]  # noqa: E731
    staging = alarms["staging-users-5xx"]
    assert staging["Namespace"] == "AWS/ApplicationELB"
    assert {"Name": "TargetGroup", "Value": tg("staging-users")} in staging["Dimensions"]
    for name in ("prod-users-5xx", "prod-users-p99"):
        dims = [d for m in alarms[name]["Metrics"] if "MetricStat" in m
                for d in m["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "TargetGroup"]
        assert {d["Value"] for d in dims} == {tg("prod-users-blue"), tg("prod-users-green")}
        assert all(m["MetricStat"]["Metric"]["Namespace"] == "AWS/ApplicationELB"
                   for m in alarms[name]["Metrics"] if "MetricStat" in m)


def test_task_definitions_and_their_tags(account: Account) -> None:
    ecs = account.ecs
    repo = account.res["ecr_repository"]["uri"]
    endpoint = account.res["db"]["endpoint"]
    for family, tags in (("staging-users", ["v1.0.0", "v1.1.0"]), ("prod-users", ["v1.0.0", "v1.1.0"])):
        arns = ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
        assert arns == [account.td_arn(f"{family}:1"), account.td_arn(f"{family}:2")]
        for revision, version in enumerate(tags, start=1):
            out = ecs.describe_task_definition(taskDefinition=f"{family}:{revision}", include=["TAGS"])
            td = out["taskDefinition"]
            users = next(c for c in td["containerDefinitions"] if c["name"] == "users")
            assert users["image"] == f"{repo}:{version}"
            env = {e["name"]: e["value"] for e in users["environment"]}
            assert env["DB_HOST"] == endpoint and env["DB_SECRET_ARN"] == account.res["secret_arn"]
            assert td["executionRoleArn"] == f"arn:aws:iam::{account.id}:role/{family}-execution"
            assert td["networkMode"] == "awsvpc" and td["cpu"] == "512" and td["memory"] == "1024"
            assert "${" not in json.dumps(td)
            tagmap = {t["key"]: t["value"] for t in out["tags"]}
            assert tagmap["opsctl:version"] == version
            assert tagmap["opsctl:deployed-by"] == "seed"
            assert tagmap["opsctl:outcome"] == "succeeded"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", tagmap["opsctl:deployed-at"])
            if revision == 1:
                assert "opsctl:previous" not in tagmap
            else:
                assert tagmap["opsctl:previous"] == f"{family}:1"
            listed = ecs.list_tags_for_resource(resourceArn=td["taskDefinitionArn"])["tags"]
            assert {t["key"]: t["value"] for t in listed} == tagmap
    # ListTaskDefinitions sorts as ECS does
    desc = ecs.list_task_definitions(familyPrefix="staging-users", sort="DESC")["taskDefinitionArns"]
    assert desc == [account.td_arn("staging-users:2"), account.td_arn("staging-users:1")]
    # tags can be added the way opsctl records an outcome
    arn = account.td_arn("staging-users:2")
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "opsctl:outcome", "value": "rolled-back"}])
    listed = {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert listed["opsctl:outcome"] == "rolled-back" and listed["opsctl:version"] == "v1.1.0"


def test_load_balancing(account: Account) -> None:
    elb = account.elbv2
    tgs = elb.describe_target_groups(Names=["staging-users", "prod-users-blue", "prod-users-green"])["TargetGroups"]
    for tg in tgs:
        assert (tg["Protocol"], tg["Port"], tg["TargetType"], tg["HealthCheckPath"]) == ("HTTP", 8080, "ip", "/health")
    lbs = {lb["LoadBalancerName"]: lb for lb in elb.describe_load_balancers()["LoadBalancers"]}
    assert set(lbs) == {"staging-alb", "prod-alb"}
    staging = elb.describe_listeners(LoadBalancerArn=lbs["staging-alb"]["LoadBalancerArn"])["Listeners"]
    assert [(l["Port"], l["DefaultActions"][0]["Type"]) for l in staging] == [(80, "forward")]
    assert staging[0]["DefaultActions"][0]["TargetGroupArn"] == account.res["target_groups"]["staging-users"]
    prod = elb.describe_listeners(LoadBalancerArn=lbs["prod-alb"]["LoadBalancerArn"])["Listeners"]
    assert len(prod) == 1 and prod[0]["Port"] == 80
    fwd = prod[0]["DefaultActions"][0]["ForwardConfig"]
    weights = {t["TargetGroupArn"]: t["Weight"] for t in fwd["TargetGroups"]}
    assert weights == {account.res["target_groups"]["prod-users-blue"]: 100,
                       account.res["target_groups"]["prod-users-green"]: 0}
    assert fwd["TargetGroupStickinessConfig"]["Enabled"] is False


def test_services(account: Account) -> None:
    bg = CONFIG["env"]["prod"]["bluegreen"]
    expected = {
        CONFIG["env"]["staging"]["service"]: (2, "staging-users:2", "staging-users"),
        bg["blue"]["service"]: (3, "prod-users:2", bg["blue"]["target_group"]),
        bg["green"]["service"]: (3, "prod-users:1", bg["green"]["target_group"]),
    }
    services = account.ecs.describe_services(cluster=CONFIG["env"]["staging"]["cluster"],
                                             services=list(expected))["services"]
    assert len(services) == 3
    for svc in services:
        desired, td, tg = expected[svc["serviceName"]]
        assert svc["desiredCount"] == desired and svc["taskDefinition"] == account.td_arn(td)
        assert svc["launchType"] == "FARGATE"
        assert svc["loadBalancers"] == [{"targetGroupArn": account.res["target_groups"][tg],
                                         "containerName": "users", "containerPort": 8080}]
        vpc = svc["networkConfiguration"]["awsvpcConfiguration"]
        assert vpc["subnets"] == account.res["subnet_ids"]
        assert vpc["securityGroups"] == [account.res["security_group_id"]]
        assert svc["deploymentConfiguration"] == {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200, "minimumHealthyPercent": 100}


def test_database(account: Account) -> None:
    rds = account.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier="users-db")["DBInstances"][0]
    assert db["DBInstanceStatus"] == "available"
    assert db["Engine"] == "postgres" and db["EngineVersion"].startswith("15")
    assert db["DBInstanceClass"] == "db.t3.micro" and db["AllocatedStorage"] == 20
    assert db["StorageType"] == "gp3" and db["BackupRetentionPeriod"] == 7
    assert db["MultiAZ"] is False and db["DeletionProtection"] is True
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "users-db-subnets"
    assert [g["DBParameterGroupName"] for g in db["DBParameterGroups"]] == ["users-pg15"]
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [account.res["security_group_id"]]
    assert {t["Key"] for t in db["TagList"]} >= {"app"}
    pg = rds.describe_db_parameter_groups(DBParameterGroupName="users-pg15")["DBParameterGroups"][0]
    assert pg["DBParameterGroupFamily"] == "postgres15"


def test_scalable_targets(account: Account) -> None:
    aas = account.client("application-autoscaling")
    targets = {t["ResourceId"]: (t["MinCapacity"], t["MaxCapacity"], t["ScalableDimension"])
               for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]}
    s, p = CONFIG["env"]["staging"]["scaling"], CONFIG["env"]["prod"]["scaling"]
    assert targets == {
        "service/demo/staging-users": (s["min"], s["max"], "ecs:service:DesiredCount"),
        "service/demo/prod-users-blue": (p["min"], p["max"], "ecs:service:DesiredCount"),
        "service/demo/prod-users-green": (p["min"], p["max"], "ecs:service:DesiredCount"),
    }


def test_iam_user(account: Account) -> None:
    iam = account.client("iam")
    keys = iam.list_access_keys(UserName="opsctl-demo")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [account.seed["access_key_id"]]
