#!/usr/bin/env bash
# A TCP collector that goes away for 30 seconds while traffic flows: the records of the outage
# wait in its buffer and arrive after the reconnect, behind fresh templates and with sequence
# numbers starting again; what exceeds the buffer is counted as not sent, exactly. A UDP
# collector that does not exist at all is counted as failing and holds nothing up.
source "$(dirname "$0")/lib.sh"

veth_pair
port=47396
gone=$((port + 1))
# 10000 conversations, each ending (FIN, or 1 s idle) during the outage: 10000 records for a
# buffer of 1 MiB, 8192 records.
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 10000 --seed 61 --spread 2 > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
write_config "$WORK/sluice.toml" "net_af_packet0,iface=$NEAR" "
[flow]
max_flows = 65536
idle_timeout = \"1s\"
active_timeout = \"1h\"
tcp_end_grace = \"500ms\"
# A buffer's size is in slots, and a TCP record's health takes one more: without it, a slot
# is a record, and the buffer holds exactly 8192 records.
[metadata]
tcp_health = false
[[collector]]
name = \"archive\"
transport = \"tcp\"
address = \"127.0.0.1:$port\"
buffer_size = \"1MiB\"
[[collector]]
name = \"nobody\"
address = \"127.0.0.1:$gone\"
[metrics]
enabled = false"

start_tshark "tcp port $port" "$WORK/export.pcapng"
socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$WORK/before.ipfix" &
collector=$!
"$LAUNCHER" run --config "$WORK/sluice.toml" --summary "$WORK/summary.json" > "$WORK/run.log" 2>&1 &
launcher=$!
wait_for_line "$WORK/run.log" 'collector "archive" (tcp 127.0.0.1:'"$port"'): exporting' 30 ||
  { cat "$WORK/run.log" >&2; fail "never connected to the TCP collector"; }

kill "$collector"  # the collector goes away
wait "$collector" 2> /dev/null || true
wait_for_line "$WORK/run.log" 'collector "archive" .*the collector closed the connection' 10 ||
  fail "the lost connection was not noticed"
replay "$WORK/trace.pcap" 50000
sleep 28
socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$WORK/after.ipfix" &
collector=$!
wait_for_line "$WORK/run.log" 'collector "archive" .*exporting again' 40 || { cat "$WORK/run.log" >&2; fail "never reconnected"; }
sleep 2
kill -INT "$launcher"
wait_exit "$launcher" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/run.log" >&2; fail "sluice run exited $EXIT_STATUS"; }
wait_exit "$collector" 10
stop "$TSHARK"

# Every record the dataplane made is exported or counted: the buffer's 8192 went out, the rest
# is the overflow. (A slow build may lose packets in the kernel before the dataplane sees them:
# the counts are then of what it received.)
host_frames "$WORK/summary.json"
taken=$(summary taken records)
expect_summary "$WORK/summary.json" collectors.0.name=archive collectors.0.exported.records=8192 \
  collectors.0.not_sent.records=$((taken - 8192)) collectors.0.balanced=true
[ "$(summary received packets)" -le $((packets + HOST_FRAMES)) ] || fail "more packets received than sent"
# The records of the outage came on the new connection, behind its templates.
ipfixDump -i "$WORK/after.ipfix" -s > "$WORK/after.txt" 2>&1
flows=$(flow_records "$WORK/after.txt")
[ "$flows" -eq 8192 ] || { cat "$WORK/after.txt" >&2; fail "$flows records after the reconnect, not 8192"; }
check_tshark "$WORK/export.pcapng" "tcp.port==$port,cflow"
# The collector that never was: failing, counted, and it held nothing up.
expect_contains "$WORK/run.log" 'collector "nobody" (udp 127.0.0.1:'"$gone"'): cannot send: Connection refused'
expect_summary "$WORK/summary.json" collectors.1.name=nobody collectors.1.balanced=true
[ "$(summary collectors 1 not_sent records)" -gt 0 ] || fail "the missing UDP collector's losses are not counted"
echo "collector_outage: ok"
