#!/usr/bin/env python3
"""Fused against unfused: the same checkpoint compiled with and without
--no-fusion gives the same logits on fresh random tokens.

Runs dsc-run --input/--output (one forward pass over every position of a
batch) on both artifacts and compares all the logits: max relative error
max|fused - unfused| / max|unfused| per sequence at most --tolerance (fp32:
1e-4), nothing non-finite. The tokens are drawn fresh on every run; the seed
is printed so that a failure can be replayed with --seed.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{proc.stderr}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=3)
    ap.add_argument("--seq", type=int, default=24)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--fused-flag", action="append", default=[],
                    help="extra dsc-compile flag for the fused program "
                         "(e.g. --fused-flag=--mla-form=absorbed); repeatable")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    os.makedirs(args.work, exist_ok=True)
    logits = {}
    for variant in ("fused", "unfused"):
        artifact = os.path.join(args.work, variant + ".dscx")
        cmd = [os.path.join(args.tools, "dsc-compile"), args.fixture, "--target", "cpu",
               "-o", artifact, "--quiet"]
        if variant == "unfused":
            cmd.append("--no-fusion")
        else:
            cmd += args.fused_flag
        run(cmd)
    rng = np.random.default_rng(seed)
    vocab = json.load(open(os.path.join(args.fixture, "config.json")))["vocab_size"]
    tokens = rng.integers(0, vocab, (args.batch, args.seq), dtype=np.int64)
    tokens_path = os.path.join(args.work, "tokens.npy")
    np.save(tokens_path, tokens)
    for variant in ("fused", "unfused"):
        out = os.path.join(args.work, variant + "-logits.npy")
        run([os.path.join(args.tools, "dsc-run"), os.path.join(args.work, variant + ".dscx"),
             "--input=@" + tokens_path, "--output=@" + out])
        logits[variant] = np.load(out).astype(np.float64)
    fused, unfused = logits["fused"], logits["unfused"]
    ok = fused.shape == unfused.shape and np.isfinite(fused).all() and np.isfinite(unfused).all()
    worst = 0.0
    if ok:
        for b in range(args.batch):
            err = float(np.abs(fused[b] - unfused[b]).max() / np.abs(unfused[b]).max())
            worst = max(worst, err)
    ok = ok and worst <= args.tolerance
    print(f"seed {seed}: logits {list(fused.shape)}, max relative error {worst:.2e} "
          f"(tolerance {args.tolerance:g})")
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
