// A linear layer as dsc-lower-to-linalg{bf16-linear-inputs} and
// bufferization leave it (y [M, 200] = x [M, 136] times w [200, 136]
// transposed, marked dsc.library_gemm), for dsc-library-gemms with
// large-tiles and wgmma. kernels-emulated.test runs the result on the
// emulator with few rows (the 64-row mma.sync tile) and with many (sm_90a's
// gemm_wgmma_bf16_tn on the descriptors the host code asks for).
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
