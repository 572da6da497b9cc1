#!/usr/bin/env bash
# The file collector writes RFC 5655 IPFIX files, rotated by size: each file starts with its
# templates and stands alone, libfixbuf's ipfixDump reads every one, and together they hold
# every record of the trace. Each names the port as [[port]] name and if_index say, and the
# records carry that ingressInterface.
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/trace.pcap" --flows 3000 --seed 8 > "$WORK/totals.json"
mkdir "$WORK/records"
write_config "$WORK/sluice.toml" "net_pcap0,rx_pcap=$WORK/trace.pcap" "$NO_TIMEOUTS
[[collector]]
name = \"archive\"
transport = \"file\"
path = \"$WORK/records/sluice.ipfix\"
rotate_size = \"64KiB\""
sed -i '/^device = /a name = "span-a"\nif_index = 436207616' "$WORK/sluice.toml"

timeout 120 "$LAUNCHER" run --config "$WORK/sluice.toml" > "$WORK/run.log" 2>&1 || { cat "$WORK/run.log" >&2; fail "sluice run failed"; }
expect_contains "$WORK/run.log" "in 3000 records exported + 0 ignored + 0 in 0 records not sent"
expect_contains "$WORK/run.log" "$WORK/records/sluice.ipfix is complete: kept as $WORK/records/sluice.ipfix.20"

files=0
flows=0
for f in "$WORK"/records/sluice.ipfix*; do
  ipfixDump -i "$f" -s > "$WORK/stats.txt" 2> "$WORK/ipfixdump.err"
  [ ! -s "$WORK/ipfixdump.err" ] || { cat "$WORK/ipfixdump.err" >&2; fail "ipfixDump complains about $f"; }
  expect_contains "$WORK/stats.txt" "45 Template Records"  # as export_tcp.sh counts them
  ipfixDump -i "$f" > "$WORK/dump.txt" 2> /dev/null
  expect_contains "$WORK/dump.txt" "interfaceName : (len: 6) span-a"
  expect_contains "$WORK/dump.txt" "interfaceDescription : (len: $((18 + ${#WORK} + 11))) net_pcap0,rx_pcap=$WORK/trace.pcap"
  [ "$(grep -c 'ingressInterface : 436207616' "$WORK/dump.txt")" -ge 1 ] ||
    fail "$f: the port is not named with its if_index"
  if grep -E 'ingressInterface : ' "$WORK/dump.txt" | grep -qv 436207616; then
    fail "$f: a record with another ingressInterface"
  fi
  flows=$((flows + $(flow_records "$WORK/stats.txt")))
  files=$((files + 1))
done
[ "$files" -ge 3 ] || fail "$files files: 3000 records should need several of 64 KiB"
[ "$flows" -eq 3000 ] || fail "the files hold $flows flow records, not 3000"
echo "export_file: ok ($files files)"
