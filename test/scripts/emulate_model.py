#!/usr/bin/env python3
"""Runs a fixture model's compiled GPU code on the CPU emulator
(codegen/kernels/simt_emulator.py): the host code of an entry point and
every kernel it launches, the generated ones and the kernel library's, as
dsc-compile produces them for a GPU target before they become PTX. The
logits are compared with the CPU's code computing the same roundings
(--fixed-shapes --bf16-linear-inputs: only summation orders differ) and
with transformers' reference in the fixture.

usage: emulate_model.py --fixture DIR --tools DIR --work DIR
                        [--prompt 0 | --prompt-ids 1,2,3] [--chip sm_90a] [--decode N]
                        [--kv-cache-type f32|bf16] [--gemm-large-tile-blocks N]
                        [--tolerance 1e-2] [--compile-cache DIR]

It checks what no test without a GPU did before: that the GPU lowering
(tiling into blocks and threads, kernel outlining, the library launches,
the host code around them) computes the model; with --decode N, also
prefill and N decode steps through page 2 of a four-page KV cache, the
others NaN (each step must store its own latents there), each step a padded
bucket of two rows (the second a padding row as the runtime pads one: it
must store nothing). With --kv-cache-type bf16 the decode steps' attention
is the kernel library's MLA decode, which rounds its probabilities to bf16;
the CPU code rounds them the same way (each exp(s - max) before P V), so
the steps agree to f32 rounding where a split's running maximum is its
row's, as in these short contexts (the kernels alone against float64:
emulate_kernels.py's paged-attention). What it cannot check:
PTX and the hardware (the emulator interprets the kernels' MLIR, blocks
one after another), the runtime's CUDA backend and KV cache code (the
script places the prefill's latents as the runtime does), graphs, batches
of more than one real sequence.
It passes at --tolerance; the test suite also checks how many positions
agree to 1e-5.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "codegen", "kernels"))
import simt_emulator as emu  # noqa: E402


def read_checkpoint(directory):
    """name -> array of every tensor of the checkpoint's safetensors files:
    float32, or the raw bytes of FP8 e4m3 ones."""
    out = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".safetensors"):
            out.update(read_safetensors(os.path.join(directory, name)))
    return out


def read_safetensors(path):
    """name -> array of every tensor of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = body[begin:end]
        if info["dtype"] == "F32":
            values = np.frombuffer(raw, np.float32)
        elif info["dtype"] == "BF16":
            values = emu._bits_to_f32(np.frombuffer(raw, np.uint16))
        elif info["dtype"] == "F8_E4M3":
            out[name] = np.frombuffer(raw, np.uint8).reshape(info["shape"])
            continue
        else:
            raise SystemExit(f"{path}: tensor {name} is {info['dtype']}, "
                             "which this script does not read")
        out[name] = values.astype(np.float32).reshape(info["shape"])
    return out


def compiled(args, options, output):
    """Runs dsc-compile on the fixture with `options`, writing the artifact
    `output` in the work directory; returns the IR it prints on stderr.
    With --compile-cache, a compilation another run of this script did with
    the same fixture and options is reused (lit runs several prompts of one
    fixture)."""
    cmd = [os.path.join(args.tools, "dsc-compile"), args.fixture] + options
    cached = None
    if args.compile_cache:
        # What the output depends on: the options, and the compiler and the
        # fixture's files as they are now (a rebuilt dsc-compile or a
        # regenerated fixture misses the cache).
        stamps = [(path, st.st_size, st.st_mtime_ns)
                  for path in [cmd[0]] + sorted(
                      os.path.join(args.fixture, name) for name in os.listdir(args.fixture))
                  for st in [os.stat(path)]]
        key = hashlib.sha256(json.dumps(
            [os.path.abspath(args.fixture), stamps] + options).encode()).hexdigest()[:16]
        cached = os.path.join(args.compile_cache, key)
        if os.path.exists(os.path.join(cached, "done")):
            shutil.copyfile(os.path.join(cached, output), os.path.join(args.work, output))
            with open(os.path.join(cached, "stderr.txt")) as f:
                return f.read()
    p = subprocess.run(cmd + ["-o", os.path.join(args.work, output), "--quiet"],
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"dsc-compile failed:\n{p.stderr[-2000:]}")
    if cached:
        os.makedirs(cached, exist_ok=True)
        shutil.copyfile(os.path.join(args.work, output), os.path.join(cached, output))
        with open(os.path.join(cached, "stderr.txt"), "w") as f:
            f.write(p.stderr)
        open(os.path.join(cached, "done"), "w").close()
    return p.stderr


