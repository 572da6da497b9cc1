#!/usr/bin/env bash
# TLS metadata through the whole path: 60 TLS conversations (ClientHellos of several clients,
# a third split over two TCP segments; TLS 1.3 and 1.2 servers) among 200 others. Each record
# carries its server name, ALPN, versions and cipher as the trace has them; its JA3 is what
# tshark computes from the same packets; and the IPFIX file ipfixDump reads names the fields
# (sslServerName and sslServerCipher, CERT's; tlsJa3, tlsJa4 and the others from their RFC
# 5610 type records). nfcapd, which keeps none of these fields, still keeps every record.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 200 --l7 60 --seed 5 --expect "$WORK/expected.jsonl" \
  > "$WORK/totals.json"
"$LAUNCHER" pcap "$WORK/trace.pcap" --print-records --summary "$WORK/summary.json" \
  > "$WORK/got.jsonl" 2> "$WORK/run.log" || { cat "$WORK/run.log" >&2; fail "sluice pcap failed"; }
same_records "$WORK/expected.jsonl" "$WORK/got.jsonl" "the records do not carry the trace's TLS fields" \
  src,dst,sport,dport,proto,packets,octets,rpackets,roctets,tls_server_name,tls_alpn,tls_client_version,tls_server_version,tls_cipher

# JA3, as tshark computes it from the ClientHellos (reassembled where split).
tshark -r "$WORK/trace.pcap" -Y "tls.handshake.type == 1" -T fields -e tcp.srcport \
  -e tls.handshake.ja3 > "$WORK/ja3.tsv" 2> /dev/null
python3 - "$WORK/ja3.tsv" "$WORK/got.jsonl" <<'PY' || fail "JA3 differs from tshark's"
import json, sys
tshark = dict(line.split() for line in open(sys.argv[1]) if line.strip())
got = {str(r["sport"]): r.get("tls_ja3") for r in map(json.loads, open(sys.argv[2])) if "tls_ja3" in r}
assert len(tshark) == 60 and len(set(tshark.values())) > 1, tshark
bad = {p: (tshark[p], got.get(p)) for p in tshark if got.get(p) != tshark[p]}
print(f"metadata_tls: {len(tshark)} JA3 as tshark's, {len(set(tshark.values()))} distinct; differing: {bad}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
for r in $(grep -o '"tls_ja4": "[^"]*"' "$WORK/got.jsonl" | sort -u | cut -d'"' -f4); do
  [[ "$r" =~ ^t13d1[45]1[56]h[12]_[0-9a-f]{12}_[0-9a-f]{12}$ ]] || fail "JA4 $r is not of the form expected"
done

"$LAUNCHER" pcap "$WORK/trace.pcap" --to "$WORK/records.ipfix" --transport file > "$WORK/file.log" 2>&1 ||
  { cat "$WORK/file.log" >&2; fail "sluice pcap to a file failed"; }
ipfixDump --rfc5610 -y -i "$WORK/records.ipfix" > "$WORK/dump.txt" 2> "$WORK/ipfixdump.err"
[ ! -s "$WORK/ipfixdump.err" ] || { cat "$WORK/ipfixdump.err" >&2; fail "ipfixDump complains"; }
[ "$(grep -c 'sslServerName : (len: [0-9]*) host-[0-9]*\.example' "$WORK/dump.txt")" -eq 60 ] ||
  fail "ipfixDump does not read 60 server names"
[ "$(grep -cE 'sslServerCipher : (4865|49199)$' "$WORK/dump.txt")" -eq 60 ] || fail "ipfixDump does not read 60 ciphers"
for name in tlsApplicationProtocols tlsClientVersion tlsServerVersion tlsJa3 tlsJa4; do
  [ "$(grep -cE "\(32473/[0-9]+\) +$name : " "$WORK/dump.txt")" -eq 60 ] ||
    fail "ipfixDump does not name $name in 60 records (from the RFC 5610 type records)"
done
port=47495
start_nfcapd "$port" "$WORK/nfcapd"
"$LAUNCHER" pcap "$WORK/trace.pcap" --to "127.0.0.1:$port" > "$WORK/udp.log" 2>&1 ||
  { cat "$WORK/udp.log" >&2; fail "sluice pcap to nfcapd failed"; }
stop "$NFCAPD"
nfdump -R "$WORK/nfcapd" -I > "$WORK/nfdump-totals.txt"
expect_contains "$WORK/nfdump-totals.txt" "Flows: $(json_field "$WORK/totals.json" flows)"
expect_contains "$WORK/nfdump-totals.txt" "Packets: $(json_field "$WORK/totals.json" packets)"
expect_contains "$WORK/nfdump-totals.txt" "Bytes: $(json_field "$WORK/totals.json" ip_octets)"
echo "metadata_tls: ok"
