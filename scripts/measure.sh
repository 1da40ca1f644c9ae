#!/usr/bin/env bash
# Reproduces the figures in docs/performance.md on this machine:
#  1. dsc-compile --shapes-only of the full DeepSeek-V3 config to an artifact
#     for cpu,sm_90a: wall time and peak memory (GNU time);
#  2. CPU prefill time of the tiny fixtures (all three prompts of
#     expected.json as one batch) and decode time per token, through the KV
#     cache and by recomputing the sequence;
#  3. fused against unfused prefill (tiny-v3, 128 tokens);
# Times are medians over runs in one session (dsc-run --repeat): the steady
# state of a serving process, blocks of memory reused from run to run.
#  4. the KV-cached decode step against the context length (tiny-v2-lite,
#     64 to 2040 tokens of context).
#  5. CPU weights as a BF16 checkpoint stores them (--cpu-weights auto, the
#     default) against f32 copies (--cpu-weights f32): a 2-layer model of
#     DeepSeek-V2-Lite's shapes, random BF16 weights (2.2 GB).
#  6. CPU threads: the same model's GEMMs unsplit on 1 thread, split on 1
#     and on 2 (dsc-run --threads), logits compared bit for bit; the
#     thread pool's own cost per call (dsc-thread-pool-bench); the CPU's
#     memory read rate (dsc-memory-bench), a decode step's floor.
# With an argument (compile, fixtures, fusion, context, weights, threads)
# only that part runs.
# The project build time is measured separately: see docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${DSC_BUILD_DIR:-build}"
TOOLS="$BUILD_DIR/tools"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
PART="${1:-all}"
want() { [[ "$PART" == all || "$PART" == "$1" ]]; }

# DeepSeek-V2-Lite's shapes, 2 layers (dense, MoE), random BF16 weights, in
# $WORK/v2l2: made once, for the parts that use it.
v2_lite_checkpoint() {
  [[ -f "$WORK/v2l2/config.json" ]] && return
  python3 scripts/make_random_checkpoint.py test/fixtures/configs/deepseek-v2-lite/config.json \
    "$WORK/v2l2" num_hidden_layers=2 --dtype BF16 --dsc-compile "$TOOLS/dsc-compile" > /dev/null
}

if want compile; then
echo "== dsc-compile --shapes-only DeepSeek-V3 (61 layers, 256 experts) -> cpu,sm_90a"
/usr/bin/time -f "wall %e s, peak RSS %M KiB" \
  "$TOOLS/dsc-compile" test/fixtures/configs/deepseek-v3 --shapes-only \
  --target cpu,sm_90a -o "$WORK/v3.dscx" --quiet
ls -l "$WORK/v3.dscx" | awk '{print "artifact", $5, "bytes"}'
fi

