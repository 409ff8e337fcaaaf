#!/usr/bin/env bash
# Creates (or refreshes) the project-local Python venv that runs the AWS sandbox.
# Idempotent: does nothing when the venv already matches requirements.txt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${OPSCTL_SANDBOX_VENV:-$root/.venv}"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found; the AWS sandbox needs Python 3.9 or later (set PYTHON=...)" >&2
  exit 1
fi
echo "sandbox: installing $(grep -c '^[a-z]' "$req") Python packages into $venv" >&2
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
echo "$want" > "$stamp"
