#!/usr/bin/env bash
# A SPAN session that mirrors both directions of two ports delivers each packet twice,
# microseconds apart. Every seventh frame of a trace sent again 1 to 50 us later: through the
# real `sluice pcap` with `--deduplicate 100us`, the records are exactly the conversations',
# and every copy is ignored as `duplicate` with its IP octets, so the accounting holds. The same
# inside tunnels (the copies are whole encapsulated frames). Without deduplication every copy
# is metered.
source "$(dirname "$0")/lib.sh"

printf '%s\n[applications]\nsignatures = ""\n' "$NO_TIMEOUTS" > "$WORK/flow.toml"

# pcap TRACE ARGS...: `sluice pcap` of TRACE, its records and summary in $WORK.
pcap() {
  local trace=$1
  shift
  timeout 120 "$LAUNCHER" pcap "$trace" --config "$WORK/flow.toml" --print-records \
    --summary "$WORK/summary.json" "$@" > "$WORK/records.jsonl" 2> "$WORK/pcap.log" ||
    { cat "$WORK/pcap.log" >&2; fail "sluice pcap failed"; }
}

for variant in plain tunnels; do
  extra=()
  [ "$variant" = tunnels ] && extra=(--tunnels)
  "$TRACEGEN" --out "$WORK/$variant.pcap" --flows 600 --seed 11 --duplicates 7 "${extra[@]}" \
    --expect "$WORK/$variant.jsonl" > "$WORK/$variant-totals.json"
  packets=$(json_field "$WORK/$variant-totals.json" packets)
  octets=$(json_field "$WORK/$variant-totals.json" ip_octets)
  copies=$(json_field "$WORK/$variant-totals.json" duplicates)
  copy_octets=$(json_field "$WORK/$variant-totals.json" duplicate_ip_octets)
  [ "$copies" -gt 500 ] || fail "$variant: only $copies copies in the trace"

  pcap "$WORK/$variant.pcap" --deduplicate 100us
  same_records "$WORK/$variant.jsonl" "$WORK/records.jsonl" \
    "$variant: with deduplication the records are not the conversations'"
  expect_summary "$WORK/summary.json" received.packets=$((packets + copies)) \
    metered.packets="$packets" metered.ip_octets="$octets" ignored.packets="$copies" \
    ignored.by_reason.duplicate.packets="$copies" ignored.ip_octets="$copy_octets" \
    taken.records=600
  grep -q "ignored by reason: duplicate $copies;" "$WORK/pcap.log" ||
    fail "$variant: the accounting line does not name the $copies duplicates"
done

# Without deduplication, the copies are metered: nothing ignored, every frame in a record.
pcap "$WORK/plain.pcap"
packets=$(json_field "$WORK/plain-totals.json" packets)
copies=$(json_field "$WORK/plain-totals.json" duplicates)
expect_summary "$WORK/summary.json" metered.packets=$((packets + copies)) ignored.packets=0 \
  ignored.by_reason.duplicate.packets=0
