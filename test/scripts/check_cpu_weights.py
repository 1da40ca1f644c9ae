#!/usr/bin/env python3
"""The CPU code's weights as the checkpoint stores them (dsc-compile
--cpu-weights).

For each variant named (make_variant.py; BF16 unless the variant stores
another type), compiles the checkpoint for the CPU twice: with
--cpu-weights f32 (every weight an f32 copy) and with the default, auto
(the weights of linear layers, experts, kv_b and the embedding table the
checkpoint stores as BF16 bound as bf16). Runs the same prompts through
both (dsc-run: prefill, then decode steps through the KV cache) and checks:

  * the artifacts bind what they should: auto lists bf16 params for the CPU
    exactly when the checkpoint stores BF16 tensors (`--expect-bf16`), f32
    lists none; the imported graph names the BF16-stored weights
    (`dsc.bf16_stored`);
  * on the CPU, dsc-run reads the weights stored as the code reads them in
    place from the checkpoint's mapping (auto: the BF16 weights it binds as
    bf16, expert stacks too when their experts' pages can be mapped back to
    back; both: F32 tensors bound as f32) and packs the rest: auto reads
    more bytes in place than f32;
  * the prefill logits and every decode step's logits are bit for bit the
    same (a BF16 value widened to f32 is exact, and the contractions sum in
    the same order), the greedy tokens identical, nothing NaN.

Prints PASS or FAIL.
"""
import argparse
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_variant  # noqa: E402
from check_variant import N_NEW, PROMPT_LENGTHS, run  # noqa: E402


def cpu_bf16_params(artifact):
    dump = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dump_manifest.py")
    for line in run([sys.executable, dump, artifact]).splitlines():
        entry = json.loads(line)
        if entry.get("name") == "cpu" and "kind" in entry:
            return entry.get("bf16_params", [])
    sys.exit(f"{artifact}: no cpu target in the manifest\nFAIL")


def check(variant, tools, work, expect_bf16):
    ckpt = os.path.join(work, variant, "ckpt")
    make_variant.make(variant, ckpt, seed=11)
    rng = np.random.default_rng(11)
    prompts = [rng.integers(0, 256, n).tolist() for n in PROMPT_LENGTHS]
    ids = ";".join(",".join(map(str, p)) for p in prompts)
    compile_ = os.path.join(tools, "dsc-compile")

    imported = run([compile_, ckpt, "--emit", "import", "-o", "-", "--quiet"])
    stored = next((line for line in imported.splitlines() if "dsc.bf16_stored" in line), "")
    print(f"{variant}: the imported graph lists dsc.bf16_stored: {bool(stored)}")

    results, params = {}, {}
    for mode in ("f32", "auto"):
        artifact = os.path.join(work, variant, f"{mode}.dscx")
        run([compile_, ckpt, "-o", artifact, "--target", "cpu", "--cpu-weights", mode,
             "--quiet"])
        params[mode] = cpu_bf16_params(artifact)
        steps = os.path.join(work, variant, f"{mode}-steps.npy")
        results[mode] = json.loads(run([os.path.join(tools, "dsc-run"), artifact,
                                        "--prompt-ids", ids, "--max-new-tokens", str(N_NEW),
                                        f"--output=@{steps}", "--json"]))
        results[mode]["step_logits"] = np.load(steps)
    print(f"{variant}: cpu bf16 params: f32 {len(params['f32'])}, auto {len(params['auto'])}")
    # Which kinds of weight auto bound as bf16 (every stored one that only
    # linear layers, experts, kv_b and the embedding's gather read; the
    # table also when tied to the output head) and which it kept f32 (read
    # by other ops: the norms; the router).
    listed = params["auto"]
    for kind, needle in (("bf16", ("kv_b_proj", "o_proj", "experts.{}.gate_proj",
                                   "experts.{}.down_proj", "shared_experts", "lm_head",
                                   "embed_tokens")),
                         ("f32", ("norm", "mlp.gate.weight"))):
        found = [n for n in needle if any(n in name for name in listed)]
        print(f"{variant}: {kind} kinds listed: {found}")
    in_place = {mode: results[mode]["weights"]["in_place"] for mode in results}
    packed = {mode: results[mode]["weights"]["packed"] for mode in results}
    print(f"{variant}: weights in place: f32 {in_place['f32']['params']} params "
          f"{in_place['f32']['bytes']} bytes, auto {in_place['auto']['params']} params "
          f"{in_place['auto']['bytes']} bytes; auto reads more in place: "
          f"{in_place['auto']['bytes'] > in_place['f32']['bytes']}")
    # The routed experts' stacks: read in place, their experts' pages
    # mapped back to back, when each expert's offset in the file agrees
    # with its place in the stack modulo the page and less than half the
    # bytes lie in pages two experts share (experts of several pages);
    # otherwise packed.
    with open(os.path.join(ckpt, "model.safetensors"), "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    experts = [name for name in header if ".experts." in name]
    routed_stacks = len({re.sub(r"\.experts\.\d+\.", ".experts.{}.", n) for n in experts})
    expert_bytes = sum(header[n]["data_offsets"][1] - header[n]["data_offsets"][0]
                       for n in experts)
    stitched = results["auto"]["weights"]["stitched"]
    print(f"{variant}: expert stacks mapped in place: {stitched['params']} of {routed_stacks}, "
          f"copied {stitched['copied_bytes']} of their {expert_bytes} bytes; fewer than half: "
          f"{2 * stitched['copied_bytes'] < expert_bytes}")
    total = {mode: in_place[mode]["bytes"] + packed[mode]["bytes"] for mode in results}
    print(f"{variant}: weight bytes bound: f32 {total['f32']}, auto {total['auto']}; "
          f"auto binds fewer: {total['auto'] < total['f32']}")

    ok = not params["f32"] and bool(params["auto"]) == expect_bf16 and bool(stored) == expect_bf16
    for key in ("prefill_logits", "step_logits"):
        a = np.asarray(results["f32"][key], dtype=np.float32)
        b = np.asarray(results["auto"][key], dtype=np.float32)
        finite = bool(np.all(np.isfinite(a)) and np.all(np.isfinite(b)))
        same = a.shape == b.shape and np.array_equal(a, b)
        diff = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("nan")
        print(f"{variant}: {key} {list(a.shape)}: bit-identical {same}, max |diff| {diff:.3g}, "
              f"finite {finite}")
        ok &= same and finite
    tokens = results["f32"]["generated"] == results["auto"]["generated"]
    print(f"{variant}: greedy tokens identical {tokens}")
    return ok and tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", required=True, help="directory of dsc-compile and dsc-run")
    ap.add_argument("--work", required=True, help="scratch directory")
    ap.add_argument("--variant", action="append", required=True,
                    help="VARIANT (expects bf16 params) or VARIANT:f32 (expects none)")
    args = ap.parse_args()
    ok = True
    for spec in args.variant:
        name, _, expect = spec.partition(":")
        ok &= check(name, args.tools, args.work, expect != "f32")
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
