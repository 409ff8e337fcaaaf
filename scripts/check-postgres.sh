#!/usr/bin/env bash
# The service's tests need a real PostgreSQL. Find it (DATABASE_URL, else 127.0.0.1:5432)
# and fail with the fix when it is not there.
set -euo pipefail
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"; hostport="${hostport%%\?*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=5432
if ! timeout 3 bash -c ">/dev/tcp/$host/$port" 2>/dev/null; then
  cat >&2 <<MSG
error: no PostgreSQL is listening on $host:$port.
  The service's tests create throwaway databases there (user postgres, trust auth).
  Start one, for example:
    sudo pg_ctlcluster 15 main start          # Debian/Ubuntu package
    docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:15
  or point the tests elsewhere: DATABASE_URL=postgres://user@host:port/postgres make test
MSG
  exit 1
fi
