"""IAM enforcement, switchable per account, answered as AWS answers it.

moto can check signatures and policies itself, but only server-wide (`/moto-api/reset-auth`
counts requests across all accounts), and what it does is unfit for the AWS SDK for Rust:
- its denials are XML (`<ErrorResponse><Errors><Error>...`, HTTP 403) for every protocol, so
  a JSON-protocol SDK (ECS, ECR, Secrets Manager...) finds no error code, and even the query
  SDKs, which look for `Error` right under `ErrorResponse`, find none;
- it checks a form-encoded signature against the form re-encoded by Python (a space as `+`),
  so a body the Rust SDK encoded (a space as `%20`) never matches: SignatureDoesNotMatch;
- it names the action by the signing name, so CloudWatch's is `monitoring:...`.

So the sandbox checks before moto sees the request, with moto's own policy evaluation
(`moto.iam.access_control`) fed the raw body and the IAM action from `wire.describe`, and
answers with `wire.error`, as the access_denied fault does. The seed's own calls (its
access key) are never checked, so seeding works whatever the switch says.

Policies are matched as moto matches them: by action (wildcards allowed), identity
policies of users and assumed roles; a statement's Resource matches only if it is `*`, and
a Condition is not evaluated as AWS would (moto has no request context: a StringEquals on
aws:RequestedRegion, for one, always holds).

Passing a role is checked as AWS checks it: ecs:RunTask and ecs:RegisterTaskDefinition also
need `iam:PassRole` on the task role and the execution role (the task definition's, or
RunTask's overrides), matched against each statement's Resource (wildcards allowed), with
`iam:PassedToService` = `ecs-tasks.amazonaws.com` for its Conditions (StringEquals).
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qs

from moto.ecs.models import ecs_backends
from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, IAMRequest, PermissionResult
from moto.iam.models import iam_backends
from werkzeug.datastructures import EnvironHeaders

from . import wire
from .ecs_rollout.moto_patch import resolve_task_definition
from .wire import AwsError
from .seed import PERMISSIONS_POLICY as POLICY_NAME, SEED_ACCESS_KEY

PARTITION = "aws"

PASS_ROLE = "iam:PassRole"
# The calls that pass the task's roles to ECS, and the service they pass them to.
_PASSING_ROLES = ("ecs:RunTask", "ecs:RegisterTaskDefinition")
_PASSED_TO = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}

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


def _resource(req: wire.Request, environ: dict[str, Any]) -> str:
    """The resource to name in a denial: an ECS service's ARN, else the first ARN among the
    request's parameters, else `*` (as AWS says for actions on no resource)."""
    values: dict[str, Any] = {}
    try:
        if req.protocol == "json":
            values = json.loads(req.body or b"{}")
        elif req.protocol in ("query", "ec2"):
            values = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8")).items()}
    except (ValueError, UnicodeDecodeError):
        return "*"
    if not isinstance(values, dict):
        return "*"
    service = values.get("service")
    if req.service == "ecs" and isinstance(service, str):
        if service.startswith("arn:"):
            return service
        cluster = str(values.get("cluster") or "default").rsplit("/", 1)[-1]
        return f"arn:aws:ecs:{_region(environ)}:{req.account}:service/{cluster}/{service}"
    for value in values.values():
        if isinstance(value, str) and value.startswith("arn:"):
            return value
    return "*"


def access_denied(req: wire.Request, environ: dict[str, Any], principal: str | None = None,
                  explicit: bool = False) -> AwsError:
    """The denial AWS gives `principal` (default: the owner of the request's access key)."""
    principal = principal or principal_of(req)
    resource = _resource(req, environ)
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {req.action} action")
    text = f"User: {principal} is not authorized to perform: {req.action} on resource: {resource} {why}"
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

    def _raise_access_denied(self) -> None:
        explicit = any(
            IAMPolicy(p).is_action_permitted(self._action) == PermissionResult.DENIED
            for p in self._access_key.collect_policies()
        )
        raise access_denied(self._req, self._environ, self._access_key.arn, explicit)


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
        iam_request.check_action_permitted("*")
        for role in roles_passed(req, environ):
            _check_pass_role(iam_request, role)
    except AwsError as denied:
        return denied
    return None


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


def _check_pass_role(request: _Check, role: str) -> None:
    """Raises the AccessDeniedException ECS answers when the caller may not pass `role`."""
    permitted = explicit = False
    for policy in request._access_key.collect_policies():
        statements = IAMPolicy(policy)._policy_json["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            st = IAMPolicyStatement(statement)
            # moto answers DENIED for any statement whose Condition fails, an Allow's too:
            # such a statement does not apply
            if not st._check_conditions(_PASSED_TO):
                continue
            result = st.is_action_permitted(PASS_ROLE, role)
            if result == PermissionResult.DENIED:
                explicit = True
            elif result == PermissionResult.PERMITTED:
                permitted = True
    if permitted and not explicit:
        return
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {PASS_ROLE} action")
    raise AwsError(400, "AccessDeniedException",
                   f"User: {request._access_key.arn} is not authorized to perform: {PASS_ROLE} "
                   f"on resource: {role} {why}")


def set_permissions(account: str, user: str, allow: list[str] | None, deny: list[str] | None) -> None:
    """Replaces the user's sandbox-permissions inline policy: Allow `allow`, Deny `deny`, both
    on every resource; with neither, the policy is removed (call under the state lock)."""
    backend = iam_backends[account][PARTITION]
    backend.get_user(user)  # NoSuchEntity if missing
    statements = [{"Effect": effect, "Action": actions, "Resource": "*"}
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
        for st in json.loads(policy)["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            out["allow" if st["Effect"] == "Allow" else "deny"].extend(actions)
    return out
