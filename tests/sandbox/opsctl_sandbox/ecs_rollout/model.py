"""The ECS deployment model: deployments, service state, the tasks' lifecycle (start, run,
fail, stop, drain), the circuit breaker's rule, pacing, service events and target health.

Pure Python: nothing of moto is imported. The model reads and writes the attributes of the
objects it is handed (moto's services and task definitions, and its tasks,
`moto_patch.SandboxTask`), and reaches the rest of the emulator through a `Backend`.
"""

from __future__ import annotations

import math
import random
import re
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from .. import config
from . import tasklogs

if TYPE_CHECKING:  # for annotations only
    from .moto_patch import SandboxTask

MAX_EVENTS = 100
MAX_STOPPED_TASKS_PER_SERVICE = 50

PENDING, RUNNING, DEACTIVATING, STOPPED = "PENDING", "RUNNING", "DEACTIVATING", "STOPPED"

# Why a task fails to start, worded as ECS words it (the task's stoppedReason).
PULL_FAILURE = ("CannotPullContainerError: pull image manifest has been retried 7 time(s): "
                "failed to resolve ref {image}: not found")
LOGS_FAILURE = ("ResourceInitializationError: failed to validate logger args: create stream has "
                "been retried 1 times: failed to create Cloudwatch log stream: "
                "ResourceNotFoundException: The specified log group does not exist. : exit status 1")
# Request lines a running task logs are made up to the present, at most this far back.
MAX_LOG_CATCH_UP_SECONDS = 900.0

# What CreateService fills a service's deploymentConfiguration in from, as ECS does.
DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc)


def _deployment_id() -> str:
    return f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"


def breaker_threshold(desired: int) -> int:
    """Failed tasks that trip the deployment circuit breaker (as documented by ECS)."""
    return min(200, max(3, math.ceil(desired * 0.5)))


def image_tag(image: str) -> str:
    """The tag of an image reference; '' for a digest reference, 'latest' when absent."""
    if "@" in image:
        return ""
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


# ---------------------------------------------------------------------------------------------
# Model objects


class Deployment:
    def __init__(self, service: Any, task_definition_arn: str, desired: int, t: float):
        self.id = _deployment_id()
        self.status = "PRIMARY"
        self.task_definition = task_definition_arn
        self.desired_count = desired
        self.created_at = t
        self.updated_at = t
        self.rollout_state = "IN_PROGRESS"
        self.rollout_state_reason = f"ECS deployment {self.id} in progress."
        self.failed_tasks = 0
        self.launch_type = service.launch_type
        self.platform_version = service.platform_version
        if service.launch_type == "FARGATE" and self.platform_version in (None, "LATEST"):
            self.platform_version = "1.4.0"  # what ECS resolves LATEST to for Linux
        self.network_configuration = service.network_configuration or None
        self.rollback_at: float | None = None
        # the service revision this deployment deploys (service deployments name it)
        self.revision_arn = (
            f"arn:aws:ecs:{service.region_name}:{service._account_id}:service-revision/"
            f"{service.cluster_name}/{service.name}/{random.randint(10**18, 10**19 - 1)}"
        )
        # the service's target group ARN -> the one this deployment's tasks register in
        # (blue/green: the alternate target group); absent keys register as named
        self.tg_map: dict[str, str] = {}
        self.rolled_back_to: str | None = None  # the circuit breaker's rollback deployment

    def to_dict(self, tasks: list["SandboxTask"]) -> dict[str, Any]:
        mine = [tk for tk in tasks if tk.deployment_id == self.id]
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": self.desired_count,
            "pendingCount": sum(1 for tk in mine if tk.last_status == PENDING),
            "runningCount": sum(1 for tk in mine if tk.last_status == RUNNING),
            "failedTasks": self.failed_tasks,
            "createdAt": _dt(self.created_at),
            "updatedAt": _dt(self.updated_at),
            "launchType": self.launch_type,
            "rolloutState": self.rollout_state,
            "rolloutStateReason": self.rollout_state_reason,
        }
        if self.launch_type == "FARGATE":
            out["platformVersion"] = self.platform_version
            out["platformFamily"] = "Linux"
        if self.network_configuration:
            out["networkConfiguration"] = self.network_configuration
        return out


