"""Seeds the demo environment that opsctl.toml describes into one sandbox account.

The seed talks to the sandbox's own AWS APIs with boto3 (the account chosen by the
`x-moto-account-id` header), exactly as any client would, then fast-forwards the first
rollout of the three services so that everything starts from a steady state.

This is the one seed implementation: `POST /_sandbox/seed` runs it inside the server, and the
demo (demo.sh, `sandbox.sh seed`) and the tests all go through that endpoint.
"""

from __future__ import annotations

import gc
import hashlib
import json
import random
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from .ecs_rollout import moto_patch, traffic

REGION = "us-east-1"
# Where the database recovers into (opsctl.toml's database.dr): a network, a subnet group, the
# parameter group and a KMS key there, as a real recovery region is prepared beforehand.
DR_REGION = "us-west-2"
CLUSTER = "demo"
REPOSITORY = "users"
CONTAINER = "users"
CONTAINER_PORT = 8080
IMAGE_TAGS = ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0-broken"]
DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
# service -> (task definition family, revision, desired count, target group)
SERVICES = {
    "staging-users": ("staging-users", 2, 2, "staging-users"),
    "prod-users-blue": ("prod-users", 2, 3, "prod-users-blue"),
    "prod-users-green": ("prod-users", 1, 3, "prod-users-green"),
}
# family -> [(revision's image tag)]; revision N is the N-th entry
FAMILIES = {"staging-users": ["v1.0.0", "v1.1.0"], "prod-users": ["v1.0.0", "v1.1.0"]}
SCALING = {"staging-users": (1, 6), "prod-users-blue": (2, 10), "prod-users-green": (2, 10)}
# The native environment (`{"native": true}`): one service whose deployments ECS runs itself
# (strategy BLUE_GREEN, switchable to LINEAR or CANARY with UpdateService), behind prod-alb.
NATIVE_SERVICE = "native-users"
NATIVE_FAMILY = "native-users"
NATIVE_TAGS = ["v1.0.0", "v1.1.0"]
NATIVE_DESIRED = 3
NATIVE_TARGET_GROUPS = ("native-users-main", "native-users-alt")
NATIVE_HOST = "native.users.internal"
NATIVE_TEST_PORT = 8080
NATIVE_ROLE = "ecs-infrastructure-elb"
NATIVE_BAKE_MINUTES = 2
NATIVE_HEALTHY = {"error_rate": 0.0, "p99": 0.12, "requests_per_minute": 600}
# The IAM user whose access key the seed hands out, and its inline policy (allowing
# everything; only checked where IAM enforcement is on, see iam.py).
USER = "opsctl-demo"
PERMISSIONS_POLICY = "sandbox-permissions"
# The seed's own calls are signed with this key, which no IAM user owns: faults, the request
# log and IAM enforcement leave them alone.
SEED_ACCESS_KEY = "sandbox-seed"

TEMPLATE = Path(__file__).resolve().parents[3] / "service" / "deploy" / "task-definition.json"

_seeded: set[str] = set()
_seeded_lock = threading.Lock()
_session_lock = threading.Lock()
_session: boto3.session.Session | None = None


class AlreadySeeded(Exception):
    pass


def reset() -> None:
    with _seeded_lock:
        _seeded.clear()


def random_account_id() -> str:
    return str(random.randint(10**11, 10**12 - 1))


def _boto_session() -> boto3.session.Session:
    """The one boto3 session of the seed (call with _session_lock held)."""
    global _session
    if _session is None:
        _session = boto3.session.Session(
            aws_access_key_id=SEED_ACCESS_KEY,
            aws_secret_access_key=SEED_ACCESS_KEY,
            region_name=REGION,
        )
    return _session


_clients: dict[tuple[str, str], Any] = {}
_account = threading.local()  # the account the calls of this thread go to


def _add_account_header(request: Any, **_: Any) -> None:
    request.headers["x-moto-account-id"] = _account.id


