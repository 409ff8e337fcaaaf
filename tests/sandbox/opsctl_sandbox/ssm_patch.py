"""Parameter Store as opsctl's deploy lock relies on it: PutParameter without Overwrite is
atomic, as on AWS.

moto checks whether the name exists and then appends the new version in two steps, so two
requests served at once by the threaded server can both create it. The deploy lock is exactly
that race (20 jobs creating the same record at once): each create, overwrite and delete of a
parameter is serialised here, so of two creators exactly one succeeds and the other gets
ParameterAlreadyExists, as AWS answers.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable

from moto.ssm.models import SimpleSystemManagerBackend

_LOCK = threading.Lock()
_applied = False


def _serialised(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return fn(*args, **kwargs)

    return wrapper


def apply() -> None:
    """Installs the patch (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    for name in ("put_parameter", "delete_parameter", "delete_parameters"):
        setattr(SimpleSystemManagerBackend, name,
                _serialised(getattr(SimpleSystemManagerBackend, name)))
