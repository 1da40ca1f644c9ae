// dsc-lower-to-linalg{library-router} (GPU pipelines): a V3 router the
// kernel library has (sigmoid, noaux_tc, an f32 bias; the fixtures' 16
// experts in 4 groups) is its GEMM, then dsc.noaux_tc_route, its ids
// widened to the gate's i64 indices.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="library-router" | FileCheck %s
// It bufferizes (as the GPU pipeline does): on buffers it writes ids and
// weights and returns nothing.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="library-router" --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map allow-return-allocs-from-loops" | FileCheck %s --check-prefix=BUFFERS
// Without the option (the CPU), the generated router.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg | FileCheck %s --check-prefix=CPU

// CHECK-LABEL: func.func @v3_router
// CHECK: %[[LOGITS:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<16x8xf32>) outs(%{{.*}} : tensor<?x16xf32>)
// CHECK: %[[R:.*]]:2 = dsc.noaux_tc_route %[[LOGITS]], %{{.*}} outs(%{{.*}}, %{{.*}}) {n_group = 4 : i64, norm_topk_prob = true, routed_scaling_factor = 2.500000e+00 : f64, topk_group = 2 : i64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x4xi32>, tensor<?x4xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
// CHECK: %[[I:.*]] = linalg.generic {{.*}} ins(%[[R]]#0 : tensor<?x4xi32>) outs(%{{.*}} : tensor<?x4xi64>)
// CHECK: arith.extsi
// CHECK: return %[[R]]#1, %[[I]]
// BUFFERS-LABEL: func.func @v3_router
// BUFFERS: dsc.noaux_tc_route %{{.*}}, %{{.*}} outs(%{{.*}}, %{{.*}}) {{.*}} : memref<?x16xf32>, memref<16xf32>, memref<?x4xi32>, memref<?x4xf32>{{$}}
// CPU-LABEL: func.func @v3_router
// CPU-NOT: dsc.noaux_tc_route
// CPU: return
func.func @v3_router(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>) {
  %0:2 = dsc.gate %x, %w bias %b {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 4 : i64, n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : (tensor<?x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>)
  return %0#0, %0#1 : tensor<?x4xf32>, tensor<?x4xi64>
}

// -----

// V2's softmax router, a count the library lacks, no bias: generated.
// CHECK-LABEL: func.func @not_on_library
// CHECK-NOT: dsc.noaux_tc_route
// CHECK: return
func.func @not_on_library(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>, %w32: tensor<32x8xf32>, %b32: tensor<32xf32>) -> (tensor<?x6xf32>, tensor<?x4xf32>, tensor<?x4xf32>) {
  %0:2 = dsc.gate %x, %w {scoring = #dsc<scoring softmax>, topk_method = #dsc<topk_method greedy>, top_k = 6 : i64, n_group = 1 : i64, topk_group = 1 : i64, norm_topk_prob = false, routed_scaling_factor = 1.0 : f64} : (tensor<?x8xf32>, tensor<16x8xf32>) -> (tensor<?x6xf32>, tensor<?x6xi64>)
  %1:2 = dsc.gate %x, %w32 bias %b32 {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 4 : i64, n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : (tensor<?x8xf32>, tensor<32x8xf32>, tensor<32xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>)
  %2:2 = dsc.gate %x, %w {scoring = #dsc<scoring sigmoid>, topk_method = #dsc<topk_method noaux_tc>, top_k = 4 : i64, n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : (tensor<?x8xf32>, tensor<16x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xi64>)
  return %0#0, %1#0, %2#0 : tensor<?x6xf32>, tensor<?x4xf32>, tensor<?x4xf32>
}
