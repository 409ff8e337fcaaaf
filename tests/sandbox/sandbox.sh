#!/usr/bin/env bash
# The local AWS sandbox (moto with ECS rollouts), for the demo, the tests and by hand.
#
#   sandbox.sh start              start a server in the background (.sandbox/url, .sandbox/pid)
#   sandbox.sh stop               stop it
#   sandbox.sh status             say whether it runs, and where
#   sandbox.sh seed               seed a fresh account on it; prints `export` lines:
#                                   eval "$(bash tests/sandbox/sandbox.sh seed)"
#   sandbox.sh run -- CMD ARGS... run CMD against a private server (OPSCTL_SANDBOX_URL is set),
#                                 stop the server afterwards, exit with CMD's status
#   sandbox.sh config [KEY=VALUE...]           show or change the behaviour of the account in
#                                              $OPSCTL_SANDBOX_ACCOUNT (e.g. rollback_delay_seconds=0)
#   sandbox.sh target-health TG healthy|unhealthy|auto   force a target group's health
#
# Sourced (as demo.sh does), it only defines the sandbox_* functions.

sandbox_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sandbox_root="$(cd "$sandbox_here/../.." && pwd)"
sandbox_venv="${OPSCTL_SANDBOX_VENV:-$sandbox_root/.venv}"
sandbox_python="$sandbox_venv/bin/python"
# OPSCTL_SANDBOX_STATE moves where `start` keeps its pid, url and log (the tests use it).
sandbox_state="${OPSCTL_SANDBOX_STATE:-$sandbox_root/.sandbox}"

# sandbox_alive PID: the process exists and has not exited (a zombie waiting to be reaped
# by its parent counts as exited).
sandbox_alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  if [ -r "/proc/$1/stat" ]; then
    stat="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
  elif command -v ps >/dev/null 2>&1; then
    stat="$(ps -o stat= -p "$1" 2>/dev/null)"
  else
    return 0
  fi
  case "$stat" in
    Z*) return 1 ;;
  esac
  return 0
}

sandbox_bootstrap() {
  bash "$sandbox_here/bootstrap.sh"
}

# sandbox_start_server DIR: starts a server whose url, pid and log live in DIR; waits until
# it answers (up to 30 s). On failure prints the log's tail and returns 1.
sandbox_start_server() {
  local dir="$1" pid
  mkdir -p "$dir"
  rm -f "$dir/url" "$dir/pid"
  local cmd=("$sandbox_python" "$sandbox_here/server.py" --host 127.0.0.1 --port 0
             --port-file "$dir/url")
  if [ -n "${OPSCTL_SANDBOX_VERBOSE:-}" ]; then cmd+=(--verbose); fi
  if [ "${2:-}" = "detach" ] && command -v setsid >/dev/null 2>&1; then
    # A server that outlives this shell: its own session, so a later Ctrl-C in this
    # terminal does not reach it.
    setsid "${cmd[@]}" >"$dir/server.log" 2>&1 </dev/null &
  else
    "${cmd[@]}" >"$dir/server.log" 2>&1 </dev/null &
  fi
  pid=$!
  echo "$pid" >"$dir/pid"
  local waited=0
  while [ ! -s "$dir/url" ]; do
    if ! sandbox_alive "$pid"; then
      echo "sandbox: the server exited while starting; the end of $dir/server.log:" >&2
      tail -n 25 "$dir/server.log" >&2
      rm -f "$dir/pid"
      return 1
    fi
    if [ "$waited" -ge 300 ]; then
      echo "sandbox: the server did not start within 30 s; the end of $dir/server.log:" >&2
      tail -n 25 "$dir/server.log" >&2
      sandbox_stop_server "$dir"
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  if ! "$sandbox_python" "$sandbox_here/ctl.py" wait --url "$(cat "$dir/url")" --pid "$pid" --timeout 30; then
    echo "sandbox: the end of $dir/server.log:" >&2
    tail -n 25 "$dir/server.log" >&2
    sandbox_stop_server "$dir"
    return 1
  fi
}

# sandbox_stop_server DIR: stops the server started in DIR (TERM, then KILL after 5 s).
sandbox_stop_server() {
  local dir="$1" pid i
  [ -f "$dir/pid" ] || return 0
  pid="$(cat "$dir/pid")"
  if [ -n "$pid" ] && sandbox_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      sandbox_alive "$pid" || break
      sleep 0.1
    done
    if sandbox_alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/pid" "$dir/url"
}

sandbox_running() {
  [ -f "$sandbox_state/pid" ] && [ -s "$sandbox_state/url" ] && sandbox_alive "$(cat "$sandbox_state/pid")"
}

