#!/usr/bin/env bash
# Two workers on the two queues of an AF_PACKET port, fed by the kernel: a veth pair whose far
# end sits in a network namespace made for the test, where tcpreplay sends a trace. The kernel's
# symmetric fanout puts both directions of every conversation on one worker: each record is a
# whole biflow, equal to the trace's, and packets received = packets in records, exactly.
source "$(dirname "$0")/lib.sh"

veth_pair

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 600 --seed 11 --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
write_config "$WORK/sluice.toml" "net_af_packet0,iface=$NEAR,qpairs=2" "$NO_TIMEOUTS"
# Two workers and the main lcore on a machine that may have two CPUs only.
config_set "$WORK/sluice.toml" dataplane worker_cores '"0-1"'
config_set "$WORK/sluice.toml" dataplane allow_shared_cores true
config_set "$WORK/sluice.toml" port rx_queues 2

start_sensor "$WORK/sluice.toml"
replay "$WORK/trace.pcap"
expect_contains "$WORK/tcpreplay.log" "Successful packets:        $packets"
sleep 1
stop_sensor
expect_contains "$WORK/dataplane.log" "2 queues spread by the kernel's symmetric fanout hash"

# Every record is a whole conversation: the trace's, both directions, counters alike; only the
# end reason (the stop, not the trace's end) and the times (the kernel's) are the run's own.
same_records "$WORK/expected.jsonl" "$WORK/records.jsonl" "records differ from the trace" \
  src,dst,sport,dport,proto,packets,octets,rpackets,roctets,flags,rflags,min_ttl,rmin_ttl
host_frames "$WORK/summary.json"
expect_summary "$WORK/summary.json" received.packets=$((packets + HOST_FRAMES)) taken.records=600 \
  taken.packets="$packets" dataplane_not_sent.records=0 workers.0.queue=0 workers.1.queue=1
for w in 0 1; do
  [ "$(summary workers $w packets)" -gt 0 ] || fail "worker $w received nothing"
done
echo "af_packet_workers: ok"
