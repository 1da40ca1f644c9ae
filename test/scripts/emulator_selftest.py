#!/usr/bin/env python3
"""The emulator's own number formats against values fixed by their
definitions (not by the emulator's code): e4m3 (fn) and bf16; and its
reading of wgmma descriptors against the descriptors MLIR's own lowering
builds for a TMA-written tile.

usage: emulator_selftest.py   (prints one line per check; exit 1 on a miss)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "codegen", "kernels"))
import simt_emulator as emu  # noqa: E402

failures = []


def expect(what, got, want):
    ok = np.array_equal(np.asarray(got), np.asarray(want))
    print(f"{what}: {'ok' if ok else f'got {got}, want {want}'}")
    if not ok:
        failures.append(what)


# e4m3 (fn): bias 7, 3 mantissa bits, no infinities, S.1111.111 NaN.
expect("e4m3 1.0 is 0x38", emu.f32_to_e4m3(np.float32([1.0])), [0x38])
expect("e4m3 448 (the largest) is 0x7e", emu.f32_to_e4m3(np.float32([448.0])), [0x7E])
expect("e4m3 2^-9 (the smallest subnormal) is 0x01",
       emu.f32_to_e4m3(np.float32([2.0 ** -9])), [0x01])
expect("e4m3 2^-6 (the smallest normal) is 0x08",
       emu.f32_to_e4m3(np.float32([2.0 ** -6])), [0x08])
expect("e4m3 -1.5 is 0xbc", emu.f32_to_e4m3(np.float32([-1.5])), [0xBC])
expect("e4m3 saturates 1000 to 448 and -1000 to -448",
       emu.f32_to_e4m3(np.float32([1000.0, -1000.0])), [0x7E, 0xFE])
expect("e4m3 rounds 1.0625 (a tie) to the even 1.0, 1.1875 to the even 1.25",
       emu.f32_to_e4m3(np.float32([1.0625, 1.1875])), [0x38, 0x3A])
expect("e4m3 NaN is 0x7f", emu.f32_to_e4m3(np.float32([np.nan])), [0x7F])
expect("e4m3 decodes 0x38, 0x7e, 0x01, 0xbc",
       emu._E4M3[[0x38, 0x7E, 0x01, 0xBC]], [1.0, 448.0, 2.0 ** -9, -1.5])
expect("e4m3 round trip of every finite code",
       emu.f32_to_e4m3(emu._E4M3[np.r_[0:0x7F, 0x81:0xFF]].astype(np.float32)),
       np.r_[0:0x7F, 0x81:0xFF])

# bf16: the top 16 bits of an f32, rounded to nearest even.
expect("bf16 1.0 is 0x3f80", emu._f32_to_bf16(np.float32([1.0])), [0x3F80])
expect("bf16 rounds 1 + 2^-8 (a tie) to 1.0, 1 + 3 * 2^-8 to 1 + 2^-6",
       emu._f32_to_bf16(np.float32([1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8])),
       [0x3F80, 0x3F82])
expect("bf16 NaN stays NaN (0x7fc0)", emu._f32_to_bf16(np.float32([np.nan])), [0x7FC0])
expect("bf16 decodes 0xc040 as -3.0", emu._bits_to_f32(np.uint16([0xC040])), [-3.0])

# wgmma descriptors: MLIR 22's nvgpu.warpgroup.mma lowering builds these for
# the grouped GEMM's tiles (test/codegen/grouped-gemm-wgmma.test decodes
# them from the PTX): A, a [128 x 64] bf16 TMA box (rows of 128 bytes,
# K-major), from its start +32 bytes per k16 step; B, [64 K x 128 N] as two
# [64 x 64] boxes 8 KiB apart (N-major), +2048 bytes per k16 step. Lay the
# tiles out as TMA writes them (128-byte swizzle, at 1024 and 1024 + 16384)
# and read them back through the descriptors the way the emulator reads
# nvvm.wgmma operands: every k16 step must give the tiles' logical values.
base_a, base_b = 1024, 1024 + 16384
memory = np.zeros(base_b + 16384 + 1024, np.uint8)
tile_a = np.arange(128 * 64, dtype=np.uint16).reshape(128, 64)
tile_b = (np.arange(64 * 128, dtype=np.uint16) + 20000).reshape(64, 128)
boxes = [(base_a, tile_a)] + [(base_b + 8192 * h, tile_b[:, 64 * h:64 * h + 64])
                              for h in range(2)]
for base, box in boxes:
    physical = emu._swizzle128(base + np.arange(box.size * 2))
    memory[physical] = np.ascontiguousarray(box).view(np.uint8).reshape(-1)


def read(at):
    return memory[at].astype(np.uint16) | (memory[at + 1].astype(np.uint16) << 8)


desc_a = 4611686293372403712 + base_a // 16  # MLIR's A constant, at base_a
desc_b = 4611686293338849280 + base_b // 16  # and B's
ok_a = ok_b = True
for kk in range(4):
    got = read(emu.descriptor_addresses(desc_a + 2 * kk, 64, 16, True))
    ok_a &= np.array_equal(got, tile_a[:64, 16 * kk:16 * kk + 16])
    got = read(emu.descriptor_addresses(desc_b + 128 * kk, 128, 16, False))  # [N, k]
    ok_b &= np.array_equal(got, tile_b[16 * kk:16 * kk + 16, :].T)
expect("wgmma descriptors: MLIR's K-major A reads the TMA box, k16 steps of 32 bytes",
       ok_a, True)
expect("wgmma descriptors: MLIR's N-major B reads the two TMA boxes, k16 steps of 2 KiB",
       ok_b, True)

sys.exit(1 if failures else 0)
