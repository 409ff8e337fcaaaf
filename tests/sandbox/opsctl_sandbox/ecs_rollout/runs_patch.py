"""The moto side of one-off tasks (runs.py is the model): RunTask, and DescribeTasks and
ListTasks answered as ECS answers them. moto 5.2.5's RunTask fails outright on a task
definition with a container without `memory` (the seed's), starts its tasks RUNNING with
an address outside their subnet, and keeps no clientToken; its DescribeTasks looks in every
cluster and reports no `failures`; its ListTasks matches `family` as a prefix of ACTIVE
revisions and has no `launchType` filter or pagination. `apply()` is called by
moto_patch.apply().
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ecs.exceptions import ECSException, InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend
from moto.ecs.responses import DESCRIBE_TASKS_TAGS, EC2ContainerServiceResponse

from .. import config
from . import runs, tasklogs
from .model import diagnose
from .moto_patch import MotoBackend, SandboxTask, _attach_network, resolve_task_definition
from .scheduler import LOCK, advance_backend

FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")
FARGATE_PLATFORM = "1.4.0"  # what LATEST resolves to for Linux
MAX_LIST_RESULTS = 100
_RUN_PARAMS = ("cluster", "taskDefinition", "count", "overrides", "startedBy", "tags",
               "launchType", "networkConfiguration", "group", "platformVersion",
               "capacityProviderStrategy", "propagateTags", "enableExecuteCommand",
               "enableECSManagedTags", "referenceId", "placementConstraints",
               "placementStrategy", "volumeConfigurations")


def _client_error(message: str) -> ECSException:
    return ECSException("ClientException", message)


def _check_network(ecs: EC2ContainerServiceBackend, td: Any, network: Any) -> None:
    if td.network_mode != "awsvpc":
        return
    awsvpc = (network or {}).get("awsvpcConfiguration") or {}
    if not awsvpc.get("subnets"):
        raise InvalidParameterException(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    ec2 = ec2_backends[ecs.account_id][ecs.region_name]
    for subnet in awsvpc["subnets"]:
        try:
            ec2.get_subnet(subnet)
        except Exception:
            raise InvalidParameterException(
                f"Error retrieving subnet information for [{subnet}]: The subnet ID "
                f"'{subnet}' does not exist")


def _main_container(td: Any, overrides: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The container that runs the command (the first essential one with an overridden
    command, else the first essential one), and the command, joined."""
    by_name = {o.get("name"): o for o in overrides.get("containerOverrides") or []}
    names = {c.get("name") for c in td.container_definitions}
    for name in by_name:
        if name not in names:
            raise InvalidParameterException(
                f"Override for container named {name} is not a container in the TaskDefinition.")
    essential = [c for c in td.container_definitions if c.get("essential", True)] \
        or list(td.container_definitions)
    main = next((c for c in essential if (by_name.get(c.get("name")) or {}).get("command")),
                essential[0])
    command = (by_name.get(main.get("name")) or {}).get("command") or main.get("command") or []
    return main, " ".join(command) if isinstance(command, list) else str(command)


def run_task(ecs: EC2ContainerServiceBackend, p: dict[str, Any], token: str | None) -> list[Any]:
    backend = MotoBackend(ecs)
    advance_backend(backend)
    cluster = ecs._get_cluster(p.get("cluster") or "default")
    count = int(p.get("count") or 1)
    if not 1 <= count <= 10:
        raise InvalidParameterException("count must be between 1 and 10.")
    launch_type, strategy = p.get("launchType"), p.get("capacityProviderStrategy")
    if launch_type and strategy:
        raise InvalidParameterException(
            "Specify either Launch Type or Capacity Provider Strategy, but not both.")
    if launch_type and launch_type not in ("EC2", "FARGATE", "EXTERNAL"):
        raise InvalidParameterException("launch type should be one of [EC2,FARGATE,EXTERNAL]")
    if not launch_type and not strategy:
        strategy = cluster.default_capacity_provider_strategy
    provider = strategy[0]["capacityProvider"] if strategy else None
    if provider and provider not in (cluster.capacity_providers or []):
        raise InvalidParameterException(
            "The specified capacity provider strategy cannot contain a capacity provider that "
            "is not associated with the cluster. Associate the capacity provider with the "
            "cluster or specify a valid capacity provider and try again.")
    fargate = launch_type == "FARGATE" or provider in FARGATE_PROVIDERS
    if not fargate:
        raise InvalidParameterException("No Container Instances were found in your cluster.")

    td = resolve_task_definition(ecs, p["taskDefinition"])
    if td.status != "ACTIVE":
        raise _client_error("TaskDefinition is inactive")
    if "FARGATE" not in (td.requires_compatibilities or []):
        raise _client_error("Task definition does not support launch_type FARGATE.")
    _check_network(ecs, td, p.get("networkConfiguration"))
    overrides = p.get("overrides") or {}
    main, command = _main_container(td, overrides)

    rs: runs.RunState = backend.runs
    key = (cluster.name, token) if token else None
    fingerprint = json.dumps(p, sort_keys=True, default=str)
    if key is not None and key in rs.tokens:
        seen, arns = rs.tokens[key]
        if seen != fingerprint:
            raise ECSException("ConflictException",
                               "The specified client token has already been used in another "
                               "request with different parameters.")
        tasks = ecs.tasks.get(cluster.name, {})
        return [tasks[a] for a in arns if a in tasks]

    platform = p.get("platformVersion")
    tags = list(p.get("tags") or [])
    if p.get("propagateTags") == "TASK_DEFINITION":
        tags += [t for t in td.tags or [] if t not in tags]
    cfg = config.get(ecs.account_id)
    t = time.time()
    out = []
    for _ in range(count):
        task = SandboxTask(
            ecs, cluster, td, t,
            group=p.get("group") or f"family:{td.family}",
            started_by=p.get("startedBy") or "",
            launch_type="FARGATE",
            platform_version=FARGATE_PLATFORM if platform in (None, "LATEST") else platform,
            tags=tags, overrides=overrides, capacity_provider_name=provider)
        task.cpu = overrides.get("cpu") or td.cpu
        task.memory = overrides.get("memory") or td.memory
        task.enable_execute_command = bool(p.get("enableExecuteCommand"))
        task.main_container = main.get("name")
        task.log_context = tasklogs.context(main)
        diagnose(backend, td, task)
        _attach_network(ecs, p.get("networkConfiguration"), rs.subnet_turn, task)
        rs.subnet_turn += 1
        for att in task.attachments:
            att["status"] = "PRECREATED"
        ecs.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        runs.launch(backend, rs, task, runs.plan(command, task.log_context, cfg["run_task_seconds"]), t)
        out.append(task)
    if key is not None:
        rs.tokens[key] = (fingerprint, [tk.task_arn for tk in out])
    advance_backend(backend, t)  # a start of 0 seconds: already PENDING (or further)
    return out


