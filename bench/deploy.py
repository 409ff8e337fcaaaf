"""opsctl against its peers on the same simulated rollouts in the local AWS sandbox.

Run through bench/deploy.sh, which builds opsctl and starts a private sandbox. Prints:
  1. `opsctl status` vs `aws ecs describe-services`: cold process, wall and CPU;
  2. `opsctl deploy` vs fabfuel's `ecs deploy` on the same rollout: wall, CPU, peak RSS,
     AWS calls per second of waiting, and how long after the rollout completed each returned;
  3. a broken version, with ECS's circuit-breaker rollback slow and fast: what each reports.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(os.environ.get("OPSCTL_SANDBOX_VENV", ROOT / ".venv")) / "bin"
URL = os.environ["OPSCTL_SANDBOX_URL"]
OPSCTL = os.environ.get("OPSCTL_BIN", str(ROOT / "target/release/opsctl"))
RUNS = int(os.environ.get("BENCH_RUNS", "10"))
PACE = float(os.environ.get("BENCH_TASK_START_SECONDS", "3"))


def control(method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)


@dataclass
class Account:
    id: str
    env: dict

    @classmethod
    def seed(cls, **config: float) -> "Account":
        seeded = control("POST", "/_sandbox/seed", {})
        control("POST", "/_sandbox/config", {"account_id": seeded["account_id"],
                                            "task_start_seconds": PACE, **config})
        env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "GITHUB_ACTIONS"):
            env.pop(k, None)
        env.update({
            "AWS_ACCESS_KEY_ID": seeded["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": seeded["secret_access_key"],
            "AWS_REGION": seeded["region"], "AWS_DEFAULT_REGION": seeded["region"],
            "AWS_ENDPOINT_URL": URL, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        })
        return cls(seeded["account_id"], env)

    def ecs(self):
        return boto3.client("ecs", endpoint_url=URL, region_name=self.env["AWS_REGION"],
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def requests(self) -> dict:
        return control("GET", f"/_sandbox/stats?account_id={self.id}")

    def running_version(self) -> str:
        ecs = self.ecs()
        svc = ecs.describe_services(cluster="demo", services=["staging-users"])["services"][0]
        primary = [d for d in svc["deployments"] if d["status"] == "PRIMARY"][0]
        td = ecs.describe_task_definition(taskDefinition=primary["taskDefinition"])["taskDefinition"]
        image = [c["image"] for c in td["containerDefinitions"] if c["name"] == "users"][0]
        return image.rsplit(":", 1)[-1]


# The calls a tool makes while it waits for a rollout (ECS and ELBv2 reads).
POLLING = ("ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks")


@dataclass
class Run:
    code: int
    wall: float
    cpu: float
    rss_mb: float
    calls: int
    polls: int
    out: str
    ended: float


def run(account: Account, argv: list[str]) -> Run:
    """Runs one command as a cold process; its own rusage via wait4."""
    before = account.requests()
    start = time.time()
    proc = subprocess.Popen(argv, env=account.env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.time()
    proc.returncode = os.waitstatus_to_exitcode(status)
    after = account.requests()
    delta = {k: v - before["by_action"].get(k, 0) for k, v in after["by_action"].items()}
    polls = sum(v for k, v in delta.items() if k in POLLING)
    return Run(proc.returncode, ended - start, usage.ru_utime + usage.ru_stime,
               usage.ru_maxrss / 1024, after["requests"] - before["requests"], polls, out, ended)


def bench_config() -> Path:
    """The repo's opsctl.toml without the bake, so both tools wait for the same thing."""
    text = (ROOT / "opsctl.toml").read_text().replace('bake = "3s"', 'bake = "0s"')
    path = Path(tempfile.mkdtemp()) / "opsctl.toml"
    path.write_text(text)
    return path


