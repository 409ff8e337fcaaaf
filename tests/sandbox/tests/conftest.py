"""One sandbox server for the whole run; every test seeds its own account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config

SANDBOX = Path(__file__).resolve().parents[1]
ROOT = SANDBOX.parents[1]
VENV_BIN = Path(sys.executable).parent
REGION = "us-east-1"

# Quick timings for the tests (the defaults are seconds, as a person would watch them).
FAST = {"task_start_seconds": 0.2, "task_stop_seconds": 0.1, "rollback_delay_seconds": 1.0,
        "run_task_seconds": 0.3, "stop_timeout_seconds": 0.3}


def ctl(url: str, path: str, body: dict[str, Any] | None = None,
        method: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    method = method or ("POST" if data is not None else "GET")
    req = urllib.request.Request(url + path, data=data, method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05,
               what: str = "condition") -> Any:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last value: {last!r}")


@pytest.fixture(scope="session")
def sandbox_url() -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "url"
        log = open(Path(tmp) / "server.log", "w+")
        proc = subprocess.Popen(
            [sys.executable, str(SANDBOX / "server.py"), "--port", "0", "--port-file", str(port_file)],
            stdout=subprocess.PIPE, stderr=log, text=True,
        )
        try:
            line = proc.stdout.readline().strip() if proc.stdout else ""
            if not line.startswith("sandbox listening on http://127.0.0.1:"):
                log.seek(0)
                raise RuntimeError(f"the sandbox did not start: {line!r}\n{log.read()}")
            url = line.rsplit(" ", 1)[-1]
            assert port_file.read_text().strip() == url
            wait_until(lambda: ctl(url, "/_sandbox/health")[1].get("warm"), timeout=30,
                       what="the server to warm up")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


class Account:
    """A seeded account, and clients that reach it with its own access key only."""

    def __init__(self, url: str, seed: dict[str, Any]):
        self.url = url
        self.seed = seed
        self.id: str = seed["account_id"]
        self.res: dict[str, Any] = seed["resources"]
        self._session = boto3.session.Session(
            aws_access_key_id=seed["access_key_id"],
            aws_secret_access_key=seed["secret_access_key"],
            region_name=seed["region"],
        )
        self._clients: dict[str, Any] = {}

    def client(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = self._session.client(
                name, endpoint_url=self.url,
                config=Config(retries={"total_max_attempts": 1}),
            )
        return self._clients[name]

    @property
    def ecs(self) -> Any:
        return self.client("ecs")

    @property
    def elbv2(self) -> Any:
        return self.client("elbv2")

    @property
    def logs(self) -> Any:
        return self.client("logs")

    def network(self) -> dict[str, Any]:
        """The awsvpc configuration of the seeded services (both subnets, users-sg)."""
        return {"awsvpcConfiguration": {"subnets": self.res["subnet_ids"],
                                        "securityGroups": [self.res["security_group_id"]]}}

    def run_task(self, command: list[str] | None = None, family: str = "staging-users:2",
                 **kwargs: Any) -> dict[str, Any]:
        """A one-off Fargate task of FAMILY, its users container running COMMAND."""
        if command is not None:
            kwargs["overrides"] = {"containerOverrides": [{"name": "users", "command": command}]}
        kwargs.setdefault("launchType", "FARGATE")
        kwargs.setdefault("networkConfiguration", self.network())
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return self.ecs.run_task(cluster="demo", taskDefinition=family, **kwargs)["tasks"][0]

    def task(self, arn: str) -> dict[str, Any]:
        return self.ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"][0]

    def stopped(self, arn: str, timeout: float = 20.0) -> dict[str, Any]:
        """The task once STOPPED."""
        return wait_until(lambda: (t := self.task(arn))["lastStatus"] == "STOPPED" and t,
                          timeout=timeout, what=f"{arn} to stop")

    def configure(self, **changes: Any) -> dict[str, Any]:
        status, body = ctl(self.url, "/_sandbox/config", {"account_id": self.id, **changes})
        assert status == 200, body
        return body

    def service(self, name: str = "staging-users") -> dict[str, Any]:
        return self.ecs.describe_services(cluster="demo", services=[name])["services"][0]

    def td_arn(self, family_revision: str) -> str:
        return f"arn:aws:ecs:{REGION}:{self.id}:task-definition/{family_revision}"

    def register_image(self, family: str, tag: str, base_revision: int) -> str:
        """A new revision of FAMILY like BASE_REVISION with the users image tagged TAG."""
        td = self.ecs.describe_task_definition(taskDefinition=f"{family}:{base_revision}")["taskDefinition"]
        containers = td["containerDefinitions"]
        for c in containers:
            if c["name"] == "users":
                c["image"] = c["image"].rsplit(":", 1)[0] + ":" + tag
        keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "volumes",
                "requiresCompatibilities", "cpu", "memory", "runtimePlatform")
        kwargs = {k: td[k] for k in keep if td.get(k) is not None}
        return self.ecs.register_task_definition(containerDefinitions=containers, **kwargs)[
            "taskDefinition"]["taskDefinitionArn"]

    def env(self) -> dict[str, str]:
        """The environment a CLI run against this account gets (no shared AWS config)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ACCESS_KEY_ID": self.seed["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": self.seed["secret_access_key"],
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })
        return env


@pytest.fixture
def account(sandbox_url: str) -> Account:
    status, seed = ctl(sandbox_url, "/_sandbox/seed", {})
    assert status == 200, seed
    acct = Account(sandbox_url, seed)
    acct.configure(**FAST)
    return acct


def stable(svc: dict[str, Any]) -> bool:
    deps = svc["deployments"]
    return (
        len(deps) == 1
        and deps[0]["rolloutState"] == "COMPLETED"
        and svc["runningCount"] == svc["desiredCount"]
        and svc["pendingCount"] == 0
    )