class _Clients:
    """boto3 clients bound to the sandbox URL; their calls go to one account.

    The clients are made once per service and shared (creating them is the slow part of a
    botocore call); the account is taken from the calling thread, so seeds may run at once."""

    def __init__(self, base_url: str, account_id: str):
        self.base_url = base_url
        self.account_id = account_id
        _account.id = account_id

    def __call__(self, name: str, region: str = REGION) -> Any:
        _account.id = self.account_id
        key = (self.base_url, name, region)
        with _session_lock:
            client = _clients.get(key)
            if client is None:
                client = _boto_session().client(
                    name,
                    endpoint_url=self.base_url,
                    region_name=region,
                    config=Config(retries={"total_max_attempts": 1}, connect_timeout=5,
                                  read_timeout=30),
                )
                client.meta.events.register("before-sign.*.*", _add_account_header)
                _clients[key] = client
        return client


WARM_UP_ACCOUNT = "000000000000"


def warm_up(base_url: str) -> None:
    """Loads what the first seed would otherwise load (service models, moto's per-service
    apps) with one read-only call per service in an otherwise unused account."""
    c = _Clients(base_url, WARM_UP_ACCOUNT)
    for name, op, kwargs in (
        ("ecs", "list_clusters", {}),
        ("ec2", "describe_vpcs", {}),
        ("iam", "list_users", {}),
        ("ecr", "describe_repositories", {}),
        ("rds", "describe_db_instances", {}),
        ("secretsmanager", "list_secrets", {}),
        ("logs", "describe_log_groups", {}),
        ("elbv2", "describe_load_balancers", {}),
        ("cloudwatch", "describe_alarms", {}),
        ("application-autoscaling", "describe_scalable_targets", {"ServiceNamespace": "ecs"}),
    ):
        try:
            getattr(c(name), op)(**kwargs)
        except Exception:
            pass


def _manifest(tag: str) -> str:
    """A small valid Docker image manifest; the layers differ per tag, so do the digests."""

    def digest(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"users:{tag}:{kind}".encode()).hexdigest()

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1470,
                "digest": digest("config"),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3370628,
                    "digest": digest("base"),
                },
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 8811402,
                    "digest": digest("app"),
                },
            ],
        },
        separators=(",", ":"),
    )


def _task_definition(family: str, account_id: str, image: str, db_host: str, secret_arn: str) -> dict[str, Any]:
    text = TEMPLATE.read_text()
    for key, value in {
        "FAMILY": family,
        "ACCOUNT_ID": account_id,
        "IMAGE": image,
        "REGION": REGION,
        "DB_HOST": db_host,
        "DB_SECRET_ARN": secret_arn,
    }.items():
        text = text.replace("${" + key + "}", value)
    return json.loads(text)


def _rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dimension(arn: str) -> str:
    """The CloudWatch dimension value of a load balancer or target group ARN:
    targetgroup/NAME/ID, app/NAME/ID."""
    resource = arn.split(":", 5)[5]
    return resource.removeprefix("loadbalancer/")


def seed(base_url: str, account_id: str | None = None, native: bool = False,
         multi_az: bool = False) -> dict[str, Any]:
    account_id = account_id or random_account_id()
    with _seeded_lock:
        if account_id in _seeded:
            raise AlreadySeeded(account_id)
        _seeded.add(account_id)
    try:
        return _seed(base_url, account_id, native, multi_az)
    except Exception:
        with _seeded_lock:
            _seeded.discard(account_id)
        raise
    finally:
        # A seed leaves some 20,000 long-lived objects behind; without this, the collector's
        # full passes over every account's state grow to a second and more. Young garbage is
        # collected first; what is frozen is never scanned again.
        gc.collect(1)
        gc.freeze()