def completed_at(account: Account) -> float | None:
    svc = account.ecs().describe_services(cluster="demo", services=["staging-users"])["services"][0]
    primary = [d for d in svc["deployments"] if d["status"] == "PRIMARY"][0]
    if primary.get("rolloutState") != "COMPLETED":
        return None
    return primary["updatedAt"].timestamp()


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    config = bench_config()
    opsctl = [OPSCTL, "--config", str(config), "--no-progress", "--color", "never"]
    print(f"opsctl binary: {OPSCTL}")
    print(f"sandbox: {URL}; rollouts take about {PACE:.0f} s a task batch\n")

    # 1. status vs describe-services
    account = Account.seed()
    ours = [run(account, opsctl + ["-q", "status", "staging"]) for _ in range(RUNS)]
    aws = [run(account, [str(VENV_BIN / "aws"), "--endpoint-url", URL, "ecs", "describe-services",
                         "--cluster", "demo", "--services", "staging-users"]) for _ in range(RUNS)]
    assert all(r.code == 0 for r in ours + aws), [r.out for r in ours + aws if r.code]
    w_ours, w_aws = med([r.wall for r in ours]), med([r.wall for r in aws])
    c_ours, c_aws = med([r.cpu for r in ours]), med([r.cpu for r in aws])
    print(f"1. status, median of {RUNS} cold runs")
    print(f"   {'':<34} {'wall ms':>9} {'cpu ms':>9} {'rss MB':>8}")
    print(f"   {'opsctl status staging':<34} {w_ours*1000:>9.1f} {c_ours*1000:>9.1f} {med([r.rss_mb for r in ours]):>8.1f}")
    print(f"   {'aws ecs describe-services':<34} {w_aws*1000:>9.1f} {c_aws*1000:>9.1f} {med([r.rss_mb for r in aws]):>8.1f}")
    print(f"   opsctl is {w_aws / w_ours:.1f}x faster (wall), {c_aws / c_ours:.1f}x less CPU; target >= 20x\n")

    # 2. the same good rollout
    rows = []
    for name, make in (
        ("opsctl deploy", lambda a: opsctl + ["deploy", "staging", "--version", "v1.2.0"]),
        ("ecs deploy (fabfuel)", lambda a: [str(VENV_BIN / "ecs"), "deploy", "demo", "staging-users",
                                            "--image", "users", image(a, "v1.2.0"), "--timeout", "600"]),
    ):
        results = []
        for _ in range(max(1, RUNS // 3)):
            acc = Account.seed()
            r = run(acc, make(acc))
            done = completed_at(acc)
            results.append((r, (r.ended - done) if done else float("nan")))
            assert r.code == 0, r.out
        rows.append((name, results))
    print(f"2. deploy of a good version, same simulated rollout, median of {len(rows[0][1])} runs")
    print(f"   {'':<22} {'wall s':>7} {'cpu ms':>8} {'rss MB':>7} {'calls':>6} {'polling/s':>10} {'returned after completion':>26}")
    summary = {}
    for name, results in rows:
        wall = med([r.wall for r, _ in results])
        cpu = med([r.cpu for r, _ in results])
        calls = med([r.calls for r, _ in results])
        polling = med([r.polls / r.wall for r, _ in results])
        lag = med([lag for _, lag in results])
        summary[name] = (wall, cpu)
        print(f"   {name:<22} {wall:>7.2f} {cpu*1000:>8.0f} {med([r.rss_mb for r, _ in results]):>7.1f} "
              f"{calls:>6.0f} {polling:>10.2f} {lag:>24.2f} s")
    (ow, oc), (ew, ec) = summary["opsctl deploy"], summary["ecs deploy (fabfuel)"]
    print(f"   opsctl end to end {ew / ow:.2f}x the speed of ecs-deploy (target >= 1), "
          f"CPU {oc / ec:.2f}x of ecs-deploy's (target <= 0.25)\n")

    # 3. a broken version
    print("3. a broken version (tasks never start; ECS's circuit breaker rolls back after a delay)")
    for delay in (5.0, 0.5):
        for name, make in (
            ("opsctl deploy", lambda a: opsctl + ["deploy", "staging", "--version", "v1.4.0-broken"]),
            ("ecs deploy --rollback", lambda a: [str(VENV_BIN / "ecs"), "deploy", "demo", "staging-users",
                                                 "--image", "users", image(a, "v1.4.0-broken"),
                                                 "--timeout", "600", "--rollback"]),
        ):
            acc = Account.seed(rollback_delay_seconds=delay)
            r = run(acc, make(acc))
            # Let ECS's own rollback finish before looking at what runs.
            time.sleep(delay + 2 * PACE + 2)
            verdict = last_line(r.out)
            print(f"   rollback after {delay:>3} s  {name:<22} exit {r.code}  now runs {acc.running_version():<14} {verdict}")
    return 0


def image(account: Account, tag: str) -> str:
    return f"{account.id}.dkr.ecr.us-east-1.amazonaws.com/users:{tag}"


def last_line(out: str) -> str:
    lines = [l.strip() for l in out.splitlines() if l.strip()]
    for line in lines:
        if line.startswith(("deploy", "Deployment", "Rolling back")) or "Deployment" in line:
            return f'"{line[:80]}"'
    return f'"{lines[-1][:80]}"' if lines else ""


if __name__ == "__main__":
    sys.exit(main())
