#!/usr/bin/env bash
# sluice-control --check-config prints the effective configuration, or the errors and a failure.
source "$(dirname "$0")/lib.sh"

"$CONTROL" --check-config "$SLUICE_SOURCE_DIR/config/sluice.toml" > "$WORK/out" 2> "$WORK/err" ||
  fail "the example config was rejected: $(cat "$WORK/err")"
expect_contains "$WORK/out" 'idle_timeout = "15s"'
expect_contains "$WORK/out" '[[port]]'
expect_contains "$WORK/out" 'listen = "127.0.0.1:9750"'
expect_contains "$WORK/err" "sluice.toml is valid"

# The effective configuration is itself a valid configuration.
"$CONTROL" --check-config "$WORK/out" > /dev/null 2>&1 || fail "the effective config does not load"

cat > "$WORK/bad.toml" <<'TOML'
[[port]]
device = "net_null0"
[flow]
idle_timout = "15s"
max_flows = "lots"
TOML
status=0
"$CONTROL" --check-config "$WORK/bad.toml" > "$WORK/out" 2> "$WORK/err" || status=$?
[ "$status" -eq 2 ] || fail "a broken config exited $status, not 2"
[ ! -s "$WORK/out" ] || fail "a broken config printed a configuration"
expect_contains "$WORK/err" "bad.toml:4:1: flow.idle_timout: unknown key; did you mean \"idle_timeout\"?"
expect_contains "$WORK/err" "bad.toml:5:13: flow.max_flows: expected a whole number"

status=0
"$CONTROL" --check-config "$WORK/missing.toml" 2> "$WORK/err" || status=$?
[ "$status" -eq 2 ] || fail "a missing config exited $status, not 2"
expect_contains "$WORK/err" "missing.toml: cannot read the configuration: No such file or directory"

# Neither process starts on a broken config.
status=0
"$DATAPLANE" --config "$WORK/bad.toml" 2> "$WORK/err" || status=$?
[ "$status" -eq 2 ] || fail "sluice-dataplane exited $status on a broken config, not 2"
expect_contains "$WORK/err" "flow.idle_timout: unknown key"
echo "check_config: ok"
