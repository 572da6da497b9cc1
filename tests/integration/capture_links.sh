#!/usr/bin/env bash
# The link types analysts hold, in pcap and pcapng, through the real `sluice pcap`: the same
# conversations behind Ethernet, Linux cooked (SLL, SLL2), raw IP, BSD null and loopback, PPP,
# PPP in HDLC framing and Cisco HDLC headers give exactly the records the trace's conversations
# make, nothing ignored. So do pcapng files as Wireshark's tools write them: two interfaces of
# other link types and timestamp resolutions (mergecap), and two sections (concatenated).
source "$(dirname "$0")/lib.sh"

"$TRACEGEN" --out "$WORK/ethernet.pcap" --flows 500 --seed 41 --expect "$WORK/expected.jsonl" > "$WORK/totals.json"
packets=$(json_field "$WORK/totals.json" packets)
octets=$(json_field "$WORK/totals.json" ip_octets)

# No timeout ends a flow within the capture (every record ends with it, as --expect has it);
# no identification (the trace's payloads name no application, and its compile takes a while).
printf '%s\n[applications]\nsignatures = ""\n' "$NO_TIMEOUTS" > "$WORK/flow.toml"

# meters CAPTURE WHAT: `sluice pcap` gives the expected records, every packet metered.
meters() {
  timeout 120 "$LAUNCHER" pcap "$1" --config "$WORK/flow.toml" --print-records --summary "$WORK/summary.json" \
    > "$WORK/records.jsonl" 2> "$WORK/pcap.log" || { cat "$WORK/pcap.log" >&2; fail "$2: sluice pcap failed"; }
  same_records "$WORK/expected.jsonl" "$WORK/records.jsonl" "$2: the records differ from the trace's conversations"
  expect_summary "$WORK/summary.json" received.packets="$packets" metered.packets="$packets" \
    metered.ip_octets="$octets" ignored.packets=0 taken.records=500
}

for link in ethernet sll sll2 raw null loop ppp ppp-hdlc chdlc; do
  for format in pcap pcapng; do
    "$TRACEGEN" --out "$WORK/$link.$format" --flows 500 --seed 41 --link "$link" --format "$format" > /dev/null
    meters "$WORK/$link.$format" "$link ($format)"
  done
done
expect_contains "$WORK/pcap.log" "(pcapng, 1 interface: Cisco HDLC (104))"

# Two interfaces: the first half of the packets from an Ethernet capture in microseconds, the
# rest from a Linux cooked one in nanoseconds, merged in time order by mergecap.
half=$((packets / 2))
editcap -F pcap -r "$WORK/ethernet.pcap" "$WORK/first.pcap" "1-$half" 2> /dev/null
editcap -F nsecpcap -r "$WORK/sll.pcap" "$WORK/second.pcap" "$((half + 1))-$packets" 2> /dev/null
mergecap -F pcapng -w "$WORK/merged.pcapng" "$WORK/first.pcap" "$WORK/second.pcap"
meters "$WORK/merged.pcapng" "two interfaces"
expect_contains "$WORK/pcap.log" "(pcapng, 2 interfaces: Ethernet (1), Linux cooked capture (SLL) (113))"

# Two sections, each with its own interface: SLL2 and raw IP.
editcap -F pcapng -r "$WORK/sll2.pcap" "$WORK/a.pcapng" "1-$half" 2> /dev/null
editcap -F pcapng -r "$WORK/raw.pcap" "$WORK/b.pcapng" "$((half + 1))-$packets" 2> /dev/null
cat "$WORK/a.pcapng" "$WORK/b.pcapng" > "$WORK/sections.pcapng"
meters "$WORK/sections.pcapng" "two sections"
echo "capture_links: ok"
