// dsc.paged_mla_decode on buffers at DeepSeek-V3's widths (latent 512,
// rope 64), 80 heads (a second block of 64 heads, partly past the last
// head), one layer's pages within a cache of three layers (a view with an
// offset). kernels-emulated.test runs dsc-library-gemms{wgmma}'s lowering
// of it on the emulator: sm_90a's decode on TMA descriptors of the
// queries and of the layer's pages.
func.func @decode(%q: memref<?x80x576xbf16>, %e: memref<?x576xbf16>,
                  %cache: memref<3x?x64x576xbf16>, %table: memref<?x?xi32>,
                  %lens: memref<?xi32>, %out: memref<?x80x512xbf16>) {
  %c1 = arith.constant 1 : index
  %pages = memref.dim %cache, %c1 : memref<3x?x64x576xbf16>
  %layer = memref.subview %cache[1, 0, 0, 0] [1, %pages, 64, 576] [1, 1, 1, 1]
      : memref<3x?x64x576xbf16>
        to memref<?x64x576xbf16, strided<[36864, 576, 1], offset: ?>>
  dsc.paged_mla_decode %q, %e cache(%layer, %table, %lens) outs(%out)
      {scale = 0.26464226841926575 : f64}
      : memref<?x80x576xbf16>, memref<?x576xbf16>,
        memref<?x64x576xbf16, strided<[36864, 576, 1], offset: ?>>,
        memref<?x?xi32>, memref<?xi32>, memref<?x80x512xbf16>
  return
}
