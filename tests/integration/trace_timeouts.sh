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
  replay_with_records "$WORK/sluice.toml"
  mv "$WORK/records.jsonl" "$WORK/records$run.jsonl"
  cleanup_prefix
done
same_records "$WORK/records1.jsonl" "$WORK/records2.jsonl" "two runs differ"
grep -q '"proto": 6, .*"end_reason": 3' "$WORK/records1.jsonl" || fail "no TCP flow ended by FIN"
grep -q '"end_reason": 4' "$WORK/records1.jsonl" || fail "no flow ended with the trace"
if grep '"end_reason": 3' "$WORK/records1.jsonl" | grep -qv '"proto": 6'; then fail "a non-TCP flow ended by FIN"; fi
[ "$(wc -l < "$WORK/records1.jsonl")" -eq 500 ] || fail "not 500 records"
echo "trace_timeouts: ok"
