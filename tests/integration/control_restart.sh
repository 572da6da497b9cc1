#!/usr/bin/env bash
# sluice-control killed with SIGKILL while the dataplane meters: the dataplane goes on, the
# records of the flows that end meanwhile wait in the rings, and the next control exports them.
# With rings large enough the collector gets every packet; with a small ring exactly the
# overflow is counted as not sent, and the accounting still balances.
source "$(dirname "$0")/lib.sh"

veth_pair

# restart_case NAME FLOWS RING: the second control writes its final accounting to
# $WORK/NAME/summary.json.
restart_case() {
  local name=$1 flows=$2 ring=$3
  local dir="$WORK/$name"
  mkdir -p "$dir"
  "$TRACEGEN" --out "$dir/trace.pcap" --flows "$flows" --seed 31 --spread 1 > "$dir/totals.json"
  # A kernel ring of 8192 frames (0.4 s at the replay's rate) rides out a worker the host
  # does not schedule for a moment, as a 2-core test machine does under load.
  write_config "$dir/sluice.toml" "net_af_packet0,iface=$NEAR,framecnt=8192" "
[flow]
max_flows = 65536
idle_timeout = \"1s\"
active_timeout = \"1h\"
tcp_end_grace = \"500ms\"
record_ring_size = $ring
# A ring's size is in slots, and a TCP record's health takes one more: without it, a slot is a
# record, and the ring holds exactly its size in records.
[metadata]
tcp_health = false
[[collector]]
name = \"archive\"
transport = \"file\"
path = \"$dir/records.ipfix\"
[metrics]
enabled = false"
  config_set "$dir/sluice.toml" control socket "\"$dir/control.sock\""

  "$DATAPLANE" --config "$dir/sluice.toml" > "$dir/dataplane.log" 2>&1 &
  local dataplane=$!
  "$CONTROL" --config "$dir/sluice.toml" --wait 20s > /dev/null 2> "$dir/control1.log" &
  local control=$!
  wait_for_line "$dir/control1.log" "attached to sluice-dataplane" 30 ||
    { cat "$dir/dataplane.log" "$dir/control1.log" >&2; fail "$name: the first control never attached"; }
  kill -KILL "$control"
  wait "$control" 2> /dev/null || true

  replay "$dir/trace.pcap"
  # Every flow ends (FIN and 500 ms, or 1 s idle) while no control runs: its record waits in the ring.
  sleep 3
  kill -0 "$dataplane" || fail "$name: sluice-dataplane did not survive its control"

  "$CONTROL" --config "$dir/sluice.toml" --wait 20s --summary "$dir/summary.json" > /dev/null 2> "$dir/control2.log" &
  control=$!
  wait_for_line "$dir/control2.log" "attached to sluice-dataplane" 30 || fail "$name: the second control never attached"
  sleep 1
  kill -INT "$dataplane"
  wait_exit "$dataplane" 30
  [ "$EXIT_STATUS" -eq 0 ] || { cat "$dir/dataplane.log" >&2; fail "$name: sluice-dataplane exited $EXIT_STATUS"; }
  wait_exit "$control" 30
  [ "$EXIT_STATUS" -eq 0 ] || { cat "$dir/control2.log" >&2; fail "$name: the second control exited $EXIT_STATUS"; }
  cleanup_prefix
}

# Rings of 65536 records: all 400 conversations reach the collector.
restart_case roomy 400 65536
packets=$(json_field "$WORK/roomy/totals.json" packets)
host_frames "$WORK/roomy/summary.json"
expect_summary "$WORK/roomy/summary.json" received.packets=$((packets + HOST_FRAMES)) \
  collectors.0.exported.records=400 collectors.0.exported.packets="$packets" \
  collectors.0.not_sent.records=0 collectors.0.balanced=true

# A ring of 1024 records and 3000 conversations ending while no control drains it: the ring
# keeps 1024, the others are counted as not sent with their packets, nothing else is lost. A
# conversation the replay stalls in for longer than the idle timeout (a loaded host) ends in two
# records, so the not sent are the records the flows ended in, less the ring's 1024.
restart_case small 3000 1024
packets=$(json_field "$WORK/small/totals.json" packets)
host_frames "$WORK/small/summary.json"
records=$(SUMMARY=$WORK/small/summary.json summary flows records_by_end_reason |
  python3 -c 'import json, sys; print(sum(json.load(sys.stdin).values()))')
[ "$records" -ge 3000 ] || fail "the 3000 conversations ended in $records records"
expect_summary "$WORK/small/summary.json" received.packets=$((packets + HOST_FRAMES)) \
  collectors.0.exported.records=1024 collectors.0.not_sent.records=$((records - 1024)) \
  dataplane_not_sent.records=$((records - 1024)) collectors.0.balanced=true
[ $(($(SUMMARY=$WORK/small/summary.json summary collectors 0 exported packets) + \
  $(SUMMARY=$WORK/small/summary.json summary collectors 0 not_sent packets))) -eq "$packets" ] ||
  fail "exported + not sent != sent"
echo "control_restart: ok"
