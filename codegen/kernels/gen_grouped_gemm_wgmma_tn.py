#!/usr/bin/env python3
"""Generates the grouped GEMMs for sm_90a whose B is K-major ("tn": B as
nn.Linear and the checkpoint store it, [experts * N, K]), on wgmma fed by
TMA (gpu, nvgpu and nvvm dialects):

    python3 codegen/kernels/gen_grouped_gemm_wgmma_tn.py > codegen/kernels/grouped_gemm_wgmma_tn.mlir
    python3 codegen/kernels/gen_grouped_gemm_wgmma_tn.py --fp8 > codegen/kernels/grouped_gemm_fp8_wgmma.mlir

The computation is the mma.sync kernels' (gen_grouped_gemm.py), MoE's expert
GEMM over the rows sorted by expert:

    for each expert e, for rows r in [offsets[e], offsets[e+1]):
      C[r, n] = sum_k A[r, k] * B[e N + n, k]

bf16 (grouped_gemm_wgmma_bf16_tn, f32 out) and with SwiGLU fused into the
epilogue (grouped_gemm_wgmma_swiglu_bf16_tn: B packed as for
grouped_gemm_swiglu_bf16_tn, per 32 rows 16 gate rows then the same 16 up
rows; bf16 out [rows, N / 2], rounded as transformers' bf16 MLP); and the
dense form a linear layer runs on sm_90a (gemm_wgmma_bf16_tn: one GEMM of
M rows, any M and N, K % 8 == 0, each value of C stored under its guards),
which dsc-library-gemms launches; the routed experts' tiled forms over
the M tiles moe_tiles lists (grouped_gemm_wgmma_*_tiled), for bf16 stacks
and, _fp8w_, for an FP8 checkpoint's e4m3 stacks with block scales, whose
bytes every thread turns into the bf16 tile wgmma reads each K step
(W8Convert: bf16(w * scale), dsc's CPU dequantization); and the dense
e4m3 forms (gemm_wgmma_fp8w_bf16_tn and its SwiGLU form: an FP8
checkpoint's linear layers and MLPs of many rows). With
--fp8, e4m3 A and B with DeepSeek's block scales (grouped_gemm_fp8_wgmma):

      C[r, n] = sum_kb sa[r, kb] * sb[(e N + n) / 128, kb]
                       * sum_{k in block kb} A[r, k] * B[e N + n, k]

Both operands are K-major (8-bit wgmma reads nothing else), on descriptors
built here: MLIR 22's nvgpu.warpgroup.mma steps a K-major B wrongly.

The schedule:
  * two warpgroups (256 threads), a block tile of 128 rows (warpgroup w
    takes rows 64 w .. + 64) by 128 columns of one expert;
  * a K step is 128 bytes of a row (64 bf16, or 128 e4m3: one scale block):
    A's [128 x 128 B] and B's [128 x 128 B] land by TMA as one box each with
    the 128-byte swizzle (a box row is one swizzle row), 4 stages, each with
    an mbarrier armed by thread 0;
  * each step is 4 wgmma m64n128 (k16 bf16, k32 e4m3). bf16 chains them into
    the running sums and keeps one step's group in flight, refilling the
    previous step's stage once both warpgroups have waited for it. FP8 sums
    each step from zero (an FP8 wgmma sums in reduced precision, so no more
    than a block is summed there) and joins the running f32 sums scaled by
    sa[row, kb] * sb[n block, kb] (DeepGEMM's promotion), then refills;
  * the kernels that load A in 64-row boxes (the tiled ones, the routed
    experts, often a few rows an expert; the dense SwiGLU and e4m3 ones):
    a warpgroup whose 64 rows all lie past the end (the expert's, or M)
    skips its wgmmas, and its A box is not loaded (the stage's bytes
    expected shrink by it);
  * no producer warp, no TMA multicast (DeepGEMM's full schedule).
"""

import sys

from kernelgen import (FENCE_PROXY_ASYNC, K_MAJOR, WG, Function, WarpgroupLanes,
                       accumulator_aliases, accumulator_type, aligned_shared,
                       init_barriers, shared_view, wait_stage, wgmma)

FP8 = "--fp8" in sys.argv[1:]
TILE_M, TILE_N = 128, 128
STEP_BYTES = 128  # a K step: one 128-byte swizzle row of A and of B
TILE_K = STEP_BYTES if FP8 else STEP_BYTES // 2  # values a step
STAGES = 4
THREADS = 256
ELEM = "i8" if FP8 else "bf16"
BOX = f"memref<128x{TILE_K}x{ELEM}, {WG}>"
BOX_BYTES = 128 * STEP_BYTES
STAGE_BYTES = 2 * BOX_BYTES  # A's box, then B's
SMEM_BYTES = STAGES * STAGE_BYTES + 1024  # the alignment slack
MAP = ("!nvgpu.tensormap.descriptor<tensor = " + BOX + ", swizzle = swizzle_128b, "
       "l2promo = l2promo_128b, oob = zero, interleave = none>")
# The tiled kernels' descriptors: boxes of 64 rows, two a stage for A and
# for B (a plain B's 128 rows; gate's 64 then up's 64 for SwiGLU), each
# landing where a 128-row box's half would (the swizzle repeats every 8
# rows).
HALF_BOX = f"memref<64x{TILE_K}x{ELEM}, {WG}>"
HALF_BOX_BYTES = BOX_BYTES // 2
HALF_MAP = MAP.replace(BOX, HALF_BOX)
# The e4m3-weight kernels (w8, tiled or dense): B's bytes as stored, boxes of 64 rows
# of a K step's 64 bytes, unswizzled; each K step every thread turns its
# chunks into the bf16 tile wgmma reads, one of two after the stages (the
# 128-byte swizzle written by hand), bf16(w * scale) as dsc's CPU code
# dequantizes.
W8_BOX = f"memref<64x{TILE_K}xi8, {WG}>"
W8_BOX_BYTES = 64 * TILE_K
W8_MAP = ("!nvgpu.tensormap.descriptor<tensor = " + W8_BOX + ", swizzle = none, "
          "l2promo = l2promo_128b, oob = zero, interleave = none>")
