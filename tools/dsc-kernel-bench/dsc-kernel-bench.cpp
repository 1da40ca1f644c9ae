//===- dsc-kernel-bench.cpp - Benchmarks of dsc's GPU kernels -------------===//
//
// Loads a kernel of the kernel library (PTX from dsc-kernels) through the
// CUDA driver, checks it against a CPU reference on a small problem, then
// times it on a DeepSeek-shaped one with CUDA events. One JSON line per
// benchmark on stdout; progress on stderr.
//
//   dsc-kernel-bench grouped-gemm --ptx DIR/dsc_grouped_gemm.sm_90a.ptx
//       [--tokens 4096 --top-k 8 --experts 256 --n 4096 --k 7168 --reps 10]
//
// The grouped GEMM is MoE's expert GEMM: tokens * top_k rows routed to
// experts (uniformly at random, seeded), each expert's rows padded to the
// kernel's 128-row tile; FLOPs count the real rows only. --swiglu, --wgmma
// (sm_90a, TMA; B N-major), --wgmma --tn [--swiglu] (B K-major), --fp8
// --block-rows 64 (e4m3 with block scales) and --fp8 --wgmma pick the
// library's other grouped GEMMs; --tiled --block-rows 64 the one the
// model's routed experts run (rows unpadded, one block per listed 64-row
// tile instead of every expert times its most rows), with --swiglu their
// gate and up with SwiGLU fused (B the gate stack then the up stack, each
// N / 2 rows an expert, as the checkpoint stores them); --tiled --fp8w the
// same over e4m3 stacks with 128 x 128 block scales (an FP8 checkpoint's
// experts, DeepSeek-V3's), read as stored; --tiled --wgmma --tn sm_90a's
// forms (128-row tiles, TMA + wgmma), what its routed experts run (with
// --fp8w over e4m3 stacks, each K step's bytes converted to bf16 in shared
// memory).
//
//   dsc-kernel-bench moe-layer --ptx DIR/dsc_grouped_gemm.sm_90a.ptx
//       --dispatch-ptx DIR/dsc_moe_dispatch.sm_90a.ptx [--tiled]
//       [--tokens 4096 --top-k 8 --experts 256 --k 7168 --n 2048 --reps 10]
//
// One MoE layer's routed experts, kernel after kernel (align, gather,
// gate+up with SwiGLU, down, combine; see moeLayer); --tiled as the
// compiled model runs them (moe_tiles' list, the tiled GEMMs, the gate and
// up stacks as stored), with --fp8w over e4m3 stacks with 128 x 128 block
// scales (DeepSeek-V3's), with --wgmma on sm_90a's tiled kernels (--ptx
// DIR/dsc_grouped_gemm_wgmma_tn.sm_90a.ptx; --wgmma --fp8w their e4m3
// forms).
//
//   dsc-kernel-bench head-products --ptx DIR/dsc_grouped_gemm.sm_90a.ptx
//       [--batch 64 --heads 128 --w-uv --reps 10]
//
// The absorbed attention's per-head products on the batched GEMM, at
// DeepSeek-V3's widths (head dim 128, latent 512), each head's slab read
// in place in kv_b [H * 256, 512]: --batch query rows (batch x new
// tokens) of queries times W_UK (batched_gemm_bf16_nn_m64), or with
// --w-uv the attention's latent outputs times W_UV (_tn_m64). --fp8w runs
// the forms an FP8 checkpoint's decode runs, kv_b in e4m3 with 128 x 128
// block scales read as stored (batched_gemm_fp8w_bf16_nn_m64, _tn_m64),
// and in the same run the bf16 form on a bf16 kv_b ("bf16_ms"; the
// dequantization to it, which the e4m3 forms spare, is not timed).
//
//   dsc-kernel-bench mlp-swiglu --ptx DIR/dsc_grouped_gemm.sm_90a.ptx
//       [--batch 64 --n 2048 --k 7168 --reps 10]
//
// A dense MLP's or shared expert's gate and up with SwiGLU fused, as the
// compiled model runs them (batched_gemm_swiglu_bf16_tn_m64, one batch):
// --batch rows of K (--k) values times the gate and up weights [N, K]
// (--n, the width), bf16(silu(gate) * up) out; V3's shared expert by
// default (its dense layers: --n 18432). --wgmma runs sm_90a's form for
// many rows (gemm_wgmma_swiglu_bf16_tn; --ptx the grouped_gemm_wgmma_tn
// module).
//
//   dsc-kernel-bench linear-fp8w --ptx DIR/dsc_grouped_gemm.sm_90a.ptx
//       [--batch 64 --n 18432 --k 7168 --reps 10]
//
// A linear layer whose weight an FP8 checkpoint stores in e4m3 with
// 128 x 128 block scales, as the compiled model runs it for few rows
// (gemm_fp8w_bf16_tn_m64: the weight read as stored and dequantized to
// bf16 in shared memory); in the same run the bf16 GEMM the model runs
// for many rows after dequantizing the weight (batched_gemm_bf16_tn_m64,
// on a bf16 weight of the same shape; the dequantization itself is
// generated code, not timed here): "bf16_ms". V3's dense gate by default.
// --split-k BLOCKS times the split-K form the model runs when the grid
// has fewer blocks (batched_gemm_fp8w_bf16_tn_m64 over the K parts, the
// parts' sum left out; "whole_ms" the unsplit kernel's time).
// --wgmma (--ptx the grouped_gemm_wgmma_tn module) times sm_90a's form for
// many rows, gemm_wgmma_fp8w_bf16_tn (the weight converted per K step, no
// dequantization first), against gemm_wgmma_bf16_tn on a bf16 weight.
//
//   dsc-kernel-bench mla-decode --ptx DIR/dsc_mla_decode.sm_90a.ptx
//       [--batch 64 --context 4096 --heads 128 --splits 0 --reps 10]
//   dsc-kernel-bench mla-decode --wgmma
//       --ptx DIR/dsc_mla_decode_wgmma.sm_90a.ptx
//
// MLA decode: one query token per sequence, every head against the paged
// latent cache (V3's widths); FLOPs and bytes count each cached token once.
// --wgmma: the sm_90a kernel (TMA, wgmma), its tiles whole pages.
//
//   dsc-kernel-bench mla-prefill --ptx DIR/dsc_mla_prefill.sm_90a.ptx
//       [--batch N --context 4096 --heads 128 --reps 10]
//
// MLA prefill: causal attention of a prompt, per head (FLOPs count the
// causal half); --wgmma the sm_90a kernel (TMA, wgmma).
//
//   dsc-kernel-bench moe-route --ptx DIR/dsc_moe_route.sm_90a.ptx
//       [--tokens 4096 --reps 10]
//
// DeepSeek-V3's router after the gate GEMM (256 experts, top-8 of 4 of 8
// groups), against a double-precision reference.
//
//   dsc-kernel-bench rope --ptx DIR/dsc_rope.sm_90a.ptx [--tokens 4096]
//
// RoPE with YaRN on V3's queries (128 heads), in place.
//
//   dsc-kernel-bench quant-fp8 --ptx DIR/dsc_quant_fp8.sm_90a.ptx
//       [--tokens 4096 --k 7168]
//
// FP8 activation quantization (per 128 values), every code checked.
//
//===----------------------------------------------------------------------===//

#include "codegen/SplitKRule.h"
#include "runtime/cuda/CudaDriver.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace dsc::runtime::cuda;

namespace {

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "dsc-kernel-bench: %s\n", message.c_str());
  std::exit(1);
}

const CudaDriver *cu = nullptr;

void check(CUresult result, const std::string &what) {
  if (absl::Status s = cu->check(result, what); !s.ok())
    die(std::string(s.message()));
}

uint16_t toBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  bits += 0x7fff + ((bits >> 16) & 1); // Round to nearest even.
  return uint16_t(bits >> 16);
}

