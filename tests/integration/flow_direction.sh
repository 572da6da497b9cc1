#!/usr/bin/env bash
# [sensor] local_networks gives the records flowDirection (IPFIX 61): egress (1) when the
# record's source is inside, ingress (0) when not. A biflow's source is its initiator; each
# uniflow record's, its sender. Through the real `sluice pcap` to an IPFIX file that
# ipfixDump (libfixbuf) reads, the clients 10.x and 2001:db8:0:1::x of the trace against
# local networks 10.0.0.0/8 and 2001:db8:0:2::/64: every record's flowDirection is the one
# its source address gives. Without local networks, no record carries the element.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 300 --seed 5 --expect "$WORK/expected.jsonl" > /dev/null
printf '[sensor]\nlocal_networks = ["10.0.0.0/8", "2001:db8:0:2::/64"]\n%s\n[applications]\nsignatures = ""\n' \
  "$NO_TIMEOUTS" > "$WORK/local.toml"
printf '%s\n[applications]\nsignatures = ""\n' "$NO_TIMEOUTS" > "$WORK/plain.toml"

# dump CONFIG SHAPE: the records of `sluice pcap` as ipfixDump reads them, in $WORK/dump.txt.
dump() {
  rm -f "$WORK/records.ipfix"
  timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --config "$1" --records "$2" --to "$WORK/records.ipfix" \
    --transport file > "$WORK/pcap.log" 2>&1 || { cat "$WORK/pcap.log" >&2; fail "sluice pcap failed"; }
  ipfixDump -i "$WORK/records.ipfix" > "$WORK/dump.txt" 2> "$WORK/ipfixdump.err" || fail "ipfixDump failed"
  [ ! -s "$WORK/ipfixdump.err" ] || { cat "$WORK/ipfixdump.err" >&2; fail "ipfixDump complains"; }
}

# check SHAPE: each flow record's flowDirection against its source address; the records
# counted per direction as the trace's conversations say.
check() {
  python3 - "$WORK/dump.txt" "$WORK/expected.jsonl" "$1" <<'PY' || fail "$1: flowDirection is not what the local networks say"
import collections, ipaddress, json, sys
local = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:0:2::/64")]
def direction(address):
    a = ipaddress.ip_address(address)
    return 1 if any(a.version == n.version and a in n for n in local) else 0
want = collections.Counter()
for line in open(sys.argv[2]):
    r = json.loads(line)
    want[direction(r["src"])] += 1
    if sys.argv[3] == "uniflow" and r["rpackets"] != 0:
        want[direction(r["dst"])] += 1
got = collections.Counter()
bad = 0
for record in open(sys.argv[1]).read().split("--- data record")[1:]:
    fields = {}
    for line in record.splitlines():
        if " : " in line:
            name, value = line.split(" : ", 1)
            fields.setdefault(name.split()[-1], value.strip())
    source = fields.get("sourceIPv4Address") or fields.get("sourceIPv6Address")
    if source is None:
        continue  # an options record
    if "flowDirection" not in fields:
        sys.exit(f"a record from {source} without flowDirection")
    d = int(fields["flowDirection"])
    bad += d != direction(source)
    got[d] += 1
print(f"{sys.argv[3]}: egress {got[1]}, ingress {got[0]}; expected {want[1]}, {want[0]}", file=sys.stderr)
sys.exit(1 if bad or got != want or got[0] == 0 or got[1] == 0 else 0)
PY
}

dump "$WORK/local.toml" biflow
check biflow
dump "$WORK/local.toml" uniflow
check uniflow
dump "$WORK/plain.toml" biflow
! grep -qE "\bflowDirection" "$WORK/dump.txt" || fail "without local networks, records carry flowDirection"
echo "flow_direction: ok"