class ServiceState:
    """The rollout model of one ECS service, kept on the moto service as `_sandbox`."""

    def __init__(self) -> None:
        self.deployments: list[Deployment] = []  # [0] is PRIMARY
        self.tasks: list[SandboxTask] = []  # alive tasks and the most recent stopped ones
        self.last_completed: tuple[str, str] | None = None  # (deployment id, task def ARN)
        self.steady = False
        self.deleting = False
        self.subnet_turn = 0
        self.bulk_ready_at: float | None = None  # fast-forward: tasks started now are ready now
        # service deployments (native.ServiceDeployment), newest first; `native` is the one in
        # progress that drives the tasks itself (BLUE_GREEN, LINEAR, CANARY), else None
        self.service_deployments: list[Any] = []
        self.native: Any = None
        # the service's target group ARN -> the one taking production traffic now (it is the
        # alternate one after an odd number of successful blue/green deployments)
        self.live_tg: dict[str, str] = {}
        # a deployment the circuit breaker rolled back -> the deployment that rolled it back
        self.rolled_back: dict[str, str] = {}

    def alive(self, dep: Deployment | None = None) -> list["SandboxTask"]:
        return [
            tk
            for tk in self.tasks
            if tk.last_status in (PENDING, RUNNING) and (dep is None or tk.deployment_id == dep.id)
        ]

    def draining(self) -> list["SandboxTask"]:
        return [tk for tk in self.tasks if tk.last_status == DEACTIVATING]


# ---------------------------------------------------------------------------------------------
# The backend the model runs in


class Backend(Protocol):
    """What the model needs of the ECS backend of an account and region (moto_patch.MotoBackend)."""

    @property
    def account_id(self) -> str: ...

    @property
    def services(self) -> dict[str, Any]: ...  # "cluster:name" -> service; ours carry `_sandbox`

    def describe_task_definition(self, task_definition_str: str) -> Any: ...

    def new_task(self, service: Any, deployment: Deployment, task_definition: Any, t: float,
                 ready_at: float, failure: str | None) -> SandboxTask: ...

    def add_task(self, service: Any, task: SandboxTask) -> None: ...

    def forget_tasks(self, service: Any, tasks: list[SandboxTask]) -> None: ...

    def attach_network(self, service: Any, st: ServiceState, task: SandboxTask) -> None: ...

    def release_network(self, task: SandboxTask) -> None: ...

    def register_targets(self, service: Any, task: SandboxTask, step: _Step) -> None: ...

    def deregister_targets(self, task: SandboxTask) -> None: ...

    # images and logs (logs_patch.py): why an image cannot be pulled (None: it can), a log
    # group a task's awslogs containers need that does not exist, and the log streams
    def missing_image(self, image: str) -> str | None: ...

    def missing_log_group(self, task: SandboxTask) -> str | None: ...

    def open_logs(self, task: SandboxTask, t: float) -> None: ...

    def write_log(self, task: SandboxTask, t: float, messages: list[str]) -> None: ...

    # one-off tasks (runs.py): their state, kept per account and region
    @property
    def runs(self) -> Any: ...

    # native deployments (native.py): listener rules, alarms
    def forward_weights(self, rule_arn: str) -> dict[str, int] | None: ...

    def set_forward_weights(self, rule_arn: str, weights: dict[str, int], t: float) -> None: ...

    def alarm_states(self, names: list[str]) -> dict[str, tuple[str, float]]: ...


# ---------------------------------------------------------------------------------------------
# The engine


