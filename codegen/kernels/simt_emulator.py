"""A CPU emulator of the kernel library's GPU kernels, for checking them
where no GPU is lent (the test suite, a laptop).

It interprets the generic form of a kernel file (`mlir-opt
--mlir-print-op-generic`), one thread block at a time, every thread of the
block in lockstep with NumPy: each SSA value holds one entry per thread.
The ops are the subset the kernel library uses (arith, math, scf, memref,
vector, gpu, nvgpu, nvvm, and the inline PTX it writes); anything else is
refused by name.

What it models, from the PTX ISA:
  * mma.sync m16n8k16 bf16 and m16n8k32 e4m3 (f32 accumulation) and
    ldmatrix.x4 (plain and .trans) with their per-lane fragment layouts;
    cvt to e4m3 (nearest even, saturating) and from it (e4m3x2 to f16x2,
    exact);
  * cp.async with zero fill (src-size), commit groups and wait_group; data
    read before its group is waited on is an error;
  * mbarriers (arrivals and transaction bytes per phase; a wait on a phase
    that never completes is a deadlock), TMA boxes (readable once their
    phase is waited on) written with the 128-byte swizzle, and wgmma:
    nvgpu.warpgroup.mma on its tiles (the descriptors are MLIR's lowering,
    not modelled: the tiles are read back through the swizzle) and
    nvvm.wgmma.mma_async on its own descriptors (start address, leading and
    stride offsets, 128-byte swizzle; K-major and MN-major operands; the
    accumulator in the per-thread fragment layout; whole warpgroups, not
    necessarily all of the block's). Shared memory a wgmma
    group reads may not be written while it is in flight; what threads
    wrote needs a fence.proxy.async before a wgmma reads it or TMA
    overwrites it; accumulators threads wrote need a wgmma.fence before a
    wgmma accumulates into them. Shared memory is laid out as ptxas lays
    it out on sm_90 (the statics, mbarriers included, before the dynamic
    allocation), and writing a barrier's bytes is an error;
  * shared memory races: between two barriers, a warp reading what another
    warp wrote, or writing what another warp read or wrote, is an error
    (asynchronously copied data counts as written when it is waited on);
  * bounds and alignment of every global and shared access.
What it does not: timing, bank conflicts, the hardware's approximate
ex2/cos/sin/rsqrt and FP8 accumulation (exact here), lanes of one warp
racing each other, warps running out of step.

bf16, f16 and e4m3 values are kept as their bit patterns: the kernels only
move such words; arithmetic happens in f32 (an f16 extended to f32 is read
as IEEE half).
"""

import json
import re

import numpy as np


class EmulationError(Exception):
    pass


# ----------------------------------------------------------------------------
# Parsing the generic form.

class Op:
    __slots__ = ("name", "results", "operands", "text", "regions", "line",
                 "arg_types")

    def __init__(self, name, results, operands, text, line):
        self.name, self.results, self.operands = name, results, operands
        self.text, self.line = text, line
        self.regions = []  # [(block argument names, [Op])]
        self.arg_types = []  # of every block argument, in order

    def attr(self, pattern, default=None):
        m = re.search(pattern, self.text)
        return m.group(1) if m else default


_OP = re.compile(r'^\s*(?:(%[\w#]+)(?::(\d+))? = )?"([\w.]+)"\((.*?)\)')
_BLOCK = re.compile(r"^\s*\^bb\d+(?:\((.*)\))?:\s*$")


def _split_top(text):
    """`text` split at the commas outside <>, () and []."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:])
    return [p.strip() for p in parts]


def parse(text):
    """The ops of a generic-form module as a tree; returns the top op."""
    lines = text.splitlines()
    stack = []  # open ops whose regions are being read
    top = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        if stripped.startswith("})"):
            op = stack.pop()
            op.text += " " + stripped
            if not stack:
                top = op
            continue
        if stripped == "}, {":
            stack[-1].regions.append(([], []))
            continue
        m = _BLOCK.match(line)
        if m:
            for arg in _split_top(m.group(1) or ""):
                name, _, ty = arg.partition(":")
                stack[-1].regions[-1][0].append(name.strip())
                stack[-1].arg_types.append(ty.strip())
            continue
        m = _OP.match(line)
        if not m:
            raise EmulationError(f"line {number}: cannot read '{stripped[:80]}'")
        name, count, opname, operands = m.groups()
        if name is None:
            results = []
        elif count is None:
            results = [name]
        else:
            results = [f"{name}#{i}" for i in range(int(count))]
        op = Op(opname, results, [o.strip() for o in operands.split(",") if o.strip()],
                stripped, number)
        if stack:
            stack[-1].regions[-1][1].append(op)
        if stripped.endswith("({"):
            op.regions.append(([], []))
            stack.append(op)
        elif not stack:
            top = op
    return top


def _named(module, opname):
    """Symbol name -> op for the `opname` ops nested in `module`."""
    found = {}

    def walk(op):
        if op.name == opname:
            found[op.attr(r'sym_name = "(\w+)"')] = op
        for _, ops in op.regions:
            for inner in ops:
                walk(inner)
    walk(module)
    return found


def kernels(module):
    """gpu.func name -> op, over every gpu.module of `module`; also under
    "module::name", the symbol a launch names (kernels of several modules
    may share a name)."""
    found = _named(module, "gpu.func")
    for name, gpu_module in _named(module, "gpu.module").items():
        for _, ops in gpu_module.regions:
            for op in ops:
                if op.name == "gpu.func":
                    found[f"{name}::" + op.attr(r'sym_name = "(\w+)"')] = op
    return found


# ----------------------------------------------------------------------------
# Values and memory.

def _bits_to_f32(bits):
    """bf16 bit patterns (uint16) as float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16(values):
    """float32 rounded to the nearest even bf16, as bit patterns."""
    v = np.ascontiguousarray(values, dtype=np.float32)
    u = v.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(v)
    return np.where(nan, np.uint16(0x7FC0), rounded)


_DTYPES = {"f32": np.float32, "f16": np.uint16, "bf16": np.uint16,
           "i32": np.int32, "i8": np.uint8, "i64": np.int64, "index": np.int64,
           "i1": np.bool_, "f8E4M3FN": np.uint8}


class MemRef:
    """A typed view of a byte buffer: shape, element type, the space."""

    def __init__(self, data, shape, shared=None, base_unit=0):
        self.data = data.reshape(shape)
        self.shared = shared  # the block's SharedMemory, for the checks
        self.base_unit = base_unit  # first 2-byte unit in shared memory

    def flat_index(self, indices, what):
        shape = self.data.shape
        for axis, (i, n) in enumerate(zip(indices, shape)):
            bad = (i < 0) | (i >= n)
            if bad.any():
                raise EmulationError(f"{what}: index {int(i[bad][0])} out of "
                                     f"bounds for dimension {axis} of size {n}")
        flat = np.zeros_like(indices[0])
        for i, n in zip(indices, shape):
            flat = flat * n + i
        return flat


