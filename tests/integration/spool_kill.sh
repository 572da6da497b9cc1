#!/usr/bin/env bash
# sluice-control killed with SIGKILL while its TCP collector is away: 40,000 conversations end
# during the outage, the records beyond the 1 MiB buffer go to the spool, and the control is
# killed every 2 seconds and started again. Once the collector is back, the last control sends
# everything the killed ones held, in their buffers and in the spool: every record arrives, a
# record held twice was counted as sent again, and the spool ends empty.
source "$(dirname "$0")/lib.sh"

SLUICECTL="$SLUICE_BUILD_DIR/tools/sluicectl"
port=47481
veth_pair
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 40000 --seed 23 --spread 12 \
  --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
write_config "$WORK/sluice.toml" "net_af_packet0,iface=$NEAR,framecnt=8192" "
[flow]
max_flows = 131072
# Long enough that a stall of the replay on a loaded machine does not cut a conversation in
# two (at 1s, 54 of 40,000 once were: 54 missing, 108 unknown).
idle_timeout = \"3s\"
active_timeout = \"1h\"
tcp_end_grace = \"500ms\"
[[collector]]
name = \"archive\"
transport = \"tcp\"
address = \"127.0.0.1:$port\"
buffer_size = \"1MiB\"
spool = \"$WORK/spool\"
[metrics]
enabled = false"
# spool_records: what the spool holds, by sluicectl spool; -1 while no control answers.
spool_records() {
  "$SLUICECTL" --config "$WORK/sluice.toml" --json spool 2> /dev/null |
    python3 -c "import json,sys; print(json.load(sys.stdin)['collectors'][0]['records'])" \
      2> /dev/null || echo -1
}

# What the controls said of the spool and of records not sent, for a failure to be read.
explain_failure() {
  echo "--- the controls' warnings:"
  grep -E 'warning|damag|not sent|spool' "$WORK/control.log" | grep -v '^EAL' | tail -40
}

mkdir "$WORK/in"
socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$WORK/in/before.ipfix" &
collector=$!
"$DATAPLANE" --config "$WORK/sluice.toml" > "$WORK/dataplane.log" 2>&1 &
dataplane=$!
start_control() {
  "$CONTROL" --config "$WORK/sluice.toml" --wait 20s "$@" 2>> "$WORK/control.log" &
  control=$!
}
start_control
wait_for_line "$WORK/control.log" 'collector "archive" (tcp 127.0.0.1:'"$port"'): exporting' 30 ||
  { cat "$WORK/dataplane.log" "$WORK/control.log" >&2; fail "the first control never connected"; }
kill "$collector"  # the outage begins
wait "$collector" 2> /dev/null || true
wait_for_line "$WORK/control.log" 'collector "archive" .*the collector closed the connection' 10 ||
  fail "the lost connection was not noticed"

replay "$WORK/trace.pcap" $((packets / 12 + 1)) &
replayer=$!
kills=0
for _ in $(seq 6); do
  sleep 2
  kill -KILL "$control"
  wait "$control" 2> /dev/null || true
  kills=$((kills + 1))
  start_control
done
wait "$replayer" || fail "the replay failed"
sleep 5  # the last conversations end (idle_timeout 3s)
spooled=$(spool_records)
[ "$spooled" -gt 20000 ] || fail "only $spooled records in the spool during the outage"
kill -KILL "$control"
wait "$control" 2> /dev/null || true
kills=$((kills + 1))

# The collector is back, each connection in a file of its own.
socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" SYSTEM:"cat > $WORK/in/\$\$.ipfix" &
start_control --summary "$WORK/summary.json"
for _ in $(seq 150); do
  [ "$(spool_records)" -eq 0 ] && break
  sleep 0.2
done
[ "$(spool_records)" -eq 0 ] || fail "the spool did not drain"
sleep 1
kill -INT "$dataplane"
wait_exit "$dataplane" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/dataplane.log" >&2; fail "sluice-dataplane exited $EXIT_STATUS"; }
wait_exit "$control" 30
[ "$EXIT_STATUS" -eq 0 ] || { tail -30 "$WORK/control.log" >&2; fail "the last control exited $EXIT_STATUS"; }
sleep 1

host_frames "$WORK/summary.json"
[ "$(summary received packets)" -eq $((packets + HOST_FRAMES)) ] ||
  fail "the dataplane received $(summary received packets) packets of the trace's $packets"
expect_summary "$WORK/summary.json" collectors.0.exported.records="$(summary taken records)" \
  collectors.0.not_sent.records=0 collectors.0.spooled.records=0 collectors.0.balanced=true
[ -z "$(find "$WORK/spool" -name '*.spool')" ] || { ls -l "$WORK/spool" >&2; fail "the spool is not empty at the end"; }
python3 "$(dirname "$0")/ipfix_records.py" "$WORK"/in/*.ipfix > "$WORK/got.jsonl"
every_record_arrives "$WORK/expected.jsonl" "$WORK/got.jsonl" "$(summary collectors 0 resent)"
echo "spool_kill: $kills kills, $spooled records in the spool, $(ls "$WORK/in" | wc -l) connections" >&2
echo "spool_kill: ok"