class _Step:
    """Events produced by one step, emitted together with the step's time."""

    def __init__(self, service: Any, t: float):
        self.service = service
        self.t = t
        self.messages: list[str] = []  # after the task events
        self.first: list[str] = []  # before them
        self.started: list[SandboxTask] = []
        self.stopped: list[SandboxTask] = []
        self.registered: dict[str, int] = {}
        self.deregistered: dict[str, int] = {}
        self.draining = 0

    def flush(self) -> None:
        name = self.service.name
        msgs: list[str] = list(self.first)
        if self.draining:
            msgs.append(f"(service {name}) has begun draining connections on {self.draining} tasks.")
        for tg, n in self.deregistered.items():
            msgs.append(f"(service {name}) deregistered {n} targets in (target-group {tg})")
        if self.stopped:
            ids = " ".join(f"(task {tk.id})" for tk in self.stopped)
            msgs.append(f"(service {name}) has stopped {len(self.stopped)} running tasks: {ids}.")
        if self.started:
            ids = " ".join(f"(task {tk.id})" for tk in self.started)
            msgs.append(f"(service {name}) has started {len(self.started)} tasks: {ids}.")
        for tg, n in self.registered.items():
            msgs.append(f"(service {name}) registered {n} targets in (target-group {tg})")
        msgs.extend(self.messages)
        for msg in msgs:
            self.service.events.insert(
                0, {"id": str(uuid.uuid4()), "createdAt": _dt(self.t), "message": msg}
            )
        del self.service.events[MAX_EVENTS:]
        self.messages, self.first, self.started, self.stopped = [], [], [], []
        self.registered, self.deregistered, self.draining = {}, {}, 0


def _percent(service: Any, key: str, default: int) -> int:
    dc = getattr(service, "deployment_configuration", None) or {}
    value = dc.get(key)
    return int(value) if value is not None else default


def _breaker(service: Any) -> tuple[bool, bool]:
    dc = getattr(service, "deployment_configuration", None) or {}
    cb = dc.get("deploymentCircuitBreaker") or {}
    return bool(cb.get("enable")), bool(cb.get("rollback"))


def _count_deregistered(task: SandboxTask, step: _Step) -> None:
    for tg_arn, _ip, _port in task.targets:
        step.deregistered[tg_arn] = step.deregistered.get(tg_arn, 0) + 1


def diagnose(backend: Backend, task_definition: Any, task: SandboxTask) -> None:
    """Decides, as the task is launched, whether it will fail to start or crash, as ECS would
    find out in this order: an image that cannot be pulled (missing from ECR, or a failing
    tag with failure_mode `pull`), a log group that is missing (awslogs without
    `awslogs-create-group`), then a failing tag's crash (failure_mode `exit`). Sets the task's
    `failure` ("pull", "logs", "exit" or None), `failure_container` and `failure_reason`."""
    cfg = config.get(backend.account_id)
    pattern = cfg["failure_pattern"]
    failing = None
    for cdef in task_definition.container_definitions:
        image = cdef.get("image") or ""
        reason = backend.missing_image(image)
        if reason:
            task.failure, task.failure_container, task.failure_reason = "pull", cdef.get("name"), reason
            return
        if failing is None and pattern and cdef.get("essential", True) \
                and re.search(pattern, image_tag(image)):
            failing = cdef
    if failing is not None and cfg["failure_mode"] == "pull":
        task.failure, task.failure_container = "pull", failing.get("name")
        task.failure_reason = PULL_FAILURE.format(image=failing.get("image"))
        return
    group = backend.missing_log_group(task)
    if group is not None:
        task.failure, task.failure_container, task.failure_reason = "logs", None, LOGS_FAILURE
        return
    if failing is not None:
        task.failure, task.failure_container, task.failure_reason = "exit", failing.get("name"), None


def _start_task(backend: Backend, service: Any, st: ServiceState,
                dep: Deployment, step: _Step) -> None:
    t = step.t
    td = backend.describe_task_definition(dep.task_definition)
    cfg = config.get(backend.account_id)
    ready_at = t + cfg["task_start_seconds"]
    if st.bulk_ready_at is not None:
        ready_at = st.bulk_ready_at
    task = backend.new_task(service, dep, td, t, ready_at, None)
    diagnose(backend, td, task)
    task.tg_map = dict(dep.tg_map)
    backend.attach_network(service, st, task)
    backend.add_task(service, task)
    st.tasks.append(task)
    backend.register_targets(service, task, step)
    step.started.append(task)
    dep.updated_at = t
    st.steady = False


