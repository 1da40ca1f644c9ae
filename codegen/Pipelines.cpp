//===- Pipelines.cpp - Lowering pipelines of dsc codegen ------------------===//
//
// The CPU and GPU lowerings, assembled step by step. Upstream passes are
// added by their textual names so each step reads as `mlir-opt` would run it
// (and `--dump-pass-pipeline` prints the same).
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "runtime/support/HostCpu.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/ErrorHandling.h"

#include <mutex>
#include <numeric>

using namespace mlir;
using namespace mlir::dsc;

namespace {

/// Upstream passes are looked up by name; make sure they are registered.
void ensureUpstreamPassesRegistered() {
  static std::once_flag once;
  std::call_once(once, [] { registerAllPasses(); });
}

/// Appends a textual pipeline (one step) to `pm`.
void addSteps(OpPassManager &pm, StringRef pipeline) {
  ensureUpstreamPassesRegistered();
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    llvm::report_fatal_error("dsc: malformed built-in pipeline step: " +
                             pipeline);
}

/// Steps shared by every target: from the graph to bufferized loops' input.
/// `forGpu`: every buffer the code reads must be one the GPU reaches, and
/// the host code reads none of them (so that a GPU step can be captured).
void buildGraphToBuffersSteps(OpPassManager &pm, bool forGpu,
                              const CodegenOptions &options) {
  // 1. Weights become entry-point arguments the runtime binds; results
  //    become caller-owned output arguments.
  pm.addPass(createDscWeightsToArguments());
  pm.addPass(createDscOutputsToArguments());
  // A GPU's linear layers read bf16 weights (tensor-core GEMMs); the CPU's
  // too when it checks the GPU's numerics, or as its options say (by
  // default the weights a checkpoint stores as bf16: half the bytes, the
  // same values). The GPUs' embedding tables stay f32, and so do the
  // CPU's when it checks a GPU's numerics.
  using CpuWeights = CodegenOptions::CpuWeights;
  bool tables =
      !forGpu && !options.bf16LinearInputs && options.embeddingTablesBf16;
  if (forGpu || options.bf16LinearInputs ||
      options.cpuWeights == CpuWeights::Bf16)
    pm.addPass(createDscBf16LinearWeights(
        {/*storedOnly=*/false, /*embeddingTables=*/tables}));
  else if (options.cpuWeights == CpuWeights::Stored)
    pm.addPass(createDscBf16LinearWeights(
        {/*storedOnly=*/true, /*embeddingTables=*/tables}));
  // 2. dsc ops to their reference linalg semantics, then clean up.
  // The GPU's generated kernels take attention in its plain form: query
  // blocks would be a host loop of kernel launches.
  DscLowerToLinalgOptions lowering;
  lowering.plainAttention = forGpu;
  // The GPU's host code launches kernels; it must not size buffers or loops
  // by what they compute.
  lowering.fixedShapes = forGpu || options.fixedShapes;
  // The host code gathers decode attention's keys in loops of row copies;
  // a GPU kernel gathers them an element per thread.
  lowering.keyRowLoops = !forGpu;
  // A GPU runs linear layers with bf16 weights on tensor cores (below).
  lowering.bf16LinearInputs = forGpu || options.bf16LinearInputs;
  // A GPU runs decode attention over a bf16 cache as the kernel library's
  // MLA decode (dsc-library-gemms).
  lowering.libraryAttention = forGpu;
  // ... and its router as the library's moe_route.
  lowering.libraryRouter = forGpu;
  // ... and its RMSNorms (with the residual add before them) as the
  // library's.
  lowering.libraryNorm = forGpu;
  pm.addNestedPass<func::FuncOp>(createDscLowerToLinalg(lowering));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (forGpu) {
    // A generated kernel sums a reduction on one thread per output: long
    // ones (the router's logits) become partial sums over many.
    pm.addNestedPass<func::FuncOp>(createDscSplitReductions());
    // Each generic is a kernel on a GPU: elementwise ones fuse into the
    // elementwise ones that read them (chains, gathers, reshapes).
    pm.addNestedPass<func::FuncOp>(createDscFuseLinalgElementwise());
  }
  // 3. Tensors to buffers across function boundaries; entry points then
  //    return nothing (their results live in the output arguments).
  //    The router's top-k loop carries fresh tensors, hence
  //    allow-return-allocs-from-loops.
  addSteps(pm, "one-shot-bufferize{bufferize-function-boundaries "
               "function-boundary-type-conversion=identity-layout-map "
               "allow-return-allocs-from-loops}");
  addSteps(pm, "drop-equivalent-buffer-results");
  pm.addPass(createDscDropOutputResults());
  // Decode puts its new entries into the KV cache itself.
  pm.addNestedPass<func::FuncOp>(createDscStoreCacheEntries());
  if (forGpu)
    pm.addNestedPass<func::FuncOp>(createDscGlobalsToBuffers());
  addSteps(pm, "buffer-deallocation-pipeline");
  pm.addPass(createCanonicalizerPass());
  // Copies the host would do with memcpy run as kernels on a GPU.
  DscStridedCopiesToLinalgOptions copies;
  copies.allCopies = forGpu;
  pm.addNestedPass<func::FuncOp>(createDscStridedCopiesToLinalg(copies));
}

} // namespace