def compiled_module(args):
    """The fixture's module for the GPU target after
    dsc-check-graph-capture (kernels outlined, not yet NVVM), parsed."""
    path = os.path.join(args.work, "gpu.mlir")
    stderr = compiled(args, ["--target", args.chip, "--kv-cache-type", args.kv_cache_type,
                             "--gemm-large-tile-blocks", str(args.gemm_large_tile_blocks),
                             "--mlir-print-ir-after=dsc-check-graph-capture",
                             "--mlir-print-op-generic"], "gpu.dscx")
    lines = [l for l in stderr.splitlines()
             if not l.startswith("[") and not l.startswith("// -----//")]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return emu.parse("\n".join(lines))


def dictionaries(text):
    """The top-level `{...}` entries of an attribute list (braces inside
    strings, as in a stacked weight's "experts.{}" name, do not count)."""
    entries, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "{":
            depth += 1
            start = i + 1 if depth == 1 else start
        elif not quoted and ch == "}":
            depth -= 1
            if depth == 0:
                entries.append(text[start:i])
    return entries


def arguments(func, weights, inputs):
    """The entry point's arguments: its inputs from `inputs` (name -> array;
    an unnamed one is "tokens"), each weight in the type the compiler gave
    it (bf16 rounded to nearest even), stacks assembled from their experts,
    and NaN-filled outputs, their unknown sizes the tokens' shape."""
    attrs = re.search(r"arg_attrs = \[(.*?)\], function_type", func.text).group(1)
    entries = dictionaries(attrs)
    tokens = inputs["tokens"]
    args = []
    for entry, ty in zip(entries, func.arg_types):
        shape, dtype = emu._memref_type(ty)
        if "dsc.output" in entry:
            dims = iter(tokens.shape)
            shape = [next(dims) if d is None else d for d in shape]
            args.append(emu.MemRef(np.full(shape, np.nan, np.float32), shape))
            continue
        if "dsc.weight" not in entry:
            name = re.search(r'dsc.input = "([^"]*)"', entry)
            value = inputs[name.group(1) if name else "tokens"]
            args.append(emu.MemRef(value, list(value.shape)))
            continue
        name = re.search(r'dsc.weight = "([^"]*)"', entry).group(1)
        stack = re.search(r"dsc.stack = (\d+)", entry)
        value = (np.stack([weights[name.replace("{}", str(i))]
                           for i in range(int(stack.group(1)))])
                 if stack else weights[name])
        if list(value.shape) != shape:
            raise SystemExit(f"weight {name}: shape {list(value.shape)}, the "
                             f"entry point takes {shape}")
        if dtype == np.uint16:  # bf16
            value = emu._f32_to_bf16(value)
        elif dtype == np.uint8 and value.dtype != np.uint8:
            raise SystemExit(f"weight {name}: the entry point takes FP8, the "
                             "checkpoint has another type")
        args.append(emu.MemRef(np.ascontiguousarray(value.astype(dtype)), shape))
    return args


