#!/usr/bin/env bash
# Every C++ source follows .clang-format.
set -euo pipefail
cd "${SLUICE_SOURCE_DIR:?}"
mapfile -t files < <(find include control dataplane tools tests -name '*.cpp' -o -name '*.hpp' | sort)
clang-format --dry-run --Werror "${files[@]}"
echo "format_check: ${#files[@]} files follow .clang-format"
