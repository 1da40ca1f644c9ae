#!/usr/bin/env bash
# Installs the build into a scratch prefix, builds the out-of-tree consumer
# against it with find_package(DSC), and runs its opt tool on a dsc program.
set -euo pipefail
build="$1"; src="$(cd "$(dirname "$0")" && pwd)"; work="$2"
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
ninja -C "$work/build" >/dev/null
"$work/build/consumer-opt" "$src/../codegen/Inputs/all-ops.mlir" \
  --dsc-lower-to-linalg > "$work/lowered.mlir"
grep -q "linalg.generic" "$work/lowered.mlir"
"$work/build/consumer-opt" --help > "$work/help.txt"
grep -q "dsc-dedup-functions" "$work/help.txt"
grep -q "dsc-lower-to-cpu" "$work/help.txt"
echo "consumer OK"
