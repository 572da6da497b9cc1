#!/usr/bin/env bash
# Conversations sent through every kind of tunnel (GRE with a key, NVGRE, ERSPAN II and III,
# VXLAN, Geneve, GTP-U, IP in IP; over IPv4 and IPv6) give, through the real `sluice pcap`,
# exactly the records the conversations inside make, every packet metered with its inner IP
# octets; tshark, dissecting the same frames down to their innermost packets, counts the same
# packets per conversation. With no tunnel decapsulated, the same frames are the tunnels' own
# flows (GRE, IP in IP, UDP to the tunnels' ports), nothing ignored.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/tunnels.pcap" --flows 400 --seed 7 --tunnels --expect "$WORK/expected.jsonl" \
  > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
octets=$(json_field "$WORK/totals.json" ip_octets)
printf '%s\n[applications]\nsignatures = ""\n' "$NO_TIMEOUTS" > "$WORK/flow.toml"

# pcap CONFIG: `sluice pcap` of the trace, its records and summary in $WORK.
pcap() {
  timeout 120 "$LAUNCHER" pcap "$WORK/tunnels.pcap" --config "$1" --print-records --summary "$WORK/summary.json" \
    > "$WORK/records.jsonl" 2> "$WORK/pcap.log" || { cat "$WORK/pcap.log" >&2; fail "sluice pcap failed"; }
}

pcap "$WORK/flow.toml"
same_records "$WORK/expected.jsonl" "$WORK/records.jsonl" "the records differ from the conversations inside the tunnels"
expect_summary "$WORK/summary.json" received.packets="$packets" metered.packets="$packets" \
  metered.ip_octets="$octets" ignored.packets=0 taken.records=400

# tshark's innermost packet of each frame: its addresses, protocol and ports, counted per
# conversation (both directions), against the records' packets.
tshark -r "$WORK/tunnels.pcap" -T fields -E occurrence=l -e frame.protocols -e ip.src -e ip.dst \
  -e ipv6.src -e ipv6.dst -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport \
  > "$WORK/tshark.tsv" 2> /dev/null || fail "tshark cannot read the trace"
python3 - "$WORK/tshark.tsv" "$WORK/records.jsonl" <<'PY' || fail "tshark's inner conversations differ from the records"
import collections, ipaddress, json, sys

def key(a, b, proto, pa, pb):
    ends = sorted([(ipaddress.ip_address(a), pa), (ipaddress.ip_address(b), pb)])
    return (proto, ends[0], ends[1])

seen = collections.Counter()
kinds = collections.Counter()
for line in open(sys.argv[1]):
    protocols, s4, d4, s6, d6, ts, td, us, ud = line.rstrip("\n").split("\t")
    layers = protocols.split(":")
    last = max(i for i, p in enumerate(layers) if p in ("ip", "ipv6"))
    inner = layers[last + 1] if last + 1 < len(layers) else ""
    kinds[":".join(layers[:last])] += 1  # the layers outside the innermost packet
    src, dst = (s4, d4) if layers[last] == "ip" else (s6, d6)
    if inner == "tcp":
        seen[key(src, dst, 6, int(ts), int(td))] += 1
    elif inner == "udp":
        seen[key(src, dst, 17, int(us), int(ud))] += 1
    else:
        seen[key(src, dst, inner, 0, 0)] += 1
records = collections.Counter()
for line in open(sys.argv[2]):
    r = json.loads(line)
    proto = {6: 6, 17: 17, 1: "icmp", 58: "icmpv6"}[r["proto"]]
    ports = (r["sport"], r["dport"]) if proto in (6, 17) else (0, 0)
    records[key(r["src"], r["dst"], proto, *ports)] += r["packets"] + r["rpackets"]
if seen != records:
    diff = set(seen.items()) ^ set(records.items())
    print("differ:", sorted(diff, key=str)[:10], file=sys.stderr)
    sys.exit(1)
# Every kind of tunnel took part, under both outer IP versions.
for kind in ("ip:gre:erspan", "ipv6:gre:erspan", "ip:gre:eth", "ip:gre", "ipv6:gre",
             "ip:udp:vxlan", "ipv6:udp:vxlan", "udp:geneve", "ip:udp:gtp", "ipv6:udp:gtp"):
    if not any(kind in k for k in kinds):
        print("no frame through", kind, dict(kinds), file=sys.stderr)
        sys.exit(1)
for ipip in ("eth:ethertype:ip", "eth:ethertype:ipv6"):
    if kinds[ipip] == 0:
        print("no frame through IP in", ipip, dict(kinds), file=sys.stderr)
        sys.exit(1)
print(f"tshark: {sum(seen.values())} packets in {len(seen)} conversations, as the records")
PY

# The same records as IPFIX: libfixbuf reads the tunnel's elements (ours by their RFC 5610 types), one kind in eight
# conversations (two for GRE: with a key and NVGRE; two for ERSPAN: II and III), each with both
# endpoints, and the ERSPAN session as the observation point of ERSPAN's.
timeout 120 "$LAUNCHER" pcap "$WORK/tunnels.pcap" --config "$WORK/flow.toml" --to "$WORK/records.ipfix" \
  --transport file > "$WORK/pcap.log" 2>&1 || { cat "$WORK/pcap.log" >&2; fail "sluice pcap to a file failed"; }
ipfixDump --rfc5610 -i "$WORK/records.ipfix" > "$WORK/dump.txt" 2> "$WORK/ipfixdump.err" || fail "ipfixDump failed"
[ ! -s "$WORK/ipfixdump.err" ] || { cat "$WORK/ipfixdump.err" >&2; fail "ipfixDump complains"; }
grep -o 'tunnelTechnology : (len: [0-9]*) [a-z]*' "$WORK/dump.txt" | awk '{print $NF}' | sort | uniq -c \
  | awk '{printf "%s=%s ", $2, $1}' > "$WORK/kinds.txt"
[ "$(cat "$WORK/kinds.txt")" = "erspan=100 geneve=50 gre=100 gtpu=50 ipip=50 vxlan=50 " ] \
  || fail "tunnelTechnology per kind: $(cat "$WORK/kinds.txt")"
for element in tunnelId tunnelSourceAddress tunnelDestinationAddress observationPointId; do
  [ "$(grep -c "$element : " "$WORK/dump.txt")" -eq 400 ] || fail "not 400 records with $element"
done
[ "$(grep -c 'observationPointId : [1-9]' "$WORK/dump.txt")" -eq 100 ] || fail "not 100 ERSPAN sessions exported"

# No tunnel decapsulated: the frames are the tunnels' own packets, every one metered.
printf '%s\ndecapsulate = []\n[applications]\nsignatures = ""\n' "$NO_TIMEOUTS" > "$WORK/outer.toml"
pcap "$WORK/outer.toml"
python3 - "$WORK/records.jsonl" <<'PY' || fail "without decapsulation, records that are not the tunnels'"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if not (r["proto"] in (4, 41, 47) or (r["proto"] == 17 and {r["sport"], r["dport"]} & {4789, 6081, 2152})):
        print("not a tunnel's:", line, file=sys.stderr)
        sys.exit(1)
PY
expect_summary "$WORK/summary.json" received.packets="$packets" metered.packets="$packets" ignored.packets=0
echo "tunnels: ok"
