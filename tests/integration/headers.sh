#!/usr/bin/env bash
# [metadata] headers: each record carries what its directions' first packets said in their
# headers. Through the real `sluice pcap`, 300 conversations of their own MACs (the client's to
# its gateway, back from another router), classes of service and IPv6 flow labels, every 5th in
# QinQ and every 7th client's packets in two MPLS labels, ICMP echoes each way: the records are
# exactly the trace's; each record's fields are the ones tshark dissects from the first packet
# of each of its directions; ipfixDump reads them in IANA's elements (and RFC 5103's reverse
# ones), biflow and uniflow. Without the setting, no record carries them.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 300 --seed 3 --headers --expect "$WORK/expected.jsonl" \
  > /dev/null
printf '%s\n[metadata]\nheaders = true\n[applications]\nsignatures = ""\n' "$NO_TIMEOUTS" \
  > "$WORK/headers.toml"
printf '%s\n[applications]\nsignatures = ""\n' "$NO_TIMEOUTS" > "$WORK/plain.toml"

timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --config "$WORK/headers.toml" --print-records \
  > "$WORK/got.jsonl" 2> "$WORK/pcap.log" || { cat "$WORK/pcap.log" >&2; fail "sluice pcap failed"; }
same_records "$WORK/expected.jsonl" "$WORK/got.jsonl" "the records differ from the trace's conversations"

# Each direction's first packet as tshark dissects it, against the record it is in.
# Fields that occur more than once (MPLS labels, VLAN tags) are comma-separated, outermost first.
tshark -r "$WORK/trace.pcap" -T fields -E separator=/t -e ip.src -e ip.dst -e ipv6.src \
  -e ipv6.dst -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e eth.src -e eth.dst \
  -e ip.dsfield -e ipv6.tclass -e ipv6.flow -e mpls.label -e mpls.bottom -e icmp.type -e icmp.code \
  -e icmpv6.type -e icmpv6.code -e ieee8021ad.id -e vlan.id 2> /dev/null > "$WORK/packets.tsv"
python3 - "$WORK" <<'PY' || fail "the records' header fields differ from tshark's dissection"
import json, sys
work = sys.argv[1]
records = {}
for r in map(json.loads, open(f"{work}/got.jsonl")):
    icmp = r["proto"] in (1, 58)
    records[(r["src"], 0 if icmp else r["sport"], r["dst"], 0 if icmp else r["dport"])] = r
seen, bad, checked = set(), [], 0
for line in open(f"{work}/packets.tsv"):
    (src4, dst4, src6, dst6, tsport, tdport, usport, udport, eth_src, eth_dst, dsfield, tclass,
     flow, labels, bottoms, itype, icode, i6type, i6code, service_tags, vlans) = \
        line.rstrip("\n").split("\t")
    label, bottom = labels.split(",")[0], bottoms.split(",")[0]  # the top of the stack
    src, dst = src4 or src6, dst4 or dst6
    sport, dport = int(tsport or usport or 0), int(tdport or udport or 0)
    if (src, sport, dst, dport) in records:
        r, prefix = records[(src, sport, dst, dport)], ""
    else:
        r, prefix = records[(dst, dport, src, sport)], "reverse_"
    if (id(r), prefix) in seen:
        continue
    seen.add((id(r), prefix))
    want = {"source_mac": eth_src, "destination_mac": eth_dst,
            "class_of_service": int(dsfield, 16) if dsfield else int(tclass, 16)}
    tags = (service_tags.split(",") if service_tags else []) + (vlans.split(",") if vlans else [])
    if len(tags) > 1:
        want["customer_vlan"] = int(tags[1])
    if label:
        want["mpls_top_label"] = int(label) << 4 | int(bottom)
    if src6:
        want["flow_label"] = int(flow, 16)
    if itype or i6type:
        want["icmp_type_code"] = int(itype or i6type) << 8 | int(icode or i6code)
    for field, value in want.items():
        checked += 1
        if r.get(prefix + field) != value:
            bad.append(f"{prefix}{field} of {r['src']} -> {r['dst']}: {r.get(prefix + field)}, tshark {value}")
    extra = [f for f in ("customer_vlan", "mpls_top_label", "flow_label", "icmp_type_code")
             if prefix + f in r and f not in want]
    bad += [f"{prefix}{f} of {r['src']} -> {r['dst']}: not in the packet" for f in extra]
print(f"headers: {len(seen)} directions of {len(records)} records, {checked} fields against "
      f"tshark's; {len(bad)} differ", file=sys.stderr)
for b in bad[:10]:
    print(" ", b, file=sys.stderr)
sys.exit(1 if bad or len(records) != 300 else 0)
PY

