"""IAM enforcement, switchable per account, answered as AWS answers it.

moto can check signatures and policies itself, but only server-wide (`/moto-api/reset-auth`
counts requests across all accounts), and what it does is unfit for the AWS SDK for Rust:
- its denials are XML (`<ErrorResponse><Errors><Error>...`, HTTP 403) for every protocol, so
  a JSON-protocol SDK (ECS, ECR, Secrets Manager...) finds no error code, and even the query
  SDKs, which look for `Error` right under `ErrorResponse`, find none;
- it checks a form-encoded signature against the form re-encoded by Python (a space as `+`),
  so a body the Rust SDK encoded (a space as `%20`) never matches: SignatureDoesNotMatch;
- it names the action by the signing name, so CloudWatch's is `monitoring:...`.

So the sandbox checks before moto sees the request: moto verifies the signature over the raw
body, and `iam_eval` evaluates the caller's identity policies (users' and assumed roles') for
every (action, resource ARN, condition context) `authorizations` names for the request, as
AWS does: Action, Resource and every Condition (the keys opsctl's policy uses: ecs:cluster,
cloudwatch:namespace, iam:PassedToService, aws:ResourceTag/KEY of RDS resources,
aws:RequestTag/KEY, aws:TagKeys, aws:RequestedRegion), an explicit Deny winning. A refusal
is answered with `wire.error`, naming the action and the resource as AWS's message does. The
seed's own calls (its access key) are never checked, so seeding works whatever the switch
says.

Beyond the request's own action: ecs:RunTask and ecs:RegisterTaskDefinition need
`iam:PassRole` on the task and execution roles (the task definition's, or RunTask's
overrides) with iam:PassedToService = ecs-tasks.amazonaws.com, an RDS MonitoringRoleArn with
monitoring.rds.amazonaws.com; tags on create need ecs:TagResource (ecs:CreateAction =
RunTask) or rds:AddTagsToResource on the new resource. Not evaluated: resource-based
policies, permission boundaries, and what a service does in the caller's name (RDS's KMS
grants and managed secrets).
"""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

from moto.ecs.models import ecs_backends
from moto.iam.access_control import IAMPolicy, IAMRequest
from moto.iam.models import iam_backends
from moto.rds.models import rds_backends
from moto.secretsmanager.models import secretsmanager_backends
from werkzeug.datastructures import EnvironHeaders

from . import iam_eval, wire
from .ecs_rollout.moto_patch import resolve_task_definition
from .wire import AwsError
from .seed import PERMISSIONS_POLICY as POLICY_NAME, SEED_ACCESS_KEY

PARTITION = "aws"

PASS_ROLE = "iam:PassRole"
# The calls that pass the task's roles to ECS, and the service they pass them to.
_PASSING_ROLES = ("ecs:RunTask", "ecs:RegisterTaskDefinition")
_PASSED_TO = "ecs-tasks.amazonaws.com"

_lock = threading.Lock()
_default = False
_accounts: dict[str, bool] = {}


def enforced(account: str | None) -> bool:
    with _lock:
        return _accounts.get(account, _default) if account else _default


def set_enforced(account: str | None, enabled: bool) -> None:
    """Switches enforcement for one account, or (no account) the default of the others."""
    global _default
    with _lock:
        if account:
            _accounts[account] = enabled
        else:
            _default = enabled


def reset_accounts() -> None:
    with _lock:
        _accounts.clear()


# kind: (status, JSON code, query code, message); EC2 answers AuthFailure for all of them.
_AUTH_FAILURES = {
    "invalid_key": (400, "UnrecognizedClientException", "InvalidClientTokenId",
                    "The security token included in the request is invalid."),
    "signature": (403, "InvalidSignatureException", "SignatureDoesNotMatch",
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your AWS Secret Access Key and signing method. Consult "
                  "the service documentation for details."),
    "missing": (403, "MissingAuthenticationTokenException", "MissingAuthenticationToken",
                "Missing Authentication Token"),
}


def _auth_failure(req: wire.Request, kind: str) -> AwsError:
    if req.protocol == "ec2":
        return AwsError(401, "AuthFailure", "AWS was not able to validate the provided access credentials")
    status, json_code, query_code, message = _AUTH_FAILURES[kind]
    if req.protocol == "query":
        status = 403
    return AwsError(status, query_code if req.protocol == "query" else json_code, message)


def _region(environ: dict[str, Any]) -> str:
    cred = wire._credential(environ)
    return cred[2] if len(cred) > 2 else "us-east-1"


