#!/usr/bin/env bash
# The users service against its own OpenAPI document: schemathesis generates requests for
# every operation from the document (schema-valid and schema-violating ones, boundary values,
# and stateful sequences along the document's links: a created user can be fetched) and
# checks every answer: no 5xx, status code, content type and body as documented, invalid
# data refused, valid data accepted. It must find nothing.
#
# The real binary (debug build) runs on a throwaway database with rate limiting off.
# Bounded: MAX_EXAMPLES per operation and phase, and the whole run killed after MAX_SECONDS.
#
# Environment:
#   DATABASE_URL   server to create the database on (default postgres://postgres@127.0.0.1:5432/postgres)
#   MAX_EXAMPLES   test cases per operation (200)     MAX_SECONDS  hard limit for the run (150)
#   SEED           replay a run (schemathesis prints the seed of each run)
#   VENV           the venv with schemathesis (./.venv; `make test-conformance` installs it)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
ADMIN_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
MAX_EXAMPLES="${MAX_EXAMPLES:-200}"
MAX_SECONDS="${MAX_SECONDS:-150}"
VENV="${VENV:-$root/.venv}"
# Absolute: the run itself happens in a scratch directory.
case "$VENV" in /*) ;; *) VENV="$root/$VENV" ;; esac
st="$VENV/bin/schemathesis"
[ -x "$st" ] || { echo "error: $st is missing; run: make ci-tools" >&2; exit 1; }
for tool in psql curl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (Debian/Ubuntu: apt-get install postgresql-client curl)" >&2; exit 1; }
done

cargo build --locked -p users-service
binary="${CARGO_TARGET_DIR:-target}/debug/users-service"

work="$(mktemp -d)"
db="users_conformance_$$_$(date +%s)"
service_pid=""
db_url() { # the admin URL with its database replaced
  local base="${ADMIN_URL%%\?*}" query=""
  [ "$base" != "$ADMIN_URL" ] && query="?${ADMIN_URL#*\?}"
  echo "${base%/*}/$1$query"
}
cleanup() {
  if [ -n "$service_pid" ] && kill -0 "$service_pid" 2>/dev/null; then
    kill -KILL "$service_pid" 2>/dev/null || true
  fi
  psql "$ADMIN_URL" -qtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$ADMIN_URL" -qtc "CREATE DATABASE \"$db\"" >/dev/null

# A clean environment: only what the service is meant to see. PORT=0 picks a free port,
# read back from the "listening" log line. The log exists before the service starts, so the
# first read cannot race the background start.
: >"$work/service.log"
env -i PATH="$PATH" DATABASE_URL="$(db_url "$db")" HOST=127.0.0.1 PORT=0 LOG_LEVEL=warn,users_service::startup=info \
  RATE_LIMIT_PER_SECOND=0 SHUTDOWN_TIMEOUT_SECS=10 "$binary" >"$work/service.log" 2>&1 &
service_pid=$!
port=""
for _ in $(seq 300); do
  port="$(sed -n 's/.*"message":"listening".*"port":\([0-9]*\).*/\1/p' "$work/service.log" | head -n1)"
  [ -n "$port" ] && break
  kill -0 "$service_pid" 2>/dev/null || { cat "$work/service.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "error: the service did not start" >&2; cat "$work/service.log" >&2; exit 1; }

# From a file, not the URL: loaded by URL, schemathesis leaves out the operation that serves
# the document, and that is one of the operations too.
curl -fsS "http://127.0.0.1:$port/openapi.json" -o "$work/openapi.json"

seed=()
[ -n "${SEED:-}" ] && seed=(--seed "$SEED")
status=0
# Run from the scratch directory: schemathesis keeps a cache in the current directory.
(cd "$work" && timeout --signal=INT --kill-after=10 "$MAX_SECONDS" \
  "$st" run "$work/openapi.json" --url "http://127.0.0.1:$port" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection,positive_data_acceptance \
    --phases examples,coverage,fuzzing,stateful \
    --mode all \
    --max-examples "$MAX_EXAMPLES" \
    --workers 2 \
    --request-timeout 10 \
    --generation-database none \
    --no-color \
    "${seed[@]}") || status=$?

# The service must also have logged no server-side failure and stop cleanly.
kill -TERM "$service_pid"
if ! wait "$service_pid"; then
  echo "error: the service did not exit cleanly" >&2
  status=1
fi
service_pid=""
if grep -q '"level":"ERROR"' "$work/service.log"; then
  echo "error: the service logged errors during the run:" >&2
  grep '"level":"ERROR"' "$work/service.log" | head -20 >&2
  status=1
fi
if [ "$status" = 124 ]; then
  echo "error: the conformance run took longer than ${MAX_SECONDS}s" >&2
fi
exit "$status"
