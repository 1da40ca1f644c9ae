// dsc-lower-to-linalg{bf16-linear-inputs} (GPU pipelines; the CPU's with
// dsc-compile --bf16-linear-inputs): a linear layer with a bf16 weight
// rounds its input to bf16 and marks its GEMM (bf16 x bf16, f32 sums)
// dsc.library_gemm, for dsc-library-gemms. f32 and FP8 weights keep the
// plain GEMM. test/e2e/fixed-shapes.test checks the numerics against
// transformers.
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

// CHECK-LABEL: func.func @f32_weight
// CHECK-NOT: bf16
// CHECK-NOT: dsc.library_gemm
// CHECK: return
func.func @f32_weight(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>) -> tensor<?x16xf32> {
  %0 = dsc.linear %x, %w : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @fp8_weight
// CHECK-NOT: dsc.library_gemm
// CHECK: return
func.func @fp8_weight(%x: tensor<?x8xf32>, %w: tensor<4x8xf8E4M3FN>, %s: tensor<2x2xf32>) -> tensor<?x4xf32> {
  %0 = dsc.linear %x, %w scales %s {block_size = array<i64: 2, 4>} : (tensor<?x8xf32>, tensor<4x8xf8E4M3FN>, tensor<2x2xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}
