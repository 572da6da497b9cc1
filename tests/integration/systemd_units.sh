#!/usr/bin/env bash
# The systemd units, as `meson install` puts them, pass `systemd-analyze verify` without a
# word: their programs exist, their keys are known, their dependencies resolve.
source "$(dirname "$0")/lib.sh"

meson install -C "$SLUICE_BUILD_DIR" --destdir "$WORK/stage" --no-rebuild > "$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; fail "meson install failed"; }
units=$(find "$WORK/stage" -path '*/systemd/system/*.service' | sort)
[ "$(echo "$units" | wc -l)" -eq 3 ] || fail "expected three units, found: $units"
mkdir "$WORK/units"
prefix=$(meson introspect "$SLUICE_BUILD_DIR" --buildoptions | python3 -c "import json,sys; print([o['value'] for o in json.load(sys.stdin) if o['name'] == 'prefix'][0])")
for unit in $units; do
  # Their programs as installed under the staging folder.
  sed "s|$prefix/|$WORK/stage$prefix/|g" "$unit" > "$WORK/units/$(basename "$unit")"
done
(cd "$WORK/units" && systemd-analyze verify ./*.service) > "$WORK/verify.log" 2>&1 ||
  { cat "$WORK/verify.log" >&2; fail "systemd-analyze verify failed"; }
[ ! -s "$WORK/verify.log" ] || { cat "$WORK/verify.log" >&2; fail "systemd-analyze verify has remarks"; }
expect_contains "$WORK/units/sluice-control.service" "ExecReload=/bin/kill -HUP \$MAINPID"
expect_contains "$WORK/units/sluice-dataplane.service" "Type=notify"
echo "systemd_units: ok"