def _finish_stop(backend: Backend, st: ServiceState, task: SandboxTask,
                 t: float) -> None:
    if task.started_at is not None:
        backend.write_log(task, t, [tasklogs.stopped(t)])
    task.last_status = STOPPED
    task.desired_status = STOPPED
    task.version += 1
    task.stop_at = None
    task.execution_stopped_at = _dt(t)
    task.stopped_at = _dt(t)
    for c in task._containers:
        if c["lastStatus"] != STOPPED:
            c["lastStatus"] = STOPPED
            if task.started_at is not None and "exitCode" not in c:
                c["exitCode"] = 0
    backend.deregister_targets(task)
    backend.release_network(task)
    st.steady = False


def _stop_task(backend: Backend, st: ServiceState, task: SandboxTask,
               reason: str, step: _Step, stop_code: str = "ServiceSchedulerInitiated") -> None:
    """Begins stopping a task: a running one drains first, a pending one stops at once."""
    t = step.t
    task.desired_status = STOPPED
    task.stop_code = stop_code
    task.stopped_reason = reason
    task.stopping_at = _dt(t)
    task.version += 1
    was_running = task.last_status == RUNNING
    step.stopped.append(task)
    dep = _find_deployment(st, task.deployment_id)
    if dep is not None:
        dep.updated_at = t
    st.steady = False
    drain = config.get(backend.account_id)["task_stop_seconds"]
    if was_running:
        flush_requests(backend, task, t)
        task.log_cursor = None
        backend.write_log(task, t, [tasklogs.sigterm(t)])
    if was_running and task.targets:
        step.draining += 1
    _count_deregistered(task, step)
    if was_running and drain > 0:
        task.last_status = DEACTIVATING
        task.stop_at = t + drain
        return
    _finish_stop(backend, st, task, t)


def fail_containers(backend: Backend, task: SandboxTask, t: float) -> None:
    """A failing task's end at its start: TaskFailedToStart (the image, the log group), or a
    crash (the container starts, logs its error and exits 1)."""
    for c in task._containers:
        if c["name"] == task.failure_container:
            if task.failure == "pull":
                c["reason"] = task.failure_reason
            elif task.failure == "exit":
                c["exitCode"] = 1
        elif task.failure == "exit":
            c["exitCode"] = 0
        c["lastStatus"] = STOPPED
    if task.failure in ("pull", "logs"):
        task.stop_code = task.stop_code or "TaskFailedToStart"
        task.stopped_reason = task.stopped_reason or task.failure_reason
    else:
        task.stop_code = task.stop_code or "EssentialContainerExited"
        task.stopped_reason = task.stopped_reason or "Essential container in task exited"
        task.started_at = None
        backend.open_logs(task, t)
        backend.write_log(task, t, tasklogs.crash(t, task.log_context))
    task.stopping_at = task.stopping_at or _dt(t)


def _fail_task(backend: Backend, service: Any, st: ServiceState,
               task: SandboxTask, step: _Step) -> None:
    t = step.t
    fail_containers(backend, task, t)
    step.stopped.append(task)
    _count_deregistered(task, step)
    _finish_stop(backend, st, task, t)
    dep = _find_deployment(st, task.deployment_id)
    if dep is None:
        return
    dep.failed_tasks += 1
    dep.updated_at = t
    enabled, rollback = _breaker(service)
    if (
        enabled
        and dep is st.deployments[0]
        and dep.rollout_state == "IN_PROGRESS"
        and dep.failed_tasks >= breaker_threshold(service.desired_count)
    ):
        dep.rollout_state = "FAILED"
        dep.rollout_state_reason = "ECS deployment circuit breaker: tasks failed to start."
        step.messages.append(
            f"(service {service.name}) (deployment {dep.id}) deployment failed: tasks failed to start."
        )
        if rollback and st.last_completed is not None and st.native is None:
            dep.rollback_at = t + config.get(backend.account_id)["rollback_delay_seconds"]


