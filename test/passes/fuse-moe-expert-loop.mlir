// The experts as torch.onnx.export writes a static loop over them (tiny-v3
// with every experts module's forward a loop over its 16 experts,
// export_tiny_v3.py --experts loop; after the graph pipeline's first passes
// and dsc-fuse-elementwise, which merges the sum into one generic): for
// each expert, its gate_up and down matrices Gathered out of the stacks, its SwiGLU MLP of every token, weighted by
// the tokens' routing weight for it (the top-k weights where the index
// equals the expert), summed. Each MoE layer becomes one dsc.moe with the
// stacks' halves, which runs only the chosen experts.
// RUN: dsc-compile %fixtures/onnx/tiny-v3-expert-loop/model.onnx --emit import -o - --quiet | dsc-opt --canonicalize --cse --dsc-fuse-elementwise=chains=true -o %t.mlir
// RUN: dsc-opt %t.mlir --dsc-fuse-moe=report=true -o %t.fused.mlir 2>&1 | FileCheck %s --check-prefix=REPORT
// REPORT-COUNT-2: remark: fusion report: forward: moe: fused
// RUN: FileCheck %s < %t.fused.mlir
// CHECK-COUNT-2: dsc.moe {{.*}} : (tensor<?x64xf32>, tensor<?x4xf32>, tensor<?x4xi64>, tensor<16x32x64xf32>, tensor<16x32x64xf32>, tensor<16x64x32xf32>, {{.*}}) -> tensor<?x64xf32>
// CHECK-NOT: tensor<64x32xf32> = linalg.generic

// negative_other_experts_routing: expert 1's term weighted by the routing
// weight for expert 2 (which then appears twice).
// RUN: sed -e 's/arith.cmpi eq, %in, %c1_i64/arith.cmpi eq, %in, %c2_i64/' %t.mlir | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=ROUTING
// ROUTING-COUNT-2: remark: fusion report: forward: moe: not fused: a term's routing weight, gate_up and down are of different experts, or an expert appears twice

// negative_other_experts_down: expert 1's down matrix read from expert 0.
// RUN: sed -e 's/tensor.extract \(%[0-9]*\)\[%c1, \(%[0-9]*\), \(%[0-9]*\)\] : tensor<16x64x32xf32>/tensor.extract \1[%c0, \2, \3] : tensor<16x64x32xf32>/' %t.mlir | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=DOWN
// DOWN-COUNT-2: remark: fusion report: forward: moe: not fused: a term's routing weight, gate_up and down are of different experts, or an expert appears twice

// negative_not_swiglu: expert 1's activation is not SwiGLU (a sum).
// RUN: sed -e '0,/dsc.swiglu \(%[a-z_0-9]*\), \(%[a-z_0-9]*\) : tensor<?x32xf32>/s//arith.addf \1, \2 : tensor<?x32xf32>/' %t.mlir | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOT-SWIGLU
// NOT-SWIGLU: remark: fusion report: forward: moe: not fused: a term is not an expert's SwiGLU MLP

// The same loop over experts that hold their own gate, up and down
// matrices (export_tiny_v3.py --experts modules: 48 weights per MoE layer,
// as DeepSeek's own modeling code holds its experts): one dsc.moe per layer
// over stacks built from the matrices (weight-only work, which dsc-compile
// folds into the artifact).
// RUN: dsc-compile %fixtures/onnx/tiny-v3-expert-modules/model.onnx --emit import -o - --quiet | dsc-opt --canonicalize --cse --dsc-fuse-elementwise=chains=true -o %t.modules.mlir
// RUN: dsc-opt %t.modules.mlir --dsc-fuse-moe=report=true -o %t.modules-fused.mlir 2>&1 | FileCheck %s --check-prefix=MODULES
// MODULES-COUNT-2: remark: fusion report: forward: moe: fused
// RUN: FileCheck %s --check-prefix=MODULES-IR < %t.modules-fused.mlir
// MODULES-IR-COUNT-2: dsc.moe {{.*}} : (tensor<?x64xf32>, tensor<?x4xf32>, tensor<?x4xi64>, tensor<16x32x64xf32>, tensor<16x32x64xf32>, tensor<16x64x32xf32>, {{.*}}) -> tensor<?x64xf32>
// negative_modules_other_experts_routing: expert 1's MLP weighted by the
// routing weight for expert 2.
// RUN: sed -e 's/arith.cmpi eq, %in, %c1_i64/arith.cmpi eq, %in, %c2_i64/' %t.modules.mlir | dsc-opt --dsc-fuse-moe=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=MODULES-ROUTING
// MODULES-ROUTING-COUNT-2: remark: fusion report: forward: moe: not fused: a term's routing weight, gate_up and down are of different experts, or an expert appears twice
