#!/usr/bin/env bash
# A capture through net_pcap, sluice-dataplane and sluice-control to nfcapd over UDP: nfdump's
# totals equal the trace's, and each flow, both directions in one biflow, has the fields of the
# conversation that made it; nfcapd finds no gap in the sequence numbers of the datagrams the
# kernel cut from sluice's batches. A second collector gets the same records one datagram per
# send, as a capture on the sensor's host can show them: tshark decodes every template field by
# name and finds no malformed message and no gap in the sequence numbers.
source "$(dirname "$0")/lib.sh"
extra_cleanup() { restore_receive_buffers; }
roomy_receive_buffers

port=47391
tshark_port=47392
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 3000 --seed 5 --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
octets=$(json_field "$WORK/totals.json" ip_octets)
write_config "$WORK/sluice.toml" "net_pcap0,rx_pcap=$WORK/trace.pcap" "$NO_TIMEOUTS
[[collector]]
name = \"nfcapd\"
address = \"127.0.0.1:$port\"
[[collector]]
name = \"tshark\"
address = \"127.0.0.1:$tshark_port\"
segmentation_offload = false"

start_tshark "udp port $tshark_port" "$WORK/export.pcapng"
socat -u "UDP-RECV:$tshark_port,bind=127.0.0.1" /dev/null &
sink=$!
start_nfcapd "$port" "$WORK/nfcapd"
timeout 120 "$LAUNCHER" run --config "$WORK/sluice.toml" --summary "$WORK/summary.json" > "$WORK/run.log" 2>&1 ||
  { cat "$WORK/run.log" >&2; fail "sluice run failed"; }
stop_nfcapd
sleep 0.5  # tshark writes the last datagrams it captured a moment later
stop "$TSHARK"
kill "$sink"

expect_summary "$WORK/summary.json" received.packets="$packets" metered.ip_octets="$octets" \
  ignored.packets=0 collectors.0.name=nfcapd collectors.0.exported.records=3000 \
  collectors.0.exported.packets="$packets" collectors.0.exported.ip_octets="$octets" \
  collectors.0.not_sent.records=0 collectors.0.balanced=true
nfdump -R "$WORK/nfcapd" -I > "$WORK/nfdump-totals.txt"
expect_contains "$WORK/nfdump-totals.txt" "Flows: 3000"
expect_contains "$WORK/nfdump-totals.txt" "Packets: $packets"
expect_contains "$WORK/nfdump-totals.txt" "Bytes: $octets"
expect_contains "$WORK/nfcapd.log" "Sequence Errors: 0"

python3 "$(dirname "$0")/nfdump_lines.py" "$WORK/expected.jsonl" | sort > "$WORK/expected.txt"
nfdump_flows "$WORK/nfcapd" | sort > "$WORK/stored.txt"
if ! diff "$WORK/expected.txt" "$WORK/stored.txt" > "$WORK/diff"; then
  head -20 "$WORK/diff" >&2
  fail "nfdump's flows differ from the trace's conversations"
fi

check_tshark "$WORK/export.pcapng" "udp.port==$tshark_port,cflow"
expect_summary "$WORK/summary.json" collectors.1.name=tshark collectors.1.exported.records=3000 \
  collectors.1.balanced=true
messages=$(summary collectors 1 exported messages)
[ "$TSHARK_MESSAGES" -eq "$messages" ] || fail "tshark saw $TSHARK_MESSAGES IPFIX messages, sluice-control sent $messages"
echo "export_udp: ok"
