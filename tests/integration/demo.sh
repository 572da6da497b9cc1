#!/usr/bin/env bash
# The README's first command, as a new user runs it: tools/demo ends with status 0 and shows
# nfdump's totals, which equal the trace's, and the accounting line.
source "$(dirname "$0")/lib.sh"

status=0
timeout 600 "$SLUICE_SOURCE_DIR/tools/demo" > "$WORK/demo.out" 2>&1 || status=$?
[ "$status" -eq 0 ] || { cat "$WORK/demo.out" >&2; fail "tools/demo exited with status $status"; }
trace=$(grep '^demo: the trace: ' "$WORK/demo.out") || { cat "$WORK/demo.out" >&2; fail "the demo did not show the trace's totals"; }
echo "${trace#demo: the trace: }" > "$WORK/trace.json"
packets=$(json_field "$WORK/trace.json" packets)
octets=$(json_field "$WORK/trace.json" ip_octets)
flows=$(json_field "$WORK/trace.json" flows)
expect_contains "$WORK/demo.out" "  Flows: $flows"
expect_contains "$WORK/demo.out" "  Packets: $packets"
expect_contains "$WORK/demo.out" "  Bytes: $octets"
expect_contains "$WORK/demo.out" "$packets packets received = $packets in $flows records exported + 0 ignored + 0 in 0 records not sent"
expect_contains "$WORK/demo.out" "demo: nfdump's totals are the trace's"
[ "$(grep -c ' -> ' "$WORK/demo.out")" -eq 10 ] || { cat "$WORK/demo.out" >&2; fail "the demo did not show ten flows"; }
echo "demo: ok"
