"""The one module that touches moto: its imports, the task object (`SandboxTask`, a moto
Task), the network interfaces and target registrations of tasks (`MotoBackend`, the model's
`Backend`), the patches of moto's ECS backend and responses and of ELBv2's DescribeTargetHealth,
and `apply()`, which installs them. moto's files are not changed.
"""

from __future__ import annotations

import ipaddress
import random
import re
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from botocore import xform_name
from moto.ec2.models import ec2_backends
from moto.ecr.models import ecr_backends
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

from .model import (
    DEFAULT_DEPLOYMENT_CONFIGURATION,
    PULL_FAILURE,
    PENDING,
    RUNNING,
    STOPPED,
    Deployment,
    ServiceState,
    _Step,
    _dt,
    _new_deployment,
    _publish,
    _stop_task,
    target_health,
    targets_for_group,
)
from . import logs_patch, native, native_patch, runs, tasklogs, traffic
from .scheduler import LOCK, _change, advance_backend, settle

_CTX = threading.local()

FIRST_HOST = 10  # first host number handed out in a subnet

# Target group ARN -> forced target state ("healthy" / "unhealthy"); see force_target_health.
_FORCED_HEALTH: dict[str, str] = {}


class ServiceNotActiveException(ECSException):
    def __init__(self) -> None:
        super().__init__("ServiceNotActiveException", "Service was not ACTIVE.")


class SandboxTask(Task):
    """A task of a service or a one-off task (RunTask), with its own lifecycle (moto's Task
    starts out RUNNING); the model (service tasks) and runs.py (one-off tasks) drive it."""

    def __init__(
        self,
        backend: EC2ContainerServiceBackend,
        cluster: Any,
        task_definition: Any,
        t: float,
        *,
        group: str,
        started_by: str,
        launch_type: str | None,
        platform_version: str | None,
        tags: list[dict[str, str]] | None = None,
        overrides: dict[str, Any] | None = None,
        capacity_provider_name: str | None = None,
        service_name: str | None = None,
        deployment_id: str | None = None,
        ready_at: float = 0.0,
    ):
        # moto's Task.__init__ is not called: it creates an ENI with an address outside the
        # subnet and starts the task RUNNING. The attributes moto reads are set here.
        self.id = uuid.uuid4().hex
        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.region_name = cluster.region_name
        self._account_id = backend.account_id
        self._backend = backend
        self.container_instance_arn = None
        self.task_definition_arn = task_definition.arn
        self.overrides: dict[str, Any] = overrides or {}
        self.started_by = started_by
        self.group = group
        self.tags = list(tags or [])
        self.launch_type = launch_type
        self.capacity_provider_name = capacity_provider_name
        self.platform_version = platform_version
        self.platform_family = "Linux" if platform_version else None
        self.resource_requirements = None
        self.cpu = task_definition.cpu
        self.memory = task_definition.memory
        self.enable_execute_command = False
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
        self.service_name = service_name  # None: a one-off task
        self.deployment_id = deployment_id
        self.ready_at = ready_at
        self.stop_at: float | None = None
        self.failure: str | None = None  # "exit", "pull", "logs" (model.diagnose)
        self.failure_container: str | None = None
        self.failure_reason: str | None = None
        self.ip: str | None = None
        self.subnet_id: str | None = None
        self.eni_id: str | None = None
        self.targets: list[tuple[str, str, int]] = []  # (target group ARN, ip, port)
        self.tg_map: dict[str, str] = {}  # the service's target group -> the one to register in
        # logs: where each container's output goes; the one container whose lines the
        # sandbox writes, and what they mention; the last request line's time (running only)
        self.log_targets = tasklogs.targets(task_definition, self.id, self.region_name)
        essential = [c for c in task_definition.container_definitions if c.get("essential", True)]
        main = (essential or task_definition.container_definitions)[0]
        self.main_container: str = main.get("name")
        self.log_context = tasklogs.context(main)
        self.log_cursor: float | None = None
        # one-off tasks (runs.py)
        self.plan: Any = None
        self.pending_at = 0.0
        self.run_started: float | None = None
        self.exit_at: float | None = None
        self.stop_requested: float | None = None
        self.kill_at: float | None = None
        self.kill_code: int | None = None
        self.line_index = 0
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
            for key in ("memory", "memoryReservation"):
                if cdef.get(key) is not None:
                    self._containers[-1][key] = str(cdef[key])

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


