#!/usr/bin/env bash
# What an operator uses, through the real processes on a kernel interface: sluicectl status,
# top, stats (its JSON against the trace that was sent), collectors, flush and reload (valid,
# needing a restart, invalid), SIGHUP, the Prometheus endpoint scraped with curl, and DPDK
# telemetry read with dpdk-telemetry.py.
source "$(dirname "$0")/lib.sh"
SLUICECTL="$SLUICE_BUILD_DIR/tools/sluicectl"
metrics_port=19751

veth_pair
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 300 --seed 21 --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
write_config "$WORK/sluice.toml" "net_af_packet0,iface=$NEAR" "$NO_TIMEOUTS
[[collector]]
name = \"archive\"
transport = \"file\"
path = \"$WORK/records.ipfix\"
[metrics]
listen = \"127.0.0.1:$metrics_port\""
ctl() { "$SLUICECTL" --config "$WORK/sluice.toml" "$@"; }

"$LAUNCHER" run --config "$WORK/sluice.toml" --summary "$WORK/summary.json" > "$WORK/run.log" 2>&1 &
launcher=$!
for _ in $(seq 100); do ctl status > "$WORK/status.txt" 2>&1 && break; sleep 0.2; done
ctl status > "$WORK/status.txt" || { cat "$WORK/run.log" >&2; fail "sluicectl status does not answer"; }
expect_contains "$WORK/status.txt" "sensor \"test-operations\""
expect_contains "$WORK/status.txt" "net_af_packet0"
[ "$(stat -c %a "$WORK/control.sock")" = 600 ] || fail "the control socket is not mode 0600"

replay "$WORK/trace.pcap"
expect_contains "$WORK/tcpreplay.log" "Successful packets:        $packets"
# The workers publish their counters every millisecond: wait until all packets show. A
# kernel link may carry a frame of the host's own now and then (a non-IP one, ignored as
# non_ip, as host_frames in lib.sh says); the trace's packets are all metered.
for _ in $(seq 50); do
  ctl --json stats > "$WORK/stats.json"
  python3 -c "import json,sys; sys.exit(json.load(open(sys.argv[1]))['stats']['total']['metered_packets'] != int(sys.argv[2]))" \
    "$WORK/stats.json" "$packets" && break
  sleep 0.2
done
python3 - "$WORK/stats.json" "$packets" <<'PY' || fail "sluicectl stats --json does not match the trace"
import json, sys
s = json.load(open(sys.argv[1]))["stats"]
t, packets = s["total"], int(sys.argv[2])
host = t["ignored_packets"]["non_ip"]
checks = {
    "packets": (t["packets"], packets + host),
    "metered_packets": (t["metered_packets"], packets),
    "ignored": (sum(t["ignored_packets"].values()), host),
    "flows_created": (t["flows_created"], 300),
    "flows_active": (t["flows_active"], 300),
    "workers' packets": (sum(w["packets"] for w in s["workers"]), packets + host),
    "collectors": ([c["name"] for c in s["collectors"]], ["archive"]),
}
bad = {k: v for k, v in checks.items() if v[0] != v[1]}
if bad:
    print(bad, file=sys.stderr)
    sys.exit(1)
PY

curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$WORK/metrics.txt" || fail "the metrics endpoint does not answer"
python3 - "$WORK/metrics.txt" "$packets" <<'PY' || fail "the metrics do not match the trace"
import re, sys
families, samples = {}, {}
for line in open(sys.argv[1]):
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split()
        families[name] = kind
    elif not line.startswith("#"):
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$', line.strip())
        assert m, line
        assert m.group(1) in families, f"{m.group(1)} has no TYPE"
        samples.setdefault(m.group(1), []).append(float(m.group(3)))
assert sum(samples["sluice_worker_metered_packets_total"]) == int(sys.argv[2])
assert sum(samples["sluice_worker_packets_total"]) == int(sys.argv[2]) + sum(samples["sluice_worker_ignored_packets_total"])
assert sum(samples["sluice_worker_flows_active"]) == 300
for name, kind in families.items():
    assert (kind == "counter") == name.endswith("_total"), name
PY

# The same counters through DPDK telemetry, from the dataplane itself.
echo /sluice/stats | dpdk-telemetry.py -f "$PREFIX" > "$WORK/telemetry.json" 2>&1 || { cat "$WORK/telemetry.json" >&2; fail "dpdk-telemetry.py failed"; }
python3 - "$WORK/telemetry.json" "$packets" <<'PY' || fail "DPDK telemetry does not match the trace"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
s = json.loads(lines[-1])["/sluice/stats"]
ignored = sum(v for k, v in s.items() if k.startswith("ignored_") and k != "ignored_ip_octets")
assert s["metered_packets"] == int(sys.argv[2]) and s["flows_active"] == 300, s
assert s["packets"] == s["metered_packets"] + s["ignored_non_ip"] and ignored == s["ignored_non_ip"], s
PY

