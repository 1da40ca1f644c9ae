// dsc-library-gemms: the absorbed attention's per-head products that
// dsc-lower-to-linalg marked dsc.library_batched_gemm (C[..., h, n] =
// sum_k A[..., h, k] * W[h, n, k] or W[h, k, n]; A and W bf16, C f32)
// become launches of the library's batched GEMM, the heads as grid z:
// batched_gemm_bf16_nn_m64 for W_UK (K x N per head), _tn_ for W_UV
// (N x K). W is passed as its whole buffer, kv_b, with its slab's offset
// and strides; the zero fills of C are gone (the kernel writes all of C).
// kernels-emulated.test runs this input's launches on the emulator.
// RUN: dsc-opt %S/Inputs/head-products.mlir --dsc-library-gemms -canonicalize | FileCheck %s
// CHECK-LABEL: func.func @head_products
// CHECK-SAME: (%[[Q:.*]]: memref<?x?x3x72xbf16>, %[[L:.*]]: memref<?x3x200xbf16>, %[[KVB:.*]]: memref<624x200xbf16>, %[[QL:.*]]: memref<?x?x3x200xf32>, %[[V:.*]]: memref<?x3x136xf32>)
// CHECK-NOT: linalg.fill
// CHECK-DAG: %[[D0:.*]] = memref.dim %[[Q]], %c0
// CHECK-DAG: %[[D1:.*]] = memref.dim %[[Q]], %c1
// CHECK: %[[M:.*]] = arith.muli %[[D0]], %[[D1]]
// CHECK: %[[FW0:.*]] = memref.collapse_shape %[[KVB]] {{\[\[}}0, 1]]
// CHECK: %[[FW:.*]] = memref.cast %[[FW0]] : memref<124800xbf16> to memref<?xbf16>
// CHECK: %[[GY:.*]] = arith.maxui %{{.*}}, %c1
// CHECK: %[[FQ:.*]] = memref.collapse_shape %[[Q]] {{\[\[}}0, 1, 2, 3]]
// CHECK: %[[FQL:.*]] = memref.collapse_shape %[[QL]] {{\[\[}}0, 1, 2, 3]]
// Args: M, N, K, lda = H K, aBatch = K, W's offset, head stride and row
// stride, ldc = H N, cBatch = N.
// CHECK: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_nn_m64 blocks in (%c2, %[[GY]], %c3) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c98304_i32 args(%[[FQ]] : memref<?xbf16>, %[[FW]] : memref<?xbf16>, %[[FQL]] : memref<?xf32>, %[[M]] : index, %c200 : index, %c72 : index, %c216 : index, %c72 : index, %c0 : index, %c41600 : index, %c200 : index, %c600 : index, %c200 : index)
// CHECK: %[[R:.*]] = memref.dim %[[L]], %c0
// CHECK: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_tn_m64 blocks in (%c2, %{{.*}}, %c3) {{.*}} args(%{{.*}} : memref<?xbf16>, %{{.*}} : memref<?xbf16>, %{{.*}} : memref<?xf32>, %[[R]] : index, %c136 : index, %c200 : index, %c600 : index, %c200 : index, %c14400 : index, %c41600 : index, %c200 : index, %c408 : index, %c136 : index)
// CHECK-NOT: linalg.generic
// CHECK: return
// CHECK: gpu.module @dsc_grouped_gemm
// CHECK-DAG: gpu.func @batched_gemm_bf16_nn_m64(
// CHECK-DAG: gpu.func @batched_gemm_bf16_tn_m64(

