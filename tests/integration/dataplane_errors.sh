#!/usr/bin/env bash
# The dataplane refuses what it cannot run, with a message that says what to change; a broken
# configuration is an error in the journal too.
source "$(dirname "$0")/lib.sh"

# A CPU this machine does not have.
write_config "$WORK/cores.toml" "net_null0"
config_set "$WORK/cores.toml" dataplane worker_cores '"126"'
status=0
"$DATAPLANE" --config "$WORK/cores.toml" 2> "$WORK/err" || status=$?
[ "$status" -eq 1 ] || { cat "$WORK/err" >&2; fail "exited $status on a missing CPU"; }
expect_contains "$WORK/err" "CPU 126 in dataplane.worker_cores is not available to this process"

# A virtual device DPDK cannot create.
write_config "$WORK/vdev.toml" "net_pcap0,rx_pcap=$WORK/does-not-exist.pcap"
status=0
"$DATAPLANE" --config "$WORK/vdev.toml" 2> "$WORK/err" || status=$?
[ "$status" -eq 1 ] || { cat "$WORK/err" >&2; fail "exited $status on a bad vdev"; }
expect_contains "$WORK/err" "error:"
cleanup_prefix

# Flow tables larger than the hugepage memory: the message gives the sizes and what to set.
write_config "$WORK/memory.toml" "net_null0,no-rx=1" '
[flow]
max_flows = 4194304'
config_set "$WORK/memory.toml" dataplane hugepage_memory '"128MiB"'
status=0
"$DATAPLANE" --config "$WORK/memory.toml" 2> "$WORK/err" || status=$?
[ "$status" -eq 1 ] || { cat "$WORK/err" >&2; fail "exited $status with too little memory"; }
expect_contains "$WORK/err" "this configuration needs 1145 MiB of hugepage memory, [dataplane] hugepage_memory gives 128 MiB: flow tables 1059 MiB (1 x 4194304 flows, 35 MiB of it metadata, 256 MiB TCP health, 256 MiB tunnels, 0 MiB headers)"
expect_contains "$WORK/err" 'Set hugepage_memory = "1145MiB"'
cleanup_prefix

# A configuration error under systemd (JOURNAL_STREAM set) carries the error priority, so
# `journalctl -p err` shows it; each process says it in the same words.
printf '[flow]\nmax_flows = "many"\n' > "$WORK/broken.toml"
for program in "$DATAPLANE" "$CONTROL"; do
  status=0
  JOURNAL_STREAM=8:1 "$program" --config "$WORK/broken.toml" 2> "$WORK/err" || status=$?
  [ "$status" -eq 2 ] || { cat "$WORK/err" >&2; fail "$program exited $status on a broken configuration"; }
  grep -qxF "<3>$WORK/broken.toml:2:13: flow.max_flows: expected a whole number from 1024 to 268435456, found \"many\"" "$WORK/err" ||
    { cat "$WORK/err" >&2; fail "$program: the configuration error has no journald priority"; }
done
echo "dataplane_errors: ok"