# ---------------------------------------------------------------------------------------------
# The backend the model runs in


def _ip_pool(backend: EC2ContainerServiceBackend) -> dict[str, set[str]]:
    pool = getattr(backend, "_sandbox_ips", None)
    if pool is None:
        pool = {}
        backend._sandbox_ips = pool  # type: ignore[attr-defined]
    return pool


def _attach_network(backend: EC2ContainerServiceBackend, network_configuration: Any,
                    turn: int, task: SandboxTask) -> None:
    """Gives the task an ENI in one of the configuration's subnets (the `turn`-th, in turn)."""
    awsvpc = (network_configuration or {}).get("awsvpcConfiguration") or {}
    subnets = awsvpc.get("subnets") or []
    if not subnets:
        return
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    subnet_id = subnets[turn % len(subnets)]
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
        tg_arn = task.tg_map.get(tg_arn, tg_arn) if tg_arn else tg_arn
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


class MotoBackend:
    """moto's ECS backend of an account and region, as the model sees it (`model.Backend`)."""

    def __init__(self, ecs: EC2ContainerServiceBackend):
        self.ecs = ecs

    @property
    def account_id(self) -> str:
        return self.ecs.account_id

    @property
    def services(self) -> dict[str, Any]:
        return self.ecs.services

    def describe_task_definition(self, task_definition_str: str) -> Any:
        return self.ecs.describe_task_definition(task_definition_str)

    def new_task(self, service: Any, deployment: Deployment, task_definition: Any, t: float,
                 ready_at: float, failure: str | None) -> SandboxTask:
        task = SandboxTask(
            self.ecs, self.ecs.clusters[service.cluster_name], task_definition, t,
            group=f"service:{service.name}", started_by=deployment.id,
            launch_type=service.launch_type,
            platform_version=deployment.platform_version if service.launch_type == "FARGATE" else None,
            tags=list(service.tags or []) if service.propagate_tags == "SERVICE" else [],
            service_name=service.name, deployment_id=deployment.id, ready_at=ready_at)
        task.failure = failure
        return task

    def add_task(self, service: Any, task: SandboxTask) -> None:
        self.ecs.tasks.setdefault(service.cluster_name, {})[task.task_arn] = task

    def forget_tasks(self, service: Any, tasks: list[SandboxTask]) -> None:
        for tk in tasks:
            self.ecs.tasks.get(tk.cluster_name, {}).pop(tk.task_arn, None)

    def attach_network(self, service: Any, st: ServiceState, task: SandboxTask) -> None:
        _attach_network(self.ecs, service.network_configuration, st.subnet_turn, task)
        st.subnet_turn += 1

    def release_network(self, task: SandboxTask) -> None:
        _release_network(self.ecs, task)

    def register_targets(self, service: Any, task: SandboxTask, step: _Step) -> None:
        _register_targets(self.ecs, service, task, step)

    def deregister_targets(self, task: SandboxTask) -> None:
        _deregister_targets(self.ecs, task)

    def forward_weights(self, rule_arn: str) -> dict[str, int] | None:
        return native_patch.forward_weights(self.ecs.account_id, self.ecs.region_name, rule_arn)

    def set_forward_weights(self, rule_arn: str, weights: dict[str, int], t: float) -> None:
        native_patch.set_forward_weights(self.ecs.account_id, self.ecs.region_name, rule_arn,
                                         weights, t)

    def alarm_states(self, names: list[str]) -> dict[str, tuple[str, float]]:
        return native_patch.alarm_states(self.ecs.account_id, self.ecs.region_name, names)

    def missing_image(self, image: str) -> str | None:
        return missing_image(image)

    def missing_log_group(self, task: SandboxTask) -> str | None:
        return logs_patch.missing_group(self.ecs.account_id, task)

    def open_logs(self, task: SandboxTask, t: float) -> None:
        logs_patch.open_streams(self.ecs.account_id, task, t)

    def write_log(self, task: SandboxTask, t: float, messages: list[str]) -> None:
        logs_patch.write(self.ecs.account_id, task, t, messages)

    @property
    def runs(self) -> runs.RunState:
        state = getattr(self.ecs, "_sandbox_runs", None)
        if state is None:
            state = runs.RunState()
            self.ecs._sandbox_runs = state  # type: ignore[attr-defined]
        return state


