"""Per-account behaviour of the sandbox.

Every account starts from the server-wide defaults; `POST /_sandbox/config` with an
`account_id` overrides keys for that account only, without one it changes the defaults.
"""

from __future__ import annotations

import re
import threading
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Tasks whose essential containers' image tag matches this regex (re.search) never start.
    "failure_pattern": "broken",
    # How a failing task dies: "exit" (the container starts and exits 1) or "pull"
    # (CannotPullContainerError, the container never starts).
    "failure_mode": "exit",
    # PENDING -> RUNNING (or -> STOPPED for a failing task).
    "task_start_seconds": 1.0,
    # A stopped running task drains (lastStatus DEACTIVATING, target draining) this long; a
    # one-off task that ended is DEPROVISIONING this long before it is STOPPED.
    "task_stop_seconds": 0.5,
    # One-off tasks (RunTask): how long the command runs when it says no `sleep=S`.
    "run_task_seconds": 1.0,
    # StopTask: how long ECS waits for a container that ignores SIGTERM before SIGKILL (the
    # containers' stopTimeout, 30 s on ECS by default).
    "stop_timeout_seconds": 2.0,
    # A running service task logs a request line this often (0: never).
    "log_request_seconds": 5.0,
    # After the circuit breaker trips, how long the FAILED deployment stays PRIMARY before
    # ECS creates the rollback deployment (when the breaker's rollback is on).
    "rollback_delay_seconds": 2.0,
    # Native (BLUE_GREEN, LINEAR, CANARY) service deployments: one minute of the API's
    # *InMinutes settings (bake times, hook timeouts) lasts this many seconds.
    "minute_seconds": 2.0,
    # How long a lifecycle stage without a waiting hook lasts (a traffic shift taking
    # effect, a Lambda hook answering, a requested rollback starting).
    "stage_seconds": 0.5,
    # Seeded CloudWatch datapoints (POST /_sandbox/metrics): one per target group and
    # metric every this many seconds while the target group takes production traffic.
    "metrics_interval_seconds": 1.0,
    # RDS (rds_dr): how long a CopyDBSnapshot stays `creating` (PercentProgress rising).
    "db_snapshot_copy_seconds": 5.0,
    # How long RebootDBInstance keeps an instance `rebooting`; with ForceFailover, the failover.
    "db_reboot_seconds": 2.0,
    "db_failover_seconds": 4.0,
    # LatestRestorableTime trails the present by this much (RDS: up to five minutes).
    "db_restorable_lag_seconds": 5.0,
}

_FLOAT_KEYS = ("task_start_seconds", "task_stop_seconds", "run_task_seconds",
               "stop_timeout_seconds", "log_request_seconds", "rollback_delay_seconds",
               "minute_seconds", "stage_seconds", "metrics_interval_seconds",
               "db_snapshot_copy_seconds", "db_reboot_seconds", "db_failover_seconds",
               "db_restorable_lag_seconds")
_FAILURE_MODES = ("exit", "pull")

_lock = threading.RLock()
_defaults: dict[str, Any] = dict(DEFAULTS)
_accounts: dict[str, dict[str, Any]] = {}


class ConfigError(ValueError):
    pass


def validate(changes: dict[str, Any]) -> dict[str, Any]:
    """Checks and normalises a partial config; raises ConfigError."""
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in DEFAULTS:
            raise ConfigError(f"unknown config key {key!r}; known: {', '.join(sorted(DEFAULTS))}")
        if key in _FLOAT_KEYS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{key} must be a number of seconds")
            if value < 0 or value > 3600:
                raise ConfigError(f"{key} must be between 0 and 3600")
            if key == "metrics_interval_seconds" and value < 0.1:
                raise ConfigError("metrics_interval_seconds must be at least 0.1")
            if key == "log_request_seconds" and 0 < value < 0.1:
                raise ConfigError("log_request_seconds must be 0 (no request lines) or at least 0.1")
            out[key] = float(value)
        elif key == "failure_pattern":
            if not isinstance(value, str):
                raise ConfigError("failure_pattern must be a string (a regular expression)")
            try:
                re.compile(value)
            except re.error as exc:
                raise ConfigError(f"failure_pattern is not a valid regular expression: {exc}")
            out[key] = value
        elif key == "failure_mode":
            if value not in _FAILURE_MODES:
                raise ConfigError(f"failure_mode must be one of {', '.join(_FAILURE_MODES)}")
            out[key] = value
    return out


def get(account_id: str | None) -> dict[str, Any]:
    with _lock:
        eff = dict(_defaults)
        if account_id:
            eff.update(_accounts.get(account_id, {}))
        return eff


def update(account_id: str | None, changes: dict[str, Any]) -> dict[str, Any]:
    clean = validate(changes)
    with _lock:
        if account_id:
            _accounts.setdefault(account_id, {}).update(clean)
        else:
            _defaults.update(clean)
    return get(account_id)


def reset_accounts() -> None:
    """Forgets the per-account overrides (moto's reset); the server-wide defaults stay."""
    with _lock:
        _accounts.clear()
