#!/usr/bin/env bash
# IPFIX over TLS (RFC 7011 section 10.4) to `openssl s_server` as the collector's end: with the
# CA that signed its certificate, libfixbuf's ipfixDump reads every record of the trace from the
# stream the server received; with another CA the handshake is refused, the reason said once
# with OpenSSL's words, and the records wait in the buffer until the stop counts them as not
# sent, the accounting still balanced.
source "$(dirname "$0")/lib.sh"

port=47441
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 3000 --seed 12 > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)

# A CA, the collector's certificate for localhost and 127.0.0.1, and a CA that signed nothing.
ca() { openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/$1.key" -out "$WORK/$1.pem" -days 2 -subj "/CN=$1" 2> /dev/null; }
ca sluice-test-ca
ca other-ca
openssl req -newkey rsa:2048 -nodes -keyout "$WORK/collector.key" -out "$WORK/collector.csr" -subj "/CN=localhost" 2> /dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" > "$WORK/san.cnf"
openssl x509 -req -in "$WORK/collector.csr" -CA "$WORK/sluice-test-ca.pem" -CAkey "$WORK/sluice-test-ca.key" \
  -CAcreateserial -out "$WORK/collector.pem" -days 2 -extfile "$WORK/san.cnf" 2> /dev/null ||
  fail "cannot make the collector's certificate"

# s_server NAME: one TLS connection on $port, what it receives in $WORK/NAME.ipfix; sets SERVER.
# Its standard input is a fifo this shell holds open on fd 3, as s_server ends the session at
# the end of its input.
s_server() {
  rm -f "$WORK/server-input"
  mkfifo "$WORK/server-input"
  openssl s_server -accept "127.0.0.1:$port" -cert "$WORK/collector.pem" -key "$WORK/collector.key" \
    -quiet -naccept 1 < "$WORK/server-input" > "$WORK/$1.ipfix" 2> "$WORK/$1-server.log" &
  SERVER=$!
  exec 3> "$WORK/server-input"
  for _ in $(seq 50); do ss -ltn | grep -q ":$port " && return; sleep 0.1; done
  fail "openssl s_server did not listen"
}
stop_server() {
  { kill "$SERVER" || true; wait "$SERVER" || true; } 2> /dev/null
  exec 3>&-
}

s_server trusted
timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --to "127.0.0.1:$port" --transport tls \
  --ca-file "$WORK/sluice-test-ca.pem" --summary "$WORK/trusted.json" > "$WORK/trusted.log" 2>&1 ||
  { cat "$WORK/trusted.log" >&2; fail "sluice pcap --transport tls failed"; }
expect_contains "$WORK/trusted.log" "collector \"127.0.0.1:$port\" (tls 127.0.0.1:$port): exporting"
expect_summary "$WORK/trusted.json" received.packets="$packets" collectors.0.exported.records=3000 \
  collectors.0.exported.packets="$packets" collectors.0.not_sent.records=0 collectors.0.balanced=true
sleep 0.5
stop_server
ipfixDump -i "$WORK/trusted.ipfix" -s > "$WORK/stats.txt" 2> "$WORK/ipfixdump.err"
[ ! -s "$WORK/ipfixdump.err" ] || { cat "$WORK/ipfixdump.err" >&2; fail "ipfixDump complains about the TLS stream"; }
flows=$(flow_records "$WORK/stats.txt")
[ "$flows" -eq 3000 ] || { cat "$WORK/stats.txt" >&2; fail "$flows flow records came through TLS, not 3000"; }

s_server untrusted
timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --to "127.0.0.1:$port" --transport tls \
  --ca-file "$WORK/other-ca.pem" --summary "$WORK/untrusted.json" > "$WORK/untrusted.log" 2>&1 ||
  { cat "$WORK/untrusted.log" >&2; fail "sluice pcap with a CA that does not sign the collector failed"; }
stop_server
refused="TLS handshake failed: the collector's certificate is not trusted for \"127.0.0.1\": unable to get local issuer certificate; records wait in its buffer, retrying"
[ "$(grep -cF "$refused" "$WORK/untrusted.log")" -eq 1 ] ||
  { cat "$WORK/untrusted.log" >&2; fail "the refused handshake is not said once, with OpenSSL's reason"; }
expect_contains "$WORK/untrusted.log" "3000 records could not be sent before stopping"
expect_summary "$WORK/untrusted.json" received.packets="$packets" collectors.0.exported.records=0 \
  collectors.0.not_sent.records=3000 collectors.0.not_sent.packets="$packets" \
  collectors.0.balanced=true
[ ! -s "$WORK/untrusted.ipfix" ] || fail "the collector got data over a session it was not trusted for"
echo "export_tls: ok"
