#!/usr/bin/env python3
"""Generates codegen/kernels/mla_decode_wgmma.mlir, multi-head latent
attention's decode kernel for sm_90a (gpu, nvgpu and nvvm dialects):

    python3 codegen/kernels/gen_mla_decode_wgmma.py > codegen/kernels/mla_decode_wgmma.mlir

The same computation as mla_decode_bf16 (gen_mla_decode.py, whose docstring
states it; its mla_decode_combine, which joins the splits, is emitted into
this module too), built Hopper's way: the cache pages arrive by TMA through an
mbarrier pipeline and both GEMMs run on wgmma with operands in shared
memory, addressed by descriptors this file builds itself (MLIR 22's
nvgpu.warpgroup.mma steps K only within one 128-byte row and B only
N-major; S = Q K^T over the token-major cache needs K-major B).

The schedule:
  * two warpgroups (256 threads), one block per 64 heads of a sequence and
    one split of its pages; a tile is one page, 64 tokens;
  * the query block (64 x 576) and each tile land by TMA as 64 x 64 boxes
    with the 128-byte swizzle (9 boxes each, 8 KiB a box, 1024-byte
    aligned), two tile stages, each stage and the query with an mbarrier;
  * S: warpgroup w takes the tile's tokens 32 w .. + 32, 36 wgmma
    m64n32k16 (A the query, B the tokens, both K-major);
  * the softmax row maxima of the two halves meet in shared memory; P
    goes to shared memory as bf16 in the same swizzled K-major layout;
  * O += P V: warpgroup w owns value columns 256 w .. + 256, 4 wgmma
    m64n256k16 (B the tile read MN-major: V's rows are its tokens);
  * tokens past the sequence are masked to -inf in S and, on the last
    page of a sequence, their rows zeroed before P V (the page's tail may
    hold anything, and NaN times 0 is NaN);
  * threads' shared-memory writes that wgmma reads (P, the zeroed tails)
    are followed by fence.proxy.async.

Descriptors (PTX ISA, matrix descriptor format): start address / 16 in
bits 0-13, leading byte offset / 16 in 16-29, stride byte offset / 16 in
32-45, the 128-byte swizzle (1) in 62-63. K-major operands: rows of 128
bytes, 8-row atoms 1024 bytes apart (stride), a k16 step 32 bytes into the
row. MN-major V: 64 columns to a 128-byte row, 8-row atoms of tokens 1024
bytes apart (stride), the next 64 columns the next box, 8192 bytes on
(leading), a k16 step 16 token rows (2048 bytes).
"""

from gen_mla_decode import Widths, combine_function, finish_split, split_maxima
from kernelgen import (FENCE_PROXY_ASYNC, K_MAJOR, WG, Function, WarpgroupLanes,
                       accumulator_aliases, accumulator_type, aligned_shared,
                       init_barriers, mn_major, online_softmax, row_maxima,
                       shared_view, store_p, wait_stage, wgmma_pv, wgmma_qk)

D, DV = 576, 512  # key width (kv_lora_rank + rope), value width
PAGE = 64  # tokens per page and per tile
HEADS = 64  # heads per block: wgmma's M
THREADS = 256
BOXES = D // 64  # 64-column boxes in a row of 576
BOX_BYTES = 64 * 64 * 2
TILE_BYTES = BOXES * BOX_BYTES  # 73728: a page, or the query block
HALF = PAGE // 2  # tokens of S per warpgroup
OUT_COLS = DV // 2  # value columns per warpgroup
S_REGS = HALF // 2  # m64n32 accumulator registers per thread
S_ACC = accumulator_type(HALF)
O_ACC = accumulator_type(OUT_COLS)

# Dynamic shared memory from its first 1024-byte boundary.
OFF_Q = 0
OFF_STAGE = TILE_BYTES
OFF_P = OFF_STAGE + 2 * TILE_BYTES
OFF_MAX = OFF_P + HEADS * PAGE * 2
OFF_SUM = OFF_MAX + 2 * HEADS * 4
SMEM_BYTES = OFF_SUM + 2 * HEADS * 4 + 1024  # the alignment slack

