#!/usr/bin/env python3
"""Generates the kernel library's RMSNorm kernels (gpu dialect), plain and
with the residual add fused before it:

    python3 codegen/kernels/gen_rmsnorm.py --type bf16 > codegen/kernels/add_rmsnorm_bf16.mlir
    python3 codegen/kernels/gen_rmsnorm.py --type f32 > codegen/kernels/rmsnorm_f32.mlir

Each file holds two kernels over rows of `hidden` values (the f32 file
also both with y stored as bf16: add_rmsnorm_f32_bf16, rmsnorm_f32_bf16):

    add_rmsnorm_<t>:  h[r] = x[r] + res[r]   (the residual stream, stored)
                      y[r] = w * norm(h[r])
    rmsnorm_<t>:      y[r] = w * norm(x[r])

norm(v) = v * rsqrt(mean(v^2) + eps), statistics in f32. bf16 rounds where
transformers' bf16 DeepseekV3RMSNorm does: the sum h, the normalized row
before the weight, and y. f32 rounds nothing, computing as the CPU's
lowering does ((v * rsqrt) * w); only the order of the sum of squares
differs. The f32 kernels are the ones the model calls (its residual stream
is f32); the bf16 ones are the library's benchmark of the bf16 form.

One block of 256 threads per row, 4 contiguous values per thread and step
(vector loads; 1024 values a step, the last step partial), hidden % 4 == 0:
V3's 7168, q_a's 1536 and the latent's 512. The sum of squares reduces by
butterfly within each warp, then across the 8 warps in shared memory. The
second pass re-reads the row (h, which this thread wrote, or x), which L2
still holds.
"""

import argparse

THREADS, PER_THREAD = 256, 4
WARPS = THREADS // 32
STEP = THREADS * PER_THREAD
WG = "#gpu.address_space<workgroup>"


