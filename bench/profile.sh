#!/usr/bin/env bash
# A flame graph of the users service under wrk (GET /api/users/{id}, random ids).
#
#   bash bench/profile.sh [OUT.svg]        # default bench/flamegraph.svg
#
# Builds the service in release with line tables (for the symbols of inlined frames), seeds
# a throwaway database with 5000 users, loads the service with wrk (2 threads, 32
# connections) and samples it with `perf record --call-graph dwarf` (software clock, which is
# all this machine's perf offers: hardware counters are not supported here) for 6 s in the
# middle of the run. Then inferno folds the stacks and draws the SVG. Needs perf (linux-perf)
# and inferno (`cargo install inferno`).
# Environment: DATABASE_URL (admin server, default postgres://postgres@127.0.0.1:5432/postgres),
# BINARY (profile this build instead), and the service's own settings, which it inherits.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-bench/flamegraph.svg}"
ADMIN_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
for tool in perf wrk psql inferno-collapse-perf inferno-flamegraph; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing" >&2; exit 1; }
done
. bench/service-binary.sh
service_binary CARGO_PROFILE_RELEASE_DEBUG=line-tables-only

work="$(mktemp -d)"
db="users_profile_$$_$(date +%s)"
pid=""
db_url() { local base="${ADMIN_URL%%\?*}"; echo "${base%/*}/$1"; }
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  psql "$ADMIN_URL" -qtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$ADMIN_URL" -qtc "CREATE DATABASE \"$db\"" >/dev/null

: >"$work/service.log"
DATABASE_URL="$(db_url "$db")" HOST=127.0.0.1 PORT=0 RATE_LIMIT_PER_SECOND=0 "$binary" >"$work/service.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 300); do
  port="$(sed -n 's/.*"message":"listening".*"port":\([0-9]*\).*/\1/p' "$work/service.log" | head -n1)"
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/service.log" >&2; exit 1; }
psql "$(db_url "$db")" -qtc "INSERT INTO users (name, email)
  SELECT 'Seed User ' || g, 'seed' || g || '@example.com' FROM generate_series(1, 5000) AS g" >/dev/null
cat >"$work/get.lua" <<'LUA'
request = function() return wrk.format("GET", "/api/users/" .. math.random(1, 5000)) end
LUA
wrk -t2 -c32 -d3s -s "$work/get.lua" "http://127.0.0.1:$port/" >/dev/null
wrk -t2 -c32 -d12s -s "$work/get.lua" "http://127.0.0.1:$port/" >"$work/wrk.out" &
load=$!
sleep 3
perf record -F 499 --call-graph dwarf,16384 -p "$pid" -o "$work/perf.data" -- sleep 6 >/dev/null 2>&1
wait "$load"
grep -E "Requests/sec" "$work/wrk.out" >&2
perf script -i "$work/perf.data" 2>/dev/null | inferno-collapse-perf >"$work/folded"
inferno-flamegraph --minwidth 0.5 --title "users-service under wrk: GET /api/users/{id}" \
  <"$work/folded" >"$out"
echo "wrote $out" >&2
