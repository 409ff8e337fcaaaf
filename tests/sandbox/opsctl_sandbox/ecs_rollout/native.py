"""Service deployments, and the native strategies (BLUE_GREEN, LINEAR, CANARY) ECS runs itself.

Every deployment a service gets (CreateService, an UpdateService that starts one, the circuit
breaker's rollback) is recorded as a *service deployment* (`ServiceDeployment`), which
ListServiceDeployments / DescribeServiceDeployments show. A ROLLING one follows its ECS
deployment: SUCCESSFUL once that COMPLETED, ROLLBACK_IN_PROGRESS / ROLLBACK_SUCCESSFUL when the
circuit breaker rolled it back, STOPPED when it failed without rollback or a newer one
superseded it.

A native one (the service's `deploymentConfiguration.strategy` is BLUE_GREEN, LINEAR or
CANARY, and there is a revision to move away from) drives the service's tasks itself through
the lifecycle stages, as ECS documents them:

  [RECONCILE_SERVICE] PRE_SCALE_UP SCALE_UP POST_SCALE_UP TEST_TRAFFIC_SHIFT
  POST_TEST_TRAFFIC_SHIFT PRODUCTION_TRAFFIC_SHIFT (per step, with PRE_PRODUCTION_TRAFFIC_SHIFT
  hooks before each) POST_PRODUCTION_TRAFFIC_SHIFT BAKE_TIME CLEAN_UP

The new ("green") revision's tasks start all at once and register in the target group not
taking production traffic (the alternate one, the first time); the listener rules named in
`loadBalancers[].advancedConfiguration` are rewritten for real (test rule 0 -> 100 to green,
production rule in one step, in LINEAR steps, or canary then the rest), then bake, then the
old ("blue") tasks drain. Lifecycle hooks run at their stages: PAUSE hooks wait for
ContinueServiceDeployment (or their timeout), AWS_LAMBDA hooks answer with the verdict the
control surface set for them (`set_hook_verdict`; SUCCEEDED unless told). Alarms in ALARM
(from scale-up to the end of the bake time), a hook's failure or timeout, the circuit breaker
(a failing image at scale-up) and StopServiceDeployment(ROLLBACK) roll back: production and
test traffic back to blue, green drained.

Pure Python, like the model: listener rules and alarms are reached through the `Backend`.
Times in minutes (bake times, hook timeouts) last `minute_seconds` each; a stage with nothing
to wait for lasts `stage_seconds` (config.py).
"""

from __future__ import annotations

import copy
import math
import random
import string
import threading
import uuid
from typing import Any

from .. import config
from .model import (
    DEACTIVATING,
    PENDING,
    RUNNING,
    Backend,
    Deployment,
    ServiceState,
    _Step,
    _dt,
    _find_deployment,
    _new_deployment,
    _reconcile,
    _start_task,
    _stop_task,
    breaker_threshold,
)

STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
NATIVE = ("BLUE_GREEN", "LINEAR", "CANARY")
HOOK_STAGES = (
    "RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
HOOK_TARGET_TYPES = ("AWS_LAMBDA", "PAUSE")
HOOK_ACTIONS = ("CONTINUE", "ROLLBACK")
HOOK_VERDICTS = ("SUCCEEDED", "FAILED", "IN_PROGRESS")
STOP_TYPES = ("ROLLBACK", "ABORT")
IN_PROGRESS = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED",
               "ROLLBACK_IN_PROGRESS")
MAX_SERVICE_DEPLOYMENTS = 100  # per service, newest kept

LINEAR_DEFAULTS = {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6}
CANARY_DEFAULTS = {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10}
HOOK_TIMEOUT_MINUTES = 1440

REASON_BREAKER = "Service deployment rolled back because the circuit breaker threshold was exceeded."
REASON_BREAKER_STOPPED = "Service deployment failed: the circuit breaker threshold was exceeded."


