#!/usr/bin/env python3
"""Generates codegen/kernels/mla_prefill_bf16.mlir, multi-head latent
attention's prefill kernel (gpu, nvgpu and nvvm dialects):

    python3 codegen/kernels/gen_mla_prefill.py > codegen/kernels/mla_prefill_bf16.mlir
    python3 codegen/kernels/gen_mla_prefill.py --nope 16 --rope 8 --value 16 \
        > codegen/kernels/mla_prefill_bf16_n16_r8_v16.mlir

The first is every DeepSeek model's widths (qk_nope_head_dim 128,
qk_rope_head_dim 64, v_head_dim 128: V2, V2-Lite, V3); the second the test
fixtures'. The text below says 192, 128 and 64 for DeepSeek's.

Prefill runs MLA unabsorbed (DEEPSEEK.md): every head has its own keys and
values decompressed by kv_b_proj, [k_nope (128) | v (128)] per head, and one
rope key k_pe (64) shared by all heads. The key of head h is
[k_nope_h | k_pe], 192 wide like the query [q_nope | q_rope]; the kernel
reads k_pe once per token instead of a copy per head. Causal flash
attention, FlashAttention-2 style:

  * a block takes 64 query tokens of one head (the last tiles first: they
    have the most keys), 4 warps of 16 query rows each; a warp holds its
    rows' scores, so the online softmax stays within the warp (quad
    shuffles) and P goes from the S accumulators straight into the A
    fragments of P V (the accumulator layout of two n tiles is the A layout
    of one k step);
  * the query tile stays in shared memory (its fragments for all of 192
    would take 48 of the registers O and S need); key and value tiles of
    64 tokens in a 2-stage cp.async ring (rows past the sequence
    zero-filled);
  * the causal mask is applied on every tile (only the diagonal one has
    masked scores); tile j of query tile i exists for j <= i;
  * rows of 16-byte chunks stored at chunk ^ (row % 8), as in every kernel
    here.
"""

import argparse

from kernelgen import (WG, Function, Lanes, copy_tile, mma_loop_k, mma_transposed_b,
                       online_softmax, open_flash_loop, close_flash_loop, pack_bf16,
                       quad_reduce, row_maxima, swizzled_column)

TILE = 64  # query and key tokens per tile
WARPS = 4
THREADS = 32 * WARPS


