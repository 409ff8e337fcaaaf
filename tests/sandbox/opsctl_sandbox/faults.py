"""Injected faults: per account, requests whose IAM action matches are answered badly.

A fault matches actions by IAM name (`ecs:DescribeServices`; shell-style wildcards, so `*` is
every action and `ecs:Describe*` every ECS describe). It lets the first `after` matching
requests through, then applies to the next `count` (every one, when `count` is None). When
several faults match one request, each counts it, and the oldest that is due applies.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .wire import ACTION_PATTERN, AwsError, Request

KINDS = ("throttle", "500", "503", "access_denied", "drop", "delay", "lost_answer")
# The faults answered with an error instead of moto's answer. access_denied is worded by
# the iam module, as enforcement words it.
ERRORS = ("throttle", "500", "503", "access_denied")

# kind: (status, code for JSON protocols, code for query protocols, message)
_ANSWERS = {
    "throttle": (400, "ThrottlingException", "Throttling", "Rate exceeded"),
    "500": (500, "InternalFailure", "InternalError",
            "We encountered an internal error. Please try again."),
    "503": (503, "ServiceUnavailable", "ServiceUnavailable",
            "The service is unavailable. Please try again later."),
}
_EC2_ANSWERS = {
    "throttle": (503, "RequestLimitExceeded", "Request limit exceeded."),
    "500": (500, "InternalError", "An internal error has occurred."),
    "503": (503, "Unavailable", "The server is overloaded and can't handle the request."),
}

_KEYS = {"account_id", "action", "fault", "count", "after", "delay_ms"}
MAX_DELAY_MS = 600_000


class FaultError(ValueError):
    pass


@dataclass
class Fault:
    id: int
    action: str
    kind: str
    count: int | None
    after: int
    delay_ms: int
    seen: int = 0  # matching requests so far
    fired: int = 0

    def remaining(self) -> int | None:
        return None if self.count is None else self.count - self.fired

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "fault": self.kind, "count": self.count,
                "after": self.after, "delay_ms": self.delay_ms, "remaining": self.remaining(),
                "active": self.remaining() != 0, "seen": self.seen, "fired": self.fired}


def answer(kind: str, req: Request) -> AwsError:
    """The answer of an error fault other than access_denied."""
    if req.protocol == "ec2":
        return AwsError(*_EC2_ANSWERS[kind])
    status, json_code, query_code, message = _ANSWERS[kind]
    return AwsError(status, query_code if req.protocol == "query" else json_code, message)


def _int(body: dict[str, Any], key: str, default: int | None, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultError(f"{key} must be an integer from {low} to {high}")
    return value


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # not the state lock: a delayed request waits unlocked
        self._ids = itertools.count(1)
        self._faults: dict[str, list[Fault]] = {}

    def add(self, account: str, body: dict[str, Any]) -> Fault:
        unknown = set(body) - _KEYS
        if unknown:
            raise FaultError(f"unknown keys: {', '.join(sorted(unknown))}")
        action, kind = body.get("action"), body.get("fault")
        if not isinstance(action, str) or not ACTION_PATTERN.match(action):
            raise FaultError('action must be an IAM action such as "ecs:DescribeServices", or "*"')
        if kind not in KINDS:
            raise FaultError(f"fault must be one of {', '.join(KINDS)}")
        count = _int(body, "count", None, 1, 10**9)
        after = _int(body, "after", 0, 0, 10**9)
        delay_ms = _int(body, "delay_ms", None, 0, MAX_DELAY_MS)
        if kind == "delay" and delay_ms is None:
            raise FaultError("a delay fault needs delay_ms")
        assert after is not None
        fault = Fault(next(self._ids), action, kind, count, after, delay_ms or 0)
        with self._lock:
            self._faults.setdefault(account, []).append(fault)
        return fault

    def take(self, req: Request) -> Fault | None:
        """The fault that applies to this request, if any, counted as fired (a copy)."""
        if req.account is None:
            return None
        with self._lock:
            chosen = None
            for fault in self._faults.get(req.account, ()):
                if fault.remaining() == 0:
                    continue
                if fault.action != "*" and not fnmatchcase(req.action, fault.action):
                    continue
                fault.seen += 1
                if chosen is None and fault.seen > fault.after:
                    fault.fired += 1
                    chosen = Fault(**vars(fault))
            return chosen

    def list(self, account: str) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_json() for f in self._faults.get(account, ())]

    def clear(self, account: str, fault_id: int | None = None) -> int:
        with self._lock:
            faults = self._faults.get(account, [])
            keep = [f for f in faults if fault_id is not None and f.id != fault_id]
            self._faults[account] = keep
            return len(faults) - len(keep)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
