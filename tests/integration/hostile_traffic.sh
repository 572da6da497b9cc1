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

[ "$(summary received packets)" -eq "$packets" ] || fail "received $(summary received packets) of $packets packets"
[ $(($(summary taken packets) + $(summary ignored packets))) -eq "$packets" ] ||
  fail "packets in records + ignored != received: $(summary taken) $(summary ignored)"
expect_summary "$WORK/summary.json" dataplane_not_sent.records=0
[ "$(wc -l < "$WORK/records.jsonl")" -eq "$(summary taken records)" ] || fail "records printed != records taken"
for reason in non_ip truncated_l2 truncated_l3 truncated_l4 bad_ip_version bad_header_length \
  bad_total_length bad_l4_header too_many_vlan_tags too_many_mpls_labels too_many_ipv6_extensions; do
  [ "$(summary ignored by_reason "$reason" packets)" -gt 0 ] ||
    fail "no packet counted as $reason: $(summary ignored by_reason)"
done
[ "$(summary flows evicted)" -gt 0 ] || fail "the SYN flood evicted nothing"
[ "$(summary fragments unmatched)" -ge 500 ] || fail "the stray fragments were not counted: $(summary fragments)"
grep -q '"end_reason": 5' "$WORK/records.jsonl" || fail "no record ended for lack of resources"
echo "hostile_traffic: ok"