float fromBf16(uint16_t value) {
  uint32_t bits = uint32_t(value) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

struct Buffer {
  CUdeviceptr ptr = 0;
  size_t bytes = 0;
};

Buffer upload(const void *data, size_t bytes) {
  Buffer b{0, bytes};
  check(cu->cuMemAlloc(&b.ptr, std::max<size_t>(bytes, 4)), "cuMemAlloc");
  if (data)
    check(cu->cuMemcpyHtoD(b.ptr, data, bytes), "cuMemcpyHtoD");
  return b;
}

/// The kernel arguments of a memref<?xi32> / memref<?xf32>: allocated and
/// aligned pointers, offset, size, stride (MLIR's descriptor, expanded).
struct MemRef1D {
  CUdeviceptr allocated, aligned;
  int64_t offset, size, stride;
};

MemRef1D descriptor(const Buffer &b, size_t elementBytes) {
  return {b.ptr, b.ptr, 0, int64_t(b.bytes / elementBytes), 1};
}

/// The kernels' tiles (codegen/kernels/gen_grouped_gemm.py): 128 or 64
/// rows (grouped_gemm_bf16_tn, _m64) by 128 columns, K steps of 64 in a
/// 4-stage ring of dynamic shared memory, 4 warps per 64 rows.
constexpr int64_t kBlockCols = 128, kBlockK = 64, kStages = 4;
int64_t kBlockRows = 128;
/// The sm_90a kernel (grouped_gemm_wgmma.mlir): TMA and wgmma, one
/// warpgroup per 128 x 128 tile, B stored [experts * K, N], a 3-stage ring
/// and 1 KiB to align it. With kTn the K-major ones
/// (grouped_gemm_wgmma_tn.mlir): B as nn.Linear stores it, two warpgroups
/// per tile, 4 stages of 32 KiB and 1 KiB.
bool kWgmma = false, kTn = false;
/// The FP8 kernels: e4m3 A and B with DeepSeek's block scales.
/// grouped_gemm_fp8.mlir: 64 x 128 tiles of 8 warps, the mma.sync ring's
/// bytes; with kWgmma grouped_gemm_fp8_wgmma.mlir: 128 x 128 tiles of two
/// warpgroups, 4 TMA stages of 32 KiB and 1 KiB to align them.
bool kFp8 = false;
/// The e4m3-weight kernels (gen_grouped_gemm.py's fp8_weights mode): bf16
/// A, e4m3 B with block scales read as stored (--fp8w: the tiled ones the
/// model's FP8 routed experts run; linear-fp8w: gemm_fp8w_bf16_tn_m64).
bool kFp8w = false;
/// Their dynamic shared memory: the A ring, one bf16 B tile and the ring of
/// e4m3 B tiles (their dsc.dynamic_shared_memory).
constexpr unsigned kFp8wSharedBytes =
    4 * 64 * 64 * 2 + 128 * 64 * 2 + 4 * 128 * 64;
/// The dynamic shared memory of sm_90a's TMA + wgmma GEMMs with B K-major
/// (grouped_gemm_wgmma_tn.mlir, bf16 or e4m3 weights; and the FP8 ones of
/// grouped_gemm_fp8_wgmma.mlir): 4 stages of 32 KiB and 1 KiB to align
/// them (the e4m3-weight forms keep the same total).
constexpr unsigned kWgmmaSharedBytes = 4 * 32768 + 1024;
unsigned threadsFor(int64_t blockRows) {
  if (kFp8)
    return 256; // 8 warps of 32 x 32, or 2 warpgroups
  if (kWgmma)
    return kTn ? 256 : 128;
  return unsigned(blockRows / 64) * 128;
}
unsigned sharedBytesFor(int64_t blockRows) {
  if (kFp8w && !kWgmma)
    return kFp8wSharedBytes;
  if (kWgmma)
    return kFp8 || kTn ? kWgmmaSharedBytes : 3 * 32768 + 1024;
  return unsigned(kStages * (blockRows + kBlockCols) * kBlockK * 2);
}
/// SwiGLU fused into the epilogue: bf16 output of N / 2 columns.
bool kSwiglu = false;
/// The tiled kernel the model's routed experts run (--tiled): experts'
/// rows unpadded, the grid over the 64-row tiles moe_tiles lists (with
/// kWgmma and kTn, sm_90a's: 128-row tiles, wgmma fed by TMA).
bool kTiled = false;
std::string kernelFor(int64_t blockRows) {
  if (kTiled && kWgmma && kFp8w)
    return kSwiglu ? "grouped_gemm_wgmma_swiglu_fp8w_bf16_tn_tiled"
                   : "grouped_gemm_wgmma_fp8w_bf16_tn_tiled";
  if (kTiled && kWgmma)
    return kSwiglu ? "grouped_gemm_wgmma_swiglu_bf16_tn_tiled"
                   : "grouped_gemm_wgmma_bf16_tn_tiled";
  if (kTiled && kFp8w)
    return kSwiglu ? "grouped_gemm_swiglu_fp8w_bf16_tn_m64_tiled"
                   : "grouped_gemm_fp8w_bf16_tn_m64_tiled";
  if (kTiled)
    return kSwiglu ? "grouped_gemm_swiglu_bf16_tn_m64_tiled"
                   : "grouped_gemm_bf16_tn_m64_tiled";
  if (kWgmma && kTn)
    return kSwiglu ? "grouped_gemm_wgmma_swiglu_bf16_tn"
                   : "grouped_gemm_wgmma_bf16_tn";
  if (kWgmma)
    return kFp8 ? "grouped_gemm_fp8_wgmma" : "grouped_gemm_wgmma_bf16";
  if (kFp8)
    return "grouped_gemm_fp8_tn_m64";
  return std::string(kSwiglu ? "grouped_gemm_swiglu_bf16_tn"
                             : "grouped_gemm_bf16_tn") +
         (blockRows == 64 ? "_m64" : "");
}
/// Index of B's element (expert e, output column n, reduction k): nn.Linear's
/// [experts, N, K], but [experts, K, N] for the N-major wgmma kernel.
int64_t bIndex(int64_t e, int64_t n, int64_t k, int64_t nTotal,
               int64_t kTotal) {
  return kWgmma && !kTn ? (e * kTotal + k) * nTotal + n
                        : (e * nTotal + n) * kTotal + k;
}
/// Bytes of one output row of N packed columns.
int64_t outputRowBytes(int64_t n) { return kSwiglu ? n / 2 * 2 : n * 4; }

/// A grouped GEMM problem: expert row ranges, padded to kBlockRows (with
/// kTiled: unpadded, and the tiles listed as moe_tiles lists them).
struct Grouping {
  std::vector<int32_t> offsets; // experts + 1
  int64_t rows = 0;             // padded total
  int64_t realRows = 0;
  int64_t maxBlocks = 0; // most row blocks of one expert
  // kTiled: [expert, first row] per kBlockRows-row tile (64; 128 for
  // sm_90a's wgmma kernels), [-1, -1] up to maxTiles (ceil(rows /
  // kBlockRows) + experts, the bound the compiler launches).
  std::vector<int32_t> tiles;
  int64_t maxTiles = 0;
};

Grouping route(int64_t tokens, int64_t topK, int64_t experts, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> counts(experts, 0);
  for (int64_t t = 0; t < tokens; ++t) {
    // top_k distinct experts per token.
    std::vector<int64_t> chosen;
    while (int64_t(chosen.size()) < std::min(topK, experts)) {
      int64_t e = rng() % experts;
      if (std::find(chosen.begin(), chosen.end(), e) == chosen.end())
        chosen.push_back(e);
    }
    for (int64_t e : chosen)
      ++counts[e];
  }
  Grouping g;
  g.offsets.push_back(0);
  const int64_t pad = kTiled ? 1 : kBlockRows;
  for (int64_t e = 0; e < experts; ++e) {
    int64_t padded = (counts[e] + pad - 1) / pad * pad;
    g.realRows += counts[e];
    g.rows += padded;
    g.maxBlocks = std::max(g.maxBlocks, padded / kBlockRows);
    g.offsets.push_back(int32_t(g.rows));
  }
  if (kTiled) {
    for (int64_t e = 0; e < experts; ++e)
      for (int64_t r = g.offsets[e]; r < g.offsets[e + 1]; r += kBlockRows)
        g.tiles.insert(g.tiles.end(), {int32_t(e), int32_t(r)});
    g.maxTiles = (g.rows + kBlockRows - 1) / kBlockRows + experts;
    g.tiles.resize(2 * g.maxTiles, -1);
  }
  return g;
}

struct Args {
  std::string ptx;
  // n -1: the command's default (4096; mlp-swiglu's width 2048,
  // linear-fp8w's 18432).
  int64_t tokens = 4096, topK = 8, experts = 256, n = -1, k = 7168;
  int reps = 10;
  int64_t blockRows = 128;
  // mla-decode / mla-prefill: V3's 128 heads; batch 0 is the mode's
  // default (64 sequences decoding, one prompt in prefill); splits 0 picks
  // about two waves of decode blocks.
  int64_t batch = 0, context = 4096, heads = 128, splits = 0;
  bool swiglu = false;
  bool wgmma = false; // the sm_90a TMA + wgmma kernel
  bool tn = false;    // with wgmma: the K-major bf16 kernels
  bool fp8 = false;   // the FP8 e4m3 block-scaled kernel
  bool fp8w = false;  // with tiled: e4m3 weights read as stored
  bool tiled = false; // the model's routed experts' kernels (listed tiles)
  bool wUv = false;   // head-products: W_UV's product, not W_UK's
  int64_t splitK = 0; // linear-fp8w: the blocks a split K aims at
  std::string dispatchPtx;
};

/// A kernel's parameters in MLIR's calling convention, in call order: each
/// memref<?xT> as its five descriptor fields, each index as an i64. The
/// values live in deques, whose elements never move.
struct KernelArgs {
  std::deque<MemRef1D> memrefs;
  std::deque<int64_t> indices;
  std::deque<float> floats;
  std::deque<CUdeviceptr> devicePointers;
  std::vector<void *> pointers;
  KernelArgs &memref(const Buffer &b, size_t elementBytes) {
    MemRef1D &m = memrefs.emplace_back(descriptor(b, elementBytes));
    for (void *p : {(void *)&m.allocated, (void *)&m.aligned, (void *)&m.offset,
                    (void *)&m.size, (void *)&m.stride})
      pointers.push_back(p);
    return *this;
  }
  KernelArgs &index(int64_t value) {
    pointers.push_back(&indices.emplace_back(value));
    return *this;
  }
  KernelArgs &pointer(CUdeviceptr value) {
    pointers.push_back(&devicePointers.emplace_back(value));
    return *this;
  }
  KernelArgs &f32(float value) {
    pointers.push_back(&floats.emplace_back(value));
    return *this;
  }
  void **data() { return pointers.data(); }
};

/// A TMA descriptor in device memory for the dense tensor `data` of `dims`
/// (outermost first; bf16, or bytes when elementBytes is 1: e4m3), loaded
/// in boxes of `box` with the 128-byte swizzle or as `swizzle` says (free
/// with cuMemFree).
Buffer
tensorMap(const Buffer &data, const std::vector<uint64_t> &dims,
          const std::vector<unsigned> &box, unsigned elementBytes = 2,
          CudaDriver::TmaSwizzle swizzle = CudaDriver::TmaSwizzle::k128Bytes) {
  // Dense: each outer dimension spans the ones inside it.
  std::vector<uint64_t> strides(dims.size() - 1);
  uint64_t stride = elementBytes;
  for (size_t d = dims.size() - 1; d > 0; --d)
    strides[d - 1] = stride *= dims[d];
  CUtensorMap map;
  check(cu->encodeTiledTensorMap(&map, data.ptr, dims, strides, elementBytes,
                                 box, swizzle),
        "cuTensorMapEncodeTiled");
  return upload(&map, sizeof map);
}

/// The TMA descriptors of the wgmma kernels' A and B. bf16: A [rows, K]
/// (boxes of 128 rows x 64) and B [experts * K, N] (boxes of 64 x 64: a
/// swizzled row holds 64 bf16), or with kTn B [experts * N, K] (boxes of
/// 128 x 64). FP8: A [rows, K] and B [experts * N, K] in boxes of 128 x 128
/// bytes.
std::vector<Buffer> wgmmaMaps(const Buffer &a, const Buffer &b, int64_t rows,
                              int64_t n, int64_t k, int64_t experts) {
  const uint64_t r = uint64_t(rows), e = uint64_t(experts);
  if (kTiled) {
    // Boxes of 64 x 64; with SwiGLU B is the gate stack then the up stack,
    // N / 2 rows an expert each, one descriptor a stack. kFp8w: the stacks'
    // e4m3 bytes unswizzled (the kernel converts them).
    auto stack = [&](const Buffer &w, uint64_t rows) {
      return kFp8w ? tensorMap(w, {rows, uint64_t(k)}, {64, 64}, 1,
                               CudaDriver::TmaSwizzle::kNone)
                   : tensorMap(w, {rows, uint64_t(k)}, {64, 64});
    };
    if (!kSwiglu)
      return {tensorMap(a, {r, uint64_t(k)}, {64, 64}), stack(b, e * n)};
    const Buffer gate{b.ptr, b.bytes / 2}, up{b.ptr + b.bytes / 2, b.bytes / 2};
    return {tensorMap(a, {r, uint64_t(k)}, {64, 64}), stack(gate, e * (n / 2)),
            stack(up, e * (n / 2))};
  }
  if (kFp8)
    return {tensorMap(a, {r, uint64_t(k)}, {128, 128}, 1),
            tensorMap(b, {e * n, uint64_t(k)}, {128, 128}, 1)};
  if (kTn)
    return {tensorMap(a, {r, uint64_t(k)}, {128, 64}),
            tensorMap(b, {e * n, uint64_t(k)}, {128, 64})};
  return {tensorMap(a, {r, uint64_t(k)}, {128, 64}),
          tensorMap(b, {e * k, uint64_t(n)}, {64, 64})};
}

/// Enqueues one launch of the grouped GEMM on (A, B, offsets) -> C. The
/// wgmma kernel reads A and B through `maps`, their TMA descriptors
/// (wgmmaMaps).
/// With kTiled, `maxBlocks` is the tiles' count and `tiles` their list.
void launchGroupedGemm(CUfunction fn, const Buffer &a, const Buffer &b,
                       const Buffer &c, const Buffer &offsets, int64_t n,
                       int64_t k, int64_t experts, int64_t maxBlocks,
                       CUstream stream, const Buffer *maps = nullptr,
                       const Buffer *scales = nullptr,
                       const Buffer *tiles = nullptr) {
  KernelArgs args;
  if (kTiled && kWgmma) {
    // A's and B's descriptors (with SwiGLU, the gate's and up's; N the
    // output's width), kFp8w their block scales, then the listed tiles.
    for (int i = 0; i < (kSwiglu ? 3 : 2); ++i)
      args.pointer(maps[i].ptr);
    for (int i = 0; kFp8w && i < (kSwiglu ? 2 : 1); ++i)
      args.memref(scales[i], 4);
    args.memref(c, kSwiglu ? 2 : 4).memref(offsets, 4).memref(*tiles, 4);
    args.index(kSwiglu ? n / 2 : n).index(k);
    if (kFp8w)
      args.index(128).index(128);
  } else if (kFp8 && kWgmma) {
    args.pointer(maps[0].ptr).pointer(maps[1].ptr).memref(c, 4);
    args.memref(offsets, 4).memref(scales[0], 4).memref(scales[1], 4);
    args.index(n).index(k);
  } else if (kWgmma && kTn) {
    args.pointer(maps[0].ptr).pointer(maps[1].ptr).memref(c, kSwiglu ? 2 : 4);
    args.memref(offsets, 4).index(n).index(k);
  } else if (kFp8) {
    args.memref(a, 2).memref(b, 2).memref(c, 4).memref(offsets, 4);
    args.memref(scales[0], 4).memref(scales[1], 4).index(n).index(k);
  } else if (kWgmma) {
    args.pointer(maps[0].ptr).pointer(maps[1].ptr).memref(c, 4);
    args.memref(offsets, 4).index(int64_t(a.bytes / 2 / k)).index(n).index(k);
  } else if (kTiled && kFp8w) {
    // B: e4m3 bytes (with SwiGLU the gate stack, then the up stack; N the
    // output's width), scales[0] (and scales[1]) their 128 x 128 block
    // scales.
    args.memref(a, 2);
    if (kSwiglu) {
      Buffer gate{b.ptr, b.bytes / 2}, up{b.ptr + b.bytes / 2, b.bytes / 2};
      args.memref(gate, 1).memref(up, 1).memref(scales[0], 4);
      args.memref(scales[1], 4);
    } else {
      args.memref(b, 1).memref(scales[0], 4);
    }
    args.memref(c, kSwiglu ? 2 : 4).memref(offsets, 4).memref(*tiles, 4);
    args.index(kSwiglu ? n / 2 : n).index(k).index(128).index(128);
  } else if (kTiled && kSwiglu) {
    // B holds the gate stack, then the up stack; N the output's width.
    Buffer gate{b.ptr, b.bytes / 2}, up{b.ptr + b.bytes / 2, b.bytes / 2};
    args.memref(a, 2).memref(gate, 2).memref(up, 2).memref(c, 2);
    args.memref(offsets, 4).memref(*tiles, 4).index(n / 2).index(k);
  } else {
    args.memref(a, 2).memref(b, 2).memref(c, kSwiglu ? 2 : 4);
    args.memref(offsets, 4);
    if (kTiled)
      args.memref(*tiles, 4);
    args.index(n).index(k);
  }
  check(cu->cuLaunchKernel(
            fn, unsigned(n / kBlockCols), unsigned(maxBlocks),
            unsigned(kTiled ? 1 : experts), threadsFor(kBlockRows), 1, 1,
            sharedBytesFor(kBlockRows), stream, args.data(), nullptr),
        "launching the grouped GEMM");
}

/// Milliseconds per call of `once` (which enqueues on `stream`), averaged
/// over `reps` after one warm-up; with reps 0 just the warm-up.
template <typename Fn> float timeLaunches(Fn once, int reps, CUstream stream) {
  once();
  check(cu->cuStreamSynchronize(stream), "running the kernel");
  if (reps <= 0)
    return 0;
  CUevent start, stop;
  check(cu->cuEventCreate(&start, 0), "cuEventCreate");
  check(cu->cuEventCreate(&stop, 0), "cuEventCreate");
  check(cu->cuEventRecord(start, stream), "cuEventRecord");
  for (int r = 0; r < reps; ++r)
    once();
  check(cu->cuEventRecord(stop, stream), "cuEventRecord");
  check(cu->cuEventSynchronize(stop), "running the kernel");
  float ms = 0;
  check(cu->cuEventElapsedTime(&ms, start, stop), "cuEventElapsedTime");
  cu->cuEventDestroy(start);
  cu->cuEventDestroy(stop);
  return ms / reps;
}

/// `amount` per second over `ms` milliseconds; 0 for no time (a fake
/// driver), which keeps the JSON finite.
double perSecond(double amount, double ms) {
  return ms > 0 ? amount / (ms * 1e-3) : 0;
}

std::vector<uint16_t> randomBf16(size_t count, std::mt19937 &rng,
                                 float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<uint16_t> out(count);
  for (uint16_t &v : out)
    v = toBf16(normal(rng));
  return out;
}

/// A device buffer of `elements` bf16 values copied from windows of the
/// random `block` at shifting offsets: realistic bit patterns for the
/// tensor cores' power draw without generating gigabytes on the host. With
/// `keep`, the same values on the host too.
Buffer uploadRandomBf16(size_t elements, const std::vector<uint16_t> &block,
                        std::vector<uint16_t> *keep = nullptr) {
  const size_t window = block.size() / 2;
  Buffer buf = upload(nullptr, elements * 2);
  if (keep)
    keep->resize(elements);
  size_t start = 0;
  for (size_t at = 0; at < elements; at += window) {
    size_t count = std::min(window, elements - at);
    const uint16_t *src = block.data() + start;
    check(cu->cuMemcpyHtoD(buf.ptr + at * 2, src, count * 2), "cuMemcpyHtoD");
    if (keep)
      std::copy(src, src + count, keep->begin() + at);
    start = (start + 7919) % window; // A prime stride.
  }
  return buf;
}

/// The small problem with a full CPU reference: max relative error.
/// The value of `f` rounded to bf16.
float roundBf16(float f) { return fromBf16(toBf16(f)); }

/// `words` x 2 random FP8 e4m3 values, two to a 16-bit word: any sign and
/// mantissa, exponents 5 to 9 (magnitudes 0.25 to 3.75), so that no few
/// products dominate a dot product.
std::vector<uint16_t> randomE4m3Words(size_t words, std::mt19937 &rng) {
  std::vector<uint16_t> out(words);
  auto code = [&] {
    uint32_t r = rng();
    return uint16_t((r & 0x80) | ((5 + (r >> 8) % 5) << 3) | ((r >> 16) & 7));
  };
  for (uint16_t &w : out)
    w = uint16_t(code() | code() << 8);
  return out;
}

/// e4m3 codes (any sign and mantissa, exponents 5 to 9; see
/// randomE4m3Words) for a weight of `count` bytes.
std::vector<uint8_t> randomE4m3Bytes(size_t count, std::mt19937 &rng) {
  std::vector<uint16_t> words = randomE4m3Words((count + 1) / 2, rng);
  std::vector<uint8_t> bytes(count);
  std::memcpy(bytes.data(), words.data(), count);
  return bytes;
}

/// The value of an FP8 e4m3 (fn) byte.
double fromE4m3(uint8_t code) {
  int exp = (code >> 3) & 15, man = code & 7;
  double magnitude = exp == 0 ? man / 8.0 * std::ldexp(1.0, -6)
                              : (1 + man / 8.0) * std::ldexp(1.0, exp - 7);
  if (exp == 15 && man == 7)
    magnitude = NAN;
  return code & 0x80 ? -magnitude : magnitude;
}

/// The FP8 kernel against the CPU: three experts, K = 512 (four scale
/// blocks), random scales; the largest error of an output relative to the
/// sum of its products' magnitudes.
double checkGroupedGemmFp8(CUfunction fn, CUstream stream) {
  const int64_t experts = 3, n = 256, k = 512, kb = k / 128;
  Grouping g = route(/*tokens=*/40, /*topK=*/2, experts, /*seed=*/7);
  std::mt19937 rng(13);
  std::vector<uint16_t> a = randomE4m3Words(g.rows * k / 2, rng);
  std::vector<uint16_t> b = randomE4m3Words(experts * n * k / 2, rng);
  std::uniform_real_distribution<float> scale(0.01f, 0.1f);
  std::vector<float> sa(g.rows * kb), sb(experts * n / 128 * kb);
  for (float &v : sa)
    v = scale(rng);
  for (float &v : sb)
    v = scale(rng);
  Buffer da = upload(a.data(), a.size() * 2),
         db = upload(b.data(), b.size() * 2);
  Buffer dc = upload(nullptr, g.rows * n * 4);
  Buffer doff = upload(g.offsets.data(), g.offsets.size() * 4);
  Buffer scales[2] = {upload(sa.data(), sa.size() * 4),
                      upload(sb.data(), sb.size() * 4)};
  std::vector<Buffer> maps;
  if (kWgmma)
    maps = wgmmaMaps(da, db, g.rows, n, k, experts);
  launchGroupedGemm(fn, da, db, dc, doff, n, k, experts, g.maxBlocks, stream,
                    maps.data(), scales);
  check(cu->cuStreamSynchronize(stream), "running the FP8 grouped GEMM");
  std::vector<float> c(g.rows * n);
  check(cu->cuMemcpyDtoH(c.data(), dc.ptr, c.size() * 4), "cuMemcpyDtoH");
  const uint8_t *ab = reinterpret_cast<const uint8_t *>(a.data());
  const uint8_t *bb = reinterpret_cast<const uint8_t *>(b.data());
  // Each output's error relative to the sum of its products' magnitudes
  // (f32 summation order only).
  double worst = 0;
  for (int64_t e = 0; e < experts; ++e)
    for (int64_t r = g.offsets[e]; r < g.offsets[e + 1]; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double want = 0, magnitude = 0;
        for (int64_t q = 0; q < kb; ++q) {
          double s = sa[r * kb + q] * sb[((e * n + j) / 128) * kb + q];
          for (int64_t x = q * 128; x < (q + 1) * 128; ++x) {
            double p =
                fromE4m3(ab[r * k + x]) * fromE4m3(bb[(e * n + j) * k + x]);
            want += p * s;
            magnitude += std::fabs(p * s);
          }
        }
        float got = c[r * n + j];
        // NaN fails the check (as infinity: the buffers are still freed).
        worst = std::isfinite(got)
                    ? std::max(worst, std::fabs(got - want) /
                                          std::max(magnitude, 1e-30))
                    : INFINITY;
      }
  for (Buffer *buf : {&da, &db, &dc, &doff, &scales[0], &scales[1]})
    cu->cuMemFree(buf->ptr);
  for (Buffer &map : maps)
    cu->cuMemFree(map.ptr);
  return worst;
}

/// The small problem with a full CPU reference: max relative error. With
/// SwiGLU, B's rows are packed as the kernel expects (per 32 rows: 16 gate
/// rows, then the same 16 up rows) and the reference rounds as
/// transformers' bf16 MLP does; with --tiled, B is the gate stack then the
/// up stack and the reference rounds silu(gate) * up once, as the model.
double checkGroupedGemm(CUfunction fn, CUstream stream) {
  // e4m3 weights: N of two scale blocks a stack (with SwiGLU, 2 x 256).
  const int64_t experts = 3, n = kFp8w && kSwiglu ? 512 : 256, k = 512;
  // --tiled: about 100 rows an expert (200 for the 128-row wgmma tiles),
  // so that second tiles are checked.
  Grouping g = route(/*tokens=*/kTiled ? (kWgmma ? 300 : 150) : 40,
                     /*topK=*/2, experts, /*seed=*/7);
  std::mt19937 rng(11);
  std::vector<uint16_t> a = randomBf16(g.rows * k, rng);
  // B in bf16; with kFp8w e4m3 codes, each stack (gate and up with SwiGLU)
  // with its 128 x 128 block scales [experts, ceil(width / 128), k / 128].
  std::vector<uint16_t> b;
  std::vector<uint8_t> b8;
  const int64_t width = kSwiglu ? n / 2 : n, stacks = kSwiglu ? 2 : 1;
  const int64_t nBlocks = (width + 127) / 128, kBlocks = (k + 127) / 128;
  std::vector<float> sb(stacks * experts * nBlocks * kBlocks);
  if (kFp8w) {
    b8 = randomE4m3Bytes(experts * n * k, rng);
    // Weights of about bf16's N(0, 1) (e4m3 magnitudes 0.25 to 3.75), so
    // that SwiGLU outputs near zero stay within the check's floor.
    for (float &scale : sb)
      scale = 0.0625f + float(rng() % 1024) / 4096.0f;
  } else {
    b = randomBf16(experts * n * k, rng);
  }
  Buffer da = upload(a.data(), a.size() * 2),
         db = kFp8w ? upload(b8.data(), b8.size())
                    : upload(b.data(), b.size() * 2);
  std::vector<Buffer> scales;
  for (int64_t s = 0; kFp8w && s < stacks; ++s)
    scales.push_back(upload(sb.data() + s * experts * nBlocks * kBlocks,
                            experts * nBlocks * kBlocks * 4));
  // Element `at` of B (row at / k of the stacks' rows) as the kernel
  // multiplies it: with kFp8w, dequantized to bf16 as the model does.
  auto weight = [&](int64_t at) -> float {
    if (!kFp8w)
      return fromBf16(b[at]);
    int64_t row = at / k, x = at % k, stack = row / (experts * width);
    int64_t e = row % (experts * width) / width, r = row % width;
    return roundBf16(
        float(fromE4m3(b8[at])) *
        sb[((stack * experts + e) * nBlocks + r / 128) * kBlocks + x / 128]);
  };
  Buffer dc = upload(nullptr, g.rows * outputRowBytes(n));
  Buffer doff = upload(g.offsets.data(), g.offsets.size() * 4);
  Buffer dtiles = upload(g.tiles.data(), g.tiles.size() * 4);
  std::vector<Buffer> maps;
  if (kWgmma)
    maps = wgmmaMaps(da, db, g.rows, n, k, experts);
  launchGroupedGemm(fn, da, db, dc, doff, n, k, experts,
                    kTiled ? g.maxTiles : g.maxBlocks, stream, maps.data(),
                    scales.data(), &dtiles);
  check(cu->cuStreamSynchronize(stream), "running the grouped GEMM");
  std::vector<uint8_t> c(g.rows * outputRowBytes(n));
  check(cu->cuMemcpyDtoH(c.data(), dc.ptr, c.size()), "cuMemcpyDtoH");
  // Row `row` of expert e's B: packed (N rows an expert) or, with two
  // stacks, row `row` of the gate stack (N / 2 rows an expert) or, past
  // experts * N / 2, of the up stack.
  auto dot = [&](int64_t e, int64_t r, int64_t row, double *scale) {
    double sum = 0;
    for (int64_t x = 0; x < k; ++x) {
      int64_t at = kTiled && kSwiglu ? (e * (n / 2) + row) * k + x
                                     : bIndex(e, row, x, n, k);
      double p = double(fromBf16(a[r * k + x])) * double(weight(at));
      sum += p;
      *scale += std::fabs(p);
    }
    return sum;
  };
  // Every row of the expert ranges is checked, the padding rows too.
  double worst = 0;
  for (int64_t e = 0; e < experts; ++e)
    for (int64_t r = g.offsets[e]; r < g.offsets[e + 1]; ++r) {
      if (!kSwiglu) {
        const float *row = reinterpret_cast<const float *>(c.data()) + r * n;
        for (int64_t j = 0; j < n; ++j) {
          double scale = 0, want = dot(e, r, j, &scale);
          // NaN fails the check (as infinity: the buffers are still freed).
          worst = std::isfinite(row[j])
                      ? std::max(worst, std::fabs(row[j] - want) /
                                            std::max(scale, 1e-30))
                      : INFINITY;
        }
        continue;
      }
      const uint16_t *row =
          reinterpret_cast<const uint16_t *>(c.data()) + r * (n / 2);
      for (int64_t j = 0; j < n / 2; ++j) {
        double scale = 0;
        float want;
        if (kTiled) {
          float gate = float(dot(e, r, j, &scale));
          float up = float(dot(e, r, experts * (n / 2) + j, &scale));
          want = roundBf16(gate / (1.0f + std::exp(-gate)) * up);
        } else {
          float gate =
              roundBf16(float(dot(e, r, j / 16 * 32 + j % 16, &scale)));
          float up =
              roundBf16(float(dot(e, r, j / 16 * 32 + 16 + j % 16, &scale)));
          float silu = roundBf16(gate / (1.0f + std::exp(-gate)));
          want = roundBf16(silu * up);
        }
        float got = fromBf16(row[j]);
        // A rounding step of bf16 is 2^-8 relative: a different f32
        // summation order may flip one. NaN fails (as infinity).
        worst =
            std::isfinite(got)
                ? std::max<double>(worst, std::fabs(got - want) /
                                              std::max(std::fabs(want), 1e-2f))
                : double(INFINITY);
      }
    }
  for (Buffer *buf : {&da, &db, &dc, &doff, &dtiles})
    if (buf->ptr)
      cu->cuMemFree(buf->ptr);
  for (Buffer &buf : maps)
    cu->cuMemFree(buf.ptr);
  for (Buffer &buf : scales)
    cu->cuMemFree(buf.ptr);
  return worst;
}

/// The first GPU, a stream on it, and `kernel` of the PTX file `ptxPath`.
struct Gpu {
  CUstream stream = nullptr;
  CUfunction fn = nullptr;
  char name[128] = "";
};

/// The first GPU's context made current, and a stream on it.
Gpu openContext() {
  Gpu gpu;
  CUdevice device;
  CUcontext context;
  check(cu->cuDeviceGet(&device, 0), "cuDeviceGet");
  check(cu->cuDevicePrimaryCtxRetain(&context, device), "context");
  check(cu->cuCtxSetCurrent(context), "cuCtxSetCurrent");
  check(cu->cuStreamCreate(&gpu.stream, CU_STREAM_NON_BLOCKING),
        "cuStreamCreate");
  cu->cuDeviceGetName(gpu.name, sizeof(gpu.name), device);
  return gpu;
}

/// The kernels of one PTX file, loaded into the current context.
CUmodule loadModule(const std::string &ptxPath) {
  std::ifstream file(ptxPath);
  if (!file)
    die("cannot read " + ptxPath);
  std::stringstream text;
  text << file.rdbuf();
  std::string ptx = text.str();
  CUmodule module;
  check(cu->cuModuleLoadData(&module, ptx.c_str()), "loading " + ptxPath);
  return module;
}

CUfunction kernelOf(CUmodule module, const char *name) {
  CUfunction fn;
  check(cu->cuModuleGetFunction(&fn, module, name), name);
  return fn;
}

Gpu openGpu(const std::string &ptxPath, const char *kernel) {
  Gpu gpu = openContext();
  gpu.fn = kernelOf(loadModule(ptxPath), kernel);
  return gpu;
}

/// The most rows of a batched GEMM launch: 64-row tiles in grid y, at most
/// 65535 of them (4194240 rows).
constexpr int64_t kMaxBatchedRows = int64_t(65535) * 64;

/// kv_b's widths in DeepSeek-V3: each head's dn = dv = 128 rows of the
/// 512-wide latent.
constexpr int64_t kHeadDim = 128, kLatent = 512;

/// The head-products problem: `rows` rows of `heads` heads, kv_b [heads *
/// 2 dn, latent] (each head's W_UK rows, then its W_UV rows).
struct HeadProducts {
  int64_t rows, heads, dn, latent;
  bool wUv;
  int64_t n() const { return wUv ? dn : latent; }
  int64_t k() const { return wUv ? latent : dn; }
};

/// Launches the batched GEMM of `p` (the nn kernel for W_UK, tn for W_UV)
/// on A [rows, heads, k], kv_b and C [rows, heads, n] (f32); given
/// `scales`, the e4m3 form on kv_b's codes and their 128 x 128 block
/// scales.
void launchHeadProducts(CUfunction fn, const HeadProducts &p, const Buffer &a,
                        const Buffer &kvb, const Buffer *scales,
                        const Buffer &c, CUstream stream) {
  KernelArgs args;
  args.memref(a, 2).memref(kvb, scales ? 1 : 2);
  if (scales)
    args.memref(*scales, 4);
  args.memref(c, 4).index(p.rows).index(p.n()).index(p.k());
  args.index(p.heads * p.k()).index(p.k());
  // W's slab: W_UV's rows follow W_UK's in each head's 2 dn rows (the e4m3
  // form counts rows, the bf16 one elements).
  int64_t first = p.wUv ? p.dn : 0, perHead = 2 * p.dn;
  if (!scales) {
    first *= p.latent;
    perHead *= p.latent;
  }
  args.index(first).index(perHead);
  args.index(p.latent).index(p.heads * p.n()).index(p.n());
  if (scales) // the scale block, and no columns between batches
    args.index(128).index(128).index(0);
  const int64_t blockRows = 64;
  check(
      cu->cuLaunchKernel(
          fn, unsigned((p.n() + kBlockCols - 1) / kBlockCols),
          unsigned(std::max<int64_t>((p.rows + blockRows - 1) / blockRows, 1)),
          unsigned(p.heads), threadsFor(blockRows), 1, 1,
          scales ? kFp8wSharedBytes
                 : kStages * (blockRows + kBlockCols) * kBlockK * 2,
          stream, args.data(), nullptr),
      "launching the batched GEMM");
}

/// The batched GEMM on a small problem (3 heads of 70 rows, dn 72 and a
/// latent of 200, or with kFp8w 208: partial K steps, column blocks and M
/// tiles; kFp8w's kv_b of 432 rows in 4 x 2 scale blocks) against a CPU
/// reference in double that dequantizes as the model does: the worst
/// error relative to the sum of the products' magnitudes.
double checkHeadProducts(CUfunction fn, bool wUv, CUstream stream) {
  HeadProducts p{70, 3, 72, kFp8w ? 208 : 200, wUv};
  std::mt19937 rng(13);
  std::vector<uint16_t> a = randomBf16(p.rows * p.heads * p.k(), rng);
  const int64_t kvbRows = p.heads * 2 * p.dn;
  const int64_t scaleCols = (p.latent + 127) / 128;
  std::vector<uint16_t> kvb;
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  if (kFp8w) {
    codes = randomE4m3Bytes(kvbRows * p.latent, rng);
    scales.resize(((kvbRows + 127) / 128) * scaleCols);
    for (float &scale : scales)
      scale = 0.5f + float(rng() % 1024) / 512.0f;
  } else {
    kvb = randomBf16(kvbRows * p.latent, rng);
  }
  // kv_b's element (row, col) as the GEMM reads it.
  auto weight = [&](int64_t row, int64_t col) {
    if (!kFp8w)
      return fromBf16(kvb[row * p.latent + col]);
    return roundBf16(float(fromE4m3(codes[row * p.latent + col])) *
                     scales[(row / 128) * scaleCols + col / 128]);
  };
  Buffer da = upload(a.data(), a.size() * 2),
         dw = kFp8w ? upload(codes.data(), codes.size())
                    : upload(kvb.data(), kvb.size() * 2),
         ds = kFp8w ? upload(scales.data(), scales.size() * 4) : Buffer{0, 0};
  Buffer dc = upload(nullptr, p.rows * p.heads * p.n() * 4);
  launchHeadProducts(fn, p, da, dw, kFp8w ? &ds : nullptr, dc, stream);
  check(cu->cuStreamSynchronize(stream), "running the batched GEMM");
  std::vector<float> c(p.rows * p.heads * p.n());
  check(cu->cuMemcpyDtoH(c.data(), dc.ptr, c.size() * 4), "cuMemcpyDtoH");
  double worst = 0;
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t h = 0; h < p.heads; ++h)
      for (int64_t j = 0; j < p.n(); ++j) {
        double sum = 0, scale = 0;
        for (int64_t x = 0; x < p.k(); ++x) {
          // W_UK [dn, latent] is K x N; W_UV [dv, latent] N x K.
          int64_t row = wUv ? p.dn + j : x, col = wUv ? x : j;
          double prod = double(fromBf16(a[(r * p.heads + h) * p.k() + x])) *
                        double(weight(h * 2 * p.dn + row, col));
          sum += prod;
          scale += std::fabs(prod);
        }
        float got = c[(r * p.heads + h) * p.n() + j];
        // NaN fails the check (as infinity: the buffers are still freed).
        worst =
            std::isfinite(got)
                ? std::max(worst, std::fabs(got - sum) / std::max(scale, 1e-30))
                : INFINITY;
      }
  for (Buffer *buf : {&da, &dw, &ds, &dc})
    if (buf->ptr)
      cu->cuMemFree(buf->ptr);
  return worst;
}

