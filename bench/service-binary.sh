# Sourced by the service benchmarks: sets `binary` to $BINARY, or builds users-service in
# release and uses that. Extra arguments go before `cargo` (an environment, say).
service_binary() {
  if [ -n "${BINARY:-}" ]; then
    binary="$BINARY"
    return
  fi
  echo "bench: building the service (release)" >&2
  env "$@" cargo build --release -p users-service
  binary="${CARGO_TARGET_DIR:-target}/release/users-service"
}