# An image in an ECR registry: ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY[:TAG][@DIGEST]
_ECR_IMAGE = re.compile(
    r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)(?::([^@]+))?(?:@(.+))?$")


def missing_image(image: str) -> str | None:
    """CannotPullContainerError's reason for an image of an ECR registry (of any sandbox
    account) whose repository, tag or digest does not exist; None for the others (other
    registries are not looked at)."""
    m = _ECR_IMAGE.match(image)
    if not m:
        return None
    account, region, repository, tag, digest = m.groups()
    repo = ecr_backends[account][region].repositories.get(repository)
    if repo is not None:
        tag = tag if tag or digest else "latest"
        for img in repo.images:
            if (not tag or tag in img.image_tags) and (not digest or digest == img.get_image_digest()):
                return None
    return PULL_FAILURE.format(image=image)


def settle_account(account_id: str, region: str) -> None:
    """Fast-forwards every service of an account to a steady state (used by the seed)."""
    with LOCK:
        settle(MotoBackend(ecs_backends[account_id][region]))


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
        native.reset()
        traffic.reset()


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
        advance_backend(MotoBackend(self))
        extras = getattr(_CTX, "create_extras", None) or {}
        _CTX.create_extras = None
        cluster = self._get_cluster(cluster_str)
        existing = self.services.get(f"{cluster.name}:{service_name}")
        if existing is not None and existing.status in ("ACTIVE", "DRAINING"):
            raise InvalidParameterException("Creation of service was not idempotent.")
        lbs = args[0] if args else kwargs.get("load_balancers")
        try:
            native.validate(extras.get("deploymentConfiguration"), lbs)
        except native.NativeError as exc:
            raise ECSException(exc.code, exc.message)
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
            dep = _new_deployment(service, st, td_arn, t)
            native.begin(MotoBackend(self), service, st, dep, t)
            _change(MotoBackend(self), service, t)
        except Exception:
            self.services.pop(f"{cluster.name}:{service_name}", None)
            raise
        return service


def _update_service(self: EC2ContainerServiceBackend, service_properties: dict[str, Any]) -> Any:
    with LOCK:
        advance_backend(MotoBackend(self))
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
        merged = dict(service.deployment_configuration or DEFAULT_DEPLOYMENT_CONFIGURATION)
        merged.update(new_dc or {})
        if new_dc and "strategy" in new_dc:  # a new strategy: the other ones' settings go
            for key, strategy in (("linearConfiguration", "LINEAR"), ("canaryConfiguration", "CANARY")):
                if merged.get("strategy") != strategy and key not in new_dc:
                    merged.pop(key, None)
        lbs = props.get("load_balancers")
        try:
            native.validate(merged, lbs if lbs is not None else service.load_balancers)
        except native.NativeError as exc:
            raise ECSException(exc.code, exc.message)
        old_network = repr(service.network_configuration)
        force = bool(props.get("force_new_deployment"))
        service = _ORIG["update_service"](self, props)
        if new_dc:
            service.deployment_configuration = merged
        t = time.time()
        primary = st.deployments[0]
        td_arn = td.arn if td is not None else primary.task_definition
        network_changed = repr(service.network_configuration) != old_network
        if td_arn != primary.task_definition or force or network_changed:
            dep = _new_deployment(service, st, td_arn, t)
            native.begin(MotoBackend(self), service, st, dep, t)
        _change(MotoBackend(self), service, t)
        return service