class SharedMemory:
    """The block's shared memory with the race bookkeeping, per 2-byte
    unit: the epoch (barrier count) and warp of the last write and of the
    reads since, and the cp.async group still writing it."""

    def __init__(self, size):
        self.bytes = np.empty(size, dtype=np.uint8)
        units = (size + 1) // 2
        self.w_epoch = np.empty(units, np.int64)
        self.w_warp = np.empty(units, np.int64)
        self.r_epoch = np.empty(units, np.int64)
        self.r_warp = np.empty(units, np.int64)  # -2: several warps
        self.pending = np.empty(units, np.int64)  # -3: not yet committed
        self.barrier_units = (0, 0)
        self.unfenced = np.empty(units, bool)  # threads wrote, no proxy fence
        self.dirty = True
        self.reset()

    def reset(self):
        """A new block's shared memory: its bytes all ones (a bf16 or f32
        read of memory nobody wrote is NaN, which the checks catch)."""
        if not self.dirty:
            return
        self.bytes.fill(0xFF)
        self.unfenced.fill(False)
        for track in (self.w_epoch, self.w_warp, self.r_epoch, self.r_warp,
                      self.pending):
            track.fill(-1)
        self.epoch = 0
        self.wgmma_reads = []  # units read by wgmma groups still in flight
        self.wgmma_open = []  # units read by wgmmas not yet committed
        self.wgmma_pending = []  # uncommitted wgmmas' accumulators
        self.wgmma_results = []  # per group in flight, its accumulators
        self.dirty = False

    @staticmethod
    def for_block(size, _pool={}):
        """The shared memory of `size` bytes, reused from block to block."""
        if size not in _pool:
            _pool[size] = SharedMemory(size)
        memory = _pool[size]
        memory.reset()
        return memory

    def read(self, units, warps, what):
        self.dirty = True
        waiting = self.pending[units] != -1
        if waiting.any():
            if (self.pending[units] == -4).any():
                raise EmulationError(f"{what}: reads shared memory that a TMA copy "
                                     "still writes (no mbarrier wait covers it)")
            raise EmulationError(f"{what}: reads shared memory that a cp.async "
                                 "still writes (no wait_group covers it)")
        race = (self.w_epoch[units] == self.epoch) & (self.w_warp[units] != warps)
        if race.any():
            raise EmulationError(f"{what}: warp {int(warps[race][0])} reads what "
                                 f"warp {int(self.w_warp[units][race][0])} wrote "
                                 "with no barrier between")
        # The distinct (unit, warp) pairs: a unit read by two warps, now or
        # earlier in this epoch, has several readers.
        key = np.unique(units * 64 + warps)
        u, w = key // 64, key % 64
        uniq, first, counts = np.unique(u, return_index=True, return_counts=True)
        reader = w[first]
        earlier = (self.r_epoch[uniq] == self.epoch) & (self.r_warp[uniq] != reader)
        self.r_warp[uniq] = np.where((counts > 1) | earlier, -2, reader)
        self.r_epoch[uniq] = self.epoch

    def write(self, units, warps, what, pending=-1):
        self.dirty = True
        first, end = self.barrier_units
        hit = (units >= first) & (units < end)
        if hit.any():
            at = STATIC_BASE + 2 * int(units[hit][0])
            raise EmulationError(f"{what}: overwrites the mbarrier at shared address "
                                 f"{at:#x} (the statics precede the dynamic shared "
                                 "memory; its symbol's address is not its start)")
        for inflight in self.wgmma_reads + self.wgmma_open:
            if np.isin(units, inflight).any():
                raise EmulationError(f"{what}: overwrites shared memory a wgmma "
                                     "may still read (no wgmma wait covers it)")
        read_now = self.r_epoch[units] == self.epoch
        war = read_now & (self.r_warp[units] != warps)
        if war.any():
            raise EmulationError(f"{what}: warp {int(warps[war][0])} overwrites "
                                 "shared memory another warp read with no "
                                 "barrier between")
        waw = (self.w_epoch[units] == self.epoch) & (self.w_warp[units] != warps) \
            & (self.w_warp[units] >= 0)
        if waw.any():
            raise EmulationError(f"{what}: warps {int(warps[waw][0])} and "
                                 f"{int(self.w_warp[units][waw][0])} write the same "
                                 "shared memory with no barrier between")
        self.w_epoch[units] = self.epoch
        self.w_warp[units] = warps
        self.pending[units] = pending
        # The generic proxy's writes (threads' stores, cp.async); TMA (-4)
        # writes through the async proxy wgmma reads with.
        self.unfenced[units] = pending != -4

    def wgmma_read(self, units, warps, what):
        """A wgmma's read of its operands: through the async proxy, which
        sees what threads wrote only after a fence.proxy.async."""
        if self.unfenced[units].any():
            raise EmulationError(f"{what}: reads shared memory threads wrote with "
                                 "no fence.proxy.async between")
        for w in warps:
            self.read(units, np.full_like(units, w), what)
        self.wgmma_open.append(units)

    def wgmma_commit(self):
        """Closes a wgmma group: the reads and accumulators since the last."""
        if self.wgmma_open:
            self.wgmma_reads.append(np.concatenate(self.wgmma_open))
            self.wgmma_results.append(self.wgmma_pending)
            self.wgmma_open = []
            self.wgmma_pending = []

    def wgmma_wait(self, keep):
        """wgmma.wait_group `keep`: all but the newest `keep` groups done."""
        cut = max(len(self.wgmma_reads) - keep, 0)
        self.wgmma_reads = self.wgmma_reads[cut:]
        self.wgmma_results = self.wgmma_results[cut:]

    def check_accumulator(self, value, what):
        if any(_holds(group, value) for group in self.wgmma_results) or \
                _holds(self.wgmma_pending, value):
            raise EmulationError(f"{what}: reads an accumulator a wgmma in flight "
                                 "still writes (no wgmma wait covers it)")


