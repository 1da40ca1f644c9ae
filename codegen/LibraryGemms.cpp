//===- LibraryGemms.cpp - GEMMs and decode attention on the library -------===//
//
// A linear layer's GEMM on a GPU, as generated code, is a loop nest with one
// thread per output and a sequential sum: no tensor cores, no reuse through
// shared memory. The kernel library's grouped GEMM (mma.sync, a cp.async
// ring, ldmatrix from swizzled rows) takes any M and N: a linear layer is
// one batch of its batched form (which also runs the attention's per-head
// products), and the routed experts' GEMMs are its grouped form behind the
// library's MoE dispatch (moe_align, moe_tiles).
// dsc-library-gemms swaps the marked generics for those launches,
// dsc.paged_mla_decode (decode attention) for the library's MLA decode,
// dsc.causal_mla_prefill (a prompt's attention) for its MLA prefill and
// dsc.noaux_tc_route (V3's router) for its moe_route, dsc.rms_norm_rows and
// dsc.add_rms_norm_rows for its RMSNorm kernels; everything else about the
// step stays as generated.
// dsc-bf16-linear-weights, before it, gives those GEMMs their weights in
// bf16, the kernel's operand type (and half the bytes).
//
//===----------------------------------------------------------------------===//

#include "codegen/Buffers.h"
#include "codegen/KvCacheIndexing.h"
#include "codegen/Passes.h"
#include "codegen/SplitKRule.h"

#include "codegen/AddRmsNormBf16.inc"
#include "codegen/GroupedGemmBf16.inc"
#include "codegen/GroupedGemmWgmmaTn.inc"
#include "codegen/MlaDecodeBf16.inc"
#include "codegen/MlaDecodeBf16C32R8.inc"
#include "codegen/MlaDecodeWgmma.inc"
#include "codegen/MlaPrefillBf16.inc"
#include "codegen/MlaPrefillBf16N16R8V16.inc"
#include "codegen/MlaPrefillWgmma.inc"
#include "codegen/MoeDispatch.inc"
#include "codegen/MoeRoute.inc"
#include "codegen/MoeRouteE16G4.inc"
#include "codegen/RmsNormF32.inc"

#include "dialects/dsc/DscOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

#include <array>

#define DEBUG_TYPE "dsc-library-gemms"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCBF16LINEARWEIGHTS
#define GEN_PASS_DEF_DSCLIBRARYGEMMS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

/// A kernel library file that dsc carries: its source text (embedded by
/// cmake/EmbedText.cmake), its path for diagnostics and its gpu.module.
struct LibraryFile {
  const char *text;
  StringLiteral path, module;
};
constexpr LibraryFile kGemmFile = {kGroupedGemmBf16Source,
                                   "codegen/kernels/grouped_gemm_bf16.mlir",
                                   "dsc_grouped_gemm"};
constexpr LibraryFile kWgmmaGemmFile = {
    kGroupedGemmWgmmaTnSource, "codegen/kernels/grouped_gemm_wgmma_tn.mlir",
    "dsc_grouped_gemm_wgmma_tn"};
constexpr LibraryFile kDispatchFile = {kMoeDispatchSource,
                                       "codegen/kernels/moe_dispatch.mlir",
                                       "dsc_moe_dispatch"};

constexpr LibraryFile kMlaDecodeFile = {kMlaDecodeBf16Source,
                                        "codegen/kernels/mla_decode_bf16.mlir",
                                        "dsc_mla_decode"};
constexpr LibraryFile kMlaDecodeNarrowFile = {
    kMlaDecodeBf16C32R8Source, "codegen/kernels/mla_decode_bf16_c32_r8.mlir",
    "dsc_mla_decode_c32_r8"};
constexpr LibraryFile kMlaDecodeWgmmaFile = {
    kMlaDecodeWgmmaSource, "codegen/kernels/mla_decode_wgmma.mlir",
    "dsc_mla_decode_wgmma"};

constexpr LibraryFile kMlaPrefillFile = {
    kMlaPrefillBf16Source, "codegen/kernels/mla_prefill_bf16.mlir",
    "dsc_mla_prefill"};
constexpr LibraryFile kMlaPrefillWgmmaFile = {
    kMlaPrefillWgmmaSource, "codegen/kernels/mla_prefill_wgmma.mlir",
    "dsc_mla_prefill_wgmma"};
constexpr LibraryFile kMlaPrefillNarrowFile = {
    kMlaPrefillBf16N16R8V16Source,
    "codegen/kernels/mla_prefill_bf16_n16_r8_v16.mlir",
    "dsc_mla_prefill_n16_r8_v16"};

constexpr LibraryFile kMoeRouteFile = {
    kMoeRouteSource, "codegen/kernels/moe_route.mlir", "dsc_moe_route"};
constexpr LibraryFile kMoeRouteSmallFile = {
    kMoeRouteE16G4Source, "codegen/kernels/moe_route_e16_g4.mlir",
    "dsc_moe_route_e16_g4"};

/// A kernel of a library file.
struct LibrarySource {
  const LibraryFile &file;
  StringLiteral kernel;
};

constexpr LibraryFile kRmsNormF32File = {
    kRmsNormF32Source, "codegen/kernels/rmsnorm_f32.mlir", "dsc_rmsnorm_f32"};
constexpr LibraryFile kRmsNormBf16File = {
    kAddRmsNormBf16Source, "codegen/kernels/add_rmsnorm_bf16.mlir",
    "dsc_add_rmsnorm"};

/// The library's RMSNorm kernel for rows of `eltType` (f32 or bf16), with
/// the residual add fused (`withResidual`) or alone (gen_rmsnorm.py).
/// With f32 rows, `normedType` bf16 picks the kernels that store the
/// normed rows as bf16 (add_rmsnorm_f32_bf16, rmsnorm_f32_bf16).
LibrarySource rmsNormKernel(Type eltType, Type normedType, bool withResidual) {
  if (eltType.isF32() && normedType.isBF16())
    return withResidual ? LibrarySource{kRmsNormF32File, "add_rmsnorm_f32_bf16"}
                        : LibrarySource{kRmsNormF32File, "rmsnorm_f32_bf16"};
  if (eltType.isF32())
    return withResidual ? LibrarySource{kRmsNormF32File, "add_rmsnorm_f32"}
                        : LibrarySource{kRmsNormF32File, "rmsnorm_f32"};
  return withResidual ? LibrarySource{kRmsNormBf16File, "add_rmsnorm_bf16"}
                      : LibrarySource{kRmsNormBf16File, "rmsnorm_bf16"};
}

/// The library's MLA decode kernels for one latent and rope width
/// (gen_mla_decode.py): DeepSeek's models' (V2, V2-Lite, V3) and the test
/// fixtures'. `wgmma`, where the library has one (an empty kernel name
/// where not), is sm_90a's decode on TMA and wgmma
/// (gen_mla_decode_wgmma.py): it writes what `decode` writes, for the same
/// `combine`.
struct MlaDecodeVariant {
  int64_t latent, rope;
  LibrarySource decode, combine, wgmma;
};
constexpr MlaDecodeVariant kMlaDecodeVariants[] = {
    {512,
     64,
     {kMlaDecodeFile, "mla_decode_bf16"},
     {kMlaDecodeFile, "mla_decode_combine"},
     {kMlaDecodeWgmmaFile, "mla_decode_wgmma_bf16"}},
    {32,
     8,
     {kMlaDecodeNarrowFile, "mla_decode_bf16_c32_r8"},
     {kMlaDecodeNarrowFile, "mla_decode_combine_c32_r8"},
     {kMlaDecodeNarrowFile, ""}},
};

const MlaDecodeVariant *mlaDecodeVariant(int64_t latent, int64_t rope) {
  for (const MlaDecodeVariant &v : kMlaDecodeVariants)
    if (v.latent == latent && v.rope == rope)
      return &v;
  return nullptr;
}
/// The library's MLA prefill kernel for one no-rope, rope and value width
/// (gen_mla_prefill.py): DeepSeek's models' and the test fixtures'.
/// `wgmma`, where the library has one (an empty kernel name where not), is
/// sm_90a's on TMA and wgmma (gen_mla_prefill_wgmma.py), which writes what
/// `kernel` writes.
struct MlaPrefillVariant {
  int64_t nope, rope, value;
  LibrarySource kernel, wgmma;
};
constexpr MlaPrefillVariant kMlaPrefillVariants[] = {
    {128,
     64,
     128,
     {kMlaPrefillFile, "mla_prefill_bf16"},
     {kMlaPrefillWgmmaFile, "mla_prefill_wgmma_bf16"}},
    {16,
     8,
     16,
     {kMlaPrefillNarrowFile, "mla_prefill_bf16_n16_r8_v16"},
     {kMlaPrefillNarrowFile, ""}},
};

const MlaPrefillVariant *mlaPrefillVariant(int64_t nope, int64_t rope,
                                           int64_t value) {
  for (const MlaPrefillVariant &v : kMlaPrefillVariants)
    if (v.nope == nope && v.rope == rope && v.value == value)
      return &v;
  return nullptr;
}

/// The library's router for one expert and group count (gen_moe_route.py):
/// DeepSeek-V3's and the test fixtures'.
struct MoeRouteVariant {
  int64_t experts, groups;
  LibrarySource kernel;
};
constexpr MoeRouteVariant kMoeRouteVariants[] = {
    {256, 8, {kMoeRouteFile, "moe_route_v3"}},
    {16, 4, {kMoeRouteSmallFile, "moe_route_v3_e16_g4"}},
};

const MoeRouteVariant *moeRouteVariant(int64_t experts, int64_t groups) {
  for (const MoeRouteVariant &v : kMoeRouteVariants)
    if (v.experts == experts && v.groups == groups)
      return &v;
  return nullptr;
}

// The decode kernel's blocks per launch to aim for when choosing the
// splits of the tokens: two waves on an H100/H200 (132 SMs; one block
// fills an SM's shared memory at DeepSeek's widths). More splits only add
// partial outputs to combine.
constexpr int64_t kMlaTargetBlocks = 2 * 132;
// gen_grouped_gemm.py's 64-row tile of C per block of 4 warps, its batched
// form: the heads as batches and strided operands, B given N x K. It runs
// a linear layer (one batch) and W_UV's per-head product. Its launch (tile,
// threads, shared memory) is read from the kernel's attributes, so that the
// generator states it once.
constexpr LibrarySource kGemmKernel = {kGemmFile, "batched_gemm_bf16_tn_m64"};
// Its 128-row tile (8 warps, 128 KiB of shared memory): twice the reuse of
// each B tile, for a GEMM with rows enough to fill the GPU with such
// blocks (a prefill's).
constexpr LibrarySource kLargeGemmKernel = {kGemmFile, "batched_gemm_bf16_tn"};
// The same tile on sm_90a's own path: wgmma fed by TMA through an mbarrier
// ring (gen_grouped_gemm_wgmma_tn.py's dense form), B read K-major as
// stored. Its TMA descriptors come from the runtime (kTensorMapFunction).
constexpr LibrarySource kWgmmaGemmKernel = {kWgmmaGemmFile,
                                            "gemm_wgmma_bf16_tn"};
// Its SwiGLU form, gate and up weights read as stored through 64-row boxes
// (a dense MLP's or a shared expert's, when the rows are many).
constexpr LibrarySource kWgmmaSwigluGemmKernel = {kWgmmaGemmFile,
                                                  "gemm_wgmma_swiglu_bf16_tn"};
// The runtime function that returns the TMA descriptor of a bf16 matrix
// (a memref [rows, cols] with any offset and row stride) for boxes of the
// given rows and columns, with the 128-byte swizzle and zeros past the
// matrix, in device memory it keeps: `void *dsc_gpu_tensor_map_bf16(
// <memref [?, ?] expanded>, index boxRows, index boxCols)`. It reads the
// memref's address, offset, sizes and strides only (kMetadataOnlyAttr), so
// a CUDA graph may record the step that calls it.
constexpr StringLiteral kTensorMapFunction = "dsc_gpu_tensor_map_bf16";
// The same for a tensor of rank 3, [d0, d1, d2] in boxes of [b0, b1, b2]
// (the MLA prefill's, whose boxes stay within one sequence).
constexpr StringLiteral kTensorMap3dFunction = "dsc_gpu_tensor_map_3d_bf16";
// The same for a matrix of e4m3 weights, unswizzled: for the kernels that
// convert its bytes to bf16 tiles themselves (the `_fp8w_` wgmma GEMMs). A
// kernel that hands e4m3 tiles to wgmma itself (grouped_gemm_fp8_wgmma,
// which no pass launches) needs them swizzled: another function.
constexpr StringLiteral kTensorMapE4m3Function = "dsc_gpu_tensor_map_e4m3";
// The same tile over the M tiles moe_tiles lists (the routed experts).
constexpr LibrarySource kTiledGemmKernel = {kGemmFile,
                                            "grouped_gemm_bf16_tn_m64_tiled"};
// Both on sm_90a's own path (wgmma fed by TMA, 128-row tiles): the
// routed experts of bf16 stacks; and those of e4m3 stacks with block
// scales, whose bytes each K step turns into the bf16 tile wgmma reads.
constexpr LibrarySource kWgmmaTiledGemmKernel = {
    kWgmmaGemmFile, "grouped_gemm_wgmma_bf16_tn_tiled"};
constexpr LibrarySource kWgmmaTiledSwigluKernel = {
    kWgmmaGemmFile, "grouped_gemm_wgmma_swiglu_bf16_tn_tiled"};
constexpr LibrarySource kWgmmaFp8wTiledGemmKernel = {
    kWgmmaGemmFile, "grouped_gemm_wgmma_fp8w_bf16_tn_tiled"};
constexpr LibrarySource kWgmmaFp8wTiledSwigluKernel = {
    kWgmmaGemmFile, "grouped_gemm_wgmma_swiglu_fp8w_bf16_tn_tiled"};
// Their dense forms: sm_90a's FP8 linear layers (and fused MLPs) of more
// rows than the 64-row e4m3 kernels take, the weights converted per K step
// instead of dequantized to memory first.
constexpr LibrarySource kWgmmaFp8wGemmKernel = {kWgmmaGemmFile,
                                                "gemm_wgmma_fp8w_bf16_tn"};
constexpr LibrarySource kWgmmaFp8wSwigluKernel = {
    kWgmmaGemmFile, "gemm_wgmma_swiglu_fp8w_bf16_tn"};
// Its gate and up with SwiGLU fused (one batch: a dense MLP's or a shared
// expert's), writing the SwiGLU's bf16 result.
constexpr LibrarySource kSwigluGemmKernel = {kGemmFile,
                                             "batched_gemm_swiglu_bf16_tn_m64"};
// The same over the gate and up stacks with SwiGLU fused: the routed
// experts' activations in expert order, the down GEMM's rows.
constexpr LibrarySource kTiledSwigluKernel = {
    kGemmFile, "grouped_gemm_swiglu_bf16_tn_m64_tiled"};
// The same with B given K x N, read with ldmatrix.trans (W_UK's per-head
// product).
constexpr LibrarySource kGemmByKKernel = {kGemmFile,
                                          "batched_gemm_bf16_nn_m64"};
// The per-head products over an FP8 kv_b (e4m3 with block scales): each
// head's slab of W_UV (N x K) and of W_UK (K x N) read as stored and
// dequantized to bf16 in shared memory per K step.
constexpr LibrarySource kFp8wHeadsKernel = {kGemmFile,
                                            "batched_gemm_fp8w_bf16_tn_m64"};
constexpr LibrarySource kFp8wHeadsByKKernel = {kGemmFile,
                                               "batched_gemm_fp8w_bf16_nn_m64"};
// The 64-row GEMM for a B in e4m3 with block scales, read as stored and
// dequantized to bf16 in shared memory per K step (one batch), and its
// SwiGLU form: an FP8 checkpoint's linear layers.
constexpr LibrarySource kFp8wGemmKernel = {kGemmFile, "gemm_fp8w_bf16_tn_m64"};
constexpr LibrarySource kFp8wSwigluKernel = {kGemmFile,
                                             "gemm_swiglu_fp8w_bf16_tn_m64"};
// The routed experts' tiled GEMMs (plain and with SwiGLU) for e4m3 stacks
// with block scales (an FP8 checkpoint's experts), the weights read as
// stored: whatever the rows, each expert's tiles read only its weights.
constexpr LibrarySource kFp8wTiledGemmKernel = {
    kGemmFile, "grouped_gemm_fp8w_bf16_tn_m64_tiled"};
constexpr LibrarySource kFp8wTiledSwigluKernel = {
    kGemmFile, "grouped_gemm_swiglu_fp8w_bf16_tn_m64_tiled"};
// Slots to expert-sorted rows, and those rows to M tiles; one block each.
constexpr LibrarySource kAlignKernel = {kDispatchFile, "moe_align"};
constexpr LibrarySource kTilesKernel = {kDispatchFile, "moe_tiles"};
// moe_align counts each expert's slots in shared memory, one counter per
// expert.
constexpr int64_t kAlignMaxExperts = 1024;
// cp.async moves 16 bytes: every row of A and B must start 16-byte aligned.
constexpr int64_t kKMultiple = 8;

/// A marked GEMM's B, dequantized from an e4m3 weight for that GEMM alone
/// (kLibraryDequantizeAttr, matchDequantized), or for the per-head products
/// that share it (matchSharedDequantized): the op, the weight [N, K] and
/// its scales as stored, the block size, and B's allocation with its views
/// (users first) and dealloc, which only the op and the GEMMs use (all in
/// the GEMMs' block, so that they can move to where the dequantization
/// runs).
struct Dequantized {
  linalg::GenericOp op;
  Value weight, scales;
  int64_t blockN, blockK;
  memref::AllocOp alloc;
  SmallVector<Operation *> views;
  memref::DeallocOp dealloc;
};

/// A marked SwiGLU (kLibrarySwigluAttr) on buffers:
/// act = bf16(silu(gate) * up) elementwise, gate and up f32.
struct Swiglu {
  linalg::GenericOp op;
  Value gate, up, act;
};

/// The operands of a marked GEMM the kernel can run, or why it cannot; and
/// whether its B is a dequantized e4m3 weight.
struct Gemm {
  Value a, b, c;
  int64_t n, k;
  std::optional<Dequantized> dequantized;
};

/// The product of a body `yield acc + x * y` (acc the output's block
/// argument, the third, on either side of the add); null when it is not
/// that.
arith::MulFOp accumulatedProduct(Block &body) {
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  Value acc = body.getArgument(2);
  Value product = !add                  ? Value()
                  : add.getRhs() == acc ? add.getLhs()
                  : add.getLhs() == acc ? add.getRhs()
                                        : Value();
  return product ? product.getDefiningOp<arith::MulFOp>() : nullptr;
}

/// x and y of a GEMM body `yield acc + extf(x) * extf(y)`; nulls when it is
/// not that.
std::pair<Value, Value> multipliedValues(Block &body) {
  arith::MulFOp mul = accumulatedProduct(body);
  auto extended = [](Value v) {
    auto ext = v.getDefiningOp<arith::ExtFOp>();
    return ext ? ext.getIn() : Value();
  };
  if (!mul)
    return {};
  return {extended(mul.getLhs()), extended(mul.getRhs())};
}

/// A matcher's refusal: `reason` recorded in `why`.
LogicalResult refuse(std::string &why, const Twine &reason) {
  why = reason.str();
  return failure();
}

/// Whether `op` has the operands of a marked GEMM: two input buffers and
/// one output buffer (the pass checks this before any matcher).
bool isGemmOnBuffers(linalg::GenericOp op) {
  return op.hasPureBufferSemantics() && op.getNumDpsInputs() == 2 &&
         op.getNumDpsInits() == 1;
}