def _delete_service(self: EC2ContainerServiceBackend, cluster_name: str, service_name: str,
                    force: bool) -> Any:
    with LOCK:
        advance_backend(MotoBackend(self))
        service = _ORIG["delete_service"](self, cluster_name, service_name, force)
        st: ServiceState | None = getattr(service, "_sandbox", None)
        if st is None:
            return service
        st.deleting = True
        service.desired_count = 0
        service.status = "DRAINING"
        _change(MotoBackend(self), service, time.time())
        return service


def _advancing(name: str) -> Any:
    orig = _ORIG[name]

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with LOCK:
            advance_backend(MotoBackend(self))
            return orig(self, *args, **kwargs)

    wrapper.__name__ = name
    return wrapper


def _list_tasks(self: EC2ContainerServiceBackend, cluster_str: str | None = None,
                container_instance: str | None = None, family: str | None = None,
                started_by: str | None = None, service_name: str | None = None,
                desiredStatus: str | None = None) -> list[Any]:
    with LOCK:
        advance_backend(MotoBackend(self))
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
        backend = MotoBackend(self)
        advance_backend(backend)
        cluster = self._get_cluster(cluster_str)
        task_id = task_str.split("/")[-1]
        for arn, task in self.tasks.get(cluster.name, {}).items():
            if isinstance(task, SandboxTask) and arn.endswith(task_id) and task.service_name is None:
                runs.stop(backend, task, reason, time.time())
                return task
            if isinstance(task, SandboxTask) and arn.endswith(task_id):
                service = self.services.get(f"{cluster.name}:{task.service_name}")
                st = getattr(service, "_sandbox", None)
                if st is not None and task.last_status in (PENDING, RUNNING):
                    step = _Step(service, time.time())
                    _stop_task(backend=backend, st=st, task=task,
                               reason=reason or "Task stopped by user", step=step,
                               stop_code="UserInitiated")
                    native.reconcile(backend, service, st, step)
                    step.flush()
                    _publish(service, st)
                return task
        if not any(arn.endswith(task_id) for arn in self.tasks.get(cluster.name, {})):
            raise InvalidParameterException("The referenced task was not found.")
        return _ORIG["stop_task"](self, cluster_str, task_str, reason)


def _describe_clusters(self: EC2ContainerServiceBackend, cluster_names: list[str]) -> Any:
    with LOCK:
        advance_backend(MotoBackend(self))
        clusters, failures = _ORIG["describe_clusters"](self, cluster_names)
        for cluster in clusters:
            tasks = list(self.tasks.get(cluster.name, {}).values())
            cluster.running_tasks_count = sum(1 for tk in tasks if tk.last_status == RUNNING)
            cluster.pending_tasks_count = sum(
                1 for tk in tasks if tk.last_status in (runs.PROVISIONING, PENDING))
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
            ecs = MotoBackend(ecs_backends[self.account_id][self.region_name])
            advance_backend(ecs)  # first: it registers and deregisters targets
        statuses = _ORIG["describe_target_health"](self, target_group_arn, targets)
        by_ip = targets_for_group(ecs, target_group_arn) if ecs is not None else {}
        forced = _FORCED_HEALTH.get(target_group_arn)
        for status in statuses:
            task = by_ip.get(status.instance_id)
            if task is not None and task.last_status != STOPPED:
                status.status, status.reason, status.description = target_health(task)
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
    B.list_tasks = _list_tasks
    B.stop_task = _stop_task_patch
    B.describe_clusters = _describe_clusters
    EC2ContainerServiceResponse.create_service = _resp_create_service
    ELBv2Backend.describe_target_health = _describe_target_health
    native_patch.apply()
    logs_patch.apply()
    from . import runs_patch  # it builds on this module

    runs_patch.apply()


assert ecs_models  # the module is patched through its classes
