// Decomposed RMSNorm and SwiGLU become dsc ops again, whatever the
// arrangement of their arithmetic.

// dsc's own decomposition (one reduction and one elementwise generic for the
// norm, one generic for SwiGLU) fuses back into the ops.
// RUN: dsc-opt %s --dsc-lower-to-linalg | dsc-opt --dsc-fuse-elementwise --canonicalize | FileCheck %s --check-prefix=ROUNDTRIP
// ROUNDTRIP-LABEL: func.func @norm_act
// ROUNDTRIP-NEXT: %[[N:.*]] = dsc.rms_norm %arg0, %arg1 {epsilon = 9.9999999999999995E-7 : f64}
// ROUNDTRIP-NEXT: %[[S:.*]] = dsc.swiglu %arg2, %arg3 : tensor<?x6xf32>
// ROUNDTRIP-NEXT: return %[[N]], %[[S]]
func.func @norm_act(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>, %g: tensor<?x6xf32>, %u: tensor<?x6xf32>) -> (tensor<?x?x8xf32>, tensor<?x6xf32>) {
  %0 = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  %1 = dsc.swiglu %g, %u : tensor<?x6xf32>
  return %0, %1 : tensor<?x?x8xf32>, tensor<?x6xf32>
}

// An exporter's op-by-op spelling, after linalg's elementwise fusion: powf
// in the reduction, division by the width, 1 / sqrt, the weight multiplied
// first; the sigmoid as 1 / (1 + exp(0 - g)).
// RUN: dsc-opt %S/Inputs/decomposed-onnx-style.mlir --linalg-fuse-elementwise-ops --canonicalize --dsc-fuse-elementwise=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=ONNX-REPORT
// ONNX-REPORT: remark: fusion report: rms_onnx: norm/act: fused
// ONNX-REPORT: remark: fusion report: swiglu_onnx: norm/act: fused
// RUN: dsc-opt %S/Inputs/decomposed-onnx-style.mlir --linalg-fuse-elementwise-ops --canonicalize --dsc-fuse-elementwise --canonicalize | FileCheck %s --check-prefix=ONNX
// ONNX-LABEL: func.func @rms_onnx
// ONNX-NEXT: %[[N:.*]] = dsc.rms_norm %arg0, %arg1 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<2x3x8xf32>, tensor<8xf32>) -> tensor<2x3x8xf32>
// ONNX-NEXT: return %[[N]]
// ONNX-LABEL: func.func @swiglu_onnx
// ONNX-NEXT: %[[S:.*]] = dsc.swiglu %arg0, %arg1 : tensor<4x6xf32>
// ONNX-NEXT: return %[[S]]

// negative_no_epsilon: a norm with nothing added under the root stays, and
// the report says why.
// RUN: dsc-opt %S/Inputs/decomposed-onnx-style.mlir --linalg-fuse-elementwise-ops --canonicalize | sed -e 's/arith.addf %5, %cst_0 : f32/arith.addf %5, %cst_3 : f32/' | dsc-opt --dsc-fuse-elementwise=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NO-EPS
// NO-EPS: remark: fusion report: rms_onnx: norm/act: not fused: normalisation has no positive epsilon added under the root

// negative_mean_width: the sum of squares divided by another width.
// RUN: dsc-opt %S/Inputs/decomposed-onnx-style.mlir --linalg-fuse-elementwise-ops --canonicalize | sed -e 's/%cst_1 = arith.constant 8.000000e+00 : f32/%cst_1 = arith.constant 7.000000e+00 : f32/' | dsc-opt --dsc-fuse-elementwise=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=WIDTH
// WIDTH: remark: fusion report: rms_onnx: norm/act: not fused: the sum of squares is not divided by the row width

// negative_sigmoid_of_up: silu's sigmoid taken of the other factor
// (u * sigmoid(u) * g is fine; g * sigmoid(x) * u with x not multiplied is
// not an activation).
// RUN: dsc-opt %S/Inputs/decomposed-onnx-style.mlir --linalg-fuse-elementwise-ops --canonicalize | sed -e 's/%2 = arith.subf %cst_0, %in : f32/%2 = arith.subf %cst_0, %out : f32/' | dsc-opt --dsc-fuse-elementwise --canonicalize | FileCheck %s --check-prefix=SIGMOID
// SIGMOID-LABEL: func.func @swiglu_onnx
// SIGMOID-NOT: dsc.swiglu
// SIGMOID: math.exp

// A residual add whose sum is normalised becomes dsc.add_rms_norm: the sum
// continues the residual stream, the norm feeds the MLP.
// RUN: dsc-opt %S/Inputs/add-rms-norm.mlir --split-input-file --dsc-fuse-elementwise --canonicalize | FileCheck %s --check-prefix=ADD
// ADD-LABEL: func.func @residual
// ADD-NEXT: %[[S:.*]], %[[N:.*]] = dsc.add_rms_norm %arg0, %arg1, %arg2 {epsilon = 9.9999999999999995E-7 : f64}
// ADD-NEXT: return %[[S]], %[[N]]
// negative_broadcast_add: a bias broadcast into the sum is not a residual.
// ADD-LABEL: func.func @negative_broadcast_add
// ADD-NOT: dsc.add_rms_norm
// ADD: dsc.rms_norm
