#!/usr/bin/env bash
# [[port]] sampling = "1:10" over a trace of 20,000 conversations (about 190,000 packets),
# through the real `sluice pcap` to nfcapd over UDP. Random (one packet at a random place in
# each 10): nfdump scales the records by the rate the options record gives, and its totals land
# within 4 standard deviations of the trace's (the deviation worked out from the trace's own
# packet sizes, 10 at a time); tshark decodes the options record (random n-out-of-N, 1 in 10,
# the packets observed and selected). Deterministic (the first of each 10): nfdump's totals are
# exactly 10 times those packets'. Either way the accounting counts the packets sampled out
# apart from those ignored, and balances.
source "$(dirname "$0")/lib.sh"

port=47511
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 20000 --seed 8 > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
octets=$(json_field "$WORK/totals.json" ip_octets)
printf '%s\n[applications]\nsignatures = ""\n' "$NO_TIMEOUTS" > "$WORK/flow.toml"
# Every packet's IP length, in the order the worker meets them.
tshark -r "$WORK/trace.pcap" -T fields -e ip.len -e ipv6.plen 2> /dev/null > "$WORK/lengths.txt"

# sampled MODE [OPTION]: `sluice pcap --sampling 1:10` to nfcapd; nfdump's totals in
# $WORK/MODE.totals, the run's summary in $WORK/MODE.json.
sampled() {
  rm -rf "$WORK/nfcapd"
  start_nfcapd "$port" "$WORK/nfcapd"
  timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --config "$WORK/flow.toml" --sampling 1:10 ${2:-} \
    --to "127.0.0.1:$port" --summary "$WORK/$1.json" > "$WORK/$1.log" 2>&1 ||
    { cat "$WORK/$1.log" >&2; fail "$1: sluice pcap failed"; }
  stop_nfcapd
  nfdump -R "$WORK/nfcapd" -I > "$WORK/$1.totals"
  nfdump -R "$WORK/nfcapd" -c 1 -o raw > "$WORK/$1.raw"
  expect_contains "$WORK/$1.raw" "NETFLOW v10, Sampled"
  expect_contains "$WORK/$1.log" "+ 0 ignored + $(summary_of "$WORK/$1.json" sampled_out packets) sampled out + 0 in 0 records not sent"
  expect_summary "$WORK/$1.json" received.packets="$packets" ignored.packets=0 \
    collectors.0.balanced=true collectors.0.not_sent.records=0
}

# summary_of FILE KEY...: a value of a --summary file.
summary_of() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"
}

# One metering thread: each thread samples its own share (one in each 10 of the packets it
# meters), so with more the count of each 10 and the first of each 10 are the threads', not the
# whole trace's that the check below works out.
start_tshark "udp port $port" "$WORK/export.pcapng"
sampled random "--workers 1"
sleep 0.5  # tshark writes the last datagrams it captured a moment later
stop "$TSHARK"
sampled deterministic "--deterministic --workers 1"

python3 - "$WORK" "$packets" "$octets" <<'PY' || fail "the sampled totals are not the trace's"
import json, math, re, sys
work, packets, octets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sizes = [int(v4) if v4 else int(v6) + 40 for v4, v6 in
         (line.rstrip("\n").split("\t") for line in open(f"{work}/lengths.txt"))]
assert len(sizes) == packets and sum(sizes) == octets
n = 10
def totals(mode):
    text = open(f"{work}/{mode}.totals").read()
    return tuple(int(re.search(rf"{k}: (\d+)", text).group(1)) for k in ("Packets", "Bytes"))
bad = []
for mode in ("random", "deterministic"):
    s = json.load(open(f"{work}/{mode}.json"))
    if s["metered"]["packets"] + s["sampled_out"]["packets"] != packets:
        bad.append(f"{mode}: metered + sampled out != the trace's packets")
    if s["metered"]["ip_octets"] + s["sampled_out"]["ip_octets"] != octets:
        bad.append(f"{mode}: metered + sampled out IP octets != the trace's")
    if s["metered"]["packets"] != math.ceil(packets / n) and mode == "deterministic":
        bad.append(f"{mode}: {s['metered']['packets']} packets metered")
    if abs(s["metered"]["packets"] * n - packets) > n:
        bad.append(f"{mode}: {s['metered']['packets']} metered, one in each {n} of {packets}")
# Random: one packet at a random place in each interval of 10, so 10 x its size has each
# interval's variance of sizes (times 100): the sum's deviation is 10 x the root of their sum.
variance = 0.0
for i in range(0, len(sizes) - len(sizes) % n, n):
    block = sizes[i:i + n]
    mean = sum(block) / n
    variance += sum((x - mean) ** 2 for x in block) / n
bound = 4 * n * math.sqrt(variance)
p, b = totals("random")
print(f"random 1:{n}: nfdump {p} packets, {b} bytes; the trace {packets}, {octets} "
      f"(off by {b - octets}, 4 deviations {bound:.0f})", file=sys.stderr)
if abs(p - packets) > n or abs(b - octets) > bound:
    bad.append("random: nfdump's scaled totals beyond the bound")
p, b = totals("deterministic")
first = sizes[::n]
print(f"deterministic 1:{n}: nfdump {p} packets, {b} bytes; the first of each {n}: "
      f"{len(first)}, {sum(first)}", file=sys.stderr)
if (p, b) != (n * len(first), n * sum(first)):
    bad.append("deterministic: nfdump's totals are not 10 x the first of each 10")
for line in bad:
    print(" ", line, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# What tshark decodes of the random run's last options record.
tshark -r "$WORK/export.pcapng" -d "udp.port==$port,cflow" -Y cflow.selector_algorithm -T fields \
  -E separator=' ' -e cflow.selector_algorithm -e cflow.sampling_interval -e cflow.sampling_size \
  -e cflow.sampling_population -e cflow.sampling_packet_interval -e cflow.sampling_packet_space \
  -e cflow.selector_id_total_pkts_observed -e cflow.selector_id_total_pkts_selected 2> /dev/null \
  | tail -1 > "$WORK/options.txt"
selected=$(summary_of "$WORK/random.json" metered packets)
[ "$(cat "$WORK/options.txt")" = "3 10 1 10 1 9 $packets $selected" ] ||
  fail "tshark decodes the sampling options record as '$(cat "$WORK/options.txt")', not '3 10 1 10 1 9 $packets $selected'"
echo "sampling: ok"
