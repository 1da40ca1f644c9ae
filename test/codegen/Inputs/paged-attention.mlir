// dsc.paged_mla_decode on buffers as bufferization leaves it: the rows'
// queries and entries, one layer's pages within a cache of three layers
// (a view with an offset), the test fixtures' widths (latent 32, rope 8),
// 4 heads. kernels-emulated.test runs dsc-library-gemms' lowering of it on
// the emulator.
func.func @decode(%q: memref<?x4x40xbf16>, %e: memref<?x40xbf16>,
                  %cache: memref<3x?x64x40xbf16>, %table: memref<?x?xi32>,
                  %lens: memref<?xi32>, %out: memref<?x4x32xbf16>) {
  %c1 = arith.constant 1 : index
  %pages = memref.dim %cache, %c1 : memref<3x?x64x40xbf16>
  %layer = memref.subview %cache[1, 0, 0, 0] [1, %pages, 64, 40] [1, 1, 1, 1]
      : memref<3x?x64x40xbf16>
        to memref<?x64x40xbf16, strided<[2560, 40, 1], offset: ?>>
  dsc.paged_mla_decode %q, %e cache(%layer, %table, %lens) outs(%out)
      {scale = 0.26464226841926575 : f64}
      : memref<?x4x40xbf16>, memref<?x40xbf16>,
        memref<?x64x40xbf16, strided<[2560, 40, 1], offset: ?>>,
        memref<?x?xi32>, memref<?xi32>, memref<?x4x32xbf16>
  return
}
