"""What the kernel generators of codegen/kernels/ share: a builder for the
body of one gpu.func; for sm_90a (at the bottom) wgmma on descriptors the
kernels build, the TMA layout of shared memory and the mbarriers; and the
tensor-core fragments of mma.sync m16n8k16 (bf16 in, f32 accumulation)
with ldmatrix.x4, whose per-lane layouts the PTX ISA fixes (and
codegen/kernels/simt_emulator.py models):

  lane l = 4 g + t holds
    A (16 x 16, row-major): (g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..)
    B (16 x 8, "col"):      (k 2t..2t+1, n g), (k 2t+8.., n g)
    C/D (16 x 8, f32):      (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)
"""

WG = "#gpu.address_space<workgroup>"
MMA_ATTRS = ("{layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, "
             "multiplicandAPtxType = #nvvm.mma_type<bf16>, "
             "multiplicandBPtxType = #nvvm.mma_type<bf16>, "
             "shape = #nvvm.shape<m = 16, n = 8, k = 16>}")
MMA_RESULT = "!llvm.struct<(f32, f32, f32, f32)>"


class Function:
    """The body of one gpu.func: SSA values named after what they hold,
    index constants gathered at the top."""

    def __init__(self):
        self.lines, self.consts, self.i32s, self.i64s = [], set(), set(), set()
        self.seen = {}
        self.depth = 2

    def emit(self, text):
        self.lines.append("  " * self.depth + text)

    def let(self, hint, expr):
        n = self.seen.get(hint, 0)
        self.seen[hint] = n + 1
        name = f"%{hint}" if n == 0 else f"%{hint}_{n}"
        self.emit(f"{name} = {expr}")
        return name

    def fresh(self, hint):
        """A name for a value an op defines itself (loop results)."""
        n = self.seen.get(hint, 0)
        self.seen[hint] = n + 1
        return f"%{hint}" if n == 0 else f"%{hint}_{n}"

    def c(self, value):
        """The index constant `value`."""
        self.consts.add(value)
        return f"%c{value}"

    def i32(self, value):
        """The i32 constant `value`."""
        self.i32s.add(value)
        return f"%i{value}"

    def idx(self, hint, op, a, b):
        return self.let(hint, f"arith.{op} {a}, {b} : index")

    def f32(self, hint, op, a, b):
        return self.let(hint, f"arith.{op} {a}, {b} : f32")

    def i64(self, hint, op, a, b):
        return self.let(hint, f"arith.{op} {a}, {b} : i64")

    def i64c(self, value):
        """The i64 constant `value` (descriptor bits and offsets)."""
        self.i64s.add(value)
        return f"%l{value}"

    def float_constants(self):
        """%zero, %one and %ninf (-infinity), f32."""
        self.emit("%zero = arith.constant 0.0 : f32")
        self.emit("%ninf = arith.constant 0xFF800000 : f32")
        self.emit("%one = arith.constant 1.0 : f32")

    def shared_views(self, views):
        """Views of the dynamic shared memory: (name, byte offset, type)."""
        smem = f"memref<?xi8, {WG}>"
        self.emit(f"%dyn = gpu.dynamic_shared_memory : {smem}")
        for name, offset, ty in views:
            self.emit(f"%{name} = memref.view %dyn[{self.c(offset)}][] : {smem} to {ty}")

    def text(self):
        head = ["  " * self.depth + f"%c{v} = arith.constant {v} : index"
                for v in sorted(self.consts)]
        head += ["  " * self.depth + f"%i{v} = arith.constant {v} : i32"
                 for v in sorted(self.i32s)]
        head += ["  " * self.depth + f"%l{v} = arith.constant {v} : i64"
                 for v in sorted(self.i64s)]
        return head + self.lines