W8_STAGE_BYTES = 2 * HALF_BOX_BYTES + 2 * W8_BOX_BYTES  # A's two boxes, B's two
W8_TILES_AT = STAGES * W8_STAGE_BYTES  # the two converted bf16 B tiles
W8_SMEM_BYTES = W8_TILES_AT + 2 * BOX_BYTES + 1024
assert FP8 or (W8_TILES_AT % 1024 == 0 and W8_SMEM_BYTES == SMEM_BYTES)
BARS = f"!nvgpu.mbarrier.group<memorySpace = {WG}, num_barriers = {STAGES}>"
REGS = TILE_N // 2  # m64n128 accumulators per thread
ACC = accumulator_type(TILE_N)


def gemm_kernel(swiglu, dense=False, tiled=False, w8=False):
    """The grouped kernel (`swiglu`: False, or "packed", B packed per 32
    rows); or, `dense`, one GEMM of M rows (a linear layer's), every row
    and column of C guarded; or, `tiled`, the grouped kernel over the M
    tiles moe_tiles lists (`swiglu` "stacks": gate and up read from their
    own stacks), every row and column guarded; with `w8` (dense or tiled)
    the weights e4m3 with block scales. SwiGLU over stacks, dense or tiled,
    and the tiled and w8 kernels load 64-row boxes, and skip a warpgroup
    whose rows all lie past the end."""
    f = Function()
    c = f.c
    emit = f.emit
    halves = tiled or swiglu == "stacks" or w8

    i64c = f.i64c

    f.float_constants()
    if not dense and not tiled:
        e = f.let("expert", "gpu.block_id z")
    bm = f.let("bm", "gpu.block_id y")
    bn = f.let("bn", "gpu.block_id x")
    tid = f.let("tid", "gpu.thread_id x")
    ln = WarpgroupLanes(f, tid, 2)
    wg, warp, g, t2 = ln.wg, ln.warp, ln.g, ln.t2
    leader = f.let("leader", f"arith.cmpi eq, {tid}, {c(0)} : index")
    if dense:
        start, end = c(0), "%M"
    elif tiled:
        # Block y computes tile bm of the list, [expert, first row]; [-1,
        # -1] past the last tile (that block exits).
        tAt = f.idx("tAt", "muli", bm, c(2))
        tAt1 = f.idx("tAt1", "addi", tAt, c(1))
        tileE = f.let("tileE", f"memref.load %tiles[{tAt}] : memref<?xi32>")
        tileRow = f.let("tileRow", f"memref.load %tiles[{tAt1}] : memref<?xi32>")
        noTile = f.let("noTile", "arith.constant 0 : i32")
        listed = f.let("listed", f"arith.cmpi sge, {tileE}, {noTile} : i32")
        eSafe = f.let("eSafe", f"arith.maxsi {tileE}, {noTile} : i32")
        rowSafe = f.let("rowSafe", f"arith.maxsi {tileRow}, {noTile} : i32")
        e = f.let("expert", f"arith.index_cast {eSafe} : i32 to index")
        m0 = f.let("m0", f"arith.index_cast {rowSafe} : i32 to index")
        e1 = f.idx("expert1", "addi", e, c(1))
        end32 = f.let("end32", f"memref.load %offsets[{e1}] : memref<?xi32>")
        end = f.let("rowEnd", f"arith.index_cast {end32} : i32 to index")
    else:
        e1 = f.idx("expert1", "addi", e, c(1))
        start32 = f.let("start32", f"memref.load %offsets[{e}] : memref<?xi32>")
        end32 = f.let("end32", f"memref.load %offsets[{e1}] : memref<?xi32>")
        start = f.let("rowStart", f"arith.index_cast {start32} : i32 to index")
        end = f.let("rowEnd", f"arith.index_cast {end32} : i32 to index")
    if tiled:
        inside = listed
    else:
        mb = f.idx("mb", "muli", bm, c(TILE_M))
        m0 = f.idx("m0", "addi", start, mb)
        inside = f.let("inside", f"arith.cmpi ult, {m0}, {end} : index")
    emit(f"scf.if {inside} {{")
    f.depth += 1
    n0 = f.idx("n0", "muli", bn, c(TILE_N))
    # SwiGLU over stacks: block x computes output columns n0 / 2 .. + 64,
    # from gate's and up's rows of those columns.
    nOut = f.idx("nOut", "divui", n0, c(2)) if swiglu == "stacks" else n0
    if dense or tiled:
        if tiled:
            eN = f.idx("eN", "muli", e, "%N")
            nB = f.idx("nB", "addi", eN, nOut)  # B's first row of the tile
        else:
            nB = nOut
        # A K tail past the last whole step: TMA fills A's and B's columns
        # past K with zeros, which add nothing.
        kUp = f.idx("kUp", "addi", "%K", c(TILE_K - 1))
        kTiles = f.idx("kTiles", "divui", kUp, c(TILE_K))
    else:
        eN = f.idx("eN", "muli", e, "%N")
        nB = f.idx("nB", "addi", eN, n0)  # B's first row of the tile
        kTiles = f.idx("kTiles", "divui", "%K", c(TILE_K))

    bar = f.let("bar", f"nvgpu.mbarrier.create -> {BARS}")
    pad, desc0 = aligned_shared(f, bar, BARS, STAGES)
    kDesc = f.i64("kDesc", "ori", desc0, i64c(K_MAJOR))
    boxMap = HALF_MAP if halves else MAP
    maps = [("%mapA", boxMap), ("%mapB", W8_MAP if w8 else boxMap)]
    if swiglu == "stacks":
        maps.append(("%mapU", maps[1][1]))
    init_barriers(f, leader, bar, BARS, STAGES, maps)
    stageBytes = W8_STAGE_BYTES if w8 else STAGE_BYTES
    if w8:
        convert = W8Convert(f, pad, tid, e if tiled else c(0), nOut, swiglu == "stacks")

    def issue(kt, stage):
        """Thread 0 loads K step `kt` into `stage`, when there is one."""
        inK = f.let("inK", f"arith.cmpi ult, {kt}, {kTiles} : index")
        go = f.let("go", f"arith.andi {leader}, {inK} : i1")
        emit(f"scf.if {go} {{")
        f.depth += 1
        so = f.idx("stageOff", "muli", stage, c(stageBytes))
        def arm(bytes=None):
            k0 = f.idx("k0", "muli", kt, c(TILE_K))
            emit(f"nvgpu.mbarrier.arrive.expect_tx {bar}[{stage}], {bytes or c(stageBytes)} "
                 f": {BARS}")
            return k0
        if halves:
            # A's two 64-row boxes (rows m0 and m0 + 64), then B's two:
            # rows nB and nB + 64, or gate's and up's rows nB for SwiGLU
            # (w8: e4m3 bytes, unswizzled).
            bBox, bMap, bBytes = ((W8_BOX, W8_MAP, W8_BOX_BYTES) if w8 else
                                  (HALF_BOX, HALF_MAP, HALF_BOX_BYTES))
            m64 = f.idx("m64", "addi", m0, c(64))
            # Rows m0 + 64 .. past the end (the expert's, or M): warpgroup
            # 1 multiplies nothing, so its box is not loaded.
            full = f.let("full", f"arith.cmpi ult, {m64}, {end} : index")
            bytes = f.let("stageTx", f"arith.select {full}, {c(stageBytes)}, "
                                     f"{c(stageBytes - HALF_BOX_BYTES)} : index")
            k0 = arm(bytes)
            for i, row in enumerate((m0, m64)):
                if i:
                    emit(f"scf.if {full} {{")
                    f.depth += 1
                at = f.idx("boxAt", "addi", so, c(i * HALF_BOX_BYTES))
                t = shared_view(f, pad, "half", at, HALF_BOX)
                emit(f"nvgpu.tma.async.load %mapA[{k0}, {row}], {bar}[{stage}] to {t} "
                     f": {HALF_MAP}, {BARS} -> {HALF_BOX}")
                if i:
                    f.depth -= 1
                    emit("}")
            second = (("%mapU", nB) if swiglu == "stacks" else
                      ("%mapB", f.idx("nB64", "addi", nB, c(64))))
            for i, (m, row) in enumerate((("%mapB", nB), second)):
                at = f.idx("bBoxAt", "addi", so, c(2 * HALF_BOX_BYTES + i * bBytes))
                t = shared_view(f, pad, "bBox", at, bBox)
                emit(f"nvgpu.tma.async.load {m}[{k0}, {row}], {bar}[{stage}] to {t} "
                     f": {bMap}, {BARS} -> {bBox}")
        else:
            tA = shared_view(f, pad, "tileA", so, BOX)
            tB = shared_view(f, pad, "tileB", f.idx("bAt", "addi", so, c(BOX_BYTES)), BOX)
            k0 = arm()
            emit(f"nvgpu.tma.async.load %mapA[{k0}, {m0}], {bar}[{stage}] to {tA} "
                 f": {MAP}, {BARS} -> {BOX}")
            emit(f"nvgpu.tma.async.load %mapB[{k0}, {nB}], {bar}[{stage}] to {tB} "
                 f": {MAP}, {BARS} -> {BOX}")
        f.depth -= 1
        emit("}")

    for s in range(STAGES):
        issue(c(s), c(s))

    # The rows of this lane's accumulators: g and g + 8 of its warp's 16.
    w64 = f.idx("w64", "muli", wg, c(64))
    w16 = f.idx("w16", "muli", warp, c(16))
    rowIn = f.idx("rowIn", "addi", w64, w16)
    rowA0 = f.idx("rowA0", "addi", rowIn, g)
    rowA = f.idx("rowA", "addi", m0, rowA0)
    rowB = f.idx("rowB", "addi", rowA, c(8))
    if halves:
        wgRow = f.idx("wgRow", "addi", m0, w64)
        busy = f.let("busy", f"arith.cmpi ult, {wgRow}, {end} : index")
    # A's descriptor: the warpgroup's 64 rows of the stage's A box.
    wgI64 = f.let("wgI64", f"arith.index_cast {wg} : index to i64")
    aHalf = f.i64("aHalf", "muli", wgI64, i64c(64 * STEP_BYTES // 16))
    aDesc = f.i64("aDesc", "addi", kDesc, aHalf)

    def step(kt, acc, first):
        """Waits for K step `kt`'s stage and issues its 4 wgmma along the
        128-byte rows, 32 bytes each, as one group; returns the sums. The
        first wgmma of a `first` step starts from zero."""
        stage = wait_stage(f, bar, BARS, kt, STAGES)
        st64 = f.let("stageI64", f"arith.index_cast {stage} : index to i64")
        stOff = f.i64("stageDesc", "muli", st64, i64c(stageBytes // 16))
        aStage = f.i64("aStage", "addi", aDesc, stOff)
        if w8:
            # B: the converted tile kt % 2 (the other one may still be
            # read by step kt - 1's wgmma group).
            tile = convert.step(kt, stage)
            t64 = f.let("tileI64", f"arith.index_cast {tile} : index to i64")
            tOff = f.i64("tileDesc", "muli", t64, i64c(BOX_BYTES // 16))
            bStage0 = f.i64("bStage0", "addi", kDesc, tOff)
            bStage = f.i64("bStage", "addi", bStage0, i64c(W8_TILES_AT // 16))
        else:
            bStage0 = f.i64("bStage0", "addi", kDesc, stOff)
            bStage = f.i64("bStage", "addi", bStage0, i64c(BOX_BYTES // 16))
        if halves:
            # A warpgroup whose 64 rows all lie past the end (a decode's
            # few rows an expert) multiplies nothing.
            given, acc = acc, f.fresh("wgAcc")
            emit(f"{acc} = scf.if {busy} -> ({ACC}) {{")
            f.depth += 1
            mmas = given
        else:
            mmas = acc
        emit("nvvm.wgmma.fence.aligned")
        for kk in range(STEP_BYTES // 32):
            da = f.i64("aDescK", "addi", aStage, i64c(kk * 32 // 16))
            db = f.i64("bDescK", "addi", bStage, i64c(kk * 32 // 16))
            mmas = wgmma(f, mmas, da, db, TILE_N, kk > 0 or not first,
                         dtype="e4m3" if FP8 else "bf16")
        emit("nvvm.wgmma.commit.group.sync.aligned")
        if not halves:
            return mmas, stage
        emit(f"scf.yield {mmas} : {ACC}")
        f.depth -= 1
        emit("} else {")
        emit(f"  scf.yield {given} : {ACC}")
        emit("}")
        return acc, stage

    res = f.fresh("acc")
    if FP8:
        sbRow = f.idx("sbRow", "muli", f.idx("nBlock", "divui", nB, c(128)), kTiles)
        saRows = [f.idx("saRow", "muli", r, kTiles) for r in (rowA, rowB)]
        inits = ", ".join(f"%run{r} = %zero" for r in range(REGS))
        emit(f"{res}:{REGS} = scf.for %kt = {c(0)} to {kTiles} step {c(1)} "
             f"iter_args({inits}) -> ({', '.join(['f32'] * REGS)}) {{")
        f.depth += 1
        # Each step from zero, then promoted: run += step * sa[row, kt] *
        # sb[n block, kt].
        acc, stage = step("%kt", f.let("stepInit", f"llvm.mlir.undef : {ACC}"), True)
        emit("nvvm.wgmma.wait.group.sync.aligned 0")
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
        issue(f.idx("next", "addi", "%kt", c(STAGES)), stage)
        emit(f"scf.yield {', '.join(out)} : {', '.join(['f32'] * REGS)}")
    else:
        # Step 0 starts the sums from zero (peeled: an initialised
        # accumulator would be register moves between the fence and the
        # wgmma); each later step chains on and leaves its group in flight.
        first, _ = step(c(0), f.let("accInit", f"llvm.mlir.undef : {ACC}"), True)
        emit(f"{res} = scf.for %kt = {c(1)} to {kTiles} step {c(1)} "
             f"iter_args(%run = {first}) -> ({ACC}) {{")
        f.depth += 1
        acc, _ = step("%kt", "%run", False)
        # Step kt - 1's group is complete in this warpgroup; after the
        # barrier, in both: refill its stage with step kt + 3.
        emit("nvvm.wgmma.wait.group.sync.aligned 1")
        emit("// Every warp is done with step kt - 1: refill its stage.")
        emit("gpu.barrier")
        prev = f.idx("prev", "subi", "%kt", c(1))
        pstage = f.idx("prevStage", "remui", prev, c(STAGES))
        issue(f.idx("next", "addi", prev, c(STAGES)), pstage)
        emit(f"scf.yield {acc} : {ACC}")
    f.depth -= 1
    emit("}")

    if FP8:
        sums = [f"{res}#{r}" for r in range(REGS)]
    else:
        emit("nvvm.wgmma.wait.group.sync.aligned 0")
        sums = [f.let("sum", f"llvm.extractvalue {res}[{r}] : {ACC}") for r in range(REGS)]
    if swiglu == "stacks":
        stacks_epilogue(f, sums, rowA, rowB, nOut, t2, end)
    elif swiglu:
        swiglu_epilogue(f, sums, rowA, rowB, n0, t2)
    elif dense or tiled:
        guarded_epilogue(f, sums, rowA, rowB, n0, t2, end)
    else:
        # C [rows, N] f32: this lane's pairs of columns, rows g and g + 8.
        col0 = f.idx("col0", "addi", n0, t2)
        for k, row in enumerate((rowA, rowB)):
            rowOff = f.idx("cRow", "muli", row, "%N")
            base = f.idx("cBase", "addi", rowOff, col0)
            for j in range(TILE_N // 8):
                r = 4 * j + 2 * k
                vec = f.let("cv", f"vector.from_elements {sums[r]}, {sums[r + 1]} "
                                  ": vector<2xf32>")
                at = f.idx("cAt", "addi", base, c(8 * j))
                emit(f"vector.store {vec}, %C[{at}] {{alignment = 8}} : memref<?xf32>, "
                     "vector<2xf32>")
    f.depth -= 1
    emit("}")
    emit("gpu.return")
    return f


DENSE_COMMENT = """  // gemm_wgmma_bf16_tn: one GEMM (a linear layer's), C [M, N] f32 = A [M, K]
  // times B [N, K] transposed, the same schedule; any M and N, K % 8 == 0
  // (TMA's 16-byte row strides; a K tail is TMA's zeros). Grid
  // (ceil(N / 128), ceil(M / 128)); dsc-library-gemms builds the two
  // descriptors on the host (dsc_gpu_tensor_map_bf16) and launches it for
  // sm_90a's large GEMMs."""


DENSE_SWIGLU_COMMENT = """  // gemm_wgmma_swiglu_bf16_tn: a dense MLP's or a shared expert's gate and
  // up with SwiGLU fused, D [M, N] bf16 = bf16(silu(A Wg^T) * (A Wu^T)), Wg
  // and Wu [N, K] as stored (mapB, mapU), through 64-row boxes as the tiled
  // SwiGLU form; any M and N, K % 8 == 0. Grid (ceil(2 N / 128),
  // ceil(M / 128)); dsc-library-gemms launches it for sm_90a's large
  // fused MLPs."""


class W8Convert:
    """e4m3 B (w8): each K step, every thread turns 4 chunks of the stage's
    bytes (8 of a row's K values each) into the bf16 tile wgmma reads, as
    TMA would have written a bf16 box (rows of 128 bytes, 16-byte chunk c
    of row r at c ^ (r % 8)). Thread t converts chunk t % 8 of rows t / 8 +
    32 i: a warp reads 4 rows' 256 contiguous bytes and writes 4 rows'
    chunks, each row's 8 to distinct banks. Each value is bf16(w * scale)
    as TensorMath::dequantizeByBlocks computes it: the hardware's
    cvt.rn.f16x2.e4m3x2 (sm_89 and newer) gives w exactly as f16 (NaN
    codes NaN, subnormals kept), then f32, times the scale (one rounding),
    to bf16 (one more): some 3 ALU operations a value, where decoding the
    bits by hand (gen_grouped_gemm.py's w8_convert, for sm_80) takes
    about 11. The scales, [experts, ceil(N / blockN), ceil(K / blockK)]
    as the checkpoint stacks them: a chunk lies in one block (blockK % 8
    == 0); a row past N (its columns are never stored) reads the first
    scale row's, a chunk past K (TMA's zeros) the row's last block's."""

    def __init__(self, f, pad, tid, e, nOut, stacks):
        c = f.c
        self.f = f
        self.bytes = shared_view(f, pad, "w8Bytes", c(0), f"memref<{W8_TILES_AT}xi8, {WG}>")
        self.tiles = shared_view(f, pad, "w8Tiles", c(W8_TILES_AT),
                                 f"memref<{BOX_BYTES}xbf16, {WG}>")
        chunk = f.idx("w8Chunk", "remui", tid, c(8))
        row0 = f.idx("w8Row0", "divui", tid, c(8))
        rowSw = f.idx("w8RowSw", "remui", row0, c(8))
        swz = f.idx("w8Swizzled", "xori", chunk, rowSw)
        self.col = f.idx("w8Col", "muli", chunk, c(8))
        kUp = f.idx("w8KUp", "addi", "%K", f.idx("w8Bk1", "subi", "%blockK", c(1)))
        kBlocks = f.idx("kBlocks", "divui", kUp, "%blockK")
        self.kbLast = f.idx("kbLast", "subi", kBlocks, c(1))
        nUp = f.idx("w8NUp", "addi", "%N", f.idx("w8Bn1", "subi", "%blockN", c(1)))
        nBlocks = f.idx("nBlocks", "divui", nUp, "%blockN")
        eBlocks = f.idx("eBlocks", "muli", e, nBlocks)
        self.chunks = []
        for i in range(TILE_N * (STEP_BYTES // 16) // THREADS):
            row = f.idx("w8Row", "addi", row0, c(32 * i))
            # The tile's rows 64.. are up's (rows nOut .. of its stack) for
            # SwiGLU, B's rows nOut + 64 .. otherwise.
            up = stacks and i >= 2
            n = f.idx("w8N", "addi", nOut, f.idx("w8Local", "subi", row, c(64)) if up else row)
            inN = f.let("w8InN", f"arith.cmpi ult, {n}, %N : index")
            sRow0 = f.idx("w8SRow0", "divui", n, "%blockN")
            sRow1 = f.idx("w8SRow1", "addi", sRow0, eBlocks)
            sRow = f.let("w8SRow", f"arith.select {inN}, {sRow1}, {c(0)} : index")
            scaleBase = f.idx("w8SBase", "muli", sRow, kBlocks)
            rowBytes = f.idx("w8RowBytes", "muli", row, c(TILE_K))
            byte0 = f.idx("w8Byte0", "addi", rowBytes, c(2 * HALF_BOX_BYTES))
            byte = f.idx("w8Byte", "addi", byte0, self.col)
            rowAt = f.idx("w8RowAt", "muli", row, c(STEP_BYTES // 2))
            at = f.idx("w8At", "addi", rowAt, f.idx("w8SwAt", "muli", swz, c(8)))
            self.chunks.append((byte, at, scaleBase, "%sbu" if up else "%sb"))

    def step(self, kt, stage):
        """Converts K step `kt`'s bytes from `stage` into tile kt % 2, then
        fences them for wgmma (the async proxy) and waits for every
        thread's. Returns the tile."""
        f, c = self.f, self.f.c
        tile = f.idx("w8Tile", "remui", kt, c(2))
        tileAt = f.idx("w8TileAt", "muli", tile, c(BOX_BYTES // 2))
        k0 = f.idx("w8K0", "muli", kt, c(TILE_K))
        k = f.idx("w8K", "addi", k0, self.col)
        kb0 = f.idx("w8Kb0", "divui", k, "%blockK")
        kb = f.idx("w8Kb", "minui", kb0, self.kbLast)
        stageAt = f.idx("w8StageAt", "muli", stage, c(W8_STAGE_BYTES))
        for byte, at, scaleBase, scales in self.chunks:
            sAt = f.idx("w8SAt", "addi", scaleBase, kb)
            scale = f.let("w8Scale", f"memref.load {scales}[{sAt}] : memref<?xf32>")
            scale2 = f.let("w8Scale2", f"vector.broadcast {scale} : f32 to vector<2xf32>")
            bAt = f.idx("w8BytesAt", "addi", stageAt, byte)
            # (The alignments said: with the tile's offset dynamic, LLVM
            # would otherwise store a chunk as 8 scalars.)
            codes = f.let("w8Codes", f"vector.load {self.bytes}[{bAt}] {{alignment = 8}} : "
                                     f"memref<{W8_TILES_AT}xi8, {WG}>, vector<8xi8>")
            values = []
            for p in range(4):
                pair = f.let("w8Pair", f"vector.shuffle {codes}, {codes} [{2 * p}, {2 * p + 1}] "
                                       ": vector<8xi8>, vector<8xi8>")
                h = f.let("w8F16", f"nvvm.convert.f8x2.to.f16x2 {pair} : vector<2xi8> "
                                   "(f8E4M3FN) -> vector<2xf16>")
                w = f.let("w8F32", f"arith.extf {h} : vector<2xf16> to vector<2xf32>")
                y = f.let("w8Scaled", f"arith.mulf {w}, {scale2} : vector<2xf32>")
                values += [f.let("w8Value", f"vector.extract {y}[{j}] : f32 from vector<2xf32>")
                           for j in range(2)]
            v8 = f.let("w8Chunk8", f"vector.from_elements {', '.join(values)} : vector<8xf32>")
            vec = f.let("w8Bf16", f"arith.truncf {v8} : vector<8xf32> to vector<8xbf16>")
            dst = f.idx("w8Dst", "addi", tileAt, at)
            f.emit(f"vector.store {vec}, {self.tiles}[{dst}] {{alignment = 16}} : "
                   f"memref<{BOX_BYTES}xbf16, {WG}>, vector<8xbf16>")
        f.emit("// The tile, visible to wgmma (the async proxy), in every thread.")
        f.emit(FENCE_PROXY_ASYNC)
        f.emit("gpu.barrier")
        return tile

def guarded_stores(f, rowA, rowB, col0, rows, groups, hint, store):
    """For the lane's rows rowA and rowB (k 0, 1) below `rows`, and its
    pairs of columns col0 + 8 j + i (j below `groups`, i 0, 1) below N, each
    under its own guard: store(k, j, i, rowOff, col), rowOff the row's first
    element (rows N apart, whatever N: no pair need be aligned)."""
    c = f.c
    for k, row in enumerate((rowA, rowB)):
        inRow = f.let("inRow", f"arith.cmpi ult, {row}, {rows} : index")
        f.emit(f"scf.if {inRow} {{")
        f.depth += 1
        rowOff = f.idx(hint, "muli", row, "%N")
        for j in range(groups):
            for i in range(2):
                col = f.idx("col", "addi", col0, c(8 * j + i))
                inCol = f.let("inCol", f"arith.cmpi ult, {col}, %N : index")
                f.emit(f"scf.if {inCol} {{")
                f.depth += 1
                store(k, j, i, rowOff, col)
                f.depth -= 1
                f.emit("}")
        f.depth -= 1
        f.emit("}")


def guarded_epilogue(f, sums, rowA, rowB, n0, t2, rows):
    """C [rows, N] f32, each value stored alone when its row is below
    `rows` and its column below N."""
    def store(k, j, i, rowOff, col):
        at = f.idx("cAt", "addi", rowOff, col)
        f.emit(f"memref.store {sums[4 * j + 2 * k + i]}, %C[{at}] : memref<?xf32>")
    guarded_stores(f, rowA, rowB, f.idx("col0", "addi", n0, t2), rows, TILE_N // 8,
                   "cRow", store)


def stacks_epilogue(f, sums, rowA, rowB, nOut, t2, rows):
    """D[r, j] = bf16(silu(gate) * up) into [rows, N], f32 in between (dsc's
    model's rounding, as grouped_gemm_swiglu_bf16_tn_m64_tiled's): the
    tile's columns 0..63 are gate's of output columns nOut .., 64..127 up's
    of the same, so a thread holds both (n groups j and j + 8). Each value
    is stored alone under its row's and column's guards."""
    def store(k, j, i, rowOff, col):
        r = 4 * j + 2 * k + i
        gate, up = sums[r], sums[r + 4 * (TILE_N // 16)]
        ng = f.let("ng", f"arith.negf {gate} : f32")
        ex = f.let("ex", f"math.exp {ng} : f32")
        de = f.f32("de", "addf", "%one", ex)
        si = f.f32("si", "divf", gate, de)
        pr = f.f32("pr", "mulf", si, up)
        pb = f.let("pb", f"arith.truncf {pr} : f32 to bf16")
        at = f.idx("dAt", "addi", rowOff, col)
        f.emit(f"memref.store {pb}, %D[{at}] : memref<?xbf16>")
    guarded_stores(f, rowA, rowB, f.idx("ocol0", "addi", nOut, t2), rows, TILE_N // 16,
                   "dRow", store)


def swiglu_epilogue(f, sums, rowA, rowB, n0, t2):
    """D[r, j] = bf16(silu(bf16(gate)) * bf16(up)) into [rows, N / 2]: B's
    rows are packed per 32 as 16 gate rows then the same 16 up rows, so n
    groups 4 q and 4 q + 1 (8 columns each) hold gate values and 4 q + 2,
    4 q + 3 the matching up values, in the same thread; packed gate column
    p is output column p / 32 * 16 + p % 16. Rounded as transformers' bf16
    MLP: gate and up to bf16, silu in f32 to bf16, the product to bf16."""
    c = f.c
    halfN = f.idx("halfN", "divui", "%N", c(2))
    ocol0 = f.idx("ocol0", "divui", n0, c(2))
    ocol = f.idx("ocol", "addi", ocol0, t2)
    for k, row in enumerate((rowA, rowB)):
        rowOff = f.idx("dRow", "muli", row, halfN)
        base = f.idx("dBase", "addi", rowOff, ocol)
        for q in range(TILE_N // 32):
            for half in range(2):
                j = 4 * q + half  # the gate group; up is j + 2
                vals = []
                for i in range(2):
                    r = 4 * j + 2 * k + i
                    gb = f.let("gb", f"arith.truncf {sums[r]} : f32 to bf16")
                    gf = f.let("gf", f"arith.extf {gb} : bf16 to f32")
                    ub = f.let("ub", f"arith.truncf {sums[r + 8]} : f32 to bf16")
                    uf = f.let("uf", f"arith.extf {ub} : bf16 to f32")
                    ng = f.let("ng", f"arith.negf {gf} : f32")
                    ex = f.let("ex", f"math.exp {ng} : f32")
                    de = f.f32("de", "addf", "%one", ex)
                    si = f.f32("si", "divf", gf, de)
                    sb = f.let("sb", f"arith.truncf {si} : f32 to bf16")
                    sf = f.let("sf", f"arith.extf {sb} : bf16 to f32")
                    vals.append(f.f32("pr", "mulf", sf, uf))
                pair = f.let("dPair", f"vector.from_elements {vals[0]}, {vals[1]} "
                                      ": vector<2xf32>")
                pb = f.let("dBf16", f"arith.truncf {pair} : vector<2xf32> to vector<2xbf16>")
                at = f.idx("dAt", "addi", base, c(16 * q + 8 * half))
                f.emit(f"vector.store {pb}, %D[{at}] {{alignment = 4}} : memref<?xbf16>, "
                       "vector<2xbf16>")


def signature(name, swiglu):
    out = "%D: memref<?xbf16>" if swiglu else "%C: memref<?xf32>"
    scales = "%sa: memref<?xf32>, %sb: memref<?xf32>,\n" + " " * 18 if FP8 else ""
    return f"""  gpu.func @{name}(%mapAPtr: !llvm.ptr, %mapBPtr: !llvm.ptr,
                  {out}, %offsets: memref<?xi32>,
                  {scales}%N: index, %K: index)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>}} {{
    %mapA = builtin.unrealized_conversion_cast %mapAPtr : !llvm.ptr to {MAP}
    %mapB = builtin.unrealized_conversion_cast %mapBPtr : !llvm.ptr to {MAP}"""


def half_box_signature(name, stacks, tiled=True, w8=False):
    """The routed experts' GEMM over the M tiles moe_tiles lists, C [rows,
    N] f32 (or, `stacks`, SwiGLU over the gate and up stacks, D [rows, N]
    bf16), with `w8` e4m3 stacks and their scales (sb, sbu; the block's
    size last); or, not `tiled`, SwiGLU over one gate and one up matrix of
    M rows (a dense MLP's or a shared expert's): its launch as
    dsc-library-gemms reads it (dsc.tile: rows x columns of B a block
    reads, dsc.tma_box: every descriptor's box, 64 bf16 or e4m3 values
    wide)."""
    maps = "%mapAPtr: !llvm.ptr, %mapBPtr: !llvm.ptr"
    if stacks:
        maps += ", %mapUPtr: !llvm.ptr"
    if w8:
        maps += ",\n                  %sb: memref<?xf32>" + (", %sbu: memref<?xf32>" if stacks else "")
    out = "%D: memref<?xbf16>" if stacks else "%C: memref<?xf32>"
    rows = "%offsets: memref<?xi32>, %tiles: memref<?xi32>" if tiled else "%M: index"
    blocks = ", %blockN: index, %blockK: index" if w8 else ""
    casts = "".join(f"""
    %map{m} = builtin.unrealized_conversion_cast %map{m}Ptr : !llvm.ptr to {W8_MAP if w8 and m != "A" else HALF_MAP}"""
                    for m in ("ABU" if stacks else "AB"))
    return f"""  gpu.func @{name}({maps},
                  {out}, {rows},
                  %N: index, %K: index{blocks})
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>,
                         dsc.tile = array<i64: {TILE_M}, {TILE_N}>,
                         dsc.tma_box = array<i64: 64, {TILE_K}>,
                         dsc.dynamic_shared_memory = {W8_SMEM_BYTES if w8 else SMEM_BYTES} : i64}} {{{casts}"""


TILED_COMMENT = """  // The routed experts' GEMMs (dsc-library-gemms on sm_90a), over the
  // {TILE_M}-row M tiles moe_tiles lists ([expert, first row] pairs, [-1, -1]
  // past the last): grid (ceil(N / {TILE_N}), tiles there may be), each
  // expert's rows unpadded, every row and column guarded, a K tail TMA's
  // zeros (K % 8 == 0). A [rows, K] and B [experts * N, K] through
  // descriptors of 64-row boxes. grouped_gemm_wgmma_bf16_tn_tiled writes C
  // f32 [rows, N]; grouped_gemm_wgmma_swiglu_bf16_tn_tiled reads the gate
  // and up stacks as stored (mapB, mapU; grid x ceil(2 N / {TILE_N})) and
  // writes D = bf16(silu(x Wg^T) * (x Wu^T)) [rows, N] in expert order, the
  // down projection's A."""


W8_COMMENT = """  // The same over an FP8 checkpoint's routed experts (DeepSeek-V3's): the
  // stacks e4m3 as stored, [experts * N, K] (K % 16 == 0), with their block
  // scales sb (and sbu) [experts, ceil(N / blockN), ceil(K / blockK)]
  // (blockK % 8 == 0), through descriptors of unswizzled 64 x 64-byte
  // boxes. Each K step every thread turns its share of B's bytes into the
  // bf16 tile wgmma reads, bf16(w * scale) as dsc's CPU code dequantizes
  // (one of two tiles, so that step kt - 1's wgmma group may still read
  // the other); no dequantized stack is written. Grid and tiles as above,
  // {TILE_M} rows a tile."""


DENSE_W8_COMMENT = """  // gemm_wgmma_fp8w_bf16_tn and gemm_wgmma_swiglu_fp8w_bf16_tn: the dense
  // forms (a linear layer's, a dense MLP's or shared expert's gate and up)
  // over e4m3 weights [N, K] with block scales [ceil(N / blockN), ceil(K /
  // blockK)] as an FP8 checkpoint stores them, converted per K step as the
  // routed experts' e4m3 forms do: no dequantized weight is written. C f32
  // [M, N], or D bf16 [M, N] = bf16(silu(A Wg^T) * (A Wu^T)); any M and N,
  // K % 16 == 0, blockK % 8 == 0. Grid (ceil(N / 128), or ceil(2 N / 128)
  // for SwiGLU, ceil(M / 128)); dsc-library-gemms launches them on sm_90a
  // for FP8 linear layers and MLPs of more rows than the 64-row mma.sync
  // e4m3 kernels take."""


def dense_signature(name):
    """A linear layer's GEMM: C [M, N] f32 = A [M, K] times B [N, K]
    transposed; its launch as dsc-library-gemms reads it (dsc.tile,
    dsc.dynamic_shared_memory, and dsc.tma_box, the box of both
    descriptors, rows x columns)."""
    return f"""  gpu.func @{name}(%mapAPtr: !llvm.ptr, %mapBPtr: !llvm.ptr,
                  %C: memref<?xf32>, %M: index, %N: index, %K: index)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>,
                         dsc.tile = array<i64: {TILE_M}, {TILE_N}>,
                         dsc.tma_box = array<i64: 128, {TILE_K}>,
                         dsc.dynamic_shared_memory = {SMEM_BYTES} : i64}} {{
    %mapA = builtin.unrealized_conversion_cast %mapAPtr : !llvm.ptr to {MAP}
    %mapB = builtin.unrealized_conversion_cast %mapBPtr : !llvm.ptr to {MAP}"""


def main():
    aliases = "\n".join(accumulator_aliases(TILE_N))
    if FP8:
        what = """// Grouped GEMM over FP8 e4m3 with DeepSeek's block scales for sm_90a: wgmma
// m64n128k32 e4m3 (f32 accumulation) fed by TMA through a 4-stage
// mbarrier pipeline, the descriptors built here; each 128-value K step
// accumulates from zero and joins the running sums scaled (DeepGEMM's
// promotion). The computation and the layouts of A, B, sa and sb are
// grouped_gemm_fp8.mlir's:
//
//   for each expert e, for rows r in [offsets[e], offsets[e+1]):
//     C[r, n] = sum_kb sa[r, kb] * sb[(e N + n) / 128, kb]
//                      * sum_{k in block kb} A[r, k] * B[e N + n, k]
//
// mapA: TMA descriptor over A as [rows, K] bytes (e4m3), box 128 x 128,
// 128-byte swizzle; mapB: over B as [experts * N, K], the same box; both in
// device memory (cuTensorMapEncodeTiled, UINT8). C f32 [rows, N]."""
        variants = ((False, "grouped_gemm_fp8_wgmma"),)
        module = "dsc_grouped_gemm_fp8_wgmma"
        command = "gen_grouped_gemm_wgmma_tn.py --fp8"
        k_rule = "K % 128 == 0"
    else:
        what = """// Grouped GEMM for sm_90a with B K-major ([experts * N, K], as nn.Linear
// stores it): wgmma m64n128k16 bf16 (f32 accumulation) fed by TMA through
// a 4-stage mbarrier pipeline, the descriptors built here:
//
//   for each expert e, for rows r in [offsets[e], offsets[e+1]):
//     C[r, n] = sum_k A[r, k] * B[e N + n, k]
//
// grouped_gemm_wgmma_bf16_tn writes C f32 [rows, N];
// grouped_gemm_wgmma_swiglu_bf16_tn fuses SwiGLU: B packed per 32 rows as
// 16 gate rows then the same 16 up rows, D bf16 [rows, N / 2] =
// bf16(silu(bf16(gate)) * bf16(up)).
//
// mapA: TMA descriptor over A as [rows, K] bf16, box 128 x 64, 128-byte
// swizzle; mapB: over B as [experts * N, K], the same box; both in device
// memory (cuTensorMapEncodeTiled)."""
        variants = ((False, "grouped_gemm_wgmma_bf16_tn"),
                    ("packed", "grouped_gemm_wgmma_swiglu_bf16_tn"))
        module = "dsc_grouped_gemm_wgmma_tn"
        command = "gen_grouped_gemm_wgmma_tn.py"
        k_rule = "K % 64 == 0"
    out = [f"""// GENERATED by codegen/kernels/{command}: edit that, not this.
//
{what}
// Each expert's rows padded to {TILE_M}. N % {TILE_N} == 0, {k_rule}.
//
// Grid (N / {TILE_N}, max {TILE_M}-row blocks of an expert, experts), {THREADS}
// threads, {SMEM_BYTES} bytes of dynamic shared memory ({STAGES} stages of
// {STAGE_BYTES} and 1 KiB to align them to the swizzle's 1024 bytes).
{aliases}
module attributes {{gpu.container_module}} {{
gpu.module @{module} attributes {{dsc.chips = ["sm_90a"], dsc.ptx = 83 : i32}} {{
  // The descriptors arrive as pointers (the GPU lowering has no kernel
  // argument conversion for the descriptor type; the casts fold away)."""]
    for swiglu, name in variants:
        out.append(signature(name, swiglu))
        out += gemm_kernel(swiglu).text()
        out.append("  }")
    if not FP8:
        out.append(TILED_COMMENT.format(TILE_M=TILE_M, TILE_N=TILE_N))
        for stacks, name in ((False, "grouped_gemm_wgmma_bf16_tn_tiled"),
                             (True, "grouped_gemm_wgmma_swiglu_bf16_tn_tiled")):
            out.append(half_box_signature(name, stacks))
            out += gemm_kernel("stacks" if stacks else False, tiled=True).text()
            out.append("  }")
        out.append(W8_COMMENT.format(TILE_M=TILE_M))
        for stacks, name in ((False, "grouped_gemm_wgmma_fp8w_bf16_tn_tiled"),
                             (True, "grouped_gemm_wgmma_swiglu_fp8w_bf16_tn_tiled")):
            out.append(half_box_signature(name, stacks, w8=True))
            out += gemm_kernel("stacks" if stacks else False, tiled=True, w8=True).text()
            out.append("  }")
        out.append(DENSE_COMMENT)
        out.append(dense_signature("gemm_wgmma_bf16_tn"))
        out += gemm_kernel(False, dense=True).text()
        out.append("  }")
        out.append(DENSE_SWIGLU_COMMENT)
        out.append(half_box_signature("gemm_wgmma_swiglu_bf16_tn", True, tiled=False))
        out += gemm_kernel("stacks", dense=True).text()
        out.append("  }")
        out.append(DENSE_W8_COMMENT)
        for stacks, name in ((False, "gemm_wgmma_fp8w_bf16_tn"),
                             (True, "gemm_wgmma_swiglu_fp8w_bf16_tn")):
            out.append(half_box_signature(name, stacks, tiled=False, w8=True))
            out += gemm_kernel("stacks" if stacks else False, dense=True, w8=True).text()
            out.append("  }")
    out.append("}")
    out.append("}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