def kernel(dtype, residual, out=None):
    """One gpu.func: add_rmsnorm_<dtype> when `residual`, else
    rmsnorm_<dtype>; with `out` bf16 for f32 rows, y stored as bf16
    (rounded once, as it is stored: add_rmsnorm_f32_bf16, rmsnorm_f32_bf16),
    for a GEMM that reads it as bf16."""
    out = out or dtype
    bf16 = dtype == "bf16"
    vec = f"vector<{PER_THREAD}x{dtype}>"
    vf32 = f"vector<{PER_THREAD}xf32>"
    mem = f"memref<?x{dtype}>"
    align = PER_THREAD * (2 if bf16 else 4)
    out_vec, out_mem = f"vector<{PER_THREAD}x{out}>", f"memref<?x{out}>"
    out_align = PER_THREAD * (2 if out == "bf16" else 4)

    def read(name, buf, at):
        """The lines that load `buf`'s 4 values at `at` as %<name>v and
        widen them to f32 as %<name>f (bf16), and the f32 lanes."""
        lines = [f"%{name}v = vector.load %{buf}[{at}] {{alignment = {align} : i64}} "
                 f": {mem}, {vec}"]
        if not bf16:
            return lines, f"%{name}v"
        return lines + [f"%{name}f = arith.extf %{name}v : {vec} to {vf32}"], f"%{name}f"

    def rounded(name, value):
        """`value` (f32 lanes) rounded through bf16 and widened again, and
        the bf16 lanes: what a bf16 model stores and reads back."""
        if not bf16:
            return [], value, value
        return ([f"%{name}b = arith.truncf {value} : {vf32} to {vec}",
                 f"%{name}f = arith.extf %{name}b : {vec} to {vf32}"],
                f"%{name}f", f"%{name}b")

    name = f"{'add_' if residual else ''}rmsnorm_{dtype}" + (
        f"_{out}" if out != dtype else "")
    args = [f"%x: {mem}"]
    if residual:
        args.append(f"%res: {mem}")
    args.append(f"%w: {mem}")
    if residual:
        args.append(f"%h: {mem}")
    args += [f"%y: {out_mem}", "%hidden: index", "%eps: f32"]

    # Pass 1: the row (h = x + res, stored, or x) and this thread's sum of
    # its squares.
    p1 = ["%at = arith.addi %base, %i : index"]
    lines, xf = read("x", "x", "%at")
    p1 += lines
    row = xf
    if residual:
        lines, rf = read("r", "res", "%at")
        p1 += lines
        p1.append(f"%sum = arith.addf {xf}, {rf} : {vf32}")
        lines, row, stored = rounded("h", "%sum")
        p1 += lines
        p1.append(f"vector.store {stored}, %h[%at] {{alignment = {align} : i64}} : {mem}, {vec}")
    p1 += [f"%sq = arith.mulf {row}, {row} : {vf32}",
           f"%part = vector.reduction <add>, %sq : {vf32} into f32",
           "%next = arith.addf %acc, %part : f32",
           "scf.yield %next : f32"]

    # Pass 2: y = w * norm(row), the row read back.
    p2 = ["%at = arith.addi %base, %i : index"]
    lines, rowf = read("row", "h" if residual else "x", "%at")
    p2 += lines
    lines, wf = read("w", "w", "%i")
    p2 += lines
    p2.append(f"%n = arith.mulf {rowf}, %invV : {vf32}")
    lines, nf, _ = rounded("n", "%n")
    p2 += lines
    p2.append(f"%yf = arith.mulf {nf}, {wf} : {vf32}")
    stored = "%yf"
    if out == "bf16":
        p2.append(f"%yb = arith.truncf %yf : {vf32} to {out_vec}")
        stored = "%yb"
    p2.append(f"vector.store {stored}, %y[%at] {{alignment = {out_align} : i64}} "
              f": {out_mem}, {out_vec}")

    body = [
        "%c0 = arith.constant 0 : index",
        "%c1 = arith.constant 1 : index",
        f"%c{PER_THREAD} = arith.constant {PER_THREAD} : index",
        f"%c{WARPS} = arith.constant {WARPS} : index",
        "%c32 = arith.constant 32 : index",
        f"%c{STEP} = arith.constant {STEP} : index",
        "%zero = arith.constant 0.0 : f32",
        "%width = arith.constant 32 : i32",
        "%row = gpu.block_id x",
        "%tid = gpu.thread_id x",
        "%base = arith.muli %row, %hidden : index",
        f"%first = arith.muli %tid, %c{PER_THREAD} : index",
        f"%sumsq = scf.for %i = %first to %hidden step %c{STEP} "
        "iter_args(%acc = %zero) -> (f32) {",
        *["  " + line for line in p1],
        "}",
        "// The row's sum: butterfly within each warp, then across the warps.",
    ]
    total = "%sumsq"
    for offset in (16, 8, 4, 2, 1):
        body += [f"%o{offset} = arith.constant {offset} : i32",
                 f"%s{offset}, %v{offset} = gpu.shuffle xor {total}, %o{offset}, %width : f32",
                 f"%a{offset} = arith.addf {total}, %s{offset} : f32"]
        total = f"%a{offset}"
    partial = f"memref<{WARPS}xf32, {WG}>"
    body += [
        "%lane = arith.remui %tid, %c32 : index",
        "%warp = arith.divui %tid, %c32 : index",
        "%isFirst = arith.cmpi eq, %lane, %c0 : index",
        "scf.if %isFirst {",
        f"  memref.store {total}, %partial[%warp] : {partial}",
        "}",
        "gpu.barrier",
        f"%total = scf.for %j = %c0 to %c{WARPS} step %c1 iter_args(%t = %zero) -> (f32) {{",
        f"  %p = memref.load %partial[%j] : {partial}",
        "  %u = arith.addf %t, %p : f32",
        "  scf.yield %u : f32",
        "}",
        "%hiddenI = arith.index_cast %hidden : index to i64",
        "%hiddenF = arith.sitofp %hiddenI : i64 to f32",
        "%mean = arith.divf %total, %hiddenF : f32",
        "%var = arith.addf %mean, %eps : f32",
        "%inv = math.rsqrt %var : f32",
        f"%invV = vector.broadcast %inv : f32 to {vf32}",
        f"scf.for %i = %first to %hidden step %c{STEP} {{",
        *["  " + line for line in p2],
        "}",
        "gpu.return",
    ]
    head = [f"  gpu.func @{name}({', '.join(args)})",
            f"      workgroup(%partial: {partial})",
            f"      kernel attributes {{known_block_size = array<i32: {THREADS}, 1, 1>}} {{"]
    return head + ["    " + line for line in body] + ["  }"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--type", choices=("bf16", "f32"), required=True,
                        help="the element type of every operand")
    dtype = parser.parse_args().type
    module = "dsc_add_rmsnorm" if dtype == "bf16" else f"dsc_rmsnorm_{dtype}"
    rounding = ("h, the normalized row and y rounded to bf16" if dtype == "bf16"
                else "nothing rounded")
    bf16_out = ("" if dtype == "bf16" else f"""
// add_rmsnorm_{dtype}_bf16 and rmsnorm_{dtype}_bf16 store y as bf16, rounded
// once (the f32 kernels' y, rounded to nearest even), for a GEMM that reads
// it as bf16: dsc-fuse-linalg-elementwise folds that rounding into them.""")
    lines = [f"""// GENERATED by codegen/kernels/gen_rmsnorm.py --type {dtype}: edit that, not this.
//
// RMSNorm over rows of `hidden` {dtype} values, with the residual add fused
// before it (add_rmsnorm_{dtype}: h = x + res, stored; y = w * norm(h)) or
// alone (rmsnorm_{dtype}: y = w * norm(x)); norm(v) = v * rsqrt(mean(v^2)
// + eps), statistics in f32, {rounding}.{bf16_out}
// x, res, h, y [rows, hidden], w [hidden]; hidden % {PER_THREAD} == 0.
// Grid (rows), {THREADS} threads: one block per row.
module attributes {{gpu.container_module}} {{
gpu.module @{module} {{"""]
    lines += kernel(dtype, residual=True)
    lines += kernel(dtype, residual=False)
    if dtype != "bf16":
        lines += kernel(dtype, residual=True, out="bf16")
        lines += kernel(dtype, residual=False, out="bf16")
    lines += ["}", "}"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
