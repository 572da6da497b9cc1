#!/usr/bin/env bash
# TCP health through the whole path: 60 TCP conversations of known health (handshakes of
# different round trips, a retransmission 200 ms late in every third, two segments reordered in
# every third other, a zero window in every fourth, a keep-alive in every fifth) among 200 others
# whose sequence numbers run on. Every TCP record carries its handshake's times, each direction's
# retransmitted packets and octets, out-of-order segments, zero windows and largest gap as the
# trace has them; tshark's analysis of the same packets (tcp.analysis.retransmission,
# out_of_order, zero_window, initial_rtt) agrees, record by record; ipfixDump names the elements.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 200 --tcp-health 60 --seed 9 \
  --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
"$LAUNCHER" pcap "$WORK/trace.pcap" --print-records > "$WORK/got.jsonl" 2> "$WORK/run.log" ||
  { cat "$WORK/run.log" >&2; fail "sluice pcap failed"; }
health=tcp_syn_to_synack_us,tcp_synack_to_ack_us
for f in retransmitted_packets retransmitted_octets out_of_order zero_windows largest_gap_us; do
  health="$health,tcp_$f,reverse_tcp_$f"
done
same_records "$WORK/expected.jsonl" "$WORK/got.jsonl" "the records' TCP health differs from the trace's" \
  "src,dst,sport,dport,proto,packets,octets,rpackets,roctets,$health"

# What tshark's TCP analysis makes of each packet: its ports, the flags it sets, the initial
# round trip it measured.
tshark -r "$WORK/trace.pcap" -Y tcp -T fields -E separator=/t -e tcp.srcport -e tcp.dstport \
  -e tcp.analysis.retransmission -e tcp.analysis.out_of_order -e tcp.analysis.zero_window \
  -e tcp.analysis.initial_rtt -e ip.len -e ipv6.plen 2> /dev/null > "$WORK/analysis.tsv"
python3 - "$WORK" <<'PY' || fail "the records' TCP health differs from tshark's analysis"
import collections, json, sys
work = sys.argv[1]
records = {(r["sport"], r["dport"]): r for r in map(json.loads, open(f"{work}/got.jsonl"))
           if r["proto"] == 6}
counts = collections.defaultdict(collections.Counter)  # by record and field
rtt = {}
for line in open(f"{work}/analysis.tsv"):
    sport, dport, retransmission, out_of_order, zero_window, initial_rtt, ip_len, ip6_len = \
        line.rstrip("\n").split("\t")
    sport, dport = int(sport), int(dport)
    key, prefix = ((sport, dport), "") if (sport, dport) in records else ((dport, sport), "reverse_")
    c = counts[key]
    c[prefix + "tcp_retransmitted_packets"] += bool(retransmission)
    c[prefix + "tcp_retransmitted_octets"] += (int(ip_len) if ip_len else int(ip6_len) + 40) if retransmission else 0
    c[prefix + "tcp_out_of_order"] += bool(out_of_order)
    c[prefix + "tcp_zero_windows"] += bool(zero_window)
    if initial_rtt:
        rtt[key] = round(float(initial_rtt) * 1e6)
bad, totals = [], collections.Counter()
for key, r in records.items():
    for field, n in counts[key].items():
        totals[field.replace("reverse_", "")] += n
        if r.get(field) != n:
            bad.append(f"{field} of {key}: {r.get(field)}, tshark {n}")
    mine = r.get("tcp_syn_to_synack_us", 0) + r.get("tcp_synack_to_ack_us", 0)
    if rtt.get(key, 0) != mine:
        bad.append(f"the handshake of {key}: {mine} us, tshark's initial_rtt {rtt.get(key)} us")
print(f"tcp_health: {len(records)} TCP records; tshark's {dict(totals)}; "
      f"{len(rtt)} initial round trips; {len(bad)} differ", file=sys.stderr)
for b in bad[:10]:
    print(" ", b, file=sys.stderr)
want = {"tcp_retransmitted_packets": 20, "tcp_out_of_order": 20, "tcp_zero_windows": 15}
sys.exit(1 if bad or any(totals[k] != n for k, n in want.items()) else 0)
PY

"$LAUNCHER" pcap "$WORK/trace.pcap" --to "$WORK/records.ipfix" --transport file > "$WORK/file.log" 2>&1 ||
  { cat "$WORK/file.log" >&2; fail "sluice pcap to a file failed"; }
ipfixDump --rfc5610 -y -i "$WORK/records.ipfix" > "$WORK/dump.txt" 2> "$WORK/ipfixdump.err"
[ ! -s "$WORK/ipfixdump.err" ] || { cat "$WORK/ipfixdump.err" >&2; fail "ipfixDump complains"; }
tcp_records=$(grep -c '"proto": 6' "$WORK/got.jsonl")
for name in tcpRetransmittedPackets tcpOutOfOrderPackets tcpZeroWindowPackets tcpLargestGapMicroseconds \
  reverseTcpRetransmittedPackets reverseTcpZeroWindowPackets; do
  [ "$(grep -cE "\(32473/[0-9]+\) *$name : " "$WORK/dump.txt")" -eq "$tcp_records" ] ||
    fail "ipfixDump does not name $name in the $tcp_records TCP records (from the RFC 5610 type records)"
done
[ "$(grep -cE "\) *tcpRetransmittedPackets : 1$" "$WORK/dump.txt")" -eq 20 ] ||
  fail "ipfixDump does not read 20 retransmissions"
[ "$(grep -cE "\) *reverseTcpZeroWindowPackets : 1$" "$WORK/dump.txt")" -eq 15 ] ||
  fail "ipfixDump does not read 15 zero windows of servers"
echo "tcp_health: ok"
