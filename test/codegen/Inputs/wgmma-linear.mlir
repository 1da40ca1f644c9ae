// A linear layer as dsc-lower-to-linalg{bf16-linear-inputs} and
// bufferization leave it (y [M, 200] = x [M, 136] times w [200, 136]
// transposed, marked dsc.library_gemm), for dsc-library-gemms with
// large-tiles and wgmma. kernels-emulated.test runs the result on the
// emulator with few rows (the 64-row mma.sync tile) and with many (sm_90a's
// gemm_wgmma_bf16_tn on the descriptors the host code asks for); and a
// dense MLP's gate and up (width 72) with their marked SwiGLU, which runs
// batched_gemm_swiglu_bf16_tn_m64 with few rows and gemm_wgmma_swiglu_bf16_tn
// with many.
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @linear(%x: memref<?x136xbf16>, %w: memref<200x136xbf16>, %y: memref<?x200xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<?x200xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x136xbf16>, memref<200x136xbf16>) outs(%y : memref<?x200xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%xa: bf16, %wb: bf16, %acc: f32):
    %xf = arith.extf %xa : bf16 to f32
    %wf = arith.extf %wb : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  return
}
#e = affine_map<(d0, d1) -> (d0, d1)>
func.func @mlp(%x: memref<?x136xbf16>, %wg: memref<72x136xbf16>, %wu: memref<72x136xbf16>, %out: memref<?x72xbf16>, %t: index) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %act = memref.alloc(%t) : memref<?x72xbf16>
  %gate = memref.alloc(%t) : memref<?x72xf32>
  %up = memref.alloc(%t) : memref<?x72xf32>
  linalg.fill ins(%zero : f32) outs(%gate : memref<?x72xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wg : memref<?x136xbf16>, memref<72x136xbf16>) outs(%gate : memref<?x72xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%up : memref<?x72xf32>)
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %wu : memref<?x136xbf16>, memref<72x136xbf16>) outs(%up : memref<?x72xf32>) attrs = {dsc.library_gemm} {
  ^bb0(%in: bf16, %w: bf16, %acc: f32):
    %wf = arith.extf %w : bf16 to f32
    %af = arith.extf %in : bf16 to f32
    %p = arith.mulf %af, %wf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#e, #e, #e], iterator_types = ["parallel", "parallel"]} ins(%gate, %up : memref<?x72xf32>, memref<?x72xf32>) outs(%act : memref<?x72xbf16>) attrs = {dsc.library_swiglu} {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %de = arith.addf %ex, %one : f32
    %si = arith.divf %g, %de : f32
    %m = arith.mulf %si, %u : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %gate : memref<?x72xf32>
  memref.dealloc %up : memref<?x72xf32>
  memref.copy %act, %out : memref<?x72xbf16> to memref<?x72xbf16>
  memref.dealloc %act : memref<?x72xbf16>
  return
}
