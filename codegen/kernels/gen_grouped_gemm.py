#!/usr/bin/env python3
"""Generates codegen/kernels/grouped_gemm_bf16.mlir, the grouped GEMM of the
kernel library. The schedule is written here once, with loops, and unrolled
into MLIR (gpu, nvgpu and nvvm dialects):

    python3 codegen/kernels/gen_grouped_gemm.py > codegen/kernels/grouped_gemm_bf16.mlir

The schedule, sm_80 style (it runs on sm_90a unchanged):
  * block tile BM x BN = 128 x 128 (or 64 x 128), K step BK = 64, warps in a
    2 x 4 (1 x 4) grid, each warp a 64 x 32 tile: 4 x 4 mma.sync m16n8k16
    per 16 of K;
  * global -> shared with cp.async (16 bytes per copy), a 4-stage ring in
    dynamic shared memory (128 KiB; 96 KiB for 64 rows), one commit group
    per K step;
  * shared -> registers with ldmatrix.x4, rows XOR-swizzled in 16-byte
    chunks so that the 8 rows one ldmatrix reads hit 8 different banks.

The batched variants (batched_gemm_bf16_{tn,nn}_m64, and for 128 rows
batched_gemm_bf16_tn) run the same schedule with the batches (the
attention's heads) as block z and every operand given an origin and
strides, so that a head's slab of a weight is read where it lies (W_UK and
W_UV inside kv_b); a linear layer is one batch, its rows' count an
argument. The nn one takes B as K x N: its tile is
copied as BK rows of BN (16 chunks a row, XOR-swizzled by k % 8) and its
fragments loaded with ldmatrix.x4.trans, which hands each lane the two k
values of one n that mma.sync's column-major B fragment holds.

With --fp8 it writes codegen/kernels/grouped_gemm_fp8.mlir instead, the same
schedule over FP8 e4m3 with DeepSeek's block scales (A per token and 128
columns, B per 128 x 128 block): a K step of 128 values is the same 128
bytes per row, and each 32 of K one mma.sync m16n8k32 e4m3 (sm_89 and
newer; written as inline PTX, the NVVM dialect having no e4m3 mma.sync).
Each K step of 128 is one scale block: its products accumulate apart and
join the running sums scaled by both scales (DeepGEMM's promotion: the
tensor cores' FP8 sums are not kept in full f32). Warps of 32 x 32 keep
both sets of sums in registers; the block tile is 64 x 128 (8 warps).

The e4m3-weight kernels (gemm_fp8w_*, grouped_gemm_*fp8w*_tiled,
batched_gemm_fp8w_*; configure(..., fp8_weights=True)) keep the bf16 schedule with bf16 A and
an FP8 checkpoint's weights as stored, e4m3 with block scales of any size
whose columns are a multiple of 16: B's bytes go through a cp.async ring
of their own (w8_copy_setup), and each K step every thread turns the
chunks it copied into the one bf16 B tile the mma.sync loop reads
(w8_convert: bf16(w * scale), the CPU's dequantization), between two
barriers. dsc-library-gemms runs them for linear layers of few rows, for
the routed experts of FP8 checkpoints, and (batched_gemm_fp8w_*, batches
over slabs of one weight's rows or columns) for the absorbed decode's
per-head products over an FP8 kv_b and for linear layers' K split into
parts.
"""

import sys

from kernelgen import MMA_ATTRS, MMA_RESULT

FP8 = "--fp8" in sys.argv[1:]
# Row length in 16-bit words: K itself for bf16, K / 2 for FP8's bytes.
KW = "%Kw" if FP8 else "%K"
F8_MMA = ('llvm.inline_asm "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 '
          '{$0, $1, $2, $3}, {$4, $5, $6, $7}, {$8, $9}, {$10, $11, $12, $13};", '
          '"=f,=f,=f,=f,r,r,r,r,r,r,f,f,f,f"')

# bf16 operands are typed bf16; FP8's bytes move as 16-bit words, typed f16.
ELT = "f16" if FP8 else "bf16"
# The bf16 kernels take any M, N and K % 8 == 0 (rows start 16-byte
# aligned): copies past the rows or K zero-fill (cp.async src-size), stores
# past the rows or N are skipped. So a dense linear layer is one expert of
# any shape, and an expert's rows need no padding. FP8 keeps its padded
# tiles (its activation scales are read per padded row).
EDGES = not FP8

BN, BK, STAGES, WARPS_N = 128, 64, 4, 4
CPR = BK // 8  # 16-byte chunks per tile row


def configure(bm, b_by_k=False, fp8_weights=False):
    """Sets the tile configuration for a block M tile of `bm` rows (128: 2 x 4
    warps; 64: 1 x 4 warps, for experts with few rows). `b_by_k`: B's tile
    is stored K rows of N (B given K x N), not N rows of K. `fp8_weights`:
    B in e4m3 with block scales (see w8_convert), A bf16."""
    global BM, WARPS_M, WM, WN, MT, NT, THREADS, SMEM_A, SMEM_B, W8, SMEM_B8, SMEM_B8W
    BM, W8 = bm, fp8_weights
    # FP8 keeps a step's products apart from the running sums: warps of 32
    # rows keep both in registers.
    WARPS_M = bm // (32 if FP8 else 64)
    WM, WN = BM // WARPS_M, BN // WARPS_N  # 64 (FP8: 32) x 32 per warp
    MT, NT = WM // 16, WN // 8  # mma tiles per warp: 4 (2) x 4
    THREADS = 32 * WARPS_M * WARPS_N
    SMEM_A = f"memref<{STAGES}x{BM}x{BK}x{ELT}, #gpu.address_space<workgroup>>"
    b_shape = f"{BK}x{BN}" if b_by_k else f"{BN}x{BK}"
    # e4m3 weights: the ring holds their bytes (typed e4m3 for cp.async, i32
    # words for the conversion's reads); one bf16 tile their values.
    SMEM_B = f"memref<{1 if W8 else STAGES}x{b_shape}x{ELT}, #gpu.address_space<workgroup>>"
    # (B given K x N: BK rows of BN bytes; else BN rows of BK.)
    b8_shape = f"{BK}x{BN}" if b_by_k else f"{BN}x{BK}"
    b8_words = f"{BK}x{BN // 4}" if b_by_k else f"{BN}x{BK // 4}"
    SMEM_B8 = f"memref<{STAGES}x{b8_shape}xf8E4M3FN, #gpu.address_space<workgroup>>"
    SMEM_B8W = f"memref<{STAGES}x{b8_words}xi32, #gpu.address_space<workgroup>>"


def smem_bytes(bm):
    """Dynamic shared memory of the kernel for M tile `bm` (the launch
    passes it, after raising the kernel's limit)."""
    if W8:
        return STAGES * bm * BK * 2 + BN * BK * 2 + STAGES * BN * BK
    return STAGES * (bm + BN) * BK * 2


out = []
emit = out.append
names = set()
configure(128)


def v(name):
    assert name not in names, name
    names.add(name)
    return "%" + name


def file_header():
    if FP8:
        emit(f"""// GENERATED by codegen/kernels/gen_grouped_gemm.py --fp8: edit that, not this.
//
// Grouped GEMM over FP8 e4m3 with DeepSeek's block scales, the expert GEMM
// of an FP8 checkpoint (mma.sync m16n8k32 e4m3, f32 accumulation; sm_89
// and newer, so sm_90a here):
//
//   for each expert e, for rows r in [offsets[e], offsets[e+1]):
//     C[r, n] = sum_kb sa[r, kb] * sb[(e N + n) / 128, kb]
//                      * sum_{{k in block kb}} A[r, k] * B[e N + n, k]
//
// A [rows, K] e4m3 (the tokens' rows sorted by expert, padded per expert to
// the M tile), sa [rows, K / 128] f32 (per token and 128 columns, as
// DeepSeek quantizes activations); B [experts * N, K] e4m3 as the
// checkpoint stores it, sb [experts * N / 128, K / 128] f32 (its
// weight_scale_inv). A and B are typed f16: cp.async and ldmatrix move
// 16-bit words (two e4m3 each). N % 128 == 0, K % 128 == 0.
//
// The schedule of grouped_gemm_bf16.mlir with a K step of 128 values (the
// same 128 bytes a row), one scale block: the step's products accumulate
// from zero, then join the running sums scaled (DeepGEMM's promotion).
// Block tile 64 x 128 of 8 warps (32 x 32 each, so that the step's sums
// and the running ones both fit in registers). Grid (N / {BN}, max rows per
// expert / 64, experts), 256 threads; launch with {smem_bytes(64)} bytes of
// dynamic shared memory.
module attributes {{gpu.container_module}} {{
gpu.module @dsc_grouped_gemm_fp8 attributes {{dsc.chips = ["sm_90a"], dsc.ptx = 84 : i32}} {{""")
        return
    emit(f"""// GENERATED by codegen/kernels/gen_grouped_gemm.py: edit that, not this.
//
// Grouped GEMM on tensor cores (mma.sync m16n8k16, bf16 in, f32 out), the
// expert GEMM of mixture-of-experts dispatch (and, batched_gemm_*, the
// attention's per-head products, heads as batches: see those kernels):
//
//   for each expert e, for rows r in [offsets[e], offsets[e+1]):
//     C[r, n] = sum_k A[r, k] * B[e * N + n, k]
//
// A [rows, K] holds the tokens' rows sorted by expert; B [experts * N, K]
// the expert weights as nn.Linear stores them ([out, in], so A * B^T); both
// bf16. With one expert it is a plain GEMM (a linear layer). Any rows and
// N; K % 8 == 0 (rows start 16-byte aligned): copies past an expert's rows
// or past K zero-fill (cp.async src-size), stores past its rows or N are
// skipped.
//
// Grid (ceil(N / {BN}), ceil(max rows per expert / M tile), experts), or for
// the _tiled kernel (ceil(N / {BN}), tiles listed). Warps of 64 x 32
// (4 x 4 mma tiles), {WARPS_N} across N; a {STAGES}-stage cp.async ring in
// dynamic shared memory (L1 bypassed; launch with the kernel's bytes:
// {smem_bytes(128)} for the 128-row tile, {smem_bytes(64)} for _m64, above the default
// 48 KiB limit); ldmatrix.x4 from XOR-swizzled rows.
module attributes {{gpu.container_module}} {{
gpu.module @dsc_grouped_gemm {{""")


