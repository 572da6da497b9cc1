#!/usr/bin/env bash
# sluice-control says clearly that no dataplane runs under its prefix, after a bounded wait.
source "$(dirname "$0")/lib.sh"

write_config "$WORK/sluice.toml" "net_null0"
status=0
start=$SECONDS
"$CONTROL" --config "$WORK/sluice.toml" --wait 1s 2> "$WORK/err" || status=$?
[ "$status" -eq 3 ] || { cat "$WORK/err" >&2; fail "exited $status, not 3"; }
[ $((SECONDS - start)) -lt 10 ] || fail "waited far beyond --wait"
expect_contains "$WORK/err" "no sluice-dataplane is running with file_prefix \"$PREFIX\""
echo "control_without_dataplane: ok"
