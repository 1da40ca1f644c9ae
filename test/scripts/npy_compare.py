#!/usr/bin/env python3
"""npy_compare.py GOT.npy WANT.npy [--tolerance T]: the two arrays have the
same shape, GOT holds no NaN or infinity, and max|GOT - WANT| / max|WANT| is
at most T (default 1e-4, fp32). Prints the figures; exit 1 on a mismatch."""
import argparse
import sys

import numpy as np

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("got")
ap.add_argument("want")
ap.add_argument("--tolerance", type=float, default=1e-4)
args = ap.parse_args()
got, want = np.load(args.got), np.load(args.want)
if got.shape != want.shape:
    sys.exit(f"FAIL: shape {list(got.shape)}, expected {list(want.shape)}")
if not np.isfinite(got).all():
    sys.exit("FAIL: non-finite values")
err = float(np.abs(got.astype(np.float64) - want).max() / np.abs(want).max())
print(f"shape {list(got.shape)}, max relative error {err:.2e} (tolerance {args.tolerance:g})")
print("PASS" if err <= args.tolerance else "FAIL")
sys.exit(0 if err <= args.tolerance else 1)
