"""Seeded load balancer metrics: what a target group's traffic looks like, per account.

`POST /_sandbox/metrics {target_group, error_rate, p99, requests_per_minute}` sets a target
group's *profile*. While the target group takes production traffic (its share of a listener
rule's forward weights, test listener rules left out), the sandbox turns the profile into the
datapoints the load balancer would publish in AWS/ApplicationELB, one set every
`metrics_interval_seconds`, with the dimensions LoadBalancer and TargetGroup:

  RequestCount               requests_per_minute x share x interval / 60
  HTTPCode_Target_5XX_Count  RequestCount x error_rate
  TargetResponseTime         p99 (seconds; one value per interval, so every statistic and
                             every percentile of it is p99)

A target group with no profile, or no production traffic, gets no datapoints ("no data").
Datapoints are made lazily, up to the present, before CloudWatch answers a metrics query and
before the sandbox changes a listener rule's weights, so each interval is counted with the
weights it had. Pure Python: the patch module puts the datapoints into CloudWatch.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

NAMESPACE = "AWS/ApplicationELB"
BACKFILL_SECONDS = 900.0  # an idle account catches up at most this far back
DEFAULT_REQUESTS_PER_MINUTE = 600.0


@dataclass
class Profile:
    target_group_arn: str
    error_rate: float
    p99: float
    requests_per_minute: float
    since: float  # datapoints are made from here on (the end of the last interval made)

    def as_json(self) -> dict[str, Any]:
        return {"target_group_arn": self.target_group_arn, "error_rate": self.error_rate,
                "p99": self.p99, "requests_per_minute": self.requests_per_minute}


_lock = threading.RLock()
_profiles: dict[tuple[str, str], dict[str, Profile]] = {}  # (account, region) -> TG ARN -> profile


class ProfileError(ValueError):
    pass


def set_profile(account: str, region: str, tg_arn: str, body: dict[str, Any], t: float) -> Profile:
    def number(key: str, default: float, low: float, high: float) -> float:
        value = body.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ProfileError(f"{key} must be a number from {low} to {high}")
        return float(value)

    with _lock:
        old = _profiles.get((account, region), {}).get(tg_arn)
        profile = Profile(
            tg_arn,
            number("error_rate", old.error_rate if old else 0.0, 0.0, 1.0),
            number("p99", old.p99 if old else 0.1, 0.0, 3600.0),
            number("requests_per_minute", old.requests_per_minute if old
                   else DEFAULT_REQUESTS_PER_MINUTE, 0.0, 10.0**7),
            old.since if old else t,
        )
        _profiles.setdefault((account, region), {})[tg_arn] = profile
        return profile


def clear_profile(account: str, region: str, tg_arn: str) -> bool:
    with _lock:
        return _profiles.get((account, region), {}).pop(tg_arn, None) is not None


def profiles(account: str, region: str) -> list[Profile]:
    with _lock:
        return list(_profiles.get((account, region), {}).values())


def accounts() -> list[tuple[str, str]]:
    with _lock:
        return list(_profiles)


def reset() -> None:
    with _lock:
        _profiles.clear()


def take(profile: Profile, share: float, until: float, interval: float) -> list[tuple[float, dict[str, float]]]:
    """The datapoints of the intervals that ended by `until` (timestamps at their start), and
    moves the profile on. `share` is the target group's share of production traffic (0..1)."""
    with _lock:
        start = max(profile.since, until - BACKFILL_SECONDS)
        first = math.ceil(start / interval - 1e-9)
        last = math.floor(until / interval + 1e-9)  # intervals [k*i, (k+1)*i) with (k+1)*i <= until
        out: list[tuple[float, dict[str, float]]] = []
        if share > 0:
            per = profile.requests_per_minute * share * interval / 60.0
            for k in range(first, last):
                out.append((k * interval, {
                    "RequestCount": round(per, 6),
                    "HTTPCode_Target_5XX_Count": round(per * profile.error_rate, 6),
                    "TargetResponseTime": profile.p99,
                }))
        if last * interval > profile.since:
            profile.since = last * interval
        return out
