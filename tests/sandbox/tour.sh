# The tour that `make demo` runs once the sandbox is up and seeded (sourced by demo.sh).
#
# It runs with the seeded account's credentials exported (AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, OPSCTL_SANDBOX_URL,
# OPSCTL_SANDBOX_ACCOUNT), OPSCTL pointing at the opsctl binary (also on PATH), and these
# helpers from demo.sh: `say TEXT` prints a heading, `aws ...` is the venv's aws CLI bound
# to the sandbox, `sandbox_ctl ...` is tests/sandbox/ctl.py (config, target-health).

# One word as a user would type it: quoted when the shell would split or expand it.
shell_word() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
    printf '%s' "$1"
  else
    printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"$`]/\\&/g')"
  fi
}

# A command line as a user would type it.
shell_line() {
  local word out=""
  for word in "$@"; do
    out+="${out:+ }$(shell_word "$word")"
  done
  printf '%s' "$out"
}

# Shows the command as a user would type it, runs it, and shows a non-zero exit code.
opsctl_run() {
  printf '\n%s$ opsctl %s%s\n' "$bold" "$(shell_line "$@")" "$reset"
  local code=0
  "$OPSCTL" "$@" || code=$?
  if [ "$code" -ne 0 ]; then
    printf '%s(exit code %s)%s\n' "$dim" "$code" "$reset"
  fi
}

tour() {
  say "1. Where staging stands"
  opsctl_run status staging

  say "2. What a deploy would change; changes nothing"
  opsctl_run plan staging --version v1.2.0

  say "3. Deploy v1.2.0 to staging: preflight, a new revision, live progress, bake"
  opsctl_run deploy staging --version v1.2.0

  say "4. A version whose tasks never start: opsctl sees the rollout fail, rolls back, exits 3"
  opsctl_run deploy staging --version v1.4.0-broken

  say "5. Bad input is refused before anything changes (exit 2)"
  opsctl_run deploy staging --version v9.9.9

  say "6. Roll staging back to the revision before, then look at its history"
  opsctl_run rollback staging
  opsctl_run history staging

  say "7. Blue/green on prod: deploy beside the live colour, move traffic in steps, bake"
  opsctl_run status prod
  opsctl_run deploy prod --version v1.2.0 --yes

  say "8. Instant rollback: all traffic back to the old colour in one listener change"
  opsctl_run rollback prod --yes
  opsctl_run status prod

  say "8b. Check green again, move traffic back to it in steps, then retire blue"
  opsctl_run check prod --version v1.2.0
  opsctl_run traffic prod --to green --yes
  opsctl_run retire prod --yes

  if "$OPSCTL" db --help >/dev/null 2>&1; then
    say "9. Database: a snapshot, the snapshot list, and a point-in-time restore to a new instance"
    opsctl_run db snapshot staging --reason "before trying a restore" --wait
    opsctl_run db snapshots staging
    opsctl_run db restore staging --latest --target users-db-restored
  fi
  if "$OPSCTL" scale --help >/dev/null 2>&1; then
    say "10. Scale staging out for load, and back in"
    opsctl_run scale staging --count 4
    opsctl_run scale staging --count 2
  fi

  say "11. A runbook, run step by step (--yes answers for the on-call engineer)"
  opsctl_run runbook list
  opsctl_run runbook run scale-out --env staging --set count=3 --yes \
    --transcript "${TMPDIR:-/tmp}/opsctl-demo-runbook.json"

  say "12. ECS-native canary: ECS moves the traffic, opsctl's analysis approves each paused step"
  local native_cfg="$demo_dir/native.toml"
  cat >"$native_cfg" <<'TOML'
[env.native]
region = "us-east-1"
cluster = "demo"
service = "native-users"
container = "users"
repository = "users"
timeout = "5m"
TOML
  printf '
%s$ aws ecs update-service --service native-users --deployment-configuration strategy=CANARY,canary 10%%,PAUSE hook at PRODUCTION_TRAFFIC_SHIFT%s
' "$bold" "$reset"
  aws ecs update-service --cluster demo --service native-users --query 'service.deploymentConfiguration.strategy' --output text \
    --deployment-configuration '{"strategy":"CANARY","bakeTimeInMinutes":1,"canaryConfiguration":{"canaryPercent":10,"canaryBakeTimeInMinutes":0},"lifecycleHooks":[{"targetType":"PAUSE","lifecycleStages":["PRODUCTION_TRAFFIC_SHIFT"]}],"deploymentCircuitBreaker":{"enable":true,"rollback":true}}'
  opsctl_run --config "$native_cfg" deploy native --version v1.2.0

  say "13. A canary whose 5xx rate fails the analysis: opsctl answers ROLLBACK, ECS moves traffic back (exit 3)"
  local new_tg
  new_tg="$("$sandbox_python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["resources"]["native"]["target_groups"]["main"])' "$demo_dir/seed.json")"
  sandbox_ctl metrics "$new_tg" --error-rate 0.25 >/dev/null
  opsctl_run --config "$native_cfg" deploy native --version v1.3.0
  opsctl_run --config "$native_cfg" status native

  say "14. A migration as a one-off task of the next version, a failing one, and what they logged"
  opsctl_run run staging --version v1.3.0 -- users-service migrate
  opsctl_run run staging -- users-service migrate --fail-on-purpose
  opsctl_run logs staging --since 10m --filter ERROR

  say "15. Disaster recovery: copy a snapshot of prod to its recovery region, restore it there"
  sandbox_ctl config db_snapshot_copy_seconds=2 >/dev/null
  opsctl_run db snapshot prod --reason "hourly copy" --copy-to us-west-2 --wait --yes
  opsctl_run db snapshots prod --dr
  local copy
  copy="$("$OPSCTL" --output json db snapshots prod --dr 2>/dev/null | "$sandbox_python" -c 'import json,sys; print(json.load(sys.stdin)["snapshots"][0]["id"])')"
  opsctl_run db restore prod --snapshot "$copy" --to-region us-west-2 --target users-db-dr --yes

  say "16. The deploy lock: a freeze refuses every change (exit 2) until it is lifted"
  opsctl_run lock staging --reason "release freeze for the audit"
  opsctl_run deploy staging --version v1.3.0
  opsctl_run unlock staging

  say "17. Least privilege: the IAM policy staging needs, scoped to its resources"
  printf '\n%s$ opsctl iam-policy staging > policy.json%s\n' "$bold" "$reset"
  "$OPSCTL" iam-policy staging 2>/dev/null >"$demo_dir/policy.json"
  "$sandbox_python" - "$demo_dir/policy.json" <<'PY'
import json, sys
policy = json.load(open(sys.argv[1]))
for s in policy["Statement"]:
    actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
    resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
    print(f"  {s['Sid']}: {len(actions)} action(s) on {len(resources)} resource(s), e.g. {actions[0]} on {resources[0]}")
PY

  say "For CI: one JSON object on stdout, and exit codes to branch on"
  printf '\n%s$ opsctl --output json wait-stable staging%s\n' "$bold" "$reset"
  printf '%s(the events list, every step and service event, is shortened here)%s\n' "$dim" "$reset"
  "$OPSCTL" --output json wait-stable staging 2>/dev/null | "$sandbox_python" -c '
import json, sys
out = json.load(sys.stdin)
events = out.get("events", [])
out["events"] = f"... {len(events)} events"
print(json.dumps(out, indent=2))'
}
