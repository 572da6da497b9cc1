#!/usr/bin/env bash
# A TCP collector away for 60 seconds under traffic, with a memory buffer of 1 MiB and a spool:
# 100,000 conversations end during the outage, the records beyond the buffer go to the spool
# (`sluicectl spool` shows them), and once the collector is back every record arrives exactly
# once, each connection's sequence numbers run on, and the spool is empty at the end.
source "$(dirname "$0")/lib.sh"

SLUICECTL="$SLUICE_BUILD_DIR/tools/sluicectl"
port=47441
veth_pair
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 100000 --seed 91 --spread 30 \
  --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
write_config "$WORK/sluice.toml" "net_af_packet0,iface=$NEAR,framecnt=8192" "
[flow]
max_flows = 262144
idle_timeout = \"1s\"
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
ctl() { "$SLUICECTL" --config "$WORK/sluice.toml" "$@"; }
# spool_field KEY: the archive collector's spool figure, from sluicectl spool --json.
spool_field() {
  ctl --json spool | python3 -c "import json,sys; print(json.load(sys.stdin)['collectors'][0]['$1'])"
}

socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$WORK/before.ipfix" &
collector=$!
"$LAUNCHER" run --config "$WORK/sluice.toml" --summary "$WORK/summary.json" > "$WORK/run.log" 2>&1 &
launcher=$!
wait_for_line "$WORK/run.log" 'collector "archive" (tcp 127.0.0.1:'"$port"'): exporting' 30 ||
  { cat "$WORK/run.log" >&2; fail "never connected to the collector"; }
kill "$collector"  # the outage begins
wait "$collector" 2> /dev/null || true
wait_for_line "$WORK/run.log" 'collector "archive" .*the collector closed the connection' 10 ||
  fail "the lost connection was not noticed"
outage_start=$SECONDS
replay "$WORK/trace.pcap" 40000
sleep 3  # the last conversations end (idle_timeout 1s)
spooled=$(spool_field records)
[ "$spooled" -gt 50000 ] || { ctl spool >&2; fail "only $spooled records in the spool during the outage"; }
ctl spool > "$WORK/spool.txt"
expect_contains "$WORK/spool.txt" "$WORK/spool"
remaining=$((60 - (SECONDS - outage_start)))
[ "$remaining" -le 0 ] || sleep "$remaining"
socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$WORK/after.ipfix" &
collector=$!
wait_for_line "$WORK/run.log" 'collector "archive" .*exporting again' 40 || { cat "$WORK/run.log" >&2; fail "never reconnected"; }
for _ in $(seq 100); do
  [ "$(spool_field records)" -eq 0 ] && break
  sleep 0.2
done
[ "$(spool_field records)" -eq 0 ] || { ctl spool >&2; fail "the spool did not drain"; }
replayed=$(spool_field replayed)
[ "$replayed" -ge "$spooled" ] || fail "$replayed records replayed from a spool that held $spooled"
sleep 1
kill -INT "$launcher"
wait_exit "$launcher" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/run.log" >&2; fail "sluice run exited $EXIT_STATUS"; }
wait_exit "$collector" 10

host_frames "$WORK/summary.json"
[ "$(summary received packets)" -eq $((packets + HOST_FRAMES)) ] ||
  fail "the dataplane received $(summary received packets) packets of the trace's $packets"
taken=$(summary taken records)
expect_summary "$WORK/summary.json" collectors.0.exported.records="$taken" \
  collectors.0.not_sent.records=0 collectors.0.spooled.records=0 collectors.0.balanced=true
[ -z "$(find "$WORK/spool" -name '*.spool')" ] || { ls -l "$WORK/spool" >&2; fail "the spool is not empty at the end"; }
for part in before after; do
  python3 "$(dirname "$0")/ipfix_sequence.py" "$WORK/$part.ipfix" >&2 ||
    fail "the sequence numbers of the $part connection do not run on"
  python3 "$(dirname "$0")/ipfix_records.py" "$WORK/$part.ipfix" >> "$WORK/got.jsonl"
done
same_records "$WORK/expected.jsonl" "$WORK/got.jsonl" \
  "the collector does not hold every record of the trace exactly once" \
  src,dst,sport,dport,proto,packets,octets,rpackets,roctets
echo "spool_outage: $spooled records in the spool during the outage, $replayed replayed" >&2
echo "spool_outage: ok"