# The same through IPFIX, as ipfixDump (libfixbuf) reads it: every element, each record's value.
for shape in biflow uniflow; do
  rm -f "$WORK/records.ipfix"
  timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --config "$WORK/headers.toml" --records "$shape" \
    --to "$WORK/records.ipfix" --transport file > "$WORK/file.log" 2>&1 ||
    { cat "$WORK/file.log" >&2; fail "$shape: sluice pcap to a file failed"; }
  ipfixDump -i "$WORK/records.ipfix" > "$WORK/dump.txt" 2> "$WORK/ipfixdump.err" || fail "ipfixDump failed"
  [ ! -s "$WORK/ipfixdump.err" ] || { cat "$WORK/ipfixdump.err" >&2; fail "ipfixDump complains"; }
  python3 - "$WORK" "$shape" <<'PY' || fail "$shape: ipfixDump reads other header fields than the records'"
import ipaddress, json, sys
work, shape = sys.argv[1], sys.argv[2]
want = {}
for r in map(json.loads, open(f"{work}/got.jsonl")):
    sides = [("", r["src"], r["dst"], r["sport"], r["dport"])]
    if shape == "uniflow" and r["rpackets"]:
        sides.append(("reverse_", r["dst"], r["src"], r["dport"], r["sport"]))
    for prefix, src, dst, sport, dport in sides:
        icmp = r["proto"] in (1, 58)
        key = (src, dst, 0 if icmp else sport, r["dport"] if icmp and not prefix else (0 if icmp else dport))
        fields = {f: r.get(prefix + f, 0) for f in ("source_mac", "destination_mac",
                  "class_of_service", "customer_vlan", "mpls_top_label", "icmp_type_code", "flow_label")}
        if shape == "biflow":
            fields.update({"reverse_" + f: r.get("reverse_" + f, 0) for f in list(fields)})
        want[key] = fields
names = {"sourceMacAddress": "source_mac", "destinationMacAddress": "destination_mac",
         "ipClassOfService": "class_of_service", "dot1qCustomerVlanId": "customer_vlan",
         "mplsTopLabelStackSection": "mpls_top_label", "icmpTypeCodeIPv4": "icmp_type_code",
         "icmpTypeCodeIPv6": "icmp_type_code", "flowLabelIPv6": "flow_label"}
bad, n = [], 0
for record in open(f"{work}/dump.txt").read().split("--- data record")[1:]:
    fields = {}
    for line in record.splitlines():
        if " : " in line:
            name, value = line.split(" : ", 1)
            fields.setdefault(name.split()[-1].split(")")[-1], value.strip())
    src = fields.get("sourceIPv4Address") or fields.get("sourceIPv6Address")
    if src is None:
        continue  # an options record
    n += 1
    src = str(ipaddress.ip_address(src))
    dst = fields.get("destinationIPv4Address") or fields.get("destinationIPv6Address")
    key = (src, str(ipaddress.ip_address(dst)),
           int(fields["sourceTransportPort"]), int(fields["destinationTransportPort"]))
    expected = want.get(key)
    if expected is None:
        bad.append(f"a record {key} the JSON records lack")
        continue
    for element, field in names.items():
        for reverse in (False, True) if shape == "biflow" else (False,):
            name = ("reverse" + element[0].upper() + element[1:]) if reverse else element
            value = ("reverse_" if reverse else "") + field
            if value not in expected:
                continue
            if name not in fields:
                other_version = element == "icmpTypeCodeIPv4" if ":" in src else element.endswith("IPv6")
                if not other_version:
                    bad.append(f"{name} missing from {key}")
                continue
            got = fields[name]
            # An octet array reads as its bytes' little-endian number.
            if element == "mplsTopLabelStackSection":
                got = int.from_bytes(int(got).to_bytes(3, "little"), "big")
            elif "Mac" not in element:
                got = int(got)
            if expected[value] != (got if got != "00:00:00:00:00:00" else 0):
                bad.append(f"{name} of {key}: {got}, the record's {expected[value]}")
print(f"{shape}: {n} IPFIX records; {len(bad)} differ", file=sys.stderr)
for b in bad[:10]:
    print(" ", b, file=sys.stderr)
sys.exit(1 if bad or n != len(want) else 0)
PY
done

# Off by default: no record carries them.
timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --config "$WORK/plain.toml" --print-records \
  > "$WORK/plain.jsonl" 2> "$WORK/plain.log" || { cat "$WORK/plain.log" >&2; fail "sluice pcap failed"; }
! grep -q '"source_mac"\|"class_of_service"' "$WORK/plain.jsonl" ||
  fail "records carry header fields without [metadata] headers"
echo "headers: ok"
