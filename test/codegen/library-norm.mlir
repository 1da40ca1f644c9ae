// dsc-library-gemms (GPU pipelines) lowers dsc.rms_norm_rows and
// dsc.add_rms_norm_rows on buffers to the kernel library's RMSNorm kernels
// for their element type: one block of 256 threads per row (the product
// of the leading dimensions); nothing for no rows.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @add_norm
// CHECK-SAME: (%[[X:.*]]: memref<?x?x64xf32>, %[[R:.*]]: memref<?x?x64xf32>, %[[W:.*]]: memref<64xf32>, %[[H:.*]]: memref<?x?x64xf32>, %[[Y:.*]]: memref<?x?x64xf32>)
// CHECK: %[[B:.*]] = memref.dim %[[X]], %c0
// CHECK: %[[S:.*]] = memref.dim %[[X]], %c1
// CHECK: %[[ROWS:.*]] = arith.muli %[[B]], %[[S]]
// CHECK: scf.if
// CHECK: %[[EPS:.*]] = arith.constant 9.99999997E-7 : f32
// CHECK: gpu.launch_func @dsc_rmsnorm_f32::@add_rmsnorm_f32 blocks in (%[[ROWS]], %{{.*}}, %{{.*}}) threads in (%c256, %{{.*}}, %{{.*}}) args(%{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %c64 : index, %[[EPS]] : f32)
// CHECK-NOT: dsc.add_rms_norm_rows
// CHECK: gpu.module @dsc_rmsnorm_f32
// CHECK-NOT: gpu.func @rmsnorm_f32
func.func @add_norm(%x: memref<?x?x64xf32>, %res: memref<?x?x64xf32>, %w: memref<64xf32>, %h: memref<?x?x64xf32>, %y: memref<?x?x64xf32>) {
  dsc.add_rms_norm_rows %x, %res, %w outs(%h, %y) {epsilon = 1.0e-06 : f64} : memref<?x?x64xf32>, memref<?x?x64xf32>, memref<64xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>
  return
}

// -----

// Alone, in bf16, and with a strided input (a view): copied to a
// contiguous buffer before the launch, freed after.
// CHECK-LABEL: func.func @norm
// CHECK-SAME: (%[[X:.*]]: memref<?x32xbf16, strided<[40, 1]>>,
// CHECK: %[[COPY:.*]] = memref.alloc(%{{.*}}) : memref<?x32xbf16>
// CHECK: linalg.copy ins(%[[X]] : memref<?x32xbf16, strided<[40, 1]>>) outs(%[[COPY]] : memref<?x32xbf16>)
// CHECK: gpu.launch_func @dsc_add_rmsnorm::@rmsnorm_bf16 {{.*}} args(%{{.*}} : memref<?xbf16>, %{{.*}} : memref<?xbf16>, %{{.*}} : memref<?xbf16>, %c32 : index, %{{.*}} : f32)
// CHECK: memref.dealloc %[[COPY]]
func.func @norm(%x: memref<?x32xbf16, strided<[40, 1]>>, %w: memref<32xbf16>, %y: memref<?x32xbf16>) {
  dsc.rms_norm_rows %x, %w outs(%y) {epsilon = 1.0e-06 : f64} : memref<?x32xbf16, strided<[40, 1]>>, memref<32xbf16>, memref<?x32xbf16>
  return
}

// -----

// f32 rows whose normed rows are stored as bf16 (a GEMM's input): the
// kernels that round as they store.
// CHECK-LABEL: func.func @to_bf16
// CHECK: gpu.launch_func @dsc_rmsnorm_f32::@rmsnorm_f32_bf16 {{.*}} args(%{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xbf16>, %c64 : index, %{{.*}} : f32)
// CHECK: gpu.launch_func @dsc_rmsnorm_f32::@add_rmsnorm_f32_bf16 {{.*}} args(%{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xbf16>, %c64 : index, %{{.*}} : f32)
func.func @to_bf16(%x: memref<?x64xf32>, %w: memref<64xf32>, %h: memref<?x64xf32>, %y: memref<?x64xbf16>) {
  dsc.rms_norm_rows %x, %w outs(%y) {epsilon = 1.0e-06 : f64} : memref<?x64xf32>, memref<64xf32>, memref<?x64xbf16>
  dsc.add_rms_norm_rows %x, %x, %w outs(%h, %y) {epsilon = 1.0e-06 : f64} : memref<?x64xf32>, memref<?x64xf32>, memref<64xf32>, memref<?x64xf32>, memref<?x64xbf16>
  return
}
