#!/usr/bin/env bash
# What a SPAN port under attack carries, replayed through the real dataplane: random bytes,
# frames cut short, broken IP and TCP headers, tunnels too deep, stray fragments, a SYN flood
# that overfills a small table, a flood of one key, among ordinary conversations. The dataplane
# goes on, each kind is counted under its reason, the flood's evictions are counted, and every
# packet is in a record or ignored: the accounting balances exactly.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 200 --seed 51 --hostile > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
write_config "$WORK/sluice.toml" "net_pcap0,rx_pcap=$WORK/trace.pcap" '
[flow]
max_flows = 1024
idle_timeout = "1h"
active_timeout = "1h"
tcp_end_grace = "5m"'
replay_with_records "$WORK/sluice.toml"

line=$(grep -o 'accounting: .*' "$WORK/control.log")
[[ "$line" =~ ^accounting:\ ([0-9]+)\ packets\ received\ =\ ([0-9]+)\ in\ ([0-9]+)\ records\ taken\ by\ sluice-control\ \+\ ([0-9]+)\ ignored\ \+\ 0\ in\ 0\ records ]] ||
  fail "unexpected accounting: $line"
[ "${BASH_REMATCH[1]}" -eq "$packets" ] || fail "received ${BASH_REMATCH[1]} of $packets packets"
[ $((BASH_REMATCH[2] + BASH_REMATCH[4])) -eq "$packets" ] || fail "records + ignored != received: $line"
[ "$(wc -l < "$WORK/records.jsonl")" -eq "${BASH_REMATCH[3]}" ] || fail "records printed != records taken"

reasons=$(grep -o 'ignored by reason: .*' "$WORK/control.log")
for reason in non_ip truncated_l2 truncated_l3 truncated_l4 bad_ip_version bad_header_length \
  bad_total_length bad_l4_header too_many_vlan_tags too_many_mpls_labels too_many_ipv6_extensions; do
  [[ "$reasons" =~ $reason\ [1-9] ]] || fail "no packet counted as $reason: $reasons"
done
[[ "$reasons" =~ \ ([0-9]+)\ flows\ evicted ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] ||
  fail "the SYN flood evicted nothing: $reasons"
[[ "$reasons" =~ ([0-9]+)\ metered\ with\ ports\ 0 ]] && [ "${BASH_REMATCH[1]}" -ge 500 ] ||
  fail "the stray fragments were not counted: $reasons"
grep -q '"end_reason": 5' "$WORK/records.jsonl" || fail "no record ended for lack of resources"
echo "hostile_traffic: ok"
