#!/usr/bin/env bash
# The last reliability statistics records a collector gets carry exactly the final accounting
# (sluice-control --summary): packets received and their octets, IP octets metered, packets
# ignored with their IP and link-layer octets, and the records, packets and octets not sent,
# over every transport, decoded by libfixbuf's ipfixDump; for a capture and for a live sensor
# that is stopped. With them a collector checks that every packet is accounted for.
source "$(dirname "$0")/lib.sh"
extra_cleanup() { restore_receive_buffers; }
roomy_receive_buffers

# check_statistics SUMMARY COLLECTOR-INDEX IPFIX-FILE: the file's last statistics records
# against the summary's figures.
check_statistics() {
  python3 "$SLUICE_SOURCE_DIR/tests/integration/ipfix_statistics.py" "$3" > "$WORK/last.json"
  python3 - "$1" "$2" "$WORK/last.json" <<'PY' || fail "the last statistics records of $3 differ from the summary"
import json, sys
summary = json.load(open(sys.argv[1]))
collector = summary["collectors"][int(sys.argv[2])]
last = json.load(open(sys.argv[3]))
m, e, d = last["metering"], last["exporting"], last["domain"]
want = {
    ("metering", "packetTotalCount"): summary["received"]["packets"],
    ("metering", "layer2OctetTotalCount"): summary["received"]["frame_octets"],
    ("metering", "octetTotalCount"): summary["metered"]["ip_octets"],
    ("metering", "ignoredPacketTotalCount"): summary["ignored"]["packets"],
    ("metering", "ignoredOctetTotalCount"): summary["ignored"]["ip_octets"],
    ("metering", "ignoredLayer2OctetTotalCount"): summary["ignored"]["frame_octets"],
    ("exporting", "notSentFlowTotalCount"): collector["not_sent"]["records"],
    ("exporting", "notSentPacketTotalCount"): collector["not_sent"]["packets"],
    ("exporting", "notSentOctetTotalCount"): collector["not_sent"]["ip_octets"],
}
bad = [f"{k[1]}: {last[k[0]][k[1]]} in the records, {v} in the summary"
       for k, v in want.items() if int(last[k[0]][k[1]]) != v]
if d["observationDomainName"] != "(len: %d) %s" % (len(summary["sensor"]), summary["sensor"]):
    bad.append("observationDomainName: " + d["observationDomainName"])
if not collector["balanced"]:
    bad.append("the summary's accounting does not balance: " + json.dumps(collector))
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# A capture with 740 packets no record may show (broken, cut, tunnelled too deep).
"$TRACEGEN" --out "$WORK/hostile.pcap" --flows 200 --seed 5 --hostile > /dev/null

# file
timeout 120 "$LAUNCHER" pcap "$WORK/hostile.pcap" --transport file --to "$WORK/file.ipfix" \
  --summary "$WORK/file.json" > "$WORK/file.log" 2>&1 || { cat "$WORK/file.log" >&2; fail "sluice pcap to a file failed"; }
[ "$(SUMMARY=$WORK/file.json summary ignored packets)" -eq 740 ] || fail "not 740 packets ignored"
check_statistics "$WORK/file.json" 0 "$WORK/file.ipfix"

# udp: a collector that keeps every datagram
port=47396
socat -u "UDP-RECV:$port,bind=127.0.0.1,rcvbuf=4000000" "CREATE:$WORK/udp.ipfix" &
socat_pid=$!
sleep 0.3
timeout 120 "$LAUNCHER" pcap "$WORK/hostile.pcap" --to "127.0.0.1:$port" \
  --summary "$WORK/udp.json" > "$WORK/udp.log" 2>&1 || { cat "$WORK/udp.log" >&2; fail "sluice pcap over UDP failed"; }
sleep 0.5
kill "$socat_pid"
wait "$socat_pid" 2> /dev/null || true
check_statistics "$WORK/udp.json" 0 "$WORK/udp.ipfix"

# tcp, to a collector that reads nothing for 3 s: the collector's buffer (1 MiB, 8192 records)
# overflows, and what it could not hold is counted as not sent, in the last statistics too.
"$TRACEGEN" --out "$WORK/big.pcap" --flows 100000 --seed 6 > /dev/null
port=47397
python3 -c "
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(1)
c, _ = s.accept()
time.sleep(3)
with open(sys.argv[2], 'wb') as f:
    while data := c.recv(1 << 20):
        f.write(data)" "$port" "$WORK/tcp.ipfix" &
reader=$!
sleep 0.3
printf '[[collector]]\ntransport = "tcp"\naddress = "127.0.0.1:1"\nbuffer_size = "1MiB"\n' > "$WORK/small-buffer.toml"
timeout 120 "$LAUNCHER" pcap "$WORK/big.pcap" --config "$WORK/small-buffer.toml" --transport tcp \
  --to "127.0.0.1:$port" --summary "$WORK/tcp.json" > "$WORK/tcp.log" 2>&1 || { cat "$WORK/tcp.log" >&2; fail "sluice pcap over TCP failed"; }
wait_exit "$reader" 30
[ "$(SUMMARY=$WORK/tcp.json summary collectors 0 not_sent records)" -gt 0 ] ||
  fail "the slow collector's buffer did not overflow (the test lost its point)"
check_statistics "$WORK/tcp.json" 0 "$WORK/tcp.ipfix"

# A live sensor, stopped: net_null delivers frames of zeros as fast as the worker takes them,
# every one ignored (non_ip); SIGINT stops it, and both collectors' last statistics are final.
port=47398
socat -u "UDP-RECV:$port,bind=127.0.0.1,rcvbuf=4000000" "CREATE:$WORK/live-udp.ipfix" &
socat_pid=$!
sleep 0.3
write_config "$WORK/live.toml" "net_null0" "[[collector]]
name = \"file\"
transport = \"file\"
path = \"$WORK/live.ipfix\"
[[collector]]
name = \"udp\"
address = \"127.0.0.1:$port\"
[metrics]
enabled = false"
"$DATAPLANE" --config "$WORK/live.toml" > "$WORK/dataplane.log" 2>&1 &
dataplane=$!
"$CONTROL" --config "$WORK/live.toml" --wait 20s --summary "$WORK/live.json" > "$WORK/control.log" 2>&1 &
control=$!
wait_for_line "$WORK/control.log" "attached to sluice-dataplane" 30 || { cat "$WORK/control.log" >&2; fail "never attached"; }
sleep 1
kill -INT "$dataplane"
wait_exit "$dataplane" 30
wait_exit "$control" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/control.log" >&2; fail "the control exited $EXIT_STATUS"; }
sleep 0.5
kill "$socat_pid"
wait "$socat_pid" 2> /dev/null || true
[ "$(SUMMARY=$WORK/live.json summary ignored by_reason non_ip packets)" -gt 0 ] || fail "the live port delivered nothing"
check_statistics "$WORK/live.json" 0 "$WORK/live.ipfix"
check_statistics "$WORK/live.json" 1 "$WORK/live-udp.ipfix"
echo "statistics_records: ok"