def _units(memref, flat, count):
    """The 2-byte units of shared memory `count` elements from `flat` span."""
    size = memref.data.dtype.itemsize
    first = memref.base_unit + flat * size // 2
    per = max(1, count * size // 2)
    return (first[:, None] + np.arange(per)[None, :]).ravel(), per


# ----------------------------------------------------------------------------
# The interpreter.

def _holds(values, value):
    """Whether the list `values` holds this very array (not an equal one):
    the accumulators a hazard is tracked for, kept alive by the list."""
    return any(v is value for v in values)


def _swizzle128(address):
    """The 128-byte swizzle of a shared-memory byte address: its 16-byte
    chunk (bits 4-6) XOR its row in a 1024-byte atom (bits 7-9)."""
    return address ^ (((address >> 7) & 7) << 4)


def _e4m3_table():
    """The value of every FP8 e4m3 (fn) byte: bias 7, no infinities,
    S.1111.111 NaN."""
    out = np.zeros(256)
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        exp, man = (code >> 3) & 15, code & 7
        if exp == 15 and man == 7:
            out[code] = np.nan
        elif exp == 0:
            out[code] = sign * man / 8 * 2.0 ** -6
        else:
            out[code] = sign * (1 + man / 8) * 2.0 ** (exp - 7)
    return out


_E4M3 = _e4m3_table()
_E4M3_POSITIVE = _E4M3[:0x7F]  # codes 0..126, increasing values


def f32_to_e4m3(values):
    """float32 values as e4m3 (fn) codes: rounded to nearest, ties to the
    even code, saturating at 448 (cvt.rn.satfinite); NaN to 0x7F."""
    v = np.asarray(values, np.float64)
    mag = np.minimum(np.abs(v), 448.0)
    hi = np.clip(np.searchsorted(_E4M3_POSITIVE, mag), 0, 0x7E)
    lo = np.maximum(hi - 1, 0)
    dlo, dhi = mag - _E4M3_POSITIVE[lo], _E4M3_POSITIVE[hi] - mag
    code = np.where(dlo < dhi, lo, np.where(dhi < dlo, hi, np.where(lo % 2 == 0, lo, hi)))
    code = np.where(mag == _E4M3_POSITIVE[hi], hi, code)
    code = code | np.where(np.signbit(v), 0x80, 0)
    return np.where(np.isnan(v), 0x7F, code).astype(np.int64)

# The mma.sync fragment positions of lane l = 4 g + t (see warp_mma).
_LANE = np.arange(32)
_G, _T = _LANE // 4, _LANE % 4
_C_ROWS = [_G, _G, _G + 8, _G + 8]
_C_COLS = [2 * _T, 2 * _T + 1, 2 * _T, 2 * _T + 1]
_C_ROW_POS = np.stack(_C_ROWS, axis=1)  # [lane, register]
_C_COL_POS = np.stack(_C_COLS, axis=1)
_FRAGMENTS = {}


def _fragment_positions(k, bits):
    """Where each value of the A and B registers of mma.sync m16n8k (32 /
    bits values a register) sits: A (row, column) and B (row, column) per
    [lane, register, value], and the value's bit shift."""
    if (k, bits) not in _FRAGMENTS:
        per = 32 // bits
        lane = np.arange(32)[:, None, None]
        i = np.arange(per)[None, None, :]
        ja = np.arange(4)[None, :, None]
        jb = np.arange(2)[None, :, None]
        g, t = lane // 4, lane % 4
        rows_a = np.broadcast_to(g + 8 * (ja % 2), (32, 4, per))
        cols_a = per * t + k // 2 * (ja // 2) + i
        rows_b = per * t + k // 2 * jb + i
        cols_b = np.broadcast_to(g, (32, 2, per))
        _FRAGMENTS[(k, bits)] = (rows_a, cols_a, rows_b, cols_b,
                                 (bits * np.arange(per)).astype(np.uint32))
    return _FRAGMENTS[(k, bits)]


class Block:
    """One thread block of `kernel` run to completion."""

    def __init__(self, kernel, args, block_id, threads, shared_bytes, grid=(1, 1, 1),
                 block_dims=None):
        self.kernel, self.threads = kernel, threads
        # Threads are numbered x fastest, then y, then z.
        self.block_dims = block_dims or (threads, 1, 1)
        self.block_id, self.grid = block_id, grid
        self.tid = np.arange(threads, dtype=np.int64)
        self.warp = self.tid // 32
        # Workgroup attributions (gpu.func's `workgroup(...)`) are the last
        # block arguments; they follow the dynamic shared memory.
        params, body = kernel.regions[0]
        attributions = int(kernel.attr(r"workgroup_attributions = (\d+)", "0"))
        static = []
        for ty in kernel.arg_types[len(params) - attributions:]:
            m = re.match(r"memref<([\dx]+)x(\w+),", ty)
            shape = [int(d) for d in m.group(1).split("x")]
            static.append((shape, np.dtype(_DTYPES[m.group(2)])))
        # Shared memory as ptxas lays it out on sm_90 (seen in the SASS):
        # after 1 KiB the hardware reserves, the statics: MLIR's dynamic
        # shared memory symbol (a demoted 1-byte variable, so its address
        # is not where the dynamic allocation starts), then each
        # mbarrier.create's barriers, 8 bytes each; the dynamic allocation
        # follows them. Byte i of self.shared is address STATIC_BASE + i.
        barriers = _count_barriers(body)
        self.barrier_at = 8  # the next barrier's offset from STATIC_BASE
        start = (8 + 8 * barriers + 15) // 16 * 16
        dynamic = start + (max(shared_bytes, 2) + 15) // 16 * 16
        total = dynamic + sum(int(np.prod(sh)) * dt.itemsize for sh, dt in static)
        self.shared = SharedMemory.for_block(total)
        self.shared.barrier_units = (4, 4 + 4 * barriers)  # [first, end) units
        self.shared_bytes = dynamic
        self.groups = 0  # committed cp.async groups
        self.tma_writes = []  # (mbarrier, phase, units) not yet waited for
        # Accumulator structs threads wrote since the last wgmma.fence.
        self.unfenced_accumulators = []
        self.env = {}
        at = dynamic
        for name, (shape, dtype) in zip(params[len(params) - attributions:], static):
            size = int(np.prod(shape)) * dtype.itemsize
            self.env[name] = MemRef(self.shared.bytes[at:at + size].view(dtype), shape,
                                    self.shared, at // 2)
            at += size
        params = params[:len(params) - attributions]
        if len(params) != len(args):
            raise EmulationError(f"{len(args)} arguments for {len(params)} parameters")
        for name, value in zip(params, args):
            if isinstance(value, (MemRef, TensorMap)):
                self.env[name] = value
            else:
                self.env[name] = np.full(threads, value,
                                         np.float32 if isinstance(value, float) else np.int64)
        self.mask = np.ones(threads, dtype=bool)
        self.body = body

    def run(self):
        self.region(self.body)

    def region(self, ops):
        for op in ops:
            if op.name in ("gpu.return", "scf.yield"):
                return [self.env[o] for o in op.operands]
            self.execute(op)
        return []

    def uniform(self, value, what):
        """A value every active thread holds alike (what the others hold
        does not matter: they do not run the op)."""
        if len(value) == self.threads and self.mask.any():
            value = value[self.mask]
        if not np.all(value == value[0]):
            raise EmulationError(f"{what}: differs between threads")
        return int(value[0])

    def execute(self, op):
        handler = getattr(self, "op_" + op.name.replace(".", "_"), None)
        if handler is None:
            raise EmulationError(f"line {op.line}: {op.name} is not emulated")
        values = [self.env.get(o) for o in op.operands]
        try:
            out = handler(op, *values)
        except EmulationError as e:
            raise EmulationError(f"line {op.line} ({op.name}): {e}") from None
        # Ops with several results (scf.for, gpu.shuffle) return a list.
        values = out if isinstance(out, list) else [out]
        for name, value in zip(op.results, values):
            self.env[name] = value

    def where(self, what):
        return f"block {self.block_id}, {what}"

    # --- structure ---
    def op_scf_for(self, op, lb, ub, step, *inits):
        args, body = op.regions[0]
        st = self.uniform(step, "loop step")
        carried = list(inits)
        if np.all(lb == lb[0]) and np.all(ub == ub[0]):
            for i in range(int(lb[0]), int(ub[0]), st):
                self.env[args[0]] = np.full(self.threads, i, np.int64)
                for name, value in zip(args[1:], carried):
                    self.env[name] = value
                carried = self.region(body)
            return carried
        # Bounds that differ between threads (a thread-strided loop): step
        # all threads together, each active while its own bound holds.
        saved = self.mask
        trips = np.where(ub > lb, (ub - lb + st - 1) // st, 0)
        for i in range(int(trips[saved].max()) if saved.any() else 0):
            iv = lb + i * st
            active = saved & (iv < ub)
            self.mask = active
            self.env[args[0]] = iv
            for name, value in zip(args[1:], carried):
                self.env[name] = value
            new = self.region(body)
            carried = [np.where(active.reshape((-1,) + (1,) * (n.ndim - 1)), n, o)
                       for n, o in zip(new, carried)]
        self.mask = saved
        return carried

    def op_scf_if(self, op, cond):
        """Each thread runs the branch its condition picks (a branch no
        thread takes is skipped); each result is the thread's branch's.
        Where threads took both, a result the then branch's wgmma left in
        flight takes the others' values in place, so that its hazard stays
        tracked; any other merges into a new array (the then branch may
        yield a value from outside the if, or a view of one)."""
        saved = self.mask
        taken = []
        for region, take in zip(op.regions, (cond.astype(bool), ~cond.astype(bool))):
            self.mask = saved & take
            if self.mask.any() and region[1]:
                taken.append((self.mask, self.region(region[1])))
        self.mask = saved
        if not op.results:
            return None
        if len(taken) == 1:
            return taken[0][1]
        (_, then), (elsewhere, other) = taken
        shared = self.shared
        merged = []
        for value, alt in zip(then, other):
            if _holds(shared.wgmma_pending, value) or \
                    any(_holds(group, value) for group in shared.wgmma_results):
                value[elsewhere] = alt[elsewhere]
                merged.append(value)
            else:
                where = elsewhere.reshape((-1,) + (1,) * (np.ndim(value) - 1))
                merged.append(np.where(where, alt, value))
        return merged

    # --- arith ---
    def op_arith_constant(self, op):
        flag = re.search(r"value = (true|false)\b", op.text)
        if flag:
            return np.full(self.threads, flag.group(1) == "true", bool)
        m = re.search(r"value = (dense<([^>]*)>|[-+.\w]+) : ([\w<>]+)", op.text)
        if not m:
            raise EmulationError("a constant other than a number, a boolean or "
                                 "a dense splat")
        literal, dense, ty = m.group(1), m.group(2), m.group(3)
        if dense is not None:
            n = int(re.search(r"vector<(\d+)x", ty).group(1))
            return np.full((self.threads, n), float(dense), np.float32)
        if ty == "f32":
            value = (np.array([int(literal, 16)], np.uint32).view(np.float32)[0]
                     if literal.startswith("0x") else float(literal))
            return np.full(self.threads, value, np.float32)
        if ty == "i1":
            return np.full(self.threads, literal == "true", bool)
        return np.full(self.threads, int(literal), np.int64)

    def op_arith_addi(self, op, a, b): return a + b
    def op_arith_subi(self, op, a, b): return a - b
    def op_arith_muli(self, op, a, b): return a * b

    def op_arith_divui(self, op, a, b):
        if (b == 0).any():
            raise EmulationError("division by zero")
        return (a.astype(np.uint64) // b.astype(np.uint64)).astype(np.int64)

    def op_arith_remui(self, op, a, b):
        if (b == 0).any():
            raise EmulationError("division by zero")
        return (a.astype(np.uint64) % b.astype(np.uint64)).astype(np.int64)

    def op_arith_maxui(self, op, a, b):
        return np.maximum(a.astype(np.uint64), b.astype(np.uint64)).astype(np.int64)

    def op_arith_minui(self, op, a, b):
        return np.minimum(a.astype(np.uint64), b.astype(np.uint64)).astype(np.int64)

    def op_arith_minsi(self, op, a, b):
        return np.minimum(a, b)

    def op_arith_divsi(self, op, a, b):
        """Truncating signed division."""
        return np.sign(a) * np.sign(b) * (np.abs(a) // np.abs(b))

    def op_arith_remsi(self, op, a, b):
        return a - self.op_arith_divsi(op, a, b) * b

    def op_arith_maxsi(self, op, a, b):
        return np.maximum(a, b)

    def op_arith_shrui(self, op, a, b):
        return (a.astype(np.uint64) >> b.astype(np.uint64)).astype(np.int64)

    def op_arith_xori(self, op, a, b): return a ^ b
    def op_arith_ori(self, op, a, b): return a | b
    def op_arith_andi(self, op, a, b): return a & b

    def op_arith_cmpi(self, op, a, b):
        p = int(op.attr(r"predicate = (\d+)"))
        if p >= 6:
            a, b = a.astype(np.uint64), b.astype(np.uint64)
        return [a == b, a != b, a < b, a <= b, a > b, a >= b,
                a < b, a <= b, a > b, a >= b][p]

    def op_arith_index_cast(self, op, a):
        if op.text.rstrip().endswith("-> i1"):
            return (a & 1).astype(bool)
        if op.text.rstrip().endswith("-> i32"):
            return a.astype(np.int32).astype(np.int64)
        return a.astype(np.int64)

    def op_arith_addf(self, op, a, b): return (a + b).astype(np.float32)
    def op_arith_subf(self, op, a, b): return (a - b).astype(np.float32)
    def op_arith_mulf(self, op, a, b): return (a * b).astype(np.float32)

    def op_arith_divf(self, op, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (a / b).astype(np.float32)

    def op_arith_negf(self, op, a): return -a
    def op_arith_maximumf(self, op, a, b): return np.maximum(a, b)
    def op_arith_minimumf(self, op, a, b): return np.minimum(a, b)

    def op_arith_cmpf(self, op, a, b):
        p = int(op.attr(r"predicate = (\d+)"))
        ordered = ~(np.isnan(a) | np.isnan(b))
        # MLIR's arith::CmpFPredicate, in order: ordered (NaN false), then
        # unordered (NaN true) comparisons.
        unordered = ~ordered
        table = {0: np.zeros_like(ordered), 1: (a == b) & ordered, 2: (a > b) & ordered,
                 3: (a >= b) & ordered, 4: (a < b) & ordered,
                 5: (a <= b) & ordered, 6: (a != b) & ordered, 7: ordered,
                 8: (a == b) | unordered, 9: (a > b) | unordered,
                 10: (a >= b) | unordered, 11: (a < b) | unordered,
                 12: (a <= b) | unordered, 13: (a != b) | unordered, 14: unordered,
                 15: np.ones_like(ordered)}
        if p not in table:
            raise EmulationError(f"cmpf predicate {p}")
        return table[p]

    def op_arith_select(self, op, c, a, b):
        c = c.astype(bool)
        if a.ndim > 1:
            c = c.reshape(c.shape + (1,) * (a.ndim - 1))
        return np.where(c, a, b)

    def op_arith_truncf(self, op, a):
        return _f32_to_bf16(a)

    def op_arith_extf(self, op, a):
        if re.search(r": \(f8E4M3FN\) -> f32", op.text):
            return _E4M3[a.astype(np.int64) & 0xFF].astype(np.float32)
        if re.search(r": \((vector<\d+x)?f16>?\) ->", op.text):
            # IEEE half bits (nvvm.convert.f8x2.to.f16x2's), exactly.
            return a.astype(np.uint16).view(np.float16).astype(np.float32)
        return _bits_to_f32(a)

    def op_nvvm_convert_f8x2_to_f16x2(self, op, pair):
        """cvt.rn.f16x2.e4m3x2: two e4m3 codes to IEEE halves (exact; NaN
        codes NaN), element i from byte i."""
        if "f8E4M3FN" not in op.text:
            raise EmulationError("an f8 conversion other than e4m3")
        return _E4M3[pair.astype(np.int64) & 0xFF].astype(np.float16).view(np.uint16)

    def op_arith_bitcast(self, op, a):
        """f32 <-> i32 reinterpret the 32 bits; 16- and 8-bit floats are
        kept as their bits already (bf16 <-> f16, f8 -> i8: the same)."""
        m = re.search(r": \((\w+)\) -> (\w+)", op.text)
        src, dst = m.groups() if m else ("", "")
        if (src, dst) == ("f32", "i32"):
            return np.ascontiguousarray(a, np.float32).view(np.int32).astype(np.int64)
        if (src, dst) == ("i32", "f32"):
            return (np.asarray(a, np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
        return a

    # --- math ---
    def op_math_exp(self, op, a):
        with np.errstate(over="ignore"):
            return np.exp(a).astype(np.float32)

    def op_math_exp2(self, op, a):
        with np.errstate(over="ignore"):
            return np.exp2(a).astype(np.float32)

    def op_math_log2(self, op, a):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(a).astype(np.float32)

    def op_math_cos(self, op, a):
        return np.cos(a.astype(np.float64)).astype(np.float32)

    def op_math_sin(self, op, a):
        return np.sin(a.astype(np.float64)).astype(np.float32)

    def op_arith_uitofp(self, op, a):
        width = int(re.search(r": \(i(\d+)\)", op.text).group(1))
        return (a.astype(np.int64) & ((1 << width) - 1)).astype(np.float32)

    def op_arith_sitofp(self, op, a):
        return a.astype(np.float32)

    def op_math_rsqrt(self, op, a):
        return (1 / np.sqrt(a)).astype(np.float32)

    # --- vector ---
    def op_vector_extract(self, op, v):
        pos = [int(p) for p in op.attr(r"static_position = array<i64: ([\d, ]+)>").split(",")]
        for p in pos:
            v = v[:, p]
        return v

    def op_vector_bitcast(self, op, v):
        if re.search(r"vector<2xb?f16>\) -> vector<1xi32>", op.text):
            u = v.astype(np.uint32)
            return (u[:, 0] | (u[:, 1] << 16)).astype(np.int64)[:, None]
        raise EmulationError("vector.bitcast other than 2 x 16 bits to i32")

    def op_vector_shuffle(self, op, a, b):
        """The elements of a then b at the mask's positions."""
        mask = [int(m) for m in op.attr(r"mask = array<i64: ([\d, ]+)>").split(",")]
        return np.concatenate([a, b], axis=1)[:, mask]

    def op_vector_from_elements(self, op, *elements):
        return np.stack(elements, axis=1)

    def op_vector_broadcast(self, op, s):
        n = int(re.search(r"-> vector<(\d+)x", op.text).group(1))
        return np.repeat(s[:, None], n, axis=1)

    def op_vector_reduction(self, op, v):
        kind = op.attr(r"#vector.kind<(\w+)>")
        if kind == "add":
            return v.astype(np.float64).sum(axis=1).astype(np.float32)
        if kind == "maximumf":
            return v.max(axis=1)
        raise EmulationError(f"vector.reduction {kind}")

    def op_math_absf(self, op, a):
        return np.abs(a)

    def op_arith_extui(self, op, a):
        """Zero extension: the source width's bits, as an unsigned value."""
        width = int(re.search(r": \(i(\d+)\)", op.text).group(1))
        return a.astype(np.int64) & ((1 << width) - 1)

    def op_arith_extsi(self, op, a):
        """Sign extension: the source width's bits, as a signed value."""
        width = int(re.search(r": \(i(\d+)\)", op.text).group(1))
        v = a.astype(np.int64) & ((1 << width) - 1)
        return np.where(v >= (1 << (width - 1)), v - (1 << width), v)

    def op_arith_shli(self, op, a, b):
        return a << b

    def op_arith_trunci(self, op, a):
        """Narrowing: the destination width's low bits, as an unsigned value
        (the bits a 16-bit float is kept as)."""
        width = int(re.search(r"-> i(\d+)", op.text).group(1))
        if width == 1:
            return (a & 1).astype(bool)
        return a.astype(np.int64) & ((1 << width) - 1)

    def op_memref_atomic_rmw(self, op, value, memref, *indices):
        """addi, thread after thread: each active thread gets the value
        before its own addition (any order is valid; this one is thread
        order)."""
        if int(op.attr(r"kind = (\d+)")) != 1:
            raise EmulationError("atomic_rmw other than addi")
        active = self.mask
        flat = self.access(memref, indices, 1, op.name, active)
        data = memref.data.reshape(-1)
        out = np.zeros(self.threads, np.int64)
        old = []
        for f, v in zip(flat, value[active]):
            old.append(int(data[f]))
            data[f] += v
        out[active] = old
        if memref.shared is not None:
            # Atomics do not race with each other: the units keep no owner.
            units, _ = _units(memref, flat, 1)
            memref.shared.write(units, np.full_like(units, -1), op.name)
            memref.shared.w_warp[units] = -1
        return out

    def op_vector_fma(self, op, a, b, c):
        return (a * b + c).astype(np.float32)

    def vector_width(self, op):
        return int(re.search(r"vector<(\d+)x", op.text).group(1))

    def declared_alignment(self, op, memref):
        """A vector access's alignment: its attribute, else one element."""
        return int(op.attr(r"alignment = (\d+)", str(memref.data.dtype.itemsize)))

    def op_vector_load(self, op, memref, *indices):
        n = self.vector_width(op)
        return self.load(memref, indices, n, op.name,
                         align=self.declared_alignment(op, memref))

    def op_vector_store(self, op, value, memref, *indices):
        self.store(memref, indices, value, value.shape[1], op.name,
                   align=self.declared_alignment(op, memref))

    # --- memref ---
    def op_memref_load(self, op, memref, *indices):
        return self.load(memref, indices, 1, op.name)[:, 0]

    def op_memref_store(self, op, value, memref, *indices):
        self.store(memref, indices, value[:, None], 1, op.name)

    def op_memref_view(self, op, buffer, offset):
        m = re.search(r"-> memref<([\dx]+)x(\w+),", op.text)
        shape = [int(d) for d in m.group(1).split("x")]
        dtype = np.dtype(_DTYPES[m.group(2)])
        start = self.uniform(offset, "view offset")
        size = int(np.prod(shape)) * dtype.itemsize
        raw = buffer.data  # the dynamic shared memory, bytes
        if buffer.shared is None or raw.dtype != np.uint8 or buffer.base_unit:
            raise EmulationError("view of other than the dynamic shared memory")
        if start % 2 or start + size > raw.size:
            raise EmulationError(f"view of {size} bytes at {start} outside "
                                 f"{raw.size} bytes of dynamic shared memory")
        return MemRef(raw[start:start + size].view(dtype), shape, self.shared, start // 2)

    def access(self, memref, indices, count, what, active, align=1):
        """The flat indices of the active threads' accesses of `count`
        elements, checked against the bounds and to start at a multiple of
        `align` bytes (global buffers start 256-byte aligned, as cuMemAlloc
        gives them; shared offsets count from the dynamic shared memory)."""
        idx = [i[active] for i in indices]
        flat = memref.flat_index(idx[:-1] + [idx[-1]], what)
        last = memref.data.shape[-1]
        if ((idx[-1] + count) > last).any():
            raise EmulationError(f"{what}: {count} elements from index "
                                 f"{int(idx[-1].max())} pass the end ({last})")
        if align > 1:
            base = 2 * memref.base_unit if memref.shared is not None else 0
            address = base + flat * memref.data.dtype.itemsize
            bad = address % align != 0
            if bad.any():
                raise EmulationError(f"{what}: byte {int(address[bad][0])} is not "
                                     f"{align}-byte aligned")
        return flat

    def load(self, memref, indices, count, what, active=None, align=1):
        active = self.mask if active is None else active
        flat = self.access(memref, indices, count, what, active, align)
        if not memref.data.flags.c_contiguous:
            return self.strided(memref, indices, count, what, active)
        data = memref.data.reshape(-1)
        out = np.zeros((self.threads, count), memref.data.dtype)
        out[active] = data[flat[:, None] + np.arange(count)[None, :]]
        if memref.shared is not None:
            units, per = _units(memref, flat, count)
            memref.shared.read(units, np.repeat(self.warp[active], per), what)
        return out

    def store(self, memref, indices, value, count, what, pending=-1, active=None,
              align=1):
        active = self.mask if active is None else active
        flat = self.access(memref, indices, count, what, active, align)
        if not memref.data.flags.c_contiguous:
            self.strided(memref, indices, count, what, active, value)
            return
        data = memref.data.reshape(-1)
        data[flat[:, None] + np.arange(count)[None, :]] = \
            value[active].astype(memref.data.dtype)
        if memref.shared is not None:
            units, per = _units(memref, flat, count)
            memref.shared.write(units, np.repeat(self.warp[active], per), what, pending)

    def strided(self, memref, indices, count, what, active, value=None):
        """A scalar load (or, with `value`, store) of a strided view (a
        subview of global memory), through the view itself."""
        if count != 1 or memref.shared is not None:
            raise EmulationError(f"{what}: a vector or shared access of a strided view")
        at = tuple(i[active] for i in indices)
        if value is not None:
            memref.data[at] = value[active].reshape(-1).astype(memref.data.dtype)
            return None
        out = np.zeros((self.threads, 1), memref.data.dtype)
        out[active, 0] = memref.data[at]
        return out

    # --- gpu ---
    def op_gpu_block_id(self, op):
        d = "xyz".index(op.attr(r"#gpu<dim (\w)>"))
        return np.full(self.threads, self.block_id[d], np.int64)

    def op_gpu_grid_dim(self, op):
        d = "xyz".index(op.attr(r"#gpu<dim (\w)>"))
        return np.full(self.threads, self.grid[d], np.int64)

    def op_gpu_thread_id(self, op):
        d = "xyz".index(op.attr(r"#gpu<dim (\w)>"))
        bx, by, _ = self.block_dims
        return (self.tid % bx, self.tid // bx % by, self.tid // (bx * by))[d].copy()

    def op_gpu_block_dim(self, op):
        d = "xyz".index(op.attr(r"#gpu<dim (\w)>"))
        return np.full(self.threads, self.block_dims[d], np.int64)

    def op_memref_get_global(self, op):
        name = op.attr(r"name = @(\w+)")
        if name not in GLOBALS:
            raise EmulationError(f"no memref.global @{name} (run_host loads them)")
        return GLOBALS[name]

    def op_gpu_dynamic_shared_memory(self, op):
        return MemRef(self.shared.bytes[:self.shared_bytes], [self.shared_bytes],
                      self.shared, 0)

    def op_gpu_barrier(self, op):
        if not self.mask.all():
            raise EmulationError("barrier inside a branch")
        self.shared.epoch += 1

    def op_gpu_shuffle(self, op, value, offset, width):
        """xor: lane l reads lane l ^ offset; idx: lane `offset` (its own
        operand) of the same warp."""
        mode = op.attr(r"shuffle_mode (\w+)")
        if self.uniform(width, "shuffle width") != 32:
            raise EmulationError("shuffle width other than 32")
        base = self.tid & ~31
        if mode == "xor":
            source = base | ((self.tid & 31) ^ self.uniform(offset, "shuffle offset"))
        elif mode == "idx":
            if ((offset < 0) | (offset > 31)).any():
                raise EmulationError("shuffle from a lane outside the warp")
            source = base | offset.astype(np.int64)
        else:
            raise EmulationError(f"shuffle mode {mode}")
        return [value[source], np.ones(self.threads, bool)]

    # --- nvgpu / nvvm ---
    def op_nvgpu_ldmatrix(self, op, memref, *indices):
        """ldmatrix.x4: lane l gives the address of row l % 8 of matrix
        l / 8 (8 consecutive 16-bit elements); register j of lane l holds
        matrix j's row l / 4, columns 2 (l % 4) and + 1, or with .trans the
        column l / 4, rows 2 (l % 4) and + 1."""
        if op.attr(r"numTiles = (\d+)") != "4":
            raise EmulationError("ldmatrix other than x4")
        if not self.mask.all():
            raise EmulationError("ldmatrix inside a branch")
        transpose = op.attr(r"transpose = (\w+)") == "true"
        rows = self.load(memref, indices, 8, op.name, align=16)  # [T, 8] per lane
        out = np.zeros((self.threads, 4, 2), np.uint16)
        lane = self.tid & 31
        base = self.tid & ~31
        for j in range(4):
            if transpose:
                for e in range(2):
                    src = base + j * 8 + 2 * (lane % 4) + e
                    out[:, j, e] = rows[src, lane // 4]
            else:
                src = base + j * 8 + lane // 4
                out[:, j, 0] = rows[src, 2 * (lane % 4)]
                out[:, j, 1] = rows[src, 2 * (lane % 4) + 1]
        return out

    def op_nvgpu_device_async_copy(self, op, *operands):
        sizes = [int(s) for s in op.attr(r"operandSegmentSizes = array<i32: ([\d, ]+)>").split(",")]
        dst, rest = operands[0], list(operands[1:])
        dst_idx, rest = rest[:sizes[1]], rest[sizes[1]:]
        src, rest = rest[0], rest[1:]
        src_idx, rest = rest[:sizes[3]], rest[sizes[3]:]
        count = int(op.attr(r"dstElements = (\d+) : index"))
        src_count = rest[0] if sizes[4] else np.full(self.threads, count, np.int64)
        if ((src_count < 0) | (src_count > count)).any():
            raise EmulationError("src-size outside [0, dstElements]")
        data = np.zeros((self.threads, count), dst.data.dtype)
        whole = self.mask & (src_count == count)
        if whole.any():
            read = self.load(src, src_idx, count, op.name + " source", whole,
                             align=count * src.data.dtype.itemsize)
            data[whole] = read[whole].astype(dst.data.dtype)
        # A partial copy reads its src-size elements only (the hardware
        # reads src-size bytes): what lies past them may be out of bounds.
        for j in range(count):
            part = self.mask & (src_count > j) & (src_count < count)
            if part.any():
                at = list(src_idx[:-1]) + [src_idx[-1] + j]
                read = self.load(src, at, 1, op.name + " source", part,
                                 align=src.data.dtype.itemsize)
                data[part, j] = read[part, 0].astype(dst.data.dtype)
        self.store(dst, dst_idx, data, count, op.name, pending=-3,
                   align=count * dst.data.dtype.itemsize)
        return np.zeros(self.threads, np.int64)

    def op_nvgpu_device_async_create_group(self, op, *tokens):
        s = self.shared
        s.pending[s.pending == -3] = self.groups
        self.groups += 1
        return np.zeros(self.threads, np.int64)

    def op_nvgpu_device_async_wait(self, op, token):
        keep = int(op.attr(r"numGroups = (\d+)"))
        s = self.shared
        done = (s.pending >= 0) & (s.pending < self.groups - keep)
        s.pending[done] = -1
        s.w_epoch[done] = s.epoch  # landed now: visible to others after a barrier

    def op_nvvm_mma_sync(self, op, *operands):
        """m16n8k16 over bf16 (see warp_mma)."""
        if "m = 16, n = 8, k = 16" not in op.text or "bf16" not in op.text:
            raise EmulationError("mma.sync other than m16n8k16 bf16")
        return self.warp_mma(operands, 16, 16,
                             lambda bits: _bits_to_f32(bits.astype(np.uint16)))

    def warp_mma(self, operands, k, bits, decode):
        """mma.sync m16n8k (k 16 for bf16, 32 for e4m3), A row-major, B
        column-major, f32 accumulation, per warp. A register holds
        32 / bits values, the lower k in the lower bits. Lane l = 4 g + t
        holds A rows g + 8 (j % 2) of register j at k = e t + (k / 2)(j / 2)
        + i (e values a register); B register j at k = e t + (k / 2) j + i,
        column g; C/D (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)."""
        if not self.mask.all():
            raise EmulationError("mma.sync inside a branch")
        warps = self.threads // 32
        rows_a, cols_a, rows_b, cols_b, shifts = _fragment_positions(k, bits)
        mask = (1 << bits) - 1
        a = np.stack(operands[0:4], axis=1).astype(np.uint32).reshape(warps, 32, 4, 1)
        b = np.stack(operands[4:6], axis=1).astype(np.uint32).reshape(warps, 32, 2, 1)
        c = np.stack(operands[6:10], axis=1).astype(np.float64).reshape(warps, 32, 4)
        w = np.arange(warps)[:, None, None, None]
        A = np.zeros((warps, 16, k))
        B = np.zeros((warps, k, 8))
        A[w, rows_a, cols_a] = decode((a >> shifts) & mask)
        B[w, rows_b, cols_b] = decode((b >> shifts) & mask)
        C = np.zeros((warps, 16, 8))
        C[np.arange(warps)[:, None, None], _C_ROW_POS, _C_COL_POS] = c
        D = A @ B + C
        d = D[np.arange(warps)[:, None, None], _C_ROW_POS, _C_COL_POS]
        return d.reshape(self.threads, 4).astype(np.float32)

    # --- sm_90: mbarriers, TMA, wgmma (modelled on logical tiles: the
    # 128-byte swizzle TMA writes is the one wgmma's descriptors read, so
    # the emulator keeps tiles unswizzled) ---
    def op_builtin_unrealized_conversion_cast(self, op, value):
        return value

    def op_memref_extract_aligned_pointer_as_index(self, op, memref):
        if memref.shared is None:
            raise EmulationError("the address of a global buffer")
        return np.full(self.threads, STATIC_BASE + memref.base_unit * 2, np.int64)

    def op_nvgpu_mbarrier_create(self, op):
        n = int(op.attr(r"num_barriers = (\d+)", "1"))
        bars = []
        for _ in range(n):
            bars.append(Mbarrier(STATIC_BASE + self.barrier_at))
            self.barrier_at += 8
        return tuple(bars)  # one value, not n results

    def op_nvgpu_mbarrier_get(self, op, bars, index):
        """A barrier's shared address (as an integer)."""
        return np.full(self.threads, bars[self.uniform(index, "mbarrier index")].address,
                       np.int64)

    def leaders(self):
        return int(self.mask.sum())

    def op_nvgpu_mbarrier_init(self, op, bars, count, index):
        for _ in range(self.leaders()):
            b = bars[self.uniform(index, "mbarrier index")]
            b.expected = b.arrivals = self.uniform(count, "mbarrier count")
            b.tx, b.phase = 0, 0

    def op_nvgpu_mbarrier_arrive_expect_tx(self, op, bars, tx, index, *predicate):
        if predicate:
            raise EmulationError("predicated arrive")
        for _ in range(self.leaders()):
            b = bars[self.uniform(index, "mbarrier index")]
            b.tx += self.uniform(tx, "transaction bytes")
            b.arrivals -= 1
            b.settle()

    def op_nvgpu_mbarrier_try_wait_parity(self, op, bars, parity, ticks, index):
        if not self.mask.all():
            raise EmulationError("mbarrier wait inside a branch")
        b = bars[self.uniform(index, "mbarrier index")]
        if b.phase % 2 == self.uniform(parity.astype(np.int64), "parity"):
            raise EmulationError(f"waits for phase {b.phase} of an mbarrier that "
                                 f"never completes ({b.arrivals} arrivals and "
                                 f"{b.tx} bytes outstanding): a deadlock")
        landed = [r for r in self.tma_writes if r[0] is b and r[1] < b.phase]
        for record in landed:
            units = record[2]
            self.shared.pending[units] = -1
            self.shared.w_epoch[units] = -1  # visible to every waiting thread
            self.tma_writes.remove(record)

    def op_nvgpu_tma_fence_descriptor(self, op, tmap):
        """The tensormap proxy's acquire of a descriptor: nothing to do for
        the emulator's, which are never stale."""
        if not isinstance(tmap, TensorMap):
            raise EmulationError("nvgpu.tma.fence.descriptor of a non-descriptor")

    def op_nvgpu_tma_prefetch_descriptor(self, op, tmap):
        pass

    def op_nvvm_fence_proxy(self, op):
        """fence.proxy.async: what threads wrote to shared memory becomes
        visible to the async proxy (TMA, wgmma). Lockstep: every thread has
        written by now."""
        if "async" in op.attr(r"kind = #nvvm.proxy_kind<([\w.]+)>", ""):
            self.shared.unfenced.fill(False)

    def op_nvgpu_tma_async_load(self, op, *operands):
        sizes = [int(x) for x in op.attr(r"operandSegmentSizes = array<i32: ([\d, ]+)>").split(",")]
        dst, bars, tmap = operands[0], operands[1], operands[2]
        coords = operands[3:3 + sizes[3]]
        index = operands[3 + sizes[3]]
        if sizes[5] or sizes[6]:
            raise EmulationError("TMA multicast or predicates")
        for _ in range(self.leaders()):
            # Coordinates innermost first; the box and the array outermost
            # first.
            at = [self.uniform(x, "TMA coordinate") for x in coords][::-1]
            shape = tmap.box
            if len(at) != tmap.array.ndim or dst.data.shape != shape:
                raise EmulationError(f"box {'x'.join(map(str, shape))} at {len(at)} "
                                     f"coordinates into a "
                                     f"{'x'.join(map(str, dst.data.shape))} tile")
            box = np.zeros(shape, tmap.array.dtype)
            if any(a < 0 for a in at):
                raise EmulationError("negative TMA coordinates")
            src = tmap.array[tuple(slice(a, a + n) for a, n in zip(at, shape))]
            box[tuple(slice(0, n) for n in src.shape)] = src  # out of bounds: zero
            cols = shape[-1]
            # The 128-byte swizzle repeats every 1024 bytes: the box must
            # start on that boundary (128 bytes without a swizzle).
            need = 1024 if "swizzle_128b" in op.text else 128
            if (2 * dst.base_unit) % need:
                raise EmulationError(f"TMA box at shared byte {2 * dst.base_unit}, "
                                     f"not {need}-byte aligned")
            b = bars[self.uniform(index, "mbarrier index")]
            units = (dst.base_unit + np.arange(dst.data.size * dst.data.itemsize // 2))
            if self.shared.unfenced[units].any():
                raise EmulationError("overwrites shared memory threads wrote with no "
                                     "fence.proxy.async between")
            self.shared.write(units, np.zeros_like(units), op.name, pending=-4)
            raw = np.ascontiguousarray(box).view(np.uint8).reshape(-1)
            address = 2 * dst.base_unit + np.arange(raw.size)
            if "swizzle_128b" in op.text:
                if cols * box.itemsize != 128:
                    raise EmulationError(f"128-byte swizzle of {cols * box.itemsize}-byte rows")
                address = _swizzle128(address)
            self.shared.bytes[address] = raw
            self.tma_writes.append((b, b.phase, units))
            b.tx -= box.nbytes
            if b.tx < 0:
                raise EmulationError("TMA delivers more bytes than the mbarrier expects")
            b.settle()

    def op_nvgpu_warpgroup_mma_init_accumulator(self, op):
        m, n = (int(d) for d in re.search(r"vector<(\d+)x(\d+)xf32>", op.text).groups())
        return Accumulator(np.zeros((m, n), np.float32))

    def op_nvgpu_warpgroup_generate_descriptor(self, op, tile, tmap):
        return tile

    def op_nvgpu_warpgroup_mma(self, op, a, b, acc):
        """D = A B + C over shared tiles: A [M, K] row-major; B [K, N]
        N-major ({transposeB}) as TMA lays it out, N / 64 blocks of [K, 64]
        one after the other. The group stays in flight until a wait; the
        op itself waits for all but `waitGroup` groups."""
        if self.threads != 128 or not self.mask.all():
            raise EmulationError("warpgroup.mma by other than one whole warpgroup")
        if "transposeB" not in op.text:
            raise EmulationError("warpgroup.mma with K-major B")
        m, k = a.data.shape
        kb, n = b.data.shape
        if k != kb or n % 64:
            raise EmulationError(f"shapes {m}x{k} and {kb}x{n}")
        flat = self.unswizzled(b)
        bm = np.concatenate([flat[c * k * 64:(c + 1) * k * 64].reshape(k, 64)
                             for c in range(n // 64)], axis=1)
        am = self.unswizzled(a).reshape(m, k)
        units = np.concatenate([t.base_unit + np.arange(t.data.size) for t in (a, b)])
        self.shared.wgmma_read(units, range(4), op.name)
        d = acc.data.astype(np.float64) + _bits_to_f32(am).astype(np.float64) @ \
            _bits_to_f32(bm).astype(np.float64)
        self.shared.wgmma_commit()
        self.shared.wgmma_wait(int(op.attr(r"waitGroup = (\d+)", "1")))
        return Accumulator(d.astype(np.float32))

    def unswizzled(self, tile):
        """A tile of 128-byte rows as wgmma reads it through the 128-byte
        swizzle (TMA wrote it so): its 16-bit words, flat, in logical order."""
        address = _swizzle128(2 * tile.base_unit + np.arange(2 * tile.data.size))
        return self.shared.bytes[address].view(np.uint16)

    def op_nvvm_wgmma_fence_aligned(self, op):
        """Orders the threads' register writes before the wgmmas after it."""
        self.unfenced_accumulators.clear()

    def op_nvvm_wgmma_commit_group_sync_aligned(self, op):
        self.shared.wgmma_commit()

    def op_nvvm_wgmma_mma_async(self, op, acc, desc_a, desc_b):
        """D = A B (+ D) for each warpgroup, bf16 (k16) or e4m3 (k32, K-major
        only) operands read from shared memory through their descriptors (PTX ISA, matrix descriptors: the
        start address, the leading and stride byte offsets, over 16; the
        128-byte swizzle), D in the accumulator's fragment layout: register
        4 j + r of lane l in warp w holds row 16 w + l / 4 + 8 (r / 2),
        column 8 j + 2 (l % 4) + r % 2."""
        m, n, k = (int(x) for x in re.search(
            r"#nvvm.shape<m = (\d+), n = (\d+), k = (\d+)>", op.text).groups())
        types = re.findall(r"#nvvm.wgmma_type<(\w+)>", op.text)
        size = {"bf16": 2, "e4m3": 1}.get(types[0])
        if m != 64 or types[:2] != [types[0]] * 2 or size is None or k * size != 32:
            raise EmulationError(f"wgmma m{m}n{n}k{k} {types}: only m64nNk16 bf16 "
                                 "and m64nNk32 e4m3")
        if acc.shape[1] != n // 2:
            raise EmulationError(f"{acc.shape[1]} accumulator registers for n = {n}")
        accumulate = op.attr(r"scaleD = #nvvm.wgmma_scale_out<(\w+)>") == "one"
        if accumulate and _holds(self.unfenced_accumulators, acc):
            raise EmulationError("accumulates into registers threads wrote after the "
                                 "last wgmma.fence")
        layout_a = op.attr(r"layoutA = #nvvm.mma_layout<(\w+)>")
        layout_b = op.attr(r"layoutB = #nvvm.mma_layout<(\w+)>")
        if size == 1 and (layout_a, layout_b) != ("row", "col"):
            raise EmulationError("8-bit wgmma operands are K-major only")
        groups = self.mask.reshape(-1, 128) if self.threads % 128 == 0 else None
        if groups is None or (groups.any(axis=1) != groups.all(axis=1)).any():
            raise EmulationError("wgmma by other than whole warpgroups")
        out = np.full_like(acc, np.nan)  # an idle warpgroup's: never used
        lane = np.arange(128) % 32
        rows = 16 * (np.arange(128) // 32)[:, None] + (lane // 4)[:, None] + \
            8 * ((np.arange(n // 2) % 4) // 2)[None, :]
        cols = 8 * (np.arange(n // 2) // 4)[None, :] + 2 * (lane % 4)[:, None] + \
            (np.arange(n // 2) % 2)[None, :]
        for g in np.flatnonzero(groups.all(axis=1)):
            group = slice(128 * g, 128 * (g + 1))
            a_at = self.operand(desc_a[group], m, k, layout_a == "row", "A", size)
            b_at = self.operand(desc_b[group], n, k, layout_b == "col", "B", size)
            units = np.unique(np.concatenate([a_at, b_at]) // 2)
            self.shared.wgmma_read(units, range(4 * g, 4 * g + 4), op.name)
            if size == 2:
                words = self.shared.bytes.view(np.uint16)
                am = _bits_to_f32(words[a_at // 2]).astype(np.float64)  # [m, k]
                bm = _bits_to_f32(words[b_at // 2]).astype(np.float64)  # [n, k]
            else:
                am = _E4M3[self.shared.bytes[a_at]].astype(np.float64)
                bm = _E4M3[self.shared.bytes[b_at]].astype(np.float64)
            d = am @ bm.T
            if accumulate:
                d[rows, cols] += acc[group]
            out[group] = d[rows, cols]
        out = out.astype(np.float32)
        self.shared.wgmma_pending.append(out)
        return out

    def operand(self, desc, rows, k, k_major, what, size=2):
        """The offsets into self.shared of a wgmma operand's bytes, [rows, k],
        from its descriptor (uniform across the warpgroup)."""
        at = descriptor_addresses(self.uniform(desc, f"{what} descriptor"), rows, k,
                                  k_major, what, size) - STATIC_BASE
        if at.min() < 0 or at.max() + size > self.shared.bytes.size:
            raise EmulationError(f"{what}: bytes [{at.min()}, {at.max() + size}) outside "
                                 f"{self.shared.bytes.size} bytes of shared memory")
        return at

    def op_llvm_mlir_zero(self, op):
        out = np.zeros((self.threads, self.struct_size(op)), np.float32)
        self.unfenced_accumulators.append(out)
        return out

    op_llvm_mlir_undef = op_llvm_mlir_zero
    op_llvm_mlir_poison = op_llvm_mlir_zero

    def struct_size(self, op):
        m = re.search(r"!llvm.struct<\(([^)]*)\)>", op.text)
        if not m or set(t.strip() for t in m.group(1).split(",")) != {"f32"}:
            raise EmulationError("a value of other than a struct of f32")
        return len(m.group(1).split(","))

    def op_llvm_insertvalue(self, op, s, value):
        self.shared.check_accumulator(s, "insertvalue")
        out = s.copy()
        out[:, int(op.attr(r"position = array<i64: (\d+)>"))] = value
        self.unfenced_accumulators.append(out)
        return out

    def op_nvvm_wgmma_wait_group_sync_aligned(self, op):
        self.shared.wgmma_wait(int(re.search(r"group = (\d+)", op.text).group(1)))

    def op_nvgpu_warpgroup_mma_store(self, op, acc, memref):
        if self.shared.wgmma_reads:
            raise EmulationError("stores an accumulator with wgmma groups in flight")
        if memref.data.shape != acc.data.shape:
            raise EmulationError("accumulator and memref shapes differ")
        memref.data[...] = acc.data

    def op_memref_reinterpret_cast(self, op, source, *dynamic):
        offsets, sizes, strides = _segments(op, dynamic, self)
        if len(sizes) != 2 or strides != [sizes[1], 1] or offsets != [0]:
            raise EmulationError("reinterpret_cast other than a row-major 2-d view")
        flat = source.data.reshape(-1)
        if sizes[0] * sizes[1] > flat.size:
            raise EmulationError("view larger than its buffer")
        return MemRef(flat[:sizes[0] * sizes[1]], sizes)

    def op_memref_subview(self, op, source, *dynamic):
        offsets, sizes, strides = _segments(op, dynamic, self)
        if any(s != 1 for s in strides):
            raise EmulationError("subview with strides")
        shape = source.data.shape
        for o, n, d in zip(offsets, sizes, shape):
            if o < 0 or o + n > d:
                raise EmulationError(f"subview [{o}, {o + n}) outside {d}")
        view = source.data[tuple(slice(o, o + n) for o, n in zip(offsets, sizes))]
        # A rank-reducing subview drops unit dimensions (the first ones that
        # make the result's rank).
        rank = re.search(r"-> memref<((?:[\d?]+x)*)", op.text).group(1).count("x")
        drop = [d for d, n in enumerate(sizes) if n == 1][:view.ndim - rank]
        if view.ndim - rank > len(drop):
            raise EmulationError("a rank-reducing subview without unit dimensions")
        if drop:
            view = np.squeeze(view, axis=tuple(drop))  # a view, never a copy
        out = MemRef.__new__(MemRef)
        out.data, out.shared, out.base_unit = view, source.shared, None
        return out

    def op_math_fma(self, op, a, b, c):
        return (a.astype(np.float64) * b + c).astype(np.float32)

    def op_llvm_inline_asm(self, op, *operands):
        """The inline PTX the kernels use: mma.sync m16n8k32 over FP8 e4m3
        (4 A, 2 B, 4 C registers in, the 4 D out; see warp_mma) and the
        conversion of two f32 to e4m3 (cvt.rn.satfinite.e4m3x2)."""
        text = op.attr(r'asm_string = "([^"]*)"')
        if text.startswith("cvt.rn.satfinite.e4m3x2.f32"):
            # a to the upper byte, b to the lower (PTX ISA, cvt).
            a, b = operands
            return (f32_to_e4m3(a).astype(np.int64) << 8) | f32_to_e4m3(b)
        if not text.startswith("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32"):
            raise EmulationError(f"inline PTX '{text[:60]}'")
        return self.warp_mma(operands, 32, 8, lambda byte: _E4M3[byte])

    def op_llvm_extractvalue(self, op, s):
        self.shared.check_accumulator(s, "extractvalue")
        return s[:, int(op.attr(r"position = array<i64: (\d+)>"))]


class Mbarrier:
    """An mbarrier at shared `address`: arrivals and transaction bytes
    outstanding in the current phase; the phase advances when both reach
    zero."""

    def __init__(self, address):
        self.address = address
        self.expected = self.arrivals = self.tx = self.phase = 0

    def settle(self):
        if self.arrivals < 0:
            raise EmulationError("more arrivals than the mbarrier was initialised with")
        if self.arrivals == 0 and self.tx == 0:
            self.phase += 1
            self.arrivals = self.expected


class Accumulator:
    """A warpgroup's wgmma accumulator, as the logical [M, N] matrix."""

    def __init__(self, data):
        self.data = data


class TensorMap:
    """A TMA descriptor: a global array (bit patterns for bf16, bytes for
    e4m3) and the box a load copies, both outermost dimension first."""

    def __init__(self, array, box):
        self.array, self.box = array, tuple(box)


_DYNAMIC = -9223372036854775808


def _segments(op, dynamic, block):
    """The offsets, sizes and strides of a view op (reinterpret_cast,
    subview): static entries from its attributes, dynamic ones from its
    operands in order."""
    counts = [int(x) for x in op.attr(r"operandSegmentSizes = array<i32: ([\d, ]+)>").split(",")]
    dynamic = list(dynamic)
    at = 0
    out = []
    for name, count in zip(("static_offsets", "static_sizes", "static_strides"), counts[1:]):
        out.append(_static(op, name, dynamic[at:at + count], block))
        at += count
    return out


def _static(op, name, dynamic, block):
    """The static list `name` of an op, its dynamic entries taken in order
    from `dynamic` (uniform across threads)."""
    values = [int(v) for v in op.attr(name + r" = array<i64: ([-\d, ]*)>", "").split(",") if v.strip()]
    out = []
    for v in values:
        out.append(block.uniform(dynamic.pop(0), name) if v == _DYNAMIC else v)
    return out


def descriptor_addresses(d, rows, k, k_major, what="operand", size=2):
    """The shared byte addresses a wgmma operand's elements, [rows, k] (rows:
    M of A, N of B), are read from, by its 64-bit descriptor `d` (PTX ISA,
    matrix descriptor format: start address / 16 in bits 0-13, leading byte
    offset / 16 in 16-29, stride byte offset / 16 in 32-45, the swizzle in
    62-63, 1 = 128 bytes), elements of `size` bytes, the 128-byte swizzle
    applied. K-major: rows of 128 bytes, 8 to a 1024-byte atom, atoms
    `stride` apart, k along the row. MN-major (16-bit): k the rows, 8 to an
    atom, atoms `stride` apart along k; 64 of `rows` to a 128-byte row, such
    blocks `leading` apart."""
    start = (d & 0x3FFF) << 4
    leading = ((d >> 16) & 0x3FFF) << 4
    stride = ((d >> 32) & 0x3FFF) << 4
    if d >> 62 != 1 or (d >> 49) & 7:
        raise EmulationError(f"{what} descriptor {d:#x}: only the 128-byte "
                             "swizzle with base offset 0 is modelled")
    r = np.arange(rows)[:, None]
    c = np.arange(k)[None, :]
    if k_major:
        at = start + (r // 8) * stride + (r % 8) * 128 + size * c
        if (start % 128) + size * k > 128:
            raise EmulationError(f"{what}: k{k} from byte {start % 128} of a "
                                 "128-byte row crosses it")
    else:
        at = start + (r // 64) * leading + (c // 8) * stride + (c % 8) * 128 + \
            2 * (r % 64)
        if (start // 128) % 8:
            raise EmulationError(f"{what}: starts at row {(start // 128) % 8} of a "
                                 "swizzle atom")
    return _swizzle128(at)


# The shared address of MLIR's dynamic shared memory symbol: 1 KiB in, after
# the hardware's reserved bytes (sm_90).
STATIC_BASE = 1024


def _count_barriers(ops):
    """The barriers every nvgpu.mbarrier.create in `ops` (nested) makes."""
    n = 0
    for op in ops:
        if op.name == "nvgpu.mbarrier.create":
            n += int(op.attr(r"num_barriers = (\d+)", "1"))
        for _, body in op.regions:
            n += _count_barriers(body)
    return n


def run_kernel(kernel, grid, threads, shared_bytes, args, block_dims=None):
    """Runs every block of `grid` (x, y, z) in order; `args` are MemRefs for
    memref parameters and Python ints/floats for scalars. `threads` is the
    block's size, `block_dims` its shape (default: all along x)."""
    for z in range(grid[2]):
        for y in range(grid[1]):
            for x in range(grid[0]):
                Block(kernel, args, (x, y, z), threads, shared_bytes, grid,
                      block_dims).run()


# memref.global name -> MemRef, for memref.get_global (run_host fills it).
GLOBALS = {}


def global_memref(array):
    """A flat global buffer (memref<?xT>) over `array` (kept, not copied)."""
    return MemRef(array.reshape(-1), [array.size])


# ----------------------------------------------------------------------------
# Host code: a function that launches kernels, as the compiler emits it
# before the kernels are outlined (dsc-library-gemms' output, its loops from
# --convert-linalg-to-loops), run as one thread.

def _memref_type(text):
    """(shape with None for dynamic dims, dtype) of a `memref<...>` type."""
    m = re.match(r"memref<((?:[\d?]+x)*)(\w+)", text)
    dims = [d for d in m.group(1).split("x") if d]
    return [None if d == "?" else int(d) for d in dims], np.dtype(_DTYPES[m.group(2)])


class Host(Block):
    """The function `func` (a func.func op) run on the CPU; its kernel
    launches run on the emulator, each block in turn. Buffers it allocates
    start as NaN (floats) or -1 (integers), and so do the ones it frees,
    so that a read of what nothing wrote, or of a freed buffer, shows."""

    def __init__(self, func, module_funcs, kernels, args, launches=None):
        self.funcs, self.kernels = module_funcs, kernels
        self.threads = 1
        self.tid = np.zeros(1, np.int64)
        self.warp = self.tid
        self.mask = np.ones(1, dtype=bool)
        params, self.body = func.regions[0]
        if len(params) != len(args):
            raise EmulationError(f"{len(args)} arguments for {len(params)} parameters")
        self.env = dict(zip(params, args))
        self.launches = [] if launches is None else launches

    def run(self):
        """The function's results (func.return's operands)."""
        return self.region(self.body)

    def region(self, ops):
        for op in ops:
            if op.name in ("func.return", "scf.yield"):
                return [self.env[o] for o in op.operands]
            self.execute(op)
        return []

    def op_func_call(self, op, *args):
        callee = op.attr(r"callee = @(\w+)")
        if callee in ("dsc_gpu_tensor_map_bf16", "dsc_gpu_tensor_map_3d_bf16",
                      "dsc_gpu_tensor_map_e4m3"):
            # The runtime's TMA descriptor of a bf16 matrix (memref [rows,
            # cols]) for boxes of (boxRows, boxCols), of a tensor of rank 3
            # for boxes of three sizes, or of an e4m3 matrix (its bytes;
            # the kernel's descriptor type says they are unswizzled): its
            # array, a view that launches read as they run.
            tensor, *box = args
            box = tuple(int(b[0]) for b in box)
            if tensor.data.ndim != len(box):
                raise EmulationError(f"a TMA descriptor of a {tensor.data.ndim}-d "
                                     f"memref for a box of {len(box)} sizes")
            # What the runtime refuses (dscGpuTensorMapBf16): an empty
            # tensor (the driver encodes no dimension of 0) or a box past
            # the driver's 256.
            if 0 in tensor.data.shape or not all(0 < b <= 256 for b in box):
                raise EmulationError(f"a TMA descriptor of a {list(tensor.data.shape)} "
                                     f"tensor in boxes of {list(box)}, which the "
                                     "runtime refuses")
            return [TensorMap(tensor.data, box)]
        if callee not in self.funcs:
            raise EmulationError(f"call of @{callee}, which the module does not define")
        return Host(self.funcs[callee], self.funcs, self.kernels, list(args),
                    self.launches).run()

    def op_scf_if(self, op, cond):
        """The branch the (one) condition picks, with its results."""
        region = op.regions[0] if bool(cond[0]) else op.regions[1]
        return self.region(region[1]) if region[1] else []

    def op_memref_alloc(self, op, *sizes):
        shape, dtype = _memref_type(re.search(r"-> (memref<[^>]*>)", op.text).group(1))
        dynamic = iter(int(s[0]) for s in sizes)
        shape = [next(dynamic) if d is None else d for d in shape]
        return MemRef(np.full(shape, _poison(dtype), dtype), shape)

    def op_memref_dealloc(self, op, memref):
        """Poisons the whole allocation (buffer deallocation frees it
        through its base: a 0-d view of the first element), so that a use
        after the free shows."""
        _root(memref.data)[...] = _poison(memref.data.dtype)

    def op_memref_dim(self, op, memref, dim):
        return np.full(1, memref.data.shape[int(dim[0])], np.int64)

    def op_memref_collapse_shape(self, op, memref):
        groups = re.search(r"reassociation = (\[\[.*?\]\])", op.text).group(1)
        shape = [int(np.prod([memref.data.shape[d] for d in g]))
                 for g in json.loads(groups)]
        return _view(memref, memref.data.reshape(shape))

    def op_memref_expand_shape(self, op, memref, *sizes):
        dynamic = [int(v[0]) for v in sizes]
        shape = [dynamic.pop(0) if v == _DYNAMIC else v for v in
                 (int(x) for x in op.attr(r"static_output_shape = array<i64: ([-\d, ]*)>")
                  .split(","))]
        return _view(memref, memref.data.reshape(shape))

    def op_memref_cast(self, op, memref):
        return memref

    def op_memref_copy(self, op, source, target):
        if source.data.shape != target.data.shape:
            raise EmulationError("memref.copy between shapes")
        target.data[...] = source.data

    def op_memref_extract_strided_metadata(self, op, memref):
        """The base buffer (as a 0-d view of its first element), offset,
        sizes and strides, in elements."""
        root = _root(memref.data)
        item = memref.data.itemsize
        offset = (_address(memref.data) - _address(root)) // item
        base = MemRef(root.reshape(-1)[:1].reshape(()), [])
        return ([base, np.full(1, offset, np.int64)] +
                [np.full(1, n, np.int64) for n in memref.data.shape] +
                [np.full(1, st // item, np.int64) for st in memref.data.strides])

    def op_memref_extract_aligned_pointer_as_index(self, op, memref):
        return np.full(1, _address(_root(memref.data)), np.int64)

    def op_arith_select(self, op, c, a, b):
        if isinstance(a, MemRef):
            return a if bool(c[0]) else b
        return super().op_arith_select(op, c, a, b)

    def op_gpu_launch_func(self, op, *operands):
        sizes = [int(n) for n in op.attr(r"operandSegmentSizes = array<i32: ([\d, ]+)>").split(",")]
        if sizes[0] or any(sizes[7:10]) or sizes[12]:
            raise EmulationError("async, cluster or async-object launches")
        grid = tuple(int(v[0]) for v in operands[0:3])
        block = tuple(int(v[0]) for v in operands[3:6])
        shared = int(operands[6][0]) if sizes[10] else 0
        args = [a if isinstance(a, (MemRef, TensorMap)) else
                float(a[0]) if np.issubdtype(a.dtype, np.floating) else int(a[0])
                for a in operands[6 + sizes[10]:]]
        module, name = re.search(r"kernel = @(\w+)::@(\w+)", op.text).groups()
        run_kernel(self.kernels[f"{module}::{name}"], grid, int(np.prod(block)), shared,
                   args, block)
        self.launches.append((name, grid))


def _poison(dtype):
    """What a fresh or freed buffer holds: NaN (bf16's too), else -1."""
    return {np.float32: np.nan, np.uint16: 0x7FC0, np.bool_: True}.get(
        np.dtype(dtype).type, -1)


def _root(array):
    """The array owning `array`'s memory."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _address(array):
    return array.__array_interface__["data"][0]


def _view(memref, data):
    """A MemRef over `data`, a view of `memref`'s (it must not be a copy)."""
    if not np.shares_memory(data, memref.data) and data.size:
        raise EmulationError("a reshape of a strided view (would copy)")
    return MemRef(data, list(data.shape))


def run_host(module, name, args):
    """Runs the host function `name` of `module` (parsed) with `args`
    (MemRefs and ints); returns the launches it made, (kernel, grid). The
    module's memref.globals are loaded for memref.get_global."""
    GLOBALS.clear()
    for op in _named(module, "memref.global").values():
        GLOBALS[op.attr(r'sym_name = "(\w+)"')] = _global(op)
    funcs = _named(module, "func.func")
    launches = []
    Host(funcs[name], funcs, kernels(module), args, launches).run()
    return launches


def _global(op):
    """A memref.global's constant value: a dense list or splat of floats
    or integers."""
    shape, dtype = _memref_type(op.attr(r"type = (memref<[^>]*>)"))
    m = re.search(r"initial_value = dense<(.*?)> : tensor", op.text)
    if not m:
        raise EmulationError(f"line {op.line}: a global without a dense initial value")
    text = m.group(1)
    if text.startswith('"'):
        raise EmulationError(f"line {op.line}: a global in hex form")
    values = np.array(json.loads(text.replace("true", "1").replace("false", "0"))
                      if text.startswith("[") else [float(text)] * int(np.prod(shape)))
    return MemRef(values.astype(dtype).reshape(shape), shape)