/// Launches a batched GEMM of the library with the 64-row tile as one
/// batch (a linear layer) on A [rows, k], `weights` [n, k] (bf16: B, or
/// the gate and up weights of the SwiGLU kernel, whose blocks cover their
/// 2 n columns packed) and C [rows, n] of `cBytes` an element (f32, or
/// the SwiGLU's bf16).
void launchOneBatch(CUfunction fn, int64_t rows, int64_t n, int64_t k,
                    const Buffer &a, std::initializer_list<Buffer> weights,
                    const Buffer &c, size_t cBytes, CUstream stream) {
  KernelArgs args;
  args.memref(a, 2);
  for (const Buffer &w : weights)
    args.memref(w, 2);
  args.memref(c, cBytes).index(rows).index(n).index(k);
  // lda, aBatch, bBase, bBatch, ldb, ldc, cBatch (one batch).
  args.index(k).index(rows * k).index(0).index(n * k).index(k).index(n);
  args.index(rows * n);
  const int64_t blockRows = 64, columns = int64_t(weights.size()) * n;
  check(cu->cuLaunchKernel(
            fn, unsigned((columns + kBlockCols - 1) / kBlockCols),
            unsigned(std::max<int64_t>((rows + blockRows - 1) / blockRows, 1)),
            1, threadsFor(blockRows), 1, 1, sharedBytesFor(blockRows), stream,
            args.data(), nullptr),
        "launching the batched GEMM");
}

/// The batched GEMM with SwiGLU on A [rows, k], the gate and up weights
/// [n, k] and D [rows, n] (bf16), one batch; with kWgmma sm_90a's
/// gemm_wgmma_swiglu_bf16_tn on `maps` (mlpMaps: A's, gate's and up's
/// descriptors).
void launchMlpSwiglu(CUfunction fn, int64_t rows, int64_t n, int64_t k,
                     const Buffer &a, const Buffer &gate, const Buffer &up,
                     const Buffer &d, CUstream stream,
                     const std::vector<Buffer> &maps) {
  if (!kWgmma) {
    launchOneBatch(fn, rows, n, k, a, {gate, up}, d, 2, stream);
    return;
  }
  KernelArgs args;
  for (const Buffer &map : maps)
    args.pointer(map.ptr);
  args.memref(d, 2).index(rows).index(n).index(k);
  check(cu->cuLaunchKernel(fn, unsigned((2 * n + 127) / 128),
                           unsigned((rows + 127) / 128), 1, 256, 1, 1,
                           kWgmmaSharedBytes, stream, args.data(), nullptr),
        "launching the SwiGLU GEMM");
}

/// With kWgmma, the descriptors launchMlpSwiglu reads (64 x 64 boxes of A
/// [rows, k] and of the gate and up weights [n, k]); none otherwise.
std::vector<Buffer> mlpMaps(int64_t rows, int64_t n, int64_t k, const Buffer &a,
                            const Buffer &gate, const Buffer &up) {
  if (!kWgmma)
    return {};
  const uint64_t r = uint64_t(rows), w = uint64_t(n), kk = uint64_t(k);
  return {tensorMap(a, {r, kk}, {64, 64}), tensorMap(gate, {w, kk}, {64, 64}),
          tensorMap(up, {w, kk}, {64, 64})};
}

/// The batched GEMM with SwiGLU on a small problem (70 rows, width 72, K
/// 200: partial M tiles, column blocks and K steps) against a CPU
/// reference rounding silu(gate) * up once, as the model does: the worst
/// error relative to each output's magnitude (at least 1e-2).
double checkMlpSwiglu(CUfunction fn, CUstream stream) {
  const int64_t rows = 70, n = 72, k = 200;
  std::mt19937 rng(17);
  std::vector<uint16_t> a = randomBf16(rows * k, rng);
  std::vector<uint16_t> gate = randomBf16(n * k, rng),
                        up = randomBf16(n * k, rng);
  Buffer da = upload(a.data(), a.size() * 2),
         dg = upload(gate.data(), gate.size() * 2),
         du = upload(up.data(), up.size() * 2),
         dd = upload(nullptr, rows * n * 2);
  std::vector<Buffer> maps = mlpMaps(rows, n, k, da, dg, du);
  launchMlpSwiglu(fn, rows, n, k, da, dg, du, dd, stream, maps);
  check(cu->cuStreamSynchronize(stream), "running the batched GEMM");
  std::vector<uint16_t> d(rows * n);
  check(cu->cuMemcpyDtoH(d.data(), dd.ptr, d.size() * 2), "cuMemcpyDtoH");
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double g = 0, u = 0;
      for (int64_t x = 0; x < k; ++x) {
        double ax = fromBf16(a[r * k + x]);
        g += ax * fromBf16(gate[j * k + x]);
        u += ax * fromBf16(up[j * k + x]);
      }
      float gf = float(g),
            want = roundBf16(gf / (1.0f + std::exp(-gf)) * float(u));
      float got = fromBf16(d[r * n + j]);
      // A bf16 step is 2^-8 relative: another f32 summation order may flip
      // one. NaN fails (as infinity).
      worst =
          std::isfinite(got)
              ? std::max<double>(worst, std::fabs(got - want) /
                                            std::max(std::fabs(want), 1e-2f))
              : double(INFINITY);
    }
  for (Buffer *buf : {&da, &dg, &du, &dd})
    cu->cuMemFree(buf->ptr);
  for (Buffer &map : maps)
    cu->cuMemFree(map.ptr);
  return worst;
}

int mlpSwiglu(const Args &args) {
  // --wgmma: sm_90a's form (--ptx the grouped_gemm_wgmma_tn module), what
  // the model runs for a prefill's many rows.
  const char *kernel =
      kWgmma ? "gemm_wgmma_swiglu_bf16_tn" : "batched_gemm_swiglu_bf16_tn_m64";
  Gpu gpu = openGpu(args.ptx, kernel);
  check(cu->cuFuncSetAttribute(
            gpu.fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            int(kWgmma ? kWgmmaSharedBytes : sharedBytesFor(64))),
        "raising the shared memory limit");
  double error = checkMlpSwiglu(gpu.fn, gpu.stream);
  std::fprintf(stderr,
               "[bench] batched GEMM with SwiGLU check: max relative error "
               "%.2e\n",
               error);
  const int64_t rows = args.batch, n = args.n, k = args.k;
  std::mt19937 rng(5);
  std::vector<uint16_t> block = randomBf16(size_t(8) << 20, rng);
  Buffer a = uploadRandomBf16(size_t(rows) * k, block);
  Buffer gate = uploadRandomBf16(size_t(n) * k, block);
  Buffer up = uploadRandomBf16(size_t(n) * k, block);
  Buffer d = upload(nullptr, size_t(rows) * n * 2);
  std::vector<Buffer> maps = mlpMaps(rows, n, k, a, gate, up);
  float ms = timeLaunches(
      [&] {
        launchMlpSwiglu(gpu.fn, rows, n, k, a, gate, up, d, gpu.stream, maps);
      },
      args.reps, gpu.stream);
  double flops = 2.0 * double(rows) * 2 * n * k;
  double bytes =
      double(a.bytes) + double(gate.bytes) + double(up.bytes) + double(d.bytes);
  std::printf("{\"kernel\":\"%s\",\"device\":\"%s\","
              "\"check_max_rel_error\":%.3e,\"rows\":%lld,\"n\":%lld,"
              "\"k\":%lld,\"ms\":%.4f,\"tflops\":%.2f,\"bytes\":%.0f,"
              "\"gbps\":%.1f}\n",
              kernel, gpu.name, error, (long long)rows, (long long)n,
              (long long)k, ms, perSecond(flops, ms) / 1e12, bytes,
              perSecond(bytes, ms) / 1e9);
  for (Buffer *buf : {&a, &gate, &up, &d})
    cu->cuMemFree(buf->ptr);
  for (Buffer &map : maps)
    cu->cuMemFree(map.ptr);
  // bf16 output: one rounding step.
  return error < 1.0 / 64 ? 0 : 1;
}

/// The TMA descriptors of sm_90a's dense e4m3-weight GEMM (kWgmma,
/// gemm_wgmma_fp8w_bf16_tn): A [rows, k] bf16 and the weight [n, k] e4m3,
/// unswizzled, both in boxes of 64 x 64.
std::vector<Buffer> linearFp8wMaps(const Buffer &a, const Buffer &w,
                                   int64_t rows, int64_t n, int64_t k) {
  if (!kWgmma)
    return {};
  return {tensorMap(a, {uint64_t(rows), uint64_t(k)}, {64, 64}),
          tensorMap(w, {uint64_t(n), uint64_t(k)}, {64, 64}, 1,
                    CudaDriver::TmaSwizzle::kNone)};
}

