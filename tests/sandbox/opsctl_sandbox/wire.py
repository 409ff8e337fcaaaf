"""What an incoming AWS request is, and AWS-shaped answers that are not moto's.

`describe` names a request's account and IAM action (`ecs:UpdateService`) from what travels
on the wire, for every protocol the sandbox serves; the stats, the request log, the faults
and IAM enforcement all go by that one name. `error` builds an error answer shaped as the
request's protocol wants it, so that an AWS SDK parses its code; `drop` ends the connection
without an answer.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import socket
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote_plus
from xml.sax.saxutils import escape

# SigV4 signing names that differ from the service's IAM prefix.
_IAM_PREFIX = {"monitoring": "cloudwatch"}

# An IAM action as faults and policies name it: "ecs:DescribeServices", "ecs:Describe*", "*".
ACTION_PATTERN = re.compile(r"^(\*|[a-z0-9*?-]+:[A-Za-z0-9*?]+)$")

_ACTION_IN_FORM = re.compile(rb"(?:^|&)Action=([^&]*)")
_JSON_CODE = re.compile(rb'"__type"\s*:\s*"([^"]*)"')
_XML_CODE = re.compile(rb"<Code>([^<]*)</Code>")


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


def error_code(status: int, body: bytes) -> str | None:
    """The error code of an answer moto gave (None for a success)."""
    if status < 400:
        return None
    m = _JSON_CODE.search(body) or _XML_CODE.search(body)
    if not m:
        return str(status)
    return m.group(1).decode("utf-8", "replace").split(":", 1)[0].rsplit("#", 1)[-1]


class AwsError(Exception):
    """An error the sandbox answers itself (a fault, an IAM refusal)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error(req: Request, err: AwsError,
          environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """An error answer as AWS gives it for the request's protocol: (status line, headers, body).

    JSON protocols: `{"__type", "message"}` and the `x-amzn-ErrorType` header (what the AWS
    SDKs read the code from). Query protocols: `<ErrorResponse><Error><Type><Code><Message>`
    with the request id, the shape ELBv2, RDS, CloudWatch, IAM and STS answer. EC2 has its
    own `<Response><Errors><Error>`."""
    status, code, message = err.status, err.code, err.message
    request_id = str(uuid.uuid4())
    if req.protocol == "query":
        kind = "Sender" if status < 500 else "Receiver"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        ctype = "text/xml"
    elif req.protocol == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
                f"</Errors><RequestID>{request_id}</RequestID></Response>").encode()
        ctype = "text/xml"
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        ctype = environ.get("CONTENT_TYPE", "")
        if not ctype.startswith("application/x-amz-json"):
            ctype = "application/x-amz-json-1.1" if req.protocol == "json" else "application/json"
    headers = [("Content-Type", ctype), ("Content-Length", str(len(body))),
               ("x-amzn-RequestId", request_id)]
    if req.protocol in ("json", "rest"):
        headers.append(("x-amzn-ErrorType", code))
    return f"{status} {_REASON.get(status, 'Error')}", headers, body


_REASON = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           500: "Internal Server Error", 503: "Service Unavailable"}


class Dropped(ConnectionAbortedError):
    """Raised out of the WSGI app to end a connection with no answer.

    werkzeug's request handler takes a ConnectionError out of the app for a client that went
    away and sends nothing; the socket is shut down first, so the client reads an EOF where
    the status line should be rather than waiting for an answer."""


def drop(environ: dict[str, Any]) -> None:
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise Dropped("connection dropped by a sandbox fault")
