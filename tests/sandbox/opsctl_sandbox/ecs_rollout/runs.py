"""One-off tasks (RunTask): the convention that decides what a command does, their lifecycle
on the sandbox clock, and StopTask. Pure Python, like the model; runs_patch.py is the moto
side (the API calls) and the scheduler advances them with the services.

A one-off task goes PROVISIONING (the first half of `task_start_seconds`) -> PENDING (the
second half) -> RUNNING -> its command exits -> DEPROVISIONING (`task_stop_seconds`) ->
STOPPED. Its main container (the first essential container with an overridden command, else
the first essential one) runs the command (`overrides.containerOverrides[].command`, else the
container definition's `command`), joined with spaces, by this convention:

  `exit=N`          exits N (0..255; N % 256 beyond)
  `fail`            (anywhere, when there is no `exit=N`) logs an ERROR line and exits 1
  `sleep=S`         runs S seconds (else `run_task_seconds`)
  `ignore-sigterm`  StopTask's SIGTERM is ignored: SIGKILL after `stop_timeout_seconds`, exit 137
                    (otherwise the command exits on SIGTERM at once: 143)
  `migrate`         logs lines that apply migrations
  anything else     logs a few lines and exits 0

The other containers stop with it (exit code 0). A task that cannot start (image, log group;
model.diagnose) or whose image crashes (failure_pattern) ends as service tasks do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import config
from . import tasklogs
from .model import PENDING, RUNNING, STOPPED, Backend, _dt, fail_containers, start_containers

if TYPE_CHECKING:
    from .moto_patch import SandboxTask

PROVISIONING, STOPPING, DEPROVISIONING = "PROVISIONING", "STOPPING", "DEPROVISIONING"
ALIVE = (PROVISIONING, PENDING, RUNNING, STOPPING)
MAX_STOPPED_TASKS = 100  # per account and region; older stopped one-off tasks are forgotten

SIGTERM_EXIT, SIGKILL_EXIT = 143, 137
USER_STOPPED = "Task stopped by user"
ESSENTIAL_EXITED = "Essential container in task exited"

_EXIT = re.compile(r"\bexit=(\d+)")
_SLEEP = re.compile(r"\bsleep=(\d+(?:\.\d+)?)")


@dataclass
class Plan:
    """What a one-off command does."""

    command: str
    exit_code: int
    seconds: float
    ignores_sigterm: bool
    lines: list[tuple[float, str, str, dict[str, Any]]] = field(default_factory=list)


def plan(command: str, ctx: dict[str, Any], run_seconds: float) -> Plan:
    """The convention (see the module's doc)."""
    m = _EXIT.search(command)
    if m:
        code = int(m.group(1)) % 256
    else:
        code = 1 if "fail" in command else 0
    s = _SLEEP.search(command)
    seconds = float(s.group(1)) if s else run_seconds
    return Plan(command, code, seconds, "ignore-sigterm" in command,
                tasklogs.command_lines(command, ctx, code, seconds))


class RunState:
    """The one-off tasks of an account and region, and RunTask's client tokens."""

    def __init__(self) -> None:
        self.tasks: list[SandboxTask] = []
        # (cluster name, clientToken) -> (the request's parameters, the task ARNs it started)
        self.tokens: dict[tuple[str, str], tuple[str, list[str]]] = {}
        self.subnet_turn = 0


def launch(backend: Backend, rs: RunState, task: SandboxTask, the_plan: Plan, t: float) -> None:
    """A task RunTask just created (moto_patch.SandboxTask, diagnosed): PROVISIONING."""
    start = config.get(backend.account_id)["task_start_seconds"]
    task.last_status = PROVISIONING
    task.pending_at = t + start / 2
    task.ready_at = t + start
    task.plan = the_plan
    rs.tasks.append(task)


def _due(task: SandboxTask) -> float | None:
    s = task.last_status
    if s == PROVISIONING:
        return task.pending_at
    if s == PENDING:
        return task.ready_at
    if s in (RUNNING, STOPPING):
        times = [x for x in (task.exit_at, task.kill_at, task.stop_requested) if x is not None]
        if s == STOPPING:
            times = [x for x in (task.exit_at, task.kill_at) if x is not None]
        times += [x for x in (_next_line(task),) if x is not None]
        return min(times) if times else None
    if s == DEPROVISIONING:
        return task.stop_at
    return None


def _next_line(task: SandboxTask) -> float | None:
    if task.run_started is None or task.line_index >= len(task.plan.lines):
        return None
    return task.run_started + task.plan.lines[task.line_index][0]


def _emit_lines(backend: Backend, task: SandboxTask, upto: float) -> None:
    """The command's lines due by `upto` (and not after it died)."""
    if task.run_started is None:
        return
    end = min(x for x in (task.exit_at, task.kill_at, float("inf")) if x is not None)
    while task.line_index < len(task.plan.lines):
        offset, level, message, fields = task.plan.lines[task.line_index]
        at = task.run_started + offset
        if at > upto or at > end:
            break
        task.line_index += 1
        backend.write_log(task, at, [tasklogs.line(at, level, message, **fields)])


def _end(backend: Backend, task: SandboxTask, t: float, exit_code: int | None,
         stop_code: str, reason: str) -> None:
    """The task's containers have stopped (exit_code: the main container's, None: leave them
    as they are); it deprovisions, then is STOPPED."""
    task.desired_status = STOPPED
    task.stop_code = task.stop_code or stop_code
    task.stopped_reason = task.stopped_reason or reason
    task.stopping_at = task.stopping_at or _dt(t)
    task.execution_stopped_at = _dt(t)
    for c in task._containers:
        if c["lastStatus"] != STOPPED:
            if task.run_started is not None and exit_code is not None:
                c["exitCode"] = exit_code if c["name"] == task.main_container else 0
            c["lastStatus"] = STOPPED
    task.exit_at = task.kill_at = task.stop_requested = None
    task.last_status = DEPROVISIONING
    task.version += 1
    task.stop_at = t + config.get(backend.account_id)["task_stop_seconds"]
    if task.stop_at <= t:
        _finish(backend, task, t)


def _finish(backend: Backend, task: SandboxTask, t: float) -> None:
    task.last_status = STOPPED
    task.stop_at = None
    task.stopped_at = _dt(t)
    task.version += 1
    backend.release_network(task)


def _apply(backend: Backend, task: SandboxTask, t: float) -> None:
    if task.last_status == PROVISIONING and task.pending_at <= t:
        task.last_status = PENDING
        task.pull_started_at = _dt(task.pending_at)
        task.version += 1
        for att in task.attachments:
            att["status"] = "ATTACHED"
    if task.last_status == PENDING and task.ready_at <= t:
        if task.failure:
            fail_containers(backend, task, t)
            _end(backend, task, t, None, task.stop_code, task.stopped_reason)
            return
        start_containers(backend, task, t)
        task.run_started = t
        task.exit_at = t + task.plan.seconds
    if task.last_status in (RUNNING, STOPPING):
        if task.last_status == RUNNING and task.stop_requested is not None \
                and task.stop_requested <= t:
            task.last_status = STOPPING
            task.version += 1
        _emit_lines(backend, task, t)
        if task.kill_at is not None and task.kill_at <= t \
                and (task.exit_at is None or task.kill_at < task.exit_at):
            _end(backend, task, t, task.kill_code, "UserInitiated", USER_STOPPED)
        elif task.exit_at is not None and task.exit_at <= t:
            _end(backend, task, t, task.plan.exit_code, "EssentialContainerExited", ESSENTIAL_EXITED)
    if task.last_status == DEPROVISIONING and task.stop_at is not None and task.stop_at <= t:
        _finish(backend, task, t)


def advance(backend: Backend, now: float) -> None:
    """Replays the one-off tasks' transitions due by `now`, in time order."""
    rs: RunState = backend.runs
    last, same = None, 0
    for _ in range(100_000):
        due = [(x, tk) for tk in rs.tasks if (x := _due(tk)) is not None and x <= now]
        if not due:
            break
        t = min(x for x, _ in due)
        same = same + 1 if t == last else 0
        if same > 100:  # a transition that does not happen: leave it for a later request
            break
        last = t
        for x, tk in due:
            if x == t:
                _apply(backend, tk, t)
    stopped = [tk for tk in rs.tasks if tk.last_status == STOPPED]
    if len(stopped) > MAX_STOPPED_TASKS:
        drop = {id(tk) for tk in stopped[: len(stopped) - MAX_STOPPED_TASKS]}
        backend.forget_tasks(None, [tk for tk in rs.tasks if id(tk) in drop])
        rs.tasks = [tk for tk in rs.tasks if id(tk) not in drop]


def stop(backend: Backend, task: SandboxTask, reason: str | None, t: float) -> None:
    """StopTask: a task not started yet stops at once; a running one gets SIGTERM (its
    command exits 143), or, when it ignores SIGTERM, SIGKILL after `stop_timeout_seconds`
    (137). The answer still shows it RUNNING, desiredStatus STOPPED, as ECS's does."""
    if task.desired_status == STOPPED or task.last_status not in ALIVE:
        return
    task.desired_status = STOPPED
    task.stop_code = "UserInitiated"
    task.stopped_reason = reason or USER_STOPPED
    task.stopping_at = _dt(t)
    task.version += 1
    if task.last_status in (PROVISIONING, PENDING):
        _end(backend, task, t, None, "UserInitiated", task.stopped_reason)
        return
    _emit_lines(backend, task, t)
    task.stop_requested = t
    if task.plan.ignores_sigterm:
        backend.write_log(task, t, [tasklogs.ignoring_sigterm(t)])
        task.kill_at = t + config.get(backend.account_id)["stop_timeout_seconds"]
        task.kill_code = SIGKILL_EXIT
    else:
        backend.write_log(task, t, [tasklogs.sigterm(t)])
        task.kill_at = t
        task.kill_code = SIGTERM_EXIT
