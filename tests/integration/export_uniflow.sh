#!/usr/bin/env bash
# A collector that reads no reverse elements: pmacct's nfacctd (print plugin, CSV). Fed biflows
# it counts the initiators' packets only; fed `--records uniflow` it counts every packet and
# byte of the capture, and every conversation is there in both directions; fed NetFlow v9
# (`--protocol netflow9`, uniflow too) it counts them all as well.
source "$(dirname "$0")/lib.sh"

port=47411
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 300 --seed 23 --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
octets=$(json_field "$WORK/totals.json" ip_octets)

# nfacctd_run NAME [sluice pcap options]: the capture to nfacctd; its flows in $WORK/NAME.csv.
nfacctd_run() {
  local name=$1
  shift
  cat > "$WORK/$name.conf" <<CONF
daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: $port
plugins: print
print_output: csv
print_output_file: $WORK/$name.csv
print_refresh_time: 3600
aggregate: src_host, dst_host, src_port, dst_port, proto
CONF
  nfacctd -f "$WORK/$name.conf" > "$WORK/$name-nfacctd.log" 2>&1 &
  local collector=$!
  wait_for_line "$WORK/$name-nfacctd.log" "waiting for NetFlow/IPFIX data" 10 ||
    { cat "$WORK/$name-nfacctd.log" >&2; fail "nfacctd did not start"; }
  timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --to "127.0.0.1:$port" "$@" \
    --summary "$WORK/$name.json" > "$WORK/$name.log" 2>&1 ||
    { cat "$WORK/$name.log" >&2; fail "sluice pcap $* failed"; }
  # One purge, at exit: a purge per interval overwrites the file, and two purges that overlap
  # on a busy host leave the file with some of the flows only.
  sleep 1  # nfacctd's core hands what is queued on its socket to the plugin
  kill -INT "$collector"
  wait_exit "$collector" 20
}

# csv_totals FILE: "PACKETS BYTES" summed over nfacctd's CSV.
csv_totals() {
  python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(sum(int(r["PACKETS"]) for r in rows), sum(int(r["BYTES"]) for r in rows))
PY
}

nfacctd_run biflow
forward=$(python3 -c "import json,sys; print(sum(json.loads(l)['packets'] for l in open(sys.argv[1])))" "$WORK/expected.jsonl")
read -r got _ <<< "$(csv_totals "$WORK/biflow.csv")"
[ "$got" -eq "$forward" ] || fail "nfacctd counted $got packets of biflows, not the initiators' $forward"
[ "$got" -lt "$packets" ] || fail "nfacctd read the reverse counters after all"
expect_summary "$WORK/biflow.json" collectors.0.exported.packets="$packets" collectors.0.balanced=true

nfacctd_run uniflow --records uniflow
read -r got_packets got_octets <<< "$(csv_totals "$WORK/uniflow.csv")"
[ "$got_packets" -eq "$packets" ] || fail "nfacctd counted $got_packets packets, not the capture's $packets"
[ "$got_octets" -eq "$octets" ] || fail "nfacctd counted $got_octets bytes, not the capture's $octets"
expect_summary "$WORK/uniflow.json" received.packets="$packets" collectors.0.exported.packets="$packets" \
  collectors.0.exported.ip_octets="$octets" collectors.0.balanced=true

nfacctd_run netflow9 --protocol netflow9
read -r got_packets got_octets <<< "$(csv_totals "$WORK/netflow9.csv")"
[ "$got_packets" -eq "$packets" ] || fail "nfacctd counted $got_packets packets of NetFlow v9, not $packets"
[ "$got_octets" -eq "$octets" ] || fail "nfacctd counted $got_octets bytes of NetFlow v9, not $octets"

# Every direction of every conversation, with its own packets and bytes (an ICMP reply has no
# type and code of its own: its ports are 0).
python3 - "$WORK/expected.jsonl" "$WORK/uniflow.csv" <<'PY' || fail "nfacctd's flows are not the capture's conversations, direction by direction"
import collections, csv, json, sys
names = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp"}
expected = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    icmp = r["proto"] in (1, 58)
    proto = names[r["proto"]]
    expected[(r["src"], r["dst"], r["sport"], r["dport"], proto, r["packets"], r["octets"])] += 1
    if r["rpackets"]:
        sport, dport = (0, 0) if icmp else (r["dport"], r["sport"])
        expected[(r["dst"], r["src"], sport, dport, proto, r["rpackets"], r["roctets"])] += 1
got = collections.Counter(
    (f["SRC_IP"], f["DST_IP"], int(f["SRC_PORT"]), int(f["DST_PORT"]), f["PROTOCOL"],
     int(f["PACKETS"]), int(f["BYTES"])) for f in csv.DictReader(open(sys.argv[2])))
if got != expected:
    print("missing:", list(expected - got)[:3], "not expected:", list(got - expected)[:3], file=sys.stderr)
    sys.exit(1)
PY
echo "export_uniflow: ok"