def start_containers(backend: Backend, task: SandboxTask, t: float) -> None:
    """A task's containers start: RUNNING, with their log streams open."""
    task.last_status = RUNNING
    task.version += 1
    task.pull_started_at = task.pull_started_at or task.created_at
    task.pull_stopped_at = _dt(t)
    task.started_at = _dt(t)
    task.connectivity = "CONNECTED"
    task.connectivity_at = task.connectivity_at or task.created_at
    for c in task._containers:
        c["lastStatus"] = RUNNING
        c["runtimeId"] = tasklogs.runtime_id(task.id, c["name"])
        if c["has_health_check"]:
            c["healthStatus"] = "HEALTHY"
    task.health_status = "HEALTHY" if any(c["has_health_check"] for c in task._containers) else "UNKNOWN"
    backend.open_logs(task, t)


def flush_requests(backend: Backend, task: SandboxTask, upto: float) -> None:
    """The request lines a running service task logged up to `upto`, one every
    `log_request_seconds` after its last one (at most MAX_LOG_CATCH_UP_SECONDS back)."""
    if task.log_cursor is None:
        return
    every = config.get(backend.account_id)["log_request_seconds"]
    if every <= 0:
        task.log_cursor = upto
        return
    if upto - task.log_cursor > MAX_LOG_CATCH_UP_SECONDS:
        skipped = math.floor((upto - task.log_cursor - MAX_LOG_CATCH_UP_SECONDS) / every)
        task.log_cursor += skipped * every
    while task.log_cursor + every <= upto:
        task.log_cursor += every
        backend.write_log(task, task.log_cursor, [tasklogs.request(task.log_cursor)])


def _run_task(backend: Backend, st: ServiceState, task: SandboxTask,
              t: float) -> None:
    start_containers(backend, task, t)
    backend.write_log(task, t, tasklogs.service_start(t, task.log_context))
    task.log_cursor = t
    dep = _find_deployment(st, task.deployment_id)
    if dep is not None:
        dep.updated_at = t
    st.steady = False


def _find_deployment(st: ServiceState, dep_id: str) -> Deployment | None:
    return next((d for d in st.deployments if d.id == dep_id), None)


def _new_deployment(service: Any, st: ServiceState, td_arn: str, t: float) -> Deployment:
    dep = Deployment(service, td_arn, service.desired_count, t)
    dep.tg_map = {k: v for k, v in st.live_tg.items() if k != v}
    for old in st.deployments:
        old.status = "ACTIVE"
        old.rollback_at = None
    st.deployments.insert(0, dep)
    service.task_definition = td_arn
    st.steady = False
    return dep


def _rollback(service: Any, st: ServiceState, failed: Deployment, step: _Step) -> None:
    assert st.last_completed is not None
    target_id, target_td = st.last_completed
    failed.rollback_at = None
    failed.rolled_back_to = _new_deployment(service, st, target_td, step.t).id
    st.rolled_back[failed.id] = failed.rolled_back_to
    step.first.append(f"(service {service.name}) rolling back to deployment {target_id}.")


