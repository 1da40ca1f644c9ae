// The absorbed decode's per-head products as dsc-lower-to-linalg{fixed-
// shapes library-attention} writes them for an FP8 kv_b, on buffers, for
// dsc-library-gemms: kv_b [3 (72 + 40), 96] e4m3 with block scales of
// 16 x 32 (a weight of the model: dsc.weight) dequantized once to bf16
// (marked dsc.library_dequantize), the queries times W_UK (each head's
// first 72 rows, K x N), a write of the cache between (the attention's),
// then the attention's latent output times W_UV (its last 40 rows,
// N x K), and the dealloc. kernels-emulated.test runs the result on the
// emulator; library-batched-gemms.mlir checks the launches.
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#q = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#wuk = affine_map<(d0, d1, d2, d3, d4) -> (d2, d4, d3)>
#ql = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
#o = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuv = affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>
#v = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @head_products_fp8(%qn: memref<?x?x3x72xbf16>, %lat: memref<?x3x96xbf16>, %kvb: memref<336x96xf8E4M3FN> {dsc.weight = "kv_b"}, %s: memref<21x3xf32> {dsc.weight = "kv_b_scale_inv"}, %qlat: memref<?x?x3x96xf32>, %values: memref<?x3x40xf32>, %cache: memref<4x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %blocks = memref.expand_shape %kvb [[0], [1, 2]] output_shape [336, 3, 32] : memref<336x96xf8E4M3FN> into memref<336x3x32xf8E4M3FN>
  %dq = memref.alloc() : memref<336x3x32xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<336x3x32xf8E4M3FN>, memref<21x3xf32>) outs(%dq : memref<336x3x32xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 32>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %out: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %w = memref.collapse_shape %dq [[0], [1, 2]] : memref<336x3x32xbf16> into memref<336x96xbf16>
  %heads = memref.expand_shape %w [[0, 1], [2]] output_shape [3, 112, 96] : memref<336x96xbf16> into memref<3x112x96xbf16>
  %wuk = memref.subview %heads[0, 0, 0] [3, 72, 96] [1, 1, 1] : memref<3x112x96xbf16> to memref<3x72x96xbf16, strided<[10752, 96, 1]>>
  %wuv = memref.subview %heads[0, 72, 0] [3, 40, 96] [1, 1, 1] : memref<3x112x96xbf16> to memref<3x40x96xbf16, strided<[10752, 96, 1], offset: 6912>>
  linalg.fill ins(%zero : f32) outs(%qlat : memref<?x?x3x96xf32>)
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%qn, %wuk : memref<?x?x3x72xbf16>, memref<3x72x96xbf16, strided<[10752, 96, 1]>>) outs(%qlat : memref<?x?x3x96xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %sum = arith.addf %p, %acc : f32
    linalg.yield %sum : f32
  }
  linalg.fill ins(%zero : f32) outs(%cache : memref<4x8xf32>)
  linalg.fill ins(%zero : f32) outs(%values : memref<?x3x40xf32>)
  linalg.generic {indexing_maps = [#o, #wuv, #v], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%lat, %wuv : memref<?x3x96xbf16>, memref<3x40x96xbf16, strided<[10752, 96, 1], offset: 6912>>) outs(%values : memref<?x3x40xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %sum = arith.addf %p, %acc : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %dq : memref<336x3x32xbf16>
  return
}
