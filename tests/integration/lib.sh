# Helpers for the integration tests: a private file prefix, configs, assertions, clean-up.
set -euo pipefail

: "${SLUICE_BUILD_DIR:?run through meson test}"
: "${SLUICE_SOURCE_DIR:?run through meson test}"
DATAPLANE="$SLUICE_BUILD_DIR/dataplane/sluice-dataplane"
CONTROL="$SLUICE_BUILD_DIR/control/sluice-control"
LAUNCHER="$SLUICE_BUILD_DIR/tools/sluice"
TRACEGEN="$SLUICE_BUILD_DIR/tools/sluice-tracegen"
# shellcheck source=SCRIPTDIR/../../tools/lib/collector.sh
. "$SLUICE_SOURCE_DIR/tools/lib/collector.sh"

TEST_NAME=$(basename "$0" .sh)
PREFIX="sluice-it-$TEST_NAME-$$"
WORK=$(mktemp -d "/tmp/$PREFIX.XXXX")

# A test may declare explain_failure: what to print (logs, counters) when it fails.
fail() {
  echo "FAIL: $*" >&2
  if declare -F explain_failure > /dev/null; then explain_failure >&2 || true; fi
  exit 1
}

# Removes what a dead primary of our prefix leaves: hugepage files and the runtime folder; and
# what a killed control leaves for the next one.
cleanup_prefix() {
  rm -f /dev/hugepages/"$PREFIX"map_* /dev/shm/sluice-"$PREFIX"-* 2>/dev/null || true
  rm -rf "/var/run/dpdk/$PREFIX" 2>/dev/null || true
}