FailureOr<Gemm> matchGemm(linalg::GenericOp op, std::string &why) {
  Gemm gemm{
      op.getDpsInputs()[0], op.getDpsInputs()[1], op.getDpsInits()[0], 0, 0,
      std::nullopt};
  auto aType = cast<MemRefType>(gemm.a.getType());
  auto bType = cast<MemRefType>(gemm.b.getType());
  auto cType = cast<MemRefType>(gemm.c.getType());
  if (!aType.getElementType().isBF16() || !bType.getElementType().isBF16() ||
      !cType.getElementType().isF32())
    return refuse(why, "operands are not bf16 x bf16 -> f32");
  unsigned rank = aType.getRank();
  if (bType.getRank() != 2 || rank < 2 || cType.getRank() != rank ||
      bType.isDynamicDim(0) || bType.isDynamicDim(1))
    return refuse(
        why, "shapes are not [..., K] x [N, K] -> [..., N] with N, K known");
  gemm.n = bType.getDimSize(0);
  gemm.k = bType.getDimSize(1);
  // The loops: A's leading dims, then n, then the reduction k.
  MLIRContext *ctx = op.getContext();
  unsigned numLoops = rank + 1;
  SmallVector<AffineExpr> lead;
  for (unsigned d = 0; d + 1 < rank; ++d)
    lead.push_back(getAffineDimExpr(d, ctx));
  AffineExpr n = getAffineDimExpr(rank - 1, ctx),
             k = getAffineDimExpr(rank, ctx);
  auto with = [&](AffineExpr last) {
    SmallVector<AffineExpr> exprs(lead);
    exprs.push_back(last);
    return AffineMap::get(numLoops, 0, exprs, ctx);
  };
  SmallVector<AffineMap> want = {
      with(k), AffineMap::get(numLoops, 0, {n, k}, ctx), with(n)};
  if (op.getIndexingMapsArray() != want || op.getNumReductionLoops() != 1 ||
      op.getIteratorTypesArray().back() != utils::IteratorType::reduction)
    return refuse(why, "indexing is not C[..., n] += A[..., k] * B[n, k]");
  // The body: acc + extf(a) * extf(b).
  Block &body = op.getRegion().front();
  auto [x, y] = multipliedValues(body);
  if (x != body.getArgument(0) || y != body.getArgument(1) ||
      body.getOperations().size() != 5)
    return refuse(why, "its body is not acc + extf(a) * extf(b)");
  if (aType.getDimSize(rank - 1) != gemm.k ||
      cType.getDimSize(rank - 1) != gemm.n)
    return refuse(why, "A's or C's last dimension differs from B's");
  if (gemm.k % kKMultiple != 0)
    return refuse(why, "K = " + Twine(gemm.k) + " is not a multiple of " +
                           Twine(kKMultiple) +
                           " (rows must start 16-byte aligned)");
  if (!aType.getLayout().isIdentity() || !bType.getLayout().isIdentity() ||
      !cType.getLayout().isIdentity())
    return refuse(why, "an operand is not a contiguous row-major buffer");
  return gemm;
}

/// A library kernel in the module and its launch configuration (tile and
/// dynamic shared memory 0 where the kernel states none).
struct LibraryKernel {
  gpu::GPUFuncOp fn;
  int64_t threads = 0, tileM = 0, tileN = 0, sharedBytes = 0;
  /// The box of the TMA descriptors it takes first (rows x columns, or
  /// three sizes, outermost first); empty for a kernel that takes none.
  SmallVector<int64_t, 3> tmaBox;
};

/// The library kernel `source` in `module`, parsed from the source dsc was
/// built with: its module joins `module` with the kernels launched only.
FailureOr<LibraryKernel> libraryKernel(ModuleOp module,
                                       const LibrarySource &source) {
  const LibraryFile &file = source.file;
  auto existing = module.lookupSymbol<gpu::GPUModuleOp>(file.module);
  auto fn = existing ? existing.lookupSymbol<gpu::GPUFuncOp>(source.kernel)
                     : gpu::GPUFuncOp();
  if (!fn) {
    ParserConfig config(module.getContext());
    OwningOpRef<ModuleOp> parsed =
        parseSourceString<ModuleOp>(file.text, config, file.path);
    auto library = parsed ? parsed->lookupSymbol<gpu::GPUModuleOp>(file.module)
                          : gpu::GPUModuleOp();
    fn = library ? library.lookupSymbol<gpu::GPUFuncOp>(source.kernel)
                 : gpu::GPUFuncOp();
    if (!fn)
      return failure();
    if (existing) {
      fn->remove();
      existing.push_back(fn);
    } else {
      for (auto other :
           llvm::make_early_inc_range(library.getOps<gpu::GPUFuncOp>()))
        if (other != fn)
          other.erase();
      library->remove();
      module.push_back(library);
      module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                      UnitAttr::get(module.getContext()));
    }
  }
  std::optional<ArrayRef<int32_t>> block =
      fn ? fn.getKnownBlockSize() : std::nullopt;
  if (!block || block->size() != 3)
    return failure();
  LibraryKernel kernel;
  kernel.fn = fn;
  kernel.threads = (*block)[0];
  if (auto tile = fn->getAttrOfType<DenseI64ArrayAttr>("dsc.tile");
      tile && tile.size() == 2) {
    kernel.tileM = tile[0];
    kernel.tileN = tile[1];
  }
  if (auto shared = fn->getAttrOfType<IntegerAttr>("dsc.dynamic_shared_memory"))
    kernel.sharedBytes = shared.getInt();
  if (auto box = fn->getAttrOfType<DenseI64ArrayAttr>("dsc.tma_box")) {
    if (box.size() != 2 && box.size() != 3)
      return failure();
    kernel.tmaBox.assign(box.asArrayRef().begin(), box.asArrayRef().end());
  }
  return kernel;
}

/// `value` (a contiguous buffer) as a 1-D buffer of unknown size, the
/// kernel's argument type.
Value flattened(OpBuilder &b, Location loc, Value value) {
  auto type = cast<MemRefType>(value.getType());
  ReassociationIndices all;
  for (int64_t d = 0; d < type.getRank(); ++d)
    all.push_back(d);
  Value flat = memref::CollapseShapeOp::create(
      b, loc, value, ArrayRef<ReassociationIndices>{all});
  auto dynamic = MemRefType::get({ShapedType::kDynamic}, type.getElementType());
  if (flat.getType() == dynamic)
    return flat;
  return memref::CastOp::create(b, loc, dynamic, flat);
}

/// The operands of a marked per-head product the batched kernel can run:
/// C [..., H, N] = A [..., H, K] times W's slab of each head, W read where
/// it lies: `wOffset` and `wStrides` (of its head and row dimensions) in
/// elements of its root buffer.
struct BatchedGemm {
  Value a, w, c;
  bool wByK; // W [H, K, N], else [H, N, K]
  int64_t heads, n, k, wOffset;
  std::array<int64_t, 2> wStrides;
};

FailureOr<BatchedGemm> matchBatchedGemm(linalg::GenericOp op,
                                        std::string &why) {
  Value a = op.getDpsInputs()[0], w = op.getDpsInputs()[1],
        c = op.getDpsInits()[0];
  auto aType = cast<MemRefType>(a.getType());
  auto wType = cast<MemRefType>(w.getType());
  auto cType = cast<MemRefType>(c.getType());
  if (!aType.getElementType().isBF16() || !wType.getElementType().isBF16() ||
      !cType.getElementType().isF32())
    return refuse(why, "operands are not bf16 x bf16 -> f32");
  unsigned rank = aType.getRank();
  if (rank < 3 || cType.getRank() != rank || wType.getRank() != 3 ||
      !wType.hasStaticShape())
    return refuse(why,
                  "shapes are not [..., H, K] x [H, ., .] -> [..., H, N] with "
                  "W's known");
  // The loops: A's leading dims, then h, n and the reduction k.
  MLIRContext *ctx = op.getContext();
  unsigned h = rank - 2, n = rank - 1, k = rank;
  auto map = [&](ArrayRef<unsigned> dims) {
    return AffineMap::getMultiDimMapWithTargets(rank + 1, dims, ctx);
  };
  SmallVector<unsigned> lead = llvm::to_vector(llvm::seq<unsigned>(0, h));
  auto withLead = [&](unsigned x, unsigned y) {
    SmallVector<unsigned> dims(lead);
    dims.append({x, y});
    return map(dims);
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  bool wByK = maps[1] == map({h, k, n});
  if (maps[0] != withLead(h, k) || maps[2] != withLead(h, n) ||
      !(wByK || maps[1] == map({h, n, k})) || op.getNumReductionLoops() != 1 ||
      op.getIteratorTypesArray().back() != utils::IteratorType::reduction)
    return refuse(why,
                  "indexing is not C[..., h, n] += A[..., h, k] * W[h, n, k] "
                  "(or W[h, k, n])");
  Block &body = op.getRegion().front();
  auto [x, y] = multipliedValues(body);
  if (x != body.getArgument(0) || y != body.getArgument(1) ||
      body.getOperations().size() != 5)
    return refuse(why, "its body is not acc + extf(a) * extf(b)");
  BatchedGemm gemm{a,
                   w,
                   c,
                   wByK,
                   aType.getDimSize(h),
                   cType.getDimSize(n),
                   aType.getDimSize(n),
                   0,
                   {0, 0}};
  int64_t wN = wType.getDimSize(wByK ? 2 : 1),
          wK = wType.getDimSize(wByK ? 1 : 2);
  if (ShapedType::isDynamic(gemm.heads) || ShapedType::isDynamic(gemm.k) ||
      ShapedType::isDynamic(gemm.n) || cType.getDimSize(h) != gemm.heads ||
      wType.getDimSize(0) != gemm.heads || wN != gemm.n || wK != gemm.k)
    return refuse(why, "heads, N or K unknown or different in A, W and C");
  if (gemm.heads > 65535)
    return refuse(why,
                  Twine(gemm.heads) + " heads are more than a grid's z holds");
  auto [strides, offset] = wType.getStridesAndOffset();
  if (ShapedType::isDynamic(offset) ||
      llvm::any_of(strides, ShapedType::isDynamic) || strides[2] != 1)
    return refuse(why,
                  "W's offset or strides are unknown, or its rows strided");
  // W's offset counts from its buffer's start: the views between them keep
  // the start (a memref.view, say, would move it).
  Value root = w;
  while (auto view = root.getDefiningOp<ViewLikeOpInterface>()) {
    if (!isa<memref::SubViewOp, memref::ExpandShapeOp, memref::CollapseShapeOp,
             memref::CastOp>(view))
      return refuse(why,
                    "W is a view whose offset cannot be read from its type");
    root = view.getViewSource();
  }
  if (!aType.getLayout().isIdentity() || !cType.getLayout().isIdentity() ||
      !cast<MemRefType>(root.getType()).getLayout().isIdentity())
    return refuse(why,
                  "A, C or W's buffer is not a contiguous row-major buffer");
  // cp.async moves 16 bytes: every row of A and W must start aligned.
  if (gemm.k % kKMultiple || offset % kKMultiple || strides[0] % kKMultiple ||
      strides[1] % kKMultiple)
    return refuse(why, "K, W's offset or its strides are not multiples of " +
                           Twine(kKMultiple) +
                           " (rows must start 16-byte aligned)");
  gemm.wOffset = offset;
  gemm.wStrides = {strides[0], strides[1]};
  return gemm;
}

/// Whether `op` may read, write or free `buffer` (`writes`: write or free
/// only). Unknown effects count.
bool touches(Operation *op, Value buffer, bool writes) {
  std::optional<SmallVector<MemoryEffects::EffectInstance>> effects =
      getEffectsRecursively(op);
  if (!effects)
    return true;
  return llvm::any_of(*effects, [&](const MemoryEffects::EffectInstance &e) {
    bool counted =
        isa<MemoryEffects::Write, MemoryEffects::Free>(e.getEffect()) ||
        (!writes && isa<MemoryEffects::Read>(e.getEffect()));
    return counted && (!e.getValue() || mayAlias(e.getValue(), buffer));
  });
}

/// The write that initializes C for the marked GEMM `op` (the mark's
/// contract: a zero fill, or a copy of zeros bufferization made), when no
/// op between them touches C: the library writes every element of C, so
/// that write is dead.
Operation *deadInit(linalg::GenericOp op, Value c) {
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (isa<linalg::FillOp, linalg::CopyOp>(prev) &&
        cast<DestinationStyleOpInterface>(prev).getDpsInits()[0] == c)
      return prev;
    if (touches(prev, c, /*writes=*/false))
      return nullptr;
  }
  return nullptr;
}

/// ceil(x / y) of index values.
Value ceilDiv(OpBuilder &b, Location loc, Value x, Value y) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value last =
      arith::AddIOp::create(b, loc, x, arith::SubIOp::create(b, loc, y, one));
  return arith::DivUIOp::create(b, loc, last, y);
}

/// The number of `block`-sized blocks that cover `size` (both positive).
int64_t blocksOf(int64_t size, int64_t block) {
  return (size + block - 1) / block;
}

/// The number of `tile`-row tiles that cover `rows`.
Value tilesFor(OpBuilder &b, Location loc, Value rows, int64_t tile) {
  return ceilDiv(b, loc, rows, arith::ConstantIndexOp::create(b, loc, tile));
}

/// The product of the first `count` dimensions of the buffer `value`: a
/// GEMM's M (sizes the host holds, not data).
Value leadingProduct(OpBuilder &b, Location loc, Value value, int64_t count) {
  auto type = cast<MemRefType>(value.getType());
  Value product = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t d = 0; d < count; ++d) {
    Value size =
        type.isDynamicDim(d)
            ? memref::DimOp::create(b, loc, value, d).getResult()
            : arith::ConstantIndexOp::create(b, loc, type.getDimSize(d))
                  .getResult();
    product = arith::MulIOp::create(b, loc, product, size);
  }
  return product;
}

/// The M tiles of `kernel` over `rows`, at least one: a grid dimension of
/// 0 is a launch error, and a block past the rows exits.
Value mTilesFor(OpBuilder &b, Location loc, Value rows,
                const LibraryKernel &kernel) {
  return arith::MaxUIOp::create(b, loc, tilesFor(b, loc, rows, kernel.tileM),
                                arith::ConstantIndexOp::create(b, loc, 1));
}

/// Launches `kernel`, a library GEMM, with `args`: grid (the `columns`
/// of C in `kernel`'s N tiles, `mTiles`, `batches`), its threads and
/// dynamic shared memory as its attributes state them.
void launchTiled(OpBuilder &b, Location loc, const LibraryKernel &kernel,
                 int64_t columns, Value mTiles, Value batches,
                 ArrayRef<Value> args) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  gpu::KernelDim3 grid{index(llvm::divideCeil(columns, kernel.tileN)), mTiles,
                       batches};
  gpu::KernelDim3 block{index(kernel.threads), index(1), index(1)};
  Value shared =
      arith::ConstantIntOp::create(b, loc, b.getI32Type(), kernel.sharedBytes);
  gpu::LaunchFuncOp::create(b, loc, kernel.fn, grid, block, shared, args);
}
void launchTiled(OpBuilder &b, Location loc, const LibraryKernel &kernel,
                 int64_t columns, Value mTiles, int64_t batches,
                 ArrayRef<Value> args) {
  launchTiled(b, loc, kernel, columns, mTiles,
              arith::ConstantIndexOp::create(b, loc, batches), args);
}

/// `value` with its dimensions merged as `groups` says (contiguous ones);
/// `value` itself when every group is one dimension.
Value collapsed(OpBuilder &b, Location loc, Value value,
                ArrayRef<ReassociationIndices> groups) {
  if (static_cast<int64_t>(groups.size()) ==
      cast<MemRefType>(value.getType()).getRank())
    return value;
  return memref::CollapseShapeOp::create(b, loc, value, groups);
}

/// `value` as rows of its last dimension: [product of the others, last].
Value asRows(OpBuilder &b, Location loc, Value value) {
  int64_t rank = cast<MemRefType>(value.getType()).getRank();
  ReassociationIndices leading;
  for (int64_t d = 0; d + 1 < rank; ++d)
    leading.push_back(d);
  return collapsed(b, loc, value, {leading, {rank - 1}});
}

/// The runtime's TMA descriptor of `tensor` (bf16 of the rank of `box`, 2
/// or 3, or an e4m3 matrix; row-major, each row contiguous; a buffer, or a
/// view into one such as a layer's pages of the KV cache) for boxes of
/// `box` (kTensorMapFunction, kTensorMap3dFunction or
/// kTensorMapE4m3Function, declared in `module` on first use: `b` may
/// build inside an op not yet created, such as an scf.if's body, whose
/// values find no module).
Value tensorMap(OpBuilder &b, Location loc, ModuleOp module, Value tensor,
                ArrayRef<int64_t> box) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  MLIRContext *context = b.getContext();
  int64_t rank = static_cast<int64_t>(box.size());
  Type element = cast<MemRefType>(tensor.getType()).getElementType();
  bool e4m3 = isa<Float8E4M3FNType>(element);
  assert((rank == 2 || (rank == 3 && !e4m3)) &&
         cast<MemRefType>(tensor.getType()).getRank() == rank &&
         (e4m3 || element.isBF16()) &&
         "a TMA descriptor of a bf16 tensor of rank 2 or 3, or an e4m3 "
         "matrix, of the box's rank");
  // Any strides and offset: the runtime reads them from the memref.
  int64_t dynamic = ShapedType::kDynamic;
  SmallVector<int64_t> dynamics(rank, dynamic);
  auto type = MemRefType::get(
      dynamics, element, StridedLayoutAttr::get(context, dynamic, dynamics));
  StringLiteral name = e4m3        ? kTensorMapE4m3Function
                       : rank == 2 ? kTensorMapFunction
                                   : kTensorMap3dFunction;
  auto fn = module.lookupSymbol<func::FuncOp>(name);
  if (!fn) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module.getBody());
    SmallVector<Type> inputs = {type};
    inputs.append(rank, b.getIndexType());
    fn = func::FuncOp::create(
        b, loc, name,
        b.getFunctionType(inputs, {LLVM::LLVMPointerType::get(context)}));
    fn.setPrivate();
    fn->setAttr(kMetadataOnlyAttr, UnitAttr::get(context));
  }
  SmallVector<Value> args = {memref::CastOp::create(b, loc, type, tensor)};
  for (int64_t size : box)
    args.push_back(index(size));
  return func::CallOp::create(b, loc, fn, args).getResult(0);
}

/// Launches the library GEMM `kernel`: for each expert e, rows
/// [offsets[e], offsets[e+1]) of C [rows, n] = A [rows, k] times B [e]
/// ([n, k]) transposed, over `mTiles` M tiles: the tiles of one expert's
/// rows, or, for the tiled kernels, the tiles `tiles` lists (moe_tiles).
/// `stacks` holds B, or the gate and up stacks of the SwiGLU kernel, whose
/// blocks cover their 2 n columns packed (C its n activations); e4m3
/// stacks come with their `scales` and `scaleBlock` size (the fp8w
/// kernels). A kernel fed by TMA (sm_90a's tiled wgmma kernels) takes A
/// and each stack through their descriptors (declared in `module`).
void launchGemm(OpBuilder &b, Location loc, ModuleOp module,
                const LibraryKernel &kernel, Value a, ValueRange stacks,
                Value c, Value offsets, Value tiles, Value mTiles, int64_t n,
                int64_t k, ValueRange scales = {},
                ArrayRef<int64_t> scaleBlock = {}) {
  // A [rows, K] and each stack [experts, N, K] as [experts * N, K].
  auto operand = [&](OpBuilder &b, Value value) {
    return kernel.tmaBox.empty()
               ? flattened(b, loc, value)
               : tensorMap(b, loc, module, asRows(b, loc, value),
                           kernel.tmaBox);
  };
  auto build = [&](OpBuilder &b) {
    auto index = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    SmallVector<Value> args = {operand(b, a)};
    for (Value stack : stacks)
      args.push_back(operand(b, stack));
    for (Value scale : scales)
      args.push_back(flattened(b, loc, scale));
    args.append({flattened(b, loc, c), flattened(b, loc, offsets)});
    if (tiles)
      args.push_back(tiles);
    args.append({index(n), index(k)});
    for (int64_t size : scaleBlock)
      args.push_back(index(size));
    launchTiled(b, loc, kernel, static_cast<int64_t>(stacks.size()) * n, mTiles,
                1, args);
  };
  if (kernel.tmaBox.empty())
    return build(b);
  // A descriptor of no rows is invalid: a step without slots launches
  // nothing (the kernels without descriptors run no listed tile then).
  Value rows = memref::DimOp::create(b, loc, a, 0);
  Value any = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne, rows,
      arith::ConstantIndexOp::create(b, loc, 0).getResult());
  scf::IfOp::create(b, loc, any, [&](OpBuilder &tb, Location l) {
    build(tb);
    scf::YieldOp::create(tb, l);
  });
}

/// A linalg.generic on buffers, all loops parallel, identity map for `out`.
void parallelGeneric(
    OpBuilder &b, Location loc, ValueRange ins, Value out,
    ArrayRef<AffineMap> inMaps,
    function_ref<void(OpBuilder &, Location, ValueRange)> body) {
  unsigned rank = cast<MemRefType>(out.getType()).getRank();
  SmallVector<AffineMap> maps(inMaps);
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, b.getContext()));
  linalg::GenericOp::create(
      b, loc, TypeRange{}, ins, ValueRange{out}, maps,
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      body);
}

/// Launches the batched `kernel` on `gemm` over `rows` rows: grid (N tiles,
/// M tiles, heads), W from `flatWs` (its whole buffer, flat) at its slab's
/// offset and strides; or, for the SwiGLU kernel, gate's and up's, whose
/// blocks cover their 2 N columns packed (C the N activations).
void launchBatchedKernel(OpBuilder &b, Location loc, const BatchedGemm &gemm,
                         ValueRange flatWs, Value rows,
                         const LibraryKernel &kernel) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value mTiles = mTilesFor(b, loc, rows, kernel);
  SmallVector<Value> args = {flattened(b, loc, gemm.a)};
  args.append(flatWs.begin(), flatWs.end());
  args.append({flattened(b, loc, gemm.c), rows, index(gemm.n), index(gemm.k),
               index(gemm.heads * gemm.k), index(gemm.k), index(gemm.wOffset),
               index(gemm.wStrides[0]), index(gemm.wStrides[1]),
               index(gemm.heads * gemm.n), index(gemm.n)});
  launchTiled(b, loc, kernel, static_cast<int64_t>(flatWs.size()) * gemm.n,
              mTiles, gemm.heads, args);
}