BOX = f"memref<64x64xbf16, {WG}>"
STAGE = f"memref<{BOXES}x64x64xbf16, {WG}>"
SP = f"memref<64x64xbf16, {WG}>"
SRED = f"memref<2x{HEADS}xf32, {WG}>"
MAP = ("!nvgpu.tensormap.descriptor<tensor = " + BOX + ", swizzle = swizzle_128b, "
       "l2promo = l2promo_128b, oob = zero, interleave = none>")
BARS = f"!nvgpu.mbarrier.group<memorySpace = {WG}, num_barriers = 3>"
# V, the tile read MN-major: the next 64 value columns are the next box.
MN_MAJOR = mn_major(BOX_BYTES)


def decode_kernel():
    f = Function()
    c = f.c
    emit = f.emit

    i64, i64c = f.i64, f.i64c

    f.float_constants()
    hb = f.let("hblock", "gpu.block_id x")
    split = f.let("split", "gpu.block_id y")
    b = f.let("seq", "gpu.block_id z")
    tid = f.let("tid", "gpu.thread_id x")
    ln = WarpgroupLanes(f, tid, 2)
    wg, warp, g, t, t2 = ln.wg, ln.warp, ln.g, ln.t, ln.t2
    leader = f.let("leader", f"arith.cmpi eq, {tid}, {c(0)} : index")
    quadLead = f.let("quadLead", f"arith.cmpi eq, {t}, {c(0)} : index")

    # The sequence's length and this split's pages [jBegin, jEnd).
    len32 = f.let("len32", f"memref.load %lens[{b}] : memref<?xi32>")
    length = f.let("len", f"arith.index_cast {len32} : i32 to index")
    len63 = f.idx("len63", "addi", length, c(PAGE - 1))
    tiles = f.idx("tiles", "divui", len63, c(PAGE))
    jBegin = f.idx("jBegin", "muli", split, "%tilesPerSplit")
    jEnd0 = f.idx("jEnd0", "addi", jBegin, "%tilesPerSplit")
    jEnd = f.idx("jEnd", "minui", jEnd0, tiles)
    any_ = f.let("any", f"arith.cmpi ugt, {jEnd}, {jBegin} : index")
    count0 = f.idx("count0", "subi", jEnd, jBegin)
    count = f.let("count", f"arith.select {any_}, {count0}, {c(0)} : index")
    tableRow = f.idx("tableRow", "muli", b, "%maxPages")
    lastSlot = f.idx("lastSlot", "subi", "%maxPages", c(1))
    h0 = f.idx("h0", "muli", hb, c(HEADS))
    bh = f.idx("bh", "muli", b, "%heads")
    qRow0 = f.idx("qRow0", "addi", bh, h0)

    bar = f.let("bar", f"nvgpu.mbarrier.create -> {BARS}")
    pad, start = aligned_shared(f, bar, BARS, 3)

    def view(hint, offset, ty):
        return shared_view(f, pad, hint, offset, ty)

    sP = view("sP", c(OFF_P), SP)
    sMax = view("sMax", c(OFF_MAX), SRED)
    sSum = view("sSum", c(OFF_SUM), SRED)
    kDesc = i64("kDesc", "ori", start, i64c(K_MAJOR))  # offset 0, K-major
    vDesc = i64("vDesc", "ori", start, i64c(MN_MAJOR))

    init_barriers(f, leader, bar, BARS, 3, (("%mapQ", MAP), ("%mapKV", MAP)))

    def load_boxes(map_, row, offset, barrier):
        """Thread 0 (inside its scf.if): a row of 9 boxes into `offset`."""
        emit(f"  nvgpu.mbarrier.arrive.expect_tx {bar}[{barrier}], {c(TILE_BYTES)} : {BARS}")
        for box in range(BOXES):
            dst = view("box", f.idx("boxAt", "addi", offset, c(box * BOX_BYTES)), BOX)
            emit(f"  nvgpu.tma.async.load {map_}[{c(64 * box)}, {row}], {bar}[{barrier}] "
                 f"to {dst} : {MAP}, {BARS} -> {BOX}")

    # The query block on barrier 2.
    emit(f"scf.if {leader} {{")
    f.depth += 1
    load_boxes("%mapQ", qRow0, c(OFF_Q), c(2))
    f.depth -= 1
    emit("}")

    def issue(rel, stage):
        """Thread 0 loads page jBegin + rel of the split into `stage`."""
        inSplit = f.let("inSplit", f"arith.cmpi ult, {rel}, {count} : index")
        go = f.let("go", f"arith.andi {leader}, {inSplit} : i1")
        emit(f"scf.if {go} {{")
        f.depth += 1
        j = f.idx("j", "addi", jBegin, rel)
        # Within the sequence's row of the table, as mla_decode_bf16 reads
        # it, whatever the length says.
        slot = f.idx("slot", "minui", j, lastSlot)
        entry = f.idx("entry", "addi", tableRow, slot)
        page32 = f.let("page32", f"memref.load %table[{entry}] : memref<?xi32>")
        page = f.let("page", f"arith.index_cast {page32} : i32 to index")
        row = f.idx("pageRow", "muli", page, c(PAGE))
        so = f.idx("stageOff0", "muli", stage, c(TILE_BYTES))
        at = f.idx("stageOff", "addi", so, c(OFF_STAGE))
        load_boxes("%mapKV", row, at, stage)
        f.depth -= 1
        emit("}")

    issue(c(0), c(0))
    issue(c(1), c(1))
    emit(f"nvgpu.mbarrier.try_wait.parity {bar}[{c(2)}], %false, {c(10000000)} : {BARS}")

    # Per-thread constants: the rows g and g + 8 of the warp's 16, the
    # columns of S (tokens) and of O this lane holds.
    w16 = f.idx("w16", "muli", warp, c(16))
    rowA = f.idx("rowA", "addi", w16, g)
    rowB = f.idx("rowB", "addi", rowA, c(8))
    half32 = f.idx("half32", "muli", wg, c(HALF))
    sCol = f.idx("sCol", "addi", half32, t2)  # + 8 j + r % 2
    # S's B: the warpgroup's 32 token rows of the tile, 4096 bytes in.
    wgRows = f.let("wgRows", f"arith.index_cast {wg} : index to i64")
    bHalf = i64("bHalf", "muli", wgRows, i64c(HALF * 128 // 16))
    # P V's B: the warpgroup's 4 value boxes, 32 KiB in.
    vHalf = i64("vHalf", "muli", wgRows, i64c(4 * BOX_BYTES // 16))

    o_init = f.let("oInit", f"llvm.mlir.zero : {O_ACC}")
    res = f.fresh("loop")
    emit(f"{res}:5 = scf.for %i = {c(0)} to {count} step {c(1)} iter_args("
         f"%mA = %ninf, %mB = %ninf, %lA = %zero, %lB = %zero, %o = {o_init}) "
         f"-> (f32, f32, f32, f32, {O_ACC}) {{")
    f.depth += 1
    stage = wait_stage(f, bar, BARS, "%i", 2)
    st64 = f.let("stageI64", f"arith.index_cast {stage} : index to i64")
    stOff = i64("stageDesc0", "muli", st64, i64c(TILE_BYTES // 16))
    stDesc0 = i64("stageDesc", "addi", stOff, i64c(OFF_STAGE // 16))
    kStage = i64("kStage", "addi", kDesc, stDesc0)
    kTok = i64("kTok", "addi", kStage, bHalf)
    vStage = i64("vStage", "addi", vDesc, stDesc0)
    vBase = i64("vBase", "addi", vStage, vHalf)

    # S = Q K^T: 64 heads x this warpgroup's 32 tokens, K = 576.
    qBox = i64("qBox", "addi", kDesc, i64c(OFF_Q // 16))
    s = wgmma_qk(f, qBox, kTok, HALF, D)

    # Scale into base 2, mask the tokens past the sequence, row maxima.
    j = f.idx("jt", "addi", jBegin, "%i")
    tok0 = f.idx("tileTok", "muli", j, c(PAGE))
    laneTok = f.idx("laneTok", "addi", tok0, sCol)
    x = []
    for r in range(S_REGS):
        v = f.let("s", f"llvm.extractvalue {s}[{r}] : {S_ACC}")
        tok = f.idx("stok", "addi", laneTok, c(8 * (r // 4) + r % 2))
        live = f.let("slive", f"arith.cmpi ult, {tok}, {length} : index")
        scaled = f.f32("scaled", "mulf", v, "%scale")
        x.append(f.let("x", f"arith.select {live}, {scaled}, %ninf : f32"))
    # The rows' maxima over both warpgroups' tokens (through sMax, a block
    # barrier between).
    tile_max = split_maxima(f, row_maxima(f, x), (rowA, rowB), wg, quadLead, sMax, SRED)

    # The last page of a sequence: zero its rows past the sequence (both
    # warpgroups' S reads of them are complete at the barrier above).
    jNext = f.idx("jNext", "addi", j, c(1))
    last = f.let("lastPage", f"arith.cmpi eq, {jNext}, {tiles} : index")
    liveRows = f.idx("liveRows", "subi", length, tok0)
    partial = f.let("partial", f"arith.cmpi ult, {liveRows}, {c(PAGE)} : index")
    tail = f.let("tail", f"arith.andi {last}, {partial} : i1")
    emit(f"scf.if {tail} {{")
    f.depth += 1
    so = f.idx("tailStage0", "muli", stage, c(TILE_BYTES))
    sView = view("sStage", f.idx("tailStage", "addi", so, c(OFF_STAGE)), STAGE)
    zeros = f.let("zeros", "arith.constant dense<0.0> : vector<8xbf16>")
    # 9 boxes x 64 rows x 8 chunks of 16 bytes, 18 per thread.
    for k in range(BOXES * PAGE * 8 // THREADS):
        item = f.idx("zItem", "addi", tid, c(k * THREADS))
        zbox = f.idx("zBox", "divui", item, c(PAGE * 8))
        zrest = f.idx("zRest", "remui", item, c(PAGE * 8))
        zrow = f.idx("zRow", "divui", zrest, c(8))
        zch = f.idx("zChunk", "remui", zrest, c(8))
        zcol = f.idx("zCol", "muli", zch, c(8))
        dead = f.let("dead", f"arith.cmpi uge, {zrow}, {liveRows} : index")
        emit(f"scf.if {dead} {{")
        emit(f"  vector.store {zeros}, {sView}[{zbox}, {zrow}, {zcol}] {{alignment = 16}} : "
             f"{STAGE}, vector<8xbf16>")
        emit("}")
    f.depth -= 1
    emit("}")

    # The new maxima, P = exp2(x - max) and the sums of this warpgroup's
    # tokens.
    alphas, mNew, p, sums = online_softmax(f, x, tile_max)
    # P into shared memory: this warpgroup's 32 tokens are chunks 4 wg ..
    # + 4 of the rows.
    store_p(f, sP, SP, p, (rowA, rowB), t2, HALF // 8,
            f.idx("pChunk0", "muli", wg, c(HALF // 8)))
    emit("// P and the zeroed tails, visible to wgmma (the async proxy).")
    emit(FENCE_PROXY_ASYNC)
    emit("gpu.barrier")

    # O = O * alpha + P V over the tile's 64 tokens, this warpgroup's 256
    # value columns.
    pDesc = i64("pDesc", "addi", kDesc, i64c(OFF_P // 16))
    acc = wgmma_pv(f, "%o", alphas, pDesc, vBase, OUT_COLS, PAGE)
    emit("// Every warpgroup is done with the stage and P: refill the stage")
    emit("// with page i + 2.")
    emit("gpu.barrier")
    nxt = f.idx("next", "addi", "%i", c(2))
    issue(nxt, stage)
    emit(f"scf.yield {mNew[0]}, {mNew[1]}, {sums[0]}, {sums[1]}, {acc} : "
         f"f32, f32, f32, f32, {O_ACC}")
    f.depth -= 1
    emit("}")

    # The rows' sums over the two warpgroups' tokens, the partial output
    # (this warpgroup's 256 value columns) and the log2-sum-exp.
    out = f"{res}#4"

    def values(k, j):
        r = 4 * j + 2 * k
        return (f.let("o0", f"llvm.extractvalue {out}[{r}] : {O_ACC}"),
                f.let("o1", f"llvm.extractvalue {out}[{r + 1}] : {O_ACC}"))
    finish_split(f, res, (rowA, rowB), wg, quadLead, sSum, SRED, qRow0, h0, split, t2,
                 values, DV, OUT_COLS)
    emit("gpu.return")
    return f


def main():
    aliases = "\n".join(accumulator_aliases(HALF, OUT_COLS))
    out = [f"""// GENERATED by codegen/kernels/gen_mla_decode_wgmma.py: edit that, not this.
//
// Multi-head latent attention decode for sm_90a: split-KV flash decoding
// over the paged latent cache, TMA + mbarrier pipeline, wgmma (bf16 in, f32
// accumulation) on descriptors built here. Writes what mla_decode_bf16
// writes (mla_decode_bf16.mlir states the layouts); mla_decode_combine,
// the same as there, joins the splits.
//
// mapQ: TMA descriptor over Q as [batch * heads, {D}] bf16, box 64 x 64,
// 128-byte swizzle. mapKV: over the cache as [pages * {PAGE}, {D}], the same
// box. Both in device memory (cuTensorMapEncodeTiled).
// table [batch, maxPages] i32, lens [batch] i32, scale: softmax scale
// times log2(e). Opart f32 [batch, heads, splits, {DV}], Lse f32 [batch,
// heads, splits].
//
// mla_decode_wgmma_bf16: grid (ceil(heads / {HEADS}), splits, batch), {THREADS}
// threads, {SMEM_BYTES} bytes of dynamic shared memory (raise the kernel's
// limit), as its attributes state for dsc-library-gemms (dsc.tile: heads
// per block, tokens per tile; dsc.tma_box: both descriptors' box); split s
// takes pages [s * tilesPerSplit, (s + 1) * tilesPerSplit).
// Any number of heads: the last block's rows past the last head read the
// next sequence's queries (or TMA's zeros past the tensor) and write
// nothing.
// mla_decode_combine: grid (heads, batch), 128 threads; Out bf16 [batch,
// heads, {DV}].
{aliases}
module attributes {{gpu.container_module}} {{
gpu.module @dsc_mla_decode_wgmma attributes {{dsc.chips = ["sm_90a"], dsc.ptx = 83 : i32}} {{"""]
    decode = decode_kernel()
    out.append(f"""  // The descriptors arrive as pointers (the GPU lowering has no kernel
  // argument conversion for the descriptor type; the casts fold away).
  gpu.func @mla_decode_wgmma_bf16(%mapQPtr: !llvm.ptr, %mapKVPtr: !llvm.ptr,
                                  %table: memref<?xi32>, %lens: memref<?xi32>,
                                  %Opart: memref<?xf32>, %Lse: memref<?xf32>,
                                  %heads: index, %maxPages: index, %splits: index,
                                  %tilesPerSplit: index, %scale: f32)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>,
                         dsc.tile = array<i64: {HEADS}, {PAGE}>,
                         dsc.tma_box = array<i64: 64, 64>,
                         dsc.dynamic_shared_memory = {SMEM_BYTES} : i64}} {{
    %mapQ = builtin.unrealized_conversion_cast %mapQPtr : !llvm.ptr to {MAP}
    %mapKV = builtin.unrealized_conversion_cast %mapKVPtr : !llvm.ptr to {MAP}
    %false = arith.constant false""")
    out += decode.text()
    out.append("  }")
    out += combine_function(Widths())
    out.append("}")
    out.append("}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
