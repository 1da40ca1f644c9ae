#!/usr/bin/env python3
"""The GPU half of tools/gpu-check.sh: runs the bundle's artifacts on CUDA
and on the CPU, compares them, measures the card, prints a table last.

usage: run.py BUNDLE OUT
"""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time


import numpy as np

BUNDLE, OUT = sys.argv[1], sys.argv[2]
# GPU_CHECK_SMOKE=1: every benchmark at a tiny shape and the model checks
# left out, so that the script itself runs in seconds on the test suite's
# fake driver (test/tools/gpu-check-smoke.test): its plumbing, not a GPU.
SMOKE = os.environ.get("GPU_CHECK_SMOKE") == "1"
# GPU_CHECK_STEPS=a,b: only those steps (names as in STEPS below, e.g.
# mla_decode,grouped_gemm), card and ceilings always: a rerun of what
# failed or was cut off costs a lent GPU's minutes only for that.
ONLY = [s for s in os.environ.get("GPU_CHECK_STEPS", "").split(",") if s]
DSC_RUN = os.path.join(BUNDLE, "bin", "dsc-run")
MODELS = ["tiny-v3", "tiny-v2-lite", "tiny-v3-fp8", "tiny-v3-sm80",
          "tiny-v3-bf16kv", "tiny-v3-wgmma", "v3-attention-widths"]
# A batch of prompts of different lengths: padding must stay invisible.
PROMPTS = "1,2,3,4,5,6,7,8,9,10,11,12;13,14,15;200,7"
# tiny-v3-wgmma takes sm_90a's wgmma GEMM from 128 rows: three prompts of
# 44 tokens make a prefill of 132 rows (the decode steps' 4 stay on
# mma.sync); with the new tokens every context stays under 64.
# v3-attention-widths: contexts that cross pages (64 tokens) in the
# prefill (100 tokens) and during the decode steps (60 + 16), and a short
# one; the fixture's positions end at 128.
MODEL_PROMPTS = {"tiny-v3-wgmma": ";".join(
    ",".join(str((7 * i + j) % 200 + 1) for i in range(44)) for j in range(3)),
    "v3-attention-widths": ";".join(
        ",".join(str((11 * i + j) % 250 + 2) for i in range(n))
        for j, n in enumerate((100, 60, 3)))}
NEW_TOKENS = 16
# Both devices compute in fp32 with different summation orders.
LOGIT_TOLERANCE = 1e-2
# Per model where a model needs its own. The tiny fixtures need none: with a bf16 KV cache the
# GPU's decode attention is the library's MLA decode, which rounds its
# probabilities to bf16, and the CPU code rounds them the same way; the
# two round the same values while a context fits one 32-token tile, as
# PROMPTS' longest with NEW_TOKENS does (28 tokens; on the emulator they
# then agree to 1e-7). Past one tile they differ by a bf16 rounding of
# some probabilities, about 1e-2 of the largest logit on these models
# (docs/numerics.md): lengthen either and this row needs its own. But
# v3-attention-widths (V3's attention widths, make_variant.py) rounds many
# more values to bf16 a token (16 heads of 256 decompressed values, 512
# latents): one of them lands the other way within a few tokens, and every
# later token attends to it. On the emulator its positions then differ from
# the CPU's by 1e-3 to 1e-2 of the largest logit (about 5): 5e-2 at most,
# in contexts of one page; its prompts here cross pages, where the decode's
# splits round their probabilities against their own maxima (1e-2 of the
# largest logit more on the tiny fixtures). 2e-1 is 4% of the largest
# logit: a wrong page, head or scale moves logits by whole units.
TOLERANCES = {"v3-attention-widths": 2e-1}

rows = []  # (check, result, verdict)
report = {"date": datetime.date.today().isoformat()}


def row(check, result, ok=None):
    verdict = "" if ok is None else ("ok" if ok else "FAIL")
    rows.append((check, result, verdict))
    print(f"[gpu-check] {check}: {result} {verdict}", flush=True)


def dsc_run(model, device, prompts=PROMPTS, new_tokens=NEW_TOKENS, extra=()):
    cmd = [DSC_RUN, os.path.join(BUNDLE, "models", model + ".dscx"),
           "--prompt-ids", prompts, "--max-new-tokens", str(new_tokens),
           "--device", device, "--json", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        # dsc-run's own error line (a driver may print after it).
        lines = p.stderr.strip().splitlines()
        last = ([l for l in lines if l.startswith("dsc-run:")][-1:] or
                lines[-1:] or ["(no message)"])
        if p.returncode != 1:  # Not a reported error: a crash.
            last = [f"exit status {p.returncode}: {last[0]}"]
            sanitize(cmd)
        return None, last
    return json.loads(p.stdout), None


def sanitize(cmd):
    """Reruns a crashed command under compute-sanitizer, once, for the log."""
    if getattr(sanitize, "done", False):
        return
    sanitize.done = True
    try:
        p = subprocess.run(["compute-sanitizer", "--print-limit", "5", *cmd],
                           capture_output=True, text=True, timeout=300)
        print("[gpu-check] compute-sanitizer:\n" + p.stdout[-4000:] +
              p.stderr[-2000:], flush=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"[gpu-check] compute-sanitizer unavailable: {e}", flush=True)


def card():
    try:
        q = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
             "--format=csv,noheader"], capture_output=True, text=True)
        report["card"] = q.stdout.strip()
        row("card", report["card"])
    except OSError as e:
        row("card", f"nvidia-smi: {e}")


def graphs_text(graphs):
    if not graphs:
        return "no CUDA graphs"
    return (f"{graphs['replayed']} steps from {graphs['captured']} CUDA "
            f"graph(s)" + (f", {graphs['unrecorded']} bucket(s) unrecorded"
                           if graphs.get("unrecorded") else ""))