sandbox_url() {
  if [ -n "${OPSCTL_SANDBOX_URL:-}" ]; then
    # An export left by an earlier seed may name a sandbox since stopped or restarted.
    if "$sandbox_python" "$sandbox_here/ctl.py" wait --url "$OPSCTL_SANDBOX_URL" --timeout 2 2>/dev/null; then
      echo "$OPSCTL_SANDBOX_URL"
    elif sandbox_running; then
      echo "sandbox: OPSCTL_SANDBOX_URL=$OPSCTL_SANDBOX_URL does not answer (a sandbox since stopped); using the one running at $(cat "$sandbox_state/url")" >&2
      cat "$sandbox_state/url"
    else
      echo "sandbox: OPSCTL_SANDBOX_URL=$OPSCTL_SANDBOX_URL does not answer, and no sandbox is running; start one (make sandbox), or unset OPSCTL_SANDBOX_URL" >&2
      return 1
    fi
  elif sandbox_running; then
    cat "$sandbox_state/url"
  else
    echo "sandbox: not running; start it with: bash tests/sandbox/sandbox.sh start" >&2
    return 1
  fi
}

# sandbox_private_dir: a fresh directory for a server of one's own (run, demo).
sandbox_private_dir() {
  mkdir -p "$sandbox_state"
  mktemp -d "$sandbox_state/run.XXXXXX"
}

sandbox_cmd_start() {
  sandbox_bootstrap
  if sandbox_running; then
    echo "sandbox: already running at $(cat "$sandbox_state/url") (pid $(cat "$sandbox_state/pid"))"
    return 0
  fi
  sandbox_start_server "$sandbox_state" detach
  echo "sandbox: running at $(cat "$sandbox_state/url") (pid $(cat "$sandbox_state/pid"), log .sandbox/server.log)"
}

sandbox_cmd_stop() {
  if [ -f "$sandbox_state/pid" ]; then
    sandbox_stop_server "$sandbox_state"
    echo "sandbox: stopped"
  else
    echo "sandbox: not running"
  fi
}

sandbox_cmd_status() {
  if sandbox_running; then
    echo "sandbox: running at $(cat "$sandbox_state/url") (pid $(cat "$sandbox_state/pid"))"
  else
    echo "sandbox: not running"
    return 1
  fi
}

# Its stdout is for `eval`: on failure it is `false`, so that the eval fails too.
sandbox_cmd_seed() {
  local url
  url="$(sandbox_url)" || { echo false; return 1; }
  "$sandbox_python" "$sandbox_here/ctl.py" seed --url "$url" || { echo false; return 1; }
}

sandbox_cmd_ctl() {
  local sub="$1" url
  shift
  url="$(sandbox_url)" || return 1
  "$sandbox_python" "$sandbox_here/ctl.py" "$sub" --url "$url" "$@"
}

sandbox_cmd_run() {
  if [ "${1:-}" = "--" ]; then shift; fi
  if [ "$#" -eq 0 ]; then
    echo "usage: sandbox.sh run -- CMD [ARGS...]" >&2
    return 2
  fi
  sandbox_bootstrap
  local dir status
  dir="$(sandbox_private_dir)"
  # shellcheck disable=SC2064
  trap "sandbox_stop_server '$dir'; rm -rf '$dir'" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  sandbox_start_server "$dir" || exit 1
  OPSCTL_SANDBOX_URL="$(cat "$dir/url")"
  export OPSCTL_SANDBOX_URL
  echo "sandbox: private server at $OPSCTL_SANDBOX_URL" >&2
  # CMD runs in the background so that a TERM or Ctrl-C is handled at once (a foreground
  # command would delay the traps until it ends); it keeps this shell's standard input.
  "$@" <&0 &
  local child=$!
  # shellcheck disable=SC2064
  trap "kill -TERM $child 2>/dev/null; wait $child 2>/dev/null; exit 130" INT
  # shellcheck disable=SC2064
  trap "kill -TERM $child 2>/dev/null; wait $child 2>/dev/null; exit 143" TERM
  set +e
  wait "$child"
  status=$?
  set -e
  exit "$status"
}

sandbox_main() {
  set -euo pipefail
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    start) sandbox_cmd_start "$@" ;;
    stop) sandbox_cmd_stop "$@" ;;
    status) sandbox_cmd_status "$@" ;;
    seed) sandbox_cmd_seed "$@" ;;
    run) sandbox_cmd_run "$@" ;;
    config) sandbox_cmd_ctl config "$@" ;;
    target-health) sandbox_cmd_ctl target-health "$@" ;;
    *)
      sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
      return 2
      ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  sandbox_main "$@"
fi
