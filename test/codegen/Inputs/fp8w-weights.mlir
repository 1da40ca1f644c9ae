// e4m3 weights with block scales as dsc-lower-to-linalg{bf16-linear-inputs}
// and bufferization leave them (the dequantization's body reduced to
// extf, mulf, truncf: the mark's contract), for dsc-library-gemms:
// a linear layer, a dense MLP with SwiGLU, a routed layer with e4m3 stacks
// and SwiGLU. kernels-emulated.test runs the result on the emulator, the
// linear layer and the MLP with few rows and with many (both branches).
#id_l = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale_l = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#a_l = affine_map<(d0, d1, d2) -> (d0, d2)>
#b_l = affine_map<(d0, d1, d2) -> (d1, d2)>
#c_l = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @linear(%x: memref<?x64xbf16>, %w: memref<32x64xf8E4M3FN>, %s: memref<2x2xf32>, %y: memref<?x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %blocks = memref.expand_shape %w [[0], [1, 2]] output_shape [32, 2, 32] : memref<32x64xf8E4M3FN> into memref<32x2x32xf8E4M3FN>
  %b = memref.alloc() : memref<32x2x32xbf16>
  linalg.generic {indexing_maps = [#id_l, #scale_l, #id_l], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<32x2x32xf8E4M3FN>, memref<2x2xf32>) outs(%b : memref<32x2x32xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 32>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %bm = memref.collapse_shape %b [[0], [1, 2]] : memref<32x2x32xbf16> into memref<32x64xbf16>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x32xf32>)
  linalg.generic {indexing_maps = [#a_l, #b_l, #c_l], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %bm : memref<?x64xbf16>, memref<32x64xbf16>) outs(%y : memref<?x32xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %b : memref<32x2x32xbf16>
  return
}
#id_m = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale_m = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#a_m = affine_map<(d0, d1, d2) -> (d0, d2)>
#b_m = affine_map<(d0, d1, d2) -> (d1, d2)>
#c_m = affine_map<(d0, d1, d2) -> (d0, d1)>
#same_m = affine_map<(d0, d1) -> (d0, d1)>
func.func @mlp(%x: memref<?x64xbf16>, %wg: memref<40x64xf8E4M3FN>, %sg: memref<3x2xf32>, %wu: memref<40x64xf8E4M3FN>, %su: memref<3x2xf32>, %out: memref<?x40xbf16>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gblocks = memref.expand_shape %wg [[0], [1, 2]] output_shape [40, 2, 32] : memref<40x64xf8E4M3FN> into memref<40x2x32xf8E4M3FN>
  %bg = memref.alloc() : memref<40x2x32xbf16>
  linalg.generic {indexing_maps = [#id_m, #scale_m, #id_m], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gblocks, %sg : memref<40x2x32xf8E4M3FN>, memref<3x2xf32>) outs(%bg : memref<40x2x32xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 32>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %bgm = memref.collapse_shape %bg [[0], [1, 2]] : memref<40x2x32xbf16> into memref<40x64xbf16>
  %gate = memref.alloc(%t) : memref<?x40xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x40xf32>)
  linalg.generic {indexing_maps = [#a_m, #b_m, #c_m], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %bgm : memref<?x64xbf16>, memref<40x64xbf16>) outs(%gate : memref<?x40xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %bg : memref<40x2x32xbf16>
  %ublocks = memref.expand_shape %wu [[0], [1, 2]] output_shape [40, 2, 32] : memref<40x64xf8E4M3FN> into memref<40x2x32xf8E4M3FN>
  %bu = memref.alloc() : memref<40x2x32xbf16>
  linalg.generic {indexing_maps = [#id_m, #scale_m, #id_m], iterator_types = ["parallel", "parallel", "parallel"]} ins(%ublocks, %su : memref<40x2x32xf8E4M3FN>, memref<3x2xf32>) outs(%bu : memref<40x2x32xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 32>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %bum = memref.collapse_shape %bu [[0], [1, 2]] : memref<40x2x32xbf16> into memref<40x64xbf16>
  %up = memref.alloc(%t) : memref<?x40xf32>
  linalg.fill ins(%zero : f32) outs(%up : memref<?x40xf32>)
  linalg.generic {indexing_maps = [#a_m, #b_m, #c_m], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %bum : memref<?x64xbf16>, memref<40x64xbf16>) outs(%up : memref<?x40xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %bu : memref<40x2x32xbf16>
  %act = memref.alloc(%t) : memref<?x40xbf16>
  linalg.generic {indexing_maps = [#same_m, #same_m, #same_m], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x40xf32>, memref<?x40xf32>) outs(%act : memref<?x40xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %pr = arith.mulf %si, %u : f32
    %r = arith.truncf %pr : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x40xf32>
  memref.dealloc %up : memref<?x40xf32>
  memref.copy %act, %out : memref<?x40xbf16> to memref<?x40xbf16>
  memref.dealloc %act : memref<?x40xbf16>
  return
}
#token_r = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot_r = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids_r = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out_r = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#same_r = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @fp8_layer(%x: memref<?x64xbf16>, %idx: memref<?x2xi64>, %wg: memref<4x32x64xf8E4M3FN>, %wu: memref<4x32x64xf8E4M3FN>, %wd: memref<4x64x32xf8E4M3FN>, %sg: memref<4x2x2xf32>, %su: memref<4x2x2xf32>, %sd: memref<4x4x1xf32>, %out: memref<?x2x64xf32>, %t: index) {
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x2x32xf32>
  %up = memref.alloc(%t) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token_r, #ids_r, #out_r], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%gate : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm = array<i64: 16, 32>} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<4x32x64xf8E4M3FN>
    %wf = arith.extf %wv : f8E4M3FN to f32
    %bn = arith.divui %n, %c16 : index
    %bk = arith.divui %k, %c32 : index
    %sv = memref.load %sg[%e, %bn, %bk] : memref<4x2x2xf32>
    %wd0 = arith.mulf %wf, %sv : f32
    %wr = arith.truncf %wd0 : f32 to bf16
    %wrf = arith.extf %wr : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wrf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x2x32xf32>)
  linalg.generic {indexing_maps = [#token_r, #ids_r, #out_r], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x64xbf16>, memref<?x2xi64>) outs(%up : memref<?x2x32xf32>) attrs = {dsc.library_grouped_gemm = array<i64: 16, 32>} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<4x32x64xf8E4M3FN>
    %wf = arith.extf %wv : f8E4M3FN to f32
    %bn = arith.divui %n, %c16 : index
    %bk = arith.divui %k, %c32 : index
    %sv = memref.load %su[%e, %bn, %bk] : memref<4x2x2xf32>
    %wd0 = arith.mulf %wf, %sv : f32
    %wr = arith.truncf %wd0 : f32 to bf16
    %wrf = arith.extf %wr : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wrf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %act = memref.alloc(%t) : memref<?x2x32xbf16>
  linalg.generic {indexing_maps = [#same_r, #same_r, #same_r], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x2x32xf32>, memref<?x2x32xf32>) outs(%act : memref<?x2x32xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x2x32xf32>
  memref.dealloc %up : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x2x64xf32>)
  linalg.generic {indexing_maps = [#slot_r, #ids_r, #out_r], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x2x32xbf16>, memref<?x2xi64>) outs(%out : memref<?x2x64xf32>) attrs = {dsc.library_grouped_gemm = array<i64: 16, 32>} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c3 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<4x64x32xf8E4M3FN>
    %wf = arith.extf %wv : f8E4M3FN to f32
    %bn = arith.divui %n, %c16 : index
    %bk = arith.divui %k, %c32 : index
    %sv = memref.load %sd[%e, %bn, %bk] : memref<4x4x1xf32>
    %wd0 = arith.mulf %wf, %sv : f32
    %wr = arith.truncf %wd0 : f32 to bf16
    %wrf = arith.extf %wr : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wrf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x2x32xbf16>
  return
}