/// Launches the e4m3-weight GEMM on A [rows, k] (bf16), the weight [n, k]
/// (e4m3), its 128 x 128 block scales and C [rows, n] (f32); with kWgmma
/// sm_90a's form, A and the weight through `maps` (linearFp8wMaps).
void launchLinearFp8w(CUfunction fn, int64_t rows, int64_t n, int64_t k,
                      const Buffer &a, const Buffer &w, const Buffer &scales,
                      const Buffer &c, const std::vector<Buffer> &maps,
                      CUstream stream) {
  KernelArgs args;
  if (kWgmma) {
    args.pointer(maps[0].ptr).pointer(maps[1].ptr).memref(scales, 4);
    args.memref(c, 4).index(rows).index(n).index(k).index(128).index(128);
  } else {
    args.memref(a, 2).memref(w, 1).memref(scales, 4).memref(c, 4);
    // M, N, K, lda, ldc, the scale block (rows, columns).
    args.index(rows).index(n).index(k).index(k).index(n).index(128).index(128);
  }
  const int64_t blockRows = kWgmma ? 128 : 64;
  check(cu->cuLaunchKernel(
            fn, unsigned((n + kBlockCols - 1) / kBlockCols),
            unsigned(std::max<int64_t>((rows + blockRows - 1) / blockRows, 1)),
            1, kWgmma ? 256 : threadsFor(blockRows), 1, 1,
            kWgmma ? kWgmmaSharedBytes : kFp8wSharedBytes, stream, args.data(),
            nullptr),
        "launching the e4m3-weight GEMM");
}

/// The parts the compiled model splits the K of an e4m3-weight linear
/// GEMM of `rows` x `n` x `k` on the 64-row tile into, for `target`
/// blocks (SplitKRule.h's rule; at most kFp8wMaxRows rows split).
int64_t splitKPartsOf(int64_t rows, int64_t n, int64_t k, int64_t target) {
  if (rows > mlir::dsc::kFp8wMaxRows)
    return 1;
  int64_t blocks = ((n + kBlockCols - 1) / kBlockCols) *
                   std::max<int64_t>((rows + 63) / 64, 1);
  return mlir::dsc::splitKParts(blocks, blocks, k, target);
}

/// Launches the model's split-K form of the e4m3-weight GEMM:
/// batched_gemm_fp8w_bf16_tn_m64 over `parts` batches, batch e the
/// partial sums of K part e (A's and the weight's columns from e k /
/// parts) into `partials` [parts, rows, n] (their sum, a generated kernel
/// in the model, is left out).
void launchFp8wParts(CUfunction fn, int64_t rows, int64_t n, int64_t k,
                     int64_t parts, const Buffer &a, const Buffer &w,
                     const Buffer &scales, const Buffer &partials,
                     CUstream stream) {
  const int64_t part = k / parts;
  KernelArgs args;
  args.memref(a, 2).memref(w, 1).memref(scales, 4).memref(partials, 4);
  // M, N, K, lda, aBatch, bRow0, bRowBatch, ldb, ldc, cBatch, the scale
  // block, bColBatch.
  args.index(rows).index(n).index(part).index(k).index(part).index(0).index(0);
  args.index(k).index(n).index(rows * n).index(128).index(128).index(part);
  check(cu->cuLaunchKernel(fn, unsigned((n + kBlockCols - 1) / kBlockCols),
                           unsigned(std::max<int64_t>((rows + 63) / 64, 1)),
                           unsigned(parts), threadsFor(64), 1, 1,
                           kFp8wSharedBytes, stream, args.data(), nullptr),
        "launching the e4m3-weight GEMM's parts");
}

/// The e4m3-weight GEMM on a small problem (70 rows, or 150, N 136, K 256: two
/// scale blocks each way, partial M tiles and column blocks) against a CPU
/// reference that dequantizes as the model does (bf16(w * scale), one
/// rounding) and sums in double: the worst error relative to the sum of
/// the products' magnitudes. Given `partsFn`, the split-K form too (K in
/// 4 parts, summed here): the worse of the two.
double checkLinearFp8w(CUfunction fn, CUfunction partsFn, CUstream stream) {
  // kWgmma: 150 rows, the second block's second warpgroup without any (it
  // skips its wgmmas and its A box).
  const int64_t rows = kWgmma ? 150 : 70, n = 136, k = 256;
  std::mt19937 rng(29);
  std::vector<uint16_t> a = randomBf16(rows * k, rng);
  std::vector<uint8_t> w = randomE4m3Bytes(n * k, rng);
  std::vector<float> scales(2 * 2);
  for (float &scale : scales)
    scale = 0.5f + float(rng() % 1024) / 512.0f;
  Buffer da = upload(a.data(), a.size() * 2), dw = upload(w.data(), w.size()),
         ds = upload(scales.data(), scales.size() * 4),
         dc = upload(nullptr, rows * n * 4);
  std::vector<Buffer> maps = linearFp8wMaps(da, dw, rows, n, k);
  launchLinearFp8w(fn, rows, n, k, da, dw, ds, dc, maps, stream);
  check(cu->cuStreamSynchronize(stream), "running the e4m3-weight GEMM");
  std::vector<float> c(rows * n);
  check(cu->cuMemcpyDtoH(c.data(), dc.ptr, c.size() * 4), "cuMemcpyDtoH");
  // The split form's parts, summed in order as the model's sum does.
  const int64_t parts = 4;
  std::vector<float> split(rows * n, 0.0f);
  if (partsFn) {
    Buffer dp = upload(nullptr, parts * rows * n * 4);
    launchFp8wParts(partsFn, rows, n, k, parts, da, dw, ds, dp, stream);
    check(cu->cuStreamSynchronize(stream), "running the GEMM's parts");
    std::vector<float> partials(parts * rows * n);
    check(cu->cuMemcpyDtoH(partials.data(), dp.ptr, partials.size() * 4),
          "cuMemcpyDtoH");
    cu->cuMemFree(dp.ptr);
    for (int64_t e = 0; e < parts; ++e)
      for (int64_t i = 0; i < rows * n; ++i)
        split[i] += partials[e * rows * n + i];
  }
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0, scale = 0;
      for (int64_t x = 0; x < k; ++x) {
        float weight = roundBf16(float(fromE4m3(w[j * k + x])) *
                                 scales[(j / 128) * 2 + x / 128]);
        double prod = double(fromBf16(a[r * k + x])) * double(weight);
        sum += prod;
        scale += std::fabs(prod);
      }
      auto judge = [&](float got) {
        worst =
            std::isfinite(got)
                ? std::max(worst, std::fabs(got - sum) / std::max(scale, 1e-30))
                : INFINITY;
      };
      judge(c[r * n + j]);
      if (partsFn)
        judge(split[r * n + j]);
    }
  for (Buffer *buf : {&da, &dw, &ds, &dc})
    cu->cuMemFree(buf->ptr);
  for (const Buffer &map : maps)
    cu->cuMemFree(map.ptr);
  return worst;
}

/// linear-fp8w: the e4m3-weight GEMM (the 64-row mma.sync kernel, or with
/// kWgmma sm_90a's gemm_wgmma_fp8w_bf16_tn) against the bf16 GEMM on a
/// bf16 weight of that shape (batched_gemm_bf16_tn_m64, or with kWgmma
/// gemm_wgmma_bf16_tn) in the same run.
int linearFp8w(const Args &args) {
  const char *kernel =
      kWgmma ? "gemm_wgmma_fp8w_bf16_tn" : "gemm_fp8w_bf16_tn_m64";
  Gpu gpu = openContext();
  CUmodule module = loadModule(args.ptx);
  gpu.fn = kernelOf(module, kernel);
  CUfunction bf16 = kernelOf(module, kWgmma ? "gemm_wgmma_bf16_tn"
                                            : "batched_gemm_bf16_tn_m64");
  check(cu->cuFuncSetAttribute(
            gpu.fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            int(kWgmma ? kWgmmaSharedBytes : kFp8wSharedBytes)),
        "raising the shared memory limit");
  check(cu->cuFuncSetAttribute(
            bf16, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            int(kWgmma ? kWgmmaSharedBytes : sharedBytesFor(64))),
        "raising the shared memory limit");
  // --split-k: the split form the model runs where the grid is small.
  CUfunction partsFn = nullptr;
  if (args.splitK) {
    partsFn = kernelOf(module, "batched_gemm_fp8w_bf16_tn_m64");
    check(cu->cuFuncSetAttribute(
              partsFn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
              int(kFp8wSharedBytes)),
          "raising the shared memory limit");
  }
  double error = checkLinearFp8w(gpu.fn, partsFn, gpu.stream);
  std::fprintf(stderr,
               "[bench] e4m3-weight GEMM check: max relative error %.2e\n",
               error);
  const int64_t rows = args.batch, n = args.n, k = args.k;
  std::mt19937 rng(7);
  std::vector<uint16_t> block = randomBf16(size_t(8) << 20, rng);
  Buffer a = uploadRandomBf16(size_t(rows) * k, block);
  std::vector<uint8_t> codes = randomE4m3Bytes(size_t(8) << 20, rng);
  Buffer w = upload(nullptr, size_t(n) * k);
  for (size_t at = 0; at < w.bytes; at += codes.size())
    check(cu->cuMemcpyHtoD(w.ptr + at, codes.data(),
                           std::min(codes.size(), w.bytes - at)),
          "cuMemcpyHtoD");
  std::vector<float> scaleValues(size_t((n + 127) / 128) * ((k + 127) / 128),
                                 0.01f);
  Buffer scales = upload(scaleValues.data(), scaleValues.size() * 4);
  Buffer wBf16 = uploadRandomBf16(size_t(n) * k, block);
  Buffer c = upload(nullptr, size_t(rows) * n * 4);
  std::vector<Buffer> maps = linearFp8wMaps(a, w, rows, n, k);
  float ms = timeLaunches(
      [&] {
        launchLinearFp8w(gpu.fn, rows, n, k, a, w, scales, c, maps, gpu.stream);
      },
      args.reps, gpu.stream);
  // The bf16 GEMM; sm_90a's through its descriptors (boxes of 128 x 64).
  std::vector<Buffer> bf16Maps;
  if (kWgmma)
    bf16Maps = {tensorMap(a, {uint64_t(rows), uint64_t(k)}, {128, 64}),
                tensorMap(wBf16, {uint64_t(n), uint64_t(k)}, {128, 64})};
  float bf16Ms = timeLaunches(
      [&] {
        if (!kWgmma)
          return launchOneBatch(bf16, rows, n, k, a, {wBf16}, c, 4, gpu.stream);
        KernelArgs bf16Args;
        bf16Args.pointer(bf16Maps[0].ptr).pointer(bf16Maps[1].ptr);
        bf16Args.memref(c, 4).index(rows).index(n).index(k);
        check(cu->cuLaunchKernel(bf16, unsigned((n + 127) / 128),
                                 unsigned((rows + 127) / 128), 1, 256, 1, 1,
                                 kWgmmaSharedBytes, gpu.stream, bf16Args.data(),
                                 nullptr),
              "launching the bf16 GEMM");
      },
      args.reps, gpu.stream);
  for (std::vector<Buffer> *list : {&maps, &bf16Maps})
    for (const Buffer &map : *list)
      cu->cuMemFree(map.ptr);
  // The split form where the model would split (its parts' sum, a
  // generated kernel reading parts x rows x n floats, not timed): "ms" is
  // then its time, "whole_ms" the unsplit kernel's.
  const int64_t parts = partsFn ? splitKPartsOf(rows, n, k, args.splitK) : 1;
  char split[96] = "";
  if (parts > 1) {
    Buffer partials = upload(nullptr, size_t(parts) * rows * n * 4);
    float splitMs = timeLaunches(
        [&] {
          launchFp8wParts(partsFn, rows, n, k, parts, a, w, scales, partials,
                          gpu.stream);
        },
        args.reps, gpu.stream);
    cu->cuMemFree(partials.ptr);
    std::snprintf(split, sizeof split, ",\"parts\":%lld,\"whole_ms\":%.4f",
                  (long long)parts, ms);
    ms = splitMs;
  }
  double flops = 2.0 * double(rows) * n * k;
  double bytes = double(a.bytes) + double(w.bytes) + double(scales.bytes) +
                 double(c.bytes) * (parts > 1 ? parts : 1);
  std::printf("{\"kernel\":\"%s\",\"device\":\"%s\","
              "\"check_max_rel_error\":%.3e,\"rows\":%lld,\"n\":%lld,"
              "\"k\":%lld,\"ms\":%.4f,\"tflops\":%.2f,\"bytes\":%.0f,"
              "\"gbps\":%.1f,\"bf16_ms\":%.4f%s}\n",
              parts > 1 ? "batched_gemm_fp8w_bf16_tn_m64" : kernel, gpu.name,
              error, (long long)rows, (long long)n, (long long)k, ms,
              perSecond(flops, ms) / 1e12, bytes, perSecond(bytes, ms) / 1e9,
              bf16Ms, split);
  for (Buffer *buf : {&a, &w, &scales, &wBf16, &c})
    cu->cuMemFree(buf->ptr);
  return error < 1e-5 ? 0 : 1;
}

int headProducts(const Args &args) {
  const char *bf16Kernel =
      args.wUv ? "batched_gemm_bf16_tn_m64" : "batched_gemm_bf16_nn_m64";
  const char *kernel = !kFp8w     ? bf16Kernel
                       : args.wUv ? "batched_gemm_fp8w_bf16_tn_m64"
                                  : "batched_gemm_fp8w_bf16_nn_m64";
  Gpu gpu = openContext();
  CUmodule module = loadModule(args.ptx);
  gpu.fn = kernelOf(module, kernel);
  CUfunction bf16 = kernelOf(module, bf16Kernel);
  const unsigned bf16Bytes = kStages * (64 + kBlockCols) * kBlockK * 2;
  for (auto [fn, bytes] :
       {std::pair{gpu.fn, kFp8w ? kFp8wSharedBytes : bf16Bytes},
        std::pair{bf16, bf16Bytes}})
    check(cu->cuFuncSetAttribute(
              fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, int(bytes)),
          "raising the shared memory limit");
  double error = checkHeadProducts(gpu.fn, args.wUv, gpu.stream);
  std::fprintf(stderr, "[bench] batched GEMM check: max relative error %.2e\n",
               error);
  HeadProducts p{args.batch, args.heads, kHeadDim, kLatent, args.wUv};
  std::mt19937 rng(3);
  std::vector<uint16_t> block = randomBf16(size_t(8) << 20, rng);
  Buffer a = uploadRandomBf16(size_t(p.rows) * p.heads * p.k(), block);
  const size_t kvbElements = size_t(p.heads) * 2 * p.dn * p.latent;
  Buffer kvb = uploadRandomBf16(kvbElements, block);
  Buffer c = upload(nullptr, size_t(p.rows) * p.heads * p.n() * 4);
  // kFp8w: kv_b's e4m3 codes (repeating an 8 MiB block) and its 128 x 128
  // block scales.
  Buffer codes{0, 0}, scales{0, 0};
  if (kFp8w) {
    std::vector<uint8_t> repeated = randomE4m3Bytes(size_t(8) << 20, rng);
    codes = upload(nullptr, kvbElements);
    for (size_t at = 0; at < codes.bytes; at += repeated.size())
      check(cu->cuMemcpyHtoD(codes.ptr + at, repeated.data(),
                             std::min(repeated.size(), codes.bytes - at)),
            "cuMemcpyHtoD");
    std::vector<float> values(size_t((p.heads * 2 * p.dn + 127) / 128) *
                                  ((p.latent + 127) / 128),
                              0.01f);
    scales = upload(values.data(), values.size() * 4);
  }
  auto run = [&](CUfunction fn, bool e4m3) {
    return timeLaunches(
        [&] {
          launchHeadProducts(fn, p, a, e4m3 ? codes : kvb,
                             e4m3 ? &scales : nullptr, c, gpu.stream);
        },
        args.reps, gpu.stream);
  };
  float ms = run(gpu.fn, kFp8w);
  // kFp8w: the bf16 form on a bf16 kv_b, in the same run.
  char bf16Ms[48] = "";
  if (kFp8w)
    std::snprintf(bf16Ms, sizeof bf16Ms, ",\"bf16_ms\":%.4f", run(bf16, false));
  double flops = 2.0 * double(p.rows) * p.heads * p.n() * p.k();
  // The slab read (half of kv_b, and its scales), A and C.
  double bytes = double(a.bytes) +
                 double(p.heads) * p.dn * p.latent * (kFp8w ? 1 : 2) +
                 double(scales.bytes) / 2 + double(c.bytes);
  std::printf("{\"kernel\":\"%s\",\"device\":\"%s\","
              "\"check_max_rel_error\":%.3e,\"rows\":%lld,\"heads\":%lld,"
              "\"n\":%lld,\"k\":%lld,\"ms\":%.4f,\"tflops\":%.2f,"
              "\"bytes\":%.0f,\"gbps\":%.1f%s}\n",
              kernel, gpu.name, error, (long long)p.rows, (long long)p.heads,
              (long long)p.n(), (long long)p.k(), ms,
              perSecond(flops, ms) / 1e12, bytes, perSecond(bytes, ms) / 1e9,
              bf16Ms);
  for (Buffer *buf : {&a, &kvb, &c, &codes, &scales})
    if (buf->ptr)
      cu->cuMemFree(buf->ptr);
  // f32 output: summation order only.
  return error < 1e-3 ? 0 : 1;
}

