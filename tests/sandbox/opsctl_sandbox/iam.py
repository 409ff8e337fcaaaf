"""IAM denials, worded as AWS words them.

A request IAM refuses is answered with `wire.error`: `AccessDeniedException` for JSON
protocols, `AccessDenied` for query protocols, naming the caller, the action and the resource.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from moto.iam.models import iam_backends

from . import wire
from .wire import AwsError

PARTITION = "aws"


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
