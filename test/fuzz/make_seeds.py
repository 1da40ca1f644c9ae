#!/usr/bin/env python3
"""Writes the fuzzer's seed corpus (test/fuzz/corpus/): one small valid input
per parser, behind the selector byte ParsersFuzzer.cpp reads first (0 JSON,
1 safetensors, 2 .dscx, 3 ONNX: test/frontends/Inputs/onnx/good.onnx,
4 .npy). Run from the repository root; the outputs are
checked in."""
import json
import os
import struct

out = os.path.join(os.path.dirname(__file__), "corpus")
os.makedirs(out, exist_ok=True)


def write(name, selector, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([selector]) + data)


write("json", 0, b'{"a": [1, -2.5e3, "x\\u00e9", true, null], "b": {}}')

header = json.dumps({
    "__metadata__": {"format": "pt"},
    "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
    "b": {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]},
}).encode()
write("safetensors", 1, struct.pack("<Q", len(header)) + header +
      struct.pack("<4f", 1, 2, 3, 4) + b"\x80\x3f\x00\x40")


def fnv1a64(data, h=0xcbf29ce484222325):
    for byte in data:
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


# runtime/artifact/Artifact.h: header, section table, 64-byte aligned data.
manifest = json.dumps({"format": "dscx", "version": 2}).encode()
table_end = 24 + 80
offset = (table_end + 63) // 64 * 64
table = struct.pack("<64sQQ", b"manifest.json", offset, len(manifest))
body = table + b"\0" * (offset - table_end) + manifest
artifact = (b"DSCX\r\n\x1a\n" + struct.pack("<II", 1, 1) +
            struct.pack("<Q", fnv1a64(body)) + body)
write("dscx", 2, artifact)

root = os.path.join(os.path.dirname(__file__), "..", "frontends", "Inputs", "onnx")
write("onnx", 3, open(os.path.join(root, "good.onnx"), "rb").read())

npy_header = b"{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }"
npy_header += b" " * ((64 - (10 + len(npy_header) + 1) % 64) % 64) + b"\n"
write("npy", 4, b"\x93NUMPY\x01\x00" + struct.pack("<H", len(npy_header)) +
      npy_header + struct.pack("<6q", 1, 2, 3, 4, 5, 6))
