#!/usr/bin/env bash
# Two workers on the two queues of an AF_PACKET port, fed by the kernel: a veth pair whose far
# end sits in a network namespace made for the test, where tcpreplay sends a trace. The kernel's
# symmetric fanout puts both directions of every conversation on one worker: each record is a
# whole biflow, equal to the trace's, and packets received = packets in records, exactly.
source "$(dirname "$0")/lib.sh"

veth_pair

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 600 --seed 11 --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['packets'])" "$WORK/totals.json")
write_config "$WORK/sluice.toml" "net_af_packet0,iface=$NEAR,qpairs=2" "$NO_TIMEOUTS"
# Two workers and the main lcore on a machine that may have two CPUs only.
sed -i 's/^worker_cores = "1"/worker_cores = "0-1"\nallow_shared_cores = true/; s/^device = .*/&\nrx_queues = 2/' "$WORK/sluice.toml"

"$DATAPLANE" --config "$WORK/sluice.toml" > "$WORK/dataplane.log" 2>&1 &
dataplane=$!
"$CONTROL" --config "$WORK/sluice.toml" --wait 20s --print-records --summary "$WORK/summary.json" \
  > "$WORK/records.jsonl" 2> "$WORK/control.log" &
control=$!
wait_for_line "$WORK/control.log" "attached to sluice-dataplane" 30 || { cat "$WORK/dataplane.log" "$WORK/control.log" >&2; fail "never attached"; }
replay "$WORK/trace.pcap"
expect_contains "$WORK/tcpreplay.log" "Successful packets:        $packets"
sleep 1
kill -INT "$dataplane"
wait_exit "$dataplane" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/dataplane.log" >&2; fail "sluice-dataplane exited $EXIT_STATUS"; }
wait_exit "$control" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/control.log" >&2; fail "sluice-control exited $EXIT_STATUS"; }
expect_contains "$WORK/dataplane.log" "2 queues spread by the kernel's symmetric fanout hash"

# Every record is a whole conversation: the trace's, both directions, counters alike; only the
# end reason (the stop, not the trace's end) and the times (the kernel's) are the run's own.
python3 - "$WORK/expected.jsonl" "$WORK/records.jsonl" <<'PY' || fail "records differ from the trace"
import json, sys
fields = ("src", "dst", "sport", "dport", "proto", "packets", "octets", "rpackets", "roctets",
          "flags", "rflags", "min_ttl", "rmin_ttl")
key = lambda r: tuple(r[f] for f in fields)
expected = sorted(key(json.loads(l)) for l in open(sys.argv[1]))
got = sorted(key(json.loads(l)) for l in open(sys.argv[2]))
if expected != got:
    print(f"{len(expected)} conversations, {len(got)} records", file=sys.stderr)
    sys.exit(1)
PY
host_frames "$WORK/summary.json"
expect_summary "$WORK/summary.json" received.packets=$((packets + HOST_FRAMES)) taken.records=600 \
  taken.packets="$packets" dataplane_not_sent.records=0 workers.0.queue=0 workers.1.queue=1
for w in 0 1; do
  [ "$(summary workers $w packets)" -gt 0 ] || fail "worker $w received nothing"
done
echo "af_packet_workers: ok"
