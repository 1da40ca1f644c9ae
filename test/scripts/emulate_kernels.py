#!/usr/bin/env python3
"""Runs kernels of codegen/kernels/ on the CPU emulator
(codegen/kernels/simt_emulator.py) against NumPy references.

usage: emulate_kernels.py [--fail-fast] CHECK GENERIC.mlir [GENERIC.mlir ...]
  CHECK: grouped-gemm, batched-gemm, fp8w-gemm, grouped-gemm-wgmma, grouped-gemm-wgmma-tn, grouped-gemm-fp8,
         grouped-gemm-fp8-wgmma, moe-dispatch,
         rmsnorm, quant-fp8, moe-pipeline, mla-decode,
         mla-decode-wgmma, mla-prefill, mla-prefill-wgmma, moe-route,
         rope, routed-experts, fp8w-weights, wgmma-linear, head-products,
         head-products-fp8, split-k,
         split-reductions or
         paged-attention (host code:
         dsc-library-gemms' output)

GENERIC.mlir are the kernel files in generic form (mlir-opt
--mlir-print-op-generic); moe-pipeline takes moe_route, moe_dispatch and
grouped_gemm_bf16. grouped-gemm checks the emulator itself: that
kernel's results on an H200 matched the CPU (docs/performance.md), so the
emulator's fragment layouts must reproduce them. Prints one line per check;
exits 1 on a mismatch or an emulation error (a race, an out-of-bounds
access, a read before its cp.async wait). --fail-fast stops at the first
mismatch of a kernel's output or of the e4m3 codes (the tests' broken
kernels need show only one); the other checks' mismatches do not stop it.
"""
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "codegen", "kernels"))
import simt_emulator as emu  # noqa: E402


def bf16(values):
    """float32 values rounded to bf16: (bit patterns, their float32 values)."""
    bits = emu._f32_to_bf16(np.asarray(values, np.float32))
    return bits, emu._bits_to_f32(bits)


FAIL_FAST = False


def stop_on_mismatch(ok):
    """With --fail-fast, exits 1 when a check just printed a mismatch."""
    if FAIL_FAST and not ok:
        sys.stdout.flush()
        sys.exit(1)


def verdict(label, got, want, tolerance, also=True):
    """Prints and returns whether `got` is finite and within `tolerance` of
    `want`, relative to want's largest magnitude (and `also` holds)."""
    err = float(np.abs(got - want).max() / np.abs(want).max())
    ok = bool(np.isfinite(got).all()) and err < tolerance and also
    print(f"{label}: max error {err:.1e} of the largest output "
          f"{'ok' if ok else 'MISMATCH'}")
    stop_on_mismatch(ok)
    return ok


def swiglu_verdict(label, got, g, u, also=True):
    """The verdict on `got`, a SwiGLU's bf16 output (as float32), against
    bf16(silu(g) * u) of the f32 sums g and u (dsc's model's one rounding):
    within a bf16 step and all but a few bit-equal (f32 sums in another
    order may round the other way). `label` ends with the share bit-equal
    and a closing parenthesis."""
    want = bf16((g / (np.float32(1) + np.exp(-g))) * u)[1]
    same = float(np.mean(got == want))
    return verdict(f"{label}; {100 * same:.1f}% bit-equal)", got, want, 4e-3,
                   also=also and same > 0.99)