def correctness():
    # Every step's logits (prefill and each decode step, the GPU's decode
    # steps replayed from CUDA graphs), not just the prefill's.
    scratch = tempfile.mkdtemp(prefix="gpu-check-")
    for model in MODELS:
        steps = {}
        results = {}
        for device in ("cpu", "cuda"):
            path = os.path.join(scratch, f"{model}-{device}.npy")
            res, err = dsc_run(model, device,
                               prompts=MODEL_PROMPTS.get(model, PROMPTS),
                               extra=(f"--output=@{path}",))
            if err:
                row(f"{model} {device}", err[0], False)
                break
            results[device] = res
            steps[device] = np.load(path).astype(np.float64)
        if len(results) < 2:
            continue
        cpu, gpu = results["cpu"], results["cuda"]
        a, b = steps["cpu"], steps["cuda"]
        finite = bool(np.isfinite(b).all())
        diff = float(np.abs(a - b).max()) if finite else float("nan")
        same = cpu["generated"] == gpu["generated"]
        tolerance = TOLERANCES.get(model, LOGIT_TOLERANCE)
        ok = finite and same and diff <= tolerance
        report[model] = {"tokens_equal": same, "max_logit_diff": diff,
                         "target": gpu.get("target"),
                         "device": gpu.get("device"),
                         "cuda_graphs": gpu.get("cuda_graphs")}
        row(f"{model} cuda ({gpu.get('target')}) vs cpu",
            f"tokens {'equal' if same else 'DIFFER'}, max |logit diff| over "
            f"all steps {diff:.2e} (tolerance {tolerance}; "
            f"{graphs_text(gpu.get('cuda_graphs'))})", ok)


def decode_step():
    # One prompt of 16 tokens, 32 new ones: the decode timing is the mean
    # over steps 2..32, each one decode call over the KV cache. On the GPU
    # with the step replayed from a CUDA graph (the default) and launched
    # kernel by kernel (--no-cuda-graphs). The CPU runs its own f32 code
    # (tiny-v3-cpu), not the bf16 roundings the correctness rows use.
    prompt = ",".join(str(i) for i in range(1, 17))
    times, graphs = {}, None
    for name, model, device, extra in (
            ("cpu", "tiny-v3-cpu", "cpu", ()), ("cuda", "tiny-v3", "cuda", ()),
            ("cuda-no-graphs", "tiny-v3", "cuda", ("--no-cuda-graphs",)),
            ("cuda-bf16-cache", "tiny-v3-bf16kv", "cuda", ())):
        res, err = dsc_run(model, device, prompts=prompt, new_tokens=32,
                           extra=extra)
        if err:
            row(f"tiny-v3 decode step {name}", err[0], False)
            return
        times[name] = res["timings"]["decode_ms_per_token"]
        if name == "cuda":
            graphs = res.get("cuda_graphs")
    ratio = times["cpu"] / times["cuda"]
    report["decode_step_ms"] = times
    report["decode_cuda_graphs"] = graphs
    row("tiny-v3 decode step", f"cpu {times['cpu']:.3f} ms, cuda "
        f"{times['cuda']:.3f} ms ({graphs_text(graphs)}), without graphs "
        f"{times['cuda-no-graphs']:.3f} ms, with a bf16 cache (the library's "
        f"MLA decode) {times['cuda-bf16-cache']:.3f} ms: GPU {ratio:.2f}x the CPU "
        f"(target 5x)", ratio >= 5 and bool(graphs and graphs["replayed"]))


def out_of_memory():
    res, err = dsc_run("tiny-v3", "cuda", extra=("--workspace-limit", "4096"))
    ok = res is None and err and "out of memory" in err[0]
    row("cuda out-of-memory path", err[0] if err else "ran (unexpected)", ok)


def ceilings():
    try:
        import torch
    except ImportError:
        row("card ceilings", "skipped: no torch on this machine")
        return
    if not torch.cuda.is_available():
        row("card ceilings", "skipped: torch sees no GPU")
        return
    def timed(fn, reps):
        for _ in range(3):
            fn()
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1e3 / reps
    n = 2 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    seconds = timed(lambda: dst.copy_(src), 20)
    copy_gbs = 2 * n / seconds / 1e9
    del src, dst
    m = 8192
    a = torch.randn(m, m, dtype=torch.bfloat16, device="cuda")
    b = torch.randn(m, m, dtype=torch.bfloat16, device="cuda")
    seconds = timed(lambda: a @ b, 10)
    gemm_tflops = 2 * m ** 3 / seconds / 1e12
    report["copy_GBps"] = copy_gbs
    report["bf16_gemm_TFLOPS"] = gemm_tflops
    row("copy bandwidth (device to device, read+write)",
        f"{copy_gbs:.0f} GB/s ({copy_gbs / 4800 * 100:.0f}% of 4.8 TB/s)")
    row("bf16 GEMM 8192^3 (cuBLAS via torch)",
        f"{gemm_tflops:.0f} TFLOPS ({gemm_tflops / 989 * 100:.0f}% of 989)")


def smoke_shape(args):
    """`args` of dsc-kernel-bench at a tiny shape (GPU_CHECK_SMOKE): each
    size flag's value cut to what every mode still accepts."""
    wide_k = args[0] in ("add-rmsnorm", "quant-fp8", "moe-layer")
    limits = {"--tokens": 64, "--experts": 8, "--top-k": 8, "--batch": 2,
              "--context": 100, "--n": 256, "--k": 1024 if wide_k else 256,
              "--reps": 1}
    if args[0] == "mla-prefill":
        limits["--heads"] = 2
    if args[0] == "moe-layer":
        limits["--n"] = 128
    out = list(args)
    for i, flag in enumerate(out[:-1]):
        if flag in limits and out[i + 1].isdigit():
            out[i + 1] = str(min(int(out[i + 1]), limits[flag]))
    return out