def _reconcile(backend: Backend, service: Any, st: ServiceState,
               step: _Step) -> None:
    if not st.deployments:
        return
    t = step.t
    desired = 0 if st.deleting else int(service.desired_count or 0)
    primary = st.deployments[0]
    olds = st.deployments[1:]
    if primary.desired_count != desired:
        primary.desired_count = desired
        primary.updated_at = t
        st.steady = False

    # 1. scale-in of the primary deployment: pending tasks first, then the newest running
    mine = st.alive(primary)
    if len(mine) > desired:
        extra = sorted(mine, key=lambda tk: (tk.last_status != PENDING, -tk.created_at.timestamp()))
        for tk in extra[: len(mine) - desired]:
            _stop_task(backend, st, tk, f"Scaling activity initiated by (deployment {primary.id})", step)

    # 2. older deployments: their pending tasks go at once
    for dep in olds:
        for tk in st.alive(dep):
            if tk.last_status == PENDING:
                _stop_task(backend, st, tk, f"Scaling activity initiated by (deployment {dep.id})", step)

    # 3. their running tasks go as long as enough healthy (RUNNING) tasks are left
    min_healthy = math.ceil(desired * _percent(service, "minimumHealthyPercent", 100) / 100)
    healthy = sum(1 for tk in st.alive() if tk.last_status == RUNNING)
    can_stop = healthy - min_healthy
    for dep in reversed(olds):  # oldest first
        for tk in st.alive(dep):
            if can_stop <= 0:
                break
            _stop_task(backend, st, tk, f"Scaling activity initiated by (deployment {dep.id})", step)
            can_stop -= 1

    # 4. the primary deployment starts tasks within the maximumPercent headroom
    if primary.rollout_state != "FAILED" and not st.deleting:
        need = desired - len(st.alive(primary))
        if need > 0:
            max_total = math.floor(desired * _percent(service, "maximumPercent", 200) / 100)
            others = len(st.alive()) - len(st.alive(primary))
            headroom = max_total - len(st.alive())
            n = min(need, headroom) if others else need
            for _ in range(max(0, n)):
                _start_task(backend, service, st, primary, step)

    # 5. older deployments shrink; they disappear once their tasks are gone
    for dep in olds:
        left = len(st.alive(dep))
        if dep.desired_count != left:
            dep.desired_count = left
            dep.updated_at = t
        if left == 0 and not any(tk.deployment_id == dep.id for tk in st.draining()) \
                and dep.rollback_at is None:
            dep.status = "INACTIVE"
    st.deployments = [d for d in st.deployments if d.status != "INACTIVE"]

    # 6. completion and steady state
    settled = (
        len(st.deployments) == 1
        and not st.draining()
        and all(tk.last_status == RUNNING for tk in st.alive(primary))
        and len(st.alive(primary)) == desired
    )
    if settled and primary.rollout_state == "IN_PROGRESS":
        primary.rollout_state = "COMPLETED"
        primary.rollout_state_reason = f"ECS deployment {primary.id} completed."
        primary.updated_at = t
        st.last_completed = (primary.id, primary.task_definition)
        step.messages.append(f"(service {service.name}) (deployment {primary.id}) deployment completed.")
    if settled and primary.rollout_state == "COMPLETED" and not st.steady:
        st.steady = True
        if not st.deleting:
            step.messages.append(f"(service {service.name}) has reached a steady state.")
    if st.deleting and not st.alive() and not st.draining():
        service.status = "INACTIVE"


def _prune(backend: Backend, service: Any, st: ServiceState) -> None:
    stopped = [tk for tk in st.tasks if tk.last_status == STOPPED]
    if len(stopped) <= MAX_STOPPED_TASKS_PER_SERVICE:
        return
    drop = stopped[: len(stopped) - MAX_STOPPED_TASKS_PER_SERVICE]
    dropped = {id(tk) for tk in drop}
    st.tasks = [tk for tk in st.tasks if id(tk) not in dropped]
    backend.forget_tasks(service, drop)


def _publish(service: Any, st: ServiceState) -> None:
    service.deployments = [d.to_dict(st.tasks) for d in st.deployments]
    service.running_count = sum(1 for tk in st.alive() if tk.last_status == RUNNING)
    service.pending_count = sum(1 for tk in st.alive() if tk.last_status == PENDING)
    if st.deployments:
        service.task_definition = st.deployments[0].task_definition


# ---------------------------------------------------------------------------------------------
# Target health


def target_health(task: SandboxTask) -> tuple[str, str | None, str | None]:
    """A task's (state, reason, description) in DescribeTargetHealth."""
    if task.last_status == PENDING:
        if task.failure:
            return ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
        return ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
    if task.last_status == RUNNING:
        return ("healthy", None, None)
    if task.last_status == DEACTIVATING:
        return ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
    return ("unused", "Target.NotRegistered", "Target is not registered to the target group")


def targets_for_group(ecs_backend: Backend, tg_arn: str) -> dict[str, SandboxTask]:
    out: dict[str, SandboxTask] = {}
    for service in ecs_backend.services.values():
        st = getattr(service, "_sandbox", None)
        if st is None:
            continue
        for tk in st.tasks:
            for arn, ip, _port in tk.targets:
                if arn == tg_arn:
                    out[ip] = tk
    return out
