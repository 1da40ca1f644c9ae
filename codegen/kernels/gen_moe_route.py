#!/usr/bin/env python3
"""Generates codegen/kernels/moe_route.mlir, DeepSeek-V3's router (gate)
after its GEMM (gpu dialect):

    python3 codegen/kernels/gen_moe_route.py > codegen/kernels/moe_route.mlir
    python3 codegen/kernels/gen_moe_route.py --experts 16 --groups 4 \
        > codegen/kernels/moe_route_e16_g4.mlir

The first is DeepSeek-V3's (256 routed experts in 8 groups); the second
the test fixtures'. The text below says V3's numbers.

From the router logits of a token (x . gate.weight^T, f32), as DeepSeek's
code computes it (DEEPSEEK.md):
  1. scores = sigmoid(logits); choice = scores + e_score_correction_bias;
  2. a group's score is the sum of its two best choice scores; the
     topkGroup best groups are kept, every other expert's choice is -inf;
  3. the topK best experts by choice (ties to the lower index);
  4. weights = the scores (unbiased) at them, divided by their sum when
     normalize is set, times scale.

One warp per token, 4 tokens per block of 128 threads. For V3's 256
experts in 8 groups each lane holds 8 consecutive experts, so a group is 4
lanes: its top-2 merges over two shuffles. Groups and experts are picked by
repeated warp-wide arg-max (value, then lower index) over shuffles. With
fewer than 32 experts a lane holds one and the lanes past them none (their
choice scores -inf: they form groups past the last, never kept).
"""

import argparse

from kernelgen import Function

EXPERTS, GROUPS = 256, 8
PER_LANE = EXPERTS // 32
LANES_PER_GROUP = EXPERTS // GROUPS // PER_LANE