def run_bench(label, args):
    """Runs dsc-kernel-bench ARGS; returns its JSON line, or None after
    recording the failure as row `label`."""
    if SMOKE:
        args = smoke_shape(args)
    bench = os.path.join(BUNDLE, "bin", "dsc-kernel-bench")
    p = subprocess.run([bench, *args], capture_output=True, text=True,
                       timeout=600)
    print(p.stderr.strip(), flush=True)
    if not p.stdout.strip():
        row(label, f"exit {p.returncode}: {p.stderr.strip()[-200:]}", False)
        return None, p.returncode
    return json.loads(p.stdout), p.returncode


def attach_floor(res):
    """Records in `res` its floor (the larger of bytes over the copy rate
    and FLOPs over the GEMM rate, in ms) and its time over it; returns the
    floor, or None before the ceilings are measured."""
    if "copy_GBps" not in report or "bf16_gemm_TFLOPS" not in report:
        return None
    flops = res.get("tflops", 0) * 1e12 * res["ms"] * 1e-3
    floor = 1e3 * max(res["bytes"] / (report["copy_GBps"] * 1e9),
                      flops / (report["bf16_gemm_TFLOPS"] * 1e12))
    res["floor_ms"], res["x_floor"] = floor, res["ms"] / floor
    return floor


def grouped_gemm():
    """MoE's expert GEMMs at DeepSeek-V3 shapes: 4096 tokens, top-8 of 256
    experts; gate and up together (N = 2 x 2048, K = 7168), then down
    (N = 7168, K = 2048). Against the floor (attach_floor)."""
    # The sm_80 PTX is the same code JIT-compiled: measured on sm_90a only,
    # with the 128-row tile and the 64-row one (few rows per expert), then
    # the sm_90a TMA + wgmma kernel.
    ptx = kernel("grouped_gemm")
    shapes = (("gate+up", ["--n", "4096", "--k", "7168"]),
              ("gate+up+SwiGLU", ["--n", "4096", "--k", "7168", "--swiglu"]),
              ("down", ["--n", "7168", "--k", "2048"]),
              # One expert, every token: a plain 8192^3 GEMM, the shape
              # the card's rate was measured on.
              ("dense 8192^3", ["--tokens", "8192", "--top-k", "1",
                                "--experts", "1", "--n", "8192", "--k",
                                "8192"]))
    wgmma = kernel("grouped_gemm_wgmma")
    runs = [(f"mma.sync, M tile {rows}", ptx, ["--block-rows", rows])
            for rows in ("128", "64")]
    # The model's routed experts: the 64-row tile over the tiles moe_tiles
    # lists, experts' rows unpadded (dsc-library-gemms); gate+up+SwiGLU
    # there reads the gate and up stacks as they lie.
    runs.append(("mma.sync, M tile 64, listed tiles", ptx,
                 ["--block-rows", "64", "--tiled"]))
    # The same over e4m3 stacks with 128 x 128 block scales, read as stored
    # (an FP8 checkpoint's experts, DeepSeek-V3's): what the compiled V3
    # runs.
    runs.append(("mma.sync, M tile 64, listed tiles, e4m3 weights", ptx,
                 ["--block-rows", "64", "--tiled", "--fp8w"]))
    # The sm_90a kernel: TMA + wgmma, 128 x 128 tiles, no SwiGLU variant;
    # then FP8 e4m3 with block scales: mma.sync k32 with 64-row tiles, and
    # TMA + wgmma k32 with 128-row ones.
    runs.append(("TMA + wgmma", wgmma, ["--wgmma"]))
    runs.append(("TMA + wgmma, B K-major", kernel("grouped_gemm_wgmma_tn"),
                 ["--wgmma", "--tn"]))
    # What sm_90a's model runs for a bf16 checkpoint's routed experts: the
    # same over the 128-row tiles moe_tiles lists, SwiGLU reading the gate
    # and up stacks as stored.
    runs.append(("TMA + wgmma, listed tiles", kernel("grouped_gemm_wgmma_tn"),
                 ["--wgmma", "--tn", "--tiled"]))
    # And for an FP8 checkpoint's (DeepSeek-V3's): the e4m3 stacks'
    # bytes converted to the bf16 tile in shared memory each K step.
    runs.append(("TMA + wgmma, listed tiles, e4m3 weights", kernel("grouped_gemm_wgmma_tn"),
                 ["--wgmma", "--tn", "--tiled", "--fp8w"]))
    fp8 = kernel("grouped_gemm_fp8")
    runs.append(("FP8 e4m3, block scales", fp8, ["--fp8", "--block-rows", "64"]))
    runs.append(("FP8 e4m3, block scales, TMA + wgmma",
                 kernel("grouped_gemm_fp8_wgmma"), ["--fp8", "--wgmma"]))
    for kind, ptx_path, extra in runs:
        for label, flags in shapes:
            no_swiglu = kind == "TMA + wgmma" or "FP8 e4m3" in kind
            if (("64" in kind or "listed" in kind) and label.startswith("dense")) or \
                    (no_swiglu and "SwiGLU" in label):
                continue
            name = f"grouped GEMM {label} ({kind})"
            res, code = run_bench(name, ["grouped-gemm", "--ptx", ptx_path,
                                         *extra, *flags])
            if res is None:
                continue
            report.setdefault("grouped_gemm", []).append(res)
            text = (f"{res['ms']:.3f} ms, {res['tflops']:.1f} TFLOPS, "
                    f"check error {res['check_max_rel_error']:.1e}")
            ok = code == 0
            if "FP8" in kind:
                # No FP8 GEMM rate is measured here: against the card's
                # dense FP8 peak and DeepGEMM's public figure; the 1.7x
                # target is the bf16 kernels'.
                text += (f", {res['tflops'] / 1979 * 100:.0f}% of the H200's 1979 "
                         "dense FP8 TFLOPS (DeepGEMM: 1200-1350 on an H800)")
            elif attach_floor(res):
                text += (f", {res['tflops'] / report['bf16_gemm_TFLOPS'] * 100:.0f}"
                         f"% of cuBLAS, {res['x_floor']:.1f}x its floor "
                         f"{res['floor_ms']:.3f} ms")
                # The 1.7x target is the bf16 GEMM's; the e4m3-weight
                # kernel (half the weight bytes, a conversion per tile) is
                # reported against the same floor.
                if "e4m3" not in kind:
                    text += " (target 1.7x)"
                    ok = ok and res["x_floor"] <= 1.7
            row(name, text, ok)


