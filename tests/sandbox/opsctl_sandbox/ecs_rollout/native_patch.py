"""The moto side of service deployments and the native strategies (the model is native.py),
and of the seeded load balancer metrics (traffic.py): the ECS operations moto lacks
(ListServiceDeployments, DescribeServiceDeployments, StopServiceDeployment,
ContinueServiceDeployment, DescribeServiceRevisions), listener rule weights, alarm states,
CloudWatch datapoints and percentile statistics. Like moto_patch, the only other module that
touches moto; `apply()` is called by moto_patch.apply().
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any

from moto.cloudwatch import models as cw_models
from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
from moto.core.responses import ActionResult
from moto.ecs.exceptions import ECSException
from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.elbv2.models import ELBv2Backend, FakeAction, elbv2_backends

from . import native, traffic
from .model import _Step, _publish

_ORIG: dict[str, Any] = {}


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    return float(value)


def _naive(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc).replace(tzinfo=None)


def _err(exc: native.NativeError) -> ECSException:
    return ECSException(exc.code, exc.message)


# ---------------------------------------------------------------------------------------------
# Listener rules, alarms (the model's Backend methods, see moto_patch.MotoBackend)


def _rule(elbv2: ELBv2Backend, rule_arn: str) -> Any:
    for lb in elbv2.load_balancers.values():
        for listener in lb.listeners.values():
            for rule in listener.rules.values():
                if rule.arn == rule_arn:
                    return rule
    return None


def forward_weights(account: str, region: str, rule_arn: str) -> dict[str, int] | None:
    rule = _rule(elbv2_backends[account][region], rule_arn)
    if rule is None:
        return None
    return _weights_of(rule)


def _weights_of(rule: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for action in rule.actions:
        data = getattr(action, "data", {}) or {}
        if data.get("Type") != "forward":
            continue
        fc = data.get("ForwardConfig") or {}
        for tg in fc.get("TargetGroups") or []:
            out[tg["TargetGroupArn"]] = int(tg.get("Weight", 1))
        if not fc and data.get("TargetGroupArn"):
            out[data["TargetGroupArn"]] = 1
    return out


def set_forward_weights(account: str, region: str, rule_arn: str, weights: dict[str, int],
                        t: float) -> None:
    flush_metrics(account, region, t)
    elbv2 = elbv2_backends[account][region]
    rule = _rule(elbv2, rule_arn)
    if rule is None:
        return  # a rule deleted under the deployment: nothing to move
    stickiness: dict[str, Any] = {"Enabled": False}
    order: list[str] = []
    for action in rule.actions:
        data = getattr(action, "data", {}) or {}
        if data.get("Type") == "forward":
            fc = data.get("ForwardConfig") or {}
            stickiness = fc.get("TargetGroupStickinessConfig") or stickiness
            order = [tg["TargetGroupArn"] for tg in fc.get("TargetGroups") or []]
    order += [arn for arn in weights if arn not in order]
    groups = [{"TargetGroupArn": arn, "Weight": int(weights.get(arn, 0))} for arn in order]
    rule.actions = [FakeAction({"Type": "forward", "Order": 1, "ForwardConfig": {
        "TargetGroups": groups, "TargetGroupStickinessConfig": dict(stickiness)}})]


def alarm_states(account: str, region: str, names: list[str]) -> dict[str, tuple[str, float]]:
    alarms = cloudwatch_backends[account][region].alarms
    out = {}
    for name in names:
        alarm = alarms.get(name)
        if alarm is not None:
            out[name] = (alarm.state_value, _epoch(alarm.state_updated_timestamp) or 0.0)
    return out


# ---------------------------------------------------------------------------------------------
# Seeded metrics


def _test_rules(account: str, region: str) -> set[str]:
    out: set[str] = set()
    try:
        services = ecs_backends[account][region].services.values()
    except KeyError:
        return out
    for service in services:
        for lb in getattr(service, "load_balancers", None) or []:
            rule = (lb.get("advancedConfiguration") or {}).get("testListenerRule")
            if rule:
                out.add(rule)
    return out


def _share(elbv2: ELBv2Backend, tg_arn: str, test_rules: set[str]) -> tuple[float, str | None]:
    """A target group's largest share of a (non-test) listener rule's forward weights, and
    the load balancer of that rule."""
    best, lb_arn = 0.0, None
    for lb in elbv2.load_balancers.values():
        for listener in lb.listeners.values():
            if listener.arn in test_rules:
                continue
            for rule in listener.rules.values():
                if rule.arn in test_rules:
                    continue
                weights = _weights_of(rule)
                total = sum(weights.values())
                if tg_arn in weights and total > 0 and weights[tg_arn] / total > best:
                    best, lb_arn = weights[tg_arn] / total, lb.arn
    return best, lb_arn


def _dimension(arn: str) -> str:
    return arn.split(":", 5)[5].removeprefix("loadbalancer/")


def flush_metrics(account: str, region: str, t: float | None = None) -> None:
    """Puts the datapoints of the target groups with a profile, up to `t` (now)."""
    profiles = traffic.profiles(account, region)
    if not profiles:
        return
    from .. import config  # noqa: PLC0415 (avoids a cycle at import time)

    t = time.time() if t is None else t
    interval = config.get(account)["metrics_interval_seconds"]
    elbv2 = elbv2_backends[account][region]
    test_rules = _test_rules(account, region)
    cw = cloudwatch_backends[account][region]
    for profile in profiles:
        share, lb_arn = _share(elbv2, profile.target_group_arn, test_rules)
        points = traffic.take(profile, share if lb_arn else 0.0, t, interval)
        if not points:
            continue
        dims = [{"Name": "LoadBalancer", "Value": _dimension(lb_arn or "")},
                {"Name": "TargetGroup", "Value": _dimension(profile.target_group_arn)}]
        units = {"RequestCount": "Count", "HTTPCode_Target_5XX_Count": "Count",
                 "TargetResponseTime": "Seconds"}
        data = [
            {"MetricName": name, "Value": value, "Dimensions": dims, "Timestamp": _naive(ts),
             "Unit": units[name]}
            for ts, values in points for name, value in values.items()
        ]
        cw.put_metric_data(traffic.NAMESPACE, data)


def _advance_all(account: str, region: str) -> None:
    from .moto_patch import MotoBackend  # noqa: PLC0415 (moto_patch imports this module)
    from .scheduler import advance_backend  # noqa: PLC0415

    if account in ecs_backends and region in ecs_backends[account]:
        advance_backend(MotoBackend(ecs_backends[account][region]))


def _cw_advancing(name: str) -> Any:
    orig = _ORIG[name]

    def wrapper(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Any:
        from .scheduler import LOCK  # noqa: PLC0415

        with LOCK:
            _advance_all(self.account_id, self.region_name)
            flush_metrics(self.account_id, self.region_name)
            return orig(self, *args, **kwargs)

    wrapper.__name__ = name
    return wrapper


_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


def _statistic(self: Any, stat: str) -> Any:
    """moto's statistics, and pNN percentiles (nearest rank) over the values put."""
    m = _PERCENTILE.match(stat or "")
    if not m:
        return _ORIG["get_statistics_for_type"](self, stat)
    values = sorted(self.metric_single_values_list + [s.max for s in self.metric_aggregated_list])
    if not values:
        return None
    rank = max(1, min(len(values), int(-(-float(m.group(1)) * len(values) // 100))))
    return values[rank - 1]


# ---------------------------------------------------------------------------------------------
# ELBv2: rules are read after the model moved them


def _describe_rules(self: ELBv2Backend, *args: Any, **kwargs: Any) -> Any:
    from .scheduler import LOCK  # noqa: PLC0415

    with LOCK:
        _advance_all(self.account_id, self.region_name)
        return _ORIG["describe_rules"](self, *args, **kwargs)


def _modify_rule(self: ELBv2Backend, *args: Any, **kwargs: Any) -> Any:
    from .scheduler import LOCK  # noqa: PLC0415

    with LOCK:
        _advance_all(self.account_id, self.region_name)
        flush_metrics(self.account_id, self.region_name)
        return _ORIG["modify_rule"](self, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# ECS operations


def _service_of(backend: EC2ContainerServiceBackend, cluster: str | None, service: str) -> Any:
    if not cluster and service.startswith("arn:") and service.count("/") >= 2:
        cluster = service.split("/")[-2]
    return backend._get_service(cluster or "default", service.split("/")[-1])


def _locked(fn: Any) -> Any:
    def wrapper(self: EC2ContainerServiceResponse) -> Any:
        from .moto_patch import MotoBackend  # noqa: PLC0415
        from .scheduler import LOCK, advance_backend  # noqa: PLC0415

        with LOCK:
            backend = MotoBackend(self.ecs_backend)
            advance_backend(backend)
            try:
                return fn(self, backend)
            except native.NativeError as exc:
                raise _err(exc)

    wrapper.__name__ = fn.__name__
    return wrapper


def _not_found(arn: str) -> ECSException:
    return ECSException("ServiceDeploymentNotFoundException",
                        f"The service deployment {arn} was not found.")


@_locked
def list_service_deployments(self: EC2ContainerServiceResponse, backend: Any) -> Any:
    service = _service_of(self.ecs_backend, self._get_param("cluster"), self._get_param("service"))
    st = getattr(service, "_sandbox", None)
    statuses = self._get_param("status") or []
    created = self._get_param("createdAt") or {}
    max_results = self._get_param("maxResults")
    if max_results is not None and not 1 <= int(max_results) <= 100:
        raise ECSException("InvalidParameterException", "maxResults must be between 1 and 100.")
    limit = int(max_results or 20)
    token = self._get_param("nextToken")
    start = int(token) if token and str(token).isdigit() else 0
    found = native.list_for(st, statuses, _epoch(created.get("after")),
                            _epoch(created.get("before"))) if st is not None else []
    page = found[start:start + limit]
    out: dict[str, Any] = {"serviceDeployments": [sd.brief() for sd in page]}
    if start + limit < len(found):
        out["nextToken"] = str(start + limit)
    return ActionResult(out)


@_locked
def describe_service_deployments(self: EC2ContainerServiceResponse, backend: Any) -> Any:
    arns = self._get_param("serviceDeploymentArns") or []
    found, failures = [], []
    for arn in arns:
        hit = native.find(self.ecs_backend.services.values(), arn)
        if hit is None:
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            service, sd = hit
            found.append(sd.to_dict(service._sandbox))
    return ActionResult({"serviceDeployments": found, "failures": failures})


@_locked
def stop_service_deployment(self: EC2ContainerServiceResponse, backend: Any) -> Any:
    arn = self._get_param("serviceDeploymentArn")
    stop_type = self._get_param("stopType") or "ROLLBACK"
    if stop_type not in native.STOP_TYPES:
        raise ECSException("InvalidParameterException",
                           f"stopType must be one of {', '.join(native.STOP_TYPES)}.")
    hit = native.find(self.ecs_backend.services.values(), arn or "")
    if hit is None:
        raise _not_found(arn)
    service, sd = hit
    t = time.time()
    native.stop(backend, service, sd, stop_type, t)
    step = _Step(service, t)
    native.reconcile(backend, service, service._sandbox, step)
    step.flush()
    _publish(service, service._sandbox)
    return ActionResult({"serviceDeploymentArn": sd.arn})


@_locked
def continue_service_deployment(self: EC2ContainerServiceResponse, backend: Any) -> Any:
    arn = self._get_param("serviceDeploymentArn")
    hook_id = self._get_param("hookId")
    action = self._get_param("action") or "CONTINUE"
    if action not in native.HOOK_ACTIONS:
        raise ECSException("InvalidParameterException", "action must be CONTINUE or ROLLBACK.")
    hit = native.find(self.ecs_backend.services.values(), arn or "")
    if hit is None:
        raise _not_found(arn)
    service, sd = hit
    native.continue_(backend, service, sd, hook_id or "", action, time.time())
    _publish(service, service._sandbox)
    return ActionResult({"serviceDeploymentArn": sd.arn})


@_locked
def describe_service_revisions(self: EC2ContainerServiceResponse, backend: Any) -> Any:
    arns = self._get_param("serviceRevisionArns") or []
    out, failures = [], []
    for arn in arns:
        rev = _revision(self.ecs_backend, arn)
        if rev is None:
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            out.append(rev)
    return ActionResult({"serviceRevisions": out, "failures": failures})


def _revision(backend: EC2ContainerServiceBackend, arn: str) -> dict[str, Any] | None:
    for service in backend.services.values():
        st = getattr(service, "_sandbox", None)
        if st is None:
            continue
        for sd in st.service_deployments:
            if arn not in sd.revisions:
                continue
            td, created = sd.revisions[arn]
            out: dict[str, Any] = {
                "serviceRevisionArn": arn, "serviceArn": service.arn,
                "clusterArn": service.cluster_arn, "taskDefinition": td,
                "createdAt": datetime.fromtimestamp(created, tz=timezone.utc),
            }
            if service.launch_type:
                out["launchType"] = service.launch_type
                if service.launch_type == "FARGATE":
                    out["platformVersion"] = "1.4.0"
                    out["platformFamily"] = "Linux"
            if service.load_balancers:
                out["loadBalancers"] = [dict(lb) for lb in service.load_balancers]
            if service.network_configuration:
                out["networkConfiguration"] = service.network_configuration
            return out
    return None


_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    R = EC2ContainerServiceResponse
    R.list_service_deployments = list_service_deployments
    R.describe_service_deployments = describe_service_deployments
    R.stop_service_deployment = stop_service_deployment
    R.continue_service_deployment = continue_service_deployment
    R.describe_service_revisions = describe_service_revisions
    _ORIG["describe_rules"] = ELBv2Backend.describe_rules
    _ORIG["modify_rule"] = ELBv2Backend.modify_rule
    ELBv2Backend.describe_rules = _describe_rules
    ELBv2Backend.modify_rule = _modify_rule
    for name in ("get_metric_data", "get_metric_statistics", "list_metrics"):
        _ORIG[name] = getattr(CloudWatchBackend, name)
        setattr(CloudWatchBackend, name, _cw_advancing(name))
    _ORIG["get_statistics_for_type"] = cw_models.Statistics.get_statistics_for_type
    cw_models.Statistics.get_statistics_for_type = _statistic
