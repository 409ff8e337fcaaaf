#!/usr/bin/env bash
# opsctl against the aws CLI and fabfuel's ecs-deploy on the same simulated rollouts.
# Builds opsctl in release (set OPSCTL_BIN to use another build), starts a private sandbox,
# and prints the figures. BENCH_RUNS (10) and BENCH_TASK_START_SECONDS (3) tune it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tests/sandbox/bootstrap.sh
if [ -z "${OPSCTL_BIN:-}" ]; then
  cargo build --release --locked -p opsctl
fi
exec bash tests/sandbox/sandbox.sh run -- .venv/bin/python bench/deploy.py
