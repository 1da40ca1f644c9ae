#!/usr/bin/env bash
# The main job on the embedded default model (test/fixtures/tiny-v3, a tiny
# DeepSeek-V3-like checkpoint made by transformers): compile it for cpu and
# sm_90a into one artifact, then generate greedily from three prompts, on
# the GPU where one is there (a CUDA driver and a GPU of compute capability
# 9.0 for the sm_90a code), on the CPU otherwise. Prints tokens and timings.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR="${DSC_BUILD_DIR:-build}"
MODEL="${1:-test/fixtures/tiny-v3}"
OUT="$BUILD_DIR/demo"
mkdir -p "$OUT"

"$BUILD_DIR/tools/dsc-compile" "$MODEL" -o "$OUT/model.dscx" --target cpu,sm_90a,sm_80
ls -l "$OUT/model.dscx"

device=cpu
if "$BUILD_DIR/tools/dsc-run" "$OUT/model.dscx" --prompt-ids 1 --max-new-tokens 1 --device cuda >/dev/null 2>&1; then
  device=cuda
fi
echo "[dsc-demo] running on $device"
"$BUILD_DIR/tools/dsc-run" "$OUT/model.dscx" --device "$device" \
  --prompt-ids "5,17,99,3,42;200,1,2,3,4,5,6,7,8;77,11" --max-new-tokens 16