class Lanes:
    """A thread's place in its warp, as the fragment loads address it:
    lane, warp; g = lane / 4 and t = lane % 4 (the accumulator's row and
    column pair, t2 = 2 t); l16, lhi, l8 (the row and 16-byte chunk an
    A-operand ldmatrix.x4 lane addresses, and the row's swizzle); lmid and
    bnrow (the same for B: rows of two n tiles, two k chunks)."""

    def __init__(self, f, tid):
        c = f.c
        self.lane = f.idx("lane", "remui", tid, c(32))
        self.warp = f.idx("warp", "divui", tid, c(32))
        self.g = f.idx("g", "divui", self.lane, c(4))
        self.t = f.idx("t", "remui", self.lane, c(4))
        self.t2 = f.idx("t2", "muli", self.t, c(2))
        self.l16 = f.idx("l16", "remui", self.lane, c(16))
        self.lhi = f.idx("lhi", "divui", self.lane, c(16))
        self.l8 = f.idx("l8", "remui", self.lane, c(8))
        lmid0 = f.idx("lmid0", "divui", self.lane, c(8))
        self.lmid = f.idx("lmid", "remui", lmid0, c(2))
        bnrow0 = f.idx("bnrow0", "muli", self.lhi, c(8))
        self.bnrow = f.idx("bnrow", "addi", bnrow0, self.l8)


def ldmatrix(f, hint, smem, smem_type, indices, transpose=False):
    """ldmatrix.x4 at `indices` (each lane its own row address); returns the
    4 registers as the i32 words mma.sync takes. The element type (bf16, or
    f16 for 16-bit words of any meaning) is the shared tile's."""
    elt = smem_type.split(",")[0].rsplit("x", 1)[1]
    m = f.let(hint, f"nvgpu.ldmatrix {smem}[{', '.join(indices)}] "
                    f"{{numTiles = 4 : i32, transpose = {str(transpose).lower()}}} "
                    f": {smem_type} -> vector<4x2x{elt}>")
    regs = []
    for r in range(4):
        h = f.let(f"{hint}h", f"vector.extract {m}[{r}] : vector<2x{elt}> from vector<4x2x{elt}>")
        w = f.let(f"{hint}w", f"vector.bitcast {h} : vector<2x{elt}> to vector<1xi32>")
        regs.append(f.let(f"{hint}r", f"vector.extract {w}[0] : i32 from vector<1xi32>"))
    return regs


def mma(f, a, b, acc):
    """acc += a * b on one m16n8k16 tile; returns the 4 new accumulators."""
    d = f.let("mma", f"nvvm.mma.sync A[{', '.join(a)}] B[{', '.join(b)}] "
                     f"C[{', '.join(acc)}] {MMA_ATTRS} : (i32, i32, f32) -> {MMA_RESULT}")
    return [f.let("acc", f"llvm.extractvalue {d}[{r}] : {MMA_RESULT}") for r in range(4)]


