// Rotary embeddings spelled out as transformers computes them (cos and sin
// tables of positions times inverse frequencies, the pairs' two elements
// rotated as two halves and concatenated) become dsc.rope with the graph's
// frequency table, whether the importer (--import-decomposed) or an ONNX
// exporter wrote them. Inputs: Inputs/rope-decomposed.mlir.

// RUN: dsc-opt %S/Inputs/rope-decomposed.mlir --dsc-fuse-elementwise=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REPORT: remark: fusion report: rope_importer: rope: fused
// REPORT: remark: fusion report: rope_exporter: rope: fused
// negative_other_angles: the second half rotated by other frequencies is
// not a rotation of pairs.
// REPORT: remark: fusion report: negative_other_angles: rope: not fused: the halves rotate by different angles

// RUN: dsc-opt %S/Inputs/rope-decomposed.mlir --dsc-fuse-elementwise --canonicalize | FileCheck %s
// The importer's form: the stride-2 elements (rope_interleave) gathered into
// halves, rotated as halves; [batch, seq] positions lined up with
// [batch, seq, heads] rows as [batch, seq, 1].
// CHECK-LABEL: func.func @rope_importer
// CHECK-DAG: %[[FREQ:.*]] = arith.constant dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>
// CHECK-DAG: %[[EVEN:.*]] = tensor.extract_slice %arg0[0, 0, 0, 0] [%{{.*}}, %{{.*}}, 4, 4] [1, 1, 1, 2]
// CHECK-DAG: %[[ODD:.*]] = tensor.extract_slice %arg0[0, 0, 0, 1] [%{{.*}}, %{{.*}}, 4, 4] [1, 1, 1, 2]
// CHECK-DAG: %[[POS:.*]] = tensor.expand_shape %arg1 {{\[\[}}0], [1, 2]] output_shape [%{{.*}}, %{{.*}}, 1] : tensor<?x?xi64> into tensor<?x?x1xi64>
// CHECK: %[[LOW:.*]] = tensor.insert_slice %[[EVEN]] into %{{.*}}[0, 0, 0, 0]
// CHECK: %[[PAIRS:.*]] = tensor.insert_slice %[[ODD]] into %[[LOW]][0, 0, 0, 4]
// CHECK: %[[ROPE:.*]] = dsc.rope %[[PAIRS]], %[[POS]] frequencies %[[FREQ]] : (tensor<?x?x4x8xf32>, tensor<?x?x1xi64>, tensor<4xf32>) -> tensor<?x?x4x8xf32>
// CHECK-NOT: linalg.generic
// CHECK: return %[[ROPE]]
// The exporter's form: the cosine of cat(freqs, freqs) sliced and
// unsqueezed, the positions [1, seq, 1] of a Range lined up with
// [batch, heads, seq] rows as [1, 1, seq]; the halves of the input are the
// input itself.
// CHECK-LABEL: func.func @rope_exporter
// CHECK-DAG: %[[FREQ:.*]] = arith.constant dense<[1.000000e+00, 2.500000e-02, 2.500000e-03, 2.500000e-04]> : tensor<4xf32>
// CHECK-DAG: %[[POS:.*]] = tensor.expand_shape %arg1 {{\[\[}}0, 1, 2]] output_shape [1, 1, %{{.*}}] : tensor<?xi64> into tensor<1x1x?xi64>
// CHECK: %[[ROPE:.*]] = dsc.rope %arg0, %[[POS]] frequencies %[[FREQ]] : (tensor<?x4x?x8xf32>, tensor<1x1x?xi64>, tensor<4xf32>) -> tensor<?x4x?x8xf32>
// CHECK-NEXT: return %[[ROPE]]
// CHECK-LABEL: func.func @negative_other_angles
// CHECK-NOT: dsc.rope
// CHECK: math.cos

// negative_same_sign: both halves subtract (`b cos - a sin`): a reflection
// in the second half, not a rotation.
// RUN: sed -e 's/%2 = arith.addf %1, %0 : f32/%2 = arith.subf %1, %0 : f32/' %S/Inputs/rope-decomposed.mlir | dsc-opt --dsc-fuse-elementwise=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=SIGN
// SIGN: remark: fusion report: rope_importer: rope: not fused: not a rotation of pairs: the halves are not `a cos - b sin` and `b cos + a sin` of the same a and b

// negative_sin_twice: the first half multiplies by the sine where the
// cosine belongs.
// RUN: sed -e 's/ins(%even, %cos, %odd, %%sin/ins(%even, %%sin, %odd, %%sin/' %S/Inputs/rope-decomposed.mlir | dsc-opt --dsc-fuse-elementwise=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=SIN
// SIN: remark: fusion report: rope_importer: rope: not fused: not a rotation of pairs

// The fused ropes lower. That they compute what the arithmetic did is
// checked end to end: e2e/decomposed-import.test (both HF fixtures, tokens
// and logits against transformers) and e2e/onnx-deepseek-v3.test (logits
// against ONNX Runtime).
// RUN: dsc-opt %S/Inputs/rope-decomposed.mlir --dsc-fuse-elementwise --canonicalize --dsc-lower-to-linalg -o /dev/null
