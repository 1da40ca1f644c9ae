#!/usr/bin/env python3
"""Generates codegen/kernels/grouped_gemm_fp8_wgmma.mlir, the FP8 e4m3
grouped GEMM with DeepSeek's block scales for sm_90a, on wgmma fed by TMA
(gpu, nvgpu and nvvm dialects):

    python3 codegen/kernels/gen_grouped_gemm_fp8_wgmma.py > codegen/kernels/grouped_gemm_fp8_wgmma.mlir

The computation is grouped_gemm_fp8_tn_m64's (gen_grouped_gemm.py --fp8),
the expert GEMM of an FP8 checkpoint:

    for each expert e, for rows r in [offsets[e], offsets[e+1]):
      C[r, n] = sum_kb sa[r, kb] * sb[(e N + n) / 128, kb]
                       * sum_{k in block kb} A[r, k] * B[e N + n, k]

with A and B as the checkpoint and DeepSeek's act_quant store them, both
K-major (B is nn.Linear's [out, in]): 8-bit wgmma reads only K-major
operands, which suits them, and the descriptors are built here (MLIR 22's
nvgpu.warpgroup.mma does not step K-major B).

The schedule, DeepGEMM's promotion without its warp specialisation:
  * two warpgroups (256 threads), a block tile of 128 rows (warpgroup w
    takes rows 64 w .. + 64) by 128 columns of one expert;
  * a K step is 128 values, one scale block: A's [128 x 128] and B's
    [128 x 128] bytes land by TMA as one box each with the 128-byte
    swizzle (a row of the box is exactly one 128-byte swizzle row), 4
    stages, each with an mbarrier armed by thread 0;
  * each step's 4 wgmma m64n128k32 accumulate from zero (an FP8 wgmma
    sums in reduced precision, so no more than a block is summed there),
    then the step's sums join the running ones scaled by sa[row, kb] *
    sb[n block, kb] in f32;
  * after every warp has waited for its step's wgmmas, thread 0 refills
    the step's stage with step + 4.
"""

from kernelgen import (K_MAJOR, WG, Function, accumulator_aliases,
                       accumulator_type, aligned_shared, init_barriers,
                       shared_view, wgmma)

TILE_M, TILE_N, TILE_K = 128, 128, 128  # a K step is one scale block
STAGES = 4
THREADS = 256
BOX = f"memref<128x128xi8, {WG}>"
BOX_BYTES = 128 * 128
STAGE_BYTES = 2 * BOX_BYTES  # A's box, then B's
SMEM_BYTES = STAGES * STAGE_BYTES + 1024  # the alignment slack
MAP = ("!nvgpu.tensormap.descriptor<tensor = " + BOX + ", swizzle = swizzle_128b, "
       "l2promo = l2promo_128b, oob = zero, interleave = none>")
BARS = f"!nvgpu.mbarrier.group<memorySpace = {WG}, num_barriers = {STAGES}>"
REGS = TILE_N // 2  # m64n128 accumulators per thread
ACC = accumulator_type(TILE_N)


