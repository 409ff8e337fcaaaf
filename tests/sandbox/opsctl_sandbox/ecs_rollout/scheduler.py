"""The scheduler: advances an account's model to the current time, replaying the due
transitions (tasks started or failed, drains ended, rollbacks; one-off tasks' steps, runs.py)
in time order, each step stamped with its own time, and the request lines running tasks
logged meanwhile; and the lock all of the sandbox's state is changed under.

Nothing runs in the background: the patched API calls (moto_patch) call `advance_backend`
first. Pure Python, like the model.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from . import native, runs
from .model import (
    DEACTIVATING,
    PENDING,
    RUNNING,
    Backend,
    ServiceState,
    _Step,
    _fail_task,
    _finish_stop,
    flush_requests,
    _prune,
    _publish,
    _rollback,
    _run_task,
)

# One lock for the whole sandbox state. The server holds it for the duration of every AWS
# request, so a response never shows a half-applied step; direct callers take it too.
LOCK = threading.RLock()


def _next_time(st: ServiceState) -> float | None:
    times = [tk.ready_at for tk in st.tasks if tk.last_status == PENDING]
    times += [tk.stop_at for tk in st.tasks if tk.last_status == DEACTIVATING and tk.stop_at is not None]
    times += [d.rollback_at for d in st.deployments if d.rollback_at is not None]
    return min(times) if times else None


def _due(backend: Backend, st: ServiceState) -> float | None:
    """The time of the service's next transition: its tasks' and deployments', and those of
    its native service deployment (stages, hooks, alarms)."""
    times = [x for x in (_next_time(st), native.next_time(backend, st)) if x is not None]
    return min(times) if times else None


def _apply_due(backend: Backend, service: Any, st: ServiceState,
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


def advance_service(backend: Backend, service: Any, now: float) -> None:
    st: ServiceState | None = getattr(service, "_sandbox", None)
    if st is None:
        return
    last, same = None, 0
    for _ in range(1_000_000):
        t = _due(backend, st)
        if t is None or t > now:
            break
        same = same + 1 if t == last else 0
        if same > 100:  # a transition that does not happen: leave it for a later request
            break
        last = t
        step = _Step(service, t)
        _apply_due(backend, service, st, step)
        native.reconcile(backend, service, st, step)
        step.flush()
        _prune(backend, service, st)
    for tk in st.tasks:
        if tk.last_status == RUNNING:
            flush_requests(backend, tk, now)
    _publish(service, st)


def advance_backend(backend: Backend, now: float | None = None) -> None:
    """Advances the services and the one-off tasks of an account and region to `now`."""
    with LOCK:
        now = time.time() if now is None else now
        for service in list(backend.services.values()):
            advance_service(backend, service, now)
        runs.advance(backend, now)


def _change(backend: Backend, service: Any, t: float) -> None:
    """Reconciles a service right after an API call changed it."""
    st: ServiceState = service._sandbox
    step = _Step(service, t)
    native.reconcile(backend, service, st, step)
    step.flush()
    _publish(service, st)


def settle(backend: Backend) -> None:
    """Fast-forwards every service of a backend to a steady state (moto_patch.settle_account)."""
    with LOCK:
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
                _due(backend, s._sandbox) is None or _due(backend, s._sandbox) > now
                for s in backend.services.values()
                if getattr(s, "_sandbox", None) is not None
            ):
                break
        for service in backend.services.values():
            st = getattr(service, "_sandbox", None)
            if st is not None:
                st.bulk_ready_at = None