/// Replaces `op` with the launch of the batched `kernel` on `gemm`, W
/// passed as its whole buffer.
void launchBatched(linalg::GenericOp op, const BatchedGemm &gemm,
                   const LibraryKernel &kernel) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  // M: the product of A's leading dims (all but heads and K).
  Value rows = leadingProduct(b, loc, gemm.a,
                              cast<MemRefType>(gemm.a.getType()).getRank() - 2);
  launchBatchedKernel(b, loc, gemm, flattened(b, loc, rootBuffer(gemm.w)), rows,
                      kernel);
  op.erase();
}

/// Replaces `op` with the launch of the batched e4m3 `kernel` on `gemm`,
/// whose W is `d`'s weight dequantized: batch e's slab is rows
/// `slab.first` + e `slab.second` of the weight, read as stored.
void launchBatchedFp8w(linalg::GenericOp op, const BatchedGemm &gemm,
                       const Dequantized &d, std::pair<int64_t, int64_t> slab,
                       const LibraryKernel &kernel) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value rows = leadingProduct(b, loc, gemm.a,
                              cast<MemRefType>(gemm.a.getType()).getRank() - 2);
  int64_t ldb = cast<MemRefType>(d.weight.getType()).getDimSize(1);
  SmallVector<Value> args = {flattened(b, loc, gemm.a),
                             flattened(b, loc, d.weight),
                             flattened(b, loc, d.scales),
                             flattened(b, loc, gemm.c),
                             rows,
                             index(gemm.n),
                             index(gemm.k),
                             index(gemm.heads * gemm.k),
                             index(gemm.k),
                             index(slab.first),
                             index(slab.second),
                             index(ldb),
                             index(gemm.heads * gemm.n),
                             index(gemm.n),
                             index(d.blockN),
                             index(d.blockK),
                             /*bColBatch=*/index(0)};
  launchTiled(b, loc, kernel, gemm.n, mTilesFor(b, loc, rows, kernel),
              gemm.heads, args);
  op.erase();
}

/// Launches the TMA-fed `kernel` on `gemm`, one batch over `rows` rows:
/// gemm_wgmma_bf16_tn, C [rows, N] = A [rows, K] times `ws` (B [N, K])
/// transposed; or gemm_wgmma_swiglu_bf16_tn, `ws` the gate and up weights,
/// whose blocks cover their 2 N columns packed (C the N activations). A
/// and each weight go through their descriptors.
void launchWgmma(OpBuilder &b, Location loc, ModuleOp module,
                 const BatchedGemm &gemm, ValueRange ws, Value rows,
                 const LibraryKernel &kernel) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  SmallVector<Value> args = {
      tensorMap(b, loc, module, asRows(b, loc, gemm.a), kernel.tmaBox)};
  for (Value w : ws)
    args.push_back(tensorMap(b, loc, module, asRows(b, loc, w), kernel.tmaBox));
  args.append({flattened(b, loc, gemm.c), rows, index(gemm.n), index(gemm.k)});
  launchTiled(b, loc, kernel, static_cast<int64_t>(ws.size()) * gemm.n,
              mTilesFor(b, loc, rows, kernel), 1, args);
}

/// Split K: a linear layer's GEMM whose grid of 64-row tiles leaves SMs
/// idle (a decode's few rows times a narrow layer: V3's q_a at 64 rows is
/// 12 blocks, kv_a 5, for 132 SMs; memory-bound, so an idle SM is its
/// share of the bandwidth unused) runs as a batch of K parts, each part's
/// partial sums into a buffer of their own, then their sum into C: the
/// batched kernels' strides (the bf16 one's), or their columns' offset
/// (the e4m3 one's bColBatch), pick each part. A fused SwiGLU's gate and
/// up (a MoE layer's shared expert: 32 blocks of the fused kernel at 64
/// rows) split when the fused kernel's grid is small, into the parts gate
/// would take as a linear layer; their sums, then the SwiGLU, generated
/// code.
/// `targetBlocks` (the chip's SMs; 0 for none), the per-part kernels: `bf16`
/// (batched_gemm_bf16_tn_m64) and, for e4m3 weights, `fp8w`
/// (batched_gemm_fp8w_bf16_tn_m64).
struct SplitK {
  int64_t targetBlocks = 0;
  const LibraryKernel *bf16 = nullptr;
  const LibraryKernel *fp8w = nullptr;
};

/// The parts to split a GEMM's K into, chosen on the host by SplitKRule.h's
/// splitKParts (the same rule, as host code on a step's rows; `parts` its
/// splitKPartCounts): 1 when the grid it runs without a split, of
/// `wholeBlocks`, has at least `target`, else the fewest of `parts` that
/// make `target` blocks of the parts' kernel (`blocks` a part), or the
/// most there are.
Value splitKCount(OpBuilder &b, Location loc, Value blocks, Value wholeBlocks,
                  ArrayRef<int64_t> parts, int64_t target) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value count = index(parts.back());
  for (int64_t part : llvm::reverse(parts)) {
    Value enough = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::uge,
        arith::MulIOp::create(b, loc, blocks, index(part)), index(target));
    count = arith::SelectOp::create(b, loc, enough, index(part), count);
  }
  Value few = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                    wholeBlocks, index(target));
  return arith::SelectOp::create(b, loc, few, count, index(1));
}

/// Runs `whole`, a launch of `wholeKernel` over [rows, wholeColumns], or,
/// when `split` says so for its grid, `parts(b, loc, count, kPart)`: the
/// GEMM's K (`k`) in `count` parts of kPart, each a grid of the 64-row
/// `kernel` over [rows, n]. The host holds the rows, so a CUDA graph
/// captures the branch its step's shapes take.
void splitKBranch(
    OpBuilder &b, Location loc, const LibraryKernel &kernel,
    const LibraryKernel &wholeKernel, int64_t wholeColumns, const SplitK &split,
    Value rows, int64_t n, int64_t k,
    function_ref<void(OpBuilder &, Location)> whole,
    function_ref<void(OpBuilder &, Location, Value, Value)> parts) {
  std::vector<int64_t> counts = splitKPartCounts(k);
  if (split.targetBlocks <= 0 || counts.empty())
    return whole(b, loc);
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  auto grid = [&](const LibraryKernel &kernel, int64_t columns) -> Value {
    Value mTiles = mTilesFor(b, loc, rows, kernel);
    return arith::MulIOp::create(
        b, loc, index(llvm::divideCeil(columns, kernel.tileN)), mTiles);
  };
  Value blocks = grid(kernel, n);
  Value wholeBlocks = &wholeKernel == &kernel && wholeColumns == n
                          ? blocks
                          : grid(wholeKernel, wholeColumns);
  Value count =
      splitKCount(b, loc, blocks, wholeBlocks, counts, split.targetBlocks);
  Value splitting =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, count, index(1));
  scf::IfOp::create(
      b, loc, splitting,
      [&](OpBuilder &tb, Location l) {
        parts(tb, l, count, arith::DivUIOp::create(tb, l, index(k), count));
        scf::YieldOp::create(tb, l);
      },
      [&](OpBuilder &tb, Location l) {
        whole(tb, l);
        scf::YieldOp::create(tb, l);
      });
}

/// An f32 buffer [count, length]: the partial sums of `count` K parts of
/// an output of `length` values.
Value allocParts(OpBuilder &b, Location loc, Value count, Value length) {
  auto type = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                              b.getF32Type());
  return memref::AllocOp::create(b, loc, type, ValueRange{count, length});
}

/// Each of `sums` [length] = the sum of its `partials` [count, length]
/// over the parts, in order: one generated reduction after their fills.
void sumParts(OpBuilder &b, Location loc, ValueRange partials,
              ValueRange sums) {
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  for (Value sum : sums)
    linalg::FillOp::create(b, loc, zero, sum);
  MLIRContext *ctx = b.getContext();
  AffineExpr e0 = getAffineDimExpr(0, ctx), e1 = getAffineDimExpr(1, ctx);
  SmallVector<AffineMap> maps(partials.size(),
                              AffineMap::get(2, 0, {e1, e0}, ctx));
  maps.append(sums.size(), AffineMap::get(2, 0, {e0}, ctx));
  assert(partials.size() == sums.size() && "one sum per partials buffer");
  size_t inputs = partials.size();
  linalg::GenericOp::create(
      b, loc, TypeRange{}, partials, sums, maps,
      SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                       utils::IteratorType::reduction},
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        SmallVector<Value> next;
        for (size_t i = 0; i < inputs; ++i)
          next.push_back(
              arith::AddFOp::create(nb, nl, args[inputs + i], args[i]));
        linalg::YieldOp::create(nb, nl, next);
      });
}

/// Runs the GEMM C [rows, n] = A times B (K `k`) with `whole`, a launch
/// on the 64-row `kernel`, or, when `split` says so for its grid, with its
/// K split: `parts(b, loc, count, kPart, partials)` launches the kernel
/// over `count` batches, batch e the partial sums of K part e (kPart
/// wide) into `partials` [count, rows, n] (flat), and a generated sum of
/// the parts writes C (`c`, [rows, n] contiguous).
void splitKOrNot(
    OpBuilder &b, Location loc, const LibraryKernel &kernel,
    const SplitK &split, Value c, Value rows, int64_t n, int64_t k,
    function_ref<void(OpBuilder &, Location)> whole,
    function_ref<void(OpBuilder &, Location, Value, Value, Value)> parts) {
  splitKBranch(b, loc, kernel, kernel, n, split, rows, n, k, whole,
               [&](OpBuilder &b, Location loc, Value count, Value kPart) {
                 // C flat; the parts' buffer as long (C's own size, so that the
                 // sum and C's fill have bounds computed alike: one generated
                 // kernel once dsc-fuse-parallel-loops joins them).
                 Value out = flattened(b, loc, c);
                 Value partials = allocParts(
                     b, loc, count, memref::DimOp::create(b, loc, out, 0));
                 parts(b, loc, count, kPart, flattened(b, loc, partials));
                 sumParts(b, loc, partials, out);
                 memref::DeallocOp::create(b, loc, partials);
               });
}

/// Launches the K parts of a GEMM on [rows, n] with a bf16 W (`gemm`'s,
/// flat in `w`) on the 64-row `kernel`: part e reads A's and W's columns
/// from e kPart and writes its sums at e rows n of `partials` (flat).
void launchPartsBf16(OpBuilder &b, Location loc, const LibraryKernel &kernel,
                     const BatchedGemm &gemm, Value w, Value rows, Value count,
                     Value kPart, Value partials) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value mTiles = mTilesFor(b, loc, rows, kernel);
  launchTiled(b, loc, kernel, gemm.n, mTiles, count,
              {flattened(b, loc, gemm.a), w, partials, rows, index(gemm.n),
               kPart, index(gemm.k), kPart, index(gemm.wOffset), kPart,
               index(gemm.wStrides[1]), index(gemm.n),
               arith::MulIOp::create(b, loc, rows, index(gemm.n))});
}

/// Launches the K parts of a GEMM on [rows, n] of `a` with the e4m3
/// weight `w` [n, k] on the batched e4m3 `kernel`: part e reads A's and
/// the weight's columns from e kPart (bColBatch, so that its scales come
/// from its own columns) and writes its sums at e rows n of `partials`.
void launchPartsFp8w(OpBuilder &b, Location loc, const LibraryKernel &kernel,
                     Value a, const Dequantized &w, Value rows, int64_t n,
                     int64_t k, Value count, Value kPart, Value partials) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value mTiles = mTilesFor(b, loc, rows, kernel);
  launchTiled(b, loc, kernel, n, mTiles, count,
              {flattened(b, loc, a), flattened(b, loc, w.weight),
               flattened(b, loc, w.scales), partials, rows, index(n), kPart,
               index(k), kPart, /*bRow0=*/index(0), /*bRowBatch=*/index(0),
               index(k), index(n),
               arith::MulIOp::create(b, loc, rows, index(n)), index(w.blockN),
               index(w.blockK), kPart});
}

/// Runs the fused SwiGLU `s` with `whole`, a launch of the fused kernel
/// `fused` over gate's and up's 2 n columns, or, when `split` says so for
/// that grid, with their K (`k`) split: `parts(b, loc, count, kPart,
/// gateParts, upParts)` launches both as linear layers' parts on the
/// 64-row `kernel` (as splitKOrNot's `parts`; their count is a linear
/// layer's of n columns), then generated sums of each and the SwiGLU as
/// the graph wrote it (`s`'s body) write its result.
void splitSwigluOrNot(
    OpBuilder &b, Location loc, const LibraryKernel &kernel,
    const LibraryKernel &fused, const SplitK &split, const Swiglu &s,
    Value rows, int64_t n, int64_t k,
    function_ref<void(OpBuilder &, Location)> whole,
    function_ref<void(OpBuilder &, Location, Value, Value, Value, Value)>
        parts) {
  splitKBranch(
      b, loc, kernel, fused, 2 * n, split, rows, n, k, whole,
      [&](OpBuilder &b, Location loc, Value count, Value kPart) {
        Value act = flattened(b, loc, s.act);
        Value length = memref::DimOp::create(b, loc, act, 0);
        Value gateParts = allocParts(b, loc, count, length),
              upParts = allocParts(b, loc, count, length);
        Value gateFlat = flattened(b, loc, gateParts),
              upFlat = flattened(b, loc, upParts);
        parts(b, loc, count, kPart, gateFlat, upFlat);
        auto sumType = MemRefType::get({ShapedType::kDynamic}, b.getF32Type());
        Value gate = memref::AllocOp::create(b, loc, sumType, length),
              up = memref::AllocOp::create(b, loc, sumType, length);
        sumParts(b, loc, ValueRange{gateParts, upParts}, ValueRange{gate, up});
        AffineMap id = b.getMultiDimIdentityMap(1);
        auto swiglu = linalg::GenericOp::create(
            b, loc, TypeRange{}, ValueRange{gate, up}, ValueRange{act},
            SmallVector<AffineMap>(3, id),
            SmallVector<utils::IteratorType>{utils::IteratorType::parallel});
        IRMapping mapping;
        linalg::GenericOp graphs = s.op; // Not const: its region clones.
        graphs.getRegion().cloneInto(&swiglu.getRegion(), mapping);
        for (Value buffer : {gateParts, upParts, gate, up})
          memref::DeallocOp::create(b, loc, buffer);
      });
}

/// Launches `gemm` (one batch over `rows` rows, its weights `ws`: B, or
/// the gate and up weights of a SwiGLU kernel) with `small`, the launches
/// of the 64-row tile; or, given `large`, on it when the rows make at least
/// `largeTileBlocks` of its blocks (the 128-row tile: mma.sync, or wgmma
/// fed by TMA when it takes descriptors). The host holds the rows, so a
/// CUDA graph captures the branch its step's shapes take.
void launchByRows(OpBuilder &b, Location loc, ModuleOp module,
                  const BatchedGemm &gemm, ValueRange ws, Value rows,
                  const LibraryKernel *large, int64_t largeTileBlocks,
                  function_ref<void(OpBuilder &, Location)> small) {
  if (!large)
    return small(b, loc);
  int64_t nTiles =
      llvm::divideCeil(static_cast<int64_t>(ws.size()) * gemm.n, large->tileN);
  // At least one tile: a TMA descriptor of no rows is invalid.
  Value largeRows = arith::ConstantIndexOp::create(
      b, loc,
      std::max<int64_t>(llvm::divideCeil(largeTileBlocks, nTiles), 1) *
          large->tileM);
  Value many =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, rows, largeRows);
  scf::IfOp::create(
      b, loc, many,
      [&](OpBuilder &tb, Location l) {
        if (large->tmaBox.empty()) {
          SmallVector<Value> flat;
          for (Value w : ws)
            flat.push_back(flattened(tb, l, w));
          launchBatchedKernel(tb, l, gemm, flat, rows, *large);
        } else {
          launchWgmma(tb, l, module, gemm, ws, rows, *large);
        }
        scf::YieldOp::create(tb, l);
      },
      [&](OpBuilder &tb, Location l) {
        small(tb, l);
        scf::YieldOp::create(tb, l);
      });
}

/// Whether `from` or an op after it and before `to` (one block) may write
/// `buffer`.
bool writtenBetween(Operation *from, Operation *to, Value buffer) {
  for (Operation *op = from; op && op != to; op = op->getNextNode())
    if (touches(op, buffer, /*writes=*/true))
      return true;
  return false;
}

/// Fills `d`'s weight, scales and block size from its marked op `d.op`,
/// which writes `d.alloc`: failure, with `why`, unless the op is an e4m3
/// weight [N, K]'s dequantization by blocks (the mark's contract) that the
/// e4m3 kernels can read as stored.
LogicalResult matchDequantizeOp(Dequantized &d, std::string &why) {
  memref::AllocOp alloc = d.alloc;
  linalg::GenericOp op = d.op;
  auto blockSize = op->getAttrOfType<DenseI64ArrayAttr>(kLibraryDequantizeAttr);
  auto expand =
      op.getNumDpsInputs() == 2
          ? op.getDpsInputs()[0].getDefiningOp<memref::ExpandShapeOp>()
          : memref::ExpandShapeOp();
  if (!blockSize || blockSize.size() != 2 || !expand ||
      op.getNumDpsInits() != 1 || !op.hasPureBufferSemantics() ||
      op.getDpsInits()[0] != alloc)
    return refuse(why, "its dequantization is not an e4m3 weight's blocks "
                       "into B");
  d.weight = expand.getSrc();
  d.scales = op.getDpsInputs()[1];
  d.blockN = blockSize[0];
  d.blockK = blockSize[1];
  if (d.blockN <= 0 || d.blockK <= 0)
    return refuse(why, "its block size is not positive");
  // Loops (n, kb, ki): the blocks elementwise, the scale of (n floordiv
  // blockN, kb) (the body is the mark's contract).
  MLIRContext *ctx = op.getContext();
  AffineMap blocks3 = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap scaleAt = AffineMap::get(
      3, 0,
      {getAffineDimExpr(0, ctx).floorDiv(d.blockN), getAffineDimExpr(1, ctx)},
      ctx);
  if (op.getIndexingMapsArray() !=
      SmallVector<AffineMap>{blocks3, scaleAt, blocks3})
    return refuse(why, "its dequantization is not elementwise over [N, K / "
                       "blockK, blockK] with one scale per block");
  auto wType = cast<MemRefType>(d.weight.getType());
  auto sType = cast<MemRefType>(d.scales.getType());
  if (!isa<Float8E4M3FNType>(wType.getElementType()) ||
      !sType.getElementType().isF32() || wType.getRank() != 2 ||
      !wType.hasStaticShape() || !sType.hasStaticShape() ||
      sType.getRank() != 2 ||
      sType.getDimSize(0) != blocksOf(wType.getDimSize(0), d.blockN) ||
      sType.getDimSize(1) != blocksOf(wType.getDimSize(1), d.blockK))
    return refuse(why, "its dequantization does not read an e4m3 [N, K] "
                       "weight and its scales of one per block");
  if (!wType.getLayout().isIdentity() || !sType.getLayout().isIdentity() ||
      !alloc.getType().getLayout().isIdentity())
    return refuse(why, "its e4m3 weight, scales or result are not "
                       "contiguous");
  // Blocks of the mark's columns: the weight's and the result's shape.
  SmallVector<int64_t> blockShape = {wType.getDimSize(0),
                                     wType.getDimSize(1) / d.blockK, d.blockK};
  if (wType.getDimSize(1) % d.blockK != 0 ||
      expand.getType().getShape() != ArrayRef(blockShape) ||
      alloc.getType().getShape() != ArrayRef(blockShape))
    return refuse(why, "its dequantization's blocks are not the weight's "
                       "rows by K / blockK blocks of blockK columns");
  // cp.async copies 16 bytes of e4m3 weights; each lies in one scale block.
  if (wType.getDimSize(1) % 16 != 0 || d.blockK % 16 != 0)
    return refuse(why, "K = " + Twine(wType.getDimSize(1)) +
                           " or the scale block's " + Twine(d.blockK) +
                           " columns are not a multiple of 16");
  return success();
}

/// `value` as an argument of a function (its entry block's), or null.
BlockArgument functionArgument(Value value) {
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg || !arg.getOwner()->isEntryBlock() ||
      !isa<func::FuncOp>(arg.getOwner()->getParentOp()))
    return {};
  return arg;
}

/// The calls of each function of a module, found once (isWeight and
/// distinctArguments ask for a function's calls a few times per layer,
/// and a walk of the whole module each time would cost a 61-layer model
/// hundreds of walks). Valid until the module's symbol uses change: the
/// pass builds it before its first rewrite.
class CallSites {
public:
  explicit CallSites(ModuleOp module) : users(symbolTables, module) {}