/// One MoE layer's routed experts on the GPU, kernel after kernel: align
/// the slots to expert-sorted rows, gather the tokens' rows, gate+up with
/// SwiGLU fused, down, combine with the routing weights. Checked against a
/// CPU reference on a small layer, then timed at the given shape. With
/// kTiled, as the compiled model runs them: the rows unpadded, moe_tiles'
/// list of 64-row tiles, the tiled GEMMs (gate and up from their two
/// stacks, silu(gate) * up rounded once); otherwise each expert's rows
/// padded to 64, gate and up packed in one B (transformers' roundings).
/// With kTiled and kWgmma, sm_90a's tiled kernels (--ptx the
/// grouped_gemm_wgmma_tn module): 128-row tiles, A, the stacks and the
/// activations through TMA descriptors.
int moeLayer(const Args &args, const std::string &dispatchPtx) {
  // (The mma.sync GEMMs use the 64-row tile: about 128 rows per expert at
  // V3's shapes.)
  Gpu gpu = openContext();
  CUstream stream = gpu.stream;
  const char *name = gpu.name;
  CUmodule gemms = loadModule(args.ptx), dispatch = loadModule(dispatchPtx);
  kBlockRows = kWgmma ? 128 : 64;
  kTn = kWgmma;
  kSwiglu = true;
  CUfunction upFn = kernelOf(gemms, (kTiled ? kernelFor(kBlockRows)
                                            : "grouped_gemm_swiglu_bf16_tn_m64")
                                        .c_str());
  kSwiglu = false;
  CUfunction downFn = kernelOf(
      gemms,
      (kTiled ? kernelFor(kBlockRows) : "grouped_gemm_bf16_tn_m64").c_str());
  CUfunction tilesFn = kTiled ? kernelOf(dispatch, "moe_tiles") : nullptr;
  CUfunction alignFn = kernelOf(dispatch, "moe_align");
  CUfunction gatherFn = kernelOf(dispatch, "moe_gather");
  CUfunction combineFn = kernelOf(dispatch, "moe_combine");
  for (CUfunction fn : {upFn, downFn})
    check(cu->cuFuncSetAttribute(
              fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
              int(sharedBytesFor(kBlockRows))),
          "raising the shared memory limit");

  // Runs the layer for tokens x hidden with `experts` of width `width`;
  // returns ms per layer (reps > 0) and, when `out` is set, the output
  // (`upHost` and `downHost`: the weights' values as the kernels multiply
  // them).
  auto run = [&](int64_t tokens, int64_t topK, int64_t experts, int64_t hidden,
                 int64_t width, int reps, std::vector<uint16_t> *outHost,
                 std::vector<uint16_t> *xHost, std::vector<float> *upHost,
                 std::vector<float> *downHost, std::vector<int32_t> *idsHost,
                 std::vector<float> *wHost, double *bytesMoved) {
    std::mt19937 rng(17);
    const int64_t slots = tokens * topK;
    std::vector<int32_t> ids(slots);
    std::vector<float> weights(slots);
    std::uniform_real_distribution<float> uniform(0.1f, 1.0f);
    for (int64_t t = 0; t < tokens; ++t) {
      float total = 0;
      for (int64_t j = 0; j < topK; ++j) {
        int32_t e;
        do
          e = int32_t(rng() % experts);
        while (std::find(&ids[t * topK], &ids[t * topK + j], e) !=
               &ids[t * topK + j]);
        ids[t * topK + j] = e;
        weights[t * topK + j] = uniform(rng);
        total += weights[t * topK + j];
      }
      for (int64_t j = 0; j < topK; ++j)
        weights[t * topK + j] /= total;
    }
    std::vector<uint16_t> block = randomBf16(size_t(1) << 23, rng);
    auto fill = [&](size_t elements, std::vector<uint16_t> *keep) {
      return uploadRandomBf16(elements, block, keep);
    };
    // kTiled: rows unpadded (moe_align's block 1), at most this many
    // kBlockRows-row tiles listed (128 with kWgmma).
    const int64_t alignBlock = kTiled ? 1 : kBlockRows;
    const int64_t maxRows = slots + experts * (alignBlock - 1);
    const int64_t maxTiles = (slots + kBlockRows - 1) / kBlockRows + experts;
    // `stacks` stacks of [experts, rows, cols] weights: bf16, or with
    // kFp8w e4m3 codes (repeating an 8 MiB block) and 128 x 128 block
    // scales, one buffer of them a stack in `scales`.
    std::vector<Buffer> upScales, downScales;
    auto expertWeights = [&](int64_t stacks, int64_t rows, int64_t cols,
                             std::vector<float> *values,
                             std::vector<Buffer> &scales) {
      const size_t elements = size_t(stacks) * experts * rows * cols;
      if (!kFp8w) {
        std::vector<uint16_t> bits;
        Buffer buf = fill(elements, values ? &bits : nullptr);
        if (values) {
          values->resize(elements);
          for (size_t i = 0; i < elements; ++i)
            (*values)[i] = fromBf16(bits[i]);
        }
        return buf;
      }
      std::vector<uint8_t> codes =
          randomE4m3Bytes(std::min(elements, size_t(8) << 20), rng);
      Buffer buf = upload(nullptr, elements);
      for (size_t at = 0; at < elements; at += codes.size())
        check(cu->cuMemcpyHtoD(buf.ptr + at, codes.data(),
                               std::min(codes.size(), elements - at)),
              "cuMemcpyHtoD");
      const int64_t rowBlocks = (rows + 127) / 128,
                    colBlocks = (cols + 127) / 128;
      if (values)
        values->resize(elements);
      for (int64_t stack = 0; stack < stacks; ++stack) {
        std::vector<float> blockScales(experts * rowBlocks * colBlocks);
        for (float &scale : blockScales)
          scale = 0.02f + float(rng() % 1024) / 16384.0f;
        scales.push_back(upload(blockScales.data(), blockScales.size() * 4));
        for (int64_t e = 0; values && e < experts; ++e)
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
              size_t at = size_t(((stack * experts + e) * rows + r) * cols + c);
              (*values)[at] = roundBf16(
                  float(fromE4m3(codes[at % codes.size()])) *
                  blockScales[(e * rowBlocks + r / 128) * colBlocks + c / 128]);
            }
      }
      return buf;
    };
    Buffer x = fill(tokens * hidden, xHost);
    // Gate and up: packed in one B, or (kTiled) the gate stack, then the up
    // stack.
    Buffer up = kTiled ? expertWeights(2, width, hidden, upHost, upScales)
                       : expertWeights(1, 2 * width, hidden, upHost, upScales);
    Buffer down = expertWeights(1, hidden, width, downHost, downScales);
    Buffer dIds = upload(ids.data(), slots * 4);
    Buffer dW = upload(weights.data(), slots * 4);
    Buffer offsets = upload(nullptr, (experts + 1) * 4);
    Buffer slotRow = upload(nullptr, slots * 4);
    Buffer rowSlot = upload(nullptr, maxRows * 4);
    Buffer a = upload(nullptr, maxRows * hidden * 2);
    Buffer h = upload(nullptr, maxRows * width * 2);
    Buffer d = upload(nullptr, maxRows * hidden * 4);
    Buffer out = upload(nullptr, tokens * hidden * 2);
    Buffer tiles = upload(nullptr, maxTiles * 2 * 4);
    if (idsHost)
      *idsHost = ids, *wHost = weights;

    // Routing is fixed: align once to learn the largest expert (the GEMM
    // grids' y extent), then time the whole sequence.
    KernelArgs alignArgs;
    alignArgs.memref(dIds, 4).index(slots).index(experts).index(alignBlock);
    alignArgs.memref(offsets, 4).memref(slotRow, 4).memref(rowSlot, 4);
    auto align = [&] {
      check(cu->cuMemsetD8(rowSlot.ptr, 0xff, rowSlot.bytes), "cuMemsetD8");
      check(cu->cuLaunchKernel(alignFn, 1, 1, 1, 1024, 1, 1, 0, stream,
                               alignArgs.data(), nullptr),
            "launching moe_align");
    };
    align();
    check(cu->cuStreamSynchronize(stream), "running moe_align");
    std::vector<int32_t> off(experts + 1);
    check(cu->cuMemcpyDtoH(off.data(), offsets.ptr, off.size() * 4),
          "cuMemcpyDtoH");
    int64_t rows = off[experts], maxBlocks = 1;
    if (rows <= 0)
      die("moe_align placed no rows (" + std::to_string(slots) +
          " slots): the align kernel did not run or is wrong");
    for (int64_t e = 0; e < experts; ++e)
      maxBlocks =
          std::max<int64_t>(maxBlocks, (off[e + 1] - off[e]) / kBlockRows);

    KernelArgs tilesArgs, gatherArgs, combineArgs;
    tilesArgs.memref(offsets, 4).index(experts).index(kBlockRows);
    tilesArgs.index(maxTiles).memref(tiles, 4);
    gatherArgs.memref(x, 2).memref(rowSlot, 4).index(topK).index(hidden);
    gatherArgs.memref(a, 2);
    combineArgs.memref(d, 4).memref(slotRow, 4).memref(dW, 4);
    combineArgs.index(topK).index(hidden).memref(out, 2);

    // The GEMMs' grid y: each expert's row blocks, or the listed tiles.
    const int64_t gridRows = kTiled ? maxTiles : maxBlocks;
    // sm_90a's kernels read A (the gathered rows; the activations) and
    // the stacks through descriptors, made once: the buffers stay.
    std::vector<Buffer> upMaps, downMaps;
    if (kWgmma) {
      kSwiglu = true;
      upMaps = wgmmaMaps(a, up, maxRows, 2 * width, hidden, experts);
      kSwiglu = false;
      downMaps = wgmmaMaps(h, down, maxRows, hidden, width, experts);
    }
    auto layer = [&] {
      align();
      if (kTiled)
        check(cu->cuLaunchKernel(tilesFn, 1, 1, 1, 1024, 1, 1, 0, stream,
                                 tilesArgs.data(), nullptr),
              "launching moe_tiles");
      check(cu->cuLaunchKernel(gatherFn, unsigned(rows), 1, 1, 256, 1, 1, 0,
                               stream, gatherArgs.data(), nullptr),
            "launching moe_gather");
      kSwiglu = true;
      launchGroupedGemm(upFn, a, up, h, offsets, 2 * width, hidden, experts,
                        gridRows, stream, upMaps.data(), upScales.data(),
                        &tiles);
      kSwiglu = false;
      launchGroupedGemm(downFn, h, down, d, offsets, hidden, width, experts,
                        gridRows, stream, downMaps.data(), downScales.data(),
                        &tiles);
      check(cu->cuLaunchKernel(combineFn, unsigned(tokens), 1, 1, 256, 1, 1, 0,
                               stream, combineArgs.data(), nullptr),
            "launching moe_combine");
    };
    float ms = timeLaunches(layer, reps, stream);
    if (outHost) {
      outHost->resize(tokens * hidden);
      check(cu->cuMemcpyDtoH(outHost->data(), out.ptr, outHost->size() * 2),
            "cuMemcpyDtoH");
    }
    double scaleBytes = 0;
    for (std::vector<Buffer> *bufs : {&upScales, &downScales})
      for (Buffer &buf : *bufs)
        scaleBytes += double(buf.bytes);
    if (bytesMoved)
      *bytesMoved =
          scaleBytes + double(up.bytes + down.bytes + x.bytes + out.bytes) +
          double(rows) * (hidden * 2 * 2 + width * 2 * 2 + hidden * 4 * 2);
    for (Buffer *buf : {&x, &up, &down, &dIds, &dW, &offsets, &slotRow,
                        &rowSlot, &a, &h, &d, &out, &tiles})
      cu->cuMemFree(buf->ptr);
    for (std::vector<Buffer> *maps : {&upMaps, &downMaps})
      for (Buffer &map : *maps)
        cu->cuMemFree(map.ptr);
    for (std::vector<Buffer> *bufs : {&upScales, &downScales})
      for (Buffer &buf : *bufs)
        cu->cuMemFree(buf.ptr);
    return ms;
  };

  // The small layer against the CPU: with transformers' bf16 roundings
  // (packed gate and up rows), or with kTiled the model's (the gate stack,
  // then the up stack; silu(gate) * up in f32, rounded once).
  const int64_t T = 48, K = 4, E = 8, H = 1024, W = 256;
  std::vector<uint16_t> out, x;
  std::vector<float> up, down;
  std::vector<int32_t> ids;
  std::vector<float> wts;
  run(T, K, E, H, W, 0, &out, &x, &up, &down, &ids, &wts, nullptr);
  double worst = 0, largest = 0;
  std::vector<float> h(W);
  std::vector<double> want(H);
  for (int64_t t = 0; t < T; ++t) {
    std::fill(want.begin(), want.end(), 0.0);
    for (int64_t j = 0; j < K; ++j) {
      int64_t e = ids[t * K + j];
      auto dot = [&](const std::vector<float> &m, int64_t row, int64_t len,
                     const float *v) {
        double sum = 0;
        for (int64_t c = 0; c < len; ++c)
          sum += double(m[row * len + c]) * v[c];
        return sum;
      };
      std::vector<float> xt(H);
      for (int64_t c = 0; c < H; ++c)
        xt[c] = fromBf16(x[t * H + c]);
      for (int64_t c = 0; c < W; ++c) {
        if (kTiled) {
          float gate = float(dot(up, e * W + c, H, xt.data()));
          float upv = float(dot(up, (E + e) * W + c, H, xt.data()));
          h[c] = roundBf16(gate / (1.0f + std::exp(-gate)) * upv);
          continue;
        }
        int64_t gateRow = e * 2 * W + c / 16 * 32 + c % 16;
        float gate = roundBf16(float(dot(up, gateRow, H, xt.data())));
        float upv = roundBf16(float(dot(up, gateRow + 16, H, xt.data())));
        float silu = roundBf16(gate / (1.0f + std::exp(-gate)));
        h[c] = roundBf16(silu * upv);
      }
      for (int64_t o = 0; o < H; ++o)
        want[o] += double(wts[t * K + j]) * dot(down, e * H + o, W, h.data());
    }
    for (int64_t o = 0; o < H; ++o) {
      largest = std::max(largest, std::fabs(want[o]));
      worst = std::max(worst, std::fabs(fromBf16(out[t * H + o]) - want[o]));
    }
  }
  double error = worst / std::max(largest, 1e-30);
  std::fprintf(stderr,
               "[bench] MoE layer check: max error %.2e of the largest "
               "output %.2e\n",
               worst, largest);

  double bytes = 0;
  float ms =
      run(args.tokens, args.topK, args.experts, args.k, args.n, args.reps,
          nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, &bytes);
  double flops = 2.0 * args.tokens * args.topK *
                 (2.0 * args.n * args.k + double(args.k) * args.n);
  std::printf("{\"kernel\":\"%s\",\"device\":\"%s\","
              "\"check_rel_error\":%.3e,\"tokens\":%lld,\"top_k\":%lld,"
              "\"experts\":%lld,\"hidden\":%lld,\"width\":%lld,"
              "\"ms\":%.4f,\"tflops\":%.2f,\"bytes\":%.0f,\"gbps\":%.1f}\n",
              kFp8w && kWgmma ? "moe_layer_tiled_wgmma_fp8w"
              : kFp8w         ? "moe_layer_tiled_fp8w"
              : kWgmma        ? "moe_layer_tiled_wgmma"
              : kTiled ? "moe_layer_tiled"
                       : "moe_layer",
              name, error, (long long)args.tokens, (long long)args.topK,
              (long long)args.experts, (long long)args.k, (long long)args.n, ms,
              perSecond(flops, ms) / 1e12, bytes, perSecond(bytes, ms) / 1e9);
  return std::isfinite(error) && error < 2e-2 ? 0 : 1;
}

int groupedGemm(const Args &args) {
  std::string kernelName = kernelFor(args.blockRows);
  const char *kernel = kernelName.c_str();
  Gpu gpu = openGpu(args.ptx, kernel);
  // The ring of stages is more than the default 48 KiB of shared memory.
  check(cu->cuFuncSetAttribute(gpu.fn,
                               CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                               int(sharedBytesFor(args.blockRows))),
        "raising the shared memory limit");
  CUfunction fn = gpu.fn;
  CUstream stream = gpu.stream;
  const char *name = gpu.name;

  double error =
      kFp8 ? checkGroupedGemmFp8(fn, stream) : checkGroupedGemm(fn, stream);
  std::fprintf(stderr, "[bench] grouped GEMM check: max relative error %.2e\n",
               error);

  Grouping g = route(args.tokens, args.topK, args.experts, 1);
  std::fprintf(stderr,
               "[bench] %lld tokens x top-%lld over %lld experts: %lld rows "
               "(%lld padded), N %lld, K %lld\n",
               (long long)args.tokens, (long long)args.topK,
               (long long)args.experts, (long long)g.realRows,
               (long long)g.rows, (long long)args.n, (long long)args.k);
  // Inputs: windows of a 64 MiB random block (uploadRandomBf16); FP8
  // packs two values a 16-bit word.
  std::mt19937 rng(3);
  std::vector<uint16_t> block = kFp8 ? randomE4m3Words(size_t(32) << 20, rng)
                                     : randomBf16(size_t(32) << 20, rng);
  const size_t perWord = kFp8 ? 2 : 1;
  auto fill = [&](size_t elements) {
    return uploadRandomBf16(elements / perWord, block);
  };
  Buffer a = fill(size_t(g.rows) * args.k);
  // e4m3 weights (kFp8w): one byte each, from a block of random codes.
  Buffer b = kFp8w ? upload(nullptr, size_t(args.experts) * args.n * args.k)
                   : fill(size_t(args.experts) * args.n * args.k);
  if (kFp8w) {
    std::vector<uint8_t> codes = randomE4m3Bytes(size_t(8) << 20, rng);
    for (size_t at = 0; at < b.bytes; at += codes.size())
      check(cu->cuMemcpyHtoD(b.ptr + at, codes.data(),
                             std::min(codes.size(), b.bytes - at)),
            "cuMemcpyHtoD");
  }
  Buffer c = upload(nullptr, size_t(g.rows) * outputRowBytes(args.n));
  Buffer offsets = upload(g.offsets.data(), g.offsets.size() * 4);
  Buffer tiles = upload(g.tiles.data(), g.tiles.size() * 4);
  std::vector<Buffer> maps, scales;
  if (kWgmma)
    maps = wgmmaMaps(a, b, g.rows, args.n, args.k, args.experts);
  if (kFp8w) {
    // Each stack's 128 x 128 block scales (gate and up with SwiGLU).
    const int64_t stacks = kSwiglu ? 2 : 1, width = args.n / stacks;
    std::vector<float> blockScales(
        args.experts * ((width + 127) / 128) * ((args.k + 127) / 128), 0.01f);
    for (int64_t s = 0; s < stacks; ++s)
      scales.push_back(
          upload(blockScales.data(), blockScales.size() * sizeof(float)));
  }
  if (kFp8) {
    std::vector<float> ones(
        std::max(g.rows, args.experts * args.n / 128) * (args.k / 128), 1.0f);
    scales = {
        upload(ones.data(), g.rows * (args.k / 128) * 4),
        upload(ones.data(), args.experts * args.n / 128 * (args.k / 128) * 4)};
  }
  float ms = timeLaunches(
      [&] {
        launchGroupedGemm(fn, a, b, c, offsets, args.n, args.k, args.experts,
                          kTiled ? g.maxTiles : g.maxBlocks, stream,
                          maps.data(), scales.data(), &tiles);
      },
      args.reps, stream);
  double flops = 2.0 * double(g.realRows) * args.n * args.k;
  double bytes = double(a.bytes) + double(b.bytes) + double(c.bytes);
  for (Buffer &buf : scales)
    bytes += double(buf.bytes);
  std::printf("{\"kernel\":\"%s\",\"device\":\"%s\","
              "\"check_max_rel_error\":%.3e,\"tokens\":%lld,\"top_k\":%lld,"
              "\"experts\":%lld,\"n\":%lld,\"k\":%lld,\"rows\":%lld,"
              "\"padded_rows\":%lld,\"ms\":%.4f,\"tflops\":%.2f,"
              "\"bytes\":%.0f,\"gbps\":%.1f}\n",
              kernel, name, error, (long long)args.tokens, (long long)args.topK,
              (long long)args.experts, (long long)args.n, (long long)args.k,
              (long long)g.realRows, (long long)g.rows, ms,
              perSecond(flops, ms) / 1e12, bytes, perSecond(bytes, ms) / 1e9);
  // f32 output: summation order only; bf16 SwiGLU output: one rounding.
  return error < (kSwiglu ? 1.0 / 64 : 1e-3) ? 0 : 1;
}

