// dsc-library-gemms (GPU pipelines) lowers dsc.noaux_tc_route on buffers to
// the kernel library's router for its expert and group counts: one warp
// per token, 4 tokens per block of 128 threads; nothing for no tokens.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @route
// CHECK-SAME: (%[[L:.*]]: memref<?x16xf32>, %[[B:.*]]: memref<16xf32>, %[[I:.*]]: memref<?x4xi32>, %[[W:.*]]: memref<?x4xf32>)
// CHECK: %[[T:.*]] = memref.dim %[[L]], %c0
// CHECK: scf.if
// CHECK: %[[BLOCKS:.*]] = arith.divui %{{.*}}, %c4
// CHECK: %[[SCALE:.*]] = arith.constant 2.500000e+00 : f32
// CHECK: gpu.launch_func @dsc_moe_route_e16_g4::@moe_route_v3_e16_g4 blocks in (%[[BLOCKS]], %{{.*}}, %{{.*}}) threads in (%c128, %{{.*}}, %{{.*}}) args(%{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %[[T]] : index, %c2 : index, %c4{{.*}} : index, %c1{{.*}} : index, %[[SCALE]] : f32, %{{.*}} : memref<?xi32>, %{{.*}} : memref<?xf32>)
// CHECK-NOT: dsc.noaux_tc_route
// CHECK: gpu.module @dsc_moe_route_e16_g4
func.func @route(%logits: memref<?x16xf32>, %bias: memref<16xf32>, %ids: memref<?x4xi32>, %w: memref<?x4xf32>) {
  dsc.noaux_tc_route %logits, %bias outs(%ids, %w) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : memref<?x16xf32>, memref<16xf32>, memref<?x4xi32>, memref<?x4xf32>
  return
}

// -----

// DeepSeek-V3's 256 experts in 8 groups, top-8, not normalized.
// CHECK-LABEL: func.func @v3
// CHECK: gpu.launch_func @dsc_moe_route::@moe_route_v3 {{.*}} args(%{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : index, %c4{{.*}} : index, %c8{{.*}} : index, %c0{{.*}} : index,
func.func @v3(%logits: memref<?x256xf32>, %bias: memref<256xf32>, %ids: memref<?x8xi32>, %w: memref<?x8xf32>) {
  dsc.noaux_tc_route %logits, %bias outs(%ids, %w) {n_group = 8 : i64, topk_group = 4 : i64, norm_topk_prob = false, routed_scaling_factor = 2.5 : f64} : memref<?x256xf32>, memref<256xf32>, memref<?x8xi32>, memref<?x8xf32>
  return
}

// -----

func.func @other_counts(%logits: memref<?x64xf32>, %bias: memref<64xf32>, %ids: memref<?x4xi32>, %w: memref<?x4xf32>) {
  // expected-error @+1 {{'dsc.noaux_tc_route' op the kernel library has no router for 64 experts in 4 groups}}
  dsc.noaux_tc_route %logits, %bias outs(%ids, %w) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : memref<?x64xf32>, memref<64xf32>, memref<?x4xi32>, memref<?x4xf32>
  return
}

// -----

func.func @strided_logits(%logits: memref<?x16xf32, strided<[32, 1]>>, %bias: memref<16xf32>, %ids: memref<?x4xi32>, %w: memref<?x4xf32>) {
  // expected-error @+1 {{'dsc.noaux_tc_route' op needs contiguous row-major logits, bias, ids and weights}}
  dsc.noaux_tc_route %logits, %bias outs(%ids, %w) {n_group = 4 : i64, topk_group = 2 : i64, norm_topk_prob = true, routed_scaling_factor = 2.5 : f64} : memref<?x16xf32, strided<[32, 1]>>, memref<16xf32>, memref<?x4xi32>, memref<?x4xf32>
  return
}
