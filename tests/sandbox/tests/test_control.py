"""The /_sandbox/ control surface and the server's own promises."""

from __future__ import annotations

import subprocess
import sys

import boto3

from conftest import SANDBOX, Account, ctl


def test_health(sandbox_url: str) -> None:
    status, body = ctl(sandbox_url, "/_sandbox/health")
    assert status == 200 and body["status"] == "ok" and body["moto"] == "5.2.5"
    assert body["url"] == sandbox_url


def test_seeding_an_account_twice_conflicts(account: Account) -> None:
    status, body = ctl(account.url, "/_sandbox/seed", {"account_id": account.id})
    assert status == 409 and account.id in body["message"]


def test_seed_into_a_chosen_account(sandbox_url: str) -> None:
    status, body = ctl(sandbox_url, "/_sandbox/seed", {"account_id": "210987654321"})
    assert status == 200 and body["account_id"] == "210987654321"
    assert set(body) == {"account_id", "region", "access_key_id", "secret_access_key", "resources"}
    status, body = ctl(sandbox_url, "/_sandbox/seed", {"account_id": "12345"})
    assert status == 400 and "12 digits" in body["message"]


def test_config(account: Account) -> None:
    url = account.url
    status, body = ctl(url, f"/_sandbox/config?account_id={account.id}")
    assert status == 200 and body["account_id"] == account.id
    assert body["task_start_seconds"] == 0.2 and body["failure_pattern"] == "broken"
    assert body["rollback_delay_seconds"] == 1.0 and body["failure_mode"] == "exit"
    status, body = ctl(url, "/_sandbox/config", {"account_id": account.id, "rollback_delay_seconds": 5})
    assert status == 200 and body["rollback_delay_seconds"] == 5.0
    # another account is not affected
    status, other = ctl(url, "/_sandbox/config?account_id=111111111111")
    assert other["rollback_delay_seconds"] == 2.0 and other["task_start_seconds"] == 1.0
    for bad in ({"task_start_seconds": -1}, {"failure_pattern": "("}, {"nope": 1},
                {"failure_mode": "explode"}, {"task_start_seconds": "fast"}):
        status, body = ctl(url, "/_sandbox/config", {"account_id": account.id, **bad})
        assert status == 400 and body["message"], bad


def test_errors_are_json(sandbox_url: str) -> None:
    status, body = ctl(sandbox_url, "/_sandbox/nope")
    assert status == 404 and body["error"] == "NotFound"
    status, body = ctl(sandbox_url, "/_sandbox/seed")  # GET
    assert status == 405
    status, body = ctl(sandbox_url, "/_sandbox/target-health",
                       {"account_id": "111111111111", "target_group": "missing", "state": "healthy"})
    assert status == 404 and "missing" in body["message"]
    status, body = ctl(sandbox_url, "/_sandbox/target-health",
                       {"account_id": "111111111111", "target_group": "x", "state": "sick"})
    assert status == 400


def test_access_key_lands_in_its_account(account: Account) -> None:
    ident = account.client("sts").get_caller_identity()
    assert ident["Account"] == account.id
    # with the default moto credentials one lands elsewhere, and sees no cluster "demo"
    other = boto3.client("ecs", endpoint_url=account.url, region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing")
    assert account.res["cluster_arn"] not in other.list_clusters()["clusterArns"]


def test_refuses_non_loopback_hosts() -> None:
    for host in ("0.0.0.0", "10.1.2.3", "example.com"):
        proc = subprocess.run([sys.executable, str(SANDBOX / "server.py"), "--host", host],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (host, proc.stderr)
        assert "loopback" in proc.stderr and proc.stdout == ""


def test_stats_count_an_accounts_requests_by_action(account: Account) -> None:
    status, before = ctl(account.url, f"/_sandbox/stats?account_id={account.id}")
    assert status == 200
    account.ecs.describe_services(cluster="demo", services=["staging-users"])
    account.ecs.describe_services(cluster="demo", services=["staging-users"])
    status, after = ctl(account.url, f"/_sandbox/stats?account_id={account.id}")
    assert after["requests"] == before["requests"] + 2
    key = "ecs:DescribeServices"
    assert after["by_action"][key] == before["by_action"].get(key, 0) + 2
    # query-protocol actions, which travel in the form body, are named too
    assert after["by_action"]["elasticloadbalancing:CreateLoadBalancer"] == 2
    assert after["by_action"]["rds:CreateDBInstance"] == 1
    assert after["by_action"]["cloudwatch:PutMetricAlarm"] == 3
    status, body = ctl(account.url, "/_sandbox/stats")
    assert status == 400 and "account_id" in body["message"]


def _seed_with(url: str, state: str) -> subprocess.CompletedProcess[str]:
    """`eval "$(bash sandbox.sh seed)"` in a shell whose OPSCTL_SANDBOX_URL is `url`; prints
    the AWS_ENDPOINT_URL the eval exported."""
    import os
    env = {**os.environ, "OPSCTL_SANDBOX_URL": url, "OPSCTL_SANDBOX_STATE": state}
    script = f'eval "$(bash {SANDBOX / "sandbox.sh"} seed)" && echo "endpoint=$AWS_ENDPOINT_URL"'
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)


def test_a_stale_sandbox_url_fails_the_seed_line_in_one_sentence(tmp_path) -> None:
    # Nothing listens on port 9, and no sandbox is running in this state directory.
    run = _seed_with("http://127.0.0.1:9", str(tmp_path))
    assert run.returncode != 0, run
    assert "Traceback" not in run.stderr, run.stderr
    assert "OPSCTL_SANDBOX_URL=http://127.0.0.1:9 does not answer" in run.stderr, run.stderr
    assert "unset OPSCTL_SANDBOX_URL" in run.stderr, run.stderr
    assert "endpoint=" not in run.stdout


def test_a_stale_sandbox_url_gives_way_to_the_running_sandbox(sandbox_url: str, tmp_path) -> None:
    import os
    # The state `sandbox.sh start` leaves: a live pid (this process) and the server's URL.
    (tmp_path / "pid").write_text(str(os.getpid()))
    (tmp_path / "url").write_text(sandbox_url)
    run = _seed_with("http://127.0.0.1:9", str(tmp_path))
    assert run.returncode == 0, run
    assert f"endpoint={sandbox_url}" in run.stdout, run
    assert f"using the one running at {sandbox_url}" in run.stderr, run.stderr
