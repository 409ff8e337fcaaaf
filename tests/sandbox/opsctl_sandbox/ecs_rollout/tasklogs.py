"""What tasks write to CloudWatch Logs: where (the awslogs driver's group, region and stream
of each container) and which lines, for service tasks and one-off tasks alike.

Pure Python, like the model: the lines are handed to the model's `Backend.write_log`, which
puts them into moto's CloudWatch Logs (logs_patch). Lines look like the users service's own
(tracing's JSON, one object a line) so that a reader of `opsctl logs` sees what it would see
on AWS; the stack trace of a crash is one multi-line event, as the awslogs driver sends it.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

_MIGRATIONS_DIR = Path(__file__).resolve().parents[4] / "service" / "migrations"


def _migrations() -> tuple[str, ...]:
    """What a `migrate` command applies: the users service's migrations, named as its
    `users-service migrate` prints them (`0001 create users`)."""
    names = sorted(p.name for p in _MIGRATIONS_DIR.glob("*.sql") if not p.name.endswith(".down.sql"))
    out = []
    for name in names:
        version, _, description = name.removesuffix(".up.sql").removesuffix(".sql").partition("_")
        out.append(f"{int(version):04d} {description.replace('_', ' ')}" if version.isdigit() else name)
    return tuple(out) or ("0001 create users",)


MIGRATIONS = _migrations()


@dataclass(frozen=True)
class LogTarget:
    """Where one container's output goes, as the awslogs driver names it."""

    container: str
    region: str
    group: str
    stream: str  # PREFIX/CONTAINER/TASK_ID
    create_group: bool


def runtime_id(task_id: str, container: str) -> str:
    """The container's runtimeId (stable for a task and container within a server run)."""
    return f"{task_id}-{abs(hash(container)) % 10**10:010d}"


def targets(task_definition: Any, task_id: str, region: str) -> dict[str, LogTarget]:
    """The awslogs destinations of a task's containers (containers without one log nowhere).

    The stream is `PREFIX/CONTAINER/TASK_ID`, as ECS names it; without a prefix (allowed on
    EC2 only) the driver names it after the container's runtime id."""
    out: dict[str, LogTarget] = {}
    for cdef in task_definition.container_definitions:
        lc = cdef.get("logConfiguration") or {}
        options = lc.get("options") or {}
        if lc.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
            continue
        name = cdef.get("name") or ""
        prefix = options.get("awslogs-stream-prefix")
        stream = f"{prefix}/{name}/{task_id}" if prefix else runtime_id(task_id, name)
        out[name] = LogTarget(
            container=name,
            region=options.get("awslogs-region") or region,
            group=options["awslogs-group"],
            stream=stream,
            create_group=str(options.get("awslogs-create-group", "")).lower() == "true",
        )
    return out


def context(cdef: dict[str, Any]) -> dict[str, Any]:
    """What the lines of a container mention: its version, database and port."""
    from .model import image_tag  # the model imports this module

    env = {e.get("name"): e.get("value") for e in cdef.get("environment") or []}
    ports = [p.get("containerPort") for p in cdef.get("portMappings") or [] if p.get("containerPort")]
    db = f"{env.get('DB_HOST') or 'localhost'}:{env.get('DB_PORT') or 5432}/{env.get('DB_NAME') or 'users'}"
    return {"version": image_tag(cdef.get("image") or "") or "unknown", "database": db,
            "port": int(ports[0]) if ports else 8080}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def line(t: float, level: str, message: str, target: str = "users_service", **fields: Any) -> str:
    """One JSON line as the service's tracing subscriber writes it."""
    return json.dumps({"timestamp": _iso(t), "level": level, "message": message, **fields,
                       "target": target}, separators=(",", ":"))


# -- service tasks


def service_start(t: float, ctx: dict[str, Any]) -> list[str]:
    return [
        line(t, "INFO", "starting", version=ctx["version"]),
        line(t, "INFO", "database reachable, schema up to date", "users_service::startup",
             database=ctx["database"]),
        line(t, "INFO", "listening", "users_service::startup",
             address=f"0.0.0.0:{ctx['port']}", port=ctx["port"]),
    ]


def request(t: float) -> str:
    return line(t, "INFO", "request completed", "users_service::middleware",
                method="GET", path="/health", status=200,
                latency_ms=random.randint(1, 9), request_id=str(uuid.uuid4()))


def sigterm(t: float) -> str:
    return line(t, "INFO", "signal received", "users_service::startup", signal="SIGTERM")


def stopped(t: float) -> str:
    return line(t, "INFO", "stopped", "users_service::startup")


def crash(t: float, ctx: dict[str, Any]) -> list[str]:
    """A broken version: it starts, fails at once and panics (the ERROR line, then the trace)."""
    return [
        line(t, "INFO", "starting", version=ctx["version"]),
        line(t, "ERROR", "startup failed", "users_service",
             error="panicked at src/startup.rs:88:14: called `Result::unwrap()` on an `Err` "
                   "value: InvalidConfig(\"USERS_FEATURE_FLAGS\")"),
        "thread 'main' panicked at src/startup.rs:88:14:\n"
        "called `Result::unwrap()` on an `Err` value: InvalidConfig(\"USERS_FEATURE_FLAGS\")\n"
        "stack backtrace:\n"
        "   0: rust_begin_unwind\n"
        "   1: core::panicking::panic_fmt\n"
        "   2: core::result::unwrap_failed\n"
        "   3: users_service::startup::Application::build\n"
        "   4: users_service::main\n"
        "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.",
    ]


# -- one-off tasks (runs.py decides what a command does; these are its words)


def command_lines(command: str, ctx: dict[str, Any], exit_code: int,
                  seconds: float) -> list[tuple[float, str, str, dict[str, Any]]]:
    """(offset from the start, level, message, fields) of what a one-off command logs; the
    last one is logged as it exits."""
    out: list[tuple[float, str, str, dict[str, Any]]]
    if "migrate" in command:
        out = [(0.0, "INFO", "connecting to the database", {"database": ctx["database"]})]
        # a failing one applies all but the last
        applied = MIGRATIONS if exit_code == 0 else MIGRATIONS[:-1]
        for i, name in enumerate(applied):
            out.append((seconds * (i + 1) / (len(MIGRATIONS) + 1), "INFO", f"applied {name}", {}))
        if exit_code == 0:
            out.append((seconds, "INFO",
                        f"schema up to date: applied {len(MIGRATIONS)} of {len(MIGRATIONS)} migrations", {}))
        else:
            out.append((seconds, "ERROR", "migration failed", {
                "error": f"cannot migrate the database at {ctx['database']}: migration "
                         f"{MIGRATIONS[-1]} failed: error returned from database: deadlock "
                         "detected",
                "exit_code": exit_code}))
        return out
    out = [(0.0, "INFO", "running command", {"command": command})]
    if seconds > 0:
        out.append((seconds / 2, "INFO", "working", {}))
    if exit_code == 0:
        out.append((seconds, "INFO", "command finished", {"exit_code": 0}))
    else:
        out.append((seconds, "ERROR", "command failed", {
            "error": f"the command exited with status {exit_code}", "exit_code": exit_code}))
    return out


def ignoring_sigterm(t: float) -> str:
    return line(t, "WARN", "signal received, ignored", signal="SIGTERM")
