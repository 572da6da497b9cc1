#!/usr/bin/env bash
# Metadata through the whole path: 240 conversations among 200 others, in turn TLS (ClientHellos
# of several clients, a third split over two TCP segments; TLS 1.3 and 1.2 servers), HTTP
# (requests a third split, statuses 200 and 404, half with a second request), DNS over UDP
# (A and AAAA, NXDOMAIN, half with a second query) and QUIC (version 1 Initials, half the
# ClientHellos over two datagrams in scattered CRYPTO frames). Each record carries the fields the
# trace has; what tshark dissects from the same packets agrees (JA3, the HTTP request and status,
# the DNS question, code and addresses, QUIC's version, server name and ALPN, which tshark reads
# by removing the Initials' protection itself); the IPFIX file ipfixDump reads names the fields (IANA's,
# CERT's, and Sluice's own from their RFC 5610 type records); nfcapd, which keeps none of them,
# still keeps every record.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 200 --l7 240 --seed 5 --expect "$WORK/expected.jsonl" \
  > "$WORK/totals.json"
"$LAUNCHER" pcap "$WORK/trace.pcap" --print-records --summary "$WORK/summary.json" \
  > "$WORK/got.jsonl" 2> "$WORK/run.log" || { cat "$WORK/run.log" >&2; fail "sluice pcap failed"; }
same_records "$WORK/expected.jsonl" "$WORK/got.jsonl" "the records do not carry the trace's metadata" \
  src,dst,sport,dport,proto,packets,octets,rpackets,roctets,tls_server_name,tls_alpn,tls_client_version,tls_server_version,tls_cipher,http_method,http_host,http_target,http_user_agent,http_status,http_requests,dns_query_name,dns_query_type,dns_response_code,dns_answers,dns_queries,quic_version,quic_server_name,quic_alpn

# What tshark dissects from the same packets, the first message of each conversation: its
# client's port, then the fields.
tshark_first() {
  tshark -r "$WORK/trace.pcap" -Y "$1" -T fields -E separator=/t -E occurrence=a -E aggregator=, \
    "${@:2}" 2> /dev/null | awk -F'\t' '!seen[$1]++'
}
tshark_first "tls.handshake.type == 1" -e tcp.srcport -e tls.handshake.ja3 > "$WORK/ja3.tsv"
tshark_first "http.request" -e tcp.srcport -e http.request.method -e http.host -e http.request.uri \
  -e http.user_agent > "$WORK/http.tsv"
tshark_first "http.response" -e tcp.dstport -e http.response.code > "$WORK/status.tsv"
tshark_first "dns.flags.response == 0" -e udp.srcport -e dns.qry.name -e dns.qry.type > "$WORK/query.tsv"
tshark_first "dns.flags.response == 1" -e udp.dstport -e dns.flags.rcode -e dns.a -e dns.aaaa \
  > "$WORK/answer.tsv"
tshark_first "quic.long.packet_type == 0 && tls.handshake.type == 1" -e udp.srcport -e quic.version \
  -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str > "$WORK/quic.tsv"
python3 - "$WORK" <<'PY' || fail "the records differ from what tshark dissects"
import ipaddress, json, sys
work = sys.argv[1]
records = {r["sport"]: r for r in map(json.loads, open(f"{work}/got.jsonl")) if r["proto"] in (6, 17)}
def rows(name):  # of the 240 conversations (ports 20000 on); the others' UDP is no DNS
    return [row for row in (line.rstrip("\n").split("\t") for line in open(f"{work}/{name}"))
            if row[0].isdigit() and 20000 <= int(row[0]) < 20240]
bad = []
def check(what, port, got, want):
    if got != want:
        bad.append(f"{what} of port {port}: {got!r}, tshark {want!r}")
ja3 = rows("ja3.tsv")
for port, fingerprint in ja3:
    check("JA3", port, records[int(port)].get("tls_ja3"), fingerprint)
for port, method, host, uri, agent in rows("http.tsv"):
    r = records[int(port)]
    check("the request", port, (r.get("http_method"), r.get("http_host"), r.get("http_target"),
          r.get("http_user_agent")), (method, host, uri, agent))
for port, code in rows("status.tsv"):
    check("the status", port, records[int(port)].get("http_status"), int(code))
for port, name, qtype in rows("query.tsv"):
    r = records[int(port)]
    check("the question", port, (r.get("dns_query_name"), r.get("dns_query_type")), (name, int(qtype)))
for row in rows("answer.tsv"):
    port, rcode, addresses = row[0], row[1], [a for field in row[2:] for a in field.split(",") if a]
    r = records[int(port)]
    check("the response", port, (r.get("dns_response_code"), [str(ipaddress.ip_address(a)) for a in r.get("dns_answers", [])]),
          (int(rcode), [str(ipaddress.ip_address(a)) for a in addresses]))
for port, version, name, alpn in rows("quic.tsv"):
    r = records[int(port)]
    check("the QUIC Initial", port, (r.get("quic_version"), r.get("quic_server_name"), r.get("quic_alpn")),
          (int(version, 16), name, alpn))
