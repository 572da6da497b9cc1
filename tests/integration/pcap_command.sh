#!/usr/bin/env bash
# `sluice pcap` turns a capture into flow records at a collector in one command: over UDP to
# nfcapd and into an IPFIX file, with the accounting line; pcap and pcapng files (snap-length
# and cut captures too); `--dataplane` through the sensor's two processes, leaving no shared
# memory behind; a missing capture or a bad collector address is a clear error.
source "$(dirname "$0")/lib.sh"
extra_cleanup() { restore_receive_buffers; }
roomy_receive_buffers

port=47394
"$TRACEGEN" --out "$WORK/trace.pcap" --flows 2000 --seed 12 > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
octets=$(json_field "$WORK/totals.json" ip_octets)

start_nfcapd "$port" "$WORK/nfcapd"
timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --to "127.0.0.1:$port" --summary "$WORK/udp.json" > "$WORK/udp.log" 2>&1 ||
  { cat "$WORK/udp.log" >&2; fail "sluice pcap to nfcapd failed"; }
stop_nfcapd
# The accounting as the analyst sees it, and as data.
expect_contains "$WORK/udp.log" "$packets packets received = $packets in 2000 records exported + 0 ignored + 0 in 0 records not sent; $octets of $octets metered octets exported"
expect_summary "$WORK/udp.json" received.packets="$packets" metered.ip_octets="$octets" \
  collectors.0.exported.records=2000 collectors.0.exported.ip_octets="$octets" \
  collectors.0.not_sent.records=0 collectors.0.balanced=true
nfdump -R "$WORK/nfcapd" -I > "$WORK/nfdump-totals.txt"
expect_contains "$WORK/nfdump-totals.txt" "Flows: 2000"
expect_contains "$WORK/nfdump-totals.txt" "Packets: $packets"
expect_contains "$WORK/nfdump-totals.txt" "Bytes: $octets"
if grep -q '^EAL: ' "$WORK/udp.log"; then fail "EAL's start-up messages reach the analyst"; fi
expect_contains "$WORK/udp.log" "reading $WORK/trace.pcap (pcap, Ethernet (1), nanosecond timestamps)"

# A pcapng file, as Wireshark's editcap writes it, is read by the worker too, to the same records.
editcap -F pcapng "$WORK/trace.pcap" "$WORK/trace.pcapng"
timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcapng" --transport file --to "$WORK/ng.ipfix" --summary "$WORK/ng.json" > "$WORK/ng.log" 2>&1 ||
  { cat "$WORK/ng.log" >&2; fail "sluice pcap of a pcapng file failed"; }
expect_contains "$WORK/ng.log" "reading $WORK/trace.pcapng (pcapng, 1 interface: Ethernet (1))"
expect_summary "$WORK/ng.json" received.packets="$packets" metered.ip_octets="$octets" \
  collectors.0.exported.records=2000 collectors.0.balanced=true

# A capture taken with a snap length (tcpdump -s 96) holds each packet's first 96 bytes and its
# length on the wire: every packet is metered with its IP total length, as on the wire.
editcap -F nsecpcap -s 96 "$WORK/trace.pcap" "$WORK/snap.pcap"
timeout 120 "$LAUNCHER" pcap "$WORK/snap.pcap" --transport file --to "$WORK/snap.ipfix" --summary "$WORK/snap.json" > "$WORK/snap.log" 2>&1 ||
  { cat "$WORK/snap.log" >&2; fail "sluice pcap of a snap-length capture failed"; }
expect_summary "$WORK/snap.json" received.packets="$packets" metered.ip_octets="$octets" \
  ignored.packets=0 collectors.0.exported.records=2000 collectors.0.balanced=true

# A capture cut inside its last packet (a capture stopped abruptly): what comes before it is
# metered, and the log says where the file ends.
size=$(stat -c %s "$WORK/trace.pcap")
head -c $((size - 10)) "$WORK/trace.pcap" > "$WORK/cut.pcap"
timeout 120 "$LAUNCHER" pcap "$WORK/cut.pcap" --transport file --to "$WORK/cut.ipfix" --summary "$WORK/cut.json" > "$WORK/cut.log" 2>&1 ||
  { cat "$WORK/cut.log" >&2; fail "sluice pcap of a cut capture failed"; }
expect_contains "$WORK/cut.log" "the capture stops early: $WORK/cut.pcap: ends inside the packet at offset"
expect_summary "$WORK/cut.json" received.packets=$((packets - 1)) collectors.0.balanced=true

timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --transport file --to "$WORK/records.ipfix" > "$WORK/file.log" 2>&1 ||
  { cat "$WORK/file.log" >&2; fail "sluice pcap to a file failed"; }
ipfixDump -i "$WORK/records.ipfix" -s > "$WORK/stats.txt"
flows=$(flow_records "$WORK/stats.txt")
[ "$flows" -eq 2000 ] || { cat "$WORK/stats.txt" >&2; fail "the file holds $flows flow records, not 2000"; }
# By default the installed (here: the build tree's) signatures name the applications.
expect_contains "$WORK/file.log" "application identification: 26 applications"
[ "$(awk -F'|' '$1 ~ /^ *262 / { n += $2 } END { print n + 0 }' "$WORK/stats.txt")" -eq 26 ] ||
  { cat "$WORK/stats.txt" >&2; fail "the file does not name the 26 applications"; }

