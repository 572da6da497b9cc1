#!/usr/bin/env bash
# A conversation longer than the active timeout reaches the collectors as several records
# whose sums are the conversation's; every collector gets every record (here nfcapd over UDP
# and a file at once).
source "$(dirname "$0")/lib.sh"
extra_cleanup() { restore_receive_buffers; }
roomy_receive_buffers

port=47393
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 200 --seed 4 --long-flow --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
write_config "$WORK/sluice.toml" "net_pcap0,rx_pcap=$WORK/trace.pcap" "
[flow]
active_timeout = \"1s\"
idle_timeout = \"1h\"
tcp_end_grace = \"5m\"
[[collector]]
name = \"nfcapd\"
address = \"127.0.0.1:$port\"
[[collector]]
name = \"archive\"
transport = \"file\"
path = \"$WORK/records.ipfix\""

start_nfcapd "$port" "$WORK/nfcapd"
timeout 120 "$LAUNCHER" run --config "$WORK/sluice.toml" > "$WORK/run.log" 2>&1 || { cat "$WORK/run.log" >&2; fail "sluice run failed"; }
stop_nfcapd

# The long conversation: 200 packets of 128 octets each way from the client, 200 of 928 back.
TZ=UTC nfdump -R "$WORK/nfcapd" -q -N -o 'fmt:%ipkt|%ibyt|%opkt|%obyt' 'src ip 10.255.0.1' |
  sed 's/ //g' > "$WORK/long.txt"
records=$(wc -l < "$WORK/long.txt")
[ "$records" -ge 9 ] || fail "the 10 s conversation is $records records under a 1 s active timeout"
sums=$(awk -F'|' '{ p += $1; o += $2; rp += $3; ro += $4 } END { print p, o, rp, ro }' "$WORK/long.txt")
[ "$sums" = "200 25600 200 185600" ] || fail "its records sum to $sums, not 200 25600 200 185600"

total=$(grep -oE 'received = [0-9]+ in [0-9]+ records exported' "$WORK/run.log" | awk '{ print $5 }' | sort -u)
[ "$(echo "$total" | wc -l)" -eq 1 ] || fail "the collectors were not sent the same records: $total"
expect_contains "$WORK/run.log" "$packets packets received = $packets in $total records exported + 0 ignored + 0 in 0 records not sent"
nfdump -R "$WORK/nfcapd" -I > "$WORK/nfdump-totals.txt"
expect_contains "$WORK/nfdump-totals.txt" "Flows: $total"
expect_contains "$WORK/nfdump-totals.txt" "Packets: $packets"
ipfixDump -i "$WORK/records.ipfix" -s > "$WORK/stats.txt"
[ "$(flow_records "$WORK/stats.txt")" -eq "$total" ] ||
  fail "the file does not hold the $total records nfcapd got"
echo "export_active_timeout: ok ($records records for the long conversation)"