class NativeError(ValueError):
    """An API call the model refuses: (code, message), answered as ECS would."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


# ---------------------------------------------------------------------------------------------
# Lambda hook verdicts (the control surface sets them; no Lambda runs)

_verdicts: dict[str, dict[str, str]] = {}  # account -> hook target ARN or "*" -> verdict
_verdict_lock = threading.Lock()


def set_hook_verdict(account_id: str, target: str, verdict: str | None) -> dict[str, str]:
    with _verdict_lock:
        mine = _verdicts.setdefault(account_id, {})
        if verdict is None:
            mine.pop(target, None)
        else:
            mine[target] = verdict
        return dict(mine)


def hook_verdicts(account_id: str) -> dict[str, str]:
    with _verdict_lock:
        return dict(_verdicts.get(account_id, {}))


def _verdict(account_id: str, target_arn: str | None) -> str:
    mine = hook_verdicts(account_id)
    return mine.get(target_arn or "", mine.get("*", "SUCCEEDED"))


def reset() -> None:
    with _verdict_lock:
        _verdicts.clear()


# ---------------------------------------------------------------------------------------------
# Validation of a deploymentConfiguration and loadBalancers (CreateService, UpdateService)


def strategy_of(dc: dict[str, Any] | None) -> str:
    return (dc or {}).get("strategy") or "ROLLING"


def validate(dc: dict[str, Any] | None, load_balancers: list[dict[str, Any]] | None) -> None:
    dc = dc or {}
    strategy = strategy_of(dc)
    if strategy not in STRATEGIES:
        raise NativeError("InvalidParameterException",
                          f"Invalid deployment strategy {strategy!r}: use one of {', '.join(STRATEGIES)}.")
    bake = dc.get("bakeTimeInMinutes")
    if bake is not None and not 0 <= int(bake) <= 1440:
        raise NativeError("InvalidParameterException", "bakeTimeInMinutes must be between 0 and 1440.")
    lin = dc.get("linearConfiguration")
    if lin:
        if strategy != "LINEAR":
            raise NativeError("InvalidParameterException",
                              "linearConfiguration is only valid with the LINEAR deployment strategy.")
        step = lin.get("stepPercent")
        if step is not None and not 3.0 <= float(step) <= 100.0:
            raise NativeError("InvalidParameterException", "stepPercent must be between 3.0 and 100.0.")
        if lin.get("stepBakeTimeInMinutes") is not None and not 0 <= int(lin["stepBakeTimeInMinutes"]) <= 1440:
            raise NativeError("InvalidParameterException", "stepBakeTimeInMinutes must be between 0 and 1440.")
    can = dc.get("canaryConfiguration")
    if can:
        if strategy != "CANARY":
            raise NativeError("InvalidParameterException",
                              "canaryConfiguration is only valid with the CANARY deployment strategy.")
        pct = can.get("canaryPercent")
        if pct is not None and not 0.1 <= float(pct) <= 100.0:
            raise NativeError("InvalidParameterException", "canaryPercent must be between 0.1 and 100.0.")
        if can.get("canaryBakeTimeInMinutes") is not None and not 0 <= int(can["canaryBakeTimeInMinutes"]) <= 1440:
            raise NativeError("InvalidParameterException", "canaryBakeTimeInMinutes must be between 0 and 1440.")
    for hook in dc.get("lifecycleHooks") or []:
        kind = hook.get("targetType") or "AWS_LAMBDA"
        if kind not in HOOK_TARGET_TYPES:
            raise NativeError("InvalidParameterException", f"Invalid lifecycle hook targetType {kind!r}.")
        if kind == "AWS_LAMBDA" and not hook.get("hookTargetArn"):
            raise NativeError("InvalidParameterException",
                              "hookTargetArn is required for an AWS_LAMBDA lifecycle hook.")
        stages = hook.get("lifecycleStages") or []
        if not stages or any(s not in HOOK_STAGES for s in stages):
            raise NativeError("InvalidParameterException",
                              f"lifecycleStages must be some of {', '.join(HOOK_STAGES)}.")
        timeout = hook.get("timeoutConfiguration") or {}
        if timeout.get("action") is not None and timeout["action"] not in HOOK_ACTIONS:
            raise NativeError("InvalidParameterException", "timeoutConfiguration.action must be CONTINUE or ROLLBACK.")
    if strategy in NATIVE:
        for lb in load_balancers or []:
            adv = lb.get("advancedConfiguration") or {}
            missing = [k for k in ("alternateTargetGroupArn", "productionListenerRule", "roleArn")
                       if not adv.get(k)]
            if missing:
                raise NativeError(
                    "InvalidParameterException",
                    f"The {strategy} deployment strategy needs loadBalancers[].advancedConfiguration "
                    f"with {', '.join(missing)}.")


# ---------------------------------------------------------------------------------------------
# Model objects


def _sd_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(random.choices(alphabet, k=8)) + "-" + "".join(random.choices(alphabet + "_", k=11))


class HookRun:
    """One invocation of a lifecycle hook at a stage (lifecycleHookDetails)."""

    def __init__(self, hook: dict[str, Any], stage: str, t: float, minute: float, stage_s: float):
        self.id = str(uuid.uuid4())
        self.stage = stage
        self.target_type = hook.get("targetType") or "AWS_LAMBDA"
        self.target_arn = hook.get("hookTargetArn") if self.target_type == "AWS_LAMBDA" else None
        timeout = hook.get("timeoutConfiguration") or {}
        self.timeout_action = timeout.get("action") or "ROLLBACK"
        self.expires_at = t + float(timeout.get("timeoutInMinutes") or HOOK_TIMEOUT_MINUTES) * minute
        self.status = "AWAITING_ACTION" if self.target_type == "PAUSE" else "IN_PROGRESS"
        self.answer_at: float | None = t + stage_s if self.target_type == "AWS_LAMBDA" else None
        self.action: str | None = None  # CONTINUE or ROLLBACK once decided
        self.why = ""  # what decided it, for the deployment's statusReason

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hookId": self.id, "targetType": self.target_type}
        if self.target_arn:
            out["targetArn"] = self.target_arn
        out.update({"status": self.status, "expiresAt": _dt(self.expires_at),
                    "timeoutAction": self.timeout_action})
        return out


class Phase:
    def __init__(self, stage: str, kind: str, arg: Any = None, dwell: bool = False):
        self.stage, self.kind, self.arg, self.dwell = stage, kind, arg, dwell


class ServiceDeployment:
    def __init__(self, service: Any, target: Deployment, sources: list[Deployment],
                 dc: dict[str, Any], t: float):
        self.id = _sd_id()
        region, account = service.region_name, service._account_id
        self.arn = (f"arn:aws:ecs:{region}:{account}:service-deployment/"
                    f"{service.cluster_name}/{service.name}/{self.id}")
        self.service_arn = service.arn
        self.cluster_arn = service.cluster_arn
        self.created_at = t
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.stopped_at: float | None = None
        self.updated_at = t
        self.status = "PENDING"
        self.status_reason: str | None = None
        self.stage: str | None = None
        self.dc = copy.deepcopy(dc)
        self.strategy = strategy_of(dc)
        self.target_id = target.id
        self.target_revision = target.revision_arn
        self.target_requested = int(service.desired_count or 0)
        self.sources = [(d.id, d.revision_arn, d.desired_count) for d in sources]
        self.blue_id: str | None = sources[0].id if sources else None
        # revision ARN -> (task definition, created at), for DescribeServiceRevisions
        self.revisions = {d.revision_arn: (d.task_definition, d.created_at) for d in [target, *sources]}
        self.native = self.strategy in NATIVE and bool(sources)
        self.phases: list[Phase] = []
        self.phase = -1
        self.next_at: float | None = None
        self.hooks: list[HookRun] = []  # every invocation, oldest first
        self.current: list[HookRun] = []  # those of the current phase
        self.prod_weight = 0.0  # of the target revision, percent
        self.test_weight = 0.0
        self.rollback: dict[str, Any] | None = None
        self.triggered_alarms: list[str] = []
        self.breaker_triggered = False
        self._failures = 0  # the target's failed tasks, once its deployment is gone
        self.monitoring = False  # alarms watched (scale-up to the end of the bake time)
        self.frozen = False  # StopServiceDeployment(ABORT): nothing moves any more
        # (load balancer's targetGroupArn, green target group, blue target group, advancedConfiguration)
        self.routes: list[tuple[str, str, str, dict[str, Any]]] = []

    # -- what the API shows

    def _summary(self, st: ServiceState, dep_id: str, arn: str, requested: int,
                 prod: float, test: float) -> dict[str, Any]:
        mine = [tk for tk in st.tasks if tk.deployment_id == dep_id]
        out: dict[str, Any] = {
            "arn": arn,
            "requestedTaskCount": requested,
            "runningTaskCount": sum(1 for tk in mine if tk.last_status == RUNNING),
            "pendingTaskCount": sum(1 for tk in mine if tk.last_status == PENDING),
        }
        if self.native:
            out["requestedTestTrafficWeight"] = test
            out["requestedProductionTrafficWeight"] = prod
        return out

    def to_dict(self, st: ServiceState) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": _dt(self.created_at),
        }
        if self.started_at is not None:
            out["startedAt"] = _dt(self.started_at)
        if self.finished_at is not None:
            out["finishedAt"] = _dt(self.finished_at)
        if self.stopped_at is not None:
            out["stoppedAt"] = _dt(self.stopped_at)
        out["updatedAt"] = _dt(self.updated_at)
        out["sourceServiceRevisions"] = [
            self._summary(st, dep_id, arn, requested, 100.0 - self.prod_weight, 100.0 - self.test_weight)
            for dep_id, arn, requested in self.sources
        ]
        out["targetServiceRevision"] = self._summary(
            st, self.target_id, self.target_revision, self.target_requested, self.prod_weight,
            self.test_weight)
        out["status"] = self.status
        if self.status_reason:
            out["statusReason"] = self.status_reason
        if self.stage:
            out["lifecycleStage"] = self.stage
        if self.hooks:
            out["lifecycleHookDetails"] = [h.to_dict() for h in self.hooks]
        out["deploymentConfiguration"] = copy.deepcopy(self.dc)
        if self.rollback:
            out["rollback"] = {"reason": self.rollback["reason"],
                               "startedAt": _dt(self.rollback["startedAt"]),
                               "serviceRevisionArn": self.rollback["serviceRevisionArn"]}
        cb = self.dc.get("deploymentCircuitBreaker") or {}
        target = _find_deployment(st, self.target_id)
        failures = target.failed_tasks if target is not None else self._failures
        out["deploymentCircuitBreaker"] = {
            "status": self._monitor_status(bool(cb.get("enable")), self.breaker_triggered),
            "failureCount": failures,
            "threshold": breaker_threshold(self.target_requested),
        }
        alarms = self.dc.get("alarms") or {}
        a: dict[str, Any] = {
            "status": self._monitor_status(bool(alarms.get("enable")), bool(self.triggered_alarms)),
        }
        if alarms.get("enable"):
            a["alarmNames"] = list(alarms.get("alarmNames") or [])
            a["triggeredAlarmNames"] = list(self.triggered_alarms)
        out["alarms"] = a
        return out

    def _monitor_status(self, enabled: bool, triggered: bool) -> str:
        if not enabled:
            return "DISABLED"
        if triggered:
            return "TRIGGERED"
        return "MONITORING" if self.status in IN_PROGRESS else "MONITORING_COMPLETE"

    def brief(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
        }
        if self.started_at is not None:
            out["startedAt"] = _dt(self.started_at)
        out["createdAt"] = _dt(self.created_at)
        if self.finished_at is not None:
            out["finishedAt"] = _dt(self.finished_at)
        out["targetServiceRevisionArn"] = self.target_revision
        out["status"] = self.status
        if self.status_reason:
            out["statusReason"] = self.status_reason
        return out


# ---------------------------------------------------------------------------------------------
# Starting a service deployment


def _cfg(backend: Backend) -> tuple[float, float]:
    cfg = config.get(backend.account_id)
    return cfg["minute_seconds"], cfg["stage_seconds"]


def _steps(strategy: str, dc: dict[str, Any]) -> list[tuple[float, int]]:
    """Production traffic steps: (percent of the new revision, bake minutes after it)."""
    if strategy == "LINEAR":
        lin = {**LINEAR_DEFAULTS, **{k: v for k, v in (dc.get("linearConfiguration") or {}).items()
                                     if v is not None}}
        step = float(lin["stepPercent"])
        n = math.ceil(round(100.0 / step, 6))
        out = [(min(100.0, round(step * k, 1)), int(lin["stepBakeTimeInMinutes"])) for k in range(1, n + 1)]
        return [(p, b if p < 100.0 else 0) for p, b in out]
    if strategy == "CANARY":
        can = {**CANARY_DEFAULTS, **{k: v for k, v in (dc.get("canaryConfiguration") or {}).items()
                                     if v is not None}}
        pct = float(can["canaryPercent"])
        if pct >= 100.0:
            return [(100.0, 0)]
        return [(pct, int(can["canaryBakeTimeInMinutes"])), (100.0, 0)]
    return [(100.0, 0)]


def _phases(sd: ServiceDeployment, reconcile: bool) -> list[Phase]:
    P: list[Phase] = []
    if reconcile:
        P.append(Phase("RECONCILE_SERVICE", "hooks", "RECONCILE_SERVICE", dwell=True))
    P += [
        Phase("PRE_SCALE_UP", "hooks", "PRE_SCALE_UP", dwell=True),
        Phase("SCALE_UP", "scale_up"),
        Phase("POST_SCALE_UP", "hooks", "POST_SCALE_UP", dwell=True),
        Phase("TEST_TRAFFIC_SHIFT", "test_shift", dwell=True),
        Phase("TEST_TRAFFIC_SHIFT", "hooks", "TEST_TRAFFIC_SHIFT"),
        Phase("POST_TEST_TRAFFIC_SHIFT", "hooks", "POST_TEST_TRAFFIC_SHIFT", dwell=True),
    ]
    for pct, bake in _steps(sd.strategy, sd.dc):
        P += [
            Phase("PRODUCTION_TRAFFIC_SHIFT", "hooks", "PRE_PRODUCTION_TRAFFIC_SHIFT"),
            Phase("PRODUCTION_TRAFFIC_SHIFT", "shift", pct, dwell=True),
            Phase("PRODUCTION_TRAFFIC_SHIFT", "hooks", "PRODUCTION_TRAFFIC_SHIFT"),
        ]
        if bake:
            P.append(Phase("PRODUCTION_TRAFFIC_SHIFT", "bake", bake))
    P += [
        Phase("POST_PRODUCTION_TRAFFIC_SHIFT", "hooks", "POST_PRODUCTION_TRAFFIC_SHIFT", dwell=True),
        Phase("BAKE_TIME", "bake", int(sd.dc.get("bakeTimeInMinutes") or 0)),
        Phase("CLEAN_UP", "clean_up"),
    ]
    return P


def _blue(st: ServiceState, target: Deployment) -> Deployment | None:
    """The deployment serving production now: the one whose tasks are in the live target
    groups, newest first; else the newest other one."""
    others = [d for d in st.deployments if d is not target]
    for d in others:
        live = {k: v for k, v in st.live_tg.items() if k != v}
        if d.tg_map == live and any(tk.deployment_id == d.id for tk in st.alive()):
            return d
    return others[0] if others else None


def begin(backend: Backend, service: Any, st: ServiceState, target: Deployment, t: float) -> ServiceDeployment:
    """Records the service deployment of a deployment just created (the newest, PRIMARY)."""
    for old in st.service_deployments:
        if old.status in IN_PROGRESS:
            _finish(old, "STOPPED", t, "Stopped: a newer service deployment superseded it.")
            old.stopped_at = t
    st.native = None
    blue = _blue(st, target)
    sources = [blue] + [d for d in st.deployments if d is not target and d is not blue] if blue else []
    dc = getattr(service, "deployment_configuration", None) or {}
    sd = ServiceDeployment(service, target, sources, dc, t)
    st.service_deployments.insert(0, sd)
    del st.service_deployments[MAX_SERVICE_DEPLOYMENTS:]
    if not sd.native:
        sd.status, sd.started_at = "IN_PROGRESS", t
        return sd
    minute, stage_s = _cfg(backend)
    assert blue is not None
    for lb in service.load_balancers or []:
        primary = lb.get("targetGroupArn")
        adv = lb.get("advancedConfiguration") or {}
        alt = adv.get("alternateTargetGroupArn")
        if not primary or not alt:
            continue
        live = st.live_tg.get(primary, primary)
        green = alt if live == primary else primary
        sd.routes.append((primary, green, live, adv))
        target.tg_map[primary] = green
    sd.phases = _phases(sd, reconcile=len(sources) > 1)
    sd.next_at = t + stage_s  # PENDING, then IN_PROGRESS
    st.native = sd
    return sd


# ---------------------------------------------------------------------------------------------
# Driving a native service deployment


def _finish(sd: ServiceDeployment, status: str, t: float, reason: str | None = None) -> None:
    sd.status = status
    if reason:
        sd.status_reason = reason
    sd.finished_at = t
    sd.updated_at = t
    sd.next_at = None
    sd.monitoring = False


def _set_weights(backend: Backend, sd: ServiceDeployment, prod: float | None, test: float | None,
                 t: float) -> None:
    for _primary, green, blue, adv in sd.routes:
        for rule, pct in ((adv.get("productionListenerRule"), prod), (adv.get("testListenerRule"), test)):
            if rule and pct is not None:
                g = int(round(pct))
                backend.set_forward_weights(rule, {blue: 100 - g, green: g}, t)
    if prod is not None:
        sd.prod_weight = float(prod)
    if test is not None:
        sd.test_weight = float(test)


def request_rollback(backend: Backend, service: Any, st: ServiceState, sd: ServiceDeployment,
                     reason: str, t: float) -> None:
    _, stage_s = _cfg(backend)
    source = sd.sources[0] if sd.sources else None
    if source is None:
        _finish(sd, "STOPPED", t, reason)
        sd.stopped_at = t
        return
    sd.status = "ROLLBACK_REQUESTED"
    sd.status_reason = reason
    sd.rollback = {"reason": reason, "startedAt": t, "serviceRevisionArn": source[1]}
    sd.updated_at = t
    sd.monitoring = False
    sd.frozen = False
    sd.current = []
    sd.next_at = t + stage_s


def _begin_rollback(backend: Backend, service: Any, st: ServiceState, sd: ServiceDeployment,
                    step: _Step) -> None:
    t = step.t
    target = _find_deployment(st, sd.target_id)
    blue = _find_deployment(st, sd.blue_id or "")
    desired = int(service.desired_count or 0)
    if blue is None or (desired > 0 and not any(tk.last_status == RUNNING for tk in st.alive(blue))):
        _finish(sd, "ROLLBACK_FAILED", t,
                (sd.status_reason or "") + " Rollback failed: the source service revision has no running tasks.")
        if st.native is sd:
            st.native = None
        return
    sd.status = "ROLLBACK_IN_PROGRESS"
    sd.updated_at = t
    sd.next_at = None
    _set_weights(backend, sd, 0.0, 0.0, t)
    # blue is the primary deployment again; green drains as an old one
    st.deployments = [blue] + [d for d in st.deployments if d is not blue]
    blue.status = "PRIMARY"
    blue.updated_at = t
    service.task_definition = blue.task_definition
    if target is not None:
        target.status = "ACTIVE"
        if target.rollout_state == "IN_PROGRESS":
            target.rollout_state = "FAILED"
            target.rollout_state_reason = f"ECS deployment {target.id} rolled back: {sd.status_reason}"
        target.updated_at = t
        for tk in st.alive(target):
            _stop_task(backend, st, tk, f"Scaling activity initiated by (deployment {target.id})", step)
    step.first.append(f"(service {service.name}) rolling back to deployment {blue.id}.")
    st.steady = False
    if st.native is sd:
        st.native = None  # the rolling reconcile drains green and settles blue


def _enter(backend: Backend, service: Any, st: ServiceState, sd: ServiceDeployment,
           step: _Step) -> None:
    t = step.t
    minute, stage_s = _cfg(backend)
    ph = sd.phases[sd.phase]
    sd.stage = ph.stage
    sd.updated_at = t
    sd.next_at = None
    sd.current = []
    if ph.kind == "hooks":
        hooks = [h for h in sd.dc.get("lifecycleHooks") or [] if ph.arg in (h.get("lifecycleStages") or [])]
        sd.current = [HookRun(h, ph.arg, t, minute, stage_s) for h in hooks]
        sd.hooks.extend(sd.current)
        if not sd.current:
            sd.next_at = t + (stage_s if ph.dwell else 0.0)
    elif ph.kind == "scale_up":
        sd.monitoring = True
    elif ph.kind == "test_shift":
        _set_weights(backend, sd, None, 100.0, t)
        sd.next_at = t + stage_s
    elif ph.kind == "shift":
        _set_weights(backend, sd, float(ph.arg), None, t)
        sd.next_at = t + stage_s
    elif ph.kind == "bake":
        sd.next_at = t + float(ph.arg) * minute
    elif ph.kind == "clean_up":
        sd.monitoring = False
        blue = _find_deployment(st, sd.blue_id or "")
        for dep_id, _arn, _n in sd.sources:
            dep = _find_deployment(st, dep_id)
            if dep is None:
                continue
            for tk in st.alive(dep):
                _stop_task(backend, st, tk, f"Scaling activity initiated by (deployment {dep.id})", step)
        for primary, green, _blue_tg, _adv in sd.routes:
            st.live_tg[primary] = green
        _ = blue
        st.native = None  # the rolling reconcile completes the deployment once blue is gone


def _hooks_outcome(backend: Backend, sd: ServiceDeployment, t: float) -> str | None:
    """'CONTINUE', 'ROLLBACK' (with sd.status_reason set), or None while waiting."""
    _, stage_s = _cfg(backend)
    for h in sd.current:
        if h.status in ("SUCCEEDED", "FAILED", "TIMED_OUT"):
            continue
        if h.target_type == "AWS_LAMBDA" and h.answer_at is not None and h.answer_at <= t:
            verdict = _verdict(backend.account_id, h.target_arn)
            if verdict == "SUCCEEDED":
                h.status, h.action = "SUCCEEDED", "CONTINUE"
            elif verdict == "FAILED":
                h.status, h.action, h.why = "FAILED", "ROLLBACK", "failed"
            else:
                h.answer_at = t + max(stage_s, 0.05)  # invoked again later
        if h.status in ("IN_PROGRESS", "AWAITING_ACTION") and h.expires_at <= t:
            h.status, h.action, h.why = "TIMED_OUT", h.timeout_action, "timed out"
    if any(h.action == "ROLLBACK" for h in sd.current):
        bad = next(h for h in sd.current if h.action == "ROLLBACK")
        what = bad.target_arn or "PAUSE"
        sd.status_reason = (f"Service deployment rolled back because the {bad.stage} lifecycle "
                            f"hook ({what}) {bad.why}.")
        return "ROLLBACK"
    if all(h.action == "CONTINUE" for h in sd.current):
        return "CONTINUE"
    return None


def _next_hook_time(sd: ServiceDeployment) -> float | None:
    times = []
    for h in sd.current:
        if h.status in ("IN_PROGRESS", "AWAITING_ACTION"):
            times.append(h.expires_at)
            if h.answer_at is not None:
                times.append(h.answer_at)
    return min(times) if times else None


def _alarm_hits(backend: Backend, sd: ServiceDeployment, t: float) -> list[str]:
    alarms = sd.dc.get("alarms") or {}
    names = list(alarms.get("alarmNames") or [])
    if not alarms.get("enable") or not names:
        return []
    states = backend.alarm_states(names)
    return [n for n in names if states.get(n, ("", 0.0))[0] == "ALARM" and states[n][1] <= t]


def _alarm_time(backend: Backend, sd: ServiceDeployment) -> float | None:
    alarms = sd.dc.get("alarms") or {}
    names = list(alarms.get("alarmNames") or [])
    if not sd.monitoring or not alarms.get("enable") or not names:
        return None
    states = backend.alarm_states(names)
    times = [ts for n, (state, ts) in states.items() if state == "ALARM"]
    return max(min(times), sd.updated_at) if times else None


def _drive(backend: Backend, service: Any, st: ServiceState, sd: ServiceDeployment,
           step: _Step) -> None:
    t = step.t
    for _ in range(200):
        if sd.status == "PENDING":
            if sd.next_at is None or sd.next_at > t:
                return
            sd.status, sd.started_at, sd.updated_at = "IN_PROGRESS", t, t
            sd.phase = 0
            _enter(backend, service, st, sd, step)
            continue
        if sd.status == "ROLLBACK_REQUESTED":
            if sd.next_at is not None and sd.next_at <= t:
                _begin_rollback(backend, service, st, sd, step)
            return
        if sd.status == "STOP_REQUESTED":
            if sd.next_at is not None and sd.next_at <= t:
                _finish(sd, "STOPPED", t)
                sd.stopped_at = t
                sd.frozen = True
            return
        if sd.status != "IN_PROGRESS" or sd.frozen:
            return
        # failure detection
        if sd.monitoring:
            hits = _alarm_hits(backend, sd, t)
            if hits:
                sd.triggered_alarms = hits
                alarms = sd.dc.get("alarms") or {}
                reason = ("Service deployment rolled back because the CloudWatch alarm(s) "
                          f"{', '.join(hits)} went into ALARM.")
                if alarms.get("rollback"):
                    request_rollback(backend, service, st, sd, reason, t)
                else:
                    _finish(sd, "STOPPED", t, reason.replace("rolled back", "stopped"))
                    sd.stopped_at = t
                    sd.frozen = True
                return
        target = _find_deployment(st, sd.target_id)
        if target is not None:
            sd._failures = target.failed_tasks
        if target is not None and target.rollout_state == "FAILED":
            sd.breaker_triggered = True
            cb = sd.dc.get("deploymentCircuitBreaker") or {}
            if cb.get("rollback"):
                request_rollback(backend, service, st, sd, REASON_BREAKER, t)
            else:
                _finish(sd, "STOPPED", t, REASON_BREAKER_STOPPED)
                sd.stopped_at = t
                sd.frozen = True
            return
        ph = sd.phases[sd.phase]
        done = False
        if ph.kind == "hooks" and sd.current:
            outcome = _hooks_outcome(backend, sd, t)
            if outcome == "ROLLBACK":
                request_rollback(backend, service, st, sd, sd.status_reason or "hook", t)
                return
            done = outcome == "CONTINUE"
        elif ph.kind == "scale_up":
            desired = int(service.desired_count or 0)
            mine = st.alive(target) if target is not None else []
            done = len(mine) >= desired and all(tk.last_status == RUNNING for tk in mine)
        elif ph.kind == "clean_up":
            return
        else:
            done = sd.next_at is not None and sd.next_at <= t
        if not done:
            return
        sd.phase += 1
        _enter(backend, service, st, sd, step)
        if st.native is not sd:
            return


def _native_tasks(backend: Backend, service: Any, st: ServiceState, sd: ServiceDeployment,
                  step: _Step) -> None:
    """Task counts while a native deployment drives them: green at the desired count from
    scale-up on, blue as it was, any other revision (RECONCILE_SERVICE) stopped."""
    t = step.t
    desired = int(service.desired_count or 0)
    target = st.deployments[0]
    if target.desired_count != desired:
        target.desired_count = desired
        target.updated_at = t
    scaling = sd.phase >= 0 and any(p.kind == "scale_up" for p in sd.phases[: sd.phase + 1])
    mine = st.alive(target)
    if len(mine) > desired:
        extra = sorted(mine, key=lambda tk: (tk.last_status != PENDING, -tk.created_at.timestamp()))
        for tk in extra[: len(mine) - desired]:
            _stop_task(backend, st, tk, f"Scaling activity initiated by (deployment {target.id})", step)
    elif scaling and target.rollout_state != "FAILED" and not sd.frozen:
        for _ in range(desired - len(mine)):
            _start_task(backend, service, st, target, step)
    for dep in st.deployments[1:]:
        if dep.id == sd.blue_id:
            left = len(st.alive(dep))
            if dep.desired_count != left:
                dep.desired_count, dep.updated_at = left, t
            continue
        for tk in st.alive(dep):
            _stop_task(backend, st, tk, f"Scaling activity initiated by (deployment {dep.id})", step)
        dep.desired_count = 0
        if not any(tk.deployment_id == dep.id for tk in st.draining()):
            dep.status = "INACTIVE"
    st.deployments = [d for d in st.deployments if d.status != "INACTIVE"]


def _sync(st: ServiceState, t: float) -> None:
    """Service deployments that follow their ECS deployment (rolling ones, and native ones
    once clean-up or a rollback handed the tasks back to the rolling reconcile)."""
    for sd in st.service_deployments:
        if sd.status not in IN_PROGRESS or st.native is sd:
            continue
        target = _find_deployment(st, sd.target_id)
        if st.deleting and sd.status in ("PENDING", "IN_PROGRESS"):
            _finish(sd, "STOPPED", t, "Stopped: the service is being deleted.")
            sd.stopped_at = t
            continue
        if sd.status == "ROLLBACK_IN_PROGRESS":
            if sd.native:
                if target is None:
                    _finish(sd, "ROLLBACK_SUCCESSFUL", t)
                continue
            if not sd.rollback or not sd.rollback.get("deployment"):
                continue  # the circuit breaker's rollback deployment is not there yet
            back = _find_deployment(st, sd.rollback["deployment"])
            if back is not None and back.rollout_state == "COMPLETED":
                _finish(sd, "ROLLBACK_SUCCESSFUL", t)
            elif back is not None and back.rollout_state == "FAILED":
                _finish(sd, "ROLLBACK_FAILED", t)
            elif back is None:
                _finish(sd, "ROLLBACK_SUCCESSFUL", t)
            continue
        if sd.status != "IN_PROGRESS" or sd.frozen:
            continue
        if target is None:
            continue
        if target.rollout_state == "COMPLETED":
            _finish(sd, "SUCCESSFUL", t)
        elif target.rollout_state == "FAILED":
            sd.breaker_triggered = True
            sd._failures = target.failed_tasks
            if target.rolled_back_to or target.rollback_at is not None:
                back = _find_deployment(st, target.rolled_back_to or "")
                sd.status = "ROLLBACK_IN_PROGRESS"
                sd.status_reason = REASON_BREAKER
                sd.updated_at = t
                sd.rollback = {"reason": REASON_BREAKER, "startedAt": t,
                               "serviceRevisionArn": back.revision_arn if back else
                               (sd.sources[0][1] if sd.sources else target.revision_arn),
                               "deployment": back.id if back else ""}
            else:
                _finish(sd, "STOPPED", t, REASON_BREAKER_STOPPED)
                sd.stopped_at = t
    # the circuit breaker's rollback deployment names its revision once it exists
    for sd in st.service_deployments:
        if sd.status == "ROLLBACK_IN_PROGRESS" and sd.rollback and not sd.native \
                and not sd.rollback.get("deployment"):
            back = _find_deployment(st, st.rolled_back.get(sd.target_id, ""))
            if back is not None:
                sd.rollback["deployment"] = back.id
                sd.rollback["serviceRevisionArn"] = back.revision_arn
                sd.revisions[back.revision_arn] = (back.task_definition, back.created_at)


def reconcile(backend: Backend, service: Any, st: ServiceState, step: _Step) -> None:
    """The service's reconcile step: the native deployment's, else the rolling one's."""
    sd = st.native
    if sd is not None and not st.deleting:
        _drive(backend, service, st, sd, step)
        if st.native is sd:
            _native_tasks(backend, service, st, sd, step)
            _sync(st, step.t)
            return
    elif sd is not None:
        st.native = None
    _reconcile(backend, service, st, step)
    _sync(st, step.t)


