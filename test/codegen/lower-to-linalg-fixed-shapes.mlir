// The fixed-shape forms (dsc-lower-to-linalg{fixed-shapes}, the GPU
// pipeline's): no size and no loop bound depends on a tensor's values, so
// the host code of a GPU step launches kernels and reads nothing they
// computed (dsc-check-graph-capture). Their numerics are checked against
// transformers by test/e2e/fixed-shapes.test.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg=fixed-shapes | FileCheck %s

// Routed experts per slot: [tokens, top_k, width] GEMMs reading each
// slot's expert matrix through its routing index (FP8 dequantized element
// by element with its block's scale), SwiGLU, the down projection per
// slot, and each token's weighted sum over its slots. No loop, no sort.
// CHECK-LABEL: func.func @moe_fp8
// CHECK-NOT: scf.
// CHECK: %[[GATE:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %arg2 : tensor<?x64xf32>, tensor<?x4xi64>)
// CHECK: %[[E:.*]] = arith.minsi
// CHECK: tensor.extract %arg3[%[[E]], %{{.*}}, %{{.*}}] : tensor<16x32x64xf8E4M3FN>
// CHECK: tensor.extract %arg5[%[[E]], %{{.*}}, %{{.*}}] : tensor<16x2x4xf32>
// CHECK: } -> tensor<?x4x32xf32>
// CHECK: %[[UP:.*]] = linalg.generic
// CHECK: } -> tensor<?x4x32xf32>
// CHECK: %[[ACT:.*]] = linalg.generic {{.*}} ins(%[[GATE]], %[[UP]] : tensor<?x4x32xf32>, tensor<?x4x32xf32>)
// CHECK: math.exp
// CHECK: %[[DOWN:.*]] = linalg.generic {{.*}} ins(%[[ACT]], %arg2 : tensor<?x4x32xf32>, tensor<?x4xi64>)
// CHECK: tensor.extract %arg4[%{{.*}}, %{{.*}}, %{{.*}}] : tensor<16x64x32xf8E4M3FN>
// CHECK: } -> tensor<?x4x64xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg1, %[[DOWN]] : tensor<?x4xf32>, tensor<?x4x64xf32>)
// CHECK-NOT: scf.
// CHECK: return
func.func @moe_fp8(%x: tensor<?x64xf32>, %w: tensor<?x4xf32>, %i: tensor<?x4xi64>, %g: tensor<16x32x64xf8E4M3FN>, %d: tensor<16x64x32xf8E4M3FN>, %gs: tensor<16x2x4xf32>, %ds: tensor<16x4x2xf32>) -> tensor<?x64xf32> {
  %0 = dsc.moe %x, %w, %i experts(%g, %g, %d) scales(%gs, %gs, %ds) {expert_block_size = array<i64: 16, 16>} : (tensor<?x64xf32>, tensor<?x4xf32>, tensor<?x4xi64>, tensor<16x32x64xf8E4M3FN>, tensor<16x32x64xf8E4M3FN>, tensor<16x64x32xf8E4M3FN>, tensor<16x2x4xf32>, tensor<16x2x4xf32>, tensor<16x4x2xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// Decode: the keys span the whole block table (its width times the page
// size, plus the new tokens), not max(past) + S: nothing reads `past` to
// size them. The causal mask still hides the keys past each sequence.
// CHECK-LABEL: func.func @mla_decode
// CHECK-NOT: arith.maxsi %{{.*}} : i64
// CHECK: %[[PAGES:.*]] = tensor.dim %arg6, %c1 : tensor<?x?xi64>
// CHECK: %[[CAPACITY:.*]] = arith.muli %[[PAGES]], %c64 : index
// CHECK: %[[T:.*]] = arith.addi %[[CAPACITY]], %{{.*}} : index
// CHECK: tensor.empty(%{{.*}}, %[[T]]) : tensor<?x?x40xf32>
// CHECK: tensor.extract %arg7
// CHECK: arith.cmpi ugt
// CHECK: } -> tensor<?x1x4x16xf32>
func.func @mla_decode(%qn: tensor<?x1x4x16xf32>, %qp: tensor<?x1x4x8xf32>, %c: tensor<?x1x32xf32>, %kp: tensor<?x1x8xf32>, %w: tensor<128x32xf32>, %pages: tensor<?x64x40xf32>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x1x4x16xf32> {
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x1x4x16xf32>, tensor<?x1x4x8xf32>, tensor<?x1x32xf32>, tensor<?x1x8xf32>, tensor<128x32xf32>, tensor<?x64x40xf32>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x1x4x16xf32>
  return %0 : tensor<?x1x4x16xf32>
}
