// Linear layers whose K dsc-library-gemms{split-k-blocks=N} splits when
// their grid of 64-row tiles is small (a decode's few rows times a narrow
// layer): 40 outputs of K 256 (4 K steps: parts of 2 or 4), one with a
// bf16 weight and one with an e4m3 weight and its 16 x 128 block scales,
// dequantized for the GEMM as dsc-lower-to-linalg{bf16-linear-inputs}
// writes it (the mark's contract). kernels-emulated.test runs the result
// on the emulator; library-gemms.mlir checks the launches.
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
func.func @split_bf16(%x: memref<?x256xbf16>, %w: memref<40x256xbf16>, %y: memref<?x40xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<?x40xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x256xbf16>, memref<40x256xbf16>) outs(%y : memref<?x40xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  return
}
func.func @split_fp8w(%x: memref<?x256xbf16>, %w: memref<40x256xf8E4M3FN>, %s: memref<3x2xf32>, %y: memref<?x40xf32>) {
  %zero = arith.constant 0.0 : f32
  %blocks = memref.expand_shape %w [[0], [1, 2]] output_shape [40, 2, 128] : memref<40x256xf8E4M3FN> into memref<40x2x128xf8E4M3FN>
  %b = memref.alloc() : memref<40x2x128xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<40x2x128xf8E4M3FN>, memref<3x2xf32>) outs(%b : memref<40x2x128xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 128>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %bm = memref.collapse_shape %b [[0], [1, 2]] : memref<40x2x128xbf16> into memref<40x256xbf16>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x40xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %bm : memref<?x256xbf16>, memref<40x256xbf16>) outs(%y : memref<?x40xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %b : memref<40x2x128xbf16>
  return
}
