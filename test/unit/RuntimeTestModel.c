/*===- RuntimeTestModel.c - A stand-in for compiled host code -------------===*
 *
 * Built as a shared object and stored as the `cpu/host.so` section of test
 * artifacts, so the runtime's loading, binding, calling convention and
 * generation loop are tested without the compiler. It exports what
 * dsc-compile's host code exports:
 *
 *   void dsc_entry_forward(void **argv)
 *
 * with argv = {tokens i64 [B, S], embed f32 [V, V], bias f32 [2, V] (stacked),
 * marker f8e4m3 [V], logits f32 [B, S, V]} as memref descriptors, and
 * computes
 *
 *   logits[b, s, v] = embed[tokens[b, s], v] + bias[0, v] + bias[1, v]
 *                     + 0.25 * #{t <= s : tokens[b, t] == v}
 *
 * which depends on the whole causal prefix, like attention, its rows through
 * the parallel-for hook (dsc_parallel_for_hook). Any descriptor
 * that breaks the convention (offset, strides, sizes, param alignment) or a
 * marker byte that was not copied raw turns all logits into NaN.
 *
 *===----------------------------------------------------------------------===*/

#include <stdint.h>

#define V 8

/* Checks the descriptor words {allocated, aligned, offset, sizes[rank],
   strides[rank]}; -1 in `sizes` accepts any size. The data must be aligned
   to `align` bytes (a param read in place from a checkpoint is aligned to
   its element size only). */
static int valid(const int64_t *d, int rank, const int64_t *sizes,
                 int64_t align) {
  if (d[0] != d[1] || d[2] != 0 || d[1] % align != 0)
    return 0;
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    if ((sizes[i] >= 0 && d[3 + i] != sizes[i]) || d[3 + rank + i] != stride)
      return 0;
    stride *= d[3 + i];
  }
  return 1;
}

/* The parallel-for hook dsc-lower-parallel-calls exports: serial until the
   runtime points it at its thread pool. The rows of the logits are its
   ranges (grain 1). */
typedef void (*Task)(void *frame, int64_t begin, int64_t end);
static void serialParallelFor(void *context, Task task, void *frame,
                              int64_t extent, int64_t grain) {
  (void)context;
  (void)grain;
  task(frame, 0, extent);
}
__attribute__((visibility("default"))) void (*dsc_parallel_for_hook)(
    void *, Task, void *, int64_t, int64_t) = serialParallelFor;
__attribute__((visibility("default"))) void *dsc_parallel_for_context = 0;

struct Frame {
  int64_t seq;
  const int64_t *tokens;
  const float *embed, *bias;
  float *logits;
  int ok;
};

/* Rows [begin, end) of the batch * seq rows. */
static void rows(void *data, int64_t begin, int64_t end) {
  const struct Frame *f = data;
  for (int64_t row = begin; row < end; ++row) {
    int64_t b = row / f->seq, s = row % f->seq;
    for (int64_t v = 0; v < V; ++v) {
      float count = 0;
      for (int64_t t = 0; t <= s; ++t)
        count += f->tokens[b * f->seq + t] == v;
      f->logits[row * V + v] = f->ok ? f->embed[f->tokens[row] * V + v] +
                                           f->bias[v] + f->bias[V + v] +
                                           0.25f * count
                                     : __builtin_nanf("");
    }
  }
}

__attribute__((visibility("default"))) void dsc_entry_forward(void **argv) {
  const int64_t *tokensDesc = argv[0], *embedDesc = argv[1],
                *biasDesc = argv[2], *markerDesc = argv[3],
                *logitsDesc = argv[4];
  const int64_t batch = tokensDesc[3], seq = tokensDesc[4];
  const uint8_t *marker = (const uint8_t *)markerDesc[1];

  const int64_t any2[] = {-1, -1}, embedSizes[] = {V, V}, biasSizes[] = {2, V},
                markerSizes[] = {V}, logitsSizes[] = {batch, seq, V};
  struct Frame frame = {seq,
                        (const int64_t *)tokensDesc[1],
                        (const float *)embedDesc[1],
                        (const float *)biasDesc[1],
                        (float *)logitsDesc[1],
                        valid(tokensDesc, 2, any2, 8) &&
                            valid(embedDesc, 2, embedSizes, 4) &&
                            valid(biasDesc, 2, biasSizes, 4) &&
                            valid(markerDesc, 1, markerSizes, 1) &&
                            valid(logitsDesc, 3, logitsSizes, 4) &&
                            marker[0] == 0x38 && marker[V - 1] == 0xC0};
  dsc_parallel_for_hook(dsc_parallel_for_context, rows, &frame, batch * seq, 1);
}
