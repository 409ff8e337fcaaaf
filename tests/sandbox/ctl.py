#!/usr/bin/env python3
"""A small client of the sandbox's /_sandbox/ control surface (standard library only).

    ctl.py wait   --url URL [--timeout 30] [--pid PID]   wait until the server answers
    ctl.py seed   --url URL [--account ID] [--json FILE] print `export` lines for a fresh account
    ctl.py banner --json FILE                            describe what a seed built
    ctl.py config --url URL [--account ID] [KEY=VALUE ...]
    ctl.py target-health --url URL --account ID TARGET_GROUP healthy|unhealthy|auto
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import urllib.error
import urllib.request
from typing import Any


def call(url: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url.rstrip("/") + path, data=data, method="POST" if data is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    # The sandbox is on loopback: never go through a proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        try:
            detail = json.load(exc).get("message", "")
        except Exception:
            detail = ""
        raise SystemExit(f"sandbox: {path}: HTTP {exc.code} {detail}".rstrip())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SystemExit(f"sandbox: no answer from {url} ({reason}); is it running? "
                         "bash tests/sandbox/sandbox.sh status")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmd_wait(args: argparse.Namespace) -> int:
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        if args.pid and not alive(args.pid):
            print("sandbox: the server exited while starting", file=sys.stderr)
            return 1
        try:
            health = call(args.url, "/_sandbox/health", timeout=2)
            # "warm": the server has loaded what the first seed needs (a second or so)
            if health.get("status") == "ok" and health.get("warm", True):
                return 0
        except (OSError, SystemExit, ValueError):
            pass
        time.sleep(0.1)
    print(f"sandbox: no answer from {args.url} within {args.timeout:g} s", file=sys.stderr)
    return 1


def exports(seed: dict[str, Any], url: str) -> str:
    values = [
        ("AWS_ACCESS_KEY_ID", seed["access_key_id"]),
        ("AWS_SECRET_ACCESS_KEY", seed["secret_access_key"]),
        ("AWS_REGION", seed["region"]),
        ("AWS_DEFAULT_REGION", seed["region"]),
        ("AWS_ENDPOINT_URL", url),
        ("OPSCTL_SANDBOX_URL", url),
        ("OPSCTL_SANDBOX_ACCOUNT", seed["account_id"]),
    ]
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in values)


def cmd_seed(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"account_id": args.account} if args.account else {}
    if args.native:
        body["native"] = True
    seed = call(args.url, "/_sandbox/seed", body)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(seed, fh, indent=2)
    print(exports(seed, args.url))
    return 0


def cmd_banner(args: argparse.Namespace) -> int:
    with open(args.json) as fh:
        seed = json.load(fh)
    r = seed["resources"]
    tds = {family: [a.rsplit("/", 1)[-1] for a in arns] for family, arns in r["task_definitions"].items()}
    lines = [
        f"account      {seed['account_id']} ({seed['region']}), IAM user {r['iam_user']}",
        f"network      {r['vpc_id']}, subnets {', '.join(r['subnet_ids'])}, users-sg",
        f"ECR          users: {', '.join(r['ecr_repository']['images'])}",
        f"ECS          cluster demo: staging-users (2 tasks, {tds['staging-users'][-1]}),",
        f"             prod-users-blue (3 tasks, prod-users:2, live), "
        f"prod-users-green (3 tasks, prod-users:1, idle)",
        f"ALB          staging-alb:80 -> staging-users; prod-alb:80 -> blue 100 / green 0",
        f"alarms       {', '.join(r['alarms'])} (all OK)",
        f"RDS          users-db (postgres 15, {r['db']['endpoint']}), secret users/db-credentials",
        f"scaling      " + ", ".join(
            f"{k.rsplit('/', 1)[-1]} {v['min']}..{v['max']}" for k, v in r["scalable_targets"].items()
        ),
    ]
    print("\n".join(lines))
    return 0


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_config(args: argparse.Namespace) -> int:
    if not args.settings:
        q = f"?account_id={args.account}" if args.account else ""
        print(json.dumps(call(args.url, "/_sandbox/config" + q), indent=2))
        return 0
    body: dict[str, Any] = {"account_id": args.account} if args.account else {}
    for item in args.settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"sandbox: expected KEY=VALUE, got {item!r}")
        body[key] = _value(value)
    print(json.dumps(call(args.url, "/_sandbox/config", body), indent=2))
    return 0


def cmd_target_health(args: argparse.Namespace) -> int:
    body = {"account_id": args.account, "target_group": args.target_group, "state": args.state}
    print(json.dumps(call(args.url, "/_sandbox/target-health", body), indent=2))
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    body = {"account_id": args.account, "target_group": args.target_group,
            "error_rate": args.error_rate, "p99": args.p99, "requests_per_minute": 600}
    print(json.dumps(call(args.url, "/_sandbox/metrics", body), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    env_url = os.environ.get("OPSCTL_SANDBOX_URL")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def url_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--url", default=env_url, required=env_url is None,
                        help="the sandbox URL (default: $OPSCTL_SANDBOX_URL)")

    sp = sub.add_parser("wait"); url_arg(sp)
    sp.add_argument("--timeout", type=float, default=30)
    sp.add_argument("--pid", type=int)
    sp.set_defaults(func=cmd_wait)
    sp = sub.add_parser("seed"); url_arg(sp)
    sp.add_argument("--account")
    sp.add_argument("--json", help="also write the seed's JSON answer to this file")
    sp.add_argument("--native", action="store_true",
                    help="also seed native-users, a service ECS deploys itself")
    sp.set_defaults(func=cmd_seed)
    sp = sub.add_parser("banner")
    sp.add_argument("--json", required=True)
    sp.set_defaults(func=cmd_banner)
    sp = sub.add_parser("config"); url_arg(sp)
    sp.add_argument("--account", default=os.environ.get("OPSCTL_SANDBOX_ACCOUNT"))
    sp.add_argument("settings", nargs="*", metavar="KEY=VALUE")
    sp.set_defaults(func=cmd_config)
    sp = sub.add_parser("target-health"); url_arg(sp)
    sp.add_argument("--account", default=os.environ.get("OPSCTL_SANDBOX_ACCOUNT"), required=False)
    sp.add_argument("target_group")
    sp.add_argument("state", choices=["healthy", "unhealthy", "auto"])
    sp.set_defaults(func=cmd_target_health)
    sp = sub.add_parser("metrics"); url_arg(sp)
    sp.add_argument("--account", default=os.environ.get("OPSCTL_SANDBOX_ACCOUNT"))
    sp.add_argument("target_group", help="the target group's ARN")
    sp.add_argument("--error-rate", type=float, default=0.0, help="share of 5xx answers, 0..1")
    sp.add_argument("--p99", type=float, default=0.12, help="p99 response time in seconds")
    sp.set_defaults(func=cmd_metrics)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
