#!/usr/bin/env bash
# run_fuzz.sh TARGET SEEDS WORK SECONDS: runs a libFuzzer target for SECONDS from the seed
# corpus, keeping what it finds in WORK; a crash fails the test and leaves its input in WORK.
set -euo pipefail
target=$1 seeds=$2 work=$3 seconds=$4
mkdir -p "$work/corpus" "$work/crashes"
# A crash exits 1: libFuzzer's own code for it, 77, is what meson counts as a skipped test.
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 -error_exitcode=1 \
  -artifact_prefix="$work/crashes/" "$work/corpus" "$seeds" 2>&1 | tail -25