def _resp_run_task(self: EC2ContainerServiceResponse) -> ActionResult:
    params = {k: self._get_param(k) for k in _RUN_PARAMS if self._get_param(k) is not None}
    with LOCK:
        tasks = run_task(self.ecs_backend, params, self._get_param("clientToken"))
    return ActionResult({"tasks": tasks, "failures": []})


def _describe_tasks(self: EC2ContainerServiceBackend, cluster_str: str, tasks: list[str]) -> list[Any]:
    """moto's, in the one cluster asked about (moto looks in all)."""
    with LOCK:
        advance_backend(MotoBackend(self))
        cluster = self._get_cluster(cluster_str)
        return [tk for tk in _ORIG["describe_tasks"](self, cluster_str, tasks)
                if tk.cluster_name == cluster.name]


def _resp_describe_tasks(self: EC2ContainerServiceResponse) -> ActionResult:
    cluster = self._get_param("cluster", "default")
    refs = self._get_param("tasks", [])
    if len(refs) > 100:
        raise InvalidParameterException("Tasks cannot have more than 100 elements.")
    found = self.ecs_backend.describe_tasks(cluster, refs)
    if "TAGS" in self._get_param("include", []):
        self._include_in_response(DESCRIBE_TASKS_TAGS)
    else:
        self._exclude_from_response(DESCRIBE_TASKS_TAGS)
    known = {tk.task_arn for tk in found} | {tk.id for tk in found}
    failures = [{"arn": ref, "reason": "MISSING"} for ref in refs
                if ref not in known and ref.rsplit("/", 1)[-1] not in known]
    return ActionResult({"tasks": found, "failures": failures})


def _family(task_definition_arn: str) -> str:
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def _resp_list_tasks(self: EC2ContainerServiceResponse) -> ActionResult:
    """ListTasks: `family` exactly (any revision), `launchType`, `maxResults`/`nextToken`."""
    family = self._get_param("family")
    launch_type = self._get_param("launchType")
    limit = self._get_param("maxResults") or MAX_LIST_RESULTS
    if not 1 <= int(limit) <= MAX_LIST_RESULTS:
        raise InvalidParameterException("maxResults must be between 1 and 100.")
    tasks = self.ecs_backend.list_tasks(
        self._get_param("cluster", "default"), self._get_param("containerInstance"), None,
        self._get_param("startedBy"), self._get_param("serviceName"),
        self._get_param("desiredStatus"))
    if family:
        tasks = [tk for tk in tasks if _family(tk.task_definition_arn) == family]
    if launch_type:
        tasks = [tk for tk in tasks if getattr(tk, "launch_type", None) == launch_type]
    arns = [tk.task_arn for tk in tasks]
    start = 0
    token = self._get_param("nextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().split(":")[1])
        except (ValueError, IndexError, UnicodeDecodeError):
            raise InvalidParameterException("Invalid token")
    page = arns[start:start + int(limit)]
    out: dict[str, Any] = {"taskArns": page}
    if start + len(page) < len(arns):
        out["nextToken"] = base64.urlsafe_b64encode(f"sandbox:{start + len(page)}".encode()).decode()
    return ActionResult(out)


_ORIG: dict[str, Any] = {}
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    _ORIG["describe_tasks"] = EC2ContainerServiceBackend.describe_tasks
    EC2ContainerServiceBackend.describe_tasks = _describe_tasks
    EC2ContainerServiceResponse.run_task = _resp_run_task
    EC2ContainerServiceResponse.describe_tasks = _resp_describe_tasks
    EC2ContainerServiceResponse.list_tasks = _resp_list_tasks
