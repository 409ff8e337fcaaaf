"""RDS disaster-recovery behaviour: snapshot copies that take time, reboots and Multi-AZ
failovers that take time, and the restorable window of an instance's automated backups.

No moto imports: `rds_patch` feeds this model moto's objects' plain values and applies what
it answers. Time is wall-clock seconds (`time.time()`); nothing runs in the background, each
RDS request first brings its account's state up to date (`rds_patch`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

# What the sandbox says in DescribeEvents (SourceType db-instance), as RDS words it.
FAILOVER_STARTED = "Multi-AZ instance failover started"
FAILOVER_COMPLETED = "Multi-AZ instance failover completed"
RESTARTED = "DB instance restarted"
SHUTDOWN = "DB instance shutdown"

# Event types added to moto's event map: type -> (categories, message).
EVENTS = {
    "DB_INSTANCE_FAILOVER_START": (["failover"], FAILOVER_STARTED),
    "DB_INSTANCE_FAILOVER_FINISH": (["failover"], FAILOVER_COMPLETED),
    "DB_INSTANCE_SHUTDOWN": (["availability"], SHUTDOWN),
    "DB_INSTANCE_RESTART": (["availability"], RESTARTED),
    "DB_SNAPSHOT_COPY_START": (["creation"], "Started copy of snapshot {source} from region {region}"),
    "DB_SNAPSHOT_COPY_FINISH": (["creation"], "Finished copy of snapshot {source} from region {region}"),
}


def utc(ts: float) -> datetime:
    """A wall-clock time as moto keeps times: a naive UTC datetime."""
    return datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None)


def epoch(dt: datetime) -> float:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


# --- snapshot copies


@dataclass
class Copy:
    """A snapshot copy under way: `creating` with PercentProgress rising linearly from 0 to
    100 over `seconds`, then `available`."""

    started: float
    seconds: float
    source_arn: str
    source_region: str
    finished: bool = False

    def percent(self, now: float) -> int:
        if self.seconds <= 0 or now >= self.started + self.seconds:
            return 100
        return max(0, min(99, int(100 * (now - self.started) / self.seconds)))

    def status(self, now: float) -> str:
        return "available" if self.percent(now) >= 100 else "creating"

    @property
    def done_at(self) -> float:
        return self.started + max(0.0, self.seconds)


# --- reboots and failovers


@dataclass
class Reboot:
    """A RebootDBInstance under way: `rebooting` until `done_at`, then `available`; with
    `failover` the primary and secondary AZs swap when it completes."""

    instance: str
    started: float
    seconds: float
    failover: bool

    @property
    def done_at(self) -> float:
        return self.started + max(0.0, self.seconds)


# --- the restorable window


@dataclass
class Window:
    earliest: datetime
    latest: datetime

    def contains(self, t: datetime) -> bool:
        return self.earliest <= t <= self.latest


def restore_window(created: datetime, retention_days: int, now: float, lag_seconds: float,
                   ended: float | None = None) -> Window | None:
    """The window an instance's automated backups can restore to: from its first backup (at
    creation) or the start of the retention period, whichever is later, to `lag_seconds` before
    now (RDS uploads transaction logs every five minutes; the sandbox lags continuously), never
    before the earliest time. `ended`: the instance is gone (a retained backup) and the
    window stops there. No window without retention."""
    if retention_days <= 0:
        return None
    until = now if ended is None else min(now, ended)
    earliest = max(created, utc(until) - timedelta(days=retention_days))
    latest = max(earliest, utc(until - max(0.0, lag_seconds)))
    return Window(earliest, latest)


# --- per-account state


@dataclass
class RegionState:
    copies: dict[str, Copy] = field(default_factory=dict)       # target snapshot id -> copy
    reboots: dict[str, Reboot] = field(default_factory=dict)     # instance id -> reboot
    # Retained automated backups of deleted instances: dbi resource id -> (instance copy,
    # deleted at). The instance copy is moto's object, kept opaque here.
    retained: dict[str, tuple[object, float]] = field(default_factory=dict)


_lock = threading.RLock()
_state: dict[tuple[str, str], RegionState] = {}


def state(account: str, region: str) -> RegionState:
    with _lock:
        return _state.setdefault((account, region), RegionState())


def reset() -> None:
    with _lock:
        _state.clear()


def due_reboots(st: RegionState, now: float) -> list[Reboot]:
    """The reboots that have completed by `now`, oldest first, taken out of the state."""
    done = sorted((r for r in st.reboots.values() if r.done_at <= now), key=lambda r: r.done_at)
    for r in done:
        del st.reboots[r.instance]
    return done
