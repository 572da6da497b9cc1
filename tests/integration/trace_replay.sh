#!/usr/bin/env bash
# A capture replayed through net_pcap, sluice-dataplane and sluice-control gives exactly the
# records its conversations make (per direction: packets, octets, first and last times, TCP
# flags, TTLs), and the accounting balances: nothing ignored, nothing lost.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 2000 --seed 3 --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['packets'])" "$WORK/totals.json")
write_config "$WORK/sluice.toml" "net_pcap0,rx_pcap=$WORK/trace.pcap" "$NO_TIMEOUTS"

"$DATAPLANE" --config "$WORK/sluice.toml" > "$WORK/dataplane.log" 2>&1 &
dataplane=$!
"$CONTROL" --config "$WORK/sluice.toml" --wait 20s --print-records > "$WORK/records.jsonl" 2> "$WORK/control.log" ||
  { cat "$WORK/dataplane.log" "$WORK/control.log" >&2; fail "sluice-control failed"; }
wait_exit "$dataplane" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/dataplane.log" >&2; fail "sluice-dataplane exited $EXIT_STATUS"; }
expect_contains "$WORK/dataplane.log" "every capture has been replayed and its flows flushed"

if ! diff <(sort "$WORK/expected.jsonl") <(sort "$WORK/records.jsonl") > "$WORK/diff"; then
  head -20 "$WORK/diff" >&2
  fail "the records differ from the trace's conversations"
fi
[ "$(wc -l < "$WORK/records.jsonl")" -eq 2000 ] || fail "not 2000 records"
expect_contains "$WORK/control.log" \
  "accounting: $packets packets received = $packets in 2000 records taken by sluice-control + 0 ignored + 0 in 0 records not sent by the dataplane"
echo "trace_replay: ok"