# --config brings a configuration's collector settings (here nanosecond timestamps) and flow
# settings; its ports, prefix and collector address give way to the capture's.
write_config "$WORK/sluice.toml" "net_null0" "$NO_TIMEOUTS
[[collector]]
transport = \"file\"
path = \"/nonexistent/records.ipfix\"
timestamps = \"nanoseconds\""
timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --config "$WORK/sluice.toml" --transport file --to "$WORK/ns.ipfix" \
  --summary "$WORK/config.json" > "$WORK/config.log" 2>&1 ||
  { cat "$WORK/config.log" >&2; fail "sluice pcap with --config failed"; }
ipfixDump -i "$WORK/ns.ipfix" -t > "$WORK/templates.txt"
expect_contains "$WORK/templates.txt" "flowStartNanoseconds"
expect_summary "$WORK/config.json" collectors.0.exported.records=2000 ignored.packets=0 \
  collectors.0.not_sent.records=0

# A partial configuration: what it gives replaces the defaults, and it needs no [[port]]. With
# only [applications], identification takes its settings; `signatures = ""` turns it off.
printf '[applications]\nbytes = 64\n' > "$WORK/partial.toml"
timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --config "$WORK/partial.toml" --print-records \
  --summary "$WORK/partial.json" > "$WORK/partial.jsonl" 2> "$WORK/partial.log" ||
  { cat "$WORK/partial.log" >&2; fail "sluice pcap with a partial configuration failed"; }
expect_contains "$WORK/partial.log" "application identification: 26 applications"
expect_contains "$WORK/partial.log" "64 bytes of the first 4 payload packets"
[ "$(wc -l < "$WORK/partial.jsonl")" -eq 2000 ] || fail "--print-records did not print the 2000 records"
expect_summary "$WORK/partial.json" taken.records=2000 received.packets="$packets"
# A relative signature file is taken from the configuration's folder, wherever it is run from.
mkdir "$WORK/mine"
cp "$SLUICE_SOURCE_DIR/config/applications.toml" "$WORK/mine/signatures.toml"
printf '[applications]\nsignatures = "signatures.toml"\n' > "$WORK/mine/relative.toml"
(cd "$WORK/mine" && timeout 120 "$LAUNCHER" pcap ../trace.pcap --config relative.toml \
  --summary "$WORK/relative.json" > "$WORK/relative.log" 2>&1) ||
  { cat "$WORK/relative.log" >&2; fail "sluice pcap with a relative --config and signatures failed"; }
expect_contains "$WORK/relative.log" "44 patterns from $WORK/mine/signatures.toml"
printf '[applications]\nsignatures = ""\n' > "$WORK/off.toml"
timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --config "$WORK/off.toml" --summary "$WORK/off.json" > "$WORK/off.log" 2>&1 ||
  { cat "$WORK/off.log" >&2; fail "sluice pcap with identification off failed"; }
if grep -q "application identification" "$WORK/off.log"; then fail "signatures = \"\" did not turn identification off"; fi

# --dataplane: through sluice-dataplane and sluice-control, as a sensor replays a capture; its
# worker reads the file itself. Sluice's messages are DPDK log types there: at warning level
# the informational lines go.
timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --dataplane --transport file --to "$WORK/dp.ipfix" \
  --summary "$WORK/dp.json" > "$WORK/dp.log" 2>&1 ||
  { cat "$WORK/dp.log" >&2; fail "sluice pcap --dataplane failed"; }
expect_contains "$WORK/dp.log" "(trace.pcap): port 0, a capture its worker reads itself, replayed in its own time"
if grep -q '^EAL: ' "$WORK/dp.log"; then fail "EAL's start-up messages reach the analyst"; fi
expect_summary "$WORK/dp.json" received.packets="$packets" metered.ip_octets="$octets" \
  collectors.0.exported.records=2000 collectors.0.balanced=true
config_set "$WORK/sluice.toml" dataplane eal_args '["--log-level=sluice.*:warning"]'
timeout 120 "$LAUNCHER" pcap "$WORK/trace.pcap" --dataplane --config "$WORK/sluice.toml" --transport file --to "$WORK/quiet.ipfix" > "$WORK/quiet.log" 2>&1 ||
  { cat "$WORK/quiet.log" >&2; fail "sluice pcap at warning level failed"; }
if grep -qE '^sluice-(dataplane|control): (attached|accounting|worker)' "$WORK/quiet.log"; then
  cat "$WORK/quiet.log" >&2
  fail "informational lines at --log-level=sluice.*:warning"
fi

# Every run used a prefix of its own and removed what DPDK leaves of it.
if ls /dev/hugepages/ | grep -q '^sluice-pcap-'; then fail "hugepage files of sluice pcap remain"; fi

status=0
"$LAUNCHER" pcap "$WORK/missing.pcap" --to "127.0.0.1:$port" > "$WORK/missing.log" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "a missing capture exits $status, not 2"
expect_contains "$WORK/missing.log" "$WORK/missing.pcap: No such file or directory"
status=0
"$LAUNCHER" pcap "$WORK/trace.pcap" --to "127.0.0.1" > "$WORK/address.log" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "an address without a port exits $status, not 2"
expect_contains "$WORK/address.log" "--to 127.0.0.1:"
echo "pcap_command: ok"
