// dsc.causal_mla_prefill on buffers at DeepSeek-V3's widths (no-rope 128,
// rope 64, value 128), 2 heads. kernels-emulated.test runs
// dsc-library-gemms{wgmma}'s lowering of it on the emulator: sm_90a's
// prefill on TMA descriptors of the queries, the decompressed keys and
// values, and the rope keys, each [batch, tokens, row].
func.func @prefill(%q: memref<?x?x2x192xbf16>, %kv: memref<?x?x2x256xbf16>,
                   %kr: memref<?x?x64xbf16>, %out: memref<?x?x2x128xbf16>) {
  dsc.causal_mla_prefill %q, %kv, %kr outs(%out) {scale = 0.1352337788608801 : f64}
      : memref<?x?x2x192xbf16>, memref<?x?x2x256xbf16>, memref<?x?x64xbf16>,
        memref<?x?x2x128xbf16>
  return
}