def next_time(backend: Backend, st: ServiceState) -> float | None:
    sd = st.native
    if sd is None:
        return None
    times = [x for x in (sd.next_at, _next_hook_time(sd), _alarm_time(backend, sd)) if x is not None]
    return min(times) if times else None


# ---------------------------------------------------------------------------------------------
# API operations (the patch module calls these under the lock, after advancing)


def find(services: Any, arn: str) -> tuple[Any, ServiceDeployment] | None:
    for service in services:
        st = getattr(service, "_sandbox", None)
        if st is None:
            continue
        for sd in st.service_deployments:
            if sd.arn == arn:
                return service, sd
    return None


def stop(backend: Backend, service: Any, sd: ServiceDeployment, stop_type: str, t: float) -> None:
    st: ServiceState = service._sandbox
    if sd.status not in ("PENDING", "IN_PROGRESS") or (sd.frozen and stop_type != "ROLLBACK"):
        raise NativeError("ConflictException",
                          f"The service deployment is {sd.status} and cannot be stopped.")
    _, stage_s = _cfg(backend)
    if stop_type == "ROLLBACK":
        reason = "Service deployment rolled back by a StopServiceDeployment request."
        if sd.native:
            if st.native is not sd:  # clean-up already begun: too late
                raise NativeError("ConflictException",
                                  "The service deployment is cleaning up and can no longer be rolled back.")
            request_rollback(backend, service, st, sd, reason, t)
            return
        if st.last_completed is None or sd.target_id == st.last_completed[0]:
            raise NativeError("ConflictException", "There is no service revision to roll back to.")
        target = _find_deployment(st, sd.target_id)
        sd.status, sd.status_reason, sd.updated_at = "ROLLBACK_IN_PROGRESS", reason, t
        step = _Step(service, t)
        back = _new_deployment(service, st, st.last_completed[1], t)
        if target is not None:
            target.rolled_back_to = back.id
            target.rollout_state = "FAILED"
            target.rollout_state_reason = f"ECS deployment {target.id} rolled back: {reason}"
        sd.rollback = {"reason": reason, "startedAt": t, "serviceRevisionArn": back.revision_arn,
                       "deployment": back.id}
        sd.revisions[back.revision_arn] = (back.task_definition, back.created_at)
        step.first.append(f"(service {service.name}) rolling back to deployment {st.last_completed[0]}.")
        reconcile(backend, service, st, step)
        step.flush()
        return
    sd.status, sd.updated_at = "STOP_REQUESTED", t
    sd.status_reason = "Service deployment stopped by a StopServiceDeployment request."
    sd.next_at = t + stage_s
    sd.monitoring = False
    sd.current = []
    if not sd.native:
        _finish(sd, "STOPPED", t)
        sd.stopped_at = t


