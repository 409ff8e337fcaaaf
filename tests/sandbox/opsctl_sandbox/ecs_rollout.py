"""ECS rollout behaviour for moto, applied at runtime (moto's files are not changed).

moto keeps one deployment per service forever and starts no tasks. This module gives every
ECS service created through the API a small deployment model, modelled on real ECS:

* a service has deployments; the newest is PRIMARY, older ones are ACTIVE until their tasks
  are gone; a PRIMARY deployment with running == desired and nothing else left is COMPLETED;
* tasks are real moto task objects (`SandboxTask`) with their own lifecycle:
  PENDING -> RUNNING after `task_start_seconds`; a task whose essential container image tag
  matches `failure_pattern` goes PENDING -> STOPPED instead; a running task that is stopped
  drains (lastStatus DEACTIVATING, target `draining`) for `task_stop_seconds`, then STOPPED;
* pacing honours the deployment configuration in a simple way: the primary deployment starts
  as many tasks as `maximumPercent` leaves room for (running + pending of all deployments
  <= desired * maximumPercent / 100), and tasks of older deployments are stopped as long as
  the RUNNING tasks left stay >= desired * minimumHealthyPercent / 100;
* the deployment circuit breaker: once a deployment has `min(200, max(3, ceil(desired/2)))`
  failed tasks it turns FAILED (no more tasks are launched for it) and, when its rollback is
  on, after `rollback_delay_seconds` a new PRIMARY deployment goes back to the task
  definition of the last COMPLETED deployment;
* tasks are registered as targets (private IP, container port) of the service's target
  groups; ELBv2 DescribeTargetHealth reports them initial / healthy / unhealthy / draining.

Nothing runs in the background: every ECS (and target-health) request first advances the
account's model to the current wall-clock time, replaying the due transitions in time order
(each step stamped with its own simulated time), under one lock held for the whole request.
"""

from __future__ import annotations

import ipaddress
import math
import random
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from botocore import xform_name
from moto.ec2.models import ec2_backends
from moto.ecs import models as ecs_models
from moto.ecs.exceptions import (
    ECSException,
    InvalidParameterException,
    TaskDefinitionNotFoundException,
)
from moto.ecs.models import EC2ContainerServiceBackend, Task, ecs_backends
from moto.core.responses import ActionResult
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.elbv2.models import ELBv2Backend, elbv2_backends

from . import config

# One lock for the whole sandbox state. The server holds it for the duration of every AWS
# request, so a response never shows a half-applied step; direct callers take it too.
LOCK = threading.RLock()

_CTX = threading.local()

MAX_EVENTS = 100
MAX_STOPPED_TASKS_PER_SERVICE = 50
FIRST_HOST = 10  # first host number handed out in a subnet

PENDING, RUNNING, DEACTIVATING, STOPPED = "PENDING", "RUNNING", "DEACTIVATING", "STOPPED"

# Target group ARN -> forced target state ("healthy" / "unhealthy"); see force_target_health.
_FORCED_HEALTH: dict[str, str] = {}


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


class ServiceNotActiveException(ECSException):
    def __init__(self) -> None:
        super().__init__("ServiceNotActiveException", "Service was not ACTIVE.")


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

    def alive(self, dep: Deployment | None = None) -> list["SandboxTask"]:
        return [
            tk
            for tk in self.tasks
            if tk.last_status in (PENDING, RUNNING) and (dep is None or tk.deployment_id == dep.id)
        ]

    def draining(self) -> list["SandboxTask"]:
        return [tk for tk in self.tasks if tk.last_status == DEACTIVATING]


