"""The moto side of the tasks' logs: the awslogs driver's groups and streams in moto's
CloudWatch Logs, the lines tasks write into them (tasklogs.py says which), and the patches
that make moto's log reads behave as CloudWatch Logs does. With moto_patch and
native_patch, one of the modules that touch moto; `apply()` is called by moto_patch.apply().

What moto 5.2.5 does differently, and this module changes:
- FilterLogEvents ignores `logStreamNamePrefix` and `logGroupIdentifier`, and returns the
  events stream by stream unless `interleaved` (which AWS ignores: it always interleaves);
- its filter patterns know plain terms and one quoted phrase: `?TERM` (any of), `-TERM`
  (none of) and `%regex%` match every event;
- GetLogEvents includes events at `endTime` (AWS: before it only);
- nothing advances the ECS model before a read, so lines due meanwhile would be missing.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from moto.ecs.models import ecs_backends
from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.logs.models import LogGroup, LogsBackend, logs_backends
from moto.logs.responses import LogsResponse

from .scheduler import LOCK

if TYPE_CHECKING:
    from .moto_patch import SandboxTask

MAX_FILTER_LIMIT = 10000

_ORIG: dict[str, Any] = {}


def _naive(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------------------------------------
# The awslogs driver


def missing_group(account: str, task: SandboxTask) -> str | None:
    """A log group one of the task's awslogs containers needs, that does not exist and that
    the driver may not create (no `awslogs-create-group: "true"`)."""
    for target in task.log_targets.values():
        if target.create_group:
            continue
        if target.group not in logs_backends[account][target.region].groups:
            return target.group
    return None


def open_streams(account: str, task: SandboxTask, t: float) -> None:
    """The containers' streams, created as they start (and their groups, where allowed)."""
    for target in task.log_targets.values():
        backend = logs_backends[account][target.region]
        group = backend.groups.get(target.group)
        if group is None:
            if not target.create_group:
                continue  # deleted after the task was launched: the lines go nowhere
            group = backend.create_log_group(target.group, {})
            group.creation_time = _naive(t)
        if target.stream not in group.streams:
            group.create_log_stream(target.stream)
            group.streams[target.stream].creation_time = _naive(t)


def write(account: str, task: SandboxTask, t: float, messages: list[str]) -> None:
    """Log events at time `t` in the main container's stream (if it logs with awslogs)."""
    target = task.log_targets.get(task.main_container)
    if target is None or not messages:
        return
    group = logs_backends[account][target.region].groups.get(target.group)
    if group is None:
        return
    if target.stream not in group.streams:
        open_streams(account, task, t)
    stamp = int(t * 1000)
    group.streams[target.stream].put_log_events(
        [{"timestamp": stamp, "message": m} for m in messages])


# ---------------------------------------------------------------------------------------------
# Filter patterns


_TERM = re.compile(r'([?-]?)("(?:[^"\\]|\\.)*"|\S+)')


def matcher(pattern: str | None) -> Callable[[str], bool]:
    """A filter pattern for unstructured events, as CloudWatch Logs reads it: terms that must
    all appear (`ERROR Exception`), `?a ?b` (any of them), `-term` (none of them), exact
    phrases in double quotes, `%regex%`; case-sensitive. JSON (`{ $.level = ... }`) and
    space-delimited (`[ip, user, ...]`) patterns are not modelled: every event matches."""
    text = (pattern or "").strip()
    if not text or text[0] in "{[":
        return lambda message: True
    if len(text) > 1 and text[0] == "%" and text[-1] == "%":
        regex = re.compile(text[1:-1])
        return lambda message: regex.search(message) is not None
    every: list[str] = []
    some: list[str] = []
    never: list[str] = []
    for sign, term in _TERM.findall(text):
        if len(term) > 1 and term[0] == term[-1] == '"':
            term = term[1:-1].replace('\\"', '"')
        {"": every, "?": some, "-": never}[sign].append(term)

    def match(message: str) -> bool:
        return (all(t in message for t in every)
                and (not some or any(t in message for t in some))
                and not any(t in message for t in never))

    return match


# ---------------------------------------------------------------------------------------------
# Reads: the ECS model first, then moto's (patched) answers


def _advance_account(account: str) -> None:
    from .moto_patch import MotoBackend  # moto_patch imports this module
    from .scheduler import advance_backend

    regions = dict.get(ecs_backends, account)
    for ecs in list(regions.values()) if regions else []:
        advance_backend(MotoBackend(ecs))


