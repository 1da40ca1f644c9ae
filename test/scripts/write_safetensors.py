#!/usr/bin/env python3
"""Writes a safetensors file of random f32 tensors (seeded, so reruns agree).

usage: write_safetensors.py OUT NAME=DIMS [NAME=DIMS ...]   e.g. emb=16x8
"""
import json
import struct
import sys

import numpy as np

rng = np.random.default_rng(0)
header, blobs, offset = {}, [], 0
for spec in sys.argv[2:]:
    name, dims = spec.split("=")
    shape = [int(d) for d in dims.split("x")]
    data = rng.standard_normal(shape).astype("<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": shape,
                    "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)
text = json.dumps(header).encode()
# Padded with spaces to a multiple of 8, as the reference writer does, so
# that every tensor starts aligned to its element size.
text += b" " * (-len(text) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
