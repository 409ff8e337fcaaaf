#!/usr/bin/env bash
# The opsctl binary people install: its size, and how long one `opsctl status staging` takes
# from exec to exit on a freshly seeded sandbox account (a new process each run: config,
# credentials and connections from scratch, what a CI step or a runbook step pays).
#
#   bash bench/binary.sh                 build target/release/opsctl (timed), then measure it
#   bash bench/binary.sh BINARY...       measure these builds instead (say, before and after)
#
# BENCH_RUNS (15) sets the runs per binary; the median and the fastest are printed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tests/sandbox/bootstrap.sh
if [ $# -eq 0 ]; then
  start=$(date +%s)
  cargo build --release --locked -p opsctl
  echo "release build: $(( $(date +%s) - start )) s (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
  set -- "$root/target/release/opsctl"
fi
exec bash tests/sandbox/sandbox.sh run -- .venv/bin/python - "$@" <<'PY'
import os, statistics, subprocess, sys, time
sys.path.insert(0, "tests/sandbox")
import ctl

url = os.environ["OPSCTL_SANDBOX_URL"]
seed = ctl.call(url, "/_sandbox/seed", {})
env = {**os.environ, "AWS_ACCESS_KEY_ID": seed["access_key_id"],
       "AWS_SECRET_ACCESS_KEY": seed["secret_access_key"], "AWS_REGION": seed["region"],
       "AWS_ENDPOINT_URL": url, "AWS_EC2_METADATA_DISABLED": "true"}
env.pop("AWS_PROFILE", None)
runs = int(os.environ.get("BENCH_RUNS", "15"))
print(f"{'binary':<40} {'bytes':>11} {'MB':>6} {'status median':>14} {'fastest':>8}")
for binary in sys.argv[1:]:
    size = os.path.getsize(binary)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run([binary, "--no-progress", "status", "staging"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t)
        if done.returncode != 0:
            sys.exit(f"{binary} status staging exited {done.returncode}: {done.stderr.decode()}")
    print(f"{binary:<40} {size:>11} {size / 1e6:>6.1f} {statistics.median(times) * 1000:>11.0f} ms"
          f" {min(times) * 1000:>5.0f} ms")
print(f"({runs} runs each; load average {' '.join(open('/proc/loadavg').read().split()[:3])})")
PY