def kernel_header(name, swiglu, tiled=False, batched=None, per_head=False):
    """`swiglu`: False (C in f32), "packed" (gate and up rows packed in one
    B) or "stacks" (gate and up two stacks, B and Bu). `per_head`: an
    e4m3-weight batched kernel over slabs of one weight's rows."""
    names.clear()
    out_type = "memref<?xbf16>" if swiglu else "memref<?xf32>"
    if FP8:
        emit(f"""  // Block tile {BM} x {BN}, K step 128 (one scale block), {WARPS_M} x {WARPS_N} warps,
  // {THREADS} threads; C[r, n] in f32 [rows, N].
  gpu.func @{name}(%A: memref<?xf16>, %B: memref<?xf16>,
                                 %C: memref<?xf32>, %offsets: memref<?xi32>,
                                 %sa: memref<?xf32>, %sb: memref<?xf32>,
                                 %N: index, %K: index)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>}} {{""")
        constants()
        return
    stacks = " %Bu: memref<?xbf16>," if swiglu == "stacks" else ""
    if batched and W8 and per_head:
        assert not swiglu
        w_at, rows_of, col = (("W[n, k]", "n", "k") if batched == "tn" else
                              ("W[k, n]", "k", "n"))
        emit(f"""  // Block tile {BM} x {BN}, K step {BK}, {WARPS_M} x {WARPS_N} warps, {THREADS} threads;
  // batch e is block z: for rows m < M and columns n < N,
  //   C[e cBatch + m ldc + n] = sum_k A[e aBatch + m lda + k] * {w_at},
  // W batch e's block of an e4m3 weight B with block scales sb, as the
  // checkpoint stores them: a slab of rows (MLA's kv_b, whose W_UK and
  // W_UV slabs the absorbed decode's per-head products read) or of columns
  // (a linear layer's K split into parts, each batch one):
  //   {w_at} = bf16(B[r ldb + c] * sb[(r / blockRows) ceil(ldb / blockCols) + c / blockCols]),
  //   r = bRow0 + e bRowBatch + {rows_of}, c = e bColBatch + {col},
  // each weight dequantized to bf16 as dsc's CPU code does it (one
  // rounding), in shared memory once per block and K step. lda, aBatch,
  // ldc multiples of 8; ldb, bColBatch, {"N" if batched == "nn" else "K"} and blockCols multiples of 16.
  gpu.func @{name}(%A: memref<?xbf16>, %B: memref<?xf8E4M3FN>,
                                 %sb: memref<?xf32>, %C: {out_type}, %M: index,
                                 %N: index, %K: index, %lda: index, %aBatch: index,
                                 %bRow0: index, %bRowBatch: index, %ldb: index,
                                 %ldc: index, %cBatch: index, %blockRows: index,
                                 %blockCols: index, %bColBatch: index)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>,
                         dsc.tile = array<i64: {BM}, {BN}>,
                         dsc.dynamic_shared_memory = {smem_bytes(BM)} : i64}} {{""")
        constants()
        return
    if batched and W8:
        assert batched == "tn"
        what = "C[m ldc + n] = sum_k A[m lda + k] * W[n, k]"
        if swiglu:
            what = ("C[m ldc + n] = bf16(silu(g) * u), g and u the sums of\n"
                    "  //   A[m lda + k] * W[n, k] over gate's W (B, sb) and up's (Bu, sbu);\n"
                    f"  // grid (ceil(2 N / {BN}), ceil(M / {BM}), 1): a block's {BN} packed\n"
                    f"  // columns are {BN // 2} gate and the same {BN // 2} up columns")
        emit(f"""  // Block tile {BM} x {BN}, K step {BK}, {WARPS_M} x {WARPS_N} warps, {THREADS} threads; one
  // batch: for rows m < M and columns n < N,
  //   {what},
  // W[n, k] = bf16(B[n K + k] * sb[(n / blockN) ceil(K / blockK) + k / blockK]):
  // B [N, K] e4m3 and its block scales as the checkpoint stores them, each
  // weight dequantized to bf16 as dsc's CPU code does it (one rounding),
  // in shared memory once per block and K step. lda, ldc multiples of 8,
  // K % 16 == 0, blockK % 16 == 0.
  gpu.func @{name}(%A: memref<?xbf16>, %B: memref<?xf8E4M3FN>,{stacks.replace("bf16", "f8E4M3FN")}
                                 %sb: memref<?xf32>,{" %sbu: memref<?xf32>," if stacks else ""}
                                 %C: {out_type}, %M: index, %N: index, %K: index,
                                 %lda: index, %ldc: index, %blockN: index,
                                 %blockK: index)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>,
                         dsc.tile = array<i64: {BM}, {BN}>,
                         dsc.dynamic_shared_memory = {smem_bytes(BM)} : i64}} {{""")
        constants()
        return
    if batched:
        b_at, given = (("B[n ldb + k]", "N x K, rows of K") if batched == "tn" else
                       ("B[k ldb + n]", "K x N, read with ldmatrix.trans"))
        what = f"C[e cBatch + m ldc + n] = sum_k A[e aBatch + m lda + k] * {b_at}"
        if swiglu:
            # The SwiGLU of a dense MLP (or shared expert): gate from B, up
            # from Bu, both at the same offsets and strides.
            what = (f"C[e cBatch + m ldc + n] = bf16(silu(g) * u), g and u the sums of\n"
                    f"  //   A[e aBatch + m lda + k] * {b_at} over B and over Bu;\n"
                    f"  // grid (ceil(2 N / {BN}), ceil(M / {BM}), batches): a block's {BN} packed\n"
                    f"  // columns are {BN // 2} gate and the same {BN // 2} up columns")
        emit(f"""  // Block tile {BM} x {BN}, K step {BK}, {WARPS_M} x {WARPS_N} warps, {THREADS} threads;
  // batch e is block z: for rows m < M and columns n < N,
  //   {what},
  // B from bBase + e bBatch, given {given}. Offsets
  // and strides in elements; A's and B's multiples of 8 (rows start
  // 16-byte aligned). K % 8 == 0.
  gpu.func @{name}(%A: memref<?xbf16>, %B: memref<?xbf16>,{stacks}
                                 %C: {out_type}, %M: index, %N: index, %K: index,
                                 %lda: index, %aBatch: index, %bBase: index,
                                 %bBatch: index, %ldb: index, %ldc: index,
                                 %cBatch: index)
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>,
                         dsc.tile = array<i64: {BM}, {BN}>,
                         dsc.dynamic_shared_memory = {smem_bytes(BM)} : i64}} {{""")
        constants()
        return
    what = {False: "C[r, n] in f32 [rows, N]",
            "packed": "D[r, j] = bf16(silu(bf16(gate)) * bf16(up)) into [rows, N / 2] (B packed for SwiGLU)",
            "stacks": "D[r, j] = bf16(silu(gate) * up) into [rows, N], gate from B, up from Bu"
            }[swiglu]
    tiles = ""
    if tiled:
        emit(f"""  // The M tiles listed: block (x, t) computes tile t of %tiles (moe_tiles:
  // [expert, first row] pairs, [-1, -1] past the last), so the grid is
  // (ceil({"2 N" if swiglu == "stacks" else "N"} / {BN}), tiles there may be) and no block is launched per expert
  // for rows it does not have.""")
        tiles = " %tiles: memref<?xi32>,"
    weights = f" %B: memref<?xbf16>,{stacks}"
    blocks = ""
    if W8:
        # e4m3 stacks [experts * N, K] and their scales [experts,
        # ceil(N / blockN), ceil(K / blockK)], as the checkpoint's experts
        # stack them.
        what += (";\n  // B (and Bu) e4m3 stacks with block scales sb (and sbu) [experts,\n"
                 "  // ceil(N / blockN), ceil(K / blockK)], each weight dequantized to bf16 as\n"
                 "  // dsc's CPU code does it, in shared memory per K step (see gemm_fp8w_bf16_tn_m64)")
        weights = (f" %B: memref<?xf8E4M3FN>,{stacks.replace('bf16', 'f8E4M3FN')}\n"
                   f"                                 %sb: memref<?xf32>,"
                   f"{' %sbu: memref<?xf32>,' if stacks else ''}")
        blocks = ", %blockN: index, %blockK: index"
    emit(f"""  // Block tile {BM} x {BN}, K step {BK}, {WARPS_M} x {WARPS_N} warps, {THREADS} threads;
  // {what}.
  // Its launch, as dsc-library-gemms reads it: dsc.tile is the rows x
  // columns {"(packed: half of them C's)" if swiglu else "of C"} one block computes, known_block_size its threads,
  // dsc.dynamic_shared_memory its bytes.
  gpu.func @{name}(%A: memref<?xbf16>,{weights}
                                 %C: {out_type}, %offsets: memref<?xi32>,{tiles}
                                 %N: index, %K: index{blocks})
      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>,
                         dsc.tile = array<i64: {BM}, {BN}>,
                         dsc.dynamic_shared_memory = {smem_bytes(BM)} : i64}} {{""")
    constants()