def _call(req: wire.Request, environ: dict[str, Any]) -> iam_eval.Call:
    body = req.body
    if environ.get("HTTP_CONTENT_ENCODING") == "gzip":
        try:
            body = gzip.decompress(body)
        except OSError:
            body = b""
    return iam_eval.Call(req.action, req.protocol, body, _region(environ), req.account or "")


def access_denied(req: wire.Request, environ: dict[str, Any], principal: str | None = None,
                  explicit: bool = False, action: str | None = None,
                  resource: str | None = None) -> AwsError:
    """The denial AWS gives `principal` (default: the owner of the request's access key) for
    `action` (default: the request's) on `resource` (default: the request's first)."""
    principal = principal or principal_of(req)
    action = action or req.action
    if resource is None:
        resource = iam_eval.resources(_call(req, environ))[0]
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {action} action")
    text = f"User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"
    if req.protocol == "ec2":
        return AwsError(403, "UnauthorizedOperation", f"You are not authorized to perform this operation. {text}")
    if req.protocol == "query":
        return AwsError(400, "AccessDenied", text)
    return AwsError(400, "AccessDeniedException", text)


def principal_of(req: wire.Request) -> str:
    """The ARN of the IAM user whose access key signed the request (call under the state lock)."""
    name = "unknown"
    if req.account:
        key = iam_backends[req.account][PARTITION].access_keys.get(req.access_key)
        if key is not None and key.user_name:
            name = key.user_name
    return f"arn:aws:iam::{req.account}:user/{name}"


class _Check(IAMRequest):
    """moto's IAM request check, on the raw body, naming the action by its IAM prefix and
    raising an `AwsError` shaped for the request's protocol."""

    def __init__(self, req: wire.Request, environ: dict[str, Any]):
        self._req, self._environ = req, environ
        path = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        if "?" not in path and environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        # data={}: the signature is checked over the bytes received, never a re-encoding
        super().__init__(account_id=req.account or "", method=environ.get("REQUEST_METHOD", "GET"),
                         path=path, data={}, body=req.body, headers=EnvironHeaders(environ),
                         action=req.operation)
        self._action = req.action

    def _raise_invalid_access_key(self, reason: str) -> None:
        raise _auth_failure(self._req, "invalid_key")

    def _raise_signature_does_not_match(self) -> None:
        raise _auth_failure(self._req, "signature")


def check(req: wire.Request, environ: dict[str, Any]) -> AwsError | None:
    """Why the request is refused, if enforcement is on for its account (call under the
    state lock: it reads the account's IAM state)."""
    if req.account is None or req.access_key == SEED_ACCESS_KEY or not enforced(req.account):
        return None
    if not req.access_key or "HTTP_AUTHORIZATION" not in environ:
        return _auth_failure(req, "missing")
    try:
        iam_request = _Check(req, environ)
        iam_request.check_signature()
        policies = [IAMPolicy(p)._policy_json for p in iam_request._access_key.collect_policies()]
        for action, resource, context in authorizations(req, environ):
            if action == "sts:GetCallerIdentity":
                continue  # no policy can deny it, in AWS
            verdict = iam_eval.decide(policies, action, resource, context)
            if verdict != iam_eval.ALLOW:
                return access_denied(req, environ, iam_request._access_key.arn,
                                     verdict == iam_eval.DENY, action, resource)
    except AwsError as denied:
        return denied
    return None


def authorizations(req: wire.Request, environ: dict[str, Any]) -> list[tuple[str, str, iam_eval.Context]]:
    """Each (action, resource, condition context) AWS authorizes for the request (call under
    the state lock: resource tags and task definitions are read from moto's backends)."""
    call = _call(req, environ)
    region, account = call.region, req.account or ""
    base = iam_eval.request_context(call)

    def resolve(ref: str) -> str | None:
        try:
            return resolve_task_definition(ecs_backends[account][region], ref).arn
        except Exception:
            return None  # no such task definition: ECS's own answer says so

    out = []
    for resource in iam_eval.resources(call, resolve):
        if req.action == "secretsmanager:DescribeSecret" and not resource.startswith("arn:"):
            resource = _secret_arn(account, region, resource)
        out.append((req.action, resource, iam_eval.with_resource_tags(base, _tags(resource))))
    tags = call.tags()
    if tags and req.action in iam_eval.TAG_ON_CREATE:
        tag_action, which = iam_eval.TAG_ON_CREATE[req.action]
        out.append((tag_action, out[which][1], base))
    if tags and req.action == "ecs:RunTask":
        out.append(("ecs:TagResource", iam_eval.new_task_arn(call),
                    {**base, "ecs:createaction": ["RunTask"]}))
    family = call.get("family")
    if tags and req.action == "ecs:RegisterTaskDefinition" and family:
        out.append(("ecs:TagResource", _next_revision_arn(account, region, family),
                    {**base, "ecs:createaction": ["RegisterTaskDefinition"]}))
    for role in roles_passed(req, environ):
        out.append((PASS_ROLE, role, {**base, "iam:passedtoservice": [_PASSED_TO]}))
    monitoring = call.get("MonitoringRoleArn")
    if monitoring and req.service == "rds":
        out.append((PASS_ROLE, monitoring, {**base, "iam:passedtoservice": ["monitoring.rds.amazonaws.com"]}))
    return out