DscVectorizeContractionsOptions
mlir::dsc::cpuGemmTiles(llvm::StringRef hostCpu) {
  DscVectorizeContractionsOptions tiles;
  // AVX-512 holds 16 f32 lanes a vector and has 32 vector registers: a
  // 4 x 4 tile's 16 accumulators, its 4 rows of A and a column of B fit.
  // (On a 2-core Zen 5, a 2-layer V2-Lite-shaped model's 512-token prefill
  // 1.8x faster than 8 lanes in 4 x 2 tiles, batch-8 decode 1.6x, batch-1
  // 1.1x: docs/performance.md.)
  if (hostCpu == "x86-64-v4" || hostCpu == "x86-64-v4-bf16") {
    tiles.lanes = 16;
    tiles.tileN = 4;
  }
  // bf16 x bf16 GEMMs (a linear layer's rounded input and its bf16
  // weight) on vdpbf16ps: twice the products an instruction, and no
  // widening of the weights.
  tiles.bf16Dot = hostCpu == "x86-64-v4-bf16";
  return tiles;
}

void mlir::dsc::buildCpuPipeline(OpPassManager &pm,
                                 const CodegenOptions &options) {
  buildGraphToBuffersSteps(pm, /*forGpu=*/false, options);
  // 3b. Reductions may be reordered, so that LLVM vectorizes them.
  pm.addNestedPass<func::FuncOp>(createDscReassociateReductions());
  // 3c. GEMMs to register-blocked vector code (cpuGemmTiles: 8 lanes for
  //     AVX2, on a baseline x86-64 host LLVM splits each vector in two; 16
  //     for AVX-512).
  //     Contractions alike share one function (dsc-outline-contractions),
  //     so that each tile's code is written and optimized once.
  //     With all-generics, the other loop nests alike too: a graph
  //     exported with its experts unrolled is one function of hundreds.
  DscOutlineContractionsOptions outline;
  outline.allGenerics = true;
  pm.addPass(createDscOutlineContractions(outline));
  //     Large contractions' columns split into ranges the runtime's threads
  //     run (dsc-parallelize-contractions); a range starts at a multiple of
  //     every tile width, so that each column takes the tile it would take
  //     unsplit and the results do not depend on the threads.
  DscVectorizeContractionsOptions tiles = cpuGemmTiles(options.hostCpu);
  tiles.blockK = options.gemmBlockK;
  tiles.blockBytes = options.gemmBlockBytes;
  DscParallelizeContractionsOptions parallel;
  parallel.grain =
      std::lcm(tiles.tileM * tiles.tileN, tiles.lanes * tiles.axpyVectors);
  parallel.minMultiplyAdds = options.parallelMinMultiplyAdds;
  if (options.parallelMinMultiplyAdds >= 0)
    pm.addPass(createDscParallelizeContractions(parallel));
  pm.addNestedPass<func::FuncOp>(createDscVectorizeContractions(tiles));
  // 3d. exp inline, so that softmax, sigmoid and SiLU loops vectorize.
  pm.addNestedPass<func::FuncOp>(createDscApproximateMath());
  // 3e. bf16 conversions as integer ops (round to nearest even): LLVM
  //     would call libgcc's __truncsfbf2, which the host object does not
  //     link.
  pm.addNestedPass<func::FuncOp>(createDscExpandBf16());
  // 4. Structured ops to loops.
  //    (expand-strided-metadata makes affine.apply ops: lower-affine after.)
  addSteps(pm, "func.func(convert-linalg-to-loops),expand-strided-metadata,"
               "lower-affine,convert-scf-to-cf");
  // 5. Everything to the LLVM dialect.
  addSteps(pm, "convert-vector-to-llvm{enable-x86vector},"
               "finalize-memref-to-llvm{use-generic-functions},"
               "convert-math-to-llvm,"
               "convert-math-to-libm,convert-arith-to-llvm,"
               "convert-cf-to-llvm,convert-func-to-llvm,"
               "reconcile-unrealized-casts");
  // 6. Allocations and parallel loops through hooks the runtime can
  //    redirect; one packed C signature per entry point.
  pm.addPass(createDscLowerParallelCalls());
  pm.addPass(createDscAllocationHooks());
  pm.addPass(createDscPackEntryPoints());
}

