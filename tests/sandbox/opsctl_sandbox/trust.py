"""sts:AssumeRole as AWS decides it: the role must exist and its trust policy must let the
caller in.

moto's AssumeRole hands out credentials for any ARN, existing or not, whatever the role's
trust policy says ("the role does not need to exist"). AWS refuses, with AccessDenied, a role
that does not exist or whose trust policy has no statement that allows `sts:AssumeRole` to
the caller: a principal of the caller's ARN, its account (`123456789012` or
`arn:aws:iam::123456789012:root`) or `*`, with any `StringEquals` condition on
`sts:ExternalId` met by the request's ExternalId. A RoleSessionName outside
`[\\w+=,.@-]{2,64}` is a ValidationError. Checked on every account, enforcement on or not, as
AWS always checks trust; the seed's own key is exempt.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote

from moto.iam.models import iam_backends

from . import wire
from .wire import AwsError

PARTITION = "aws"
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def check(req: wire.Request, caller: str) -> AwsError | None:
    """Why AssumeRole is refused to `caller` (an ARN), if it is (call under the state lock)."""
    if req.action != "sts:AssumeRole":
        return None
    form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
    role_arn = form.get("RoleArn", "")
    session = form.get("RoleSessionName", "")
    if not _SESSION_NAME.match(session):
        return AwsError(400, "ValidationError",
                        f"1 validation error detected: Value '{session}' at 'roleSessionName' "
                        "failed to satisfy constraint: Member must satisfy regular expression "
                        "pattern: [\\w+=,.@-]*")
    denied = AwsError(403, "AccessDenied",
                      f"User: {caller} is not authorized to perform: sts:AssumeRole on "
                      f"resource: {role_arn}")
    parts = role_arn.split(":")
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return denied
    account, name = parts[4], parts[5].rsplit("/", 1)[-1]
    role = next((r for r in iam_backends[account][PARTITION].roles.values()
                 if r.name == name), None)
    if role is None:
        return denied
    if _trusts(role.assume_role_policy_document, caller, form.get("ExternalId")):
        return None
    return denied


def _trusts(document: Any, caller: str, external_id: str | None) -> bool:
    try:
        policy = json.loads(unquote(document)) if isinstance(document, str) else document
    except ValueError:
        return False
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    caller_account = caller.split(":")[4] if caller.count(":") >= 5 else ""
    for st in statements:
        if st.get("Effect") != "Allow" or not _listed("sts:AssumeRole", st.get("Action")):
            continue
        principal = st.get("Principal", {})
        aws = principal if principal == "*" else (principal or {}).get("AWS", [])
        aws = [aws] if isinstance(aws, str) else aws
        if not any(p in ("*", caller, caller_account, f"arn:aws:iam::{caller_account}:root")
                   for p in aws):
            continue
        wanted = ((st.get("Condition") or {}).get("StringEquals") or {}).get("sts:ExternalId")
        if wanted is not None and wanted != external_id:
            continue
        return True
    return False


def _listed(action: str, actions: Any) -> bool:
    actions = [actions] if isinstance(actions, str) else (actions or [])
    return any(a in (action, "sts:*", "*") for a in actions)
