// dsc-lower-to-linalg{fixed-shapes library-attention} (GPU pipelines):
// decode attention over a bf16 cache of widths the kernel library has
// (the fixtures' latent 32 and rope 8; pages of 64) becomes
// dsc.paged_mla_decode, between W_UK multiplied into the queries and W_UV
// into its result: the new tokens are its rows, with their own entries,
// the rows' block tables (i32, pages clamped into the cache) and lengths.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="fixed-shapes library-attention" | FileCheck %s
// It bufferizes: on buffers it writes init and returns nothing.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="fixed-shapes library-attention" --one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s --check-prefix=BUFFERS
// On the CPU, --bf16-linear-inputs rounds as the library does instead,
// with fixed shapes or without.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="fixed-shapes bf16-linear-inputs" | FileCheck %s --check-prefix=CPU
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="bf16-linear-inputs" | FileCheck %s --check-prefix=CPU
// The CPU pipeline gathers the keys a row at a time (key-row-loops): the
// new tokens' rows are rounded to bf16 there, as the cache stores them,
// the cached rows only widened.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="bf16-linear-inputs key-row-loops" | FileCheck %s --check-prefixes=CPU,CPUROWS

// An f32 kv_b: the per-head products stay generated code, q_nope as it
// is.
// CHECK-LABEL: func.func @bf16_cache
// CHECK-NOT: dsc.library_batched_gemm
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x?x4x16xf32>, tensor<4x16x32xf32>) outs(%{{.*}} : tensor<?x?x4x32xf32>) {
// CHECK: %[[Q:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2], [3]] : tensor<?x?x4x40xbf16> into tensor<?x4x40xbf16>
// CHECK: %[[E:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<?x?x40xbf16> into tensor<?x40xbf16>
// CHECK: %[[T:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?xi32>)
// CHECK: %[[L:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?xi32>)
// CHECK: %[[O:.*]] = dsc.paged_mla_decode %[[Q]], %[[E]] cache(%{{.*}}, %[[T]], %[[L]]) outs(%{{.*}}) {scale = 2.500000e-01 : f64} : tensor<?x4x40xbf16>, tensor<?x40xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi32>, tensor<?xi32>, tensor<?x4x32xbf16> -> tensor<?x4x32xbf16>
// CHECK: %[[V:.*]] = linalg.generic {{.*}} ins(%[[O]], %{{.*}} : tensor<?x4x32xbf16>, tensor<4x16x32xf32>) outs(%{{.*}} : tensor<?x4x16xf32>) {
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?x4x16xf32>)
// CHECK: tensor.extract %[[V]]
// BUFFERS-LABEL: func.func @bf16_cache
// BUFFERS: dsc.paged_mla_decode %{{.*}}, %{{.*}} cache(%{{.*}}, %{{.*}}, %{{.*}}) outs(%{{.*}}) {scale = 2.500000e-01 : f64} : memref<?x4x40xbf16>, memref<?x40xbf16>, memref<?x64x40xbf16{{.*}}>, memref<?x?xi32>, memref<?xi32>, memref<?x4x32xbf16>{{$}}
// CPU-LABEL: func.func @bf16_cache
// CPU-NOT: dsc.paged_mla_decode
// CPUROWS: scf.if %{{.*}} -> (tensor<?x?x32xf32>, tensor<?x?x8xf32>) {
// CPUROWS: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x1x32xbf16>) outs(%{{.*}} : tensor<1x1x32xf32>)
// CPUROWS-NEXT: ^bb0
// CPUROWS-NEXT: arith.extf %{{.*}} : bf16 to f32
// CPUROWS: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x1x8xbf16>) outs(%{{.*}} : tensor<1x1x8xf32>)
// CPUROWS-NEXT: ^bb0
// CPUROWS-NEXT: arith.extf %{{.*}} : bf16 to f32
// CPUROWS: } else {
// CPUROWS: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x1x32xf32>) outs(%{{.*}} : tensor<1x1x32xf32>)
// CPUROWS-NEXT: ^bb0
// CPUROWS-NEXT: %[[R:.*]] = arith.truncf %{{.*}} : f32 to bf16
// CPUROWS-NEXT: arith.extf %[[R]] : bf16 to f32
// CPUROWS: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x1x8xf32>) outs(%{{.*}} : tensor<1x1x8xf32>)
// CPUROWS-NEXT: ^bb0
// CPUROWS-NEXT: %[[R:.*]] = arith.truncf %{{.*}} : f32 to bf16
// CPUROWS-NEXT: arith.extf %[[R]] : bf16 to f32
// CPU: arith.truncf %{{.*}} : f32 to bf16
// CPU: return
func.func @bf16_cache(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>, tensor<?x64x40xbf16>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// kv_b bound as bf16 (dsc-bf16-linear-weights): the per-head products
// are marked for the library's batched GEMM, W_UK and W_UV read as
// slabs of kv_b; W_UV's product has the rows of the op's result.
// CHECK-LABEL: func.func @bf16_kv_b
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x?x4x16xbf16>, tensor<4x16x32xbf16>) outs(%{{.*}} : tensor<?x?x4x32xf32>) attrs = {{.*}}dsc.library_batched_gemm
// CHECK: %[[O:.*]] = dsc.paged_mla_decode
// CHECK: linalg.generic {{.*}} ins(%[[O]], %{{.*}} : tensor<?x4x32xbf16>, tensor<4x16x32xbf16>) outs(%{{.*}} : tensor<?x4x16xf32>) attrs = {{.*}}dsc.library_batched_gemm
// The CPU rounds q_nope for W_UK's product as the GPU does.
// CPU-LABEL: func.func @bf16_kv_b
// CPU-NOT: dsc.library_batched_gemm
// CPU: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x?x4x16xbf16>, tensor<4x16x32xbf16>) outs(%{{.*}} : tensor<?x?x4x32xf32>) {
// CPU-NOT: dsc.library_batched_gemm
// CPU: return
func.func @bf16_kv_b(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xbf16>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xbf16>, tensor<?x64x40xbf16>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// An FP8 kv_b is dequantized to bf16 (as DeepSeek's reference code does for
// its absorbed attention), and its products run on the batched GEMM too;
// the CPU dequantizes to bf16 the same way. The dequantization is marked,
// so that dsc-library-gemms can have the products read kv_b as stored.
// CHECK-LABEL: func.func @fp8_kv_b
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<128x2x16xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 16>}
// CHECK: %[[KVB:.*]] = tensor.collapse_shape %{{.*}} : tensor<128x2x16xbf16> into tensor<128x32xbf16>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x?x4x16xbf16>, tensor<4x16x32xbf16>) outs(%{{.*}} : tensor<?x?x4x32xf32>) attrs = {{.*}}dsc.library_batched_gemm
// CPU-LABEL: func.func @fp8_kv_b
// CPU: tensor<128x2x16xbf16>
// CPU-NOT: dsc.library_batched_gemm
// CPU: return
func.func @fp8_kv_b(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf8E4M3FN>, %s: tensor<8x2xf32>, %pages: tensor<?x64x40xbf16>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w scales %s cache(%pages, %table, %past) {block_size = array<i64: 16, 16>, scale = 0.25 : f64} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf8E4M3FN>, tensor<8x2xf32>, tensor<?x64x40xbf16>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// An f32 cache, or widths the library has no kernel for: the generated
// form.
// CHECK-LABEL: func.func @f32_cache
// CHECK-NOT: dsc.paged_mla_decode
// CHECK: return
// CPU-LABEL: func.func @f32_cache
// CPU-NOT: arith.truncf
// CPU: return
func.func @f32_cache(%qn: tensor<?x1x4x16xf32>, %qp: tensor<?x1x4x8xf32>, %c: tensor<?x1x32xf32>, %kp: tensor<?x1x8xf32>, %w: tensor<128x32xf32>, %pages: tensor<?x64x40xf32>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x1x4x16xf32> {
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x1x4x16xf32>, tensor<?x1x4x8xf32>, tensor<?x1x32xf32>, tensor<?x1x8xf32>, tensor<128x32xf32>, tensor<?x64x40xf32>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x1x4x16xf32>
  return %0 : tensor<?x1x4x16xf32>
}

// -----

// CHECK-LABEL: func.func @other_widths
// CHECK-NOT: dsc.paged_mla_decode
// CHECK: return
func.func @other_widths(%qn: tensor<?x1x4x16xf32>, %qp: tensor<?x1x4x16xf32>, %c: tensor<?x1x48xf32>, %kp: tensor<?x1x16xf32>, %w: tensor<128x48xf32>, %pages: tensor<?x64x64xbf16>, %table: tensor<?x?xi64>, %past: tensor<?xi64>) -> tensor<?x1x4x16xf32> {
  %0 = dsc.mla_decode %qn, %qp, %c, %kp, %w cache(%pages, %table, %past) {scale = 0.25 : f64} : (tensor<?x1x4x16xf32>, tensor<?x1x4x16xf32>, tensor<?x1x48xf32>, tensor<?x1x16xf32>, tensor<128x48xf32>, tensor<?x64x64xbf16>, tensor<?x?xi64>, tensor<?xi64>) -> tensor<?x1x4x16xf32>
  return %0 : tensor<?x1x4x16xf32>
}