def continue_(backend: Backend, service: Any, sd: ServiceDeployment, hook_id: str, action: str,
              t: float) -> None:
    st: ServiceState = service._sandbox
    hook = next((h for h in sd.hooks if h.id == hook_id), None)
    if hook is None:
        raise NativeError("InvalidParameterException",
                          f"The lifecycle hook {hook_id} was not found in the service deployment.")
    if sd.status != "IN_PROGRESS" or hook not in sd.current or hook.status != "AWAITING_ACTION":
        raise NativeError("InvalidParameterException",
                          f"The lifecycle hook {hook_id} is not awaiting action (status {hook.status}).")
    hook.action = action
    hook.status = "SUCCEEDED" if action == "CONTINUE" else "FAILED"
    hook.why = "was answered ROLLBACK"
    sd.updated_at = t
    step = _Step(service, t)
    reconcile(backend, service, st, step)
    step.flush()


def list_for(st: ServiceState, statuses: list[str] | None, after: float | None,
             before: float | None) -> list[ServiceDeployment]:
    out = []
    for sd in st.service_deployments:
        if statuses and sd.status not in statuses:
            continue
        if after is not None and sd.created_at < after:
            continue
        if before is not None and sd.created_at > before:
            continue
        out.append(sd)
    return out


assert DEACTIVATING  # re-exported for the patch module's use