def constants():
    for value in sorted({0, 1, 2, 3, 4, 6, 7, 8, 16, 32, 64, BM, BN, BK, STAGES, CPR,
                         STAGES - 1, BK - 1,
                         THREADS, 256, 512} | {i * 16 for i in range(MT)} |
                        {i * 8 for i in range(NT)} | {WM, WN}):
        emit(f"    %c{value} = arith.constant {value} : index")
        names.add(f"c{value}")
    emit("    %zero = arith.constant 0.0 : f32")
    # The stages live in dynamic shared memory ({STAGES} x (A tile, B tile)
    # is more than the 48 KiB a kernel may declare statically).
    emit(f"""    %dyn = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %offB = arith.constant {STAGES * BM * BK * 2} : index
    %smA = memref.view %dyn[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to {SMEM_A}
    %smB = memref.view %dyn[%offB][] : memref<?xi8, #gpu.address_space<workgroup>> to {SMEM_B}""")
    if W8:
        emit(f"""    %offB8 = arith.constant {STAGES * BM * BK * 2 + BN * BK * 2} : index
    %smB8 = memref.view %dyn[%offB8][] : memref<?xi8, #gpu.address_space<workgroup>> to {SMEM_B8}
    %smB8w = memref.view %dyn[%offB8][] : memref<?xi8, #gpu.address_space<workgroup>> to {SMEM_B8W}""")


def swizzled(row, col_chunk, prefix, indent="    "):
    """Physical column (in elements) of 16-byte chunk `col_chunk` of `row`:
    the chunk index XOR (row / (8 / CPR)) % CPR, so that the 8 consecutive
    rows an ldmatrix reads land in 8 distinct 16-byte bank groups (a row
    is CPR chunks; 8 chunks make the 128 bytes of all 32 banks)."""
    shift = {8: 0, 4: 1, 2: 2}[CPR]
    emit(f"{indent}{v(prefix + '_r1')} = arith.shrui {row}, %c{shift} : index")
    emit(f"{indent}{v(prefix + '_r3')} = arith.remui %{prefix}_r1, %c{CPR} : index")
    emit(f"{indent}{v(prefix + '_x')} = arith.xori {col_chunk}, %{prefix}_r3 : index")
    emit(f"{indent}{v(prefix + '_col')} = arith.muli %{prefix}_x, %c8 : index")
    return f"%{prefix}_col"


def load_fragments(p, smem, smem_type, warp_row, tile_row, lane_row,
                   lane_chunk, kk, stage="%cur"):
    """ldmatrix.x4 of the 16 x 16 block at row warp_row + tile_row, K step kk,
    each lane addressing row lane_row and 16-byte chunk lane_chunk of it;
    returns the 4 registers as i32 words."""
    emit(f"      %{p}_row0 = arith.addi {warp_row}, %c{tile_row} : index")
    emit(f"      %{p}_row = arith.addi %{p}_row0, {lane_row} : index")
    emit(f"      %{p}_ch = arith.addi {lane_chunk}, %c{kk * 2} : index")
    col = swizzled(f"%{p}_row", f"%{p}_ch", p, indent="      ")
    emit(f"      %{p}_m = nvgpu.ldmatrix {smem}[{stage}, %{p}_row, {col}] "
         f"{{numTiles = 4 : i32, transpose = false}} : {smem_type} -> vector<4x2x{ELT}>")
    return fragment_registers(p)


def load_fragments_by_k(p, pair, kk, stage="%cur"):
    """B's fragments of n tiles 2 pair and 2 pair + 1 at K step kk from a
    tile stored K rows of N: ldmatrix.x4.trans of the 8 x 8 blocks (k half
    0, n half 0), (1, 0), (0, 1), (1, 1), lane l addressing k row l % 8 of
    block l / 8; transposed, each lane holds the column-major fragment
    mma.sync takes (two k values of one n)."""
    emit(f"      %{p}_row0 = arith.muli %lmid, %c8 : index")
    emit(f"      %{p}_row1 = arith.addi %{p}_row0, %l8 : index")
    emit(f"      %{p}_row = arith.addi %{p}_row1, %c{kk * 16} : index")
    emit(f"      %{p}_n0 = arith.addi %wn0, %c{pair * 16} : index")
    emit(f"      %{p}_n1 = arith.divui %{p}_n0, %c8 : index")
    emit(f"      %{p}_ch = arith.addi %{p}_n1, %lhi : index")
    emit(f"      %{p}_x = arith.xori %{p}_ch, %l8 : index")
    emit(f"      %{p}_col = arith.muli %{p}_x, %c8 : index")
    emit(f"      %{p}_m = nvgpu.ldmatrix %smB[{stage}, %{p}_row, %{p}_col] "
         f"{{numTiles = 4 : i32, transpose = true}} : {SMEM_B} -> vector<4x2x{ELT}>")
    return fragment_registers(p)


def fragment_registers(p):
    """The 4 registers of ldmatrix.x4 result %{p}_m as the i32 words mma
    takes (two 16-bit elements each)."""
    regs = []
    for r in range(4):
        emit(f"      %{p}_h{r} = vector.extract %{p}_m[{r}] : vector<2x{ELT}> from vector<4x2x{ELT}>")
        emit(f"      %{p}_w{r} = vector.bitcast %{p}_h{r} : vector<2x{ELT}> to vector<1xi32>")
        emit(f"      %{p}_{r} = vector.extract %{p}_w{r}[0] : i32 from vector<1xi32>")
        regs.append(f"%{p}_{r}")
    return regs


