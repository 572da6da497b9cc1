# Helpers for the integration tests: a private file prefix, configs, assertions, clean-up.
set -euo pipefail

: "${SLUICE_BUILD_DIR:?run through meson test}"
: "${SLUICE_SOURCE_DIR:?run through meson test}"
DATAPLANE="$SLUICE_BUILD_DIR/dataplane/sluice-dataplane"
CONTROL="$SLUICE_BUILD_DIR/control/sluice-control"
LAUNCHER="$SLUICE_BUILD_DIR/tools/sluice"
TRACEGEN="$SLUICE_BUILD_DIR/tools/sluice-tracegen"

TEST_NAME=$(basename "$0" .sh)
PREFIX="sluice-it-$TEST_NAME-$$"
WORK=$(mktemp -d "/tmp/$PREFIX.XXXX")

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Removes what a dead primary of our prefix leaves: hugepage files and the runtime folder.
cleanup_prefix() {
  rm -f /dev/hugepages/"$PREFIX"map_* 2>/dev/null || true
  rm -rf "/var/run/dpdk/$PREFIX" 2>/dev/null || true
}

cleanup() {
  if declare -F extra_cleanup > /dev/null; then extra_cleanup; fi
  local pids
  pids=$(jobs -p)
  [ -z "$pids" ] || kill $pids 2>/dev/null || true
  wait 2>/dev/null || true
  cleanup_prefix
  rm -rf "$WORK"
}
trap cleanup EXIT

# write_config FILE DEVICE [extra TOML]: a small config on one worker, our own prefix.
write_config() {
  cat > "$1" <<TOML
[sensor]
name = "test-$TEST_NAME"
[dataplane]
main_core = 0
worker_cores = "1"
hugepage_memory = "256MiB"
file_prefix = "$PREFIX"
[[port]]
device = "$2"
[control]
core = 0
socket = "$WORK/control.sock"
${3:-}
TOML
}

# A [flow] section under which no timeout falls within a test's capture: every record ends
# with the capture or the stop (forcedEnd), as sluice-tracegen --expect assumes.
NO_TIMEOUTS='
[flow]
max_flows = 65536
idle_timeout = "1h"
active_timeout = "1h"
tcp_end_grace = "5m"'

# wait_for_line FILE PATTERN SECONDS: true once a line of FILE matches.
wait_for_line() {
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# wait_exit PID SECONDS: sets EXIT_STATUS to the exit status of PID (a child of this shell),
# or fails after SECONDS.
wait_exit() {
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "pid $1 still running after $2 s"
    sleep 0.2
  done
  EXIT_STATUS=0
  wait "$1" || EXIT_STATUS=$?
}

expect_contains() {
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 does not contain: $2"; }
}