  /// The calls of `fn`, or nothing when something else uses it.
  std::optional<SmallVector<func::CallOp>> of(func::FuncOp fn) const {
    SmallVector<func::CallOp> calls;
    for (Operation *user : users.getUsers(fn)) {
      auto call = dyn_cast<func::CallOp>(user);
      if (!call)
        return std::nullopt;
      calls.push_back(call);
    }
    return calls;
  }

private:
  SymbolTableCollection symbolTables;
  SymbolUserMap users;
};

/// Whether `root` is a model weight: an entry point's argument marked
/// dsc.weight, or a private function's argument to which every call
/// passes a weight (`seen`: the arguments on the call path, a cycle
/// proves nothing).
bool isWeight(const CallSites &sites, Value root,
              DenseSet<BlockArgument> &seen) {
  BlockArgument arg = functionArgument(root);
  if (!arg)
    return false;
  auto fn = cast<func::FuncOp>(arg.getOwner()->getParentOp());
  if (fn.isPublic())
    return bool(fn.getArgAttr(arg.getArgNumber(), "dsc.weight"));
  std::optional<SmallVector<func::CallOp>> calls = sites.of(fn);
  if (!calls || calls->empty() || !seen.insert(arg).second)
    return false;
  bool all = llvm::all_of(*calls, [&](func::CallOp call) {
    return isWeight(sites, rootBuffer(call.getOperand(arg.getArgNumber())),
                    seen);
  });
  seen.erase(arg);
  return all;
}
bool isWeight(const CallSites &sites, Value root) {
  DenseSet<BlockArgument> seen;
  return isWeight(sites, root, seen);
}

/// Whether two arguments of one function are distinct buffers: an entry
/// point's are (the runtime binds each argument to a buffer of its own), a
/// private function's when every call passes distinct ones (`seen`: the
/// pairs on the call path, a cycle proves nothing).
bool distinctArguments(
    const CallSites &sites, BlockArgument a, BlockArgument b,
    DenseSet<std::pair<BlockArgument, BlockArgument>> &seen) {
  if (a == b)
    return false;
  auto fn = cast<func::FuncOp>(a.getOwner()->getParentOp());
  if (fn.isPublic())
    return true;
  std::optional<SmallVector<func::CallOp>> calls = sites.of(fn);
  if (!calls || calls->empty() || !seen.insert({a, b}).second)
    return false;
  bool all = llvm::all_of(*calls, [&](func::CallOp call) {
    Value x = rootBuffer(call.getOperand(a.getArgNumber())),
          y = rootBuffer(call.getOperand(b.getArgNumber()));
    BlockArgument ax = functionArgument(x), ay = functionArgument(y);
    if (ax && ay)
      return distinctArguments(sites, ax, ay, seen);
    return x != y && !mayAlias(x, y);
  });
  seen.erase({a, b});
  return all;
}

/// writtenBetween for `value` or, when it views a model weight
/// (isWeight), whether an op there writes a view of that weight or memory
/// it does not name: a write of another argument of the function, one
/// the calls show to be a distinct buffer (distinctArguments: a KV
/// cache's), is not one.
bool mayBeWrittenBetween(const CallSites &sites, Operation *from, Operation *to,
                         Value value) {
  Value root = rootBuffer(value);
  if (!isWeight(sites, root))
    return writtenBetween(from, to, value);
  BlockArgument weight = functionArgument(root);
  for (Operation *op = from; op && op != to; op = op->getNextNode()) {
    std::optional<SmallVector<MemoryEffects::EffectInstance>> effects =
        getEffectsRecursively(op);
    if (!effects)
      return true;
    for (const MemoryEffects::EffectInstance &e : *effects) {
      if (!isa<MemoryEffects::Write, MemoryEffects::Free>(e.getEffect()))
        continue;
      if (!e.getValue())
        return true;
      Value written = rootBuffer(e.getValue());
      BlockArgument other = functionArgument(written);
      DenseSet<std::pair<BlockArgument, BlockArgument>> seen;
      if (other && other.getOwner() == weight.getOwner() &&
          distinctArguments(sites, weight, other, seen))
        continue;
      if (mayAlias(written, root))
        return true;
    }
  }
  return false;
}

/// Whether `user` of a dequantized weight's allocation is its (first)
/// dealloc or marked dequantization, recorded in `d`.
bool tookDequantizationUse(Operation *user, Dequantized &d) {
  if (auto dealloc = dyn_cast<memref::DeallocOp>(user); dealloc && !d.dealloc)
    d.dealloc = dealloc;
  else if (auto marked = dyn_cast<linalg::GenericOp>(user);
           marked && marked->hasAttr(kLibraryDequantizeAttr) && !d.op)
    d.op = marked;
  else
    return false;
  return true;
}

/// The dequantization of the marked GEMM `gemm`'s B (see Dequantized):
/// failure, with `why`, when B is not an allocation of its own written by
/// a marked op the e4m3 kernel can replace.
FailureOr<Dequantized> matchDequantized(Operation *gemm, Value b,
                                        std::string &why) {
  auto alloc = rootBuffer(b).getDefiningOp<memref::AllocOp>();
  if (!alloc)
    return refuse(why, "B is not an allocation");
  Dequantized d{};
  d.alloc = alloc;
  Block *block = gemm->getBlock();
  // The marked op writes the allocation, [N, K / blockK, blockK], all of
  // it (elementwise, below); B is its collapse to [N, K], which only the
  // GEMM reads; it is freed once.
  for (Operation *user : alloc->getUsers()) {
    if (tookDequantizationUse(user, d))
      continue;
    auto collapse = dyn_cast<memref::CollapseShapeOp>(user);
    if (collapse && collapse.getResult() == b && d.views.empty() &&
        llvm::all_of(collapse->getUsers(),
                     [&](Operation *reader) { return reader == gemm; })) {
      d.views.push_back(collapse);
      continue;
    }
    return refuse(why, "B's buffer has uses besides its dequantization "
                       "and the GEMM");
  }
  if (!d.op || !d.dealloc || d.views.empty())
    return refuse(why, "B is not written by a marked dequantization and "
                       "freed");
  if (failed(matchDequantizeOp(d, why)))
    return failure();
  if (cast<MemRefType>(d.weight.getType()).getShape() !=
      cast<MemRefType>(b.getType()).getShape())
    return refuse(why, "B is not the e4m3 weight's shape");
  for (Operation *op :
       {d.op.getOperation(), alloc.getOperation(), d.dealloc.getOperation()})
    if (op->getBlock() != block)
      return refuse(why, "its dequantization is not in the GEMM's block");
  if (!d.op->isBeforeInBlock(gemm) || !gemm->isBeforeInBlock(d.dealloc) ||
      llvm::any_of(d.views,
                   [&](Operation *v) { return v->getBlock() != block; }))
    return refuse(why, "its dequantization is not before the GEMM in one "
                       "block, freed after it");
  // Both branches read the weight and scales where the GEMM is.
  if (writtenBetween(d.op, gemm, d.weight) ||
      writtenBetween(d.op, gemm, d.scales))
    return refuse(why, "its e4m3 weight or scales may be written between "
                       "its dequantization and the GEMM");
  return d;
}

/// The dequantization the marked per-head products `readers` share (an FP8
/// kv_b, which the absorbed decode dequantizes once for W_UK and W_UV):
/// failure, with `why`, unless `alloc` is written by a marked
/// dequantization, freed once and otherwise read only by `readers`, as
/// their W, through views; all in one block, the dequantization before
/// each reader and the dealloc after. Its `views` come users first.
FailureOr<Dequantized> matchSharedDequantized(const CallSites &sites,
                                              memref::AllocOp alloc,
                                              ArrayRef<Operation *> readers,
                                              std::string &why) {
  Dequantized d{};
  d.alloc = alloc;
  SmallVector<Operation *> views;
  SmallVector<Value> toVisit = {alloc.getResult()};
  while (!toVisit.empty()) {
    Value value = toVisit.pop_back_val();
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      if (isa<memref::SubViewOp, memref::ExpandShapeOp, memref::CollapseShapeOp,
              memref::CastOp>(user)) {
        views.push_back(user);
        toVisit.push_back(user->getResult(0));
        continue;
      }
      if (value == alloc.getResult() && tookDequantizationUse(user, d))
        continue;
      // A reader's W: its second input.
      if (llvm::is_contained(readers, user) && use.getOperandNumber() == 1)
        continue;
      return refuse(why, "the dequantized weight has uses besides its "
                         "dequantization and the per-head products");
    }
  }
  if (!d.op || !d.dealloc)
    return refuse(why, "the per-head products' weight is not written by a "
                       "marked dequantization and freed");
  if (failed(matchDequantizeOp(d, why)))
    return failure();
  d.views.assign(views.rbegin(), views.rend());
  Block *block = alloc->getBlock();
  auto inBlock = [&](Operation *op) { return op->getBlock() == block; };
  if (!inBlock(d.op) || !inBlock(d.dealloc) || !llvm::all_of(views, inBlock) ||
      !llvm::all_of(readers, inBlock))
    return refuse(why, "the dequantization and its readers are not in one "
                       "block");
  for (Operation *reader : readers) {
    if (!d.op->isBeforeInBlock(reader) || !reader->isBeforeInBlock(d.dealloc))
      return refuse(why, "a per-head product is not between the "
                         "dequantization and the dealloc");
    // W_UV's product comes after the attention, which writes the cache.
    if (mayBeWrittenBetween(sites, d.op, reader, d.weight) ||
        mayBeWrittenBetween(sites, d.op, reader, d.scales))
      return refuse(why, "the e4m3 weight or scales may be written between "
                         "the dequantization and a per-head product");
  }
  return d;
}

/// Where the batched e4m3 kernels find batch e's slab of `gemm`'s W in the
/// weight `d` dequantizes: rows bRow0 + e bRowBatch on (returned), or
/// failure, with `why`, when the slabs are not whole rows from column 0
/// of a width the kernels copy in 16-byte chunks.
FailureOr<std::pair<int64_t, int64_t>>
slabRows(const BatchedGemm &gemm, const Dequantized &d, std::string &why) {
  int64_t ldb = cast<MemRefType>(d.weight.getType()).getDimSize(1);
  if (gemm.wStrides[1] != ldb || gemm.wOffset % ldb != 0 ||
      gemm.wStrides[0] % ldb != 0)
    return refuse(why, "W's slabs are not whole rows of the e4m3 weight");
  // The slab's columns: N for W given K x N, else K.
  int64_t width = gemm.wByK ? gemm.n : gemm.k;
  if (width % 16 != 0)
    return refuse(why, Twine(gemm.wByK ? "N" : "K") + " = " + Twine(width) +
                           " is not a multiple of 16");
  return std::make_pair(gemm.wOffset / ldb, gemm.wStrides[0] / ldb);
}

/// The ops that dequantize `d`'s weight, in an order to erase them once
/// nothing reads the result: the dealloc, the dequantization, the views
/// (users first), the allocation, and the weight's blocked view if nothing
/// else reads it.
SmallVector<Operation *> dequantizationOps(const Dequantized &d) {
  SmallVector<Operation *> ops = {d.dealloc, d.op};
  ops.append(d.views.begin(), d.views.end());
  ops.push_back(d.alloc);
  Operation *blocked = d.op->getOperand(0).getDefiningOp();
  if (blocked && blocked->hasOneUse())
    ops.push_back(blocked);
  return ops;
}

/// Where the GEMMs of `weights` (B dequantized for them) run, built at
/// `b`: with at most kFp8wMaxRows `rows`, `fp8w` (the e4m3 kernel, the
/// dequantizations gone); with more, the dequantizations (their
/// allocations, views and deallocs moved into that branch) and then
/// `dequantized`; or, given `manyFp8w` (sm_90a's e4m3 wgmma kernel), that,
/// with no dequantization at all: then the ops to erase once the GEMMs are
/// gone are returned. A CUDA graph captures the branch its step's shapes
/// take.
SmallVector<Operation *>
dequantizedOrNot(OpBuilder &b, Location loc, Value rows,
                 ArrayRef<Dequantized *> weights,
                 function_ref<void(OpBuilder &, Location)> fp8w,
                 function_ref<void(OpBuilder &, Location)> dequantized,
                 function_ref<void(OpBuilder &, Location)> manyFp8w) {
  Value few = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ule, rows,
      arith::ConstantIndexOp::create(b, loc, kFp8wMaxRows));
  auto ifOp = scf::IfOp::create(
      b, loc, few,
      [&](OpBuilder &tb, Location l) {
        fp8w(tb, l);
        scf::YieldOp::create(tb, l);
      },
      [&](OpBuilder &eb, Location l) { scf::YieldOp::create(eb, l); });
  Operation *yield = ifOp.elseBlock()->getTerminator();
  OpBuilder eb(yield);
  SmallVector<Operation *> unused;
  if (manyFp8w) {
    manyFp8w(eb, loc);
    for (Dequantized *d : weights)
      unused.append(dequantizationOps(*d));
    return unused;
  }
  for (Dequantized *d : weights) {
    d->alloc->moveBefore(yield);
    for (Operation *view : llvm::reverse(d->views))
      view->moveBefore(yield);
    d->op->moveBefore(yield);
  }
  dequantized(eb, loc);
  for (Dequantized *d : weights)
    d->dealloc->moveBefore(yield);
  return unused;
}

/// Launches sm_90a's dense e4m3 GEMM `kernel` (gemm_wgmma_fp8w_bf16_tn, or
/// its SwiGLU form over gate's and up's `weights`) on `rows` rows of `a`
/// into `c`: A and each e4m3 weight through the runtime's descriptors,
/// then the scales and the block size.
void launchFp8wWgmma(OpBuilder &b, Location loc, ModuleOp module,
                     const LibraryKernel &kernel, Value a,
                     ArrayRef<Dequantized *> weights, Value c, Value rows,
                     int64_t n, int64_t k) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  SmallVector<Value> args = {
      tensorMap(b, loc, module, asRows(b, loc, a), kernel.tmaBox)};
  for (Dequantized *d : weights)
    args.push_back(tensorMap(b, loc, module, d->weight, kernel.tmaBox));
  for (Dequantized *d : weights)
    args.push_back(flattened(b, loc, d->scales));
  args.append({flattened(b, loc, c), rows, index(n), index(k),
               index(weights.front()->blockN), index(weights.front()->blockK)});
  launchTiled(b, loc, kernel, static_cast<int64_t>(weights.size()) * n,
              mTilesFor(b, loc, rows, kernel), 1, args);
}

/// Launches the e4m3 GEMM `kernel` (one batch) on `rows` rows of `a`, the
/// weights and scales of `weights` (one; or gate's and up's for the
/// SwiGLU kernel, whose blocks cover their 2 n columns packed), into `c`.
void launchFp8w(OpBuilder &b, Location loc, const LibraryKernel &kernel,
                Value a, ArrayRef<Dequantized *> weights, Value c, Value rows,
                int64_t n, int64_t k) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value mTiles = mTilesFor(b, loc, rows, kernel);
  SmallVector<Value> args = {flattened(b, loc, a)};
  for (Dequantized *d : weights)
    args.push_back(flattened(b, loc, d->weight));
  for (Dequantized *d : weights)
    args.push_back(flattened(b, loc, d->scales));
  args.append({flattened(b, loc, c), rows, index(n), index(k), index(k),
               index(n), index(weights.front()->blockN),
               index(weights.front()->blockK)});
  launchTiled(b, loc, kernel, static_cast<int64_t>(weights.size()) * n, mTiles,
              1, args);
}

/// Replaces `op` with the launch of `kernel` on `gemm`: one batch of the
/// batched GEMM, its rows' count an argument (the grouped GEMM would need
/// the one expert's offsets [0, M] written by a kernel of their own: the
/// host cannot store device data a CUDA graph replays). With `large`, the
/// 128-row tile (mma.sync, or wgmma fed by TMA when it takes descriptors)
/// when the rows make at least `largeTileBlocks` of its blocks. A B
/// dequantized from an e4m3 weight is read as stored by `fp8w` when the
/// rows are few, and by `fp8wLarge` (sm_90a's wgmma form) when they are
/// more, if given (dequantizedOrNot). On the 64-row tiles, K is split as
/// `split` says (splitKOrNot).
void launch(linalg::GenericOp op, Gemm &gemm, const LibraryKernel &kernel,
            const LibraryKernel *large, int64_t largeTileBlocks,
            const LibraryKernel *fp8w, const LibraryKernel *fp8wLarge,
            const SplitK &split) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  // M: the product of A's leading dims.
  Value rows = leadingProduct(b, loc, gemm.a,
                              cast<MemRefType>(gemm.a.getType()).getRank() - 1);
  BatchedGemm one{
      gemm.a,      gemm.b, gemm.c, /*wByK=*/false,
      /*heads=*/1, gemm.n, gemm.k, /*wOffset=*/0,  {gemm.n * gemm.k, gemm.k}};
  // The 64-row tile, with K split when its grid is small.
  auto small = [&](OpBuilder &b, Location loc) {
    auto whole = [&](OpBuilder &b, Location loc) {
      launchBatchedKernel(b, loc, one, flattened(b, loc, gemm.b), rows, kernel);
    };
    splitKOrNot(b, loc, kernel, split, gemm.c, rows, gemm.n, gemm.k, whole,
                [&](OpBuilder &b, Location loc, Value count, Value kPart,
                    Value partials) {
                  launchPartsBf16(b, loc, kernel, one,
                                  flattened(b, loc, gemm.b), rows, count, kPart,
                                  partials);
                });
  };
  auto bf16 = [&](OpBuilder &b, Location loc) {
    launchByRows(b, loc, op->getParentOfType<ModuleOp>(), one, gemm.b, rows,
                 large, largeTileBlocks, small);
  };
  SmallVector<Operation *> unused;
  if (gemm.dequantized && fp8w) {
    Dequantized *w = &*gemm.dequantized;
    auto wgmmaFp8w = [&](OpBuilder &eb, Location l) {
      launchFp8wWgmma(eb, l, op->getParentOfType<ModuleOp>(), *fp8wLarge,
                      gemm.a, w, gemm.c, rows, gemm.n, gemm.k);
    };
    unused = dequantizedOrNot(
        b, loc, rows, w,
        [&](OpBuilder &tb, Location l) {
          auto whole = [&](OpBuilder &b, Location loc) {
            launchFp8w(b, loc, *fp8w, gemm.a, w, gemm.c, rows, gemm.n, gemm.k);
          };
          if (!split.fp8w)
            return whole(tb, l);
          splitKOrNot(tb, l, *fp8w, split, gemm.c, rows, gemm.n, gemm.k, whole,
                      [&](OpBuilder &b, Location loc, Value count, Value kPart,
                          Value partials) {
                        launchPartsFp8w(b, loc, *split.fp8w, gemm.a, *w, rows,
                                        gemm.n, gemm.k, count, kPart, partials);
                      });
        },
        bf16,
        fp8wLarge ? function_ref<void(OpBuilder &, Location)>(wgmmaFp8w)
                  : nullptr);
  } else {
    bf16(b, loc);
  }
  op.erase();
  for (Operation *dead : unused)
    dead->erase();
}