def body(swiglu=False, tiled=False, batched=None, per_head=False):
    """The kernel's body: grouped by `offsets` (or the listed `tiles`), or
    `batched` ("tn": B given N x K; "nn": K x N) with strides (`per_head`:
    an e4m3 weight's slabs of rows, see kernel_header)."""
    global BATCHED, END
    BATCHED, END = batched, "%M" if batched else "%end"
    stacks = swiglu == "stacks"
    if stacks:
        # A thread's B rows are tid / CPR + (THREADS / CPR) i: with 16 a
        # copy index i, which stack a copy reads (i % 2) is known here.
        assert THREADS // CPR == 16 and BN % 32 == 0
    # The block's place: its N tile (x), its M tile or listed tile (y), its
    # expert or batch (z).
    emit("    %e = gpu.block_id z" if not tiled else "    %tile = gpu.block_id y")
    if not tiled:
        emit("    %bm = gpu.block_id y")
    emit("""    %bn = gpu.block_id x
    %tid = gpu.thread_id x
    %lane = arith.remui %tid, %c32 : index
    %warp = arith.divui %tid, %c32 : index""")
    if batched and W8 and per_head:
        # Batch e's A and C start at e times their batch strides, its slab
        # of B at row bRow0 + e bRowBatch (its scales are read by row).
        emit("""    %aOrigin = arith.muli %e, %aBatch : index
    %cOrigin = arith.muli %e, %cBatch : index
    %bRowE0 = arith.muli %e, %bRowBatch : index
    %bRowE = arith.addi %bRowE0, %bRow0 : index
    %bColE = arith.muli %e, %bColBatch : index""")
    elif batched and W8:
        # One batch; B and its scales are read by row (w8_copy_setup).
        emit("""    %aOrigin = arith.constant 0 : index
    %cOrigin = arith.constant 0 : index""")
    elif batched:
        # Batch e's operands start at e times their batch strides.
        emit("""    %aOrigin = arith.muli %e, %aBatch : index
    %bOrigin0 = arith.muli %e, %bBatch : index
    %bOrigin = arith.addi %bOrigin0, %bBase : index
    %cOrigin = arith.muli %e, %cBatch : index""")
    elif tiled:
        # The block's tile: its expert and first row (a block past the last
        # tile exits; its clamped expert only keeps the loads in bounds).
        emit("""    %noTile = arith.constant 0 : i32
    %tAt = arith.muli %tile, %c2 : index
    %tAt1 = arith.addi %tAt, %c1 : index
    %tileE = memref.load %tiles[%tAt] : memref<?xi32>
    %tileRow = memref.load %tiles[%tAt1] : memref<?xi32>
    %inside = arith.cmpi sge, %tileE, %noTile : i32
    %eSafe = arith.maxsi %tileE, %noTile : i32
    %rowSafe = arith.maxsi %tileRow, %noTile : i32
    %e = arith.index_cast %eSafe : i32 to index
    %m0 = arith.index_cast %rowSafe : i32 to index
    %e1 = arith.addi %e, %c1 : index
    %end32 = memref.load %offsets[%e1] : memref<?xi32>
    %end = arith.index_cast %end32 : i32 to index""")
    else:
        emit("""    %e1 = arith.addi %e, %c1 : index
    %start32 = memref.load %offsets[%e] : memref<?xi32>
    %end32 = memref.load %offsets[%e1] : memref<?xi32>
    %start = arith.index_cast %start32 : i32 to index
    %end = arith.index_cast %end32 : i32 to index""")
    if FP8:
        emit("    %Kw = arith.divui %K, %c2 : index")
    if EDGES:
        emit(f"    %kRounded = arith.addi %K, %c{BK - 1} : index")
    if batched:
        emit(f"""    %m0 = arith.muli %bm, %c{BM} : index
    %inside = arith.cmpi ult, %m0, %M : index""")
    elif not tiled:
        emit(f"""    %mb = arith.muli %bm, %c{BM} : index
    %m0 = arith.addi %start, %mb : index
    %inside = arith.cmpi ult, %m0, %end : index""")
    emit(f"""    scf.if %inside {{
    %n0 = arith.muli %bn, %c{BN} : index""")
    if not batched:
        emit("""    %eN = arith.muli %e, %N : index
    %nb0 = arith.addi %eN, %n0 : index""")
    emit(f"""    %kTiles = arith.divui {"%kRounded" if EDGES else KW}, %c{BK} : index
    %lastTile = arith.subi %kTiles, %c1 : index""")
    if EDGES and not batched:
        emit("    %rowsB = arith.addi %eN, %N : index")
    # Each thread copies (tile rows * BK / 8) / THREADS 16-byte chunks of A
    # and of B per stage: chunk q is row q / CPR, chunk q % CPR of that row.
    copies = {"A": BM * BK // 8 // THREADS,
              "B": BN * BK // (16 if W8 else 8) // THREADS}
    # The operands' rows: A's and (unless B is K x N) B's, each chunk's
    # first element at K step 0 (%gbase) and the K it has left (%kr).
    rows = [("A", "%m0", END, "%lda", "%aOrigin")]
    if W8 and batched == "nn":
        w8_copy_setup_by_k(copies["B"])
    elif W8:
        w8_copy_setup(copies["B"], stacks, grouped=not batched,
                      per_head=per_head)
    elif batched != "nn":
        rows.append(("B", "%n0", "%N", "%ldb", "%bOrigin") if batched else
                    ("B", "%nb0", "%rowsB", KW, None))
    for op, rowBase, rowEnd, stride, origin in rows:
        if not batched:
            stride, origin = KW, None
        for i in range(copies[op]):
            p = f"{op}{i}"
            emit(f"    %q{p}a = arith.constant {i * THREADS} : index")
            emit(f"    %q{p} = arith.addi %tid, %q{p}a : index")
            emit(f"    %lrow{p} = arith.divui %q{p}, %c{CPR} : index")
            emit(f"    %lchunk{p} = arith.remui %q{p}, %c{CPR} : index")
            emit(f"    %lcol{p} = arith.muli %lchunk{p}, %c8 : index")
            swizzled(f"%lrow{p}", f"%lchunk{p}", f"st{p}")
            if op == "B" and stacks:
                # Packed column p = n0 + row is row (p / 32) 16 + p % 16 of
                # the gate stack (even copies) or the up stack (odd ones):
                # each warp's 32 columns are 16 gate columns, then the same
                # 16 up columns (the SwiGLU epilogue's pairing).
                emit(f"    %pk{p} = arith.addi %n0, %lrow{p} : index")
                emit(f"    %pkq{p} = arith.divui %pk{p}, %c32 : index")
                emit(f"    %pks{p} = arith.muli %pkq{p}, %c16 : index")
                emit(f"    %pkl{p} = arith.remui %pk{p}, %c16 : index")
                emit(f"    %wrow{p} = arith.addi %pks{p}, %pkl{p} : index")
                emit(f"    %grow{p} = arith.addi {'%c0' if batched else '%eN'}, %wrow{p} : index")
            else:
                emit(f"    %grow{p} = arith.addi {rowBase}, %lrow{p} : index")
            emit(f"    %goff{p} = arith.muli %grow{p}, {stride} : index")
            if origin:
                emit(f"    %gorg{p} = arith.addi %goff{p}, {origin} : index")
            emit(f"    %gbase{p} = arith.addi %{'gorg' if origin else 'goff'}{p}, %lcol{p} : index")
            if EDGES:
                # Elements of K left from this chunk's column at K step 0;
                # a row past the operand's rows copies none.
                if op == "B" and stacks:
                    emit(f"    %in{p} = arith.cmpi ult, %wrow{p}, %N : index")
                else:
                    emit(f"    %in{p} = arith.cmpi ult, %grow{p}, {rowEnd} : index")
                emit(f"    %kl{p} = arith.subi %K, %lcol{p} : index")
                emit(f"    %kr{p} = arith.select %in{p}, %kl{p}, %c0 : index")
    if batched == "nn" and not W8:
        # B given K x N: its tile is BK rows of k, BN / 8 chunks each; chunk
        # q is k row q / (BN / 8), n chunk q % (BN / 8), stored at chunk
        # XOR (k row % 8) (the 8 k rows one ldmatrix reads, 256 bytes
        # apart, land in 8 distinct bank groups). A chunk past N copies
        # what N has left of it.
        for i in range(copies["B"]):
            p = f"B{i}"
            emit(f"    %q{p}a = arith.constant {i * THREADS} : index")
            emit(f"    %q{p} = arith.addi %tid, %q{p}a : index")
            emit(f"    %lrow{p} = arith.divui %q{p}, %c{BN // 8} : index")
            emit(f"    %lchunk{p} = arith.remui %q{p}, %c{BN // 8} : index")
            emit(f"    %lsw{p} = arith.remui %lrow{p}, %c8 : index")
            emit(f"    %lx{p} = arith.xori %lchunk{p}, %lsw{p} : index")
            emit(f"    %st{p}_col = arith.muli %lx{p}, %c8 : index")
            emit(f"    %lcol{p} = arith.muli %lchunk{p}, %c8 : index")
            emit(f"    %ncol{p} = arith.addi %n0, %lcol{p} : index")
            emit(f"    %goff{p} = arith.muli %lrow{p}, %ldb : index")
            emit(f"    %gorg{p} = arith.addi %goff{p}, %bOrigin : index")
            emit(f"    %gbase{p} = arith.addi %gorg{p}, %ncol{p} : index")
            emit(f"    %nmax{p} = arith.maxsi %N, %ncol{p} : index")
            emit(f"    %nl{p} = arith.subi %nmax{p}, %ncol{p} : index")
            emit(f"    %nleft{p} = arith.minui %nl{p}, %c8 : index")
    # The copies of K tile %t into stage %s, committed as one group.
    counter = [0]

    def issue(tile, stage, indent="    "):
        counter[0] += 1
        k = counter[0]
        emit(f"{indent}%ko{k} = arith.muli {tile}, %c{BK} : index")
        if batched == "nn":
            emit(f"{indent}%kob{k} = arith.muli %ko{k}, %ldb : index")
        tokens = []
        for op, smem in (("A", SMEM_A), ("B", SMEM_B)):
            for i in range(copies[op]):
                p = f"{op}{i}"
                if op == "B" and W8 and batched == "nn":
                    # k row ko + row of the slab: 16 bytes of N, or none
                    # past N or K.
                    emit(f"{indent}%src{p}_{k} = arith.addi %gbase{p}, %kob{k} : index")
                    emit(f"{indent}%kk{p}_{k} = arith.addi %lrow{p}, %ko{k} : index")
                    emit(f"{indent}%kin{p}_{k} = arith.cmpi ult, %kk{p}_{k}, %K : index")
                    emit(f"{indent}%n{p}_{k} = arith.select %kin{p}_{k}, %w8nleft, %c0 : index")
                    emit(f"{indent}%tok{p}_{k} = nvgpu.device_async_copy %B[%src{p}_{k}], "
                         f"%smB8[{stage}, %lrow{p}, %w8col], 16, %n{p}_{k} {{bypassL1}} "
                         f": memref<?xf8E4M3FN> to {SMEM_B8}")
                    tokens.append(f"%tok{p}_{k}")
                    continue
                if op == "B" and W8:
                    # 16 e4m3 bytes, or what K has left of them.
                    emit(f"{indent}%src{p}_{k} = arith.addi %gbase{p}, %ko{k} : index")
                    emit(f"{indent}%kp{p}_{k} = arith.maxsi %kr{p}, %ko{k} : index")
                    emit(f"{indent}%kq{p}_{k} = arith.subi %kp{p}_{k}, %ko{k} : index")
                    emit(f"{indent}%n{p}_{k} = arith.minui %kq{p}_{k}, %c16 : index")
                    src = "%Bu" if stacks and i % 2 else "%B"
                    emit(f"{indent}%tok{p}_{k} = nvgpu.device_async_copy {src}[%src{p}_{k}], "
                         f"%smB8[{stage}, %lrow{p}, %w8col], 16, %n{p}_{k} {{bypassL1}} "
                         f": memref<?xf8E4M3FN> to {SMEM_B8}")
                    tokens.append(f"%tok{p}_{k}")
                    continue
                if op == "B" and batched == "nn":
                    # k row ko + row of B: all of N's chunk, or none past K.
                    emit(f"{indent}%src{p}_{k} = arith.addi %gbase{p}, %kob{k} : index")
                    emit(f"{indent}%kk{p}_{k} = arith.addi %lrow{p}, %ko{k} : index")
                    emit(f"{indent}%kin{p}_{k} = arith.cmpi ult, %kk{p}_{k}, %K : index")
                    emit(f"{indent}%n{p}_{k} = arith.select %kin{p}_{k}, %nleft{p}, %c0 : index")
                    emit(f"{indent}%tok{p}_{k} = nvgpu.device_async_copy %B[%src{p}_{k}], "
                         f"%smB[{stage}, %lrow{p}, %st{p}_col], 8, %n{p}_{k} {{bypassL1}} : memref<?x{ELT}> to {smem}")
                    tokens.append(f"%tok{p}_{k}")
                    continue
                emit(f"{indent}%src{p}_{k} = arith.addi %gbase{p}, %ko{k} : index")
                count = ""
                if EDGES:
                    # src-size: min(max(K left - k offset, 0), 8); the rest
                    # of the 16 bytes is zero-filled, nothing past it read.
                    emit(f"{indent}%kp{p}_{k} = arith.maxsi %kr{p}, %ko{k} : index")
                    emit(f"{indent}%kq{p}_{k} = arith.subi %kp{p}_{k}, %ko{k} : index")
                    emit(f"{indent}%n{p}_{k} = arith.minui %kq{p}_{k}, %c8 : index")
                    count = f", %n{p}_{k}"
                src = "%Bu" if op == "B" and stacks and i % 2 else f"%{op}"
                emit(f"{indent}%tok{p}_{k} = nvgpu.device_async_copy {src}[%src{p}_{k}], "
                     f"%sm{op}[{stage}, %lrow{p}, %st{p}_col], 8{count} {{bypassL1}} : memref<?x{ELT}> to {smem}")
                tokens.append(f"%tok{p}_{k}")
        emit(f"{indent}%grp{k} = nvgpu.device_async_create_group {', '.join(tokens)}")
        return f"%grp{k}"

    for s in range(STAGES - 1):
        # A K of one tile copies it twice rather than read past the rows.
        emit(f"    %pro{s} = arith.minui %c{s}, %lastTile : index")
        issue(f"%pro{s}", f"%c{s}")
    # ldmatrix addresses (logical row and 16-byte chunk within the tile).
    emit(f"""    %warpM = arith.divui %warp, %c{WARPS_N} : index
    %warpN = arith.remui %warp, %c{WARPS_N} : index
    %wm0 = arith.muli %warpM, %c{WM} : index
    %wn0 = arith.muli %warpN, %c{WN} : index
    %l16 = arith.remui %lane, %c16 : index
    %lhi = arith.divui %lane, %c16 : index
    %l8 = arith.remui %lane, %c8 : index
    %lmid0 = arith.divui %lane, %c8 : index
    %lmid = arith.remui %lmid0, %c2 : index
    %bnrow0 = arith.muli %lhi, %c8 : index
    %bnrow = arith.addi %bnrow0, %l8 : index""")
    acc = [f"%acc{i}" for i in range(MT * NT * 4)]
    inits = ", ".join(f"{a} = %zero" for a in acc)
    types = ", ".join(["f32"] * len(acc))
    emit(f"    %res:{len(acc)} = scf.for %kt = %c0 to %kTiles step %c1 iter_args({inits}) -> ({types}) {{")
    emit(f"      %ktn = arith.addi %kt, %c{STAGES - 1} : index")
    emit("      %ktc = arith.minui %ktn, %lastTile : index")
    emit(f"      %slot = arith.remui %ktn, %c{STAGES} : index")
    emit(f"      %cur = arith.remui %kt, %c{STAGES} : index")
    # Wait for tile kt (STAGES - 2 newer groups may stay in flight), make
    # sure every warp is done with the stage the next copies overwrite
    # (computed in step kt - 1), then start the copies of tile
    # kt + STAGES - 1 (the last tile again near the end: a group per step
    # keeps the wait count uniform).
    emit(f"      nvgpu.device_async_wait %grp1 {{numGroups = {STAGES - 2} : i32}}")
    emit("      gpu.barrier")
    issue("%ktc", "%slot", indent="      ")
    if W8:
        # The step's e4m3 tile (landed: waited for and past the barrier)
        # to bf16, then a barrier before any warp reads it.
        if batched == "nn":
            w8_convert_by_k(copies["B"])
        else:
            w8_convert(copies["B"], stacks, per_head)
        emit("      gpu.barrier")
    if FP8:
        promote_setup()
    # FP8: the step's products accumulate apart, from zero.
    cur = ["%zero"] * len(acc) if FP8 else list(acc)
    for kk in range(BK // 16):
        # A fragments: one ldmatrix.x4 per 16-row m tile; B fragments: one
        # per pair of 8-column n tiles.
        afr = [load_fragments(f"a{kk}_{mt}", "%smA", SMEM_A, "%wm0", mt * 16,
                              "%l16", "%lhi", kk)
               for mt in range(MT)]
        bfr = []
        for pair in range(NT // 2):
            if batched == "nn":
                regs = load_fragments_by_k(f"b{kk}_{pair}", pair, kk,
                                           stage="%c0" if W8 else "%cur")
            else:
                regs = load_fragments(f"b{kk}_{pair}", "%smB", SMEM_B, "%wn0",
                                      pair * 16, "%bnrow", "%lmid", kk,
                                      stage="%c0" if W8 else "%cur")
            bfr.append(regs[0:2])
            bfr.append(regs[2:4])
        nxt = []
        for mt in range(MT):
            for nt in range(NT):
                i = (mt * NT + nt) * 4
                d = f"%d{kk}_{mt}_{nt}"
                if FP8:
                    operands = afr[mt] + bfr[nt] + cur[i:i + 4]
                    emit(f"      {d} = {F8_MMA} {', '.join(operands)} : "
                         f"({', '.join(['i32'] * 6 + ['f32'] * 4)}) -> "
                         f"{MMA_RESULT}")
                else:
                    emit(f"      {d} = nvvm.mma.sync A[{', '.join(afr[mt])}] B[{', '.join(bfr[nt])}] "
                         f"C[{', '.join(cur[i:i + 4])}] {MMA_ATTRS} "
                         f": (i32, i32, f32) -> {MMA_RESULT}")
                for r in range(4):
                    emit(f"      {d}_{r} = llvm.extractvalue {d}[{r}] : {MMA_RESULT}")
                    nxt.append(f"{d}_{r}")
        cur = nxt
    if FP8:
        cur = promote(acc, cur)
    emit(f"      scf.yield {', '.join(cur)} : {types}")
    emit("    }")
    # Drain the copies still in flight before the block exits.
    emit("    nvgpu.device_async_wait %grp1 {numGroups = 0 : i32}")
    # Epilogue: C regs (row g, n 2t..2t+1) and (row g+8, n 2t..2t+1).
    emit("""    %g = arith.divui %lane, %c4 : index
    %t = arith.remui %lane, %c4 : index
    %t2 = arith.muli %t, %c2 : index""")
    if swiglu:
        swiglu_epilogue(stacks)
    else:
        store_epilogue()
    emit("    }")
    emit("    gpu.return")
    emit("  }")


def w8_copy_setup(count, stacks, grouped, per_head=False):
    """e4m3 B (W8): each thread's `count` 16-byte chunks of a K step's
    BN x BK tile. Thread t copies chunk t % 4 of rows r0 + 16 (i % 2) +
    64 (i / 2), r0 = (t / 4) % 16 + 32 ((t / 4) / 16): copy i's rows all
    lie in the 16-row halves of one parity, so that with two `stacks` the
    even copies read gate and the odd ones up (packed rows 32 c + j, j < 16,
    are gate's rows 16 c + j; the swiglu_epilogue's pairing), as for bf16.
    A warp's 32 chunks are 8 rows' 64 bytes: coalesced, and conflict-free
    in the ring, which is not swizzled. Each chunk's scale row is its
    weight row's block (row 0's for rows past N, which copy nothing); a
    `grouped` kernel's weight is expert e's of its stack, rows eN + n,
    scale rows e ceil(N / blockN) + n / blockN; a `per_head` one's is
    batch e's slab, rows r = bRowE + n of a weight of rows ldb long, scale
    rows r / blockRows of ceil(ldb / blockCols) scales."""
    assert THREADS // (BK // 16) == 32 and count * 32 == BN
    emit("""    %w8t4 = arith.divui %tid, %c4 : index
    %w8lo = arith.remui %w8t4, %c16 : index
    %w8hi0 = arith.divui %w8t4, %c16 : index
    %w8hi = arith.muli %w8hi0, %c32 : index
    %w8r0 = arith.addi %w8lo, %w8hi : index
    %w8ch = arith.remui %tid, %c4 : index
    %w8col = arith.muli %w8ch, %c16 : index
    %w8word = arith.muli %w8ch, %c4 : index
    %w8ch2 = arith.muli %w8ch, %c2 : index
    %w8ch21 = arith.addi %w8ch2, %c1 : index""")
    block_n, block_k = ("%blockRows", "%blockCols") if per_head else ("%blockN", "%blockK")
    # (%kBlocks is unused by a per-head kernel; kernels-emulated.test's
    # planted bugs put it where %w8kbLast is, in every kernel.)
    emit(f"""    %w8bk1 = arith.subi {block_k}, %c1 : index
    %w8kb0 = arith.addi %K, %w8bk1 : index
    %kBlocks = arith.divui %w8kb0, {block_k} : index""")
    if per_head:
        # The batch's columns start at bColE: its last scale block is its
        # last column's; a row has ceil(ldb / blockCols) of them.
        emit(f"""    %w8kEnd = arith.addi %bColE, %K : index
    %w8kEnd1 = arith.subi %w8kEnd, %c1 : index
    %w8kbLast = arith.divui %w8kEnd1, {block_k} : index""")
        scale_row_length()
    else:
        emit("    %w8kbLast = arith.subi %kBlocks, %c1 : index")
    w8_constants()
    if grouped:
        emit("""    %w8bn1 = arith.subi %blockN, %c1 : index
    %w8nb0 = arith.addi %N, %w8bn1 : index
    %w8nBlocks = arith.divui %w8nb0, %blockN : index
    %w8eBlocks = arith.muli %e, %w8nBlocks : index""")
    for i in range(count):
        p = f"B{i}"
        emit(f"    %w8o{i} = arith.constant {16 * (i % 2) + 64 * (i // 2)} : index")
        emit(f"    %lrow{p} = arith.addi %w8r0, %w8o{i} : index")
        if stacks:
            emit(f"    %pk{p} = arith.addi %n0, %lrow{p} : index")
            emit(f"    %pkq{p} = arith.divui %pk{p}, %c32 : index")
            emit(f"    %pks{p} = arith.muli %pkq{p}, %c16 : index")
            emit(f"    %pkl{p} = arith.remui %pk{p}, %c16 : index")
            emit(f"    %wrow{p} = arith.addi %pks{p}, %pkl{p} : index")
            row = f"%wrow{p}"
        else:
            emit(f"    %grow{p} = arith.addi %n0, %lrow{p} : index")
            row = f"%grow{p}"
        emit(f"    %in{p} = arith.cmpi ult, {row}, %N : index")
        local = row
        if grouped or per_head:
            emit(f"    %wglob{p} = arith.addi {'%eN' if grouped else '%bRowE'}, {row} : index")
            row = f"%wglob{p}"
        emit(f"    %goff{p} = arith.muli {row}, {'%ldb' if per_head else '%K'} : index")
        if per_head:
            emit(f"    %goffc{p} = arith.addi %goff{p}, %bColE : index")
        emit(f"    %gbase{p} = arith.addi %goff{'c' if per_head else ''}{p}, %w8col : index")
        emit(f"    %kl{p} = arith.subi %K, %w8col : index")
        emit(f"    %kr{p} = arith.select %in{p}, %kl{p}, %c0 : index")
        emit(f"    %sr{p}a = arith.divui {row if per_head else local}, {block_n} : index")
        if grouped:
            emit(f"    %sr{p}e = arith.addi %sr{p}a, %w8eBlocks : index")
            emit(f"    %sr{p} = arith.select %in{p}, %sr{p}e, %c0 : index")
        else:
            emit(f"    %sr{p} = arith.select %in{p}, %sr{p}a, %c0 : index")
        emit(f"    %sbase{p} = arith.muli %sr{p}, {'%w8sCols' if per_head else '%kBlocks'} : index")
        # Where the chunk's two halves go in the bf16 tile.
        for h in range(2):
            swizzled(f"%lrow{p}", "%w8ch2" if h == 0 else "%w8ch21", f"cv{p}_{h}")


def w8_constants():
    """The constants of w8_convert's decoding."""
    emit("""    %w8s8 = arith.constant 8 : i32
    %w8s16 = arith.constant 16 : i32
    %w8s20 = arith.constant 20 : i32
    %w8s24 = arith.constant 24 : i32
    %w8sign = arith.constant 128 : i32
    %w8mag = arith.constant 127 : i32
    %w8nanBits = arith.constant 133169152 : i32
    %w8pow = arith.constant 0x7B800000 : f32
    %w8nan = arith.constant 0x7FC00000 : f32""")


def scale_row_length():
    """A per-head kernel's scales a weight row has: ceil(ldb / blockCols)
    (%w8sCols)."""
    emit("""    %w8bc1 = arith.subi %blockCols, %c1 : index
    %w8sc0 = arith.addi %ldb, %w8bc1 : index
    %w8sCols = arith.divui %w8sc0, %blockCols : index""")


def w8_copy_setup_by_k(count):
    """e4m3 B given K x N (W8, per_head): each thread's `count` 16-byte
    chunks of a K step's BK x BN tile, batch e's slab at rows bRowE + k of
    a weight of rows ldb long. Thread t copies chunk t % 8 (the 16
    columns n0 + 16 (t % 8)) of k rows t / 8 + 16 i: a warp's 32 chunks
    are 4 rows' 128 bytes, coalesced, and conflict-free in the ring (not
    swizzled); batch e's columns start at bColE. A chunk past N copies
    nothing (N % 16 == 0) and reads scale column 0. Each half of 8 values
    goes to its 16-byte chunk of the bf16 tile XOR (k row % 8), where the
    bf16 copies put it (load_fragments_by_k); a thread's rows agree mod 8.
    Threads of chunks 4 to 7 store their second half first (%w8swap): the
    8 threads of a row, whose stores one shared-memory phase serves, then
    write 8 distinct bank groups (2 pairs to a group otherwise)."""
    assert THREADS // (BN // 16) * count == BK
    emit(f"""    %w8ch = arith.remui %tid, %c8 : index
    %w8col = arith.muli %w8ch, %c16 : index
    %w8word = arith.muli %w8ch, %c4 : index
    %w8lr = arith.divui %tid, %c8 : index
    %w8sw = arith.remui %w8lr, %c8 : index
    %w8ch2 = arith.muli %w8ch, %c2 : index
    %w8ch21 = arith.addi %w8ch2, %c1 : index
    %w8x0 = arith.xori %w8ch2, %w8sw : index
    %w8x1 = arith.xori %w8ch21, %w8sw : index
    %w8d0 = arith.muli %w8x0, %c8 : index
    %w8d1 = arith.muli %w8x1, %c8 : index
    %w8n = arith.addi %n0, %w8col : index
    %w8nin = arith.cmpi ult, %w8n, %N : index
    %w8nleft = arith.select %w8nin, %c16, %c0 : index
    %w8nc = arith.addi %bColE, %w8n : index
    %w8scol0 = arith.divui %w8nc, %blockCols : index
    %w8scol = arith.select %w8nin, %w8scol0, %c0 : index
    %w8swap = arith.cmpi uge, %w8ch, %c4 : index""")
    scale_row_length()
    w8_constants()
    for i in range(count):
        p = f"B{i}"
        emit(f"    %w8o{i} = arith.constant {(THREADS // (BN // 16)) * i} : index")
        emit(f"    %lrow{p} = arith.addi %w8lr, %w8o{i} : index")
        emit(f"    %grow{p} = arith.addi %bRowE, %lrow{p} : index")
        emit(f"    %goff{p} = arith.muli %grow{p}, %ldb : index")
        emit(f"    %gbase{p} = arith.addi %goff{p}, %w8nc : index")


def w8_convert_by_k(count):
    """w8_convert for B given K x N: chunk i's k row kt BK + row of the
    slab (row 0 past K, whose zeros any scale keeps) picks its scale row;
    its columns' block, the scale column."""
    emit(f"      %w8k = arith.muli %kt, %c{BK} : index")
    for i in range(count):
        p = f"B{i}"
        emit(f"      %cvk{i} = arith.addi %w8k, %lrow{p} : index")
        emit(f"      %cvkin{i} = arith.cmpi ult, %cvk{i}, %K : index")
        emit(f"      %cvkr{i} = arith.select %cvkin{i}, %cvk{i}, %c0 : index")
        emit(f"      %cvr{i} = arith.addi %bRowE, %cvkr{i} : index")
        emit(f"      %cvsr{i} = arith.divui %cvr{i}, %blockRows : index")
        emit(f"      %cvsa{i} = arith.muli %cvsr{i}, %w8sCols : index")
        emit(f"      %cvAt{i} = arith.addi %cvsa{i}, %w8scol : index")
        emit(f"      %cvs{i} = memref.load %sb[%cvAt{i}] : memref<?xf32>")
        w8_convert_chunk(i, p, ["%w8d0", "%w8d1"], swap="%w8swap")


def w8_convert(count, stacks, per_head=False):
    """e4m3 B (W8): this thread's chunks of the step's tile from the ring
    (stage %cur) to bf16 in the B tile, each value bf16(w * scale) as
    TensorMath::dequantizeByBlocks computes it. A byte's magnitude bits
    shifted into place make an f32 of value w * 2^-120 (normal and
    subnormal e4m3 alike, an f32 subnormal for the latter: no flush to
    zero is asked for), times 2^120 exactly; S.1111.111 is NaN. A chunk's
    16 values lie in one scale block (whose columns are a multiple of 16);
    a chunk past K (zeros) reads the last block's scale. A `per_head`
    kernel's columns start at bColE, its blocks' columns are blockCols."""
    block_k = "%blockCols" if per_head else "%blockK"
    if per_head:
        emit(f"""      %w8k0 = arith.muli %kt, %c{BK} : index
      %w8k = arith.addi %w8k0, %bColE : index""")
    else:
        emit(f"      %w8k = arith.muli %kt, %c{BK} : index")
    emit(f"""      %w8kc = arith.addi %w8k, %w8col : index
      %w8kbq = arith.divui %w8kc, {block_k} : index
      %w8kb = arith.minui %w8kbq, %w8kbLast : index""")
    for i in range(count):
        p = f"B{i}"
        scales = "%sbu" if stacks and i % 2 else "%sb"
        emit(f"      %cvAt{i} = arith.addi %sbase{p}, %w8kb : index")
        emit(f"      %cvs{i} = memref.load {scales}[%cvAt{i}] : memref<?xf32>")
        w8_convert_chunk(i, p, [f"%cv{p}_0_col", f"%cv{p}_1_col"])


def w8_convert_chunk(i, p, columns, swap=None):
    """Chunk i's 16 e4m3 bytes (row %lrow{p}, words %w8word on, of the
    ring's stage %cur) times its scale %cvs{i} to bf16 (see w8_convert),
    its two halves stored at `columns` of row %lrow{p} of the B tile; the
    second first where `swap` (an i1) holds."""
    emit(f"      %cvw{i} = vector.load %smB8w[%cur, %lrow{p}, %w8word] : {SMEM_B8W}, vector<4xi32>")
    values = []
    for w in range(4):
        word = f"%cvw{i}_{w}"
        emit(f"      {word} = vector.extract %cvw{i}[{w}] : i32 from vector<4xi32>")
        for j in range(4):
            q = f"{i}_{4 * w + j}"
            x = word
            if j:
                emit(f"      %cvx{q} = arith.shrui {word}, %w8s{8 * j} : i32")
                x = f"%cvx{q}"
            emit(f"      %cvg{q}a = arith.andi {x}, %w8sign : i32")
            emit(f"      %cvg{q} = arith.shli %cvg{q}a, %w8s24 : i32")
            emit(f"      %cvm{q}a = arith.andi {x}, %w8mag : i32")
            emit(f"      %cvm{q} = arith.shli %cvm{q}a, %w8s20 : i32")
            emit(f"      %cvb{q} = arith.ori %cvg{q}, %cvm{q} : i32")
            emit(f"      %cvf{q} = arith.bitcast %cvb{q} : i32 to f32")
            emit(f"      %cvv{q} = arith.mulf %cvf{q}, %w8pow : f32")
            emit(f"      %cvn{q} = arith.cmpi eq, %cvm{q}, %w8nanBits : i32")
            emit(f"      %cvq{q} = arith.select %cvn{q}, %w8nan, %cvv{q} : f32")
            emit(f"      %cvy{q} = arith.mulf %cvq{q}, %cvs{i} : f32")
            emit(f"      %cvz{q} = arith.truncf %cvy{q} : f32 to bf16")
            values.append(f"%cvz{q}")
    halves = []
    for h in range(2):
        emit(f"      %cvh{i}_{h} = vector.from_elements {', '.join(values[8 * h:8 * h + 8])} : vector<8xbf16>")
        halves.append((f"%cvh{i}_{h}", columns[h]))
    if swap:
        (v0, c0), (v1, c1) = halves
        for h, (a, b) in enumerate(((0, 1), (1, 0))):
            emit(f"      %cvo{i}_{h} = arith.select {swap}, {(v0, v1)[b]}, {(v0, v1)[a]} : vector<8xbf16>")
            emit(f"      %cvc{i}_{h} = arith.select {swap}, {(c0, c1)[b]}, {(c0, c1)[a]} : index")
        halves = [(f"%cvo{i}_{h}", f"%cvc{i}_{h}") for h in range(2)]
    for value, column in halves:
        emit(f"      vector.store {value}, %smB[%c0, %lrow{p}, {column}] : {SMEM_B}, vector<8xbf16>")


def promote_setup():
    """FP8: this thread's rows (g and g + 8 of each m tile) and the index
    of its block's weight scales, for the loop's promotions."""
    emit("""      %pg = arith.divui %lane, %c4 : index
      %pRow0 = arith.addi %m0, %wm0 : index
      %pRowG = arith.addi %pRow0, %pg : index
      %nScaleRow0 = arith.addi %eN, %n0 : index
      %nScaleRow = arith.divui %nScaleRow0, %c128 : index
      %sbAt0 = arith.muli %nScaleRow, %kTiles : index
      %sbAt = arith.addi %sbAt0, %kt : index
      %sbv = memref.load %sb[%sbAt] : memref<?xf32>""")
    for mt in range(MT):
        for half in (0, 8):
            r = f"{mt}_{half}"
            emit(f"      %pr{r}a = arith.addi %pRowG, %c{mt * 16} : index")
            emit(f"      %pr{r} = arith.addi %pr{r}a, %c{half} : index")
            emit(f"      %sa{r}At0 = arith.muli %pr{r}, %kTiles : index")
            emit(f"      %sa{r}At = arith.addi %sa{r}At0, %kt : index")
            emit(f"      %sa{r} = memref.load %sa[%sa{r}At] : memref<?xf32>")
            emit(f"      %ps{r} = arith.mulf %sa{r}, %sbv : f32")


def promote(acc, step):
    """FP8: the running sums plus the step's products times the row's
    activation scale and the block's weight scale."""
    out = []
    for mt in range(MT):
        for nt in range(NT):
            for r in range(4):
                i = (mt * NT + nt) * 4 + r
                scale = f"%ps{mt}_{0 if r < 2 else 8}"
                emit(f"      %pm{i} = math.fma {step[i]}, {scale}, {acc[i]} : f32")
                out.append(f"%pm{i}")
    return out


def row_guards(mt):
    """Whether this thread's rows of m tile `mt` (g and g + 8) are the
    expert's (EDGES only)."""
    if EDGES:
        emit(f"    %rv{mt} = arith.cmpi ult, %er{mt}, {END} : index")
        emit(f"    %rv{mt}8 = arith.cmpi ult, %er{mt}8, {END} : index")


def guarded_store(value, memref_type, index, row, col, limit):
    """C[index] = value; with EDGES only where the row is the expert's and
    the column below `limit`."""
    store = f"memref.store {value}, %C[{index}] : {memref_type}"
    if not EDGES:
        emit(f"    {store}")
        return
    ok = index.replace("%", "%ok")
    emit(f"    {ok}c = arith.cmpi ult, {col}, {limit} : index")
    emit(f"    {ok} = arith.andi {row}, {ok}c : i1")
    emit(f"    scf.if {ok} {{")
    emit(f"      {store}")
    emit("    }")


def output_rows(mt, row_stride):
    """This thread's output rows of m tile `mt` (g and g + 8: %er{mt},
    %er{mt}8), where they start in C (%eo{mt}, %eo{mt}8: rows `row_stride`
    apart; batched, %ldc apart from the batch's origin) and their guards."""
    emit(f"    %er{mt}a = arith.addi %m0, %wm0 : index")
    emit(f"    %er{mt}b = arith.addi %er{mt}a, %c{mt * 16} : index")
    emit(f"    %er{mt} = arith.addi %er{mt}b, %g : index")
    emit(f"    %er{mt}8 = arith.addi %er{mt}, %c8 : index")
    for half in ("", "8"):
        if BATCHED:
            emit(f"    %eo{mt}{half}a = arith.muli %er{mt}{half}, %ldc : index")
            emit(f"    %eo{mt}{half} = arith.addi %eo{mt}{half}a, %cOrigin : index")
        else:
            emit(f"    %eo{mt}{half} = arith.muli %er{mt}{half}, {row_stride} : index")
    row_guards(mt)


def store_epilogue():
    """C in f32, the accumulators as they are."""
    for mt in range(MT):
        output_rows(mt, "%N")
        for nt in range(NT):
            i = (mt * NT + nt) * 4
            emit(f"    %ec{mt}_{nt}a = arith.addi %n0, %wn0 : index")
            emit(f"    %ec{mt}_{nt}b = arith.addi %ec{mt}_{nt}a, %c{nt * 8} : index")
            emit(f"    %ec{mt}_{nt} = arith.addi %ec{mt}_{nt}b, %t2 : index")
            emit(f"    %ec{mt}_{nt}p = arith.addi %ec{mt}_{nt}, %c1 : index")
            for r, (row, col) in enumerate([("", ""), ("", "p"), ("8", ""), ("8", "p")]):
                emit(f"    %ei{mt}_{nt}_{r} = arith.addi %eo{mt}{row}, %ec{mt}_{nt}{col} : index")
                guarded_store(f"%res#{i + r}", "memref<?xf32>", f"%ei{mt}_{nt}_{r}",
                              f"%rv{mt}{row}", f"%ec{mt}_{nt}{col}", "%N")


def swiglu_epilogue(stacks):
    """SwiGLU fused into the gate+up GEMM. B's rows are packed so that each
    warp's 32 columns are 16 gate columns then the same 16 up columns
    (packed row 32 c + i is gate row 16 c + i, 32 c + 16 + i is up row
    16 c + i): n tiles 0, 1 hold gate and tiles 2, 3 the matching up values
    in the same registers of the same thread. Output column of packed
    column p (a gate column) is p / 32 * 16 + p % 16.
    Packed B (N its packed rows): rounding as transformers' bf16 MLP, gate
    and up rounded to bf16, silu in f32 rounded to bf16, the product
    rounded to bf16. Two `stacks` (N the output's columns): dsc's model,
    silu(gate) * up in f32 rounded once (TensorMath::swiglu, then the down
    projection's bf16 input)."""
    width = "%N" if stacks else "%halfN"
    emit("    %one = arith.constant 1.0 : f32")
    if not stacks:
        emit("    %halfN = arith.divui %N, %c2 : index")
    emit("""    %ocol0 = arith.addi %n0, %wn0 : index
    %ocol = arith.divui %ocol0, %c2 : index""")
    for mt in range(MT):
        output_rows(mt, width)
        for nt in range(NT // 2):
            gate = (mt * NT + nt) * 4
            up = (mt * NT + nt + NT // 2) * 4
            p = f"{mt}_{nt}"
            emit(f"    %sc{p}a = arith.addi %ocol, %c{nt * 8} : index")
            emit(f"    %sc{p} = arith.addi %sc{p}a, %t2 : index")
            emit(f"    %sc{p}p = arith.addi %sc{p}, %c1 : index")
            for r, (row, col) in enumerate([("", ""), ("", "p"), ("8", ""), ("8", "p")]):
                q = f"{p}_{r}"
                gf, uf = f"%res#{gate + r}", f"%res#{up + r}"
                if not stacks:
                    emit(f"    %gb{q} = arith.truncf {gf} : f32 to bf16")
                    emit(f"    %gf{q} = arith.extf %gb{q} : bf16 to f32")
                    emit(f"    %ub{q} = arith.truncf {uf} : f32 to bf16")
                    emit(f"    %uf{q} = arith.extf %ub{q} : bf16 to f32")
                    gf, uf = f"%gf{q}", f"%uf{q}"
                emit(f"    %ng{q} = arith.negf {gf} : f32")
                emit(f"    %ex{q} = math.exp %ng{q} : f32")
                emit(f"    %de{q} = arith.addf %one, %ex{q} : f32")
                emit(f"    %si{q} = arith.divf {gf}, %de{q} : f32")
                silu = f"%si{q}"
                if not stacks:
                    emit(f"    %sb{q} = arith.truncf %si{q} : f32 to bf16")
                    emit(f"    %sf{q} = arith.extf %sb{q} : bf16 to f32")
                    silu = f"%sf{q}"
                emit(f"    %pr{q} = arith.mulf {silu}, {uf} : f32")
                emit(f"    %pb{q} = arith.truncf %pr{q} : f32 to bf16")
                emit(f"    %si{q}i = arith.addi %eo{mt}{row}, %sc{p}{col} : index")
                guarded_store(f"%pb{q}", "memref<?xbf16>", f"%si{q}i",
                              f"%rv{mt}{row}", f"%sc{p}{col}", width)


file_header()
# FP8: the 64-row tile only (a 128-row one would take 16 warps of 32 x 32,
# 128 registers each: too few for both sets of sums).
for bm, suffix in (((64, "_m64"),) if FP8 else ((128, ""), (64, "_m64"))):
    variants = (((False, "grouped_gemm_fp8_tn"),) if FP8 else
                ((False, "grouped_gemm_bf16_tn"), ("packed", "grouped_gemm_swiglu_bf16_tn")))
    for swiglu, name in variants:
        configure(bm)
        kernel_header(name + suffix, swiglu)
        body(swiglu)
# The model's routed experts (dsc-library-gemms): the 64-row tile over the
# tiles moe_tiles lists.
if not FP8:
    configure(64)
    kernel_header("grouped_gemm_bf16_tn_m64_tiled", False, tiled=True)
    body(tiled=True)
    # Their gate and up projections with SwiGLU fused, the two stacks read
    # as the checkpoint stores them: D = bf16(silu(x Wg^T) * (x Wu^T)) in
    # expert order, the down projection's A. Grid (ceil(2 N / BN), tiles).
    kernel_header("grouped_gemm_swiglu_bf16_tn_m64_tiled", "stacks", tiled=True)
    body(swiglu="stacks", tiled=True)
    # The same two for an FP8 checkpoint's expert stacks: e4m3 with block
    # scales, read as stored.
    configure(64, fp8_weights=True)
    kernel_header("grouped_gemm_fp8w_bf16_tn_m64_tiled", False, tiled=True)
    body(tiled=True)
    kernel_header("grouped_gemm_swiglu_fp8w_bf16_tn_m64_tiled", "stacks", tiled=True)
    body(swiglu="stacks", tiled=True)
# The attention's per-head products (dsc-library-gemms), heads as batches:
# the absorbed queries (q_nope times W_UK, which kv_b stores K x N) and the
# values (the attention's latent output times W_UV, N x K), each head's
# slab of kv_b read where the checkpoint puts it. A linear layer is one
# batch of the tn kernel (its rows' count an argument: no offsets to
# write), the 128-row tile for GEMMs with many rows.
if not FP8:
    for bm, layout in ((64, "tn"), (64, "nn"), (128, "tn")):
        configure(bm, b_by_k=layout == "nn")
        kernel_header(f"batched_gemm_bf16_{layout}" + ("_m64" if bm == 64 else ""),
                      False, batched=layout)
        body(batched=layout)
    # A dense MLP's (or shared expert's) gate and up with SwiGLU fused,
    # one batch: bf16(silu(x Wg^T) * (x Wu^T)), the down projection's input.
    configure(64)
    kernel_header("batched_gemm_swiglu_bf16_tn_m64", "stacks", batched="tn")
    body(swiglu="stacks", batched="tn")
    # The same two for a linear layer whose weight is e4m3 with block
    # scales (an FP8 checkpoint's), the weight read as stored.
    configure(64, fp8_weights=True)
    kernel_header("gemm_fp8w_bf16_tn_m64", False, batched="tn")
    body(batched="tn")
    kernel_header("gemm_swiglu_fp8w_bf16_tn_m64", "stacks", batched="tn")
    body(swiglu="stacks", batched="tn")
    # The per-head products over an FP8 kv_b (e4m3 with block scales), each
    # head's slab of W_UK (K x N) and W_UV (N x K) read as stored: an FP8
    # checkpoint's absorbed decode dequantizes nothing to memory.
    for layout in ("tn", "nn"):
        configure(64, b_by_k=layout == "nn", fp8_weights=True)
        kernel_header(f"batched_gemm_fp8w_bf16_{layout}_m64", False, batched=layout,
                      per_head=True)
        body(batched=layout, per_head=True)
emit("}")
emit("}")
print("\n".join(out))