def _advancing(name: str) -> Callable[..., Any]:
    orig = _ORIG[name]

    def wrapper(self: LogsBackend, *args: Any, **kwargs: Any) -> Any:
        with LOCK:
            _advance_account(self.account_id)
            return orig(self, *args, **kwargs)

    wrapper.__name__ = name
    return wrapper


def _group(backend: LogsBackend, name: str | None, identifier: str | None) -> LogGroup:
    if name and identifier:
        raise InvalidParameterException(
            msg="LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    ref = name or identifier
    if not ref:
        raise InvalidParameterException(msg="Either logGroupName or logGroupIdentifier is required.")
    if ref.startswith("arn:"):
        arn = ref.removesuffix(":*")
        group = next((g for g in backend.groups.values() if g.arn == arn), None)
    else:
        group = backend.groups.get(ref)
    if group is None:
        raise ResourceNotFoundException()
    return group


def _token(timestamp: int, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"sandbox:{timestamp}:{event_id}".encode()).decode()


def _after(token: str) -> tuple[int, int] | None:
    try:
        _, ts, eid = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        return int(ts), int(eid)
    except (ValueError, UnicodeDecodeError):
        return None


def _resp_filter_log_events(self: LogsResponse) -> str:
    """FilterLogEvents as CloudWatch Logs answers it: by name or identifier (name or ARN),
    `logStreamNames` or `logStreamNamePrefix`, `startTime`/`endTime` (both included),
    `filterPattern` (see `matcher`), every matching event of every stream interleaved in time
    order, `limit` (10000) a page, `nextToken` while more remain."""
    with LOCK:
        backend = self.logs_backend
        _advance_account(backend.account_id)
        group = _group(backend, self._get_param("logGroupName"),
                       self._get_param("logGroupIdentifier"))
        names = self._get_param("logStreamNames")
        prefix = self._get_param("logStreamNamePrefix")
        if names and prefix:
            raise InvalidParameterException(
                msg="logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
        limit = self._get_param("limit") or MAX_FILTER_LIMIT
        if not 1 <= int(limit) <= MAX_FILTER_LIMIT:
            raise InvalidParameterException(
                constraint="Member must have value less than or equal to 10000",
                parameter="limit", value=limit)
        start, end = self._get_param("startTime"), self._get_param("endTime")
        match = matcher(self._get_param("filterPattern"))
        token = self._get_param("nextToken")
        after = _after(token) if token else None
        streams = [s for n, s in group.streams.items()
                   if (not names or n in names) and (not prefix or n.startswith(prefix))]
        found = []
        for stream in streams:
            for event in stream.events:
                if start is not None and event.timestamp < start:
                    continue
                if end is not None and event.timestamp > end:
                    continue
                if after is not None and (event.timestamp, event.event_id) <= after:
                    continue
                if match(event.message):
                    found.append((event.timestamp, event.event_id, stream.log_stream_name, event))
        found.sort(key=lambda x: (x[0], x[1]))
        page = found[: int(limit)]
        out: dict[str, Any] = {
            "events": [{**ev.to_filter_dict(), "logStreamName": name} for _, _, name, ev in page],
            "searchedLogStreams": [{"logStreamName": s.log_stream_name, "searchedCompletely": True}
                                   for s in streams],
        }
        if token is not None and after is None:
            out["events"] = []  # an invalid token: no events, as CloudWatch Logs answers
        elif len(found) > len(page):
            out["nextToken"] = _token(page[-1][0], page[-1][1])
        return json.dumps(out)


def _get_log_events(self: LogsBackend, log_group_name: str, log_group_id: str,
                    log_stream_name: str, start_time: Any, end_time: Any, limit: int,
                    next_token: str | None, start_from_head: Any) -> Any:
    """GetLogEvents: `endTime` excluded, as CloudWatch Logs documents it."""
    with LOCK:
        _advance_account(self.account_id)
        if end_time is not None:
            end_time = int(end_time) - 1
        return _ORIG["get_log_events"](self, log_group_name, log_group_id, log_stream_name,
                                       start_time, end_time, limit, next_token, start_from_head)


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    for name in ("describe_log_streams", "describe_log_groups", "get_log_events",
                 "start_live_tail"):
        _ORIG[name] = getattr(LogsBackend, name)
    LogsBackend.describe_log_streams = _advancing("describe_log_streams")
    LogsBackend.describe_log_groups = _advancing("describe_log_groups")
    LogsBackend.start_live_tail = _advancing("start_live_tail")
    LogsBackend.get_log_events = _get_log_events
    LogsResponse.filter_log_events = _resp_filter_log_events
