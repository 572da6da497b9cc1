#!/usr/bin/env bash
# sluice-control killed with SIGKILL every 2 seconds for 20 seconds while 20,000 conversations
# end and go to a TCP collector: each next control takes up what the killed one held (the
# batch of the rings in hand, the records buffer, the counters), so the collector has every
# record; a record it may hold twice was counted as sent again, and the last control's
# accounting, which runs on from the first, balances.
source "$(dirname "$0")/lib.sh"

port=47471
veth_pair
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 20000 --seed 17 --spread 20 \
  --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
write_config "$WORK/sluice.toml" "net_af_packet0,iface=$NEAR,framecnt=8192" "
[flow]
max_flows = 65536
idle_timeout = \"1s\"
active_timeout = \"1h\"
tcp_end_grace = \"500ms\"
[[collector]]
name = \"archive\"
transport = \"tcp\"
address = \"127.0.0.1:$port\"
[metrics]
enabled = false"
config_set "$WORK/sluice.toml" control socket "\"$WORK/control.sock\""

# Each connection in a file of its own: a killed control's connection may still be delivering
# what it was given while the next one connects.
mkdir "$WORK/in"
socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
  SYSTEM:"cat > $WORK/in/\$\$.ipfix" &
"$DATAPLANE" --config "$WORK/sluice.toml" > "$WORK/dataplane.log" 2>&1 &
dataplane=$!
start_control() {
  "$CONTROL" --config "$WORK/sluice.toml" --wait 20s "$@" 2>> "$WORK/control.log" &
  control=$!
}
start_control
wait_for_line "$WORK/control.log" 'collector "archive" (tcp 127.0.0.1:'"$port"'): exporting' 30 ||
  { cat "$WORK/dataplane.log" "$WORK/control.log" >&2; fail "the first control never connected"; }

pps=$((packets / 20 + 1))
replay "$WORK/trace.pcap" "$pps" &
replayer=$!
kills=0
for _ in $(seq 10); do
  sleep 2
  kill -KILL "$control"
  wait "$control" 2> /dev/null || true
  kills=$((kills + 1))
  start_control
done
kill -KILL "$control"
wait "$control" 2> /dev/null || true
wait "$replayer" || fail "the replay failed"
sleep 3  # the last conversations end (idle_timeout 1s)
start_control --summary "$WORK/summary.json"
sleep 3
kill -INT "$dataplane"
wait_exit "$dataplane" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/dataplane.log" >&2; fail "sluice-dataplane exited $EXIT_STATUS"; }
wait_exit "$control" 30
[ "$EXIT_STATUS" -eq 0 ] || { tail -30 "$WORK/control.log" >&2; fail "the last control exited $EXIT_STATUS"; }
sleep 1

host_frames "$WORK/summary.json"
[ "$(summary received packets)" -eq $((packets + HOST_FRAMES)) ] ||
  fail "the dataplane received $(summary received packets) packets of the trace's $packets"
taken=$(summary taken records)
resent=$(summary collectors 0 resent)
expect_summary "$WORK/summary.json" collectors.0.exported.records="$taken" \
  collectors.0.not_sent.records=0 collectors.0.balanced=true
python3 "$(dirname "$0")/ipfix_records.py" "$WORK"/in/*.ipfix > "$WORK/got.jsonl"
every_record_arrives "$WORK/expected.jsonl" "$WORK/got.jsonl" "$resent"
echo "control_kill: $kills kills, $(ls "$WORK/in" | wc -l) connections" >&2
echo "control_kill: ok"