/// One launch of add_rmsnorm_bf16 over `rows` rows.
void launchAddRmsNorm(const Gpu &gpu, const Buffer &x, const Buffer &res,
                      const Buffer &w, const Buffer &h, const Buffer &y,
                      int64_t rows, int64_t hidden, float eps) {
  KernelArgs args;
  args.memref(x, 2).memref(res, 2).memref(w, 2).memref(h, 2).memref(y, 2);
  args.index(hidden).f32(eps);
  check(cu->cuLaunchKernel(gpu.fn, unsigned(rows), 1, 1, 256, 1, 1, 0,
                           gpu.stream, args.data(), nullptr),
        "launching add_rmsnorm_bf16");
}

/// Residual add + RMSNorm against transformers' arithmetic on the CPU: h
/// exactly, y within one bf16 rounding (the GPU's rsqrt is approximate).
int addRmsNorm(const Args &args) {
  Gpu gpu = openGpu(args.ptx, "add_rmsnorm_bf16");
  const int64_t hidden = args.k, rows = args.tokens;
  const float eps = 1e-6f;
  auto run = [&](int64_t n, int reps, double *worstH, double *worstY) {
    std::mt19937 rng(5);
    std::vector<uint16_t> x = randomBf16(n * hidden, rng),
                          res = randomBf16(n * hidden, rng),
                          w = randomBf16(hidden, rng);
    Buffer dx = upload(x.data(), x.size() * 2),
           dr = upload(res.data(), res.size() * 2),
           dw = upload(w.data(), w.size() * 2),
           dh = upload(nullptr, x.size() * 2),
           dy = upload(nullptr, x.size() * 2);
    float ms = timeLaunches(
        [&] { launchAddRmsNorm(gpu, dx, dr, dw, dh, dy, n, hidden, eps); },
        reps, gpu.stream);
    if (worstH) {
      std::vector<uint16_t> h(x.size()), y(x.size());
      check(cu->cuMemcpyDtoH(h.data(), dh.ptr, h.size() * 2), "cuMemcpyDtoH");
      check(cu->cuMemcpyDtoH(y.data(), dy.ptr, y.size() * 2), "cuMemcpyDtoH");
      *worstH = *worstY = 0;
      for (int64_t r = 0; r < n; ++r) {
        double sumsq = 0;
        std::vector<float> hr(hidden);
        for (int64_t i = 0; i < hidden; ++i) {
          hr[i] = fromBf16(toBf16(fromBf16(x[r * hidden + i]) +
                                  fromBf16(res[r * hidden + i])));
          sumsq += double(hr[i]) * hr[i];
          *worstH = std::max<double>(
              *worstH, std::fabs(fromBf16(h[r * hidden + i]) - hr[i]));
        }
        float inv = float(1.0 / std::sqrt(sumsq / double(hidden) + eps));
        for (int64_t i = 0; i < hidden; ++i) {
          float want =
              fromBf16(toBf16(fromBf16(toBf16(hr[i] * inv)) * fromBf16(w[i])));
          float got = fromBf16(y[r * hidden + i]);
          if (!std::isfinite(got))
            *worstY = INFINITY;
          else
            *worstY =
                std::max<double>(*worstY, std::fabs(got - want) /
                                              std::max(std::fabs(want), 1e-3f));
        }
      }
    }
    for (Buffer *b : {&dx, &dr, &dw, &dh, &dy})
      cu->cuMemFree(b->ptr);
    return ms;
  };
  double errorH = 0, errorY = 0;
  run(/*rows=*/64, /*reps=*/0, &errorH, &errorY);
  std::fprintf(stderr,
               "[bench] add_rmsnorm check: max |h error| %.2e, max relative "
               "y error %.2e\n",
               errorH, errorY);
  float ms = run(rows, args.reps, nullptr, nullptr);
  // x, res read; h written, read again, y written; w once.
  double bytes = double(rows) * hidden * 2 * 5 + hidden * 2;
  std::printf("{\"kernel\":\"add_rmsnorm_bf16\",\"device\":\"%s\","
              "\"check_h_error\":%.3e,\"check_y_rel_error\":%.3e,"
              "\"rows\":%lld,\"hidden\":%lld,\"ms\":%.4f,\"bytes\":%.0f,"
              "\"gbps\":%.1f}\n",
              gpu.name, errorH, errorY, (long long)rows, (long long)hidden, ms,
              bytes, perSecond(bytes, ms) / 1e9);
  // One bf16 rounding step is 2^-8 relative.
  return errorH == 0 && errorY <= 1.0 / 128 ? 0 : 1;
}

/// Multi-head latent attention decode (codegen/kernels/mla_decode_bf16.mlir,
/// and with --wgmma mla_decode_wgmma.mlir for sm_90a): the absorbed queries
/// of every head against a paged latent cache, split over the tokens, then
/// the splits combined. Widths are DeepSeek's: keys of 576 (kv_lora_rank
/// 512 + rope 64), values the first 512.
constexpr int64_t kMlaWidth = 576, kMlaValue = 512, kMlaPage = 64,
                  kMlaHeadBlock = 64;
constexpr unsigned kMlaThreads = 256, kMlaCombineThreads = 128;

/// What differs between the two decode kernels: the name, the tokens a
/// tile (a split counts tiles), the dynamic shared memory, and whether the
/// queries and the cache come as TMA descriptors.
struct MlaKernel {
  const char *name, *label;
  int64_t tile;
  unsigned shared;
  bool tma;
};
/// mma.sync: the query block, two tiles of 32 tokens, P, and the two
/// column halves' row maxima and sums.
constexpr MlaKernel kMlaMmaSync{
    "mla_decode_bf16", "mla_decode", 32,
    unsigned(kMlaHeadBlock *kMlaWidth * 2 + 2 * 32 * kMlaWidth * 2 +
             kMlaHeadBlock * 32 * 2 + 2 * 2 * kMlaHeadBlock * 4),
    false};
/// wgmma: the query block and two pages as TMA boxes, P, the maxima and
/// sums, and 1 KiB to align them to the swizzle's 1024 bytes.
constexpr MlaKernel kMlaWgmma{
    "mla_decode_wgmma_bf16", "mla_decode_wgmma", kMlaPage,
    unsigned(3 * kMlaHeadBlock * kMlaWidth * 2 + kMlaHeadBlock * kMlaPage * 2 +
             2 * 2 * kMlaHeadBlock * 4 + 1024),
    true};

/// One decode problem: sequences of `lens` tokens in pages of 64 spread
/// over a shuffled pool (the kernel must follow the block table), table
/// entries past a sequence's pages poisoned so that reading one faults.
struct MlaProblem {
  int64_t batch = 0, heads = 0, maxPages = 0, pages = 0, tiles = 0;
  int64_t splits = 0, tilesPerSplit = 0;
  std::vector<int32_t> lens, table;
  int64_t tokens() const {
    int64_t n = 0;
    for (int32_t len : lens)
      n += len;
    return n;
  }
};

/// The decode kernel's blocks of 64 heads (the last one may be partial).
int64_t headBlocks(int64_t heads) {
  return (heads + kMlaHeadBlock - 1) / kMlaHeadBlock;
}

MlaProblem mlaProblem(int64_t heads, std::vector<int32_t> lens, int64_t splits,
                      int sms, uint32_t seed, int64_t tile) {
  MlaProblem p;
  p.batch = int64_t(lens.size());
  p.heads = heads;
  p.lens = std::move(lens);
  int64_t longest = *std::max_element(p.lens.begin(), p.lens.end());
  p.maxPages = std::max<int64_t>(1, (longest + kMlaPage - 1) / kMlaPage);
  p.tiles = (longest + tile - 1) / tile;
  std::vector<int32_t> pool;
  for (int32_t len : p.lens)
    p.pages += (len + kMlaPage - 1) / kMlaPage;
  for (int64_t i = 0; i < p.pages; ++i)
    pool.push_back(int32_t(i));
  std::mt19937 rng(seed);
  std::shuffle(pool.begin(), pool.end(), rng);
  p.table.assign(p.batch * p.maxPages, INT32_MAX);
  size_t next = 0;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t i = 0; i < (p.lens[b] + kMlaPage - 1) / kMlaPage; ++i)
      p.table[b * p.maxPages + i] = pool[next++];
  // About two waves of blocks (one block fills an SM's shared memory):
  // more splits only add partial outputs to combine.
  if (splits <= 0) {
    int64_t perSplit = p.batch * headBlocks(heads);
    splits = (2 * sms + perSplit - 1) / perSplit;
  }
  splits = std::clamp<int64_t>(splits, 1, std::max<int64_t>(p.tiles, 1));
  p.tilesPerSplit = std::max<int64_t>(1, (p.tiles + splits - 1) / splits);
  p.splits =
      std::max<int64_t>(1, (p.tiles + p.tilesPerSplit - 1) / p.tilesPerSplit);
  return p;
}

struct MlaKernels {
  CUfunction decode, combine;
  MlaKernel kind;
};

/// Runs `p` on random inputs (kept on the host when `q`/`kv` are given):
/// ms per decode (both kernels) over `reps`, and the output when `out`.
float runMla(const MlaKernels &fns, CUstream stream, const MlaProblem &p,
             float scale, int reps, std::vector<uint16_t> *out,
             std::vector<uint16_t> *q, std::vector<uint16_t> *kv) {
  // Queries and cache from independent blocks (a query row equal to a key
  // row makes the softmax one-hot), queries scaled for a flat softmax.
  std::mt19937 rng(23);
  std::vector<uint16_t> qBlock = randomBf16(size_t(1) << 22, rng, 0.25f);
  std::vector<uint16_t> kvBlock = randomBf16(size_t(1) << 22, rng);
  Buffer dq = uploadRandomBf16(p.batch * p.heads * kMlaWidth, qBlock, q);
  Buffer dkv = uploadRandomBf16(
      std::max<int64_t>(p.pages, 1) * kMlaPage * kMlaWidth, kvBlock, kv);
  if (kv) {
    // The rows of a last page past its sequence hold NaN: a kernel that
    // reads them into P V (where P is 0) shows it.
    std::vector<uint16_t> nan(kMlaPage * kMlaWidth, 0x7fc0);
    for (int64_t b = 0; b < p.batch; ++b) {
      int64_t used = p.lens[b] % kMlaPage, last = (p.lens[b] - 1) / kMlaPage;
      if (p.lens[b] == 0 || used == 0)
        continue;
      int64_t at = (int64_t(p.table[b * p.maxPages + last]) * kMlaPage + used) *
                   kMlaWidth;
      int64_t count = (kMlaPage - used) * kMlaWidth;
      check(cu->cuMemcpyHtoD(dkv.ptr + at * 2, nan.data(), count * 2),
            "cuMemcpyHtoD");
      std::copy(nan.begin(), nan.begin() + count, kv->begin() + at);
    }
  }
  Buffer table = upload(p.table.data(), p.table.size() * 4);
  Buffer lens = upload(p.lens.data(), p.lens.size() * 4);
  const int64_t rows = p.batch * p.heads;
  Buffer opart = upload(nullptr, rows * p.splits * kMlaValue * 4);
  Buffer lse = upload(nullptr, rows * p.splits * 4);
  Buffer dout = upload(nullptr, rows * kMlaValue * 2);
  KernelArgs decodeArgs, combineArgs;
  std::vector<Buffer> maps;
  if (fns.kind.tma) {
    // TMA reads the queries and the cache as rows of 576 in 64 x 64 boxes.
    maps.push_back(
        tensorMap(dq, {uint64_t(p.batch * p.heads), kMlaWidth}, {64, 64}));
    maps.push_back(tensorMap(
        dkv, {uint64_t(std::max<int64_t>(p.pages, 1) * kMlaPage), kMlaWidth},
        {64, 64}));
    decodeArgs.pointer(maps[0].ptr).pointer(maps[1].ptr);
  } else {
    decodeArgs.memref(dq, 2).memref(dkv, 2);
  }
  decodeArgs.memref(table, 4).memref(lens, 4);
  decodeArgs.memref(opart, 4).memref(lse, 4);
  decodeArgs.index(p.heads).index(p.maxPages).index(p.splits);
  decodeArgs.index(p.tilesPerSplit);
  // The mma.sync kernel reads the cache from an element offset (a layer's
  // pages within all layers'); here the pages start the buffer.
  if (!fns.kind.tma)
    decodeArgs.index(0);
  decodeArgs.f32(scale);
  combineArgs.memref(opart, 4).memref(lse, 4).memref(dout, 2);
  combineArgs.index(p.heads).index(p.splits);
  float ms = timeLaunches(
      [&] {
        check(cu->cuLaunchKernel(fns.decode, unsigned(headBlocks(p.heads)),
                                 unsigned(p.splits), unsigned(p.batch),
                                 kMlaThreads, 1, 1, fns.kind.shared, stream,
                                 decodeArgs.data(), nullptr),
              "launching the MLA decode kernel");
        check(cu->cuLaunchKernel(fns.combine, unsigned(p.heads),
                                 unsigned(p.batch), 1, kMlaCombineThreads, 1, 1,
                                 0, stream, combineArgs.data(), nullptr),
              "launching mla_decode_combine");
      },
      reps, stream);
  if (out) {
    out->resize(rows * kMlaValue);
    check(cu->cuMemcpyDtoH(out->data(), dout.ptr, out->size() * 2),
          "cuMemcpyDtoH");
  }
  for (Buffer *b : {&dq, &dkv, &table, &lens, &opart, &lse, &dout})
    cu->cuMemFree(b->ptr);
  for (Buffer &map : maps)
    cu->cuMemFree(map.ptr);
  return ms;
}

/// DeepSeek-V3's softmax scale (qk_head_dim 192, YaRN mscale for factor
/// 40 and mscale_all_dim 1) times log2(e): the kernel's softmax is base 2.
float v3ScaleLog2() {
  double mscale = 0.1 * std::log(40.0) + 1.0;
  return float(mscale * mscale / std::sqrt(192.0) / std::log(2.0));
}

/// The decode against a double-precision CPU reference on sequences that
/// end mid-tile and mid-page, one shorter than a tile, and splits left
/// empty; then timed at the given shape. Returns the max error over the
/// largest output.
int mlaDecode(const Args &args) {
  Gpu gpu = openContext();
  CUmodule module = loadModule(args.ptx);
  const MlaKernel kind = args.wgmma ? kMlaWgmma : kMlaMmaSync;
  MlaKernels fns{kernelOf(module, kind.name),
                 kernelOf(module, "mla_decode_combine"), kind};
  check(cu->cuFuncSetAttribute(fns.decode,
                               CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                               int(kind.shared)),
        "raising the shared memory limit");
  CUdevice device;
  int sms = 0;
  check(cu->cuDeviceGet(&device, 0), "cuDeviceGet");
  check(cu->cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                                 device),
        "cuDeviceGetAttribute");
  const float scale = v3ScaleLog2();

  MlaProblem small =
      mlaProblem(args.heads, {1, 95, 333}, /*splits=*/4, sms, 5, kind.tile);
  std::vector<uint16_t> out, q, kv;
  runMla(fns, gpu.stream, small, scale, 0, &out, &q, &kv);
  double worst = 0, largest = 0;
  bool finite = true;
  std::vector<double> s, o(kMlaValue);
  for (int64_t b = 0; b < small.batch; ++b)
    for (int64_t h = 0; h < small.heads; ++h) {
      const uint16_t *qrow = &q[(b * small.heads + h) * kMlaWidth];
      auto cached = [&](int64_t tok) {
        int64_t page = small.table[b * small.maxPages + tok / kMlaPage];
        return &kv[(page * kMlaPage + tok % kMlaPage) * kMlaWidth];
      };
      s.assign(small.lens[b], 0.0);
      double top = -INFINITY;
      for (int64_t j = 0; j < small.lens[b]; ++j) {
        const uint16_t *krow = cached(j);
        double dot = 0;
        for (int64_t c = 0; c < kMlaWidth; ++c)
          dot += double(fromBf16(qrow[c])) * double(fromBf16(krow[c]));
        s[j] = dot * scale; // base 2
        top = std::max(top, s[j]);
      }
      double total = 0;
      for (double &v : s)
        total += (v = std::exp2(v - top));
      std::fill(o.begin(), o.end(), 0.0);
      for (int64_t j = 0; j < small.lens[b]; ++j) {
        const uint16_t *vrow = cached(j);
        for (int64_t c = 0; c < kMlaValue; ++c)
          o[c] += s[j] / total * double(fromBf16(vrow[c]));
      }
      for (int64_t c = 0; c < kMlaValue; ++c) {
        float got = fromBf16(out[(b * small.heads + h) * kMlaValue + c]);
        finite = finite && std::isfinite(got);
        largest = std::max(largest, std::fabs(o[c]));
        worst = std::max(worst, std::fabs(got - o[c]));
      }
    }
  double error = finite ? worst / std::max(largest, 1e-30) : INFINITY;
  std::fprintf(stderr,
               "[bench] MLA decode%s check (lengths 1, 95, 333; %lld splits): "
               "max error %.2e of the largest output %.2e\n",
               kind.tma ? " (wgmma)" : "", (long long)small.splits, worst,
               largest);

  std::vector<int32_t> lens(args.batch, int32_t(args.context));
  MlaProblem big = mlaProblem(args.heads, lens, args.splits, sms, 9, kind.tile);
  std::fprintf(stderr,
               "[bench] batch %lld x %lld heads, context %lld: %lld splits of "
               "%lld tiles, %d SMs\n",
               (long long)big.batch, (long long)big.heads,
               (long long)args.context, (long long)big.splits,
               (long long)big.tilesPerSplit, sms);
  float ms =
      runMla(fns, gpu.stream, big, scale, args.reps, nullptr, nullptr, nullptr);
  // The floor's bytes: the cache once, the queries, the output.
  double tokens = double(big.tokens());
  double bytes = tokens * kMlaWidth * 2 +
                 double(big.batch * big.heads) * (kMlaWidth + kMlaValue) * 2;
  double flops = 2.0 * tokens * double(big.heads) * (kMlaWidth + kMlaValue);
  std::printf("{\"kernel\":\"%s\",\"device\":\"%s\","
              "\"check_rel_error\":%.3e,\"batch\":%lld,\"heads\":%lld,"
              "\"context\":%lld,\"splits\":%lld,\"ms\":%.4f,\"tflops\":%.2f,"
              "\"bytes\":%.0f,\"gbps\":%.1f}\n",
              kind.label, gpu.name, error, (long long)big.batch,
              (long long)big.heads, (long long)args.context,
              (long long)big.splits, ms, perSecond(flops, ms) / 1e12, bytes,
              perSecond(bytes, ms) / 1e9);
  // P and the output are rounded to bf16 (2^-9 relative each).
  return error < 2e-2 ? 0 : 1;
}