def mma_transposed_b(f, a, smem, smem_type, lead, row, chunk0, l8, acc):
    """acc += a * B over one k step of 16, for the len(acc) / 4 n tiles:
    B's rows are the k step's rows `row` of a swizzled shared tile (as
    copy_tile stores it) and its columns the n dimension, so the fragments
    come from ldmatrix.trans, two n tiles a load from 16-byte chunks
    chunk0 + 2 pair (chunk0 includes the lane's lhi). `lead` indexes the
    tile (a stage). P V in attention: V rows are tokens."""
    acc = list(acc)
    for pair in range(len(acc) // 8):
        ch = f.idx("vfChunk", "addi", chunk0, f.c(2 * pair))
        ph = f.idx("vfPhys", "xori", ch, l8)
        col = f.idx("vfCol", "muli", ph, f.c(8))
        vf = ldmatrix(f, "vf", smem, smem_type, lead + [row, col], transpose=True)
        for k, nt in enumerate((2 * pair, 2 * pair + 1)):
            acc[nt * 4:nt * 4 + 4] = mma(f, a, vf[2 * k:2 * k + 2], acc[nt * 4:nt * 4 + 4])
    return acc


def mma_loop_k(f, steps, a, b, lanes, tiles):
    """Sums over `steps` k steps of 16 in an scf.for (unrolled, the loads
    of every step would run ahead and spill): `tiles` n tiles of a 16-row
    A block times B, both from swizzled shared tiles (as copy_tile stores
    them) in K-major rows. a = (memref, type, leading indices, row); b =
    (memref, type, leading indices, [row of each pair of n tiles]). Returns
    the 4 * tiles sums."""
    c = f.c
    acc = [f"%sa{i}" for i in range(tiles * 4)]
    res = f.fresh("s")
    f.emit(f"{res}:{len(acc)} = scf.for %kc = {c(0)} to {c(steps)} step {c(1)} "
           f"iter_args({', '.join(f'{v} = %zero' for v in acc)}) -> "
           f"({', '.join(['f32'] * len(acc))}) {{")
    f.depth += 1
    kc2 = f.idx("kc2", "muli", "%kc", c(2))
    a_mem, a_type, a_lead, a_row = a
    ch = f.idx("aChunk", "addi", lanes.lhi, kc2)
    ph = f.idx("aPhys", "xori", ch, lanes.l8)
    col = f.idx("aCol", "muli", ph, c(8))
    af = ldmatrix(f, "af", a_mem, a_type, a_lead + [a_row, col])
    b_mem, b_type, b_lead, b_rows = b
    ch = f.idx("bChunk", "addi", lanes.lmid, kc2)
    ph = f.idx("bPhys", "xori", ch, lanes.l8)
    col = f.idx("bCol", "muli", ph, c(8))
    for pair, row in enumerate(b_rows):
        bf = ldmatrix(f, "bf", b_mem, b_type, b_lead + [row, col])
        for k, nt in enumerate((2 * pair, 2 * pair + 1)):
            acc[nt * 4:nt * 4 + 4] = mma(f, af, bf[2 * k:2 * k + 2], acc[nt * 4:nt * 4 + 4])
    f.emit(f"scf.yield {', '.join(acc)} : {', '.join(['f32'] * len(acc))}")
    f.depth -= 1
    f.emit("}")
    return [f"{res}#{i}" for i in range(tiles * 4)]


def open_flash_loop(f, iv, count, out_tiles, group):
    """Opens flash attention's loop over key tiles: `count` tiles, a
    2-stage cp.async ring whose oldest copy group is `group`. It carries
    the running max and sum of the thread's rows g and g + 8 (%mA, %mB,
    %lA, %lB) and the O accumulators (%o0 ..); at the top of each
    iteration the tile's stage has landed and every warp may read it.
    Returns (the loop's results, the O names, the carried types, the
    stage); the caller yields and closes it."""
    c = f.c
    outs = [f"%o{i}" for i in range(out_tiles * 4)]
    carried = ["%mA", "%mB", "%lA", "%lB"] + outs
    inits = ["%ninf", "%ninf", "%zero", "%zero"] + ["%zero"] * len(outs)
    types = ", ".join(["f32"] * len(carried))
    res = f.fresh("res")
    f.emit(f"{res}:{len(carried)} = scf.for {iv} = {c(0)} to {count} step {c(1)} "
           f"iter_args({', '.join(f'{a} = {v}' for a, v in zip(carried, inits))}) "
           f"-> ({types}) {{")
    f.depth += 1
    stage = f.idx("stage", "remui", iv, c(2))
    f.emit(f"nvgpu.device_async_wait {group} {{numGroups = 1 : i32}}")
    f.emit("gpu.barrier")
    return res, outs, types, stage


def close_flash_loop(f, issue, iv, stage, carried, types, group):
    """Closes open_flash_loop's loop over `iv`: once every warp is done
    with the stage (a barrier), `issue` starts the copies of tile iv + 2
    into it; yields `carried`, then drains the copies still in flight."""
    f.emit("gpu.barrier")
    issue(f.idx("next", "addi", iv, f.c(2)), stage)
    f.emit(f"scf.yield {', '.join(carried)} : {types}")
    f.depth -= 1
    f.emit("}")
    f.emit(f"nvgpu.device_async_wait {group} {{numGroups = 0 : i32}}")


def quad_reduce(f, value, op):
    """`op` over the 4 lanes of a quad (the lanes holding one row of an mma
    accumulator tile)."""
    for offset in (1, 2):
        other = f.fresh("shfl")
        f.emit(f"{other}, {f.fresh('shflok')} = gpu.shuffle xor {value}, "
               f"{f.i32(offset)}, {f.i32(32)} : f32")
        value = f.f32("red", op, value, other)
    return value




def row_maxima(f, x):
    """The maxima of a thread's two accumulator rows (g and g + 8: value i
    of `x` is in row (i % 4) // 2, the mma.sync and wgmma layouts alike),
    each over its quad."""
    out = []
    for hi in range(2):
        vals = [v for i, v in enumerate(x) if (i % 4) // 2 == hi]
        m = vals[0]
        for v in vals[1:]:
            m = f.f32("lmax", "maximumf", m, v)
        out.append(quad_reduce(f, m, "maximumf"))
    return out


def online_softmax(f, x, tile_max):
    """Flash attention's online softmax step in base 2 for a thread's two
    rows (value i of the scores `x` in row (i % 4) // 2): the running maxima
    %mA, %mB and sums %lA, %lB (the loop's) against this tile's row maxima
    `tile_max`. Returns (alphas, new maxima, p, new sums): alpha = exp2(old
    max - new), p = exp2(x - new max), sum = old sum * alpha + its p."""
    alphas, maxima = [], []
    for old, tm in zip(("%mA", "%mB"), tile_max):
        mn = f.f32("mnew", "maximumf", old, tm)
        d = f.f32("mdiff", "subf", old, mn)
        alphas.append(f.let("alpha", f"math.exp2 {d} : f32"))
        maxima.append(mn)
    p = []
    for i, v in enumerate(x):
        d = f.f32("xd", "subf", v, maxima[(i % 4) // 2])
        p.append(f.let("p", f"math.exp2 {d} : f32"))
    sums = []
    for hi, old in enumerate(("%lA", "%lB")):
        acc = f.f32("lscaled", "mulf", old, alphas[hi])
        for i, v in enumerate(p):
            if (i % 4) // 2 == hi:
                acc = f.f32("lsum", "addf", acc, v)
        sums.append(acc)
    return alphas, maxima, p, sums


def pack_bf16(f, lo, hi):
    """Two f32 values rounded to bf16 in one i32 register, `lo` in the low
    half: an mma operand made from accumulators."""
    pair = f.let("pair", f"vector.from_elements {lo}, {hi} : vector<2xf32>")
    b = f.let("pairBf16", f"arith.truncf {pair} : vector<2xf32> to vector<2xbf16>")
    w = f.let("pairWord", f"vector.bitcast {b} : vector<2xbf16> to vector<1xi32>")
    return f.let("packed", f"vector.extract {w}[0] : i32 from vector<1xi32>")


def swizzled_column(f, row, chunk, hint):
    """The stored column (chunk ^ (row % 8), in elements) of 16-byte chunk
    `chunk` of tile row `row`."""
    c = f.c
    sw = f.idx(f"{hint}sw", "remui", row, c(8))
    phys = f.idx(f"{hint}phys", "xori", chunk, sw)
    return f.idx(f"{hint}col", "muli", phys, c(8))


def _swizzled_columns(f, row, chunk, hint):
    """The stored column (swizzled_column) and the source column of 16-byte
    chunk `chunk` of tile row `row`."""
    col = swizzled_column(f, row, chunk, hint)
    return col, f.idx(f"{hint}gcol", "muli", chunk, f.c(8))


def copy_tile(f, tid, threads, rows, chunks, hint):
    """The (row, swizzled column, source column) of each 16-byte chunk a
    thread copies of a [rows, chunks * 8] tile: chunk q = tid + i * threads
    is row q / chunks, chunk q % chunks, stored at chunk ^ (row % 8) (the 8
    rows one ldmatrix reads land in 8 distinct banks). When the threads
    cover whole rows, a thread copies the same chunk of rows 8 apart (or
    more), so one column serves all its copies."""
    assert rows * chunks % threads == 0
    c = f.c
    copies = rows * chunks // threads
    if threads % chunks == 0 and (threads // chunks) % 8 == 0:
        row0 = f.idx(f"{hint}row", "divui", tid, c(chunks))
        chunk = f.idx(f"{hint}chunk", "remui", tid, c(chunks))
        col, gcol = _swizzled_columns(f, row0, chunk, hint)
        step = threads // chunks
        return [(row0 if i == 0 else f.idx(f"{hint}row", "addi", row0, c(i * step)), col, gcol)
                for i in range(copies)]
    out = []
    for i in range(copies):
        q = f.idx(f"{hint}q", "addi", tid, c(i * threads))
        row = f.idx(f"{hint}row", "divui", q, c(chunks))
        chunk = f.idx(f"{hint}chunk", "remui", q, c(chunks))
        out.append((row,) + _swizzled_columns(f, row, chunk, hint))
    return out


# --- sm_90a: wgmma on descriptors built in the kernel, fed by TMA ---
#
# A wgmma operand in shared memory is a descriptor (PTX ISA, matrix
# descriptor format): start address / 16 in bits 0-13, leading byte offset
# / 16 in 16-29, stride byte offset / 16 in 32-45, the swizzle in 62-63 (1:
# 128 bytes). Every operand here is laid out as TMA writes a box with the
# 128-byte swizzle: rows of 128 bytes, 8-row atoms of 1024 bytes, so the
# stride offset is 1024. K-major (A, and B as [N, K]): a k step moves the
# start along the row (32 bytes a step); the leading offset is unused (1).
# MN-major (B as [K, N], 16-bit types only): 64 columns to a row, the next
# 64 columns `leading` bytes on.
SWIZZLE_128B = 1 << 62
K_MAJOR = SWIZZLE_128B | (1024 // 16) << 32 | 1 << 16


def mn_major(leading):
    return SWIZZLE_128B | (1024 // 16) << 32 | (leading // 16) << 16


def accumulator_type(n):
    """The struct of one thread's f32 accumulators of a wgmma m64nN, by its
    alias (accumulator_aliases defines it)."""
    return f"!acc{n}"


def accumulator_aliases(*ns):
    """The module-level alias definitions of accumulator_type(n) for `ns`."""
    return [f"!acc{n} = !llvm.struct<(" + ", ".join(["f32"] * (n // 2)) + ")>"
            for n in ns]


def wgmma(f, acc, desc_a, desc_b, n, accumulate, b_layout="col", dtype="bf16"):
    """One wgmma m64nNk16 (bf16) or m64nNk32 (e4m3), f32 accumulated, A
    K-major; b_layout "col" is K-major B, "row" MN-major. The accumulator
    register of index 4 j + r holds row 16 (warp % 4) + lane / 4 + 8 (r / 2),
    column 8 j + 2 (lane % 4) + r % 2."""
    k = 32 if dtype == "e4m3" else 16
    scale = "one" if accumulate else "zero"
    ty = accumulator_type(n)
    return f.let("wg", f"nvvm.wgmma.mma_async {desc_a}, {desc_b}, {acc}, "
                       f"#nvvm.shape<m = 64, n = {n}, k = {k}>, "
                       f"D[<f32>, <{scale}>], A[<{dtype}>, <one>, <row>], "
                       f"B[<{dtype}>, <one>, <{b_layout}>] : {ty} -> {ty}")


def aligned_shared(f, bar, bars_type, count):
    """The dynamic shared memory (%dyn) from its first 1024-byte boundary
    (the swizzle's) past the `count` mbarriers of `bar`: returns (pad,
    start), the bytes skipped from %dyn and the i64 descriptor start field
    of that boundary (its shared address / 16, 14 bits; a generic address of
    shared memory has the same low 18 bits).

    Past the barriers: MLIR lowers %dyn to the address of a static symbol,
    and ptxas places the static barriers after it and the dynamic
    allocation after them, so from %dyn itself the barriers would be
    overwritten. Launched with the layout + 1024 bytes (or + 1024 less the
    kernel's static shared memory, exactly what it spans), the slack covers
    the barriers and the alignment, whichever order ptxas gives the symbol
    and the barriers."""
    c = f.c
    smem = f"memref<?xi8, {WG}>"
    f.emit(f"%dyn = gpu.dynamic_shared_memory : {smem}")
    base = f.let("base", f"memref.extract_aligned_pointer_as_index %dyn : {smem} -> index")
    last = f.let("lastBarrier", f"nvgpu.mbarrier.get {bar}[{c(count - 1)}] : {bars_type} -> i64")
    lastAt = f.let("lastBarrierAt", f"arith.index_cast {last} : i64 to index")
    barEnd = f.idx("barriersEnd", "addi", lastAt, c(8))
    first = f.idx("free", "maxui", base, barEnd)
    up = f.idx("up", "addi", first, c(1023))
    aligned0 = f.idx("aligned0", "divui", up, c(1024))
    aligned = f.idx("aligned", "muli", aligned0, c(1024))
    pad = f.idx("pad", "subi", aligned, base)
    a64 = f.let("alignedI64", f"arith.index_cast {aligned} : index to i64")
    a16 = f.i64("addr16", "shrui", a64, f.i64c(4))
    start = f.i64("start", "andi", a16, f.i64c(0x3FFF))
    return pad, start


def shared_view(f, pad, hint, offset, ty):
    """A view of the aligned dynamic shared memory at byte `offset`."""
    at = f.idx(f"{hint}Off", "addi", pad, offset)
    return f.let(hint, f"memref.view %dyn[{at}][] : memref<?xi8, {WG}> to {ty}")


def init_barriers(f, leader, bar, bars_type, count, maps):
    """Thread `leader` initialises `count` mbarriers (one arrival each),
    makes that visible to the TMA unit, fences and prefetches the tensor
    maps [(value, type)]; then a block barrier."""
    f.emit(f"scf.if {leader} {{")
    for i in range(count):
        f.emit(f"  nvgpu.mbarrier.init {bar}[{f.c(i)}], {f.c(1)} : {bars_type}")
    f.emit("  // The barriers' initialization, visible to the TMA unit (the async")
    f.emit("  // proxy) before any copy completes on them.")
    f.emit("  " + FENCE_PROXY_ASYNC)
    # The descriptors lie in global memory, written there by the host (the
    # runtime may rewrite a slot with another descriptor between launches):
    # acquire each for the tensormap proxy before its first use (PTX 8.3:
    # the kernels' modules say dsc.ptx = 83).
    for value, ty in maps:
        f.emit(f"  nvgpu.tma.fence.descriptor {value} : {ty}")
        f.emit(f"  nvgpu.tma.prefetch.descriptor {value} : {ty}")
    f.emit("}")
    f.emit("gpu.barrier")


def wait_stage(f, bar, bars_type, step, stages):
    """Waits for `step`'s stage of a ring of `stages` mbarriers: the stage
    step % stages, in its phase step / stages (parity its lowest bit).
    Returns the stage."""
    c = f.c
    stage = f.idx("stage", "remui", step, c(stages))
    rnd = f.idx("round", "divui", step, c(stages))
    par = f.idx("parityIdx", "remui", rnd, c(2))
    parity = f.let("parity", f"arith.index_cast {par} : index to i1")
    f.emit(f"nvgpu.mbarrier.try_wait.parity {bar}[{stage}], {parity}, "
           f"{c(10000000)} : {bars_type}")
    return stage


FENCE_PROXY_ASYNC = ("nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, "
                     "space = #nvvm.shared_space<cta>}")


class WarpgroupLanes:
    """A thread's place in its warpgroup, as the wgmma accumulator layout
    addresses it: wg (the warpgroup, with several), warp (within it),
    lane, g = lane / 4 (the thread's rows g and g + 8 of the warp's 16),
    t = lane % 4 and t2 = 2 t (its column pair in each 8)."""

    def __init__(self, f, tid, warpgroups):
        c = f.c
        wtid = tid
        self.wg = None
        if warpgroups > 1:
            self.wg = f.idx("wg", "divui", tid, c(128))
            wtid = f.idx("wtid", "remui", tid, c(128))
        self.warp = f.idx("warp", "divui", wtid, c(32))
        self.lane = f.idx("lane", "remui", tid, c(32))
        self.g = f.idx("g", "divui", self.lane, c(4))
        self.t = f.idx("t", "remui", self.lane, c(4))
        self.t2 = f.idx("t2", "muli", self.t, c(2))


def store_p(f, sp, sp_type, p, rows, t2, chunks, chunk0=None):
    """Attention's P, this thread's f32 values of a wgmma m64nN accumulator
    (N = 8 chunks), as bf16 into the shared tile `sp` [64 rows, 64 bf16]
    laid out as a TMA box with the 128-byte swizzle (row r's 16-byte chunk
    c at c ^ (r % 8)), K-major for the P V wgmma: column 8 j of the values
    goes to chunk chunk0 + j. `rows` are the thread's two rows (g, g + 8)."""
    c = f.c
    for hi, row in enumerate(rows):
        rsw = f.idx("pRowSw", "remui", row, c(8))
        for j in range(chunks):
            chunk = c(j) if chunk0 is None else f.idx("pChunk", "addi", chunk0, c(j))
            phys = f.idx("pPhys", "xori", chunk, rsw)
            col0 = f.idx("pCol0", "muli", phys, c(8))
            col = f.idx("pCol", "addi", col0, t2)
            r = 4 * j + 2 * hi
            pair = f.let("pPair", f"vector.from_elements {p[r]}, {p[r + 1]} : vector<2xf32>")
            pb = f.let("pBf16", f"arith.truncf {pair} : vector<2xf32> to vector<2xbf16>")
            f.emit(f"vector.store {pb}, {sp}[{row}, {col}] {{alignment = 4}} : {sp_type}, "
                   "vector<2xbf16>")


def wgmma_qk(f, q_desc, k_desc, n, width):
    """Attention's S = Q K^T on wgmma: Q and K both K-major, `width` values
    wide in 64-column TMA boxes of 64 rows (8 KiB apart), q_desc and k_desc
    at their first box; n keys. Returns the m64nN accumulators of S, their
    group waited for."""
    f.emit("nvvm.wgmma.fence.aligned")
    s = f.let("sInit", f"llvm.mlir.undef : {accumulator_type(n)}")
    for kk in range(width // 16):
        off = (kk // 4) * 64 * 64 * 2 + (kk % 4) * 32  # box, then k16 step
        da = f.i64("qDesc", "addi", q_desc, f.i64c(off // 16))
        db = f.i64("kDescK", "addi", k_desc, f.i64c(off // 16))
        s = wgmma(f, s, da, db, n, kk > 0)
    f.emit("nvvm.wgmma.commit.group.sync.aligned")
    f.emit("nvvm.wgmma.wait.group.sync.aligned 0")
    return s


def wgmma_pv(f, o, alphas, p_desc, v_desc, n, keys):
    """Attention's O = O * alpha + P V on wgmma, this warpgroup's n value
    columns: O the struct of m64nN accumulators (row halves scaled by
    alphas[0] and [1]), P a K-major tile of `keys` columns (p_desc), V the
    MN-major tile (v_desc, its rows the keys: a k16 step is 16 rows of 128
    bytes). Returns the new O, its group waited for."""
    ty = accumulator_type(n)
    scaled = o
    for r in range(n // 2):
        v = f.let("ov", f"llvm.extractvalue {o}[{r}] : {ty}")
        vs = f.f32("ovs", "mulf", v, alphas[(r % 4) // 2])
        scaled = f.let("oacc", f"llvm.insertvalue {vs}, {scaled}[{r}] : {ty}")
    f.emit("nvvm.wgmma.fence.aligned")
    acc = scaled
    for kk in range(keys // 16):
        da = f.i64("pDescK", "addi", p_desc, f.i64c(kk * 32 // 16))
        db = f.i64("vDescK", "addi", v_desc, f.i64c(kk * 16 * 128 // 16))
        acc = wgmma(f, acc, da, db, n, True, "row")
    f.emit("nvvm.wgmma.commit.group.sync.aligned")
    f.emit("nvvm.wgmma.wait.group.sync.aligned 0")
    return acc