def kernel_row(name, key, args, describe, target=None):
    """Runs one kernel benchmark (`args` for dsc-kernel-bench), records its
    JSON under report[key] and a row: describe(res), its time over its
    floor (attach_floor), and the target on that ratio when one is set."""
    res, code = run_bench(name, args)
    if res is None:
        return
    report[key] = res
    text, ok = describe(res), code == 0
    floor = attach_floor(res)
    if floor:
        unit, shown = ("ms", floor) if floor >= 1 else ("us", floor * 1e3)
        text += f", {res['x_floor']:.2f}x its floor {shown:.1f} {unit}"
        if target:
            text += f" (target {target}x)"
            ok = ok and res["x_floor"] <= target
    row(name, text, ok)


def kernel(name):
    return os.path.join(BUNDLE, "kernels", f"dsc_{name}.sm_90a.ptx")


def time_of(res):
    return (f"{res['ms']:.3f} ms" if res["ms"] >= 1
            else f"{res['ms'] * 1e3:.1f} us")


def add_rmsnorm():
    """Residual add + RMSNorm over 4096 tokens of V3's hidden size 7168:
    memory-bound, so its floor is its bytes over the copy rate."""
    kernel_row("add + RMSNorm bf16, 4096 x 7168", "add_rmsnorm",
               ["add-rmsnorm", "--ptx", kernel("add_rmsnorm"), "--tokens", "4096",
                "--k", "7168", "--reps", "20"],
               lambda r: (f"{time_of(r)}, {r['gbps']:.0f} GB/s, check h "
                          f"{r['check_h_error']:.0e} y {r['check_y_rel_error']:.1e}"))


def linear_fp8w():
    """A linear layer with an FP8 checkpoint's weight (V3's dense gate,
    18432 x 7168 e4m3, 128 x 128 scales): the e4m3-weight GEMM the model
    runs for at most 128 rows, against the bf16 GEMM it runs for more
    (after dequantizing the weight, not timed) in the same run, at 64, 128
    and 256 rows: where the first stops being the faster (dsc-library-gemms'
    kFp8wMaxRows, an estimate until this runs)."""
    for rows in (64, 128, 256):
        kernel_row(f"e4m3-weight GEMM, {rows} x 18432 x 7168", f"linear_fp8w_{rows}",
                   ["linear-fp8w", "--ptx", kernel("grouped_gemm"), "--batch", str(rows),
                    "--n", "18432", "--k", "7168", "--reps", "10"],
                   lambda r: (f"{time_of(r)}, {r['gbps']:.0f} GB/s; the bf16 GEMM "
                              f"{r['bf16_ms']:.3f} ms, check "
                              f"{r['check_max_rel_error']:.1e}"))
    # sm_90a's model from 129 rows: the wgmma form converting the e4m3
    # weight per K step (no dequantization first), against the bf16 wgmma
    # GEMM on a bf16 weight (what it ran after dequantizing, until
    # 2026-12-01), at a prefill's 256 and 4096 rows.
    for rows in (256, 4096):
        kernel_row(f"e4m3-weight GEMM, {rows} x 18432 x 7168 (TMA + wgmma)",
                   f"linear_fp8w_wgmma_{rows}",
                   ["linear-fp8w", "--wgmma", "--ptx", kernel("grouped_gemm_wgmma_tn"),
                    "--batch", str(rows), "--n", "18432", "--k", "7168", "--reps", "5"],
                   lambda r: (f"{time_of(r)}, {r['tflops']:.0f} TFLOPS; the bf16 wgmma "
                              f"GEMM {r['bf16_ms']:.3f} ms, check "
                              f"{r['check_max_rel_error']:.1e}"))


def mlp_swiglu():
    """V3's dense MLP (width 18432 over 7168) with SwiGLU fused at a
    prefill's 4096 rows: the 64-row mma.sync kernel and sm_90a's wgmma form
    (what the compiled model runs there from 264 blocks' rows) in the same
    run; compute-bound, against the card's bf16 rate."""
    for label, key, extra, ptx in (
            ("mma.sync, M tile 64", "mlp_swiglu_mma", [], "grouped_gemm"),
            ("TMA + wgmma", "mlp_swiglu_wgmma", ["--wgmma"], "grouped_gemm_wgmma_tn")):
        kernel_row(f"dense MLP gate+up+SwiGLU, 4096 x 2 x 18432 x 7168 ({label})", key,
                   ["mlp-swiglu", *extra, "--ptx", kernel(ptx), "--batch", "4096",
                    "--n", "18432", "--k", "7168", "--reps", "5"],
                   lambda r: (f"{time_of(r)}, {r['tflops']:.0f} TFLOPS, check "
                              f"{r['check_max_rel_error']:.1e}"))