class SandboxTask(Task):
    """A task of a service, with its own lifecycle (moto's Task starts out RUNNING)."""

    def __init__(
        self,
        backend: EC2ContainerServiceBackend,
        service: Any,
        deployment: Deployment,
        task_definition: Any,
        t: float,
        ready_at: float,
        failure: str | None,
    ):
        # moto's Task.__init__ is not called: it creates an ENI with an address outside the
        # subnet and starts the task RUNNING. The attributes moto reads are set here.
        cluster = backend.clusters[service.cluster_name]
        self.id = uuid.uuid4().hex
        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.region_name = cluster.region_name
        self._account_id = backend.account_id
        self._backend = backend
        self.container_instance_arn = None
        self.task_definition_arn = task_definition.arn
        self.overrides: dict[str, Any] = {}
        self.started_by = deployment.id
        self.group = f"service:{service.name}"
        self.tags = list(service.tags or []) if service.propagate_tags == "SERVICE" else []
        self.launch_type = service.launch_type
        self.capacity_provider_name = None
        self.platform_version = deployment.platform_version
        self.platform_family = "Linux" if service.launch_type == "FARGATE" else None
        self.resource_requirements = None
        self.cpu = task_definition.cpu
        self.memory = task_definition.memory
        self.version = 1
        self._last_status = PENDING
        self.desired_status = RUNNING
        self.health_status = "UNKNOWN"
        self.stop_code: str | None = None
        self.stopped_reason: str | None = None
        self.created_at = _dt(t)
        self.pull_started_at: datetime | None = None
        self.pull_stopped_at: datetime | None = None
        self.started_at: datetime | None = None
        self.connectivity: str | None = None
        self.connectivity_at: datetime | None = None
        self.stopping_at: datetime | None = None
        self.execution_stopped_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self.availability_zone: str | None = None
        self.attachments: list[dict[str, Any]] = []
        # sandbox bookkeeping
        self.service_name = service.name
        self.deployment_id = deployment.id
        self.ready_at = ready_at
        self.stop_at: float | None = None
        self.failure = failure  # None, "exit" or "pull"
        self.ip: str | None = None
        self.subnet_id: str | None = None
        self.eni_id: str | None = None
        self.targets: list[tuple[str, str, int]] = []  # (target group ARN, ip, port)
        region, account = self.region_name, self._account_id
        self._containers: list[dict[str, Any]] = []
        for cdef in task_definition.container_definitions:
            self._containers.append(
                {
                    "containerArn": f"arn:aws:ecs:{region}:{account}:container/"
                    f"{cluster.name}/{self.id}/{uuid.uuid4()}",
                    "taskArn": self.task_arn,
                    "name": cdef.get("name"),
                    "image": cdef.get("image"),
                    "lastStatus": PENDING,
                    "networkInterfaces": [],
                    "healthStatus": "UNKNOWN",
                    "cpu": str(cdef.get("cpu", 0)),
                    "essential": cdef.get("essential", True),
                    "has_health_check": bool(cdef.get("healthCheck")),
                }
            )

    # moto's Task keeps its status in ManagedState; this one is driven by the model only.
    @property
    def status(self) -> str:  # type: ignore[override]
        return self._last_status

    @status.setter
    def status(self, value: str) -> None:
        self._last_status = value

    @property
    def last_status(self) -> str:  # type: ignore[override]
        return self._last_status

    @last_status.setter
    def last_status(self, value: str) -> None:
        self._last_status = value

    def advance(self) -> None:  # moto calls this on DescribeTasks
        pass

    @property
    def containers(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The containers as DescribeTasks shows them (the model's own keys left out)."""
        return [
            {k: v for k, v in c.items() if k not in ("essential", "has_health_check")}
            for c in self._containers
        ]

    def target_health(self) -> tuple[str, str | None, str | None]:
        if self.last_status == PENDING:
            if self.failure:
                return ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
            return ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
        if self.last_status == RUNNING:
            return ("healthy", None, None)
        if self.last_status == DEACTIVATING:
            return ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
        return ("unused", "Target.NotRegistered", "Target is not registered to the target group")


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


def _ip_pool(backend: EC2ContainerServiceBackend) -> dict[str, set[str]]:
    pool = getattr(backend, "_sandbox_ips", None)
    if pool is None:
        pool = {}
        backend._sandbox_ips = pool  # type: ignore[attr-defined]
    return pool


def _attach_network(backend: EC2ContainerServiceBackend, service: Any, st: ServiceState,
                    task: SandboxTask) -> None:
    awsvpc = (service.network_configuration or {}).get("awsvpcConfiguration") or {}
    subnets = awsvpc.get("subnets") or []
    if not subnets:
        return
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    subnet_id = subnets[st.subnet_turn % len(subnets)]
    st.subnet_turn += 1
    subnet = ec2.get_subnet(subnet_id)
    net = ipaddress.ip_network(subnet.cidr_block, strict=False)
    used = _ip_pool(backend).setdefault(subnet_id, set())
    ip = None
    hosts = net.num_addresses - 2
    for n in range(FIRST_HOST, hosts):
        candidate = str(net.network_address + n)
        if candidate not in used:
            ip = candidate
            break
    if ip is None:  # subnet exhausted; fall back to a duplicate-free random pick
        ip = str(net.network_address + random.randint(1, max(1, hosts)))
    used.add(ip)
    attachment_id = str(uuid.uuid4())
    eni = ec2.create_network_interface(
        subnet=subnet_id,
        private_ip_address=ip,
        group_ids=awsvpc.get("securityGroups") or [],
        description=f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:attachment/{attachment_id}",
    )
    eni.status = "in-use"
    eni.device_index = 1
    task.ip, task.subnet_id, task.eni_id = ip, subnet_id, eni.id
    task.availability_zone = subnet.availability_zone
    task.attachments = [
        {
            "id": attachment_id,
            "type": "ElasticNetworkInterface",
            "status": "ATTACHED",
            "details": [
                {"name": "subnetId", "value": subnet_id},
                {"name": "networkInterfaceId", "value": eni.id},
                {"name": "macAddress", "value": eni.mac_address},
                {"name": "privateDnsName",
                 "value": getattr(eni, "private_dns_name", None)
                 or f"ip-{ip.replace('.', '-')}.ec2.internal"},
                {"name": "privateIPv4Address", "value": ip},
            ],
        }
    ]
    for c in task._containers:
        c["networkInterfaces"] = [{"attachmentId": attachment_id, "privateIpv4Address": ip}]


def _release_network(backend: EC2ContainerServiceBackend, task: SandboxTask) -> None:
    if task.eni_id:
        ec2 = ec2_backends[backend.account_id][backend.region_name]
        try:
            ec2.delete_network_interface(task.eni_id)
        except Exception:
            pass
        task.eni_id = None
        for att in task.attachments:
            att["status"] = "DELETED"
    if task.ip and task.subnet_id:
        _ip_pool(backend).get(task.subnet_id, set()).discard(task.ip)


def _register_targets(backend: EC2ContainerServiceBackend, service: Any, task: SandboxTask,
                      step: _Step) -> None:
    if not task.ip:
        return
    elbv2 = elbv2_backends[backend.account_id][backend.region_name]
    for lb in service.load_balancers or []:
        tg_arn = lb.get("targetGroupArn")
        tg = elbv2.target_groups.get(tg_arn) if tg_arn else None
        if tg is None:
            continue
        port = int(lb.get("containerPort") or tg.port or 80)
        tg.register([{"Id": task.ip, "Port": port}])
        task.targets.append((tg_arn, task.ip, port))
        step.registered[tg_arn] = step.registered.get(tg_arn, 0) + 1


def _deregister_targets(backend: EC2ContainerServiceBackend, task: SandboxTask) -> None:
    elbv2 = elbv2_backends[backend.account_id][backend.region_name]
    for tg_arn, ip, _port in task.targets:
        tg = elbv2.target_groups.get(tg_arn)
        if tg is not None and ip in tg.targets:
            tg.deregister([{"Id": ip}])
    task.targets = []


def _count_deregistered(task: SandboxTask, step: _Step) -> None:
    for tg_arn, _ip, _port in task.targets:
        step.deregistered[tg_arn] = step.deregistered.get(tg_arn, 0) + 1


def _failure_for(task_definition: Any, account_id: str) -> str | None:
    cfg = config.get(account_id)
    pattern = cfg["failure_pattern"]
    if not pattern:
        return None
    for cdef in task_definition.container_definitions:
        if cdef.get("essential", True) and re.search(pattern, image_tag(cdef.get("image") or "")):
            return cfg["failure_mode"]
    return None


def _start_task(backend: EC2ContainerServiceBackend, service: Any, st: ServiceState,
                dep: Deployment, step: _Step) -> None:
    t = step.t
    td = backend.describe_task_definition(dep.task_definition)
    cfg = config.get(backend.account_id)
    ready_at = t + cfg["task_start_seconds"]
    if st.bulk_ready_at is not None:
        ready_at = st.bulk_ready_at
    task = SandboxTask(backend, service, dep, td, t, ready_at, _failure_for(td, backend.account_id))
    _attach_network(backend, service, st, task)
    backend.tasks.setdefault(service.cluster_name, {})[task.task_arn] = task
    st.tasks.append(task)
    _register_targets(backend, service, task, step)
    step.started.append(task)
    dep.updated_at = t
    st.steady = False


def _finish_stop(backend: EC2ContainerServiceBackend, st: ServiceState, task: SandboxTask,
                 t: float) -> None:
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
    _deregister_targets(backend, task)
    _release_network(backend, task)
    st.steady = False


def _stop_task(backend: EC2ContainerServiceBackend, st: ServiceState, task: SandboxTask,
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
    if was_running and task.targets:
        step.draining += 1
    _count_deregistered(task, step)
    if was_running and drain > 0:
        task.last_status = DEACTIVATING
        task.stop_at = t + drain
        return
    _finish_stop(backend, st, task, t)


def _fail_task(backend: EC2ContainerServiceBackend, service: Any, st: ServiceState,
               task: SandboxTask, step: _Step) -> None:
    t = step.t
    essential_failed = False
    for c in task._containers:
        if not essential_failed and c["essential"] and re.search(
            config.get(backend.account_id)["failure_pattern"] or "$^", image_tag(c["image"] or "")
        ):
            essential_failed = True
            if task.failure == "pull":
                c["reason"] = (
                    "CannotPullContainerError: pull image manifest has been retried 7 time(s): "
                    f"failed to resolve ref {c['image']}: not found"
                )
            else:
                c["exitCode"] = 1
        elif task.failure == "exit":
            c["exitCode"] = 0
        c["lastStatus"] = STOPPED
    if not essential_failed:  # pattern changed since the task was started: blame the first
        c0 = task._containers[0]
        c0.setdefault("exitCode", 1)
    if task.failure == "pull":
        task.stop_code = "TaskFailedToStart"
        reason = next((c["reason"] for c in task._containers if c.get("reason")), None)
        task.stopped_reason = reason or "CannotPullContainerError: image not found"
    else:
        task.stop_code = "EssentialContainerExited"
        task.stopped_reason = "Essential container in task exited"
        task.started_at = None
    task.stopping_at = _dt(t)
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
        if rollback and st.last_completed is not None:
            dep.rollback_at = t + config.get(backend.account_id)["rollback_delay_seconds"]


def _run_task(backend: EC2ContainerServiceBackend, st: ServiceState, task: SandboxTask,
              t: float) -> None:
    task.last_status = RUNNING
    task.version += 1
    task.pull_started_at = task.created_at
    task.pull_stopped_at = _dt(t)
    task.started_at = _dt(t)
    task.connectivity = "CONNECTED"
    task.connectivity_at = task.created_at
    for c in task._containers:
        c["lastStatus"] = RUNNING
        c["runtimeId"] = f"{task.id}-{abs(hash(c['name'])) % 10**10:010d}"
        if c["has_health_check"]:
            c["healthStatus"] = "HEALTHY"
    task.health_status = "HEALTHY" if any(c["has_health_check"] for c in task._containers) else "UNKNOWN"
    dep = _find_deployment(st, task.deployment_id)
    if dep is not None:
        dep.updated_at = t
    st.steady = False


def _find_deployment(st: ServiceState, dep_id: str) -> Deployment | None:
    return next((d for d in st.deployments if d.id == dep_id), None)


def _new_deployment(service: Any, st: ServiceState, td_arn: str, t: float) -> Deployment:
    dep = Deployment(service, td_arn, service.desired_count, t)
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
    _new_deployment(service, st, target_td, step.t)
    step.first.append(f"(service {service.name}) rolling back to deployment {target_id}.")


def _reconcile(backend: EC2ContainerServiceBackend, service: Any, st: ServiceState,
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


def _next_time(st: ServiceState) -> float | None:
    times = [tk.ready_at for tk in st.tasks if tk.last_status == PENDING]
    times += [tk.stop_at for tk in st.tasks if tk.last_status == DEACTIVATING and tk.stop_at is not None]
    times += [d.rollback_at for d in st.deployments if d.rollback_at is not None]
    return min(times) if times else None


def _apply_due(backend: EC2ContainerServiceBackend, service: Any, st: ServiceState,
               step: _Step) -> None:
    t = step.t
    for tk in sorted(st.tasks, key=lambda x: x.created_at):
        if tk.last_status == PENDING and tk.ready_at <= t:
            if tk.failure:
                _fail_task(backend, service, st, tk, step)
            else:
                _run_task(backend, st, tk, t)
        elif tk.last_status == DEACTIVATING and tk.stop_at is not None and tk.stop_at <= t:
            _finish_stop(backend, st, tk, t)
    for dep in list(st.deployments):
        if dep.rollback_at is not None and dep.rollback_at <= t:
            _rollback(service, st, dep, step)


def _prune(backend: EC2ContainerServiceBackend, service: Any, st: ServiceState) -> None:
    stopped = [tk for tk in st.tasks if tk.last_status == STOPPED]
    if len(stopped) <= MAX_STOPPED_TASKS_PER_SERVICE:
        return
    drop = stopped[: len(stopped) - MAX_STOPPED_TASKS_PER_SERVICE]
    dropped = {id(tk) for tk in drop}
    st.tasks = [tk for tk in st.tasks if id(tk) not in dropped]
    cluster_tasks = backend.tasks.get(service.cluster_name, {})
    for tk in drop:
        cluster_tasks.pop(tk.task_arn, None)


def _publish(service: Any, st: ServiceState) -> None:
    service.deployments = [d.to_dict(st.tasks) for d in st.deployments]
    service.running_count = sum(1 for tk in st.alive() if tk.last_status == RUNNING)
    service.pending_count = sum(1 for tk in st.alive() if tk.last_status == PENDING)
    if st.deployments:
        service.task_definition = st.deployments[0].task_definition


def advance_service(backend: EC2ContainerServiceBackend, service: Any, now: float) -> None:
    st: ServiceState | None = getattr(service, "_sandbox", None)
    if st is None:
        return
    for _ in range(1_000_000):
        t = _next_time(st)
        if t is None or t > now:
            break
        step = _Step(service, t)
        _apply_due(backend, service, st, step)
        _reconcile(backend, service, st, step)
        step.flush()
        _prune(backend, service, st)
    _publish(service, st)


def advance_backend(backend: EC2ContainerServiceBackend, now: float | None = None) -> None:
    with LOCK:
        now = time.time() if now is None else now
        for service in list(backend.services.values()):
            advance_service(backend, service, now)


def _change(backend: EC2ContainerServiceBackend, service: Any, t: float) -> None:
    """Reconciles a service right after an API call changed it."""
    st: ServiceState = service._sandbox
    step = _Step(service, t)
    _reconcile(backend, service, st, step)
    step.flush()
    _publish(service, st)


def settle_account(account_id: str, region: str) -> None:
    """Fast-forwards every service of an account to a steady state (used by the seed)."""
    with LOCK:
        backend = ecs_backends[account_id][region]
        now = time.time()
        advance_backend(backend, now)
        for service in backend.services.values():
            st = getattr(service, "_sandbox", None)
            if st is None:
                continue
            st.bulk_ready_at = now
            for tk in st.tasks:
                if tk.last_status == PENDING:
                    tk.ready_at = min(tk.ready_at, now)
                if tk.last_status == DEACTIVATING and tk.stop_at is not None:
                    tk.stop_at = min(tk.stop_at, now)
        for _ in range(10):
            advance_backend(backend, now)
            if all(
                _next_time(s._sandbox) is None or _next_time(s._sandbox) > now
                for s in backend.services.values()
                if getattr(s, "_sandbox", None) is not None
            ):
                break
        for service in backend.services.values():
            st = getattr(service, "_sandbox", None)
            if st is not None:
                st.bulk_ready_at = None


def resolve_task_definition(backend: EC2ContainerServiceBackend, ref: str) -> Any:
    """family:revision, an ARN, or a bare family (its latest ACTIVE revision), as ECS does."""
    name = ref.split("/")[-1]
    if ":" in name:
        return backend.describe_task_definition(ref)
    revisions = backend.task_definitions.get(name) or {}
    active = [rev for rev, td in revisions.items() if td.status == "ACTIVE"]
    if not active:
        raise TaskDefinitionNotFoundException()
    return revisions[max(active)]


# ---------------------------------------------------------------------------------------------
# Target health


def targets_for_group(ecs_backend: EC2ContainerServiceBackend, tg_arn: str) -> dict[str, SandboxTask]:
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


def force_target_health(tg_arn: str, state: str) -> None:
    with LOCK:
        if state == "auto":
            _FORCED_HEALTH.pop(tg_arn, None)
        else:
            _FORCED_HEALTH[tg_arn] = state


def forced_target_health(tg_arn: str) -> str:
    return _FORCED_HEALTH.get(tg_arn, "auto")


def reset() -> None:
    with LOCK:
        _FORCED_HEALTH.clear()


# ---------------------------------------------------------------------------------------------
# Patches

_ORIG: dict[str, Any] = {}
_CREATE_EXTRAS = (
    "deploymentConfiguration",
    "healthCheckGracePeriodSeconds",
    "enableECSManagedTags",
    "enableExecuteCommand",
    "capacityProviderStrategy",
    "placementConstraints",
    "placementStrategy",
)
DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def _resp_create_service(self: EC2ContainerServiceResponse) -> Any:
    _CTX.create_extras = {k: self._get_param(k) for k in _CREATE_EXTRAS}
    try:
        return _ORIG["resp.create_service"](self)
    finally:
        _CTX.create_extras = None


def _resp_list_task_definitions(self: EC2ContainerServiceResponse) -> Any:
    """moto ignores `sort`; ECS sorts by family, then revision (ASC unless DESC)."""
    arns = self.ecs_backend.list_task_definitions(
        self._get_param("familyPrefix"), self._get_param("status", "ACTIVE")
    )

    def key(arn: str) -> tuple[str, int]:
        family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
        return family, int(revision)

    arns = sorted(arns, key=key, reverse=self._get_param("sort") == "DESC")
    return ActionResult({"taskDefinitionArns": arns})


def _create_service(self: EC2ContainerServiceBackend, cluster_str: str, service_name: str,
                    desired_count: int, task_definition_str: str | None = None,
                    *args: Any, **kwargs: Any) -> Any:
    with LOCK:
        advance_backend(self)
        extras = getattr(_CTX, "create_extras", None) or {}
        _CTX.create_extras = None
        cluster = self._get_cluster(cluster_str)
        existing = self.services.get(f"{cluster.name}:{service_name}")
        if existing is not None and existing.status in ("ACTIVE", "DRAINING"):
            raise InvalidParameterException("Creation of service was not idempotent.")
        td_arn = None
        if task_definition_str:
            td_arn = resolve_task_definition(self, task_definition_str).arn
        service = _ORIG["create_service"](self, cluster_str, service_name, desired_count, td_arn,
                                          *args, **kwargs)
        t = time.time()
        service.created_at = _dt(t)
        dc = dict(DEFAULT_DEPLOYMENT_CONFIGURATION)
        dc.update(extras.get("deploymentConfiguration") or {})
        service.deployment_configuration = dc
        for key in _CREATE_EXTRAS[1:]:
            if extras.get(key) is not None:
                setattr(service, xform_name(key), extras[key])
        service.events = []
        if service.deployment_controller.get("type", "ECS") != "ECS" or not td_arn:
            return service  # task sets / external controllers keep moto's behaviour
        try:
            st = ServiceState()
            service._sandbox = st
            _new_deployment(service, st, td_arn, t)
            _change(self, service, t)
        except Exception:
            self.services.pop(f"{cluster.name}:{service_name}", None)
            raise
        return service


def _update_service(self: EC2ContainerServiceBackend, service_properties: dict[str, Any]) -> Any:
    with LOCK:
        advance_backend(self)
        props = dict(service_properties)
        service = self._get_service(props.get("cluster", "default"), props["service"].split("/")[-1])
        st: ServiceState | None = getattr(service, "_sandbox", None)
        if st is None:
            return _ORIG["update_service"](self, service_properties)
        if service.status != "ACTIVE":
            raise ServiceNotActiveException()
        td = None
        if props.get("task_definition"):
            td = resolve_task_definition(self, props["task_definition"])
            if td.status != "ACTIVE" and td.arn != st.deployments[0].task_definition:
                raise ECSException("ClientException", "TaskDefinition is inactive")
            props["task_definition"] = td.arn
        new_dc = props.pop("deployment_configuration", None)
        old_network = repr(service.network_configuration)
        force = bool(props.get("force_new_deployment"))
        service = _ORIG["update_service"](self, props)
        if new_dc:
            dc = dict(service.deployment_configuration or DEFAULT_DEPLOYMENT_CONFIGURATION)
            dc.update(new_dc)
            service.deployment_configuration = dc
        t = time.time()
        primary = st.deployments[0]
        td_arn = td.arn if td is not None else primary.task_definition
        network_changed = repr(service.network_configuration) != old_network
        if td_arn != primary.task_definition or force or network_changed:
            _new_deployment(service, st, td_arn, t)
        _change(self, service, t)
        return service


def _delete_service(self: EC2ContainerServiceBackend, cluster_name: str, service_name: str,
                    force: bool) -> Any:
    with LOCK:
        advance_backend(self)
        service = _ORIG["delete_service"](self, cluster_name, service_name, force)
        st: ServiceState | None = getattr(service, "_sandbox", None)
        if st is None:
            return service
        st.deleting = True
        service.desired_count = 0
        service.status = "DRAINING"
        _change(self, service, time.time())
        return service


def _advancing(name: str) -> Any:
    orig = _ORIG[name]

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with LOCK:
            advance_backend(self)
            return orig(self, *args, **kwargs)

    wrapper.__name__ = name
    return wrapper


def _list_tasks(self: EC2ContainerServiceBackend, cluster_str: str | None = None,
                container_instance: str | None = None, family: str | None = None,
                started_by: str | None = None, service_name: str | None = None,
                desiredStatus: str | None = None) -> list[Any]:
    with LOCK:
        advance_backend(self)
        tasks = _ORIG["list_tasks"](self, cluster_str, container_instance, family, started_by,
                                    None, desiredStatus)
        if service_name:
            group = f"service:{service_name.split('/')[-1]}"
            tasks = [tk for tk in tasks if getattr(tk, "group", None) == group]
        if cluster_str is not None and desiredStatus is None:
            # ECS lists RUNNING (desired status) tasks unless asked for STOPPED ones.
            tasks = [
                tk for tk in tasks
                if not (isinstance(tk, SandboxTask) and tk.desired_status == STOPPED)
            ]
        return tasks


def _stop_task_patch(self: EC2ContainerServiceBackend, cluster_str: str, task_str: str,
                     reason: str) -> Any:
    with LOCK:
        advance_backend(self)
        cluster = self._get_cluster(cluster_str)
        task_id = task_str.split("/")[-1]
        for arn, task in self.tasks.get(cluster.name, {}).items():
            if isinstance(task, SandboxTask) and arn.endswith(task_id):
                service = self.services.get(f"{cluster.name}:{task.service_name}")
                st = getattr(service, "_sandbox", None)
                if st is not None and task.last_status in (PENDING, RUNNING):
                    step = _Step(service, time.time())
                    _stop_task(backend=self, st=st, task=task,
                               reason=reason or "Task stopped by user", step=step,
                               stop_code="UserInitiated")
                    _reconcile(self, service, st, step)
                    step.flush()
                    _publish(service, st)
                return task
        return _ORIG["stop_task"](self, cluster_str, task_str, reason)


def _describe_clusters(self: EC2ContainerServiceBackend, cluster_names: list[str]) -> Any:
    with LOCK:
        advance_backend(self)
        clusters, failures = _ORIG["describe_clusters"](self, cluster_names)
        for cluster in clusters:
            tasks = list(self.tasks.get(cluster.name, {}).values())
            cluster.running_tasks_count = sum(1 for tk in tasks if tk.last_status == RUNNING)
            cluster.pending_tasks_count = sum(1 for tk in tasks if tk.last_status == PENDING)
            cluster.active_services_count = sum(
                1 for s in self.services.values()
                if s.cluster_name == cluster.name and s.status == "ACTIVE"
            )
        return clusters, failures


def _describe_target_health(self: ELBv2Backend, target_group_arn: str,
                            targets: list[dict[str, Any]]) -> Any:
    with LOCK:
        ecs = None
        if self.account_id in ecs_backends and self.region_name in ecs_backends[self.account_id]:
            ecs = ecs_backends[self.account_id][self.region_name]
            advance_backend(ecs)  # first: it registers and deregisters targets
        statuses = _ORIG["describe_target_health"](self, target_group_arn, targets)
        by_ip = targets_for_group(ecs, target_group_arn) if ecs is not None else {}
        forced = _FORCED_HEALTH.get(target_group_arn)
        for status in statuses:
            task = by_ip.get(status.instance_id)
            if task is not None and task.last_status != STOPPED:
                status.status, status.reason, status.description = task.target_health()
            if forced and status.status not in ("draining", "unused", "unavailable"):
                status.status = forced
                if forced == "healthy":
                    status.reason, status.description = None, None
                else:
                    status.reason, status.description = "Target.FailedHealthChecks", "Health checks failed"
        return statuses


_applied = False


def apply() -> None:
    """Installs the patches (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    B = EC2ContainerServiceBackend
    for name in ("create_service", "update_service", "delete_service", "describe_services",
                 "list_services", "describe_tasks", "list_tasks", "stop_task",
                 "describe_clusters"):
        _ORIG[name] = getattr(B, name)
    _ORIG["resp.create_service"] = EC2ContainerServiceResponse.create_service
    EC2ContainerServiceResponse.list_task_definitions = _resp_list_task_definitions
    _ORIG["describe_target_health"] = ELBv2Backend.describe_target_health

    B.create_service = _create_service
    B.update_service = _update_service
    B.delete_service = _delete_service
    B.describe_services = _advancing("describe_services")
    B.list_services = _advancing("list_services")
    B.describe_tasks = _advancing("describe_tasks")
    B.list_tasks = _list_tasks
    B.stop_task = _stop_task_patch
    B.describe_clusters = _describe_clusters
    EC2ContainerServiceResponse.create_service = _resp_create_service
    ELBv2Backend.describe_target_health = _describe_target_health


assert ecs_models  # the module is patched through its classes