def configure(experts, groups):
    """Sets the widths the kernel is generated for: `experts` a multiple of
    32 or fewer, in `groups` groups of at least 2 (the group score sums the
    best two) whose lanes are a power of two (they merge by xor
    shuffles)."""
    global EXPERTS, GROUPS, PER_LANE, LANES_PER_GROUP
    per_group = experts // groups
    per_lane = max(1, experts // 32)
    lanes = per_group // per_lane
    assert experts % groups == 0 and per_group >= 2, (experts, groups)
    assert (experts <= 32 or experts % 32 == 0) and per_group % per_lane == 0, experts
    assert lanes & (lanes - 1) == 0, (experts, groups)
    # A lane's logits load as one aligned vector.
    assert per_lane & (per_lane - 1) == 0, experts
    EXPERTS, GROUPS, PER_LANE, LANES_PER_GROUP = experts, groups, per_lane, lanes


def suffix():
    """The variant's name suffix: none for V3's widths."""
    return "" if (EXPERTS, GROUPS) == (256, 8) else f"_e{EXPERTS}_g{GROUPS}"


def warp_argmax(f, value, index):
    """The largest (value, index) pair of the warp, ties to the lower
    index, in every lane."""
    for offset in (16, 8, 4, 2, 1):
        ov = f.fresh("ov")
        f.emit(f"{ov}, {f.fresh('ok')} = gpu.shuffle xor {value}, {f.i32(offset)}, "
               f"{f.i32(32)} : f32")
        oi = f.fresh("oi")
        f.emit(f"{oi}, {f.fresh('ok')} = gpu.shuffle xor {index}, {f.i32(offset)}, "
               f"{f.i32(32)} : i32")
        gt = f.let("gt", f"arith.cmpf ogt, {ov}, {value} : f32")
        eq = f.let("eq", f"arith.cmpf oeq, {ov}, {value} : f32")
        lower = f.let("lower", f"arith.cmpi slt, {oi}, {index} : i32")
        tie = f.let("tie", f"arith.andi {eq}, {lower} : i1")
        take = f.let("take", f"arith.ori {gt}, {tie} : i1")
        value = f.let("mv", f"arith.select {take}, {ov}, {value} : f32")
        index = f.let("mi", f"arith.select {take}, {oi}, {index} : i32")
    return value, index


def route_kernel():
    f = Function()
    c = f.c
    emit = f.emit
    f.float_constants()
    tid = f.let("tid", "gpu.thread_id x")
    bid = f.let("bid", "gpu.block_id x")
    lane = f.idx("lane", "remui", tid, c(32))
    warp = f.idx("warp", "divui", tid, c(32))
    t0 = f.idx("t0", "muli", bid, c(4))
    t = f.idx("token", "addi", t0, warp)
    live = f.let("live", f"arith.cmpi ult, {t}, %tokens : index")
    emit(f"scf.if {live} {{")
    f.depth += 1
    first = f.idx("first", "muli", lane, c(PER_LANE))
    row = f.idx("row", "muli", t, c(EXPERTS))
    held = None  # whether this lane holds experts (fewer than 32)
    loadAt = first
    if EXPERTS < 32:
        held = f.let("held", f"arith.cmpi ult, {lane}, {c(EXPERTS)} : index")
        loadAt = f.idx("loadAt", "minui", first, c(EXPERTS - 1))
    at = f.idx("at", "addi", row, loadAt)
    # One aligned load of a lane's logits (V3: 8, 32 bytes, aligned in any
    # row).
    x = f.let("x", f"vector.load %logits[{at}] {{alignment = {4 * PER_LANE} : i64}} "
                   f": memref<?xf32>, vector<{PER_LANE}xf32>")
    bias = f.let("b", f"vector.load %bias[{loadAt}] {{alignment = {4 * PER_LANE} : i64}} "
                      f": memref<?xf32>, vector<{PER_LANE}xf32>")
    lane32 = f.let("lane32", f"arith.index_cast {lane} : index to i32")
    first32 = f.let("first32", f"arith.index_cast {first} : index to i32")
    scores, choice = [], []
    for i in range(PER_LANE):
        xi = f.let("xi", f"vector.extract {x}[{i}] : f32 from vector<{PER_LANE}xf32>")
        n = f.let("neg", f"arith.negf {xi} : f32")
        e = f.let("exp", f"math.exp {n} : f32")
        d = f.f32("den", "addf", "%one", e)
        s = f.f32("score", "divf", "%one", d)
        bi = f.let("bi", f"vector.extract {bias}[{i}] : f32 from vector<{PER_LANE}xf32>")
        ch = f.f32("choice", "addf", s, bi)
        if held:
            s = f.let("score", f"arith.select {held}, {s}, %zero : f32")
            ch = f.let("choice", f"arith.select {held}, {ch}, %ninf : f32")
        scores.append(s)
        choice.append(ch)
    # The group's two best choice scores: this lane's, then its 3 partners'.
    top1, top2 = "%ninf", "%ninf"
    for v in choice:
        lo = f.f32("lo", "minimumf", top1, v)
        top2 = f.f32("top2", "maximumf", top2, lo)
        top1 = f.f32("top1", "maximumf", top1, v)
    offset = 1
    while offset < LANES_PER_GROUP:
        o1, o2 = f.fresh("o1"), f.fresh("o2")
        f.emit(f"{o1}, {f.fresh('ok')} = gpu.shuffle xor {top1}, {f.i32(offset)}, {f.i32(32)} : f32")
        f.emit(f"{o2}, {f.fresh('ok')} = gpu.shuffle xor {top2}, {f.i32(offset)}, {f.i32(32)} : f32")
        lo = f.f32("lo", "minimumf", top1, o1)
        hi2 = f.f32("hi2", "maximumf", top2, o2)
        top2 = f.f32("top2", "maximumf", lo, hi2)
        top1 = f.f32("top1", "maximumf", top1, o1)
        offset *= 2
    groupScore = f.f32("groupScore", "addf", top1, top2)
    group = f.idx("group", "divui", lane, c(LANES_PER_GROUP))
    # The topkGroup best groups (a group's lanes hold the same score: the
    # arg-max lands on its first lane).
    emit(f"%kept:2 = scf.for %g = {c(0)} to %topkGroup step {c(1)} "
         f"iter_args(%gs = {groupScore}, %keep = %false) -> (f32, i1) {{")
    f.depth += 1
    _, wl = warp_argmax(f, "%gs", lane32)
    wlane = f.let("wlane", f"arith.index_cast {wl} : i32 to index")
    wg = f.idx("wgroup", "divui", wlane, c(LANES_PER_GROUP))
    mine = f.let("mine", f"arith.cmpi eq, {wg}, {group} : index")
    gsn = f.let("gsNext", f"arith.select {mine}, %ninf, %gs : f32")
    kn = f.let("keepNext", f"arith.ori %keep, {mine} : i1")
    emit(f"scf.yield {gsn}, {kn} : f32, i1")
    f.depth -= 1
    emit("}")
    masked = [f.let("masked", f"arith.select %kept#1, {v}, %ninf : f32") for v in choice]
    # The topK experts, one per step; lane j keeps the j-th.
    cs = [f"%cand{i}" for i in range(PER_LANE)]
    inits = ", ".join(f"{a} = {v}" for a, v in zip(cs, masked))
    emit(f"%picked:{PER_LANE + 2} = scf.for %j = {c(0)} to %topK step {c(1)} "
         f"iter_args({inits}, %myId = {f.i32(0)}, %myW = %zero) -> "
         f"({', '.join(['f32'] * PER_LANE)}, i32, f32) {{")
    f.depth += 1
    best, bidx = cs[0], first32
    for i in range(1, PER_LANE):
        gt = f.let("lgt", f"arith.cmpf ogt, {cs[i]}, {best} : f32")
        best = f.let("lbest", f"arith.select {gt}, {cs[i]}, {best} : f32")
        idx = f.let("lidx", f"arith.addi {first32}, {f.i32(i)} : i32")
        bidx = f.let("lbidx", f"arith.select {gt}, {idx}, {bidx} : i32")
    _, e32 = warp_argmax(f, best, bidx)
    owner = f.let("owner", f"arith.divui {e32}, {f.i32(PER_LANE)} : i32")
    slot = f.let("slot", f"arith.remui {e32}, {f.i32(PER_LANE)} : i32")
    isOwner = f.let("isOwner", f"arith.cmpi eq, {owner}, {lane32} : i32")
    mineScore = scores[0]
    nexts = []
    for i in range(PER_LANE):
        hit = f.let("hit", f"arith.cmpi eq, {slot}, {f.i32(i)} : i32")
        if i:
            mineScore = f.let("ms", f"arith.select {hit}, {scores[i]}, {mineScore} : f32")
        taken = f.let("taken", f"arith.andi {hit}, {isOwner} : i1")
        nexts.append(f.let("cn", f"arith.select {taken}, %ninf, {cs[i]} : f32"))
    w = f.fresh("w")
    f.emit(f"{w}, {f.fresh('ok')} = gpu.shuffle idx {mineScore}, {owner}, {f.i32(32)} : f32")
    j32 = f.let("j32", "arith.index_cast %j : index to i32")
    isJ = f.let("isJ", f"arith.cmpi eq, {j32}, {lane32} : i32")
    myId = f.let("myIdNext", f"arith.select {isJ}, {e32}, %myId : i32")
    myW = f.let("myWNext", f"arith.select {isJ}, {w}, %myW : f32")
    emit(f"scf.yield {', '.join(nexts)}, {myId}, {myW} : "
         f"{', '.join(['f32'] * PER_LANE)}, i32, f32")
    f.depth -= 1
    emit("}")
    # The weights' sum over the topK lanes, then each lane its own.
    ids = f"%picked#{PER_LANE}"
    wts = f"%picked#{PER_LANE + 1}"
    total = wts
    for offset in (16, 8, 4, 2, 1):
        o = f.fresh("sw")
        f.emit(f"{o}, {f.fresh('ok')} = gpu.shuffle xor {total}, {f.i32(offset)}, {f.i32(32)} : f32")
        total = f.f32("wsum", "addf", total, o)
    norm = f.let("norm", f"arith.cmpi ne, %normalize, {c(0)} : index")
    inv0 = f.f32("inv0", "divf", "%scale", total)
    factor = f.let("factor", f"arith.select {norm}, {inv0}, %scale : f32")
    weight = f.f32("weight", "mulf", wts, factor)
    writes = f.let("writes", f"arith.cmpi ult, {lane}, %topK : index")
    emit(f"scf.if {writes} {{")
    emit(f"  %outRow = arith.muli {t}, %topK : index")
    emit(f"  %outAt = arith.addi %outRow, {lane} : index")
    emit(f"  memref.store {ids}, %ids[%outAt] : memref<?xi32>")
    emit(f"  memref.store {weight}, %weights[%outAt] : memref<?xf32>")
    emit("}")
    f.depth -= 1
    emit("}")
    emit("gpu.return")
    return f


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experts", type=int, default=256,
                        help="n_routed_experts (a multiple of 32, or fewer)")
    parser.add_argument("--groups", type=int, default=8, help="n_group")
    args = parser.parse_args()
    configure(args.experts, args.groups)
    X = suffix()
    command = "gen_moe_route.py" + (f" --experts {EXPERTS} --groups {GROUPS}" if X else "")
    body = route_kernel()
    out = [f"""// GENERATED by codegen/kernels/{command}: edit that, not this.
//
// DeepSeek-V3's router after its GEMM, for {EXPERTS} experts in {GROUPS} groups
// (noaux_tc): sigmoid scores, the correction bias for choosing, the
// topkGroup best groups by the sum of their two best, the topK best
// experts (ties to the lower index), their unbiased scores as weights,
// divided by their sum when normalize != 0, times scale.
//
// logits [tokens, {EXPERTS}] f32, bias [{EXPERTS}] f32; ids [tokens, topK] i32,
// weights [tokens, topK] f32. topK <= {min(32, EXPERTS)}, topkGroup <= {GROUPS}.
// Grid (ceil(tokens / 4)), 128 threads: one warp per token.
module attributes {{gpu.container_module}} {{
gpu.module @dsc_moe_route{X} {{
  gpu.func @moe_route_v3{X}(%logits: memref<?xf32>, %bias: memref<?xf32>,
                         %tokens: index, %topkGroup: index, %topK: index,
                         %normalize: index, %scale: f32,
                         %ids: memref<?xi32>, %weights: memref<?xf32>)
      kernel attributes {{known_block_size = array<i32: 128, 1, 1>}} {{
    %false = arith.constant false"""]
    out += body.text()
    out += ["  }", "}", "}"]
    print("\n".join(out))


if __name__ == "__main__":
    main()