def grouped_gemm(kernels):
    """Two experts of 64 and 40 rows (padded to 64) over K = 128 (fewer
    K tiles than the ring has stages), N = 128: the m64 kernel. Then the
    edges, on both tiles: experts of 70 and 5 rows, unpadded, K = 200 (a
    last K step of 8) and N = 136 (a last column block of 8), A, B and C
    exactly their sizes (a read or write past them is an error), and a
    plain GEMM (one expert) of 3 rows, as a decode step's linear layer."""
    rng = np.random.default_rng(3)
    rows, n, k, experts = 128, 128, 128, 2
    a_bits, a = bf16(rng.standard_normal((rows, k)))
    b_bits, b = bf16(rng.standard_normal((experts * n, k)))
    offsets = np.array([0, 64, 128], np.int32)
    c = np.full(rows * n, np.nan, np.float32)
    args = [emu.global_memref(a_bits), emu.global_memref(b_bits),
            emu.global_memref(c), emu.global_memref(offsets), n, k]
    emu.run_kernel(kernels["grouped_gemm_bf16_tn_m64"], (n // 128, 1, experts),
                   128, 4 * (64 + 128) * 64 * 2, args)
    want = np.concatenate([a[0:64] @ b[0:n].T, a[64:128] @ b[n:2 * n].T])
    ok = verdict("grouped_gemm_bf16_tn_m64", c.reshape(rows, n), want, 1e-5)
    for offsets in (np.array([0, 70, 75], np.int32), np.array([0, 3], np.int32)):
        experts, rows = len(offsets) - 1, int(offsets[-1])
        n, k = 136, 200
        a_bits, a = bf16(rng.standard_normal((rows, k)))
        b_bits, b = bf16(rng.standard_normal((experts * n, k)))
        want = np.concatenate([a[offsets[e]:offsets[e + 1]] @ b[e * n:(e + 1) * n].T
                               for e in range(experts)])
        for bm, suffix in ((64, "_m64"), (128, "")):
            c = np.full(rows * n, np.nan, np.float32)
            blocks = -(-int(np.diff(offsets).max()) // bm)
            emu.run_kernel(kernels["grouped_gemm_bf16_tn" + suffix],
                           (-(-n // 128), blocks, experts), 32 * 4 * bm // 64,
                           4 * (bm + 128) * 64 * 2,
                           [emu.global_memref(a_bits), emu.global_memref(b_bits),
                            emu.global_memref(c), emu.global_memref(offsets), n, k])
            ok = verdict(f"grouped_gemm_bf16_tn{suffix} {rows} rows of {experts} "
                         f"experts, N {n}, K {k}", c.reshape(rows, n), want, 1e-5) and ok
    return grouped_swiglu(kernels, rng) and ok


def moe_tile_list(offsets, tile):
    """moe_tiles' list for `offsets`: [expert, first row] per `tile`-row
    tile, then [-1, -1] up to ceil(rows / tile) + experts entries."""
    experts = len(offsets) - 1
    tiles = [[e, r] for e in range(experts)
             for r in range(int(offsets[e]), int(offsets[e + 1]), tile)]
    tiles += [[-1, -1]] * (-(-int(offsets[-1]) // tile) + experts - len(tiles))
    return np.array(tiles, np.int32).reshape(-1)


def grouped_swiglu(kernels, rng):
    """The routed experts' gate and up projections with SwiGLU fused, over
    the listed M tiles, reading the gate and up stacks as the checkpoint
    stores them: D = bf16(silu(x Wg^T) * (x Wu^T)), f32 in between (the
    model's rounding). Experts of 70, 5, 0 and 130 rows (partial M tiles,
    one without rows), width 72 (144 packed columns: a partial second
    column block, 16-row groups past the width), K = 200; every buffer
    exactly its size, D starting as NaN."""
    offsets = np.array([0, 70, 75, 75, 205], np.int32)
    experts, rows, n, k = len(offsets) - 1, int(offsets[-1]), 72, 200
    a_bits, a = bf16(rng.standard_normal((rows, k)))
    (wg_bits, wg), (wu_bits, wu) = (bf16(rng.standard_normal((experts, n, k)))
                                    for _ in range(2))
    tiles = moe_tile_list(offsets, 64)
    d = np.full(rows * n, 0x7fc0, np.uint16)  # bf16 NaN
    emu.run_kernel(kernels["grouped_gemm_swiglu_bf16_tn_m64_tiled"],
                   (-(-2 * n // 128), len(tiles) // 2, 1), 128, 4 * (64 + 128) * 64 * 2,
                   [emu.global_memref(a_bits), emu.global_memref(wg_bits.reshape(-1)),
                    emu.global_memref(wu_bits.reshape(-1)), emu.global_memref(d),
                    emu.global_memref(offsets), emu.global_memref(tiles), n, k])
    expert = np.repeat(np.arange(experts), np.diff(offsets))
    g = np.einsum("rk,rnk->rn", a, wg[expert], dtype=np.float32)
    u = np.einsum("rk,rnk->rn", a, wu[expert], dtype=np.float32)
    return swiglu_verdict(f"grouped_gemm_swiglu_bf16_tn_m64_tiled (gate and up stacks, "
                          f"{rows} rows of {experts} experts, width {n}, K {k}",
                          emu._bits_to_f32(d).reshape(rows, n), g, u)


def batched_gemm(kernels):
    """The per-head products of the absorbed attention, heads as batches,
    each head's slab read where kv_b [H (dn + dv), C] holds it (the other
    slab NaN, so a read past a slab shows): values = x [M, H, C] times
    W_UV (N x K: batched_gemm_bf16_tn_m64) and absorbed queries = q [M, H,
    dn] times W_UK (K x N: batched_gemm_bf16_nn_m64). 70 rows (two M
    tiles), a partial last column block and K step, outputs starting as
    NaN, every buffer exactly its size."""
    rng = np.random.default_rng(11)
    heads, dn, dv, c, m = 3, 72, 136, 200, 70

    def run(name, x, b_bits, n, k, b_base):
        x_bits, x = bf16(x)
        out = np.full(m * heads * n, np.nan, np.float32)
        emu.run_kernel(kernels[name], (-(-n // 128), -(-m // 64), heads), 128,
                       4 * (64 + 128) * 64 * 2,
                       [emu.global_memref(x_bits), emu.global_memref(b_bits),
                        emu.global_memref(out), m, n, k, heads * k, k, b_base,
                        (dn + dv) * c, c, heads * n, n])
        return x, out.reshape(m, heads, n)

    ok = True
    kvb = rng.standard_normal((heads, dn + dv, c)).astype(np.float32)
    for name, nan_rows in (("batched_gemm_bf16_tn_m64", slice(0, dn)),
                           ("batched_gemm_bf16_nn_m64", slice(dn, dn + dv))):
        kv_bits, kv = bf16(kvb)
        kv_bits[:, nan_rows] = 0x7fc0  # NaN: the slab the product must not read
        if name.endswith("tn_m64"):
            x, got = run(name, rng.standard_normal((m, heads, c)), kv_bits,
                         dv, c, dn * c)
            want = np.einsum("mhc,hvc->mhv", x, kv[:, dn:])
            shape = f"N {dv} x K {c}"
        else:
            x, got = run(name, rng.standard_normal((m, heads, dn)), kv_bits,
                         c, dn, 0)
            want = np.einsum("mhd,hdc->mhc", x, kv[:, :dn])
            shape = f"K {dn} x N {c}"
        ok = verdict(f"{name} ({heads} heads of {m} rows, {shape} slabs of kv_b)",
                     got, want, 1e-5) and ok
    # B given K x N with N = 130 of rows of 136 (a last chunk of 2
    # columns), the buffer ending at the last element the product reads:
    # a copy of a whole chunk there reads past it.
    n, k, ldb = 130, 24, 136
    w_bits, w = bf16(rng.standard_normal((heads, k, ldb)))
    w_bits = w_bits.reshape(-1)[:(heads - 1) * k * ldb + (k - 1) * ldb + n]
    x_bits, x = bf16(rng.standard_normal((m, heads, k)))
    out = np.full(m * heads * n, np.nan, np.float32)
    emu.run_kernel(kernels["batched_gemm_bf16_nn_m64"], (2, 2, heads), 128,
                   4 * (64 + 128) * 64 * 2,
                   [emu.global_memref(x_bits), emu.global_memref(w_bits),
                    emu.global_memref(out), m, n, k, heads * k, k, 0, k * ldb,
                    ldb, heads * n, n])
    want = np.einsum("mhk,hkn->mhn", x, w[:, :, :n])
    ok = verdict(f"batched_gemm_bf16_nn_m64 (K {k} x N {n} of rows of {ldb}, "
                 "the buffer ending at its last element)",
                 out.reshape(m, heads, n), want, 1e-5) and ok
    # A linear layer: one batch, A [rows, K], B [N, K], C [rows, N], on both
    # tiles (the 128-row one of 256 threads): 150 rows (a partial second
    # 128-row tile), N 136, K 200.
    rows, n, k = 150, 136, 200
    a_bits, a = bf16(rng.standard_normal((rows, k)))
    b_bits, b = bf16(rng.standard_normal((n, k)))
    for bm, name in ((64, "batched_gemm_bf16_tn_m64"), (128, "batched_gemm_bf16_tn")):
        c = np.full(rows * n, np.nan, np.float32)
        emu.run_kernel(kernels[name], (-(-n // 128), -(-rows // bm), 1), 2 * bm,
                       4 * (bm + 128) * 64 * 2,
                       [emu.global_memref(a_bits), emu.global_memref(b_bits),
                        emu.global_memref(c), rows, n, k, k, k, 0, n * k, k, n, n])
        ok = verdict(f"{name} as a linear layer ({rows} rows, N {n}, K {k})",
                     c.reshape(rows, n), a @ b.T, 1e-5) and ok
    # The gate and up with SwiGLU fused: a dense MLP's (one batch: 150 rows,
    # width 72, i.e. 144 packed columns with a partial second column block,
    # K 200, each weight exactly its size, D starting as NaN), then two
    # batches with every stride padded (weights at an offset, rows of
    # ldb > K, outputs of ldc > N whose padding must stay NaN).
    def swiglu(label, heads, rows, n, k, ldb, b_base, ldc):
        a_bits, a = bf16(rng.standard_normal((heads, rows, k)))
        size = b_base + heads * n * ldb
        (wg_bits, wg), (wu_bits, wu) = (bf16(rng.standard_normal(size)) for _ in range(2))
        d = np.full(heads * rows * ldc, 0x7fc0, np.uint16)  # bf16 NaN
        emu.run_kernel(kernels["batched_gemm_swiglu_bf16_tn_m64"],
                       (-(-2 * n // 128), -(-rows // 64), heads), 128, 4 * (64 + 128) * 64 * 2,
                       [emu.global_memref(a_bits), emu.global_memref(wg_bits),
                        emu.global_memref(wu_bits), emu.global_memref(d), rows, n, k, k,
                        rows * k, b_base, n * ldb, ldb, ldc, rows * ldc])

        def weights(w):
            return w[b_base:].reshape(heads, n, ldb)[:, :, :k]
        g = np.matmul(a, weights(wg).transpose(0, 2, 1), dtype=np.float32)
        u = np.matmul(a, weights(wu).transpose(0, 2, 1), dtype=np.float32)
        out = emu._bits_to_f32(d).reshape(heads, rows, ldc)
        got, padding = out[:, :, :n], out[:, :, n:]
        return swiglu_verdict(f"batched_gemm_swiglu_bf16_tn_m64 {label} ({heads} x {rows} "
                              f"rows, width {n}, K {k}", got, g, u,
                              also=bool(np.isnan(padding).all()))
    ok = swiglu("as a dense MLP's gate and up", 1, 150, 72, 200, 200, 0, 72) and ok
    return swiglu("strided", 2, 70, 40, 72, 88, 24, 56) and ok


def e4m3_weight(rng, n, k, block_n, block_k, largest_scale=2.0):
    """A random e4m3 weight [n, k] without NaN codes, its block scales, and
    the weight as dsc's CPU code dequantizes it (bf16(w * scale))."""
    codes = rng.integers(0, 256, (n, k)).astype(np.uint8)
    codes[(codes & 0x7F) == 0x7F] = 0x38  # 1.0 instead of NaN
    scales = rng.uniform(1e-3, largest_scale, (-(-n // block_n), -(-k // block_k))).astype(np.float32)
    full = np.repeat(np.repeat(scales, block_n, 0), block_k, 1)[:n, :k]
    values = bf16(emu._E4M3[codes].astype(np.float32) * full)[1]
    return codes, scales, values


def e4m3_stacks(rng, experts, n, k, block_n, block_k, largest_scale=2.0):
    """e4m3_weight for each of `experts`, stacked: codes [experts, n, k],
    scales [experts, ceil(n / block_n), ceil(k / block_k)], values."""
    parts = [e4m3_weight(rng, n, k, block_n, block_k, largest_scale) for _ in range(experts)]
    return tuple(np.stack([p[i] for p in parts]) for i in range(3))


def fp8w_gemm(kernels):
    """The kernels for e4m3 weights with block scales (A bf16): the linear
    layers', the per-head ones (batched over slabs of a weight's rows or
    columns) and the routed experts', against the weight dequantized as
    dsc's CPU code does it (bf16(w * scale), one rounding) times A in f32. Every e4m3 code but
    NaN (subnormals, both zeros), one NaN weight whose output column must
    be NaN; 70 rows (two M tiles), a partial last column block, K steps
    past K that copy nothing, scale blocks of 128 and of 16 x 32, C or D
    starting as NaN, every buffer exactly its size."""
    rng = np.random.default_rng(23)
    smem = 4 * 64 * 64 * 2 + 128 * 64 * 2 + 4 * 128 * 64

    def weight(n, k, block_n, block_k, largest_scale=2.0):
        return e4m3_weight(rng, n, k, block_n, block_k, largest_scale)

    ok = True
    for rows, n, k, block_n, block_k in ((70, 136, 208, 128, 128), (70, 40, 96, 16, 32)):
        a_bits, a = bf16(rng.standard_normal((rows, k)))
        codes, scales, w = weight(n, k, block_n, block_k)
        nan_col = 5
        codes[nan_col, 3] = 0xFF
        c = np.full(rows * n, np.nan, np.float32)
        emu.run_kernel(kernels["gemm_fp8w_bf16_tn_m64"], (-(-n // 128), -(-rows // 64), 1), 128,
                       smem,
                       [emu.global_memref(a_bits), emu.global_memref(codes.reshape(-1)),
                        emu.global_memref(scales.reshape(-1)), emu.global_memref(c),
                        rows, n, k, k, n, block_n, block_k])
        got = c.reshape(rows, n)
        keep = np.arange(n) != nan_col
        ok = verdict(f"gemm_fp8w_bf16_tn_m64 ({rows} rows, N {n}, K {k}, blocks {block_n} x "
                     f"{block_k}; a NaN weight's column NaN)",
                     got[:, keep], (a @ w.T)[:, keep], 1e-5,
                     also=bool(np.isnan(got[:, nan_col]).all())) and ok
    # Every weight bit for bit: A the identity (K = 320 rows: five K steps,
    # the ring's slots reused), so that C[m, n] is weight [n, m] alone; the
    # 254 codes but NaN's in every column but one, which holds both NaN
    # codes (0x7F, 0xFF) and must come out NaN.
    n, k, block_n, block_k = 24, 320, 16, 64
    eye_bits, _ = bf16(np.eye(k, dtype=np.float32))
    numbers = np.array([c for c in range(256) if c & 0x7F != 0x7F], np.uint8)
    codes = numbers[(np.arange(n * k) * 7) % len(numbers)].reshape(n, k)
    codes[3, 100], codes[3, 200] = 0x7F, 0xFF
    scales = rng.uniform(1e-3, 2.0, (-(-n // block_n), k // block_k)).astype(np.float32)
    full = np.repeat(np.repeat(scales, block_n, 0), block_k, 1)[:n, :k]
    with np.errstate(invalid="ignore"):
        want_bits = emu._f32_to_bf16(emu._E4M3[codes].astype(np.float32) * full)
    c = np.full(k * n, np.nan, np.float32)
    emu.run_kernel(kernels["gemm_fp8w_bf16_tn_m64"], (1, k // 64, 1), 128, smem,
                   [emu.global_memref(eye_bits), emu.global_memref(codes.reshape(-1)),
                    emu.global_memref(scales.reshape(-1)), emu.global_memref(c),
                    k, n, k, k, n, block_n, block_k])
    got = c.reshape(k, n).T  # [n, k]: weight [n, k] as the kernel read it
    keep = np.arange(n) != 3
    # (Values: a sum of 0 and -0 is 0, so a weight's zero sign cannot show.)
    exact = bool((got[keep] == emu._bits_to_f32(want_bits[keep])).all())
    nan = bool(np.isnan(got[3]).all())
    print(f"gemm_fp8w_bf16_tn_m64 every e4m3 code times its scale (identity A, K {k}): "
          f"{'equal' if exact else 'DIFFERENT'}, the NaN codes' column "
          f"{'NaN' if nan else 'NOT NaN'}: {'ok' if exact and nan else 'MISMATCH'}")
    stop_on_mismatch(exact and nan)
    ok = ok and exact and nan
    # Gate and up with SwiGLU fused: width 72 (a partial second column
    # block of 144 packed columns), blocks of 16 x 32 (the packed rows of
    # a block straddle scale rows).
    rows, n, k, block_n, block_k = 70, 72, 96, 16, 32
    a_bits, a = bf16(rng.standard_normal((rows, k)))
    (gc, gs, g_w), (uc, us, u_w) = (weight(n, k, block_n, block_k, 0.02) for _ in range(2))
    d = np.full(rows * n, 0x7fc0, np.uint16)
    emu.run_kernel(kernels["gemm_swiglu_fp8w_bf16_tn_m64"], (-(-2 * n // 128), -(-rows // 64), 1),
                   128, smem,
                   [emu.global_memref(a_bits), emu.global_memref(gc.reshape(-1)),
                    emu.global_memref(uc.reshape(-1)), emu.global_memref(gs.reshape(-1)),
                    emu.global_memref(us.reshape(-1)), emu.global_memref(d),
                    rows, n, k, k, n, block_n, block_k])
    g = np.matmul(a, g_w.T, dtype=np.float32)
    u = np.matmul(a, u_w.T, dtype=np.float32)
    ok = swiglu_verdict(f"gemm_swiglu_fp8w_bf16_tn_m64 ({rows} rows, width {n}, K {k}, "
                        f"blocks {block_n} x {block_k}",
                        emu._bits_to_f32(d).reshape(rows, n), g, u) and ok

    # The absorbed decode's per-head products over an FP8 kv_b [H (dn +
    # dv), C] (e4m3, blocks 16 x 32 that straddle the slabs), each head's
    # slab read in place, the other slab NaN codes (a read past a slab
    # shows): W_UK (K x N: batched_gemm_fp8w_bf16_nn_m64) with K = dn 72
    # (two K steps, the second 8 rows deep; a row of C = 320 has 10 scale
    # blocks, K 3) and W_UV (N x K: the tn form; K = C, five K steps: the
    # ring's stages refilled).
    rows, heads, dn, dv, c, block_r, block_c = 70, 3, 72, 40, 320, 16, 32
    codes, scales, kv = weight(heads * (dn + dv), c, block_r, block_c)
    per_head = kv.reshape(heads, dn + dv, c)
    for name, read, other in (("batched_gemm_fp8w_bf16_nn_m64", slice(0, dn), slice(dn, dn + dv)),
                              ("batched_gemm_fp8w_bf16_tn_m64", slice(dn, dn + dv), slice(0, dn))):
        planted = codes.copy().reshape(heads, dn + dv, c)
        planted[:, other] = 0x7F
        by_k = "_nn_" in name
        k = dn if by_k else c
        n = c if by_k else dv
        x_bits, x = bf16(rng.standard_normal((rows, heads, k)))
        out = np.full(rows * heads * n, np.nan, np.float32)
        emu.run_kernel(kernels[name], (-(-n // 128), -(-rows // 64), heads), 128, smem,
                       [emu.global_memref(x_bits), emu.global_memref(planted.reshape(-1)),
                        emu.global_memref(scales.reshape(-1)), emu.global_memref(out),
                        rows, n, k, heads * k, k, read.start, dn + dv, c, heads * n, n,
                        block_r, block_c, 0])
        want = (np.einsum("mhd,hdc->mhc", x, per_head[:, read]) if by_k else
                np.einsum("mhc,hvc->mhv", x, per_head[:, read]))
        ok = verdict(f"{name} ({heads} heads of {rows} rows, {'K' if by_k else 'N'} "
                     f"{read.stop - read.start} slabs of kv_b [{heads * (dn + dv)}, {c}], "
                     f"blocks {block_r} x {block_c})", out.reshape(rows, heads, n), want,
                     1e-5) and ok
    # The same kernels over slabs of columns (bColBatch): the tn one as a
    # linear layer's K split into 4 parts (each batch a part's partial
    # sums; N 136, K 256 in V3's 128 x 128 blocks, parts of 64 starting
    # mid-block), the nn one over 2 batches of columns 64 apart.
    n, k, parts = 136, 256, 4
    part = k // parts
    a_bits, a = bf16(rng.standard_normal((rows, k)))
    codes, scales, w = weight(n, k, 128, 128)
    partial = np.full(parts * rows * n, np.nan, np.float32)
    emu.run_kernel(kernels["batched_gemm_fp8w_bf16_tn_m64"], (2, -(-rows // 64), parts), 128,
                   smem,
                   [emu.global_memref(a_bits), emu.global_memref(codes.reshape(-1)),
                    emu.global_memref(scales.reshape(-1)), emu.global_memref(partial),
                    rows, n, part, k, part, 0, 0, k, n, rows * n, 128, 128, part])
    ok = verdict(f"batched_gemm_fp8w_bf16_tn_m64 (K {k} split into {parts} parts of {part}, "
                 f"{rows} rows, N {n}, blocks 128 x 128)",
                 partial.reshape(parts, rows, n).sum(axis=0, dtype=np.float64), a @ w.T,
                 1e-5) and ok
    batches, k, n, ldb, step = 2, 40, 48, 112, 64
    codes, scales, w = weight(k, ldb, 16, 32)
    x_bits, x = bf16(rng.standard_normal((rows, batches, k)))
    out = np.full(rows * batches * n, np.nan, np.float32)
    emu.run_kernel(kernels["batched_gemm_fp8w_bf16_nn_m64"], (1, -(-rows // 64), batches), 128,
                   smem,
                   [emu.global_memref(x_bits), emu.global_memref(codes.reshape(-1)),
                    emu.global_memref(scales.reshape(-1)), emu.global_memref(out),
                    rows, n, k, batches * k, k, 0, 0, ldb, batches * n, n, 16, 32, step])
    want = np.stack([x[:, e] @ w[:, e * step:e * step + n] for e in range(batches)], axis=1)
    ok = verdict(f"batched_gemm_fp8w_bf16_nn_m64 ({batches} batches of columns {step} apart, "
                 f"K {k} x N {n} of rows of {ldb}, blocks 16 x 32)",
                 out.reshape(rows, batches, n), want, 1e-5) and ok

    # The routed experts' kernels over the listed M tiles, e4m3 stacks
    # [experts, N, K] with scales [experts, ceil(N / blockN), ceil(K /
    # blockK)]: experts of 70, 5, 0 and 130 rows, width 40 (each expert's
    # last scale block 8 rows), K 96, blocks 16 x 32.
    offsets = np.array([0, 70, 75, 75, 205], np.int32)
    experts, rows, n, k = len(offsets) - 1, int(offsets[-1]), 40, 96
    tiles = moe_tile_list(offsets, 64)
    expert = np.repeat(np.arange(experts), np.diff(offsets))
    a_bits, a = bf16(rng.standard_normal((rows, k)))

    def stack(largest_scale):
        return e4m3_stacks(rng, experts, n, k, block_n, block_k, largest_scale)
    gc, gs, g_w = stack(0.02)
    c = np.full(rows * n, np.nan, np.float32)
    emu.run_kernel(kernels["grouped_gemm_fp8w_bf16_tn_m64_tiled"],
                   (-(-n // 128), len(tiles) // 2, 1), 128, smem,
                   [emu.global_memref(a_bits), emu.global_memref(gc.reshape(-1)),
                    emu.global_memref(gs.reshape(-1)), emu.global_memref(c),
                    emu.global_memref(offsets), emu.global_memref(tiles), n, k,
                    block_n, block_k])
    g = np.einsum("rk,rnk->rn", a, g_w[expert], dtype=np.float32)
    ok = verdict(f"grouped_gemm_fp8w_bf16_tn_m64_tiled ({rows} rows of {experts} experts, "
                 f"N {n}, K {k}, blocks {block_n} x {block_k})", c.reshape(rows, n), g,
                 1e-5) and ok
    uc, us, u_w = stack(0.02)
    d = np.full(rows * n, 0x7fc0, np.uint16)
    emu.run_kernel(kernels["grouped_gemm_swiglu_fp8w_bf16_tn_m64_tiled"],
                   (-(-2 * n // 128), len(tiles) // 2, 1), 128, smem,
                   [emu.global_memref(a_bits), emu.global_memref(gc.reshape(-1)),
                    emu.global_memref(uc.reshape(-1)), emu.global_memref(gs.reshape(-1)),
                    emu.global_memref(us.reshape(-1)), emu.global_memref(d),
                    emu.global_memref(offsets), emu.global_memref(tiles), n, k,
                    block_n, block_k])
    u = np.einsum("rk,rnk->rn", a, u_w[expert], dtype=np.float32)
    return swiglu_verdict(f"grouped_gemm_swiglu_fp8w_bf16_tn_m64_tiled ({rows} rows of "
                          f"{experts} experts, width {n}, K {k}, blocks {block_n} x "
                          f"{block_k}", emu._bits_to_f32(d).reshape(rows, n), g, u) and ok


def grouped_gemm_wgmma(kernels):
    """The sm_90a grouped GEMM (TMA, mbarriers, wgmma): experts of 128 and
    256 (padded from 200) rows, K = 256 (more K tiles than stages, so
    stages are refilled), N = 256."""
    rng = np.random.default_rng(5)
    k, n = 256, 256
    offsets = np.array([0, 128, 384], np.int32)
    rows = int(offsets[-1])
    a_bits, a = bf16(rng.standard_normal((rows, k)))
    b_bits, b = bf16(rng.standard_normal((2 * k, n)))  # [experts * K, N]
    c = np.full(rows * n, np.nan, np.float32)
    args = [emu.TensorMap(a_bits, (128, 64)), emu.TensorMap(b_bits, (64, 64)),
            emu.global_memref(c), emu.global_memref(offsets), rows, n, k]
    emu.run_kernel(kernels["grouped_gemm_wgmma_bf16"], (n // 128, 2, 2), 128,
                   3 * 32768 + 1024, args)
    want = np.concatenate([a[0:128] @ b[0:k], a[128:384] @ b[k:2 * k]])
    return verdict("grouped_gemm_wgmma_bf16", c.reshape(rows, n), want, 1e-5)


def grouped_gemm_wgmma_tn(kernels):
    """The sm_90a grouped GEMMs with K-major B (TMA, wgmma on their own
    descriptors): experts of 128 and 256 rows, K = 320 (5 steps, more than
    the 4 stages: stages refilled), N = 256; plain (f32 out) and with SwiGLU
    fused (B packed per 32 rows as 16 gate rows then the same 16 up rows;
    bf16 out, rounded as transformers' bf16 MLP)."""
    rng = np.random.default_rng(29)
    k, n, experts = 320, 256, 2
    offsets = np.array([0, 128, 384], np.int32)
    rows = int(offsets[-1])
    a_bits, a = bf16(rng.standard_normal((rows, k)))
    b_bits, b = bf16(rng.standard_normal((experts * n, k)))  # [experts * N, K]
    smem = 4 * 32768 + 1024
    c = np.full(rows * n, np.nan, np.float32)
    emu.run_kernel(kernels["grouped_gemm_wgmma_bf16_tn"], (n // 128, 2, experts), 256,
                   smem, [emu.TensorMap(a_bits, (128, 64)), emu.TensorMap(b_bits, (128, 64)),
                          emu.global_memref(c), emu.global_memref(offsets), n, k])
    want = np.concatenate([a[0:128] @ b[0:n].T, a[128:384] @ b[n:2 * n].T])
    ok = verdict("grouped_gemm_wgmma_bf16_tn", c.reshape(rows, n), want, 1e-5)
    # SwiGLU: expert e's gate rows are its first N / 2, up rows the rest;
    # packed per 32 rows (16 gate, 16 up).
    half = n // 2
    packed = np.empty_like(b_bits)
    for e in range(experts):
        w = b_bits[e * n:(e + 1) * n]
        for q in range(half // 16):
            packed[e * n + 32 * q:e * n + 32 * q + 16] = w[16 * q:16 * q + 16]
            packed[e * n + 32 * q + 16:e * n + 32 * q + 32] = w[half + 16 * q:half + 16 * q + 16]
    d = np.full(rows * half, 0x7FC0, np.uint16)
    emu.run_kernel(kernels["grouped_gemm_wgmma_swiglu_bf16_tn"], (n // 128, 2, experts),
                   256, smem, [emu.TensorMap(a_bits, (128, 64)),
                               emu.TensorMap(packed, (128, 64)),
                               emu.global_memref(d), emu.global_memref(offsets), n, k])
    gate = np.concatenate([a[0:128] @ b[0:half].T, a[128:384] @ b[n:n + half].T])
    up = np.concatenate([a[0:128] @ b[half:n].T, a[128:384] @ b[n + half:2 * n].T])

    def r(x):
        return bf16(np.asarray(x, np.float32))[1].astype(np.float64)
    g = r(gate)
    want = r(r(g / (1 + np.exp(-g))) * r(up))
    got = emu._bits_to_f32(d).reshape(rows, half)
    # f32 summation order may move gate or up across a bf16 rounding: a few
    # outputs one bf16 step off.
    ok &= verdict("grouped_gemm_wgmma_swiglu_bf16_tn", got, want, 1.0 / 64)
    ok &= routed_wgmma(kernels, rng, smem)
    ok &= routed_wgmma_fp8w(kernels, rng, smem)
    # The linear layers' dense form: M and N past whole tiles and a K tail
    # (TMA's zeros past the tensors); C exactly [M, N], so a store past a
    # row or column would fail.
    m, n, k = 200, 200, 136
    a_bits, a = bf16(rng.standard_normal((m, k)))
    b_bits, b = bf16(rng.standard_normal((n, k)))
    c = np.full(m * n, np.nan, np.float32)
    emu.run_kernel(kernels["gemm_wgmma_bf16_tn"], (2, 2, 1), 256, smem,
                   [emu.TensorMap(a_bits, (128, 64)), emu.TensorMap(b_bits, (128, 64)),
                    emu.global_memref(c), m, n, k])
    ok &= verdict(f"gemm_wgmma_bf16_tn {m} rows, N {n}, K {k}", c.reshape(m, n),
                  a.astype(np.float64) @ b.T.astype(np.float64), 1e-5)
    # Its SwiGLU form (a dense MLP's gate and up, two weights as stored):
    # D exactly [M, width] bf16, a partial column block; 150 rows, so that
    # the second block's second warpgroup has none (no wgmma, no A box).
    m, a_bits, a = 150, a_bits[:150], a[:150]
    width = 72
    (wg_bits, wg), (wu_bits, wu) = (bf16(rng.standard_normal((width, k)))
                                    for _ in range(2))
    d = np.full(m * width, 0x7FC0, np.uint16)  # bf16 NaN
    emu.run_kernel(kernels["gemm_wgmma_swiglu_bf16_tn"], (-(-2 * width // 128), 2, 1), 256,
                   smem, [emu.TensorMap(a_bits, (64, 64)), emu.TensorMap(wg_bits, (64, 64)),
                          emu.TensorMap(wu_bits, (64, 64)), emu.global_memref(d), m, width,
                          k])
    g = np.matmul(a, wg.T, dtype=np.float32)
    u = np.matmul(a, wu.T, dtype=np.float32)
    ok = swiglu_verdict(f"gemm_wgmma_swiglu_bf16_tn ({m} rows, width {width}, K {k}",
                        emu._bits_to_f32(d).reshape(m, width), g, u) and ok
    return dense_wgmma_fp8w(kernels, rng, smem) and ok


def dense_wgmma_fp8w(kernels, rng, smem):
    """sm_90a's dense e4m3-weight GEMMs (an FP8 checkpoint's linear layers
    and MLPs of many rows): 150 rows (the second block's second warpgroup
    without rows), K 336 (six steps), the weight dequantized as dsc's CPU
    code does it the reference. N 136 with V3's 128 x 128 blocks and a NaN
    weight whose column must be NaN; SwiGLU at width 72, blocks 16 x 32.
    Every buffer exactly its size, C and D starting as NaN."""
    m, k = 150, 336
    a_bits, a = bf16(rng.standard_normal((m, k)))
    n, block_n, block_k = 136, 128, 128
    codes, scales, w = e4m3_weight(rng, n, k, block_n, block_k)
    nan_col = 7
    codes[nan_col, 20] = 0x7F
    c = np.full(m * n, np.nan, np.float32)
    emu.run_kernel(kernels["gemm_wgmma_fp8w_bf16_tn"], (-(-n // 128), -(-m // 128), 1), 256,
                   smem, [emu.TensorMap(a_bits, (64, 64)), emu.TensorMap(codes, (64, 64)),
                          emu.global_memref(scales.reshape(-1)), emu.global_memref(c), m, n, k,
                          block_n, block_k])
    got = c.reshape(m, n)
    keep = np.arange(n) != nan_col
    ok = verdict(f"gemm_wgmma_fp8w_bf16_tn ({m} rows, N {n}, K {k}, blocks {block_n} x "
                 f"{block_k}; a NaN weight's column NaN)", got[:, keep],
                 (a.astype(np.float64) @ w.T.astype(np.float64))[:, keep], 1e-5,
                 also=bool(np.isnan(got[:, nan_col]).all()))
    width, block_n, block_k = 72, 16, 32
    (gc, gs, g_w), (uc, us, u_w) = (e4m3_weight(rng, width, k, block_n, block_k, 0.005)
                                    for _ in range(2))
    d = np.full(m * width, 0x7FC0, np.uint16)
    emu.run_kernel(kernels["gemm_wgmma_swiglu_fp8w_bf16_tn"],
                   (-(-2 * width // 128), -(-m // 128), 1), 256, smem,
                   [emu.TensorMap(a_bits, (64, 64)), emu.TensorMap(gc, (64, 64)),
                    emu.TensorMap(uc, (64, 64)), emu.global_memref(gs.reshape(-1)),
                    emu.global_memref(us.reshape(-1)), emu.global_memref(d), m, width, k,
                    block_n, block_k])
    g = np.matmul(a, g_w.T, dtype=np.float32)
    u = np.matmul(a, u_w.T, dtype=np.float32)
    return swiglu_verdict(f"gemm_wgmma_swiglu_fp8w_bf16_tn ({m} rows, width {width}, K {k}, "
                          f"blocks {block_n} x {block_k}",
                          emu._bits_to_f32(d).reshape(m, width), g, u) and ok


def routed_wgmma(kernels, rng, smem):
    """sm_90a's routed experts: the tiled wgmma kernels over the 128-row
    tiles moe_tiles lists, plain and with SwiGLU over the gate and up
    stacks as stored. Experts of 70, 5, 0 and 130 rows (partial tiles, one
    expert without rows, one of two tiles), N 136 (a partial column block
    whose B rows run into the next expert's), K 136 (a K tail); every
    buffer exactly its size, C and D starting as NaN."""
    offsets = np.array([0, 70, 75, 75, 205], np.int32)
    experts, rows, k = len(offsets) - 1, int(offsets[-1]), 136
    tiles = moe_tile_list(offsets, 128)
    expert = np.repeat(np.arange(experts), np.diff(offsets))
    a_bits, a = bf16(rng.standard_normal((rows, k)))
    n = 136
    b_bits, b = bf16(rng.standard_normal((experts * n, k)))
    c = np.full(rows * n, np.nan, np.float32)
    emu.run_kernel(kernels["grouped_gemm_wgmma_bf16_tn_tiled"],
                   (-(-n // 128), len(tiles) // 2, 1), 256, smem,
                   [emu.TensorMap(a_bits, (64, 64)), emu.TensorMap(b_bits, (64, 64)),
                    emu.global_memref(c), emu.global_memref(offsets),
                    emu.global_memref(tiles), n, k])
    want = np.einsum("rk,rnk->rn", a.astype(np.float64),
                     b.reshape(experts, n, k)[expert].astype(np.float64))
    ok = verdict(f"grouped_gemm_wgmma_bf16_tn_tiled {rows} rows of {experts} experts, "
                 f"N {n}, K {k}", c.reshape(rows, n), want, 1e-5)
    width = 72
    (wg_bits, wg), (wu_bits, wu) = (bf16(rng.standard_normal((experts, width, k)))
                                    for _ in range(2))
    d = np.full(rows * width, 0x7FC0, np.uint16)  # bf16 NaN
    emu.run_kernel(kernels["grouped_gemm_wgmma_swiglu_bf16_tn_tiled"],
                   (-(-2 * width // 128), len(tiles) // 2, 1), 256, smem,
                   [emu.TensorMap(a_bits, (64, 64)),
                    emu.TensorMap(wg_bits.reshape(-1, k), (64, 64)),
                    emu.TensorMap(wu_bits.reshape(-1, k), (64, 64)),
                    emu.global_memref(d), emu.global_memref(offsets),
                    emu.global_memref(tiles), width, k])
    g = np.einsum("rk,rnk->rn", a, wg[expert], dtype=np.float32)
    u = np.einsum("rk,rnk->rn", a, wu[expert], dtype=np.float32)
    return swiglu_verdict(f"grouped_gemm_wgmma_swiglu_bf16_tn_tiled (gate and up stacks, "
                          f"{rows} rows of {experts} experts, width {width}, K {k}",
                          emu._bits_to_f32(d).reshape(rows, width), g, u) and ok


def routed_wgmma_fp8w(kernels, rng, smem):
    """sm_90a's routed experts of an FP8 checkpoint: the tiled wgmma
    kernels reading e4m3 stacks [experts * N, K] and their block scales,
    against the stacks dequantized as dsc's CPU code does it (bf16(w *
    scale)). Experts of 70, 5, 0 and 130 rows over 128-row tiles; K 336
    (six K steps, more than the 4 stages and both converted tiles reused,
    the last a tail of 16 whose chunks past K take the last block's
    scale); the plain form with V3's 128 x 128 blocks, N 136 (B's rows run
    into the next expert's, scale rows past N never read), one NaN weight
    whose output column must be NaN; SwiGLU at width 72 with blocks of 16
    x 32 (each step's chunks in several scale blocks); every buffer
    exactly its size, C and D starting as NaN."""
    offsets = np.array([0, 70, 75, 75, 205], np.int32)
    experts, rows, k = len(offsets) - 1, int(offsets[-1]), 336
    tiles = moe_tile_list(offsets, 128)
    expert = np.repeat(np.arange(experts), np.diff(offsets))
    a_bits, a = bf16(rng.standard_normal((rows, k)))
    n, block_n, block_k = 136, 128, 128
    codes, scales, w = e4m3_stacks(rng, experts, n, k, block_n, block_k)
    nan_col = 9
    codes[3, nan_col, 300] = 0xFF  # expert 3's, in the last K block
    c = np.full(rows * n, np.nan, np.float32)
    emu.run_kernel(kernels["grouped_gemm_wgmma_fp8w_bf16_tn_tiled"],
                   (-(-n // 128), len(tiles) // 2, 1), 256, smem,
                   [emu.TensorMap(a_bits, (64, 64)),
                    emu.TensorMap(codes.reshape(-1, k), (64, 64)),
                    emu.global_memref(scales.reshape(-1)), emu.global_memref(c),
                    emu.global_memref(offsets), emu.global_memref(tiles), n, k,
                    block_n, block_k])
    got = c.reshape(rows, n)
    want = np.einsum("rk,rnk->rn", a.astype(np.float64), w[expert].astype(np.float64))
    keep = np.arange(n) != nan_col
    last = expert == 3
    ok = verdict(f"grouped_gemm_wgmma_fp8w_bf16_tn_tiled ({rows} rows of {experts} experts, "
                 f"N {n}, K {k}, blocks {block_n} x {block_k}; a NaN weight's column NaN)",
                 np.where(last[:, None] & ~keep[None, :], 0.0, got),
                 np.where(last[:, None] & ~keep[None, :], 0.0, want), 1e-5,
                 also=bool(np.isnan(got[last, nan_col]).all()))
    width, block_n, block_k = 72, 16, 32
    (gc, gs, g_w), (uc, us, u_w) = (e4m3_stacks(rng, experts, width, k, block_n, block_k, 0.005)
                                    for _ in range(2))
    d = np.full(rows * width, 0x7FC0, np.uint16)  # bf16 NaN
    emu.run_kernel(kernels["grouped_gemm_wgmma_swiglu_fp8w_bf16_tn_tiled"],
                   (-(-2 * width // 128), len(tiles) // 2, 1), 256, smem,
                   [emu.TensorMap(a_bits, (64, 64)),
                    emu.TensorMap(gc.reshape(-1, k), (64, 64)),
                    emu.TensorMap(uc.reshape(-1, k), (64, 64)),
                    emu.global_memref(gs.reshape(-1)), emu.global_memref(us.reshape(-1)),
                    emu.global_memref(d), emu.global_memref(offsets),
                    emu.global_memref(tiles), width, k, block_n, block_k])
    g = np.einsum("rk,rnk->rn", a, g_w[expert], dtype=np.float32)
    u = np.einsum("rk,rnk->rn", a, u_w[expert], dtype=np.float32)
    return swiglu_verdict(f"grouped_gemm_wgmma_swiglu_fp8w_bf16_tn_tiled ({rows} rows of "
                          f"{experts} experts, width {width}, K {k}, blocks {block_n} x "
                          f"{block_k}", emu._bits_to_f32(d).reshape(rows, width), g, u) and ok


def route_reference(logits, bias, groups, topk_group, top_k, normalize, scale):
    """DeepSeek-V3's router in NumPy (DEEPSEEK.md): ids and weights per
    token, ties to the lower index."""
    tokens, experts = logits.shape
    scores = 1 / (1 + np.exp(-logits.astype(np.float64)))
    choice = scores + bias
    grouped = choice.reshape(tokens, groups, -1)
    group_score = np.sort(grouped, axis=2)[:, :, -2:].sum(axis=2)
    kept = np.argsort(-group_score, axis=1, kind="stable")[:, :topk_group]
    mask = np.zeros((tokens, groups), bool)
    np.put_along_axis(mask, kept, True, axis=1)
    masked = np.where(np.repeat(mask, experts // groups, axis=1), choice, -np.inf)
    ids = np.argsort(-masked, axis=1, kind="stable")[:, :top_k]
    w = np.take_along_axis(scores, ids, axis=1)
    if normalize:
        w = w / w.sum(axis=1, keepdims=True)
    return ids, w * scale


def moe_route(kernels):
    """The router on 13 tokens (the last block partial), one token with tied
    logits (ties go to the lower index), normalised, scale 2.5: V3's (256
    experts, 8 groups, top-4 groups, top-8 experts), or a variant's
    (moe_route_v3_e<experts>_g<groups>: top-half of the groups, top-4; with
    fewer than 32 experts the lanes past them hold none)."""
    ok, checked = True, False
    for name in sorted(kernels):
        found = re.fullmatch(r"moe_route_v3(_e(\d+)_g(\d+))?", name)
        if not found:
            continue
        experts, groups = (int(found[2]), int(found[3])) if found[1] else (256, 8)
        top_k, topk_group = (8, 4) if not found[1] else (4, groups // 2)
        ok &= moe_route_check(kernels[name], name, experts, groups, top_k, topk_group)
        checked = True
    if not checked:
        raise emu.EmulationError("moe-route: no moe_route_v3 kernel in the modules")
    return ok


def moe_route_check(kernel, name, experts, groups, top_k, topk_group):
    rng = np.random.default_rng(13)
    tokens, scale = 13, 2.5
    logits = rng.standard_normal((tokens, experts)).astype(np.float32)
    logits[5] = 0.25  # every score tied
    # A coarse bias: tied logits make tied choices in many experts.
    bias = (0.05 * rng.integers(-2, 3, experts)).astype(np.float32)
    ids = np.full(tokens * top_k, -1, np.int32)
    weights = np.full(tokens * top_k, np.nan, np.float32)
    emu.run_kernel(kernel, ((tokens + 3) // 4, 1, 1), 128, 0,
                   [emu.global_memref(logits), emu.global_memref(bias), tokens,
                    topk_group, top_k, 1, scale, emu.global_memref(ids),
                    emu.global_memref(weights)])
    want_ids, want_w = route_reference(logits, bias, groups, topk_group, top_k, True, scale)
    same = bool((ids.reshape(tokens, top_k) == want_ids).all())
    err = float(np.abs(weights.reshape(tokens, top_k) - want_w).max())
    ok = same and err < 1e-5
    print(f"{name} ({tokens} tokens, top-{top_k} of {experts} in {topk_group} of {groups} "
          f"groups): ids {'equal' if same else 'DIFFER'}, max weight error "
          f"{err:.1e} {'ok' if ok else 'MISMATCH'}")
    return ok


def rope(kernels):
    """RoPE on 3 tokens at positions up to 163839 (V3's longest context):
    q rows of 4 heads (rope at 128 of 192), adjacent pairs, and k_pe rows
    (one head at 512 of 576), halves; YaRN's frequencies for V3's config."""
    rng = np.random.default_rng(17)
    positions = np.array([0, 4097, 163839], np.int32)
    d, theta, factor, orig = 64, 10000.0, 40.0, 4096
    freqs = theta ** (-np.arange(0, d, 2) / d)

    def dim(r):
        return d * math.log(orig / (r * 2 * math.pi)) / (2 * math.log(theta))
    low = max(math.floor(dim(32)), 0)
    high = min(math.ceil(dim(1)), d - 1)
    ramp = np.clip((np.arange(d // 2) - low) / (high - low), 0, 1)
    smooth = 1 - ramp
    freqs = (freqs / factor * (1 - smooth) + freqs * smooth).astype(np.float32)
    ok = True
    for heads, stride, offset, inter in ((4, 192, 128, 1), (1, 576, 512, 0)):
        x_bits, x = bf16(rng.standard_normal((3, heads * stride)))
        out = x_bits.copy().reshape(-1)
        emu.run_kernel(kernels["rope_bf16"], (3, 1, 1), 256, 0,
                       [emu.global_memref(out), emu.global_memref(positions),
                        emu.global_memref(freqs), heads, heads * stride, stride,
                        offset, inter, 1.0])
        want = x.astype(np.float64).copy()
        angle = (positions[:, None].astype(np.float32) * freqs[None, :]).astype(np.float64)
        cos, sin = np.cos(angle), np.sin(angle)
        for h in range(heads):
            at = h * stride + offset
            ia = at + (2 * np.arange(32) if inter else np.arange(32))
            ib = ia + 1 if inter else ia + 32
            a, b = x[:, ia].astype(np.float64), x[:, ib].astype(np.float64)
            want[:, ia], want[:, ib] = a * cos - b * sin, a * sin + b * cos
        got = emu._bits_to_f32(out).reshape(3, -1)
        # Within one bf16 step (2^-7 relative at most) of the exact rotation,
        # as dsc-kernel-bench checks it on the GPU; the rest untouched.
        err = np.abs(got - want) / np.maximum(np.abs(want), 1e-3)
        worst = float(err.max())
        ok = ok and bool(np.isfinite(got).all()) and worst <= 2 ** -7
        print(f"rope_bf16 ({heads} head(s), {'adjacent pairs' if inter else 'halves'}): "
              f"max relative error {worst:.1e} {'ok' if worst <= 2 ** -7 else 'MISMATCH'}")
    return ok


def fp8_problem(rng, offsets, k, n, experts):
    """Random e4m3 A [rows, K] and B [experts * N, K] (no NaN codes), their
    block scales, and the block-scaled product in float64."""
    rows = int(offsets[-1])

    def e4m3(shape):
        codes = rng.integers(0, 256, shape).astype(np.uint8)
        codes[(codes & 0x7F) == 0x7F] = 0x38  # no NaN: 1.0 instead
        return codes
    a, b = e4m3((rows, k)), e4m3((experts * n, k))
    sa = rng.uniform(0.01, 0.1, (rows, k // 128)).astype(np.float32)
    sb = rng.uniform(0.01, 0.1, (experts * n // 128, k // 128)).astype(np.float32)
    av, bv = emu._E4M3[a], emu._E4M3[b]
    want = np.zeros((rows, n))
    for e in range(experts):
        r = slice(offsets[e], offsets[e + 1])
        for kb in range(k // 128):
            ks = slice(128 * kb, 128 * kb + 128)
            part = av[r, ks] @ bv[e * n:(e + 1) * n, ks].T
            want[r] += part * sa[r, kb:kb + 1] * np.repeat(sb[e * n // 128:(e + 1) * n // 128, kb], 128)[None, :]
    return a, b, sa, sb, want


def grouped_gemm_fp8(kernels):
    """The FP8 grouped GEMM with block scales: experts of 64 and 128 rows
    (one padded), K = 384 (three scale blocks, fewer K tiles than the ring
    has stages), N = 256 (two weight scale rows per expert)."""
    k, n, experts = 384, 256, 2
    offsets = np.array([0, 64, 192], np.int32)
    a, b, sa, sb, want = fp8_problem(np.random.default_rng(19), offsets, k, n, experts)
    rows = int(offsets[-1])
    c = np.full(rows * n, np.nan, np.float32)
    emu.run_kernel(kernels["grouped_gemm_fp8_tn_m64"], (n // 128, 2, experts), 256,
                   4 * (64 + 128) * 64 * 2,
                   [emu.global_memref(a.view(np.uint16).copy()),
                    emu.global_memref(b.view(np.uint16).copy()), emu.global_memref(c),
                    emu.global_memref(offsets), emu.global_memref(sa),
                    emu.global_memref(sb), n, k])
    return verdict("grouped_gemm_fp8_tn_m64", c.reshape(rows, n), want, 1e-5)


def grouped_gemm_fp8_wgmma(kernels):
    """The sm_90a FP8 grouped GEMM (TMA, e4m3 wgmma on its own descriptors):
    experts of 128 and 256 rows (one and two row blocks), K = 640 (5 scale
    blocks, more than the 4 stages: a stage refilled), N = 256."""
    k, n, experts = 640, 256, 2
    offsets = np.array([0, 128, 384], np.int32)
    a, b, sa, sb, want = fp8_problem(np.random.default_rng(23), offsets, k, n, experts)
    rows = int(offsets[-1])
    c = np.full(rows * n, np.nan, np.float32)
    emu.run_kernel(kernels["grouped_gemm_fp8_wgmma"], (n // 128, 2, experts), 256,
                   4 * 32768 + 1024,
                   [emu.TensorMap(a, (128, 128)), emu.TensorMap(b, (128, 128)),
                    emu.global_memref(c), emu.global_memref(offsets),
                    emu.global_memref(sa), emu.global_memref(sb), n, k])
    return verdict("grouped_gemm_fp8_wgmma", c.reshape(rows, n), want, 1e-5)


def align(kernels, ids, experts, block):
    """moe_align on the emulator: (offsets, slot_row, row_slot) of the
    slots `ids` sorted into `block`-row expert runs."""
    slots = len(ids)
    offsets = np.zeros(experts + 1, np.int32)
    slot_row = np.zeros(slots, np.int32)
    row_slot = np.full(slots + experts * (block - 1), -1, np.int32)
    emu.run_kernel(kernels["moe_align"], (1, 1, 1), 1024, 0,
                   [emu.global_memref(ids), slots, experts, block,
                    emu.global_memref(offsets), emu.global_memref(slot_row),
                    emu.global_memref(row_slot)])
    return offsets, slot_row, row_slot


def moe_dispatch(kernels):
    """MoE dispatch around the grouped GEMMs (known good on an H200, like
    the grouped GEMM): 37 tokens, top-4 of 8 experts, 64-row blocks;
    align, gather and combine against NumPy."""
    rng = np.random.default_rng(23)
    tokens, top_k, experts, block, hidden = 37, 4, 8, 64, 1024
    ids = np.stack([rng.permutation(experts)[:top_k] for _ in range(tokens)])
    ids = ids.reshape(-1).astype(np.int32)
    slots = tokens * top_k
    offsets, slot_row, row_slot = align(kernels, ids, experts, block)
    counts = np.bincount(ids, minlength=experts)
    padded = (counts + block - 1) // block * block
    ok = bool((offsets == np.concatenate([[0], np.cumsum(padded)])).all())
    for s_ in range(slots):
        e = ids[s_]
        ok = ok and offsets[e] <= slot_row[s_] < offsets[e] + counts[e]
        ok = ok and row_slot[slot_row[s_]] == s_
    ok = ok and int((row_slot >= 0).sum()) == slots
    rows = int(offsets[-1])
    x_bits, x = bf16(rng.standard_normal((tokens, hidden)))
    a = np.full(rows * hidden, 0x7FC0, np.uint16)
    emu.run_kernel(kernels["moe_gather"], (rows, 1, 1), 256, 0,
                   [emu.global_memref(x_bits), emu.global_memref(row_slot), top_k,
                    hidden, emu.global_memref(a)])
    a = a.reshape(rows, hidden)
    for r in range(rows):
        want = x_bits[row_slot[r] // top_k] if row_slot[r] >= 0 else 0
        ok = ok and bool((a[r] == want).all())
    d = rng.standard_normal((rows, hidden)).astype(np.float32)
    w = rng.uniform(0.1, 1, slots).astype(np.float32)
    out = np.zeros(tokens * hidden, np.uint16)
    emu.run_kernel(kernels["moe_combine"], (tokens, 1, 1), 256, 0,
                   [emu.global_memref(d), emu.global_memref(slot_row),
                    emu.global_memref(w), top_k, hidden, emu.global_memref(out)])
    want = np.zeros((tokens, hidden))
    for s_ in range(slots):
        want[s_ // top_k] += w[s_] * d[slot_row[s_]]
    got = emu._bits_to_f32(out).reshape(tokens, hidden)
    err = float((np.abs(got - want) / np.maximum(np.abs(want), 1e-2)).max())
    ok = ok and err <= 2 ** -8
    print(f"moe_align + moe_gather + moe_combine ({tokens} tokens, top-{top_k} of "
          f"{experts}): {'ok' if ok else 'MISMATCH'} (combine within {err:.1e})")
    return moe_tiles(kernels) and ok


def moe_tiles(kernels):
    """moe_tiles on unpadded rows (moe_align with blocks of 1): experts of
    0, 1, 64, 65 and 130 rows in 64-row tiles, listed in expert order as
    [expert, first row], then [-1, -1] up to the buffer's end."""
    counts = np.array([0, 1, 64, 65, 130, 0])
    experts, tile = len(counts), 64
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    max_tiles = int(-(-counts.sum() // tile)) + experts
    tiles = np.full(2 * max_tiles, 12345, np.int32)
    emu.run_kernel(kernels["moe_tiles"], (1, 1, 1), 1024, 0,
                   [emu.global_memref(offsets), experts, tile, max_tiles,
                    emu.global_memref(tiles)])
    want = [[e, offsets[e] + k * tile] for e in range(experts)
            for k in range(-(-counts[e] // tile))]
    real = len(want)
    want += [[-1, -1]] * (max_tiles - real)
    ok = bool((tiles.reshape(-1, 2) == np.array(want)).all())
    print(f"moe_tiles ({real} tiles of {counts.sum()} rows of {experts} experts, "
          f"{max_tiles} entries): {'ok' if ok else 'MISMATCH'}")
    return ok


def moe_pipeline(kernels):
    """The MoE kernels chained as a layer runs them: the router (V3's, 256
    experts) picks each token's 8 experts, moe_align sorts the slots into
    64-row expert blocks, moe_gather copies the tokens' rows, the grouped
    GEMM with SwiGLU fused (gate and up rows packed per 32) and the down
    GEMM run the experts, moe_combine sums them back with the routing
    weights; against a NumPy MoE with DeepSeek's router and transformers'
    bf16 roundings. Each kernel is checked alone elsewhere: this checks
    that their layouts fit together."""
    rng = np.random.default_rng(37)
    tokens, top_k, experts, hidden, width, block = 2, 8, 256, 1024, 128, 64
    logits = rng.standard_normal((tokens, experts)).astype(np.float32)
    bias = (0.1 * rng.standard_normal(experts)).astype(np.float32)
    ids = np.zeros(tokens * top_k, np.int32)
    weights = np.zeros(tokens * top_k, np.float32)
    emu.run_kernel(kernels["moe_route_v3"], (1, 1, 1), 128, 0,
                   [emu.global_memref(logits), emu.global_memref(bias), tokens, 4,
                    top_k, 1, 2.5, emu.global_memref(ids), emu.global_memref(weights)])
    offsets, slot_row, row_slot = align(kernels, ids, experts, block)
    rows = int(offsets[-1])
    x_bits, x = bf16(rng.standard_normal((tokens, hidden)))
    a = np.zeros(rows * hidden, np.uint16)
    emu.run_kernel(kernels["moe_gather"], (rows, 1, 1), 256, 0,
                   [emu.global_memref(x_bits), emu.global_memref(row_slot), top_k,
                    hidden, emu.global_memref(a)])
    # Gate and up [experts, width, hidden] each, packed per 32 rows: 16 gate
    # rows, then the same 16 up rows; down [experts, hidden, width]. Only
    # the chosen experts' weights are drawn (the others stay zero, unread).
    gate_bits = np.zeros((experts, width, hidden), np.uint16)
    up_bits = np.zeros_like(gate_bits)
    down_bits = np.zeros((experts, hidden, width), np.uint16)
    for e in np.unique(ids):
        gate_bits[e] = bf16(0.05 * rng.standard_normal((width, hidden)))[0]
        up_bits[e] = bf16(0.05 * rng.standard_normal((width, hidden)))[0]
        down_bits[e] = bf16(0.05 * rng.standard_normal((hidden, width)))[0]
    gate, up, down = (emu._bits_to_f32(w) for w in (gate_bits, up_bits, down_bits))
    packed = np.stack([gate_bits.reshape(experts, width // 16, 16, hidden),
                       up_bits.reshape(experts, width // 16, 16, hidden)], axis=2)
    h = np.zeros(rows * width, np.uint16)
    max_blocks = int(np.max(np.diff(offsets)) // block)
    gemm = kernels["grouped_gemm_swiglu_bf16_tn_m64"]
    emu.run_kernel(gemm, (2 * width // 128, max_blocks, experts), 128, 4 * (64 + 128) * 64 * 2,
                   [emu.global_memref(a), emu.global_memref(packed.reshape(-1).copy()),
                    emu.global_memref(h), emu.global_memref(offsets), 2 * width, hidden])
    d = np.zeros(rows * hidden, np.float32)
    emu.run_kernel(kernels["grouped_gemm_bf16_tn_m64"], (hidden // 128, max_blocks, experts),
                   128, 4 * (64 + 128) * 64 * 2,
                   [emu.global_memref(h), emu.global_memref(down_bits.reshape(-1).copy()),
                    emu.global_memref(d), emu.global_memref(offsets), hidden, width])
    out = np.zeros(tokens * hidden, np.uint16)
    emu.run_kernel(kernels["moe_combine"], (tokens, 1, 1), 256, 0,
                   [emu.global_memref(d), emu.global_memref(slot_row),
                    emu.global_memref(weights), top_k, hidden, emu.global_memref(out)])
    want_ids, want_w = route_reference(logits, bias, 8, 4, top_k, True, 2.5)
    want = np.zeros((tokens, hidden))
    for t in range(tokens):
        for j in range(top_k):
            e = want_ids[t, j]
            g = emu._bits_to_f32(emu._f32_to_bf16((gate[e] @ x[t]).astype(np.float32)))
            u = emu._bits_to_f32(emu._f32_to_bf16((up[e] @ x[t]).astype(np.float32)))
            silu = emu._bits_to_f32(emu._f32_to_bf16(g / (1 + np.exp(-g))))
            act = emu._bits_to_f32(emu._f32_to_bf16(silu * u))
            want[t] += want_w[t, j] * (down[e].astype(np.float64) @ act)
    got = emu._bits_to_f32(out).reshape(tokens, hidden)
    same = bool((ids.reshape(tokens, top_k) == want_ids).all())
    return verdict(f"moe_route_v3 -> moe_align -> moe_gather -> grouped GEMM SwiGLU -> "
                   f"grouped GEMM -> moe_combine ({tokens} tokens, top-{top_k} of "
                   f"{experts})", got, want, 2e-2, also=same)


def rmsnorm(kernels):
    """The RMSNorm kernels of one gen_rmsnorm.py file, with the residual add
    (add_rmsnorm_<t>) and without (rmsnorm_<t>). bf16 (the add known good
    on an H200): h exactly, y within one bf16 rounding of transformers'
    arithmetic. f32: h exactly, y within 1e-6 of the CPU's arithmetic in
    double (the sum of squares in another order). f32 rows with y stored
    as bf16 (<name>_f32_bf16): h as the f32 kernel's, y bit-equal to the
    f32 kernel's y rounded to nearest even (the same inputs)."""
    rows, hidden, eps = 3, 1536, 1e-6  # q_a's width: a partial last step
    ok = True
    f32_y = {}
    # The f32 kernels before their bf16-output variants: those compare
    # with them.
    for name in sorted((k for k in kernels if "::" not in k),
                       key=lambda k: (k.endswith("_f32_bf16"), k)):
        residual = name.startswith("add_")
        dtype = name.split("rmsnorm_", 1)[1].split("_")[0]
        out = name.rsplit("_", 1)[1]
        rng = np.random.default_rng(29)  # the same inputs for each kernel
        if dtype == "bf16":
            (x_bits, x), (r_bits, r), (w_bits, w) = [
                bf16(rng.standard_normal(shape))
                for shape in ((rows, hidden), (rows, hidden), hidden)]
        else:
            x, r, w = x_bits, r_bits, w_bits = [
                rng.standard_normal(shape).astype(np.float32)
                for shape in ((rows, hidden), (rows, hidden), hidden)]
        h = np.zeros(rows * hidden, np.uint16 if dtype == "bf16" else np.float32)
        y = np.zeros(rows * hidden, np.uint16 if out == "bf16" else np.float32)
        args = [emu.global_memref(x_bits)]
        args += [emu.global_memref(r_bits)] if residual else []
        args += [emu.global_memref(w_bits)]
        args += [emu.global_memref(h)] if residual else []
        args += [emu.global_memref(y), hidden, eps]
        emu.run_kernel(kernels[name], (rows, 1, 1), 256, 0, args)
        want_h = (x + r).astype(np.float32) if residual else x
        if dtype == "bf16":
            _, want_h = bf16(want_h)
            got_h = emu._bits_to_f32(h).reshape(rows, hidden)
        else:
            got_h = h.reshape(rows, hidden)
        got_y = (emu._bits_to_f32(y) if out == "bf16" else y).reshape(rows, hidden)
        inv = 1 / np.sqrt((want_h.astype(np.float64) ** 2).mean(axis=1, keepdims=True) + eps)
        if dtype == "bf16":
            _, normed = bf16((want_h * inv).astype(np.float32))
            _, want_y = bf16(normed * w)
            tolerance = 2 ** -7
        elif out == "bf16":
            _, want_y = bf16(f32_y[name[:-len("_bf16")]])
            tolerance = 0.0
        else:
            want_y = want_h * inv * w
            tolerance = 1e-6
            f32_y[name] = got_y
        err = float((np.abs(got_y - want_y) / np.maximum(np.abs(want_y), 1e-3)).max())
        h_ok = not residual or bool((got_h == want_h).all())
        this = h_ok and bool(np.isfinite(got_y).all()) and err <= tolerance
        ok &= this
        h_text = ("h equal, " if h_ok else "h DIFFERS, ") if residual else ""
        y_text = (f"y bit-equal to the f32 kernel's rounded" if err == 0 and out != dtype
                  else f"y within {err:.1e}")
        print(f"{name} ({rows} x {hidden}): {h_text}{y_text} "
              f"{'ok' if this else 'MISMATCH'}")
    return ok


def quant_fp8(kernels):
    """Activation quantization for the FP8 GEMMs: 3 rows of 384 (9 groups of
    128), one group all zero, one with values far beyond e4m3's range;
    codes and scales exactly as DeepSeek's act_quant computes them (in
    f32), and the dequantized values within e4m3's precision."""
    rng = np.random.default_rng(31)
    rows, k = 3, 384
    x = rng.standard_normal((rows, k)).astype(np.float32)
    x[1, 128:256] = 0
    x[2, 0:128] *= 1e4
    x_bits, x = bf16(x)
    q = np.zeros(rows * k // 4, np.int32)
    scales = np.full(rows * k // 128, np.nan, np.float32)
    groups = rows * k // 128
    emu.run_kernel(kernels["quant_fp8_bf16"], ((groups + 7) // 8, 1, 1), 256, 0,
                   [emu.global_memref(x_bits), emu.global_memref(q),
                    emu.global_memref(scales), groups])
    g = x.reshape(groups, 128)
    want_s = (np.maximum(np.abs(g).max(axis=1), np.float32(1e-30)) /
              np.float32(448)).astype(np.float32)
    want_q = emu.f32_to_e4m3((g / want_s[:, None]).astype(np.float32))
    got_q = q.view(np.uint8).reshape(groups, 128).astype(np.int64)
    same = bool((got_q == want_q).all() and (scales == want_s).all())
    # Half a step of e4m3's 3-bit mantissa, relative to the value (or to
    # the scale, for values in e4m3's subnormal range).
    back = emu._E4M3[got_q] * scales[:, None]
    err = float((np.abs(back - g) / np.maximum(np.abs(g), scales[:, None])).max())
    ok = same and err <= 2 ** -4 and not got_q[4].any()
    print(f"quant_fp8_bf16 ({groups} groups): codes and scales "
          f"{'equal' if same else 'DIFFER'}, dequantized within {err:.1e} "
          f"{'ok' if ok else 'MISMATCH'}")
    return ok


def mla_reference(q, kv, table, lens, scale_log2, dv=512):
    """Decode attention in float64: q [B, H, dv + rope], kv [pages, 64,
    dv + rope]."""
    batch, heads, _ = q.shape
    out = np.zeros((batch, heads, dv))
    for b in range(batch):
        n = int(lens[b])
        if n == 0:
            continue
        tok = np.arange(n)
        rows = kv[table[b, tok // 64], tok % 64].astype(np.float64)  # [n, D]
        s = q[b].astype(np.float64) @ rows.T * scale_log2  # base 2
        p = np.exp2(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        out[b] = p @ rows[:, :dv]
    return out


def mla_decode(kernels):
    """Sequences ending mid-tile and mid-page, one of one token, one of
    none; 4 splits of 3 tiles (the short sequences leave splits empty); the
    pages shuffled in the pool. Both kernels, then the combined output
    against float64; then 80 heads (a partial second block of heads). The
    widths are the variant's (DeepSeek's, or _c<latent>_r<rope>, whose
    shared rows have zero-filled chunks past the cached ones)."""
    ok = True
    for name in sorted(kernels):
        found = re.fullmatch(r"mla_decode_bf16(_c(\d+)_r(\d+))?", name)
        if not found:
            continue
        latent, rope = (int(found[2]), int(found[3])) if found[1] else (512, 64)
        for heads in (64, 80):
            ok &= mla_decode_check(kernels, name, heads, latent, rope,
                                   combine=f"mla_decode_combine{found[1] or ''}")
    return ok


def mla_decode_wgmma(kernels):
    """The sm_90a kernel (TMA, wgmma on its own descriptors) on mla-decode's
    inputs, 4 splits of 3 pages (a stage refilled); then 80 heads."""
    return (mla_decode_check(kernels, "mla_decode_wgmma_bf16") &
            mla_decode_check(kernels, "mla_decode_wgmma_bf16", heads=80))


def mla_decode_check(kernels, name, heads=64, latent=512, rope=64,
                     combine="mla_decode_combine"):
    """`heads` need not be a multiple of 64: the last block's rows past the
    last head must stay zero-filled and write nothing (80 heads: the second
    block of the last sequence would write past Opart's end)."""
    d = latent + rope
    rng = np.random.default_rng(7)
    splits, tiles_per_split = 4, 3
    lens = np.array([1, 95, 333, 0], np.int32)
    batch = len(lens)
    max_pages = 6
    pages_needed = [(n + 63) // 64 for n in lens]
    pool = rng.permutation(sum(pages_needed))
    table = np.full((batch, max_pages), 2**31 - 1, np.int32)  # poisoned
    at = 0
    for b, count in enumerate(pages_needed):
        table[b, :count] = pool[at:at + count]
        at += count
    # Queries small enough for a flat softmax, where one wrongly unmasked
    # (zero) token would shift the output visibly.
    q_bits, q = bf16(0.25 * rng.standard_normal((batch, heads, d)))
    kv_bits, kv = bf16(rng.standard_normal((len(pool), 64, d)))
    # The rows of a last page past its sequence hold NaN: copying one in
    # place of zeros would poison P V even where P is 0.
    for b, count in enumerate(pages_needed):
        if count and lens[b] % 64:
            kv_bits[table[b, count - 1], lens[b] % 64:] = 0x7FC0
    scale = (0.1 * math.log(40) + 1) ** 2 / math.sqrt(192) / math.log(2)
    opart = np.full(batch * heads * splits * latent, np.nan, np.float32)
    lse = np.full(batch * heads * splits, np.nan, np.float32)
    out = np.zeros(batch * heads * latent, np.uint16)
    smem = int(kernels[name].attr(r"dsc.dynamic_shared_memory = (\d+)"))
    if name == "mla_decode_wgmma_bf16":
        inputs = [emu.TensorMap(q_bits.reshape(-1, 576), (64, 64)),
                  emu.TensorMap(kv_bits.reshape(-1, 576), (64, 64))]
        offset = []
    else:
        # The pages follow two pages of another layer (NaN): kvOffset must
        # skip them.
        layers = np.concatenate([np.full((2, 64, d), 0x7FC0, np.uint16), kv_bits])
        inputs = [emu.global_memref(q_bits), emu.global_memref(layers)]
        offset = [2 * 64 * d]
    emu.run_kernel(kernels[name], ((heads + 63) // 64, splits, batch), 256,
                   smem, inputs + [emu.global_memref(table), emu.global_memref(lens),
                                   emu.global_memref(opart), emu.global_memref(lse),
                                   heads, max_pages, splits, tiles_per_split] + offset +
                   [float(scale)])
    emu.run_kernel(kernels[combine], (heads, batch, 1), latent // 4, 0,
                   [emu.global_memref(opart), emu.global_memref(lse),
                    emu.global_memref(out), heads, splits])
    got = emu._bits_to_f32(out).reshape(batch, heads, latent)
    want = mla_reference(q, kv, table, lens, scale, latent)
    # P and the output are rounded to bf16: 2^-9 relative each. The empty
    # sequence's output is zero.
    return verdict(f"{name} + {combine} (lengths "
                   f"{', '.join(map(str, lens))}; {splits} splits"
                   + (f"; {heads} heads)" if heads != 64 else ")"), got, want, 1e-2,
                   also=not got[3].any())


def mla_prefill(kernels):
    """Two sequences of 150 tokens (the last query and key tiles partial),
    3 heads, against float64 causal attention with the rope key shared by
    the heads. The widths are the variant's (DeepSeek's, or
    _n<nope>_r<rope>_v<value>, whose query and key rows are zero-filled to
    whole k steps: chunks a copy past the row would read outside Q or
    KR)."""
    ok = True
    for name in sorted(kernels):
        found = re.fullmatch(r"mla_prefill_bf16(_n(\d+)_r(\d+)_v(\d+))?", name)
        if found:
            widths = tuple(map(int, found.groups()[1:])) if found[1] else (128, 64, 128)
            ok &= mla_prefill_check(kernels, name, *widths)
    return ok


def mla_prefill_wgmma(kernels):
    """The sm_90a kernel (TMA through 3-d tensor maps, wgmma on its own
    descriptors) on mla-prefill's inputs."""
    return mla_prefill_check(kernels, "mla_prefill_wgmma_bf16")


def mla_prefill_check(kernels, name, nope=128, rope=64, value=128):
    rng = np.random.default_rng(11)
    batch, seq, heads = 2, 150, 3
    dqk = nope + rope
    q_bits, q = bf16(0.25 * rng.standard_normal((batch, seq, heads, dqk)))
    kv_bits, kv = bf16(rng.standard_normal((batch, seq, heads, nope + value)))
    kr_bits, kr = bf16(rng.standard_normal((batch, seq, rope)))
    scale = (0.1 * math.log(40) + 1) ** 2 / math.sqrt(dqk) / math.log(2)
    out = np.full(batch * seq * heads * value, 0x7FC0, np.uint16)
    tiles = (seq + 63) // 64
    smem = int(kernels[name].attr(r"dsc.dynamic_shared_memory = (\d+)"))
    if name == "mla_prefill_wgmma_bf16":
        inputs = [emu.TensorMap(q_bits.reshape(batch, seq, -1), (1, 64, 64)),
                  emu.TensorMap(kv_bits.reshape(batch, seq, -1), (1, 64, 64)),
                  emu.TensorMap(kr_bits, (1, 64, 64))]
    else:
        inputs = [emu.global_memref(q_bits), emu.global_memref(kv_bits),
                  emu.global_memref(kr_bits)]
    emu.run_kernel(kernels[name], (tiles, heads, batch), 128, smem,
                   inputs + [emu.global_memref(out), seq, heads, float(scale)])
    got = emu._bits_to_f32(out).reshape(batch, seq, heads, value)
    want = prefill_reference(q, kv, kr, scale, nope)
    return verdict(f"{name} ({batch} x {seq} tokens, {heads} heads)", got, want, 1e-2)


def prefill_reference(q, kv, kr, scale_log2, nope):
    """Causal MLA prefill in float64: q [B, S, H, nope + rope], kv [B, S, H,
    nope + value] (k_nope, then v), kr [B, S, rope] shared by the heads;
    scores scaled into base 2."""
    batch, seq, heads, _ = q.shape
    want = np.zeros((batch, seq, heads, kv.shape[-1] - nope))
    causal = np.tril(np.ones((seq, seq), bool))
    for b in range(batch):
        for h in range(heads):
            k = np.concatenate([kv[b, :, h, :nope], kr[b]], axis=1).astype(np.float64)
            s = q[b, :, h].astype(np.float64) @ k.T * scale_log2
            s = np.where(causal, s, -np.inf)
            p = np.exp2(s - s.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            want[b, :, h] = p @ kv[b, :, h, nope:].astype(np.float64)
    return want


def prefill_host(modules):
    """dsc-library-gemms' lowering of dsc.causal_mla_prefill
    (test/codegen/Inputs/prefill-v3.mlir, V3's widths, 2 heads; with
    wgmma, the TMA descriptors the host code asks for): two sequences of
    70 tokens (a second, partial query and key tile, read past the
    sequence as TMA's zeros) against float64 causal attention; the output
    must be written whole."""
    rng = np.random.default_rng(13)
    (module,) = modules
    batch, seq, heads, nope, rope, value = 2, 70, 2, 128, 64, 128
    q_bits, q = bf16(0.25 * rng.standard_normal((batch, seq, heads, nope + rope)))
    kv_bits, kv = bf16(rng.standard_normal((batch, seq, heads, nope + value)))
    kr_bits, kr = bf16(rng.standard_normal((batch, seq, rope)))
    out = np.full((batch, seq, heads, value), 0x7FC0, np.uint16)
    scale = 0.1352337788608801  # the input's dsc.causal_mla_prefill's
    launches = emu.run_host(module, "prefill", [
        emu.MemRef(q_bits, list(q_bits.shape)), emu.MemRef(kv_bits, list(kv_bits.shape)),
        emu.MemRef(kr_bits, list(kr_bits.shape)), emu.MemRef(out, list(out.shape))])
    want = prefill_reference(q, kv, kr, scale / math.log(2), nope)
    kernels_run = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
    return verdict(f"prefill ({kernels_run})", emu._bits_to_f32(out), want, 1e-2)


def routed_experts(modules):
    """dsc-library-gemms' output for the routed experts' GEMMs per slot
    (test/codegen/Inputs/routed-experts.mlir): its host code (the experts
    clamped, the rows gathered in expert order, each slot's row put back)
    run with its launches of moe_align and the grouped GEMM, against
    C[t, j] = A[t, (j)] W[clamp(indices[t, j])]^T. 37 tokens, top-3 of 5
    experts (N 136, K 40), one expert holding 68 slots or more (more
    than a 64-row block), two indices out of range; C starts as NaN (the marked GEMM's zero fill is gone), so
    every element must be written."""
    rng = np.random.default_rng(11)
    tokens, top_k, experts, n, k = 37, 3, 5, 136, 40
    (module,) = modules
    ok = True
    for name, shape in (("per_token", (tokens, k)), ("per_slot", (tokens, top_k, k))):
        a_bits, a = bf16(rng.standard_normal(shape))
        w_bits, w = bf16(rng.standard_normal((experts, n, k)))
        indices = rng.integers(0, experts, (tokens, top_k)).astype(np.int64)
        indices[:34, :2] = 2  # 68 rows: more than one 64-row block
        indices[3, 2], indices[30, 2] = -4, 9
        c = np.full((tokens, top_k, n), np.nan, np.float32)
        launches = emu.run_host(module, name, [
            emu.MemRef(a_bits, list(shape)), emu.MemRef(indices, [tokens, top_k]),
            emu.MemRef(w_bits, [experts, n, k]), emu.MemRef(c, [tokens, top_k, n])])
        e = np.clip(indices, 0, experts - 1)
        rows = a if name == "per_slot" else a[:, None, :].repeat(top_k, axis=1)
        want = np.einsum("tjk,tjnk->tjn", rows.astype(np.float64), w[e].astype(np.float64))
        kernels_run = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
        ok &= verdict(f"routed experts {name} ({kernels_run})", c, want, 1e-5)
    # A step without tokens: nothing to compute, and no descriptor of no
    # rows asked for (the runtime refuses one; so does the emulator).
    w_bits, _ = bf16(rng.standard_normal((experts, n, k)))
    launches = emu.run_host(module, "per_token", [
        emu.MemRef(np.zeros((0, k), np.uint16), [0, k]),
        emu.MemRef(np.zeros((0, top_k), np.int64), [0, top_k]),
        emu.MemRef(w_bits, [experts, n, k]),
        emu.MemRef(np.zeros((0, top_k, n), np.float32), [0, top_k, n])])
    print(f"routed experts, no tokens ({', '.join(f'{kernel} {grid}' for kernel, grid in launches)}): "
          "ok")
    # A layer's three GEMMs: one sorting, gate and up on one gather.
    x_bits, x = bf16(rng.standard_normal((tokens, k)))
    act_bits, act = bf16(rng.standard_normal((tokens, top_k, k)))
    w_bits, w = zip(*(bf16(rng.standard_normal((experts, n, k))) for _ in range(3)))
    indices = rng.integers(-1, experts + 1, (tokens, top_k)).astype(np.int64)
    indices[:33, 1:] = 3  # 66 rows: more than one 64-row tile
    outs = [np.full((tokens, top_k, n), np.nan, np.float32) for _ in range(3)]
    launches = emu.run_host(module, "layer", [
        emu.MemRef(x_bits, [tokens, k]), emu.MemRef(act_bits, [tokens, top_k, k]),
        emu.MemRef(indices, [tokens, top_k])] +
        [emu.MemRef(bits, [experts, n, k]) for bits in w_bits] +
        [emu.MemRef(c, [tokens, top_k, n]) for c in outs])
    e = np.clip(indices, 0, experts - 1)
    inputs = (x[:, None, :].repeat(top_k, axis=1),) * 2 + (act,)
    kernels_run = ", ".join(kernel for kernel, _ in launches)
    for what, c, rows, weights in zip(("gate", "up", "down"), outs, inputs, w):
        want = np.einsum("tjk,tjnk->tjn", rows.astype(np.float64),
                         weights[e].astype(np.float64))
        ok &= verdict(f"routed experts layer {what} ({kernels_run})", c, want, 1e-5)
    # A layer whose SwiGLU fuses with gate and up (width 72 over hidden 40):
    # its activations, rounded once to bf16, feed the down GEMM in expert
    # order.
    width = 72
    x_bits, x = bf16(rng.standard_normal((tokens, k)))
    (wg_bits, wg), (wu_bits, wu) = (bf16(0.3 * rng.standard_normal((experts, width, k)))
                                    for _ in range(2))
    wd_bits, wd = bf16(rng.standard_normal((experts, k, width)))
    indices = rng.integers(-1, experts + 1, (tokens, top_k)).astype(np.int64)
    indices[:33, 1:] = 3
    out = np.full((tokens, top_k, k), np.nan, np.float32)
    launches = emu.run_host(module, "swiglu_layer", [
        emu.MemRef(x_bits, [tokens, k]), emu.MemRef(indices, [tokens, top_k]),
        emu.MemRef(wg_bits, [experts, width, k]), emu.MemRef(wu_bits, [experts, width, k]),
        emu.MemRef(wd_bits, [experts, k, width]), emu.MemRef(out, [tokens, top_k, k])])
    e = np.clip(indices, 0, experts - 1)
    g = np.einsum("tk,tjnk->tjn", x, wg[e], dtype=np.float32)
    u = np.einsum("tk,tjnk->tjn", x, wu[e], dtype=np.float32)
    act = bf16((g / (np.float32(1) + np.exp(-g))) * u)[1]
    want = np.einsum("tjn,tjkn->tjk", act.astype(np.float64), wd[e].astype(np.float64))
    kernels_run = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
    ok &= verdict(f"routed experts layer with SwiGLU fused ({kernels_run})", out, want, 1e-4)
    # The same layer with its weighted combine (y[t] = sum_j w[t, j]
    # down[t, j]) reading the down GEMM's rows in expert order.
    weights = rng.random((tokens, top_k)).astype(np.float32)
    y = np.full((tokens, k), np.nan, np.float32)
    launches = emu.run_host(module, "moe_layer", [
        emu.MemRef(x_bits, [tokens, k]), emu.MemRef(indices, [tokens, top_k]),
        emu.MemRef(wg_bits, [experts, width, k]), emu.MemRef(wu_bits, [experts, width, k]),
        emu.MemRef(wd_bits, [experts, k, width]), emu.MemRef(weights, [tokens, top_k]),
        emu.MemRef(y, [tokens, k])])
    kernels_run = ", ".join(kernel for kernel, _ in launches)
    ok &= verdict(f"routed experts layer with SwiGLU and combine ({kernels_run})", y,
                  np.einsum("tj,tjk->tk", weights.astype(np.float64), want), 1e-4)
    return ok


def fp8w_weights(modules):
    """dsc-library-gemms' output for e4m3 weights with block scales
    (test/codegen/Inputs/fp8w-weights.mlir): its host code and launches
    against NumPy, each weight bf16(w * scale) and the rows bf16. A linear
    layer (N 32, K 64, blocks 16 x 32) and a dense MLP with SwiGLU (width
    40) with 70 rows (the e4m3 kernels) and with 200 (the weights
    dequantized, then the bf16 kernels); a routed layer with e4m3 stacks
    and SwiGLU (37 tokens, top-2 of 4 experts, width 32, hidden 64). Every
    output starts as NaN."""
    rng = np.random.default_rng(31)
    (module,) = modules
    k, block_n, block_k = 64, 16, 32

    def e4m3(shape, largest_scale):
        codes = rng.integers(0, 256, shape).astype(np.uint8)
        codes[(codes & 0x7F) == 0x7F] = 0x38
        n = shape[-2]
        scales = rng.uniform(1e-3, largest_scale,
                             shape[:-2] + (-(-n // block_n), -(-shape[-1] // block_k)))
        scales = scales.astype(np.float32)
        full = np.repeat(np.repeat(scales, block_n, -2), block_k, -1)[..., :n, :shape[-1]]
        return codes, scales, bf16(emu._E4M3[codes].astype(np.float32) * full)[1]

    def memref(array):
        return emu.MemRef(array, list(array.shape))

    ok = True
    for rows in (70, 200):
        x_bits, x = bf16(rng.standard_normal((rows, k)))
        codes, scales, w = e4m3((32, k), 2.0)
        y = np.full((rows, 32), np.nan, np.float32)
        launches = emu.run_host(module, "linear",
                                [memref(x_bits), memref(codes), memref(scales), memref(y)])
        names = ", ".join(sorted({kernel for kernel, _ in launches}))
        ok &= verdict(f"e4m3 linear layer, {rows} rows ({names})", y,
                      x.astype(np.float64) @ w.T.astype(np.float64), 1e-5)
        (gc, gs, gw), (uc, us, uw) = (e4m3((40, k), 0.01) for _ in range(2))
        d = np.full((rows, 40), 0x7fc0, np.uint16)
        launches = emu.run_host(module, "mlp", [memref(x_bits), memref(gc), memref(gs),
                                                memref(uc), memref(us), memref(d),
                                                np.array([rows], np.int64)])
        g = np.matmul(x, gw.T, dtype=np.float32)
        u = np.matmul(x, uw.T, dtype=np.float32)
        names = ", ".join(sorted({kernel for kernel, _ in launches}))
        ok &= swiglu_verdict(f"e4m3 MLP with SwiGLU, {rows} rows ({names}",
                             emu._bits_to_f32(d), g, u)
    tokens, top_k, experts, width = 37, 2, 4, 32
    x_bits, x = bf16(rng.standard_normal((tokens, k)))
    (gc, gs, gw), (uc, us, uw) = (e4m3((experts, width, k), 0.01) for _ in range(2))
    dc, ds, dw = e4m3((experts, k, width), 0.01)
    indices = rng.integers(-1, experts + 1, (tokens, top_k)).astype(np.int64)
    indices[:33, :] = 3  # 66 slots: more than one 64-row tile
    out = np.full((tokens, top_k, k), np.nan, np.float32)
    launches = emu.run_host(module, "fp8_layer", [
        memref(x_bits), memref(indices), memref(gc), memref(uc), memref(dc), memref(gs),
        memref(us), memref(ds), memref(out), np.array([tokens], np.int64)])
    e = np.clip(indices, 0, experts - 1)
    g = np.einsum("tk,tjnk->tjn", x, gw[e], dtype=np.float32)
    u = np.einsum("tk,tjnk->tjn", x, uw[e], dtype=np.float32)
    act = bf16((g / (np.float32(1) + np.exp(-g))) * u)[1]
    want = np.einsum("tjn,tjkn->tjk", act.astype(np.float64), dw[e].astype(np.float64))
    names = ", ".join(kernel for kernel, _ in launches)
    return verdict(f"e4m3 routed layer with SwiGLU ({names})", out, want, 1e-4) and ok


def wgmma_linear(modules):
    """dsc-library-gemms' output with large-tiles and wgmma for a linear
    layer (test/codegen/Inputs/wgmma-linear.mlir: N 200, K 136): its host
    code and launches against NumPy with 70 rows (the 64-row mma.sync tile)
    and 200 (gemm_wgmma_bf16_tn, A and B through the TMA descriptors the
    host code asks the runtime for); and a dense MLP with SwiGLU (width 72)
    on batched_gemm_swiglu_bf16_tn_m64 and gemm_wgmma_swiglu_bf16_tn. The
    outputs start as NaN."""
    rng = np.random.default_rng(37)
    (module,) = modules
    n, k = 200, 136
    w_bits, w = bf16(rng.standard_normal((n, k)))
    ok = True
    for rows in (70, 200):
        x_bits, x = bf16(rng.standard_normal((rows, k)))
        y = np.full((rows, n), np.nan, np.float32)
        launches = emu.run_host(module, "linear", [emu.MemRef(a, list(a.shape))
                                                   for a in (x_bits, w_bits, y)])
        names = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
        ok &= verdict(f"linear layer, {rows} rows ({names})", y,
                      x.astype(np.float64) @ w.T.astype(np.float64), 1e-5)
    # The dense MLP (width 72): silu(x Wg^T) * (x Wu^T) rounded once.
    width = 72
    (wg_bits, wg), (wu_bits, wu) = (bf16(rng.standard_normal((width, k)))
                                    for _ in range(2))
    for rows in (70, 200):
        x_bits, x = bf16(rng.standard_normal((rows, k)))
        out = np.full((rows, width), 0x7FC0, np.uint16)  # bf16 NaN
        launches = emu.run_host(module, "mlp", [
            emu.MemRef(x_bits, [rows, k]), emu.MemRef(wg_bits, [width, k]),
            emu.MemRef(wu_bits, [width, k]), emu.MemRef(out, [rows, width]),
            np.array([rows], np.int64)])
        g = np.matmul(x, wg.T, dtype=np.float32)
        u = np.matmul(x, wu.T, dtype=np.float32)
        names = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
        ok &= swiglu_verdict(f"dense MLP, {rows} rows ({names}", emu._bits_to_f32(out), g, u)
    return ok


def head_products(modules):
    """dsc-library-gemms' output for the absorbed attention's per-head
    products (test/codegen/Inputs/head-products.mlir): its launches of the
    batched GEMM, each head's slab of W_UK and W_UV read in place in kv_b
    [3 (72 + 136), 200], against NumPy. 2 x 35 query rows and 70 latent
    rows (two M tiles); the outputs start as NaN (their zero fills are
    gone, so every element must be written)."""
    rng = np.random.default_rng(5)
    (module,) = modules
    batch, seq, heads, dn, dv, c = 2, 35, 3, 72, 136, 200
    qn_bits, qn = bf16(rng.standard_normal((batch, seq, heads, dn)))
    lat_bits, lat = bf16(rng.standard_normal((batch * seq, heads, c)))
    kv_bits, kv = bf16(rng.standard_normal((heads * (dn + dv), c)))
    qlat = np.full((batch, seq, heads, c), np.nan, np.float32)
    values = np.full((batch * seq, heads, dv), np.nan, np.float32)
    launches = emu.run_host(module, "head_products", [
        emu.MemRef(qn_bits, [batch, seq, heads, dn]),
        emu.MemRef(lat_bits, [batch * seq, heads, c]),
        emu.MemRef(kv_bits, [heads * (dn + dv), c]),
        emu.MemRef(qlat, [batch, seq, heads, c]),
        emu.MemRef(values, [batch * seq, heads, dv])])
    per_head = kv.reshape(heads, dn + dv, c).astype(np.float64)
    kernels_run = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
    ok = verdict(f"queries times W_UK ({kernels_run})", qlat,
                 np.einsum("bshd,hdc->bshc", qn, per_head[:, :dn]), 1e-5)
    return verdict("latent output times W_UV", values,
                   np.einsum("rhc,hvc->rhv", lat, per_head[:, dn:]), 1e-5) and ok


def head_products_fp8(modules):
    """dsc-library-gemms' output for the per-head products over an FP8 kv_b
    (test/codegen/Inputs/head-products-fp8.mlir): its launches of the
    batched e4m3 kernels, each head's slab of W_UK and W_UV read as stored
    in kv_b [3 (72 + 40), 96] with 16 x 32 block scales, against NumPy on
    kv_b dequantized as the CPU does it (bf16(w * scale)). The other slab's
    codes are NaN (a read past a slab shows); 2 x 35 query rows and 70
    latent rows (two M tiles); the outputs start as NaN."""
    rng = np.random.default_rng(7)
    (module,) = modules
    batch, seq, heads, dn, dv, c = 2, 35, 3, 72, 40, 96
    codes, scales, kv = e4m3_weight(rng, heads * (dn + dv), c, 16, 32)
    per_head = kv.reshape(heads, dn + dv, c).astype(np.float64)
    qn_bits, qn = bf16(rng.standard_normal((batch, seq, heads, dn)))
    lat_bits, lat = bf16(rng.standard_normal((batch * seq, heads, c)))
    ok = True
    for label, nan_rows in (("queries times W_UK", slice(dn, dn + dv)),
                            ("latent output times W_UV", slice(0, dn))):
        planted = codes.reshape(heads, dn + dv, c).copy()
        planted[:, nan_rows] = 0x7F
        qlat = np.full((batch, seq, heads, c), np.nan, np.float32)
        values = np.full((batch * seq, heads, dv), np.nan, np.float32)
        launches = emu.run_host(module, "head_products_fp8", [
            emu.MemRef(qn_bits, [batch, seq, heads, dn]),
            emu.MemRef(lat_bits, [batch * seq, heads, c]),
            emu.MemRef(planted.reshape(-1, c), [heads * (dn + dv), c]),
            emu.MemRef(scales, list(scales.shape)),
            emu.MemRef(qlat, [batch, seq, heads, c]),
            emu.MemRef(values, [batch * seq, heads, dv]),
            emu.MemRef(np.ones(32, np.float32), [4, 8])])
        kernels_run = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
        if nan_rows.start:
            ok = verdict(f"{label} ({kernels_run})", qlat,
                         np.einsum("bshd,hdc->bshc", qn, per_head[:, :dn]), 1e-5) and ok
        else:
            ok = verdict(label, values,
                         np.einsum("rhc,hvc->rhv", lat, per_head[:, dn:]), 1e-5) and ok
    return ok


def split_k(modules):
    """dsc-library-gemms{split-k-blocks=4}'s output for linear layers of 40
    outputs and K 256 (test/codegen/Inputs/split-k.mlir): its host code,
    launches and the sum of the parts against NumPy, with 70 rows (2
    blocks: K in 2 parts), 3 rows (1 block: 4 parts), 150 (3 blocks: 2
    parts; the e4m3 weight, past 128 rows, dequantized first) and 300 (5
    blocks: not split); a bf16 weight and an e4m3 one with 16 x 128 block
    scales, dequantized as the CPU does it; and dense MLPs of such weights
    (gate and up split as those layers, then their sums' SwiGLU; the fused
    SwiGLU kernel at 300 rows), and a wider one whose fused grid, twice
    gate's, decides (split at 3 rows, whole at 150). Every output starts as
    NaN."""
    rng = np.random.default_rng(37)
    (module,) = modules
    n, k = 40, 256

    def memref(array):
        return emu.MemRef(array, list(array.shape))

    ok = True
    for rows in (70, 3, 150, 300):
        x_bits, x = bf16(rng.standard_normal((rows, k)))
        w_bits, w = bf16(rng.standard_normal((n, k)))
        codes, scales, w8 = e4m3_weight(rng, n, k, 16, 128)
        for name, args, weight in (
                ("split_bf16", [memref(w_bits)], w),
                ("split_fp8w", [memref(codes), memref(scales)], w8)):
            y = np.full((rows, n), np.nan, np.float32)
            launches = emu.run_host(module, name, [memref(x_bits), *args, memref(y)])
            grids = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
            ok = verdict(f"{name}, {rows} rows ({grids})", y,
                         x.astype(np.float64) @ weight.T.astype(np.float64), 1e-5) and ok
        # A dense MLP's gate and up, split as those linear layers (the
        # fused SwiGLU kernel where they are not), their sums' SwiGLU.
        (gb, g), (ub, u) = (bf16(0.1 * rng.standard_normal((n, k))) for _ in range(2))
        (gc, gs, g8), (uc, us, u8) = (e4m3_weight(rng, n, k, 16, 128, 0.01)
                                      for _ in range(2))
        for name, args, wg, wu in (
                ("split_mlp_bf16", [memref(gb), memref(ub)], g, u),
                ("split_mlp_fp8w", [memref(gc), memref(gs), memref(uc), memref(us)], g8, u8)):
            act = np.full((rows, n), 0x7fc0, np.uint16)  # NaN
            launches = emu.run_host(module, name, [memref(x_bits), *args, memref(act),
                                                   np.array([rows], np.int64)])
            grids = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
            ok = swiglu_verdict(f"{name}, {rows} rows ({grids}", emu._bits_to_f32(act),
                                np.matmul(x, wg.T, dtype=np.float32),
                                np.matmul(x, wu.T, dtype=np.float32)) and ok
        if rows not in (3, 150):
            continue
        # 100 outputs: the fused kernel's grid is 2 blocks a 64-row tile,
        # gate's as a linear layer 1: 3 rows split (in 4), 150 do not.
        (gb, g), (ub, u) = (bf16(0.1 * rng.standard_normal((100, k))) for _ in range(2))
        act = np.full((rows, 100), 0x7fc0, np.uint16)
        launches = emu.run_host(module, "split_mlp_wide", [
            memref(x_bits), memref(gb), memref(ub), memref(act), np.array([rows], np.int64)])
        grids = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
        ok = swiglu_verdict(f"split_mlp_wide, {rows} rows ({grids}", emu._bits_to_f32(act),
                            np.matmul(x, g.T, dtype=np.float32),
                            np.matmul(x, u.T, dtype=np.float32)) and ok
    return ok


def split_reductions(modules):
    """dsc-split-reductions' output (test/codegen/Inputs/split-reductions.mlir)
    mapped to blocks and threads as the GPU pipeline maps it: a sum of
    squares over 1024 values of 3 x 5 rows, a maximum over 1536 of 7
    rows, a router's logits (6 rows times 128 experts' rows of 1024), 7
    rows' dot products with one vector and 7 rows' sums times a factor of
    each row, each as partial reductions then
    their reduction, against NumPy in double. The outputs start as NaN."""
    rng = np.random.default_rng(17)
    (module,) = modules

    def check(function, label, inputs, shape, want, tolerance, exact=False):
        """Runs `function` on `inputs` (arrays) and a NaN output of `shape`;
        the verdict names its launches' grids."""
        out = np.full(shape, np.nan, np.float32)
        args = [emu.MemRef(a, list(a.shape)) for a in inputs]
        launches = emu.run_host(module, function,
                                args + [emu.MemRef(out, list(shape))])
        grids = ", ".join(str(grid) for _, grid in launches)
        return verdict(f"{label} (launches {grids})", out, want, tolerance,
                       also=bool((out == want).all()) if exact else True)

    x = rng.standard_normal((3, 5, 1024)).astype(np.float32)
    ok = check("sum_of_squares", "sum of squares over 1024", [x], (3, 5),
               (x.astype(np.float64) ** 2).sum(-1), 1e-6)
    y = rng.standard_normal((7, 1536)).astype(np.float32)
    y[3, 1535], y[5, 0] = 9.0, 8.5  # the maximum at a last and a first value
    ok = check("row_max", "maximum over 1536", [y], (7,), y.max(-1), 1e-7,
               exact=True) and ok
    rows = y[:, :1024].copy()
    w = rng.standard_normal((128, 1024)).astype(np.float32)
    ok = check("router_logits", "router logits over 1024", [rows[:6].copy(), w],
               (6, 128), rows[:6].astype(np.float64) @ w.T.astype(np.float64),
               1e-6) and ok
    v = rng.standard_normal(1024).astype(np.float32)
    ok = check("row_dots", "row dot products over 1024", [rows, v], (7,),
               rows.astype(np.float64) @ v.astype(np.float64), 1e-6) and ok
    scale = rng.standard_normal(7).astype(np.float32)
    want = (rows.astype(np.float64) * scale[:, None].astype(np.float64)).sum(-1)
    return check("scaled_sums", "scaled row sums over 1024", [rows, scale],
                 (7,), want, 1e-6) and ok


def paged_attention(modules):
    """dsc-library-gemms' lowering of dsc.paged_mla_decode
    (test/codegen/Inputs/paged-attention.mlir, or paged-attention-v3.mlir
    at V3's widths, mapped to blocks and threads): the entries' store, then
    the library's decode and combine, against float64 attention over each
    row's positions, its own entry last. Five rows of the function's heads
    and widths: lengths within a page, across pages, of one token, and 0 (a
    padding row: no store, a zero result); the layer's pages within a cache
    of 3 layers whose others hold NaN, its unused rows NaN too. The cache
    must change only at each row's entry."""
    rng = np.random.default_rng(5)
    (module,) = modules
    types = emu._named(module, "func.func")["decode"].arg_types
    (_, heads, d), _ = emu._memref_type(types[0])
    (_, _, latent), _ = emu._memref_type(types[5])
    page, pages, max_pages = 64, 6, 3
    lens = np.array([9, 130, 1, 0, 64], np.int32)
    rows = len(lens)
    table = np.array([[4, 0, 0], [1, 5, 2], [3, 0, 0], [0, 0, 0], [0, 0, 0]],
                     np.int32)
    cache = np.full((3, pages, page, d), 0x7FC0, np.uint16)
    for r, n in enumerate(lens):  # every position but the row's own entry
        for p in range(max(n - 1, 0)):
            cache[1, table[r, p // page], p % page] = bf16(rng.standard_normal(d))[0]
    q_bits, q = bf16(0.5 * rng.standard_normal((rows, heads, d)))
    e_bits, _ = bf16(rng.standard_normal((rows, d)))
    out = np.full((rows, heads, latent), 0x7FC0, np.uint16)
    before = cache.copy()
    scale = 0.26464226841926575  # the inputs' dsc.paged_mla_decode's
    launches = emu.run_host(module, "decode", [
        emu.MemRef(q_bits, [rows, heads, d]), emu.MemRef(e_bits, [rows, d]),
        emu.MemRef(cache, list(cache.shape)), emu.MemRef(table, [rows, max_pages]),
        emu.MemRef(lens, [rows]), emu.MemRef(out, [rows, heads, latent])])
    for r, n in enumerate(lens):
        if n:
            before[1, table[r, (n - 1) // page], (n - 1) % page] = e_bits[r]
    stored = np.array_equal(cache, before)
    kv = emu._bits_to_f32(cache[1])
    want = mla_reference(q, kv, table, lens, scale / math.log(2), latent)
    got = emu._bits_to_f32(out)
    kernels_run = ", ".join(f"{kernel} {grid}" for kernel, grid in launches)
    print(f"paged attention: the entries stored, nothing else written: "
          f"{'ok' if stored else 'MISMATCH'}")
    return stored & verdict(f"paged attention ({kernels_run})", got, want, 1e-2,
                            also=not got[3].any())


CHECKS = {"grouped-gemm": grouped_gemm, "batched-gemm": batched_gemm,
          "fp8w-gemm": fp8w_gemm,
          "grouped-gemm-wgmma": grouped_gemm_wgmma,
          "grouped-gemm-wgmma-tn": grouped_gemm_wgmma_tn,
          "grouped-gemm-fp8": grouped_gemm_fp8,
          "grouped-gemm-fp8-wgmma": grouped_gemm_fp8_wgmma, "moe-dispatch": moe_dispatch,
          "rmsnorm": rmsnorm, "quant-fp8": quant_fp8,
          "moe-pipeline": moe_pipeline,
          "mla-decode": mla_decode, "mla-decode-wgmma": mla_decode_wgmma,
          "moe-route": moe_route, "rope": rope,
          "mla-prefill": mla_prefill, "mla-prefill-wgmma": mla_prefill_wgmma}
# Checks of host code and its launches: they take the parsed modules.
HOST_CHECKS = {"routed-experts": routed_experts, "head-products": head_products,
               "head-products-fp8": head_products_fp8, "split-k": split_k,
               "fp8w-weights": fp8w_weights, "wgmma-linear": wgmma_linear,
               "split-reductions": split_reductions,
               "paged-attention": paged_attention, "prefill-host": prefill_host}


def main():
    global FAIL_FAST
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--fail-fast":
        FAIL_FAST = True
        del sys.argv[1]
    if len(sys.argv) < 3 or sys.argv[1] not in {**CHECKS, **HOST_CHECKS}:
        print("\n".join(__doc__.strip().splitlines()[3:7]), file=sys.stderr)
        sys.exit(2)
    modules = []
    for path in sys.argv[2:]:
        with open(path) as f:
            modules.append(emu.parse(f.read()))
    try:
        if sys.argv[1] in HOST_CHECKS:
            ok = HOST_CHECKS[sys.argv[1]](modules)
        else:
            kernels = {}
            for module in modules:
                kernels.update(emu.kernels(module))
            ok = CHECKS[sys.argv[1]](kernels)
    except emu.EmulationError as e:
        print(f"emulate_kernels: {e}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