def moe_layer():
    """One MoE layer's routed experts at DeepSeek-V3 shapes on the kernels:
    align, gather, gate+up with SwiGLU, down, weighted combine. Memory-bound
    on the expert weights (each expert's 3 matrices read once). As the
    compiled model runs them (--tiled: moe_tiles' list, the tiled GEMMs;
    with --fp8w over e4m3 stacks, as V3's checkpoint stores them), then
    with each expert's rows padded (the packed SwiGLU kernel)."""
    for label, key, extra in (("listed tiles", "moe_layer_tiled", ["--tiled"]),
                              ("listed tiles, TMA + wgmma", "moe_layer_tiled_wgmma",
                               ["--tiled", "--wgmma"]),
                              ("listed tiles, e4m3 weights", "moe_layer_tiled_fp8w",
                               ["--tiled", "--fp8w"]),
                              ("listed tiles, e4m3 weights, TMA + wgmma",
                               "moe_layer_tiled_wgmma_fp8w", ["--tiled", "--wgmma", "--fp8w"]),
                              ("padded experts", "moe_layer", [])):
        gemms = kernel("grouped_gemm_wgmma_tn" if "--wgmma" in extra else "grouped_gemm")
        kernel_row(f"MoE layer (V3 shapes, 4096 tokens, top-8 of 256; {label})", key,
                   ["moe-layer", *extra, "--ptx", gemms,
                    "--dispatch-ptx", kernel("moe_dispatch"), "--tokens", "4096",
                    "--top-k", "8", "--experts", "256", "--k", "7168", "--n", "2048",
                    "--reps", "5"],
                   lambda r: (f"{time_of(r)}, {r['tflops']:.0f} TFLOPS, "
                              f"check {r['check_rel_error']:.1e}"))


def moe_route():
    """DeepSeek-V3's router after its GEMM over 4096 tokens: memory-bound
    on the logits."""
    kernel_row("MoE router (V3: 4096 tokens, top-8 of 256)", "moe_route",
               ["moe-route", "--ptx", kernel("moe_route"), "--tokens", "4096",
                "--reps", "20"],
               lambda r: (f"{time_of(r)}, {r['gbps']:.0f} GB/s, check: "
                          f"{r['check_wrong_ids']} ids differ, weights "
                          f"{r['check_weight_error']:.1e}"))


def rope():
    """RoPE with YaRN on V3's queries of 4096 tokens (128 heads), in place:
    memory-bound."""
    kernel_row("RoPE with YaRN (V3 queries, 4096 tokens)", "rope",
               ["rope", "--ptx", kernel("rope"), "--tokens", "4096", "--reps", "20"],
               lambda r: (f"{time_of(r)}, {r['gbps']:.0f} GB/s, check "
                          f"{r['check_rel_error']:.1e}"))


def quant_fp8():
    """FP8 activation quantization of 4096 tokens of V3's hidden size:
    memory-bound."""
    kernel_row("FP8 quantization (4096 x 7168, per 128)", "quant_fp8",
               ["quant-fp8", "--ptx", kernel("quant_fp8"), "--tokens", "4096",
                "--k", "7168", "--reps", "20"],
               lambda r: (f"{time_of(r)}, {r['gbps']:.0f} GB/s, check: "
                          f"{r['check_wrong']} codes or scales differ"))


def mla_decode():
    """MLA decode at DeepSeek-V3's shape: batch 64, context 4096, 128 heads
    against the paged latent cache (576-wide keys, 512-wide values), split
    over the tokens and combined; the mma.sync kernel and the sm_90a one
    (TMA, wgmma). Target: within 2x of its floor."""
    for label, key, extra in (("", "mla_decode", []),
                              (", TMA + wgmma", "mla_decode_wgmma", ["--wgmma"])):
        kernel_row(f"MLA decode{label} (batch 64, context 4096, 128 heads)", key,
                   ["mla-decode", *extra, "--ptx", kernel(key), "--batch", "64",
                    "--context", "4096", "--heads", "128", "--reps", "20"],
                   lambda r: (f"{time_of(r)}, {r['gbps']:.0f} GB/s "
                              f"({r['gbps'] / 4800 * 100:.0f}% of 4.8 TB/s), "
                              f"{r['tflops']:.0f} TFLOPS "
                              f"({r['tflops'] / 989 * 100:.0f}% of 989), "
                              f"{r['splits']} splits, check "
                              f"{r['check_rel_error']:.1e}"),
                   target=2)


def mla_prefill():
    """MLA prefill at DeepSeek-V3's shape: one prompt of 4096 tokens, 128
    heads, causal, queries and keys 192 wide, values 128. Compute-bound:
    its floor is its FLOPs over the GEMM rate."""
    for label, key, extra in (("", "mla_prefill", []),
                              (", TMA + wgmma", "mla_prefill_wgmma", ["--wgmma"])):
        kernel_row(f"MLA prefill{label} (4096 tokens, 128 heads, causal)", key,
                   ["mla-prefill", *extra, "--ptx", kernel(key), "--batch", "1",
                    "--context", "4096", "--heads", "128", "--reps", "10"],
                   lambda r: (f"{time_of(r)}, {r['tflops']:.0f} TFLOPS "
                              f"({r['tflops'] / 989 * 100:.0f}% of 989), check "
                              f"{r['check_rel_error']:.1e}"))


