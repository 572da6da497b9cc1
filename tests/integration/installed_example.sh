#!/usr/bin/env bash
# What `meson install` installs starts as it is: the example configuration names the demo
# capture installed beside it (under the install's own prefix) and the signatures, and the
# installed `sluice run` meters the capture with it to the example's collector, nfcapd on
# 127.0.0.1:4739, every packet accounted for.
source "$(dirname "$0")/lib.sh"
extra_cleanup() { restore_receive_buffers; }
roomy_receive_buffers

meson install -C "$SLUICE_BUILD_DIR" --destdir "$WORK/stage" --no-rebuild > "$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; fail "meson install failed"; }
option() {
  meson introspect "$SLUICE_BUILD_DIR" --buildoptions |
    python3 -c "import json,sys; print([o['value'] for o in json.load(sys.stdin) if o['name'] == sys.argv[1]][0])" "$1"
}
prefix=$(option prefix)
sysconfdir=$(option sysconfdir)
[[ "$sysconfdir" == /* ]] || sysconfdir="$prefix/$sysconfdir"
example="$WORK/stage$sysconfdir/sluice/sluice.toml"
[ -f "$example" ] || fail "no example configuration at $example"
capture=$(sed -n 's/^capture = "\(.*\)"$/\1/p' "$example")
[ "$capture" = "$prefix/share/sluice/demo.pcap" ] || fail "the example's capture is \"$capture\", not under $prefix"
[ -s "$WORK/stage$capture" ] || fail "the example's capture $capture is not installed"
[ -s "$WORK/stage$sysconfdir/sluice/applications.toml" ] || fail "the signatures are not installed"

# The installed example, run from the staging folder: its paths there, a prefix, socket and
# metrics port of the test's own; everything else as installed.
run="$WORK/stage$sysconfdir/sluice/run.toml"
sed -e "s|^capture = .*|capture = \"$WORK/stage$capture\"|" -e "s|^file_prefix = .*|file_prefix = \"$PREFIX\"|" \
  -e "s|^socket = .*|socket = \"$WORK/control.sock\"|" -e "s|^listen = .*|listen = \"127.0.0.1:19752\"|" \
  "$example" > "$run"
"$WORK/stage$prefix/bin/sluice-control" --check-config "$run" > /dev/null 2> "$WORK/check.log" ||
  { cat "$WORK/check.log" >&2; fail "the installed example does not load"; }
"$TRACEGEN" --out "$WORK/demo.pcap" --flows 5000 --seed 7 > "$WORK/totals.json"
cmp -s "$WORK/demo.pcap" "$WORK/stage$capture" || fail "the installed demo capture is not the demo's trace"
packets=$(json_field "$WORK/totals.json" packets)
start_nfcapd 4739 "$WORK/nfcapd"
timeout 120 "$WORK/stage$prefix/bin/sluice" run --config "$run" --summary "$WORK/summary.json" > "$WORK/run.log" 2>&1 ||
  { cat "$WORK/run.log" >&2; fail "the installed example did not run"; }
stop_nfcapd
expect_contains "$WORK/run.log" "application identification: 26 applications"
expect_summary "$WORK/summary.json" received.packets="$packets" collectors.0.name=nfcapd \
  collectors.0.exported.records=5000 collectors.0.balanced=true
nfdump -R "$WORK/nfcapd" -I > "$WORK/nfdump-totals.txt"
expect_contains "$WORK/nfdump-totals.txt" "Packets: $packets"
echo "installed_example: ok"
