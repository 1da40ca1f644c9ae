// dsc-lower-to-linalg{library-attention} (GPU pipelines): a prompt's
// attention (dsc.mla, naive form, causal) of widths the kernel library has
// (the fixtures' no-rope 16, rope 8, value 16) with a bf16 or FP8 kv_b
// becomes kv_b's decompression on the library's GEMM (the latent rounded
// to bf16, the sums to bf16 per head: [B, S, H, k_nope | v]) and
// dsc.causal_mla_prefill over the joined queries [q_nope | q_pe] and the
// rope keys, both in bf16.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="library-attention bf16-linear-inputs" | FileCheck %s
// It bufferizes: on buffers it writes init and returns nothing.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="library-attention bf16-linear-inputs" --one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s --check-prefix=BUFFERS
// On the CPU, --bf16-linear-inputs rounds as the library does instead.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="bf16-linear-inputs" | FileCheck %s --check-prefix=CPU

// CHECK-LABEL: func.func @bf16_kv_b
// CHECK: %[[C:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?x32xbf16>)
// CHECK: %[[SUMS:.*]] = linalg.generic {{.*}} ins(%[[C]], %{{.*}} : tensor<?x?x32xbf16>, tensor<128x32xbf16>) outs(%{{.*}} : tensor<?x?x128xf32>) attrs = {{.*}}dsc.library_gemm
// CHECK: %[[KVR:.*]] = linalg.generic {{.*}} ins(%[[SUMS]] : tensor<?x?x128xf32>) outs(%{{.*}} : tensor<?x?x128xbf16>)
// CHECK: %[[KV:.*]] = tensor.expand_shape %[[KVR]] {{\[\[}}0], [1], [2, 3]] {{.*}} : tensor<?x?x128xbf16> into tensor<?x?x4x32xbf16>
// CHECK: %[[KR:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?x8xbf16>)
// CHECK: %[[Q:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?x4x24xbf16>)
// CHECK: %[[O:.*]] = dsc.causal_mla_prefill %[[Q]], %[[KV]], %[[KR]] outs(%{{.*}}) {scale = 2.500000e-01 : f64} : tensor<?x?x4x24xbf16>, tensor<?x?x4x32xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4x16xbf16> -> tensor<?x?x4x16xbf16>
// CHECK: %[[R:.*]] = linalg.generic {{.*}} ins(%[[O]] : tensor<?x?x4x16xbf16>) outs(%{{.*}} : tensor<?x?x4x16xf32>)
// CHECK: return %[[R]]
// BUFFERS-LABEL: func.func @bf16_kv_b
// BUFFERS: dsc.causal_mla_prefill %{{.*}}, %{{.*}}, %{{.*}} outs(%{{.*}}) {scale = 2.500000e-01 : f64} : memref<?x?x4x24xbf16>, memref<?x?x4x32xbf16>, memref<?x?x8xbf16>, memref<?x?x4x16xbf16>{{$}}
// On the CPU the same decompression and roundings, then attention with
// each probability's numerator rounded to bf16, the result rounded too.
// CPU-LABEL: func.func @bf16_kv_b
// CPU-NOT: dsc.causal_mla_prefill
// CPU: %[[C:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<?x?x32xf32>) outs(%{{.*}} : tensor<?x?x32xbf16>)
// CPU: %[[SUMS:.*]] = linalg.generic {{.*}} ins(%[[C]], %{{.*}} : tensor<?x?x32xbf16>, tensor<128x32xbf16>) outs(%{{.*}} : tensor<?x?x128xf32>) attrs = {{.*}}dsc.library_gemm
// CPU: linalg.generic {{.*}} ins(%[[SUMS]] : tensor<?x?x128xf32>) outs(%{{.*}} : tensor<?x?x128xbf16>)
// CPU: linalg.generic {{.*}} ins(%{{.*}} : tensor<?x?x8xf32>) outs(%{{.*}} : tensor<?x?x8xbf16>)
// CPU-DAG: linalg.generic {{.*}} ins(%{{.*}} : tensor<?x?x4x16xf32>) outs(%{{.*}} : tensor<?x?x4x16xbf16>)
// CPU-DAG: linalg.generic {{.*}} ins(%{{.*}} : tensor<?x?x4x8xf32>) outs(%{{.*}} : tensor<?x?x4x8xbf16>)
// CPU: math.exp
// CPU: arith.truncf %{{.*}} : f32 to bf16
// CPU-NEXT: arith.extf %{{.*}} : bf16 to f32
// CPU: %[[OUT:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?x4x16xbf16>)
// CPU: %[[R:.*]] = linalg.generic {{.*}} ins(%[[OUT]] : tensor<?x?x4x16xbf16>) outs(%{{.*}} : tensor<?x?x4x16xf32>)
// CPU: return %[[R]]
func.func @bf16_kv_b(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xbf16>) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xbf16>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// An FP8 kv_b is dequantized to bf16 for the GEMM, as a linear layer's.
// CHECK-LABEL: func.func @fp8_kv_b
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<128x2x16xf8E4M3FN>, tensor<8x2xf32>) outs(%{{.*}} : tensor<128x2x16xbf16>) attrs = {{.*}}dsc.library_dequantize = array<i64: 16, 16>
// CHECK: dsc.library_gemm
// CHECK: dsc.causal_mla_prefill
func.func @fp8_kv_b(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf8E4M3FN>, %s: tensor<8x2xf32>) -> tensor<?x?x4x16xf32> {
  %0 = dsc.mla %qn, %qp, %c, %kp, %w scales %s {block_size = array<i64: 16, 16>, scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf8E4M3FN>, tensor<8x2xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// Static sizes stay static; a bf16 k_pe (a view, in a bf16 graph) is copied
// into a buffer of its own, which the kernel reads whole.
// CHECK-LABEL: func.func @static_bf16
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] {{.*}} : tensor<2x5x128xbf16> into tensor<2x5x4x32xbf16>
// CHECK: %[[KR:.*]] = bufferization.alloc_tensor() copy(%{{.*}}) : tensor<2x5x8xbf16>
// CHECK: dsc.causal_mla_prefill %{{.*}}, %{{.*}}, %[[KR]] outs(%{{.*}}) {scale = 2.500000e-01 : f64} : tensor<2x5x4x24xbf16>, tensor<2x5x4x32xbf16>, tensor<2x5x8xbf16>, tensor<2x5x4x16xbf16> -> tensor<2x5x4x16xbf16>
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @static_bf16(%qn: tensor<2x5x4x16xbf16>, %qp: tensor<2x5x4x8xbf16>, %c: tensor<2x5x32xbf16>, %kva: tensor<2x5x40xbf16>, %w: tensor<128x32xbf16>) -> tensor<2x5x4x16xbf16> {
  %kp = tensor.extract_slice %kva[0, 0, 32] [2, 5, 8] [1, 1, 1] : tensor<2x5x40xbf16> to tensor<2x5x8xbf16>
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<2x5x4x16xbf16>, tensor<2x5x4x8xbf16>, tensor<2x5x32xbf16>, tensor<2x5x8xbf16>, tensor<128x32xbf16>) -> tensor<2x5x4x16xbf16>
  return %0 : tensor<2x5x4x16xbf16>
}