def sanitized():
    """The kernels written without a GPU (checked on the CPU emulator only)
    under compute-sanitizer on small problems: memcheck (out-of-bounds and
    misaligned accesses) for each, racecheck (shared memory hazards) for
    the attention kernels; 90 s in all, what does not fit fails as
    skipped. Skipped where the toolkit's sanitizer is missing."""
    bench = os.path.join(BUNDLE, "bin", "dsc-kernel-bench")
    begun = time.monotonic()
    small = [
        ("mla-decode", ["mla-decode", "--ptx", kernel("mla_decode"), "--batch", "2",
                        "--context", "300", "--reps", "0"], True),
        ("mla-decode wgmma", ["mla-decode", "--wgmma", "--ptx",
                              kernel("mla_decode_wgmma"), "--batch", "2",
                              "--context", "300", "--reps", "0"], True),
        ("mla-prefill", ["mla-prefill", "--ptx", kernel("mla_prefill"), "--batch",
                         "1", "--context", "200", "--heads", "2", "--reps", "0"], True),
        ("mla-prefill wgmma", ["mla-prefill", "--wgmma", "--ptx",
                               kernel("mla_prefill_wgmma"), "--batch", "1",
                               "--context", "200", "--heads", "2", "--reps", "0"],
         True),
        ("batched GEMM, B K x N (W_UK)",
         ["head-products", "--ptx", kernel("grouped_gemm"), "--batch", "2",
          "--heads", "4", "--reps", "0"], True),
        # ... and its e4m3 forms over an FP8 kv_b: the conversion into the
        # bf16 tile (K x N, swizzled by k row).
        ("batched GEMM, e4m3 B K x N (W_UK)",
         ["head-products", "--fp8w", "--ptx", kernel("grouped_gemm"), "--batch", "2",
          "--heads", "4", "--reps", "0"], True),
        ("batched GEMM, e4m3 B N x K (W_UV)",
         ["head-products", "--fp8w", "--w-uv", "--ptx", kernel("grouped_gemm"),
          "--batch", "2", "--heads", "4", "--reps", "0"], False),
        # The e4m3-weight GEMMs the model runs for FP8 checkpoints: the
        # conversion writes the bf16 tile between two barriers.
        # (--split-k: its check runs the split form's parts too.)
        ("linear layer, e4m3 weights",
         ["linear-fp8w", "--ptx", kernel("grouped_gemm"), "--batch", "3", "--n", "256",
          "--k", "256", "--reps", "0", "--split-k", "132"], True),
        ("routed experts, e4m3 weights, SwiGLU",
         ["grouped-gemm", "--tiled", "--fp8w", "--swiglu", "--block-rows", "64", "--ptx",
          kernel("grouped_gemm"), "--tokens", "64", "--experts", "4", "--n", "256",
          "--k", "256", "--reps", "0"], False),
        ("grouped GEMM wgmma", ["grouped-gemm", "--wgmma", "--ptx",
                                kernel("grouped_gemm_wgmma"), "--tokens", "64",
                                "--experts", "4", "--n", "256", "--k", "256",
                                "--reps", "0"], False),
        ("grouped GEMM FP8", ["grouped-gemm", "--fp8", "--block-rows", "64", "--ptx",
                              kernel("grouped_gemm_fp8"), "--tokens", "64",
                              "--experts", "4", "--n", "256", "--k", "256",
                              "--reps", "0"], False),
        ("grouped GEMM wgmma K-major, SwiGLU",
         ["grouped-gemm", "--wgmma", "--tn", "--swiglu", "--ptx",
          kernel("grouped_gemm_wgmma_tn"), "--tokens", "64", "--experts", "4",
          "--n", "256", "--k", "256", "--reps", "0"], False),
        # sm_90a's routed experts (bf16 stacks): 64-row boxes, guarded rows
        # and columns of listed tiles.
        ("routed experts wgmma, SwiGLU",
         ["grouped-gemm", "--wgmma", "--tn", "--tiled", "--swiglu", "--ptx",
          kernel("grouped_gemm_wgmma_tn"), "--tokens", "64", "--experts", "4",
          "--n", "256", "--k", "256", "--reps", "0"], False),
        # ... and e4m3 stacks: the threads' conversion into the bf16 tile
        # wgmma reads.
        ("routed experts wgmma, e4m3 weights, SwiGLU",
         ["grouped-gemm", "--wgmma", "--tn", "--tiled", "--fp8w", "--swiglu", "--ptx",
          kernel("grouped_gemm_wgmma_tn"), "--tokens", "64", "--experts", "4",
          "--n", "256", "--k", "256", "--reps", "0"], False),
        ("linear layer wgmma, e4m3 weights",
         ["linear-fp8w", "--wgmma", "--ptx", kernel("grouped_gemm_wgmma_tn"), "--batch",
          "150", "--n", "256", "--k", "256", "--reps", "0"], False),
        ("grouped GEMM FP8 wgmma", ["grouped-gemm", "--fp8", "--wgmma", "--ptx",
                                    kernel("grouped_gemm_fp8_wgmma"), "--tokens", "64",
                                    "--experts", "4", "--n", "256", "--k", "256",
                                    "--reps", "0"], False),
        ("MoE router", ["moe-route", "--ptx", kernel("moe_route"), "--tokens", "64",
                        "--reps", "0"], False),
        ("RoPE", ["rope", "--ptx", kernel("rope"), "--tokens", "16", "--reps", "0"],
         False),
        ("FP8 quantization", ["quant-fp8", "--ptx", kernel("quant_fp8"), "--tokens",
                              "4", "--k", "1024", "--reps", "0"], False),
    ]
    for label, args, races in small:
        for tool in ("memcheck", "racecheck") if races else ("memcheck",):
            name = f"compute-sanitizer {tool}: {label}"
            # 90 s for all of them, within the check's 5 minutes.
            if time.monotonic() - begun > 90:
                row(name, "SKIPPED: past the sanitizer's 90 s", False)
                continue
            try:
                p = subprocess.run(["compute-sanitizer", "--tool", tool,
                                    "--print-limit", "5", bench, *args],
                                   capture_output=True, text=True, timeout=240)
            except OSError as e:
                row("compute-sanitizer", f"skipped: {e}")
                return
            except subprocess.TimeoutExpired:
                row(name, "timed out after 240 s", False)
                continue
            found = re.findall(r"(?:ERROR|RACECHECK) SUMMARY: (\d+) (?:error|hazard)",
                               p.stdout)
            summary = [l for l in p.stdout.splitlines() if "SUMMARY" in l]
            text = summary[-1].strip("= ") if summary else p.stdout.strip()[-200:]
            clean = bool(found) and found[-1] == "0"
            if not clean:
                print(p.stdout[-3000:], flush=True)
            row(name, text, clean)