void mlir::dsc::buildNvvmPipeline(OpPassManager &pm,
                                  const CodegenOptions &options) {
  buildGraphToBuffersSteps(pm, /*forGpu=*/true, options);
  // Linear layers' GEMMs become launches of the kernel library's
  // tensor-core GEMM.
  // The 128-row tile's 128 KiB of shared memory: an sm_90 has 227 KiB a
  // block; an sm_80 artifact may run on an sm_86 or sm_89, which have 99.
  DscLibraryGemmsOptions library;
  library.largeTiles = options.chip == "sm_90a";
  // sm_90a's kernels fed by TMA: the large GEMMs, the MLA decode and
  // prefill.
  library.wgmma = options.chip == "sm_90a";
  library.largeTileBlocks = options.largeTileBlocks;
  // Split K where a GEMM's grid would leave SMs idle.
  library.splitKBlocks = options.splitKBlocks >= 0
                             ? options.splitKBlocks
                             : splitKBlocksFor(options.chip);
  pm.addPass(createDscLibraryGemms(library));
  // 4. Parallel loops mapped to blocks and threads, kernels outlined.
  //    The innermost dimension is tiled so that a block's threads cover
  //    neighbouring elements, and the tiles mapped so that a long dimension
  //    takes grid x (dsc-tile-parallel-loops); gpu-map-parallel-loops maps
  //    the loops it left.
  //    A reduction's output element is carried in a register through its
  //    loop (dsc-promote-accumulators); adjacent loops over the same
  //    elements (a reduction and the fill of its init) are one kernel
  //    (dsc-fuse-parallel-loops).
  addSteps(pm, "func.func(convert-linalg-to-parallel-loops)");
  pm.addNestedPass<func::FuncOp>(createDscPromoteAccumulators());
  pm.addNestedPass<func::FuncOp>(createDscFuseParallelLoops());
  pm.addNestedPass<func::FuncOp>(createDscTileParallelLoops());
  addSteps(pm, "func.func(gpu-map-parallel-loops{mapping-policy="
               "innermost-first},convert-parallel-loops-to-gpu),"
               "lower-affine,gpu-kernel-outlining");
  // The host lowering of gpu-lower-to-nvvm-pipeline has no pattern for
  // memref.reshape (reshapes to sizes known only at run time, as ONNX
  // graphs write them): memref-expand makes them reinterpret_casts.
  addSteps(pm, "func.func(memref-expand)");
  pm.addPass(createDscDedupKernels());
  // Which entry points a CUDA graph can hold (the manifest says).
  pm.addPass(createDscCheckGraphCapture());
  // 5. Kernels to NVVM and PTX text in `gpu.binary` ops. PTX 8.0 is the
  //    first ISA with sm_90a; ptxas assembles it for sm_80 too. sm_90a's
  //    TMA kernels fence their descriptors (fence.proxy.tensormap), which
  //    PTX 8.3 has.
  const char *ptx = options.chip == "sm_90a" ? "83" : "80";
  addSteps(pm, "gpu-lower-to-nvvm-pipeline{cubin-chip=" + options.chip +
                   " cubin-features=+ptx" + ptx +
                   " cubin-format=isa opt-level=3}");
  // 6. The host side gets the CPU pipeline's packed entry points; its
  //    runtime calls are bound when it is compiled (Targets.h).
  pm.addPass(createDscPackEntryPoints());
}