/// Replaces `op` (on buffers) with the library's MLA decode: a kernel that
/// stores each row's entry at its position (the op's contract lets its
/// lowering do so: the step stores those entries anyway), then `decode`
/// over splits of the rows' tokens and `combine` of the splits. The cache
/// may be a layer's pages within a cache of all layers: mla_decode_bf16
/// takes the whole buffer and the element offset of the layer's page 0;
/// a `decode` that takes TMA descriptors (mla_decode_wgmma_bf16) takes the
/// runtime's descriptors of the queries, [rows * heads, width], and of the
/// layer's pages, [pages * pageSize, width].
LogicalResult launchAttention(PagedMlaDecodeOp op, const LibraryKernel &decode,
                              const LibraryKernel &combine) {
  OpBuilder b(op);
  auto module = op->getParentOfType<ModuleOp>();
  Location loc = op.getLoc();
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value queries = op.getQueries(), entries = op.getEntries(),
        cache = op.getCache(), table = op.getBlockTable(),
        lengths = op.getLengths(), out = op.getInit();
  auto cacheType = cast<MemRefType>(cache.getType());
  int64_t heads = cast<MemRefType>(queries.getType()).getDimSize(1);
  int64_t width = cacheType.getDimSize(2), pageSize = cacheType.getDimSize(1);
  auto [strides, offset] = cacheType.getStridesAndOffset();
  if (strides != ArrayRef<int64_t>{pageSize * width, width, 1})
    return op.emitOpError("needs a cache of contiguous pages, not ")
           << cacheType;
  // The kernels' pages hold kLibraryMlaPageSize tokens, a whole number of
  // its token tiles.
  if (pageSize != kLibraryMlaPageSize || kLibraryMlaPageSize % decode.tileN)
    return op.emitOpError("needs pages of ")
           << kLibraryMlaPageSize << " tokens, not " << pageSize;
  if (ShapedType::isDynamic(heads))
    return op.emitOpError("needs a static head count");
  Value root = rootBuffer(cache);
  if (!cast<MemRefType>(root.getType()).getLayout().isIdentity())
    return op.emitOpError("needs a cache that views a contiguous buffer");
  // The other operands are passed as flat buffers.
  for (Value operand : {queries, entries, table, lengths, out})
    if (!cast<MemRefType>(operand.getType()).getLayout().isIdentity())
      return op.emitOpError("needs contiguous row-major queries, entries, "
                            "block table, lengths and init");
  Value rows = memref::DimOp::create(b, loc, queries, 0);
  Value pages = memref::DimOp::create(b, loc, cache, 0);
  Value tablePages = memref::DimOp::create(b, loc, table, 1);

  // 1. Entry r at position lengths[r] - 1 (none for a length of 0), one
  //    thread per value. The indices are checked: a bad table skips the
  //    entry rather than write outside the cache.
  Value zero = index(0), one = index(1);
  scf::ParallelOp::create(
      b, loc, ValueRange{zero, zero}, ValueRange{rows, index(width)},
      ValueRange{one, one}, [&](OpBuilder &nb, Location l, ValueRange ivs) {
        Value r = ivs[0], col = ivs[1];
        Value length = arith::IndexCastOp::create(
            nb, l, nb.getIndexType(),
            memref::LoadOp::create(nb, l, lengths, r));
        Value first = arith::ConstantIndexOp::create(nb, l, 1);
        Value any = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge,
                                          length, first);
        Value position = arith::SubIOp::create(nb, l, length, first);
        auto [page, row, ok] = cachePosition(nb, l, table, tablePages, r,
                                             position, pageSize, pages, any);
        scf::IfOp::create(nb, l, ok, [&](OpBuilder &tb, Location tl) {
          Value value =
              memref::LoadOp::create(tb, tl, entries, ValueRange{r, col});
          memref::StoreOp::create(tb, tl, value, cache,
                                  ValueRange{page, row, col});
          scf::YieldOp::create(tb, tl);
        });
      });

  // 2. The splits: each takes tilesPerSplit token tiles of every row, so
  //    that the rows, head blocks and splits make about kMlaTargetBlocks
  //    blocks (sizes from shapes only: a CUDA graph replays them).
  auto max = [&](Value x, Value y) {
    return arith::MaxUIOp::create(b, loc, x, y).getResult();
  };
  Value tiles = max(
      arith::MulIOp::create(b, loc, tablePages, index(pageSize / decode.tileN)),
      one);
  Value headBlocks = index(llvm::divideCeil(heads, decode.tileM));
  Value perSplit = max(arith::MulIOp::create(b, loc, rows, headBlocks), one);
  Value wanted = arith::MinUIOp::create(
      b, loc, ceilDiv(b, loc, index(kMlaTargetBlocks), perSplit), tiles);
  Value tilesPerSplit = ceilDiv(b, loc, tiles, max(wanted, one));
  Value splits = ceilDiv(b, loc, tiles, tilesPerSplit);

  // 3. Partial outputs and their log-sum-exp, then the launches. A step
  //    without rows launches nothing (a grid of 0 blocks is an error).
  Type f32 = b.getF32Type();
  Value headRows = arith::MulIOp::create(b, loc, rows, index(heads));
  Value partials = arith::MulIOp::create(b, loc, headRows, splits);
  auto buffer = MemRefType::get({ShapedType::kDynamic}, f32);
  int64_t valueWidth = cast<MemRefType>(out.getType()).getDimSize(2);
  Value opart = memref::AllocOp::create(
      b, loc, buffer,
      ValueRange{arith::MulIOp::create(b, loc, partials, index(valueWidth))});
  Value lse = memref::AllocOp::create(b, loc, buffer, ValueRange{partials});
  Value anyRows =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, rows, zero);
  Value headCount = index(heads);
  Value decodeThreads = index(decode.threads),
        combineThreads = index(combine.threads);
  scf::IfOp::create(b, loc, anyRows, [&](OpBuilder &tb, Location tl) {
    double scale = op.getScale().convertToDouble() * M_LOG2E;
    Value scaleLog2 =
        arith::ConstantOp::create(tb, tl, tb.getF32FloatAttr(float(scale)));
    gpu::KernelDim3 decodeGrid{headBlocks, splits, rows};
    gpu::KernelDim3 decodeBlock{decodeThreads, one, one};
    Value decodeShared = arith::ConstantIntOp::create(tb, tl, tb.getI32Type(),
                                                      decode.sharedBytes);
    SmallVector<Value> args;
    bool tma = !decode.tmaBox.empty();
    if (tma)
      args = {tensorMap(tb, tl, module, asRows(tb, tl, queries), decode.tmaBox),
              tensorMap(tb, tl, module, asRows(tb, tl, cache), decode.tmaBox)};
    else
      args = {flattened(tb, tl, queries), flattened(tb, tl, root)};
    args.append({flattened(tb, tl, table), flattened(tb, tl, lengths), opart,
                 lse, headCount, tablePages, splits, tilesPerSplit});
    // Where the view's page 0 is in the buffer it views (a descriptor
    // holds it).
    if (!tma)
      args.push_back(
          memref::ExtractStridedMetadataOp::create(tb, tl, cache).getOffset());
    args.push_back(scaleLog2);
    gpu::LaunchFuncOp::create(tb, tl, decode.fn, decodeGrid, decodeBlock,
                              decodeShared, args);
    gpu::KernelDim3 combineGrid{headCount, rows, one};
    gpu::KernelDim3 combineBlock{combineThreads, one, one};
    gpu::LaunchFuncOp::create(
        tb, tl, combine.fn, combineGrid, combineBlock, Value(),
        ValueRange{opart, lse, flattened(tb, tl, out), headCount, splits});
    scf::YieldOp::create(tb, tl);
  });
  memref::DeallocOp::create(b, loc, opart);
  memref::DeallocOp::create(b, loc, lse);
  op.erase();
  return success();
}

/// Replaces `op` (on buffers) with the library's MLA prefill: one block per
/// 64 query tokens of a head of a sequence (grid ceil(S / 64) x H x B).
LogicalResult launchPrefill(CausalMlaPrefillOp op,
                            const LibraryKernel &kernel) {
  OpBuilder b(op);
  auto module = op->getParentOfType<ModuleOp>();
  Location loc = op.getLoc();
  Value queries = op.getQueries(), kv = op.getKv(), ropeKeys = op.getRopeKeys(),
        out = op.getInit();
  for (Value operand : {queries, kv, ropeKeys, out})
    if (!cast<MemRefType>(operand.getType()).getLayout().isIdentity())
      return op.emitOpError("needs contiguous row-major queries, kv, "
                            "rope_keys and init");
  int64_t heads = cast<MemRefType>(queries.getType()).getDimSize(2);
  if (ShapedType::isDynamic(heads))
    return op.emitOpError("needs a static head count");
  // The heads are the grid's y dimension (at most 65535 blocks; the batch,
  // z, is the sequences of one prefill).
  if (heads > 65535)
    return op.emitOpError("needs at most 65535 heads, not ") << heads;
  Value batch = memref::DimOp::create(b, loc, queries, 0);
  Value tokens = memref::DimOp::create(b, loc, queries, 1);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value headCount = arith::ConstantIndexOp::create(b, loc, heads);
  // No tokens launches nothing (a grid of 0 blocks is an error).
  Value any = arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, batch, zero),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, tokens, zero));
  scf::IfOp::create(b, loc, any, [&](OpBuilder &tb, Location tl) {
    double scale = op.getScale().convertToDouble() * M_LOG2E;
    Value scaleLog2 =
        arith::ConstantOp::create(tb, tl, tb.getF32FloatAttr(float(scale)));
    Value tiles = ceilDiv(tb, tl, tokens,
                          arith::ConstantIndexOp::create(tb, tl, kernel.tileM));
    gpu::KernelDim3 grid{tiles, headCount, batch};
    gpu::KernelDim3 block{
        arith::ConstantIndexOp::create(tb, tl, kernel.threads), one, one};
    Value shared = arith::ConstantIntOp::create(tb, tl, tb.getI32Type(),
                                                kernel.sharedBytes);
    // A kernel fed by TMA takes the runtime's descriptors of the three
    // inputs as [batch, tokens, row] (a box stays within its sequence).
    SmallVector<Value> args;
    if (kernel.tmaBox.empty()) {
      args = {flattened(tb, tl, queries), flattened(tb, tl, kv),
              flattened(tb, tl, ropeKeys)};
    } else {
      SmallVector<ReassociationIndices> rows = {{0}, {1}, {2, 3}};
      args = {
          tensorMap(tb, tl, module, collapsed(tb, tl, queries, rows),
                    kernel.tmaBox),
          tensorMap(tb, tl, module, collapsed(tb, tl, kv, rows), kernel.tmaBox),
          tensorMap(tb, tl, module, ropeKeys, kernel.tmaBox)};
    }
    args.append({flattened(tb, tl, out), tokens, headCount, scaleLog2});
    gpu::LaunchFuncOp::create(tb, tl, kernel.fn, grid, block, shared, args);
    scf::YieldOp::create(tb, tl);
  });
  op.erase();
  return success();
}

/// Replaces `op` (dsc.rms_norm_rows or dsc.add_rms_norm_rows on buffers:
/// `inputs` x [, res], then `weight`, `outputs` [h,] y) with the library's
/// RMSNorm kernel: one block per row of D values; nothing for no rows. A
/// strided row operand (a view the bufferization left) is copied to or
/// from a contiguous buffer around the launch.
LogicalResult launchNorm(Operation *op, ValueRange inputs, Value weight,
                         ValueRange outputs, APFloat epsilon,
                         const LibraryKernel &kernel) {
  auto weightType = cast<MemRefType>(weight.getType());
  if (!weightType.getLayout().isIdentity())
    return op->emitOpError("needs a contiguous weight");
  OpBuilder b(op);
  Location loc = op->getLoc();
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  auto type = cast<MemRefType>(inputs.front().getType());
  // The verifier makes the weight's width static; the rows' may be `?`.
  int64_t width = weightType.getDimSize(0);
  // The rows: the product of the leading dimensions.
  Value rows = index(1);
  for (int64_t d = 0; d + 1 < type.getRank(); ++d) {
    Value size = memref::DimOp::create(b, loc, inputs[0], d);
    rows = d ? arith::MulIOp::create(b, loc, rows, size).getResult() : size;
  }
  // Contiguous copies of strided operands: inputs before, outputs after.
  SmallVector<Value> temporaries;
  auto contiguous = [&](Value value) -> Value {
    auto valueType = cast<MemRefType>(value.getType());
    if (valueType.getLayout().isIdentity())
      return value;
    SmallVector<Value> dynamicSizes;
    for (int64_t d = 0; d < valueType.getRank(); ++d)
      if (valueType.isDynamicDim(d))
        dynamicSizes.push_back(memref::DimOp::create(b, loc, value, d));
    Value buffer = memref::AllocOp::create(
        b, loc,
        MemRefType::get(valueType.getShape(), valueType.getElementType()),
        dynamicSizes);
    temporaries.push_back(buffer);
    return buffer;
  };
  SmallVector<Value> args;
  for (Value input : inputs) {
    Value buffer = contiguous(input);
    if (buffer != input)
      linalg::CopyOp::create(b, loc, input, buffer);
    args.push_back(buffer);
  }
  args.push_back(weight);
  SmallVector<std::pair<Value, Value>> copyBack;
  for (Value output : outputs) {
    Value buffer = contiguous(output);
    if (buffer != output)
      copyBack.push_back({buffer, output});
    args.push_back(buffer);
  }
  Value any =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, rows, index(0));
  scf::IfOp::create(b, loc, any, [&](OpBuilder &tb, Location tl) {
    SmallVector<Value> operands;
    for (Value arg : args)
      operands.push_back(flattened(tb, tl, arg));
    operands.push_back(arith::ConstantIndexOp::create(tb, tl, width));
    operands.push_back(arith::ConstantOp::create(
        tb, tl, tb.getF32FloatAttr(float(epsilon.convertToDouble()))));
    Value one = arith::ConstantIndexOp::create(tb, tl, 1);
    gpu::LaunchFuncOp::create(
        tb, tl, kernel.fn, gpu::KernelDim3{rows, one, one},
        gpu::KernelDim3{arith::ConstantIndexOp::create(tb, tl, kernel.threads),
                        one, one},
        Value(), operands);
    scf::YieldOp::create(tb, tl);
  });
  for (auto [buffer, output] : copyBack)
    linalg::CopyOp::create(b, loc, buffer, output);
  for (Value buffer : temporaries)
    memref::DeallocOp::create(b, loc, buffer);
  op->erase();
  return success();
}

/// Replaces `op` (on buffers) with the library's router: one warp per
/// token, 4 tokens per block (grid ceil(T / 4)); nothing for no tokens.
LogicalResult launchRoute(NoauxTcRouteOp op, const LibraryKernel &kernel) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  for (Value operand : op->getOperands())
    if (!cast<MemRefType>(operand.getType()).getLayout().isIdentity())
      return op.emitOpError("needs contiguous row-major logits, bias, ids "
                            "and weights");
  auto index = [&](OpBuilder &ib, Location l, int64_t v) {
    return arith::ConstantIndexOp::create(ib, l, v).getResult();
  };
  Value tokens = memref::DimOp::create(b, loc, op.getLogits(), 0);
  Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, tokens,
                                    index(b, loc, 0));
  int64_t topK = cast<MemRefType>(op.getIds().getType()).getDimSize(1);
  scf::IfOp::create(b, loc, any, [&](OpBuilder &tb, Location tl) {
    // One warp per token.
    Value blocks = ceilDiv(tb, tl, tokens, index(tb, tl, kernel.threads / 32));
    Value one = index(tb, tl, 1);
    Value scale = arith::ConstantOp::create(
        tb, tl,
        tb.getF32FloatAttr(
            float(op.getRoutedScalingFactor().convertToDouble())));
    gpu::LaunchFuncOp::create(
        tb, tl, kernel.fn, gpu::KernelDim3{blocks, one, one},
        gpu::KernelDim3{index(tb, tl, kernel.threads), one, one}, Value(),
        ValueRange{flattened(tb, tl, op.getLogits()),
                   flattened(tb, tl, op.getBias()), tokens,
                   index(tb, tl, op.getTopkGroup()), index(tb, tl, topK),
                   index(tb, tl, op.getNormTopkProb() ? 1 : 0), scale,
                   flattened(tb, tl, op.getIds()),
                   flattened(tb, tl, op.getWeights())});
    scf::YieldOp::create(tb, tl);
  });
  op.erase();
  return success();
}

/// The operands of a marked routed experts' GEMM (kLibraryGroupedGemmAttr)
/// the library can run: C [tokens, topK, n] += A [tokens, (topK,) k] times
/// the stack W [experts, n, k] at each slot's expert.
struct GroupedGemm {
  Value a, indices, c, w;
  bool perSlot;
  int64_t experts, topK, n, k;
  // An e4m3 stack's block scales [experts, ceil(N / blockN), ceil(K /
  // blockK)] (null for a bf16 stack).
  Value scales;
  int64_t blockN, blockK;
};

/// `v` with the clamp the mark's body applies, minsi(maxsi(v, 0), max),
/// peeled off; null when it is not that.
Value unclamped(Value v, int64_t max) {
  auto isConstant = [](Value c, int64_t value) {
    APInt bits;
    return matchPattern(c, m_ConstantInt(&bits)) && bits == value;
  };
  auto min = v.getDefiningOp<arith::MinSIOp>();
  if (!min || !isConstant(min.getRhs(), max))
    return {};
  auto lowered = min.getLhs().getDefiningOp<arith::MaxSIOp>();
  if (!lowered || !isConstant(lowered.getRhs(), 0))
    return {};
  auto cast = lowered.getLhs().getDefiningOp<arith::IndexCastOp>();
  return cast ? cast.getIn() : Value();
}

FailureOr<GroupedGemm> matchGroupedGemm(linalg::GenericOp op,
                                        std::string &why) {
  GroupedGemm g{op.getDpsInputs()[0],
                op.getDpsInputs()[1],
                op.getDpsInits()[0],
                Value(),
                false,
                0,
                0,
                0,
                0,
                Value(),
                0,
                0};
  auto aType = cast<MemRefType>(g.a.getType());
  auto idxType = cast<MemRefType>(g.indices.getType());
  auto cType = cast<MemRefType>(g.c.getType());
  if (cType.getRank() != 3 || idxType.getRank() != 2 || cType.isDynamicDim(1) ||
      cType.isDynamicDim(2) ||
      idxType.getShape().back() != cType.getDimSize(1) || aType.getRank() < 2 ||
      aType.getRank() > 3 || aType.isDynamicDim(aType.getRank() - 1))
    return refuse(
        why, "shapes are not [T, (top_k,) K], [T, top_k] -> [T, top_k, N]");
  g.perSlot = aType.getRank() == 3;
  g.topK = cType.getDimSize(1);
  g.n = cType.getDimSize(2);
  g.k = aType.getShape().back();
  // Loops (t, j, n, k).
  MLIRContext *ctx = op.getContext();
  auto map = [&](ArrayRef<unsigned> dims) {
    return AffineMap::getMultiDimMapWithTargets(4, dims, ctx);
  };
  SmallVector<AffineMap> want = {g.perSlot ? map({0, 1, 3}) : map({0, 3}),
                                 map({0, 1}), map({0, 1, 2})};
  if (op.getIndexingMapsArray() != want || op.getNumReductionLoops() != 1 ||
      op.getIteratorTypesArray().back() != utils::IteratorType::reduction)
    return refuse(why,
                  "indexing is not C[t, j, n] += A[t, (j,) k] * W[e, n, k]");
  // The body: acc + extf(a) * extf(W[clamp(index), n, k]), W from above;
  // an e4m3 stack's (the mark its block size): acc + extf(a) *
  // extf(truncf(decode(W[e, n, k]) * S[e, n / blockN, k / blockK])), the
  // decoding the mark's contract.
  Block &body = op.getRegion().front();
  auto [lhs, rhs] = multipliedValues(body);
  if (rhs == body.getArgument(0))
    std::swap(lhs, rhs);
  auto blockSize =
      op->getAttrOfType<DenseI64ArrayAttr>(kLibraryGroupedGemmAttr);
  auto isIndex = [](Value v, uint64_t dim) {
    auto index = v.getDefiningOp<linalg::IndexOp>();
    return index && index.getDim() == dim;
  };
  memref::LoadOp load, scaleLoad;
  if (blockSize) {
    auto trunc = rhs ? rhs.getDefiningOp<arith::TruncFOp>() : nullptr;
    auto mul = trunc ? trunc.getIn().getDefiningOp<arith::MulFOp>() : nullptr;
    SmallVector<memref::LoadOp> loads;
    bool onlyArith = true;
    for (Operation &o : body) {
      if (auto l = dyn_cast<memref::LoadOp>(o))
        loads.push_back(l);
      else if (!isa<arith::ArithDialect>(o.getDialect()) &&
               !isa<linalg::IndexOp, linalg::YieldOp>(o))
        onlyArith = false;
    }
    for (memref::LoadOp l : loads) {
      Type element = l.getMemRefType().getElementType();
      if (isa<Float8E4M3FNType>(element))
        load = l;
      else if (mul && element.isF32() &&
               llvm::is_contained(mul->getOperands(), l.getResult()))
        scaleLoad = l;
    }
    // The other factor is W's element decoded: computed from its load and
    // constants alone.
    auto decodesW = [&](Value factor) {
      SmallVector<Value> work = {factor};
      bool readsW = false;
      while (!work.empty()) {
        Value v = work.pop_back_val();
        Operation *def = v.getDefiningOp();
        if (!def)
          return false; // A block argument: a or the accumulator.
        if (def == load.getOperation()) {
          readsW = true;
          continue;
        }
        if (!op.getRegion().isAncestor(def->getParentRegion()))
          continue; // From above: a constant.
        if (isa<memref::LoadOp, linalg::IndexOp>(def))
          return false;
        llvm::append_range(work, def->getOperands());
      }
      return readsW;
    };
    Value factor = !mul || !scaleLoad                      ? Value()
                   : mul.getLhs() == scaleLoad.getResult() ? mul.getRhs()
                                                           : mul.getLhs();
    if (lhs != body.getArgument(0) || !onlyArith || loads.size() != 2 ||
        !load || !scaleLoad || blockSize.size() != 2 ||
        !trunc.getType().isBF16() || !decodesW(factor))
      return refuse(why, "its body is not acc + extf(a) * "
                         "extf(truncf(decode(W[e, n, k]) * S[e, n / blockN, "
                         "k / blockK]))");
    g.scales = scaleLoad.getMemRef();
    g.blockN = blockSize[0];
    g.blockK = blockSize[1];
  } else {
    load = rhs ? rhs.getDefiningOp<memref::LoadOp>() : nullptr;
    unsigned ops = llvm::count_if(body, [](Operation &o) {
      return !o.hasTrait<OpTrait::ConstantLike>();
    });
    if (lhs != body.getArgument(0) || !load || ops != 11)
      return refuse(why, "its body is not acc + extf(a) * extf(W[e, n, k])");
  }
  if (op.getRegion().isAncestor(load.getMemRef().getParentRegion()) ||
      load.getIndices().size() != 3 || !isIndex(load.getIndices()[1], 2) ||
      !isIndex(load.getIndices()[2], 3))
    return refuse(why, "its body does not read W[e, n, k] of a stack from "
                       "above");
  g.w = load.getMemRef();
  auto wType = cast<MemRefType>(g.w.getType());
  Type wElement = wType.getElementType();
  if (!wType.hasStaticShape() ||
      !(g.scales ? isa<Float8E4M3FNType>(wElement) : wElement.isBF16()) ||
      wType.getDimSize(1) != g.n || wType.getDimSize(2) != g.k)
    return refuse(why, g.scales ? "the stack is not a static e4m3 [experts, "
                                  "N, K]"
                                : "the stack is not a static bf16 [experts, "
                                  "N, K]");
  g.experts = wType.getDimSize(0);
  if (unclamped(load.getIndices()[0], g.experts - 1) != body.getArgument(1))
    return refuse(why, "the expert is not indices[t, j] clamped to the stack");
  if (g.scales) {
    // S[e, n / blockN, k / blockK] of the same expert, one scale a block.
    auto divides = [&](Value v, uint64_t dim, int64_t block) {
      auto div = v.getDefiningOp<arith::DivUIOp>();
      APInt by;
      return div && isIndex(div.getLhs(), dim) &&
             matchPattern(div.getRhs(), m_ConstantInt(&by)) &&
             by.getSExtValue() == block;
    };
    auto sType = cast<MemRefType>(g.scales.getType());
    ValueRange at = scaleLoad.getIndices();
    if (g.blockN <= 0 || g.blockK <= 0 || at.size() != 3 ||
        at[0] != load.getIndices()[0] || !divides(at[1], 2, g.blockN) ||
        !divides(at[2], 3, g.blockK) || !sType.hasStaticShape() ||
        sType.getShape() != ArrayRef<int64_t>{g.experts,
                                              blocksOf(g.n, g.blockN),
                                              blocksOf(g.k, g.blockK)} ||
        !sType.getLayout().isIdentity())
      return refuse(why, "its scales are not S[e, n / blockN, k / blockK] of "
                         "a static [experts, ceil(N / blockN), ceil(K / "
                         "blockK)] buffer");
    // cp.async copies 16 bytes of e4m3 weights; each lies in one scale
    // block.
    if (g.k % 16 != 0 || g.blockK % 16 != 0)
      return refuse(why, "K = " + Twine(g.k) + " or the scale block's " +
                             Twine(g.blockK) +
                             " columns are not a multiple of 16");
  }
  if (!aType.getElementType().isBF16() || !cType.getElementType().isF32())
    return refuse(why, "operands are not bf16 x bf16 -> f32");
  if (g.k % kKMultiple != 0)
    return refuse(why, "K = " + Twine(g.k) + " is not a multiple of " +
                           Twine(kKMultiple) +
                           " (rows must start 16-byte aligned)");
  if (g.experts > kAlignMaxExperts)
    return refuse(why, Twine(g.experts) +
                           " experts, the dispatch takes at most " +
                           Twine(kAlignMaxExperts));
  if (!aType.getLayout().isIdentity() || !idxType.getLayout().isIdentity() ||
      !cType.getLayout().isIdentity() || !wType.getLayout().isIdentity())
    return refuse(why, "an operand is not a contiguous row-major buffer");
  return g;
}