# top: the largest flows, from every worker's scan of its table.
ctl --json top > "$WORK/top.json" || fail "sluicectl top failed"
python3 - "$WORK/top.json" "$WORK/expected.jsonl" <<'PY' || fail "sluicectl top does not show the largest conversations"
import json, sys
top = json.load(open(sys.argv[1]))["flows"]
expected = sorted((json.loads(l) for l in open(sys.argv[2])), key=lambda r: -(r["octets"] + r["roctets"]))
size = lambda r: r["octets"] + r["roctets"]
assert len(top) == 20, len(top)
assert [size(r) for r in top] == [size(r) for r in expected[:20]], ([size(r) for r in top], [size(r) for r in expected[:20]])
assert top[0]["packets"] + top[0]["rpackets"] == expected[0]["packets"] + expected[0]["rpackets"]
PY
[ "$(ctl top | wc -l)" -eq 21 ] || fail "sluicectl top does not print a table of 20 flows"
[ "$(ctl top 5 | wc -l)" -eq 6 ] || fail "sluicectl top 5 does not print a table of 5 flows"
status=0
ctl top 0 2> "$WORK/top0.txt" || status=$?
[ "$status" -eq 2 ] || fail "sluicectl top 0 exits $status, not 2 (usage)"
expect_contains "$WORK/top0.txt" "limit is a whole number from 1 to 2520"

ctl collectors > "$WORK/collectors.txt"
grep -qE "^archive +file $WORK/records.ipfix +up " "$WORK/collectors.txt" || { cat "$WORK/collectors.txt" >&2; fail "the file collector is not up"; }

# flush: every active flow is exported now, as forcedEnd, and the table is empty.
ctl flush > "$WORK/flush.txt"
expect_contains "$WORK/flush.txt" "1 workers are exporting their active flows"
for _ in $(seq 50); do
  ctl --json collectors | grep -q '"records_sent":300,' && break
  sleep 0.2
done
ctl --json collectors | grep -q '"records_sent":300,' || fail "the flush did not export the 300 flows"
ctl --json stats | grep -q '"flows_active":0,' || fail "flows remain after the flush"

# reload: a new timeout applies, a new core count needs a restart, a broken file changes nothing.
config_set "$WORK/sluice.toml" flow idle_timeout '"30m"'
ctl reload > "$WORK/reload.txt" || fail "a valid reload failed"
expect_contains "$WORK/reload.txt" "applied (generation 2)"
# The workers take the new timeouts at a burst boundary.
for _ in $(seq 50); do ctl --json status | grep -q '"config_generation":2,"packets"' && break; sleep 0.1; done
ctl --json status | grep -q '"config_generation":2,"packets"' || fail "the worker did not take the new timeouts"
config_set "$WORK/sluice.toml" dataplane hugepage_memory '"512MiB"'
ctl --json reload > "$WORK/reload.json" || fail "a reload with a restart-only change failed"
expect_contains "$WORK/reload.json" '"needs_restart":["[dataplane]"]'
cp "$WORK/sluice.toml" "$WORK/good.toml"
config_set "$WORK/sluice.toml" flow idle_timeout '"soon"'
status=0
ctl --socket "$WORK/control.sock" reload 2> "$WORK/reload.err" || status=$?
[ "$status" -eq 1 ] || fail "an invalid reload exits $status, not 1"
expect_contains "$WORK/reload.err" "has errors and was not applied; the running one stays"
expect_contains "$WORK/reload.err" "sluice.toml:"
ctl --socket "$WORK/control.sock" status > /dev/null || fail "the control does not answer after a bad reload"
cp "$WORK/good.toml" "$WORK/sluice.toml"
kill -HUP "$(pgrep -f "sluice-control --config $WORK/sluice.toml")"
wait_for_line "$WORK/run.log" "SIGHUP received: reloading" 10 || fail "SIGHUP did not reload"
wait_for_line "$WORK/run.log" "applied (generation 4)" 10 || fail "SIGHUP's reload was not applied"

# Malformed and oversized requests get an error reply and change nothing.
printf '{"command": [1]}\n' | socat - "UNIX-CONNECT:$WORK/control.sock" > "$WORK/bad-request.txt"
expect_contains "$WORK/bad-request.txt" '{"ok":false,"error":"bad request: at byte 13: values are strings, numbers or booleans, not objects"}'
# The control answers once it has read more than the limit, and closes: the client may still be
# writing the rest and meet the closed socket (socat then quits without reading the reply), so
# this client keeps going to read what the control said.
python3 - "$WORK/control.sock" > "$WORK/long-request.txt" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
try:
    s.sendall(b"a" * 5000 + b"\n")
except (BrokenPipeError, ConnectionResetError):
    pass
reply = b""
while not reply.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    reply += chunk
sys.stdout.write(reply.decode())
PY
expect_contains "$WORK/long-request.txt" '"error":"bad request: longer than 4096 bytes"'
ctl status > /dev/null || fail "the control does not answer after bad requests"

# What a script relies on: exit statuses.
status=0; ctl nonsense 2> /dev/null || status=$?
[ "$status" -eq 1 ] || fail "an unknown command exits $status, not 1"
status=0; "$SLUICECTL" --socket "$WORK/nobody.sock" status 2> /dev/null || status=$?
[ "$status" -eq 3 ] || fail "no control exits $status, not 3"

kill -INT "$launcher"
wait_exit "$launcher" 30
[ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/run.log" >&2; fail "sluice run exited $EXIT_STATUS"; }
host_frames "$WORK/summary.json"
expect_summary "$WORK/summary.json" received.packets=$((packets + HOST_FRAMES)) \
  collectors.0.exported.records=300 collectors.0.exported.packets="$packets" \
  collectors.0.not_sent.records=0 collectors.0.balanced=true
echo "operations: ok"
