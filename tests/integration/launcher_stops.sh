#!/usr/bin/env bash
# The launcher and the control stop promptly and leave nothing behind, whatever happens: a
# capture the dataplane refuses (a hundred times, each bounded), a dataplane that fails while
# the control attaches, a stop signal while the control waits, and a launcher killed with
# SIGKILL, whose children go with it and whose files the next `sluice pcap --dataplane` removes
# (all through `sluice pcap --dataplane`: the one-process path has no children or shared memory).
source "$(dirname "$0")/lib.sh"

leftovers() {
  { ls /tmp /dev/hugepages /var/run/dpdk 2> /dev/null | grep '^sluice-pcap-' || true; } | sort -u
}
no_leftovers() {
  local left
  left=$(leftovers)
  [ -z "$left" ] || fail "$1 left behind: $(echo $left)"
  if pgrep -f 'sluice-(dataplane|control) --config /tmp/sluice-pcap-' > /dev/null; then
    pgrep -af 'sluice-(dataplane|control)' >&2
    fail "$1 left processes behind"
  fi
}
no_leftovers "an earlier test"

# An 802.11 capture: refused at once, naming its link type, a hundred times over.
python3 -c "
import struct, sys
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 127))
    f.write(struct.pack('<IIII', 1, 0, 4, 4) + b'abcd')" "$WORK/radio.pcap"
start=$SECONDS
for i in $(seq 100); do
  status=0
  timeout 10 "$LAUNCHER" pcap "$WORK/radio.pcap" --dataplane --to 127.0.0.1:9 > "$WORK/refused.log" 2>&1 || status=$?
  [ "$status" -ne 124 ] || { cat "$WORK/refused.log" >&2; fail "run $i of a refused capture hung"; }
  [ "$status" -eq 1 ] || { cat "$WORK/refused.log" >&2; fail "run $i of a refused capture exited $status, not 1"; }
done
expect_contains "$WORK/refused.log" "cannot replay the capture: $WORK/radio.pcap: link type 802.11 plus radiotap header (127), which Sluice does not meter"
no_leftovers "a refused capture"
echo "launcher_stops: 100 refused captures in $((SECONDS - start)) s"

# A dataplane that fails after EAL has started, while the control attaches to it (a signature
# Hyperscan cannot compile): the control notices, whichever step it is at.
"$TRACEGEN" --out "$WORK/small.pcap" --flows 10 > /dev/null
printf '[[application]]\nname = "broken"\nid = 1\n[[application.pattern]]\nregex = "a(b"\n' > "$WORK/broken.toml"
printf '[applications]\nsignatures = "%s"\n' "$WORK/broken.toml" > "$WORK/broken-config.toml"
for i in $(seq 10); do
  status=0
  timeout 10 "$LAUNCHER" pcap "$WORK/small.pcap" --dataplane --config "$WORK/broken-config.toml" --to 127.0.0.1:9 > "$WORK/failing.log" 2>&1 || status=$?
  [ "$status" -ne 124 ] || { cat "$WORK/failing.log" >&2; fail "run $i with a failing dataplane hung"; }
  [ "$status" -eq 1 ] || { cat "$WORK/failing.log" >&2; fail "run $i with a failing dataplane exited $status, not 1"; }
done
expect_contains "$WORK/failing.log" "Missing close parenthesis"
no_leftovers "a dataplane that failed"

# A control waiting for its dataplane stops within a second of SIGTERM (and of SIGINT).
write_config "$WORK/live.toml" "net_null0" "[metrics]
enabled = false"
for sig in TERM INT; do
  "$CONTROL" --config "$WORK/live.toml" --wait 60s > "$WORK/waiting.log" 2>&1 &
  control=$!
  wait_for_line "$WORK/waiting.log" "waiting up to 1m" 10 || { cat "$WORK/waiting.log" >&2; fail "the control does not wait"; }
  sent=$(date +%s%N)
  kill -"$sig" "$control"
  wait_exit "$control" 5
  elapsed=$((($(date +%s%N) - sent) / 1000000))
  [ "$EXIT_STATUS" -eq 0 ] || { cat "$WORK/waiting.log" >&2; fail "a waiting control exited $EXIT_STATUS on SIG$sig"; }
  [ "$elapsed" -lt 1000 ] || fail "a waiting control took $elapsed ms to stop on SIG$sig"
  expect_contains "$WORK/waiting.log" "SIG$sig received before sluice-control attached: stopping, nothing to export"
