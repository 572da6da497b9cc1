#!/usr/bin/env bash
# A regression guard on the metering core's cost: instructions per packet under callgrind,
# which counts the same on every run of a build whatever the machine's load, against the values
# in tests/data/instructions.txt. Fails beyond +10% and prints how to update the value when a
# change is worth it; says so when a case has become cheaper by more than 10%.
source "$(dirname "$0")/lib.sh"

command -v valgrind > /dev/null || fail "valgrind is not installed (tools/setup installs it)"
values="$SLUICE_SOURCE_DIR/tests/data/instructions.txt"
bad=0
while read -r name packets committed; do
  case "$name" in ''|'#'*) continue ;; esac
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/$name.out" \
    "$SLUICE_BUILD_DIR/tools/sluice-bench" --case "$name" --packets "$packets" --repeat 1 \
    --instrument > "$WORK/$name.json" 2> "$WORK/$name.log" ||
    { cat "$WORK/$name.log" >&2; fail "sluice-bench --case $name under callgrind failed"; }
  measured=$(json_field "$WORK/$name.json" packets)
  [ "$measured" = "$packets" ] || fail "$name: $measured packets measured, not $packets"
  total=$(awk '$1 == "totals:" { print $2 }' "$WORK/$name.out")
  [ -n "$total" ] && [ "$total" -gt 0 ] || fail "$name: callgrind counted nothing"
  verdict=$(awk -v t="$total" -v p="$packets" -v c="$committed" 'BEGIN {
    now = t / p; change = (now - c) / c * 100
    state = "ok"; if (change > 10) state = "over"; if (change < -10) state = "under"
    printf "%.1f %+.1f %s", now, change, state }')
  read -r now change state <<< "$verdict"
  echo "$name: $now instructions a packet ($change% against $committed)"
  if [ "$state" = over ]; then
    echo "  more than 10% above tests/data/instructions.txt. If the change is worth it, set" >&2
    echo "  '$name $packets $now' there and say in the commit what the instructions buy." >&2
    bad=1
  elif [ "$state" = under ]; then
    echo "  more than 10% below: lower the value in tests/data/instructions.txt to $now to keep the gain"
  fi
done < "$values"
[ "$bad" -eq 0 ] || fail "the metering core takes more instructions a packet than it did"
echo "instructions: ok"
