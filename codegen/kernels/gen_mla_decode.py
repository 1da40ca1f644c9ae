#!/usr/bin/env python3
"""Generates multi-head latent attention's decode kernels (gpu, nvgpu and
nvvm dialects) for one latent width and rope width:

    python3 codegen/kernels/gen_mla_decode.py > codegen/kernels/mla_decode_bf16.mlir
    python3 codegen/kernels/gen_mla_decode.py --latent 32 --rope 8 \
        > codegen/kernels/mla_decode_bf16_c32_r8.mlir

The first is every DeepSeek model's (kv_lora_rank 512, qk_rope_head_dim
64: V2, V2-Lite, V3); the second the test fixtures'. The text below says
576, 512 and 64 for those widths.

Decode with weight absorption (DEEPSEEK.md) is attention of every query
head over one shared latent cache: each head's query q [576] is q_nope . W_UK
(512) followed by q_rope (64); each cached token is c_kv (512) followed by
k_rope (64), the key; the value is its first 512 entries. So all the heads
of a token form the M dimension of two GEMMs against the same cache:

    S = Q K^T   [heads, tokens], K = 576
    O = P V     [heads, 512],    P = softmax(scale * S) over the tokens

Split-KV flash decoding: each block takes 64 heads of one sequence (the
last block of a head count not a multiple of 64 has rows past the last
head: zero queries, no writes) and one split of its tokens, keeps a running max and sum per head (the softmax in
base 2, the scale carrying log2 e), and writes its partial output with the
log-sum-exp of its split; mla_decode_combine weighs the splits by their
log-sum-exp. The cache is paged: page p of sequence b is block
table[b, p], 64 tokens of 576 bf16 values each.

The schedule, sm_80 style (it runs on sm_90a unchanged):
  * 8 warps. Warp w owns heads 16 (w % 4) .. + 16. For S it takes the
    tile's tokens 16 (w / 4) .. + 16; for O the value columns
    256 (w / 4) .. + 256 (128 f32 accumulators per thread);
  * token tiles of 32 (half a page) in a 2-stage cp.async ring, the query
    block resident; tokens past the sequence are zero-filled by the copy
    (src-size 0) and masked to -inf, so no garbage reaches the mma;
  * S and P V on mma.sync m16n8k16 (bf16, f32 accumulation); K fragments
    by ldmatrix, V fragments by ldmatrix.trans from the same rows; the
    two warps of a head group exchange their row maxima through shared
    memory and P goes through shared memory as bf16;
  * rows of 576 values are 72 16-byte chunks, chunk c of row r stored at
    c ^ (r % 8): the 8 rows one ldmatrix reads hit 8 distinct banks.
"""

import argparse

from kernelgen import (WG, Function, Lanes, copy_tile, ldmatrix, mma_loop_k,
                       mma_transposed_b, online_softmax, open_flash_loop,
                       close_flash_loop, quad_reduce, row_maxima)

PAGE, TILE, HEADS = 64, 32, 64  # tokens per page, per tile; heads per block
WARPS = 8
THREADS = 32 * WARPS


