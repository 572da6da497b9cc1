#!/usr/bin/env bash
# Timeouts run on the capture's own clock: under the default tcp_end_grace (2s) the TCP
# conversations that closed early end as endOfFlowDetected (3), the rest at the end of the
# trace as forcedEnd (4), and two runs give the same records.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 500 --seed 9 > /dev/null
write_config "$WORK/sluice.toml" "net_pcap0,rx_pcap=$WORK/trace.pcap" '
[flow]
max_flows = 65536'

for run in 1 2; do
  "$DATAPLANE" --config "$WORK/sluice.toml" > "$WORK/dataplane$run.log" 2>&1 &
  dataplane=$!
  "$CONTROL" --config "$WORK/sluice.toml" --wait 20s --print-records > "$WORK/records$run.jsonl" 2> "$WORK/control$run.log" ||
    fail "sluice-control failed"
  wait_exit "$dataplane" 30
  [ "$EXIT_STATUS" -eq 0 ] || fail "sluice-dataplane exited $EXIT_STATUS"
  cleanup_prefix
done
diff <(sort "$WORK/records1.jsonl") <(sort "$WORK/records2.jsonl") > "$WORK/diff" || { head -4 "$WORK/diff" >&2; fail "two runs differ"; }
grep -q '"proto": 6, .*"end_reason": 3' "$WORK/records1.jsonl" || fail "no TCP flow ended by FIN"
grep -q '"end_reason": 4' "$WORK/records1.jsonl" || fail "no flow ended with the trace"
if grep '"end_reason": 3' "$WORK/records1.jsonl" | grep -qv '"proto": 6'; then fail "a non-TCP flow ended by FIN"; fi
[ "$(wc -l < "$WORK/records1.jsonl")" -eq 500 ] || fail "not 500 records"
echo "trace_timeouts: ok"
