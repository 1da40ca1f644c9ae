// The absorbed attention's per-head products as dsc-lower-to-linalg{fixed-
// shapes library-attention} marks them when kv_b is bf16, on buffers, for
// dsc-library-gemms: the queries times W_UK (kv_b's first 72 rows of each
// head, K x N) and the attention's latent output times W_UV (its last 136,
// N x K). 3 heads, latent 200. kernels-emulated.test runs the result on
// the emulator; library-batched-gemms.mlir checks the launches.
#q = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#wuk = affine_map<(d0, d1, d2, d3, d4) -> (d2, d4, d3)>
#ql = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
#o = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuv = affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>
#v = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @head_products(%qn: memref<?x?x3x72xbf16>, %lat: memref<?x3x200xbf16>, %kvb: memref<624x200xbf16>, %qlat: memref<?x?x3x200xf32>, %values: memref<?x3x136xf32>) {
  %zero = arith.constant 0.0 : f32
  %heads = memref.expand_shape %kvb [[0, 1], [2]] output_shape [3, 208, 200] : memref<624x200xbf16> into memref<3x208x200xbf16>
  %wuk = memref.subview %heads[0, 0, 0] [3, 72, 200] [1, 1, 1] : memref<3x208x200xbf16> to memref<3x72x200xbf16, strided<[41600, 200, 1]>>
  %wuv = memref.subview %heads[0, 72, 0] [3, 136, 200] [1, 1, 1] : memref<3x208x200xbf16> to memref<3x136x200xbf16, strided<[41600, 200, 1], offset: 14400>>
  linalg.fill ins(%zero : f32) outs(%qlat : memref<?x?x3x200xf32>)
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%qn, %wuk : memref<?x?x3x72xbf16>, memref<3x72x200xbf16, strided<[41600, 200, 1]>>) outs(%qlat : memref<?x?x3x200xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %w: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %wf = arith.extf %w : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%values : memref<?x3x136xf32>)
  linalg.generic {indexing_maps = [#o, #wuv, #v], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%lat, %wuv : memref<?x3x200xbf16>, memref<3x136x200xbf16, strided<[41600, 200, 1], offset: 14400>>) outs(%values : memref<?x3x136xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %w: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %wf = arith.extf %w : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}
