#!/usr/bin/env python3
"""Generates codegen/kernels/mla_prefill_wgmma.mlir, multi-head latent
attention's prefill kernel for sm_90a (gpu, nvgpu and nvvm dialects):

    python3 codegen/kernels/gen_mla_prefill_wgmma.py > codegen/kernels/mla_prefill_wgmma.mlir

The computation and the tensors are mla_prefill_bf16's (gen_mla_prefill.py
states them): causal attention per head over the keys [k_nope_h | k_pe] and
values v_h kv_b_proj decompresses, the rope key k_pe shared by the heads.
Built Hopper's way:

  * one warpgroup (128 threads) per 64 query tokens of one head, the last
    tiles first; its warp w holds query rows 16 w .. + 16 of S and O (the
    wgmma accumulator layout), so the online softmax stays within a warp;
  * the query tile and each key tile arrive by TMA as boxes of 64 tokens x
    64 values with the 128-byte swizzle, through 3-d tensor maps over
    [batch, seqLen, row] (a box past the sequence is zero-filled, so keys
    and values past it are zeros): the query as 3 boxes, a key tile as
    k_nope (2 boxes), k_pe (1, read once per token for every head) and v
    (2); two key stages and the query on mbarriers;
  * S = Q K^T is 12 wgmma m64n64k16 (both K-major), P goes to shared memory
    as bf16 in the swizzled K-major layout (fence.proxy.async before the
    wgmma that reads it), O += P V is 4 wgmma m64n128k16 with V read
    MN-major;
  * the causal mask is applied to every tile (only the diagonal one has
    masked scores); key tile j of query tile i exists for j <= i.

No producer warp and no overlap of softmax with the next tile's wgmma
(FlashAttention-3's ping-pong): the TMA prefetch of the next tile is the
only overlap.
"""

from kernelgen import (FENCE_PROXY_ASYNC, K_MAJOR, WG, Function, WarpgroupLanes,
                       accumulator_aliases, accumulator_type, aligned_shared,
                       init_barriers, mn_major, online_softmax, quad_reduce,
                       row_maxima, shared_view,
                       store_p, wait_stage, wgmma_pv, wgmma_qk)

DQK, DNOPE, DROPE, DV = 192, 128, 64, 128  # query/key, no-rope, rope, value
KVW = DNOPE + DV  # kv_b_proj's output per head: k_nope then v
TILE = 64  # query and key tokens per tile
THREADS = 128
BOX = f"memref<1x64x64xbf16, {WG}>"
BOX_BYTES = 64 * 64 * 2
Q_BOXES = DQK // 64
K_BOXES = DQK // 64  # k_nope 2, k_pe 1
V_BOXES = DV // 64
OFF_Q = 0
OFF_STAGE = Q_BOXES * BOX_BYTES
STAGE_BYTES = (K_BOXES + V_BOXES) * BOX_BYTES
OFF_P = OFF_STAGE + 2 * STAGE_BYTES
LAYOUT_BYTES = OFF_P + TILE * TILE * 2
# The static shared memory ptxas lays out: the 3 mbarriers (24 bytes) and
# MLIR's symbol for the dynamic shared memory, 16-byte aligned.
STATICS = 32
SP = f"memref<{TILE}x{TILE}xbf16, {WG}>"
MAP = ("!nvgpu.tensormap.descriptor<tensor = " + BOX + ", swizzle = swizzle_128b, "
       "l2promo = l2promo_128b, oob = zero, interleave = none>")
BARS = f"!nvgpu.mbarrier.group<memorySpace = {WG}, num_barriers = 3>"
S_REGS = TILE // 2
S_ACC, O_ACC = accumulator_type(TILE), accumulator_type(DV)
MN_MAJOR = mn_major(BOX_BYTES)  # V: the next 64 value columns, the next box