class Widths:
    """The widths one variant is generated for: the key (latent then rope,
    D), the value (the latent, DV). A cached row is D / 8 16-byte chunks in
    memory; in shared memory it takes `chunks`, a multiple of 8 (the
    swizzle permutes groups of 8), the chunks past D / 8 zero-filled by
    their copies, so S's k loop runs over zeros there."""

    def __init__(self, latent=512, rope=64):
        assert latent % 32 == 0 and rope % 8 == 0, (latent, rope)
        self.latent, self.rope = latent, rope
        self.d, self.dv = latent + rope, latent
        self.src_chunks = self.d // 8  # 16-byte chunks per cached row
        self.chunks = -(-self.src_chunks // 8) * 8  # per shared row
        self.out_cols = self.dv // (WARPS // 4)  # value columns per warp
        self.out_tiles = self.out_cols // 8  # mma n tiles per warp
        width = self.chunks * 8
        self.sq = f"memref<{HEADS}x{width}xbf16, {WG}>"
        self.skv = f"memref<2x{TILE}x{width}xbf16, {WG}>"
        # Dynamic shared memory: the query block, the 2 stages, P, the
        # maxima and the sums of the two column halves.
        self.off_kv = HEADS * width * 2
        self.off_p = self.off_kv + 2 * TILE * width * 2
        self.off_max = self.off_p + HEADS * TILE * 2
        self.off_sum = self.off_max + 2 * HEADS * 4
        self.smem_bytes = self.off_sum + 2 * HEADS * 4
        self.combine_threads = self.dv // 4

    @property
    def default(self):
        return (self.latent, self.rope) == (512, 64)

    @property
    def suffix(self):
        """The variant's name suffix: none for DeepSeek's widths."""
        return "" if self.default else f"_c{self.latent}_r{self.rope}"


SP = f"memref<{HEADS}x{TILE}xbf16, {WG}>"
SRED = f"memref<2x{HEADS}xf32, {WG}>"


def decode_kernel(w):
    f = Function()
    c = f.c
    emit = f.emit
    f.float_constants()
    f.shared_views((("sQ", 0, w.sq), ("sKV", w.off_kv, w.skv), ("sP", w.off_p, SP),
                    ("sMax", w.off_max, SRED), ("sSum", w.off_sum, SRED)))
    hb = f.let("hblock", "gpu.block_id x")
    split = f.let("split", "gpu.block_id y")
    b = f.let("seq", "gpu.block_id z")
    tid = f.let("tid", "gpu.thread_id x")
    ln = Lanes(f, tid)
    g, t, t2, l16, lhi, l8, bnrow = ln.g, ln.t, ln.t2, ln.l16, ln.lhi, ln.l8, ln.bnrow
    rg = f.idx("rowGroup", "remui", ln.warp, c(4))
    half = f.idx("half", "divui", ln.warp, c(4))

    # The sequence's length and this split's token tiles [jBegin, jEnd).
    len32 = f.let("len32", f"memref.load %lens[{b}] : memref<?xi32>")
    length = f.let("len", f"arith.index_cast {len32} : i32 to index")
    len31 = f.idx("len31", "addi", length, c(TILE - 1))
    tiles = f.idx("tiles", "divui", len31, c(TILE))
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

    def in_row(gcol):
        """Whether source column `gcol` is in the cached row, or None when
        every shared chunk is (DeepSeek's widths): the chunks past it are
        zero-filled."""
        if w.chunks == w.src_chunks:
            return None
        return f.let("inRow", f"arith.cmpi ult, {gcol}, {c(w.d)} : index")

    def both(a, b):
        return a if b is None else f.let("copied", f"arith.andi {a}, {b} : i1")

    # The query block: 64 x 72 chunks, 18 per thread; its copies join the
    # first tile's group. Rows past the last head are zero (src-size 0,
    # read from offset 0): past the final sequence they would be out of
    # bounds.
    qcopies = []
    for row, col, gcol in copy_tile(f, tid, THREADS, HEADS, w.chunks, "q"):
        grow = f.idx("qgrow", "addi", qRow0, row)
        head = f.idx("qhead", "addi", h0, row)
        isHead = both(f.let("qIsHead", f"arith.cmpi ult, {head}, %heads : index"),
                      in_row(gcol))
        goff = f.idx("qgoff", "muli", grow, c(w.d))
        src0 = f.idx("qsrc", "addi", goff, gcol)
        src = f.let("qsrcIn", f"arith.select {isHead}, {src0}, {c(0)} : index")
        n = f.let("qn", f"arith.select {isHead}, {c(8)}, {c(0)} : index")
        qcopies.append(f.let("qtok", f"nvgpu.device_async_copy %Q[{src}], %sQ[{row}, {col}], "
                                     f"8, {n} {{bypassL1}} : memref<?xbf16> to {w.sq}"))

    # A tile's rows: 32 x 72 chunks, 9 per thread, the same (row, chunk)
    # of every tile.
    kvChunks = []
    for row, col, gcol in copy_tile(f, tid, THREADS, TILE, w.chunks, "k"):
        rowOff = f.idx("kRowOff", "muli", row, c(w.d))
        kvChunks.append((row, col, f.idx("kChunkOff", "addi", rowOff, gcol), in_row(gcol)))

    def issue(rel, stage, extra=()):
        """Copies tile jBegin + rel into `stage` as one group: rows of
        tokens past the sequence, or of a tile past the split, are zero
        (src-size 0, read from offset 0)."""
        j = f.idx("j", "addi", jBegin, rel)
        inSplit = f.let("inSplit", f"arith.cmpi ult, {j}, {jEnd} : index")
        tok0 = f.idx("tok0", "muli", j, c(TILE))
        slot0 = f.idx("slot0", "divui", tok0, c(PAGE))
        slot = f.idx("slot", "minui", slot0, lastSlot)
        entry = f.idx("entry", "addi", tableRow, slot)
        page32 = f.let("page32", f"memref.load %table[{entry}] : memref<?xi32>")
        page = f.let("page", f"arith.index_cast {page32} : i32 to index")
        inPage = f.idx("inPage", "remui", tok0, c(PAGE))
        pageRow0 = f.idx("pageRow0", "muli", page, c(PAGE))
        rowBase = f.idx("rowBase", "addi", pageRow0, inPage)
        tileOff0 = f.idx("tileOff0", "muli", rowBase, c(w.d))
        tileOff = f.idx("tileOff", "addi", tileOff0, "%kvOffset")
        tokens = list(extra)
        for row, col, chunkOff, inRow in kvChunks:
            tok = f.idx("tok", "addi", tok0, row)
            live0 = f.let("live0", f"arith.cmpi ult, {tok}, {length} : index")
            live = both(f.let("live", f"arith.andi {live0}, {inSplit} : i1"), inRow)
            src0 = f.idx("src0", "addi", tileOff, chunkOff)
            src = f.let("src", f"arith.select {live}, {src0}, {c(0)} : index")
            n = f.let("srcElems", f"arith.select {live}, {c(8)}, {c(0)} : index")
            tokens.append(f.let("ktok", f"nvgpu.device_async_copy %KV[{src}], "
                                        f"%sKV[{stage}, {row}, {col}], 8, {n} "
                                        f"{{bypassL1}} : memref<?xbf16> to {w.skv}"))
        return f.let("group", f"nvgpu.device_async_create_group {', '.join(tokens)}")

    first = issue(c(0), c(0), qcopies)
    issue(c(1), c(1))

    # Per-lane addresses of the fragments (rows and swizzles that do not
    # change from tile to tile).
    rg16 = f.idx("rg16", "muli", rg, c(16))
    aRow = f.idx("aRow", "addi", rg16, l16)  # Q and P rows, A operand
    half16 = f.idx("half16", "muli", half, c(16))
    kRow = f.idx("kRow", "addi", half16, bnrow)  # K rows (tokens), B operand
    pSw0 = f.idx("pSw0", "shrui", l16, c(1))
    pSw = f.idx("pSw", "remui", pSw0, c(4))  # P's swizzle for the A loads
    gSw0 = f.idx("gSw0", "shrui", g, c(1))
    gSw = f.idx("gSw", "remui", gSw0, c(4))  # P's swizzle for the stores
    sRow = f.idx("sRow", "addi", rg16, g)  # accumulator rows g, g + 8
    sRow8 = f.idx("sRow8", "addi", sRow, c(8))
    tokCol = f.idx("tokCol", "addi", half16, t2)  # S column of this lane
    half2 = f.idx("half2", "muli", half, c(2))
    half32 = f.idx("half32", "muli", half, c(w.out_cols // 8))
    vChunk = f.idx("vChunk", "addi", half32, lhi)  # V chunk, n pair 0
    leader = f.let("leader", f"arith.cmpi eq, {t}, {c(0)} : index")

    # The tile loop: running max and sum of rows g and g + 8, and O.
    res, outs, types, stage = open_flash_loop(f, "%i", count, w.out_tiles, first)

    # S = Q K^T for 16 heads x 16 tokens, over K = 576 in steps of 16.
    s = mma_loop_k(f, w.chunks // 2, ("%sQ", w.sq, [], aRow), ("%sKV", w.skv, [stage], [kRow]),
                   ln, 2)

    # Scale into base 2 and mask the tokens past the sequence.
    jt = f.idx("jt", "addi", jBegin, "%i")
    tileTok = f.idx("tileTok", "muli", jt, c(TILE))
    lanetok = f.idx("laneTok", "addi", tileTok, tokCol)
    x = []
    for nt in range(2):
        for r in range(4):
            tok = f.idx("stok", "addi", lanetok, c(nt * 8 + r % 2))
            live = f.let("slive", f"arith.cmpi ult, {tok}, {length} : index")
            scaled = f.f32("scaled", "mulf", s[nt * 4 + r], "%scale")
            x.append(f.let("x", f"arith.select {live}, {scaled}, %ninf : f32"))
    # Row maxima: this lane's 4 values, the quad, the other column half.
    tile_max = split_maxima(f, row_maxima(f, x), (sRow, sRow8), half, leader, "%sMax",
                            SRED)
    # P = exp2(x - max), its sums, and P as bf16 into shared memory.
    alphas, mNew, p, sums = online_softmax(f, x, tile_max)
    for nt in range(2):
        chunk = f.idx("pChunk", "addi", half2, c(nt))
        phys = f.idx("pPhys", "xori", chunk, gSw)
        col0 = f.idx("pCol0", "muli", phys, c(8))
        col = f.idx("pCol", "addi", col0, t2)
        for rows, srow in (((0, 1), sRow), ((2, 3), sRow8)):
            pair = f.let("pPair", f"vector.from_elements {p[nt * 4 + rows[0]]}, "
                                  f"{p[nt * 4 + rows[1]]} : vector<2xf32>")
            pb = f.let("pBf16", f"arith.truncf {pair} : vector<2xf32> to vector<2xbf16>")
            emit(f"vector.store {pb}, %sP[{srow}, {col}] : {SP}, vector<2xbf16>")
    # O *= alpha, row by row.
    o = []
    for nt in range(w.out_tiles):
        for r in range(4):
            o.append(f.f32("os", "mulf", outs[nt * 4 + r], alphas[r // 2]))
    emit("gpu.barrier")

    # O += P V: 16 heads x 256 value columns over the tile's 32 tokens.
    for kk in range(TILE // 16):
        pChunk = f.idx("paChunk", "addi", lhi, c(2 * kk))
        pPhys = f.idx("paPhys", "xori", pChunk, pSw)
        pCol = f.idx("paCol", "muli", pPhys, c(8))
        pa = ldmatrix(f, "pf", "%sP", SP, [aRow, pCol])
        vRow = f.idx("vRow", "addi", l16, c(16 * kk))
        o = mma_transposed_b(f, pa, "%sKV", w.skv, [stage], vRow, vChunk, l8, o)
    close_flash_loop(f, issue, "%i", stage, mNew + sums + o, types, first)

    finish_split(f, res, (sRow, sRow8), half, leader, "%sSum", SRED, qRow0, h0, split, t2,
                 lambda k, j: (f"{res}#{4 + 4 * j + 2 * k}", f"{res}#{5 + 4 * j + 2 * k}"),
                 w.dv, w.out_cols)
    emit("gpu.return")
    return f


def split_maxima(f, maxima, rows, half, leader, sMax, sred):
    """The rows' maxima over the block's two column halves, as both decode
    kernels have them: each half's (`maxima`, of rows `rows`) through sMax
    (indexed by `half`, written by the quad leaders `leader`), a barrier,
    the larger of the two."""
    c = f.c
    f.emit(f"scf.if {leader} {{")
    for m, row in zip(maxima, rows):
        f.emit(f"  memref.store {m}, {sMax}[{half}, {row}] : {sred}")
    f.emit("}")
    f.emit("gpu.barrier")
    out = []
    for row in rows:
        m0 = f.let("tmax0", f"memref.load {sMax}[{c(0)}, {row}] : {sred}")
        m1 = f.let("tmax1", f"memref.load {sMax}[{c(1)}, {row}] : {sred}")
        out.append(f.f32("tmax", "maximumf", m0, m1))
    return out


def finish_split(f, res, rows, half, leader, sSum, sred, qRow0, h0, split, t2,
                 values, dv, out_cols):
    """The end of a split, as both decode kernels have it: each of the
    thread's rows (g and g + 8, head qRow0 + row) sums the loop's result
    2 + k over its quad and the block's two column halves (through sSum,
    indexed by `half`); the split's partial output, normalised by it, gets
    this thread's column pairs out_cols half + 8 j + t2 of its row of dv
    columns (values(k, j) names the
    unnormalised pair of row k), and half 0's quad leaders (`leader`) write
    the row's log2-sum-exp (the running max, result k, plus log2 of the
    sum). An empty split writes zeros and -inf. Rows past the last head
    (block head h0 + row >= %heads: the last block of a head count that is
    not a multiple of 64) write nothing: their rows of Opart are the next
    sequence's."""
    c = f.c
    emit = f.emit
    total = []
    for k, row in enumerate(rows):
        total.append((quad_reduce(f, f"{res}#{2 + k}", "addf"), row))
    emit(f"scf.if {leader} {{")
    for l, row in total:
        emit(f"  memref.store {l}, {sSum}[{half}, {row}] : {sred}")
    emit("}")
    emit("gpu.barrier")
    invs, lses = [], []
    for k, (_, row) in enumerate(total):
        l0 = f.let("tsum0", f"memref.load {sSum}[{c(0)}, {row}] : {sred}")
        l1 = f.let("tsum1", f"memref.load {sSum}[{c(1)}, {row}] : {sred}")
        lt = f.f32("tsum", "addf", l0, l1)
        pos = f.let("nonEmpty", f"arith.cmpf ogt, {lt}, %zero : f32")
        inv0 = f.f32("inv0", "divf", "%one", lt)
        invs.append(f.let("inv", f"arith.select {pos}, {inv0}, %zero : f32"))
        lg = f.let("lg", f"math.log2 {lt} : f32")
        lses.append(f.f32("lse", "addf", f"{res}#{k}", lg))
    # Partial outputs [seq, head, split, 512] and their log-sum-exp.
    colBase0 = f.idx("oCol0", "muli", half, c(out_cols))
    colBase = f.idx("oCol", "addi", colBase0, t2)
    rowOffs, valid = [], []
    for row in rows:
        hrow = f.idx("hrow", "addi", qRow0, row)
        hs = f.idx("hs", "muli", hrow, "%splits")
        rowOffs.append(f.idx("hss", "addi", hs, split))
        head = f.idx("head", "addi", h0, row)
        valid.append(f.let("isHead", f"arith.cmpi ult, {head}, %heads : index"))
    # The values first: extracting them inside the branches would move
    # accumulator registers around.
    stores = []
    for k, hss in enumerate(rowOffs):
        base = f.idx("obase", "muli", hss, c(dv))
        base2 = f.idx("obase2", "addi", base, colBase)
        row_stores = []
        for j in range(out_cols // 8):
            v0, v1 = values(k, j)
            n0 = f.f32("on", "mulf", v0, invs[k])
            n1 = f.f32("on", "mulf", v1, invs[k])
            vec = f.let("ov", f"vector.from_elements {n0}, {n1} : vector<2xf32>")
            at = f.idx("oat", "addi", base2, c(j * 8))
            row_stores.append(f"  vector.store {vec}, %Opart[{at}] {{alignment = 8}} : "
                              "memref<?xf32>, vector<2xf32>")
        stores.append(row_stores)
    for k, row_stores in enumerate(stores):
        emit(f"scf.if {valid[k]} {{")
        for line in row_stores:
            emit(line)
        emit("}")
    first_half = f.let("firstHalf", f"arith.cmpi eq, {half}, {c(0)} : index")
    writes = f.let("writesLse", f"arith.andi {first_half}, {leader} : i1")
    for k, hss in enumerate(rowOffs):
        lead = f.let("writesRowLse", f"arith.andi {writes}, {valid[k]} : i1")
        emit(f"scf.if {lead} {{")
        emit(f"  memref.store {lses[k]}, %Lse[{hss}] : memref<?xf32>")
        emit("}")


def combine_function(w):
    """The lines of gpu.func @mla_decode_combine (both decode modules hold
    it)."""
    return [f"""  gpu.func @mla_decode_combine{w.suffix}(%Opart: memref<?xf32>, %Lse: memref<?xf32>,
                               %Out: memref<?xbf16>, %heads: index,
                               %splits: index)
      kernel attributes {{known_block_size = array<i32: {w.combine_threads}, 1, 1>}} {{"""] + \
        combine_kernel(w.dv).text() + ["  }"]


def combine_kernel(dv):
    """out[b, h] = sum_s 2^(lse_s - lse) O_s, lse = log2 sum_s 2^lse_s: one
    block of dv / 4 threads per (head, sequence), 4 columns per thread."""
    f = Function()
    c = f.c
    emit = f.emit
    f.float_constants()
    emit("%zero4 = arith.constant dense<0.0> : vector<4xf32>")
    h = f.let("head", "gpu.block_id x")
    b = f.let("seq", "gpu.block_id y")
    tid = f.let("tid", "gpu.thread_id x")
    bh = f.idx("bh", "muli", b, "%heads")
    row = f.idx("row", "addi", bh, h)
    lseBase = f.idx("lseBase", "muli", row, "%splits")
    col = f.idx("col", "muli", tid, c(4))
    emit(f"%max = scf.for %s = {c(0)} to %splits step {c(1)} iter_args(%m = %ninf) -> (f32) {{")
    emit(f"  %at = arith.addi {lseBase}, %s : index")
    emit("  %l = memref.load %Lse[%at] : memref<?xf32>")
    emit("  %mx = arith.maximumf %m, %l : f32")
    emit("  scf.yield %mx : f32")
    emit("}")
    # Every split empty (a sequence of length 0): weights 0, output 0.
    emit("%allEmpty = arith.cmpf oeq, %max, %ninf : f32")
    emit("%ref = arith.select %allEmpty, %zero, %max : f32")
    emit(f"%sum, %acc = scf.for %s = {c(0)} to %splits step {c(1)} "
         f"iter_args(%w0 = %zero, %a0 = %zero4) -> (f32, vector<4xf32>) {{")
    emit(f"  %at = arith.addi {lseBase}, %s : index")
    emit("  %l = memref.load %Lse[%at] : memref<?xf32>")
    emit("  %d = arith.subf %l, %ref : f32")
    emit("  %w = math.exp2 %d : f32")
    emit("  %w1 = arith.addf %w0, %w : f32")
    emit(f"  %o0 = arith.muli %at, {c(dv)} : index")
    emit(f"  %o = arith.addi %o0, {col} : index")
    emit("  %v = vector.load %Opart[%o] : memref<?xf32>, vector<4xf32>")
    emit("  %wv = vector.broadcast %w : f32 to vector<4xf32>")
    emit("  %a1 = vector.fma %wv, %v, %a0 : vector<4xf32>")
    emit("  scf.yield %w1, %a1 : f32, vector<4xf32>")
    emit("}")
    emit("%pos = arith.cmpf ogt, %sum, %zero : f32")
    emit("%inv0 = arith.divf %one, %sum : f32")
    emit("%inv = arith.select %pos, %inv0, %zero : f32")
    emit("%invv = vector.broadcast %inv : f32 to vector<4xf32>")
    emit("%out = arith.mulf %acc, %invv : vector<4xf32>")
    emit("%outb = arith.truncf %out : vector<4xf32> to vector<4xbf16>")
    out = f.idx("orow", "muli", row, c(dv))
    at = f.idx("oat", "addi", out, col)
    emit(f"vector.store %outb, %Out[{at}] {{alignment = 8}} : memref<?xbf16>, vector<4xbf16>")
    emit("gpu.return")
    return f


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latent", type=int, default=512,
                        help="kv_lora_rank, the value width (a multiple of 32)")
    parser.add_argument("--rope", type=int, default=64,
                        help="qk_rope_head_dim (a multiple of 8)")
    args = parser.parse_args()
    w = Widths(args.latent, args.rope)
    D, DV, ROPE, X = w.d, w.dv, w.rope, w.suffix
    command = "gen_mla_decode.py" + ("" if w.default else
                                     f" --latent {w.latent} --rope {w.rope}")
    out = [f"""// GENERATED by codegen/kernels/{command}: edit that, not this.
//
// Multi-head latent attention decode over a paged latent cache, split-KV
// flash decoding on tensor cores (mma.sync m16n8k16, bf16 in, f32
// accumulation). For sequence b (one query token), head h and split s:
//
//   mla_decode_bf16{X}     Opart[b, h, s] = softmax(scale * q K^T) V over the
//                       split's tokens, Lse[b, h, s] its log2-sum-exp
//   mla_decode_combine{X}  Out[b, h] = the splits weighted by 2^(Lse - max)
//
// Q [batch, heads, {D}] bf16: q_nope . W_UK ({DV}) then q_rope ({ROPE}).
// KV [pages, {PAGE}, {D}] bf16 from element kvOffset on (a layer's pages in
// a cache of all layers): c_kv ({DV}) then k_rope ({ROPE}); V is c_kv.
// table [batch, maxPages] i32: page of the sequence's p-th {PAGE} tokens.
// lens [batch] i32. scale: softmax scale times log2(e).
// Opart f32 [batch, heads, splits, {DV}]; Lse f32 [batch, heads, splits];
// Out bf16 [batch, heads, {DV}].
//
// mla_decode_bf16{X}: grid (ceil(heads / {HEADS}), splits, batch), {THREADS} threads,
// {w.smem_bytes} bytes of dynamic shared memory (raise the kernel's limit), as
// its attributes state (dsc.tile: heads per block, tokens per tile);
// split s takes token tiles [s * tilesPerSplit, (s + 1) * tilesPerSplit) of
// {TILE} tokens. Any number of heads: the last block's rows past the last
// head are zero and write nothing.
// mla_decode_combine{X}: grid (heads, batch), {w.combine_threads} threads.
module attributes {{gpu.container_module}} {{
gpu.module @dsc_mla_decode{X} {{"""]
    decode = decode_kernel(w)
    out.append(f"""  gpu.func @mla_decode_bf16{X}(%Q: memref<?xbf16>, %KV: memref<?xbf16>,
                            %table: memref<?xi32>, %lens: memref<?xi32>,
                            %Opart: memref<?xf32>, %Lse: memref<?xf32>,
                            %heads: index, %maxPages: index, %splits: index,
                            %tilesPerSplit: index, %kvOffset: index, %scale: f32)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>,
                         dsc.tile = array<i64: {HEADS}, {TILE}>,
                         dsc.dynamic_shared_memory = {w.smem_bytes} : i64}} {{""")
    out += decode.text()
    out.append("  }")
    out += combine_function(w)
    out.append("}")
    out.append("}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