def _seed(base_url: str, account_id: str, native: bool = False,
          multi_az: bool = False) -> dict[str, Any]:
    c = _Clients(base_url, account_id)
    ecs = c("ecs")
    if ecs.list_clusters()["clusterArns"]:
        raise AlreadySeeded(account_id)
    res: dict[str, Any] = {}

    # --- network
    ec2 = c("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": "demo"}])
    subnets = []
    for cidr, az in (("10.0.1.0/24", f"{REGION}a"), ("10.0.2.0/24", f"{REGION}b")):
        sn = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]
        subnets.append(sn["SubnetId"])
    ec2.create_tags(
        Resources=subnets, Tags=[{"Key": "Name", "Value": "demo-private"}]
    )
    sg_id = ec2.create_security_group(
        GroupName="users-sg", Description="users service and its database", VpcId=vpc_id
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
             "IpRanges": [{"CidrIp": "10.0.0.0/16"}]},
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
             "UserIdGroupPairs": [{"GroupId": sg_id}]},
        ],
    )
    res["vpc_id"], res["subnet_ids"], res["security_group_id"] = vpc_id, subnets, sg_id

    # --- IAM: the task roles the task definitions name, and the demo user with its key
    iam = c("iam")
    trust = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    })
    roles = {}
    for family in FAMILIES:
        for kind in ("execution", "task"):
            name = f"{family}-{kind}"
            roles[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.create_user(UserName=USER)
    iam.put_user_policy(UserName=USER, PolicyName=PERMISSIONS_POLICY, PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }))
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    res["iam_user"] = USER
    res["iam_roles"] = roles

    # --- ECR
    ecr = c("ecr")
    # Scan on push, as a repository whose deploys gate on scans has it: every image pushed is
    # scanned and, unless the control surface says otherwise, clean (ecr_scan.py).
    repo = ecr.create_repository(repositoryName=REPOSITORY,
                                 imageScanningConfiguration={"scanOnPush": True})["repository"]
    images = {}
    for tag in IMAGE_TAGS:
        img = ecr.put_image(
            repositoryName=REPOSITORY,
            imageManifest=_manifest(tag),
            imageManifestMediaType="application/vnd.docker.distribution.manifest.v2+json",
            imageTag=tag,
        )["image"]
        images[tag] = img["imageId"]["imageDigest"]
    res["ecr_repository"] = {"name": REPOSITORY, "uri": repo["repositoryUri"],
                             "arn": repo["repositoryArn"], "images": images}

    # --- RDS
    rds = c("rds")
    rds.create_db_subnet_group(
        DBSubnetGroupName="users-db-subnets",
        DBSubnetGroupDescription="users database subnets",
        SubnetIds=subnets,
    )
    rds.create_db_parameter_group(
        DBParameterGroupName="users-pg15",
        DBParameterGroupFamily="postgres15",
        Description="users database parameters",
    )
    db = rds.create_db_instance(
        DBInstanceIdentifier="users-db",
        DBName="users",
        Engine="postgres",
        EngineVersion="15.7",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        StorageType="gp3",
        MasterUsername="users_admin",
        MasterUserPassword="sandbox-only-password",
        BackupRetentionPeriod=7,
        MultiAZ=multi_az,  # the subnet group spans two zones: ModifyDBInstance can turn it on
        DeletionProtection=True,
        StorageEncrypted=True,
        DBSubnetGroupName="users-db-subnets",
        DBParameterGroupName="users-pg15",
        VpcSecurityGroupIds=[sg_id],
        Tags=[{"Key": "app", "Value": "users"}, {"Key": "managed-by", "Value": "opsctl"}],
    )["DBInstance"]
    db_host = db["Endpoint"]["Address"]
    res["db"] = {"instance": "users-db", "arn": db["DBInstanceArn"], "endpoint": db_host,
                 "port": db["Endpoint"]["Port"], "subnet_group": "users-db-subnets",
                 "parameter_group": "users-pg15", "multi_az": multi_az,
                 "availability_zone": db["AvailabilityZone"],
                 "secondary_availability_zone": db.get("SecondaryAvailabilityZone")}

    # --- the recovery region
    dr_ec2 = c("ec2", DR_REGION)
    dr_vpc = dr_ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    dr_subnets = [
        dr_ec2.create_subnet(VpcId=dr_vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for cidr, az in (("10.1.1.0/24", f"{DR_REGION}a"), ("10.1.2.0/24", f"{DR_REGION}b"))
    ]
    dr_sg = dr_ec2.create_security_group(
        GroupName="users-db-dr", Description="users database in the recovery region", VpcId=dr_vpc
    )["GroupId"]
    dr_rds = c("rds", DR_REGION)
    dr_rds.create_db_subnet_group(
        DBSubnetGroupName="users-db-dr-subnets",
        DBSubnetGroupDescription="users database subnets in the recovery region",
        SubnetIds=dr_subnets,
    )
    dr_rds.create_db_parameter_group(
        DBParameterGroupName="users-pg15",
        DBParameterGroupFamily="postgres15",
        Description="users database parameters",
    )
    dr_kms = c("kms", DR_REGION)
    dr_key = dr_kms.create_key(Description="users database copies")["KeyMetadata"]["Arn"]
    dr_kms.create_alias(AliasName="alias/users-db-dr", TargetKeyId=dr_key)
    res["dr"] = {"region": DR_REGION, "vpc_id": dr_vpc, "subnet_group": "users-db-dr-subnets",
                 "security_group_id": dr_sg, "kms_key": dr_key, "kms_alias": "alias/users-db-dr"}

    # --- Secrets Manager
    secret_arn = c("secretsmanager").create_secret(
        Name="users/db-credentials",
        Description="users service database credentials",
        SecretString=json.dumps({"username": "users_app", "password": "sandbox-only-password",
                                 "host": db_host, "port": 5432, "dbname": "users"}),
    )["ARN"]
    res["secret_arn"] = secret_arn

    # --- logs
    logs = c("logs")
    for family in FAMILIES:
        logs.create_log_group(logGroupName=f"/ecs/{family}")
    res["log_groups"] = [f"/ecs/{family}" for family in FAMILIES]

    # --- ELBv2
    elb = c("elbv2")
    tgs = {}
    for name in ("staging-users", "prod-users-blue", "prod-users-green"):
        tgs[name] = elb.create_target_group(
            Name=name, Protocol="HTTP", Port=CONTAINER_PORT, VpcId=vpc_id, TargetType="ip",
            HealthCheckProtocol="HTTP", HealthCheckPath="/health",
            HealthCheckIntervalSeconds=10, HealthyThresholdCount=2, UnhealthyThresholdCount=3,
            Matcher={"HttpCode": "200"},
        )["TargetGroups"][0]["TargetGroupArn"]
    for arn in tgs.values():
        elb.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"},
                        {"Key": "stickiness.enabled", "Value": "false"}],
        )
    lbs = {}
    for name, actions in (
        ("staging-alb", [{"Type": "forward", "TargetGroupArn": tgs["staging-users"]}]),
        ("prod-alb", [{
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": tgs["prod-users-blue"], "Weight": 100},
                    {"TargetGroupArn": tgs["prod-users-green"], "Weight": 0},
                ],
                "TargetGroupStickinessConfig": {"Enabled": False},
            },
        }]),
    ):
        lb = elb.create_load_balancer(
            Name=name, Subnets=subnets, SecurityGroups=[sg_id], Scheme="internet-facing",
            Type="application", IpAddressType="ipv4",
        )["LoadBalancers"][0]
        listener = elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=actions
        )["Listeners"][0]
        lbs[name] = {"arn": lb["LoadBalancerArn"], "dns_name": lb["DNSName"],
                     "listener_arn": listener["ListenerArn"]}
    res["target_groups"] = tgs
    res["load_balancers"] = lbs

    # --- CloudWatch alarms, all OK
    cw = c("cloudwatch")

    def tg_metric(mid: str, tg: str, lb: str, metric: str, stat: str) -> dict[str, Any]:
        return {
            "Id": mid,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "TargetGroup", "Value": _dimension(tgs[tg])},
                        {"Name": "LoadBalancer", "Value": _dimension(lbs[lb]["arn"])},
                    ],
                },
                "Period": 60,
                "Stat": stat,
            },
        }

    cw.put_metric_alarm(
        AlarmName="staging-users-5xx",
        AlarmDescription="staging users: target 5xx responses",
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Dimensions=[
            {"Name": "TargetGroup", "Value": _dimension(tgs["staging-users"])},
            {"Name": "LoadBalancer", "Value": _dimension(lbs["staging-alb"]["arn"])},
        ],
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )
    cw.put_metric_alarm(
        AlarmName="prod-users-5xx",
        AlarmDescription="prod users: target 5xx responses, blue and green",
        Metrics=[
            tg_metric("blue", "prod-users-blue", "prod-alb", "HTTPCode_Target_5XX_Count", "Sum"),
            tg_metric("green", "prod-users-green", "prod-alb", "HTTPCode_Target_5XX_Count", "Sum"),
            {"Id": "errors", "Expression": "blue + green", "Label": "5xx", "ReturnData": True},
        ],
        EvaluationPeriods=1, Threshold=5,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )
    cw.put_metric_alarm(
        AlarmName="prod-users-p99",
        AlarmDescription="prod users: p99 target response time above 1 s, blue or green",
        Metrics=[
            tg_metric("blue", "prod-users-blue", "prod-alb", "TargetResponseTime", "p99"),
            tg_metric("green", "prod-users-green", "prod-alb", "TargetResponseTime", "p99"),
            {"Id": "p99", "Expression": "MAX([blue, green])", "Label": "p99", "ReturnData": True},
        ],
        EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )
    alarm_names = ["staging-users-5xx", "prod-users-5xx", "prod-users-p99"]
    for name in alarm_names:
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="Seeded in state OK")
    res["alarms"] = {
        a["AlarmName"]: a["AlarmArn"]
        for a in cw.describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
    }

    # --- ECS
    res["cluster_arn"] = ecs.create_cluster(
        clusterName=CLUSTER,
        settings=[{"name": "containerInsights", "value": "enabled"}],
        capacityProviders=["FARGATE", "FARGATE_SPOT"],  # as the console associates them
    )["cluster"]["clusterArn"]
    now = time.time()
    tds: dict[str, list[str]] = {}
    for family, tags in FAMILIES.items():
        tds[family] = []
        for revision, tag in enumerate(tags, start=1):
            image = f"{repo['repositoryUri']}:{tag}"
            td = _task_definition(family, account_id, image, db_host, secret_arn)
            td["tags"] = list(td.get("tags", [])) + [
                {"key": "opsctl:version", "value": tag},
                {"key": "opsctl:deployed-by", "value": "seed"},
                {"key": "opsctl:deployed-at", "value": _rfc3339(now - 3600 * (len(tags) - revision + 1))},
                {"key": "opsctl:outcome", "value": "succeeded"},
            ]
            if revision > 1:
                td["tags"].append({"key": "opsctl:previous", "value": f"{family}:{revision - 1}"})
            tds[family].append(ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"])
    res["task_definitions"] = tds

    services = {}
    for name, (family, revision, desired, tg) in SERVICES.items():
        services[name] = ecs.create_service(
            cluster=CLUSTER,
            serviceName=name,
            taskDefinition=f"{family}:{revision}",
            desiredCount=desired,
            launchType="FARGATE",
            platformVersion="LATEST",
            networkConfiguration={"awsvpcConfiguration": {
                "subnets": subnets, "securityGroups": [sg_id], "assignPublicIp": "DISABLED"}},
            loadBalancers=[{"targetGroupArn": tgs[tg], "containerName": CONTAINER,
                            "containerPort": CONTAINER_PORT}],
            deploymentConfiguration=DEPLOYMENT_CONFIGURATION,
            deploymentController={"type": "ECS"},
            healthCheckGracePeriodSeconds=30,
            schedulingStrategy="REPLICA",
            propagateTags="SERVICE",
            enableECSManagedTags=True,
            tags=[{"key": "app", "value": "users"}, {"key": "managed-by", "value": "opsctl"}],
        )["service"]["serviceArn"]
    res["services"] = services

    # --- Application Auto Scaling
    aas = c("application-autoscaling")
    scalable = {}
    for name, (low, high) in SCALING.items():
        resource_id = f"service/{CLUSTER}/{name}"
        aas.register_scalable_target(
            ServiceNamespace="ecs", ResourceId=resource_id,
            ScalableDimension="ecs:service:DesiredCount", MinCapacity=low, MaxCapacity=high,
        )
        scalable[resource_id] = {"min": low, "max": high}
    res["scalable_targets"] = scalable

    if native:
        res["native"] = _seed_native(c, account_id, res, trust, repo["repositoryUri"], db_host,
                                     secret_arn, now)

    # --- the services start from a steady state
    moto_patch.settle_account(account_id, REGION)

    return {
        "account_id": account_id,
        "region": REGION,
        "access_key_id": key["AccessKeyId"],
        "secret_access_key": key["SecretAccessKey"],
        "resources": res,
    }


def _seed_native(c: _Clients, account_id: str, res: dict[str, Any], trust: str, repo_uri: str,
                 db_host: str, secret_arn: str, now: float) -> dict[str, Any]:
    """A native blue/green service as the AWS docs set one up, with the plain API: two target
    groups, a production listener rule (prod-alb, port 80) and a test listener rule (a test
    listener on port 8080), both forwarding main 100 / alternate 0 for the service's host
    name, an infrastructure role for ECS, alarms, and the service."""
    elb, iam, ecs, cw = c("elbv2"), c("iam"), c("ecs"), c("cloudwatch")
    vpc_id, subnets, sg_id = res["vpc_id"], res["subnet_ids"], res["security_group_id"]
    main, alt = NATIVE_TARGET_GROUPS
    tgs = {}
    for name in NATIVE_TARGET_GROUPS:
        tgs[name] = elb.create_target_group(
            Name=name, Protocol="HTTP", Port=CONTAINER_PORT, VpcId=vpc_id, TargetType="ip",
            HealthCheckProtocol="HTTP", HealthCheckPath="/health",
            HealthCheckIntervalSeconds=10, HealthyThresholdCount=2, UnhealthyThresholdCount=3,
            Matcher={"HttpCode": "200"},
        )["TargetGroups"][0]["TargetGroupArn"]
    res["target_groups"].update(tgs)
    lb = res["load_balancers"]["prod-alb"]
    forward = [{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": tgs[main], "Weight": 100},
                         {"TargetGroupArn": tgs[alt], "Weight": 0}],
        "TargetGroupStickinessConfig": {"Enabled": False}}}]
    host = [{"Field": "host-header", "HostHeaderConfig": {"Values": [NATIVE_HOST]}}]
    prod_rule = elb.create_rule(ListenerArn=lb["listener_arn"], Priority=10, Conditions=host,
                                Actions=forward)["Rules"][0]["RuleArn"]
    test_listener = elb.create_listener(
        LoadBalancerArn=lb["arn"], Protocol="HTTP", Port=NATIVE_TEST_PORT,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "not found"}}],
    )["Listeners"][0]["ListenerArn"]
    test_rule = elb.create_rule(ListenerArn=test_listener, Priority=10, Conditions=host,
                                Actions=forward)["Rules"][0]["RuleArn"]

    ecs_trust = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    })
    role_arn = iam.create_role(RoleName=NATIVE_ROLE, AssumeRolePolicyDocument=ecs_trust,
                               Description="lets ECS move the listener rules of native deployments"
                               )["Role"]["Arn"]
    # what AWS's managed AmazonECSInfrastructureRolePolicyForLoadBalancers allows (moto does
    # not load managed policies), inline
    iam.put_role_policy(RoleName=NATIVE_ROLE, PolicyName="load-balancers", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
            "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule",
            "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]}],
    }))
    res["iam_roles"][NATIVE_ROLE] = role_arn
    for kind in ("execution", "task"):
        name = f"{NATIVE_FAMILY}-{kind}"
        res["iam_roles"][name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    c("logs").create_log_group(logGroupName=f"/ecs/{NATIVE_FAMILY}")
    res["log_groups"].append(f"/ecs/{NATIVE_FAMILY}")

    def metric(mid: str, tg: str, name: str, stat: str) -> dict[str, Any]:
        return {"Id": mid, "ReturnData": False, "MetricStat": {"Metric": {
            "Namespace": traffic.NAMESPACE, "MetricName": name,
            "Dimensions": [{"Name": "TargetGroup", "Value": _dimension(tgs[tg])},
                           {"Name": "LoadBalancer", "Value": _dimension(lb["arn"])}]},
            "Period": 60, "Stat": stat}}

    cw.put_metric_alarm(
        AlarmName="native-users-5xx",
        AlarmDescription="native users: target 5xx responses, both target groups",
        Metrics=[metric("main", main, "HTTPCode_Target_5XX_Count", "Sum"),
                 metric("alt", alt, "HTTPCode_Target_5XX_Count", "Sum"),
                 {"Id": "errors", "Expression": "main + alt", "Label": "5xx", "ReturnData": True}],
        EvaluationPeriods=1, Threshold=5,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )
    cw.put_metric_alarm(
        AlarmName="native-users-p99",
        AlarmDescription="native users: p99 target response time above 1 s",
        Metrics=[metric("main", main, "TargetResponseTime", "p99"),
                 metric("alt", alt, "TargetResponseTime", "p99"),
                 {"Id": "p99", "Expression": "MAX([main, alt])", "Label": "p99", "ReturnData": True}],
        EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )
    alarm_names = ["native-users-5xx", "native-users-p99"]
    for name in alarm_names:
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="Seeded in state OK")
    res["alarms"].update({
        a["AlarmName"]: a["AlarmArn"]
        for a in cw.describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
    })

    tds = []
    for revision, tag in enumerate(NATIVE_TAGS, start=1):
        td = _task_definition(NATIVE_FAMILY, account_id, f"{repo_uri}:{tag}", db_host, secret_arn)
        td["tags"] = list(td.get("tags", [])) + [
            {"key": "opsctl:version", "value": tag},
            {"key": "opsctl:deployed-by", "value": "seed"},
            {"key": "opsctl:deployed-at",
             "value": _rfc3339(now - 3600 * (len(NATIVE_TAGS) - revision + 1))},
            {"key": "opsctl:outcome", "value": "succeeded"},
        ]
        if revision > 1:
            td["tags"].append({"key": "opsctl:previous", "value": f"{NATIVE_FAMILY}:{revision - 1}"})
        tds.append(ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"])
    res["task_definitions"][NATIVE_FAMILY] = tds

    service_arn = ecs.create_service(
        cluster=CLUSTER,
        serviceName=NATIVE_SERVICE,
        taskDefinition=f"{NATIVE_FAMILY}:{len(NATIVE_TAGS)}",
        desiredCount=NATIVE_DESIRED,
        launchType="FARGATE",
        platformVersion="LATEST",
        networkConfiguration={"awsvpcConfiguration": {
            "subnets": subnets, "securityGroups": [sg_id], "assignPublicIp": "DISABLED"}},
        loadBalancers=[{
            "targetGroupArn": tgs[main], "containerName": CONTAINER,
            "containerPort": CONTAINER_PORT,
            "advancedConfiguration": {
                "alternateTargetGroupArn": tgs[alt],
                "productionListenerRule": prod_rule,
                "testListenerRule": test_rule,
                "roleArn": role_arn,
            },
        }],
        deploymentConfiguration={
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": NATIVE_BAKE_MINUTES,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "alarms": {"alarmNames": alarm_names, "enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        },
        deploymentController={"type": "ECS"},
        healthCheckGracePeriodSeconds=30,
        schedulingStrategy="REPLICA",
        propagateTags="SERVICE",
        enableECSManagedTags=True,
        tags=[{"key": "app", "value": "users"}, {"key": "managed-by", "value": "opsctl"}],
    )["service"]["serviceArn"]
    res["services"][NATIVE_SERVICE] = service_arn
    resource_id = f"service/{CLUSTER}/{NATIVE_SERVICE}"
    c("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ResourceId=resource_id,
        ScalableDimension="ecs:service:DesiredCount", MinCapacity=2, MaxCapacity=10,
    )
    res["scalable_targets"][resource_id] = {"min": 2, "max": 10}
    t = time.time()
    for name in NATIVE_TARGET_GROUPS:
        traffic.set_profile(account_id, REGION, tgs[name], NATIVE_HEALTHY, t)
    return {
        "service": NATIVE_SERVICE, "service_arn": service_arn,
        "host": NATIVE_HOST,
        "target_groups": {"main": tgs[main], "alternate": tgs[alt]},
        "production_listener_rule": prod_rule,
        "test_listener_arn": test_listener,
        "test_listener_rule": test_rule,
        "infrastructure_role": role_arn,
        "alarms": alarm_names,
    }
