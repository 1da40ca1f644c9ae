#!/usr/bin/env python3
"""The dsc-compiled CPU program against ONNX Runtime on the same ONNX graph,
the same tokens and one thread each (dsc's CPU code is single-threaded),
interleaved runs, medians; prints the ratio. Both are timed warm: ONNX
Runtime after a first run, dsc as the median of 5 runs in one session
(dsc-run --repeat 5). Needs onnxruntime (pip).

usage: bench_onnx_vs_ort.py MODEL.onnx TOKENS.npy --tools build/tools [--runs 11]
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model")
    ap.add_argument("tokens")
    ap.add_argument("--tools", required=True)
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args()
    tokens = np.load(args.tokens)
    with tempfile.TemporaryDirectory() as work:
        artifact = os.path.join(work, "m.dscx")
        subprocess.run([os.path.join(args.tools, "dsc-compile"), args.model, "--target", "cpu",
                        "-o", artifact, "--quiet"], check=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
        session.run(None, {"input_ids": tokens})  # warm up
        dsc_ms, ort_ms = [], []
        for _ in range(args.runs):
            out = subprocess.run([os.path.join(args.tools, "dsc-run"), artifact,
                                  "--input=@" + args.tokens, "--repeat", "5",
                                  "--threads", "1"],
                                 capture_output=True, text=True, check=True).stderr
            dsc_ms.append(float(re.search(r"forward of \S+ \S+ tokens: median ([0-9.]+) ms",
                                          out).group(1)))
            start = time.perf_counter()
            session.run(None, {"input_ids": tokens})
            ort_ms.append((time.perf_counter() - start) * 1000)
    d, o = statistics.median(dsc_ms), statistics.median(ort_ms)
    print(f"{os.path.basename(args.model)} tokens {list(tokens.shape)}: dsc {d:.2f} ms, "
          f"ONNX Runtime {o:.2f} ms (1 thread each, medians of {args.runs}): "
          f"dsc is {o / d:.2f}x ONNX Runtime's speed")


if __name__ == "__main__":
    main()
