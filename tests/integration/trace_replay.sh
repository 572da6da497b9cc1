#!/usr/bin/env bash
# A capture replayed through net_pcap, sluice-dataplane and sluice-control gives exactly the
# records its conversations make (per direction: packets, octets, first and last times, TCP
# flags, TTLs), and the accounting balances: nothing ignored, nothing lost. Read by the worker
# itself (a `capture` port) it gives the same; the benchmark's capture mode meters it alike.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 2000 --seed 3 --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['packets'])" "$WORK/totals.json")
write_config "$WORK/sluice.toml" "net_pcap0,rx_pcap=$WORK/trace.pcap" "$NO_TIMEOUTS"

replay_with_records "$WORK/sluice.toml"
expect_contains "$WORK/dataplane.log" "every capture has been replayed and its flows flushed"

same_records "$WORK/expected.jsonl" "$WORK/records.jsonl" "the records differ from the trace's conversations"
[ "$(wc -l < "$WORK/records.jsonl")" -eq 2000 ] || fail "not 2000 records"
expect_summary "$WORK/summary.json" received.packets="$packets" taken.records=2000 \
  taken.packets="$packets" ignored.packets=0 dataplane_not_sent.records=0
# The same capture as a `capture` port, read by the worker itself: the same records.
config_unset "$WORK/sluice.toml" port device
config_set "$WORK/sluice.toml" port capture "\"$WORK/trace.pcap\""
replay_with_records "$WORK/sluice.toml"
expect_contains "$WORK/dataplane.log" "a capture its worker reads itself, replayed in its own time"
same_records "$WORK/expected.jsonl" "$WORK/records.jsonl" "a capture port's records differ from the trace's conversations"
expect_summary "$WORK/summary.json" received.packets="$packets" taken.records=2000 \
  taken.packets="$packets" ignored.packets=0 dataplane_not_sent.records=0

# sluice-bench --capture meters the same capture from memory with the same core: the same
# number of records, nothing ignored.
"$SLUICE_BUILD_DIR/tools/sluice-bench" --capture "$WORK/trace.pcap" --repeat 1 > "$WORK/bench.json"
[ "$(json_field "$WORK/bench.json" records)" -eq 2000 ] || fail "sluice-bench --capture: not 2000 records"
[ "$(json_field "$WORK/bench.json" packets)" -eq "$packets" ] || fail "sluice-bench --capture: not $packets packets"
[ "$(json_field "$WORK/bench.json" ignored)" -eq 0 ] || fail "sluice-bench --capture: packets ignored"
echo "trace_replay: ok"