def prefill_kernel():
    f = Function()
    c = f.c
    emit = f.emit

    i64, i64c = f.i64, f.i64c

    f.float_constants()
    bx = f.let("bx", "gpu.block_id x")
    h = f.let("head", "gpu.block_id y")
    b = f.let("seq", "gpu.block_id z")
    qtiles = f.let("qtiles", "gpu.grid_dim x")
    tid = f.let("tid", "gpu.thread_id x")
    ln = WarpgroupLanes(f, tid, 1)
    warp, g, t2 = ln.warp, ln.g, ln.t2
    leader = f.let("leader", f"arith.cmpi eq, {tid}, {c(0)} : index")

    # Query tile qt (the last first) and its key tiles 0 .. qt.
    last = f.idx("lastTile", "subi", qtiles, c(1))
    qt = f.idx("qt", "subi", last, bx)
    q0 = f.idx("q0", "muli", qt, c(TILE))
    count = f.idx("count", "addi", qt, c(1))
    qCol = f.idx("qCol", "muli", h, c(DQK))  # the head's columns in Q's rows
    kvCol = f.idx("kvCol", "muli", h, c(KVW))  # and in kv_b's

    bar = f.let("bar", f"nvgpu.mbarrier.create -> {BARS}")
    pad, start = aligned_shared(f, bar, BARS, 3)
    kDesc = i64("kDesc", "ori", start, i64c(K_MAJOR))
    vDesc = i64("vDesc", "ori", start, i64c(MN_MAJOR))
    sP = shared_view(f, pad, "sP", c(OFF_P), SP)
    init_barriers(f, leader, bar, BARS, 3,
                  (("%mapQ", MAP), ("%mapKV", MAP), ("%mapKR", MAP)))

    def load(map_, col, tok, offset, barrier):
        """Thread 0 (inside its scf.if): one box of `map_` at [b, tok, col]."""
        dst = shared_view(f, pad, "box", offset, BOX)
        emit(f"nvgpu.tma.async.load {map_}[{col}, {tok}, {b}], {bar}[{barrier}] "
             f"to {dst} : {MAP}, {BARS} -> {BOX}")

    # The query tile on barrier 2.
    emit(f"scf.if {leader} {{")
    f.depth += 1
    emit(f"nvgpu.mbarrier.arrive.expect_tx {bar}[{c(2)}], {c(Q_BOXES * BOX_BYTES)} : {BARS}")
    for i in range(Q_BOXES):
        col = f.idx("qBoxCol", "addi", qCol, c(64 * i))
        load("%mapQ", col, q0, c(OFF_Q + i * BOX_BYTES), c(2))
    f.depth -= 1
    emit("}")

    def issue(j, stage):
        """Thread 0 loads key tile j into `stage`, when the query tile has
        one: k_nope's 2 boxes, k_pe's, v's 2."""
        inRange = f.let("inRange", f"arith.cmpi ult, {j}, {count} : index")
        go = f.let("go", f"arith.andi {leader}, {inRange} : i1")
        emit(f"scf.if {go} {{")
        f.depth += 1
        tok = f.idx("kTok", "muli", j, c(TILE))
        so0 = f.idx("stageOff0", "muli", stage, c(STAGE_BYTES))
        so = f.idx("stageOff", "addi", so0, c(OFF_STAGE))
        emit(f"nvgpu.mbarrier.arrive.expect_tx {bar}[{stage}], {c(STAGE_BYTES)} : {BARS}")
        boxes = [("%mapKV", kvCol, 0), ("%mapKV", kvCol, 64), ("%mapKR", None, 0),
                 ("%mapKV", kvCol, DNOPE), ("%mapKV", kvCol, DNOPE + 64)]
        for i, (map_, base, at) in enumerate(boxes):
            col = c(0) if base is None else f.idx("kBoxCol", "addi", base, c(at))
            load(map_, col, tok, f.idx("kBoxAt", "addi", so, c(i * BOX_BYTES)), stage)
        f.depth -= 1
        emit("}")

    issue(c(0), c(0))
    issue(c(1), c(1))
    emit(f"nvgpu.mbarrier.try_wait.parity {bar}[{c(2)}], %false, {c(10000000)} : {BARS}")

    # This lane's query positions (rows g and g + 8 of its warp's 16).
    w16 = f.idx("w16", "muli", warp, c(16))
    qrow = f.idx("qrow", "addi", q0, w16)
    qposA = f.idx("qposA", "addi", qrow, g)
    qposB = f.idx("qposB", "addi", qposA, c(8))

    o_init = f.let("oInit", f"llvm.mlir.zero : {O_ACC}")
    res = f.fresh("loop")
    emit(f"{res}:5 = scf.for %j = {c(0)} to {count} step {c(1)} iter_args("
         f"%mA = %ninf, %mB = %ninf, %lA = %zero, %lB = %zero, %o = {o_init}) "
         f"-> (f32, f32, f32, f32, {O_ACC}) {{")
    f.depth += 1
    stage = wait_stage(f, bar, BARS, "%j", 2)
    st64 = f.let("stageI64", f"arith.index_cast {stage} : index to i64")
    stOff = i64("stageDesc", "muli", st64, i64c(STAGE_BYTES // 16))
    kStage = i64("kStage", "addi", kDesc, stOff)
    vStage = i64("vStage", "addi", vDesc, stOff)

    # S = Q K^T: 64 query rows x 64 keys over 192 (k_nope, then k_pe).
    qBox = i64("qBox", "addi", kDesc, i64c(OFF_Q // 16))
    kBox = i64("kBox", "addi", kStage, i64c(OFF_STAGE // 16))
    s = wgmma_qk(f, qBox, kBox, TILE, DQK)

    # The causal mask and the scale (base 2); row maxima within the quad.
    j64 = f.idx("j64", "muli", "%j", c(TILE))
    kbase = f.idx("kbase", "addi", j64, t2)
    x = []
    for r in range(S_REGS):
        v = f.let("s", f"llvm.extractvalue {s}[{r}] : {S_ACC}")
        kpos = f.idx("kpos", "addi", kbase, c(8 * (r // 4) + r % 2))
        qpos = qposA if (r % 4) < 2 else qposB
        live = f.let("causal", f"arith.cmpi ule, {kpos}, {qpos} : index")
        scaled = f.f32("scaled", "mulf", v, "%scale")
        x.append(f.let("x", f"arith.select {live}, {scaled}, %ninf : f32"))
    alphas, mNew, p, sums = online_softmax(f, x, row_maxima(f, x))
    # P into shared memory, the tile's 64 keys its 8 chunks.
    rowA = f.idx("rowA", "addi", w16, g)
    rowB = f.idx("rowB", "addi", rowA, c(8))
    store_p(f, sP, SP, p, (rowA, rowB), t2, TILE // 8)
    emit("// P, visible to wgmma (the async proxy), in every warp.")
    emit(FENCE_PROXY_ASYNC)
    emit("gpu.barrier")

    # O = O * alpha + P V over the tile's 64 keys.
    pDesc = i64("pDesc", "addi", kDesc, i64c(OFF_P // 16))
    vBase = i64("vBase", "addi", vStage, i64c((OFF_STAGE + K_BOXES * BOX_BYTES) // 16))
    acc = wgmma_pv(f, "%o", alphas, pDesc, vBase, DV, TILE)
    emit("// Every warp is done with the stage and P: refill the stage with")
    emit("// key tile j + 2.")
    emit("gpu.barrier")
    nxt = f.idx("next", "addi", "%j", c(2))
    issue(nxt, stage)
    emit(f"scf.yield {mNew[0]}, {mNew[1]}, {sums[0]}, {sums[1]}, {acc} : "
         f"f32, f32, f32, f32, {O_ACC}")
    f.depth -= 1
    emit("}")

    # O / l in bf16, for the rows inside the sequence: O [b, s, h, 128].
    out = f"{res}#4"
    for k, qpos in enumerate((qposA, qposB)):
        total = quad_reduce(f, f"{res}#{2 + k}", "addf")
        inv = f.f32("inv", "divf", "%one", total)
        inside = f.let("inside", f"arith.cmpi ult, {qpos}, %seqLen : index")
        bS = f.idx("bS", "muli", b, "%seqLen")
        tokG = f.idx("otokG", "addi", bS, qpos)
        rowH = f.idx("orowH", "muli", tokG, "%heads")
        rowHh = f.idx("orowHh", "addi", rowH, h)
        base0 = f.idx("orow0", "muli", rowHh, c(DV))
        base = f.idx("obase", "addi", base0, t2)
        vals = []
        for jj in range(DV // 8):
            r = 4 * jj + 2 * k
            v0 = f.let("o0", f"llvm.extractvalue {out}[{r}] : {O_ACC}")
            v1 = f.let("o1", f"llvm.extractvalue {out}[{r + 1}] : {O_ACC}")
            n0 = f.f32("on", "mulf", v0, inv)
            n1 = f.f32("on", "mulf", v1, inv)
            pair = f.let("opair", f"vector.from_elements {n0}, {n1} : vector<2xf32>")
            vals.append(f.let("obf16", f"arith.truncf {pair} : vector<2xf32> to vector<2xbf16>"))
        emit(f"scf.if {inside} {{")
        for jj, v in enumerate(vals):
            emit(f"  %oat{k}_{jj} = arith.addi {base}, {c(jj * 8)} : index")
            emit(f"  vector.store {v}, %O[%oat{k}_{jj}] {{alignment = 4}} : memref<?xbf16>, "
                 "vector<2xbf16>")
        emit("}")
    emit("gpu.return")
    return f


def main():
    aliases = "\n".join(accumulator_aliases(TILE, DV))
    out = [f"""// GENERATED by codegen/kernels/gen_mla_prefill_wgmma.py: edit that, not this.
//
// Multi-head latent attention prefill for sm_90a: causal flash attention on
// wgmma (bf16 in, f32 accumulation) fed by TMA through mbarriers, the
// descriptors built here. The computation and O's layout are
// mla_prefill_bf16.mlir's:
//
//   O[b, s, h] = softmax_{{t <= s}}(scale * [q_nope | q_rope] . [k_nope_h | k_pe]) v_h
//
// mapQ: TMA descriptor over Q as [batch, seqLen, heads * {DQK}] bf16; mapKV
// over kv_b's output as [batch, seqLen, heads * {KVW}] (k_nope, then v, per
// head); mapKR over the rope keys as [batch, seqLen, {DROPE}]. Boxes of 1 x
// 64 x 64 with the 128-byte swizzle, in device memory
// (cuTensorMapEncodeTiled). O bf16 [batch, seqLen, heads, {DV}]; scale: softmax
// scale times log2(e).
//
// Grid (ceil(seqLen / {TILE}), heads, batch), {THREADS} threads; dynamic shared
// memory: the layout's {LAYOUT_BYTES} bytes + 1024 less the kernel's static
// shared memory (its mbarriers; cuFuncGetAttribute SHARED_SIZE_BYTES): the
// layout starts at the first 1024-byte boundary past them. Two blocks fit an
// SM; raise the kernel's limit. dsc.dynamic_shared_memory, what
// dsc-library-gemms launches it with, counts the {STATICS} bytes ptxas gives
// the statics (mla-prefill-wgmma.test checks that figure); dsc.tile: query
// tokens per block, key tokens per tile; dsc.tma_box: the descriptors' box.
{aliases}
module attributes {{gpu.container_module}} {{
gpu.module @dsc_mla_prefill_wgmma attributes {{dsc.chips = ["sm_90a"], dsc.ptx = 83 : i32}} {{
  // The descriptors arrive as pointers (the GPU lowering has no kernel
  // argument conversion for the descriptor type; the casts fold away).
  gpu.func @mla_prefill_wgmma_bf16(%mapQPtr: !llvm.ptr, %mapKVPtr: !llvm.ptr,
                                   %mapKRPtr: !llvm.ptr, %O: memref<?xbf16>,
                                   %seqLen: index, %heads: index, %scale: f32)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>,
                         dsc.tile = array<i64: {TILE}, {TILE}>,
                         dsc.tma_box = array<i64: 1, 64, 64>,
                         dsc.dynamic_shared_memory = {LAYOUT_BYTES + 1024 - STATICS} : i64}} {{
    %mapQ = builtin.unrealized_conversion_cast %mapQPtr : !llvm.ptr to {MAP}
    %mapKV = builtin.unrealized_conversion_cast %mapKVPtr : !llvm.ptr to {MAP}
    %mapKR = builtin.unrealized_conversion_cast %mapKRPtr : !llvm.ptr to {MAP}
    %false = arith.constant false"""]
    out += prefill_kernel().text()
    out += ["  }", "}", "}"]
    print("\n".join(out))


if __name__ == "__main__":
    main()
