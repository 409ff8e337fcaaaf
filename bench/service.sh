#!/usr/bin/env bash
# Load-tests the users service and compares it with PostgreSQL's own ceiling.
#
# Builds the service in release, seeds a throwaway database, starts the service with rate
# limiting off, and loads three endpoints with wrk (CONNECTIONS connections, DURATION each):
#   GET  /api/users/{id}      random ids among the seeded users
#   GET  /api/users?limit=20  the first page
#   POST /api/users           unique emails
# Then runs `pgbench -S` (select-only, prepared statements, same connections, 2 threads)
# against a pgbench-initialised throwaway database: one primary-key SELECT per transaction,
# which is what GET /api/users/{id} costs the database, without HTTP around it. A second
# pgbench run adds one empty round trip per transaction: sqlx pings each connection as it
# returns to the pool, so that is the database-side ceiling for any sqlx-based service.
#
# Prints requests/s, p50/p99 latency, the service's peak RSS (VmHWM) and the ratio of
# GET /api/users/{id} to pgbench's TPS. Target: >= 70 % of pgbench, p99 < 10 ms.
#
# Everything runs on this machine, on loopback. Environment:
#   DATABASE_URL   server to create the databases on (default postgres://postgres@127.0.0.1:5432/postgres)
#   CONNECTIONS    concurrent connections (32)      DURATION   seconds per run (10)
#   USERS          users to seed (5000)             LOG_LEVEL  the service's log level (info)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ADMIN_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
CONNECTIONS="${CONNECTIONS:-32}"
DURATION="${DURATION:-10}"
USERS="${USERS:-5000}"
LOG_LEVEL="${LOG_LEVEL:-info}"
THREADS=2

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: installing $2 with apt-get" >&2
    apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
  fi
  command -v "$1" >/dev/null 2>&1 || {
    echo "error: $1 is missing; install it (Debian/Ubuntu: sudo apt-get install $2)" >&2
    exit 1
  }
}
need wrk wrk
need psql postgresql-client
need pgbench postgresql-contrib
need curl curl

echo "bench: building the service (release)" >&2
cargo build --release -p users-service
binary="${CARGO_TARGET_DIR:-target}/release/users-service"