/// Multi-head latent attention prefill (codegen/kernels/mla_prefill_bf16.mlir,
/// and with --wgmma mla_prefill_wgmma.mlir for sm_90a): causal attention per
/// head over kv_b_proj's keys and values, the rope key shared by the heads.
/// Queries and keys 192 wide, values 128.
constexpr int64_t kPrefillQk = 192, kPrefillKv = 256, kPrefillRope = 64,
                  kPrefillValue = 128, kPrefillTile = 64;
constexpr unsigned kPrefillThreads = 128;
/// Dynamic shared memory. mma.sync: the query tile and two stages of keys
/// and values. wgmma: the same as 64 x 64 TMA boxes and P (its layout; see
/// prefillWgmmaShared for the launch).
constexpr unsigned kPrefillShared =
    unsigned(kPrefillTile * kPrefillQk * 2 * 3 + 2 * kPrefillTile * 128 * 2);
constexpr unsigned kPrefillWgmmaLayout =
    unsigned(kPrefillTile * (kPrefillQk * 3 + kPrefillValue * 2) * 2 +
             kPrefillTile * kPrefillTile * 2);

/// The wgmma prefill's launch size: its layout starts at the first 1024-byte
/// boundary past its statics (the mbarriers), which take the first bytes of
/// the 1 KiB after the hardware's reserved 1 KiB, and the dynamic
/// allocation starts right after them; so the layout plus 1024 bytes less
/// the statics is what it spans. Asking no more lets two blocks share an
/// SM (with the whole 1 KiB of slack they miss by 64 bytes).
unsigned prefillWgmmaShared(CUfunction fn) {
  int statics = 0;
  check(
      cu->cuFuncGetAttribute(&statics, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, fn),
      "reading the kernel's static shared memory");
  return kPrefillWgmmaLayout + 1024 - unsigned(std::clamp(statics, 0, 1024));
}

/// Runs prefill on random inputs for `batch` sequences of `seq` tokens: ms
/// per call over `reps`; the inputs and output on the host when asked.
float runMlaPrefill(CUfunction fn, bool wgmma, unsigned shared, CUstream stream,
                    int64_t batch, int64_t seq, int64_t heads, float scale,
                    int reps, std::vector<uint16_t> *out,
                    std::vector<uint16_t> *q, std::vector<uint16_t> *kv,
                    std::vector<uint16_t> *kr) {
  // Independent blocks (equal query and key rows make the softmax
  // one-hot), queries scaled for a flat softmax.
  std::mt19937 rng(29);
  std::vector<uint16_t> qBlock = randomBf16(size_t(1) << 22, rng, 0.25f),
                        kvBlock = randomBf16(size_t(1) << 22, rng),
                        krBlock = randomBf16(size_t(1) << 20, rng);
  const int64_t tokens = batch * seq;
  Buffer dq = uploadRandomBf16(tokens * heads * kPrefillQk, qBlock, q);
  Buffer dkv = uploadRandomBf16(tokens * heads * kPrefillKv, kvBlock, kv);
  Buffer dkr = uploadRandomBf16(tokens * kPrefillRope, krBlock, kr);
  Buffer dout = upload(nullptr, tokens * heads * kPrefillValue * 2);
  KernelArgs args;
  std::vector<Buffer> maps;
  if (wgmma) {
    // TMA reads [batch, seq, row] in 1 x 64 x 64 boxes: a box past a
    // sequence is zero-filled.
    const uint64_t b = uint64_t(batch), s = uint64_t(seq), h = uint64_t(heads);
    maps.push_back(tensorMap(dq, {b, s, h * kPrefillQk}, {1, 64, 64}));
    maps.push_back(tensorMap(dkv, {b, s, h * kPrefillKv}, {1, 64, 64}));
    maps.push_back(tensorMap(dkr, {b, s, kPrefillRope}, {1, 64, 64}));
    for (const Buffer &map : maps)
      args.pointer(map.ptr);
  } else {
    args.memref(dq, 2).memref(dkv, 2).memref(dkr, 2);
  }
  args.memref(dout, 2).index(seq).index(heads).f32(scale);
  unsigned tiles = unsigned((seq + kPrefillTile - 1) / kPrefillTile);
  float ms = timeLaunches(
      [&] {
        check(cu->cuLaunchKernel(fn, tiles, unsigned(heads), unsigned(batch),
                                 kPrefillThreads, 1, 1, shared, stream,
                                 args.data(), nullptr),
              "launching the MLA prefill kernel");
      },
      reps, stream);
  if (out) {
    out->resize(tokens * heads * kPrefillValue);
    check(cu->cuMemcpyDtoH(out->data(), dout.ptr, out->size() * 2),
          "cuMemcpyDtoH");
  }
  for (Buffer *b : {&dq, &dkv, &dkr, &dout})
    cu->cuMemFree(b->ptr);
  for (Buffer &map : maps)
    cu->cuMemFree(map.ptr);
  return ms;
}

/// Prefill against a double-precision CPU reference on two sequences of 150
/// tokens (partial last tiles), then timed at the given shape.
int mlaPrefill(const Args &args) {
  const bool wgmma = args.wgmma;
  Gpu gpu =
      openGpu(args.ptx, wgmma ? "mla_prefill_wgmma_bf16" : "mla_prefill_bf16");
  const unsigned shared = wgmma ? prefillWgmmaShared(gpu.fn) : kPrefillShared;
  check(cu->cuFuncSetAttribute(gpu.fn,
                               CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                               int(shared)),
        "raising the shared memory limit");
  const float scale = v3ScaleLog2();
  const int64_t batch = 2, seq = 150, heads = 3;
  std::vector<uint16_t> out, q, kv, kr;
  runMlaPrefill(gpu.fn, wgmma, shared, gpu.stream, batch, seq, heads, scale, 0,
                &out, &q, &kv, &kr);
  double worst = 0, largest = 0;
  bool finite = true;
  std::vector<double> p(seq), o(kPrefillValue);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < seq; ++i) {
        const uint16_t *qrow = &q[((b * seq + i) * heads + h) * kPrefillQk];
        double top = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          const uint16_t *kvrow = &kv[((b * seq + j) * heads + h) * kPrefillKv];
          const uint16_t *krow = &kr[(b * seq + j) * kPrefillRope];
          double dot = 0;
          for (int64_t c = 0; c < kPrefillQk; ++c)
            dot += double(fromBf16(qrow[c])) *
                   double(fromBf16(c < 128 ? kvrow[c] : krow[c - 128]));
          p[j] = dot * scale; // base 2
          top = std::max(top, p[j]);
        }
        double total = 0;
        for (int64_t j = 0; j <= i; ++j)
          total += (p[j] = std::exp2(p[j] - top));
        std::fill(o.begin(), o.end(), 0.0);
        for (int64_t j = 0; j <= i; ++j) {
          const uint16_t *v =
              &kv[((b * seq + j) * heads + h) * kPrefillKv + 128];
          for (int64_t c = 0; c < kPrefillValue; ++c)
            o[c] += p[j] / total * double(fromBf16(v[c]));
        }
        const uint16_t *got = &out[((b * seq + i) * heads + h) * kPrefillValue];
        for (int64_t c = 0; c < kPrefillValue; ++c) {
          finite = finite && std::isfinite(fromBf16(got[c]));
          largest = std::max(largest, std::fabs(o[c]));
          worst = std::max(worst, std::fabs(fromBf16(got[c]) - o[c]));
        }
      }
  double error = finite ? worst / std::max(largest, 1e-30) : INFINITY;
  std::fprintf(stderr,
               "[bench] MLA prefill%s check (2 x 150 tokens, 3 heads): max "
               "error %.2e of the largest output %.2e\n",
               wgmma ? " (wgmma)" : "", worst, largest);
  float ms = runMlaPrefill(gpu.fn, wgmma, shared, gpu.stream, args.batch,
                           args.context, args.heads, scale, args.reps, nullptr,
                           nullptr, nullptr, nullptr);
  // Causal: query i scores i + 1 keys.
  double pairs =
      double(args.batch) * double(args.context) * double(args.context + 1) / 2;
  double flops =
      2.0 * pairs * double(args.heads) * (kPrefillQk + kPrefillValue);
  double tokens = double(args.batch) * double(args.context);
  double bytes =
      tokens *
      (double(args.heads) * (kPrefillQk + kPrefillKv + kPrefillValue) +
       kPrefillRope) *
      2;
  std::printf("{\"kernel\":\"%s\",\"device\":\"%s\","
              "\"check_rel_error\":%.3e,\"batch\":%lld,\"heads\":%lld,"
              "\"context\":%lld,\"ms\":%.4f,\"tflops\":%.2f,\"bytes\":%.0f,"
              "\"gbps\":%.1f}\n",
              wgmma ? "mla_prefill_wgmma" : "mla_prefill", gpu.name, error,
              (long long)args.batch, (long long)args.heads,
              (long long)args.context, ms, perSecond(flops, ms) / 1e12, bytes,
              perSecond(bytes, ms) / 1e9);
  return error < 2e-2 ? 0 : 1;
}

/// DeepSeek-V3's router after its GEMM (codegen/kernels/moe_route.mlir):
/// sigmoid, the correction bias, 4 of 8 groups by their two best, top-8 of
/// 256 experts, normalised, times 2.5.
constexpr int64_t kRouteExperts = 256, kRouteGroups = 8, kRouteTopkGroup = 4,
                  kRouteTopK = 8;
constexpr float kRouteScale = 2.5f;

/// The router in double precision, as DeepSeek's code computes it: ids and
/// weights of one token.
void routeReference(const float *logits, const float *bias, int32_t *ids,
                    double *weights, std::vector<double> &score,
                    std::vector<double> &choice) {
  score.resize(kRouteExperts);
  choice.resize(kRouteExperts);
  for (int64_t e = 0; e < kRouteExperts; ++e) {
    score[e] = 1.0 / (1.0 + std::exp(-double(logits[e])));
    choice[e] = score[e] + double(bias[e]);
  }
  const int64_t size = kRouteExperts / kRouteGroups;
  std::vector<std::pair<double, int64_t>> groups;
  for (int64_t g = 0; g < kRouteGroups; ++g) {
    std::vector<double> v(choice.begin() + g * size,
                          choice.begin() + (g + 1) * size);
    std::partial_sort(v.begin(), v.begin() + 2, v.end(), std::greater<>());
    groups.push_back({v[0] + v[1], g});
  }
  // Larger first; ties to the lower index.
  auto better = [](const std::pair<double, int64_t> &a,
                   const std::pair<double, int64_t> &b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::sort(groups.begin(), groups.end(), better);
  std::vector<std::pair<double, int64_t>> experts;
  for (int64_t k = 0; k < kRouteTopkGroup; ++k)
    for (int64_t e = groups[k].second * size; e < (groups[k].second + 1) * size;
         ++e)
      experts.push_back({choice[e], e});
  std::sort(experts.begin(), experts.end(), better);
  double total = 0;
  for (int64_t k = 0; k < kRouteTopK; ++k)
    total += score[experts[k].second];
  for (int64_t k = 0; k < kRouteTopK; ++k) {
    ids[k] = int32_t(experts[k].second);
    weights[k] = score[experts[k].second] / total * kRouteScale;
  }
}

/// The router against routeReference on 4096 random tokens (ids equal,
/// weights within 1e-5), then timed on `--tokens`.
int moeRoute(const Args &args) {
  Gpu gpu = openGpu(args.ptx, "moe_route_v3");
  auto run = [&](int64_t tokens, int reps, std::vector<int32_t> *ids,
                 std::vector<float> *weights, std::vector<float> *logitsOut,
                 std::vector<float> *biasOut) {
    std::mt19937 rng(31);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> logits(tokens * kRouteExperts), bias(kRouteExperts);
    for (float &v : logits)
      v = normal(rng);
    for (float &v : bias)
      v = 0.1f * normal(rng);
    Buffer dl = upload(logits.data(), logits.size() * 4);
    Buffer db = upload(bias.data(), bias.size() * 4);
    Buffer di = upload(nullptr, tokens * kRouteTopK * 4);
    Buffer dw = upload(nullptr, tokens * kRouteTopK * 4);
    KernelArgs a;
    a.memref(dl, 4).memref(db, 4).index(tokens).index(kRouteTopkGroup);
    a.index(kRouteTopK).index(1).f32(kRouteScale).memref(di, 4).memref(dw, 4);
    float ms = timeLaunches(
        [&] {
          check(cu->cuLaunchKernel(gpu.fn, unsigned((tokens + 3) / 4), 1, 1,
                                   128, 1, 1, 0, gpu.stream, a.data(), nullptr),
                "launching moe_route_v3");
        },
        reps, gpu.stream);
    if (ids) {
      ids->resize(tokens * kRouteTopK);
      weights->resize(tokens * kRouteTopK);
      check(cu->cuMemcpyDtoH(ids->data(), di.ptr, di.bytes), "cuMemcpyDtoH");
      check(cu->cuMemcpyDtoH(weights->data(), dw.ptr, dw.bytes),
            "cuMemcpyDtoH");
      *logitsOut = logits, *biasOut = bias;
    }
    for (Buffer *b : {&dl, &db, &di, &dw})
      cu->cuMemFree(b->ptr);
    return ms;
  };
  const int64_t checked = 4096;
  std::vector<int32_t> ids;
  std::vector<float> weights, logits, bias;
  run(checked, 0, &ids, &weights, &logits, &bias);
  // The kernel chooses in f32, the reference in double: an id that differs
  // only where two choices are within 1e-6 (a few f32 steps) is a tie, not
  // an error. Weights are checked at the kernel's own ids.
  int64_t wrongIds = 0;
  double worst = 0;
  int32_t wantIds[kRouteTopK];
  double wantWeights[kRouteTopK];
  std::vector<double> score, choice;
  for (int64_t t = 0; t < checked; ++t) {
    routeReference(&logits[t * kRouteExperts], bias.data(), wantIds,
                   wantWeights, score, choice);
    const int32_t *got = &ids[t * kRouteTopK];
    double total = 0;
    for (int64_t k = 0; k < kRouteTopK; ++k) {
      if (got[k] < 0 || got[k] >= kRouteExperts) {
        wrongIds += kRouteTopK;
        total = NAN;
        break;
      }
      total += score[got[k]];
      wrongIds += got[k] != wantIds[k] &&
                  std::fabs(choice[got[k]] - choice[wantIds[k]]) > 1e-6;
    }
    for (int64_t k = 0; k < kRouteTopK && std::isfinite(total); ++k) {
      double want = score[got[k]] / total * kRouteScale;
      double w = weights[t * kRouteTopK + k];
      worst =
          std::isfinite(w) ? std::max(worst, std::fabs(w - want)) : INFINITY;
    }
    if (!std::isfinite(total))
      worst = INFINITY;
  }
  std::fprintf(
      stderr,
      "[bench] router check (%lld tokens): %lld ids differ, max weight "
      "error %.2e\n",
      (long long)checked, (long long)wrongIds, worst);
  float ms = run(args.tokens, args.reps, nullptr, nullptr, nullptr, nullptr);
  double bytes = double(args.tokens) * (kRouteExperts * 4 + kRouteTopK * 8);
  std::printf("{\"kernel\":\"moe_route_v3\",\"device\":\"%s\","
              "\"check_wrong_ids\":%lld,\"check_weight_error\":%.3e,"
              "\"tokens\":%lld,\"ms\":%.4f,\"bytes\":%.0f,\"gbps\":%.1f}\n",
              gpu.name, (long long)wrongIds, worst, (long long)args.tokens, ms,
              bytes, perSecond(bytes, ms) / 1e9);
  return wrongIds == 0 && worst < 1e-5 ? 0 : 1;
}

/// YaRN's inverse frequencies for DeepSeek-V3's config (DEEPSEEK.md): rope
/// dims 64, theta 10000, factor 40, original context 4096, beta 32 / 1.
std::vector<float> v3RopeFrequencies() {
  const double d = 64, theta = 10000, factor = 40, orig = 4096;
  auto dim = [&](double r) {
    return d * std::log(orig / (r * 2 * M_PI)) / (2 * std::log(theta));
  };
  double low = std::max(std::floor(dim(32)), 0.0);
  double high = std::min(std::ceil(dim(1)), d - 1);
  if (low == high)
    high += 0.001;
  std::vector<float> freqs(32);
  for (int i = 0; i < 32; ++i) {
    double f = std::pow(theta, -2.0 * i / d);
    double smooth = 1 - std::clamp((i - low) / (high - low), 0.0, 1.0);
    freqs[i] = float(f / factor * (1 - smooth) + f * smooth);
  }
  return freqs;
}

/// RoPE (codegen/kernels/rope_bf16.mlir) on V3's queries: `--tokens` rows
/// of 128 heads x 192, the rope slice at 128 of each head, adjacent pairs,
/// positions spread over V3's context. Every value is checked against the
/// CPU (within one bf16 rounding), then the kernel is timed.
int ropeBench(const Args &args) {
  Gpu gpu = openGpu(args.ptx, "rope_bf16");
  const int64_t heads = 128, stride = 192, offset = 128;
  const int64_t tokens = args.tokens, row = heads * stride;
  std::mt19937 rng(37);
  std::vector<uint16_t> x = randomBf16(tokens * row, rng), out(x.size());
  std::vector<int32_t> positions(tokens);
  for (int64_t t = 0; t < tokens; ++t)
    positions[t] = int32_t((t * 40) % 163840);
  std::vector<float> freqs = v3RopeFrequencies();
  Buffer dx = upload(x.data(), x.size() * 2);
  Buffer dp = upload(positions.data(), positions.size() * 4);
  Buffer df = upload(freqs.data(), freqs.size() * 4);
  KernelArgs a;
  a.memref(dx, 2).memref(dp, 4).memref(df, 4).index(heads).index(row);
  a.index(stride).index(offset).index(1).f32(1.0f);
  auto launch = [&] {
    check(cu->cuLaunchKernel(gpu.fn, unsigned(tokens), 1, 1, 256, 1, 1, 0,
                             gpu.stream, a.data(), nullptr),
          "launching rope_bf16");
  };
  timeLaunches(launch, 0, gpu.stream); // Once: rotated by each position.
  check(cu->cuMemcpyDtoH(out.data(), dx.ptr, dx.bytes), "cuMemcpyDtoH");
  double worst = 0;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < 32; ++i) {
        int64_t at = t * row + h * stride + offset + 2 * i;
        double angle = double(float(positions[t]) * freqs[i]);
        double av = fromBf16(x[at]), bv = fromBf16(x[at + 1]);
        double want[2] = {av * std::cos(angle) - bv * std::sin(angle),
                          av * std::sin(angle) + bv * std::cos(angle)};
        for (int k = 0; k < 2; ++k) {
          double got = fromBf16(out[at + k]);
          worst = std::isfinite(got)
                      ? std::max(worst, std::fabs(got - want[k]) /
                                            std::max(std::fabs(want[k]), 1e-3))
                      : INFINITY;
        }
      }
  std::fprintf(stderr, "[bench] RoPE check: max relative error %.2e\n", worst);
  float ms = timeLaunches(launch, args.reps, gpu.stream);
  // The rope slices read and written, the positions.
  double bytes = double(tokens) * (heads * 64 * 2 * 2 + 4);
  std::printf("{\"kernel\":\"rope_bf16\",\"device\":\"%s\","
              "\"check_rel_error\":%.3e,\"tokens\":%lld,\"heads\":%lld,"
              "\"ms\":%.4f,\"bytes\":%.0f,\"gbps\":%.1f}\n",
              gpu.name, worst, (long long)tokens, (long long)heads, ms, bytes,
              perSecond(bytes, ms) / 1e9);
  for (Buffer *b : {&dx, &dp, &df})
    cu->cuMemFree(b->ptr);
  // Within one bf16 step (2^-7 relative at most) of the exact rotation:
  // one rounding, and the GPU's f32 cos, sin and products.
  return worst <= 1.0 / 128 ? 0 : 1;
}

