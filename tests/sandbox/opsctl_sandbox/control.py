"""The WSGI middleware in front of moto: the /_sandbox/ control surface, and the state lock.

Every AWS request is served under `ecs_rollout.scheduler.LOCK`, moto's answer read out inside
the lock, so the lazily advanced ECS model is never seen half-way through a step. Before moto,
each request is named (`wire.describe`), counted, logged, and may meet an injected fault
(`faults`) or IAM enforcement (`iam`). The control surface is plain JSON (never
AWS-shaped); errors are `{"error": CODE, "message": TEXT}`.
"""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from moto.elbv2.models import elbv2_backends
from moto.iam.exceptions import NoSuchEntity
from moto.iam.models import iam_backends

from . import MOTO_VERSION, config, ecr_scan, faults, iam, rds_patch, request_log, seed, trust, wire
from .ecs_rollout import moto_patch, native, native_patch, scheduler, traffic

PREFIX = "/_sandbox/"
ACCOUNT_RE = re.compile(r"^\d{12}$")
HEALTH_STATES = ("healthy", "unhealthy", "auto")

StartResponse = Callable[..., Any]


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 500: "Internal Server Error"}


def _json(start_response: StartResponse, status: int, payload: Any) -> list[bytes]:
    body = (json.dumps(payload, indent=2, sort_keys=False) + "\n").encode()
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _account(value: Any, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise HttpError(400, "MissingAccount", "account_id is required")
        return None
    value = str(value)
    if not ACCOUNT_RE.match(value):
        raise HttpError(400, "InvalidAccount", "account_id must be 12 digits")
    return value


class SandboxApp:
    def __init__(self, moto_app: Callable[..., Iterable[bytes]]):
        self.moto_app = moto_app
        self.base_url = ""  # set by the server once it is bound
        self.warm = threading.Event()  # set once the server has loaded what a seed needs
        # AWS requests served, per account and action, for benchmarks (GET /_sandbox/stats).
        self.stats: dict[str, dict[str, int]] = {}
        self.faults = faults.Faults()
        self.requests = request_log.RequestLog()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX) or path == PREFIX.rstrip("/"):
            return self.control(environ, start_response)
        req = wire.describe(environ)
        fault = None if self._seeding(req) else self.faults.take(req)
        kind = fault.kind if fault else None
        if fault is not None and fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)  # unlocked: other requests are served meanwhile
        with scheduler.LOCK:
            self._count(req)
            if kind == "drop":
                self._log(req, None, kind, None)
                wire.drop(environ)
            if kind == "access_denied":
                refusal: wire.AwsError | None = iam.access_denied(req, environ)
            elif kind in faults.ERRORS:
                refusal = faults.answer(kind, req)
            else:
                refusal = iam.check(req, environ)
                if refusal is None and not self._seeding(req):
                    refusal = trust.check(req, iam.principal_of(req))
            if refusal is not None:
                status_line, headers, body = wire.error(req, refusal, environ)
                self._log(req, refusal.status, kind, refusal.code)
                start_response(status_line, headers)
                return [body]
            status, body = self._moto(environ, start_response)
            self._log(req, status, kind, wire.error_code(status, body))
            if path == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
                self._reset()
        if kind == "lost_answer":
            wire.drop(environ)  # the change is made; the client never hears of it
        return [body]

    def _moto(self, environ: dict[str, Any], start_response: StartResponse) -> tuple[int, bytes]:
        """moto's answer, read out whole (under the lock); start_response is passed through."""
        status = [200]

        def capture(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(line.split(" ", 1)[0])
            return start_response(line, headers, exc_info)

        result = self.moto_app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return status[0], body

    def _reset(self) -> None:
        seed.reset()
        moto_patch.reset()
        rds_patch.reset()
        config.reset_accounts()
        iam.reset_accounts()
        self.faults.reset()
        self.requests.reset()

    def _count(self, req: wire.Request) -> None:
        if req.account is None:
            return
        counts = self.stats.setdefault(req.account, {})
        counts[req.action] = counts.get(req.action, 0) + 1

    @staticmethod
    def _seeding(req: wire.Request) -> bool:
        """The seed's own calls meet no fault and stay out of the request log (the stats
        count them)."""
        return req.access_key == seed.SEED_ACCESS_KEY

    def _log(self, req: wire.Request, status: int | None, fault: str | None, error: str | None) -> None:
        if req.account is not None and not self._seeding(req):
            self.requests.add(req.account, req.action, status, fault, error)

    # -- control surface

    def control(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        route = environ.get("PATH_INFO", "")[len(PREFIX):].strip("/")
        routes = {
            ("GET", "health"): self.health,
            ("POST", "seed"): self.seed,
            ("GET", "config"): self.get_config,
            ("POST", "config"): self.post_config,
            ("POST", "target-health"): self.target_health,
            ("GET", "target-health"): self.get_target_health,
            ("GET", "stats"): self.get_stats,
            ("POST", "faults"): self.post_faults,
            ("GET", "faults"): self.get_faults,
            ("DELETE", "faults"): self.delete_faults,
            ("GET", "requests"): self.get_requests,
            ("DELETE", "requests"): self.delete_requests,
            ("POST", "iam-enforce"): self.post_iam_enforce,
            ("GET", "iam-enforce"): self.get_iam_enforce,
            ("POST", "metrics"): self.post_metrics,
            ("GET", "metrics"): self.get_metrics,
            ("DELETE", "metrics"): self.delete_metrics,
            ("POST", "hooks"): self.post_hooks,
            ("GET", "hooks"): self.get_hooks,
            ("POST", "roles"): self.post_roles,
            ("POST", "scan"): self.post_scan,
            ("GET", "scan"): self.get_scan,
        }
        try:
            handler = routes.get((method, route))
            if handler is None:
                if route in {r for _, r in routes}:
                    raise HttpError(405, "MethodNotAllowed", f"{method} is not allowed on {PREFIX}{route}")
                raise HttpError(404, "NotFound", f"no such sandbox endpoint: {PREFIX}{route}")
            status, payload = handler(environ)
            return _json(start_response, status, payload)
        except HttpError as exc:
            return _json(start_response, exc.status, {"error": exc.code, "message": exc.message})
        except Exception as exc:  # a bug: say what it was
            traceback.print_exc()
            return _json(start_response, 500, {"error": "InternalError",
                                               "message": f"{type(exc).__name__}: {exc}"})

    @staticmethod
    def _body(environ: dict[str, Any]) -> dict[str, Any]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise HttpError(400, "InvalidJson", f"the body is not JSON: {exc}")
        if not isinstance(body, dict):
            raise HttpError(400, "InvalidJson", "the body must be a JSON object")
        return body

    @staticmethod
    def _query(environ: dict[str, Any]) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}

    def health(self, environ: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"status": "ok", "warm": self.warm.is_set(), "moto": MOTO_VERSION,
                     "url": self.base_url}

    def seed(self, environ: dict[str, Any]) -> tuple[int, Any]:
        body = self._body(environ)
        unknown = set(body) - {"account_id", "native", "multi_az"}
        if unknown:
            raise HttpError(400, "InvalidParameter", f"unknown keys: {', '.join(sorted(unknown))}")
        account = _account(body.get("account_id"))
        native_env = body.get("native", False)
        if not isinstance(native_env, bool):
            raise HttpError(400, "InvalidParameter", "native must be true or false")
        multi_az = body.get("multi_az", False)
        if not isinstance(multi_az, bool):
            raise HttpError(400, "InvalidParameter", "multi_az must be true or false")
        try:
            return 200, seed.seed(self.base_url, account, native_env, multi_az)
        except seed.AlreadySeeded as exc:
            raise HttpError(409, "AlreadySeeded", f"account {exc} is already seeded")

    def post_roles(self, environ: dict[str, Any]) -> tuple[int, Any]:
        """A role in ACCOUNT that TRUSTED_ACCOUNT may assume (with EXTERNAL_ID, if given),
        allowed everything: what a deployer role in a production account looks like."""
        body = self._body(environ)
        unknown = set(body) - {"account_id", "name", "trusted_account", "external_id"}
        if unknown:
            raise HttpError(400, "InvalidParameter", f"unknown keys: {', '.join(sorted(unknown))}")
        account = _account(body.get("account_id"), required=True)
        name, trusted = body.get("name"), body.get("trusted_account")
        if not isinstance(name, str) or not isinstance(trusted, str):
            raise HttpError(400, "InvalidParameter", "name and trusted_account are required")
        statement: dict[str, Any] = {"Effect": "Allow", "Action": "sts:AssumeRole",
                                     "Principal": {"AWS": f"arn:aws:iam::{trusted}:root"}}
        if body.get("external_id"):
            statement["Condition"] = {"StringEquals": {"sts:ExternalId": body["external_id"]}}
        trust_doc = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        with scheduler.LOCK:
            backend = iam_backends[account]["aws"]
            role = backend.create_role(
                role_name=name, assume_role_policy_document=trust_doc, path="/",
                permissions_boundary=None, description="", tags=[], max_session_duration="3600",
                linked_service=None)
            backend.put_role_policy(name, "all", json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        return 200, {"account_id": account, "role_arn": role.arn}

    def get_config(self, environ: dict[str, Any]) -> tuple[int, Any]:
        account = _account(self._query(environ).get("account_id"))
        return 200, {"account_id": account, **config.get(account)}

    def post_config(self, environ: dict[str, Any]) -> tuple[int, Any]:
        body = self._body(environ)
        account = _account(body.pop("account_id", None))
        try:
            effective = config.update(account, body)
        except config.ConfigError as exc:
            raise HttpError(400, "InvalidConfig", str(exc))
        return 200, {"account_id": account, **effective}

    @staticmethod
    def _target_group(account: str, region: str, ref: str) -> Any:
        backend = elbv2_backends[account][region]
        if ref.startswith("arn:"):
            tg = backend.target_groups.get(ref)
        else:
            tg = next((g for g in backend.target_groups.values() if g.name == ref), None)
        if tg is None:
            raise HttpError(404, "TargetGroupNotFound",
                            f"no target group {ref!r} in account {account} ({region})")
        return tg

    def target_health(self, environ: dict[str, Any]) -> tuple[int, Any]:
        body = self._body(environ)
        account = _account(body.get("account_id"), required=True)
        region = body.get("region") or seed.REGION
        ref, state = body.get("target_group"), body.get("state")
        if not ref or not isinstance(ref, str):
            raise HttpError(400, "InvalidParameter", "target_group (a name or an ARN) is required")
        if state not in HEALTH_STATES:
            raise HttpError(400, "InvalidParameter", f"state must be one of {', '.join(HEALTH_STATES)}")
        assert account is not None
        with scheduler.LOCK:
            tg = self._target_group(account, region, ref)
            moto_patch.force_target_health(tg.arn, state)
        return 200, {"account_id": account, "target_group": tg.name, "target_group_arn": tg.arn,
                     "state": state}

    def get_stats(self, environ: dict[str, Any]) -> tuple[int, Any]:
        account = _account(self._query(environ).get("account_id"), required=True)
        with scheduler.LOCK:
            counts = dict(self.stats.get(account, {}))
        return 200, {"account_id": account, "requests": sum(counts.values()), "by_action": counts}

    def get_target_health(self, environ: dict[str, Any]) -> tuple[int, Any]:
        q = self._query(environ)
        account = _account(q.get("account_id"), required=True)
        assert account is not None
        ref = q.get("target_group")
        if not ref:
            raise HttpError(400, "InvalidParameter", "target_group (a name or an ARN) is required")
        with scheduler.LOCK:
            tg = self._target_group(account, q.get("region") or seed.REGION, ref)
            state = moto_patch.forced_target_health(tg.arn)
        return 200, {"account_id": account, "target_group": tg.name, "target_group_arn": tg.arn,
                     "state": state}

    # -- faults, the request log, IAM enforcement

    def post_faults(self, environ: dict[str, Any]) -> tuple[int, Any]:
        body = self._body(environ)
        account = _account(body.get("account_id"), required=True)
        assert account is not None
        try:
            fault = self.faults.add(account, body)
        except faults.FaultError as exc:
            raise HttpError(400, "InvalidFault", str(exc))
        return 200, {"account_id": account, **fault.as_json()}

    def get_faults(self, environ: dict[str, Any]) -> tuple[int, Any]:
        account = _account(self._query(environ).get("account_id"), required=True)
        assert account is not None
        return 200, {"account_id": account, "faults": self.faults.list(account)}

    def delete_faults(self, environ: dict[str, Any]) -> tuple[int, Any]:
        q = self._query(environ)
        account = _account(q.get("account_id"), required=True)
        assert account is not None
        fault_id = q.get("id")
        if fault_id is not None and not fault_id.isdigit():
            raise HttpError(400, "InvalidParameter", "id must be a fault's id")
        cleared = self.faults.clear(account, int(fault_id) if fault_id is not None else None)
        return 200, {"account_id": account, "cleared": cleared}

    def get_requests(self, environ: dict[str, Any]) -> tuple[int, Any]:
        account = _account(self._query(environ).get("account_id"), required=True)
        assert account is not None
        return 200, self.requests.get(account)

    def delete_requests(self, environ: dict[str, Any]) -> tuple[int, Any]:
        account = _account(self._query(environ).get("account_id"), required=True)
        assert account is not None
        return 200, {"account_id": account, "cleared": self.requests.clear(account)}

    def _iam_state(self, account: str | None, user: str) -> dict[str, Any]:
        state: dict[str, Any] = {"account_id": account, "enabled": iam.enforced(account)}
        if account:
            try:
                with scheduler.LOCK:
                    state.update({"user": user, **iam.permissions(account, user)})
            except NoSuchEntity:
                pass  # an account without that user: nothing to show
        return state

    def post_iam_enforce(self, environ: dict[str, Any]) -> tuple[int, Any]:
        body = self._body(environ)
        unknown = set(body) - {"account_id", "enabled", "user", "allow", "deny", "policy"}
        if unknown:
            raise HttpError(400, "InvalidParameter", f"unknown keys: {', '.join(sorted(unknown))}")
        account = _account(body.get("account_id"))
        enabled = body.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise HttpError(400, "InvalidParameter", "enabled must be true or false")
        user = body.get("user", seed.USER)
        if not isinstance(user, str) or not user:
            raise HttpError(400, "InvalidParameter", "user must be an IAM user name")
        lists = {}
        for key in ("allow", "deny"):
            value = body.get(key)
            if value is not None and (not isinstance(value, list) or not all(
                    isinstance(a, str) and wire.ACTION_PATTERN.match(a) for a in value)):
                raise HttpError(400, "InvalidParameter",
                                f'{key} must be a list of IAM actions such as "ecs:Describe*"')
            lists[key] = value
        policy = body.get("policy")
        if policy is not None and not (isinstance(policy, dict)
                                       and isinstance(policy.get("Statement"), (list, dict))):
            raise HttpError(400, "InvalidParameter",
                            "policy must be a policy document with a Statement")
        changes_policy = lists["allow"] is not None or lists["deny"] is not None or policy is not None
        if enabled is None and not changes_policy:
            raise HttpError(400, "InvalidParameter", "give enabled, allow, deny or policy")
        if changes_policy:
            if account is None:
                raise HttpError(400, "MissingAccount", "allow, deny and policy need an account_id")
            try:
                with scheduler.LOCK:
                    iam.set_permissions(account, user, lists["allow"], lists["deny"], policy)
            except NoSuchEntity:
                raise HttpError(404, "NoSuchUser", f"no IAM user {user!r} in account {account}")
        if enabled is not None:
            iam.set_enforced(account, enabled)
        return 200, self._iam_state(account, user)

    def get_iam_enforce(self, environ: dict[str, Any]) -> tuple[int, Any]:
        q = self._query(environ)
        return 200, self._iam_state(_account(q.get("account_id")), q.get("user") or seed.USER)

    # -- seeded load balancer metrics, Lambda hook verdicts

    def post_metrics(self, environ: dict[str, Any]) -> tuple[int, Any]:
        body = self._body(environ)
        unknown = set(body) - {"account_id", "target_group", "region", "error_rate", "p99",
                               "requests_per_minute"}
        if unknown:
            raise HttpError(400, "InvalidParameter", f"unknown keys: {', '.join(sorted(unknown))}")
        account = _account(body.get("account_id"), required=True)
        assert account is not None
        region = body.get("region") or seed.REGION
        ref = body.get("target_group")
        if not ref or not isinstance(ref, str):
            raise HttpError(400, "InvalidParameter", "target_group (a name or an ARN) is required")
        with scheduler.LOCK:
            tg = self._target_group(account, region, ref)
            native_patch.flush_metrics(account, region)  # what was due, with the old profile
            try:
                profile = traffic.set_profile(account, region, tg.arn, body, time.time())
            except traffic.ProfileError as exc:
                raise HttpError(400, "InvalidParameter", str(exc))
        return 200, {"account_id": account, "target_group": tg.name, **profile.as_json()}

    def get_metrics(self, environ: dict[str, Any]) -> tuple[int, Any]:
        q = self._query(environ)
        account = _account(q.get("account_id"), required=True)
        assert account is not None
        region = q.get("region") or seed.REGION
        with scheduler.LOCK:
            profiles = [p.as_json() for p in traffic.profiles(account, region)]
        return 200, {"account_id": account, "profiles": profiles}

    def delete_metrics(self, environ: dict[str, Any]) -> tuple[int, Any]:
        q = self._query(environ)
        account = _account(q.get("account_id"), required=True)
        assert account is not None
        region = q.get("region") or seed.REGION
        with scheduler.LOCK:
            native_patch.flush_metrics(account, region)
            if q.get("target_group"):
                tg = self._target_group(account, region, q["target_group"])
                cleared = int(traffic.clear_profile(account, region, tg.arn))
            else:
                arns = [p.target_group_arn for p in traffic.profiles(account, region)]
                cleared = sum(int(traffic.clear_profile(account, region, a)) for a in arns)
        return 200, {"account_id": account, "cleared": cleared}

    def post_hooks(self, environ: dict[str, Any]) -> tuple[int, Any]:
        body = self._body(environ)
        unknown = set(body) - {"account_id", "hook_target_arn", "verdict"}
        if unknown:
            raise HttpError(400, "InvalidParameter", f"unknown keys: {', '.join(sorted(unknown))}")
        account = _account(body.get("account_id"), required=True)
        assert account is not None
        target = body.get("hook_target_arn") or "*"
        verdict = body.get("verdict")
        if verdict is not None and verdict not in native.HOOK_VERDICTS:
            raise HttpError(400, "InvalidParameter",
                            f"verdict must be one of {', '.join(native.HOOK_VERDICTS)} (or null to clear)")
        if not isinstance(target, str):
            raise HttpError(400, "InvalidParameter", "hook_target_arn must be a Lambda ARN or *")
        verdicts = native.set_hook_verdict(account, target, verdict)
        return 200, {"account_id": account, "verdicts": verdicts}

    def get_hooks(self, environ: dict[str, Any]) -> tuple[int, Any]:
        account = _account(self._query(environ).get("account_id"), required=True)
        assert account is not None
        return 200, {"account_id": account, "verdicts": native.hook_verdicts(account)}

    # -- ECR image scans

    def post_scan(self, environ: dict[str, Any]) -> tuple[int, Any]:
        body = self._body(environ)
        unknown = set(body) - {"account_id", "region", "repository", "tag", "state", "seconds",
                               "findings", "enhanced_findings"}
        if unknown:
            raise HttpError(400, "InvalidParameter", f"unknown keys: {', '.join(sorted(unknown))}")
        account = _account(body.pop("account_id", None), required=True)
        assert account is not None
        region = body.pop("region", None) or seed.REGION
        repository = body.pop("repository", None) or seed.REPOSITORY
        tag = body.pop("tag", None)
        if not tag or not isinstance(tag, str):
            raise HttpError(400, "InvalidParameter", "tag (the image's tag) is required")
        with scheduler.LOCK:
            try:
                scan = ecr_scan.set_scan(account, region, repository, tag, body)
            except ecr_scan.ScanError as exc:
                raise HttpError(400, "InvalidParameter", str(exc))
        return 200, {"account_id": account, **scan}

    def get_scan(self, environ: dict[str, Any]) -> tuple[int, Any]:
        q = self._query(environ)
        account = _account(q.get("account_id"), required=True)
        assert account is not None
        tag = q.get("tag")
        if not tag:
            raise HttpError(400, "InvalidParameter", "tag (the image's tag) is required")
        with scheduler.LOCK:
            try:
                scan = ecr_scan.get_scan(account, q.get("region") or seed.REGION,
                                         q.get("repository") or seed.REPOSITORY, tag)
            except ecr_scan.ScanError as exc:
                raise HttpError(404, "NotFound", str(exc))
        return 200, {"account_id": account, **scan}