// With an FP8 kv_b (e4m3, 16 x 32 block scales) dequantized once for both
// products (Inputs/head-products-fp8.mlir), the e4m3 forms read each
// head's slab as stored: batched_gemm_fp8w_bf16_nn_m64 for W_UK, _tn_ for
// W_UV, with kv_b and its scales, the slab's first row and rows per head
// (0 and 112; 72 and 112), kv_b's row length and the block. The write of
// the cache between them is not one of kv_b (a weight: dsc.weight). No
// dequantization, allocation or dealloc is left.
// RUN: dsc-opt %S/Inputs/head-products-fp8.mlir --dsc-library-gemms -canonicalize | FileCheck %s --check-prefix=FP8 --implicit-check-not=dsc.library_dequantize --implicit-check-not=memref.dealloc
// FP8-LABEL: func.func @head_products_fp8
// FP8-SAME: (%[[Q:.*]]: memref<?x?x3x72xbf16>, %[[L:.*]]: memref<?x3x96xbf16>, %[[KVB:.*]]: memref<336x96xf8E4M3FN> {dsc.weight = "kv_b"}, %[[S:.*]]: memref<21x3xf32> {dsc.weight = "kv_b_scale_inv"}, %[[QL:.*]]: memref<?x?x3x96xf32>, %[[V:.*]]: memref<?x3x40xf32>, %[[CACHE:.*]]: memref<4x8xf32>)
// FP8-NOT: memref.alloc
// FP8: %[[M:.*]] = arith.muli
// FP8: %[[FW0:.*]] = memref.collapse_shape %[[KVB]] {{\[\[}}0, 1]] : memref<336x96xf8E4M3FN> into memref<32256xf8E4M3FN>
// FP8: %[[FW:.*]] = memref.cast %[[FW0]]
// FP8: %[[FS0:.*]] = memref.collapse_shape %[[S]] {{\[\[}}0, 1]] : memref<21x3xf32> into memref<63xf32>
// FP8: %[[FS:.*]] = memref.cast %[[FS0]]
// Args: M, N, K, lda = H K, aBatch = K, the slab's first row, rows per
// head, ldb, ldc = H N, cBatch = N, the block's rows and columns, and the
// columns between batches (none).
// FP8: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_fp8w_bf16_nn_m64 blocks in (%c1, %{{.*}}, %c3) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c81920_i32 args(%{{.*}} : memref<?xbf16>, %[[FW]] : memref<?xf8E4M3FN>, %[[FS]] : memref<?xf32>, %{{.*}} : memref<?xf32>, %[[M]] : index, %c96 : index, %c72 : index, %c216 : index, %c72 : index, %c0 : index, %c112 : index, %c96 : index, %c288 : index, %c96 : index, %c16 : index, %c32 : index, %c0 : index)
// FP8: linalg.fill {{.*}} outs(%[[CACHE]]
// FP8: %[[R:.*]] = memref.dim %[[L]], %c0
// FP8: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_fp8w_bf16_tn_m64 blocks in (%c1, %{{.*}}, %c3) {{.*}} args(%{{.*}} : memref<?xbf16>, %{{.*}} : memref<?xf8E4M3FN>, %{{.*}} : memref<?xf32>, %{{.*}} : memref<?xf32>, %[[R]] : index, %c40 : index, %c96 : index, %c288 : index, %c96 : index, %c72 : index, %c112 : index, %c96 : index, %c120 : index, %c40 : index, %c16 : index, %c32 : index, %c0 : index)
// FP8-NOT: linalg.generic
// FP8-NOT: memref.dealloc
// FP8: return