done

# `sluice run` killed with SIGKILL: its children do not outlive it.
# kill_launcher PID WHAT: SIGKILL to a running launcher; none of its children may outlive it by
# more than 2 s (a zombie, waiting for init to reap it, holds nothing).
kill_launcher() {
  local children child alive start=$SECONDS
  children=$(pgrep -P "$1" | tr '\n' ' ')
  [ -n "$children" ] || fail "$2 has no children"
  kill -KILL "$1"
  for _ in $(seq 20); do
    sleep 0.1
    alive=
    for child in $children; do
      if [ -e "/proc/$child" ] && ! grep -q '^State:.*Z' "/proc/$child/status" 2> /dev/null; then
        alive="$alive $child"
      fi
    done
    [ -n "$alive" ] || break
  done
  for child in $alive; do
    echo "$child: $(tr '\0' ' ' < "/proc/$child/cmdline" 2> /dev/null); $(grep -E '^(State|Threads)' "/proc/$child/status" 2> /dev/null | tr '\n' ' ')" >&2
    for task in /proc/"$child"/task/*; do
      echo "  thread $(basename "$task") $(cat "$task/comm" 2> /dev/null): $(grep State "$task/status" 2> /dev/null) wchan $(cat "$task/wchan" 2> /dev/null)" >&2
      head -5 "$task/stack" 2> /dev/null | sed 's/^/    /' >&2
    done
  done
  [ -z "$alive" ] || fail "process(es)$alive of a killed $2 still running 2 s later"
  wait "$1" 2> /dev/null || true
}

"$LAUNCHER" run --config "$WORK/live.toml" > "$WORK/run.log" 2>&1 &
launcher=$!
wait_for_line "$WORK/run.log" "sluice: running" 60 || { cat "$WORK/run.log" >&2; fail "sluice run never ready"; }
kill_launcher "$launcher" "sluice run"
cleanup_prefix

# `sluice pcap` killed with SIGKILL while its collector holds the export up: its children go
# with it, and the next `sluice pcap` removes the hugepage files and folders it left.
"$TRACEGEN" --out "$WORK/big.pcap" --flows 60000 > /dev/null
port=47395
python3 -c "
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(1)
c, _ = s.accept()
time.sleep(60)  # takes the connection and never reads it" "$port" &
sleep 0.3
"$LAUNCHER" pcap "$WORK/big.pcap" --dataplane --transport tcp --to "127.0.0.1:$port" > "$WORK/pcap.log" 2>&1 &
launcher=$!
wait_for_line "$WORK/pcap.log" "sluice: running" 60 || { cat "$WORK/pcap.log" >&2; fail "sluice pcap never ready"; }
sleep 0.5
kill_launcher "$launcher" "sluice pcap"
[ -n "$(leftovers)" ] || fail "a killed sluice pcap left nothing for the next one to remove (the test lost its point)"
# What only looks like a run's folder is not touched.
mkdir /tmp/sluice-pcap-4194303-results
timeout 60 "$LAUNCHER" pcap "$WORK/small.pcap" --dataplane --transport file --to "$WORK/small.ipfix" > "$WORK/next.log" 2>&1 ||
  { cat "$WORK/next.log" >&2; fail "the sluice pcap after a killed one failed"; }
expect_contains "$WORK/next.log" "removed what a sluice pcap that did not finish (pid $launcher) left behind"
[ -d /tmp/sluice-pcap-4194303-results ] || fail "the sweep removed a folder that is not a run's"
rmdir /tmp/sluice-pcap-4194303-results
no_leftovers "a killed sluice pcap, once the next one ran,"
echo "launcher_stops: ok"