/// `value` as an FP8 e4m3 (fn) code: nearest, ties to the even code,
/// saturating at 448 (cvt.rn.satfinite); NaN to 0x7f.
uint8_t toE4m3(float value) {
  if (std::isnan(value))
    return 0x7f;
  // The finite non-negative codes 0 .. 0x7e in increasing value.
  static const std::vector<double> values = [] {
    std::vector<double> v;
    for (int code = 0; code < 0x7f; ++code)
      v.push_back(fromE4m3(uint8_t(code)));
    return v;
  }();
  double magnitude = std::min(std::fabs(double(value)), 448.0);
  size_t hi = std::lower_bound(values.begin(), values.end(), magnitude) -
              values.begin();
  size_t code = hi;
  if (hi > 0 && values[hi] != magnitude) {
    double below = magnitude - values[hi - 1], above = values[hi] - magnitude;
    code = below < above ? hi - 1 : above < below ? hi : (hi % 2 ? hi - 1 : hi);
  }
  return uint8_t(code | (std::signbit(value) ? 0x80 : 0));
}

/// Activation quantization (codegen/kernels/quant_fp8.mlir) of `--tokens`
/// rows of V3's hidden size: every code and scale against the CPU's f32
/// computation (DeepSeek's act_quant), then timed.
int quantFp8(const Args &args) {
  Gpu gpu = openGpu(args.ptx, "quant_fp8_bf16");
  const int64_t rows = args.tokens, k = args.k, groups = rows * k / 128;
  std::mt19937 rng(41);
  std::vector<uint16_t> x = randomBf16(rows * k, rng);
  for (int64_t i = 0; i < 128 && i < rows * k; ++i)
    x[i] = 0; // An all-zero group.
  Buffer dx = upload(x.data(), x.size() * 2);
  Buffer dq = upload(nullptr, rows * k);
  Buffer ds = upload(nullptr, groups * 4);
  KernelArgs a;
  a.memref(dx, 2).memref(dq, 4).memref(ds, 4).index(groups);
  auto launch = [&] {
    check(cu->cuLaunchKernel(gpu.fn, unsigned((groups + 7) / 8), 1, 1, 256, 1,
                             1, 0, gpu.stream, a.data(), nullptr),
          "launching quant_fp8_bf16");
  };
  timeLaunches(launch, 0, gpu.stream);
  std::vector<uint8_t> q(rows * k);
  std::vector<float> scales(groups);
  check(cu->cuMemcpyDtoH(q.data(), dq.ptr, q.size()), "cuMemcpyDtoH");
  check(cu->cuMemcpyDtoH(scales.data(), ds.ptr, scales.size() * 4),
        "cuMemcpyDtoH");
  int64_t wrong = 0;
  for (int64_t g = 0; g < groups; ++g) {
    float amax = 0;
    for (int64_t i = 0; i < 128; ++i)
      amax = std::max(amax, std::fabs(fromBf16(x[g * 128 + i])));
    float scale = std::max(amax, 1e-30f) / 448.0f;
    wrong += scales[g] != scale;
    for (int64_t i = 0; i < 128; ++i)
      wrong += q[g * 128 + i] != toE4m3(fromBf16(x[g * 128 + i]) / scale);
  }
  std::fprintf(stderr,
               "[bench] FP8 quantization check: %lld of %lld codes and "
               "scales differ\n",
               (long long)wrong, (long long)(rows * k + groups));
  float ms = timeLaunches(launch, args.reps, gpu.stream);
  double bytes = double(rows) * k * 3 + groups * 4.0;
  std::printf("{\"kernel\":\"quant_fp8_bf16\",\"device\":\"%s\","
              "\"check_wrong\":%lld,\"rows\":%lld,\"k\":%lld,\"ms\":%.4f,"
              "\"bytes\":%.0f,\"gbps\":%.1f}\n",
              gpu.name, (long long)wrong, (long long)rows, (long long)k, ms,
              bytes, perSecond(bytes, ms) / 1e9);
  for (Buffer *b : {&dx, &dq, &ds})
    cu->cuMemFree(b->ptr);
  return wrong == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  std::string command = argc >= 2 ? argv[1] : "";
  if (command != "grouped-gemm" && command != "add-rmsnorm" &&
      command != "moe-layer" && command != "mla-decode" &&
      command != "mla-prefill" && command != "moe-route" && command != "rope" &&
      command != "quant-fp8" && command != "head-products" &&
      command != "mlp-swiglu" && command != "linear-fp8w") {
    std::fprintf(stderr,
                 "usage: dsc-kernel-bench grouped-gemm --ptx FILE [--tokens "
                 "N] [--top-k N] [--experts N] [--n N] [--k N] [--reps N] "
                 "[--block-rows 128|64] [--swiglu] [--wgmma [--tn]] [--fp8] "
                 "[--tiled [--fp8w]]\n"
                 "       dsc-kernel-bench add-rmsnorm --ptx FILE [--tokens "
                 "ROWS] [--k HIDDEN] [--reps N]\n"
                 "       dsc-kernel-bench moe-layer --ptx GEMM.ptx "
                 "--dispatch-ptx DISPATCH.ptx [--tokens N] [--top-k N] "
                 "[--experts N] [--k HIDDEN] [--n WIDTH] [--reps N] "
                 "[--tiled [--fp8w] [--wgmma]]\n"
                 "       dsc-kernel-bench head-products --ptx FILE [--batch "
                 "ROWS] [--heads N] [--w-uv] [--fp8w] [--reps N]\n"
                 "       dsc-kernel-bench mlp-swiglu --ptx FILE [--batch ROWS] "
                 "[--n WIDTH] [--k HIDDEN] [--reps N] [--wgmma]\n"
                 "       dsc-kernel-bench linear-fp8w --ptx FILE [--batch "
                 "ROWS] [--n N] [--k K] [--reps N] [--wgmma | --split-k "
                 "BLOCKS]\n"
                 "       dsc-kernel-bench mla-decode --ptx FILE [--batch N] "
                 "[--context TOKENS] [--heads N] [--splits N] [--reps N] "
                 "[--wgmma]\n"
                 "       dsc-kernel-bench mla-prefill --ptx FILE [--batch N] "
                 "[--context TOKENS] [--heads N] [--reps N] [--wgmma]\n"
                 "       dsc-kernel-bench moe-route --ptx FILE [--tokens N] "
                 "[--reps N]\n"
                 "       dsc-kernel-bench rope --ptx FILE [--tokens N] "
                 "[--reps N]\n"
                 "       dsc-kernel-bench quant-fp8 --ptx FILE [--tokens ROWS] "
                 "[--k K] [--reps N]\n");
    return 2;
  }
  Args args;
  for (int i = 2; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--tn" || flag == "--tiled" || flag == "--w-uv" ||
        flag == "--fp8w") {
      (flag == "--tn"      ? args.tn
       : flag == "--tiled" ? args.tiled
       : flag == "--fp8w"  ? args.fp8w
                           : args.wUv) = true;
      --i;
      continue;
    }
    if (flag == "--swiglu" || flag == "--wgmma" || flag == "--fp8") {
      (flag == "--swiglu"  ? args.swiglu
       : flag == "--wgmma" ? args.wgmma
                           : args.fp8) = true;
      --i;
      continue;
    }
    if (i + 1 >= argc)
      die("flag " + flag + " needs a value");
    const char *value = argv[i + 1];
    if (flag == "--ptx")
      args.ptx = value;
    else if (flag == "--tokens")
      args.tokens = std::atoll(value);
    else if (flag == "--top-k")
      args.topK = std::atoll(value);
    else if (flag == "--experts")
      args.experts = std::atoll(value);
    else if (flag == "--n")
      args.n = std::max<int64_t>(std::atoll(value), 0); // 0 fails the checks
    else if (flag == "--k")
      args.k = std::atoll(value);
    else if (flag == "--reps")
      args.reps = std::atoi(value);
    else if (flag == "--dispatch-ptx")
      args.dispatchPtx = value;
    else if (flag == "--split-k")
      args.splitK = std::atoll(value);
    else if (flag == "--batch")
      args.batch = std::atoll(value);
    else if (flag == "--context")
      args.context = std::atoll(value);
    else if (flag == "--heads")
      args.heads = std::atoll(value);
    else if (flag == "--splits")
      args.splits = std::atoll(value);
    else if (flag == "--block-rows")
      args.blockRows = std::atoll(value);
    else
      die("unknown flag " + flag);
  }
  if (args.ptx.empty())
    die("--ptx is required");
  if (args.blockRows != 64 && args.blockRows != 128)
    die("--block-rows must be 64 or 128");
  if (args.n < 0)
    args.n = command == "mlp-swiglu"    ? 2048
             : command == "linear-fp8w" ? 18432
                                        : 4096;
  kBlockRows = args.blockRows;
  kSwiglu = args.swiglu;
  kWgmma = args.wgmma;
  kTn = args.tn;
  kFp8 = args.fp8;
  kTiled = args.tiled;
  kFp8w = args.fp8w;
  if (kTiled && command == "grouped-gemm" &&
      (kFp8 ||
       (kWgmma ? !kTn || kBlockRows != 128 : kBlockRows != 64)))
    die("--tiled is a grouped-gemm kernel with 64-row tiles (--block-rows "
        "64), or with --wgmma --tn sm_90a's with 128-row ones; no FP8 but "
        "--fp8w");
  if (kTiled && command != "grouped-gemm" && command != "moe-layer")
    die("--tiled is a flag of grouped-gemm and moe-layer (the model's "
        "routed experts)");
  if (command == "moe-layer" &&
      (kFp8 || kSwiglu || kTn || (kWgmma && !kTiled)))
    die("moe-layer takes --tiled [--fp8w], or --tiled --wgmma [--fp8w] "
        "(sm_90a's kernels); no --swiglu, --tn or --fp8");
  if (kFp8w && !kTiled && command != "head-products")
    die("--fp8w is a flag of grouped-gemm --tiled, moe-layer --tiled and "
        "head-products (e4m3 weights read as stored)");
  if (kFp8 && (kSwiglu || kBlockRows != (kWgmma ? 128 : 64) ||
               command != "grouped-gemm" || args.k % 128))
    die("--fp8 is a grouped-gemm kernel with K % 128 == 0, no SwiGLU and "
        "64-row tiles (--block-rows 64), or with --wgmma 128-row ones");
  if (kTn && (!kWgmma || kFp8))
    die("--tn picks the K-major bf16 kernels of --wgmma (the FP8 one is "
        "K-major already)");
  if (kWgmma && command != "mla-decode" && command != "mla-prefill" &&
      ((kSwiglu && !kTn) || kBlockRows != 128 ||
       (command != "grouped-gemm" && command != "moe-layer" &&
        command != "mlp-swiglu" && command != "linear-fp8w")))
    die("--wgmma is a grouped-gemm kernel with 128-row tiles (SwiGLU with "
        "--tn only), moe-layer --tiled, mlp-swiglu, linear-fp8w, or an "
        "mla-decode or mla-prefill kernel");
  if (command == "grouped-gemm" &&
      (args.n % kBlockCols || args.k % kBlockK || args.n < kBlockCols ||
       args.k < kBlockK || args.tokens < 1 || args.experts < 1 ||
       args.topK < 1))
    die("need N % 128 == 0, K % 64 == 0 and positive sizes");
  if ((command == "mla-decode" || command == "mla-prefill") &&
      (kSwiglu || kTn || args.blockRows != 128))
    die(command + " takes --wgmma but no --swiglu, --tn or --block-rows");
  if (args.batch == 0)
    args.batch = command == "mla-decode" || command == "head-products" ||
                         command == "mlp-swiglu" || command == "linear-fp8w"
                     ? 64
                     : 1;
  if (command == "mlp-swiglu" &&
      (kSwiglu || kTn || kFp8 || kTiled || args.blockRows != 128 ||
       args.batch < 1 || args.batch > kMaxBatchedRows || args.n < 1 ||
       args.n > (int64_t(1) << 20) || args.k < 8 || args.k % 8 ||
       args.k > (int64_t(1) << 20)))
    die("mlp-swiglu takes 1 to 4194240 rows (--batch), a width (--n) of 1 to "
        "2^20, K (--k) a multiple of 8 up to 2^20, and no kernel flags but "
        "--wgmma");
  if (args.splitK && (command != "linear-fp8w" || kWgmma || args.splitK < 1))
    die("--split-k BLOCKS (positive) is a flag of linear-fp8w without "
        "--wgmma");
  if (command == "linear-fp8w" &&
      (kSwiglu || kTn || kFp8 || kTiled || args.blockRows != 128 ||
       args.batch < 1 || args.batch > kMaxBatchedRows || args.n < 1 ||
       args.n > (int64_t(1) << 20) || args.k < 16 || args.k % 16 ||
       args.k > (int64_t(1) << 20)))
    die("linear-fp8w takes 1 to 4194240 rows (--batch), N (--n) of 1 to "
        "2^20, K (--k) a multiple of 16 up to 2^20, and no kernel flags but "
        "--wgmma");
  if (args.wUv && command != "head-products")
    die("--w-uv is a head-products flag");
  if (command == "head-products" &&
      (kSwiglu || kWgmma || kTn || kFp8 || kTiled || args.blockRows != 128 ||
       args.heads < 1 || args.heads > 65535 || args.batch < 1 ||
       args.batch > kMaxBatchedRows))
    die("head-products takes 1 to 65535 heads, 1 to 4194240 rows (--batch) and "
        "no kernel flags but --w-uv and --fp8w");
  if (command == "mla-decode" &&
      (args.heads < 1 || args.heads > 65535 || args.batch < 1 ||
       args.context < 1 || args.context > INT32_MAX))
    die("mla-decode needs 1 to 65535 heads, a batch of at least one and a "
        "context of 1 to 2^31 - 1 tokens");
  if ((command == "moe-route" || command == "rope" || command == "quant-fp8") &&
      (args.tokens < 1 || args.tokens > (1 << 20)))
    die(command + " needs 1 to 2^20 tokens");
  if (command == "quant-fp8" && (args.k % 128 || args.k < 128))
    die("quant-fp8 needs K, the row length, a multiple of 128");
  if (command == "mla-prefill" &&
      (args.heads < 1 || args.heads > 65535 || args.batch < 1 ||
       args.batch > 65535 || args.context < 1 || args.context > (1 << 24)))
    die("mla-prefill needs 1 to 65535 heads and sequences, and 1 to 2^24 "
        "tokens");
  // A TMA descriptor's strides are below 2^40 bytes: a sequence of kv_b's
  // rows (the widest) must fit.
  if (command == "mla-prefill" && kWgmma &&
      args.context * args.heads * kPrefillKv * 2 >= (int64_t(1) << 40))
    die("mla-prefill --wgmma needs context x heads below 2^31 (a TMA "
        "descriptor's stride limit)");
  absl::StatusOr<const CudaDriver *> driver = CudaDriver::get();
  if (!driver.ok())
    die(std::string(driver.status().message()));
  cu = *driver;
  if (command == "moe-layer") {
    if (args.dispatchPtx.empty() || args.k % 1024 || args.n % 128 ||
        args.experts > 1024 || args.topK > args.experts)
      die("moe-layer needs --dispatch-ptx, a hidden size (--k) that is a "
          "multiple of 1024, an expert width (--n) that is a multiple of "
          "128, at most 1024 experts and top-k <= experts");
    return moeLayer(args, args.dispatchPtx);
  }
  if (command == "mla-decode")
    return mlaDecode(args);
  if (command == "head-products")
    return headProducts(args);
  if (command == "mlp-swiglu")
    return mlpSwiglu(args);
  if (command == "linear-fp8w")
    return linearFp8w(args);
  if (command == "mla-prefill")
    return mlaPrefill(args);
  if (command == "moe-route")
    return moeRoute(args);
  if (command == "rope")
    return ropeBench(args);
  if (command == "quant-fp8")
    return quantFp8(args);
  if (command == "add-rmsnorm") {
    if (args.k % 4 || args.k < 4)
      die("add-rmsnorm needs a hidden size (--k) that is a multiple of 4");
    return addRmsNorm(args);
  }
  return groupedGemm(args);
}