def generation(args, module, weights, prompt, cpu_artifact):
    """Greedy generation on the emulator as the runtime runs it: prefill,
    its latents into a one-page KV cache, then `args.decode` decode steps,
    each storing its new latents; every step fed the CPU's token, so that
    both see one context. Returns (the emulated step logits, the CPU's),
    each [steps, vocab], and the library kernels the decode steps
    launched."""
    p = subprocess.run([os.path.join(args.tools, "dsc-run"), cpu_artifact,
                        "--prompt-ids", ",".join(map(str, prompt)), "--max-new-tokens",
                        str(args.decode + 1), "--json",
                        f"--output=@{os.path.join(args.work, 'steps.npy')}"],
                       check=True, capture_output=True, text=True)
    generated = json.loads(p.stdout)["generated"][0]
    want = np.load(os.path.join(args.work, "steps.npy"))[0].astype(np.float64)
    funcs = emu._named(module, "func.func")
    call = arguments(funcs["prefill"], weights,
                     {"tokens": np.array([prompt], np.int64),
                      "last_positions": np.array([len(prompt) - 1], np.int64)})
    emu.run_host(module, "prefill", call)
    logits, latents = call[-2].data, call[-1].data  # [1, 1, V], [L, 1, S, W]
    attrs = dictionaries(re.search(r"arg_attrs = \[(.*?)\], function_type",
                                   funcs["decode"].text).group(1))
    cache_type = next(t for e, t in zip(attrs, funcs["decode"].arg_types)
                      if 'dsc.input = "kv_cache"' in e)
    (_, _, page, _), cache_dtype = emu._memref_type(cache_type)
    # The cache's element type: f32, or bf16 (held as its bits, rounded to
    # nearest even as the runtime stores entries).
    stored = ((lambda x: emu._f32_to_bf16(x)) if cache_dtype == np.uint16
              else (lambda x: x.astype(np.float32)))
    if len(prompt) + args.decode > page:
        raise SystemExit(f"--decode {args.decode}: the prompt and its steps pass "
                         f"one page of {page} tokens")
    # Four pages, the sequence on page 2 and the others NaN: the steps must
    # find their page through the block table and read no other.
    pages, mine = 4, 2
    cache = stored(np.full((latents.shape[0], pages, page, latents.shape[-1]),
                           np.nan, np.float32))
    cache[:, mine, :len(prompt)] = stored(latents[:, 0])
    got = [logits[0, -1].astype(np.float64)]
    for k in range(args.decode):
        past = len(prompt) + k
        # A padded bucket, as the runtime runs a batch that fills none: a
        # second row of token 0 with nothing cached and a table of -1 (and
        # a padding column in the real row's table). It must store nothing
        # and leave the real row's logits alone.
        inputs = {"tokens": np.array([[generated[k]], [0]], np.int64),
                  "past": np.array([past, 0], np.int64),
                  "block_table": np.array([[mine, -1], [-1, -1]], np.int64),
                  "kv_cache": cache}
        before = cache.copy()
        call = arguments(funcs["decode"], weights, inputs)
        launches = emu.run_host(module, "decode", call)
        got.append(call[-2].data[0, -1].astype(np.float64))
        # The step stores its own entries (dsc-store-cache-entries): row
        # `past` of its page holds its latents, and nothing else changed.
        before[:, mine, past] = stored(call[-1].data[:, 0, 0])
        if not np.array_equal(cache, before, equal_nan=True):
            raise SystemExit(f"decode step {k}: the KV cache is not the old one with "
                             f"this step's latents at row {past}")
    return np.array(got), want, library_kernels(launches)


def library_kernels(launches):
    """The kernel library's kernels among `launches`, sorted."""
    return sorted({name for name, _ in launches
                   if name.startswith(("grouped", "batched", "gemm", "moe", "mla",
                                           "add_rmsnorm", "rmsnorm"))})


