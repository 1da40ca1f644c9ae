#!/usr/bin/env python3
"""Writes a checkpoint of random weights for a DeepSeek config, for benchmarks.

usage: make_random_checkpoint.py CONFIG.json OUT_DIR [KEY=VALUE ...] --dsc-compile PATH
                                 [--dtype F32|BF16]

Copies CONFIG.json to OUT_DIR/config.json with the KEY=VALUE overrides (JSON
values, e.g. n_routed_experts=128), asks dsc-compile for the tensors the model
needs (a --shapes-only compile; its manifest lists every parameter), and
writes them to OUT_DIR/model.safetensors as F32 (or, with --dtype BF16, as
BF16, DeepSeek's released V2 checkpoints' dtype, rounded to nearest even):
normal(0, 0.1), RMSNorm weights normal(1, 0.05). Seeded, so reruns agree. The numbers are meaningless:
use it to time a model shape, never to check numerics (the fixtures in
test/fixtures do that, against transformers).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np


def manifest_params(dsc_compile, model_dir):
    with tempfile.TemporaryDirectory() as work:
        artifact = os.path.join(work, "m.dscx")
        subprocess.run([dsc_compile, model_dir, "--shapes-only", "--target", "cpu",
                        "--no-kv-cache", "-o", artifact, "--quiet"], check=True)
        dump = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                            "scripts", "dump_manifest.py")
        lines = subprocess.run([sys.executable, dump, artifact], check=True,
                               capture_output=True, text=True).stdout.splitlines()
    params = {}
    for line in lines:
        arg = json.loads(line)
        if arg.get("role") != "param":
            continue
        stack = arg.get("stack", 0)
        shape = arg["shape"][1:] if stack else arg["shape"]
        names = [arg["name"].replace("{}", str(i)) for i in range(stack)] if stack else [arg["name"]]
        for name in names:
            params[name] = shape
    return params


def encode(values, dtype):
    """Little-endian bytes of `values` as F32, or as BF16 rounded to nearest
    even (the values are finite)."""
    bits = values.astype("<f4").view("<u4")
    if dtype == "F32":
        return bits.tobytes()
    rounded = (bits.astype(np.uint64) + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2").tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("out")
    ap.add_argument("overrides", nargs="*")
    ap.add_argument("--dsc-compile", required=True)
    ap.add_argument("--dtype", choices=["F32", "BF16"], default="F32")
    args = ap.parse_args()
    config = json.load(open(args.config))
    for item in args.overrides:
        key, value = item.split("=", 1)
        config[key] = json.loads(value)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    params = manifest_params(args.dsc_compile, args.out)
    rng = np.random.default_rng(0)
    header, blobs, offset = {}, [], 0
    for name in sorted(params):
        shape = params[name]
        norm = name.endswith("norm.weight") or name.endswith("layernorm.weight")
        values = rng.normal(1.0 if norm else 0.0, 0.05 if norm else 0.1, shape)
        data = encode(values, args.dtype)
        header[name] = {"dtype": args.dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    # Padded with spaces to a multiple of 8, as the reference writer does, so
    # that every tensor starts aligned to its element size.
    text += b" " * (-len(text) % 8)
    with open(os.path.join(args.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    print(f"{args.out}: {len(params)} tensors, {offset / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