work="$(mktemp -d)"
suffix="$$_$(date +%s)"
service_db="users_bench_$suffix"
pgbench_db="pgbench_bench_$suffix"
service_pid=""
db_url() { # the admin URL with its database replaced
  local base="${ADMIN_URL%%\?*}" query=""
  [ "$base" != "$ADMIN_URL" ] && query="?${ADMIN_URL#*\?}"
  echo "${base%/*}/$1$query"
}
cleanup() {
  if [ -n "$service_pid" ] && kill -0 "$service_pid" 2>/dev/null; then
    kill -TERM "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  psql "$ADMIN_URL" -qtc "DROP DATABASE IF EXISTS \"$service_db\" WITH (FORCE)" >/dev/null 2>&1 || true
  psql "$ADMIN_URL" -qtc "DROP DATABASE IF EXISTS \"$pgbench_db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$ADMIN_URL" -qtc "CREATE DATABASE \"$service_db\"" >/dev/null
psql "$ADMIN_URL" -qtc "CREATE DATABASE \"$pgbench_db\"" >/dev/null

# The service, on a free port (PORT=0; the port is read from its "listening" log line).
echo "bench: starting the service (rate limiting off, LOG_LEVEL=$LOG_LEVEL)" >&2
# The startup module stays at info whatever LOG_LEVEL says: its "listening" line gives the port.
DATABASE_URL="$(db_url "$service_db")" HOST=127.0.0.1 PORT=0 LOG_LEVEL="$LOG_LEVEL,users_service::startup=info" \
  RATE_LIMIT_PER_SECOND=0 "$binary" >"$work/service.log" 2>&1 &
service_pid=$!
port=""
for _ in $(seq 300); do
  port="$(sed -n 's/.*"message":"listening".*"port":\([0-9]*\).*/\1/p' "$work/service.log" | head -n1)"
  [ -n "$port" ] && break
  kill -0 "$service_pid" 2>/dev/null || { cat "$work/service.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "error: the service did not start" >&2; cat "$work/service.log" >&2; exit 1; }
base="http://127.0.0.1:$port"
curl -fsS "$base/ready" >/dev/null

# The service created the table at startup; seed it directly.
psql "$(db_url "$service_db")" -qtc "INSERT INTO users (name, email)
  SELECT 'Seed User ' || g, 'seed' || g || '@example.com' FROM generate_series(1, $USERS) AS g" >/dev/null
psql "$(db_url "$service_db")" -qtc "ANALYZE users" >/dev/null

# wrk scripts. Each prints one machine-readable RESULT line when done.
cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
LUA
cat "$work/report.lua" - >"$work/get_by_id.lua" <<'LUA'
local users = tonumber(os.getenv("USERS"))
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
init = function() math.randomseed(os.time() * 100 + tid) end
request = function()
  return wrk.format("GET", "/api/users/" .. math.random(1, users))
end
LUA
cat "$work/report.lua" - >"$work/create.lua" <<'LUA'
local run = os.getenv("RUN")
local threads = 0
local counter = 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
request = function()
  counter = counter + 1
  local body = string.format('{"name":"Bench User","email":"bench-%s-%d-%d@example.com"}', run, tid, counter)
  return wrk.format("POST", "/api/users", { ["Content-Type"] = "application/json" }, body)
end
LUA

load() { # name script path
  local name="$1" script="$2" path="$3"
  echo "bench: $name for ${DURATION}s at $CONNECTIONS connections" >&2
  USERS="$USERS" RUN="$suffix" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s "$script" "$base$path" >"$work/$name.out"
  local result
  result="$(grep '^RESULT' "$work/$name.out")" || { cat "$work/$name.out" >&2; exit 1; }
  printf '%s %s\n' "$name" "${result#RESULT }" >>"$work/results"
}

# Warm up: fill the pool and the prepared-statement caches.
USERS="$USERS" wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$work/get_by_id.lua" "$base/" >/dev/null
load get_by_id "$work/get_by_id.lua" "/"
load list "$work/report.lua" "/api/users?limit=20"
load create "$work/create.lua" "/api/users"
peak_rss_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$service_pid/status")"

kill -TERM "$service_pid"
wait "$service_pid" || { echo "error: the service did not exit cleanly" >&2; exit 1; }
service_pid=""

# The ceiling: PostgreSQL alone, one prepared primary-key SELECT per transaction.
echo "bench: pgbench -S for ${DURATION}s at $CONNECTIONS connections" >&2
pgbench_url="$(db_url "$pgbench_db")"
pgbench -i -q -s 10 "$pgbench_url" >/dev/null 2>&1
pgbench -S -M prepared -n -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION" "$pgbench_url" >"$work/pgbench.out" 2>&1
pgbench_tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.out" | head -n1)"
pgbench_latency="$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$work/pgbench.out" | head -n1)"
[ -n "$pgbench_tps" ] || { cat "$work/pgbench.out" >&2; exit 1; }
# The same SELECT plus one empty round trip: sqlx pings every connection as it goes back to
# the pool, so this is the most the database side can serve through a sqlx pool.
cat >"$work/select_ping.sql" <<'SQL'
\set aid random(1, 1000000)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
;
SQL
echo "bench: pgbench select + round trip for ${DURATION}s at $CONNECTIONS connections" >&2
pgbench -f "$work/select_ping.sql" -M prepared -n -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION" "$pgbench_url" \
  >"$work/pgbench_ping.out" 2>&1
pgbench_ping_tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench_ping.out" | head -n1)"
[ -n "$pgbench_ping_tps" ] || { cat "$work/pgbench_ping.out" >&2; exit 1; }

echo
echo "users-service on $(nproc) cores, $CONNECTIONS connections, ${DURATION}s per run, $USERS seeded users, LOG_LEVEL=$LOG_LEVEL"
printf '%-28s %10s %10s %10s %8s\n' endpoint "req/s" "p50 ms" "p99 ms" "non-2xx"
while read -r name fields; do
  rps="" p50_ms="" p99_ms="" non2xx=""
  eval "$fields"
  case "$name" in
    get_by_id) label="GET /api/users/{id}"; get_rps="$rps"; get_p99="$p99_ms" ;;
    list) label="GET /api/users?limit=20" ;;
    create) label="POST /api/users" ;;
  esac
  printf '%-28s %10s %10s %10s %8s\n' "$label" "$rps" "$p50_ms" "$p99_ms" "$non2xx"
done <"$work/results"
printf '%-28s %10.0f %10s %10s\n' "pgbench -S (ceiling)" "$pgbench_tps" "" "avg $pgbench_latency"
printf '%-28s %10.0f\n' "pgbench -S + round trip" "$pgbench_ping_tps"
echo
awk -v kb="$peak_rss_kb" 'BEGIN { printf "peak RSS of the service (VmHWM): %.1f MiB\n", kb / 1024 }'
awk -v get="$get_rps" -v pg="$pgbench_tps" -v ping="$pgbench_ping_tps" -v p99="$get_p99" 'BEGIN {
  printf "GET /api/users/{id} / pgbench -S: %.1f %% (target >= 70 %%); p99 %.2f ms (target < 10 ms)\n", 100 * get / pg, p99
  printf "GET /api/users/{id} / pgbench -S + round trip: %.1f %%\n", 100 * get / ping
}'