if want fixtures; then
for fixture in tiny-v3 tiny-v2-lite tiny-v3-fp8; do
  "$TOOLS/dsc-compile" "test/fixtures/$fixture" --target cpu -o "$WORK/$fixture.dscx" --quiet
  prompts=$(python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(';'.join(','.join(map(str,r['prompt'])) for r in e['results']))" "test/fixtures/$fixture/expected.json")
  for i in 1 2 3; do
    for mode in kv-cache recompute; do
      flag=""; [[ $mode == recompute ]] && flag="--no-kv-cache"
      echo "$mode $("$TOOLS/dsc-run" "$WORK/$fixture.dscx" --prompt-ids "$prompts" --max-new-tokens 32 --repeat 5 --json $flag)"
    done
  done | python3 -c "
import json, statistics, sys
runs = {}
for line in sys.stdin:
    mode, text = line.split(' ', 1)
    runs.setdefault(mode, []).append(json.loads(text)['timings'])
pre = statistics.median(r['prefill_ms'] for r in runs['kv-cache'])
dec = statistics.median(r['decode_ms_per_token'] for r in runs['kv-cache'])
rec = statistics.median(r['decode_ms_per_token'] for r in runs['recompute'])
print(f'== $fixture: prefill (batch 3, lengths 5/9/3) median {pre:.2f} ms; 32 tokens: decode {dec:.2f} ms/token with the KV cache, {rec:.2f} recomputing ({rec / dec:.1f}x)')"
done
fi

if want fusion; then
# Prefill of one 128-token prompt, MODEL compiled with and without
# --no-fusion, the two run alternately (so that machine noise hits both
# alike): the median of 5 processes' medians of 20 runs.
compare_fusion() {
  local model="$1" label="$2"
  "$TOOLS/dsc-compile" "$model" --target cpu -o "$WORK/fused.dscx" --quiet
  "$TOOLS/dsc-compile" "$model" --target cpu -o "$WORK/unfused.dscx" --quiet --no-fusion
  prompt=$(python3 -c "import random; random.seed(1); print(','.join(str(random.randrange(256)) for _ in range(128)))")
  for i in $(seq 5); do
    for variant in fused unfused; do
      echo "$variant $("$TOOLS/dsc-run" "$WORK/$variant.dscx" --prompt-ids "$prompt" --max-new-tokens 0 --repeat 20 --json)"
    done
  done | python3 -c "
import json, statistics, sys
times = {}
for line in sys.stdin:
    variant, text = line.split(' ', 1)
    times.setdefault(variant, []).append(json.loads(text)['timings']['prefill_ms'])
f, u = statistics.median(times['fused']), statistics.median(times['unfused'])
print(f'$label: fused {f:.1f} ms, unfused {u:.1f} ms: {u / f:.2f}x')"
}
echo "== Fusion: prefill of one 128-token prompt, fused vs --no-fusion, interleaved runs"
compare_fusion test/fixtures/tiny-v3 "tiny-v3 (16 experts, top-4: 4x)"
# More experts per top-k: tiny-v3's shape with 32 experts (8x) and with 128
# (32x, DeepSeek-V3's 256/8), random weights (timing only; numerics are the
# fixtures').
for experts in 32 128; do
  python3 scripts/make_random_checkpoint.py test/fixtures/tiny-v3/config.json "$WORK/wide-$experts" \
    n_routed_experts=$experts --dsc-compile "$TOOLS/dsc-compile" > /dev/null
  compare_fusion "$WORK/wide-$experts" "tiny-v3 shape, $experts experts, top-4 ($((experts / 4))x), random weights"
done
fi

if want context; then
echo "== KV-cached decode step against the context (tiny-v2-lite, max_position_embeddings 2048; one prompt of C tokens, 9 new, mean of the 8 decode steps, median of 3 runs of 3 in one session), with an f32 and a bf16 cache"
"$TOOLS/dsc-compile" test/fixtures/tiny-v2-lite --target cpu -o "$WORK/v2-f32.dscx" --quiet
"$TOOLS/dsc-compile" test/fixtures/tiny-v2-lite --target cpu --kv-cache-type bf16 -o "$WORK/v2-bf16.dscx" --quiet
for context in 64 128 256 512 1024 2040; do
  prompt=$(python3 -c "import random; random.seed($context); print(','.join(str(random.randrange(256)) for _ in range($context)))")
  for cache in f32 bf16; do
    for i in 1 2 3; do
      "$TOOLS/dsc-run" "$WORK/v2-$cache.dscx" --prompt-ids "$prompt" --max-new-tokens 9 --repeat 3 --json
    done | python3 -c "
import json, statistics, sys
runs = [json.loads(line)['timings'] for line in sys.stdin]
print(statistics.median(r['decode_ms_per_token'] for r in runs), statistics.median(r['prefill_ms'] for r in runs))"
  done | python3 -c "
import sys
(f32, pre), (bf16, _) = [map(float, line.split()) for line in sys.stdin]
print(f'context {$context:5d}: decode step {f32:.3f} ms ({1000 * f32 / $context:.2f} us per context token), '
      f'bf16 cache {bf16:.3f} ms ({f32 / bf16:.2f}x); prefill {pre:.1f} ms')"
done
fi

if want weights; then
echo "== CPU weights: DeepSeek-V2-Lite's shapes, 2 layers (dense, MoE), random BF16 weights; one 16-token prompt, 16 new tokens; --cpu-weights f32 and auto alternating, 3 processes each, medians of --repeat 3"
v2_lite_checkpoint
for mode in f32 auto; do
  "$TOOLS/dsc-compile" "$WORK/v2l2" --target cpu --cpu-weights $mode -o "$WORK/w-$mode.dscx" --quiet
done
prompt=$(python3 -c "import random; random.seed(1); print(','.join(str(random.randrange(1000)) for _ in range(16)))")
for i in 1 2 3; do
  for mode in f32 auto; do
    echo "$mode $(/usr/bin/time -f %M -o "$WORK/rss" "$TOOLS/dsc-run" "$WORK/w-$mode.dscx" \
      --prompt-ids "$prompt" --max-new-tokens 16 --repeat 3 --json 2> /dev/null) $(cat "$WORK/rss")"
  done
done | python3 -c "
import json, statistics, sys
runs = {}
for line in sys.stdin:
    mode, rest = line.split(' ', 1)
    text, rss = rest.rsplit(' ', 1)
    runs.setdefault(mode, []).append((json.loads(text)['timings'], int(rss)))
for mode, rs in runs.items():
    med = lambda key: statistics.median(t[key] for t, _ in rs)
    print(f'{mode:4s}: bind {med(\"bind_ms\"):.0f} ms, prefill {med(\"prefill_ms\"):.0f} ms, '
          f'decode {med(\"decode_ms_per_token\"):.1f} ms/token, peak RSS {max(r for _, r in rs) / 1e6:.2f} GB')"
fi

if want threads; then
echo "== CPU threads: DeepSeek-V2-Lite's shapes, 2 layers, random BF16 weights; one 16-token prompt, 16 new tokens; unsplit (--cpu-parallel-min-work -1) on 1 thread, split on 1 and 2, alternating, 3 processes each, medians of --repeat 3"
v2_lite_checkpoint
"$TOOLS/dsc-compile" "$WORK/v2l2" --target cpu -o "$WORK/split.dscx" --quiet
"$TOOLS/dsc-compile" "$WORK/v2l2" --target cpu --cpu-parallel-min-work -1 -o "$WORK/unsplit.dscx" --quiet
prompt=$(python3 -c "import random; random.seed(1); print(','.join(str(random.randrange(1000)) for _ in range(16)))")
for i in 1 2 3; do
  for run in unsplit:1 split:1 split:2; do
    art=${run%:*}; threads=${run#*:}
    echo "$run $("$TOOLS/dsc-run" "$WORK/$art.dscx" --threads "$threads" \
      --prompt-ids "$prompt" --max-new-tokens 16 --repeat 3 --json \
      --output="@$WORK/$art-$threads.npy" 2> /dev/null)"
  done
done | python3 -c "
import json, statistics, sys
runs = {}
for line in sys.stdin:
    run, text = line.split(' ', 1)
    runs.setdefault(run, []).append(json.loads(text)['timings'])
for run, ts in runs.items():
    med = lambda key: statistics.median(t[key] for t in ts)
    print(f'{run:9s}: prefill {med(\"prefill_ms\"):.0f} ms, decode {med(\"decode_ms_per_token\"):.1f} ms/token')"
cmp "$WORK/unsplit-1.npy" "$WORK/split-1.npy" && cmp "$WORK/unsplit-1.npy" "$WORK/split-2.npy" \
  && echo "step logits: bit for bit the same"
"$BUILD_DIR/test/unit/dsc-thread-pool-bench" 1 2 3 4
# The memory read rate a decode step's weights stream at, at best.
"$BUILD_DIR/test/unit/dsc-memory-bench" 1024 1 2
fi
