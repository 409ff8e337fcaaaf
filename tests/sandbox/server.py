#!/usr/bin/env python3
"""The opsctl AWS sandbox server: moto's server, in-process, with real ECS rollout behaviour.

    python tests/sandbox/server.py [--host 127.0.0.1] [--port 0] [--port-file PATH] [--verbose]

Port 0 picks a free port. Once the socket accepts connections the server prints exactly one
line, `sandbox listening on http://HOST:PORT`, and writes that URL to --port-file. It only
ever binds a loopback address, and exits cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def loopback_host(host: str) -> str:
    """The host to bind if it is a loopback address; raises ValueError otherwise."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address; use 127.0.0.1 (or another loopback address)")
    if not addr.is_loopback:
        raise ValueError(f"refusing to bind {host}: the sandbox only listens on loopback addresses")
    return str(addr)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="The opsctl AWS sandbox (moto with ECS rollouts).")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    p.add_argument("--port-file", help="write the URL to this file once listening")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.add_argument("--task-start-seconds", type=float, help="default PENDING -> RUNNING time")
    p.add_argument("--task-stop-seconds", type=float, help="default draining time of a stopped task")
    p.add_argument("--rollback-delay-seconds", type=float,
                   help="default delay between a circuit-breaker failure and its rollback")
    p.add_argument("--failure-pattern", help="default regex of image tags whose tasks never start")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        host = loopback_host(args.host)
    except ValueError as exc:
        print(f"server.py: {exc}", file=sys.stderr)
        return 2

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from opsctl_sandbox import config, ecr_scan, rds_patch, seed, speedups, ssm_patch
    from opsctl_sandbox.ecs_rollout import moto_patch
    from opsctl_sandbox.control import SandboxApp

    defaults = {
        "task_start_seconds": args.task_start_seconds,
        "task_stop_seconds": args.task_stop_seconds,
        "rollback_delay_seconds": args.rollback_delay_seconds,
        "failure_pattern": args.failure_pattern,
    }
    try:
        config.update(None, {k: v for k, v in defaults.items() if v is not None})
    except config.ConfigError as exc:
        print(f"server.py: {exc}", file=sys.stderr)
        return 2

    speedups.apply()
    moto_patch.apply()
    rds_patch.apply()
    ssm_patch.apply()
    ecr_scan.apply()
    app = SandboxApp(DomainDispatcherApplication(create_backend_app))

    class Handler(MotoRequestHandler):
        def log_request(self, *a: Any, **kw: Any) -> None:
            if args.verbose:
                super().log_request(*a, **kw)

    server = make_server(host, args.port, app, threaded=True, request_handler=Handler)
    port = server.server_port
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    app.base_url = url
    os.environ["MOTO_PORT"] = str(port)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.port_file:
        tmp = f"{args.port_file}.tmp"
        with open(tmp, "w") as fh:
            fh.write(url + "\n")
        os.replace(tmp, args.port_file)
    print(f"sandbox listening on {url}", flush=True)
    # That was the one line of standard output; whatever else is printed (moto prints a few
    # notices) goes to standard error.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # Load service models and moto's per-service apps while nobody waits for them, so the
    # first seed is as fast as the next ones. Requests are served meanwhile.
    def warm_up() -> None:
        try:
            seed.warm_up(url)
        finally:
            gc.collect()
            gc.freeze()  # moto's and botocore's loaded state is never garbage
            app.warm.set()

    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
    # Nothing is left to flush but the standard streams; skipping the interpreter's teardown
    # of every account's state makes stopping take milliseconds instead of seconds.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