/// The slots of routed GEMMs sorted by expert (moe_align's results), shared
/// by the GEMMs of one `indices`.
struct SortedSlots {
  Value tokens, slots, maxTiles;
  // Buffers to free after the last use.
  Value ids, offsets, slotRow, rowSlot, tiles;
};

/// Emits, before `b`'s insertion point, the sorting of the slots of
/// `g.indices`: the experts as i32, clamped to the stack (as the marked
/// body clamps them), then moe_align (the slots sorted by expert,
/// unpadded: the GEMM takes any rows), giving each expert's row range, each
/// slot's row and each row's slot; then moe_tiles, the `tileRows`-row M
/// tiles of each expert's rows (at most ceil(slots / tileRows) + experts).
SortedSlots sortSlots(OpBuilder &b, Location loc, const GroupedGemm &g,
                      const LibraryKernel &align,
                      const LibraryKernel &tilesKernel, int64_t tileRows) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Type i32 = b.getI32Type();
  SortedSlots sorted;
  sorted.tokens = memref::DimOp::create(b, loc, g.indices, 0);
  sorted.slots = arith::MulIOp::create(b, loc, sorted.tokens, index(g.topK));
  sorted.ids = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, g.topK}, i32),
      sorted.tokens);
  MLIRContext *ctx = b.getContext();
  parallelGeneric(
      b, loc, g.indices, sorted.ids, AffineMap::getMultiDimIdentityMap(2, ctx),
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value e = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
        e = arith::MaxSIOp::create(nb, l, e,
                                   arith::ConstantIndexOp::create(nb, l, 0));
        e = arith::MinSIOp::create(
            nb, l, e, arith::ConstantIndexOp::create(nb, l, g.experts - 1));
        linalg::YieldOp::create(
            nb, l, arith::IndexCastOp::create(nb, l, i32, e).getResult());
      });
  sorted.offsets =
      memref::AllocOp::create(b, loc, MemRefType::get({g.experts + 1}, i32));
  sorted.slotRow = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, g.topK}, i32),
      sorted.tokens);
  sorted.rowSlot = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, i32), sorted.slots);
  gpu::LaunchFuncOp::create(
      b, loc, align.fn, gpu::KernelDim3{index(1), index(1), index(1)},
      gpu::KernelDim3{index(align.threads), index(1), index(1)},
      /*dynamicSharedMemorySize=*/Value(),
      ValueRange{flattened(b, loc, sorted.ids), sorted.slots, index(g.experts),
                 /*blockRows=*/index(1), flattened(b, loc, sorted.offsets),
                 flattened(b, loc, sorted.slotRow), sorted.rowSlot});
  sorted.maxTiles = arith::AddIOp::create(
      b, loc, tilesFor(b, loc, sorted.slots, tileRows), index(g.experts));
  sorted.tiles = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, i32),
      ValueRange{arith::MulIOp::create(b, loc, sorted.maxTiles, index(2))});
  gpu::LaunchFuncOp::create(
      b, loc, tilesKernel.fn, gpu::KernelDim3{index(1), index(1), index(1)},
      gpu::KernelDim3{index(tilesKernel.threads), index(1), index(1)},
      /*dynamicSharedMemorySize=*/Value(),
      ValueRange{flattened(b, loc, sorted.offsets), index(g.experts),
                 index(tileRows), sorted.maxTiles, sorted.tiles});
  return sorted;
}

/// The rows of `g.a` in expert order: row r is the token of slot
/// rowSlot[r] (or that slot's own row of a per-slot input).
Value gatherRows(OpBuilder &b, Location loc, const GroupedGemm &g,
                 const SortedSlots &sorted) {
  Value rows = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, g.k}, b.getBF16Type()),
      sorted.slots);
  MLIRContext *ctx = b.getContext();
  parallelGeneric(
      b, loc, sorted.rowSlot, rows,
      AffineMap::get(2, 0, getAffineDimExpr(0, ctx)),
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value slot = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
        Value topK = arith::ConstantIndexOp::create(nb, l, g.topK);
        Value t = arith::DivUIOp::create(nb, l, slot, topK);
        Value i = linalg::IndexOp::create(nb, l, 1);
        SmallVector<Value> at = {t, i};
        if (g.perSlot)
          at.insert(at.begin() + 1,
                    arith::RemUIOp::create(nb, l, slot, topK).getResult());
        linalg::YieldOp::create(
            nb, l, memref::LoadOp::create(nb, l, g.a, at).getResult());
      });
  return rows;
}

/// A marked weighted combine (kLibraryCombineAttr) on buffers:
/// y[t, d] += sum_j w[t, j] * c[t, j, d], loops (t, d, j), all f32.
struct Combine {
  linalg::GenericOp op;
  Value weights, c, y;
};

FailureOr<Combine> matchCombine(linalg::GenericOp op, std::string &why) {
  MLIRContext *ctx = op.getContext();
  auto map = [&](ArrayRef<unsigned> dims) {
    return AffineMap::getMultiDimMapWithTargets(3, dims, ctx);
  };
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 ||
      op.getIndexingMapsArray() !=
          SmallVector<AffineMap>{map({0, 2}), map({0, 2, 1}), map({0, 1})} ||
      op.getIteratorTypesArray().back() != utils::IteratorType::reduction ||
      op.getNumReductionLoops() != 1)
    return refuse(why, "it is not y[t, d] += w[t, j] * c[t, j, d] on buffers");
  Combine combine{op, op.getDpsInputs()[0], op.getDpsInputs()[1],
                  op.getDpsInits()[0]};
  if (!llvm::all_of(op->getOperandTypes(), [](Type t) {
        return cast<MemRefType>(t).getElementType().isF32();
      }))
    return refuse(why, "its operands are not f32");
  // The body: acc + w * x, either order where it commutes.
  Block &body = op.getRegion().front();
  arith::MulFOp mul = accumulatedProduct(body);
  Value w = body.getArgument(0), x = body.getArgument(1);
  if (!mul || body.getOperations().size() != 3 ||
      !((mul.getLhs() == w && mul.getRhs() == x) ||
        (mul.getLhs() == x && mul.getRhs() == w)))
    return refuse(why, "its body is not acc + w * c");
  return combine;
}

/// Replaces `op` with the library's grouped GEMM over `rows` (gatherRows),
/// one block per listed M tile and column tile, then puts each slot's row
/// back into C; or, given the weighted `combine` of C, has the combine read
/// each slot's row where the GEMM wrote it instead (C is then unused; the
/// caller erases it), and returns the new combine (its body rebuilt: the
/// lowering sets no attributes or fastmath flags there to keep).
Operation *launchGrouped(linalg::GenericOp op, const GroupedGemm &g,
                         const SortedSlots &sorted, Value rows,
                         const LibraryKernel &gemm,
                         const Combine *combine = nullptr) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value sortedC = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, g.n}, b.getF32Type()),
      sorted.slots);
  SmallVector<Value> scales;
  SmallVector<int64_t> block;
  if (g.scales) {
    scales.push_back(g.scales);
    block = {g.blockN, g.blockK};
  }
  launchGemm(b, loc, op->getParentOfType<ModuleOp>(), gemm, rows, {g.w},
             sortedC, sorted.offsets, sorted.tiles, sorted.maxTiles, g.n, g.k,
             scales, block);
  MLIRContext *ctx = op.getContext();
  if (combine) {
    // y[t, d] += w[t, j] * sortedC[slotRow[t, j], d], loops (t, d, j): the
    // same sum in the same order, where the combine was.
    linalg::GenericOp old = combine->op;
    op.erase();
    b.setInsertionPoint(old);
    // slotRow is indexed as the weights are, (t, j).
    SmallVector<AffineMap> maps = old.getIndexingMapsArray();
    auto rewired = linalg::GenericOp::create(
        b, old.getLoc(), TypeRange{},
        ValueRange{combine->weights, sorted.slotRow}, ValueRange{combine->y},
        SmallVector<AffineMap>{maps[0], maps[0], maps[2]},
        old.getIteratorTypesArray(),
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value row =
              arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[1]);
          Value d = linalg::IndexOp::create(nb, l, 1);
          Value x = memref::LoadOp::create(nb, l, sortedC, ValueRange{row, d});
          linalg::YieldOp::create(
              nb, l,
              arith::AddFOp::create(nb, l, a[2],
                                    arith::MulFOp::create(nb, l, a[0], x))
                  .getResult());
        });
    memref::DeallocOp::create(b, old.getLoc(), sortedC);
    old.erase();
    return rewired;
  }
  parallelGeneric(
      b, loc, sorted.slotRow, g.c,
      AffineMap::getMultiDimMapWithTargets(3, {0, 1}, ctx),
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value row = arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
        Value n = linalg::IndexOp::create(nb, l, 2);
        linalg::YieldOp::create(
            nb, l,
            memref::LoadOp::create(nb, l, sortedC, ValueRange{row, n})
                .getResult());
      });
  memref::DeallocOp::create(b, loc, sortedC);
  op.erase();
  return nullptr;
}

/// Marked routed GEMMs of one block that share their slots' sorting: the
/// same `indices`, which nothing between them writes (a MoE layer's gate,
/// up and down). `rowsOf[i]` is the member whose gathered rows member i
/// reuses (itself when it gathers): gate and up read the same input.
struct RoutedGroup {
  SmallVector<std::pair<linalg::GenericOp, GroupedGemm>> members;
  SmallVector<unsigned> rowsOf;
};

SmallVector<RoutedGroup>
groupRouted(ArrayRef<std::pair<linalg::GenericOp, GroupedGemm>> routed) {
  SmallVector<RoutedGroup> groups;
  for (const auto &[op, g] : routed) {
    RoutedGroup *group = groups.empty() ? nullptr : &groups.back();
    if (group) {
      auto [last, lastGemm] = group->members.back();
      if (last->getBlock() != op->getBlock() || lastGemm.indices != g.indices ||
          lastGemm.experts != g.experts || writtenBetween(last, op, g.indices))
        group = nullptr;
    }
    if (!group)
      group = &groups.emplace_back();
    unsigned rowsOf = group->members.size();
    for (auto [i, member] : llvm::enumerate(group->members))
      if (member.second.a == g.a && member.second.perSlot == g.perSlot &&
          !writtenBetween(member.first, op, g.a)) {
        rowsOf = group->rowsOf[i];
        break;
      }
    group->members.push_back({op, g});
    group->rowsOf.push_back(rowsOf);
  }
  return groups;
}

FailureOr<Swiglu> matchSwiglu(linalg::GenericOp op, std::string &why) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 0 ||
      !llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return refuse(why, "not elementwise on buffers with two inputs and one "
                       "output");
  Swiglu s{op, op.getDpsInputs()[0], op.getDpsInputs()[1], op.getDpsInits()[0]};
  auto type = [](Value v) { return cast<MemRefType>(v.getType()); };
  if (!type(s.gate).getElementType().isF32() ||
      !type(s.up).getElementType().isF32() ||
      !type(s.act).getElementType().isBF16())
    return refuse(why, "operands are not f32, f32 -> bf16");
  // The body: truncf(g / (1 + exp(-g)) * u), either order where it
  // commutes (the canonicalizer moves constants right).
  Block &body = op.getRegion().front();
  Value g = body.getArgument(0), u = body.getArgument(1);
  auto operands = [](Operation *o) {
    return std::make_pair(o->getOperand(0), o->getOperand(1));
  };
  auto isOne = [](Value v) { return matchPattern(v, m_OneFloat()); };
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto trunc = yield.getValues()[0].getDefiningOp<arith::TruncFOp>();
  auto mul = trunc ? trunc.getIn().getDefiningOp<arith::MulFOp>() : nullptr;
  arith::DivFOp div;
  if (mul) {
    auto [x, y] = operands(mul);
    div = y == u ? x.getDefiningOp<arith::DivFOp>()
                 : (x == u ? y.getDefiningOp<arith::DivFOp>() : nullptr);
  }
  auto add = div && div.getLhs() == g
                 ? div.getRhs().getDefiningOp<arith::AddFOp>()
                 : nullptr;
  math::ExpOp exp;
  if (add) {
    auto [x, y] = operands(add);
    exp = isOne(x) ? y.getDefiningOp<math::ExpOp>()
                   : (isOne(y) ? x.getDefiningOp<math::ExpOp>() : nullptr);
  }
  auto neg = exp ? exp.getOperand().getDefiningOp<arith::NegFOp>() : nullptr;
  unsigned ops = llvm::count_if(
      body, [](Operation &o) { return !o.hasTrait<OpTrait::ConstantLike>(); });
  if (!neg || neg.getOperand() != g || ops != 7)
    return refuse(why, "its body is not bf16(g / (1 + exp(-g)) * u)");
  return s;
}

/// Drops the SwiGLU or combine `mark` of `op`, with a remark saying `why`
/// it stays as it is.
void leaveAsItIs(linalg::GenericOp op, StringRef mark, StringRef why) {
  op.emitRemark(mark == kLibrarySwigluAttr ? "SwiGLU left as generated code: "
                                           : "combine left as it was: ")
      << why;
  op->removeAttr(mark);
}

/// Whether `buffer` is an allocation whose every user is one of `users` or
/// its dealloc.
bool usedOnlyBy(Value buffer, ArrayRef<Operation *> users) {
  return buffer.getDefiningOp<memref::AllocOp>() &&
         llvm::all_of(buffer.getUsers(), [&](Operation *user) {
           return isa<memref::DeallocOp>(user) ||
                  llvm::is_contained(users, user);
         });
}

/// A routed group's gate and up GEMMs (members `gate` and `up`), whose
/// sums only the marked `swiglu` reads, and its down GEMM (`down`), the
/// only reader of the SwiGLU's result: the library's grouped GEMM with
/// SwiGLU computes the down GEMM's rows from the gate's in one launch.
struct FusedSwiglu {
  unsigned gate, up, down;
  Swiglu swiglu;
};

FailureOr<FusedSwiglu> fuseSwiglu(const RoutedGroup &group, const Swiglu &s,
                                  std::string &why) {
  auto member = [&](function_ref<bool(const GroupedGemm &)> is)
      -> std::optional<unsigned> {
    for (auto [i, m] : llvm::enumerate(group.members))
      if (is(m.second))
        return i;
    return std::nullopt;
  };
  std::optional<unsigned> gate =
      member([&](const GroupedGemm &g) { return g.c == s.gate && !g.perSlot; });
  std::optional<unsigned> up =
      member([&](const GroupedGemm &g) { return g.c == s.up && !g.perSlot; });
  std::optional<unsigned> down =
      member([&](const GroupedGemm &g) { return g.a == s.act && g.perSlot; });
  if (!gate || !up || *gate == *up)
    return refuse(why, "its operands are not the sums of a routed layer's "
                       "gate and up GEMMs");
  if (!down)
    return refuse(why, "its result is not the input of a down GEMM sharing "
                       "its GEMMs' sorting of the slots");
  auto op = [&](unsigned i) { return group.members[i].first; };
  const GroupedGemm &g = group.members[*gate].second,
                    &u = group.members[*up].second;
  if (group.rowsOf[*gate] != group.rowsOf[*up] || g.n != u.n || g.k != u.k ||
      cast<MemRefType>(s.act.getType()).getShape().back() != g.n)
    return refuse(why, "gate and up do not read the same rows into the same "
                       "widths");
  if (bool(g.scales) != bool(u.scales) ||
      (g.scales && (g.blockN != u.blockN || g.blockK != u.blockK)))
    return refuse(why, "gate's and up's stacks are not both bf16, or both "
                       "e4m3 with one block size");
  Operation *at = s.op;
  if (at->getBlock() != op(*down)->getBlock() ||
      !op(*gate)->isBeforeInBlock(at) || !op(*up)->isBeforeInBlock(at) ||
      !at->isBeforeInBlock(op(*down)))
    return refuse(why, "it is not between its GEMMs in one block");
  // The fused kernel runs where the SwiGLU was: the stacks must hold what
  // the GEMMs read.
  if (writtenBetween(op(*gate), at, g.w) || writtenBetween(op(*up), at, u.w) ||
      (g.scales && (writtenBetween(op(*gate), at, g.scales) ||
                    writtenBetween(op(*up), at, u.scales))))
    return refuse(why, "a stack may be written before it");
  if (!usedOnlyBy(s.gate, {op(*gate), at}) ||
      !usedOnlyBy(s.up, {op(*up), at}) || !usedOnlyBy(s.act, {at, op(*down)}))
    return refuse(why, "something else reads the sums or the activations");
  return FusedSwiglu{*gate, *up, *down, s};
}

/// Whether the marked `combine` can read the expert-ordered rows of its
/// routed group's last GEMM (a down projection whose result only the
/// combine reads) in place of that GEMM's result.
LogicalResult combinable(const RoutedGroup &group, const Combine &combine,
                         std::string &why) {
  auto [down, g] = group.members.back();
  if (g.c != combine.c)
    return refuse(why, "its input is not its routed layer's last GEMM's "
                       "result");
  if (down->getBlock() != combine.op->getBlock() ||
      !down->isBeforeInBlock(combine.op))
    return refuse(why, "it is not after its GEMM in one block");
  // The combine reads the weights where it was, the GEMM's rows as the
  // GEMM left them (a buffer of the pass's own).
  if (!combine.c.getDefiningOp<memref::AllocOp>())
    return refuse(why, "its GEMM's result is not an allocation of its own");
  if (!usedOnlyBy(combine.c, {down, combine.op}))
    return refuse(why, "something else uses its GEMM's result (or its "
                       "initialization is still there)");
  return success();
}

/// Erases `buffer` (an allocation no op reads any more) and its dealloc.
void eraseBuffer(Value buffer) {
  for (Operation *user : llvm::make_early_inc_range(buffer.getUsers()))
    user->erase();
  buffer.getDefiningOp()->erase();
}

