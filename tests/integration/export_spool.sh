#!/usr/bin/env bash
# A TCP collector's spool across two runs of `sluice run`. The first meters a capture while the
# collector is away: the records beyond its 1 MiB buffer go to the spool, and at the stop what
# the buffer holds goes there too. The second starts with the collector back: the first run's
# records go out first and in order, then the second's, every record once on one connection
# whose sequence numbers run on, and the spool is empty after. Then a spool with a flipped byte
# and a last block cut short loses those two blocks only (at most 2048 records each), counted;
# and a disk that fills is counted, and nothing crashes.
source "$(dirname "$0")/lib.sh"

port=47431
"$TRACEGEN" --out "$WORK/first.pcap" --flows 30000 --seed 81 --expect "$WORK/first.jsonl" \
  > "$WORK/first.json"
"$TRACEGEN" --out "$WORK/second.pcap" --flows 2000 --seed 82 --expect "$WORK/second.jsonl" \
  > "$WORK/second.json"

# spool_config FILE CAPTURE SPOOL: the capture to one TCP collector with a spool.
spool_config() {
  write_config "$1" "net_pcap0,rx_pcap=$2" "$NO_TIMEOUTS
[[collector]]
name = \"archive\"
transport = \"tcp\"
address = \"127.0.0.1:$port\"
buffer_size = \"1MiB\"
spool = \"$3\"
[metrics]
enabled = false"
}

# run_sluice CONFIG NAME: sluice run to the end of its capture; its log in NAME.log and its
# summary in NAME.json.
run_sluice() {
  timeout 120 "$LAUNCHER" run --config "$1" --summary "$WORK/$2.json" > "$WORK/$2.log" 2>&1 ||
    { cat "$WORK/$2.log" >&2; fail "sluice run ($2) failed"; }
}

spooled_files() { find "$1" -name '*.spool' | wc -l; }

# --- two runs ---
spool_config "$WORK/first.toml" "$WORK/first.pcap" "$WORK/spool"
run_sluice "$WORK/first.toml" away
taken=$(SUMMARY="$WORK/away.json" summary taken records)
[ "$taken" -eq 30000 ] || fail "the first run took $taken records, not 30000"
expect_summary "$WORK/away.json" collectors.0.exported.records=0 collectors.0.not_sent.records=0 \
  collectors.0.spooled.records=30000 collectors.0.balanced=true
expect_contains "$WORK/away.log" 'collector "archive" (tcp 127.0.0.1:'"$port"'): 30000 records wait in the spool'
[ "$(spooled_files "$WORK/spool")" -gt 0 ] || fail "the spool holds no segment"

socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$WORK/collector.ipfix" &
collector=$!
sleep 0.3
spool_config "$WORK/second.toml" "$WORK/second.pcap" "$WORK/spool"
run_sluice "$WORK/second.toml" back
wait_exit "$collector" 10
expect_summary "$WORK/back.json" collectors.0.exported.records=32000 \
  collectors.0.not_sent.records=0 collectors.0.spooled.records=0 \
  collectors.0.spooled_before.records=30000 collectors.0.balanced=true
first_packets=$(json_field "$WORK/first.json" packets)
second_packets=$(json_field "$WORK/second.json" packets)
expect_summary "$WORK/back.json" collectors.0.exported.packets=$((first_packets + second_packets)) \
  collectors.0.spooled_before.packets="$first_packets"
[ "$(spooled_files "$WORK/spool")" -eq 0 ] || { ls -l "$WORK/spool" >&2; fail "the spool is not empty after"; }
python3 "$(dirname "$0")/ipfix_sequence.py" "$WORK/collector.ipfix" >&2 ||
  fail "the sequence numbers of the connection do not run on"
python3 "$(dirname "$0")/ipfix_records.py" "$WORK/collector.ipfix" > "$WORK/got.jsonl"
cat "$WORK/first.jsonl" "$WORK/second.jsonl" > "$WORK/expected.jsonl"
same_records "$WORK/expected.jsonl" "$WORK/got.jsonl" \
  "the collector does not hold every record of both runs exactly once" \
  src,dst,sport,dport,proto,packets,octets,rpackets,roctets
head -n 30000 "$WORK/got.jsonl" > "$WORK/got-first.jsonl"
same_records "$WORK/first.jsonl" "$WORK/got-first.jsonl" \
  "the first run's records did not go out first" src,dst,sport,dport,proto,packets,octets

# --- a damaged spool ---
run_sluice "$WORK/first.toml" away-again
segments=$(find "$WORK/spool" -name '*.spool' | sort)
[ "$(echo "$segments" | wc -l)" -ge 2 ] || fail "the stop left one segment: $segments"
segment=$(echo "$segments" | head -n 1)
# 4 bytes flipped 4 KiB in: inside the first block's records (its header is 48 bytes after the
# segment's few hundred), wherever the blocks of whole units end.
printf '\xff\xff\xff\xff' | dd of="$segment" bs=1 seek=4096 conv=notrunc status=none
segment=$(echo "$segments" | tail -n 1)  # the last block cut short, as by a power loss
truncate -s $(($(stat -c %s "$segment") - 1000)) "$segment"
socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$WORK/collector2.ipfix" &
collector=$!
sleep 0.3
run_sluice "$WORK/second.toml" damaged
wait_exit "$collector" 10
expect_contains "$WORK/damaged.log" "does not match its checksum"
expect_contains "$WORK/damaged.log" "cut short at offset"
lost=$(SUMMARY="$WORK/damaged.json" summary collectors 0 not_sent records)
[ "$lost" -gt 1 ] && [ "$lost" -le 4096 ] || fail "$lost records lost to a flipped block and a cut one"
echo "export_spool: $lost records lost to a flipped block and a cut one" >&2
expect_summary "$WORK/damaged.json" collectors.0.exported.records=$((32000 - lost)) \
  collectors.0.spooled.records=0 collectors.0.balanced=true

# --- a disk that fills ---
mkdir -p "$WORK/small"
mount -t tmpfs -o size=1m tmpfs "$WORK/small"
extra_cleanup() { umount "$WORK/small" 2> /dev/null || true; }
spool_config "$WORK/full.toml" "$WORK/first.pcap" "$WORK/small/spool"
run_sluice "$WORK/full.toml" full
expect_contains "$WORK/full.log" "the spool counts as full"
expect_summary "$WORK/full.json" collectors.0.exported.records=0 collectors.0.balanced=true
spooled=$(SUMMARY="$WORK/full.json" summary collectors 0 spooled records)
not_sent=$(SUMMARY="$WORK/full.json" summary collectors 0 not_sent records)
[ $((spooled + not_sent)) -eq 30000 ] && [ "$not_sent" -gt 0 ] ||
  fail "of 30000 records, $spooled spooled and $not_sent counted as not sent"
echo "export_spool: ok"