counts = {k: len(rows(k)) for k in ("ja3.tsv", "http.tsv", "status.tsv", "query.tsv", "answer.tsv", "quic.tsv")}
print(f"metadata: tshark's {counts}, {len(set(f for _, f in ja3))} distinct JA3; {len(bad)} differ", file=sys.stderr)
for b in bad[:10]:
    print(" ", b, file=sys.stderr)
sys.exit(1 if bad or min(counts.values()) != 60 else 0)
PY
for r in $(grep -o '"tls_ja4": "[^"]*"' "$WORK/got.jsonl" | sort -u | cut -d'"' -f4); do
  [[ "$r" =~ ^t13d1[45]1[56]h[12]_[0-9a-f]{12}_[0-9a-f]{12}$ ]] || fail "JA4 $r is not of the form expected"
done
for r in $(grep -o '"quic_ja4": "[^"]*"' "$WORK/got.jsonl" | sort -u | cut -d'"' -f4); do
  [[ "$r" =~ ^q13d1516h3_8daaf6152771_[0-9a-f]{12}$ ]] || fail "QUIC's JA4 $r is not of the form expected"
done
[ "$(grep -c '"quic_ja4"' "$WORK/got.jsonl")" -eq 60 ] || fail "not 60 QUIC records with JA4"

"$LAUNCHER" pcap "$WORK/trace.pcap" --to "$WORK/records.ipfix" --transport file > "$WORK/file.log" 2>&1 ||
  { cat "$WORK/file.log" >&2; fail "sluice pcap to a file failed"; }
ipfixDump --rfc5610 -y -i "$WORK/records.ipfix" > "$WORK/dump.txt" 2> "$WORK/ipfixdump.err"
[ ! -s "$WORK/ipfixdump.err" ] || { cat "$WORK/ipfixdump.err" >&2; fail "ipfixDump complains"; }
[ "$(grep -c 'sslServerName : (len: [0-9]*) host-[0-9]*\.example' "$WORK/dump.txt")" -eq 60 ] ||
  fail "ipfixDump does not read 60 server names"
[ "$(grep -c 'sslServerName : (len: [0-9]*) quic-[0-9]*\.example' "$WORK/dump.txt")" -eq 60 ] ||
  fail "ipfixDump does not read 60 QUIC server names"
[ "$(grep -cE 'sslServerCipher : (4865|49199)$' "$WORK/dump.txt")" -eq 60 ] || fail "ipfixDump does not read 60 ciphers"
[ "$(grep -c 'httpRequestHost : (len: [0-9]*) web-[0-9]*\.example' "$WORK/dump.txt")" -eq 60 ] ||
  fail "ipfixDump does not read 60 HTTP hosts"
[ "$(grep -cE 'httpStatusCode : (200|404)$' "$WORK/dump.txt")" -eq 60 ] || fail "ipfixDump does not read 60 statuses"
[ "$(grep -c 'dnsQName : (len: [0-9]*) name-[0-9]*\.example' "$WORK/dump.txt")" -eq 60 ] ||
  fail "ipfixDump does not read 60 DNS names"
for name in tlsApplicationProtocols:120 tlsClientVersion:60 tlsServerVersion:60 tlsJa3:60 tlsJa4:120 \
  httpRequestCount:60 dnsQueryCount:60 dnsAnswerAddresses:60 quicVersion:60; do
  [ "$(grep -cE "\(32473/[0-9]+\) +${name%:*} : " "$WORK/dump.txt")" -eq "${name#*:}" ] ||
    fail "ipfixDump does not name ${name%:*} in ${name#*:} records (from the RFC 5610 type records)"
done
# Their numbers in network byte order, as the type records say: the types came first.
[ "$(grep -cE "\) *quicVersion : 1$" "$WORK/dump.txt")" -eq 60 ] || fail "ipfixDump does not read QUIC version 1"
[ "$(grep -cE "\) *tlsClientVersion : 772$" "$WORK/dump.txt")" -eq 60 ] ||
  fail "ipfixDump does not read 60 TLS 1.3 client versions (772)"

port=47495
start_nfcapd "$port" "$WORK/nfcapd"
"$LAUNCHER" pcap "$WORK/trace.pcap" --to "127.0.0.1:$port" > "$WORK/udp.log" 2>&1 ||
  { cat "$WORK/udp.log" >&2; fail "sluice pcap to nfcapd failed"; }
stop_nfcapd
nfdump -R "$WORK/nfcapd" -I > "$WORK/nfdump-totals.txt"
expect_contains "$WORK/nfdump-totals.txt" "Flows: $(json_field "$WORK/totals.json" flows)"
expect_contains "$WORK/nfdump-totals.txt" "Packets: $(json_field "$WORK/totals.json" packets)"
expect_contains "$WORK/nfdump-totals.txt" "Bytes: $(json_field "$WORK/totals.json" ip_octets)"
echo "metadata: ok"
