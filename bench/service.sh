#!/usr/bin/env bash
# Load-tests the users service and compares it with PostgreSQL's own ceiling.
#
# Builds the service in release, seeds a throwaway database, starts the service with rate
# limiting off, and loads three endpoints with wrk (CONNECTIONS connections, DURATION each):
#   GET  /api/users/{id}      random ids among the seeded users
#   GET  /api/users?limit=20  the first page
#   POST /api/users           unique emails
# Around it, `pgbench -S` (select-only, prepared statements, same connections, 2 threads) runs
# before the service starts and after it stops, against a pgbench-initialised throwaway
# database: one primary-key SELECT per transaction, which is what GET /api/users/{id} costs
# the database, without HTTP around it. The ratio uses the mean of the two runs. A last
# pgbench run adds one empty round trip per transaction: what a pool that pings each
# connection as it is returned (sqlx's own) leaves of the ceiling.
#
# Prints, per endpoint, requests/s, p50/p99 latency, and the CPU time (user + system) that the
# service and its PostgreSQL backends spent per request, which moves far less than the rates
# when the machine is shared; then the load average, the service's peak RSS (VmHWM), and each
# target (issue 16) with whether it is met: GET /api/users/{id} >= 50 % of pgbench -S with
# p99 < 10 ms, the list and create endpoints within 30 % of GET /api/users/{id}, RSS < 32 MiB.
#
# Everything runs on this machine, on loopback. Environment:
#   DATABASE_URL   server to create the databases on (default postgres://postgres@127.0.0.1:5432/postgres)
#   CONNECTIONS    concurrent connections (32)      DURATION   seconds per run (10)
#   USERS          users to seed (5000)             LOG_LEVEL  the service's log level (info)
#   BINARY         a users-service binary to use instead of building one (to compare builds)
# The service inherits the rest of the environment, so its settings can be varied too, e.g.
# TOKIO_WORKER_THREADS=1 or DB_MAX_CONNECTIONS=8.
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

. bench/service-binary.sh
service_binary

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
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

# The ceiling: PostgreSQL alone, one prepared primary-key SELECT per transaction.
pgbench_url="$(db_url "$pgbench_db")"
pgbench -i -q -s 10 "$pgbench_url" >/dev/null 2>&1
pgbench_s() { # before|after: writes "TPS LOAD" to $work/pgbench.$1
  echo "bench: pgbench -S ($1) for ${DURATION}s at $CONNECTIONS connections" >&2
  pgbench -S -M prepared -n -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION" "$pgbench_url" >"$work/pgbench.$1.out" 2>&1
  local tps
  tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.$1.out" | head -n1)"
  [ -n "$tps" ] || { cat "$work/pgbench.$1.out" >&2; exit 1; }
  echo "$tps $(cut -d' ' -f1 /proc/loadavg)" >"$work/pgbench.$1"
}
pgbench_s before

