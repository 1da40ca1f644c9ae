// Routed experts' GEMMs per slot as dsc-lower-to-linalg{fixed-shapes
// bf16-linear-inputs} marks them, for dsc-library-gemms: a per-token input
// (the gate and up projections) and a per-slot one (the down projection),
// alone and as a layer's three (one sorting of the slots, one gather for
// gate and up), a layer with its SwiGLU marked (gate, up and the SwiGLU
// one fused kernel), and that layer with its weighted combine marked.
// kernels-emulated.test runs the result on the emulator.
#token = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
#slot = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#ids = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @per_token(%x: memref<?x40xbf16>, %idx: memref<?x3xi64>, %w: memref<5x136x40xbf16>, %c: memref<?x3x136xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  linalg.fill ins(%zero : f32) outs(%c : memref<?x3x136xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x40xbf16>, memref<?x3xi64>) outs(%c : memref<?x3x136xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %w[%e, %n, %k] : memref<5x136x40xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
func.func @per_slot(%x: memref<?x3x40xbf16>, %idx: memref<?x3xi64>, %w: memref<5x136x40xbf16>, %c: memref<?x3x136xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  linalg.fill ins(%zero : f32) outs(%c : memref<?x3x136xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x3x40xbf16>, memref<?x3xi64>) outs(%c : memref<?x3x136xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %w[%e, %n, %k] : memref<5x136x40xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
func.func @layer(%x: memref<?x40xbf16>, %act: memref<?x3x40xbf16>, %idx: memref<?x3xi64>, %wg: memref<5x136x40xbf16>, %wu: memref<5x136x40xbf16>, %wd: memref<5x136x40xbf16>, %outg: memref<?x3x136xf32>, %outu: memref<?x3x136xf32>, %outd: memref<?x3x136xf32>) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  // The outputs in buffers of their own (as bufferization makes them): an
  // argument might alias the indices, and then nothing could be shared.
  %t = memref.dim %idx, %c0 : memref<?x3xi64>
  %cg = memref.alloc(%t) : memref<?x3x136xf32>
  %cu = memref.alloc(%t) : memref<?x3x136xf32>
  %cd = memref.alloc(%t) : memref<?x3x136xf32>
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x40xbf16>, memref<?x3xi64>) outs(%cg : memref<?x3x136xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<5x136x40xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x40xbf16>, memref<?x3xi64>) outs(%cu : memref<?x3x136xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<5x136x40xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x3x40xbf16>, memref<?x3xi64>) outs(%cd : memref<?x3x136xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<5x136x40xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.copy %cg, %outg : memref<?x3x136xf32> to memref<?x3x136xf32>
  memref.copy %cu, %outu : memref<?x3x136xf32> to memref<?x3x136xf32>
  memref.copy %cd, %outd : memref<?x3x136xf32> to memref<?x3x136xf32>
  memref.dealloc %cg : memref<?x3x136xf32>
  memref.dealloc %cu : memref<?x3x136xf32>
  memref.dealloc %cd : memref<?x3x136xf32>
  return
}
// A MoE layer as dsc-lower-to-linalg{fixed-shapes bf16-linear-inputs}
// writes it: gate and up GEMMs, the marked SwiGLU from their sums to the
// down GEMM's bf16 input (width 72: two column blocks of the fused
// kernel's 144 packed columns), the down GEMM.
#same = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @swiglu_layer(%x: memref<?x40xbf16>, %idx: memref<?x3xi64>, %wg: memref<5x72x40xbf16>, %wu: memref<5x72x40xbf16>, %wd: memref<5x40x72xbf16>, %out: memref<?x3x40xf32>) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %t = memref.dim %idx, %c0 : memref<?x3xi64>
  %gate = memref.alloc(%t) : memref<?x3x72xf32>
  %up = memref.alloc(%t) : memref<?x3x72xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x3x72xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x40xbf16>, memref<?x3xi64>) outs(%gate : memref<?x3x72xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<5x72x40xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x3x72xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x40xbf16>, memref<?x3xi64>) outs(%up : memref<?x3x72xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<5x72x40xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %act = memref.alloc(%t) : memref<?x3x72xbf16>
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x3x72xf32>, memref<?x3x72xf32>) outs(%act : memref<?x3x72xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x3x72xf32>
  memref.dealloc %up : memref<?x3x72xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x3x40xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x3x72xbf16>, memref<?x3xi64>) outs(%out : memref<?x3x40xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<5x40x72xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x3x72xbf16>
  return
}
// The same layer with its weighted combine marked: the combine reads the
// down GEMM's rows in expert order through each slot's row.
func.func @moe_layer(%x: memref<?x40xbf16>, %idx: memref<?x3xi64>, %wg: memref<5x72x40xbf16>, %wu: memref<5x72x40xbf16>, %wd: memref<5x40x72xbf16>, %weights: memref<?x3xf32>, %y: memref<?x40xf32>) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %t = memref.dim %idx, %c0 : memref<?x3xi64>
  %gate = memref.alloc(%t) : memref<?x3x72xf32>
  %up = memref.alloc(%t) : memref<?x3x72xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x3x72xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x40xbf16>, memref<?x3xi64>) outs(%gate : memref<?x3x72xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %wg[%e, %n, %k] : memref<5x72x40xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x3x72xf32>)
  linalg.generic {indexing_maps = [#token, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %idx : memref<?x40xbf16>, memref<?x3xi64>) outs(%up : memref<?x3x72xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %wu[%e, %n, %k] : memref<5x72x40xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %act = memref.alloc(%t) : memref<?x3x72xbf16>
  linalg.generic {indexing_maps = [#same, #same, #same], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gate, %up : memref<?x3x72xf32>, memref<?x3x72xf32>) outs(%act : memref<?x3x72xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x3x72xf32>
  memref.dealloc %up : memref<?x3x72xf32>
  %out = memref.alloc(%t) : memref<?x3x40xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<?x3x40xf32>)
  linalg.generic {indexing_maps = [#slot, #ids, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %idx : memref<?x3x72xbf16>, memref<?x3xi64>) outs(%out : memref<?x3x40xf32>) attrs = {dsc.library_grouped_gemm} {
  ^bb0(%a: bf16, %i: i64, %acc: f32):
    %n = linalg.index 2 : index
    %k = linalg.index 3 : index
    %e0 = arith.index_cast %i : i64 to index
    %e1 = arith.maxsi %e0, %c0 : index
    %e = arith.minsi %e1, %c4 : index
    %wv = memref.load %wd[%e, %n, %k] : memref<5x40x72xbf16>
    %wf = arith.extf %wv : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %act : memref<?x3x72xbf16>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x40xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d0, d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%weights, %out : memref<?x3xf32>, memref<?x3x40xf32>) outs(%y : memref<?x40xf32>) attrs = {dsc.library_combine} {
  ^bb0(%w: f32, %v: f32, %acc: f32):
    %p = arith.mulf %w, %v : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.dealloc %out : memref<?x3x40xf32>
  return
}
