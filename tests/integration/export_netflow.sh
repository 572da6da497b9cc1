#!/usr/bin/env bash
# NetFlow v9 and v5 from `sluice pcap --protocol` to nfcapd: nfdump's totals equal the trace's
# (for v5 its IPv4 part, the IPv6 records counted as not sent and said once), each direction of
# each conversation is a flow with its own counters and flags, its first and last seen equal to
# its packets' times to the millisecond (through sysUptime and the switched times of a capture
# from 2023), and nfcapd finds no sequence error. Captured one datagram per send, tshark decodes
# both without a malformed packet or an expert note, every field known by name.
source "$(dirname "$0")/lib.sh"
extra_cleanup() { restore_receive_buffers; }
roomy_receive_buffers

port=47431
tshark_port=47432
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 3000 --seed 11 --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
octets=$(json_field "$WORK/totals.json" ip_octets)
read -r v4_packets v4_octets v4_records v6_records <<< "$(python3 - "$WORK/expected.jsonl" <<'PY'
import json, sys
p = o = n4 = n6 = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    directions = (r["packets"] > 0) + (r["rpackets"] > 0)
    if ":" in r["src"]:
        n6 += directions
    else:
        p += r["packets"] + r["rpackets"]
        o += r["octets"] + r["roctets"]
        n4 += directions
print(p, o, n4, n6)
PY
)"

# netflow PROTOCOL [nfdump_lines.py options]: the capture to nfcapd in that protocol; its
# flows must be the expected ones.
netflow() {
  local protocol=$1
  shift
  start_nfcapd "$port" "$WORK/$protocol"
  timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --to "127.0.0.1:$port" --protocol "$protocol" \
    --summary "$WORK/$protocol.json" > "$WORK/$protocol.log" 2>&1 ||
    { cat "$WORK/$protocol.log" >&2; fail "sluice pcap --protocol $protocol failed"; }
  stop_nfcapd
  mv "$WORK/nfcapd.log" "$WORK/$protocol-nfcapd.log"
  expect_contains "$WORK/$protocol-nfcapd.log" "Sequence Errors: 0"
  nfdump -R "$WORK/$protocol" -I > "$WORK/$protocol-totals.txt"
  expect_contains "$WORK/$protocol-totals.txt" "Sequence failures: 0"
  python3 "$(dirname "$0")/nfdump_lines.py" "$WORK/expected.jsonl" --uniflow "$@" | sort > "$WORK/$protocol-expected.txt"
  nfdump_flows "$WORK/$protocol" | sort > "$WORK/$protocol-stored.txt"
  if ! diff "$WORK/$protocol-expected.txt" "$WORK/$protocol-stored.txt" > "$WORK/diff"; then
    head -20 "$WORK/diff" >&2
    fail "nfdump's $protocol flows differ from the directions of the trace's conversations"
  fi
}

netflow netflow9
uniflows=$((v4_records + v6_records))
expect_contains "$WORK/netflow9-totals.txt" "Flows: $uniflows"
expect_contains "$WORK/netflow9-totals.txt" "Packets: $packets"
expect_contains "$WORK/netflow9-totals.txt" "Bytes: $octets"
expect_summary "$WORK/netflow9.json" received.packets="$packets" collectors.0.exported.records="$uniflows" \
  collectors.0.exported.packets="$packets" collectors.0.exported.ip_octets="$octets" \
  collectors.0.not_sent.records=0 collectors.0.balanced=true

netflow netflow5 --ipv4
expect_contains "$WORK/netflow5-totals.txt" "Flows: $v4_records"
expect_contains "$WORK/netflow5-totals.txt" "Packets: $v4_packets"
expect_contains "$WORK/netflow5-totals.txt" "Bytes: $v4_octets"
expect_summary "$WORK/netflow5.json" received.packets="$packets" collectors.0.exported.records="$v4_records" \
  collectors.0.exported.packets="$v4_packets" collectors.0.exported.ip_octets="$v4_octets" \
  collectors.0.not_sent.records="$v6_records" collectors.0.not_sent.packets=$((packets - v4_packets)) \
  collectors.0.balanced=true
[ "$(grep -c "NetFlow v5 carries IPv4 only" "$WORK/netflow5.log")" -eq 1 ] ||
  { cat "$WORK/netflow5.log" >&2; fail "the IPv6 records a v5 collector cannot take are not said once"; }

# One datagram per send, so that a capture shows each export packet as it is.
cat > "$WORK/one-by-one.toml" <<EOF
[[collector]]
address = "127.0.0.1:$tshark_port"
segmentation_offload = false
EOF
for protocol in netflow9 netflow5; do
  socat -u "UDP-RECV:$tshark_port,bind=127.0.0.1" /dev/null &
  sink=$!
  start_tshark "udp port $tshark_port" "$WORK/$protocol.pcapng"
  timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --config "$WORK/one-by-one.toml" \
    --to "127.0.0.1:$tshark_port" --protocol "$protocol" --summary "$WORK/$protocol-tshark.json" \
    > "$WORK/$protocol-tshark.log" 2>&1 ||
    { cat "$WORK/$protocol-tshark.log" >&2; fail "sluice pcap --protocol $protocol failed"; }
  sleep 0.5
  stop "$TSHARK"
  kill "$sink"
  fields=17  # the v9 flow templates'; v5 has none
  [ "$protocol" = netflow9 ] || fields=0
  check_tshark "$WORK/$protocol.pcapng" "udp.port==$tshark_port,cflow" "$fields"
  SUMMARY="$WORK/$protocol-tshark.json"
  sent=$(summary collectors 0 exported messages)
  [ "$TSHARK_MESSAGES" -eq "$sent" ] || fail "tshark saw $TSHARK_MESSAGES $protocol packets, sluice-control sent $sent"
done
echo "export_netflow: ok"
