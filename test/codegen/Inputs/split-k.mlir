// Linear layers whose K dsc-library-gemms{split-k-blocks=N} splits when
// their grid of 64-row tiles is small (a decode's few rows times a narrow
// layer): 40 outputs of K 256 (4 K steps: parts of 2 or 4), one with a
// bf16 weight and one with an e4m3 weight and its 16 x 128 block scales,
// dequantized for the GEMM as dsc-lower-to-linalg{bf16-linear-inputs}
// writes it (the mark's contract); and dense MLPs whose gate and up (40
// outputs each, K 256) the fused SwiGLU kernel would run, of bf16 weights
// and of e4m3 ones; and a wider one (100 outputs each: the fused kernel's
// grid is twice gate's as a linear layer), which splits only when the
// fused kernel's grid is small. kernels-emulated.test runs the result on
// the emulator; library-gemms.mlir checks the launches.
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
#same = affine_map<(d0, d1) -> (d0, d1)>
func.func @split_mlp_bf16(%x: memref<?x256xbf16>, %wg: memref<40x256xbf16>, %wu: memref<40x256xbf16>, %out: memref<?x40xbf16>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x40xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x40xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wg : memref<?x256xbf16>, memref<40x256xbf16>) outs(%gate : memref<?x40xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  %up = memref.alloc(%t) : memref<?x40xf32>
  linalg.fill ins(%zero : f32) outs(%up : memref<?x40xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wu : memref<?x256xbf16>, memref<40x256xbf16>) outs(%up : memref<?x40xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  %act = memref.alloc(%t) : memref<?x40xbf16>
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x40xf32>, memref<?x40xf32>) outs(%act : memref<?x40xbf16>) attrs = {dsc.library_swiglu} {
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
func.func @split_mlp_fp8w(%x: memref<?x256xbf16>, %wg: memref<40x256xf8E4M3FN>, %sg: memref<3x2xf32>, %wu: memref<40x256xf8E4M3FN>, %su: memref<3x2xf32>, %out: memref<?x40xbf16>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gblocks = memref.expand_shape %wg [[0], [1, 2]] output_shape [40, 2, 128] : memref<40x256xf8E4M3FN> into memref<40x2x128xf8E4M3FN>
  %gb = memref.alloc() : memref<40x2x128xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gblocks, %sg : memref<40x2x128xf8E4M3FN>, memref<3x2xf32>) outs(%gb : memref<40x2x128xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 128>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %gbm = memref.collapse_shape %gb [[0], [1, 2]] : memref<40x2x128xbf16> into memref<40x256xbf16>
  %gate = memref.alloc(%t) : memref<?x40xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x40xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %gbm : memref<?x256xbf16>, memref<40x256xbf16>) outs(%gate : memref<?x40xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %gb : memref<40x2x128xbf16>
  %ublocks = memref.expand_shape %wu [[0], [1, 2]] output_shape [40, 2, 128] : memref<40x256xf8E4M3FN> into memref<40x2x128xf8E4M3FN>
  %ub = memref.alloc() : memref<40x2x128xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%ublocks, %su : memref<40x2x128xf8E4M3FN>, memref<3x2xf32>) outs(%ub : memref<40x2x128xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 128>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %ubm = memref.collapse_shape %ub [[0], [1, 2]] : memref<40x2x128xbf16> into memref<40x256xbf16>
  %up = memref.alloc(%t) : memref<?x40xf32>
  linalg.fill ins(%zero : f32) outs(%up : memref<?x40xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %ubm : memref<?x256xbf16>, memref<40x256xbf16>) outs(%up : memref<?x40xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %ub : memref<40x2x128xbf16>
  %act = memref.alloc(%t) : memref<?x40xbf16>
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x40xf32>, memref<?x40xf32>) outs(%act : memref<?x40xbf16>) attrs = {dsc.library_swiglu} {
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
func.func @split_mlp_wide(%x: memref<?x256xbf16>, %wg: memref<100x256xbf16>, %wu: memref<100x256xbf16>, %out: memref<?x100xbf16>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %gate = memref.alloc(%t) : memref<?x100xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x100xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wg : memref<?x256xbf16>, memref<100x256xbf16>) outs(%gate : memref<?x100xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  %up = memref.alloc(%t) : memref<?x100xf32>
  linalg.fill ins(%zero : f32) outs(%up : memref<?x100xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wu : memref<?x256xbf16>, memref<100x256xbf16>) outs(%up : memref<?x100xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  %act = memref.alloc(%t) : memref<?x100xbf16>
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x100xf32>, memref<?x100xf32>) outs(%act : memref<?x100xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %pr = arith.mulf %si, %u : f32
    %r = arith.truncf %pr : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x100xf32>
  memref.dealloc %up : memref<?x100xf32>
  memref.copy %act, %out : memref<?x100xbf16> to memref<?x100xbf16>
  memref.dealloc %act : memref<?x100xbf16>
  return
}
