#!/usr/bin/env bash
# The GPU check (issue #5): the tiny fixtures on CUDA against the CPU, the
# card's measured ceilings, the decode-step ratio, the kernel library
# (each kernel checked against a CPU reference, then timed against its
# floor), and compute-sanitizer on the kernels not yet run on a GPU. It
# prints a table last; docs/performance.md records it with the card and the
# date.
#
#   tools/gpu-check.sh [all]        # prepare, then run (a machine with both
#                                   # LLVM/MLIR 22 and a GPU)
#   tools/gpu-check.sh prepare DIR  # build dsc, compile the fixtures for
#                                   # cpu, sm_90a and sm_80 with their weights
#                                   # embedded, and copy the runtime and
#                                   # dsc-run into the bundle DIR
#   tools/gpu-check.sh run DIR      # on the GPU machine: needs python3 with
#                                   # numpy (torch, when present, measures
#                                   # the card's copy and bf16 GEMM rates)
#
# The two halves exist because the GPU machines we are lent have no LLVM:
# the bundle (about 50 MB; the device tool carries at most 64 MiB) travels,
# the compiler stays. Results go to
# $GPU_CHECK_OUT (default DIR) as gpu-check.json and gpu-check.txt.
# GPU_CHECK_STEPS=a,b runs only those steps of tools/gpu-check/run.py (a
# rerun of what failed or was cut off).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-all}"
bundle="${2:-.gpu-bundle}"
log() { echo "[gpu-check] $*" >&2; }

prepare() {
  local build="${DSC_BUILD_DIR:-build}"
  scripts/setup.sh >&2
  rm -rf "$bundle" && mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/models"
  cp "$build/tools/dsc-run" "$build/tools/dsc-kernel-bench" "$bundle/bin/"
  for chip in sm_90a sm_80; do
    for kernel in codegen/kernels/*.mlir; do
      "$build/tools/dsc-kernels" "$kernel" --chip "$chip" -o "$bundle/kernels"
    done
  done
  # The runtime and the shared libraries it needs beyond the C/C++ ones
  # (Abseil on Debian), as plain files: links do not travel.
  cp -L "$build/runtime/libdsc_runtime.so.0" "$bundle/lib/"
  ldd "$build/tools/dsc-run" | awk '/libabsl/ {print $3}' | while read -r lib; do
    cp -L "$lib" "$bundle/lib/"
  done
  # --bf16-linear-inputs: the CPU code rounds the inputs and weights of
  # linear layers and routed experts to bf16 as the GPU's tensor-core GEMMs
  # do, so that the two compute the same numbers (up to summation order).
  # An f32 KV cache (not the GPU targets' default bf16): the generated
  # decode attention, against tiny-v3-bf16kv's library one below.
  for model in tiny-v3 tiny-v2-lite tiny-v3-fp8; do
    log "compile $model for cpu, sm_90a, sm_80"
    "$build/tools/dsc-compile" "test/fixtures/$model" --target cpu,sm_90a,sm_80 \
      --bf16-linear-inputs --kv-cache-type f32 --embed-weights --quiet \
      -o "$bundle/models/$model.dscx"
  done
  # A bf16 KV cache: the GPU's decode attention is then the kernel
  # library's MLA decode (its fixtures' variant).
  log "compile tiny-v3 with a bf16 KV cache for cpu, sm_90a"
  "$build/tools/dsc-compile" test/fixtures/tiny-v3 --target cpu,sm_90a \
    --bf16-linear-inputs --kv-cache-type bf16 --embed-weights --quiet \
    -o "$bundle/models/tiny-v3-bf16kv.dscx"
  # sm_90a's wgmma GEMM (TMA descriptors from the runtime) for every
  # linear layer of 128 rows or more: run.py's prompts for it make a
  # prefill of 132 rows.
  log "compile tiny-v3 with the wgmma GEMM from 128 rows for cpu, sm_90a"
  "$build/tools/dsc-compile" test/fixtures/tiny-v3 --target cpu,sm_90a \
    --bf16-linear-inputs --kv-cache-type f32 --gemm-large-tile-blocks 1 \
    --embed-weights --quiet -o "$bundle/models/tiny-v3-wgmma.dscx"
  # DeepSeek-V3's attention widths in a small dense model (numpy-made,
  # make_variant.py): with a bf16 KV cache sm_90a's decode attention is
  # mla_decode_wgmma_bf16 on the runtime's TMA descriptors.
  log "compile v3-attention-widths with a bf16 KV cache for cpu, sm_90a"
  # The checkpoint stays here: the artifact embeds its weights.
  local variant
  variant="$(mktemp -d)"
  python3 test/scripts/make_variant.py --variant v3-attention-widths \
    --out "$variant"
  "$build/tools/dsc-compile" "$variant" \
    --target cpu,sm_90a --bf16-linear-inputs --kv-cache-type bf16 \
    --embed-weights --quiet -o "$bundle/models/v3-attention-widths.dscx"
  rm -rf "$variant"
  # DeepSeek-V3's shapes in one MoE layer, bf16 (the config without its
  # FP8 quantization), compiled from the config alone: run.py times its
  # decode step with random weights (dsc-run --random-weights).
  log "compile a one-layer bf16 DeepSeek-V3 (config only) for sm_90a"
  mkdir -p "$bundle/configs/v3-moe-layer"
  python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
c.pop("quantization_config", None)
c.update(num_hidden_layers=1, first_k_dense_replace=0)
json.dump(c, open(sys.argv[2], "w"), indent=1)
' test/fixtures/configs/deepseek-v3/config.json \
    "$bundle/configs/v3-moe-layer/config.json"
  "$build/tools/dsc-compile" "$bundle/configs/v3-moe-layer" --shapes-only \
    --target sm_90a --kv-cache-type bf16 --quiet \
    -o "$bundle/models/v3-moe-layer.dscx"
  # The CPU baseline of the decode-step timing: the CPU's own code (f32,
  # vectorized GEMMs), not the bf16 roundings it computes above to match a
  # GPU.
  "$build/tools/dsc-compile" test/fixtures/tiny-v3 --target cpu \
    --embed-weights --quiet -o "$bundle/models/tiny-v3-cpu.dscx"
  # sm_80 code alone: the PTX the driver JIT-compiles for a newer GPU.
  "$build/tools/dsc-compile" test/fixtures/tiny-v3 --target cpu,sm_80 \
    --bf16-linear-inputs --kv-cache-type f32 --embed-weights --quiet \
    -o "$bundle/models/tiny-v3-sm80.dscx"
  # The device tool carries 64 MiB at most, everything together.
  local mib
  mib="$(du -sm "$bundle" | cut -f1)"
  if [ "$mib" -gt 60 ]; then
    log "the bundle is $mib MiB: more than the 60 MiB that leaves room to carry it"
    exit 1
  fi
  log "bundle ready: $bundle ($(du -sh "$bundle" | cut -f1))"
}

run() {
  export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  PYTHONUNBUFFERED=1 python3 tools/gpu-check/run.py "$bundle" \
    "${GPU_CHECK_OUT:-$bundle}"
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  all) prepare && run ;;
  -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "usage: tools/gpu-check.sh [all|prepare DIR|run DIR]" >&2; exit 2 ;;
esac