def v3_decode_layer(fp8=False):
    """One decode step of a DeepSeek-V3 layer (batch 64, context 4096) as
    the library's kernels at its shapes, each timed apart and the times
    summed: no launch gaps, no overlap, no fusion between them. The q_a and
    kv_a RMSNorms run as add + RMSNorm (one more read than a plain norm);
    kv_a's 576 outputs are padded to 640; the casts between kernels are
    left out. Each kernel is checked against its CPU reference as it
    runs. With `fp8`, the projections V3's checkpoint stores in FP8 (q_a,
    q_b, kv_a, o_proj, the shared expert) run as the compiled model runs
    them for 64 rows: the e4m3-weight GEMM (linear-fp8w; with K split where
    the model splits it, --split-k 132, the parts' sum not timed; the
    shared expert's gate and up as two such GEMMs, split as the model
    splits them, their sums' SwiGLU not timed); the per-head
    products read kv_b's e4m3 slabs as stored (head-products --fp8w); the
    routed experts read e4m3 stacks (moe-layer --tiled --wgmma --fp8w)."""
    # (The routed experts run the library's MoE layer as the compiled model
    # does: moe_tiles' list and the tiled GEMMs, SwiGLU fused.)
    def gemm(n, k, experts=1, top_k=1, *extra):
        return ["grouped-gemm", "--ptx", kernel("grouped_gemm"), "--tokens", "64",
                "--top-k", str(top_k), "--experts", str(experts), "--n", str(n),
                "--k", str(k), "--block-rows", "64", "--reps", "10", *extra]

    def proj(label, n, k):
        """A projection the checkpoint stores in FP8: with `fp8`, the
        e4m3-weight GEMM the compiled model runs for 64 rows, with K split
        where the grid is small, as sm_90a's model does."""
        if not fp8:
            return [(label, gemm(n, k))]
        return [(f"{label} (e4m3 weight)",
                 ["linear-fp8w", "--ptx", kernel("grouped_gemm"), "--batch", "64",
                  "--n", str(n), "--k", str(k), "--reps", "10", "--split-k", "132"])]

    def head_products(label, w_uv):
        """A per-head product of the absorbed attention: the batched GEMM
        reading each head's slab of kv_b in place (as the compiled model
        runs it; with `fp8`, the e4m3 form on kv_b's codes and scales)."""
        return [(f"{label} (batched GEMM{', e4m3 kv_b' if fp8 else ''})",
                 ["head-products", "--ptx", kernel("grouped_gemm"), "--batch", "64",
                  "--heads", "128", "--reps", "10", *(["--w-uv"] if w_uv else []),
                  *(["--fp8w"] if fp8 else [])])]

    def norm_of(width):
        return ["add-rmsnorm", "--ptx", kernel("add_rmsnorm"), "--tokens", "64",
                "--k", str(width), "--reps", "20"]
    norm = norm_of(7168)
    steps = [
        ("input add + RMSNorm", norm),
        *proj("q_a 7168 -> 1536", 1536, 7168),
        ("q_a RMSNorm", norm_of(1536)),
        *proj("q_b 1536 -> 128 x 192", 24576, 1536),
        *head_products("q_nope . W_UK, per head", w_uv=False),
        *proj("kv_a 7168 -> 576 (640)", 640, 7168),
        ("kv_a RMSNorm (latent)", norm_of(512)),
        ("RoPE on q", ["rope", "--ptx", kernel("rope"), "--tokens", "64", "--reps", "20"]),
        ("MLA decode (TMA + wgmma)",
         ["mla-decode", "--wgmma", "--ptx", kernel("mla_decode_wgmma"), "--batch", "64",
          "--context", "4096", "--reps", "10"]),
        *head_products("o_lat . W_UV, per head", w_uv=True),
        *proj("o_proj 16384 -> 7168", 7168, 16384),
        ("post-attention add + RMSNorm", norm),
        ("router GEMM 7168 -> 256", gemm(256, 7168)),
        ("router", ["moe-route", "--ptx", kernel("moe_route"), "--tokens", "64",
                    "--reps", "20"]),
        # sm_90a's model runs its stacks, bf16 or e4m3, on the tiled wgmma
        # GEMMs.
        ("routed experts (top-8 of 256)",
         ["moe-layer", "--tiled", "--wgmma", *(["--fp8w"] if fp8 else []), "--ptx",
          kernel("grouped_gemm_wgmma_tn"), "--dispatch-ptx",
          kernel("moe_dispatch"), "--tokens", "64", "--top-k", "8", "--experts", "256",
          "--k", "7168", "--n", "2048", "--reps", "5"]),
        # With e4m3 weights, the kernels the compiled model runs for it at
        # 64 rows: gate and up with K split (32 blocks of the fused kernel,
        # 16 each), then their sums' SwiGLU (not timed). The bf16 sum times
        # the fused SwiGLU kernel unsplit, as it times its projections
        # (the model splits those at 64 rows too).
        *(proj("shared expert gate 7168 -> 2048", 2048, 7168) +
          proj("shared expert up 7168 -> 2048", 2048, 7168)
          if fp8 else
          [("shared expert gate+up, SwiGLU",
            ["mlp-swiglu", "--ptx", kernel("grouped_gemm"), "--batch", "64", "--n",
             "2048", "--k", "7168", "--reps", "10"])]),
        *proj("shared expert down", 7168, 2048),
    ]
    name = ("V3 decode step, one layer (batch 64, context 4096"
            + (", FP8 projections)" if fp8 else ")"))
    times, failed, bf16_kv_b = [], [], {}
    for label, args in steps:
        res, code = run_bench(f"{name}: {label}", args)
        if res is None:
            return
        times.append((res["ms"], label))
        if "bf16_ms" in res and "head-products" in args:
            # The per-head product's bf16 form on a bf16 kv_b, same run.
            bf16_kv_b[label] = res["bf16_ms"]
        if code != 0:
            failed.append(label)
    total = sum(ms for ms, _ in times)
    unsplit = None
    if fp8:
        # What the split replaced, beside it: the shared expert's gate and
        # up as one unsplit GEMM of both widths (the fused SwiGLU kernel's
        # reads and sums, less its epilogue). Not in the sum.
        res, code = run_bench(f"{name}: shared expert gate+up unsplit",
                              ["linear-fp8w", "--ptx", kernel("grouped_gemm"),
                               "--batch", "64", "--n", "4096", "--k", "7168",
                               "--reps", "10"])
        unsplit = res["ms"] if res else None
        if code != 0:
            failed.append("shared expert gate+up unsplit")
    report["v3_decode_layer_fp8" if fp8 else "v3_decode_layer"] = {
        "ms": total, "kernels": {l: ms for ms, l in times},
        **({"bf16_kv_b_ms": bf16_kv_b} if bf16_kv_b else {}),
        **({"shared_gate_up_unsplit_ms": unsplit} if unsplit is not None else {})}
    top = ", ".join(f"{l} {ms:.3f}" for ms, l in sorted(times, reverse=True)[:3])
    text = (f"{total:.3f} ms over {len(times)} kernels timed apart (x 61 layers: "
            f"{total * 61:.1f} ms a step); largest: {top} ms")
    if bf16_kv_b:
        text += "; the per-head products on a bf16 kv_b: " + ", ".join(
            f"{ms:.3f}" for ms in bf16_kv_b.values()) + " ms"
    if unsplit is not None:
        text += f"; the shared expert's gate+up unsplit: {unsplit:.3f} ms"
    if failed:
        text += f"; check failed: {', '.join(failed)}"
    row(name, text, not failed)