void mlir::dsc::registerCodegenPipelines() {
  registerDscCodegenPasses();
  // The levels of runtime/support/HostCpu.h, as an option's values (an
  // unknown one is refused when the options are parsed).
  enum class HostLevel : unsigned { X86_64, V2, V3, V4, V4Bf16 };
  static_assert(std::size(::dsc::kHostCpuLevels) == 5 &&
                ::dsc::kHostCpuLevels[static_cast<unsigned>(HostLevel::V3)] ==
                    ::dsc::kDefaultHostCpu &&
                std::string_view(kDefaultHostLevel) == ::dsc::kDefaultHostCpu);
  struct CpuOptions : public PassPipelineOptions<CpuOptions> {
    Option<HostLevel> hostCpu{
        *this, "host-cpu",
        llvm::cl::desc("x86-64 level of the host code (x86-64-v4: the "
                       "GEMMs in AVX-512's 16 lanes, 4 x 4 tiles; "
                       "x86-64-v4-bf16: bf16 x bf16 ones on vdpbf16ps)"),
        llvm::cl::init(HostLevel::V3),
        llvm::cl::values(
            clEnumValN(HostLevel::X86_64, "x86-64", "SSE2"),
            clEnumValN(HostLevel::V2, "x86-64-v2", "SSE4.2"),
            clEnumValN(HostLevel::V3, "x86-64-v3", "AVX2, FMA (default)"),
            clEnumValN(HostLevel::V4, "x86-64-v4", "AVX-512"),
            clEnumValN(HostLevel::V4Bf16, "x86-64-v4-bf16",
                       "AVX-512, AVX512_BF16"))};
  };
  PassPipelineRegistration<CpuOptions>(
      "dsc-lower-to-cpu",
      "Lower a dsc graph to the LLVM dialect for the host CPU",
      [](OpPassManager &pm, const CpuOptions &opts) {
        CodegenOptions options;
        options.hostCpu =
            std::string(::dsc::kHostCpuLevels[static_cast<unsigned>(
                opts.hostCpu.getValue())]);
        buildCpuPipeline(pm, options);
      });
  struct NvvmOptions : public PassPipelineOptions<NvvmOptions> {
    Option<std::string> chip{*this, "chip",
                             llvm::cl::desc("NVIDIA target (sm_80, sm_90a)"),
                             llvm::cl::init("sm_90a")};
    Option<int64_t> largeTileBlocks{
        *this, "large-tile-blocks",
        llvm::cl::desc("The blocks of 128-row tiles a linear layer's GEMM "
                       "must make to take that tile (sm_90a)"),
        llvm::cl::init(kLargeTileBlocks)};
    Option<int64_t> splitKBlocks{
        *this, "split-k-blocks",
        llvm::cl::desc("The blocks below which a linear layer's 64-row "
                       "GEMM splits its K (0: none; default: the chip's "
                       "SMs)"),
        llvm::cl::init(-1)};
  };
  PassPipelineRegistration<NvvmOptions>(
      "dsc-lower-to-nvvm", "Lower a dsc graph to GPU kernels as PTX",
      [](OpPassManager &pm, const NvvmOptions &opts) {
        CodegenOptions options;
        options.chip = opts.chip;
        options.largeTileBlocks = opts.largeTileBlocks;
        options.splitKBlocks = opts.splitKBlocks;
        buildNvvmPipeline(pm, options);
      });
}