# The service, on a free port (PORT=0; the port is read from its "listening" log line).
echo "bench: starting the service (rate limiting off, LOG_LEVEL=$LOG_LEVEL)" >&2
# The startup module stays at info whatever LOG_LEVEL says: its "listening" line gives the port.
: >"$work/service.log" # exists before the first read races the background start
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
  io.write(string.format("RESULT requests=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
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

# CPU time (clock ticks, user + system) of the given processes so far.
ticks() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}
# The PostgreSQL backends serving the service.
backends() {
  psql "$ADMIN_URL" -Atc "SELECT pid FROM pg_stat_activity
    WHERE datname = '$service_db' AND application_name = 'users-service'" | tr '\n' ' '
}
hz="$(getconf CLK_TCK)"

# CPU per request is the steadier figure on a shared machine: a busy neighbour slows every
# request down but barely changes the work each one takes.
load() { # name script path
  local name="$1" script="$2" path="$3" pg_pids svc_before pg_before
  echo "bench: $name for ${DURATION}s at $CONNECTIONS connections" >&2
  pg_pids="$(backends)"
  svc_before="$(ticks "$service_pid")"
  # shellcheck disable=SC2086
  pg_before="$(ticks $pg_pids)"
  USERS="$USERS" RUN="$suffix" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s "$script" "$base$path" >"$work/$name.out"
  local svc_ticks pg_ticks result
  svc_ticks=$(($(ticks "$service_pid") - svc_before))
  # shellcheck disable=SC2086
  pg_ticks=$(($(ticks $pg_pids) - pg_before))
  result="$(grep '^RESULT' "$work/$name.out")" || { cat "$work/$name.out" >&2; exit 1; }
  printf '%s %s svc_ticks=%d pg_ticks=%d load=%s\n' "$name" "${result#RESULT }" "$svc_ticks" "$pg_ticks" \
    "$(cut -d' ' -f1 /proc/loadavg)" >>"$work/results"
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

# The ceiling, once more with the service stopped (the first run was before it started): the
# ratio uses the mean of the two, as the load of a shared machine drifts during a run.
pgbench_s after
# The same SELECT plus one empty round trip: what the database side can serve through a pool
# that pings each connection as it goes back (sqlx's own pool does).
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
read -r pgbench_before pgbench_before_load <"$work/pgbench.before"
read -r pgbench_after pgbench_after_load <"$work/pgbench.after"
pgbench_tps="$(awk -v a="$pgbench_before" -v b="$pgbench_after" 'BEGIN { print (a + b) / 2 }')"

echo
echo "users-service on $(nproc) cores, $CONNECTIONS connections, ${DURATION}s per run, $USERS seeded users, LOG_LEVEL=$LOG_LEVEL"
echo "load average before the run $load_start, after $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %8s %8s %8s %8s %11s %11s %5s\n' endpoint "req/s" "p50 ms" "p99 ms" "non-2xx" "svc µs/req" "pg µs/req" load
while read -r name fields; do
  requests="" rps="" p50_ms="" p99_ms="" non2xx="" svc_ticks="" pg_ticks="" load=""
  eval "$fields"
  case "$name" in
    get_by_id) label="GET /api/users/{id}"; get_rps="$rps"; get_p99="$p99_ms" ;;
    list) label="GET /api/users?limit=20"; list_rps="$rps" ;;
    create) label="POST /api/users"; create_rps="$rps" ;;
  esac
  awk -v label="$label" -v rps="$rps" -v p50="$p50_ms" -v p99="$p99_ms" -v bad="$non2xx" \
    -v n="$requests" -v svc="$svc_ticks" -v pg="$pg_ticks" -v hz="$hz" -v la="$load" 'BEGIN {
    printf "%-26s %8s %8.2f %8.2f %8s %11.0f %11.0f %5s\n", label, rps, p50, p99, bad,
      svc * 1e6 / hz / n, pg * 1e6 / hz / n, la }'
done <"$work/results"
printf '%-26s %8.0f %8s %8s %8s %11s %11s %5s\n' "pgbench -S, before" "$pgbench_before" "" "" "" "" "" "$pgbench_before_load"
printf '%-26s %8.0f %8s %8s %8s %11s %11s %5s\n' "pgbench -S, after" "$pgbench_after" "" "" "" "" "" "$pgbench_after_load"
printf '%-26s %8.0f\n' "pgbench -S + round trip" "$pgbench_ping_tps"
echo
awk -v kb="$peak_rss_kb" -v get="$get_rps" -v pg="$pgbench_tps" -v ping="$pgbench_ping_tps" \
  -v p99="$get_p99" -v list="$list_rps" -v create="$create_rps" 'BEGIN {
  printf "GET /api/users/{id} / pgbench -S (mean %.0f): %.1f %% (target >= 50 %%: %s)\n", pg, 100 * get / pg, (get >= pg / 2 ? "met" : "NOT met")
  printf "GET /api/users/{id} p99: %.2f ms (target < 10 ms: %s)\n", p99, (p99 < 10 ? "met" : "NOT met")
  printf "GET /api/users?limit=20 / GET /api/users/{id}: %.1f %% (target >= 70 %%: %s)\n", 100 * list / get, (list >= 0.7 * get ? "met" : "NOT met")
  printf "POST /api/users / GET /api/users/{id}: %.1f %% (target >= 70 %%: %s)\n", 100 * create / get, (create >= 0.7 * get ? "met" : "NOT met")
  printf "peak RSS (VmHWM): %.1f MiB (target < 32 MiB: %s)\n", kb / 1024, (kb < 32 * 1024 ? "met" : "NOT met")
  printf "GET /api/users/{id} / (pgbench -S + round trip): %.1f %%\n", 100 * get / ping
}'