/// Whether `sums`, the allocation `gemm` writes, is read after it by
/// `reader` alone: any other use (but its dealloc) is before `gemm` in its
/// block. (Bufferization may give a GEMM the buffer of a zero fill that
/// earlier copies read; the library GEMM writes all of it anyway.)
bool readOnlyBy(Value sums, Operation *gemm, Operation *reader) {
  return sums.getDefiningOp<memref::AllocOp>() &&
         llvm::all_of(sums.getUsers(), [&](Operation *user) {
           return user == gemm || user == reader ||
                  isa<memref::DeallocOp>(user) ||
                  (user->getBlock() == gemm->getBlock() &&
                   user->isBeforeInBlock(gemm));
         });
}

/// Erases `buffer` once its fused GEMM and reader are gone, unless an
/// earlier op still reads it (readOnlyBy): then it stays as it is.
void eraseIfUnread(Value buffer) {
  bool unread = llvm::all_of(buffer.getUsers(), [&](Operation *user) {
    auto fill = dyn_cast<linalg::FillOp>(user);
    return isa<memref::DeallocOp>(user) ||
           (fill && fill.getDpsInits()[0] == buffer);
  });
  if (unread)
    eraseBuffer(buffer);
}

/// A linear layer's gate and up GEMMs (`plain[gate]`, `plain[up]`, of one
/// input), whose sums only the marked `swiglu` reads: the library's batched
/// GEMM with SwiGLU writes the SwiGLU's result from that input in one
/// launch (a dense MLP's, or a MoE layer's shared expert's).
struct FusedDenseSwiglu {
  unsigned gate, up;
  Swiglu swiglu;
  // Both weights e4m3, dequantized for their GEMMs with one block size:
  // few rows read them as stored (launchDenseSwiglu).
  bool fp8w;
};

FailureOr<FusedDenseSwiglu>
fuseDenseSwiglu(ArrayRef<std::pair<linalg::GenericOp, Gemm>> plain,
                const Swiglu &s, std::string &why) {
  auto producer = [&](Value c) -> std::optional<unsigned> {
    for (auto [i, p] : llvm::enumerate(plain))
      if (p.second.c == c)
        return i;
    return std::nullopt;
  };
  std::optional<unsigned> gate = producer(s.gate), up = producer(s.up);
  if (!gate || !up || *gate == *up)
    return refuse(why, "its operands are not the sums of two linear layers' "
                       "GEMMs");
  auto [gateOp, g] = plain[*gate];
  auto [upOp, u] = plain[*up];
  if (g.a != u.a || g.n != u.n || g.k != u.k)
    return refuse(why, "gate and up do not read the same input into the "
                       "same widths");
  // Otherwise (one weight bf16, or other block sizes) the bf16 kernel
  // reads the dequantized weights where their GEMMs did.
  bool fp8w = g.dequantized && u.dequantized &&
              g.dequantized->blockN == u.dequantized->blockN &&
              g.dequantized->blockK == u.dequantized->blockK;
  if (!cast<MemRefType>(s.act.getType()).getLayout().isIdentity())
    return refuse(why, "its result is not a contiguous row-major buffer");
  // One kernel reads the GEMMs' operands and writes the result: they must
  // not share memory (the SwiGLU could write over a dead input).
  if (mayAlias(s.act, g.a) || mayAlias(s.act, g.b) || mayAlias(s.act, u.b) ||
      (fp8w && llvm::any_of(std::array{g.dequantized, u.dequantized},
                            [&](const std::optional<Dequantized> &d) {
                              return mayAlias(s.act, d->weight) ||
                                     mayAlias(s.act, d->scales);
                            })))
    return refuse(why, "its result may share memory with its GEMMs' "
                       "operands");
  Operation *at = s.op;
  if (gateOp->getBlock() != at->getBlock() ||
      upOp->getBlock() != at->getBlock() || !gateOp->isBeforeInBlock(at) ||
      !upOp->isBeforeInBlock(at))
    return refuse(why, "it is not after its GEMMs in one block");
  // The fused kernel runs where the SwiGLU was: the GEMMs' operands must
  // hold what they read. A dequantized weight's dequantization moves there
  // too (dequantizedOrNot): its e4m3 weight and scales must.
  for (const auto &[op, gemm] : {plain[*gate], plain[*up]}) {
    const std::optional<Dequantized> &d = gemm.dequantized;
    if (writtenBetween(op, at, gemm.a) ||
        (fp8w ? writtenBetween(d->op, at, d->weight) ||
                    writtenBetween(d->op, at, d->scales)
              : writtenBetween(op, at, gemm.b)))
      return refuse(why, "an input of its GEMMs may be written before it");
  }
  if (!readOnlyBy(s.gate, gateOp, at) || !readOnlyBy(s.up, upOp, at))
    return refuse(why, "something else reads the sums");
  return FusedDenseSwiglu{*gate, *up, s, fp8w};
}

/// Replaces the fused GEMMs and SwiGLU with one launch of `kernel` (the
/// batched GEMM with SwiGLU, one batch) where the SwiGLU was, writing its
/// result; given `large` (sm_90a's gemm_wgmma_swiglu_bf16_tn), of it when
/// the rows make `largeTileBlocks` of its blocks (launchByRows); with e4m3
/// weights, of `fp8w` when the rows are few and of `fp8wLarge` (sm_90a's
/// wgmma form), if given, when they are more (dequantizedOrNot). On the
/// 64-row tiles, gate's and up's K split as `split` says
/// (splitSwigluOrNot).
void launchDenseSwiglu(ArrayRef<std::pair<linalg::GenericOp, Gemm>> plain,
                       FusedDenseSwiglu &fused, const LibraryKernel &kernel,
                       const LibraryKernel *large, int64_t largeTileBlocks,
                       const LibraryKernel *fp8w,
                       const LibraryKernel *fp8wLarge, const SplitK &split) {
  auto [gateOp, gate] = plain[fused.gate];
  auto [upOp, up] = plain[fused.up];
  Swiglu &s = fused.swiglu;
  OpBuilder b(s.op);
  Location loc = s.op.getLoc();
  Value rows = leadingProduct(b, loc, gate.a,
                              cast<MemRefType>(gate.a.getType()).getRank() - 1);
  BatchedGemm one{
      gate.a,      gate.b, s.act,  /*wByK=*/false,
      /*heads=*/1, gate.n, gate.k, /*wOffset=*/0,  {gate.n * gate.k, gate.k}};
  // The 64-row tile, with gate's and up's K split when their grids are
  // small: their parts on the 64-row GEMM.
  auto small = [&](OpBuilder &b, Location loc) {
    auto whole = [&](OpBuilder &b, Location loc) {
      launchBatchedKernel(b, loc, one,
                          {flattened(b, loc, gate.b), flattened(b, loc, up.b)},
                          rows, kernel);
    };
    if (!split.bf16) // Nothing splits: the pass loaded no part kernel.
      return whole(b, loc);
    splitSwigluOrNot(
        b, loc, *split.bf16, kernel, split, s, rows, gate.n, gate.k, whole,
        [&](OpBuilder &b, Location loc, Value count, Value kPart,
            Value gateParts, Value upParts) {
          launchPartsBf16(b, loc, *split.bf16, one, flattened(b, loc, gate.b),
                          rows, count, kPart, gateParts);
          launchPartsBf16(b, loc, *split.bf16, one, flattened(b, loc, up.b),
                          rows, count, kPart, upParts);
        });
  };
  auto bf16 = [&](OpBuilder &b, Location loc) {
    launchByRows(b, loc, s.op->getParentOfType<ModuleOp>(), one, {gate.b, up.b},
                 rows, large, largeTileBlocks, small);
  };
  SmallVector<Operation *> unused;
  if (fused.fp8w && fp8w) {
    SmallVector<Dequantized *> weights = {&*gate.dequantized, &*up.dequantized};
    auto wgmmaFp8w = [&](OpBuilder &eb, Location l) {
      launchFp8wWgmma(eb, l, s.op->getParentOfType<ModuleOp>(), *fp8wLarge,
                      gate.a, weights, s.act, rows, gate.n, gate.k);
    };
    unused = dequantizedOrNot(
        b, loc, rows, weights,
        [&](OpBuilder &tb, Location l) {
          auto whole = [&](OpBuilder &b, Location loc) {
            launchFp8w(b, loc, *fp8w, gate.a, weights, s.act, rows, gate.n,
                       gate.k);
          };
          if (!split.fp8w)
            return whole(tb, l);
          splitSwigluOrNot(
              tb, l, *split.fp8w, *fp8w, split, s, rows, gate.n, gate.k, whole,
              [&](OpBuilder &b, Location loc, Value count, Value kPart,
                  Value gateParts, Value upParts) {
                std::array<Value, 2> parts = {gateParts, upParts};
                for (auto [w, partials] : llvm::zip_equal(weights, parts))
                  launchPartsFp8w(b, loc, *split.fp8w, gate.a, *w, rows, gate.n,
                                  gate.k, count, kPart, partials);
              });
        },
        bf16,
        fp8wLarge ? function_ref<void(OpBuilder &, Location)>(wgmmaFp8w)
                  : nullptr);
  } else {
    bf16(b, loc);
  }
  for (Operation *op :
       {gateOp.getOperation(), upOp.getOperation(), s.op.getOperation()})
    op->erase();
  for (Operation *dead : unused)
    dead->erase();
  eraseIfUnread(s.gate);
  eraseIfUnread(s.up);
}

/// The kernels a routed group launches: the dispatch's, the tiled GEMM and
/// the tiled GEMM with SwiGLU, and their e4m3-stack forms (null where no
/// group needs them; all tile M alike).
struct RoutedKernels {
  const LibraryKernel &align, &tiles;
  const LibraryKernel *gemm, *swiglu, *fp8wGemm, *fp8wSwiglu;
  int64_t tileM;
};

/// Replaces a group's GEMMs: one sorting before the first, one gather per
/// distinct input, the buffers freed after the last. With `fused`, its
/// gate and up GEMMs and their SwiGLU become one launch of `swigluGemm`
/// where the SwiGLU was, whose expert-ordered activations are the down
/// GEMM's rows (no gather). With `combine` (of the last GEMM's result),
/// the combine reads that GEMM's rows in place, the buffers are freed
/// after it, and the result's buffer goes.
void launchRouted(const RoutedGroup &group, const RoutedKernels &kernels,
                  const std::optional<FusedSwiglu> &fused,
                  const std::optional<Combine> &combine) {
  auto [first, firstGemm] = group.members.front();
  Operation *afterLast = group.members.back().first->getNextNode();
  OpBuilder b(first);
  SortedSlots sorted = sortSlots(b, first.getLoc(), firstGemm, kernels.align,
                                 kernels.tiles, kernels.tileM);
  // A member's GEMM kernel: the e4m3 one for an e4m3 stack.
  auto gemmFor = [&](const GroupedGemm &g) -> const LibraryKernel & {
    return *(g.scales ? kernels.fp8wGemm : kernels.gemm);
  };
  // rows[i]: member i's A in expert order (for the fused down GEMM, the
  // activations the SwiGLU kernel writes in that order).
  SmallVector<Value> rows;
  for (auto [i, member] : llvm::enumerate(group.members)) {
    auto [op, g] = member;
    if (fused && i == fused->down) {
      Swiglu s = fused->swiglu;
      const GroupedGemm &gate = group.members[fused->gate].second;
      b.setInsertionPoint(s.op);
      Location loc = s.op.getLoc();
      rows.push_back(memref::AllocOp::create(
          b, loc,
          MemRefType::get({ShapedType::kDynamic, gate.n}, b.getBF16Type()),
          sorted.slots));
      const GroupedGemm &up = group.members[fused->up].second;
      SmallVector<Value> scales;
      SmallVector<int64_t> block;
      if (gate.scales) {
        scales = {gate.scales, up.scales};
        block = {gate.blockN, gate.blockK};
      }
      launchGemm(b, loc, s.op->getParentOfType<ModuleOp>(),
                 *(gate.scales ? kernels.fp8wSwiglu : kernels.swiglu),
                 rows[fused->gate], {gate.w, up.w}, rows.back(), sorted.offsets,
                 sorted.tiles, sorted.maxTiles, gate.n, gate.k, scales, block);
      s.op.erase();
      if (Operation *rewired = launchGrouped(
              op, g, sorted, rows.back(), gemmFor(g),
              i + 1 == group.members.size() && combine ? &*combine : nullptr))
        afterLast = rewired->getNextNode();
      continue;
    }
    b.setInsertionPoint(op);
    rows.push_back(group.rowsOf[i] == i ? gatherRows(b, op.getLoc(), g, sorted)
                                        : rows[group.rowsOf[i]]);
    // The fused kernel computes these where the SwiGLU was.
    if (fused && (i == fused->gate || i == fused->up))
      op.erase();
    else if (Operation *rewired = launchGrouped(
                 op, g, sorted, rows.back(), gemmFor(g),
                 i + 1 == group.members.size() && combine ? &*combine
                                                          : nullptr))
      afterLast = rewired->getNextNode();
  }
  b.setInsertionPoint(afterLast);
  Location loc = afterLast->getLoc();
  SmallVector<Value> buffers = {sorted.ids, sorted.offsets, sorted.slotRow,
                                sorted.rowSlot, sorted.tiles};
  for (auto [i, row] : llvm::enumerate(rows))
    if (group.rowsOf[i] == i)
      buffers.push_back(row);
  for (Value buffer : buffers)
    memref::DeallocOp::create(b, loc, buffer);
  // Nothing reads the sums or the per-slot activations any more (erased
  // last: a dealloc of theirs may be where the deallocs above went).
  if (fused)
    for (Value buffer :
         {fused->swiglu.gate, fused->swiglu.up, fused->swiglu.act})
      eraseBuffer(buffer);
  if (combine)
    eraseBuffer(combine->c);
}

/// Whether `use` is the weight of a tensor-core GEMM without block scales:
/// a dsc.linear's, one of a dsc.moe's shared-expert matrices (linear layers
/// once the MoE is lowered), one of its routed expert stacks (grouped
/// GEMMs), or MLA's kv_b (a prompt's decompression, the decode's per-head
/// products: batched GEMMs), each when they have no scales.
bool isLinearWeight(OpOperand &use) {
  if (auto linear = dyn_cast<dsc::LinearOp>(use.getOwner()))
    return !linear.getScales() && &use == &linear.getWeightMutable();
  // kv_b: a prompt's decompression runs on the library's GEMM, the decode's
  // per-head products on its batched GEMM.
  if (auto mla = dyn_cast<dsc::MlaOp>(use.getOwner()))
    return !mla.getScales() && &use == &mla.getKvBMutable();
  if (auto mla = dyn_cast<dsc::MlaDecodeOp>(use.getOwner()))
    return !mla.getScales() && &use == &mla.getKvBMutable();
  if (auto moe = dyn_cast<dsc::MoeOp>(use.getOwner())) {
    MutableOperandRange shared = moe.getSharedMutable();
    if (shared.size() == 3)
      for (unsigned i = 0; i < 3; ++i)
        if (&use == &shared[i])
          return true;
    if (moe.getExpertScales().empty())
      return &use == &moe.getGateProjMutable() ||
             &use == &moe.getUpProjMutable() ||
             &use == &moe.getDownProjMutable();
  }
  return false;
}

struct DscBf16LinearWeightsPass
    : mlir::dsc::impl::DscBf16LinearWeightsBase<DscBf16LinearWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(module.getContext());
    // With stored-only, the names of the weights stored as bf16.
    DenseSet<StringAttr> stored;
    if (storedOnly)
      if (auto listed = module->getAttrOfType<ArrayAttr>("dsc.bf16_stored"))
        for (auto name : listed.getAsRange<StringAttr>())
          stored.insert(name);
    // Layers are private functions that take their weights from the entry
    // points: a weight qualifies when it reaches nothing but linear
    // weights, through calls whose parameter every caller passes a
    // qualifying value.
    DenseMap<func::FuncOp, SmallVector<func::CallOp>> callsTo;
    module.walk([&](func::CallOp call) {
      if (auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee()))
        callsTo[callee].push_back(call);
    });
    auto callee = [&](func::CallOp call) {
      return module.lookupSymbol<func::FuncOp>(call.getCallee());
    };
    llvm::SetVector<Value> chosen;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      for (BlockArgument arg : fn.getArguments()) {
        auto type = dyn_cast<RankedTensorType>(arg.getType());
        unsigned i = arg.getArgNumber();
        auto name = fn.getArgAttrOfType<StringAttr>(i, "dsc.weight");
        bool entryWeight =
            fn.isPublic() && name && (!storedOnly || stored.contains(name));
        if (!type || !type.getElementType().isF32() || arg.use_empty() ||
            !(entryWeight || fn.isPrivate()))
          continue;
        chosen.insert(arg);
      }
    }
    // The weight name of an entry point's argument, or null.
    auto weightName = [](BlockArgument arg) -> StringAttr {
      auto fn = cast<func::FuncOp>(arg.getOwner()->getParentOp());
      return fn.isPublic() ? fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                             "dsc.weight")
                           : StringAttr();
    };
    // Drop what fails until nothing changes. The runtime binds a param
    // once by name for every entry point, so a name is bf16 only where
    // every entry point's argument of that name qualifies.
    for (bool changed = true; changed;) {
      changed = false;
      llvm::SetVector<Value> previous = chosen;
      chosen.clear();
      DenseSet<StringAttr> refused;
      for (auto fn : module.getOps<func::FuncOp>())
        if (fn.isPublic() && !fn.isExternal())
          for (BlockArgument arg : fn.getArguments())
            if (StringAttr name = weightName(arg);
                name && !arg.use_empty() && !previous.contains(arg))
              refused.insert(name);
      for (Value value : previous) {
        auto arg = cast<BlockArgument>(value);
        auto fn = cast<func::FuncOp>(arg.getOwner()->getParentOp());
        bool ok = !refused.contains(weightName(arg)) &&
                  llvm::all_of(arg.getUses(), [&](OpOperand &use) {
                    if (isLinearWeight(use))
                      return true;
                    if (auto embed = dyn_cast<dsc::EmbedOp>(use.getOwner()))
                      return embeddingTables &&
                             &use == &embed.getTableMutable();
                    auto call = dyn_cast<func::CallOp>(use.getOwner());
                    func::FuncOp target = call ? callee(call) : func::FuncOp();
                    return target && !target.isExternal() &&
                           previous.contains(
                               target.getArgument(use.getOperandNumber()));
                  });
        // Every caller must pass a value that becomes bf16 too (a private
        // function needs callers; a public one may have none).
        const SmallVector<func::CallOp> &calls = callsTo[fn];
        ok = ok && !(fn.isPrivate() && calls.empty()) &&
             llvm::all_of(calls, [&](func::CallOp call) {
               return previous.contains(call.getOperand(arg.getArgNumber()));
             });
        if (ok)
          chosen.insert(value);
        else
          changed = true;
      }
    }
    // Names listed by an earlier run stay listed (their arguments are bf16
    // already).
    llvm::SetVector<StringRef> names;
    if (auto listed = module->getAttrOfType<ArrayAttr>("dsc.bf16_params"))
      for (StringAttr name : listed.getAsRange<StringAttr>())
        names.insert(name.getValue());
    DenseSet<func::FuncOp> retyped;
    for (Value value : chosen) {
      auto arg = cast<BlockArgument>(value);
      auto fn = cast<func::FuncOp>(arg.getOwner()->getParentOp());
      arg.setType(cast<RankedTensorType>(arg.getType()).clone(b.getBF16Type()));
      retyped.insert(fn);
      if (StringAttr name = weightName(arg))
        names.insert(name.getValue());
    }
    for (func::FuncOp fn : retyped)
      fn.setFunctionType(b.getFunctionType(
          fn.getBody().front().getArgumentTypes(), fn.getResultTypes()));
    SmallVector<Attribute> list;
    for (StringRef name : names)
      list.push_back(b.getStringAttr(name));
    module->setAttr("dsc.bf16_params", b.getArrayAttr(list));
  }
};

/// The marks of GEMMs dsc-library-gemms runs on the library.
constexpr StringLiteral kMarks[] = {kLibraryGemmAttr, kLibraryGroupedGemmAttr,
                                    kLibraryBatchedGemmAttr};

bool isMarked(Operation *op) {
  return llvm::any_of(kMarks,
                      [&](StringLiteral mark) { return op->hasAttr(mark); });
}

