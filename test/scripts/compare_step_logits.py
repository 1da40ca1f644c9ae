#!/usr/bin/env python3
"""Compares two greedy generations step by step: the logits each new token
was picked from (dsc-run --output=@FILE.npy, [batch, steps, vocab]) and the
tokens (dsc-run --json). Used to check a lower-precision run (a bf16 KV
cache) against a reference run (an f32 cache, itself checked against
transformers in test/e2e).

Two runs see the same context up to and including the first step where
their tokens differ; from there on they continue different sequences. So:
the logits must agree (max |a - b| / max |reference|, per step) at every
step up to that one, and a step where the tokens differ must be a near tie
in the reference (the two tokens' reference logits within the tolerance).
NaN or infinity never passes.

    compare_step_logits.py REF.npy REF.json GOT.npy GOT.json --tolerance T
"""
import argparse
import json
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ref_logits")
    ap.add_argument("ref_json")
    ap.add_argument("got_logits")
    ap.add_argument("got_json")
    ap.add_argument("--tolerance", type=float, required=True)
    args = ap.parse_args()
    ref = np.load(args.ref_logits).astype(np.float64)
    got = np.load(args.got_logits).astype(np.float64)
    ref_tokens = json.load(open(args.ref_json))["generated"]
    got_tokens = json.load(open(args.got_json))["generated"]
    if ref.shape != got.shape or ref.ndim != 3:
        print(f"FAIL: shapes {list(ref.shape)} and {list(got.shape)}")
        sys.exit(1)
    batch, steps, _ = ref.shape
    ok = True
    for b in range(batch):
        if not (np.all(np.isfinite(ref[b])) and np.all(np.isfinite(got[b]))):
            print(f"prompt {b}: logits not finite")
            ok = False
            continue
        differ = [t for t in range(steps) if ref_tokens[b][t] != got_tokens[b][t]]
        last = differ[0] if differ else steps - 1
        worst = 0.0
        for t in range(last + 1):
            scale = np.max(np.abs(ref[b, t]))
            worst = max(worst, float(np.max(np.abs(got[b, t] - ref[b, t])) / scale))
        line = (f"prompt {b}: {last + 1} steps on the same context, "
                f"max rel err {worst:.3e}")
        if worst > args.tolerance:
            ok = False
        if differ:
            t = differ[0]
            row = ref[b, t]
            margin = float((row[ref_tokens[b][t]] - row[got_tokens[b][t]])
                           / np.max(np.abs(row)))
            line += f"; tokens differ from step {t}, reference margin {margin:.3e}"
            if margin > args.tolerance:
                ok = False
        else:
            line += "; tokens identical"
        print(line)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
