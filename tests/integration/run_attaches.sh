#!/usr/bin/env bash
# `sluice run` starts the dataplane on a live (idle) port, then the control, which attaches;
# SIGINT to the launcher stops both, and everything exits 0.
source "$(dirname "$0")/lib.sh"

write_config "$WORK/sluice.toml" "net_null0,no-rx=1"

"$LAUNCHER" run --config "$WORK/sluice.toml" > "$WORK/log" 2>&1 &
launcher=$!
wait_for_line "$WORK/log" "sluice: running" 60 || { cat "$WORK/log" >&2; fail "never ready"; }
expect_contains "$WORK/log" "sluice-dataplane: port[1] (net_null0): port 0, driver net_null"
expect_contains "$WORK/log" "sluice-dataplane: main lcore on CPU 0, 1 workers on CPUs 1"
expect_contains "$WORK/log" "sluice-control: attached to sluice-dataplane pid"
expect_contains "$WORK/log" "sensor \"test-run_attaches\", 1 ports, 1 workers"
expect_contains "$WORK/log" "allocator jemalloc 5."

kill -INT "$launcher"
wait_exit "$launcher" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/log" >&2; fail "sluice exited $EXIT_STATUS"; }
expect_contains "$WORK/log" "sluice-dataplane: SIGINT received: flushing every flow"
expect_contains "$WORK/log" "sluice-control: sluice-dataplane has exited"
if pgrep -f "$PREFIX" > /dev/null; then fail "a process of $PREFIX is still running"; fi
echo "run_attaches: ok"