// What the kernel cannot take stays generated code, with a remark.
// RUN: dsc-opt %s --split-input-file --dsc-library-gemms -verify-diagnostics | FileCheck %s --check-prefix=LEFT
#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @k_unaligned
// LEFT: linalg.generic
// LEFT-NOT: dsc.library_batched_gemm
func.func @k_unaligned(%qn: memref<?x2x12xbf16>, %w: memref<2x12x32xbf16>, %out: memref<?x2x32xf32>) {
  // expected-remark @below {{GEMM left as generated code: K, W's offset or its strides are not multiples of 8 (rows must start 16-byte aligned)}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %w : memref<?x2x12xbf16>, memref<2x12x32xbf16>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @dynamic_offset
// LEFT: linalg.generic
func.func @dynamic_offset(%qn: memref<?x2x16xbf16>, %w: memref<2x16x32xbf16, strided<[1024, 32, 1], offset: ?>>, %out: memref<?x2x32xf32>) {
  // expected-remark @below {{GEMM left as generated code: W's offset or strides are unknown, or its rows strided}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %w : memref<?x2x16xbf16>, memref<2x16x32xbf16, strided<[1024, 32, 1], offset: ?>>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d3, d1, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @heads_not_first
func.func @heads_not_first(%qn: memref<?x2x16xbf16>, %w: memref<16x2x32xbf16>, %out: memref<?x2x32xf32>) {
  // expected-remark @below {{GEMM left as generated code: indexing is not C[..., h, n] += A[..., h, k] * W[h, n, k] (or W[h, k, n])}}
  linalg.generic {indexing_maps = [#q, #w, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %w : memref<?x2x16xbf16>, memref<16x2x32xbf16>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @moved_start
func.func @moved_start(%qn: memref<?x2x16xbf16>, %bytes: memref<?xi8>, %out: memref<?x2x32xf32>) {
  %shift = arith.constant 64 : index
  %w = memref.view %bytes[%shift][] : memref<?xi8> to memref<2x16x32xbf16>
  // expected-remark @below {{GEMM left as generated code: W is a view whose offset cannot be read from its type}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %w : memref<?x2x16xbf16>, memref<2x16x32xbf16>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @strided_queries
func.func @strided_queries(%qn: memref<?x2x16xbf16, strided<[64, 16, 1]>>, %w: memref<2x16x32xbf16>, %out: memref<?x2x32xf32>) {
  // expected-remark @below {{GEMM left as generated code: A, C or W's buffer is not a contiguous row-major buffer}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %w : memref<?x2x16xbf16, strided<[64, 16, 1]>>, memref<2x16x32xbf16>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @strided_weight_buffer
func.func @strided_weight_buffer(%qn: memref<?x2x16xbf16>, %w: memref<2x16x32xbf16, strided<[1024, 32, 1]>>, %out: memref<?x2x32xf32>) {
  // expected-remark @below {{GEMM left as generated code: A, C or W's buffer is not a contiguous row-major buffer}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %w : memref<?x2x16xbf16>, memref<2x16x32xbf16, strided<[1024, 32, 1]>>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @column_strided_weight
func.func @column_strided_weight(%qn: memref<?x2x16xbf16>, %kvb: memref<2x16x64xbf16>, %out: memref<?x2x32xf32>) {
  %w = memref.subview %kvb[0, 0, 0] [2, 16, 32] [1, 1, 2] : memref<2x16x64xbf16> to memref<2x16x32xbf16, strided<[1024, 64, 2]>>
  // expected-remark @below {{GEMM left as generated code: W's offset or strides are unknown, or its rows strided}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %w : memref<?x2x16xbf16>, memref<2x16x32xbf16, strided<[1024, 64, 2]>>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @too_many_heads
func.func @too_many_heads(%qn: memref<?x70000x16xbf16>, %w: memref<70000x16x32xbf16>, %out: memref<?x70000x32xf32>) {
  // expected-remark @below {{GEMM left as generated code: 70000 heads are more than a grid's z holds}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %w : memref<?x70000x16xbf16>, memref<70000x16x32xbf16>) outs(%out : memref<?x70000x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @on_tensors
func.func @on_tensors(%qn: tensor<?x2x16xbf16>, %w: tensor<2x16x32xbf16>, %out: tensor<?x2x32xf32>) -> tensor<?x2x32xf32> {
  // expected-remark @below {{GEMM left as generated code: not a GEMM on buffers with two inputs and one output}}
  %r = linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %w : tensor<?x2x16xbf16>, tensor<2x16x32xbf16>) outs(%out : tensor<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?x2x32xf32>
  return %r : tensor<?x2x32xf32>
}

// -----

// An FP8 kv_b the e4m3 forms cannot read where the product would (not a
// weight of the model, and another argument written between), read by
// anything else, or sliced by columns: dequantized in full, the bf16
// kernels read the copy.
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @fp8_not_a_weight
// LEFT: linalg.generic {{.*}}dsc.library_dequantize
// LEFT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_nn_m64
// LEFT: memref.dealloc
func.func @fp8_not_a_weight(%qn: memref<?x2x16xbf16>, %kvb: memref<64x32xf8E4M3FN>, %s: memref<4x2xf32>, %out: memref<?x2x32xf32>, %other: memref<4x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %blocks = memref.expand_shape %kvb [[0], [1, 2]] output_shape [64, 2, 16] : memref<64x32xf8E4M3FN> into memref<64x2x16xf8E4M3FN>
  %dq = memref.alloc() : memref<64x2x16xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<64x2x16xf8E4M3FN>, memref<4x2xf32>) outs(%dq : memref<64x2x16xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 16>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %w = memref.collapse_shape %dq [[0], [1, 2]] : memref<64x2x16xbf16> into memref<64x32xbf16>
  %heads = memref.expand_shape %w [[0, 1], [2]] output_shape [2, 32, 32] : memref<64x32xbf16> into memref<2x32x32xbf16>
  %wuk = memref.subview %heads[0, 0, 0] [2, 16, 32] [1, 1, 1] : memref<2x32x32xbf16> to memref<2x16x32xbf16, strided<[1024, 32, 1]>>
  linalg.fill ins(%zero : f32) outs(%other : memref<4x2xf32>)
  // expected-remark @below {{e4m3 weight dequantized in full for every call: the e4m3 weight or scales may be written between the dequantization and a per-head product}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %wuk : memref<?x2x16xbf16>, memref<2x16x32xbf16, strided<[1024, 32, 1]>>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %sum = arith.addf %p, %acc : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %dq : memref<64x2x16xbf16>
  return
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @fp8_read_elsewhere
// LEFT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_nn_m64
func.func @fp8_read_elsewhere(%qn: memref<?x2x16xbf16>, %kvb: memref<64x32xf8E4M3FN> {dsc.weight = "kv_b"}, %s: memref<4x2xf32> {dsc.weight = "kv_b_scale_inv"}, %out: memref<?x2x32xf32>, %copy: memref<64x32xbf16>) {
  %blocks = memref.expand_shape %kvb [[0], [1, 2]] output_shape [64, 2, 16] : memref<64x32xf8E4M3FN> into memref<64x2x16xf8E4M3FN>
  %dq = memref.alloc() : memref<64x2x16xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<64x2x16xf8E4M3FN>, memref<4x2xf32>) outs(%dq : memref<64x2x16xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 16>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %w = memref.collapse_shape %dq [[0], [1, 2]] : memref<64x2x16xbf16> into memref<64x32xbf16>
  memref.copy %w, %copy : memref<64x32xbf16> to memref<64x32xbf16>
  %heads = memref.expand_shape %w [[0, 1], [2]] output_shape [2, 32, 32] : memref<64x32xbf16> into memref<2x32x32xbf16>
  %wuk = memref.subview %heads[0, 0, 0] [2, 16, 32] [1, 1, 1] : memref<2x32x32xbf16> to memref<2x16x32xbf16, strided<[1024, 32, 1]>>
  // expected-remark @below {{e4m3 weight dequantized in full for every call: the dequantized weight has uses besides its dequantization and the per-head products}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %wuk : memref<?x2x16xbf16>, memref<2x16x32xbf16, strided<[1024, 32, 1]>>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %sum = arith.addf %p, %acc : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %dq : memref<64x2x16xbf16>
  return
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @fp8_columns
// LEFT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_nn_m64
func.func @fp8_columns(%qn: memref<?x2x16xbf16>, %kvb: memref<64x48xf8E4M3FN> {dsc.weight = "kv_b"}, %s: memref<4x3xf32> {dsc.weight = "kv_b_scale_inv"}, %out: memref<?x2x32xf32>) {
  %blocks = memref.expand_shape %kvb [[0], [1, 2]] output_shape [64, 3, 16] : memref<64x48xf8E4M3FN> into memref<64x3x16xf8E4M3FN>
  %dq = memref.alloc() : memref<64x3x16xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<64x3x16xf8E4M3FN>, memref<4x3xf32>) outs(%dq : memref<64x3x16xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 16>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %w = memref.collapse_shape %dq [[0], [1, 2]] : memref<64x3x16xbf16> into memref<64x48xbf16>
  %heads = memref.expand_shape %w [[0, 1], [2]] output_shape [2, 32, 48] : memref<64x48xbf16> into memref<2x32x48xbf16>
  %wuk = memref.subview %heads[0, 0, 16] [2, 16, 32] [1, 1, 1] : memref<2x32x48xbf16> to memref<2x16x32xbf16, strided<[1536, 48, 1], offset: 16>>
  // expected-remark @below {{e4m3 weight dequantized in full for every call: W's slabs are not whole rows of the e4m3 weight}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %wuk : memref<?x2x16xbf16>, memref<2x16x32xbf16, strided<[1536, 48, 1], offset: 16>>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %sum = arith.addf %p, %acc : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %dq : memref<64x3x16xbf16>
  return
}

// -----

// Through a layer's call: kv_b and its scales are the entry point's
// weights, the cache another argument, so the write of the cache between
// is not one of kv_b; the e4m3 form reads it.
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func private @layer
// LEFT-NOT: dsc.library_dequantize
// LEFT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_fp8w_bf16_nn_m64
// LEFT-NOT: memref.dealloc
// LEFT: return
func.func private @layer(%qn: memref<?x2x16xbf16>, %kvb: memref<64x32xf8E4M3FN>, %s: memref<4x2xf32>, %out: memref<?x2x32xf32>, %cache: memref<4x2xf32>) {
  %blocks = memref.expand_shape %kvb [[0], [1, 2]] output_shape [64, 2, 16] : memref<64x32xf8E4M3FN> into memref<64x2x16xf8E4M3FN>
  %dq = memref.alloc() : memref<64x2x16xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<64x2x16xf8E4M3FN>, memref<4x2xf32>) outs(%dq : memref<64x2x16xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 16>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %w = memref.collapse_shape %dq [[0], [1, 2]] : memref<64x2x16xbf16> into memref<64x32xbf16>
  %heads = memref.expand_shape %w [[0, 1], [2]] output_shape [2, 32, 32] : memref<64x32xbf16> into memref<2x32x32xbf16>
  %wuk = memref.subview %heads[0, 0, 0] [2, 16, 32] [1, 1, 1] : memref<2x32x32xbf16> to memref<2x16x32xbf16, strided<[1024, 32, 1]>>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%cache : memref<4x2xf32>)
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %wuk : memref<?x2x16xbf16>, memref<2x16x32xbf16, strided<[1024, 32, 1]>>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %sum = arith.addf %p, %acc : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %dq : memref<64x2x16xbf16>
  return
}
func.func @entry(%qn: memref<?x2x16xbf16>, %kvb: memref<64x32xf8E4M3FN> {dsc.weight = "kv_b"}, %s: memref<4x2xf32> {dsc.weight = "kv_b_scale_inv"}, %out: memref<?x2x32xf32>, %cache: memref<4x2xf32>) {
  call @layer(%qn, %kvb, %s, %out, %cache) : (memref<?x2x16xbf16>, memref<64x32xf8E4M3FN>, memref<4x2xf32>, memref<?x2x32xf32>, memref<4x2xf32>) -> ()
  return
}

// -----

// The same layer called with the scales for the cache: the write between
// is one of kv_b's scales.
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func private @layer_aliased
// LEFT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_nn_m64
func.func private @layer_aliased(%qn: memref<?x2x16xbf16>, %kvb: memref<64x32xf8E4M3FN>, %s: memref<4x2xf32>, %out: memref<?x2x32xf32>, %cache: memref<4x2xf32>) {
  %blocks = memref.expand_shape %kvb [[0], [1, 2]] output_shape [64, 2, 16] : memref<64x32xf8E4M3FN> into memref<64x2x16xf8E4M3FN>
  %dq = memref.alloc() : memref<64x2x16xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<64x2x16xf8E4M3FN>, memref<4x2xf32>) outs(%dq : memref<64x2x16xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 16>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %w = memref.collapse_shape %dq [[0], [1, 2]] : memref<64x2x16xbf16> into memref<64x32xbf16>
  %heads = memref.expand_shape %w [[0, 1], [2]] output_shape [2, 32, 32] : memref<64x32xbf16> into memref<2x32x32xbf16>
  %wuk = memref.subview %heads[0, 0, 0] [2, 16, 32] [1, 1, 1] : memref<2x32x32xbf16> to memref<2x16x32xbf16, strided<[1024, 32, 1]>>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%cache : memref<4x2xf32>)
  // expected-remark @below {{e4m3 weight dequantized in full for every call: the e4m3 weight or scales may be written between the dequantization and a per-head product}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %wuk : memref<?x2x16xbf16>, memref<2x16x32xbf16, strided<[1024, 32, 1]>>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %sum = arith.addf %p, %acc : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %dq : memref<64x2x16xbf16>
  return
}
func.func @entry_aliased(%qn: memref<?x2x16xbf16>, %kvb: memref<64x32xf8E4M3FN> {dsc.weight = "kv_b"}, %s: memref<4x2xf32> {dsc.weight = "kv_b_scale_inv"}, %out: memref<?x2x32xf32>, %cache: memref<4x2xf32>) {
  call @layer_aliased(%qn, %kvb, %s, %out, %s) : (memref<?x2x16xbf16>, memref<64x32xf8E4M3FN>, memref<4x2xf32>, memref<?x2x32xf32>, memref<4x2xf32>) -> ()
  return
}

// -----

// The weight's own scales written between (a weight is never written; the
// pass does not assume it):
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @fp8_scales_written
// LEFT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_nn_m64
func.func @fp8_scales_written(%qn: memref<?x2x16xbf16>, %kvb: memref<64x32xf8E4M3FN> {dsc.weight = "kv_b"}, %s: memref<4x2xf32> {dsc.weight = "kv_b_scale_inv"}, %out: memref<?x2x32xf32>) {
  %blocks = memref.expand_shape %kvb [[0], [1, 2]] output_shape [64, 2, 16] : memref<64x32xf8E4M3FN> into memref<64x2x16xf8E4M3FN>
  %dq = memref.alloc() : memref<64x2x16xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<64x2x16xf8E4M3FN>, memref<4x2xf32>) outs(%dq : memref<64x2x16xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 16>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %w = memref.collapse_shape %dq [[0], [1, 2]] : memref<64x2x16xbf16> into memref<64x32xbf16>
  %heads = memref.expand_shape %w [[0, 1], [2]] output_shape [2, 32, 32] : memref<64x32xbf16> into memref<2x32x32xbf16>
  %wuk = memref.subview %heads[0, 0, 0] [2, 16, 32] [1, 1, 1] : memref<2x32x32xbf16> to memref<2x16x32xbf16, strided<[1024, 32, 1]>>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%s : memref<4x2xf32>)
  // expected-remark @below {{e4m3 weight dequantized in full for every call: the e4m3 weight or scales may be written between the dequantization and a per-head product}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %wuk : memref<?x2x16xbf16>, memref<2x16x32xbf16, strided<[1024, 32, 1]>>) outs(%out : memref<?x2x32xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %sum = arith.addf %p, %acc : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %dq : memref<64x2x16xbf16>
  return
}

// -----

// A slab N wide that the e4m3 form would copy in part of a 16-byte chunk:
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#scale = affine_map<(d0, d1, d2) -> (d0 floordiv 16, d1)>
#q = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#wuk = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
#ql = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// LEFT-LABEL: func.func @fp8_narrow
// LEFT: gpu.launch_func @dsc_grouped_gemm::@batched_gemm_bf16_nn_m64
func.func @fp8_narrow(%qn: memref<?x2x16xbf16>, %kvb: memref<64x48xf8E4M3FN> {dsc.weight = "kv_b"}, %s: memref<4x3xf32> {dsc.weight = "kv_b_scale_inv"}, %out: memref<?x2x40xf32>) {
  %blocks = memref.expand_shape %kvb [[0], [1, 2]] output_shape [64, 3, 16] : memref<64x48xf8E4M3FN> into memref<64x3x16xf8E4M3FN>
  %dq = memref.alloc() : memref<64x3x16xbf16>
  linalg.generic {indexing_maps = [#id, #scale, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%blocks, %s : memref<64x3x16xf8E4M3FN>, memref<4x3xf32>) outs(%dq : memref<64x3x16xbf16>) attrs = {dsc.library_dequantize = array<i64: 16, 16>} {
  ^bb0(%e: f8E4M3FN, %sc: f32, %o: bf16):
    %f = arith.extf %e : f8E4M3FN to f32
    %p = arith.mulf %f, %sc : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  %w = memref.collapse_shape %dq [[0], [1, 2]] : memref<64x3x16xbf16> into memref<64x48xbf16>
  %heads = memref.expand_shape %w [[0, 1], [2]] output_shape [2, 32, 48] : memref<64x48xbf16> into memref<2x32x48xbf16>
  %wuk = memref.subview %heads[0, 0, 0] [2, 16, 40] [1, 1, 1] : memref<2x32x48xbf16> to memref<2x16x40xbf16, strided<[1536, 48, 1]>>
  // expected-remark @below {{e4m3 weight dequantized in full for every call: N = 40 is not a multiple of 16}}
  linalg.generic {indexing_maps = [#q, #wuk, #ql], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%qn, %wuk : memref<?x2x16xbf16>, memref<2x16x40xbf16, strided<[1536, 48, 1]>>) outs(%out : memref<?x2x40xf32>) attrs = {dsc.library_batched_gemm} {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %p = arith.mulf %af, %bf : f32
    %sum = arith.addf %p, %acc : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %dq : memref<64x3x16xbf16>
  return
}