class Widths:
    """The head widths one variant is generated for: no-rope (nope), rope
    and value. A query or key row is nope + rope wide (DQK); S's k loop
    runs over `kchunks` 16-byte chunks of it (whole k steps of 16), the
    chunks past DQK / 8 zero-filled by their copies (the test fixtures'
    24 is a step and a half). In shared memory a row takes a multiple of
    64 values (the swizzle permutes groups of 8 chunks)."""

    def __init__(self, nope=128, rope=64, value=128):
        assert nope % 16 == 0 and rope % 8 == 0 and value % 16 == 0, (nope, rope, value)
        self.nope, self.rope, self.dv = nope, rope, value
        self.dqk = nope + rope
        self.kvw = nope + value  # kv_b_proj's output per head: k_nope then v
        self.kchunks = -(-self.dqk // 16) * 2
        qk_width = -(-self.kchunks // 8) * 64
        v_width = -(-value // 64) * 64
        self.sq = f"memref<{TILE}x{qk_width}xbf16, {WG}>"
        self.sk = f"memref<2x{TILE}x{qk_width}xbf16, {WG}>"
        self.sv = f"memref<2x{TILE}x{v_width}xbf16, {WG}>"
        self.off_k = TILE * qk_width * 2
        self.off_v = self.off_k + 2 * TILE * qk_width * 2
        self.smem_bytes = self.off_v + 2 * TILE * v_width * 2
        self.o_tiles = value // 8  # n tiles of O per warp

    @property
    def default(self):
        return (self.nope, self.rope, self.dv) == (128, 64, 128)

    @property
    def suffix(self):
        """The variant's name suffix: none for DeepSeek's widths."""
        return "" if self.default else f"_n{self.nope}_r{self.rope}_v{self.dv}"


S_TILES = TILE // 8  # n tiles of S per warp


def prefill_kernel(w):
    f = Function()
    c = f.c
    emit = f.emit
    f.float_constants()
    f.shared_views((("sQ", 0, w.sq), ("sK", w.off_k, w.sk), ("sV", w.off_v, w.sv)))
    bx = f.let("bx", "gpu.block_id x")
    h = f.let("head", "gpu.block_id y")
    b = f.let("seq", "gpu.block_id z")
    qtiles = f.let("qtiles", "gpu.grid_dim x")
    tid = f.let("tid", "gpu.thread_id x")
    ln = Lanes(f, tid)
    warp, g, t2, l16, lhi, l8, bnrow = (ln.warp, ln.g, ln.t2, ln.l16, ln.lhi, ln.l8,
                                        ln.bnrow)

    # Query tile qt (the last first) and its key tiles 0 .. qt.
    last = f.idx("lastTile", "subi", qtiles, c(1))
    qt = f.idx("qt", "subi", last, bx)
    q0 = f.idx("q0", "muli", qt, c(TILE))
    count = f.idx("count", "addi", qt, c(1))
    bS = f.idx("bS", "muli", b, "%seqLen")  # the sequence's first token

    def head_row(tok, width, hint):
        """The offset of this head's row of `width` values for token `tok`
        of the sequence in a [batch, seqLen, heads, width] tensor."""
        tokG = f.idx(f"{hint}tokG", "addi", bS, tok)
        rowH = f.idx(f"{hint}rowH", "muli", tokG, "%heads")
        rowHh = f.idx(f"{hint}rowHh", "addi", rowH, h)
        return f.idx(f"{hint}row0", "muli", rowHh, c(width))

    def within(live, gcol, width, hint):
        """`live` and chunk `gcol` inside a row of `width` values: the
        chunks past it (a row's padding to whole k steps) copy zeros."""
        inRow = f.let(f"{hint}inRow", f"arith.cmpi ult, {gcol}, {c(width)} : index")
        return f.let(f"{hint}live", f"arith.andi {live}, {inRow} : i1")

    padded = w.kchunks * 8 != w.dqk

    # The query tile: rows past the sequence zero-filled.
    qcopies = []
    for row, col, gcol in copy_tile(f, tid, THREADS, TILE, w.kchunks, "q"):
        tok = f.idx("qtok", "addi", q0, row)
        live = f.let("qlive", f"arith.cmpi ult, {tok}, %seqLen : index")
        if padded:
            live = within(live, gcol, w.dqk, "q")
        goff = head_row(tok, w.dqk, "q")
        src0 = f.idx("qsrc0", "addi", goff, gcol)
        src = f.let("qsrc", f"arith.select {live}, {src0}, {c(0)} : index")
        n = f.let("qn", f"arith.select {live}, {c(8)}, {c(0)} : index")
        qcopies.append(f.let("qcopy", f"nvgpu.device_async_copy %Q[{src}], %sQ[{row}, {col}], "
                                      f"8, {n} {{bypassL1}} : memref<?xbf16> to {w.sq}"))
    # A key tile's chunks: k_nope from kv_b's output, then k_pe from the
    # shared rope keys (and the padding), v from kv_b's output; the same
    # (row, chunk) of every tile.
    nopeChunks = copy_tile(f, tid, THREADS, TILE, w.nope // 8, "kn")
    ropeChunks = copy_tile(f, tid, THREADS, TILE, w.kchunks - w.nope // 8, "kr")
    if w.nope % 64:
        # The rope chunks follow k_nope's within a group of 8: swizzle the
        # row's chunk, not the rope key's. (With k_nope a whole number of
        # groups, the rope key's own swizzle shifted by k_nope's width is
        # the same place: DeepSeek's kernel keeps that form, the code that
        # ran on an H200.)
        shifted = []
        for row, _, gcol in ropeChunks:
            ch = f.idx("krch", "divui", gcol, c(8))
            at = f.idx("krat", "addi", ch, c(w.nope // 8))
            shifted.append((row, swizzled_column(f, row, at, "kr"), gcol))
        ropeChunks = shifted
    vChunks = copy_tile(f, tid, THREADS, TILE, w.dv // 8, "v")

    def issue(j, stage, extra=()):
        """Copies key tile j into `stage` as one group; past the query
        tile's last key tile, or past the sequence, rows are zero."""
        inRange = f.let("inRange", f"arith.cmpi ult, {j}, {count} : index")
        tok0 = f.idx("ktok0", "muli", j, c(TILE))
        tokens = list(extra)
        for chunks, what in ((nopeChunks, "nope"), (ropeChunks, "rope"), (vChunks, "v")):
            for row, col, gcol in chunks:
                tok = f.idx("ktok", "addi", tok0, row)
                inSeq = f.let("kinSeq", f"arith.cmpi ult, {tok}, %seqLen : index")
                live = f.let("klive", f"arith.andi {inSeq}, {inRange} : i1")
                if what == "rope":
                    if padded:
                        live = within(live, gcol, w.rope, "kr")
                    tokG = f.idx("ktokG", "addi", bS, tok)
                    goff = f.idx("kgoff", "muli", tokG, c(w.rope))
                    dcol = (col if w.nope % 64
                            else f.idx("kdcol", "addi", col, c(w.nope)))
                    src_mem, dst, dty = "%KR", f"%sK[{stage}, {row}, {dcol}]", w.sk
                else:
                    goff0 = head_row(tok, w.kvw, "k")
                    goff = (goff0 if what == "nope"
                            else f.idx("kgoffV", "addi", goff0, c(w.nope)))
                    dst = (f"%sK[{stage}, {row}, {col}]" if what == "nope"
                           else f"%sV[{stage}, {row}, {col}]")
                    src_mem, dty = "%KV", w.sk if what == "nope" else w.sv
                src0 = f.idx("ksrc0", "addi", goff, gcol)
                src = f.let("ksrc", f"arith.select {live}, {src0}, {c(0)} : index")
                n = f.let("kn", f"arith.select {live}, {c(8)}, {c(0)} : index")
                tokens.append(f.let("kcopy", f"nvgpu.device_async_copy {src_mem}[{src}], {dst}, "
                                             f"8, {n} {{bypassL1}} : memref<?xbf16> to {dty}"))
        return f.let("group", f"nvgpu.device_async_create_group {', '.join(tokens)}")

    first = issue(c(0), c(0), qcopies)
    issue(c(1), c(1))

    w16 = f.idx("w16", "muli", warp, c(16))
    aRow = f.idx("aRow", "addi", w16, l16)  # the warp's query rows
    # This lane's query positions (rows g, g + 8) and key offset.
    qrow = f.idx("qrow", "addi", q0, w16)
    qposA = f.idx("qposA", "addi", qrow, g)
    qposB = f.idx("qposB", "addi", qposA, c(8))

    res, outs, types, stage = open_flash_loop(f, "%j", count, w.o_tiles, first)

    # S = Q K^T: 16 query rows x 64 keys, over 192.
    kRows = [f.idx("kfRow", "addi", bnrow, c(16 * pair)) for pair in range(S_TILES // 2)]
    s = mma_loop_k(f, w.kchunks // 2, ("%sQ", w.sq, [], aRow), ("%sK", w.sk, [stage], kRows), ln,
                   S_TILES)

    # Causal mask and scale (base 2); row maxima within the quad.
    j64 = f.idx("j64", "muli", "%j", c(TILE))
    kbase = f.idx("kbase", "addi", j64, t2)
    x = []
    for nt in range(S_TILES):
        for r in range(4):
            kpos = f.idx("kpos", "addi", kbase, c(nt * 8 + r % 2))
            qpos = qposA if r < 2 else qposB
            live = f.let("causal", f"arith.cmpi ule, {kpos}, {qpos} : index")
            scaled = f.f32("scaled", "mulf", s[nt * 4 + r], "%scale")
            x.append(f.let("x", f"arith.select {live}, {scaled}, %ninf : f32"))
    alphas, mNew, p, sums = online_softmax(f, x, row_maxima(f, x))
    o = [f.f32("os", "mulf", outs[i], alphas[(i % 4) // 2]) for i in range(len(outs))]

    # O += P V: P's accumulators are the A fragments (k step kk is n tiles
    # 2 kk and 2 kk + 1), V by ldmatrix.trans.
    for kk in range(TILE // 16):
        lo, hi = p[8 * kk:8 * kk + 4], p[8 * kk + 4:8 * kk + 8]
        pa = [pack_bf16(f, lo[0], lo[1]), pack_bf16(f, lo[2], lo[3]),
              pack_bf16(f, hi[0], hi[1]), pack_bf16(f, hi[2], hi[3])]
        vRow = f.idx("vRow", "addi", l16, c(16 * kk))
        o = mma_transposed_b(f, pa, "%sV", w.sv, [stage], vRow, lhi, l8, o)
    close_flash_loop(f, issue, "%j", stage, mNew + sums + o, types, first)

    # O / l in bf16 for the rows inside the sequence.
    for k, qpos in enumerate((qposA, qposB)):
        total = quad_reduce(f, f"{res}#{2 + k}", "addf")
        inv = f.f32("inv", "divf", "%one", total)
        inside = f.let("inside", f"arith.cmpi ult, {qpos}, %seqLen : index")
        base0 = head_row(qpos, w.dv, "o")
        base = f.idx("obase", "addi", base0, t2)
        vals = []
        for nt in range(w.o_tiles):
            i = nt * 4 + 2 * k
            v0 = f.f32("on", "mulf", f"{res}#{4 + i}", inv)
            v1 = f.f32("on", "mulf", f"{res}#{4 + i + 1}", inv)
            pair = f.let("opair", f"vector.from_elements {v0}, {v1} : vector<2xf32>")
            vals.append(f.let("obf16", f"arith.truncf {pair} : vector<2xf32> to vector<2xbf16>"))
        emit(f"scf.if {inside} {{")
        for nt, v in enumerate(vals):
            emit(f"  %oat{k}_{nt} = arith.addi {base}, {c(nt * 8)} : index")
            emit(f"  vector.store {v}, %O[%oat{k}_{nt}] : memref<?xbf16>, vector<2xbf16>")
        emit("}")
    emit("gpu.return")
    return f


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nope", type=int, default=128,
                        help="qk_nope_head_dim (a multiple of 16)")
    parser.add_argument("--rope", type=int, default=64,
                        help="qk_rope_head_dim (a multiple of 8)")
    parser.add_argument("--value", type=int, default=128,
                        help="v_head_dim (a multiple of 16)")
    args = parser.parse_args()
    w = Widths(args.nope, args.rope, args.value)
    X = w.suffix
    command = "gen_mla_prefill.py" + ("" if w.default else
                                      f" --nope {w.nope} --rope {w.rope} --value {w.dv}")
    out = [f"""// GENERATED by codegen/kernels/{command}: edit that, not this.
//
// Multi-head latent attention prefill: causal flash attention on tensor
// cores (mma.sync m16n8k16, bf16 in, f32 accumulation) over the keys and
// values kv_b_proj decompresses, with the rope key shared by the heads:
//
//   O[b, s, h] = softmax_{{t <= s}}(scale * [q_nope | q_rope] . [k_nope_h | k_pe]) v_h
//
// Q [batch, seqLen, heads, {w.dqk}] bf16 (rope applied to the last {w.rope});
// KV [batch, seqLen, heads, {w.kvw}] bf16 (k_nope, then v); KR [batch, seqLen,
// {w.rope}] bf16 (k_pe, roped); O [batch, seqLen, heads, {w.dv}] bf16.
// scale: softmax scale times log2(e).
//
// Grid (ceil(seqLen / {TILE}), heads, batch), {THREADS} threads, {w.smem_bytes}
// bytes of dynamic shared memory (raise the kernel's limit), as its
// attributes state (dsc.tile: query and key tokens per tile).
module attributes {{gpu.container_module}} {{
gpu.module @dsc_mla_prefill{X} {{
  gpu.func @mla_prefill_bf16{X}(%Q: memref<?xbf16>, %KV: memref<?xbf16>,
                             %KR: memref<?xbf16>, %O: memref<?xbf16>,
                             %seqLen: index, %heads: index, %scale: f32)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>,
                         dsc.tile = array<i64: {TILE}, {TILE}>,
                         dsc.dynamic_shared_memory = {w.smem_bytes} : i64}} {{"""]
    out += prefill_kernel(w).text()
    out += ["  }", "}", "}"]
    print("\n".join(out))


if __name__ == "__main__":
    main()
