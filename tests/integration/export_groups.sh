#!/usr/bin/env bash
# Collector groups with real collectors.
# Failover: two TCP collectors; the first stops reading in the middle of a replay (its window
# shuts, nothing is acknowledged for ack_timeout), the second takes over, the first returns and
# takes the records back. What the three connections hold is every record, once.
# Balance: three nfcapd over UDP, uniflow records: together they hold every direction of every
# conversation, and both directions of each, and every active-timeout part of a long flow, sit
# at one member.
source "$(dirname "$0")/lib.sh"

first=47421
second=$((first + 1))
balance=$((first + 2))

# --- failover ---
veth_pair
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 6000 --seed 71 --spread 12 \
  --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
write_config "$WORK/sluice.toml" "net_af_packet0,iface=$NEAR,framecnt=8192" "
[flow]
max_flows = 65536
idle_timeout = \"1s\"
active_timeout = \"1h\"
tcp_end_grace = \"500ms\"
[[collector]]
name = \"pair\"
transport = \"tcp\"
addresses = [\"127.0.0.1:$first\", \"127.0.0.1:$second\"]
mode = \"failover\"
ack_timeout = \"2s\"
[metrics]
enabled = false"

# listen PORT FILE [socat options]: a TCP collector keeping one connection's stream in FILE.
listen() {
  socat -u "TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr${3:-}" "CREATE:$2" &
}
listen "$first" "$WORK/first.ipfix" ",rcvbuf=4096"
stalled=$!
listen "$second" "$WORK/second.ipfix"
sleep 0.3
"$LAUNCHER" run --config "$WORK/sluice.toml" --summary "$WORK/summary.json" > "$WORK/run.log" 2>&1 &
launcher=$!
for port in "$first" "$second"; do
  wait_for_line "$WORK/run.log" "collector \"pair/127.0.0.1:$port\" (tcp 127.0.0.1:$port): exporting" 30 ||
    { cat "$WORK/run.log" >&2; fail "never connected to 127.0.0.1:$port"; }
done
replay "$WORK/trace.pcap" 6000 &
replaying=$!
sleep 3
kill -STOP "$stalled"  # the first collector stops reading
wait_for_line "$WORK/run.log" "tcp 127.0.0.1:$second gets the records from now on, in place of tcp 127.0.0.1:$first" 20 ||
  { cat "$WORK/run.log" >&2; fail "no failover to the second collector"; }
listen "$first" "$WORK/returned.ipfix"  # the first collector's port answers again
wait_for_line "$WORK/run.log" "tcp 127.0.0.1:$first gets the records from now on, in place of tcp 127.0.0.1:$second" 20 ||
  { cat "$WORK/run.log" >&2; fail "the records did not go back to the first collector"; }
wait "$replaying"
sleep 3  # every conversation ends (idle_timeout 1s) and goes out
kill -INT "$launcher"
wait_exit "$launcher" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/run.log" >&2; fail "sluice run exited $EXIT_STATUS"; }
kill -CONT "$stalled"  # what its host acknowledged reaches its file
for _ in $(seq 50); do
  size=$(stat -c %s "$WORK/first.ipfix")
  sleep 0.2
  [ "$size" -ne "$(stat -c %s "$WORK/first.ipfix")" ] || break
done
kill "$stalled" 2> /dev/null || true
wait 2> /dev/null || true

expect_contains "$WORK/run.log" "collector \"pair/127.0.0.1:$first\" (tcp 127.0.0.1:$first): Connection timed out"
host_frames "$WORK/summary.json"
received=$(summary received packets)
[ "$received" -eq $((packets + HOST_FRAMES)) ] || fail "the dataplane received $received packets of the trace's $packets"
taken=$(summary taken records)
expect_summary "$WORK/summary.json" collectors.0.name=pair collectors.0.exported.records="$taken" \
  collectors.0.exported.packets="$packets" collectors.0.not_sent.records=0 collectors.0.balanced=true \
  collectors.0.members.0.name="pair/127.0.0.1:$first" collectors.0.members.1.name="pair/127.0.0.1:$second"
[ "$(summary collectors 0 members 0 handed_over)" -gt 0 ] || fail "the first collector handed nothing over"
[ "$(summary collectors 0 members 1 exported records)" -gt 0 ] || fail "the second collector got nothing"
for part in first second returned; do
  python3 "$(dirname "$0")/ipfix_records.py" "$WORK/$part.ipfix" > "$WORK/$part.jsonl"
  [ -s "$WORK/$part.jsonl" ] || fail "the $part connection holds no record"
done
resent=$(summary collectors 0 members 0 resent)
cat "$WORK"/{first,second,returned}.jsonl > "$WORK/union.jsonl"
# Every record of the trace, and twice only a record sent again (docs/export.md: duplicates).
python3 - "$WORK/expected.jsonl" "$WORK/union.jsonl" "$resent" <<'PY' ||
import collections, json, sys
fields = ("src", "dst", "sport", "dport", "proto", "packets", "octets", "rpackets", "roctets")
def records(path):
    return collections.Counter(tuple(json.loads(l)[f] for f in fields) for l in open(path))
expected, got = records(sys.argv[1]), records(sys.argv[2])
missing, extra = expected - got, got - expected
if missing:
    sys.exit(f"{sum(missing.values())} records of the trace missing, such as {next(iter(missing))}")
if any(r not in expected for r in extra):
    sys.exit(f"records not in the trace, such as {next(r for r in extra if r not in expected)}")
if sum(extra.values()) > int(sys.argv[3]):
    sys.exit(f"{sum(extra.values())} duplicates, more than the {sys.argv[3]} records sent again")
print(f"{sum(extra.values())} duplicates", file=sys.stderr)
PY
  fail "the three connections do not hold every record of the trace, duplicates only of records sent again"
echo "failover: $(wc -l < "$WORK/first.jsonl") + $(wc -l < "$WORK/second.jsonl") + $(wc -l < "$WORK/returned.jsonl") records, $resent sent again" >&2

# --- balance ---
"$TRACEGEN" --out "$WORK/balance.pcap" --flows 1500 --seed 72 --spread 20 --long-flow \
  --expect "$WORK/balance.jsonl" > "$WORK/balance-totals.json"
balance_packets=$(json_field "$WORK/balance-totals.json" packets)
write_config "$WORK/balance.toml" "net_pcap0,rx_pcap=$WORK/balance.pcap" "
[flow]
max_flows = 65536
idle_timeout = \"1h\"
active_timeout = \"2s\"
tcp_end_grace = \"5m\"
[[collector]]
name = \"cluster\"
addresses = [\"127.0.0.1:$balance\", \"127.0.0.1:$((balance + 1))\", \"127.0.0.1:$((balance + 2))\"]
mode = \"balance\"
records = \"uniflow\"
[metrics]
enabled = false"
members=()
for i in 0 1 2; do
  mkdir -p "$WORK/member$i"
  nfcapd -B 4000000 -b 127.0.0.1 -p $((balance + i)) -w "$WORK/member$i" > "$WORK/nfcapd$i.log" 2>&1 &
  members+=($!)
  wait_for_line "$WORK/nfcapd$i.log" "Startup" 10 || { cat "$WORK/nfcapd$i.log" >&2; fail "nfcapd did not start"; }
done
timeout 120 "$LAUNCHER" run --config "$WORK/balance.toml" --summary "$WORK/balance-summary.json" \
  > "$WORK/balance-run.log" 2>&1 || { cat "$WORK/balance-run.log" >&2; fail "sluice run failed"; }
for i in 0 1 2; do stop_collector "${members[$i]}" $((balance + i)); done
expect_summary "$WORK/balance-summary.json" received.packets="$balance_packets" collectors.0.name=cluster \
  collectors.0.exported.packets="$balance_packets" collectors.0.not_sent.records=0 collectors.0.balanced=true
for i in 0 1 2; do
  nfdump_flows "$WORK/member$i" | sed "s/^/$i|/" >> "$WORK/stored.txt"
done
python3 - "$WORK/stored.txt" "$WORK/balance.jsonl" <<'PY' || fail "the members' flows are not the trace's, each flow at one member"
import collections, json, sys
members = collections.defaultdict(set)  # conversation -> members holding a direction of it
directions = collections.Counter()
long_parts, long_packets = 0, 0
for line in open(sys.argv[1]):
    member, _, _, proto, src, dst, sport, dport, packets = line.rstrip("\n").split("|")[:9]
    icmp = proto in ("1", "58")
    ends = sorted([(src, "0" if icmp else sport), (dst, "0" if icmp else dport)])
    conversation = (proto, *ends)
    members[conversation].add(member)
    if "10.255.0.1" in (src, dst):
        long_parts += 1
        long_packets += int(packets)
    else:
        directions[(proto, src, dst)] += int(packets)
split = [c for c, m in members.items() if len(m) > 1]
if split:
    sys.exit(f"{len(split)} conversations at more than one member, such as {split[0]}")
expected = collections.Counter()
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r["src"] == "10.255.0.1":
        continue
    expected[(str(r["proto"]), r["src"], r["dst"])] += r["packets"]
    if r["rpackets"]:
        expected[(str(r["proto"]), r["dst"], r["src"])] += r["rpackets"]
if directions != expected:
    sys.exit(f"directions differ: missing {list(expected - directions)[:3]}, "
             f"not expected {list(directions - expected)[:3]}")
if long_parts < 10:
    sys.exit(f"the long flow came in {long_parts} records, not one per 2 s of its 20 s")
per_member = collections.Counter(m for ms in members.values() for m in ms)
print(f"balance: {dict(sorted(per_member.items()))} conversations per member; the long flow in "
      f"{long_parts} records at one member", file=sys.stderr)
PY
echo "export_groups: ok"
