#!/usr/bin/env bash
# `make demo`: start a private AWS sandbox, seed the demo environment opsctl.toml describes,
# and run the tour (tests/sandbox/tour.sh) against it. Needs no AWS account and no Docker;
# the sandbox is stopped on the way out, Ctrl-C included.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/sandbox/sandbox.sh
source "$here/sandbox.sh"
root="$sandbox_root"

if [ -t 1 ]; then bold=$'\e[1m'; dim=$'\e[2m'; reset=$'\e[0m'; else bold=""; dim=""; reset=""; fi

say() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }

# The venv's aws CLI, bound to the sandbox. awscli v1 pins some services' endpoints itself
# (rds among them), so the sandbox URL is given explicitly as well as through the environment.
aws() { "$sandbox_venv/bin/aws" --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }

sandbox_ctl() { "$sandbox_python" "$here/ctl.py" "$@"; }

sandbox_bootstrap

demo_dir="$(sandbox_private_dir)"
cleanup() {
  sandbox_stop_server "$demo_dir"
  rm -rf "$demo_dir"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted; stopping the sandbox" >&2; exit 130' INT
trap 'exit 143' TERM

printf '%sStarting the AWS sandbox (moto with ECS rollouts) on 127.0.0.1...%s\n' "$dim" "$reset"
sandbox_start_server "$demo_dir"
url="$(cat "$demo_dir/url")"

eval "$(sandbox_ctl seed --url "$url" --native --json "$demo_dir/seed.json")"
# Native deployments' stages and bake minutes, at demo speed.
sandbox_ctl config minute_seconds=1 stage_seconds=1.5 >/dev/null
# OPSCTL may name another build (the demo's test runs the one cargo built for it).
export OPSCTL="${OPSCTL:-$root/target/debug/opsctl}"
# opsctl records who deployed; a bare shell may not say.
export USER="${USER:-$(id -un 2>/dev/null || echo demo)}"
export PATH="$(dirname "$OPSCTL"):$PATH"
unset AWS_PROFILE AWS_SESSION_TOKEN
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"

say "The demo environment, seeded at $url"
sandbox_ctl banner --json "$demo_dir/seed.json"
printf '%sEverything runs on this machine; the credentials below only work against it:%s\n' "$dim" "$reset"
printf '%s  AWS_ENDPOINT_URL=%s  AWS_ACCESS_KEY_ID=%s%s\n' "$dim" "$AWS_ENDPOINT_URL" "$AWS_ACCESS_KEY_ID" "$reset"

# shellcheck source=tests/sandbox/tour.sh
source "$here/tour.sh"
tour

say "Done"
echo "The sandbox stops now. To keep one running: bash tests/sandbox/sandbox.sh start"