struct DscLibraryGemmsPass
    : mlir::dsc::impl::DscLibraryGemmsBase<DscLibraryGemmsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (splitKBlocks < 0) {
      module.emitError() << "dsc-library-gemms: split-k-blocks must not be "
                            "negative, not "
                         << static_cast<int64_t>(splitKBlocks);
      return signalPassFailure();
    }
    if (largeTileBlocks < 1) {
      module.emitError() << "dsc-library-gemms: large-tile-blocks must be "
                            "positive, not "
                         << static_cast<int64_t>(largeTileBlocks);
      return signalPassFailure();
    }
    // Everything is matched before anything is replaced, so that the
    // grouping of routed GEMMs sees the ops between them as they were.
    SmallVector<std::pair<linalg::GenericOp, Gemm>> plain;
    SmallVector<std::pair<linalg::GenericOp, GroupedGemm>> routed;
    SmallVector<std::pair<linalg::GenericOp, BatchedGemm>> batched;
    SmallVector<Swiglu> swiglus;
    SmallVector<Combine> combines;
    module.walk([&](linalg::GenericOp op) {
      std::string why;
      if (op->hasAttr(kLibraryCombineAttr)) {
        if (FailureOr<Combine> c = matchCombine(op, why); succeeded(c))
          combines.push_back(*c);
        else
          leaveAsItIs(op, kLibraryCombineAttr, why);
        return;
      }
      if (op->hasAttr(kLibrarySwigluAttr)) {
        if (FailureOr<Swiglu> s = matchSwiglu(op, why); succeeded(s))
          swiglus.push_back(*s);
        else
          leaveAsItIs(op, kLibrarySwigluAttr, why);
        return;
      }
      if (!isMarked(op))
        return;
      if (!isGemmOnBuffers(op)) {
        why = "not a GEMM on buffers with two inputs and one output";
      } else if (op->hasAttr(kLibraryGroupedGemmAttr)) {
        if (FailureOr<GroupedGemm> g = matchGroupedGemm(op, why);
            succeeded(g)) {
          routed.push_back({op, *g});
          return;
        }
      } else if (op->hasAttr(kLibraryBatchedGemmAttr)) {
        if (FailureOr<BatchedGemm> g = matchBatchedGemm(op, why);
            succeeded(g)) {
          batched.push_back({op, *g});
          return;
        }
      } else if (FailureOr<Gemm> g = matchGemm(op, why); succeeded(g)) {
        plain.push_back({op, *g});
        return;
      }
      op.emitRemark("GEMM left as generated code: ") << why;
      for (StringRef mark : kMarks)
        op->removeAttr(mark);
    });
    SmallVector<PagedMlaDecodeOp> attention;
    module.walk([&](PagedMlaDecodeOp op) {
      if (op.hasPureBufferSemantics())
        attention.push_back(op);
    });
    SmallVector<CausalMlaPrefillOp> prefills;
    module.walk([&](CausalMlaPrefillOp op) {
      if (op.hasPureBufferSemantics())
        prefills.push_back(op);
    });
    SmallVector<NoauxTcRouteOp> routers;
    module.walk([&](NoauxTcRouteOp op) {
      if (op.hasPureBufferSemantics())
        routers.push_back(op);
    });
    SmallVector<Operation *> norms;
    module.walk([&](Operation *op) {
      if (isa<RmsNormRowsOp, AddRmsNormRowsOp>(op) &&
          cast<DestinationStyleOpInterface>(op).hasPureBufferSemantics())
        norms.push_back(op);
    });
    if (plain.empty() && routed.empty() && batched.empty() &&
        attention.empty() && prefills.empty() && routers.empty() &&
        norms.empty() && swiglus.empty() && combines.empty())
      return;
    auto kernel = [&](const LibrarySource &source) -> FailureOr<LibraryKernel> {
      FailureOr<LibraryKernel> found = libraryKernel(module, source);
      // The GEMMs', the MLA decode's and the MLA prefill's launches are
      // read from their attributes.
      bool statesLaunch = &source.file == &kGemmFile ||
                          &source.file == &kWgmmaGemmFile ||
                          source.kernel.starts_with("mla_decode_bf16") ||
                          source.kernel.starts_with("mla_decode_wgmma") ||
                          source.kernel.starts_with("mla_prefill_bf16") ||
                          source.kernel.starts_with("mla_prefill_wgmma");
      if (failed(found) ||
          (statesLaunch && (found->tileM <= 0 || found->tileN <= 0 ||
                            found->sharedBytes <= 0))) {
        module.emitError("the kernel library's ")
            << source.kernel << " (" << source.file.path
            << ") did not parse or lacks its launch attributes";
        return failure();
      }
      return found;
    };
    // Dead initializations of C go first, until none is left: a GEMM's
    // copy of zeros may be what kept another GEMM's zero fill alive (an
    // earlier one's too, when the copy reads its C).
    for (bool erased = true; erased;) {
      erased = false;
      module.walk([&](linalg::GenericOp op) {
        if (!isMarked(op))
          return;
        if (Operation *dead = deadInit(op, op.getDpsInits()[0])) {
          dead->erase();
          erased = true;
        }
      });
    }
    // A plain GEMM's B dequantized from an e4m3 weight for it alone: read
    // as stored when the rows are few. (After the dead initializations go:
    // a zero fill of C between would count as a possible write of the
    // weight.)
    DenseSet<Value> dequantizedBuffers;
    module.walk([&](linalg::GenericOp op) {
      if (op->hasAttr(kLibraryDequantizeAttr) && op.getNumDpsInits() == 1)
        dequantizedBuffers.insert(rootBuffer(op.getDpsInits()[0]));
    });
    // The per-head products over one dequantized e4m3 weight (an FP8
    // kv_b's W_UK and W_UV): read as stored, whatever the rows, when
    // nothing else reads the dequantized copy.
    struct PerHeadFp8w {
      Dequantized d;
      SmallVector<unsigned> members;
      SmallVector<std::pair<int64_t, int64_t>> slabs;
    };
    SmallVector<PerHeadFp8w> perHead;
    {
      llvm::MapVector<Value, SmallVector<unsigned>> readersOf;
      for (auto [i, entry] : llvm::enumerate(batched))
        if (Value root = rootBuffer(entry.second.w);
            dequantizedBuffers.contains(root))
          readersOf[root].push_back(i);
      std::optional<CallSites> sites;
      if (!readersOf.empty())
        sites.emplace(module);
      for (auto &[root, members] : readersOf) {
        SmallVector<Operation *> readers;
        for (unsigned i : members)
          readers.push_back(batched[i].first);
        std::string why;
        FailureOr<Dequantized> d = failure();
        if (auto alloc = root.getDefiningOp<memref::AllocOp>())
          d = matchSharedDequantized(*sites, alloc, readers, why);
        else
          why = "the dequantized weight is not an allocation";
        SmallVector<std::pair<int64_t, int64_t>> slabs;
        for (unsigned i : members) {
          if (failed(d))
            break;
          FailureOr<std::pair<int64_t, int64_t>> slab =
              slabRows(batched[i].second, *d, why);
          if (failed(slab))
            d = failure();
          else
            slabs.push_back(*slab);
        }
        if (succeeded(d))
          perHead.push_back({*d, members, slabs});
        else
          readers.front()->emitRemark(
              "e4m3 weight dequantized in full for every call: ")
              << why;
      }
    }
    for (auto &[op, gemm] : plain) {
      if (!dequantizedBuffers.contains(rootBuffer(gemm.b)))
        continue;
      std::string why;
      if (FailureOr<Dequantized> d = matchDequantized(op, gemm.b, why);
          succeeded(d)) {
        gemm.dequantized = *d;
      } else {
        op.emitRemark("e4m3 weight dequantized in full for every call: ")
            << why;
      }
    }
    for (PagedMlaDecodeOp op : attention) {
      int64_t latent = cast<MemRefType>(op.getInit().getType()).getDimSize(2);
      int64_t width = cast<MemRefType>(op.getQueries().getType()).getDimSize(2);
      const MlaDecodeVariant *variant =
          mlaDecodeVariant(latent, width - latent);
      if (!variant) {
        op.emitOpError("the kernel library has no MLA decode for latent ")
            << latent << " and rope " << width - latent;
        return signalPassFailure();
      }
      // sm_90a's wgmma decode where the library has one for these widths.
      bool onWgmma = wgmma && !variant->wgmma.kernel.empty();
      FailureOr<LibraryKernel> decode =
          kernel(onWgmma ? variant->wgmma : variant->decode);
      FailureOr<LibraryKernel> combine = kernel(variant->combine);
      if (failed(decode) || failed(combine) ||
          failed(launchAttention(op, *decode, *combine)))
        return signalPassFailure();
    }
    for (CausalMlaPrefillOp op : prefills) {
      int64_t dqk = cast<MemRefType>(op.getQueries().getType()).getDimSize(3),
              rope = cast<MemRefType>(op.getRopeKeys().getType()).getDimSize(2),
              value = cast<MemRefType>(op.getInit().getType()).getDimSize(3);
      const MlaPrefillVariant *variant =
          mlaPrefillVariant(dqk - rope, rope, value);
      if (!variant) {
        op.emitOpError("the kernel library has no MLA prefill for no-rope ")
            << dqk - rope << ", rope " << rope << " and value " << value;
        return signalPassFailure();
      }
      // sm_90a's wgmma prefill where the library has one for these widths.
      bool onWgmma = wgmma && !variant->wgmma.kernel.empty();
      FailureOr<LibraryKernel> prefill =
          kernel(onWgmma ? variant->wgmma : variant->kernel);
      if (failed(prefill) || failed(launchPrefill(op, *prefill)))
        return signalPassFailure();
    }
    for (NoauxTcRouteOp op : routers) {
      int64_t experts =
          cast<MemRefType>(op.getLogits().getType()).getDimSize(1);
      const MoeRouteVariant *variant = moeRouteVariant(experts, op.getNGroup());
      if (!variant) {
        op.emitOpError("the kernel library has no router for ")
            << experts << " experts in " << op.getNGroup() << " groups";
        return signalPassFailure();
      }
      FailureOr<LibraryKernel> route = kernel(variant->kernel);
      if (failed(route) || failed(launchRoute(op, *route)))
        return signalPassFailure();
    }
    for (Operation *op : norms) {
      auto add = dyn_cast<AddRmsNormRowsOp>(op);
      auto norm = dyn_cast<RmsNormRowsOp>(op);
      Value input = add ? add.getInput() : norm.getInput();
      Value normed = add ? add.getNormed() : norm.getInit();
      FailureOr<LibraryKernel> kernelFound = kernel(
          rmsNormKernel(getElementTypeOrSelf(input.getType()),
                        getElementTypeOrSelf(normed.getType()), bool(add)));
      LogicalResult launched =
          failed(kernelFound) ? failure()
          : add ? launchNorm(op, {add.getInput(), add.getResidual()},
                             add.getWeight(), {add.getSum(), add.getNormed()},
                             add.getEpsilon(), *kernelFound)
                : launchNorm(op, {norm.getInput()}, norm.getWeight(),
                             {norm.getInit()}, norm.getEpsilon(), *kernelFound);
      if (failed(launched))
        return signalPassFailure();
    }
    SmallVector<RoutedGroup> groups = groupRouted(routed);
    // Each marked SwiGLU fused with its GEMMs where it can be: a routed
    // group's, else a linear layer's gate and up.
    SmallVector<std::optional<FusedSwiglu>> fusions(groups.size());
    SmallVector<FusedDenseSwiglu> dense;
    DenseSet<Operation *> fusedPlain;
    for (Swiglu &s : swiglus) {
      std::string why = "its gate and up sums are not two library GEMMs' (a "
                        "routed layer's or a linear layer's)";
      bool fused = false;
      for (auto [group, fusion] : llvm::zip(groups, fusions)) {
        if (!llvm::any_of(group.members,
                          [&](auto &m) { return m.second.c == s.gate; }))
          continue;
        FailureOr<FusedSwiglu> routedFusion = fuseSwiglu(group, s, why);
        if (succeeded(routedFusion) && !fusion) {
          fusion = *routedFusion;
          fused = true;
        } else if (succeeded(routedFusion)) {
          why = "its layer's GEMMs are fused with another SwiGLU";
        }
        break;
      }
      if (!fused &&
          llvm::any_of(plain, [&](auto &p) { return p.second.c == s.gate; })) {
        if (FailureOr<FusedDenseSwiglu> d = fuseDenseSwiglu(plain, s, why);
            succeeded(d)) {
          fusedPlain.insert(plain[d->gate].first);
          fusedPlain.insert(plain[d->up].first);
          dense.push_back(*d);
          fused = true;
        }
      }
      if (fused)
        continue;
      leaveAsItIs(s.op, kLibrarySwigluAttr, why);
    }
    // Each routed group's combine, reading its last GEMM's rows in place
    // where it can.
    SmallVector<std::optional<Combine>> groupCombines(groups.size());
    for (Combine &c : combines) {
      std::string why = "its input is not a routed layer's library GEMM's "
                        "result";
      auto group = llvm::find_if(groups, [&](const RoutedGroup &g) {
        return llvm::any_of(g.members,
                            [&](auto &m) { return m.second.c == c.c; });
      });
      if (group != groups.end() && succeeded(combinable(*group, c, why))) {
        groupCombines[group - groups.begin()] = c;
        continue;
      }
      leaveAsItIs(c.op, kLibraryCombineAttr, why);
    }
    // A kernel a launch takes, or none.
    auto kernelIf =
        [&](const LibrarySource &source,
            bool needed) -> FailureOr<std::optional<LibraryKernel>> {
      if (!needed)
        return std::optional<LibraryKernel>();
      FailureOr<LibraryKernel> found = kernel(source);
      if (failed(found))
        return failure();
      return std::optional<LibraryKernel>(*found);
    };
    auto isFp8w = [&](unsigned i) {
      return !fusedPlain.contains(plain[i].first) &&
             plain[i].second.dequantized.has_value();
    };
    FailureOr<std::optional<LibraryKernel>> fp8wSwiglu = kernelIf(
        kFp8wSwigluKernel,
        llvm::any_of(dense, [](FusedDenseSwiglu &d) { return d.fp8w; }));
    FailureOr<std::optional<LibraryKernel>> fp8wGemm =
        kernelIf(kFp8wGemmKernel,
                 llvm::any_of(llvm::seq<unsigned>(0, plain.size()), isFp8w));
    if (failed(fp8wSwiglu) || failed(fp8wGemm))
      return signalPassFailure();
    // sm_90a's forms of them for more rows (no dequantization to memory).
    FailureOr<std::optional<LibraryKernel>> fp8wLargeSwiglu = kernelIf(
        kWgmmaFp8wSwigluKernel, largeTiles && wgmma && fp8wSwiglu->has_value());
    FailureOr<std::optional<LibraryKernel>> fp8wLargeGemm = kernelIf(
        kWgmmaFp8wGemmKernel, largeTiles && wgmma && fp8wGemm->has_value());
    if (failed(fp8wLargeSwiglu) || failed(fp8wLargeGemm))
      return signalPassFailure();
    auto orNull = [](std::optional<LibraryKernel> &k) {
      return k ? &*k : nullptr;
    };
    // The 64-row GEMM; K parts of e4m3 weights on the per-head kernel's
    // column offsets.
    bool anyUnfused = llvm::any_of(
        plain, [&](auto &p) { return !fusedPlain.contains(p.first); });
    FailureOr<std::optional<LibraryKernel>> gemmKernel = kernelIf(
        kGemmKernel, anyUnfused || (splitKBlocks > 0 && !dense.empty()));
    FailureOr<std::optional<LibraryKernel>> fp8wParts = kernelIf(
        kFp8wHeadsKernel,
        splitKBlocks > 0 && (fp8wGemm->has_value() || fp8wSwiglu->has_value()));
    if (failed(gemmKernel) || failed(fp8wParts))
      return signalPassFailure();
    SplitK split{splitKBlocks, orNull(*gemmKernel), orNull(*fp8wParts)};
    if (!dense.empty()) {
      FailureOr<LibraryKernel> swigluGemm = kernel(kSwigluGemmKernel);
      // sm_90a's large fused MLPs on wgmma (the library has no 128-row
      // mma.sync SwiGLU kernel).
      FailureOr<std::optional<LibraryKernel>> largeSwiglu =
          kernelIf(kWgmmaSwigluGemmKernel, largeTiles && wgmma);
      if (failed(swigluGemm) || failed(largeSwiglu))
        return signalPassFailure();
      for (FusedDenseSwiglu &d : dense)
        launchDenseSwiglu(plain, d, *swigluGemm, orNull(*largeSwiglu),
                          largeTileBlocks, orNull(*fp8wSwiglu),
                          orNull(*fp8wLargeSwiglu), split);
    }
    if (anyUnfused) {
      FailureOr<LibraryKernel> largeKernel =
          !largeTiles ? **gemmKernel
                      : kernel(wgmma ? kWgmmaGemmKernel : kLargeGemmKernel);
      if (failed(largeKernel))
        return signalPassFailure();
      for (auto &[op, gemm] : plain)
        if (!fusedPlain.contains(op))
          launch(op, gemm, **gemmKernel, largeTiles ? &*largeKernel : nullptr,
                 largeTileBlocks, orNull(*fp8wGemm), orNull(*fp8wLargeGemm),
                 split);
    }
    DenseSet<Operation *> onFp8w;
    for (PerHeadFp8w &p : perHead)
      for (unsigned i : p.members)
        onFp8w.insert(batched[i].first);
    for (auto &[op, gemm] : batched) {
      if (onFp8w.contains(op))
        continue;
      FailureOr<LibraryKernel> batchedKernel =
          kernel(gemm.wByK ? kGemmByKKernel : kGemmKernel);
      if (failed(batchedKernel))
        return signalPassFailure();
      launchBatched(op, gemm, *batchedKernel);
    }
    for (PerHeadFp8w &p : perHead) {
      for (auto [i, slab] : llvm::zip(p.members, p.slabs)) {
        auto &[op, gemm] = batched[i];
        FailureOr<LibraryKernel> headsKernel =
            kernel(gemm.wByK ? kFp8wHeadsByKKernel : kFp8wHeadsKernel);
        if (failed(headsKernel))
          return signalPassFailure();
        launchBatchedFp8w(op, gemm, p.d, slab, *headsKernel);
      }
      for (Operation *dead : dequantizationOps(p.d))
        dead->erase();
    }
    if (groups.empty())
      return;
    // The routed kernels the groups launch (bf16 or e4m3 stacks, SwiGLU
    // fused or not), all listing the same M tiles.
    auto anyMember = [&](bool e4m3) {
      return llvm::any_of(groups, [&](const RoutedGroup &group) {
        return llvm::any_of(group.members, [&](auto &member) {
          return bool(member.second.scales) == e4m3;
        });
      });
    };
    auto anyFusion = [&](bool e4m3) {
      return llvm::any_of(llvm::zip(groups, fusions), [&](auto pair) {
        auto &[group, fusion] = pair;
        return fusion &&
               bool(group.members[fusion->gate].second.scales) == e4m3;
      });
    };
    // sm_90a's run on wgmma (128-row tiles), the others on mma.sync
    // (64-row tiles): one list of tiles serves all.
    FailureOr<std::optional<LibraryKernel>> tiled = kernelIf(
        wgmma ? kWgmmaTiledGemmKernel : kTiledGemmKernel, anyMember(false));
    FailureOr<std::optional<LibraryKernel>> fp8wTiled =
        kernelIf(wgmma ? kWgmmaFp8wTiledGemmKernel : kFp8wTiledGemmKernel,
                 anyMember(true));
    FailureOr<std::optional<LibraryKernel>> tiledSwiglu = kernelIf(
        wgmma ? kWgmmaTiledSwigluKernel : kTiledSwigluKernel, anyFusion(false));
    FailureOr<std::optional<LibraryKernel>> fp8wTiledSwiglu =
        kernelIf(wgmma ? kWgmmaFp8wTiledSwigluKernel : kFp8wTiledSwigluKernel,
                 anyFusion(true));
    FailureOr<LibraryKernel> alignKernel = kernel(kAlignKernel);
    FailureOr<LibraryKernel> tilesKernel = kernel(kTilesKernel);
    if (failed(tiled) || failed(fp8wTiled) || failed(tiledSwiglu) ||
        failed(fp8wTiledSwiglu) || failed(alignKernel) || failed(tilesKernel))
      return signalPassFailure();
    int64_t tileM = 0;
    for (std::optional<LibraryKernel> *k :
         {&*tiled, &*fp8wTiled, &*tiledSwiglu, &*fp8wTiledSwiglu}) {
      if (!*k)
        continue;
      if (tileM && (*k)->tileM != tileM) {
        module.emitError("the kernel library's routed GEMMs tile M "
                         "differently");
        return signalPassFailure();
      }
      tileM = (*k)->tileM;
    }
    RoutedKernels routedKernels{*alignKernel,
                                *tilesKernel,
                                orNull(*tiled),
                                orNull(*tiledSwiglu),
                                orNull(*fp8wTiled),
                                orNull(*fp8wTiledSwiglu),
                                tileM};
    for (auto [group, fusion, combine] :
         llvm::zip(groups, fusions, groupCombines))
      launchRouted(group, routedKernels, fusion, combine);
  }
};

} // namespace

bool mlir::dsc::libraryHasMlaDecode(int64_t latent, int64_t rope) {
  return mlaDecodeVariant(latent, rope) != nullptr;
}

bool mlir::dsc::libraryHasMoeRoute(int64_t experts, int64_t groups) {
  return moeRouteVariant(experts, groups) != nullptr;
}

bool mlir::dsc::libraryHasMlaPrefill(int64_t nope, int64_t rope,
                                     int64_t value) {
  return mlaPrefillVariant(nope, rope, value) != nullptr;
}
