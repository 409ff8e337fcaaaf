"""What an incoming AWS request is.

`describe` names a request's account and IAM action (`ecs:UpdateService`) from what travels
on the wire, for every protocol the sandbox serves; whatever counts or sorts requests goes by
that one name.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote_plus

# SigV4 signing names that differ from the service's IAM prefix.
_IAM_PREFIX = {"monitoring": "cloudwatch"}

_ACTION_IN_FORM = re.compile(rb"(?:^|&)Action=([^&]*)")


@dataclass(frozen=True)
class Request:
    account: str | None  # None: not an AWS request anyone is accountable for (moto-api, unsigned)
    service: str  # the IAM prefix ("ecs", "elasticloadbalancing", "cloudwatch"...), or ""
    operation: str  # "DescribeServices", or "" when it does not travel in a header or form
    protocol: str  # "json", "query", "ec2" or "rest"
    access_key: str
    body: bytes  # as received (still compressed, if it was): the signature covers these bytes

    @property
    def action(self) -> str:
        if not self.service:
            return "other"
        return f"{self.service}:{self.operation or 'other'}"


def _read_body(environ: dict[str, Any]) -> bytes:
    """Reads the request body and puts an equal stream back for moto."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: the server marks the end
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _credential(environ: dict[str, Any]) -> list[str]:
    """KEY/DATE/REGION/SERVICE/aws4_request of a SigV4 header or presigned query, split."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        return auth.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")
    query = environ.get("QUERY_STRING", "")
    if "X-Amz-Credential=" in query:
        value = parse_qs(query).get("X-Amz-Credential", [""])[-1]
        return value.split("/")
    return []


def account_of(environ: dict[str, Any], access_key: str) -> str | None:
    """The account a request lands in, as moto decides it: the x-moto-account-id header, else
    the account whose IAM user owns the access key (moto's default account if none does)."""
    account = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if account:
        return account
    if not access_key:
        return None
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def describe(environ: dict[str, Any]) -> Request:
    body = _read_body(environ)
    if environ.get("PATH_INFO", "").startswith("/moto-api"):
        return Request(None, "", "", "rest", "", body)
    cred = _credential(environ)
    access_key = cred[0] if cred else ""
    signing_name = cred[3] if len(cred) > 3 else ""
    service = _IAM_PREFIX.get(signing_name, signing_name)

    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        operation, protocol = target.rsplit(".", 1)[-1], "json"
    else:
        operation = parse_qs(environ.get("QUERY_STRING", "")).get("Action", [""])[-1]
        if not operation and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
            form = body
            if environ.get("HTTP_CONTENT_ENCODING") == "gzip":
                try:
                    form = gzip.decompress(body)
                except OSError:
                    form = b""
            m = _ACTION_IN_FORM.search(form)
            operation = unquote_plus(m.group(1).decode("latin-1")) if m else ""
        protocol = ("ec2" if service == "ec2" else "query") if operation else "rest"
    return Request(account_of(environ, access_key), service, operation, protocol, access_key, body)
