// RUN: dsc-opt %s --dsc-fuse-moe --canonicalize | FileCheck %s
//
// negative_other_tokens: the MLP reads other tokens than the experts'.
// RUN: sed -e 's/ins(%x3, %wg : tensor<?x?x8xf32>/ins(%other, %wg : tensor<?x?x8xf32>/' -e 's/ins(%x3, %wu : tensor<?x?x8xf32>/ins(%other, %wu : tensor<?x?x8xf32>/' %s | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=TOKENS
// TOKENS: remark: fusion report: exported_shared_experts: moe: not fused: the routed experts' sum is not added to a SwiGLU MLP of the same tokens (shared experts)
//
// negative_product: the residual times the routed sum, plus the MLP: not a
// sum of the three (left alone, no shared experts fused).
// RUN: sed -e 's/%%t0 = arith.addf %in0, %in1 : f32/%%t0 = arith.mulf %in0, %in1 : f32/' %s | dsc-opt --dsc-fuse-moe | FileCheck %s --check-prefix=PRODUCT
// PRODUCT: dsc.moe
// PRODUCT-NOT: shared(

#in3 = affine_map<(b, s, n, k) -> (b, s, k)>
#w = affine_map<(b, s, n, k) -> (k, n)>
#out3 = affine_map<(b, s, n, k) -> (b, s, n)>
#id3 = affine_map<(b, s, d) -> (b, s, d)>

// The shared expert as torch.onnx.export writes it (after the experts became
// dsc.moe): a SwiGLU MLP of the MoE's tokens in their [batch, seq] view,
// weights stored [in, out], summed with the residual and the routed
// experts' sum (viewed as [batch, seq, hidden]). It moves into dsc.moe as
// shared(...) with the weights transposed to [out, in]; the sum keeps the
// residual and the experts.
// CHECK-LABEL: func.func @exported_shared_experts
// CHECK: %[[Y:.*]] = dsc.moe %{{.*}} experts(%arg3, %arg4, %arg5) shared(%{{.*}}, %{{.*}}, %{{.*}}) : ({{.*}}, tensor<6x8xf32>, tensor<6x8xf32>, tensor<8x6xf32>) -> tensor<?x8xf32>
// CHECK: %[[V:.*]] = tensor.expand_shape %[[Y]]
// CHECK: linalg.generic {{.*}} ins(%arg9, %[[V]] : tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @exported_shared_experts(%x3: tensor<?x?x8xf32>, %w: tensor<?x2xf32>, %idx: tensor<?x2xi64>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>, %wg: tensor<8x6xf32>, %wu: tensor<8x6xf32>, %wd: tensor<6x8xf32>, %residual: tensor<?x?x8xf32>, %other: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %x3, %c0 : tensor<?x?x8xf32>
  %s = tensor.dim %x3, %c1 : tensor<?x?x8xf32>
  %x = tensor.collapse_shape %x3 [[0, 1], [2]] : tensor<?x?x8xf32> into tensor<?x8xf32>
  %routed = dsc.moe %x, %w, %idx experts(%g, %u, %d) : (tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x2xi64>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x8xf32>
  %view = tensor.expand_shape %routed [[0, 1], [2]] output_shape [%b, %s, 8] : tensor<?x8xf32> into tensor<?x?x8xf32>
  %e6 = tensor.empty(%b, %s) : tensor<?x?x6xf32>
  %z6 = linalg.fill ins(%zero : f32) outs(%e6 : tensor<?x?x6xf32>) -> tensor<?x?x6xf32>
  %gate = linalg.generic {indexing_maps = [#in3, #w, #out3], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x3, %wg : tensor<?x?x8xf32>, tensor<8x6xf32>) outs(%z6 : tensor<?x?x6xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %r = arith.addf %m, %acc : f32
    linalg.yield %r : f32
  } -> tensor<?x?x6xf32>
  %up = linalg.generic {indexing_maps = [#in3, #w, #out3], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x3, %wu : tensor<?x?x8xf32>, tensor<8x6xf32>) outs(%z6 : tensor<?x?x6xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %r = arith.addf %m, %acc : f32
    linalg.yield %r : f32
  } -> tensor<?x?x6xf32>
  %act = dsc.swiglu %gate, %up : tensor<?x?x6xf32>
  %e8 = tensor.empty(%b, %s) : tensor<?x?x8xf32>
  %z8 = linalg.fill ins(%zero : f32) outs(%e8 : tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %shared = linalg.generic {indexing_maps = [#in3, #w, #out3], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%act, %wd : tensor<?x?x6xf32>, tensor<6x8xf32>) outs(%z8 : tensor<?x?x8xf32>) {
  ^bb0(%a: f32, %bb: f32, %acc: f32):
    %m = arith.mulf %a, %bb : f32
    %r = arith.addf %m, %acc : f32
    linalg.yield %r : f32
  } -> tensor<?x?x8xf32>
  %sum = linalg.generic {indexing_maps = [#id3, #id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%residual, %view, %shared : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) outs(%e8 : tensor<?x?x8xf32>) {
  ^bb0(%in0: f32, %in1: f32, %in2: f32, %o: f32):
    %t0 = arith.addf %in0, %in1 : f32
    %t1 = arith.addf %t0, %in2 : f32
    linalg.yield %t1 : f32
  } -> tensor<?x?x8xf32>
  return %sum : tensor<?x?x8xf32>
}