def gemm_kernel():
    f = Function()
    c = f.c
    emit = f.emit

    def i64c(value):
        return f.let("k", f"arith.constant {value} : i64")

    f.float_constants()
    e = f.let("expert", "gpu.block_id z")
    bm = f.let("bm", "gpu.block_id y")
    bn = f.let("bn", "gpu.block_id x")
    tid = f.let("tid", "gpu.thread_id x")
    wg = f.idx("wg", "divui", tid, c(128))
    wtid = f.idx("wtid", "remui", tid, c(128))
    warp = f.idx("warp", "divui", wtid, c(32))
    lane = f.idx("lane", "remui", tid, c(32))
    g = f.idx("g", "divui", lane, c(4))
    t = f.idx("t", "remui", lane, c(4))
    t2 = f.idx("t2", "muli", t, c(2))
    leader = f.let("leader", f"arith.cmpi eq, {tid}, {c(0)} : index")
    e1 = f.idx("expert1", "addi", e, c(1))
    start32 = f.let("start32", f"memref.load %offsets[{e}] : memref<?xi32>")
    end32 = f.let("end32", f"memref.load %offsets[{e1}] : memref<?xi32>")
    start = f.let("rowStart", f"arith.index_cast {start32} : i32 to index")
    end = f.let("rowEnd", f"arith.index_cast {end32} : i32 to index")
    mb = f.idx("mb", "muli", bm, c(TILE_M))
    m0 = f.idx("m0", "addi", start, mb)
    inside = f.let("inside", f"arith.cmpi ult, {m0}, {end} : index")
    emit(f"scf.if {inside} {{")
    f.depth += 1
    n0 = f.idx("n0", "muli", bn, c(TILE_N))
    eN = f.idx("eN", "muli", e, "%N")
    nB = f.idx("nB", "addi", eN, n0)  # B's first row of the tile
    kTiles = f.idx("kTiles", "divui", "%K", c(TILE_K))
    nBlock = f.idx("nBlock", "divui", nB, c(128))
    sbRow = f.idx("sbRow", "muli", nBlock, kTiles)

    pad, desc0 = aligned_shared(f)
    kDesc = f.let("kDesc", f"arith.ori {desc0}, {i64c(K_MAJOR)} : i64")
    bar = f.let("bar", f"nvgpu.mbarrier.create -> {BARS}")
    init_barriers(f, leader, bar, BARS, STAGES, (("%mapA", MAP), ("%mapB", MAP)))

    def issue(kt, stage):
        """Thread 0 loads K step `kt` into `stage`, when there is one."""
        inK = f.let("inK", f"arith.cmpi ult, {kt}, {kTiles} : index")
        go = f.let("go", f"arith.andi {leader}, {inK} : i1")
        emit(f"scf.if {go} {{")
        f.depth += 1
        so = f.idx("stageOff", "muli", stage, c(STAGE_BYTES))
        tA = shared_view(f, pad, "tileA", so, BOX)
        tB = shared_view(f, pad, "tileB", f.idx("bAt", "addi", so, c(BOX_BYTES)), BOX)
        k0 = f.idx("k0", "muli", kt, c(TILE_K))
        emit(f"nvgpu.mbarrier.arrive.expect_tx {bar}[{stage}], {c(STAGE_BYTES)} : {BARS}")
        emit(f"nvgpu.tma.async.load %mapA[{k0}, {m0}], {bar}[{stage}] to {tA} "
             f": {MAP}, {BARS} -> {BOX}")
        emit(f"nvgpu.tma.async.load %mapB[{k0}, {nB}], {bar}[{stage}] to {tB} "
             f": {MAP}, {BARS} -> {BOX}")
        f.depth -= 1
        emit("}")

    for s in range(STAGES):
        issue(c(s), c(s))

    # The rows of this lane's accumulators (g and g + 8 of its warp's 16)
    # and their scale rows.
    w64 = f.idx("w64", "muli", wg, c(64))
    w16 = f.idx("w16", "muli", warp, c(16))
    rowIn = f.idx("rowIn", "addi", w64, w16)
    rowA0 = f.idx("rowA0", "addi", rowIn, g)
    rowA = f.idx("rowA", "addi", m0, rowA0)
    rowB = f.idx("rowB", "addi", rowA, c(8))
    saRows = [f.idx("saRow", "muli", r, kTiles) for r in (rowA, rowB)]
    # A's descriptor: the warpgroup's 64 rows of the stage's A box.
    wgI64 = f.let("wgI64", f"arith.index_cast {wg} : index to i64")
    aHalf = f.let("aHalf", f"arith.muli {wgI64}, {i64c(64 * 128 // 16)} : i64")
    aDesc = f.let("aDesc", f"arith.addi {kDesc}, {aHalf} : i64")

    res = f.fresh("acc")
    inits = ", ".join(f"%run{r} = %zero" for r in range(REGS))
    emit(f"{res}:{REGS} = scf.for %kt = {c(0)} to {kTiles} step {c(1)} "
         f"iter_args({inits}) -> ({', '.join(['f32'] * REGS)}) {{")
    f.depth += 1
    stage = f.idx("stage", "remui", "%kt", c(STAGES))
    rnd = f.idx("round", "divui", "%kt", c(STAGES))
    par = f.idx("parityIdx", "remui", rnd, c(2))
    parity = f.let("parity", f"arith.index_cast {par} : index to i1")
    emit(f"nvgpu.mbarrier.try_wait.parity {bar}[{stage}], {parity}, "
         f"{c(10000000)} : {BARS}")
    st64 = f.let("stageI64", f"arith.index_cast {stage} : index to i64")
    stOff = f.let("stageDesc", f"arith.muli {st64}, {i64c(STAGE_BYTES // 16)} : i64")
    aStage = f.let("aStage", f"arith.addi {aDesc}, {stOff} : i64")
    bStage0 = f.let("bStage0", f"arith.addi {kDesc}, {stOff} : i64")
    bStage = f.let("bStage", f"arith.addi {bStage0}, {i64c(BOX_BYTES // 16)} : i64")

    # The step's products from zero: 4 k32 steps along the 128-byte rows.
    emit("nvvm.wgmma.fence.aligned")
    acc = f.let("stepInit", f"llvm.mlir.undef : {ACC}")
    for kk in range(TILE_K // 32):
        da = f.let("aDescK", f"arith.addi {aStage}, {i64c(kk * 32 // 16)} : i64")
        db = f.let("bDescK", f"arith.addi {bStage}, {i64c(kk * 32 // 16)} : i64")
        acc = wgmma(f, acc, da, db, TILE_N, kk > 0, dtype="e4m3")
    emit("nvvm.wgmma.commit.group.sync.aligned")
    emit("nvvm.wgmma.wait.group.sync.aligned 0")

    # Promotion: run += step * sa[row, kt] * sb[n block, kt].
    sbAt = f.idx("sbAt", "addi", sbRow, "%kt")
    sb = f.let("sbKt", f"memref.load %sb[{sbAt}] : memref<?xf32>")
    scales = []
    for r in saRows:
        at = f.idx("saAt", "addi", r, "%kt")
        sa = f.let("saKt", f"memref.load %sa[{at}] : memref<?xf32>")
        scales.append(f.f32("scale", "mulf", sa, sb))
    out = []
    for r in range(REGS):
        v = f.let("step", f"llvm.extractvalue {acc}[{r}] : {ACC}")
        out.append(f.let("run", f"math.fma {v}, {scales[(r % 4) // 2]}, %run{r} : f32"))
    emit("// Every warp is done with the stage: refill it with step kt + 4.")
    emit("gpu.barrier")
    nxt = f.idx("next", "addi", "%kt", c(STAGES))
    issue(nxt, stage)
    emit(f"scf.yield {', '.join(out)} : {', '.join(['f32'] * REGS)}")
    f.depth -= 1
    emit("}")

    # C [rows, N] f32: this lane's pairs of columns, rows g and g + 8.
    col0 = f.idx("col0", "addi", n0, t2)
    for k, row in enumerate((rowA, rowB)):
        rowOff = f.idx("cRow", "muli", row, "%N")
        base = f.idx("cBase", "addi", rowOff, col0)
        for j in range(TILE_N // 8):
            r = 4 * j + 2 * k
            vec = f.let("cv", f"vector.from_elements {res}#{r}, {res}#{r + 1} : vector<2xf32>")
            at = f.idx("cAt", "addi", base, c(8 * j))
            emit(f"vector.store {vec}, %C[{at}] : memref<?xf32>, vector<2xf32>")
    f.depth -= 1
    emit("}")
    emit("gpu.return")
    return f


def main():
    aliases = "\n".join(accumulator_aliases(TILE_N))
    out = [f"""// GENERATED by codegen/kernels/gen_grouped_gemm_fp8_wgmma.py: edit that, not this.
//
// Grouped GEMM over FP8 e4m3 with DeepSeek's block scales for sm_90a: wgmma
// m64n128k32 e4m3 (f32 accumulation) fed by TMA through a {STAGES}-stage
// mbarrier pipeline, the descriptors built here; each 128-value K step
// accumulates from zero and joins the running sums scaled (DeepGEMM's
// promotion). The computation and the layouts of A, B, sa and sb are
// grouped_gemm_fp8.mlir's:
//
//   for each expert e, for rows r in [offsets[e], offsets[e+1]):
//     C[r, n] = sum_kb sa[r, kb] * sb[(e N + n) / 128, kb]
//                      * sum_{{k in block kb}} A[r, k] * B[e N + n, k]
//
// mapA: TMA descriptor over A as [rows, K] bytes (e4m3), box 128 x 128,
// 128-byte swizzle; mapB: over B as [experts * N, K], the same box; both in
// device memory (cuTensorMapEncodeTiled, UINT8). Each expert's rows padded
// to {TILE_M}. C f32 [rows, N]. N % {TILE_N} == 0, K % {TILE_K} == 0.
//
// Grid (N / {TILE_N}, max {TILE_M}-row blocks of an expert, experts), {THREADS} threads,
// {SMEM_BYTES} bytes of dynamic shared memory ({STAGES} stages of {STAGE_BYTES} and 1 KiB
// to align them to the swizzle's 1024 bytes).
{aliases}
module attributes {{gpu.container_module}} {{
gpu.module @dsc_grouped_gemm_fp8_wgmma attributes {{dsc.chips = ["sm_90a"]}} {{
  // The descriptors arrive as pointers (the GPU lowering has no kernel
  // argument conversion for the descriptor type; the casts fold away).
  gpu.func @grouped_gemm_fp8_wgmma(%mapAPtr: !llvm.ptr, %mapBPtr: !llvm.ptr,
                                   %C: memref<?xf32>, %offsets: memref<?xi32>,
                                   %sa: memref<?xf32>, %sb: memref<?xf32>,
                                   %N: index, %K: index)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>}} {{
    %mapA = builtin.unrealized_conversion_cast %mapAPtr : !llvm.ptr to {MAP}
    %mapB = builtin.unrealized_conversion_cast %mapBPtr : !llvm.ptr to {MAP}"""]
    out += gemm_kernel().text()
    out.append("  }")
    out.append("}")
    out.append("}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
