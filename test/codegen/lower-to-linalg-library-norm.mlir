// dsc-lower-to-linalg{library-norm} (GPU pipelines): RMSNorms over rows the
// kernel library takes (f32 like their weight, a static width that is a
// multiple of 4) become dsc.rms_norm_rows and dsc.add_rms_norm_rows,
// whatever their leading dimensions.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="library-norm" -verify-diagnostics | FileCheck %s
// It bufferizes (as the GPU pipeline does): on buffers it writes its inits
// and returns nothing.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg="library-norm" --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" -verify-diagnostics | FileCheck %s --check-prefix=BUFFERS
// Without the option (the CPU), generated reductions.
// RUN: dsc-opt %s --split-input-file --dsc-lower-to-linalg | FileCheck %s --check-prefix=GENERATED

// CHECK-LABEL: func.func @norms
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>, %[[R:.*]]: tensor<?x?x64xf32>, %[[W:.*]]: tensor<64xf32>)
// CHECK: %[[Y:.*]] = dsc.rms_norm_rows %[[X]], %[[W]] outs(%{{.*}}) {epsilon = 9.9999999999999995E-7 : f64} : tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
// CHECK: %[[S:.*]]:2 = dsc.add_rms_norm_rows %[[Y]], %[[R]], %[[W]] outs(%{{.*}}, %{{.*}}) {epsilon = 9.9999999999999995E-7 : f64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>, tensor<?x?x64xf32>
// CHECK-NOT: linalg.generic
// CHECK: return %[[S]]#0, %[[S]]#1
// BUFFERS-LABEL: func.func @norms
// BUFFERS: dsc.rms_norm_rows %{{.*}}, %{{.*}} outs(%{{.*}}) {{.*}} : memref<?x?x64xf32>, memref<64xf32>, memref<?x?x64xf32>{{$}}
// BUFFERS: dsc.add_rms_norm_rows {{.*}} : memref<?x?x64xf32>, memref<?x?x64xf32>, memref<64xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>{{$}}
// GENERATED-LABEL: func.func @norms
// GENERATED-NOT: rms_norm_rows
// GENERATED: return
func.func @norms(%x: tensor<?x?x64xf32>, %res: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %y = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %s, %n = dsc.add_rms_norm %y, %res, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>)
  return %s, %n : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// A width the kernels' 4-value vectors do not divide, a weight of another
// type, bf16 rows (the library's bf16 kernels round as transformers' bf16
// model does, not as dsc.rms_norm) and a dynamic weight width: generated,
// each with a remark saying why.
// CHECK-LABEL: func.func @not_on_library
// CHECK-NOT: rms_norm_rows
// CHECK: return
func.func @not_on_library(%x: tensor<?x6xf32>, %w: tensor<6xf32>, %x8: tensor<?x8xf32>, %w8: tensor<8xf16>, %b8: tensor<?x8xbf16>, %wb8: tensor<8xbf16>, %wd: tensor<?xf32>) -> (tensor<?x6xf32>, tensor<?x8xf32>, tensor<?x8xbf16>, tensor<?x8xf32>) {
  // expected-remark @+1 {{RMSNorm left as generated code: its row width is not a static multiple of 4}}
  %y = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x6xf32>, tensor<6xf32>) -> tensor<?x6xf32>
  // expected-remark @+1 {{RMSNorm left as generated code: its weight is not f32}}
  %s, %n = dsc.add_rms_norm %x8, %x8, %w8 {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf16>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
  // expected-remark @+1 {{RMSNorm left as generated code: its rows are not f32 (the library's bf16 RMSNorm rounds the normalized row before the weight)}}
  %b = dsc.rms_norm %b8, %wb8 {epsilon = 1.0e-06 : f64} : (tensor<?x8xbf16>, tensor<8xbf16>) -> tensor<?x8xbf16>
  // expected-remark @+1 {{RMSNorm left as generated code: its row width is not a static multiple of 4}}
  %d = dsc.rms_norm %x8, %wd {epsilon = 1.0e-06 : f64} : (tensor<?x8xf32>, tensor<?xf32>) -> tensor<?x8xf32>
  return %y, %n, %b, %d : tensor<?x6xf32>, tensor<?x8xf32>, tensor<?x8xbf16>, tensor<?x8xf32>
}
