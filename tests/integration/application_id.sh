#!/usr/bin/env bash
# Application identification through the real processes: a capture with a conversation of each
# default application (and TCP ones the capture joins mid-connection, the server's packet
# first) gives records whose application ids are the signature file's, every other record 0;
# tshark finds them in the IPFIX, with the names in options records.
source "$(dirname "$0")/lib.sh"

signatures="$SLUICE_SOURCE_DIR/config/applications.toml"
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 300 --seed 41 --applications "$signatures" \
  --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
write_config "$WORK/sluice.toml" "net_pcap0,rx_pcap=$WORK/trace.pcap" "$NO_TIMEOUTS
[applications]
signatures = \"$signatures\""

replay_with_records "$WORK/sluice.toml"
expect_contains "$WORK/dataplane.log" "application identification: 26 applications"

# Every field of the record but the metadata (an HTTP and a DNS sample carry some: metadata.sh
# checks it).
same_records "$WORK/expected.jsonl" "$WORK/records.jsonl" "the records (application ids included) differ from the trace's conversations" \
  src,dst,sport,dport,proto,vlan,packets,octets,rpackets,roctets,first_ns,last_ns,rfirst_ns,rlast_ns,flags,rflags,min_ttl,max_ttl,rmin_ttl,rmax_ttl,app,port,end_reason,direction
identified=$(grep -c '"app": [1-9]' "$WORK/records.jsonl")
[ "$identified" -eq 42 ] || fail "$identified flows identified, not the 26 applications' and 16 joined ones"

# The same capture exported over UDP: tshark decodes applicationId as RFC 6759 engine PANA-L7
# and selector in the 42 identified records, and the options records name all 26 applications.
port=47397
config_drop "$WORK/sluice.toml" applications
cat >> "$WORK/sluice.toml" <<TOML
[applications]
signatures = "$signatures"
[[collector]]
name = "sink"
address = "127.0.0.1:$port"
# One message per datagram as the capture on lo sees it, for tshark (batches are cut later).
segmentation_offload = false
[metrics]
enabled = false
TOML
start_tshark "udp port $port" "$WORK/export.pcapng"
socat -u "UDP-RECV:$port,bind=127.0.0.1" /dev/null &
sink=$!
timeout 120 "$LAUNCHER" run --config "$WORK/sluice.toml" > "$WORK/run.log" 2>&1 || { cat "$WORK/run.log" >&2; fail "sluice run failed"; }
sleep 0.5
stop "$TSHARK"
kill "$sink"
check_tshark "$WORK/export.pcapng" "udp.port==$port,cflow"
engines=$(grep -c "Classification Engine ID: PANA-L7 (13)" "$WORK/decoded.txt")
[ "$engines" -eq $((42 + 26)) ] || fail "$engines applicationIds of engine 13, not 42 records and 26 names"
names=$(grep -oE "ApplicationName: [a-z0-9]+" "$WORK/decoded.txt" | sort -u | wc -l)
[ "$names" -eq 26 ] || fail "$names application names, not 26"
expect_contains "$WORK/decoded.txt" "ApplicationName: http"
expect_contains "$WORK/decoded.txt" "ApplicationDesc: Hypertext Transfer Protocol"

# A signature that does not compile stops the start, naming its file, line and application.
printf '[[application]]\nname = "broken"\nid = 1\n[[application.pattern]]\nregex = "^(unclosed"\n' > "$WORK/bad.toml"
config_set "$WORK/sluice.toml" applications signatures "\"$WORK/bad.toml\""
status=0
"$DATAPLANE" --config "$WORK/sluice.toml" > "$WORK/bad.log" 2>&1 || status=$?
[ "$status" -ne 0 ] || fail "a bad signature did not stop the start"
expect_contains "$WORK/bad.log" "$WORK/bad.toml:5: application \"broken\": "
echo "application_id: ok"
