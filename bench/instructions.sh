#!/usr/bin/env bash
# The users service's own CPU per request, counted in instructions: repeatable whatever else
# the machine is doing, where requests/s on two shared cores move by tens of percent.
#
# Runs the service under `valgrind --tool=callgrind` (user-space instructions only: the
# kernel's TCP and write work is not counted) on a throwaway database, sends SMALL and then
# LARGE sequential `GET /api/users/{id}` requests on one keep-alive connection in two runs,
# and prints (Ir(LARGE) - Ir(SMALL)) / (LARGE - SMALL): the instructions one request costs,
# startup and shutdown cancelled out. Once with LOG_LEVEL=info (an access-log line per
# request) and once with LOG_LEVEL=warn (no line), so the difference is what logging costs.
#
#   bash bench/instructions.sh              # builds the service (release), then counts
#   BINARY=path bash bench/instructions.sh  # counts a given build (to compare two)
# Environment: DATABASE_URL (admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
# SMALL (500), LARGE (2500).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ADMIN_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
SMALL="${SMALL:-500}"
LARGE="${LARGE:-2500}"
for tool in valgrind psql python3 curl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing; install it" >&2; exit 1; }
done
. bench/service-binary.sh
service_binary

work="$(mktemp -d)"
db="users_instructions_$$_$(date +%s)"
url="${ADMIN_URL%/*}/$db"
cleanup() {
  psql "$ADMIN_URL" -qtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$ADMIN_URL" -qtc "CREATE DATABASE \"$db\"" >/dev/null

cat >"$work/client.py" <<'PY'
import http.client, random, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
connection = http.client.HTTPConnection("127.0.0.1", port)
random.seed(1)
for _ in range(count):
    connection.request("GET", f"/api/users/{random.randint(1, 50)}")
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
PY

# Instructions of one run of the service that answers $2 requests at log level $1.
count() {
  local level="$1" requests="$2" port pid
  port=$((20000 + RANDOM % 20000))
  PORT="$port" HOST=127.0.0.1 LOG_LEVEL="$level" DATABASE_URL="$url" RATE_LIMIT_PER_SECOND=0 \
    TOKIO_WORKER_THREADS=1 DB_MAX_CONNECTIONS=2 DB_MIN_CONNECTIONS=1 \
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$binary" \
    >"$work/service.log" 2>"$work/valgrind.log" &
  pid=$!
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/service.log" "$work/valgrind.log" >&2; exit 1; }
    sleep 0.2
  done
  python3 "$work/client.py" "$port" 20 # warm: connections opened, statements prepared
  python3 "$work/client.py" "$port" "$requests"
  kill -TERM "$pid"
  wait "$pid" || true
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/valgrind.log"
}

# The schema, by the service's own migrations.
DATABASE_URL="$url" LOG_LEVEL=warn "$binary" migrate >/dev/null
psql "$url" -qtc "INSERT INTO users (name, email)
  SELECT 'Seed User ' || g, 'seed' || g || '@example.com' FROM generate_series(1, 50) AS g" >/dev/null

echo "users-service, GET /api/users/{id}, instructions per request (callgrind, user space)"
declare -A per
for level in info warn; do
  echo "bench: LOG_LEVEL=$level, $SMALL then $LARGE requests under callgrind" >&2
  small="$(count "$level" "$SMALL")"
  large="$(count "$level" "$LARGE")"
  per[$level]=$(((large - small) / (LARGE - SMALL)))
  printf '  LOG_LEVEL=%-5s %8d instructions per request\n' "$level" "${per[$level]}"
done
printf '  the access-log line costs %d instructions, %d %% of a logged request\n' \
  "$((per[info] - per[warn]))" "$((100 * (per[info] - per[warn]) / per[info]))"
