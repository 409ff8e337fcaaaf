"""IAM policy evaluation as AWS does it, for the calls opsctl makes.

`authorizations` names what a request must be allowed: each (action, resource ARN, condition
context) AWS checks for it, with the resource as the Service Authorization Reference defines
it for that action (an ECS service `arn:aws:ecs:R:A:service/CLUSTER/NAME`, a task definition
`task-definition/FAMILY:REV`, an RDS snapshot `snapshot:NAME`...; `*` for actions on no
resource type), and the condition keys opsctl's policy uses: `ecs:cluster`,
`cloudwatch:namespace`, `iam:PassedToService`, `aws:ResourceTag/KEY` (the resource's tags in
moto's backend), `aws:RequestTag/KEY` and `aws:TagKeys` (the request's tags),
`aws:RequestedRegion`. `decide` evaluates identity policies over one of them: explicit Deny
wins, else Allow if a statement's Action, Resource (wildcards `*` and `?`) and every
Condition match, else the default deny.
"""

from __future__ import annotations

import json
import re
import uuid
from functools import lru_cache
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

ALLOW, DENY = "Allow", "Deny"

Context = dict[str, list[str]]


@lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character."""
    return bool(_pattern(pattern, ignore_case).match(value))


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- conditions

def _compare(base: str) -> tuple[Callable[[str, str], bool], bool] | None:
    """(does a context value match an expected one, is the operator negated)."""
    ops: dict[str, tuple[Callable[[str, str], bool], bool]] = {
        "StringEquals": (lambda v, e: v == e, False),
        "StringNotEquals": (lambda v, e: v == e, True),
        "StringEqualsIgnoreCase": (lambda v, e: v.lower() == e.lower(), False),
        "StringNotEqualsIgnoreCase": (lambda v, e: v.lower() == e.lower(), True),
        "StringLike": (lambda v, e: wildcard(e, v), False),
        "StringNotLike": (lambda v, e: wildcard(e, v), True),
        "ArnEquals": (lambda v, e: wildcard(e, v), False),
        "ArnLike": (lambda v, e: wildcard(e, v), False),
        "ArnNotEquals": (lambda v, e: wildcard(e, v), True),
        "ArnNotLike": (lambda v, e: wildcard(e, v), True),
        "Bool": (lambda v, e: v.lower() == e.lower(), False),
    }
    return ops.get(base)


def condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    """One key of one condition operator, as AWS evaluates it (an operator it does not know
    never holds)."""
    values = context.get(key.lower())
    wanted = [str(e).lower() if isinstance(e, bool) else str(e) for e in _listed(expected)]
    if operator == "Null":
        return (values is None) == (wanted[0].lower() == "true")
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    compare = _compare(base)
    if compare is None or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        return False
    matches, negated = compare
    if values is None:
        # an absent key: ForAllValues holds over an empty set, IfExists skips the test
        return if_exists or qualifier == "ForAllValues"
    hit = [any(matches(v, e) for e in wanted) for v in values]
    if qualifier == "ForAllValues":
        return all(not h for h in hit) if negated else all(hit)
    return not any(hit) if negated else any(hit)


def _conditions_hold(condition: Any, context: Context) -> bool:
    if not condition:
        return True
    if not isinstance(condition, dict):
        return False
    return all(isinstance(block, dict) and all(
        condition_holds(op, key, expected, context) for key, expected in block.items())
        for op, block in condition.items())


# -- statements and policies

def _statement_applies(st: dict[str, Any], action: str, resource: str, context: Context) -> bool:
    if "Action" in st:
        if not any(wildcard(a, action, ignore_case=True) for a in _listed(st["Action"])):
            return False
    elif "NotAction" in st:
        if any(wildcard(a, action, ignore_case=True) for a in _listed(st["NotAction"])):
            return False
    else:
        return False
    if "Resource" in st:
        if not any(wildcard(r, resource) for r in _listed(st["Resource"])):
            return False
    elif "NotResource" in st:
        if any(wildcard(r, resource) for r in _listed(st["NotResource"])):
            return False
    else:
        return False
    return _conditions_hold(st.get("Condition"), context)


def statements(policies: Iterable[Any]) -> list[dict[str, Any]]:
    """Every statement of the policies (documents as JSON text or parsed)."""
    out: list[dict[str, Any]] = []
    for policy in policies:
        doc = json.loads(policy) if isinstance(policy, str) else policy
        if isinstance(doc, dict):
            out.extend(s for s in _listed(doc.get("Statement", [])) if isinstance(s, dict))
    return out


def decide(policies: Iterable[Any], action: str, resource: str, context: Context) -> str | None:
    """ALLOW, DENY (an explicit deny) or None (no statement allows: the default deny)."""
    allowed = False
    for st in statements(policies):
        if not _statement_applies(st, action, resource, context):
            continue
        if st.get("Effect") == DENY:
            return DENY
        if st.get("Effect") == ALLOW:
            allowed = True
    return ALLOW if allowed else None


# -- what a request must be allowed

class Call:
    """What one request says, for naming its resources: its parameters, region, account."""

    def __init__(self, action: str, protocol: str, body: bytes, region: str, account: str):
        self.action, self.region, self.account = action, region, account
        self.params: dict[str, Any] = {}
        try:
            if protocol == "json":
                parsed = json.loads(body or b"{}")
                self.params = parsed if isinstance(parsed, dict) else {}
            elif protocol in ("query", "ec2"):
                self.params = {k: v[-1] for k, v in parse_qs(body.decode("utf-8")).items()}
        except (ValueError, UnicodeDecodeError):
            self.params = {}

    def get(self, key: str) -> str | None:
        value = self.params.get(key)
        return value if isinstance(value, str) and value else None

    def members(self, key: str) -> list[str]:
        """A list parameter: JSON's list, or the query protocol's KEY.member.N (KEY.N)."""
        value = self.params.get(key)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str)]
        found = []
        for k, v in self.params.items():
            m = re.fullmatch(re.escape(key) + r"(?:\.member)?\.(\d+)", k)
            if m and isinstance(v, str):
                found.append((int(m.group(1)), v))
        return [v for _, v in sorted(found)]

    def tags(self) -> dict[str, str]:
        """The tags a create request carries (ECS `tags`, RDS `Tags.Tag.N` / `Tags.member.N`)."""
        value = self.params.get("tags")
        if isinstance(value, list):
            return {t["key"]: str(t.get("value", "")) for t in value
                    if isinstance(t, dict) and isinstance(t.get("key"), str)}
        out: dict[str, str] = {}
        for k, v in self.params.items():
            m = re.fullmatch(r"Tags\.(?:Tag|member)\.(\d+)\.Key", k)
            if m:
                out[str(v)] = str(self.params.get(f"Tags.{k.split('.')[1]}.{m.group(1)}.Value", ""))
        return out

    def arn(self, service: str, resource: str, region: str | None = None) -> str:
        return f"arn:aws:{service}:{region if region is not None else self.region}:{self.account}:{resource}"


def _ecs_cluster(call: Call) -> str:
    cluster = call.get("cluster") or "default"
    return cluster if cluster.startswith("arn:") else call.arn("ecs", f"cluster/{cluster}")


def _ecs_in_cluster(call: Call, kind: str, ref: str) -> str:
    if ref.startswith("arn:"):
        return ref
    name = _ecs_cluster(call).rsplit("/", 1)[-1]
    return call.arn("ecs", f"{kind}/{name}/{ref}")


def _rds(call: Call, kind: str, ref: str | None, region: str | None = None) -> str:
    if not ref:
        return call.arn("rds", f"{kind}:*", region)
    return ref if ref.startswith("arn:") else call.arn("rds", f"{kind}:{ref}", region)


def _parameter(call: Call, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return call.arn("ssm", "parameter" + (name if name.startswith("/") else "/" + name))


Resolver = Callable[[Call], list[str]]


def _ecs_task_definition(call: Call, resolve: Callable[[str], str | None]) -> list[str]:
    ref = call.get("taskDefinition") or "*"
    if ref.startswith("arn:"):
        return [ref]
    return [resolve(ref) or call.arn("ecs", f"task-definition/{ref}")]


def _log_resource(call: Call) -> str:
    group = call.get("logGroupIdentifier") or call.get("logGroupName") or "*"
    if group.startswith("arn:"):
        group = group.split(":log-group:", 1)[-1].removesuffix(":*")
    # a log-group action names the group's streams with an empty stream name, as AWS does
    stream = call.get("logStreamName") or "" if call.action == "logs:GetLogEvents" else ""
    return call.arn("logs", f"log-group:{group}:log-stream:{stream}")


def resources(call: Call, resolve: Callable[[str], str | None] = lambda ref: None) -> list[str]:
    """The resource ARNs AWS authorizes `call.action` on (`*` for no resource type);
    `resolve` makes a task-definition reference (`family`, `family:rev`) its ARN."""
    a, get = call.action, call.get
    service, _, op = a.partition(":")
    if service == "ecs":
        if op in ("DescribeServices",):
            return [_ecs_in_cluster(call, "service", s) for s in call.members("services")] or ["*"]
        if op in ("UpdateService", "ListServiceDeployments", "DeleteService"):
            return [_ecs_in_cluster(call, "service", get("service") or "*")]
        if op == "DescribeServiceDeployments":
            return call.members("serviceDeploymentArns") or ["*"]
        if op in ("ContinueServiceDeployment", "StopServiceDeployment"):
            return [get("serviceDeploymentArn") or "*"]
        if op == "DescribeTasks":
            return [_ecs_in_cluster(call, "task", t) for t in call.members("tasks")] or ["*"]
        if op == "StopTask":
            return [_ecs_in_cluster(call, "task", get("task") or "*")]
        if op == "RunTask":
            return _ecs_task_definition(call, resolve)
        if op in ("TagResource", "UntagResource", "ListTagsForResource"):
            return [get("resourceArn") or "*"]
        return ["*"]
    if service == "ecr":
        registry = get("registryId") or call.account
        repo = lambda name: f"arn:aws:ecr:{call.region}:{registry}:repository/{name}"  # noqa: E731
        if op == "DescribeRepositories":
            return [repo(n) for n in call.members("repositoryNames")] or [repo("*")]
        if get("repositoryName"):
            return [repo(get("repositoryName"))]
        return ["*"]
    if service == "secretsmanager" and op == "DescribeSecret":
        return [get("SecretId") or "*"]  # a name is made an ARN by the caller (full_secret_arn)
    if service == "ssm":
        if op == "GetParametersByPath":
            return [_parameter(call, get("Path") or "/")]
        if op in ("PutParameter", "GetParameter", "DeleteParameter"):
            return [_parameter(call, get("Name") or "")]
        if op in ("DeleteParameters", "GetParameters"):
            return [_parameter(call, n) for n in call.members("Names")] or ["*"]
        return ["*"]
    if service == "logs" and op in ("GetLogEvents", "FilterLogEvents"):
        return [_log_resource(call)]
    if service == "cloudwatch" and op == "DescribeAlarms":
        return [call.arn("cloudwatch", f"alarm:{n}") for n in call.members("AlarmNames")] \
            or [call.arn("cloudwatch", "alarm:*")]
    if service == "elasticloadbalancing":
        if op == "ModifyListener":
            return [get("ListenerArn") or "*"]
        if op == "ModifyRule":
            return [get("RuleArn") or "*"]
        return ["*"]
    if service == "rds":
        return _rds_resources(call, op)
    return ["*"]


def _rds_resources(call: Call, op: str) -> list[str]:
    get = call.get
    optional = [_rds(call, kind, get(key)) for kind, key in (
        ("subgrp", "DBSubnetGroupName"), ("pg", "DBParameterGroupName"), ("og", "OptionGroupName"))
        if get(key)]
    if op == "DescribeDBInstances":
        return [_rds(call, "db", get("DBInstanceIdentifier"))]
    if op == "DescribeDBSnapshots":
        out = [_rds(call, "snapshot", get("DBSnapshotIdentifier"))]
        if get("DBInstanceIdentifier"):
            out.append(_rds(call, "db", get("DBInstanceIdentifier")))
        return out
    if op == "DescribeDBInstanceAutomatedBackups":
        out = [_rds(call, "auto-backup", get("DBInstanceAutomatedBackupsArn"))]
        if get("DBInstanceIdentifier"):
            out.append(_rds(call, "db", get("DBInstanceIdentifier")))
        return out
    if op in ("RebootDBInstance", "ModifyDBInstance", "DeleteDBInstance"):
        return [_rds(call, "db", get("DBInstanceIdentifier") or "*")]
    if op == "CreateDBSnapshot":
        return [_rds(call, "db", get("DBInstanceIdentifier") or "*"),
                _rds(call, "snapshot", get("DBSnapshotIdentifier") or "*")]
    if op == "DeleteDBSnapshot":
        return [_rds(call, "snapshot", get("DBSnapshotIdentifier") or "*")]
    if op == "CopyDBSnapshot":
        return [_rds(call, "snapshot", get("SourceDBSnapshotIdentifier") or "*"),
                _rds(call, "snapshot", get("TargetDBSnapshotIdentifier") or "*")]
    if op == "RestoreDBInstanceFromDBSnapshot":
        return [_rds(call, "db", get("DBInstanceIdentifier") or "*"),
                _rds(call, "snapshot", get("DBSnapshotIdentifier") or "*"), *optional]
    if op == "RestoreDBInstanceToPointInTime":
        return [_rds(call, "db", get("TargetDBInstanceIdentifier") or "*"),
                _rds(call, "db", get("SourceDBInstanceIdentifier") or "*"), *optional]
    if op in ("AddTagsToResource", "ListTagsForResource", "RemoveTagsFromResource"):
        return [get("ResourceName") or "*"]
    return ["*"]


# Creating calls whose tags AWS authorizes as the service's tagging action on the new resource.
TAG_ON_CREATE = {
    "rds:CreateDBSnapshot": ("rds:AddTagsToResource", 1),
    "rds:CopyDBSnapshot": ("rds:AddTagsToResource", 1),
    "rds:RestoreDBInstanceFromDBSnapshot": ("rds:AddTagsToResource", 0),
    "rds:RestoreDBInstanceToPointInTime": ("rds:AddTagsToResource", 0),
}


def request_context(call: Call) -> Context:
    """The condition keys that travel with the request itself."""
    ctx: Context = {"aws:requestedregion": [call.region]}
    tags = call.tags()
    if tags:
        ctx["aws:tagkeys"] = list(tags)
        for key, value in tags.items():
            ctx[f"aws:requesttag/{key}".lower()] = [value]
    service = call.action.split(":", 1)[0]
    if service == "ecs" and call.action in ("ecs:ListTasks", "ecs:RunTask", "ecs:StopTask",
                                            "ecs:DescribeTasks", "ecs:UpdateService",
                                            "ecs:DescribeServices"):
        ctx["ecs:cluster"] = [_ecs_cluster(call)]
    if call.action == "cloudwatch:PutMetricData" and call.get("Namespace"):
        ctx["cloudwatch:namespace"] = [call.get("Namespace") or ""]
    return ctx


def with_resource_tags(ctx: Context, tags: dict[str, str]) -> Context:
    out = dict(ctx)
    for key, value in tags.items():
        out[f"aws:resourcetag/{key}".lower()] = [value]
    return out


def new_task_arn(call: Call) -> str:
    """The ARN of the task RunTask starts, for authorizing its tags as it starts."""
    return _ecs_in_cluster(call, "task", uuid.uuid4().hex)