def cpu_logits(args, prompt):
    """The CPU code's logits at every position of `prompt` (a prefill of
    each prefix), computing the GPU's roundings."""
    artifact = os.path.join(args.work, "cpu.dscx")
    compiled(args, ["--target", "cpu", "--fixed-shapes", "--bf16-linear-inputs",
                    "--kv-cache-type", args.kv_cache_type], "cpu.dscx")
    rows = []
    for n in range(1, len(prompt) + 1):
        p = subprocess.run([os.path.join(args.tools, "dsc-run"), artifact, "--prompt-ids",
                            ",".join(map(str, prompt[:n])), "--max-new-tokens", "1",
                            "--json"], check=True, capture_output=True, text=True)
        rows.append(json.loads(p.stdout)["prefill_logits"][0])
    return np.asarray(rows, np.float64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", required=True)
    parser.add_argument("--tools", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--prompt", type=int, default=0,
                        help="which of the fixture's prompts (expected.json)")
    parser.add_argument("--prompt-ids", default=None,
                        help="token ids of a prompt of one's own, comma-separated "
                        "(instead of --prompt; no transformers reference then)")
    parser.add_argument("--chip", default="sm_90a")
    parser.add_argument("--decode", type=int, default=0,
                        help="then prefill and this many decode steps (KV cache)")
    parser.add_argument("--kv-cache-type", default="f32", choices=("f32", "bf16"),
                        help="the KV cache's element type (dsc-compile's option; "
                        "with bf16, GPU decode attention is the kernel library's)")
    parser.add_argument("--gemm-large-tile-blocks", type=int, default=264,
                        help="dsc-compile's option: 1 sends sm_90a's linear "
                        "layers of 128 rows or more to the wgmma GEMM")
    parser.add_argument("--compile-cache", default=None,
                        help="a directory where compiled artifacts are kept and "
                        "reused by runs with the same fixture and options")
    parser.add_argument("--tolerance", type=float, default=1e-2,
                        help="against the CPU, relative to each position's "
                        "largest logit (issue 5's bf16 GPU-vs-CPU tolerance)")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)

    if args.prompt_ids:
        ref = None
        try:
            prompt = [int(t) for t in args.prompt_ids.split(",")]
        except ValueError:
            raise SystemExit(f"emulate_model: --prompt-ids {args.prompt_ids!r} is "
                             "not a comma-separated list of token ids")
    else:
        expected = json.load(open(os.path.join(args.fixture, "expected.json")))
        ref = expected["results"][args.prompt]
        prompt = ref["prompt"]
    module = compiled_module(args)
    funcs = emu._named(module, "func.func")
    weights = read_checkpoint(args.fixture)
    tokens = np.array([prompt], np.int64)
    call = arguments(funcs["forward"], weights, {"tokens": tokens})
    launches = emu.run_host(module, "forward", call)
    logits = call[-1].data[0].astype(np.float64)  # [positions, vocab]
    library = library_kernels(launches)
    print(f"forward of {len(prompt)} tokens ({args.chip} code): {len(launches)} kernel "
          "launches on the emulator")
    ok = bool(np.isfinite(logits).all())

    want = cpu_logits(args, prompt)
    errors = np.abs(logits - want).max(axis=1) / np.abs(want).max(axis=1)
    same = bool((np.argmax(logits, axis=1) == np.argmax(want, axis=1)).all())
    print("every position vs the CPU (same roundings): " +
          ", ".join(f"{e:.1e}" for e in errors) + " of the largest logit, argmax " +
          ("equal" if same else "DIFFERENT"))
    # Only summation orders differ, so positions agree to f32 rounding,
    # unless a sum lands on the other side of a bf16 rounding or of a
    # routing near-tie: that moves its position and, through attention,
    # every later one (tiny-v3's prompt 0 from its 4th token, tiny-v2-lite's
    # prompt 1 from its first), within the tolerance. The test picks
    # prompts without one and checks the count below.
    exact = int((errors <= 1e-5).sum())
    print(f"  {exact} of {len(errors)} positions within 1e-5")
    ok = ok and float(errors.max()) <= args.tolerance and same

    # For the record: bf16's distance from f32, the GPU's and the CPU's
    # (every position where the fixture has them, else the last).
    if ref is not None:
        if "all_logits" in ref:
            reference = np.asarray(ref["all_logits"], np.float64)
        else:
            reference = np.asarray(ref["prefill_logits"], np.float64)[None]

        def ref_err(x):
            x = x[-len(reference):]
            return float((np.abs(x - reference).max(axis=1) /
                          np.abs(reference).max(axis=1)).max())
        print(f"vs transformers' f32 model: up to {ref_err(logits):.1e} of the largest "
              f"logit (the CPU: {ref_err(want):.1e}; bf16 GEMM operands)")
    print("library kernels launched: " + ", ".join(library))

    if args.decode:
        got, steps, decode_library = generation(args, module, weights, prompt,
                                                os.path.join(args.work, "cpu.dscx"))
        errors = np.abs(got - steps).max(axis=1) / np.abs(steps).max(axis=1)
        same = bool((np.argmax(got, axis=1) == np.argmax(steps, axis=1)).all())
        print(f"prefill and {args.decode} decode steps through the KV cache vs the CPU: " +
              ", ".join(f"{e:.1e}" for e in errors) + ", argmax " +
              ("equal" if same else "DIFFERENT"))
        print(f"  {int((errors <= 1e-5).sum())} of {len(errors)} steps within 1e-5; each "
              "step stored its latents in the cache")
        print("decode steps launched library kernels: " + ", ".join(decode_library))
        ok = ok and float(errors.max()) <= args.tolerance and same
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    try:
        main()
    except emu.EmulationError as e:
        sys.exit(f"emulate_model: {e}")
