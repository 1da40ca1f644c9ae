#!/usr/bin/env python3
"""End-to-end numerics: compile a fixture checkpoint with dsc-compile, run it
with dsc-run (all prompts as one batch), and compare with the Hugging Face
transformers reference outputs in the fixture's expected.json.

Pass criteria (fp32 compute):
  * greedy tokens identical to the reference, for every prompt (by default
    through the KV cache: one prefill, then one decode step per token;
    --generation recompute reruns the whole sequence per token instead);
  * prefill logits (at each prompt's last position) within a max relative
    error of 1e-4, measured two ways, both required:
      - scaled: max|dsc - ref| / max|ref| over the prompt's vocabulary row;
      - per element: |dsc - ref| / |ref| for every logit with |ref| at least
        1% of the row's largest (a per-element ratio is meaningless for
        logits near zero, where f32 summation order alone moves it);
  * no NaN or infinity anywhere.
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
    return proc.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--tools", required=True, help="directory of dsc-compile and dsc-run")
    ap.add_argument("--work", required=True, help="scratch directory")
    ap.add_argument("--targets", default="cpu")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--embed-weights", action="store_true")
    ap.add_argument("--mla-form", default="auto")
    ap.add_argument("--import-attention", default="naive")
    ap.add_argument("--import-decomposed", action="store_true")
    ap.add_argument("--fixed-shapes", action="store_true",
                    help="compile the CPU code with the GPU's fixed-shape forms")
    ap.add_argument("--bf16-linear-inputs", action="store_true",
                    help="compile the CPU code rounding linear inputs to bf16, as the "
                         "GPU's tensor-core GEMMs do")
    ap.add_argument("--logits-only", action="store_true",
                    help="check the prefill logits' error relative to the largest logit "
                         "only; report, not require, equal greedy tokens (numerics that "
                         "differ from the reference's on purpose, such as bf16)")
    ap.add_argument("--generation", choices=["kv-cache", "recompute"], default="kv-cache")
    ap.add_argument("--compile-arg", action="append", default=[],
                    help="one more dsc-compile argument (repeatable), e.g. "
                         "--compile-arg=--cpu-gemm-block-k=16")
    args = ap.parse_args()

    expected = json.load(open(os.path.join(args.fixture, "expected.json")))
    results = expected["results"]
    n_new = len(results[0]["greedy"])
    os.makedirs(args.work, exist_ok=True)
    artifact = os.path.join(args.work, "model.dscx")
    compile_cmd = [os.path.join(args.tools, "dsc-compile"), args.fixture, "-o", artifact,
                   "--target", args.targets, "--quiet", "--mla-form", args.mla_form,
                   "--import-attention", args.import_attention]
    if args.embed_weights:
        compile_cmd.append("--embed-weights")
    if args.import_decomposed:
        compile_cmd.append("--import-decomposed")
    if args.fixed_shapes:
        compile_cmd.append("--fixed-shapes")
    if args.bf16_linear_inputs:
        compile_cmd.append("--bf16-linear-inputs")
    run(compile_cmd + args.compile_arg)

    prompts = ";".join(",".join(str(t) for t in r["prompt"]) for r in results)
    run_cmd = [os.path.join(args.tools, "dsc-run"), artifact, "--prompt-ids", prompts,
               "--max-new-tokens", str(n_new), "--json"]
    if args.generation == "recompute":
        run_cmd.append("--no-kv-cache")
    got = json.loads(run(run_cmd))
    print(f"generation: {got['generation']}, {n_new} tokens per prompt, "
          f"prompt lengths {[len(r['prompt']) for r in results]}")

    ok = got["generation"] == args.generation
    if not ok:
        print(f"expected generation {args.generation}, got {got['generation']}")
    for i, ref in enumerate(results):
        logits = np.asarray(got["prefill_logits"][i], dtype=np.float64)
        want = np.asarray(ref["prefill_logits"], dtype=np.float64)
        if logits.shape != want.shape or not np.all(np.isfinite(logits)):
            print(f"prompt {i}: bad logits (shape {logits.shape}, finite {np.all(np.isfinite(logits))})")
            ok = False
            continue
        diff = np.abs(logits - want)
        scale = np.max(np.abs(want))
        rel = float(np.max(diff) / scale)
        large = np.abs(want) >= 0.01 * scale
        elementwise = float(np.max(diff[large] / np.abs(want[large])))
        same = got["generated"][i] == ref["greedy"]
        print(f"prompt {i} (len {len(ref['prompt'])}): max rel err {rel:.3e} "
              f"(scaled), {elementwise:.3e} (per element), "
              f"greedy {'identical' if same else 'DIFFERENT'}")
        if not same:
            print(f"  dsc: {got['generated'][i]}\n  ref: {ref['greedy']}")
        if args.logits_only:
            agree = next((j for j, (a, b) in enumerate(zip(got["generated"][i], ref["greedy"]))
                          if a != b), len(ref["greedy"]))
            print(f"  greedy tokens agree for the first {agree} of {len(ref['greedy'])}")
            if rel > args.tolerance:
                ok = False
        elif not (rel <= args.tolerance and elementwise <= args.tolerance) or not same:
            ok = False
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
