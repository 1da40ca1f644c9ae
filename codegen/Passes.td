//===- Passes.td - Codegen passes --------------------------*- tablegen -*-===//

#ifndef DSC_CODEGEN_PASSES_TD
#define DSC_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def DscLowerToLinalg : Pass<"dsc-lower-to-linalg"> {
  let summary = "Lower dsc ops to their reference linalg-on-tensors semantics";
  let description = [{
    Replaces every dsc op except `dsc.weight` with its decomposition into
    `linalg`, `tensor`, `scf`, `arith` and `math` on tensors: the reference
    semantics both the CPU and the GPU lowerings start from. (With
    `library-attention`, `library-router` and `library-norm`, attention,
    routers and RMSNorms the kernel library runs become its ops,
    `dsc.paged_mla_decode`, `dsc.causal_mla_prefill`, `dsc.noaux_tc_route`,
    `dsc.rms_norm_rows` and `dsc.add_rms_norm_rows`, instead.)

    Before: `%y = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : ...`
    After: a sum-of-squares `linalg.generic` reduction and an elementwise
    `linalg.generic` computing `x * rsqrt(mean + eps) * w`.

    `dsc.mla` (a prefill: every query reads every earlier key) copies its
    keys transposed once, so that the scores run along the keys, and takes
    its queries in blocks of 32, each over the keys up to its last row, so
    that the masked half of the causal scores is never computed. With
    `plain-attention` it is the plain causal attention the frontends
    produce instead, which `dsc-fuse-mla` recognizes again.
  }];
  let options = [
    Option<"plainAttention", "plain-attention", "bool", /*default=*/"false",
           "Lower dsc.mla to plain causal attention (no transposed keys, "
           "no query blocks)">,
    Option<"fixedShapes", "fixed-shapes", "bool", /*default=*/"false",
           "No size or loop bound that depends on a tensor's values: decode "
           "attention over the whole block table, the routed experts per "
           "slot (what a GPU step captured into a CUDA graph needs)">,
    Option<"keyRowLoops", "key-row-loops", "bool", /*default=*/"false",
           "Decode attention gathers its keys from the cache and the new "
           "tokens a row at a time, in loops around a copy of each row "
           "(CPU code: the copies vectorize), instead of one generic that "
           "chooses each element's source (a GPU kernel)">,
    Option<"bf16LinearInputs", "bf16-linear-inputs", "bool",
           /*default=*/"false",
           "Linear layers with bf16 weights round their inputs to bf16 and "
           "mark their GEMM (bf16 x bf16, f32 sums) `dsc.library_gemm`, for "
           "dsc-library-gemms (a GPU's tensor-core GEMM)">,
    Option<"libraryAttention", "library-attention", "bool",
           /*default=*/"false",
           "With fixed-shapes, decode attention over a bf16 cache of widths "
           "the kernel library has becomes dsc.paged_mla_decode (the "
           "absorbed queries and the cache entries in bf16), which "
           "dsc-library-gemms launches as the library's MLA decode kernels; "
           "with a bf16 kv_b its per-head products (q_nope rounded to bf16 "
           "times W_UK, the result times W_UV) are marked "
           "`dsc.library_batched_gemm`. A prompt's attention (dsc.mla, "
           "naive form, causal, a bf16 or FP8 kv_b, widths the library has) "
           "becomes dsc.causal_mla_prefill after kv_b's decompression on the "
           "library's GEMM (with bf16-linear-inputs alone: the same "
           "roundings, computed here)">,
    Option<"libraryRouter", "library-router", "bool", /*default=*/"false",
           "A router the kernel library has (sigmoid scores, noaux_tc, its "
           "expert and group counts, top_k <= 32) becomes its GEMM and "
           "dsc.noaux_tc_route, which dsc-library-gemms launches as the "
           "library's moe_route">,
    Option<"libraryNorm", "library-norm", "bool", /*default=*/"false",
           "dsc.rms_norm and dsc.add_rms_norm over rows the kernel library "
           "takes (f32 like their weight, a static width that is a multiple "
           "of 4) become dsc.rms_norm_rows and "
           "dsc.add_rms_norm_rows, which dsc-library-gemms launches as the "
           "library's RMSNorm kernels">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def DscWeightsToArguments : Pass<"dsc-weights-to-arguments", "ModuleOp"> {
  let summary = "Turn dsc.weight ops into entry-point arguments";
  let description = [{
    Each public function's `dsc.weight` ops become trailing function
    arguments carrying `dsc.weight` (the parameter name) and, for stacked
    experts, `dsc.stack` argument attributes. The runtime binds them from
    the checkpoint in that order. Identical weights are passed once. Public
    functions are marked `llvm.emit_c_interface`: they are the entry points.

    Before: `%w = dsc.weight "model.norm.weight" : tensor<64xf32>`
    After: `func.func @forward(%tokens: ..., %arg1: tensor<64xf32>
    {dsc.weight = "model.norm.weight"})`
  }];
  let statistics = [
    Statistic<"numWeights", "weights", "Number of weight arguments created">
  ];
}

def DscOutputsToArguments : Pass<"dsc-outputs-to-arguments", "ModuleOp"> {
  let summary = "Make entry points write their results into caller buffers";
  let description = [{
    Appends one writable argument per result to each public function and
    materializes the result into it, so after bufferization (and
    `drop-equivalent-buffer-results`) the runtime owns every output buffer,
    including dynamically shaped ones (`buffer-results-to-out-params` cannot
    size those).

    Before: `func.func @forward(%t: tensor<?x?xi64>) -> tensor<?x?x256xf32>`
    After: `func.func @forward(%t: ..., %out: tensor<?x?x256xf32>
    {bufferization.writable = true}) -> tensor<?x?x256xf32>` returning
    `bufferization.materialize_in_destination %r in %out`.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def DscDropOutputResults : Pass<"dsc-drop-output-results", "ModuleOp"> {
  let summary = "Entry points stop returning the buffers they wrote";
  let description = [{
    After bufferization, a public function made by `dsc-outputs-to-arguments`
    returns its `dsc.output` argument buffers. Upstream
    `drop-equivalent-buffer-results` leaves public functions alone, so this
    pass drops those results: the entry point returns nothing and the
    caller's buffers hold the outputs.
  }];
}

def DscStridedCopiesToLinalg
    : Pass<"dsc-strided-copies-to-linalg", "func::FuncOp"> {
  let summary = "Turn memref.copy of strided buffers into linalg.copy";
  let description = [{
    `finalize-memref-to-llvm` lowers a copy between non-contiguous buffers to
    a call to `memrefCopy` from MLIR's runner library, which the host object
    must not depend on (it is loaded into processes with libc and libm only).
    As `linalg.copy` the copy becomes a loop nest instead; contiguous copies
    stay `memref.copy` and become `memcpy`. With `all-copies` (the GPU
    pipeline) every copy becomes `linalg.copy` and so a kernel: the host
    code of a GPU target touches no buffer the kernels use.
  }];
  let options = [
    Option<"allCopies", "all-copies", "bool", /*default=*/"false",
           "Turn contiguous copies into linalg.copy too">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def DscGlobalsToBuffers : Pass<"dsc-globals-to-buffers", "func::FuncOp"> {
  let summary = "Copy constant globals into allocated buffers before use";
  let description = [{
    Constant tensors bufferize to `memref.global`s, which live in the host
    object's read-only data where a GPU kernel cannot read them. For the GPU
    targets each `memref.get_global` becomes a `memref.alloc` (memory the
    runtime hands out, which the GPU reaches) filled by a `linalg.generic`
    that reads the global in its body, and the uses read the copy. The
    generic becomes a kernel and kernel outlining moves the global into the
    kernel's module, so the host code itself copies nothing (a GPU step
    stays capturable into a CUDA graph). Run before the buffer deallocation
    pipeline, which frees the copies.

    ```mlir
    %g = memref.get_global @__constant_4xf32 : memref<4xf32>
    // becomes
    %g = memref.alloc() : memref<4xf32>
    linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>],
                    iterator_types = ["parallel"]} outs(%g : memref<4xf32>) {
    ^bb0(%out: f32):
      %i = linalg.index 0 : index
      %0 = memref.get_global @__constant_4xf32 : memref<4xf32>
      %1 = memref.load %0[%i] : memref<4xf32>
      linalg.yield %1 : f32
    }
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect"];
}

def DscReassociateReductions
    : Pass<"dsc-reassociate-reductions", "func::FuncOp"> {
  let summary = "Let the reductions' float arithmetic be reordered";
  let description = [{
    Marks the `arith.addf`, `arith.mulf` and `arith.subf` in the bodies of
    linalg.generic ops with a reduction loop (matmuls, sums, the experts'
    GEMMs) `fastmath<reassoc, contract>`. An f32 sum in strict order is a
    serial dependence chain that LLVM may not vectorize; allowed to
    reassociate, its loop vectorizer splits it into vector lanes and
    interleaved accumulators, and fma can be formed. Sums then differ from
    the strict order in their last bits (the tests' 1e-4 tolerances and
    token checks hold); elementwise math keeps strict IEEE semantics.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def DscApproximateMath : Pass<"dsc-approximate-math", "func::FuncOp"> {
  let summary = "Inline polynomial approximations of f32 math functions";
  let description = [{
    Replaces the listed `math` ops on f32 (default: `exp`) with MLIR's
    polynomial approximations: a few fmas, a floor and exponent bit
    arithmetic, no library call. A call to libm's `expf` cannot be
    vectorized; the inline form can, so a softmax, sigmoid router or SiLU
    loop runs 8 lanes at a time. The approximation of `exp` is within
    1.2e-7 relative error (about 1 ulp) of libm over the normal range
    (test/codegen/approximate-math-accuracy.mlir checks it), and keeps
    `exp(-inf) = 0`, `exp(+inf) = +inf` and NaN.

    `sin` and `cos` are not replaced by default: RoPE's angles reach
    position x frequency (thousands of radians), where the approximation's
    single-precision range reduction loses digits that libm keeps.
  }];
  let options = [
    ListOption<"opNames", "ops", "std::string",
               "math ops to approximate, by name without 'math.' "
               "(default: exp)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def DscVectorizeContractions
    : Pass<"dsc-vectorize-contractions", "func::FuncOp"> {
  let summary = "Register-blocked vector code for CPU contractions";
  let description = [{
    Rewrites each `linalg.generic` on f32 memrefs that computes
    `C += A * B` with one reduction loop (the model's GEMMs: projections,
    the experts' grouped GEMMs, attention products) into loops over
    register tiles of vector code:

    - *dot form*, when the reduction dimension k is contiguous in A and B
      (`x * W^T`, as `nn.Linear` stores W): `tile-m` x `tile-n` outputs are
      accumulated as vectors of `lanes` along k and summed horizontally per
      block of k, so each loaded vector feeds several `vector.fma`s; a
      single row (a decode step's, or the rows past the last full tile)
      takes 1 x (`tile-m` * `tile-n`) outputs, the same accumulators
      streaming more weight rows at once;
    - *axpy form*, when the output's innermost dimension n is contiguous in
      B and C (`x * W`, as an exported MatMul stores W): `tile-m` rows x
      `axpy-vectors` vectors of `lanes` along n, A broadcast per k.

    The dot form sums k in blocks of `block-k`, each output adding its
    blocks' sums in order, each block's lanes by the same tree of shuffles
    and adds (not `reassoc`: its order is the IR's). Full tiles run in
    cache blocks: per block of B's columns (as many as `block-bytes` of B
    hold at that depth, a multiple of `tile-m` x `tile-n`), per
    block of k, every tile of rows, so that each tile reads the block of B
    from the L2 cache instead of streaming all of B from memory. Pairs and
    single rows (a decode step's, which share no weights to keep) stream
    B's rows whole and add the blocks' sums in registers, in the same
    order: an output's bits depend on neither its tile nor its thread.

    Tiles at the edges are narrower and the k (or n) remainder uses masked
    loads, so every size, static or dynamic, is handled. Other generics are
    left to `convert-linalg-to-loops`. Reductions are reassociated (the sum
    over k runs in `lanes` partial sums), as `dsc-reassociate-reductions`
    already allows.

    With `bf16-dot` (host code for x86-64-v4-bf16), a dot-form contraction
    whose A and B are both bf16 (a linear layer's rounded input and its
    bf16 weight) multiplies on AVX512_BF16's `vdpbf16ps`
    (`x86vector.avx512.dot`): each step loads 2 x `lanes` values of k from
    each and adds two products to each f32 lane, with no widening; the
    products are exact, bf16 subnormals count as zero. The tiles, blocks
    and shuffle tree are the same, so the order is again the same for every
    tile and thread.

    ```mlir
    // x[m, k] * w[n, k] -> y[m, n] becomes, per 4 x 2 tile of y (and
    // per block of k when k is deeper than block-k):
    %acc:8 = scf.for %k = %c0 to %kfull step %c8 iter_args(...) {
      %x0 = vector.load %x[%m0, %k] : memref<?x64xf32>, vector<8xf32>
      ...
      %w0 = vector.load %w[%n0, %k] : memref<32x64xf32>, vector<8xf32>
      %a00 = vector.fma %x0, %w0, %acc00 : vector<8xf32>
      ...
    }
    // The 8 accumulators' lanes summed by one tree of shuffles and adds
    // into %sums, lane l an output's sum; then per output:
    %s00 = vector.extract %sums[0] : f32 from vector<8xf32>
    %y00 = arith.addf %old00, %s00 : f32
    ```
  }];
  let options = [
    Option<"lanes", "lanes", "int64_t", /*default=*/"8",
           "f32 lanes per vector (8: AVX2, 16: AVX-512)">,
    Option<"tileM", "tile-m", "int64_t", /*default=*/"4",
           "Rows of A per register tile">,
    Option<"tileN", "tile-n", "int64_t", /*default=*/"2",
           "Columns of B per register tile (dot form)">,
    Option<"axpyVectors", "axpy-vectors", "int64_t", /*default=*/"2",
           "Vectors along n per register tile (axpy form)">,
    Option<"blockK", "block-k", "int64_t", /*default=*/"2048",
           "Dot form: depth of a cache block of k, a multiple of lanes "
           "(0: no cache blocks)">,
    Option<"blockBytes", "block-bytes", "int64_t", /*default=*/"262144",
           "Dot form: bytes of B in a cache block (its columns at block-k)">,
    Option<"bf16Dot", "bf16-dot", "bool", /*default=*/"false",
           "Dot form with bf16 A and B: AVX512_BF16 pair dot products "
           "(x86vector.avx512.dot), 2 x lanes of k a step; lanes 4, 8 or "
           "16, block-k a multiple of 2 x lanes">,
  ];
  let statistics = [
    Statistic<"numDot", "dot-form", "Contractions vectorized along k">,
    Statistic<"numBf16Dot", "bf16-dot-form",
              "Of those, on bf16 pair dot products">,
    Statistic<"numAxpy", "axpy-form", "Contractions vectorized along n">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::x86vector::X86VectorDialect"];
}

def DscOutlineContractions
    : Pass<"dsc-outline-contractions", "ModuleOp"> {
  let summary = "Share one function among the CPU contractions that are alike";
  let description = [{
    Moves each `linalg.generic` that `dsc-vectorize-contractions` rewrites
    into a private function of its own, `@contraction_N(A, B, ..., C)`, and
    calls it, when the module has other contractions alike: the same
    indexing maps, body and operand types. They then share that function,
    and its register-blocked vector code is written and optimized once. A
    model repeats its GEMMs: each layer function's prefill and decode
    variants, layers of the same widths, the experts of an exported
    graph's expert loop. Without sharing, LLVM optimizes every copy of the
    same tiles (most of a CPU artifact's compile time). A call per GEMM
    costs nothing next to the GEMM.

    Each memref operand's offset is made dynamic (`memref.cast`), so that
    slices of a stack at different offsets share too; sizes and strides
    stay as they are, so the vector code is as specialized as before. A
    contraction that is the only one of its kind stays in place.

    ```mlir
    linalg.generic {...} ins(%x, %w : memref<?x64xf32>, memref<32x64xbf16>)
                         outs(%y : memref<?x32xf32>) {...}
    // becomes
    %xc = memref.cast %x : memref<?x64xf32>
                        to memref<?x64xf32, strided<[64, 1], offset: ?>>
    ... // %wc, %yc likewise
    func.call @contraction_0(%xc, %wc, %yc) : (...) -> ()
    // and, at the end of the module, once for all contractions alike:
    func.func private @contraction_0(...) attributes {passthrough = ["noinline"]}
    ```

    With `all-generics`, every other `linalg.generic` on memrefs alike is
    shared too, in `@generic_N` (elementwise loops, reductions):
    a graph exported layer by layer, experts unrolled (an ONNX export
    without fusion), is one function of hundreds of loop nests, most of
    them alike, and LLVM's time grows faster than its size. A generic
    whose body reads a value from outside other than a constant (a
    gather's table, a loop's index) stays in place, as does one outside the
    module's own functions and scf loops (a GPU launch's body).
  }];
  let options = [
    Option<"allGenerics", "all-generics", "bool", /*default=*/"false",
           "Share every linalg.generic on memrefs alike, not only contractions">,
  ];
  let statistics = [
    Statistic<"numOutlined", "outlined", "Generics moved into a shared function">,
    Statistic<"numFunctions", "functions", "Shared functions">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def DscParallelizeContractions
    : Pass<"dsc-parallelize-contractions", "ModuleOp"> {
  let summary = "Split large CPU contractions into column ranges for threads";
  let description = [{
    For each `linalg.generic` that `dsc-vectorize-contractions` rewrites
    (`C += A * B`) and whose multiply-adds reach `min-multiply-adds`, moves
    it into `@columns_N(operands..., %begin, %end)`, which computes the
    output columns (the loop n that indexes B and C, not A) in
    `[begin, end)` on subviews, and replaces it with a call of
    `@parallel_N(operands...)`. That function carries
    `dsc.parallel_for = grain` and calls `@columns_N` over all columns:
    `dsc-lower-parallel-calls` later turns that call into one through the
    runtime's parallel-for hook, which splits the columns among threads
    (the host object alone runs them on the calling thread).

    Each output element is a sum over k alone, so splitting the columns
    changes no result. Ranges start at multiples of `grain`, a multiple of
    every tile width of `dsc-vectorize-contractions`, so that each column
    is computed by the same tile as without the split: the results are bit
    for bit the same for any number of threads.

    The multiply-adds count static sizes; a dynamic size (a prefill's
    rows, a context's length) counts as 1 at compile time and is checked
    at run time: below the threshold, the columns run on the calling
    thread (`@columns_N` over all of them). `@columns_N` carries
    `dsc.parallel_columns`: its contraction is not split again.

    ```mlir
    linalg.generic {...} ins(%x, %w : memref<1x2048xf32>, memref<1408x2048xbf16>)
                         outs(%y : memref<1x1408xf32>) {...}
    // becomes
    func.call @parallel_0(%x, %w, %y) : (...) -> ()
    func.func private @parallel_0(%x, %w, %y) attributes {dsc.parallel_for = 16 : i64} {
      func.call @columns_0(%x, %w, %y, %c0, %c1408) : (...) -> ()
    }
    func.func private @columns_0(%x, %w, %y, %begin: index, %end: index) {
      %ws = memref.subview %w[%begin, 0] [%size, 2048] [1, 1] : ...
      %ys = memref.subview %y[0, %begin] [1, %size] [1, 1] : ...
      linalg.generic {...} ins(%x, %ws : ...) outs(%ys : ...) {...}
    }
    ```
  }];
  let options = [
    Option<"grain", "grain", "int64_t", /*default=*/"16",
           "Columns a range's start is a multiple of (a multiple of every "
           "tile width of dsc-vectorize-contractions)">,
    Option<"minMultiplyAdds", "min-multiply-adds", "int64_t",
           /*default=*/"131072",
           "Multiply-adds below which a contraction stays on one thread "
           "(negative: every one does)">,
  ];
  let statistics = [
    Statistic<"numStatic", "parallel", "Contractions split, known large enough">,
    Statistic<"numChecked", "checked", "Contractions split, checked at run time">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def DscLowerParallelCalls : Pass<"dsc-lower-parallel-calls", "ModuleOp"> {
  let summary = "Call the runtime's parallel-for hook for dsc.parallel_for functions";
  let description = [{
    Runs on the LLVM dialect, after `convert-func-to-llvm`. Each function
    marked `dsc.parallel_for = grain` (by `dsc-parallelize-contractions`)
    holds one call `@columns(args..., 0, extent)`. The pass stores the
    arguments into a frame on the stack, adds `@NAME_task(ptr frame,
    i64 begin, i64 end)`, which loads them and calls `@columns(args...,
    begin, end)`, and replaces the call with

    ```mlir
    %hook = llvm.load @dsc_parallel_for_hook
    %context = llvm.load @dsc_parallel_for_context
    llvm.call %hook(%context, @NAME_task, %frame, %extent, %grain)
    ```

    Both globals are exported and writable, like `dsc-allocation-hooks`'.
    The hook starts out as `@dsc_parallel_for_serial`, which runs
    `task(frame, 0, extent)` on the calling thread: the host object needs
    no threads of its own. The dsc runtime points it at its thread pool,
    which calls `task` on ranges that start at multiples of `grain` and
    together cover `[0, extent)`, and returns when all have run.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def DscFuseLinalgElementwise
    : Pass<"dsc-fuse-linalg-elementwise", "func::FuncOp"> {
  let summary = "Fuse elementwise linalg.generic ops into their readers (GPU kernels)";
  let description = [{
    For GPU targets, on tensors after dsc-lower-to-linalg: a
    `linalg.generic` whose loops are all parallel is fused into the
    elementwise generics that read its result, so that a chain of them
    becomes one kernel instead of one a step, each with its launch and its
    result's round trip through global memory. A producer fuses only when
    every reader takes it, so that it goes away, and neither it nor a
    reader is an op the kernel library takes (marked `dsc.library_*`).
    A reader takes it:
    - through a permutation (upstream's elementwise fusion);
    - through a broadcast, or a `tensor.extract` in its body (a gather:
      RoPE's rotation read by the query's concatenation, the experts' sum
      read by a MoE layer's residual add), when the producer's body has no
      `math` op: it is computed again for each read, which arithmetic
      costs less than the launch it saves and a transcendental (RoPE's
      cos/sin table, read by 128 heads) does not. A gathered element is
      the producer's body cloned at the extract, its loop indices the
      extract's through the producer's output map (a permutation; its
      input maps projected permutations);
    - through a `tensor.collapse_shape` of a producer that nothing else
      reads: the reader first takes the producer's shape (upstream's
      reshape propagation by expansion; the collapse moves to its result).

    A `linalg.fill` with one reader moves to just before it: a
    reduction and the fill of its init become adjacent loops, which
    dsc-fuse-parallel-loops fuses.

    And where the only reader of a `dsc.rms_norm_rows` or
    `dsc.add_rms_norm_rows` result of f32 normed rows is their rounding to
    bf16 (a GEMM's input), the op stores them as bf16 itself (the
    library's `rmsnorm_f32_bf16`, `add_rmsnorm_f32_bf16`). The same
    arithmetic on every element: results are bit-identical.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def DscSplitReductions : Pass<"dsc-split-reductions", "func::FuncOp"> {
  let summary = "Split long reductions into parallel partial sums and their "
                "sum (GPU kernels)";
  let description = [{
    For GPU targets, on tensors after dsc-lower-to-linalg: a
    `linalg.generic` reducing its inputs into one output over one reduction
    loop of static extent at least `min-extent` (RMSNorm's sum of squares
    over the hidden size, the router's logits: a dot product of two inputs)
    becomes two: `parts` partial sums per output (the parts a parallel loop
    before the reduction: part p sums values p, p + parts, ... of each input
    read along the reduction, expanded to [extent / parts, parts], so that
    neighbouring threads read neighbouring values), then the sum of the
    parts. (MLIR 22's linalg::splitReduction makes invalid IR for dynamic
    output sizes, which every token dimension has.) A generated kernel
    gives each output of a reduction one thread that runs its whole
    extent in order; split, an output's sum is two short chains over
    `parts` threads. `parts` is the largest divisor of the extent that
    leaves at least `min-part` values a part, at most `max-parts`, at most
    the extent over the output's static elements (so that the partial sums
    [outputs..., parts] take no more values per point of the output's
    dynamic dimensions, a token, than the reduction reads: a GEMM's dot
    products into N static columns split into at most extent / N parts),
    and no split below 4 parts: DeepSeek-V3's hidden size 7168 splits into
    112 parts of 64 for its norms, 28 of 256 for its router's 256 logits.

    Ops the kernel library takes (marked `dsc.library_*`) stay whole, as do
    bodies whose combiner linalg cannot name or that read their loop
    indices, outputs indexed by the reduction loop, inputs read through
    other than projected permutations or of size `?` along the reduction,
    and integer reductions (reordered, a
    sum could overflow where the ordered one did not).
    The float sums are reassociated: the result differs from the sum in
    order in its last bits.
  }];
  let options = [
    Option<"minExtent", "min-extent", "int64_t", /*default=*/"512",
           "The shortest reduction that is split">,
    Option<"minPart", "min-part", "int64_t", /*default=*/"64",
           "The fewest values a part sums">,
    Option<"maxParts", "max-parts", "int64_t", /*default=*/"128",
           "The most parts">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def DscPromoteAccumulators
    : Pass<"dsc-promote-accumulators", "func::FuncOp"> {
  let summary = "Carry loops' accumulators in registers, not memory";
  let description = [{
    After convert-linalg-to-(parallel-)loops, a reduction is an `scf.for`
    whose body loads its output element, folds one term into it and stores
    it back. Where the load and the store are directly in the body, of the
    same element (the memref and indices defined outside the loop), the
    load first, and nothing else in the loop may read or write memory that
    buffer shares (Buffers.h's `mayAlias`: distinct buffers when one is an
    allocation of the function that does not escape; unknown effects count),
    the element is loaded once before the loop, carried as an iter_arg and
    stored once after it. The same arithmetic in the same order: results
    are bit-identical. LLVM cannot do this itself for memref arguments it
    cannot prove distinct; on a GPU each step of a generated reduction was
    a round trip through global memory.

    A loop whose trip count is not a known positive constant runs under
    `scf.if lb < ub`, so that nothing is loaded or stored where it ran no
    iterations; such a loop with results of its own is left alone.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def DscFuseParallelLoops
    : Pass<"dsc-fuse-parallel-loops", "func::FuncOp"> {
  let summary = "Fuse adjacent parallel loops over the same elements (GPU)";
  let description = [{
    After convert-linalg-to-parallel-loops, on a GPU each `scf.parallel`
    becomes a kernel. An `scf.parallel` fuses into the one before it when
    the two have no results, bounds computed alike (the same values, equal
    constants, or the same integer arithmetic or `memref.dim` of such;
    overflow flags aside), bodies whose only ops with memory effects are
    loads and stores, and no element that one writes is touched by the
    other but at the same iteration: the same memref indexed by the same
    induction variables, where Buffers.h's `mayAlias` says the two memrefs
    may share memory. A generated reduction and the `linalg.fill` of its
    init, for instance, were a launch each. Before that, allocations and
    ops without memory effects that stand between two loops
    (bufferization places the second's output allocation there) move
    before the first, dims of reshapes and allocations fold to the sizes
    they come from, and affine ops are lowered to arith (as lower-affine
    would be later), so that bounds compare. After it, a load in a loop's
    body of the element a store before it stored (only ops without memory
    effects between) reads the stored value: a fused reduction starts from
    its fill's constant. Each element is computed as before: results are
    bit-identical.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def DscTileParallelLoops
    : Pass<"dsc-tile-parallel-loops", "func::FuncOp"> {
  let summary = "Tile the innermost dimension of parallel loops for threads";
  let description = [{
    Each outermost `scf.parallel` is tiled by `threads` along its innermost
    dimension (the one contiguous in memory) and by 1 along the others, with
    in-bounds checks instead of `min` bounds, and mapped: the tile's points
    to the threads of a block (the innermost dimension to thread x, so
    neighbouring threads touch neighbouring elements: coalesced accesses),
    the tiles to blocks. A grid takes 2^31 - 1 blocks along x but 65535
    along y and z, so x gets the dimension likeliest to be long (a static
    one past 65535, else the innermost of unknown extent, such as a
    prefill's tokens times experts per token, else the longest); the others
    take y and z innermost first, and run sequentially past three.
    `gpu-map-parallel-loops` maps the loops this pass did not tile. A
    dimension of static extent below `threads` gets the next power of two
    above its extent.
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"128",
           "Threads per block along the innermost dimension">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def DscAllocationHooks : Pass<"dsc-allocation-hooks", "ModuleOp"> {
  let summary = "Route the compiled code's allocations through hooks";
  let description = [{
    With `finalize-memref-to-llvm{use-generic-functions}` every allocation
    of the compiled code calls `_mlir_memref_to_llvm_alloc` (and `_free`,
    `_aligned_alloc`). This pass defines them in the module: each loads an
    exported function pointer (`dsc_alloc_hook`, `dsc_free_hook`,
    `dsc_aligned_alloc_hook`), initialized to libc's `malloc`, `free` and
    `aligned_alloc`, and calls it. The host object then needs nothing but
    libc, and a runtime that loads it may point the hooks at its own
    allocator: the dsc runtime does, to turn an allocation failure into an
    error status instead of a crash.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def DscPackEntryPoints : Pass<"dsc-pack-entry-points", "ModuleOp"> {
  let summary = "Add a packed-argument wrapper for each C-interface function";
  let description = [{
    For each LLVM function `_mlir_ciface_NAME` taking pointers to memref
    descriptors, adds `dsc_entry_NAME(ptr argv)` that loads the i-th pointer
    from `argv` and calls it: one fixed C signature the runtime can call for
    any entry point, however many weights it takes. When the C interface
    function only unpacks and calls NAME, the entry point takes NAME's body
    instead, and each descriptor field is loaded from `argv` just before the
    op that uses it (not all up front, where thousands of them would be live
    across every layer call), as an invariant load that LLVM may hoist out
    of a loop. Functions called from more than one place (shared layer
    bodies) are marked `no_inline`: inlining would copy the body per call
    site. Every function defined but the entry points becomes internal, so
    that LLVM may drop the arguments a callee never reads (a static weight's
    sizes, strides and offset).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def DscStoreCacheEntries
    : Pass<"dsc-store-cache-entries", "func::FuncOp"> {
  let summary = "Decode stores its new KV cache entries itself";
  let description = [{
    For a function dsc-kv-cache marked `dsc.stores_cache_entries` (its
    `@decode`), after bufferization: appends a parallel loop over the
    latents output [layers, batch, new tokens, width] that stores each
    entry into the `kv_cache` argument at page
    `block_table[b, (past[b] + s) / page_size]`, row
    `(past[b] + s) % page_size`, rounded to the cache's element type.
    Entries whose table slot or page is out of range write nothing (the
    runtime pads bucketed steps' rows with page -1). On a GPU the loop is a
    kernel of the step: nothing goes through the host, and a CUDA graph of
    the step holds it.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def DscExpandBf16 : Pass<"dsc-expand-bf16", "func::FuncOp"> {
  let summary = "Convert to and from bf16 with integer ops (host CPU code)";
  let description = [{
    `arith.truncf` to bf16 becomes integer ops rounding to nearest even
    (NaN stays a quiet NaN), `arith.extf` from bf16 a shift: LLVM would
    call libgcc's `__truncsfbf2`, which the host object does not link.
    MLIR's bf16 expansions only, not the rest of arith-expand.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def DscBf16LinearWeights : Pass<"dsc-bf16-linear-weights", "ModuleOp"> {
  let summary = "Bind the weights of linear layers as bf16";
  let description = [{
    For GPU targets (and the CPU's, below), after dsc-weights-to-arguments:
    an entry point's f32
    weight argument (`dsc.weight`, stacked or not) whose every use is the
    weight of a `dsc.linear`, one of a `dsc.moe`'s shared or routed
    expert matrices, or the kv_b of a `dsc.mla` or `dsc.mla_decode`
    (whose decode's per-head products run on the batched GEMM), without
    block scales, becomes bf16, the operand type of the tensor-core GEMMs
    (dsc-library-gemms): half the bytes a step reads. The module's `dsc.bf16_params` lists their names; the
    manifest carries it per target, and the runtime packs those params as
    bf16 (exactly from a BF16 checkpoint, rounded to nearest even from
    others). The runtime binds a param once by name for all entry points,
    so a name becomes bf16 only where every entry point's argument of that
    name qualifies.

    With `stored-only` (the CPU's default, dsc-compile --cpu-weights auto),
    only the weights the module's `dsc.bf16_stored` names (the Hugging Face
    importer lists the weights a checkpoint stores as BF16) qualify: bf16
    exactly, half the bytes of their f32 copies, the same values. The CPU's
    contractions read them as bf16 and widen each vector
    (dsc-vectorize-contractions).

    With `embedding-tables` (the CPU's, with stored-only) a `dsc.embed`'s
    table qualifies too: the gather widens each value it reads (exactly),
    so the table takes half the bytes and the runtime reads a BF16
    checkpoint's in place. (The GPU pipelines leave the table f32.)
  }];
  let options = [
    Option<"storedOnly", "stored-only", "bool", /*default=*/"false",
           "Only the weights the module's dsc.bf16_stored names (stored as "
           "BF16 by the checkpoint)">,
    Option<"embeddingTables", "embedding-tables", "bool", /*default=*/"false",
           "Also the tables of dsc.embed (the gather widens what it reads)">,
  ];
  let dependentDialects = ["::mlir::dsc::DscDialect"];
}

def DscLibraryGemms : Pass<"dsc-library-gemms", "ModuleOp"> {
  let summary = "Run the marked GEMMs, dsc.paged_mla_decode, "
                "dsc.causal_mla_prefill and dsc.noaux_tc_route on the kernel "
                "library's kernels";
  let description = [{
    For GPU targets, after bufferization and before the parallel loops
    become kernels: each `linalg.generic` marked `dsc.library_gemm` (by
    dsc-lower-to-linalg{bf16-linear-inputs}: `C[..., n] = sum_k A[..., k] *
    B[n, k]`, A and B bf16, C f32) becomes a launch of the kernel library's
    `batched_gemm_bf16_tn_m64` (the grouped GEMM's mma.sync schedule, a
    4-stage cp.async ring; any M and N, K % 8 == 0) as one batch: grid
    (ceil(N / 128), ceil(M / 64)), 128 threads, 96 KiB of dynamic shared
    memory, M an argument (sizes the host holds, not device data:
    dsc-check-graph-capture); or, with `large-tiles` and M large enough
    for the 128-row tile's blocks to make two waves on 132 SMs (M >=
    ceil(264 / ceil(N / 128)) * 128, decided on the host by M; the 264 is
    `large-tile-blocks`), the 128-row tile `batched_gemm_bf16_tn` (256
    threads, 128 KiB); with `wgmma` as well (sm_90a), that tile is
    `gemm_wgmma_bf16_tn` (grouped_gemm_wgmma_tn.mlir: wgmma fed by TMA
    through an mbarrier ring), whose two TMA descriptors the host code gets
    from the runtime (`dsc_gpu_tensor_map_bf16`, a call that reads only its
    buffer's address and sizes: dsc-check-graph-capture lets it be
    recorded). The library's modules join the module from the source dsc
    was built with, holding the kernels launched only. The launch (tile,
    threads, shared bytes, TMA box) is read from the kernel's attributes
    (`dsc.tile`, `known_block_size`, `dsc.dynamic_shared_memory`,
    `dsc.tma_box`).

    Each routed experts' GEMM per slot marked `dsc.library_grouped_gemm`
    (by dsc-lower-to-linalg{fixed-shapes bf16-linear-inputs}: `C[t, j, n] =
    sum_k A[t, (j,) k] * W[indices[t, j], n, k]`, W a bf16 stack, or an e4m3
    one with block scales, the mark then its block size) becomes the
    library's dispatch around its GEMM: the experts clamped to i32,
    `moe_align` (moe_dispatch.mlir; the slots sorted by expert, unpadded),
    `moe_tiles` (each expert's 64-row M tiles), the rows gathered in that
    order, `grouped_gemm_bf16_tn_m64_tiled` (for e4m3 stacks
    `grouped_gemm_fp8w_bf16_tn_m64_tiled`, the weights dequantized in
    shared memory; with SwiGLU fused the `_swiglu_` ones) over the listed
    tiles (grid
    (ceil(N / 128), ceil(slots / 64) + experts); blocks past the last tile
    exit), and each slot's row put back. The GEMMs of one `indices` (a MoE
    layer's gate, up and down; nothing between them writing it) share one
    sorting, and those of one input (gate and up) one gather. With `wgmma`
    the tiles are 128 rows (grid (ceil(N / 128), ceil(slots / 128) +
    experts)) and the GEMMs sm_90a's `grouped_gemm_wgmma_bf16_tn_tiled`
    and `grouped_gemm_wgmma_swiglu_bf16_tn_tiled` (for e4m3 stacks
    `grouped_gemm_wgmma_fp8w_bf16_tn_tiled` and
    `grouped_gemm_wgmma_swiglu_fp8w_bf16_tn_tiled`, each K step's bytes
    turned into the bf16 tile wgmma reads), the rows and each stack through
    the runtime's TMA descriptors (boxes of 64 x 64; e4m3 stacks'
    unswizzled, `dsc_gpu_tensor_map_e4m3`), launched only when there are
    slots (a descriptor of no rows is invalid).

    A `linalg.generic` marked `dsc.library_swiglu` (by the same lowering:
    `act = bf16(g / (1 + exp(-g)) * u)` elementwise from the f32 sums of a
    layer's gate and up GEMMs to its down GEMM's per-slot input) fuses with
    those two GEMMs when nothing else reads the sums or `act`: one launch
    of `grouped_gemm_swiglu_bf16_tn_m64_tiled` where the SwiGLU was (grid
    (ceil(2 N / 128), the listed tiles): each block's 128 packed columns
    are 64 gate and the same 64 up columns, read from the two stacks as
    they lie), whose activations in expert order are the down GEMM's rows;
    the sums, `act` and the down GEMM's gather go. Between two
    `dsc.library_gemm` GEMMs of one input (a dense MLP's or a shared
    expert's gate and up), it fuses with them into one launch of
    `batched_gemm_swiglu_bf16_tn_m64` (one batch, the 64-row tile, grid
    (ceil(2 N / 128), ceil(M / 64))) writing `act`; with `large-tiles` and
    `wgmma`, by the rows as a linear layer's 128-row tile, into
    `gemm_wgmma_swiglu_bf16_tn` (both weights through descriptors). A
    SwiGLU it cannot fuse stays generated, with a remark saying why.

    With `split-k-blocks` N, a linear layer's GEMM on the 64-row tile
    (bf16, or e4m3 weights read as stored) whose grid has fewer than N
    blocks, decided on the host by M, runs its K (a multiple of 64) in
    parts: the fewest of the divisors of its K steps (up to 32) that make
    N blocks, as the batches of `batched_gemm_bf16_tn_m64` (A's and B's
    columns from e K / parts) or of `batched_gemm_fp8w_bf16_tn_m64`
    (their column offset `bColBatch`), each part's f32 sums into a buffer
    of their own, then a generated sum of the parts into C. A decode's q_a
    at 64 rows is 12 blocks of V3's: on 132 SMs, most of the bandwidth a
    memory-bound GEMM needs would sit idle. A fused MLP's gate and up split
    when the fused kernel's grid (their 2n columns) has fewer than N blocks,
    into the parts gate would take as a linear layer: then their parts run
    instead of the fused kernel, and generated code sums them and computes
    the SwiGLU.

    A `dsc.library_gemm` GEMM whose B is an allocation written only by a
    `linalg.generic` marked `dsc.library_dequantize` (a block-scaled e4m3
    weight dequantized to bf16 for it; the mark holds the block size) and
    freed after it reads the e4m3 weight as stored when M is at most 128
    (decided on the host): `gemm_fp8w_bf16_tn_m64` (or, fused with a
    SwiGLU, `gemm_swiglu_fp8w_bf16_tn_m64`), which dequantizes each B tile
    in shared memory to the same bf16 values; with more rows the
    dequantization (its allocation, op and dealloc moved into that branch)
    and the bf16 kernel run. A weight it cannot take keeps its
    dequantization, with a remark.

    A `linalg.generic` marked `dsc.library_combine` (the routed layer's
    weighted combine, `y[t, d] += w[t, j] * c[t, j, d]`), whose `c` is a
    routed group's last GEMM's result that nothing else reads, reads that
    GEMM's rows where its kernel wrote them, in expert order, through each
    slot's row (`y[t, d] += w[t, j] * rows[slotRow[t, j], d]`, the same sum
    in the same order): `c` and its scatter go, the sorting's buffers are
    freed after the combine. Otherwise it stays as it was, with a remark.

    Each per-head product of the absorbed attention marked
    `dsc.library_batched_gemm` (by dsc-lower-to-linalg{fixed-shapes
    library-attention} when kv_b is bf16: `C[..., h, n] = sum_k A[..., h,
    k] * W[h, n, k]` or `W[h, k, n]`, W a strided view of a contiguous
    buffer, such as W_UK's or W_UV's slab of kv_b) becomes a launch of
    `batched_gemm_bf16_tn_m64` (W given [h, n, k]) or `_nn_m64` (W given
    [h, k, n], read with ldmatrix.trans): grid (ceil(N / 128),
    ceil(M / 64), H), W passed as its whole buffer with its offset and
    strides, read from its type. When W views an FP8 kv_b's dequantization
    (marked `dsc.library_dequantize`, read by nothing but these products,
    kv_b and its scales weights of the model: `dsc.weight` arguments,
    through the layers' calls), the products read kv_b as stored instead:
    `batched_gemm_fp8w_bf16_tn_m64` and `_nn_m64` take each head's slab as
    rows of kv_b (its first row and the rows between heads), its scales
    and their block, and dequantize each tile in shared memory; the
    dequantization, its allocation and views go. Slabs that are not whole
    rows, or of a width (N for W given [h, k, n], else K) that is not a
    multiple of 16, keep the dequantization, with a remark.

    A write that initializes C before a marked GEMM (a fill, or the copy of
    zeros bufferization makes) is removed when nothing between them
    touches C: the library writes all of C.

    A marked GEMM the kernel cannot take (K % 8 != 0, a non-contiguous
    operand, more than 1024 experts, a W whose offset or strides are
    unknown or not multiples of 8) stays a generic loop nest, with a
    remark saying why.

    Each `dsc.paged_mla_decode` on buffers (decode attention, made by
    dsc-lower-to-linalg{fixed-shapes library-attention}) becomes the
    library's MLA decode for its widths (`mla_decode_bf16.mlir`, or a
    variant such as `mla_decode_bf16_c32_r8.mlir`): a parallel loop storing
    each row's entry at its position in the cache, `mla_decode_bf16*` over
    splits of the rows' 32-token tiles chosen from shapes (about 264
    blocks), reading the whole cache buffer from the layer's element
    offset, then `mla_decode_combine*`. With `wgmma` (sm_90a), at the
    widths the library has it for (DeepSeek's: latent 512, rope 64), the
    decode is `mla_decode_wgmma_bf16` (mla_decode_wgmma.mlir: the query
    block and each page by TMA through an mbarrier ring, both GEMMs on
    wgmma) over splits of whole pages, its two descriptors from the
    runtime: the queries as [rows * heads, width] and the layer's pages as
    [pages * 64, width] (the view's offset is the descriptor's start). One
    it cannot run (pages other than 64 tokens, dynamic heads, a strided
    operand, widths the library lacks) is an error: the op has no other
    lowering.

    Each `dsc.causal_mla_prefill` on buffers (a prompt's attention, made by
    dsc-lower-to-linalg{library-attention}) becomes the library's MLA
    prefill for its widths (`mla_prefill_bf16.mlir`, or a variant such as
    `mla_prefill_bf16_n16_r8_v16.mlir`): grid (ceil(S / 64), H, B), 128
    threads, the shared memory its attributes state; nothing for an empty
    batch. With `wgmma` (sm_90a), at DeepSeek's widths, the kernel is
    `mla_prefill_wgmma_bf16` (mla_prefill_wgmma.mlir), its three inputs
    through the runtime's 3-d descriptors (`dsc_gpu_tensor_map_3d_bf16`:
    [B, S, row], so that a box stays within its sequence). One it cannot
    run (dynamic heads, a strided operand, widths the library lacks) is an
    error.

    Each `dsc.noaux_tc_route` on buffers (a V3 router after its GEMM, made
    by dsc-lower-to-linalg{library-router}) becomes the library's router for
    its expert and group counts (`moe_route.mlir`, or a variant such as
    `moe_route_e16_g4.mlir`): one warp per token, grid ceil(T / 4), 128
    threads; nothing for no tokens. One it cannot run (counts the library
    lacks, a strided operand) is an error.

    Each `dsc.rms_norm_rows` and `dsc.add_rms_norm_rows` on buffers (made
    by dsc-lower-to-linalg{library-norm}) becomes the library's RMSNorm
    kernel for its element type (`rmsnorm_f32.mlir`, `add_rmsnorm_bf16.mlir`):
    one block of 256 threads per row; nothing for no rows. A strided row
    operand is copied to or from a contiguous buffer around the launch; a
    strided weight is an error.
  }];
  let options = [
    Option<"largeTiles", "large-tiles", "bool", /*default=*/"false",
           "Let linear layers with many rows take the 128-row tile (128 KiB "
           "of shared memory: sm_90 and sm_80's A100, not sm_86/sm_89's 99 "
           "KiB); GPU pipelines set it for sm_90a">,
    Option<"wgmma", "wgmma", "bool", /*default=*/"false",
           "sm_90a's kernels fed by TMA: the MLA decode and prefill where "
           "the library has them for the widths, the routed experts (bf16 "
           "or e4m3 stacks), and with large-tiles the 128-row tile "
           "(gemm_wgmma_bf16_tn, gemm_wgmma_swiglu_bf16_tn); GPU pipelines "
           "set it for sm_90a">,
    Option<"splitKBlocks", "split-k-blocks", "int64_t", /*default=*/"0",
           "A linear layer's GEMM on the 64-row tile whose grid has fewer "
           "blocks than this (a decode's few rows times a narrow layer) "
           "splits its K into parts, the fewest that make this many blocks "
           "(each whole 64-wide K steps, at most 32), then sums them; 0 "
           "splits none. GPU pipelines set the chip's SMs">,
    Option<"largeTileBlocks", "large-tile-blocks", "int64_t",
           /*default=*/"264",
           "The blocks a GEMM's 128-row tiles must make for it to take them "
           "(264: two waves on an H100's or H200's 132 SMs)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def DscCheckGraphCapture : Pass<"dsc-check-graph-capture", "ModuleOp"> {
  let summary = "Find the entry points whose GPU step a CUDA graph can hold";
  let description = [{
    Run on the host side after kernel outlining. A CUDA graph replays the
    kernels a host function launched, without the host function; that is
    the same computation only when the host code reads nothing the kernels
    computed and writes nothing they read. Per public function, this pass
    looks through its host code and the functions it calls for an op that
    reads or writes a buffer a kernel can see: an entry point's argument, a
    global, or an allocation that reaches a `gpu.launch_func`. Allocations
    that only host code uses (the ownership flags of buffer deallocation)
    are free to use. The module gets `dsc.graph_capturable`, the names of
    the entry points without such an op; the runtime captures those.

    With `report`, every entry point gets a remark: capturable, or not with
    a note at the first offending op.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit a remark per entry point">,
  ];
  let statistics = [
    Statistic<"numNotCapturable", "not-capturable",
              "Entry points whose host code touches device data">
  ];
}

def DscDedupKernels : Pass<"dsc-dedup-kernels", "ModuleOp"> {
  let summary = "Merge outlined GPU kernels with identical bodies";
  let description = [{
    Kernel outlining makes one `gpu.module` per launch, so the same
    elementwise or reduction loop nest used twice (two residual adds, the
    norms of two layer kinds) becomes two kernels. This pass keeps one kernel
    per equivalence class (same signature, equivalent body) and points every
    `gpu.launch_func` at it, so the artifact carries each distinct kernel
    once.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
  let statistics = [
    Statistic<"numMerged", "merged", "Number of duplicate kernels removed">
  ];
}

#endif // DSC_CODEGEN_PASSES_TD