# With SLUICE_KEEP_FAILED=1, a test that fails leaves its work folder (logs, configs, captures)
# and says where.
cleanup() {
  local status=$?
  if declare -F extra_cleanup > /dev/null; then extra_cleanup; fi
  if [ -n "${NS:-}" ]; then
    ip netns del "$NS" 2> /dev/null || true
    ip link del "$NEAR" 2> /dev/null || true
  fi
  local pids
  pids=$(jobs -p)
  [ -z "$pids" ] || kill $pids 2>/dev/null || true
  wait 2>/dev/null || true
  cleanup_prefix
  if [ "$status" -ne 0 ] && [ "${SLUICE_KEEP_FAILED:-0}" = 1 ]; then
    echo "$TEST_NAME: its work folder is kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# write_config FILE DEVICE [extra TOML]: a small config on one worker, our own prefix.
write_config() {
  cat > "$1" <<TOML
[sensor]
name = "test-$TEST_NAME"
[dataplane]
main_core = 0
worker_cores = "1"
hugepage_memory = "384MiB"
file_prefix = "$PREFIX"
[[port]]
device = "$2"
[control]
core = 0
socket = "$WORK/control.sock"
${3:-}
TOML
}

# A [flow] section under which no timeout falls within a test's capture: every record ends
# with the capture or the stop (forcedEnd), as sluice-tracegen --expect assumes.
NO_TIMEOUTS='
[flow]
max_flows = 65536
idle_timeout = "1h"
active_timeout = "1h"
tcp_end_grace = "5m"'

# wait_for_line FILE PATTERN SECONDS: true once a line of FILE matches.
wait_for_line() {
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# wait_exit PID SECONDS: sets EXIT_STATUS to the exit status of PID (a child of this shell),
# or fails after SECONDS.
wait_exit() {
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "pid $1 still running after $2 s"
    sleep 0.2
  done
  EXIT_STATUS=0
  wait "$1" || EXIT_STATUS=$?
}

expect_contains() {
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 does not contain: $2"; }
}

# json_field FILE KEY: a top-level number or string of a JSON object in FILE.
json_field() {
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"
}

# summary KEY...: a value of the final accounting (sluice-control --summary, sluice pcap
# --summary) in $SUMMARY, default $WORK/summary.json, by its path: `summary ignored packets`,
# `summary collectors 0 exported records`.
summary() {
  python3 - "${SUMMARY:-$WORK/summary.json}" "$@" <<'PY'
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2:]:
    value = value[int(key)] if isinstance(value, list) else value[key]
print(json.dumps(value) if isinstance(value, (dict, list, bool)) else value)
PY
}

# expect_summary FILE PATH=VALUE...: the final accounting in FILE has each value at its dotted
# path (`received.packets=48280 collectors.0.balanced=true`); fails naming every one that differs.
expect_summary() {
  python3 - "$@" <<'PY' || fail "the accounting in $1 is not what was expected"
import json, sys
summary = json.load(open(sys.argv[1]))
bad = []
for check in sys.argv[2:]:
    path, want = check.split("=", 1)
    value = summary
    for key in path.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    got = json.dumps(value) if isinstance(value, bool) else str(value)
    if got != want:
        bad.append(f"{path} is {got}, not {want}")
print("\n".join(bad), file=sys.stderr)
if bad:
    print(json.dumps(summary.get("collectors", summary), indent=1), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# Collectors on loopback take bursts of datagrams: let their sockets have 4 MiB.
RMEM_MAX_WAS=
roomy_receive_buffers() {
  RMEM_MAX_WAS=$(sysctl -n net.core.rmem_max)
  [ "$RMEM_MAX_WAS" -ge 4194304 ] || sysctl -qw net.core.rmem_max=4194304
}
restore_receive_buffers() {
  [ -z "$RMEM_MAX_WAS" ] || sysctl -qw "net.core.rmem_max=$RMEM_MAX_WAS"
}

# start_nfcapd PORT DIR: nfcapd on loopback writing into DIR; sets NFCAPD to its pid.
start_nfcapd() {
  mkdir -p "$2"
  nfcapd -B 4000000 -b 127.0.0.1 -p "$1" -w "$2" > "$WORK/nfcapd.log" 2>&1 &
  NFCAPD=$!
  NFCAPD_PORT=$1
  wait_for_line "$WORK/nfcapd.log" "Startup" 10 || { cat "$WORK/nfcapd.log" >&2; fail "nfcapd did not start"; }
}

# start_tshark FILTER FILE: a capture on loopback; sets TSHARK to its pid. Its kernel buffer
# holds 64 MiB (2 by default): loopback's 64 KiB segments of a TCP export, on a loaded machine,
# overflowed that, and tshark then saw gaps in what had been sent whole.
# tshark says "Capturing on" before it captures (the first tenths of a second went unseen, and
# with them a fast export's templates): datagrams to a port of its own, which its filter takes
# too, are sent until FILE holds one. Decoded as the export's port is, they are not counted.
TSHARK_PROBE_PORT=47999
start_tshark() {
  tshark -i lo -B 64 -f "($1) or udp dst port $TSHARK_PROBE_PORT" -w "$2" > "$WORK/tshark.log" 2>&1 &
  TSHARK=$!
  wait_for_line "$WORK/tshark.log" "Capturing on" 20 || { cat "$WORK/tshark.log" >&2; fail "tshark did not start"; }
  local header=0 i
  for i in $(seq 200); do
    [ ! -s "$2" ] || { header=$(stat -c %s "$2"); break; }
    sleep 0.05
  done
  [ "$header" -gt 0 ] || { cat "$WORK/tshark.log" >&2; fail "tshark did not open $2"; }
  for i in $(seq 200); do
    echo probe > "/dev/udp/127.0.0.1/$TSHARK_PROBE_PORT" 2>/dev/null || true
    sleep 0.05
    [ "$(stat -c %s "$2")" -le "$header" ] || return 0
  done
  cat "$WORK/tshark.log" >&2
  fail "tshark captured none of 200 probes"
}

# stop PID: SIGTERM, then waits for it (a collector writes its files as it stops).
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait_exit "$1" 20
}

# stop_collector PID PORT: stops a UDP collector once it has read every datagram waiting on its
# socket at PORT (wait_until_read, tools/lib/collector.sh).
stop_collector() {
  wait_until_read "$2"
  stop "$1"
}
# stop_nfcapd: the one start_nfcapd started.
stop_nfcapd() {
  stop_collector "$NFCAPD" "$NFCAPD_PORT"
}

# Flows as nfdump prints them, one line each, in the format nfdump_lines.py writes.
NFDUMP_FORMAT='fmt:%ts|%te|%pr|%sa|%da|%sp|%dp|%ipkt|%ibyt|%opkt|%obyt|%flg'
nfdump_flows() {
  TZ=UTC nfdump -6 -R "$1" -q -N -o "$NFDUMP_FORMAT" | sed 's/ *| */|/g; s/^ *//; s/ *$//'
}

# check_tshark FILE [DECODE-AS [FLOW-FIELDS]]: the capture's IPFIX (or NetFlow) decodes without
# a malformed packet or an expert note about it (tshark checks sequence numbers), with a flow
# template of FLOW-FIELDS fields (24: the biflow's; 0: none, NetFlow v5) and every template
# field known by name.
check_tshark() {
  local decode=() fields=${3:-24}
  [ -z "${2:-}" ] || decode=(-d "$2")
  tshark -r "$1" "${decode[@]}" -q -z expert > "$WORK/expert.txt" 2>/dev/null
  # TCP's own notes (a full receive window) are the transport's business, not the export's.
  if grep -qE "^ +[0-9]+ +[A-Za-z]+ +CFLOW " "$WORK/expert.txt"; then cat "$WORK/expert.txt" >&2; fail "tshark reports problems in $1"; fi
  [ "$(tshark -r "$1" "${decode[@]}" -Y _ws.malformed 2>/dev/null | wc -l)" -eq 0 ] || fail "malformed IPFIX in $1"
  tshark -r "$1" "${decode[@]}" -V 2>/dev/null > "$WORK/decoded.txt"
  [ "$fields" -eq 0 ] || grep -qE "Field \\([0-9]+/$fields\\)" "$WORK/decoded.txt" || fail "no flow template of $fields fields decoded in $1"
  if grep -E 'Field \([0-9]+/[0-9]+\)' "$WORK/decoded.txt" | grep -qiE 'unknown|: [0-9]+$'; then
    grep -E 'Field \([0-9]+/[0-9]+\)' "$WORK/decoded.txt" | grep -iE 'unknown|: [0-9]+$' | sort -u | head >&2
    fail "tshark does not know a template field by name"
  fi
  TSHARK_MESSAGES=$(tshark -r "$1" "${decode[@]}" -Y cflow 2>/dev/null | wc -l)
}

# veth_pair: a veth pair whose far end sits in a network namespace made for the test, both ends
# up, IPv6 off so the kernel adds no packets of its own; sets NS, NEAR and FAR (removed at exit).
veth_pair() {
  NS="sl-$$"
  NEAR="sla$$"
  FAR="slb$$"
  ip netns add "$NS"
  ip link add "$NEAR" type veth peer name "$FAR"
  ip link set "$FAR" netns "$NS"
  sysctl -qw "net.ipv6.conf.$NEAR.disable_ipv6=1"
  ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$FAR.disable_ipv6=1"
  ip link set "$NEAR" up
  ip netns exec "$NS" ip link set "$FAR" up
}

# host_frames SUMMARY: sets HOST_FRAMES to the frames a veth test's dataplane ignored, by the
# final accounting in SUMMARY. A kernel link may carry a frame of the host's own now and then;
# none of a trace's frames is ignored, so they may only be non-IP: any other reason fails.
host_frames() {
  HOST_FRAMES=$(SUMMARY=$1 summary ignored packets)
  local non_ip
  non_ip=$(SUMMARY=$1 summary ignored by_reason non_ip packets)
  [ "$HOST_FRAMES" -eq "$non_ip" ] || fail "packets of the trace ignored: $(SUMMARY=$1 summary ignored by_reason)"
  [ "$HOST_FRAMES" -eq 0 ] || echo "note: $HOST_FRAMES non-IP frame(s) of the host's own on the link" >&2
}

# replay TRACE [PPS]: sends the trace from the namespace's end of the veth pair.
replay() {
  ip netns exec "$NS" tcpreplay -i "$FAR" --pps "${2:-20000}" "$1" > "$WORK/tcpreplay.log" 2>&1 ||
    { cat "$WORK/tcpreplay.log" >&2; fail "tcpreplay failed"; }
}

# replay_with_records CONFIG: sluice-dataplane replays CONFIG's capture while sluice-control
# writes every record to $WORK/records.jsonl and the final accounting to $WORK/summary.json
# (logs: $WORK/dataplane.log, $WORK/control.log); fails unless both exit 0.
replay_with_records() {
  "$DATAPLANE" --config "$1" > "$WORK/dataplane.log" 2>&1 &
  local dataplane=$!
  "$CONTROL" --config "$1" --wait 20s --print-records --summary "$WORK/summary.json" \
    > "$WORK/records.jsonl" 2> "$WORK/control.log" ||
    { cat "$WORK/dataplane.log" "$WORK/control.log" >&2; fail "sluice-control failed"; }
  wait_exit "$dataplane" 30
  [ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/dataplane.log" >&2; fail "sluice-dataplane exited $EXIT_STATUS"; }
}

# flow_records STATS: the flow records in an `ipfixDump -s` listing, those of the biflow
# templates (256, 257) and of the templates with metadata (272 to 431: a TCP record carries its
# health, docs/export.md).
flow_records() {
  awk -F'|' '$1 ~ /^ *[0-9]+ / { t = $1 + 0; if (t == 256 || t == 257 || (t >= 272 && t <= 431)) n += $2 }
    END { print n + 0 }' "$1"
}

# same_records EXPECTED GOT WHAT [FIELDS]: the two JSON-lines files hold the same records, in any
# order; with FIELDS (comma-separated), the same in those fields.
same_records() {
  python3 "$SLUICE_SOURCE_DIR/tests/integration/records.py" "$1" "$2" ${4:+--fields "$4"} || fail "$3"
}

# config_set FILE SECTION KEY VALUE: KEY = VALUE (a TOML value: '"30m"', 2, true) in the first
# [SECTION] or [[SECTION]] of FILE, replaced where the key is, added under the header where it
# is not. Fails when FILE has no such section.
config_set() {
  config_edit set "$@"
}

# config_unset FILE SECTION KEY: removes KEY from the first SECTION; fails when it is not there.
config_unset() {
  config_edit unset "$@"
}

# config_drop FILE SECTION: removes the first SECTION, header and keys; fails when there is none.
config_drop() {
  config_edit drop "$@"
}

config_edit() {
  python3 - "$@" <<'PY' || fail "config_$1 ${*:2}"
import re, sys
action, path, section = sys.argv[1:4]
lines = open(path).read().split("\n")
headers = [i for i, l in enumerate(lines) if re.fullmatch(r"\s*\[\[?[^]]+\]\]?\s*", l)]
start = next((i for i in headers if lines[i].strip().strip("[]") == section), None)
if start is None:
    sys.exit(f"{path} has no [{section}]")
end = next((i for i in headers if i > start), len(lines))
if action == "drop":
    del lines[start:end]
else:
    key = sys.argv[4]
    at = next((i for i in range(start + 1, end) if re.match(rf"\s*{re.escape(key)}\s*=", lines[i])), None)
    if action == "unset":
        if at is None:
            sys.exit(f"{path}: [{section}] has no {key}")
        del lines[at]
    elif at is None:
        lines.insert(start + 1, f"{key} = {sys.argv[5]}")
    else:
        lines[at] = f"{key} = {sys.argv[5]}"
text = "\n".join(lines).rstrip("\n") + "\n"
open(path, "w").write(text)
PY
}

# start_sensor CONFIG: sluice-dataplane and sluice-control on CONFIG in the background, until the
# control has attached. The control writes every record to $WORK/records.jsonl and the final
# accounting to $WORK/summary.json (logs: $WORK/dataplane.log, $WORK/control.log); sets
# DATAPLANE_PID and CONTROL_PID.
start_sensor() {
  "$DATAPLANE" --config "$1" > "$WORK/dataplane.log" 2>&1 &
  DATAPLANE_PID=$!
  "$CONTROL" --config "$1" --wait 20s --print-records --summary "$WORK/summary.json" \
    > "$WORK/records.jsonl" 2> "$WORK/control.log" &
  CONTROL_PID=$!
  wait_for_line "$WORK/control.log" "attached to sluice-dataplane" 30 ||
    { cat "$WORK/dataplane.log" "$WORK/control.log" >&2; fail "sluice-control never attached"; }
}

# stop_sensor: stops the dataplane (SIGINT) and fails unless it and its control exit 0.
stop_sensor() {
  kill -INT "$DATAPLANE_PID"
  wait_exit "$DATAPLANE_PID" 30
  [ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/dataplane.log" >&2; fail "sluice-dataplane exited $EXIT_STATUS"; }
  wait_exit "$CONTROL_PID" 30
  [ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/control.log" >&2; fail "sluice-control exited $EXIT_STATUS"; }
}

# every_record_arrives EXPECTED GOT RESENT: the collector's records (GOT, JSON lines) hold every
# record of EXPECTED, none it does not know, and no more held twice than RESENT, the records
# counted as sent again.
every_record_arrives() {
  python3 - "$@" <<'PY' || fail "the collector lacks records, or holds more twice than were sent again"
import collections, json, sys
fields = ("src", "dst", "sport", "dport", "proto", "packets", "octets", "rpackets", "roctets")
def load(path):
    return collections.Counter(tuple(json.loads(l)[f] for f in fields) for l in open(path) if l.strip())
expected, got = load(sys.argv[1]), load(sys.argv[2])
missing = expected - got
extra = got - expected
twice = sum(n for r, n in extra.items() if r in expected)
strange = sum(n for r, n in extra.items() if r not in expected)
print(f"{sum(expected.values())} records expected, {len(missing)} missing, "
      f"{twice} held twice (sent again: {sys.argv[3]}), {strange} unknown", file=sys.stderr)
sys.exit(0 if not missing and not strange and twice <= int(sys.argv[3]) else 1)
PY
}
