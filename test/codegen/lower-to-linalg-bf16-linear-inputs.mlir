// dsc-lower-to-linalg{bf16-linear-inputs} (GPU pipelines; the CPU's with
// dsc-compile --bf16-linear-inputs): a linear layer with a bf16 weight
// rounds its input to bf16 and marks its GEMM (bf16 x bf16, f32 sums)
// dsc.library_gemm, for dsc-library-gemms; so does an FP8 weight,
// dequantized to bf16 first. f32 weights keep the plain GEMM.
// test/e2e/fixed-shapes.test checks the numerics against transformers.
// RUN: dsc-opt %s --dsc-lower-to-linalg=bf16-linear-inputs | FileCheck %s

// CHECK-LABEL: func.func @bf16_weight
// CHECK: %[[X:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<?x8xf32>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: } -> tensor<?x8xbf16>
// CHECK: linalg.generic {{.*}} ins(%[[X]], %arg1 : tensor<?x8xbf16>, tensor<16x8xbf16>) {{.*}} attrs = {dsc.library_gemm}
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: } -> tensor<?x16xf32>
func.func @bf16_weight(%x: tensor<?x8xf32>, %w: tensor<16x8xbf16>) -> tensor<?x16xf32> {
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<16x8xbf16>) -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// A down projection of a dsc.swiglu (a dense MLP, a shared expert): the
// SwiGLU and the rounding of its result are one op, marked
// dsc.library_swiglu (dsc-library-gemms fuses it with the gate and up
// GEMMs), the same values.
// CHECK-LABEL: func.func @mlp
// CHECK: %[[G:.*]] = linalg.generic {{.*}} attrs = {dsc.library_gemm}
// CHECK: %[[U:.*]] = linalg.generic {{.*}} attrs = {dsc.library_gemm}
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[U]] : tensor<?x16xf32>, tensor<?x16xf32>) outs(%{{.*}} : tensor<?x16xbf16>) attrs = {dsc.library_swiglu}
// CHECK: arith.negf
// CHECK-NEXT: math.exp
// CHECK-NEXT: arith.addf
// CHECK-NEXT: arith.divf
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: arith.truncf %{{.*}} : f32 to bf16
// CHECK-NOT: linalg.generic
// CHECK: linalg.generic {{.*}} ins(%[[A]], %arg3 : tensor<?x16xbf16>, tensor<8x16xbf16>) {{.*}} attrs = {dsc.library_gemm}
// An f32 down weight keeps the plain SwiGLU, unmarked.
// CHECK-LABEL: func.func @mlp_f32_down
// CHECK-NOT: dsc.library_swiglu
// CHECK: return
func.func @mlp(%x: tensor<?x8xf32>, %wg: tensor<16x8xbf16>, %wu: tensor<16x8xbf16>, %wd: tensor<8x16xbf16>) -> tensor<?x8xf32> {
  %g = dsc.linear %x, %wg : (tensor<?x8xf32>, tensor<16x8xbf16>) -> tensor<?x16xf32>
  %u = dsc.linear %x, %wu : (tensor<?x8xf32>, tensor<16x8xbf16>) -> tensor<?x16xf32>
  %h = dsc.swiglu %g, %u : tensor<?x16xf32>
  %y = dsc.linear %h, %wd : (tensor<?x16xf32>, tensor<8x16xbf16>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
func.func @mlp_f32_down(%x: tensor<?x8xf32>, %wg: tensor<16x8xbf16>, %wu: tensor<16x8xbf16>, %wd: tensor<8x16xf32>) -> tensor<?x8xf32> {
  %g = dsc.linear %x, %wg : (tensor<?x8xf32>, tensor<16x8xbf16>) -> tensor<?x16xf32>
  %u = dsc.linear %x, %wu : (tensor<?x8xf32>, tensor<16x8xbf16>) -> tensor<?x16xf32>
  %h = dsc.swiglu %g, %u : tensor<?x16xf32>
  %y = dsc.linear %h, %wd : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @f32_weight
// CHECK-NOT: bf16
// CHECK-NOT: dsc.library_gemm
// CHECK: return
func.func @f32_weight(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>) -> tensor<?x16xf32> {
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// A block-scaled (FP8) weight is dequantized to bf16 (each block times its
// scale, rounded once) into a tensor of its own (alloc_tensor: an empty
// tensor would be CSE'd with another weight's, and the two share a buffer)
// and its GEMM marked too.
// CHECK-LABEL: func.func @fp8_weight
// CHECK: %[[INIT:.*]] = bufferization.alloc_tensor() : tensor<4x2x4xbf16>
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %arg2 : tensor<4x2x4xf8E4M3FN>, tensor<2x2xf32>) outs(%[[INIT]] : tensor<4x2x4xbf16>) attrs = {dsc.library_dequantize = array<i64: 2, 4>}
// CHECK: arith.mulf %{{.*}}, %in_{{.*}} : f32
// CHECK-NEXT: arith.truncf %{{.*}} : f32 to bf16
// CHECK-NEXT: linalg.yield %{{.*}} : bf16
// CHECK: %[[WB:.*]] = tensor.collapse_shape %[[W]] {{.*}} into tensor<4x8xbf16>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[WB]] : tensor<?x8xbf16>, tensor<4x8xbf16>) {{.*}} attrs = {dsc.library_gemm}
// CHECK: return
func.func @fp8_weight(%x: tensor<?x8xf32>, %w: tensor<4x8xf8E4M3FN>, %s: tensor<2x2xf32>) -> tensor<?x4xf32> {
  %0 = dsc.linear %x, %w scales %s {block_size = array<i64: 2, 4>} : (tensor<?x8xf32>, tensor<4x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// Routed experts with bf16 stacks: the inputs of their GEMMs (the tokens'
// rows, the SwiGLU activations) are rounded to bf16. With fixed-shapes
// (GPU targets), each GEMM per slot is marked dsc.library_grouped_gemm for
// dsc-library-gemms; its stack is read in the body, the expert clamped.
// The SwiGLU between them is one op from the gate's and up's f32 sums to
// the down projection's bf16 input, marked dsc.library_swiglu (for the
// library's grouped GEMM with SwiGLU).
// RUN: dsc-opt %s --dsc-lower-to-linalg="bf16-linear-inputs fixed-shapes" | FileCheck %s --check-prefix=FIXED
// FIXED-LABEL: func.func @bf16_experts
// FIXED: %[[X:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<?x8xf32>)
// FIXED: arith.truncf %{{.*}} : f32 to bf16
// FIXED: %[[G:.*]] = linalg.generic {{.*}} ins(%[[X]], %arg2 : tensor<?x8xbf16>, tensor<?x2xi64>) {{.*}} attrs = {dsc.library_grouped_gemm}
// FIXED: arith.maxsi
// FIXED: arith.minsi %{{.*}}, %c3
// FIXED: tensor.extract %arg3
// FIXED: %[[U:.*]] = linalg.generic {{.*}} ins(%[[X]], %arg2 : tensor<?x8xbf16>, tensor<?x2xi64>) {{.*}} attrs = {dsc.library_grouped_gemm}
// FIXED: tensor.extract %arg4
// FIXED: linalg.generic {{.*}} ins(%[[G]], %[[U]] : tensor<?x2x6xf32>, tensor<?x2x6xf32>) outs(%{{.*}} : tensor<?x2x6xbf16>) attrs = {dsc.library_swiglu}
// FIXED: arith.negf
// FIXED-NEXT: math.exp
// FIXED-NEXT: arith.addf
// FIXED-NEXT: arith.divf
// FIXED-NEXT: arith.mulf
// FIXED-NEXT: arith.truncf %{{.*}} : f32 to bf16
// FIXED: } -> tensor<?x2x6xbf16>
// FIXED: %[[D:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %arg2 : tensor<?x2x6xbf16>, tensor<?x2xi64>) {{.*}} attrs = {dsc.library_grouped_gemm}
// FIXED: tensor.extract %arg5
// And the weighted combine after them, marked dsc.library_combine.
// FIXED: linalg.generic {{.*}} ins(%arg1, %[[D]] : tensor<?x2xf32>, tensor<?x2x8xf32>) outs(%{{.*}} : tensor<?x8xf32>) attrs = {dsc.library_combine}
// FIXED-LABEL: func.func @f32_experts
// FIXED-NOT: dsc.library_
// FIXED-NOT: bf16
// FIXED: return
// Sparse dispatch (CPU code without fixed-shapes) rounds the same inputs,
// unmarked.
// CHECK-LABEL: func.func @bf16_experts
// CHECK-NOT: dsc.library_grouped_gemm
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: } -> tensor<?x8xbf16>
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: } -> tensor<?x6xbf16>
// CHECK-NOT: dsc.library_grouped_gemm
// CHECK: return
func.func @bf16_experts(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xbf16>, %u: tensor<4x6x8xbf16>, %d: tensor<4x8x6xbf16>) -> tensor<?x8xf32> {
  %0 = dsc.moe %x, %w, %i experts(%g, %u, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xbf16>, tensor<4x6x8xbf16>, tensor<4x8x6xbf16>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
func.func @f32_experts(%x: tensor<?x8xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x8xf32> {
  %0 = dsc.moe %x, %w, %i experts(%g, %u, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// e4m3 stacks with block scales run on tensor cores too: each GEMM per slot
// marked with the block size, its weight bf16(W[e, n, k] * S[e, n / 16,
// k / 16]) read in the body; the same SwiGLU and combine marks.
// FIXED-LABEL: func.func @fp8_experts
// FIXED: %[[X8:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<?x32xf32>)
// FIXED: %[[G8:.*]] = linalg.generic {{.*}} ins(%[[X8]], %arg2 : tensor<?x32xbf16>, tensor<?x2xi64>) {{.*}} attrs = {dsc.library_grouped_gemm = array<i64: 16, 16>}
// FIXED: tensor.extract %arg3[%[[E8:.*]], %{{.*}}, %{{.*}}] : tensor<4x16x32xf8E4M3FN>
// FIXED: %[[N16:.*]] = arith.divui %{{.*}}, %c16
// FIXED: %[[K16:.*]] = arith.divui %{{.*}}, %c16
// FIXED: tensor.extract %arg6[%[[E8]], %[[N16]], %[[K16]]] : tensor<4x1x2xf32>
// FIXED: arith.mulf
// FIXED-NEXT: arith.truncf %{{.*}} : f32 to bf16
// FIXED-NEXT: arith.extf %{{.*}} : bf16 to f32
// FIXED: attrs = {dsc.library_grouped_gemm = array<i64: 16, 16>}
// FIXED: attrs = {dsc.library_swiglu}
// FIXED: attrs = {dsc.library_grouped_gemm = array<i64: 16, 16>}
// FIXED: attrs = {dsc.library_combine}
// FIXED: return
// Sparse dispatch dequantizes each expert's matrices to bf16 (one
// rounding) for its GEMMs.
// CHECK-LABEL: func.func @fp8_experts
// CHECK-NOT: dsc.library_grouped_gemm
// CHECK: tensor.extract_slice %arg3
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<16x2x16xf8E4M3FN>, tensor<1x2xf32>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: } -> tensor<16x2x16xbf16>
// CHECK: return
func.func @fp8_experts(%x: tensor<?x32xf32>, %w: tensor<?x2xf32>, %i: tensor<?x2xi64>, %g: tensor<4x16x32xf8E4M3FN>, %u: tensor<4x16x32xf8E4M3FN>, %d: tensor<4x32x16xf8E4M3FN>, %gs: tensor<4x1x2xf32>, %us: tensor<4x1x2xf32>, %ds: tensor<4x2x1xf32>) -> tensor<?x32xf32> {
  %0 = dsc.moe %x, %w, %i experts(%g, %u, %d) scales(%gs, %us, %ds) {expert_block_size = array<i64: 16, 16>} : (tensor<?x32xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x16x32xf8E4M3FN>, tensor<4x16x32xf8E4M3FN>, tensor<4x32x16xf8E4M3FN>, tensor<4x1x2xf32>, tensor<4x1x2xf32>, tensor<4x2x1xf32>) -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}
