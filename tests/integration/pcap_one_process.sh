#!/usr/bin/env bash
# `sluice pcap` in one process, as an analyst runs it. Its records are the sensor's own
# dataplane's (`--dataplane`) on the same captures, record for record, with one metering
# thread and with two: a trace with applications, metadata, TCP health and hostile frames
# (stray fragments, a SYN flood), one whose timeouts fall within it, pcapng of a Linux cooked
# capture, tunnels, header fields, SPAN duplicates. It runs as an unprivileged user; reads gzip
# and zstd files, several files and a folder of them in time order, and standard input; shows
# progress on a terminal only; stops on Ctrl-C exporting what it read (a second: at once); and
# survives a capture cut anywhere, saying which file and where.
source "$(dirname "$0")/lib.sh"

SIGNATURES="$SLUICE_SOURCE_DIR/config/applications.toml"

# same_accounting A B: the two summaries count the same packets received, metered, ignored (by
# reason) and sampled out, the same flows and fragments, and the same records taken.
same_accounting() {
  python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bad = [k for k in ("received", "metered", "ignored", "sampled_out", "flows", "fragments", "taken") if a.get(k) != b.get(k)]
for k in bad:
    print(f"{k}: {a.get(k)} != {b.get(k)}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# same_as_dataplane NAME TRACE [ARGS...]: the records of TRACE through --dataplane, and in one
# process with 1 and 2 metering threads, are the same.
same_as_dataplane() {
  local name=$1 trace=$2
  shift 2
  timeout 120 "$LAUNCHER" pcap "$trace" --dataplane --print-records "$@" \
    --summary "$WORK/$name-dataplane.json" > "$WORK/$name-dataplane.jsonl" 2> "$WORK/$name-dataplane.log" ||
    { cat "$WORK/$name-dataplane.log" >&2; fail "$name: sluice pcap --dataplane failed"; }
  [ -s "$WORK/$name-dataplane.jsonl" ] || fail "$name: no records"
  for workers in 1 2; do
    timeout 120 "$LAUNCHER" pcap "$trace" --workers "$workers" --print-records "$@" \
      --summary "$WORK/$name-$workers.json" > "$WORK/$name-$workers.jsonl" 2> "$WORK/$name-$workers.log" ||
      { cat "$WORK/$name-$workers.log" >&2; fail "$name: sluice pcap --workers $workers failed"; }
    expect_contains "$WORK/$name-$workers.log" "metering on $workers thread"
    same_records "$WORK/$name-dataplane.jsonl" "$WORK/$name-$workers.jsonl" \
      "$name: the records of one process with $workers threads differ from the dataplane's"
    same_accounting "$WORK/$name-dataplane.json" "$WORK/$name-$workers.json" ||
      fail "$name: the accounting of one process with $workers threads differs from the dataplane's"
  done
  echo "$name: $(wc -l < "$WORK/$name-dataplane.jsonl") records the same"
}

"$TRACEGEN" --out "$WORK/mixed.pcap" --flows 3000 --seed 21 --l7 120 --tcp-health 60 --hostile \
  --applications "$SIGNATURES" > "$WORK/mixed.json"
printf '%s\n' "$NO_TIMEOUTS" > "$WORK/no-timeouts.toml"
same_as_dataplane mixed "$WORK/mixed.pcap" --config "$WORK/no-timeouts.toml"
# Both threads metered: the hash spread the flows.
for worker in 0 1; do
  grep -qE "worker $worker \(port 0 queue $worker\): [1-9][0-9]* packets" "$WORK/mixed-2.log" ||
    { cat "$WORK/mixed-2.log" >&2; fail "metering thread $worker had no packets"; }
done

# Idle and active timeouts within the trace: records end as the packets' own times say.
"$TRACEGEN" --out "$WORK/timeouts.pcap" --flows 1500 --seed 22 --spread 40 --long-flow > /dev/null
printf '[flow]\nidle_timeout = "2s"\nactive_timeout = "5s"\ntcp_end_grace = "1s"\n' > "$WORK/timeouts.toml"
same_as_dataplane timeouts "$WORK/timeouts.pcap" --config "$WORK/timeouts.toml"
grep -q '"end_reason": 2' "$WORK/timeouts-2.jsonl" || fail "no record ended by its active timeout"

"$TRACEGEN" --out "$WORK/sll2.pcapng" --flows 1000 --seed 23 --link sll2 --format pcapng > /dev/null
same_as_dataplane sll2 "$WORK/sll2.pcapng" --config "$WORK/no-timeouts.toml"

"$TRACEGEN" --out "$WORK/tunnels.pcap" --flows 800 --seed 24 --tunnels > /dev/null
same_as_dataplane tunnels "$WORK/tunnels.pcap" --config "$WORK/no-timeouts.toml"

"$TRACEGEN" --out "$WORK/headers.pcap" --flows 600 --seed 25 --headers > /dev/null
printf '%s\n[metadata]\nheaders = true\n' "$NO_TIMEOUTS" > "$WORK/headers.toml"
same_as_dataplane headers "$WORK/headers.pcap" --config "$WORK/headers.toml"

"$TRACEGEN" --out "$WORK/span.pcap" --flows 1000 --seed 26 --duplicates 3 > "$WORK/span.json"
same_as_dataplane span "$WORK/span.pcap" --config "$WORK/no-timeouts.toml" --deduplicate 100us
expect_summary "$WORK/span-2.json" ignored.by_reason.duplicate.packets="$(json_field "$WORK/span.json" duplicates)"

# --- the capture an analyst holds ---
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 4000 --seed 27 --spread 20 > "$WORK/trace.json"
packets=$(json_field "$WORK/trace.json" packets)
octets=$(json_field "$WORK/trace.json" ip_octets)
one() {  # NAME INPUT...: `sluice pcap` of the inputs, its records and summary in $WORK
  local name=$1
  shift
  timeout 120 "$LAUNCHER" pcap "$@" --config "$WORK/no-timeouts.toml" --print-records \
    --summary "$WORK/$name.json" > "$WORK/$name.jsonl" 2> "$WORK/$name.log" ||
    { cat "$WORK/$name.log" >&2; fail "$name: sluice pcap failed"; }
  expect_summary "$WORK/$name.json" received.packets="$packets" metered.ip_octets="$octets" \
    taken.records=4000
}
one plain "$WORK/trace.pcap"

# As nobody, from a copy of the program: no root, no hugepages, no DPDK.
mkdir -p "$WORK/user"
cp "$LAUNCHER" "$SIGNATURES" "$WORK/trace.pcap" "$WORK/user/"
printf '%s\n[applications]\nsignatures = "%s"\n' "$NO_TIMEOUTS" "$WORK/user/applications.toml" > "$WORK/user/sluice.toml"
chmod -R a+rX "$WORK/user" && chmod a+x "$WORK" && chown nobody "$WORK/user"
setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env -- \
  "$WORK/user/sluice" pcap "$WORK/user/trace.pcap" --config "$WORK/user/sluice.toml" --print-records \
  --summary "$WORK/user/summary.json" > "$WORK/user.jsonl" 2> "$WORK/user.log" ||
  { cat "$WORK/user.log" >&2; fail "sluice pcap as nobody failed"; }
same_records "$WORK/plain.jsonl" "$WORK/user.jsonl" "the records of nobody's run differ"
expect_contains "$WORK/user.log" "application identification: 26 applications"

# Compressed, as written: the same records.
gzip -c "$WORK/trace.pcap" > "$WORK/trace.pcap.gz"
zstd -q -c "$WORK/trace.pcap" > "$WORK/trace.pcap.zst"
one gzip "$WORK/trace.pcap.gz"
expect_contains "$WORK/gzip.log" "reading $WORK/trace.pcap.gz (pcap, Ethernet (1), nanosecond timestamps, gzip)"
same_records "$WORK/plain.jsonl" "$WORK/gzip.jsonl" "the records of the gzip file differ"
one zstd "$WORK/trace.pcap.zst"
same_records "$WORK/plain.jsonl" "$WORK/zstd.jsonl" "the records of the zstd file differ"

# A rotated set (tcpdump -G): pieces whose names do not sort in time order, some compressed,
# given one by one and as their folder, are one trace again.
mkdir "$WORK/set"
editcap -F nsecpcap -c 9000 "$WORK/trace.pcap" "$WORK/set/piece.pcap" > /dev/null
n=0
for piece in $(ls "$WORK/set"/piece*.pcap | sort); do
  n=$((n + 1))
  mv "$piece" "$WORK/set/$((90 - n))-part.pcap"
done
[ "$n" -ge 4 ] || fail "editcap made $n pieces"
gzip "$WORK/set/$((90 - 2))-part.pcap"
zstd -q --rm "$WORK/set/$((90 - 3))-part.pcap"
echo "not a capture" > "$WORK/set/README"
one folder "$WORK/set"
same_records "$WORK/plain.jsonl" "$WORK/folder.jsonl" "the records of the folder differ from the whole trace's"
expect_contains "$WORK/folder.log" "$WORK/set/README: not a pcap or pcapng file"
one files $(ls "$WORK/set"/*-part.* | sort -r)
same_records "$WORK/plain.jsonl" "$WORK/files.jsonl" "the records of the pieces differ from the whole trace's"
# A file that is not a capture, named: said, the others metered, exit status 1.
status=0
timeout 120 "$LAUNCHER" pcap "$WORK/set/README" "$WORK/trace.pcap" --summary "$WORK/named.json" \
  > "$WORK/named.log" 2>&1 || status=$?
[ "$status" -eq 1 ] || { cat "$WORK/named.log" >&2; fail "a named file that is not a capture exits $status, not 1"; }
expect_contains "$WORK/named.log" "error: $WORK/set/README: not a pcap or pcapng file"
expect_summary "$WORK/named.json" received.packets="$packets"

# Standard input, as written and compressed: tcpdump -w - | sluice pcap -.
cat "$WORK/trace.pcap" | one stdin -
expect_contains "$WORK/stdin.log" "reading standard input (pcap, Ethernet (1), nanosecond timestamps)"
same_records "$WORK/plain.jsonl" "$WORK/stdin.jsonl" "the records of standard input differ"
zstd -q -c "$WORK/trace.pcap" | one stdin-zstd -
same_records "$WORK/plain.jsonl" "$WORK/stdin-zstd.jsonl" "the records of zstd on standard input differ"

# Progress: none when stderr is not a terminal; on a terminal (script's), a line redrawn while
# a slow writer feeds standard input.
if grep -qE 'Mpps|\[K' "$WORK/plain.log" "$WORK/stdin.log"; then fail "progress shown on a file"; fi
half=$(( $(stat -c %s "$WORK/trace.pcap") / 2 ))
script -qec "sh -c '(head -c $half $WORK/trace.pcap; sleep 1.5; tail -c +$((half + 1)) $WORK/trace.pcap) | $LAUNCHER pcap - --summary $WORK/tty.json'" \
  /dev/null > "$WORK/tty.txt" 2>&1 || { cat "$WORK/tty.txt" >&2; fail "sluice pcap on a terminal failed"; }
grep -qE '[0-9,]+ packets, [0-9]+ MB, [0-9.]+ Mpps' "$WORK/tty.txt" ||
  { cat -v "$WORK/tty.txt" >&2; fail "no progress line on a terminal"; }
expect_summary "$WORK/tty.json" received.packets="$packets"

# Ctrl-C: the reading stops, the records of what was read are exported, exit status 130; a
# second one stops at once, even while the reader waits on an idle pipe.
( cat "$WORK/trace.pcap"; sleep 3 ) | "$LAUNCHER" pcap - --summary "$WORK/stopped.json" > "$WORK/stopped.log" 2>&1 &
pid=$!
sleep 1
kill -INT "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 130 ] || { cat "$WORK/stopped.log" >&2; fail "a stopped sluice pcap exits $status, not 130"; }
expect_contains "$WORK/stopped.log" "SIGINT received: reading no more"
# Whatever had been read (all of it, or less on a loaded machine) is in the records exported.
read_packets=$(SUMMARY="$WORK/stopped.json" summary received packets)
[ "$read_packets" -gt 0 ] && [ "$read_packets" -le "$packets" ] || fail "$read_packets packets read before the stop"
expect_summary "$WORK/stopped.json" taken.packets="$read_packets" ignored.packets=0
( cat "$WORK/trace.pcap"; sleep 8 ) | "$LAUNCHER" pcap - --summary "$WORK/killed.json" > "$WORK/killed.log" 2>&1 &
pid=$!
sleep 1
kill -INT "$pid"
sleep 0.5
kill -INT "$pid"
# Gone at once, while its standard input stays open (`wait` would wait for the whole pipeline).
for _ in $(seq 30); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2> /dev/null; then cat "$WORK/killed.log" >&2; fail "a second SIGINT did not stop sluice pcap at once"; fi
wait || true
expect_contains "$WORK/killed.log" "stopping at once"

# A capture cut anywhere, as written or compressed: the whole packets before the cut are
# metered and exported, the log says which file ends where, and nothing crashes.
size=$(stat -c %s "$WORK/trace.pcap")
gz_size=$(stat -c %s "$WORK/trace.pcap.gz")
for i in $(seq 1 12); do
  for kind in pcap gz; do
    if [ "$kind" = pcap ]; then cut=$(( (size * i) / 13 + i * 7 )); else cut=$(( (gz_size * i) / 13 + i * 3 )); fi
    file="$WORK/cut-$i.$kind"
    head -c "$cut" "$WORK/trace.pcap$([ "$kind" = gz ] && echo .gz)" > "$file"
    status=0
    timeout 120 "$LAUNCHER" pcap "$file" --summary "$WORK/cut.json" > "$WORK/cut.log" 2>&1 || status=$?
    [ "$status" -eq 0 ] || { cat "$WORK/cut.log" >&2; fail "$file (cut at $cut) exits $status"; }
    expect_contains "$WORK/cut.log" "error: the capture stops early: $file: "
    got=$(SUMMARY="$WORK/cut.json" summary received packets)
    [ "$got" -gt 0 ] && [ "$got" -lt "$packets" ] || fail "$file (cut at $cut): $got packets metered"
  done
done
echo "pcap_one_process: ok"