def v3_decode_layer_fp8():
    v3_decode_layer(fp8=True)


def v3_model_decode():
    """The compiled model's decode step at DeepSeek-V3's shapes: one MoE
    layer (bf16, 128 heads, 256 experts, top-8) with lm_head, compiled from
    the config alone and run with random weights; 64 prompts of 128 tokens,
    16 new tokens each, the KV cache bf16 (decode attention on the
    library's MLA decode), the step replayed from a CUDA graph. What the
    kernels-apart sum above leaves out shows here: launch gaps, the
    generated kernels between the library's, the host side of a step."""
    prompt = ",".join(str(i) for i in range(1, 129))
    res, err = dsc_run("v3-moe-layer", "cuda", prompts=";".join([prompt] * 64),
                       new_tokens=16,
                       # The first run moves the weights onto the GPU
                       # (managed memory, by page faults); the median of
                       # two is the steady state.
                       extra=("--random-weights", "1", "--kv-cache-tokens",
                              str(64 * 192), "--repeat", "2"))
    name = "V3 decode step, compiled model (1 MoE layer, batch 64, context 128)"
    if err:
        row(name, err[0], False)
        return
    ms = res["timings"]["decode_ms_per_token"]
    graphs = res.get("cuda_graphs")
    report["v3_model_decode"] = {"ms": ms, "prefill_ms": res["timings"]["prefill_ms"],
                                 "cuda_graphs": graphs}
    apart = report.get("v3_decode_layer", {}).get("ms")
    text = f"{ms:.3f} ms a step ({graphs_text(graphs)})"
    if apart:
        text += f"; the kernels timed apart at context 4096: {apart:.3f} ms"
    row(name, text, bool(graphs and graphs["replayed"]))


def write_results():
    """The JSON report and the table so far, in OUT (after every step: a
    run cut short by its time limit keeps what it measured)."""
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "gpu-check.json"), "w") as f:
        json.dump(report, f, indent=1)
    width = max([len(r[0]) for r in rows] + [5])
    table = [f"GPU check, {report['date']}, {report.get('card', 'unknown card')}",
             f"{'check'.ljust(width)}  verdict  result"]
    table += [f"{c.ljust(width)}  {v.ljust(7)}  {r}" for c, r, v in rows]
    text = "\n".join(table)
    with open(os.path.join(OUT, "gpu-check.txt"), "w") as f:
        f.write(text + "\n")
    return text


# The sanitizer before the benchmarks: the kernels it checks were only run
# on the CPU emulator before.
report["step_seconds"] = {}
STEPS = (card, ceilings, correctness, sanitized, decode_step, out_of_memory,
         grouped_gemm, linear_fp8w, mlp_swiglu, add_rmsnorm, rope, quant_fp8, moe_layer,
         moe_route,
         mla_decode, mla_prefill, v3_decode_layer, v3_decode_layer_fp8,
         v3_model_decode)
unknown = set(ONLY) - {s.__name__ for s in STEPS}
if unknown:
    sys.exit(f"gpu-check: GPU_CHECK_STEPS names no step {', '.join(sorted(unknown))} "
             f"(steps: {', '.join(s.__name__ for s in STEPS)})")
for step in STEPS:
    if SMOKE and step in (correctness, decode_step, out_of_memory, v3_model_decode):
        continue
    if ONLY and step not in (card, ceilings) and step.__name__ not in ONLY:
        continue
    began = time.monotonic()
    try:
        step()
    except Exception as e:  # A broken step must not hide the others.
        row(step.__name__, f"error: {e!r}", False)
    report["step_seconds"][step.__name__] = round(time.monotonic() - began, 1)
    write_results()

total = sum(report["step_seconds"].values())
row("gpu-check time", f"{total:.0f} s (" + ", ".join(
    f"{k} {v:.0f}" for k, v in report["step_seconds"].items()) + ")")
print("\n" + write_results())
sys.exit(1 if any(v == "FAIL" for _, _, v in rows) else 0)
