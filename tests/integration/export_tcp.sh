#!/usr/bin/env bash
# The export over TCP: the stream a collector receives is whole IPFIX messages that tshark
# decodes (every template field by name, no malformed message, sequence numbers continuous)
# and that libfixbuf's ipfixDump reads back with every record of the trace present.
source "$(dirname "$0")/lib.sh"

port=47392
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 3000 --seed 6 > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
write_config "$WORK/sluice.toml" "net_pcap0,rx_pcap=$WORK/trace.pcap" "$NO_TIMEOUTS
[[collector]]
name = \"tcp-collector\"
transport = \"tcp\"
address = \"127.0.0.1:$port\""

start_tshark "tcp port $port" "$WORK/export.pcapng"
# The collector: takes one connection and keeps the stream, as RFC 5655 files are.
socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$WORK/stream.ipfix" &
collector=$!
sleep 0.3
timeout 120 "$LAUNCHER" run --config "$WORK/sluice.toml" --summary "$WORK/summary.json" > "$WORK/run.log" 2>&1 ||
  { cat "$WORK/run.log" >&2; fail "sluice run failed"; }
wait_exit "$collector" 20
sleep 0.5
stop "$TSHARK"

expect_contains "$WORK/run.log" "collector \"tcp-collector\" (tcp 127.0.0.1:$port): exporting"
expect_summary "$WORK/summary.json" received.packets="$packets" collectors.0.name=tcp-collector \
  collectors.0.exported.records=3000 collectors.0.exported.packets="$packets" \
  collectors.0.not_sent.records=0 collectors.0.balanced=true
check_tshark "$WORK/export.pcapng" "tcp.port==$port,cflow"

ipfixDump -i "$WORK/stream.ipfix" -s > "$WORK/stats.txt" 2> "$WORK/ipfixdump.err"
[ ! -s "$WORK/ipfixdump.err" ] || { cat "$WORK/ipfixdump.err" >&2; fail "ipfixDump complains"; }
# 3000 flow records, the domain's and the port's names, the statistics records at the start
# and at the end, and a type record for each of Sluice's own 24 elements; the templates: 2 of
# flows, 5 of options, and 38 of flows with metadata (TLS, HTTP, DNS, QUIC, each with or
# without TCP health and with or without the tunnel, and TCP health, the tunnel or both alone;
# IPv4 and IPv6).
expect_contains "$WORK/stats.txt" "3030 Data Records, 45 Template Records"
flows=$(flow_records "$WORK/stats.txt")
[ "$flows" -eq 3000 ] || { cat "$WORK/stats.txt" >&2; fail "$flows flow records in the stream, not 3000"; }
echo "export_tcp: ok"
