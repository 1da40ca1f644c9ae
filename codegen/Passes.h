//===- Passes.h - Codegen passes and pipelines ------------------*- C++ -*-===//

#ifndef DSC_CODEGEN_PASSES_H
#define DSC_CODEGEN_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <string>

// Only what the declarations need: each pass's source includes the
// dialects it builds and the ones its definition registers (a dialect's
// header, NVVM's above all, costs a translation unit tens of seconds).

namespace mlir {
class OpBuilder;
class RewritePatternSet;
namespace LLVM {
class GlobalOp;
} // namespace LLVM
namespace dsc {

#define GEN_PASS_DECL
#include "codegen/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/Passes.h.inc"

/// Marks a GEMM (a `linalg.generic`, bf16 x bf16 with f32 sums:
/// C[..., n] += A[..., k] * B[n, k]) that dsc-library-gemms runs as the
/// kernel library's tensor-core GEMM. Its contract: C holds zeros before
/// (the kernel writes C = A B^T, not C + A B^T).
inline constexpr llvm::StringLiteral kLibraryGemmAttr = "dsc.library_gemm";

/// Marks a routed experts' GEMM per slot (a `linalg.generic` over (t, j, n,
/// k): C[t, j, n] += A[t, (j,) k] * W[e, n, k], e = indices[t, j] clamped
/// to the stack, W a bf16 [experts, N, K] stack read in the body) that
/// dsc-library-gemms runs as the kernel library's dispatch and grouped
/// GEMM. The same contract: C holds zeros before. For an e4m3 stack with
/// block scales S [experts, ceil(N / blockN), ceil(K / blockK)] the mark's
/// value is the block size [blockN, blockK] and the body's weight is
/// bf16(decode(W[e, n, k]) * S[e, n / blockN, k / blockK]) (the contract:
/// decoded as TensorMath does), which the library's e4m3 kernels compute.
inline constexpr llvm::StringLiteral kLibraryGroupedGemmAttr =
    "dsc.library_grouped_gemm";

/// Marks the SwiGLU between marked gate and up GEMMs and their down
/// projection (a `linalg.generic`, elementwise:
/// act = bf16(g / (1 + exp(-g)) * u), g and u the gate's and up's f32 sums,
/// act the down projection's bf16 input): a routed layer's (act per slot)
/// or a linear layer's (a dense MLP, a shared expert). dsc-library-gemms
/// fuses it with those two GEMMs into the kernel library's grouped or
/// batched GEMM with SwiGLU when nothing else reads their sums; otherwise
/// it stays generated.
inline constexpr llvm::StringLiteral kLibrarySwigluAttr = "dsc.library_swiglu";

/// Marks the weighted combine after a routed layer's marked down GEMM (a
/// `linalg.generic` over (t, d, j): y[t, d] += w[t, j] * c[t, j, d], c the
/// down GEMM's f32 result per slot, w the routing weights, y zeros
/// before). dsc-library-gemms lets it read the GEMM's expert-ordered rows
/// through each slot's row (no scatter of c) when nothing else reads c.
inline constexpr llvm::StringLiteral kLibraryCombineAttr = "dsc.library_combine";

/// Marks the dequantization of a block-scaled e4m3 weight for a marked
/// GEMM (a `linalg.generic` over (n, kb, ki): W[n, kb, ki] =
/// bf16(decode(B[n, kb, ki]) * S[n floordiv blockN, kb]), the weight
/// [N, K] and its bf16 result seen as [N, K / blockK, blockK]), its value
/// the block size [blockN, blockK]. Its contract: it computes what
/// TensorMath::dequantizeByBlocks does. dsc-library-gemms has a GEMM of few
/// rows read B and S itself (the kernel library's GEMM for e4m3 weights,
/// the same values) instead of this op's result.
inline constexpr llvm::StringLiteral kLibraryDequantizeAttr =
    "dsc.library_dequantize";

/// Marks a per-head product of the absorbed attention (a `linalg.generic`
/// over (..., h, n, k): C[..., h, n] += A[..., h, k] * W[h, n, k], or
/// W[h, k, n]; A and W bf16, C f32), q_nope times W_UK or the attention's
/// latent output times W_UV, that dsc-library-gemms runs as the kernel
/// library's batched GEMM with the heads as batches, W read where it lies
/// (a slab of kv_b). The same contract: C holds zeros before.
inline constexpr llvm::StringLiteral kLibraryBatchedGemmAttr =
    "dsc.library_batched_gemm";

/// Marks an external function (a `func.func` declaration the runtime
/// provides) that reads only the metadata of its buffer arguments (their
/// addresses, sizes and strides), never their elements, and writes none of
/// them: dsc-check-graph-capture lets a CUDA graph record the host code
/// that calls it. The runtime must keep what it returns valid for as long
/// as a graph may replay it (the TMA descriptors of the
/// dsc_gpu_tensor_map_* functions).
inline constexpr llvm::StringLiteral kMetadataOnlyAttr = "dsc.metadata_only";

/// Marks a function that dsc-parallelize-contractions made to run a
/// contraction's output columns through the runtime's parallel-for hook;
/// its value is the grain (ranges start at its multiples).
/// dsc-lower-parallel-calls lowers it.
inline constexpr llvm::StringLiteral kParallelForAttr = "dsc.parallel_for";

/// Marks a function of column ranges (`@columns_N(args..., begin, end)`),
/// so that a second dsc-parallelize-contractions leaves it alone;
/// dsc-lower-parallel-calls drops it.
inline constexpr llvm::StringLiteral kParallelColumnsAttr =
    "dsc.parallel_columns";

/// Whether `op` carries one of the marks above (`dsc.library_*`):
/// dsc-library-gemms matches its form, which other passes keep.
inline bool hasLibraryMark(Operation *op) {
  return llvm::any_of(op->getDiscardableAttrs(), [](NamedAttribute attr) {
    return attr.getName().strref().starts_with("dsc.library_");
  });
}

/// Adds at `b`'s insertion point an exported, writable pointer global
/// `name` (a hook the runtime may repoint, as dsc-allocation-hooks' and
/// dsc-lower-parallel-calls' are), initialized to what `initial` builds in
/// its initializer region (an address, or null). Leaves `b` after it.
LLVM::GlobalOp createHookGlobal(OpBuilder &b, Location loc,
                                llvm::StringRef name,
                                llvm::function_ref<Value(OpBuilder &)> initial);

/// Adds the dsc op decompositions to `patterns`, as dsc-lower-to-linalg
/// with `options` runs them: `plainAttention` (dsc.mla as the plain causal
/// attention the frontends produce), `fixedShapes` (sizes from shapes
/// only), `bf16LinearInputs` (linear layers and routed experts with bf16
/// weights as tensor-core GEMMs: inputs rounded to bf16, the GEMMs marked
/// with kLibraryGemmAttr or, per slot with `fixedShapes`,
/// kLibraryGroupedGemmAttr), `libraryAttention` (decode attention as
/// dsc.paged_mla_decode and a prompt's as dsc.causal_mla_prefill where the
/// library has their widths), `libraryRouter` (a V3 router as
/// dsc.noaux_tc_route where the library has its expert and group counts),
/// `libraryNorm` (f32 RMSNorms as dsc.rms_norm_rows and
/// dsc.add_rms_norm_rows).
void populateDscToLinalgPatterns(RewritePatternSet &patterns,
                                 const DscLowerToLinalgOptions &options = {});

/// The tokens per page of the KV cache that the kernel library's MLA
/// decode kernels read.
inline constexpr int64_t kLibraryMlaPageSize = 64;

/// Whether the kernel library has MLA decode kernels for latent width
/// `latent` (kv_lora_rank) and rope width `rope`.
bool libraryHasMlaDecode(int64_t latent, int64_t rope);

/// Whether the kernel library has an MLA prefill kernel for no-rope width
/// `nope` (qk_nope_head_dim), rope width `rope` and value width `value`.
bool libraryHasMlaPrefill(int64_t nope, int64_t rope, int64_t value);

/// Whether the kernel library has a router (moe_route) for `experts` routed
/// experts in `groups` groups.
bool libraryHasMoeRoute(int64_t experts, int64_t groups);

/// Options of the lowering pipelines.
/// The blocks of 128-row tiles a linear layer's GEMM must make for sm_90a
/// to take that tile: two waves on an H100's or H200's 132 SMs.
inline constexpr int64_t kLargeTileBlocks = 2 * 132;

/// The x86-64 level host code gets by default: dsc-compile's
/// (kDefaultHostCpu in runtime/support/HostCpu.h, which Pipelines.cpp
/// checks it equals).
inline constexpr const char kDefaultHostLevel[] = "x86-64-v3";

struct CodegenOptions {
  /// NVIDIA target for the GPU pipeline, e.g. "sm_80" or "sm_90a".
  std::string chip = "sm_90a";
  /// For the CPU pipeline: decompose with the GPU's fixed-shape forms
  /// (dsc-lower-to-linalg{fixed-shapes}), so that the forms a GPU runs are
  /// checked against the CPU references. The GPU pipeline always uses them.
  bool fixedShapes = false;
  /// For the CPU pipeline: linear layers with bf16 weights round their
  /// inputs to bf16, as the GPU's tensor-core GEMMs do
  /// (dsc-lower-to-linalg{bf16-linear-inputs}), so that the GPU's numerics
  /// are checked against the CPU references. The GPU pipeline always does.
  bool bf16LinearInputs = false;
  /// For the CPU pipeline: which linear weights are bound as bf16
  /// (dsc-bf16-linear-weights; bf16LinearInputs implies Bf16).
  enum class CpuWeights {
    /// Every weight as f32.
    F32,
    /// The ones the checkpoint stores as BF16 (the module's
    /// `dsc.bf16_stored`): the same values in half the bytes.
    Stored,
    /// Every linear weight, rounded to bf16 from another type.
    Bf16,
  };
  CpuWeights cpuWeights = CpuWeights::Stored;
  /// For the CPU pipeline, with Stored or Bf16: the embedding table (and a
  /// head tied to it) bf16 too (dsc-bf16-linear-weights{embedding-tables}).
  /// dsc-compile turns it off for --embed-weights: sections are f32, and the
  /// runtime would narrow the whole table into memory of its own, where it
  /// reads the f32 section in place and a gather touches only its rows.
  bool embeddingTablesBf16 = true;
  /// For sm_90a: the blocks of 128-row tiles a linear layer's GEMM must
  /// make to take that tile, wgmma fed by TMA (dsc-library-gemms'
  /// large-tile-blocks, whose default in Passes.td is the same).
  int64_t largeTileBlocks = kLargeTileBlocks;
  /// The blocks below which a linear layer's 64-row GEMM splits its K
  /// (dsc-library-gemms' split-k-blocks; 0 splits none); negative: the
  /// chip's SMs (splitKBlocksFor).
  int64_t splitKBlocks = -1;
  /// For the CPU pipeline: the multiply-adds from which a contraction's
  /// columns are split among the runtime's threads
  /// (dsc-parallelize-contractions' min-multiply-adds); negative: none is.
  int64_t parallelMinMultiplyAdds = 131072;
  /// For the CPU pipeline: the cache blocks of the GEMMs in dot form
  /// (dsc-vectorize-contractions' block-k and block-bytes).
  int64_t gemmBlockK = DscVectorizeContractionsOptions().blockK;
  int64_t gemmBlockBytes = DscVectorizeContractionsOptions().blockBytes;
  /// For the CPU pipeline: the x86-64 level the host code is compiled for
  /// (runtime/support/HostCpu.h), which sets the GEMMs' register tiles
  /// (cpuGemmTiles).
  std::string hostCpu = kDefaultHostLevel;
};

/// The register tiles of the CPU's GEMMs (dsc-vectorize-contractions) for
/// x86-64 level `hostCpu`: with AVX-512 (x86-64-v4), 16 lanes and 4 x 4
/// tiles, 16 of its 32 vector registers accumulating; below, 8 lanes and
/// 4 x 2 tiles (with AVX2, 8 of its 16 registers); x86-64-v4-bf16 as -v4,
/// its bf16 x bf16 GEMMs on AVX512_BF16's dot products (bf16-dot). The
/// other options keep their defaults.
DscVectorizeContractionsOptions cpuGemmTiles(llvm::StringRef hostCpu);

/// The k a step of `tiles`' dot form takes at most, which a cache block's
/// depth must be a multiple of: the lanes, twice that with bf16-dot.
inline int64_t cpuGemmKStep(const DscVectorizeContractionsOptions &tiles) {
  return tiles.bf16Dot ? 2 * tiles.lanes : tiles.lanes;
}

/// The SMs of `chip`'s usual card, the blocks a split K aims at: an H100's
/// or H200's 132 for sm_90a, an A100's 108 otherwise.
inline int64_t splitKBlocksFor(llvm::StringRef chip) {
  return chip == "sm_90a" ? 132 : 108;
}

/// Graph (dsc + linalg on tensors) to the LLVM dialect for the host CPU:
/// decomposition, bufferization, loops, LLVM, packed entry points.
void buildCpuPipeline(OpPassManager &pm, const CodegenOptions &options = {});

/// Graph to GPU kernels for `options.chip`: decomposition, bufferization,
/// parallel loops mapped to GPU blocks and threads, outlined kernels
/// serialized to PTX (`gpu.binary`).
void buildNvvmPipeline(OpPassManager &pm, const CodegenOptions &options);

/// Registers the passes and the named pipelines (`dsc-lower-to-cpu`,
/// `dsc-lower-to-nvvm`).
void registerCodegenPipelines();

} // namespace dsc
} // namespace mlir

#endif // DSC_CODEGEN_PASSES_H