def _next_revision_arn(account: str, region: str, family: str) -> str:
    """The ARN RegisterTaskDefinition will give the family's next revision."""
    try:
        revisions = ecs_backends[account][region].task_definitions.get(family) or {}
        last = max(revisions, default=0)
    except Exception:
        last = 0
    return f"arn:{PARTITION}:ecs:{region}:{account}:task-definition/{family}:{last + 1}"


def _secret_arn(account: str, region: str, name: str) -> str:
    """A secret's full ARN (its random suffix too), as AWS authorizes DescribeSecret on it."""
    try:
        return secretsmanager_backends[account][region].secrets[name].arn
    except Exception:
        return f"arn:{PARTITION}:secretsmanager:{region}:{account}:secret:{name}"


def _tags(resource: str) -> dict[str, str]:
    """The tags of an RDS resource, for aws:ResourceTag (the only resources opsctl's policy
    conditions on tags)."""
    parts = resource.split(":")
    if len(parts) < 6 or parts[2] != "rds" or "*" in resource:
        return {}
    try:
        tags = rds_backends[parts[4]][parts[3]].list_tags_for_resource(resource)
    except Exception:
        return {}
    return {t["Key"]: t.get("Value", "") for t in tags if isinstance(t, dict) and "Key" in t}


def roles_passed(req: wire.Request, environ: dict[str, Any]) -> list[str]:
    """The roles a request passes to ECS: RegisterTaskDefinition's taskRoleArn and
    executionRoleArn; for RunTask, its overrides' or else its task definition's."""
    if req.action not in _PASSING_ROLES:
        return []
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    if req.action == "ecs:RegisterTaskDefinition":
        roles = [body.get("taskRoleArn"), body.get("executionRoleArn")]
    else:
        overrides = body.get("overrides") if isinstance(body.get("overrides"), dict) else {}
        td_roles: list[Any] = [None, None]
        ref = body.get("taskDefinition")
        if isinstance(ref, str) and req.account:
            try:
                td = resolve_task_definition(ecs_backends[req.account][_region(environ)], ref)
                td_roles = [getattr(td, "task_role_arn", None),
                            getattr(td, "execution_role_arn", None)]
            except Exception:
                pass  # no such task definition: ECS's own answer says so
        roles = [overrides.get("taskRoleArn") or td_roles[0],
                 overrides.get("executionRoleArn") or td_roles[1]]
    return [r for r in dict.fromkeys(roles) if isinstance(r, str) and r]


def set_permissions(account: str, user: str, allow: list[str] | None, deny: list[str] | None,
                    policy: dict[str, Any] | None = None) -> None:
    """Replaces the user's sandbox-permissions inline policy: the statements of `policy` (a
    policy document, as `opsctl iam-policy` prints it), then Allow `allow` and Deny `deny` on
    every resource; with none of them, the policy is removed (call under the state lock)."""
    backend = iam_backends[account][PARTITION]
    backend.get_user(user)  # NoSuchEntity if missing
    statements = iam_eval.statements([policy]) if policy else []
    statements += [{"Effect": effect, "Action": actions, "Resource": "*"}
                   for effect, actions in (("Allow", allow), ("Deny", deny)) if actions]
    if statements:
        backend.put_user_policy(user, POLICY_NAME, json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
    elif POLICY_NAME in backend.get_user(user).policies:
        backend.delete_user_policy(user, POLICY_NAME)


def permissions(account: str, user: str) -> dict[str, list[str]]:
    """The user's sandbox-permissions policy as {"allow": [...], "deny": [...]}."""
    policy = iam_backends[account][PARTITION].get_user(user).policies.get(POLICY_NAME)
    out: dict[str, list[str]] = {"allow": [], "deny": []}
    if policy:
        for st in iam_eval.statements([policy]):
            actions = st.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            out["allow" if st["Effect"] == "Allow" else "deny"].extend(actions)
    return out