// -----

// An f32 kv_b, a graph's own mask, the absorbed form or widths the library
// has no kernel for: the generated form, no roundings.
// CHECK-LABEL: func.func @not_on_library
// CHECK-NOT: dsc.causal_mla_prefill
// CHECK-NOT: dsc.library_gemm
// CHECK: return
// CPU-LABEL: func.func @not_on_library
// CPU-NOT: arith.truncf
// CPU: return
func.func @not_on_library(%qn: tensor<?x?x4x16xf32>, %qp: tensor<?x?x4x8xf32>, %c: tensor<?x?x32xf32>, %kp: tensor<?x?x8xf32>, %w: tensor<128x32xf32>, %wb: tensor<128x32xbf16>, %m: tensor<?x1x?x?xf32>, %qp16: tensor<?x?x4x16xf32>, %kp16: tensor<?x?x16xf32>) -> (tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>) {
  %0 = dsc.mla %qn, %qp, %c, %kp, %w {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xf32>) -> tensor<?x?x4x16xf32>
  %1 = dsc.mla %qn, %qp, %c, %kp, %wb mask %m {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xbf16>, tensor<?x1x?x?xf32>) -> tensor<?x?x4x16xf32>
  %2 = dsc.mla %qn, %qp, %c, %kp, %wb {scale = 0.25 : f64, form = #dsc<mla_form absorbed>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<128x32xbf16>) -> tensor<?x?x4x16xf32>
  %3 = dsc.mla %qn, %qp16, %c, %kp16, %wb {scale = 0.25 : f64, form = #dsc<mla_form naive>} : (tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<128x32xbf16>) -> tensor<?x?x4x16xf32>
  return %0, %1, %2, %3 : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>
}
